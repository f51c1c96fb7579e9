// Learning-rate schedules of the Object Detection API, valued at a global step as TF computes them.
//
// Mirrors research/object_detection/
//   builders/optimizer_builder.py   _create_learning_rate: which schedule, which arguments, and the
//                                   "Empty learning rate schedule." / "not supported" errors
//   utils/learning_schedules.py     exponential_decay_with_burnin, manual_stepping,
//                                   cosine_decay_with_warmup
// and tf.compat.v1.train.exponential_decay (keras ExponentialDecay.__call__).
//
// The global step is the number of updates already applied: TF reads the rate at the current
// global_step inside apply_gradients, then increments it, so the first update uses At(0).
//
// Precision. TF builds each schedule from Python floats (doubles) and evaluates the graph in
// float32. Here the Python-side arithmetic is done in double and every tensor op in float, in the
// order the Python expression gives, so values agree with TF's to the last bit except where a
// transcendental (cos, pow) differs by an ulp between Eigen's and the C library's float version.
//
//   constant           lr
//   exponential_decay  p = float(step - burnin_steps) / float(decay_steps), floored if staircase
//                      post = initial * pow(decay_factor, p)
//                      max(step < burnin_steps ? burnin_lr (or initial if 0) : post, min_lr)
//   manual_step        rates [initial, schedule...] switched at each schedule step; with warmup
//                      the rate moves linearly from initial to schedule[0] over [0, step0)
//   cosine_decay       0.5 * base * (1 + cos(pi * (step - warmup - hold) / (total - warmup - hold)))
//                      base while step <= warmup + hold (hold > 0), the linear warmup while
//                      step < warmup, and 0 once step > total
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/error.hpp"

namespace warmstart::train {

namespace detail {

// np.pi as the float32 constant TF multiplies by.
constexpr double kPi = 3.141592653589793;

inline float ExponentialDecayAt(const config::ExponentialDecayLearningRate& c, int64_t step) {
  const float burnin_rate = c.burnin_learning_rate == 0 ? c.initial_learning_rate : c.burnin_learning_rate;
  float p = static_cast<float>(step - static_cast<int64_t>(c.burnin_steps)) / static_cast<float>(c.decay_steps);
  if (c.staircase) p = std::floor(p);
  const float post_burnin = c.initial_learning_rate * std::pow(c.decay_factor, p);
  const float rate = static_cast<int32_t>(step) < static_cast<int32_t>(c.burnin_steps) ? burnin_rate : post_burnin;
  return rate < c.min_learning_rate ? c.min_learning_rate : rate;
}

inline float CosineDecayAt(const config::CosineDecayLearningRate& c, int64_t step) {
  const int64_t warmup = c.warmup_steps;
  const int64_t hold = c.hold_base_rate_steps;
  const int64_t total = c.total_steps;
  // np.pi * (float(step) - warmup - hold) / float(total - warmup - hold), each op in float32.
  const float x = static_cast<float>(step) - static_cast<float>(warmup) - static_cast<float>(hold);
  const float angle = static_cast<float>(kPi) * x / static_cast<float>(static_cast<double>(total - warmup - hold));
  const float half_base = static_cast<float>(0.5 * static_cast<double>(c.learning_rate_base));
  float rate = half_base * (1.0f + std::cos(angle));
  if (hold > 0 && !(step > warmup + hold)) rate = c.learning_rate_base;
  if (warmup > 0 && step < warmup) {
    const double slope =
        (static_cast<double>(c.learning_rate_base) - static_cast<double>(c.warmup_learning_rate)) / static_cast<double>(warmup);
    rate = static_cast<float>(slope) * static_cast<float>(step) + c.warmup_learning_rate;
  }
  return step > total ? 0.0f : rate;
}

}  // namespace detail

// A schedule from train_config.optimizer.<kind>.learning_rate; valid from construction.
class LearningRateSchedule {
 public:
  using Kind = config::LearningRate::Kind;

  // Throws ArgumentError with the message TF raises while building the same schedule:
  //   no schedule set                 "Learning_rate None not supported."
  //   manual_step, empty schedule     "Empty learning rate schedule."
  //   manual_step, steps not rising   "Entries in boundaries must be strictly increasing."
  //   manual_step, first step 0       "First step cannot be zero."
  //   cosine, total < warmup          "total_steps must be larger or equal to warmup_steps."
  //   cosine, warmup rate > base      "learning_rate_base must be larger or equal to warmup_learning_rate."
  //                                   (only when warmup_steps > 0, as the current source checks it)
  explicit LearningRateSchedule(const config::LearningRate& config) : config_(config) {
    switch (config_.kind) {
      case Kind::kNone:
        throw ArgumentError("Learning_rate None not supported.");
      case Kind::kManualStep:
        BuildManualStep(config_.manual_step);
        break;
      case Kind::kCosineDecay:
        CheckCosineDecay(config_.cosine_decay);
        break;
      case Kind::kConstant:
      case Kind::kExponentialDecay:
        break;
    }
  }

  Kind kind() const { return config_.kind; }
  const config::LearningRate& config() const { return config_; }

  // The float32 learning rate TF computes at this global step.
  float At(int64_t global_step) const {
    switch (config_.kind) {
      case Kind::kConstant:
        return config_.constant.learning_rate;
      case Kind::kExponentialDecay:
        return detail::ExponentialDecayAt(config_.exponential_decay, global_step);
      case Kind::kManualStep:
        return ManualStepAt(global_step);
      case Kind::kCosineDecay:
        return detail::CosineDecayAt(config_.cosine_decay, global_step);
      case Kind::kNone:
        break;
    }
    return 0.0f;  // unreachable: the constructor refuses kNone
  }

 private:
  // manual_stepping: boundaries [0, s1, s2, ...] and rates [initial, r1, r2, ...] as Python floats.
  void BuildManualStep(const config::ManualStepLearningRate& m) {
    if (m.schedule.empty()) throw ArgumentError("Empty learning rate schedule.");
    for (size_t i = 1; i < m.schedule.size(); ++i) {
      if (m.schedule[i].step <= m.schedule[i - 1].step) {
        throw ArgumentError("Entries in boundaries must be strictly increasing.");
      }
    }
    if (m.schedule[0].step == 0) throw ArgumentError("First step cannot be zero.");
    boundaries_.push_back(0);
    rates_.push_back(m.initial_learning_rate);
    for (const auto& s : m.schedule) {
      boundaries_.push_back(s.step);
      rates_.push_back(s.learning_rate);
    }
    if (m.warmup) warmup_slope_ = (rates_[1] - rates_[0]) * 1.0 / static_cast<double>(boundaries_[1]);
  }

  static void CheckCosineDecay(const config::CosineDecayLearningRate& c) {
    if (c.total_steps < c.warmup_steps) throw ArgumentError("total_steps must be larger or equal to warmup_steps.");
    if (c.warmup_steps > 0 && c.learning_rate_base < c.warmup_learning_rate) {
      throw ArgumentError("learning_rate_base must be larger or equal to warmup_learning_rate.");
    }
  }

  // The rate of the last boundary reached (index 0 before any); in warmup, step k < s1 has its own
  // boundary k with rate initial + slope * k (TF expands the list; the value is the same).
  float ManualStepAt(int64_t step) const {
    if (config_.manual_step.warmup && step < boundaries_[1]) {
      const int64_t k = step < 0 ? 0 : step;
      return static_cast<float>(rates_[0] + warmup_slope_ * static_cast<double>(k));
    }
    size_t index = 0;
    for (size_t i = 0; i < boundaries_.size(); ++i) {
      if (step >= boundaries_[i]) index = i;
    }
    return static_cast<float>(rates_[index]);
  }

  config::LearningRate config_;
  std::vector<int64_t> boundaries_;  // manual_step only
  std::vector<double> rates_;
  double warmup_slope_ = 0;
};

}  // namespace warmstart::train
