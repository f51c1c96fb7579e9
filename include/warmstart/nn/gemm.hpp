// Matrix products for the conv layers: C (+)= A B, single-threaded (the layers split the work),
// with float kernels chosen at run time for the CPU -- AVX-512 or AVX2+FMA, as oneDNN (PyTorch's
// CPU convolutions) dispatches -- so a build without -march still runs vector FMA code. double,
// and float on other CPUs, go through Eigen's product.
//
// Operands are row-major with a leading dimension, optionally read transposed:
//   A(i, p) = trans ? a[p * lda + i] : a[i * lda + p]      [M, K]
//   B(p, j) = trans ? b[j * ldb + p] : b[p * ldb + j]      [K, N]
//   C(i, j) = c[i * ldc + j]                               [M, N]
//
// Algorithm (Goto's, as BLIS lays it out): B is cut into slices of KC rows, each packed into
// panels NR columns wide (k-major, zero-padded at the right edge); A is cut into blocks of MC
// rows, each slice of a block packed into panels MR rows tall; the micro-kernel computes one
// MR x NR tile of C over one slice with the tile in registers (one broadcast of A and NR/16 or
// NR/8 loads of B per step of k). A layer packs a B that every thread shares once (the weights,
// PackedB) and each thread packs its own rows of A.
//
// Results differ from Eigen's and from the nested-loop reference only in the order of the sums.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn::detail {

// A read-only matrix operand (see the top of the file).
template <class T>
struct GemmOperand {
  const T* data = nullptr;
  Index ld = 0;
  bool trans = false;
  T operator()(Index row, Index col) const { return trans ? data[col * ld + row] : data[row * ld + col]; }
};

// Buffers that are reused instead of freed: packing buffers and packed kernels would
// otherwise be fresh memory, page faults included, on every call. Each thread keeps a few; a
// ScratchBuffer goes back to its thread's list when destroyed (on that thread).
class ScratchBuffer {
 public:
  explicit ScratchBuffer(size_t floats) {
    std::vector<Block>& free = FreeList();
    // The smallest free block that fits, else a new one.
    auto best = free.end();
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->size >= floats && (best == free.end() || it->size < best->size)) best = it;
    }
    if (best != free.end()) {
      block_ = std::move(*best);
      free.erase(best);
    } else {
      block_.data.reset(new float[floats + 16]);
      block_.size = floats;
    }
  }
  ~ScratchBuffer() {
    std::vector<Block>& free = FreeList();
    if (free.size() >= kMaxFree) free.erase(free.begin());
    free.push_back(std::move(block_));
  }
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  // 64-byte aligned, for the AVX-512 loads.
  float* data() const {
    const uintptr_t p = reinterpret_cast<uintptr_t>(block_.data.get());
    return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
  }

 private:
  struct Block {
    std::unique_ptr<float[]> data;
    size_t size = 0;
  };
  static constexpr size_t kMaxFree = 8;
  static std::vector<Block>& FreeList() {
    thread_local std::vector<Block> free;
    return free;
  }

  Block block_;
};

// ---- the micro-kernels ------------------------------------------------------------------
//
// Kernel::Run<row_major>(kc, a, a_step, b, b_step, c, ldc, accumulate): C tile [MR, NR] (+)=
// A panel [MR, kc] * B panel [kc, NR], with MR x NR accumulators in registers.

#if defined(WARMSTART_NN_X86)

// A panel of MR rows of A over kc steps: A(i, p) = a[i * step + p] when row_major (A read in
// place, row-major), else a[p * step + i] (a packed panel, step MR, or A^T read in place).
// A panel of NR columns of B: B(p, j) = b[p * step + j] (packed: step NR; in place: the row
// stride of a row-major B).
struct APanel {
  const float* a;
  Index step;
  bool row_major;
};
struct BPanel {
  const float* b;
  Index step;
};

// kVectors zmm registers per row: 32 columns, or 16 for a B of at most 16 columns (the
// narrow layers of a small depth multiplier), where a 32-wide tile would compute half zeros.
template <int kVectors>
struct KernelAvx512 {
  static constexpr Index kMr = 12, kNr = 16 * kVectors, kKc = 256, kMc = 12 * 16, kNc = 512;

  template <bool kRowMajorA>
  __attribute__((target("avx512f"))) static void Run(Index kc, const float* a, Index a_step, const float* b,
                                                     Index b_step, float* c, Index ldc, bool accumulate) {
    __m512 acc[kMr][kVectors];
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) acc[i][v] = _mm512_setzero_ps();
    }
    for (Index p = 0; p < kc; ++p, b += b_step) {
      __m512 bv[kVectors];
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 12
      for (int i = 0; i < kMr; ++i) {
        const __m512 ai = _mm512_set1_ps(kRowMajorA ? a[i * a_step + p] : a[p * a_step + i]);
#pragma GCC unroll 2
        for (int v = 0; v < kVectors; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      float* ci = c + i * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < kVectors; ++v) {
        if (accumulate) acc[i][v] = _mm512_add_ps(acc[i][v], _mm512_loadu_ps(ci + 16 * v));
        _mm512_storeu_ps(ci + 16 * v, acc[i][v]);
      }
    }
  }
};

struct KernelAvx2 {
  static constexpr Index kMr = 6, kNr = 16, kKc = 256, kMc = 6 * 32, kNc = 512;

  template <bool kRowMajorA>
  __attribute__((target("avx2,fma"))) static void Run(Index kc, const float* a, Index a_step, const float* b,
                                                      Index b_step, float* c, Index ldc, bool accumulate) {
    __m256 acc[kMr][2];
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (Index p = 0; p < kc; ++p, b += b_step) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
      for (int i = 0; i < kMr; ++i) {
        const __m256 ai = _mm256_broadcast_ss(kRowMajorA ? a + i * a_step + p : a + p * a_step + i);
        acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
      }
    }
#pragma GCC unroll 6
    for (int i = 0; i < kMr; ++i) {
      float* ci = c + i * ldc;
      if (accumulate) {
        acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci));
        acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, acc[i][0]);
      _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
  }
};

#endif  // WARMSTART_NN_X86

// ---- packing ------------------------------------------------------------------------------

// B rows [p0, p0 + kc), columns [j0, j0 + nc) into panels [ceil(nc / NR)][kc][NR], zero-padded.
template <Index NR>
void PackB(const GemmOperand<float>& b, Index p0, Index kc, Index j0, Index nc, float* dst) {
  for (Index jp = 0; jp < nc; jp += NR, dst += kc * NR) {
    const Index cols = std::min(NR, nc - jp);
    if (!b.trans) {
      for (Index p = 0; p < kc; ++p) {
        const float* src = b.data + (p0 + p) * b.ld + j0 + jp;
        float* d = dst + p * NR;
        if (cols == NR) {
          for (Index j = 0; j < NR; ++j) d[j] = src[j];  // a fixed count: unrolled, vectorised
        } else {
          for (Index j = 0; j < NR; ++j) d[j] = j < cols ? src[j] : 0.0f;
        }
      }
    } else {
      if (cols < NR) {
        for (Index p = 0; p < kc; ++p) std::fill(dst + p * NR + cols, dst + (p + 1) * NR, 0.0f);
      }
      for (Index j = 0; j < cols; ++j) {
        const float* src = b.data + (j0 + jp + j) * b.ld + p0;
        for (Index p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
      }
    }
  }
}

// A rows [i0, i0 + mc), columns [p0, p0 + kc) into panels [ceil(mc / MR)][kc][MR], zero-padded.
template <Index MR>
void PackA(const GemmOperand<float>& a, Index i0, Index mc, Index p0, Index kc, float* dst) {
  for (Index ip = 0; ip < mc; ip += MR, dst += kc * MR) {
    const Index rows = std::min(MR, mc - ip);
    if (a.trans) {
      for (Index p = 0; p < kc; ++p) {
        const float* src = a.data + (p0 + p) * a.ld + i0 + ip;
        float* d = dst + p * MR;
        if (rows == MR) {
          for (Index i = 0; i < MR; ++i) d[i] = src[i];
        } else {
          for (Index i = 0; i < MR; ++i) d[i] = i < rows ? src[i] : 0.0f;
        }
      }
    } else {
      if (rows < MR) {
        for (Index p = 0; p < kc; ++p) std::fill(dst + p * MR + rows, dst + (p + 1) * MR, 0.0f);
      }
      for (Index i = 0; i < rows; ++i) {
        const float* src = a.data + (i0 + ip + i) * a.ld + p0;
        for (Index p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
      }
    }
  }
}

// ---- B packed once, shared by threads -----------------------------------------------------

// B [K, N] in the layout of Kernel: for each slice of KC rows, ceil(N / NR) panels [kc][NR].
// With the portable kernel nothing is packed: the operand is kept as is.
template <class T>
class PackedB {
 public:
  PackedB(Index k, Index n, const GemmOperand<T>& b) : k_(k), n_(n), b_(b) {
    if constexpr (std::is_same_v<T, float>) {
#if defined(WARMSTART_NN_X86)
      isa_ = ActiveIsa();
      if (isa_ == Isa::kAvx512 && n_ <= 16) Pack<KernelAvx512<1>>();
      if (isa_ == Isa::kAvx512 && n_ > 16) Pack<KernelAvx512<2>>();
      if (isa_ == Isa::kAvx2) Pack<KernelAvx2>();
#endif
    }
  }
  PackedB(const PackedB&) = delete;
  PackedB& operator=(const PackedB&) = delete;
  // Requires: destroyed on the thread that made it (its buffer returns to that thread's list).

  Index k() const { return k_; }
  Index n() const { return n_; }
  Isa isa() const { return isa_; }
  const GemmOperand<T>& operand() const { return b_; }
  Index panel_width() const { return panel_width_; }
  // The panels of the slice that starts at row p0.
  const float* Slice(Index p0) const { return packed_ + p0 * padded_n_; }

 private:
  template <class Kernel>
  void Pack() {
    panel_width_ = Kernel::kNr;
    padded_n_ = (n_ + Kernel::kNr - 1) / Kernel::kNr * Kernel::kNr;
    storage_.emplace(static_cast<size_t>(k_ * padded_n_));
    packed_ = storage_->data();
    for (Index p0 = 0; p0 < k_; p0 += Kernel::kKc) {
      PackB<Kernel::kNr>(b_, p0, std::min(Kernel::kKc, k_ - p0), 0, n_, packed_ + p0 * padded_n_);
    }
  }

  Index k_ = 0, n_ = 0, padded_n_ = 0, panel_width_ = 0;
  GemmOperand<T> b_;
  Isa isa_ = Isa::kPortable;
  std::optional<ScratchBuffer> storage_;
  float* packed_ = nullptr;
};

// ---- the blocked loops ----------------------------------------------------------------------

// One MR x NR tile, clipped to rows x cols of C (edges go through a local tile).
template <class Kernel>
void RunTile(Index kc, const APanel& a, const BPanel& b, float* c, Index ldc, Index rows, Index cols,
             bool accumulate) {
  const auto run = [&](float* dst, Index ld, bool acc) {
    if (a.row_major) {
      Kernel::template Run<true>(kc, a.a, a.step, b.b, b.step, dst, ld, acc);
    } else {
      Kernel::template Run<false>(kc, a.a, a.step, b.b, b.step, dst, ld, acc);
    }
  };
  if (rows == Kernel::kMr && cols == Kernel::kNr) {
    run(c, ldc, accumulate);
    return;
  }
  alignas(64) float tile[Kernel::kMr * Kernel::kNr];
  run(tile, Kernel::kNr, false);
  for (Index i = 0; i < rows; ++i) {
    float* ci = c + i * ldc;
    const float* ti = tile + i * Kernel::kNr;
    for (Index j = 0; j < cols; ++j) ci[j] = accumulate ? ci[j] + ti[j] : ti[j];
  }
}

// C rows [0, m) (+)= A B. `b_panel(p0, kc, j)` gives the panel of B's slice at row p0 and
// column j. A is read in place (row-major or transposed) in panels of MR whole rows; a last
// partial panel is packed, zero-padded.
template <class Kernel, class BPanelFn>
void GemmLoops(Index m, Index n, Index k, const GemmOperand<float>& a, BPanelFn b_panel, float* c, Index ldc,
               bool accumulate) {
  constexpr Index MR = Kernel::kMr, NR = Kernel::kNr;
  const Index whole = m / MR * MR;
  std::optional<ScratchBuffer> a_buffer;
  if (whole < m) a_buffer.emplace(static_cast<size_t>(MR * Kernel::kKc));
  for (Index i0 = 0; i0 < m; i0 += Kernel::kMc) {
    const Index mc = std::min(Kernel::kMc, m - i0);
    for (Index p0 = 0; p0 < k; p0 += Kernel::kKc) {
      const Index kc = std::min(Kernel::kKc, k - p0);
      if (i0 + mc > whole) PackA<MR>(a, whole, m - whole, p0, kc, a_buffer->data());
      const bool acc = accumulate || p0 > 0;
      for (Index j = 0; j < n; j += NR) {
        const BPanel bp = b_panel(p0, kc, j);
        const Index cols = std::min(NR, n - j);
        for (Index i = i0; i < i0 + mc; i += MR) {
          APanel ap{a_buffer ? a_buffer->data() : nullptr, MR, false};
          if (i < whole) {
            ap = a.trans ? APanel{a.data + p0 * a.ld + i, a.ld, false} : APanel{a.data + i * a.ld + p0, a.ld, true};
          }
          RunTile<Kernel>(kc, ap, bp, c + i * ldc + j, ldc, std::min(MR, m - i), cols, acc);
        }
      }
    }
  }
}

// General B: a row-major B is read in place (only a partial last panel is packed, per slice);
// a transposed B is packed, NC columns and KC rows at a time, into this thread's scratch.
template <class Kernel>
void GemmUnpacked(Index m, Index n, Index k, const GemmOperand<float>& a, const GemmOperand<float>& b, float* c,
                  Index ldc, bool accumulate) {
  constexpr Index NR = Kernel::kNr;
  if (!b.trans) {
    const Index whole = n / NR * NR;
    std::optional<ScratchBuffer> edge;
    if (whole < n) edge.emplace(static_cast<size_t>(Kernel::kKc * NR));
    Index packed_slice = -1;
    GemmLoops<Kernel>(m, n, k, a, [&](Index p0, Index kc, Index j) {
      if (j < whole) return BPanel{b.data + p0 * b.ld + j, b.ld};
      if (packed_slice != p0) {
        PackB<NR>(b, p0, kc, whole, n - whole, edge->data());
        packed_slice = p0;
      }
      return BPanel{edge->data(), NR};
    }, c, ldc, accumulate);
    return;
  }
  const ScratchBuffer b_buffer(static_cast<size_t>(Kernel::kKc * Kernel::kNc));
  float* b_pack = b_buffer.data();
  for (Index j0 = 0; j0 < n; j0 += Kernel::kNc) {
    const Index nc = std::min(Kernel::kNc, n - j0);
    for (Index p0 = 0; p0 < k; p0 += Kernel::kKc) {
      const Index kc = std::min(Kernel::kKc, k - p0);
      PackB<NR>(b, p0, kc, j0, nc, b_pack);
      const GemmOperand<float> a_slice{a.trans ? a.data + p0 * a.ld : a.data + p0, a.ld, a.trans};
      GemmLoops<Kernel>(m, nc, kc, a_slice, [&](Index, Index, Index j) { return BPanel{b_pack + j * kc, NR}; },
                        c + j0, ldc, accumulate || p0 > 0);
    }
  }
}

// ---- Eigen fallback -------------------------------------------------------------------------

template <class T>
using GemmMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
                           Eigen::OuterStride<>>;

template <class T>
void GemmEigen(Index m, Index n, Index k, const GemmOperand<T>& a, const GemmOperand<T>& b, T* c, Index ldc,
               bool accumulate) {
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>> cm(
      c, m, n, Eigen::OuterStride<>(ldc));
  const auto run = [&](const auto& am, const auto& bm) {
    if (accumulate) {
      cm.noalias() += am * bm;
    } else {
      cm.noalias() = am * bm;
    }
  };
  const GemmMap<T> a_rows(a.data, a.trans ? k : m, a.trans ? m : k, Eigen::OuterStride<>(a.ld));
  const GemmMap<T> b_rows(b.data, b.trans ? n : k, b.trans ? k : n, Eigen::OuterStride<>(b.ld));
  if (!a.trans && !b.trans) run(a_rows, b_rows);
  if (!a.trans && b.trans) run(a_rows, b_rows.transpose());
  if (a.trans && !b.trans) run(a_rows.transpose(), b_rows);
  if (a.trans && b.trans) run(a_rows.transpose(), b_rows.transpose());
}

// ---- entry points -------------------------------------------------------------------------

// C [m, n] (+)= A [m, k] * B [k, n]. Requires: m, n, k >= 0; C does not overlap A or B.
template <class T>
void Gemm(Index m, Index n, Index k, const GemmOperand<T>& a, const GemmOperand<T>& b, T* c, Index ldc,
          bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (Index i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
#if defined(WARMSTART_NN_X86)
    switch (ActiveIsa()) {
      case Isa::kAvx512:
        if (n <= 16) return GemmUnpacked<KernelAvx512<1>>(m, n, k, a, b, c, ldc, accumulate);
        return GemmUnpacked<KernelAvx512<2>>(m, n, k, a, b, c, ldc, accumulate);
      case Isa::kAvx2: return GemmUnpacked<KernelAvx2>(m, n, k, a, b, c, ldc, accumulate);
      case Isa::kPortable: break;
    }
#endif
  }
  GemmEigen(m, n, k, a, b, c, ldc, accumulate);
}

// C [m, n] (+)= A [m, k] * B, B packed beforehand (shared by threads).
template <class T>
void Gemm(Index m, const GemmOperand<T>& a, const PackedB<T>& b, T* c, Index ldc, bool accumulate) {
  const Index n = b.n(), k = b.k();
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return Gemm(m, n, k, a, b.operand(), c, ldc, accumulate);
  if constexpr (std::is_same_v<T, float>) {
#if defined(WARMSTART_NN_X86)
    const auto panel = [&](Index p0, Index kc, Index j) { return BPanel{b.Slice(p0) + j * kc, b.panel_width()}; };
    switch (b.isa()) {
      case Isa::kAvx512:
        if (b.panel_width() == 16) return GemmLoops<KernelAvx512<1>>(m, n, k, a, panel, c, ldc, accumulate);
        return GemmLoops<KernelAvx512<2>>(m, n, k, a, panel, c, ldc, accumulate);
      case Isa::kAvx2: return GemmLoops<KernelAvx2>(m, n, k, a, panel, c, ldc, accumulate);
      case Isa::kPortable: break;
    }
#endif
  }
  GemmEigen(m, n, k, a, b.operand(), c, ldc, accumulate);
}

}  // namespace warmstart::nn::detail
