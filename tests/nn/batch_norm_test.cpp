// BatchNorm: training statistics and the moving-average update (Bessel-corrected variance, as
// TF's fused kernel), inference and frozen modes, central differences in double for x, gamma
// and beta in training and frozen modes, 1 versus 2 threads, the refusals.
#include "warmstart/nn/batch_norm.hpp"

#include <catch2/catch.hpp>

#include <random>

#include "nn/nn_test_util.hpp"
#include "warmstart/nn/reference.hpp"

namespace {

using namespace warmstart::nn;
using nn_test::MaxDiff;
using nn_test::Random4;

BatchNormOptions Options(Index channels, bool scale, bool center) {
  BatchNormOptions o;
  o.channels = channels;
  o.scale = scale;
  o.center = center;
  o.epsilon = 0.001;
  o.decay = 0.9;
  return o;
}

}  // namespace

TEST_CASE("BatchNorm training mode normalises with batch statistics and updates moving ones", "[nn][batch_norm]") {
  std::mt19937 rng(1);
  BatchNorm<double> bn("Conv2d_0/BatchNorm", Options(5, true, true));
  nn_test::FillRandom(bn.gamma()->value.data(), 5, rng, 0.5, 2);
  nn_test::FillRandom(bn.beta()->value.data(), 5, rng);
  nn_test::FillRandom(bn.moving_mean().value.data(), 5, rng);
  nn_test::FillRandom(bn.moving_variance().value.data(), 5, rng, 0.5, 2);
  const Eigen::ArrayXd old_mean = bn.moving_mean().value, old_var = bn.moving_variance().value;
  const Tensor4<double> x = Random4<double>({3, 4, 3, 5}, rng, -2, 3);
  Context ctx(2);
  const Tensor4<double> y = bn.Forward(ctx, x);

  Tensor1<double> mean, var;
  const Tensor4<double> expected =
      reference::BatchNormTraining<double>(x, bn.gamma()->Value1(), bn.beta()->Value1(), 0.001, &mean, &var);
  CHECK(MaxDiff(y, expected) < 1e-12);
  const double rows = 3 * 4 * 3;
  for (Index c = 0; c < 5; ++c) {
    CHECK(bn.batch_mean()(c) == Approx(mean(c)).epsilon(1e-12));
    CHECK(bn.batch_variance()(c) == Approx(var(c)).epsilon(1e-12));
    CHECK(bn.moving_mean().value(c) == Approx(old_mean(c) * 0.9 + mean(c) * 0.1).epsilon(1e-12));
    // Bessel-corrected, as FusedBatchNorm's running-variance output.
    CHECK(bn.moving_variance().value(c) == Approx(old_var(c) * 0.9 + var(c) * rows / (rows - 1) * 0.1).epsilon(1e-12));
  }

  BatchNormOptions biased = Options(5, true, true);
  biased.bessel_correction = false;
  BatchNorm<double> plain("Plain", biased);
  plain.Forward(ctx, x);
  CHECK(plain.moving_variance().value(0) == Approx(0.9 + var(0) * 0.1).epsilon(1e-12));
}

TEST_CASE("BatchNorm inference and frozen modes use the moving statistics and do not update them",
          "[nn][batch_norm]") {
  std::mt19937 rng(2);
  for (BatchNormMode mode : {BatchNormMode::kInference, BatchNormMode::kFrozen}) {
    INFO(BatchNormModeName(mode));
    BatchNorm<double> bn("BN", Options(3, false, true));  // slim default: no gamma
    CHECK(bn.gamma() == nullptr);
    nn_test::FillRandom(bn.beta()->value.data(), 3, rng);
    nn_test::FillRandom(bn.moving_mean().value.data(), 3, rng);
    nn_test::FillRandom(bn.moving_variance().value.data(), 3, rng, 0.5, 2);
    const Eigen::ArrayXd mm = bn.moving_mean().value, mv = bn.moving_variance().value;
    bn.set_mode(mode);
    const Tensor4<double> x = Random4<double>({2, 3, 2, 3}, rng);
    Context ctx(1);
    const Tensor4<double> y = bn.Forward(ctx, x);
    for (Index i = 0; i < x.size(); ++i) {
      const Index c = i % 3;
      CHECK(y.data()[i] == Approx((x.data()[i] - mm(c)) / std::sqrt(mv(c) + 0.001) + bn.beta()->value(c)));
    }
    CHECK((bn.moving_mean().value == mm).all());
    CHECK((bn.moving_variance().value == mv).all());
    if (mode == BatchNormMode::kInference) {
      CHECK_THROWS_WITH(bn.Backward(ctx, x),
                        "BatchNorm 'BN': Backward after an inference-mode Forward (use kFrozen to train with moving "
                        "statistics)");
    } else {
      const Tensor4<double> dx = bn.Backward(ctx, x);
      CHECK(dx.data()[4] == Approx(x.data()[4] / std::sqrt(mv(1) + 0.001)));
    }
  }
}

TEST_CASE("BatchNorm gradients match central differences", "[nn][batch_norm]") {
  for (BatchNormMode mode : {BatchNormMode::kTraining, BatchNormMode::kFrozen}) {
    for (bool scale : {true, false}) {
      INFO(BatchNormModeName(mode) << " scale " << scale);
      std::mt19937 rng(3);
      BatchNorm<double> bn("BN", Options(4, scale, true));
      if (scale) nn_test::FillRandom(bn.gamma()->value.data(), 4, rng, 0.5, 2);
      nn_test::FillRandom(bn.beta()->value.data(), 4, rng);
      nn_test::FillRandom(bn.moving_mean().value.data(), 4, rng);
      nn_test::FillRandom(bn.moving_variance().value.data(), 4, rng, 0.5, 2);
      bn.set_mode(mode);
      Tensor4<double> x = Random4<double>({2, 3, 5, 4}, rng, -1, 2);
      const Tensor4<double> r = Random4<double>(ShapeOf(x), rng);
      Context ctx(2);
      auto loss = [&] { return nn_test::Dot(bn.Forward(ctx, x), r); };
      loss();
      const Tensor4<double> dx = bn.Backward(ctx, r);
      const Eigen::ArrayXd db = bn.beta()->gradient;
      CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), loss) < 1e-6);
      CHECK(nn_test::GradientError(bn.beta()->value.data(), 4, db.data(), loss) < 1e-6);
      if (scale) {
        const Eigen::ArrayXd dg = bn.gamma()->gradient;
        CHECK(nn_test::GradientError(bn.gamma()->value.data(), 4, dg.data(), loss) < 1e-6);
      }
    }
  }
}

TEST_CASE("BatchNorm gives the same results with 1 and 2 threads", "[nn][batch_norm]") {
  std::mt19937 rng(4);
  BatchNorm<float> one("A", Options(7, true, true)), two("B", Options(7, true, true));
  const Tensor4<float> x = Random4<float>({2, 33, 17, 7}, rng, -1, 3);
  Context c1(1), c2(2);
  CHECK(MaxDiff(one.Forward(c1, x), two.Forward(c2, x)) < 1e-5);
  CHECK(((one.moving_variance().value - two.moving_variance().value).abs() < 1e-6f).all());
  const Tensor4<float> dy = Random4<float>(ShapeOf(x), rng);
  CHECK(MaxDiff(one.Backward(c1, dy), two.Backward(c2, dy)) < 1e-5);
  CHECK(((one.gamma()->gradient - two.gamma()->gradient).abs() < 1e-3f).all());
}

TEST_CASE("BatchNorm lists its variables in TF's order", "[nn][batch_norm]") {
  BatchNorm<float> bn("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm", Options(32, true, true));
  ParameterList<float> list;
  bn.CollectParameters(list);
  const auto infos = list.Infos();
  REQUIRE(infos.size() == 4);
  CHECK(infos[0].name == "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma");
  CHECK(infos[1].name == "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/beta");
  CHECK(infos[2].name == "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean");
  CHECK(infos[3].name == "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_variance");
  CHECK(infos[0].trainable);
  CHECK_FALSE(infos[2].trainable);
  CHECK_FALSE(infos[3].trainable);
  CHECK(list.Trainable().size() == 2);
  CHECK_THROWS_WITH(BatchNorm<float>("X", Options(0, true, true)), "BatchNorm 'X': channels must be >= 1, found 0");
}
