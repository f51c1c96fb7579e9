// ReLU6, Identity, BiasAdd: values, central differences in double, and the refusals.
#include "warmstart/nn/activation.hpp"

#include <catch2/catch.hpp>

#include <random>

#include "nn/nn_test_util.hpp"

namespace {

using namespace warmstart::nn;
using nn_test::Random4;

}  // namespace

TEST_CASE("ReLU6 clips to [0, 6] and passes gradient only strictly inside", "[nn][activation]") {
  Tensor4<float> x(1, 1, 1, 6);
  x.setValues({{{{-1.f, 0.f, 0.5f, 6.f, 7.f, 5.9f}}}});
  ReLU6<float> relu;
  Context ctx(2);
  const Tensor4<float> y = relu.Forward(ctx, x);
  const float expected_y[] = {0, 0, 0.5f, 6, 6, 5.9f};
  const float expected_dx[] = {0, 0, 1, 0, 0, 1};  // TF's Relu6Grad: no gradient at the kinks
  const Tensor4<float> dx = relu.Backward(ctx, Filled4<float>({1, 1, 1, 6}, 1.f));
  for (int i = 0; i < 6; ++i) {
    CHECK(y.data()[i] == expected_y[i]);
    CHECK(dx.data()[i] == expected_dx[i]);
  }
}

TEST_CASE("ReLU6, Identity and BiasAdd gradients match central differences", "[nn][activation]") {
  std::mt19937 rng(6);
  Tensor4<double> x = Random4<double>({2, 3, 4, 5}, rng, -2, 8);
  for (Index i = 0; i < x.size(); ++i) {  // keep clear of the kinks at 0 and 6
    double& v = x.data()[i];
    if (std::abs(v) < 0.01 || std::abs(v - 6) < 0.01) v += 0.05;
  }
  const Tensor4<double> r = Random4<double>(ShapeOf(x), rng);
  Context ctx(1);

  ReLU6<double> relu;
  auto relu_loss = [&] { return nn_test::Dot(relu.Forward(ctx, x), r); };
  relu_loss();
  Tensor4<double> dx = relu.Backward(ctx, r);
  CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), relu_loss) < 1e-6);

  Identity<double> id;
  auto id_loss = [&] { return nn_test::Dot(id.Forward(ctx, x), r); };
  dx = id.Backward(ctx, r);
  CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), id_loss) < 1e-6);

  BiasAdd<double> bias("BoxPredictor_0/ClassPredictor", 5);
  nn_test::FillRandom(bias.biases().value.data(), 5, rng);
  auto bias_loss = [&] { return nn_test::Dot(bias.Forward(ctx, x), r); };
  bias_loss();
  dx = bias.Backward(ctx, r);
  const Eigen::ArrayXd db = bias.biases().gradient;
  CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), bias_loss) < 1e-6);
  CHECK(nn_test::GradientError(bias.biases().value.data(), 5, db.data(), bias_loss) < 1e-6);
  CHECK(bias.biases().name == "BoxPredictor_0/ClassPredictor/biases");
  CHECK_THROWS_WITH(bias.Forward(ctx, Zeros4<double>({1, 1, 1, 4})),
                    "BiasAdd 'BoxPredictor_0/ClassPredictor/biases': input: expected 5 channels (NHWC dimension 3), "
                    "found shape [1, 1, 1, 4]");
}
