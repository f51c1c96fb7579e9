// Helpers shared by the nn layers: the vector instructions picked at run time, RowMajor Eigen
// views of raw buffers, how work is split over threads, per-channel passes over [rows, C] blocks
// (column sums, affine rows), the ReLU gradient mask, and the input a Forward remembers for its
// Backward.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define WARMSTART_NN_X86 1
#include <immintrin.h>
#endif

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

namespace detail {

// The vector instructions the float kernels use, picked at run time as oneDNN (PyTorch's CPU
// convolutions) does, so a build without -march still runs FMA code: the matrix product
// (gemm.hpp) has AVX-512 and AVX2+FMA kernels; the depthwise convolution and the per-channel
// passes (batch norm, bias sums) AVX2+FMA. Portable is Eigen's code as compiled (SSE2 on x86-64
// without -march).
enum class Isa { kPortable, kAvx2, kAvx512 };

inline const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "portable";
}

// The best the CPU (and the OS, which must save the registers) supports. The environment
// variable WARMSTART_NN_ISA=portable|avx2 can lower it (tests of every path, benchmarks).
inline Isa DetectIsa() {
  Isa isa = Isa::kPortable;
#if defined(WARMSTART_NN_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = Isa::kAvx2;
  if (isa == Isa::kAvx2 && __builtin_cpu_supports("avx512f")) isa = Isa::kAvx512;
#endif
  if (const char* env = std::getenv("WARMSTART_NN_ISA")) {
    const std::string want = env;
    if (want == "portable") isa = Isa::kPortable;
    if (want == "avx2" && isa == Isa::kAvx512) isa = Isa::kAvx2;
  }
  return isa;
}

// Detected once.
inline Isa ActiveIsa() {
  static const Isa isa = DetectIsa();
  return isa;
}

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using VectorMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstVectorMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// Work is counted in element operations of a memory-bound pass (about a nanosecond each); a
// multiply-add of a matrix product counts kMacWork, a depthwise tap on one channel kTapWork.
// Work below kMinParallelWork (~0.1-0.3 ms) runs on the calling thread alone: handing a range to
// a pool thread costs tens of microseconds, far more on a loaded machine, where the 128x128 SSD
// ran 20% faster with this threshold than with a quarter of it.
inline constexpr double kMinParallelWork = 262144;
inline constexpr double kMacWork = 1.0 / 32;
inline constexpr double kTapWork = 1.0 / 8;

// The number of ranges ParallelForWork uses: 1 for small work, else ctx.Ranges(n). Per-range
// partial sums are sized with it; like ctx.Ranges, it depends only on n, the work and the
// thread count.
inline int WorkRanges(const Context& ctx, Index n, double work_per_item) {
  return static_cast<double>(n) * work_per_item < kMinParallelWork ? 1 : ctx.Ranges(n);
}

// ctx.ParallelFor(n, fn), or fn(0, 0, n) on the calling thread when the work is small.
template <class Fn>
void ParallelForWork(const Context& ctx, Index n, double work_per_item, const Fn& fn) {
  if (n <= 0) return;
  if (WorkRanges(ctx, n, work_per_item) == 1) {
    fn(0, Index{0}, n);
  } else {
    ctx.ParallelFor(n, fn);
  }
}

// out[i] = g[i] where lo < x[i] < hi, else 0: the gradient mask of ReLU6 (lo 0, hi 6) and ReLU
// (hi infinity); out may be g. Eigen's select() on comparisons is scalar with a branch per
// element (~10x slower on random signs), so float goes through SSE2 (every x86-64 CPU)
// compare-and-mask.
template <class T>
void MaskBetween(const T* x, const T* g, T* out, Index n, T lo, T hi) {
  Index i = 0;
#if defined(WARMSTART_NN_X86)
  if constexpr (std::is_same_v<T, float>) {
    const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi);
    for (; i + 4 <= n; i += 4) {
      const __m128 xv = _mm_loadu_ps(x + i);
      const __m128 keep = _mm_and_ps(_mm_cmpgt_ps(xv, vlo), _mm_cmplt_ps(xv, vhi));
      _mm_storeu_ps(out + i, _mm_and_ps(keep, _mm_loadu_ps(g + i)));
    }
  }
#endif
  for (; i < n; ++i) out[i] = (x[i] > lo && x[i] < hi) ? g[i] : T(0);
}

// out[i] = g[i] where x[i] > lo, else 0: the gradient mask of ReLU read from its output (as
// MaskBetween, without an upper bound, so an infinite output still passes its gradient); out
// may be g.
template <class T>
void MaskAbove(const T* x, const T* g, T* out, Index n, T lo) {
  Index i = 0;
#if defined(WARMSTART_NN_X86)
  if constexpr (std::is_same_v<T, float>) {
    const __m128 vlo = _mm_set1_ps(lo);
    for (; i + 4 <= n; i += 4) {
      _mm_storeu_ps(out + i, _mm_and_ps(_mm_cmpgt_ps(_mm_loadu_ps(x + i), vlo), _mm_loadu_ps(g + i)));
    }
  }
#endif
  for (; i < n; ++i) out[i] = x[i] > lo ? g[i] : T(0);
}

// ---- per-channel passes over [rows, c] blocks (batch norm, biases) ---------------------------
//
// Each is a loop over rows with the channels vectorised: AVX2+FMA for float on a CPU that has it
// (ActiveIsa()), Eigen (SSE2 on x86-64) otherwise. Sums run per 8-channel vector over the rows,
// four rows at a time into four accumulators (added at the end), so their order differs from a
// plain row-by-row sum by rounding only.

#if defined(WARMSTART_NN_X86)

// Lanes [0, n) of 8, n in [0, 8].
__attribute__((target("avx2"))) inline __m256i LaneMask8(Index n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2"))) inline __m256 Load8(const float* p, bool partial, __m256i mask) {
  return partial ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

__attribute__((target("avx2"))) inline void Store8(float* p, __m256 v, bool partial, __m256i mask) {
  if (partial) {
    _mm256_maskstore_ps(p, mask, v);
  } else {
    _mm256_storeu_ps(p, v);
  }
}

// out[i, :] = u[i, :] * a + s, or with v: u[i, :] * a - v[i, :] * b + s.
__attribute__((target("avx2,fma"))) inline void RowsAffineAvx2(const float* u, const float* v, Index rows, Index c,
                                                               const float* a, const float* b, const float* s,
                                                               float* out) {
  const Index full = c / 8 * 8;
  const __m256i mask = LaneMask8(c - full);
  for (Index i = 0; i < rows; ++i) {
    for (Index c0 = 0; c0 < c; c0 += 8) {
      const bool partial = c0 == full;
      __m256 r = _mm256_fmadd_ps(Load8(u + i * c + c0, partial, mask), Load8(a + c0, partial, mask),
                                 Load8(s + c0, partial, mask));
      if (v != nullptr) r = _mm256_fnmadd_ps(Load8(v + i * c + c0, partial, mask), Load8(b + c0, partial, mask), r);
      Store8(out + i * c + c0, r, partial, mask);
    }
  }
}

// One term of a column sum: u (kMode 0), (u - m)^2 (1), w * (u - m) (2).
template <int kMode>
__attribute__((target("avx2,fma"))) inline __m256 ColumnTerm(__m256 acc, const float* u, const float* w, __m256 m,
                                                             bool partial, __m256i mask) {
  if (kMode == 0) return _mm256_add_ps(acc, Load8(u, partial, mask));
  const __m256 d = _mm256_sub_ps(Load8(u, partial, mask), m);
  if (kMode == 1) return _mm256_fmadd_ps(d, d, acc);
  return _mm256_fmadd_ps(Load8(w, partial, mask), d, acc);
}

template <int kMode>
__attribute__((target("avx2,fma"))) inline void ColumnSumsAvx2(const float* u, const float* w, const float* center,
                                                               Index rows, Index c, float* sum) {
  const Index full = c / 8 * 8;
  const __m256i mask = LaneMask8(c - full);
  for (Index c0 = 0; c0 < c; c0 += 8) {
    const bool partial = c0 == full;
    const __m256 m = kMode == 0 ? _mm256_setzero_ps() : Load8(center + c0, partial, mask);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float* up = u + c0;
    const float* wp = kMode == 2 ? w + c0 : nullptr;
    Index i = 0;
    for (; i + 4 <= rows; i += 4, up += 4 * c) {
      a0 = ColumnTerm<kMode>(a0, up, wp, m, partial, mask);
      a1 = ColumnTerm<kMode>(a1, up + c, kMode == 2 ? wp + c : nullptr, m, partial, mask);
      a2 = ColumnTerm<kMode>(a2, up + 2 * c, kMode == 2 ? wp + 2 * c : nullptr, m, partial, mask);
      a3 = ColumnTerm<kMode>(a3, up + 3 * c, kMode == 2 ? wp + 3 * c : nullptr, m, partial, mask);
      if (kMode == 2) wp += 4 * c;
    }
    for (; i < rows; ++i, up += c) {
      a0 = ColumnTerm<kMode>(a0, up, wp, m, partial, mask);
      if (kMode == 2) wp += c;
    }
    const __m256 total = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    Store8(sum + c0, _mm256_add_ps(Load8(sum + c0, partial, mask), total), partial, mask);
  }
}

#endif  // WARMSTART_NN_X86

inline bool UseAvx2Rows() {
#if defined(WARMSTART_NN_X86)
  return ActiveIsa() != Isa::kPortable;
#else
  return false;
#endif
}

// out[i, :] = u[i, :] * a + s, or with v (and b): u[i, :] * a - v[i, :] * b + s; rows [0, rows).
template <class T>
void RowsAffine(const T* u, const T* v, Index rows, const Eigen::Array<T, Eigen::Dynamic, 1>& a,
                const Eigen::Array<T, Eigen::Dynamic, 1>* b, const Eigen::Array<T, Eigen::Dynamic, 1>& s, T* out) {
  const Index c = a.size();
#if defined(WARMSTART_NN_X86)
  if constexpr (std::is_same_v<T, float>) {
    if (UseAvx2Rows()) {
      RowsAffineAvx2(u, v, rows, c, a.data(), v != nullptr ? b->data() : nullptr, s.data(), out);
      return;
    }
  }
#endif
  for (Index i = 0; i < rows; ++i) {
    if (v != nullptr) {
      VectorMap<T>(out + i * c, c) = ConstVectorMap<T>(u + i * c, c) * a - ConstVectorMap<T>(v + i * c, c) * *b + s;
    } else {
      VectorMap<T>(out + i * c, c) = ConstVectorMap<T>(u + i * c, c) * a + s;
    }
  }
}

// sum += column sums over rows [0, rows) of u, of (u - center)^2 (center given, w null), or of
// w * (u - center) (both given). sum holds c = sum.size() values.
template <class T>
void AddColumnSums(const T* u, const T* w, const Eigen::Array<T, Eigen::Dynamic, 1>* center, Index rows,
                   Eigen::Array<T, Eigen::Dynamic, 1>& sum) {
  const Index c = sum.size();
#if defined(WARMSTART_NN_X86)
  if constexpr (std::is_same_v<T, float>) {
    if (UseAvx2Rows()) {
      if (center == nullptr) {
        ColumnSumsAvx2<0>(u, nullptr, nullptr, rows, c, sum.data());
      } else if (w == nullptr) {
        ColumnSumsAvx2<1>(u, nullptr, center->data(), rows, c, sum.data());
      } else {
        ColumnSumsAvx2<2>(u, w, center->data(), rows, c, sum.data());
      }
      return;
    }
  }
#endif
  for (Index i = 0; i < rows; ++i) {
    const auto row = ConstVectorMap<T>(u + i * c, c);
    if (center == nullptr) {
      sum += row;
    } else if (w == nullptr) {
      sum += (row - *center).square();
    } else {
      sum += ConstVectorMap<T>(w + i * c, c) * (row - *center);
    }
  }
}

// Sum over rows of a [rows, cols] RowMajor block, split over threads, partials added in order.
// Row by row (vectorised along the row), in blocks of 256 rows: shorter float summation chains.
template <class T>
Eigen::Array<T, Eigen::Dynamic, 1> ColumnSums(const Context& ctx, const T* data, Index rows, Index cols) {
  std::vector<Eigen::Array<T, Eigen::Dynamic, 1>> partial(WorkRanges(ctx, rows, cols));
  ParallelForWork(ctx, rows, cols, [&](int r, Index begin, Index end) {
    Eigen::Array<T, Eigen::Dynamic, 1> sum = Eigen::Array<T, Eigen::Dynamic, 1>::Zero(cols), block(cols);
    for (Index b = begin; b < end; b += 256) {
      block.setZero();
      AddColumnSums<T>(data + b * cols, nullptr, nullptr, std::min<Index>(256, end - b), block);
      sum += block;
    }
    partial[r] = std::move(sum);
  });
  Eigen::Array<T, Eigen::Dynamic, 1> sum = Eigen::Array<T, Eigen::Dynamic, 1>::Zero(cols);
  for (const auto& p : partial) sum += p;
  return sum;
}

// Remembers the input of a Forward for the matching Backward.
template <class T>
class InputCache {
 public:
  void Save(const Tensor4<T>& x) {
    x_ = &x;
    data_ = x.data();
    shape_ = ShapeOf(x);
  }
  const Tensor4<T>& Get(const std::string& what) const {
    if (x_ == nullptr) throw ArgumentError(what + ": Backward called without a Forward");
    if (x_->data() != data_ || ShapeOf(*x_) != shape_) {
      throw ArgumentError(what + ": the input tensor given to Forward was moved or resized before Backward");
    }
    return *x_;
  }
  const Shape4& shape() const { return shape_; }
  void Clear() { x_ = nullptr; }

 private:
  const Tensor4<T>* x_ = nullptr;
  const T* data_ = nullptr;
  Shape4 shape_{};
};

}  // namespace detail

}  // namespace warmstart::nn
