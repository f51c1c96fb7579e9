// Post-processing: score converters with logit_scale, per-class NMS (overlap,
// score threshold, classes kept apart, caps, ordering), clipping, and the
// background column dropped so classes come out 0-based.
#include "warmstart/ssd/post_processing.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

using namespace warmstart::ssd;

BoxMatrix<double> Boxes() {
  BoxMatrix<double> b(4, 4);
  b << 0, 0, 1, 1,
       0, 0, 0.9, 1,        // IoU 0.9 with box 0
       0.5, 0.5, 1.5, 1.5,  // IoU 1/7 with box 0
       2, 2, 3, 3;          // outside the unit window
  return b;
}

Matrix<double> Scores() {
  Matrix<double> s(4, 2);
  s << 0.9, 0.1,
       0.8, 0.7,
       0.3, 0.6,
       0.95, 0.0;
  return s;
}

NmsOptions Options() {
  NmsOptions o;
  o.score_threshold = 0.2;
  o.iou_threshold = 0.5;
  o.max_detections_per_class = 10;
  o.max_total_detections = 10;
  return o;
}

}  // namespace

TEST_CASE("post-processing: score converters", "[ssd][post_processing]") {
  Matrix<double> x(1, 2);
  x << 0, std::log(3.0);
  REQUIRE(ConvertScores(x, ScoreConverter::kSoftmax)(0, 1) == Approx(0.75));
  REQUIRE(ConvertScores(x, ScoreConverter::kSigmoid)(0, 0) == Approx(0.5));
  REQUIRE(ConvertScores(x, ScoreConverter::kSigmoid)(0, 1) == Approx(0.75));
  REQUIRE(ConvertScores(x, ScoreConverter::kIdentity, 2.0)(0, 1) == Approx(std::log(3.0) / 2));
  // logit_scale 0.5 doubles the logits: softmax [0, 2 ln 3] -> [0.1, 0.9].
  REQUIRE(ConvertScores(x, ScoreConverter::kSoftmax, 0.5)(0, 1) == Approx(0.9));
  REQUIRE_THROWS_AS(ConvertScores(x, ScoreConverter::kSoftmax, 0.0), warmstart::ArgumentError);
}

TEST_CASE("post-processing: per-class NMS", "[ssd][post_processing]") {
  const Detections<double> d = MulticlassNonMaxSuppression(Boxes(), Scores(), Options());
  // class 0: 3 (0.95), 0 (0.9), 1 suppressed by 0, 2 (0.3); class 1: 1 (0.7),
  // 2 (0.6), 0 below the threshold. Box 1 survives in class 1: classes are apart.
  REQUIRE(d.num_detections() == 5);
  REQUIRE(d.classes == std::vector<int>{0, 0, 1, 1, 0});
  REQUIRE(d.scores(0) == 0.95);
  REQUIRE(d.scores(1) == 0.9);
  REQUIRE(d.scores(2) == 0.7);
  REQUIRE(d.scores(3) == 0.6);
  REQUIRE(d.scores(4) == 0.3);
  REQUIRE(d.boxes.row(2) == Boxes().row(1));

  SECTION("caps") {
    NmsOptions o = Options();
    o.max_total_detections = 3;
    REQUIRE(MulticlassNonMaxSuppression(Boxes(), Scores(), o).classes == std::vector<int>{0, 0, 1});
    o.max_detections_per_class = 1;
    const Detections<double> one = MulticlassNonMaxSuppression(Boxes(), Scores(), o);
    REQUIRE(one.classes == std::vector<int>{0, 1});
    REQUIRE(one.scores(1) == 0.7);
  }
  SECTION("score threshold is strict") {
    NmsOptions o = Options();
    o.score_threshold = 0.6;
    REQUIRE(MulticlassNonMaxSuppression(Boxes(), Scores(), o).num_detections() == 3);
  }
  SECTION("clip window clips and drops boxes left with no area") {
    NmsOptions o = Options();
    o.clip_window = Window<double>{0, 0, 1, 1};
    const Detections<double> c = MulticlassNonMaxSuppression(Boxes(), Scores(), o);
    REQUIRE(c.classes == std::vector<int>{0, 1, 1, 0});
    REQUIRE(c.scores(0) == 0.9);
    REQUIRE(c.boxes.row(2) == Eigen::RowVector4d(0.5, 0.5, 1, 1));
  }
  SECTION("bad input") {
    NmsOptions o = Options();
    o.iou_threshold = 1.5;
    REQUIRE_THROWS_AS(MulticlassNonMaxSuppression(Boxes(), Scores(), o), warmstart::ArgumentError);
    REQUIRE_THROWS_AS(MulticlassNonMaxSuppression(Boxes(), Matrix<double>(3, 2), Options()), warmstart::ArgumentError);
  }
}

TEST_CASE("post-processing: decode, convert, drop background", "[ssd][post_processing]") {
  BoxMatrix<float> anchors(2, 4);
  anchors << 0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1;
  const BoxMatrix<float> codes = BoxMatrix<float>::Zero(2, 4);  // decode to the anchors
  Matrix<float> logits(2, 3);  // background, class 0, class 1
  logits << 0, 5, 0,
            5, 0, 0;  // anchor 1 is background
  NmsOptions o;
  o.score_threshold = 0.5;
  const Detections<float> d = PostProcess(codes, logits, anchors, FasterRcnnBoxCoder(), ScoreConverter::kSoftmax, 1.0, o);
  REQUIRE(d.num_detections() == 1);
  REQUIRE(d.classes[0] == 0);  // label map id 1
  REQUIRE(d.boxes.row(0).isApprox(anchors.row(0), 1e-6f));
  REQUIRE(d.scores(0) == Approx(std::exp(5.0) / (std::exp(5.0) + 2)));
}
