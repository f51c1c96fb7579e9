// Helpers shared by the nn layers: RowMajor Eigen views of raw buffers, per-thread column
// sums, and the input a Forward remembers for its Backward.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

namespace detail {

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

// Sum over rows of a [rows, cols] RowMajor block, split over threads, partials added in order.
template <class T>
Eigen::Array<T, Eigen::Dynamic, 1> ColumnSums(const Context& ctx, const T* data, Index rows, Index cols) {
  std::vector<Eigen::Array<T, Eigen::Dynamic, 1>> partial(ctx.Ranges(rows));
  ctx.ParallelFor(rows, [&](int r, Index begin, Index end) {
    partial[r] = ConstMatrixMap<T>(data + begin * cols, end - begin, cols).colwise().sum().transpose().array();
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
