// The TF1 optimizers on a scalar, two steps each, against the training_ops.cc formulas evaluated by
// hand (in double); slot names; gradient clipping; the bias multiplier; the moving average.
#include "warmstart/train/optimizer.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using warmstart::nn::Parameter;
using warmstart::train::ClipByGlobalNorm;
using warmstart::train::ClipGradientNorms;
using warmstart::train::ExponentialMovingAverage;
using warmstart::train::Optimizer;
using warmstart::train::OptimizerKind;
using warmstart::train::OptimizerOptions;

Parameter<float> Scalar(const std::string& name, float value) {
  Parameter<float> p(name, {1}, true);
  p.value(0) = value;
  return p;
}

Parameter<float> Vector(const std::string& name, std::vector<float> values) {
  Parameter<float> p(name, {static_cast<warmstart::nn::Index>(values.size())}, true);
  for (size_t i = 0; i < values.size(); ++i) p.gradient(static_cast<Eigen::Index>(i)) = values[i];
  return p;
}

OptimizerOptions Options(OptimizerKind kind, float momentum, float decay, float epsilon) {
  OptimizerOptions o;
  o.kind = kind;
  o.momentum = momentum;
  o.decay = decay;
  o.epsilon = epsilon;
  return o;
}

}  // namespace

TEST_CASE("optimizer: RMSProp, two steps on a scalar, ms starting at one", "[train][optimizer]") {
  Parameter<float> w = Scalar("Conv/weights", 1.0f);
  Optimizer<float> opt(Options(OptimizerKind::kRmsProp, 0.9f, 0.9f, 1.0f));
  opt.Track(&w);
  REQUIRE(opt.Find("Conv/weights/RMSProp")->value(0) == 1.0f);  // TF1 initialises ms to ones
  REQUIRE(opt.Find("Conv/weights/RMSProp_1")->value(0) == 0.0f);

  // Step 1, g = 2: ms = 1 + (4 - 1) * 0.1 = 1.3; mom = 0.1 * 2 / sqrt(1.3 + 1) = 0.131876...
  w.gradient(0) = 2.0f;
  opt.ApplyGradients(0.1f);
  REQUIRE(opt.Find("Conv/weights/RMSProp")->value(0) == Approx(1.3).epsilon(1e-6));
  REQUIRE(opt.Find("Conv/weights/RMSProp_1")->value(0) == Approx(0.2 / std::sqrt(2.3)).epsilon(1e-6));
  REQUIRE(w.value(0) == Approx(1 - 0.2 / std::sqrt(2.3)).epsilon(1e-6));

  // Step 2, g = 1: ms = 1.3 + (1 - 1.3) * 0.1 = 1.27; mom = 0.9 * mom1 + 0.1 / sqrt(2.27).
  w.gradient(0) = 1.0f;
  opt.ApplyGradients(0.1f);
  const double mom2 = 0.9 * (0.2 / std::sqrt(2.3)) + 0.1 / std::sqrt(2.27);
  REQUIRE(opt.Find("Conv/weights/RMSProp")->value(0) == Approx(1.27).epsilon(1e-6));
  REQUIRE(opt.Find("Conv/weights/RMSProp_1")->value(0) == Approx(mom2).epsilon(1e-6));
  REQUIRE(w.value(0) == Approx(1 - 0.2 / std::sqrt(2.3) - mom2).epsilon(1e-6));
  REQUIRE(w.value(0) == Approx(0.6830630889496037).epsilon(1e-6));
}

TEST_CASE("optimizer: Momentum, two steps on a scalar", "[train][optimizer]") {
  Parameter<float> w = Scalar("w", 1.0f);
  Optimizer<float> opt(Options(OptimizerKind::kMomentum, 0.9f, 0, 0));
  opt.Track(&w);
  w.gradient(0) = 2.0f;
  opt.ApplyGradients(0.1f);  // accum 2, w = 1 - 0.2
  REQUIRE(opt.Find("w/Momentum")->value(0) == 2.0f);
  REQUIRE(w.value(0) == Approx(0.8).epsilon(1e-6));
  w.gradient(0) = 1.0f;
  opt.ApplyGradients(0.1f);  // accum 0.9 * 2 + 1 = 2.8, w = 0.8 - 0.28
  REQUIRE(opt.Find("w/Momentum")->value(0) == Approx(2.8).epsilon(1e-6));
  REQUIRE(w.value(0) == Approx(0.52).epsilon(1e-6));
  REQUIRE(opt.Variables().size() == 1);
}

TEST_CASE("optimizer: Adam, two steps with bias correction and beta powers", "[train][optimizer]") {
  Parameter<float> w = Scalar("w", 1.0f);
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.epsilon = 1e-8f;
  Optimizer<float> opt(o);
  opt.Track(&w);
  REQUIRE(opt.Variables().size() == 4);
  REQUIRE(opt.Variables()[0].name == "beta1_power");
  REQUIRE(opt.Variables()[1].name == "beta2_power");
  REQUIRE(opt.Variables()[2].name == "w/Adam");
  REQUIRE(opt.Variables()[3].name == "w/Adam_1");
  REQUIRE(opt.Variables()[0].shape.empty());
  REQUIRE(opt.Find("beta1_power")->value(0) == 0.9f);

  // Step 1, g = 2: alpha = 0.1 * sqrt(0.001) / 0.1; m = 0.2; v = 0.004.
  w.gradient(0) = 2.0f;
  opt.ApplyGradients(0.1f);
  REQUIRE(opt.Find("w/Adam")->value(0) == Approx(0.2).epsilon(1e-6));
  // 1 - beta2 in float32 is 1 - 0.999000013 (TF's constant), not 0.001.
  REQUIRE(opt.Find("w/Adam_1")->value(0) == Approx(4 * (1 - static_cast<double>(0.999f))).epsilon(1e-6));
  REQUIRE(w.value(0) == Approx(0.9000000158113858).epsilon(1e-6));
  REQUIRE(opt.Find("beta1_power")->value(0) == Approx(0.81).epsilon(1e-6));
  REQUIRE(opt.Find("beta2_power")->value(0) == Approx(0.998001).epsilon(1e-6));

  // Step 2, g = 1: alpha = 0.1 * sqrt(1 - 0.998001) / (1 - 0.81); m = 0.28; v = 0.004996.
  w.gradient(0) = 1.0f;
  opt.ApplyGradients(0.1f);
  const double alpha = 0.1 * std::sqrt(1 - 0.998001) / (1 - 0.81);
  REQUIRE(w.value(0) == Approx(0.9000000158113858 - 0.28 * alpha / (std::sqrt(0.004996) + 1e-8)).epsilon(1e-5));
  REQUIRE(w.value(0) == Approx(0.8067820651185309).epsilon(1e-5));
  REQUIRE(opt.Find("beta1_power")->value(0) == Approx(0.729).epsilon(1e-6));
}

TEST_CASE("optimizer: options from the config, and refusals", "[train][optimizer]") {
  warmstart::config::Optimizer c;
  REQUIRE_THROWS_WITH(OptimizerOptions::FromConfig(c), "Optimizer None not supported.");
  c.kind = warmstart::config::Optimizer::Kind::kRmsProp;
  c.momentum_optimizer_value = 0.8f;
  c.decay = 0.95f;
  c.epsilon = 0.5f;
  const OptimizerOptions o = OptimizerOptions::FromConfig(c);
  REQUIRE(o.kind == OptimizerKind::kRmsProp);
  REQUIRE(o.momentum == 0.8f);
  REQUIRE(o.decay == 0.95f);
  REQUIRE(o.epsilon == 0.5f);
  c.kind = warmstart::config::Optimizer::Kind::kAdam;
  c.epsilon = 1e-7f;
  REQUIRE(Optimizer<float>::FromConfig(c).options().epsilon == 1e-7f);
  REQUIRE(std::string(Optimizer<float>::FromConfig(c).name()) == "Adam");

  Optimizer<float> opt(Options(OptimizerKind::kMomentum, 0.9f, 0, 0));
  Parameter<float> state = warmstart::nn::MakeState<float>("BatchNorm/moving_mean", {2});
  REQUIRE_THROWS_AS(opt.Track(&state), warmstart::ArgumentError);
  Parameter<float> w = Scalar("w", 1.0f);
  opt.Track(&w);
  REQUIRE_THROWS_WITH(opt.Track(&w), "optimizer: variable 'w/Momentum' already exists");
  const float two[2] = {1, 2};
  REQUIRE_THROWS_WITH(opt.Find("w/Momentum")->Assign(two, {2}),
                      "slot variable 'w/Momentum': cannot assign shape [2] to shape [1]");
  const float one[1] = {7};
  opt.Find("w/Momentum")->Assign(one, {1});
  REQUIRE(opt.Find("w/Momentum")->value(0) == 7.0f);
  REQUIRE(opt.Find("w/Adam") == nullptr);
}

TEST_CASE("gradient clipping: global norm scales all, per-tensor norm each", "[train][optimizer]") {
  Parameter<float> a = Vector("a", {3, 4});  // norm 5
  Parameter<float> b = Vector("b", {12});    // norm 12; global norm 13
  Parameter<float> z = Vector("z", {0, 0});
  SECTION("clip_by_global_norm") {
    REQUIRE(ClipByGlobalNorm<float>({&a, &b, &z}, 6.5f) == Approx(13.0).epsilon(1e-6));
    REQUIRE(a.gradient(0) == Approx(1.5).epsilon(1e-6));
    REQUIRE(a.gradient(1) == Approx(2.0).epsilon(1e-6));
    REQUIRE(b.gradient(0) == Approx(6.0).epsilon(1e-6));
    REQUIRE(z.gradient(0) == 0.0f);
  }
  SECTION("clip_by_global_norm below the limit leaves gradients as they are") {
    REQUIRE(ClipByGlobalNorm<float>({&a, &b}, 20.0f) == Approx(13.0).epsilon(1e-6));
    REQUIRE(a.gradient(0) == 3.0f);
    REQUIRE(b.gradient(0) == 12.0f);
  }
  SECTION("clip_by_global_norm of an infinite gradient gives NaN everywhere, as TF") {
    b.gradient(0) = std::numeric_limits<float>::infinity();
    ClipByGlobalNorm<float>({&a, &b}, 1.0f);
    REQUIRE(std::isnan(a.gradient(0)));
    REQUIRE(std::isnan(b.gradient(0)));
  }
  SECTION("slim clip_gradient_norms clips each tensor on its own") {
    ClipGradientNorms<float>({&a, &b, &z}, 6.0f);
    REQUIRE(a.gradient(0) == 3.0f);  // norm 5 <= 6: t * 6 / 6
    REQUIRE(a.gradient(1) == 4.0f);
    REQUIRE(b.gradient(0) == Approx(6.0).epsilon(1e-6));
    REQUIRE(z.gradient(1) == 0.0f);  // a zero norm stays zero
  }
}

TEST_CASE("bias_grad_multiplier: re.match('.*/biases') on the variable name", "[train][optimizer]") {
  using warmstart::train::IsBiasVariable;
  REQUIRE(IsBiasVariable("BoxPredictor_0/ClassPredictor/biases"));
  REQUIRE(IsBiasVariable("Conv/biases/ExponentialMovingAverage"));  // match needs no end anchor
  REQUIRE(IsBiasVariable("a/biases_1"));
  REQUIRE_FALSE(IsBiasVariable("biases"));  // no slash before it
  REQUIRE_FALSE(IsBiasVariable("Conv/weights"));
  REQUIRE_FALSE(IsBiasVariable("Conv/BatchNorm/beta"));

  Parameter<float> w = Vector("Conv/weights", {1, 1});
  Parameter<float> bias = Vector("Conv/biases", {1, 3});
  Parameter<float> top = Vector("biases", {5});
  const std::vector<std::string> multiplied = warmstart::train::MultiplyBiasGradients<float>({&w, &bias, &top}, 2.0f);
  REQUIRE(multiplied == std::vector<std::string>{"Conv/biases"});
  REQUIRE(bias.gradient(1) == 6.0f);
  REQUIRE(w.gradient(0) == 1.0f);
  REQUIRE(top.gradient(0) == 5.0f);
  REQUIRE_THROWS_WITH(warmstart::train::MultiplyBiasGradients<float>({&w, &top}, 2.0f),
                      "`gradient_multipliers` is empty.");
}

TEST_CASE("exponential moving average: constant decay and num_updates decay", "[train][optimizer]") {
  Parameter<float> w = Scalar("Conv/weights", 1.0f);
  ExponentialMovingAverage<float> ema(0.9f);
  ema.Track(&w);
  REQUIRE(ema.Variables().size() == 1);
  REQUIRE(ema.Variables()[0].name == "Conv/weights/ExponentialMovingAverage");
  REQUIRE(ema.Variables()[0].value(0) == 1.0f);
  w.value(0) = 2.0f;
  ema.Apply();  // MovingAverageOptimizer: decay 0.9, shadow = 1 - (1 - 2) * 0.1
  REQUIRE(ema.Find("Conv/weights/ExponentialMovingAverage")->value(0) == Approx(1.1).epsilon(1e-6));
  ema.Apply(0);  // min(0.9, 1 / 10) = 0.1: shadow = 1.1 - (1.1 - 2) * 0.9
  REQUIRE(ema.Variables()[0].value(0) == Approx(1.91).epsilon(1e-6));
  REQUIRE(ema.DecayAt(0) == Approx(0.1).epsilon(1e-6));
  REQUIRE(ema.DecayAt(90) == 0.9f);  // min(0.9, 91 / 100)
  REQUIRE(ema.DecayAt(std::nullopt) == 0.9f);
  REQUIRE_THROWS_AS(ema.Track(&w), warmstart::ArgumentError);
}
