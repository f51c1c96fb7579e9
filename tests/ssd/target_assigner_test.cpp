// Target assignment on four anchors and two boxes, by hand.
#include "warmstart/ssd/target_assigner.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

using namespace warmstart::ssd;

// Four quadrant anchors of the unit square.
BoxMatrix<double> Anchors() {
  BoxMatrix<double> a(4, 4);
  a << 0, 0, 0.5, 0.5,
       0.5, 0.5, 1, 1,
       0, 0.5, 0.5, 1,
       0.5, 0, 1, 0.5;
  return a;
}

// g0 equals anchor 0 (IoU 1); g1 covers 80% of anchor 1 (IoU 0.8).
BoxMatrix<double> Groundtruth() {
  BoxMatrix<double> g(2, 4);
  g << 0, 0, 0.5, 0.5,
       0.5, 0.5, 1, 0.9;
  return g;
}

}  // namespace

TEST_CASE("target assigner: targets and weights", "[ssd][target_assigner]") {
  const FasterRcnnBoxCoder coder;
  const TargetAssignment<double> t =
      AssignTargets<double>(Anchors(), Groundtruth(), {2, 0}, 3, ArgMaxMatcher(), coder);
  REQUIRE(t.match == std::vector<int>{0, 1, kUnmatched, kUnmatched});
  REQUIRE(t.num_matches == 2);
  REQUIRE(t.cls_targets.cols() == 4);  // K = 3 + background
  Matrix<double> expected_cls(4, 4);
  expected_cls << 0, 0, 0, 1,   // class 2 -> slot 3 (label map id 3)
                  0, 1, 0, 0,   // class 0 -> slot 1
                  1, 0, 0, 0,
                  1, 0, 0, 0;
  REQUIRE(t.cls_targets == expected_cls);
  REQUIRE(t.cls_weights == Eigen::Vector4d(1, 1, 1, 1));
  REQUIRE(t.reg_weights == Eigen::Vector4d(1, 1, 0, 0));
  REQUIRE(t.reg_targets.row(0).cwiseAbs().maxCoeff() < 1e-6);
  // Anchor 1: centre (0.75, 0.75) 0.5 x 0.5; box centre (0.75, 0.7) 0.5 x 0.4.
  REQUIRE(t.reg_targets(1, 0) == Approx(0).margin(1e-9));
  REQUIRE(t.reg_targets(1, 1) == Approx(-0.05 / 0.5 * 10));
  REQUIRE(t.reg_targets(1, 2) == Approx(0).margin(1e-6));
  REQUIRE(t.reg_targets(1, 3) == Approx(std::log(0.8) * 5));
  REQUIRE(t.reg_targets.bottomRows(2).isZero());
}

TEST_CASE("target assigner: ignored anchors and groundtruth weights", "[ssd][target_assigner]") {
  const FasterRcnnBoxCoder coder;
  ArgMaxMatcherOptions o;
  o.matched_threshold = 0.9;
  o.unmatched_threshold = 0.3;
  // Anchor 1 (IoU 0.8) falls between the thresholds: ignored.
  const TargetAssignment<double> t =
      AssignTargets<double>(Anchors(), Groundtruth(), {2, 0}, 3, ArgMaxMatcher(o), coder, {0.5, 1.0});
  REQUIRE(t.match == std::vector<int>{0, kIgnored, kUnmatched, kUnmatched});
  REQUIRE(t.cls_targets(1, 0) == 1);             // background target...
  REQUIRE(t.cls_weights == Eigen::Vector4d(0.5, 0, 1, 1));  // ...with weight 0
  REQUIRE(t.reg_weights == Eigen::Vector4d(0.5, 0, 0, 0));
  REQUIRE(t.num_matches == 1);

  SECTION("a zero-weight box is not force-matched") {
    o.force_match_for_each_row = true;
    const TargetAssignment<double> f =
        AssignTargets<double>(Anchors(), Groundtruth(), {2, 0}, 3, ArgMaxMatcher(o), coder, {1.0, 0.0});
    REQUIRE(f.match[1] == kIgnored);
    const TargetAssignment<double> g =
        AssignTargets<double>(Anchors(), Groundtruth(), {2, 0}, 3, ArgMaxMatcher(o), coder);
    REQUIRE(g.match[1] == 1);
  }
}

TEST_CASE("target assigner: no groundtruth and bad input", "[ssd][target_assigner]") {
  const FasterRcnnBoxCoder coder;
  const TargetAssignment<float> t =
      AssignTargets<float>(Anchors().cast<float>(), BoxMatrix<float>(0, 4), {}, 2, ArgMaxMatcher(), coder);
  REQUIRE(t.num_matches == 0);
  REQUIRE(t.cls_targets.col(0).sum() == 4);
  REQUIRE(t.cls_weights.sum() == 4);
  REQUIRE(t.reg_weights.sum() == 0);
  REQUIRE_THROWS_AS(AssignTargets<double>(Anchors(), Groundtruth(), {2}, 3, ArgMaxMatcher(), coder),
                    warmstart::ArgumentError);
  REQUIRE_THROWS_AS(AssignTargets<double>(Anchors(), Groundtruth(), {3, 0}, 3, ArgMaxMatcher(), coder),
                    warmstart::ArgumentError);
}
