// The TF1 optimizers the Object Detection API builds, the gradient edits its trainers make before
// applying them, and the moving average of the trained variables.
//
// Mirrors
//   research/object_detection/builders/optimizer_builder.py  build_optimizers_tf_v1: which
//       optimizer, with which config fields; MovingAverageOptimizer when use_moving_average
//   tensorflow/python/training/rmsprop.py, momentum.py, adam.py  slots, their initial values and
//       names, Adam's beta1_power/beta2_power
//   tensorflow/core/kernels/training_ops.cc  ApplyRMSProp, ApplyMomentum, ApplyAdam (CPU functors)
//   tensorflow/python/ops/clip_ops.py  clip_by_norm, clip_by_global_norm
//   research/object_detection/legacy/trainer.py, utils/variables_helper.py, and slim learning.py
//       (clip_gradient_norms, multiply_gradients)  the legacy gradient edits
//   tensorflow/python/training/moving_averages.py  ExponentialMovingAverage
//
// Each update, written in TF's order and evaluated in T (float32 as TF runs it), with g the gradient
// and lr the schedule's value at the global step (learning_rate.hpp):
//
//   RMSProp   ms  += (g*g - ms) * (1 - decay)                 ms starts at ONES (TF1), not zeros
//             mom  = mom * momentum + (g * lr) / sqrt(ms + epsilon)     (epsilon inside the sqrt)
//             var -= mom
//   Momentum  accum = accum * momentum + g;  var -= accum * lr           (use_nesterov = false)
//   Adam      alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
//             m += (g - m) * (1 - beta1);  v += (g*g - v) * (1 - beta2)
//             var -= (m * alpha) / (sqrt(v) + epsilon)
//             after every variable: beta1_power *= beta1, beta2_power *= beta2 (they start at beta)
//
// Slot variables carry TF1's names, so a training checkpoint (BundleWriter) saves them and a resumed
// run restores them by name:
//   RMSProp   <var>/RMSProp (ms), <var>/RMSProp_1 (mom)
//   Momentum  <var>/Momentum
//   Adam      <var>/Adam (m), <var>/Adam_1 (v), and the scalars beta1_power, beta2_power
//   EMA       <var>/ExponentialMovingAverage
//
// Which gradient edits run where (train_config):
//   legacy/trainer.py (slim, TF1)   bias_grad_multiplier on '.*/biases' (MultiplyBiasGradients), then
//                                   freeze_variables, then per-tensor clip_by_norm (ClipGradientNorms)
//   model_lib.py (Estimator, TF1)   freeze by filtering the variable list; clip_by_global_norm
//                                   (tf.contrib.layers.optimize_loss); bias_grad_multiplier ignored
//   model_lib_v2.py (TF2)           clip_by_global_norm (ClipByGlobalNorm); bias_grad_multiplier ignored
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/error.hpp"
#include "warmstart/nn/parameter.hpp"

namespace warmstart::train {

using nn::Index;

// One variable an optimizer (or the moving average) owns, named like TF's.
template <class T>
struct SlotVariable {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  std::string name;          // "<var>/RMSProp", "beta1_power", ...
  std::vector<Index> shape;  // the primary variable's shape; {} for beta1_power and beta2_power
  Array value;

  // Restore from a checkpoint tensor; the shape must match exactly.
  void Assign(const T* data, const std::vector<Index>& data_shape) {
    if (data_shape != shape) {
      throw ArgumentError("slot variable '" + name + "': cannot assign shape " +
                          nn::Parameter<T>::ShapeList(data_shape) + " to shape " + nn::Parameter<T>::ShapeList(shape));
    }
    value = Eigen::Map<const Array>(data, value.size());
  }
};

namespace detail {

// Slots in creation order with a name index; indices stay valid as the list grows.
template <class T>
class SlotStore {
 public:
  size_t Add(std::string name, std::vector<Index> shape, Index size, T initial) {
    if (index_.count(name) != 0) throw ArgumentError("optimizer: variable '" + name + "' already exists");
    index_.emplace(name, slots_.size());
    slots_.push_back({std::move(name), std::move(shape), SlotVariable<T>::Array::Constant(size, initial)});
    return slots_.size() - 1;
  }
  SlotVariable<T>& operator[](size_t i) { return slots_[i]; }
  const std::vector<SlotVariable<T>>& all() const { return slots_; }
  std::vector<SlotVariable<T>>& all() { return slots_; }
  SlotVariable<T>* Find(const std::string& name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &slots_[it->second];
  }

 private:
  std::vector<SlotVariable<T>> slots_;
  std::unordered_map<std::string, size_t> index_;
};

template <class T>
void CheckGradient(const nn::Parameter<T>& p) {
  if (!p.trainable || p.gradient.size() != p.value.size()) {
    throw ArgumentError("optimizer: variable '" + p.name + "' has no gradient of its size (not trainable?)");
  }
}

}  // namespace detail

// ---- optimizers -----------------------------------------------------------------------------

enum class OptimizerKind { kRmsProp, kMomentum, kAdam };

// The hyperparameters tf.train.<X>Optimizer receives from optimizer_builder.build_optimizers_tf_v1.
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kMomentum;
  float momentum = 0.9f;  // rms_prop and momentum: momentum_optimizer_value
  float decay = 0.9f;     // rms_prop: decay (rho)
  float epsilon = 1.0f;   // rms_prop: epsilon (1.0); adam: epsilon (1e-8)
  float beta1 = 0.9f;     // adam: tf.train.AdamOptimizer defaults, not in the config
  float beta2 = 0.999f;

  // Throws ArgumentError "Optimizer None not supported." when the config names no optimizer.
  static OptimizerOptions FromConfig(const config::Optimizer& c) {
    OptimizerOptions o;
    switch (c.kind) {
      case config::Optimizer::Kind::kRmsProp:
        o.kind = OptimizerKind::kRmsProp;
        o.momentum = c.momentum_optimizer_value;
        o.decay = c.decay;
        o.epsilon = c.epsilon;
        return o;
      case config::Optimizer::Kind::kMomentum:
        o.kind = OptimizerKind::kMomentum;
        o.momentum = c.momentum_optimizer_value;
        return o;
      case config::Optimizer::Kind::kAdam:
        o.kind = OptimizerKind::kAdam;
        o.epsilon = c.epsilon;
        return o;
      case config::Optimizer::Kind::kNone:
        break;
    }
    throw ArgumentError("Optimizer None not supported.");
  }
};

// tf.train.{RMSProp,Momentum,Adam}Optimizer on a list of Parameters. Track the variables to train
// (trainable, not frozen), then ApplyGradients once per step with the schedule's rate.
template <class T>
class Optimizer {
 public:
  explicit Optimizer(OptimizerOptions options) : options_(options) {
    if (options_.kind == OptimizerKind::kAdam) {
      // Non-slot variables, created before the first slot as Adam._create_slots does.
      beta1_power_ = slots_.Add("beta1_power", {}, 1, static_cast<T>(options_.beta1));
      beta2_power_ = slots_.Add("beta2_power", {}, 1, static_cast<T>(options_.beta2));
    }
  }

  static Optimizer FromConfig(const config::Optimizer& c) { return Optimizer(OptimizerOptions::FromConfig(c)); }

  const OptimizerOptions& options() const { return options_; }
  // TF's optimizer name, the suffix of its slot variables.
  const char* name() const {
    switch (options_.kind) {
      case OptimizerKind::kRmsProp: return "RMSProp";
      case OptimizerKind::kMomentum: return "Momentum";
      case OptimizerKind::kAdam: return "Adam";
    }
    return "";
  }

  // Creates p's slots. Requires: p outlives the optimizer. Throws ArgumentError when p is not
  // trainable or already tracked.
  void Track(nn::Parameter<T>* p) {
    detail::CheckGradient(*p);
    const std::string base = p->name + "/" + name();
    const Index n = p->NumElements();
    Tracked t{p, 0, 0};
    switch (options_.kind) {
      case OptimizerKind::kRmsProp:
        t.slot0 = slots_.Add(base, p->shape, n, T(1));       // ms ("rms"): ones in TF1
        t.slot1 = slots_.Add(base + "_1", p->shape, n, T(0));  // mom ("momentum")
        break;
      case OptimizerKind::kMomentum:
        t.slot0 = slots_.Add(base, p->shape, n, T(0));  // accum ("momentum")
        break;
      case OptimizerKind::kAdam:
        t.slot0 = slots_.Add(base, p->shape, n, T(0));         // m
        t.slot1 = slots_.Add(base + "_1", p->shape, n, T(0));  // v
        break;
    }
    tracked_.push_back(t);
  }
  void Track(const std::vector<nn::Parameter<T>*>& params) {
    for (nn::Parameter<T>* p : params) Track(p);
  }

  // One apply_gradients: every tracked variable steps with its gradient, then Adam's beta powers
  // advance. Requires: gradients of the tracked parameters' sizes.
  void ApplyGradients(T learning_rate) {
    for (const Tracked& t : tracked_) {
      detail::CheckGradient(*t.param);
      switch (options_.kind) {
        case OptimizerKind::kRmsProp: ApplyRmsProp(t, learning_rate); break;
        case OptimizerKind::kMomentum: ApplyMomentum(t, learning_rate); break;
        case OptimizerKind::kAdam: ApplyAdam(t, learning_rate); break;
      }
    }
    if (options_.kind == OptimizerKind::kAdam) {
      slots_[beta1_power_].value *= static_cast<T>(options_.beta1);
      slots_[beta2_power_].value *= static_cast<T>(options_.beta2);
    }
  }

  // Every variable the optimizer owns, in creation order: what a training checkpoint adds.
  const std::vector<SlotVariable<T>>& Variables() const { return slots_.all(); }
  std::vector<SlotVariable<T>>& Variables() { return slots_.all(); }
  // nullptr when absent.
  SlotVariable<T>* Find(const std::string& var_name) { return slots_.Find(var_name); }
  size_t num_tracked() const { return tracked_.size(); }

 private:
  struct Tracked {
    nn::Parameter<T>* param;
    size_t slot0;
    size_t slot1;
  };

  void ApplyRmsProp(const Tracked& t, T lr) {
    auto& var = t.param->value;
    const auto& grad = t.param->gradient;
    auto& ms = slots_[t.slot0].value;
    auto& mom = slots_[t.slot1].value;
    const T rho = static_cast<T>(options_.decay);
    ms += (grad.square() - ms) * (static_cast<T>(1) - rho);
    mom = mom * static_cast<T>(options_.momentum) + (grad * lr) / (ms + static_cast<T>(options_.epsilon)).sqrt();
    var -= mom;
  }

  void ApplyMomentum(const Tracked& t, T lr) {
    auto& accum = slots_[t.slot0].value;
    accum = accum * static_cast<T>(options_.momentum) + t.param->gradient;
    t.param->value -= accum * lr;
  }

  void ApplyAdam(const Tracked& t, T lr) {
    const T beta1 = static_cast<T>(options_.beta1);
    const T beta2 = static_cast<T>(options_.beta2);
    const T beta1_power = slots_[beta1_power_].value(0);
    const T beta2_power = slots_[beta2_power_].value(0);
    const T alpha = lr * std::sqrt(T(1) - beta2_power) / (T(1) - beta1_power);
    const auto& grad = t.param->gradient;
    auto& m = slots_[t.slot0].value;
    auto& v = slots_[t.slot1].value;
    m += (grad - m) * (T(1) - beta1);
    v += (grad.square() - v) * (T(1) - beta2);
    t.param->value -= (m * alpha) / (v.sqrt() + static_cast<T>(options_.epsilon));
  }

  OptimizerOptions options_;
  detail::SlotStore<T> slots_;
  std::vector<Tracked> tracked_;
  size_t beta1_power_ = 0;
  size_t beta2_power_ = 0;
};

// ---- gradient edits ---------------------------------------------------------------------------

// re.match('.*/biases', name): the name contains "/biases" anywhere (re.match anchors only at the
// start, and '.*' absorbs any prefix), e.g. "BoxPredictor_0/ClassPredictor/biases".
inline bool IsBiasVariable(const std::string& name) { return name.find("/biases") != std::string::npos; }

// legacy/trainer.py, when train_config.bias_grad_multiplier != 0:
// variables_helper.multiply_gradients_matching_regex(grads_and_vars, ['.*/biases'], multiplier).
// Multiplies each matching gradient by float32(multiplier) and returns the names it multiplied.
// Throws ArgumentError "`gradient_multipliers` is empty." when no variable matches, as slim's
// multiply_gradients does.
template <class T>
std::vector<std::string> MultiplyBiasGradients(const std::vector<nn::Parameter<T>*>& params, float multiplier) {
  std::vector<std::string> multiplied;
  for (const nn::Parameter<T>* p : params) {
    if (IsBiasVariable(p->name)) multiplied.push_back(p->name);
  }
  if (multiplied.empty()) throw ArgumentError("`gradient_multipliers` is empty.");
  for (nn::Parameter<T>* p : params) {
    if (!IsBiasVariable(p->name)) continue;
    detail::CheckGradient(*p);
    p->gradient *= static_cast<T>(multiplier);
  }
  return multiplied;
}

// tf.clip_by_norm(t, clip_norm) on one gradient:
//   l2sum = sum(t*t); l2norm = l2sum > 0 ? sqrt(l2sum) : l2sum; t = t * clip_norm / max(l2norm, clip_norm)
template <class T>
void ClipByNorm(Eigen::Array<T, Eigen::Dynamic, 1>& t, T clip_norm) {
  const T l2sum = (t * t).sum();
  const T l2norm = l2sum > T(0) ? std::sqrt(l2sum) : l2sum;
  t = (t * clip_norm) / std::max(l2norm, clip_norm);
}

// slim.learning.clip_gradient_norms (legacy/trainer.py, gradient_clipping_by_norm > 0): each
// gradient clipped to its own norm, independently.
template <class T>
void ClipGradientNorms(const std::vector<nn::Parameter<T>*>& params, T max_norm) {
  for (nn::Parameter<T>* p : params) {
    detail::CheckGradient(*p);
    ClipByNorm(p->gradient, max_norm);
  }
}

// tf.clip_by_global_norm (model_lib.py through optimize_loss, model_lib_v2.py): one norm over all
// gradients, every gradient scaled by the same factor. Returns the global norm before clipping.
//   global_norm = sqrt(sum_i l2_loss(g_i) * 2),  l2_loss(g) = sum(g*g * 0.5)
//   scale = clip_norm * min(1 / global_norm, 1 / clip_norm)   (NaN for every gradient when the
//           norm is inf or NaN, as TF adds global_norm - global_norm)
// The parameters are the ones being trained: frozen variables have no gradient in either path.
template <class T>
T ClipByGlobalNorm(const std::vector<nn::Parameter<T>*>& params, T clip_norm) {
  T half_squared = 0;
  for (const nn::Parameter<T>* p : params) {
    detail::CheckGradient(*p);
    half_squared += (p->gradient.square() * T(0.5)).sum();
  }
  const T global_norm = std::sqrt(half_squared * T(2));
  const T scale = clip_norm * std::min(T(1) / global_norm, T(1) / clip_norm) + (global_norm - global_norm);
  for (nn::Parameter<T>* p : params) p->gradient *= scale;
  return global_norm;
}

// ---- moving average ---------------------------------------------------------------------------

// tf.train.ExponentialMovingAverage over the trained variables, shadows "<var>/ExponentialMovingAverage".
//   decay  = decay                                    without num_updates
//          = min(decay, (1 + n) / (10 + n))           with num_updates n (float32)
//   shadow -= (shadow - var) * (1 - decay)            (assign_moving_average, zero_debias false)
//
// The OD API's TF1 path (optimizer_builder, use_moving_average, default true) wraps the optimizer
// in tf.contrib.opt.MovingAverageOptimizer(opt, average_decay=moving_average_decay), which passes
// num_updates=None: the decay is constant, and the update runs after the optimizer's (sequential).
// Call Apply() with no argument for that path. The TF2 path (official ema_optimizer, dynamic_decay)
// uses min(decay, (1 + step) / (10 + step)) with step = optimizer iterations: pass it as num_updates.
//
// A shadow starts as the variable's value when tracked (TF: the variable's initial value, which is
// the checkpoint value when the fine-tune checkpoint was applied by init_from_checkpoint): track
// after restoring.
template <class T>
class ExponentialMovingAverage {
 public:
  explicit ExponentialMovingAverage(float decay) : decay_(decay) {}

  float decay() const { return decay_; }

  // The decay one Apply uses.
  T DecayAt(std::optional<int64_t> num_updates) const {
    T d = static_cast<T>(decay_);
    if (num_updates) {
      const T n = static_cast<T>(*num_updates);
      d = std::min(d, (T(1) + n) / (T(10) + n));
    }
    return d;
  }

  // Requires: p outlives the average. Throws ArgumentError when p is already tracked.
  void Track(const nn::Parameter<T>* p) {
    const size_t i = shadows_.Add(p->name + "/ExponentialMovingAverage", p->shape, p->NumElements(), T(0));
    shadows_[i].value = p->value;
    tracked_.push_back({p, i});
  }
  void Track(const std::vector<nn::Parameter<T>*>& params) {
    for (const nn::Parameter<T>* p : params) Track(p);
  }

  // One update of every shadow toward its variable's current value.
  void Apply(std::optional<int64_t> num_updates = std::nullopt) {
    const T one_minus_decay = T(1) - DecayAt(num_updates);
    for (const auto& [param, slot] : tracked_) {
      auto& shadow = shadows_[slot].value;
      shadow -= (shadow - param->value) * one_minus_decay;
    }
  }

  const std::vector<SlotVariable<T>>& Variables() const { return shadows_.all(); }
  std::vector<SlotVariable<T>>& Variables() { return shadows_.all(); }
  SlotVariable<T>* Find(const std::string& shadow_name) { return shadows_.Find(shadow_name); }

 private:
  float decay_;
  detail::SlotStore<T> shadows_;
  std::vector<std::pair<const nn::Parameter<T>*, size_t>> tracked_;
};

}  // namespace warmstart::train
