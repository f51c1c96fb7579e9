// DepthwiseConv2D: the vectorised direct loop against the nested-loop reference (multipliers 1
// and 3, odd shapes, strides, SAME/VALID), central differences in double, 1 versus 2 threads.
#include "warmstart/nn/depthwise_conv2d.hpp"

#include <catch2/catch.hpp>

#include <random>

#include "nn/nn_test_util.hpp"
#include "warmstart/nn/reference.hpp"

namespace {

using namespace warmstart::nn;
using nn_test::MaxDiff;
using nn_test::Random4;

struct Case {
  Shape4 input;
  Index kh, kw, mult, stride_h, stride_w;
  Padding padding;
};

const Case kCases[] = {
    {{2, 7, 5, 3}, 3, 3, 1, 1, 1, Padding::kSame},  {{2, 7, 5, 13}, 3, 3, 1, 2, 2, Padding::kSame},
    {{2, 8, 6, 5}, 3, 3, 1, 2, 2, Padding::kValid}, {{1, 6, 9, 11}, 1, 1, 1, 1, 1, Padding::kSame},
    {{3, 6, 7, 5}, 3, 3, 3, 1, 1, Padding::kSame},  {{2, 9, 9, 4}, 5, 3, 2, 3, 2, Padding::kValid},
    // Channel counts of the vectorised 3x3 paths (8 / 16 channels per step) and their tails.
    {{2, 6, 5, 16}, 3, 3, 1, 1, 1, Padding::kSame}, {{2, 8, 7, 24}, 3, 3, 1, 2, 2, Padding::kSame},
    {{1, 5, 6, 37}, 3, 3, 1, 1, 1, Padding::kSame},
};

DepthwiseConv2DOptions OptionsFor(const Case& k, bool use_bias) {
  DepthwiseConv2DOptions o;
  o.kernel_h = k.kh;
  o.kernel_w = k.kw;
  o.in_channels = k.input[3];
  o.depth_multiplier = k.mult;
  o.stride_h = k.stride_h;
  o.stride_w = k.stride_w;
  o.padding = k.padding;
  o.use_bias = use_bias;
  return o;
}

template <class T>
void CheckAgainstReference(const Case& k, bool use_bias, int threads, double tolerance) {
  std::mt19937 rng(11);
  DepthwiseConv2D<T> layer("Conv2d_1_depthwise", OptionsFor(k, use_bias));
  nn_test::FillRandom(layer.weights().value.data(), layer.weights().NumElements(), rng);
  if (use_bias) nn_test::FillRandom(layer.biases()->value.data(), layer.out_channels(), rng);
  const Tensor4<T> x = Random4<T>(k.input, rng);
  const Tensor4<T> w = layer.weights().Value4();
  Context ctx(threads);
  const Tensor4<T> y = layer.Forward(ctx, x);
  Tensor4<T> expected = reference::DepthwiseConv2D(x, w, k.stride_h, k.stride_w, k.padding);
  if (use_bias) {
    for (Index i = 0; i < expected.size(); ++i) expected.data()[i] += layer.biases()->value(i % layer.out_channels());
  }
  CHECK(MaxDiff(y, expected) < tolerance);
  const Tensor4<T> dy = Random4<T>(ShapeOf(y), rng);
  const Tensor4<T> dx = layer.Backward(ctx, dy);
  const auto ref = reference::DepthwiseConv2DBackward(x, w, dy, k.stride_h, k.stride_w, k.padding);
  CHECK(MaxDiff(dx, ref.dx) < tolerance);
  CHECK(MaxDiff(layer.weights().gradient.data(), ref.dw.data(), ref.dw.size()) < tolerance);
}

}  // namespace

TEST_CASE("DepthwiseConv2D matches the reference forward and backward", "[nn][depthwise]") {
  for (const Case& k : kCases) {
    INFO("input " << ShapeString(k.input) << " kernel " << k.kh << "x" << k.kw << " multiplier " << k.mult
                  << " stride " << k.stride_h << "x" << k.stride_w << " " << PaddingName(k.padding));
    CheckAgainstReference<float>(k, false, 1, 1e-5);
    CheckAgainstReference<float>(k, true, 2, 1e-5);
    CheckAgainstReference<double>(k, false, 2, 1e-12);
  }
}

TEST_CASE("DepthwiseConv2D gradients match central differences", "[nn][depthwise]") {
  for (const Case& k : {kCases[1], kCases[4], kCases[5]}) {
    std::mt19937 rng(5);
    DepthwiseConv2D<double> layer("Dw", OptionsFor(k, true));
    nn_test::FillRandom(layer.weights().value.data(), layer.weights().NumElements(), rng);
    nn_test::FillRandom(layer.biases()->value.data(), layer.out_channels(), rng);
    Tensor4<double> x = Random4<double>(k.input, rng);
    Context ctx(1);
    const Tensor4<double> r = Random4<double>(layer.OutputShape(k.input), rng);
    auto loss = [&] { return nn_test::Dot(layer.Forward(ctx, x), r); };
    loss();
    const Tensor4<double> dx = layer.Backward(ctx, r);
    const Eigen::ArrayXd dw = layer.weights().gradient, db = layer.biases()->gradient;
    CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), loss) < 1e-6);
    CHECK(nn_test::GradientError(layer.weights().value.data(), dw.size(), dw.data(), loss) < 1e-6);
    CHECK(nn_test::GradientError(layer.biases()->value.data(), db.size(), db.data(), loss) < 1e-6);
  }
}

TEST_CASE("DepthwiseConv2D gives the same results with 1 and 2 threads", "[nn][depthwise]") {
  std::mt19937 rng(9);
  const Case k = kCases[1];
  DepthwiseConv2D<float> one("A", OptionsFor(k, false)), two("B", OptionsFor(k, false));
  nn_test::FillRandom(one.weights().value.data(), one.weights().NumElements(), rng);
  two.weights().value = one.weights().value;
  const Tensor4<float> x = Random4<float>(k.input, rng);
  Context c1(1), c2(2);
  const Tensor4<float> y1 = one.Forward(c1, x), y2 = two.Forward(c2, x);
  CHECK(MaxDiff(y1, y2) == 0);  // forward splits output rows: identical arithmetic
  const Tensor4<float> dy = Random4<float>(ShapeOf(y1), rng);
  CHECK(MaxDiff(one.Backward(c1, dy), two.Backward(c2, dy)) == 0);
  CHECK(MaxDiff(one.weights().gradient.data(), two.weights().gradient.data(), one.weights().NumElements()) < 1e-6);
}

TEST_CASE("DepthwiseConv2D names its kernel like slim's separable_conv2d", "[nn][depthwise]") {
  DepthwiseConv2DOptions o;
  o.in_channels = 32;
  o.stride_h = o.stride_w = 2;
  DepthwiseConv2D<float> layer("FeatureExtractor/MobilenetV1/Conv2d_2_depthwise", o);
  CHECK(layer.weights().name == "FeatureExtractor/MobilenetV1/Conv2d_2_depthwise/depthwise_weights");
  CHECK(layer.weights().shape == std::vector<Index>{3, 3, 32, 1});
  CHECK(layer.OutputShape({8, 150, 150, 32}) == Shape4{8, 75, 75, 32});
  Context ctx(1);
  CHECK_THROWS_WITH(layer.Forward(ctx, Zeros4<float>({1, 4, 4, 31})),
                    "DepthwiseConv2D 'FeatureExtractor/MobilenetV1/Conv2d_2_depthwise/depthwise_weights': input: "
                    "expected 32 channels (NHWC dimension 3), found shape [1, 4, 4, 31]");
}
