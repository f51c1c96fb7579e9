// Element-wise layers: ReLU6, Identity, and BiasAdd (tf.nn.bias_add over the channel axis).
//
//   ReLU6     y = min(max(x, 0), 6); dx = dy where 0 < x < 6, else 0 (TF's Relu6Grad: the
//             kinks at 0 and 6 get no gradient)
//   Identity  y = x; dx = dy (slim's activation_fn=None, kept as a layer so models are uniform)
//   BiasAdd   y = x + b[c]; dx = dy, db += sum over N, H, W of dy   (`<scope>/biases` [C])
//
// ReLU6 keeps a pointer to x for Backward: x must stay alive and unchanged until then.
#pragma once

#include <string>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

template <class T>
class ReLU6 {
 public:
  Tensor4<T> Forward(const Context& ctx, const Tensor4<T>& x) {
    Tensor4<T> y = detail::NewTensor4<T>(ShapeOf(x));
    detail::ParallelForWork(ctx, x.size(), 1, [&](int, Index begin, Index end) {
      detail::VectorMap<T>(y.data() + begin, end - begin) =
          detail::ConstVectorMap<T>(x.data() + begin, end - begin).max(T(0)).min(T(6));
    });
    input_.Save(x);
    return y;
  }

  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy) {
    const Tensor4<T>& x = input_.Get("ReLU6");
    CheckShape(dy, ShapeOf(x), "ReLU6: dy");
    Tensor4<T> dx = detail::NewTensor4<T>(ShapeOf(x));
    detail::ParallelForWork(ctx, x.size(), 1, [&](int, Index begin, Index end) {
      detail::MaskBetween(x.data() + begin, dy.data() + begin, dx.data() + begin, end - begin, T(0), T(6));
    });
    return dx;
  }

 private:
  detail::InputCache<T> input_;
};

template <class T>
class Identity {
 public:
  Tensor4<T> Forward(const Context&, const Tensor4<T>& x) { return x; }
  Tensor4<T> Backward(const Context&, const Tensor4<T>& dy) { return dy; }
};

template <class T>
class BiasAdd {
 public:
  BiasAdd(const std::string& scope, Index channels) {
    if (channels < 1) {
      throw ArgumentError("BiasAdd '" + scope + "': channels must be >= 1, found " + std::to_string(channels));
    }
    biases_ = MakeTrainable<T>(scope + "/biases", {channels});
  }

  Parameter<T>& biases() { return biases_; }
  void CollectParameters(ParameterList<T>& list) { list.Add(&biases_); }

  Tensor4<T> Forward(const Context& ctx, const Tensor4<T>& x) {
    const Index c = biases_.shape[0];
    CheckChannels(x, c, What() + ": input");
    Tensor4<T> y = detail::NewTensor4<T>(ShapeOf(x));
    detail::ParallelForWork(ctx, x.size() / c, c, [&](int, Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        detail::VectorMap<T>(y.data() + i * c, c) = detail::ConstVectorMap<T>(x.data() + i * c, c) + biases_.value;
      }
    });
    return y;
  }

  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy) {
    const Index c = biases_.shape[0];
    CheckChannels(dy, c, What() + ": dy");
    biases_.gradient += detail::ColumnSums(ctx, dy.data(), dy.size() / c, c);
    return dy;
  }

 private:
  std::string What() const { return "BiasAdd '" + biases_.name + "'"; }

  Parameter<T> biases_;
};

}  // namespace warmstart::nn
