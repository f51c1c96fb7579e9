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
// are gemm.hpp's (packed, register-blocked, AVX-512 / AVX2 picked at run time; Eigen for
// double); W (for outputs of 256 pixels or more; smaller ones read it in place) and W^T are
// packed once per call and shared by the threads. Threads split output pixels (forward, 1x1
// dX), pixels again for the 1x1 weight gradient (per-thread partial sums, buffers kept in the
// layer, added in range order), or images (im2col backward, so col2im never races).
//
// Forward keeps a pointer to x for Backward. Requires: x stays alive and unchanged until
// Backward returns (the model owns activations, as in llm.c); Backward checks that the pointer
// and shape are still those Forward saw.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/gemm.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

namespace detail {

// The im2col block of one thread: reused scratch for float (gemm.hpp), a vector otherwise.
template <class T>
class PatchBuffer {
 public:
  explicit PatchBuffer(size_t size) : vector_(size) {}
  T* data() { return vector_.data(); }

 private:
  std::vector<T> vector_;
};

template <>
class PatchBuffer<float> {
 public:
  explicit PatchBuffer(size_t size) : buffer_(size) {}
  float* data() { return buffer_.data(); }

 private:
  ScratchBuffer buffer_;
};

// Patch rows per im2col block: about 256 KiB of patches, at least 192 rows (a matrix product of
// fewer rows spends more on packing than on multiplying).
inline Index PatchBlockRows(Index patch_size, size_t element_size) {
  return std::max<Index>(192, static_cast<Index>(262144 / element_size) / std::max<Index>(patch_size, 1));
}

// Copies n values; a loop when they are few (a memmove call per 3 floats costs more than the
// copy, and so does Eigen's vectorised copy).
template <class T>
void CopyChannels(const T* src, Index n, T* dst) {
  if (n >= 32) {
    std::copy(src, src + n, dst);
  } else {
    for (Index j = 0; j < n; ++j) dst[j] = src[j];
  }
}

// dst += src over c values (a loop for few channels, as CopyChannels).
template <class T>
void AddChannels(const T* src, Index c, T* dst) {
  if (c >= 16) {
    VectorMap<T>(dst, c) += ConstVectorMap<T>(src, c);
  } else {
    for (Index j = 0; j < c; ++j) dst[j] += src[j];
  }
}

// Unrolls output pixels [first, first + rows) (flat over N, HO, WO) into patches [rows, KH*KW*C].
template <class T>
void Im2Col(const T* x, Index c, const Window& win, Index first, Index rows, T* patches) {
  const Index patch = win.kh * win.kw * c;
  Index ox = first % win.w.out, oy = (first / win.w.out) % win.h.out, n = first / (win.w.out * win.h.out);
  for (Index r = 0; r < rows; ++r) {
    T* dst = patches + r * patch;
    for (Index ky = 0; ky < win.kh; ++ky) {
      const Index iy = oy * win.stride_h - win.h.pad_before + ky;
      if (iy < 0 || iy >= win.h.in) {
        std::fill(dst, dst + win.kw * c, T(0));
        dst += win.kw * c;
        continue;
      }
      const T* row = x + (n * win.h.in + iy) * win.w.in * c;
      const Index ix0 = ox * win.stride_w - win.w.pad_before;
      if (ix0 >= 0 && ix0 + win.kw <= win.w.in) {
        // Every tap inside: the kw pixels are contiguous in the input row.
        CopyChannels(row + ix0 * c, win.kw * c, dst);
        dst += win.kw * c;
        continue;
      }
      for (Index kx = 0; kx < win.kw; ++kx, dst += c) {
        const Index ix = ix0 + kx;
        if (ix < 0 || ix >= win.w.in) {
          std::fill(dst, dst + c, T(0));
        } else {
          CopyChannels(row + ix * c, c, dst);
        }
      }
    }
    if (++ox == win.w.out) {
      ox = 0;
      if (++oy == win.h.out) {
        oy = 0;
        ++n;
      }
    }
  }
}

// The adjoint of Im2Col: adds patch rows back into dx (padding taps are dropped).
template <class T>
void Col2ImAdd(const T* patches, Index c, const Window& win, Index first, Index rows, T* dx) {
  const Index patch = win.kh * win.kw * c;
  Index ox = first % win.w.out, oy = (first / win.w.out) % win.h.out, n = first / (win.w.out * win.h.out);
  for (Index r = 0; r < rows; ++r) {
    const T* src = patches + r * patch;
    for (Index ky = 0; ky < win.kh; ++ky, src += win.kw * c) {
      const Index iy = oy * win.stride_h - win.h.pad_before + ky;
      if (iy < 0 || iy >= win.h.in) continue;
      T* row = dx + (n * win.h.in + iy) * win.w.in * c;
      for (Index kx = 0; kx < win.kw; ++kx) {
        const Index ix = ox * win.stride_w - win.w.pad_before + kx;
        if (ix < 0 || ix >= win.w.in) continue;
        AddChannels(src + kx * c, c, row + ix * c);
      }
    }
    if (++ox == win.w.out) {
      ox = 0;
      if (++oy == win.h.out) {
        oy = 0;
        ++n;
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
    Tensor4<T> y = detail::NewTensor4<T>(win.n, win.h.out, win.w.out, options_.out_channels);
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
    // The 1x1 product writes every element of dx; col2im adds into zeros.
    if (need_dx) dx = IsPointwise() ? detail::NewTensor4<T>(ShapeOf(x)) : Zeros4<T>(ShapeOf(x));
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
    detail::ParallelForWork(ctx, y.size() / o, o, [&](int, Index begin, Index end) {
      Matrix(y.data() + begin * o, end - begin, o).rowwise() += biases_.value.matrix().transpose();
    });
  }

  // The kernel as B of Y = X W ([C, O], or [KH*KW*C, O]), packed once for every thread when
  // Y has `rows` >= kPackRows rows; fewer (the small maps of the heads) spend more on packing
  // than on multiplying, and read W in place.
  static constexpr Index kPackRows = 256;
  std::optional<detail::PackedB<T>> PackedWeightsFor(Index rows) const {
    if (rows < kPackRows) return std::nullopt;
    const Index o = options_.out_channels;
    return std::optional<detail::PackedB<T>>(std::in_place, patch_size(), o,
                                             detail::GemmOperand<T>{weights_.value.data(), o, false});
  }
  // Y [rows, O] = A W, W from PackedWeightsFor.
  void MultiplyWeights(Index rows, const detail::GemmOperand<T>& a, const std::optional<detail::PackedB<T>>& w,
                       T* y) const {
    const Index o = options_.out_channels;
    if (w) {
      detail::Gemm<T>(rows, a, *w, y, o, false);
    } else {
      detail::Gemm<T>(rows, o, patch_size(), a, {weights_.value.data(), o, false}, y, o, false);
    }
  }
  // W^T, the B of dX = dY W^T.
  detail::PackedB<T> PackedWeightsTransposed() const {
    const Index o = options_.out_channels;
    return detail::PackedB<T>(o, patch_size(), {weights_.value.data(), o, true});
  }

  // dW += X^T dY over `rows` rows, the rows (K of the product) split over threads:
  // fn(begin, end, dw, accumulate) writes (or adds) rows [begin, end)'s product to dw. Range 0
  // adds to the gradient itself, the others write partial sums added after it in range order.
  template <class ProductFn>
  void AddWeightGradient(const Context& ctx, Index rows, ProductFn fn) {
    const Index k = patch_size(), o = options_.out_channels;
    const double work = static_cast<double>(k * o) * detail::kMacWork;
    std::vector<detail::RowMatrix<T>>& partial = PartialWeightGradients(detail::WorkRanges(ctx, rows, work));
    detail::ParallelForWork(ctx, rows, work, [&](int r, Index begin, Index end) {
      T* dw = weights_.gradient.data();
      if (r > 0) dw = partial[r].data();
      fn(begin, end, dw, r == 0);
    });
    Matrix dw(weights_.gradient.data(), k, o);
    for (size_t r = 1; r < partial.size(); ++r) dw += partial[r];
  }

  // `ranges` per-thread weight gradients [k, o] (range 0's unused: it adds to the gradient),
  // kept between calls: a head's is over half a megabyte, fresh memory (page faults) every call.
  std::vector<detail::RowMatrix<T>>& PartialWeightGradients(int ranges) {
    dw_partial_.resize(static_cast<size_t>(ranges));
    for (size_t r = 1; r < dw_partial_.size(); ++r) dw_partial_[r].resize(patch_size(), options_.out_channels);
    return dw_partial_;
  }

  // ---- 1x1, stride 1: plain matrix products ----

  void ForwardPointwise(const Context& ctx, const Tensor4<T>& x, Tensor4<T>& y) const {
    const Index c = options_.in_channels, o = options_.out_channels, pixels = x.size() / c;
    const std::optional<detail::PackedB<T>> w = PackedWeightsFor(pixels);
    const double work = static_cast<double>(c * o) * detail::kMacWork;
    detail::ParallelForWork(ctx, pixels, work, [&](int, Index begin, Index end) {
      MultiplyWeights(end - begin, {x.data() + begin * c, c, false}, w, y.data() + begin * o);
    });
  }

  void BackwardPointwise(const Context& ctx, const Tensor4<T>& x, const Tensor4<T>& dy, Tensor4<T>* dx) {
    const Index c = options_.in_channels, o = options_.out_channels, pixels = x.size() / c;
    // dW = X^T dY: A = X read transposed [C, rows], B = dY rows.
    AddWeightGradient(ctx, pixels, [&](Index begin, Index end, T* dw, bool accumulate) {
      detail::Gemm<T>(c, o, end - begin, {x.data() + begin * c, c, true}, {dy.data() + begin * o, o, false}, dw, o,
                      accumulate);
    });
    if (dx == nullptr) return;
    const detail::PackedB<T> wt = PackedWeightsTransposed();
    const double work = static_cast<double>(c * o) * detail::kMacWork;
    detail::ParallelForWork(ctx, pixels, work, [&](int, Index begin, Index end) {
      detail::Gemm<T>(end - begin, {dy.data() + begin * o, o, false}, wt, dx->data() + begin * c, c, false);
    });
  }

  // ---- general kernels: im2col ----

  void ForwardIm2Col(const Context& ctx, const Tensor4<T>& x, const Window& win, Tensor4<T>& y) const {
    const Index k = patch_size(), o = options_.out_channels, c = options_.in_channels;
    const std::optional<detail::PackedB<T>> w = PackedWeightsFor(win.out_pixels());
    const Index block = detail::PatchBlockRows(k, sizeof(T));
    const double work = static_cast<double>(k * o) * detail::kMacWork;
    detail::ParallelForWork(ctx, win.out_pixels(), work, [&](int, Index begin, Index end) {
      detail::PatchBuffer<T> patches(static_cast<size_t>(std::min(block, end - begin) * k));
      for (Index first = begin; first < end; first += block) {
        const Index rows = std::min(block, end - first);
        detail::Im2Col(x.data(), c, win, first, rows, patches.data());
        MultiplyWeights(rows, {patches.data(), k, false}, w, y.data() + first * o);
      }
    });
  }

  // Threads take whole images: col2im of one image never overlaps another's.
  void BackwardIm2Col(const Context& ctx, const Tensor4<T>& x, const Tensor4<T>& dy, const Window& win,
                      Tensor4<T>* dx) {
    const Index k = patch_size(), o = options_.out_channels, c = options_.in_channels;
    const Index per_image = win.h.out * win.w.out;
    const Index block = detail::PatchBlockRows(k, sizeof(T));
    std::optional<detail::PackedB<T>> wt;
    if (dx != nullptr) wt.emplace(o, k, detail::GemmOperand<T>{weights_.value.data(), o, true});
    const double work = static_cast<double>(per_image * k * o * 2) * detail::kMacWork;
    std::vector<detail::RowMatrix<T>>& dw_partial = PartialWeightGradients(detail::WorkRanges(ctx, win.n, work));
    detail::ParallelForWork(ctx, win.n, work, [&](int r, Index n_begin, Index n_end) {
      T* dw = weights_.gradient.data();
      if (r > 0) {
        dw_partial[r].setZero();
        dw = dw_partial[r].data();
      }
      detail::PatchBuffer<T> patches(static_cast<size_t>(std::min(block, (n_end - n_begin) * per_image) * k));
      for (Index first = n_begin * per_image; first < n_end * per_image; first += block) {
        const Index rows = std::min(block, n_end * per_image - first);
        const T* dyb = dy.data() + first * o;
        detail::Im2Col(x.data(), c, win, first, rows, patches.data());
        detail::Gemm<T>(k, o, rows, {patches.data(), k, true}, {dyb, o, false}, dw, o, true);
        if (dx == nullptr) continue;
        detail::Gemm<T>(rows, {dyb, o, false}, *wt, patches.data(), k, false);
        detail::Col2ImAdd(patches.data(), c, win, first, rows, dx->data());
      }
    });
    Matrix dw(weights_.gradient.data(), k, o);
    for (size_t r = 1; r < dw_partial.size(); ++r) dw += dw_partial[r];
  }

  Conv2DOptions options_;
  Parameter<T> weights_;
  Parameter<T> biases_;
  detail::InputCache<T> input_;
  std::vector<detail::RowMatrix<T>> dw_partial_;  // scratch of Backward, see PartialWeightGradients
};

}  // namespace warmstart::nn
