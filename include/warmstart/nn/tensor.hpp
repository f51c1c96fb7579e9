// Tensors of the nn layers and the geometry of a 2-D window (convolution, depthwise).
//
// Layouts are TensorFlow's, stored RowMajor so that memory order equals TF's and a checkpoint
// tensor can be copied in as bytes:
//   activations  NHWC   [N, H, W, C]     N batch, H rows, W columns, C channels (fastest)
//   conv kernel  HWIO   [KH, KW, C, O]   O output channels fastest
//   depthwise    HWCM   [KH, KW, C, M]   output channel of (c, m) is c * M + m
//   vectors      [C]
//
// SAME padding follows tensorflow/core/framework/kernel_shape_util.cc (GetWindowedOutputSize):
//   out        = ceil(in / stride)
//   pad_total  = max((out - 1) * stride + k - in, 0)
//   pad_before = pad_total / 2       (the odd pixel goes after: bottom / right)
// VALID: out = ceil((in - k + 1) / stride), no padding.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include <unsupported/Eigen/CXX11/Tensor>

#include "warmstart/error.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace warmstart::nn {

using Index = Eigen::Index;

template <class T>
using Tensor4 = Eigen::Tensor<T, 4, Eigen::RowMajor>;
template <class T>
using Tensor1 = Eigen::Tensor<T, 1, Eigen::RowMajor>;

using Shape4 = std::array<Index, 4>;

inline std::string ShapeString(const Shape4& s) {
  return "[" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) + ", " +
         std::to_string(s[3]) + "]";
}

template <class T>
Shape4 ShapeOf(const Tensor4<T>& t) {
  return {t.dimension(0), t.dimension(1), t.dimension(2), t.dimension(3)};
}

namespace detail {

// A large tensor is usually fresh memory (glibc maps blocks above 32 MiB, and trims the heap), so
// its first write takes one page fault per 4 KiB: ~150 ms for the 46 MiB of an activation of
// SSD MobileNet at 300x300, batch 8, on a VM, where writing it takes 2 ms. Asking for 2 MiB pages
// (transparent huge pages in "madvise" mode, the usual default) makes that ~10x cheaper. Only a
// hint: the whole 2 MiB pages inside the block are advised, errors are ignored.
inline void AdviseHugePages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  if (bytes < 2 * kHugePage) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

// An uninitialised tensor for a layer to fill.
template <class T>
Tensor4<T> NewTensor4(Index n, Index h, Index w, Index c) {
  Tensor4<T> t(n, h, w, c);
  AdviseHugePages(t.data(), static_cast<size_t>(t.size()) * sizeof(T));
  return t;
}

template <class T>
Tensor4<T> NewTensor4(const Shape4& s) {
  return NewTensor4<T>(s[0], s[1], s[2], s[3]);
}

}  // namespace detail

template <class T>
Tensor4<T> Zeros4(const Shape4& s) {
  Tensor4<T> t = detail::NewTensor4<T>(s);
  t.setZero();
  return t;
}

template <class T>
Tensor4<T> Filled4(const Shape4& s, T value) {
  Tensor4<T> t = detail::NewTensor4<T>(s);
  t.setConstant(value);
  return t;
}

template <class T>
Tensor1<T> Zeros1(Index n) {
  Tensor1<T> t(n);
  t.setZero();
  return t;
}

// `what` names the tensor in the message: "Conv2D 'Conv2d_1': input".
template <class T>
void CheckShape(const Tensor4<T>& t, const Shape4& expected, const std::string& what) {
  if (ShapeOf(t) != expected) {
    throw ArgumentError(what + ": expected shape " + ShapeString(expected) + ", found " + ShapeString(ShapeOf(t)));
  }
}

template <class T>
void CheckChannels(const Tensor4<T>& t, Index channels, const std::string& what) {
  if (t.dimension(3) != channels) {
    throw ArgumentError(what + ": expected " + std::to_string(channels) + " channels (NHWC dimension 3), found shape " +
                        ShapeString(ShapeOf(t)));
  }
}

enum class Padding { kSame, kValid };

inline const char* PaddingName(Padding p) { return p == Padding::kSame ? "SAME" : "VALID"; }

inline Padding ParsePadding(const std::string& s) {
  if (s == "SAME") return Padding::kSame;
  if (s == "VALID") return Padding::kValid;
  throw ArgumentError("padding: expected \"SAME\" or \"VALID\", found \"" + s + "\"");
}

// One spatial axis of a window: output size and the padding before it.
struct WindowAxis {
  Index in = 0;
  Index out = 0;
  Index pad_before = 0;
  Index pad_after = 0;
};

// Requires: in >= 1, k >= 1, stride >= 1.
inline WindowAxis MakeWindowAxis(Index in, Index k, Index stride, Padding padding) {
  WindowAxis a;
  a.in = in;
  if (padding == Padding::kSame) {
    a.out = (in + stride - 1) / stride;
    const Index pad_total = std::max<Index>((a.out - 1) * stride + k - in, 0);
    a.pad_before = pad_total / 2;
    a.pad_after = pad_total - a.pad_before;
  } else {
    a.out = in >= k ? (in - k) / stride + 1 : 0;
  }
  return a;
}

// The geometry a convolution-like layer computes once per input shape.
struct Window {
  Index n = 0;
  Index kh = 0, kw = 0;
  Index stride_h = 1, stride_w = 1;
  WindowAxis h, w;

  Index out_pixels() const { return n * h.out * w.out; }
};

// `what` prefixes errors. Throws ArgumentError when the window does not fit (VALID, k > in).
inline Window MakeWindow(const Shape4& input, Index kh, Index kw, Index stride_h, Index stride_w, Padding padding,
                         const std::string& what) {
  if (input[0] < 1 || input[1] < 1 || input[2] < 1 || input[3] < 1) {
    throw ArgumentError(what + ": input shape " + ShapeString(input) + " has an empty dimension");
  }
  Window win;
  win.n = input[0];
  win.kh = kh;
  win.kw = kw;
  win.stride_h = stride_h;
  win.stride_w = stride_w;
  win.h = MakeWindowAxis(input[1], kh, stride_h, padding);
  win.w = MakeWindowAxis(input[2], kw, stride_w, padding);
  if (win.h.out < 1 || win.w.out < 1) {
    throw ArgumentError(what + ": a " + std::to_string(kh) + "x" + std::to_string(kw) +
                        " VALID window does not fit input " + ShapeString(input));
  }
  return win;
}

}  // namespace warmstart::nn
