// Slow, obvious reference implementations of the nn layers: nested loops straight from the
// definitions, one output element at a time, no threads, no blocking. The fast layers are
// tested against these (tests/nn/); do not optimise them.
//
// Shapes as in the layers: x [N, H, W, C], conv kernel [KH, KW, C, O], depthwise kernel
// [KH, KW, C, M], output channel of depthwise (c, m) is c*M + m. Padding via MakeWindow.
#pragma once

#include <cmath>

#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn::reference {

template <class T>
struct ConvGradients {
  Tensor4<T> dx;
  Tensor4<T> dw;
};

// Input row/column for output position o and tap k, or -1 in the padding.
inline Index InputIndex(const WindowAxis& a, Index stride, Index o, Index k) {
  const Index i = o * stride - a.pad_before + k;
  return i >= 0 && i < a.in ? i : -1;
}

template <class T>
Tensor4<T> Conv2D(const Tensor4<T>& x, const Tensor4<T>& w, Index stride_h, Index stride_w, Padding padding) {
  const Window win = MakeWindow(ShapeOf(x), w.dimension(0), w.dimension(1), stride_h, stride_w, padding, "reference");
  Tensor4<T> y = Zeros4<T>({win.n, win.h.out, win.w.out, w.dimension(3)});
  for (Index n = 0; n < win.n; ++n)
    for (Index oy = 0; oy < win.h.out; ++oy)
      for (Index ox = 0; ox < win.w.out; ++ox)
        for (Index o = 0; o < w.dimension(3); ++o) {
          T sum = 0;
          for (Index ky = 0; ky < win.kh; ++ky)
            for (Index kx = 0; kx < win.kw; ++kx) {
              const Index iy = InputIndex(win.h, stride_h, oy, ky), ix = InputIndex(win.w, stride_w, ox, kx);
              if (iy < 0 || ix < 0) continue;
              for (Index c = 0; c < x.dimension(3); ++c) sum += x(n, iy, ix, c) * w(ky, kx, c, o);
            }
          y(n, oy, ox, o) = sum;
        }
  return y;
}

template <class T>
ConvGradients<T> Conv2DBackward(const Tensor4<T>& x, const Tensor4<T>& w, const Tensor4<T>& dy, Index stride_h,
                                Index stride_w, Padding padding) {
  const Window win = MakeWindow(ShapeOf(x), w.dimension(0), w.dimension(1), stride_h, stride_w, padding, "reference");
  ConvGradients<T> g{Zeros4<T>(ShapeOf(x)), Zeros4<T>(ShapeOf(w))};
  for (Index n = 0; n < win.n; ++n)
    for (Index oy = 0; oy < win.h.out; ++oy)
      for (Index ox = 0; ox < win.w.out; ++ox)
        for (Index o = 0; o < w.dimension(3); ++o)
          for (Index ky = 0; ky < win.kh; ++ky)
            for (Index kx = 0; kx < win.kw; ++kx) {
              const Index iy = InputIndex(win.h, stride_h, oy, ky), ix = InputIndex(win.w, stride_w, ox, kx);
              if (iy < 0 || ix < 0) continue;
              for (Index c = 0; c < x.dimension(3); ++c) {
                g.dx(n, iy, ix, c) += dy(n, oy, ox, o) * w(ky, kx, c, o);
                g.dw(ky, kx, c, o) += dy(n, oy, ox, o) * x(n, iy, ix, c);
              }
            }
  return g;
}

template <class T>
Tensor4<T> DepthwiseConv2D(const Tensor4<T>& x, const Tensor4<T>& w, Index stride_h, Index stride_w,
                           Padding padding) {
  const Window win = MakeWindow(ShapeOf(x), w.dimension(0), w.dimension(1), stride_h, stride_w, padding, "reference");
  const Index channels = x.dimension(3), mult = w.dimension(3);
  Tensor4<T> y = Zeros4<T>({win.n, win.h.out, win.w.out, channels * mult});
  for (Index n = 0; n < win.n; ++n)
    for (Index oy = 0; oy < win.h.out; ++oy)
      for (Index ox = 0; ox < win.w.out; ++ox)
        for (Index c = 0; c < channels; ++c)
          for (Index m = 0; m < mult; ++m) {
            T sum = 0;
            for (Index ky = 0; ky < win.kh; ++ky)
              for (Index kx = 0; kx < win.kw; ++kx) {
                const Index iy = InputIndex(win.h, stride_h, oy, ky), ix = InputIndex(win.w, stride_w, ox, kx);
                if (iy >= 0 && ix >= 0) sum += x(n, iy, ix, c) * w(ky, kx, c, m);
              }
            y(n, oy, ox, c * mult + m) = sum;
          }
  return y;
}

template <class T>
ConvGradients<T> DepthwiseConv2DBackward(const Tensor4<T>& x, const Tensor4<T>& w, const Tensor4<T>& dy,
                                         Index stride_h, Index stride_w, Padding padding) {
  const Window win = MakeWindow(ShapeOf(x), w.dimension(0), w.dimension(1), stride_h, stride_w, padding, "reference");
  const Index channels = x.dimension(3), mult = w.dimension(3);
  ConvGradients<T> g{Zeros4<T>(ShapeOf(x)), Zeros4<T>(ShapeOf(w))};
  for (Index n = 0; n < win.n; ++n)
    for (Index oy = 0; oy < win.h.out; ++oy)
      for (Index ox = 0; ox < win.w.out; ++ox)
        for (Index c = 0; c < channels; ++c)
          for (Index m = 0; m < mult; ++m)
            for (Index ky = 0; ky < win.kh; ++ky)
              for (Index kx = 0; kx < win.kw; ++kx) {
                const Index iy = InputIndex(win.h, stride_h, oy, ky), ix = InputIndex(win.w, stride_w, ox, kx);
                if (iy < 0 || ix < 0) continue;
                const T g_out = dy(n, oy, ox, c * mult + m);
                g.dx(n, iy, ix, c) += g_out * w(ky, kx, c, m);
                g.dw(ky, kx, c, m) += g_out * x(n, iy, ix, c);
              }
  return g;
}

// Training-mode batch norm: statistics over N, H, W; biased variance. gamma/beta of size C.
template <class T>
Tensor4<T> BatchNormTraining(const Tensor4<T>& x, const Tensor1<T>& gamma, const Tensor1<T>& beta, T epsilon,
                             Tensor1<T>* mean_out = nullptr, Tensor1<T>* variance_out = nullptr) {
  const Index channels = x.dimension(3);
  const Index rows = x.size() / channels;
  Tensor4<T> y(x.dimensions());
  Tensor1<T> means(channels), variances(channels);
  for (Index c = 0; c < channels; ++c) {
    T mean = 0, var = 0;
    for (Index r = 0; r < rows; ++r) mean += x.data()[r * channels + c];
    mean /= static_cast<T>(rows);
    for (Index r = 0; r < rows; ++r) var += (x.data()[r * channels + c] - mean) * (x.data()[r * channels + c] - mean);
    var /= static_cast<T>(rows);
    for (Index r = 0; r < rows; ++r) {
      y.data()[r * channels + c] = gamma(c) * (x.data()[r * channels + c] - mean) / std::sqrt(var + epsilon) + beta(c);
    }
    means(c) = mean;
    variances(c) = var;
  }
  if (mean_out) *mean_out = means;
  if (variance_out) *variance_out = variances;
  return y;
}

}  // namespace warmstart::nn::reference
