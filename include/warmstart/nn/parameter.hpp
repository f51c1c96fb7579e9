// Parameters: the model's variables, each named exactly like the TensorFlow variable it mirrors.
//
// A Parameter is a flat buffer plus a shape (rank 1 for biases and batch-norm vectors, rank 4
// for kernels), viewed as a RowMajor TensorMap when a layer needs indices. Storage is flat so
// that one type serves every rank and a checkpoint tensor (RowMajor bytes) copies in directly.
//
//   name       "FeatureExtractor/MobilenetV1/Conv2d_0/weights" (the op name, no ":0")
//   trainable  true for what TF puts in TRAINABLE_VARIABLES (weights, biases, gamma, beta);
//              false for state (moving_mean, moving_variance), which has no gradient buffer
//
// Freezing (restore/ freeze patterns) is the optimizer's business and keys on the name; a
// frozen parameter stays trainable here, as it does in TF's variable list.
//
// A ParameterList collects non-owning pointers from the layers (which own their parameters) in
// model order, refuses duplicate names, and lists (name, dtype, shape, trainable) — the model's
// variable list for the restore policy and for BundleWriter.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/error.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

template <class T>
struct Parameter {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;

  std::string name;
  std::vector<Index> shape;
  Array value;
  Array gradient;  // empty when !trainable
  bool trainable = true;

  Parameter() = default;
  Parameter(std::string n, std::vector<Index> s, bool is_trainable)
      : name(std::move(n)), shape(std::move(s)), trainable(is_trainable) {
    value = Array::Zero(NumElements());
    if (trainable) gradient = Array::Zero(NumElements());
  }

  Index NumElements() const {
    Index n = 1;
    for (Index d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }

  void ZeroGradient() {
    if (trainable) gradient.setZero();
  }

  // RowMajor views. Requires: rank() matches.
  Eigen::TensorMap<Tensor1<T>> Value1() { return View1(value); }
  Eigen::TensorMap<const Tensor1<T>> Value1() const { return View1(value); }
  Eigen::TensorMap<Tensor1<T>> Gradient1() { return View1(gradient); }
  Eigen::TensorMap<Tensor4<T>> Value4() { return View4(value); }
  Eigen::TensorMap<const Tensor4<T>> Value4() const { return View4(value); }
  Eigen::TensorMap<Tensor4<T>> Gradient4() { return View4(gradient); }

  // Copies a tensor in (restore); the shape must match exactly.
  void Assign(const T* data, const std::vector<Index>& data_shape) {
    if (data_shape != shape) {
      throw ArgumentError("parameter '" + name + "': cannot assign shape " + ShapeList(data_shape) +
                          " to shape " + ShapeList(shape));
    }
    value = Eigen::Map<const Array>(data, NumElements());
  }

  static std::string ShapeList(const std::vector<Index>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

 private:
  void CheckRank(int r) const {
    if (rank() != r) {
      throw ArgumentError("parameter '" + name + "': viewed as rank " + std::to_string(r) + " but has shape " +
                          ShapeList(shape));
    }
  }
  Eigen::TensorMap<Tensor1<T>> View1(Array& a) {
    CheckRank(1);
    return Eigen::TensorMap<Tensor1<T>>(a.data(), shape[0]);
  }
  Eigen::TensorMap<const Tensor1<T>> View1(const Array& a) const {
    CheckRank(1);
    return Eigen::TensorMap<const Tensor1<T>>(a.data(), shape[0]);
  }
  Eigen::TensorMap<Tensor4<T>> View4(Array& a) {
    CheckRank(4);
    return Eigen::TensorMap<Tensor4<T>>(a.data(), shape[0], shape[1], shape[2], shape[3]);
  }
  Eigen::TensorMap<const Tensor4<T>> View4(const Array& a) const {
    CheckRank(4);
    return Eigen::TensorMap<const Tensor4<T>>(a.data(), shape[0], shape[1], shape[2], shape[3]);
  }
};

template <class T>
Parameter<T> MakeTrainable(std::string name, std::vector<Index> shape) {
  return Parameter<T>(std::move(name), std::move(shape), true);
}

// Non-trainable state (moving statistics): a variable in the checkpoint, never in a gradient.
template <class T>
Parameter<T> MakeState(std::string name, std::vector<Index> shape) {
  return Parameter<T>(std::move(name), std::move(shape), false);
}

// What a model reports about one variable: enough for restore::ModelVariable and BundleWriter.
struct VariableInfo {
  std::string name;
  bundle::DataType dtype = bundle::DataType::kFloat;
  std::vector<int64_t> shape;
  bool trainable = true;
};

template <class T>
class ParameterList {
 public:
  // Requires: p outlives the list. Throws ArgumentError on a name already listed.
  void Add(Parameter<T>* p) {
    if (!index_.emplace(p->name, params_.size()).second) {
      throw ArgumentError("parameter list: duplicate variable name '" + p->name + "'");
    }
    params_.push_back(p);
  }

  size_t size() const { return params_.size(); }
  const std::vector<Parameter<T>*>& all() const { return params_; }

  // nullptr when absent.
  Parameter<T>* Find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : params_[it->second];
  }

  Parameter<T>& Get(const std::string& name) const {
    Parameter<T>* p = Find(name);
    if (p == nullptr) throw NotFoundError(ErrorContext(), "parameter list: no variable named '" + name + "'");
    return *p;
  }

  std::vector<Parameter<T>*> Trainable() const {
    std::vector<Parameter<T>*> out;
    for (Parameter<T>* p : params_) {
      if (p->trainable) out.push_back(p);
    }
    return out;
  }

  void ZeroGradients() const {
    for (Parameter<T>* p : params_) p->ZeroGradient();
  }

  std::vector<VariableInfo> Infos() const {
    std::vector<VariableInfo> out;
    out.reserve(params_.size());
    for (const Parameter<T>* p : params_) {
      out.push_back({p->name, bundle::DataTypeOf<T>::value, std::vector<int64_t>(p->shape.begin(), p->shape.end()),
                     p->trainable});
    }
    return out;
  }

 private:
  std::vector<Parameter<T>*> params_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace warmstart::nn
