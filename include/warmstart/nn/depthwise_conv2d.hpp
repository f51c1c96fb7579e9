// DepthwiseConv2D: tf.nn.depthwise_conv2d (NHWC, SAME/VALID, strides) plus an optional bias,
// as slim.separable_conv2d(num_outputs=None) creates it: `<scope>/depthwise_weights`
// [KH, KW, C, M] and `<scope>/biases` [C*M].
//
//   x  [N, H, W, C]   y  [N, HO, WO, C*M]   output channel c*M + m reads input channel c
//
// Fast path: a direct loop. NHWC keeps the C channels of a pixel contiguous, and the kernel tap
// (ky, kx) is a contiguous [C, M] block, so every tap of every output pixel is one vector
// multiply-add over channels (Eigen arrays, vectorised): y[p, :] += x[q, :] * w[ky, kx, :].
// Threads split output rows (forward) or whole images (backward, so dx never races); the weight
// gradient is summed per thread and added in thread order.
//
// Forward keeps a pointer to x for Backward: x must stay alive and unchanged until then.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

struct DepthwiseConv2DOptions {
  Index kernel_h = 3, kernel_w = 3;
  Index in_channels = 0;
  Index depth_multiplier = 1;
  Index stride_h = 1, stride_w = 1;
  Padding padding = Padding::kSame;
  bool use_bias = false;
};

namespace detail {

// Input pixel offset (in elements) for tap (ky, kx) of output (n, oy, ox), or -1 in the padding.
inline Index TapOffset(const Window& win, Index c, Index n, Index oy, Index ox, Index ky, Index kx) {
  const Index iy = oy * win.stride_h - win.h.pad_before + ky;
  const Index ix = ox * win.stride_w - win.w.pad_before + kx;
  if (iy < 0 || iy >= win.h.in || ix < 0 || ix >= win.w.in) return -1;
  return ((n * win.h.in + iy) * win.w.in + ix) * c;
}

}  // namespace detail

template <class T>
class DepthwiseConv2D {
 public:
  DepthwiseConv2D(const std::string& scope, const DepthwiseConv2DOptions& options) : options_(options) {
    const DepthwiseConv2DOptions& o = options;
    if (o.kernel_h < 1 || o.kernel_w < 1 || o.in_channels < 1 || o.depth_multiplier < 1 || o.stride_h < 1 ||
        o.stride_w < 1) {
      throw ArgumentError("DepthwiseConv2D '" + scope +
                          "': kernel, channels, depth multiplier and strides must be >= 1, found kernel " +
                          std::to_string(o.kernel_h) + "x" + std::to_string(o.kernel_w) + ", channels " +
                          std::to_string(o.in_channels) + ", multiplier " + std::to_string(o.depth_multiplier) +
                          ", stride " + std::to_string(o.stride_h) + "x" + std::to_string(o.stride_w));
    }
    weights_ = MakeTrainable<T>(scope + "/depthwise_weights", {o.kernel_h, o.kernel_w, o.in_channels, o.depth_multiplier});
    if (o.use_bias) biases_ = MakeTrainable<T>(scope + "/biases", {out_channels()});
  }

  const DepthwiseConv2DOptions& options() const { return options_; }
  Index out_channels() const { return options_.in_channels * options_.depth_multiplier; }
  Parameter<T>& weights() { return weights_; }
  Parameter<T>* biases() { return options_.use_bias ? &biases_ : nullptr; }

  void CollectParameters(ParameterList<T>& list) {
    list.Add(&weights_);
    if (options_.use_bias) list.Add(&biases_);
  }

  Shape4 OutputShape(const Shape4& input) const {
    const Window win = MakeWindowFor(input);
    return {win.n, win.h.out, win.w.out, out_channels()};
  }

  Tensor4<T> Forward(const Context& ctx, const Tensor4<T>& x) {
    CheckChannels(x, options_.in_channels, What() + ": input");
    const Window win = MakeWindowFor(ShapeOf(x));
    Tensor4<T> y(win.n, win.h.out, win.w.out, out_channels());
    ctx.ParallelFor(win.n * win.h.out, [&](int, Index begin, Index end) {
      for (Index row = begin; row < end; ++row) ForwardRow(x, win, row / win.h.out, row % win.h.out, y);
    });
    input_.Save(x);
    return y;
  }

  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy, bool need_dx = true) {
    const Tensor4<T>& x = input_.Get(What());
    const Window win = MakeWindowFor(ShapeOf(x));
    CheckShape(dy, {win.n, win.h.out, win.w.out, out_channels()}, What() + ": dy");
    if (options_.use_bias) biases_.gradient += detail::ColumnSums(ctx, dy.data(), win.out_pixels(), out_channels());
    Tensor4<T> dx;
    if (need_dx) dx = Zeros4<T>(ShapeOf(x));
    std::vector<Eigen::Array<T, Eigen::Dynamic, 1>> dw_partial(ctx.Ranges(win.n));
    ctx.ParallelFor(win.n, [&](int r, Index n_begin, Index n_end) {
      dw_partial[r].setZero(weights_.NumElements());
      for (Index n = n_begin; n < n_end; ++n) {
        for (Index oy = 0; oy < win.h.out; ++oy) {
          BackwardRow(x, dy, win, n, oy, need_dx ? dx.data() : nullptr, dw_partial[r].data());
        }
      }
    });
    for (const auto& p : dw_partial) weights_.gradient += p;
    return dx;
  }

 private:
  std::string What() const { return "DepthwiseConv2D '" + weights_.name + "'"; }

  Window MakeWindowFor(const Shape4& input) const {
    return MakeWindow(input, options_.kernel_h, options_.kernel_w, options_.stride_h, options_.stride_w,
                      options_.padding, What());
  }

  // One output row (n, oy): every pixel, every tap.
  void ForwardRow(const Tensor4<T>& x, const Window& win, Index n, Index oy, Tensor4<T>& y) const {
    const Index c = options_.in_channels, m = options_.depth_multiplier, co = c * m;
    for (Index ox = 0; ox < win.w.out; ++ox) {
      T* out = y.data() + ((n * win.h.out + oy) * win.w.out + ox) * co;
      detail::VectorMap<T> acc(out, co);
      if (options_.use_bias) {
        acc = biases_.value;
      } else {
        acc.setZero();
      }
      for (Index ky = 0; ky < win.kh; ++ky) {
        for (Index kx = 0; kx < win.kw; ++kx) {
          const Index q = detail::TapOffset(win, c, n, oy, ox, ky, kx);
          if (q < 0) continue;
          const T* w = weights_.value.data() + (ky * win.kw + kx) * co;
          if (m == 1) {
            acc += detail::ConstVectorMap<T>(x.data() + q, c) * detail::ConstVectorMap<T>(w, c);
          } else {
            detail::ArrayMap<T>(out, c, m) +=
                detail::ConstArrayMap<T>(w, c, m).colwise() * detail::ConstVectorMap<T>(x.data() + q, c);
          }
        }
      }
    }
  }

  // dx[q] += dy[p] * w[tap] (summed over m), dw[tap] += x[q] * dy[p].
  void BackwardRow(const Tensor4<T>& x, const Tensor4<T>& dy, const Window& win, Index n, Index oy, T* dx,
                   T* dw) const {
    const Index c = options_.in_channels, m = options_.depth_multiplier, co = c * m;
    for (Index ox = 0; ox < win.w.out; ++ox) {
      const T* g = dy.data() + ((n * win.h.out + oy) * win.w.out + ox) * co;
      for (Index ky = 0; ky < win.kh; ++ky) {
        for (Index kx = 0; kx < win.kw; ++kx) {
          const Index q = detail::TapOffset(win, c, n, oy, ox, ky, kx);
          if (q < 0) continue;
          const Index tap = (ky * win.kw + kx) * co;
          const T* w = weights_.value.data() + tap;
          if (m == 1) {
            const detail::ConstVectorMap<T> gv(g, c);
            if (dx != nullptr) detail::VectorMap<T>(dx + q, c) += gv * detail::ConstVectorMap<T>(w, c);
            detail::VectorMap<T>(dw + tap, c) += gv * detail::ConstVectorMap<T>(x.data() + q, c);
          } else {
            const detail::ConstArrayMap<T> gm(g, c, m);
            if (dx != nullptr) {
              detail::VectorMap<T>(dx + q, c) += (gm * detail::ConstArrayMap<T>(w, c, m)).rowwise().sum();
            }
            detail::ArrayMap<T>(dw + tap, c, m) += gm.colwise() * detail::ConstVectorMap<T>(x.data() + q, c);
          }
        }
      }
    }
  }

  DepthwiseConv2DOptions options_;
  Parameter<T> weights_;
  Parameter<T> biases_;
  detail::InputCache<T> input_;
};

}  // namespace warmstart::nn
