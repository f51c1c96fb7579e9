// Shared by the nn tests: seeded random tensors, comparisons, and a central-difference
// gradient check that perturbs any buffer (input or parameter) of any layer.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "warmstart/nn/tensor.hpp"

namespace nn_test {

using warmstart::nn::Index;
using warmstart::nn::Shape4;
using warmstart::nn::Tensor4;

template <class T>
Tensor4<T> Random4(const Shape4& s, std::mt19937& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  Tensor4<T> t(s[0], s[1], s[2], s[3]);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(dist(rng));
  return t;
}

template <class T>
void FillRandom(T* data, Index n, std::mt19937& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> dist(lo, hi);
  for (Index i = 0; i < n; ++i) data[i] = static_cast<T>(dist(rng));
}

// max |a - b| / max(1, max |b|): relative to the tensor's scale, not per element.
template <class T>
double MaxDiff(const T* a, const T* b, Index n) {
  double diff = 0, scale = 1;
  for (Index i = 0; i < n; ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

template <class T>
double MaxDiff(const Tensor4<T>& a, const Tensor4<T>& b) {
  if (warmstart::nn::ShapeOf(a) != warmstart::nn::ShapeOf(b)) return 1e30;
  return MaxDiff(a.data(), b.data(), a.size());
}

// sum(y * r): a scalar loss whose gradient with respect to y is r.
inline double Dot(const Tensor4<double>& y, const Tensor4<double>& r) {
  double s = 0;
  for (Index i = 0; i < y.size(); ++i) s += y.data()[i] * r.data()[i];
  return s;
}

// Central differences of loss() with respect to buffer[0..n), compared with analytic[0..n).
// Returns ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-12).
inline double GradientError(double* buffer, Index n, const double* analytic, const std::function<double()>& loss,
                            double h = 1e-5) {
  double diff2 = 0, a2 = 0, n2 = 0;
  for (Index i = 0; i < n; ++i) {
    const double saved = buffer[i];
    buffer[i] = saved + h;
    const double plus = loss();
    buffer[i] = saved - h;
    const double minus = loss();
    buffer[i] = saved;
    const double numeric = (plus - minus) / (2 * h);
    diff2 += (analytic[i] - numeric) * (analytic[i] - numeric);
    a2 += analytic[i] * analytic[i];
    n2 += numeric * numeric;
  }
  return std::sqrt(diff2) / std::max({std::sqrt(a2), std::sqrt(n2), 1e-12});
}

}  // namespace nn_test
