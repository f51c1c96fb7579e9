// Conv2D: tf.nn.conv2d (NHWC input, HWIO kernel, SAME/VALID, strides) plus an optional bias,
// as slim.conv2d creates it: `<scope>/weights` [KH, KW, C, O] and `<scope>/biases` [O].
//
//   x  [N, H, W, C]   y  [N, HO, WO, O]   (HO, WO and padding: tensor.hpp)
//
// Fast path. A 1x1 stride-1 convolution is one matrix product: with P = N*H*W pixels,
// X [P, C] and Y [P, O] are the activations as they lie in memory, and the HWIO kernel is
// W [C, O], so Y = X W, dX = dY W^T, dW = X^T dY. Other kernels go through im2col: a block of
// output pixels is unrolled into patch rows [rows, KH*KW*C] (tap-major, channel fastest, the
// order of the HWIO kernel's first three dimensions, so the kernel is W [KH*KW*C, O] as is),
// then multiplied; the backward scatters dPatches = dY W^T back with col2im. Matrix products
// are Eigen's (cache-blocked, vectorised); threads split output pixels (forward), columns of W
// (1x1 weight gradient) or images (im2col backward, so col2im never races).
//
// Forward keeps a pointer to x for Backward. Requires: x stays alive and unchanged until
// Backward returns (the model owns activations, as in llm.c); Backward checks that the pointer
// and shape are still those Forward saw.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

namespace detail {

// Patch rows per im2col block: about 64 KiB of patches, at least 8 rows.
inline Index PatchBlockRows(Index patch_size, size_t element_size) {
  return std::max<Index>(8, static_cast<Index>(65536 / element_size) / std::max<Index>(patch_size, 1));
}

// Unrolls output pixels [first, first + rows) (flat over N, HO, WO) into patches [rows, KH*KW*C].
template <class T>
void Im2Col(const T* x, Index c, const Window& win, Index first, Index rows, T* patches) {
  const Index patch = win.kh * win.kw * c;
  for (Index r = 0; r < rows; ++r) {
    const Index p = first + r;
    const Index ox = p % win.w.out;
    const Index oy = (p / win.w.out) % win.h.out;
    const Index n = p / (win.w.out * win.h.out);
    T* dst = patches + r * patch;
    for (Index ky = 0; ky < win.kh; ++ky) {
      const Index iy = oy * win.stride_h - win.h.pad_before + ky;
      for (Index kx = 0; kx < win.kw; ++kx, dst += c) {
        const Index ix = ox * win.stride_w - win.w.pad_before + kx;
        if (iy < 0 || iy >= win.h.in || ix < 0 || ix >= win.w.in) {
          std::fill(dst, dst + c, T(0));
        } else {
          const T* src = x + ((n * win.h.in + iy) * win.w.in + ix) * c;
          std::copy(src, src + c, dst);
        }
      }
    }
  }
}

// The adjoint of Im2Col: adds patch rows back into dx (padding taps are dropped).
template <class T>
void Col2ImAdd(const T* patches, Index c, const Window& win, Index first, Index rows, T* dx) {
  const Index patch = win.kh * win.kw * c;
  for (Index r = 0; r < rows; ++r) {
    const Index p = first + r;
    const Index ox = p % win.w.out;
    const Index oy = (p / win.w.out) % win.h.out;
    const Index n = p / (win.w.out * win.h.out);
    const T* src = patches + r * patch;
    for (Index ky = 0; ky < win.kh; ++ky) {
      const Index iy = oy * win.stride_h - win.h.pad_before + ky;
      for (Index kx = 0; kx < win.kw; ++kx, src += c) {
        const Index ix = ox * win.stride_w - win.w.pad_before + kx;
        if (iy < 0 || iy >= win.h.in || ix < 0 || ix >= win.w.in) continue;
        VectorMap<T>(dx + ((n * win.h.in + iy) * win.w.in + ix) * c, c) += ConstVectorMap<T>(src, c);
      }
    }
  }
}

}  // namespace detail

struct Conv2DOptions {
  Index kernel_h = 1, kernel_w = 1;
  Index in_channels = 0, out_channels = 0;
  Index stride_h = 1, stride_w = 1;
  Padding padding = Padding::kSame;
  bool use_bias = false;  // slim.conv2d: true unless a normalizer (batch norm) follows
};

template <class T>
class Conv2D {
 public:
  // Variables are `<scope>/weights` and, with use_bias, `<scope>/biases` (zero-initialised).
  Conv2D(const std::string& scope, const Conv2DOptions& options) : options_(options) {
    const Conv2DOptions& o = options;
    if (o.kernel_h < 1 || o.kernel_w < 1 || o.in_channels < 1 || o.out_channels < 1 || o.stride_h < 1 ||
        o.stride_w < 1) {
      throw ArgumentError("Conv2D '" + scope + "': kernel, channels and strides must be >= 1, found kernel " +
                          std::to_string(o.kernel_h) + "x" + std::to_string(o.kernel_w) + ", channels " +
                          std::to_string(o.in_channels) + " -> " + std::to_string(o.out_channels) + ", stride " +
                          std::to_string(o.stride_h) + "x" + std::to_string(o.stride_w));
    }
    weights_ = MakeTrainable<T>(scope + "/weights", {o.kernel_h, o.kernel_w, o.in_channels, o.out_channels});
    if (o.use_bias) biases_ = MakeTrainable<T>(scope + "/biases", {o.out_channels});
  }

  const Conv2DOptions& options() const { return options_; }
  Parameter<T>& weights() { return weights_; }
  Parameter<T>* biases() { return options_.use_bias ? &biases_ : nullptr; }

  void CollectParameters(ParameterList<T>& list) {
    list.Add(&weights_);
    if (options_.use_bias) list.Add(&biases_);
  }

  // The output shape for an input shape (throws as Forward would).
  Shape4 OutputShape(const Shape4& input) const {
    const Window win = MakeWindowFor(input);
    return {win.n, win.h.out, win.w.out, options_.out_channels};
  }

  Tensor4<T> Forward(const Context& ctx, const Tensor4<T>& x) {
    CheckChannels(x, options_.in_channels, What() + ": input");
    const Window win = MakeWindowFor(ShapeOf(x));
    Tensor4<T> y(win.n, win.h.out, win.w.out, options_.out_channels);
    if (IsPointwise()) {
      ForwardPointwise(ctx, x, y);
    } else {
      ForwardIm2Col(ctx, x, win, y);
    }
    if (options_.use_bias) AddBias(ctx, y);
    input_.Save(x);
    return y;
  }

  // Returns dx (empty when need_dx is false: the first layer) and adds to the gradients.
  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy, bool need_dx = true) {
    const Tensor4<T>& x = input_.Get(What());
    const Window win = MakeWindowFor(ShapeOf(x));
    CheckShape(dy, {win.n, win.h.out, win.w.out, options_.out_channels}, What() + ": dy");
    if (options_.use_bias) {
      biases_.gradient += detail::ColumnSums(ctx, dy.data(), win.out_pixels(), options_.out_channels);
    }
    Tensor4<T> dx;
    if (need_dx) dx = Zeros4<T>(ShapeOf(x));
    if (IsPointwise()) {
      BackwardPointwise(ctx, x, dy, need_dx ? &dx : nullptr);
    } else {
      BackwardIm2Col(ctx, x, dy, win, need_dx ? &dx : nullptr);
    }
    return dx;
  }

 private:
  using Matrix = detail::MatrixMap<T>;
  using ConstMatrix = detail::ConstMatrixMap<T>;

  std::string What() const { return "Conv2D '" + weights_.name + "'"; }

  Window MakeWindowFor(const Shape4& input) const {
    return MakeWindow(input, options_.kernel_h, options_.kernel_w, options_.stride_h, options_.stride_w,
                      options_.padding, What());
  }

  bool IsPointwise() const {
    return options_.kernel_h == 1 && options_.kernel_w == 1 && options_.stride_h == 1 && options_.stride_w == 1;
  }

  Index patch_size() const { return options_.kernel_h * options_.kernel_w * options_.in_channels; }

  void AddBias(const Context& ctx, Tensor4<T>& y) const {
    const Index o = options_.out_channels;
    ctx.ParallelFor(y.size() / o, [&](int, Index begin, Index end) {
      Matrix(y.data() + begin * o, end - begin, o).rowwise() += biases_.value.matrix().transpose();
    });
  }

  // ---- 1x1, stride 1: plain matrix products ----

  void ForwardPointwise(const Context& ctx, const Tensor4<T>& x, Tensor4<T>& y) const {
    const Index c = options_.in_channels, o = options_.out_channels;
    const ConstMatrix w(weights_.value.data(), c, o);
    ctx.ParallelFor(x.size() / c, [&](int, Index begin, Index end) {
      Matrix(y.data() + begin * o, end - begin, o).noalias() = ConstMatrix(x.data() + begin * c, end - begin, c) * w;
    });
  }

  void BackwardPointwise(const Context& ctx, const Tensor4<T>& x, const Tensor4<T>& dy, Tensor4<T>* dx) {
    const Index c = options_.in_channels, o = options_.out_channels, pixels = x.size() / c;
    const ConstMatrix xm(x.data(), pixels, c), dym(dy.data(), pixels, o);
    Matrix dw(weights_.gradient.data(), c, o);
    // dW = X^T dY, split by output channel so no partial sums are needed.
    ctx.ParallelFor(o, [&](int, Index begin, Index end) {
      dw.middleCols(begin, end - begin).noalias() += xm.transpose() * dym.middleCols(begin, end - begin);
    });
    if (dx == nullptr) return;
    const ConstMatrix w(weights_.value.data(), c, o);
    ctx.ParallelFor(pixels, [&](int, Index begin, Index end) {
      Matrix(dx->data() + begin * c, end - begin, c).noalias() = dym.middleRows(begin, end - begin) * w.transpose();
    });
  }

  // ---- general kernels: im2col ----

  void ForwardIm2Col(const Context& ctx, const Tensor4<T>& x, const Window& win, Tensor4<T>& y) const {
    const Index k = patch_size(), o = options_.out_channels, c = options_.in_channels;
    const ConstMatrix w(weights_.value.data(), k, o);
    const Index block = detail::PatchBlockRows(k, sizeof(T));
    ctx.ParallelFor(win.out_pixels(), [&](int, Index begin, Index end) {
      std::vector<T> patches(static_cast<size_t>(std::min(block, end - begin) * k));
      for (Index first = begin; first < end; first += block) {
        const Index rows = std::min(block, end - first);
        detail::Im2Col(x.data(), c, win, first, rows, patches.data());
        Matrix(y.data() + first * o, rows, o).noalias() = ConstMatrix(patches.data(), rows, k) * w;
      }
    });
  }

  // Threads take whole images: col2im of one image never overlaps another's.
  void BackwardIm2Col(const Context& ctx, const Tensor4<T>& x, const Tensor4<T>& dy, const Window& win,
                      Tensor4<T>* dx) {
    const Index k = patch_size(), o = options_.out_channels, c = options_.in_channels;
    const Index per_image = win.h.out * win.w.out;
    const Index block = detail::PatchBlockRows(k, sizeof(T));
    const ConstMatrix w(weights_.value.data(), k, o);
    std::vector<detail::RowMatrix<T>> dw_partial(ctx.Ranges(win.n));
    ctx.ParallelFor(win.n, [&](int r, Index n_begin, Index n_end) {
      detail::RowMatrix<T>& dw = dw_partial[r];
      dw.setZero(k, o);
      std::vector<T> patches(static_cast<size_t>(std::min(block, (n_end - n_begin) * per_image) * k));
      for (Index first = n_begin * per_image; first < n_end * per_image; first += block) {
        const Index rows = std::min(block, n_end * per_image - first);
        const ConstMatrix dyb(dy.data() + first * o, rows, o);
        Matrix pm(patches.data(), rows, k);
        detail::Im2Col(x.data(), c, win, first, rows, patches.data());
        dw.noalias() += pm.transpose() * dyb;
        if (dx == nullptr) continue;
        pm.noalias() = dyb * w.transpose();
        detail::Col2ImAdd(patches.data(), c, win, first, rows, dx->data());
      }
    });
    Matrix dw(weights_.gradient.data(), k, o);
    for (const auto& p : dw_partial) dw += p;
  }

  Conv2DOptions options_;
  Parameter<T> weights_;
  Parameter<T> biases_;
  detail::InputCache<T> input_;
};

}  // namespace warmstart::nn
