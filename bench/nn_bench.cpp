// bench_nn: the hot layers of SSD MobileNet, forward and backward, 1 and 2 threads, against the
// nested-loop reference (nn/reference.hpp) and in GFLOP/s.
//
//   pointwise  Conv2D 1x1 [8,19,19,512] x [1,1,512,512]     (Conv2d_12/13_pointwise at 300x300)
//   conv0      Conv2D 3x3 s2 [8,300,300,3] x [3,3,3,32]      (Conv2d_0, im2col)
//   depthwise  DepthwiseConv2D 3x3 [8,38,38,256] x [3,3,256,1] (Conv2d_6_depthwise-like)
//
// FLOPs count a multiply-add as 2: forward 2*MACs, backward 4*MACs (dx and dW). The reference
// runs once on the first image only and is scaled by N (it is ~100x slower; the ratio is
// reference time / fast time). Best of --runs (default 5) after one warm-up.
//
//   bench_nn [--runs N] [--only pointwise|conv0|depthwise]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>

#include "warmstart/nn/conv2d.hpp"
#include "warmstart/nn/depthwise_conv2d.hpp"
#include "warmstart/nn/reference.hpp"

namespace {

using namespace warmstart::nn;
using Clock = std::chrono::steady_clock;

double Time(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double Best(int runs, const std::function<void()>& fn) {
  fn();  // warm-up: first-touch of outputs, thread start
  double best = 1e30;
  for (int r = 0; r < runs; ++r) best = std::min(best, Time(fn));
  return best;
}

Tensor4<float> Random(const Shape4& s, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1, 1);
  Tensor4<float> t(s[0], s[1], s[2], s[3]);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = dist(rng);
  return t;
}

Tensor4<float> FirstImage(const Tensor4<float>& x) {
  Tensor4<float> one(1, x.dimension(1), x.dimension(2), x.dimension(3));
  std::copy(x.data(), x.data() + one.size(), one.data());
  return one;
}

void Report(const char* name, double macs, double ref_fwd, double ref_bwd, int threads, double fwd, double bwd) {
  std::printf("%-10s %d thread%s  forward %8.2f ms %6.1f GFLOP/s (ref x%5.0f)   backward %8.2f ms %6.1f GFLOP/s "
              "(ref x%5.0f)\n",
              name, threads, threads == 1 ? " " : "s", fwd * 1e3, 2 * macs / fwd * 1e-9, ref_fwd / fwd, bwd * 1e3,
              4 * macs / bwd * 1e-9, ref_bwd / bwd);
}

// Layer is Conv2D<float> or DepthwiseConv2D<float>; ref(x1, w, dy1) runs the reference.
template <class Layer, class RefForward, class RefBackward>
void Run(const char* name, Layer& layer, const Shape4& input, double macs, int runs, RefForward ref_forward,
         RefBackward ref_backward) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  for (Index i = 0; i < layer.weights().NumElements(); ++i) layer.weights().value(i) = dist(rng);
  const Tensor4<float> x = Random(input, rng);
  const Tensor4<float> dy = Random(layer.OutputShape(input), rng);
  const Tensor4<float> w = layer.weights().Value4();
  const Tensor4<float> x1 = FirstImage(x), dy1 = FirstImage(dy);
  const double n = static_cast<double>(input[0]);
  const double ref_fwd = Time([&] { ref_forward(x1, w); }) * n;
  const double ref_bwd = Time([&] { ref_backward(x1, w, dy1); }) * n;
  for (int threads : {1, 2}) {
    Context ctx(threads);
    const double fwd = Best(runs, [&] { layer.Forward(ctx, x); });
    layer.Forward(ctx, x);
    const double bwd = Best(runs, [&] { layer.Backward(ctx, dy); });
    Report(name, macs, ref_fwd, ref_bwd, threads, fwd, bwd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--only") only = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: bench_nn [--runs N] [--only pointwise|conv0|depthwise]\n");
      return 2;
    }
  }
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  std::printf("bench_nn: float, best of %d, load average %.2f\n", runs, load);

  if (only.empty() || only == "pointwise") {
    Conv2DOptions o;
    o.in_channels = o.out_channels = 512;
    Conv2D<float> conv("Conv2d_13_pointwise", o);
    Run("pointwise", conv, {8, 19, 19, 512}, 8.0 * 19 * 19 * 512 * 512, runs,
        [](const Tensor4<float>& x, const Tensor4<float>& w) { reference::Conv2D(x, w, 1, 1, Padding::kSame); },
        [](const Tensor4<float>& x, const Tensor4<float>& w, const Tensor4<float>& dy) {
          reference::Conv2DBackward(x, w, dy, 1, 1, Padding::kSame);
        });
  }
  if (only.empty() || only == "conv0") {
    Conv2DOptions o;
    o.kernel_h = o.kernel_w = 3;
    o.in_channels = 3;
    o.out_channels = 32;
    o.stride_h = o.stride_w = 2;
    Conv2D<float> conv("Conv2d_0", o);
    Run("conv0", conv, {8, 300, 300, 3}, 8.0 * 150 * 150 * 27 * 32, runs,
        [](const Tensor4<float>& x, const Tensor4<float>& w) { reference::Conv2D(x, w, 2, 2, Padding::kSame); },
        [](const Tensor4<float>& x, const Tensor4<float>& w, const Tensor4<float>& dy) {
          reference::Conv2DBackward(x, w, dy, 2, 2, Padding::kSame);
        });
  }
  if (only.empty() || only == "depthwise") {
    DepthwiseConv2DOptions o;
    o.in_channels = 256;
    DepthwiseConv2D<float> dw("Conv2d_6_depthwise", o);
    Run("depthwise", dw, {8, 38, 38, 256}, 8.0 * 38 * 38 * 256 * 9, runs,
        [](const Tensor4<float>& x, const Tensor4<float>& w) {
          reference::DepthwiseConv2D(x, w, 1, 1, Padding::kSame);
        },
        [](const Tensor4<float>& x, const Tensor4<float>& w, const Tensor4<float>& dy) {
          reference::DepthwiseConv2DBackward(x, w, dy, 1, 1, Padding::kSame);
        });
  }
  return 0;
}
