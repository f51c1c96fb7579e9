// Learning-rate schedules at chosen steps, computed by hand from learning_schedules.py, and the
// errors optimizer_builder / learning_schedules raise, word for word.
#include "warmstart/train/learning_rate.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

namespace {

using warmstart::config::LearningRate;
using warmstart::train::LearningRateSchedule;

LearningRate Exponential(float initial, uint32_t decay_steps, float factor, bool staircase, float burnin_rate = 0,
                         uint32_t burnin_steps = 0, float min_rate = 0) {
  LearningRate lr;
  lr.kind = LearningRate::Kind::kExponentialDecay;
  lr.exponential_decay = {initial, decay_steps, factor, staircase, burnin_rate, burnin_steps, min_rate};
  return lr;
}

LearningRate ManualStep(float initial, std::vector<warmstart::config::ManualStepLearningRate::Step> schedule,
                        bool warmup = false) {
  LearningRate lr;
  lr.kind = LearningRate::Kind::kManualStep;
  lr.manual_step.initial_learning_rate = initial;
  lr.manual_step.schedule = std::move(schedule);
  lr.manual_step.warmup = warmup;
  return lr;
}

LearningRate Cosine(float base, uint32_t total, float warmup_rate, uint32_t warmup_steps, uint32_t hold = 0) {
  LearningRate lr;
  lr.kind = LearningRate::Kind::kCosineDecay;
  lr.cosine_decay = {base, total, warmup_rate, warmup_steps, hold};
  return lr;
}

std::string ErrorOf(const LearningRate& lr) {
  try {
    LearningRateSchedule s(lr);
  } catch (const warmstart::ArgumentError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("learning rate: constant", "[train][learning_rate]") {
  LearningRate lr;
  lr.kind = LearningRate::Kind::kConstant;
  lr.constant.learning_rate = 0.004f;
  const LearningRateSchedule s(lr);
  REQUIRE(s.At(0) == 0.004f);
  REQUIRE(s.At(123456) == 0.004f);
}

TEST_CASE("learning rate: exponential decay, staircase and not", "[train][learning_rate]") {
  const LearningRateSchedule stairs(Exponential(0.1f, 10, 0.5f, true));
  REQUIRE(stairs.At(0) == 0.1f);
  REQUIRE(stairs.At(9) == 0.1f);
  REQUIRE(stairs.At(10) == 0.05f);
  REQUIRE(stairs.At(25) == Approx(0.025));

  const LearningRateSchedule smooth(Exponential(0.1f, 10, 0.5f, false));
  REQUIRE(smooth.At(5) == Approx(0.1 * std::sqrt(0.5)).epsilon(1e-6));
  REQUIRE(smooth.At(20) == Approx(0.025).epsilon(1e-6));
}

TEST_CASE("learning rate: exponential decay burn-in counts decay from its end, min rate floors it",
          "[train][learning_rate]") {
  // burnin 0.04 for steps 0..4, then 0.1 * 0.5^floor((step - 5) / 10), floored at 0.03.
  const LearningRateSchedule s(Exponential(0.1f, 10, 0.5f, true, 0.04f, 5, 0.03f));
  REQUIRE(s.At(0) == 0.04f);
  REQUIRE(s.At(4) == 0.04f);
  REQUIRE(s.At(5) == 0.1f);
  REQUIRE(s.At(14) == 0.1f);
  REQUIRE(s.At(15) == 0.05f);
  REQUIRE(s.At(25) == 0.03f);  // 0.025 < min
  // The floor applies to the burn-in rate too (tf.maximum over the tf.where).
  REQUIRE(LearningRateSchedule(Exponential(0.1f, 10, 0.5f, true, 0.01f, 5, 0.03f)).At(0) == 0.03f);
  // burnin_learning_rate 0 means "the initial rate".
  const LearningRateSchedule same(Exponential(0.1f, 10, 0.5f, true, 0.0f, 5));
  REQUIRE(same.At(3) == 0.1f);
}

TEST_CASE("learning rate: manual step", "[train][learning_rate]") {
  const LearningRateSchedule s(ManualStep(0.1f, {{5, 0.01f}, {10, 0.001f}}));
  REQUIRE(s.At(0) == 0.1f);
  REQUIRE(s.At(4) == 0.1f);
  REQUIRE(s.At(5) == 0.01f);
  REQUIRE(s.At(9) == 0.01f);
  REQUIRE(s.At(10) == 0.001f);
  REQUIRE(s.At(1000000) == 0.001f);
}

TEST_CASE("learning rate: manual step with warmup interpolates to the first boundary", "[train][learning_rate]") {
  const LearningRateSchedule s(ManualStep(0.0f, {{4, 0.4f}, {8, 0.04f}}, true));
  REQUIRE(s.At(0) == 0.0f);
  REQUIRE(s.At(1) == Approx(0.1).epsilon(1e-6));
  REQUIRE(s.At(2) == Approx(0.2).epsilon(1e-6));
  REQUIRE(s.At(3) == Approx(0.3).epsilon(1e-6));
  REQUIRE(s.At(4) == 0.4f);
  REQUIRE(s.At(7) == 0.4f);
  REQUIRE(s.At(8) == 0.04f);
}

TEST_CASE("learning rate: manual step errors", "[train][learning_rate]") {
  REQUIRE(ErrorOf(ManualStep(0.1f, {})) == "Empty learning rate schedule.");
  REQUIRE(ErrorOf(ManualStep(0.1f, {{5, 0.01f}, {5, 0.001f}})) == "Entries in boundaries must be strictly increasing.");
  REQUIRE(ErrorOf(ManualStep(0.1f, {{5, 0.01f}, {3, 0.001f}})) == "Entries in boundaries must be strictly increasing.");
  REQUIRE(ErrorOf(ManualStep(0.1f, {{0, 0.01f}})) == "First step cannot be zero.");
  REQUIRE(ErrorOf(LearningRate{}) == "Learning_rate None not supported.");
}

TEST_CASE("learning rate: cosine decay with warmup", "[train][learning_rate]") {
  const LearningRateSchedule s(Cosine(0.04f, 100, 0.01f, 10));
  REQUIRE(s.At(0) == 0.01f);
  REQUIRE(s.At(5) == Approx(0.025).epsilon(1e-6));  // 0.003 * 5 + 0.01
  REQUIRE(s.At(10) == Approx(0.04).epsilon(1e-6));  // cos(0)
  REQUIRE(s.At(55) == Approx(0.02).epsilon(1e-5));  // cos(pi / 2)
  REQUIRE(s.At(100) == Approx(0.0).margin(1e-9));   // cos(pi)
  REQUIRE(s.At(101) == 0.0f);                       // past total_steps
  REQUIRE(s.At(5000) == 0.0f);
}

TEST_CASE("learning rate: cosine decay holds the base rate", "[train][learning_rate]") {
  const LearningRateSchedule s(Cosine(0.04f, 100, 0.01f, 10, 10));
  REQUIRE(s.At(15) == 0.04f);
  REQUIRE(s.At(20) == 0.04f);  // step > warmup + hold is false
  REQUIRE(s.At(60) == Approx(0.02).epsilon(1e-5));  // pi * 40 / 80
  REQUIRE(s.At(21) < 0.04f);
}

TEST_CASE("learning rate: cosine decay errors", "[train][learning_rate]") {
  REQUIRE(ErrorOf(Cosine(0.04f, 5, 0.01f, 10)) == "total_steps must be larger or equal to warmup_steps.");
  REQUIRE(ErrorOf(Cosine(0.04f, 100, 0.05f, 10)) ==
          "learning_rate_base must be larger or equal to warmup_learning_rate.");
  // The current learning_schedules.py checks the warmup rate only when there is a warmup.
  REQUIRE(ErrorOf(Cosine(0.04f, 100, 0.05f, 0)).empty());
}
