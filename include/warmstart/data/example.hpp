// One detection example as the Object Detection API's input pipeline carries it, and the seeded
// random number generator every data/ step draws from.
//
// Layout (TF's tensor_dict, one image):
//   image    H x W x C, HWC row-major (image/image.hpp)
//   boxes    [N] x {ymin, xmin, ymax, xmax}, normalised to [0, 1] of the image (y down, x right)
//   labels   [N] label map ids, 1-based (TF's groundtruth_classes before the -1 of the model)
// boxes[i] and labels[i] describe one object; steps that drop boxes drop the label with them.
//
// Rng is SplitMix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro): 64 bits of
// state, one add and three xor-shift-multiplies per draw. Its output is defined by integer
// arithmetic only, so a seed gives the same stream on every compiler and standard library —
// unlike std::uniform_*_distribution, whose algorithms are implementation-defined. Floats
// come from the top 24 bits (exactly representable: uniform on the 2^24 grid of [0, 1)).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "warmstart/image/image.hpp"

namespace warmstart::data {

// ymin, xmin, ymax, xmax in normalised image coordinates.
using Box = std::array<float, 4>;

template <class T>
struct BasicDetectionExample {
  image::BasicImage<T> image;
  std::vector<Box> boxes;
  std::vector<int32_t> labels;  // 1-based label map ids, one per box
};

using DetectionExample = BasicDetectionExample<uint8_t>;    // as generated or decoded: 0..255
using FloatDetectionExample = BasicDetectionExample<float>;  // what the preprocessor steps take: 0..255

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  // SplitMix64's next output.
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Finalize(state_);
  }
  uint32_t Next32() { return static_cast<uint32_t>(Next() >> 32); }

  // Uniform in [0, 1), a multiple of 2^-24.
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
  // Uniform in [lo, hi) (lo when hi <= lo), as tf.random_uniform(minval=lo, maxval=hi).
  float Uniform(float lo, float hi) { return lo + (hi - lo) * Uniform(); }

  // Uniform integer in [0, n) (0 when n is 0), by Lemire's multiply-shift of 32 random bits
  // (bias below n / 2^32).
  uint32_t UniformInt(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(Next32()) * n) >> 32); }
  // Uniform integer in [lo, hi], both included. Requires: lo <= hi.
  int UniformInt(int lo, int hi) {
    return lo + static_cast<int>(UniformInt(static_cast<uint32_t>(static_cast<int64_t>(hi) - lo + 1)));
  }
  bool Bernoulli(float p) { return Uniform() < p; }

  // A seed for stream `index` of `seed`: examples and augmentations of one index never share
  // a stream with another index, whatever order they are drawn in.
  static uint64_t Derive(uint64_t seed, uint64_t index) { return Finalize(Finalize(seed ^ 0x6a09e667f3bcc909ULL) + index); }

 private:
  static uint64_t Finalize(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t state_;
};

}  // namespace warmstart::data
