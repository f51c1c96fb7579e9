// Conv2D: the GEMM / im2col layer against the nested-loop reference (forward and backward, odd
// shapes, strides 1 and 2, SAME and VALID, kernels 1 and 3, channels not multiples of 8),
// central-difference gradients in double, 1 versus 2 threads, and the refusals.
#include "warmstart/nn/conv2d.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "nn/nn_test_util.hpp"
#include "warmstart/nn/reference.hpp"

namespace {

using namespace warmstart::nn;
using nn_test::MaxDiff;
using nn_test::Random4;

struct Case {
  Shape4 input;
  Index kh, kw, out, stride_h, stride_w;
  Padding padding;
};

const Case kCases[] = {
    {{2, 7, 5, 3}, 3, 3, 5, 1, 1, Padding::kSame},   {{2, 7, 5, 3}, 3, 3, 5, 2, 2, Padding::kSame},
    {{2, 7, 5, 3}, 3, 3, 5, 2, 2, Padding::kValid},  {{1, 6, 9, 11}, 1, 1, 13, 1, 1, Padding::kSame},
    {{3, 6, 9, 11}, 1, 1, 13, 2, 2, Padding::kSame}, {{3, 5, 5, 9}, 1, 1, 7, 1, 1, Padding::kValid},
    {{2, 8, 6, 5}, 3, 2, 6, 2, 1, Padding::kSame},   {{1, 9, 9, 4}, 5, 3, 3, 3, 2, Padding::kValid},
    {{3, 4, 3, 17}, 3, 3, 9, 1, 1, Padding::kSame},
};

template <class T>
void CheckAgainstReference(const Case& k, bool use_bias, int threads, double tolerance) {
  std::mt19937 rng(42);
  Conv2DOptions o;
  o.kernel_h = k.kh;
  o.kernel_w = k.kw;
  o.in_channels = k.input[3];
  o.out_channels = k.out;
  o.stride_h = k.stride_h;
  o.stride_w = k.stride_w;
  o.padding = k.padding;
  o.use_bias = use_bias;
  Conv2D<T> conv("Conv", o);
  nn_test::FillRandom(conv.weights().value.data(), conv.weights().NumElements(), rng);
  if (use_bias) nn_test::FillRandom(conv.biases()->value.data(), k.out, rng);
  const Tensor4<T> x = Random4<T>(k.input, rng);
  const Tensor4<T> w = conv.weights().Value4();

  Context ctx(threads);
  const Tensor4<T> y = conv.Forward(ctx, x);
  Tensor4<T> expected = reference::Conv2D(x, w, k.stride_h, k.stride_w, k.padding);
  if (use_bias) {
    for (Index i = 0; i < expected.size(); ++i) expected.data()[i] += conv.biases()->value(i % k.out);
  }
  CHECK(MaxDiff(y, expected) < tolerance);

  const Tensor4<T> dy = Random4<T>(ShapeOf(y), rng);
  const Tensor4<T> dx = conv.Backward(ctx, dy);
  const auto ref = reference::Conv2DBackward(x, w, dy, k.stride_h, k.stride_w, k.padding);
  CHECK(MaxDiff(dx, ref.dx) < tolerance);
  CHECK(MaxDiff(conv.weights().gradient.data(), ref.dw.data(), ref.dw.size()) < tolerance);
  if (use_bias) {
    for (Index c = 0; c < k.out; ++c) {
      double sum = 0;
      for (Index i = c; i < dy.size(); i += k.out) sum += dy.data()[i];
      CHECK(conv.biases()->gradient(c) == Approx(sum).epsilon(tolerance).margin(tolerance));
    }
  }
}

}  // namespace

TEST_CASE("Conv2D matches the reference forward and backward", "[nn][conv2d]") {
  for (const Case& k : kCases) {
    INFO("input " << ShapeString(k.input) << " kernel " << k.kh << "x" << k.kw << " stride " << k.stride_h << "x"
                  << k.stride_w << " " << PaddingName(k.padding));
    CheckAgainstReference<float>(k, false, 1, 1e-5);
    CheckAgainstReference<float>(k, true, 2, 1e-5);
    CheckAgainstReference<double>(k, true, 2, 1e-12);
  }
}

TEST_CASE("Conv2D im2col blocks span images and block boundaries", "[nn][conv2d]") {
  // 64 KiB / (3*3*40*4 bytes) = 45 patch rows per block: blocks straddle rows and images.
  CheckAgainstReference<float>({{3, 9, 7, 40}, 3, 3, 6, 1, 1, Padding::kSame}, true, 2, 1e-5);
}

TEST_CASE("Conv2D gradients match central differences", "[nn][conv2d]") {
  for (const Case& k : {kCases[1], kCases[4], kCases[7]}) {
    std::mt19937 rng(7);
    Conv2DOptions o;
    o.kernel_h = k.kh;
    o.kernel_w = k.kw;
    o.in_channels = k.input[3];
    o.out_channels = k.out;
    o.stride_h = k.stride_h;
    o.stride_w = k.stride_w;
    o.padding = k.padding;
    o.use_bias = true;
    Conv2D<double> conv("Conv", o);
    nn_test::FillRandom(conv.weights().value.data(), conv.weights().NumElements(), rng);
    nn_test::FillRandom(conv.biases()->value.data(), k.out, rng);
    Tensor4<double> x = Random4<double>(k.input, rng);
    Context ctx(1);
    const Tensor4<double> r = Random4<double>(conv.OutputShape(k.input), rng);
    auto loss = [&] { return nn_test::Dot(conv.Forward(ctx, x), r); };
    loss();
    const Tensor4<double> dx = conv.Backward(ctx, r);
    const Eigen::ArrayXd dw = conv.weights().gradient, db = conv.biases()->gradient;
    CHECK(nn_test::GradientError(x.data(), x.size(), dx.data(), loss) < 1e-6);
    CHECK(nn_test::GradientError(conv.weights().value.data(), dw.size(), dw.data(), loss) < 1e-6);
    CHECK(nn_test::GradientError(conv.biases()->value.data(), db.size(), db.data(), loss) < 1e-6);
  }
}

TEST_CASE("Conv2D gives the same results with 1 and 2 threads", "[nn][conv2d]") {
  for (const Case& k : {kCases[0], kCases[3], kCases[4]}) {
    std::mt19937 rng(3);
    Conv2DOptions o;
    o.kernel_h = k.kh;
    o.kernel_w = k.kw;
    o.in_channels = k.input[3];
    o.out_channels = k.out;
    o.stride_h = k.stride_h;
    o.stride_w = k.stride_w;
    o.padding = k.padding;
    Conv2D<float> one("A", o), two("B", o);
    nn_test::FillRandom(one.weights().value.data(), one.weights().NumElements(), rng);
    two.weights().value = one.weights().value;
    const Tensor4<float> x = Random4<float>(k.input, rng);
    Context c1(1), c2(2);
    const Tensor4<float> y1 = one.Forward(c1, x), y2 = two.Forward(c2, x);
    CHECK(MaxDiff(y1, y2) < 1e-6);
    const Tensor4<float> dy = Random4<float>(ShapeOf(y1), rng);
    CHECK(MaxDiff(one.Backward(c1, dy), two.Backward(c2, dy)) < 1e-6);
    CHECK(MaxDiff(one.weights().gradient.data(), two.weights().gradient.data(), one.weights().NumElements()) < 1e-6);
  }
}

TEST_CASE("Conv2D names its variables like slim and reports shapes", "[nn][conv2d]") {
  Conv2DOptions o;
  o.kernel_h = o.kernel_w = 3;
  o.in_channels = 3;
  o.out_channels = 32;
  o.stride_h = o.stride_w = 2;
  o.use_bias = true;
  Conv2D<float> conv("FeatureExtractor/MobilenetV1/Conv2d_0", o);
  ParameterList<float> list;
  conv.CollectParameters(list);
  const auto infos = list.Infos();
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].name == "FeatureExtractor/MobilenetV1/Conv2d_0/weights");
  CHECK(infos[0].shape == std::vector<int64_t>{3, 3, 3, 32});
  CHECK(infos[1].name == "FeatureExtractor/MobilenetV1/Conv2d_0/biases");
  CHECK(infos[1].shape == std::vector<int64_t>{32});
  CHECK(conv.OutputShape({8, 300, 300, 3}) == Shape4{8, 150, 150, 32});
}

TEST_CASE("Conv2D refuses bad shapes with precise messages", "[nn][conv2d]") {
  Conv2DOptions o;
  o.kernel_h = o.kernel_w = 3;
  o.in_channels = 4;
  o.out_channels = 2;
  o.padding = Padding::kValid;
  Conv2D<float> conv("Conv", o);
  Context ctx(1);
  CHECK_THROWS_WITH(conv.Forward(ctx, Zeros4<float>({1, 5, 5, 3})),
                    "Conv2D 'Conv/weights': input: expected 4 channels (NHWC dimension 3), found shape [1, 5, 5, 3]");
  CHECK_THROWS_WITH(conv.Forward(ctx, Zeros4<float>({1, 2, 5, 4})),
                    "Conv2D 'Conv/weights': a 3x3 VALID window does not fit input [1, 2, 5, 4]");
  CHECK_THROWS_WITH(conv.Backward(ctx, Zeros4<float>({1, 3, 3, 2})),
                    "Conv2D 'Conv/weights': Backward called without a Forward");
  const Tensor4<float> x = Zeros4<float>({1, 5, 5, 4});
  conv.Forward(ctx, x);
  CHECK_THROWS_WITH(conv.Backward(ctx, Zeros4<float>({1, 3, 4, 2})),
                    "Conv2D 'Conv/weights': dy: expected shape [1, 3, 3, 2], found [1, 3, 4, 2]");
  o.stride_h = 0;
  CHECK_THROWS_AS(Conv2D<float>("Bad", o), warmstart::ArgumentError);
}
