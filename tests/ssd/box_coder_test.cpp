// Faster R-CNN box coder with scales (10, 10, 5, 5): hand-computed codes,
// round trip, epsilon for zero sizes, the exp clamp.
#include "warmstart/ssd/box_coder.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

namespace {

using namespace warmstart::ssd;

BoxMatrix<double> Row(double a, double b, double c, double d) {
  BoxMatrix<double> m(1, 4);
  m << a, b, c, d;
  return m;
}

}  // namespace

TEST_CASE("box coder: encode by hand", "[ssd][box_coder]") {
  const FasterRcnnBoxCoder coder;
  REQUIRE(coder.code_size() == 4);
  // Anchor centre (0.5, 0.5) size 0.2 x 0.4; box centre (0.55, 0.4) size 0.4 x 0.2.
  const BoxMatrix<double> anchor = Row(0.4, 0.3, 0.6, 0.7);
  const BoxMatrix<double> box = Row(0.35, 0.3, 0.75, 0.5);
  const BoxMatrix<double> code = coder.Encode(box, anchor);
  REQUIRE(code(0, 0) == Approx(0.05 / 0.2 * 10));
  REQUIRE(code(0, 1) == Approx(-0.1 / 0.4 * 10));
  REQUIRE(code(0, 2) == Approx(std::log(2.0) * 5));
  REQUIRE(code(0, 3) == Approx(std::log(0.5) * 5));

  const FasterRcnnBoxCoder unscaled(std::nullopt);
  const BoxMatrix<double> raw = unscaled.Encode(box, anchor);
  REQUIRE(raw(0, 0) == Approx(0.25));
  REQUIRE(raw(0, 2) == Approx(std::log(2.0)));
}

TEST_CASE("box coder: decode inverts encode", "[ssd][box_coder]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.05, 0.45);
  BoxMatrix<double> boxes(50, 4), anchors(50, 4);
  for (int i = 0; i < 50; ++i) {
    const double y = u(rng), x = u(rng), ay = u(rng), ax = u(rng);
    boxes.row(i) << y, x, y + u(rng), x + u(rng);
    anchors.row(i) << ay, ax, ay + u(rng), ax + u(rng);
  }
  const FasterRcnnBoxCoder coder;
  const BoxMatrix<double> back = coder.Decode(coder.Encode(boxes, anchors), anchors);
  REQUIRE((back - boxes).cwiseAbs().maxCoeff() < 1e-6);  // epsilon 1e-8 in sizes
  const BoxMatrix<float> backf = coder.Decode<float>(coder.Encode<float>(boxes.cast<float>(), anchors.cast<float>()),
                                                     anchors.cast<float>());
  REQUIRE((backf.cast<double>() - boxes).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("box coder: zero-size boxes stay finite", "[ssd][box_coder]") {
  const FasterRcnnBoxCoder coder;
  const BoxMatrix<double> code = coder.Encode(Row(0.5, 0.5, 0.5, 0.5), Row(0.5, 0.5, 0.5, 0.5));
  REQUIRE(code.allFinite());
  REQUIRE(code(0, 2) == 0);  // log((0 + eps) / (0 + eps))
  const BoxMatrix<double> to_point = coder.Encode(Row(0.5, 0.5, 0.5, 0.5), Row(0.4, 0.4, 0.6, 0.6));
  REQUIRE(to_point(0, 2) == Approx(std::log(1e-8 / (0.2 + 1e-8)) * 5));
}

TEST_CASE("box coder: decode clamps the log-size at 80", "[ssd][box_coder]") {
  const FasterRcnnBoxCoder coder;
  const BoxMatrix<double> box = coder.Decode(Row(0, 0, 5 * 1000.0, 5 * 1000.0), Row(0, 0, 1, 1));
  REQUIRE(box.allFinite());
  REQUIRE(box(0, 2) - box(0, 0) == Approx(std::exp(80.0)));
  // In float32 exp(89) is inf; the clamp keeps exp(80) * 0.01 finite.
  BoxMatrix<float> codes = BoxMatrix<float>::Constant(1, 4, 1e4f);
  BoxMatrix<float> anchor(1, 4);
  anchor << 0.f, 0.f, 0.01f, 0.01f;
  REQUIRE(coder.Decode<float>(codes, anchor).allFinite());
}

TEST_CASE("box coder: bad scales and row counts", "[ssd][box_coder]") {
  REQUIRE_THROWS_AS(FasterRcnnBoxCoder(std::array<double, 4>{10, 0, 5, 5}), warmstart::ArgumentError);
  const FasterRcnnBoxCoder coder;
  REQUIRE_THROWS_AS(coder.Encode(BoxMatrix<double>(2, 4), BoxMatrix<double>(3, 4)), warmstart::ArgumentError);
}
