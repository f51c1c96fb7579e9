// DepthwiseConv2D: tf.nn.depthwise_conv2d (NHWC, SAME/VALID, strides) plus an optional bias,
// as slim.separable_conv2d(num_outputs=None) creates it: `<scope>/depthwise_weights`
// [KH, KW, C, M] and `<scope>/biases` [C*M].
//
//   x  [N, H, W, C]   y  [N, HO, WO, C*M]   output channel c*M + m reads input channel c
//
// Fast path: a direct loop. NHWC keeps the C channels of a pixel contiguous, and the kernel tap
// (ky, kx) is a contiguous [C, M] block, so every tap of every output pixel is one vector
// multiply-add over channels: y[p, :] += x[q, :] * w[ky, kx, :]. Float with multiplier 1 on a CPU
// with AVX2+FMA (detected at run time) runs the AVX2 rows below, the accumulator in a register;
// the backward of a 3x3 kernel there gathers dx per input pixel, threads splitting input rows.
// Otherwise (double, multipliers > 1, other CPUs) Eigen arrays, threads splitting output rows
// (forward) or whole images (backward, so dx never races). The weight gradient is summed per
// thread and added in thread order.
//
// Forward keeps a pointer to x for Backward: x must stay alive and unchanged until then.
#pragma once

#include <algorithm>
#include <string>
#include <type_traits>
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

// The output index `o` along one axis whose tap `k` reads input index `i`: i = o * stride -
// pad_before + k. -1 when no output does (stride does not divide, or out of range).
inline Index OutputForTap(const WindowAxis& axis, Index stride, Index i, Index k) {
  const Index t = i + axis.pad_before - k;
  if (t < 0 || t % stride != 0 || t / stride >= axis.out) return -1;
  return t / stride;
}

// ---- AVX2 + FMA rows (float, multiplier 1), 8 channels per vector -------------------------
//
// The channels of a pixel are contiguous in NHWC, and so are those of a kernel tap, so a tap is
// one vector multiply-add per 8 channels; a partial last vector uses masked loads and stores.
// Each output (forward) or input (backward dx) element is a sum over taps in (ky, kx) order
// whatever the thread split, so 1 and 2 threads give identical results.

#if defined(WARMSTART_NN_X86)

// The output columns [begin, end) whose 3 taps all fall inside the input row.
struct InteriorColumns {
  Index begin = 0, end = 0;
};

inline InteriorColumns InteriorOf(const Window& win) {
  InteriorColumns r;
  r.begin = (win.w.pad_before + win.stride_w - 1) / win.stride_w;
  const Index last = win.w.in + win.w.pad_before - 3;  // the largest ox * stride with every tap inside
  r.end = last >= 0 ? std::min(win.w.out, last / win.stride_w + 1) : 0;
  if (r.end < r.begin) r.end = r.begin;
  return r;
}

// AVX-512 for the bulk of a 3x3 row: output columns `cols`, channels [0, c / 16 * 16), every
// tap inside; the same sum as the AVX2 row below (bias, then the taps in order), so the results
// are identical.
__attribute__((target("avx512f"))) inline void DepthwiseForwardInterior3x3Avx512(const float* const* rows,
                                                                                 const float* w, const float* bias,
                                                                                 const Window& win, Index c,
                                                                                 InteriorColumns cols, float* out) {
  const Index full = c / 16 * 16;
  for (Index ox = cols.begin; ox < cols.end; ++ox) {
    const Index ix0 = ox * win.stride_w - win.w.pad_before;
    const float* const xs[3] = {rows[0] + ix0 * c, rows[1] + ix0 * c, rows[2] + ix0 * c};
    for (Index c0 = 0; c0 < full; c0 += 16) {
      __m512 acc = bias != nullptr ? _mm512_loadu_ps(bias + c0) : _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int ky = 0; ky < 3; ++ky) {
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
          acc = _mm512_fmadd_ps(_mm512_loadu_ps(xs[ky] + kx * c + c0), _mm512_loadu_ps(w + (ky * 3 + kx) * c + c0),
                                acc);
        }
      }
      _mm512_storeu_ps(out + ox * c + c0, acc);
    }
  }
}

// One output row. rows[ky]: the input row tap row ky reads, nullptr in the padding.
// y[ox, :] = bias + sum over taps of x[ox * stride - pad + kx, :] * w[ky, kx, :]. Channels
// [0, done_c) of the columns `done` are already written (the AVX-512 bulk).
__attribute__((target("avx2,fma"))) inline void DepthwiseForwardRowAvx2(const float* const* rows, const float* w,
                                                                        const float* bias, const Window& win, Index c,
                                                                        InteriorColumns done, Index done_c,
                                                                        float* out) {
  const Index full = c / 8 * 8;
  const __m256i mask = LaneMask8(c - full);
  const bool rows_inside = win.kh == 3 && rows[0] != nullptr && rows[1] != nullptr && rows[2] != nullptr;
  for (Index ox = 0; ox < win.w.out; ++ox) {
    const Index ix0 = ox * win.stride_w - win.w.pad_before;
    const Index kx_begin = std::max<Index>(0, -ix0), kx_end = std::min<Index>(win.kw, win.w.in - ix0);
    Index c0 = ox >= done.begin && ox < done.end ? done_c : 0;
    if (rows_inside && win.kw == 3 && kx_begin == 0 && kx_end == 3) {
      // 3x3 with every tap inside: the same sum, unrolled, whole vectors only.
      const float* x0 = rows[0] + ix0 * c;
      const float* x1 = rows[1] + ix0 * c;
      const float* x2 = rows[2] + ix0 * c;
      for (; c0 < full; c0 += 8) {
        __m256 acc = bias != nullptr ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
        const float* const xs[3] = {x0 + c0, x1 + c0, x2 + c0};
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky) {
#pragma GCC unroll 3
          for (int kx = 0; kx < 3; ++kx) {
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(xs[ky] + kx * c), _mm256_loadu_ps(w + (ky * 3 + kx) * c + c0), acc);
          }
        }
        _mm256_storeu_ps(out + ox * c + c0, acc);
      }
    }
    for (; c0 < c; c0 += 8) {
      const bool partial = c0 == full;
      __m256 acc = bias != nullptr ? Load8(bias + c0, partial, mask) : _mm256_setzero_ps();
      for (Index ky = 0; ky < win.kh; ++ky) {
        if (rows[ky] == nullptr) continue;
        for (Index kx = kx_begin; kx < kx_end; ++kx) {
          acc = _mm256_fmadd_ps(Load8(rows[ky] + (ix0 + kx) * c + c0, partial, mask),
                                Load8(w + (ky * win.kw + kx) * c + c0, partial, mask), acc);
        }
      }
      Store8(out + ox * c + c0, acc, partial, mask);
    }
  }
}

// One input row of a 3x3 kernel, gathered: dx[ix, :] = sum over the taps (ky, kx) that read it of
// dy[oy, ox, :] * w[ky, kx, :], and dw[ky, kx, :] += x[ix, :] * dy[oy, ox, :] for the same pairs.
// dy_rows[ky]: the dy row whose tap ky reads this input row, or nullptr; ox_of[ix * 3 + kx]: the
// output column whose tap kx reads column ix, or -1. dx may be nullptr; dw is [9, c], added to.
// Channels [c_begin, c), c_begin a multiple of 8. Inlined into the two entry points below.
__attribute__((target("avx2,fma"), always_inline)) inline void DepthwiseBackwardRow3x3Body(
    const float* x, const float* const* dy_rows, const Index* ox_of, const float* w, Index width, Index c,
    Index c_begin, float* dx, float* dw) {
  const Index full = c / 8 * 8;
  const __m256i mask = LaneMask8(c - full);
  const bool rows_inside = dy_rows[0] != nullptr && dy_rows[1] != nullptr && dy_rows[2] != nullptr;
  for (Index c0 = c_begin; c0 < c; c0 += 8) {
    const bool partial = c0 == full;
    __m256 dw_acc[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) dw_acc[t] = _mm256_setzero_ps();
    for (Index ix = 0; ix < width; ++ix) {
      const Index* ox = ox_of + ix * 3;
      if (!partial && rows_inside && ox[0] >= 0 && ox[1] >= 0 && ox[2] >= 0) {
        // Every tap reads this pixel: the same sums, unrolled, whole vectors only.
        const __m256 xv = _mm256_loadu_ps(x + ix * c + c0);
        __m256 dx_acc = _mm256_setzero_ps();
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky) {
#pragma GCC unroll 3
          for (int kx = 0; kx < 3; ++kx) {
            const __m256 g = _mm256_loadu_ps(dy_rows[ky] + ox[kx] * c + c0);
            dx_acc = _mm256_fmadd_ps(g, _mm256_loadu_ps(w + (ky * 3 + kx) * c + c0), dx_acc);
            dw_acc[ky * 3 + kx] = _mm256_fmadd_ps(xv, g, dw_acc[ky * 3 + kx]);
          }
        }
        if (dx != nullptr) _mm256_storeu_ps(dx + ix * c + c0, dx_acc);
        continue;
      }
      const __m256 xv = Load8(x + ix * c + c0, partial, mask);
      __m256 dx_acc = _mm256_setzero_ps();
#pragma GCC unroll 3
      for (int ky = 0; ky < 3; ++ky) {
        if (dy_rows[ky] == nullptr) continue;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
          const Index ox = ox_of[ix * 3 + kx];
          if (ox < 0) continue;
          const __m256 g = Load8(dy_rows[ky] + ox * c + c0, partial, mask);
          dx_acc = _mm256_fmadd_ps(g, Load8(w + (ky * 3 + kx) * c + c0, partial, mask), dx_acc);
          dw_acc[ky * 3 + kx] = _mm256_fmadd_ps(xv, g, dw_acc[ky * 3 + kx]);
        }
      }
      if (dx != nullptr) Store8(dx + ix * c + c0, dx_acc, partial, mask);
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      float* d = dw + t * c + c0;
      Store8(d, _mm256_add_ps(Load8(d, partial, mask), dw_acc[t]), partial, mask);
    }
  }
}

__attribute__((target("avx2,fma"))) inline void DepthwiseBackwardRow3x3Avx2(const float* x, const float* const* dy_rows,
                                                                            const Index* ox_of, const float* w,
                                                                            Index width, Index c, float* dx,
                                                                            float* dw) {
  DepthwiseBackwardRow3x3Body(x, dy_rows, ox_of, w, width, c, 0, dx, dw);
}

// The AVX-512 level picked (ActiveIsa) on a CPU that also has AVX-512VL (every one but Xeon Phi).
inline bool UseAvx512Vl() {
  static const bool vl = __builtin_cpu_supports("avx512vl");
  return ActiveIsa() == Isa::kAvx512 && vl;
}

// DepthwiseBackwardRow3x3Avx2's sums, 16 channels per vector, for channels [0, c_end), c_end a
// multiple of 16: every lane adds the same terms in the same order, so the results are identical.
__attribute__((target("avx512f"))) inline void DepthwiseBackwardRow3x3Zmm(const float* x, const float* const* dy_rows,
                                                                        const Index* ox_of, const float* w,
                                                                        Index width, Index c, Index c_end, float* dx,
                                                                        float* dw) {
  const bool rows_inside = dy_rows[0] != nullptr && dy_rows[1] != nullptr && dy_rows[2] != nullptr;
  for (Index c0 = 0; c0 < c_end; c0 += 16) {
    __m512 dw_acc[9], wv[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      dw_acc[t] = _mm512_setzero_ps();
      wv[t] = _mm512_loadu_ps(w + t * c + c0);
    }
    for (Index ix = 0; ix < width; ++ix) {
      const Index* ox = ox_of + ix * 3;
      const bool all = rows_inside && ox[0] >= 0 && ox[1] >= 0 && ox[2] >= 0;
      const __m512 xv = _mm512_loadu_ps(x + ix * c + c0);
      __m512 dx_acc = _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int ky = 0; ky < 3; ++ky) {
        if (!all && dy_rows[ky] == nullptr) continue;
#pragma GCC unroll 3
        for (int kx = 0; kx < 3; ++kx) {
          if (!all && ox[kx] < 0) continue;
          const __m512 g = _mm512_loadu_ps(dy_rows[ky] + ox[kx] * c + c0);
          dx_acc = _mm512_fmadd_ps(g, wv[ky * 3 + kx], dx_acc);
          dw_acc[ky * 3 + kx] = _mm512_fmadd_ps(xv, g, dw_acc[ky * 3 + kx]);
        }
      }
      if (dx != nullptr) _mm512_storeu_ps(dx + ix * c + c0, dx_acc);
    }
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      float* d = dw + t * c + c0;
      _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), dw_acc[t]));
    }
  }
}

// AVX-512: whole 16-channel vectors, then the rest (8 or fewer channels) with the AVX2 body and
// AVX-512VL's 32 registers (AVX2's 16 spill the accumulators on every pixel).
__attribute__((target("avx512f,avx512vl,avx2,fma"))) inline void DepthwiseBackwardRow3x3Avx512(
    const float* x, const float* const* dy_rows, const Index* ox_of, const float* w, Index width, Index c, float* dx,
    float* dw) {
  const Index c16 = c / 16 * 16;
  DepthwiseBackwardRow3x3Zmm(x, dy_rows, ox_of, w, width, c, c16, dx, dw);
  DepthwiseBackwardRow3x3Body(x, dy_rows, ox_of, w, width, c, c16, dx, dw);
}

#endif  // WARMSTART_NN_X86

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
    Tensor4<T> y = detail::NewTensor4<T>(win.n, win.h.out, win.w.out, out_channels());
    const bool vector = UseAvx2();
    const double row_work = static_cast<double>(win.w.out * out_channels() * win.kh * win.kw) * detail::kTapWork;
    detail::ParallelForWork(ctx, win.n * win.h.out, row_work, [&](int, Index begin, Index end) {
      std::vector<const T*> rows(static_cast<size_t>(win.kh));
      for (Index row = begin; row < end; ++row) {
        if (vector) {
          ForwardRowAvx2(x, win, row / win.h.out, row % win.h.out, rows, y);
        } else {
          ForwardRow(x, win, row / win.h.out, row % win.h.out, y);
        }
      }
    });
    input_.Save(x);
    return y;
  }

  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy, bool need_dx = true) {
    const Tensor4<T>& x = input_.Get(What());
    const Window win = MakeWindowFor(ShapeOf(x));
    CheckShape(dy, {win.n, win.h.out, win.w.out, out_channels()}, What() + ": dy");
    if (options_.use_bias) biases_.gradient += detail::ColumnSums(ctx, dy.data(), win.out_pixels(), out_channels());
    if (UseAvx2() && options_.kernel_h == 3 && options_.kernel_w == 3) return BackwardAvx2(ctx, x, dy, win, need_dx);
    Tensor4<T> dx;
    if (need_dx) dx = Zeros4<T>(ShapeOf(x));
    const double image_work =
        static_cast<double>(win.h.out * win.w.out * out_channels() * win.kh * win.kw * 2) * detail::kTapWork;
    std::vector<Eigen::Array<T, Eigen::Dynamic, 1>> dw_partial(detail::WorkRanges(ctx, win.n, image_work));
    detail::ParallelForWork(ctx, win.n, image_work, [&](int r, Index n_begin, Index n_end) {
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

  // The AVX2 rows: float, multiplier 1, a CPU with AVX2 and FMA.
  bool UseAvx2() const {
#if defined(WARMSTART_NN_X86)
    return std::is_same_v<T, float> && options_.depth_multiplier == 1 && detail::ActiveIsa() != detail::Isa::kPortable;
#else
    return false;
#endif
  }

  // rows: scratch of kh pointers.
  void ForwardRowAvx2(const Tensor4<T>& x, const Window& win, Index n, Index oy, std::vector<const T*>& rows,
                      Tensor4<T>& y) const {
#if defined(WARMSTART_NN_X86)
    if constexpr (std::is_same_v<T, float>) {
      const Index c = options_.in_channels;
      for (Index ky = 0; ky < win.kh; ++ky) {
        const Index iy = oy * win.stride_h - win.h.pad_before + ky;
        rows[ky] = iy < 0 || iy >= win.h.in ? nullptr : x.data() + (n * win.h.in + iy) * win.w.in * c;
      }
      const float* bias = options_.use_bias ? biases_.value.data() : nullptr;
      float* out = y.data() + (n * win.h.out + oy) * win.w.out * c;
      detail::InteriorColumns done;
      Index done_c = 0;
      if (detail::ActiveIsa() == detail::Isa::kAvx512 && win.kh == 3 && win.kw == 3 && rows[0] != nullptr &&
          rows[1] != nullptr && rows[2] != nullptr) {
        done = detail::InteriorOf(win);
        done_c = c / 16 * 16;
        detail::DepthwiseForwardInterior3x3Avx512(rows.data(), weights_.value.data(), bias, win, c, done, out);
      }
      detail::DepthwiseForwardRowAvx2(rows.data(), weights_.value.data(), bias, win, c, done, done_c, out);
    }
#else
    (void)x, (void)win, (void)n, (void)oy, (void)rows, (void)y;
#endif
  }

  // 3x3: threads split input rows; each input element's dx is gathered from the outputs that
  // read it (no zero-fill, no races); dw is summed per thread and added in range order.
  Tensor4<T> BackwardAvx2(const Context& ctx, const Tensor4<T>& x, const Tensor4<T>& dy, const Window& win,
                          bool need_dx) {
    Tensor4<T> dx;
#if defined(WARMSTART_NN_X86)
    if constexpr (std::is_same_v<T, float>) {
      const Index c = options_.in_channels;
      if (need_dx) dx = detail::NewTensor4<T>(ShapeOf(x));
      std::vector<Index> ox_of(static_cast<size_t>(win.w.in * 3));
      for (Index ix = 0; ix < win.w.in; ++ix) {
        for (Index kx = 0; kx < 3; ++kx) ox_of[ix * 3 + kx] = detail::OutputForTap(win.w, win.stride_w, ix, kx);
      }
      const bool avx512 = detail::UseAvx512Vl();
      const double row_work = static_cast<double>(win.w.in * c * 9 * 2) * detail::kTapWork;
      std::vector<Eigen::Array<T, Eigen::Dynamic, 1>> dw_partial(detail::WorkRanges(ctx, win.n * win.h.in, row_work));
      detail::ParallelForWork(ctx, win.n * win.h.in, row_work, [&](int r, Index begin, Index end) {
        dw_partial[r].setZero(9 * c);
        for (Index row = begin; row < end; ++row) {
          const Index n = row / win.h.in, iy = row % win.h.in;
          const float* dy_rows[3];
          for (Index ky = 0; ky < 3; ++ky) {
            const Index oy = detail::OutputForTap(win.h, win.stride_h, iy, ky);
            dy_rows[ky] = oy < 0 ? nullptr : dy.data() + (n * win.h.out + oy) * win.w.out * c;
          }
          const float* x_row = x.data() + row * win.w.in * c;
          float* dx_row = need_dx ? dx.data() + row * win.w.in * c : nullptr;
          if (avx512) {
            detail::DepthwiseBackwardRow3x3Avx512(x_row, dy_rows, ox_of.data(), weights_.value.data(), win.w.in, c,
                                                  dx_row, dw_partial[r].data());
          } else {
            detail::DepthwiseBackwardRow3x3Avx2(x_row, dy_rows, ox_of.data(), weights_.value.data(), win.w.in, c,
                                                dx_row, dw_partial[r].data());
          }
        }
      });
      for (const auto& p : dw_partial) weights_.gradient += p;
    }
#else
    (void)ctx, (void)x, (void)dy, (void)win, (void)need_dx;
#endif
    return dx;
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
