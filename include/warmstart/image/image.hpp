// Images for SSD training and inference: the pixel buffer, bilinear resizing exactly as TF1's
// tf.image.resize_images, and the SSD MobileNet input normalisation. Header-only; decoding and
// encoding files (which link libstb) are in image/decode.hpp.
//
// Layout: H rows, W columns, C channels, row-major HWC (channel fastest), as TF's decoded image
// tensors: pixel (y, x) channel c is at (y * W + x) * C + c.
//
// ResizeBilinear mirrors tensorflow/core/kernels/image/resize_bilinear_op.cc with
// align_corners = false and half_pixel_centers = false, what TF1 tf.image.resize_images(...,
// ResizeMethod.BILINEAR) and the Object Detection API's preprocessor.resize_image use
// (image_resizer_ops.h CalculateResizeScale, LegacyScaler; compute_interpolation_weights;
// compute_lerp), all in float32:
//   scale  = in_size / (float) out_size
//   src    = (float) i * scale                     for output row / column i
//   lower  = max(floor(src), 0), upper = min(ceil(src), in_size - 1), lerp = src - floor(src)
//   top    = tl + (tr - tl) * x_lerp,  bottom = bl + (br - bl) * x_lerp
//   out    = top + (bottom - top) * y_lerp
// The output is float whatever the input type; a same-size resize is an exact copy (lerp 0),
// as resize_images returns its input unchanged then.
//
// PreprocessSsd mirrors ssd_mobilenet_v{1,2}_feature_extractor.preprocess, applied after the
// resize (ssd_meta_arch.preprocess): (2.0 / 255.0) * x - 1.0 in float32, the constant rounded
// to float first as TF converts it. Output [1, H, W, C] (nn/tensor.hpp, RowMajor NHWC).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::image {

// H x W x C pixels of type T, HWC row-major.
template <class T>
struct BasicImage {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<T> pixels;  // height * width * channels

  // Requires: h, w, c >= 0 (checked by the callers that take sizes from outside).
  static BasicImage Zeros(int h, int w, int c) {
    BasicImage out;
    out.height = h;
    out.width = w;
    out.channels = c;
    out.pixels.assign(static_cast<size_t>(h) * static_cast<size_t>(w) * static_cast<size_t>(c), T(0));
    return out;
  }

  bool empty() const { return pixels.empty(); }
  size_t Offset(int y, int x, int c) const {
    return (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * static_cast<size_t>(channels) +
           static_cast<size_t>(c);
  }
  T& at(int y, int x, int c) { return pixels[Offset(y, x, c)]; }
  const T& at(int y, int x, int c) const { return pixels[Offset(y, x, c)]; }
};

using Image = BasicImage<uint8_t>;     // decoded: 0..255
using FloatImage = BasicImage<float>;  // resized: still 0..255, not normalised

namespace detail {

template <class T>
void CheckImage(const BasicImage<T>& im, const char* what) {
  const size_t expected = static_cast<size_t>(std::max(im.height, 0)) * static_cast<size_t>(std::max(im.width, 0)) *
                          static_cast<size_t>(std::max(im.channels, 0));
  if (im.height < 1 || im.width < 1 || im.channels < 1 || im.pixels.size() != expected) {
    throw ArgumentError(std::string(what) + ": image " + std::to_string(im.height) + "x" + std::to_string(im.width) + "x" +
                        std::to_string(im.channels) + " with " + std::to_string(im.pixels.size()) +
                        " values is empty or inconsistent");
  }
}

// resize_bilinear_op.cc CachedInterpolation, legacy (not half-pixel) scaler.
struct Interpolation {
  int lower = 0;
  int upper = 0;
  float lerp = 0;
};

inline std::vector<Interpolation> InterpolationWeights(int out_size, int in_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);  // CalculateResizeScale
  std::vector<Interpolation> out(static_cast<size_t>(out_size));
  for (int i = 0; i < out_size; ++i) {
    const float in = static_cast<float>(i) * scale;
    const float in_f = std::floor(in);
    out[static_cast<size_t>(i)].lower = std::max(static_cast<int>(in_f), 0);
    out[static_cast<size_t>(i)].upper = std::min(static_cast<int>(std::ceil(in)), in_size - 1);
    out[static_cast<size_t>(i)].lerp = in - in_f;
  }
  return out;
}

inline float Lerp2(float top_left, float top_right, float bottom_left, float bottom_right, float x_lerp, float y_lerp) {
  const float top = top_left + (top_right - top_left) * x_lerp;
  const float bottom = bottom_left + (bottom_right - bottom_left) * x_lerp;
  return top + (bottom - top) * y_lerp;
}

}  // namespace detail

// The largest output side ResizeBilinear accepts (TF's limit is int32 sizes; this keeps an
// absurd request from allocating gigabytes).
inline constexpr int kMaxResizeSide = 1 << 15;

// tf.image.resize_images(image, [out_height, out_width], BILINEAR, align_corners=False) of TF1.
// T is uint8_t or float. Throws ArgumentError for an empty image or a size outside
// [1, kMaxResizeSide].
template <class T>
FloatImage ResizeBilinear(const BasicImage<T>& in, int out_height, int out_width) {
  detail::CheckImage(in, "ResizeBilinear");
  if (out_height < 1 || out_width < 1 || out_height > kMaxResizeSide || out_width > kMaxResizeSide) {
    throw ArgumentError("ResizeBilinear: output size " + std::to_string(out_height) + "x" + std::to_string(out_width) +
                        " is outside 1.." + std::to_string(kMaxResizeSide));
  }
  const std::vector<detail::Interpolation> ys = detail::InterpolationWeights(out_height, in.height);
  const std::vector<detail::Interpolation> xs = detail::InterpolationWeights(out_width, in.width);
  FloatImage out = FloatImage::Zeros(out_height, out_width, in.channels);
  for (int y = 0; y < out_height; ++y) {
    const detail::Interpolation& yi = ys[static_cast<size_t>(y)];
    for (int x = 0; x < out_width; ++x) {
      const detail::Interpolation& xi = xs[static_cast<size_t>(x)];
      for (int c = 0; c < in.channels; ++c) {
        out.at(y, x, c) = detail::Lerp2(static_cast<float>(in.at(yi.lower, xi.lower, c)),
                                        static_cast<float>(in.at(yi.lower, xi.upper, c)),
                                        static_cast<float>(in.at(yi.upper, xi.lower, c)),
                                        static_cast<float>(in.at(yi.upper, xi.upper, c)), xi.lerp, yi.lerp);
      }
    }
  }
  return out;
}

// (2 / 255) * x - 1 of a resized image: [1, H, W, C], values in [-1, 1] for inputs in [0, 255].
inline nn::Tensor4<float> PreprocessSsd(const FloatImage& resized) {
  detail::CheckImage(resized, "PreprocessSsd");
  const float scale = static_cast<float>(2.0 / 255.0);
  nn::Tensor4<float> out(1, resized.height, resized.width, resized.channels);
  float* dst = out.data();
  for (size_t i = 0; i < resized.pixels.size(); ++i) {
    const float scaled = scale * resized.pixels[i];
    dst[i] = scaled - 1.0f;
  }
  return out;
}

// The SSD input of a decoded image: ResizeBilinear to height x width (the fixed_shape_resizer),
// then PreprocessSsd. Requires a 3-channel image (what DecodeImage returns).
inline nn::Tensor4<float> PreprocessSsd(const Image& decoded, int height, int width) {
  detail::CheckImage(decoded, "PreprocessSsd");
  if (decoded.channels != 3) {
    throw ArgumentError("PreprocessSsd: expected 3 channels (RGB), found " + std::to_string(decoded.channels));
  }
  return PreprocessSsd(ResizeBilinear(decoded, height, width));
}

}  // namespace warmstart::image
