// Box geometry and greedy NMS, hand-computed (box_list_ops.iou and the
// tf.image.non_max_suppression rules).
#include "warmstart/ssd/box_ops.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace {

using namespace warmstart::ssd;

BoxMatrix<double> Boxes(std::initializer_list<std::array<double, 4>> rows) {
  BoxMatrix<double> b(static_cast<Eigen::Index>(rows.size()), 4);
  Eigen::Index i = 0;
  for (const auto& r : rows) {
    b.row(i++) << r[0], r[1], r[2], r[3];
  }
  return b;
}

}  // namespace

TEST_CASE("box ops: area, intersection, iou", "[ssd][box_ops]") {
  const BoxMatrix<double> a = Boxes({{0, 0, 2, 2}, {0, 0, 1, 4}});
  const BoxMatrix<double> b = Boxes({{1, 1, 3, 3}, {5, 5, 6, 6}, {0, 0, 2, 2}});
  REQUIRE(Area(a)(0) == 4);
  REQUIRE(Area(a)(1) == 4);
  const Matrix<double> inter = Intersection(a, b);
  REQUIRE(inter(0, 0) == 1);  // [1,1]-[2,2]
  REQUIRE(inter(0, 1) == 0);
  REQUIRE(inter(1, 0) == 0);  // y: [1,1] has height 0
  REQUIRE(inter(1, 2) == 2);  // [0,0]-[1,2]
  const Matrix<double> iou = Iou(a, b);
  REQUIRE(iou(0, 0) == Approx(1.0 / 7));
  REQUIRE(iou(0, 1) == 0);
  REQUIRE(iou(0, 2) == 1);
  REQUIRE(iou(1, 2) == Approx(2.0 / 6));
}

TEST_CASE("box ops: zero-area boxes give iou 0, not NaN", "[ssd][box_ops]") {
  const BoxMatrix<double> a = Boxes({{0.5, 0.5, 0.5, 0.5}});
  const Matrix<double> iou = Iou(a, a);
  REQUIRE(iou(0, 0) == 0);
  const Matrix<double> iou2 = Iou(a, Boxes({{0, 0, 1, 1}}));
  REQUIRE(iou2(0, 0) == 0);
}

TEST_CASE("box ops: clip to window and centre/size", "[ssd][box_ops]") {
  const BoxMatrix<double> clipped = ClipToWindow<double>(Boxes({{-0.5, 0.2, 0.5, 1.5}, {2, 2, 3, 3}}), {0, 0, 1, 1});
  REQUIRE(clipped.row(0) == Eigen::RowVector4d(0, 0.2, 0.5, 1));
  REQUIRE(clipped.row(1) == Eigen::RowVector4d(1, 1, 1, 1));
  REQUIRE(Area(clipped)(1) == 0);
  const BoxMatrix<double> cs = CenterSize(Boxes({{0.1, 0.2, 0.5, 0.4}}));
  REQUIRE(cs(0, 0) == Approx(0.3));
  REQUIRE(cs(0, 1) == Approx(0.3));
  REQUIRE(cs(0, 2) == Approx(0.4));
  REQUIRE(cs(0, 3) == Approx(0.2));
}

TEST_CASE("box ops: greedy NMS", "[ssd][box_ops]") {
  // 0 and 1 overlap with IoU 0.81/1.19 = 0.68; 2 is apart; 3 duplicates 2.
  const BoxMatrix<double> b = Boxes({{0, 0, 1, 1}, {0.1, 0.1, 1.0, 1.0}, {2, 2, 3, 3}, {2, 2, 3, 3}});
  Vector<double> s(4);
  s << 0.9, 0.95, 0.5, 0.5;
  SECTION("suppress above the threshold, ties by lower index") {
    REQUIRE(NonMaxSuppression<double>(b, s, 10, 0.5) == std::vector<int>{1, 2});
  }
  SECTION("threshold 1.0 keeps everything, in score order") {
    REQUIRE(NonMaxSuppression<double>(b, s, 10, 1.0) == std::vector<int>{1, 0, 2, 3});
  }
  SECTION("IoU exactly at the threshold is kept (suppress only if >)") {
    REQUIRE(NonMaxSuppression<double>(b, s, 10, 0.81 / 1.0) == std::vector<int>{1, 0, 2});
  }
  SECTION("max_output_size and score threshold") {
    REQUIRE(NonMaxSuppression<double>(b, s, 1, 0.5) == std::vector<int>{1});
    REQUIRE(NonMaxSuppression<double>(b, s, 10, 1.0, 0.5) == std::vector<int>{1, 0});
  }
  SECTION("mismatched sizes") {
    REQUIRE_THROWS_AS(NonMaxSuppression<double>(b, Vector<double>(3), 1, 0.5), warmstart::ArgumentError);
  }
}
