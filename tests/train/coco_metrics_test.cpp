// COCO box mAP on small cases computed by hand from cocoeval.py's rules (evaluateImg, accumulate,
// summarize): perfect detections, a false positive ranked first, partial recall and IoU, crowd
// boxes, categories without groundtruth, the 100-detection cut.
#include "warmstart/train/coco_metrics.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

using warmstart::ssd::BoxMatrix;
using warmstart::ssd::Detections;
using warmstart::train::CocoEvaluator;
using warmstart::train::CocoGroundtruth;
using warmstart::train::CocoMetrics;

using Box = std::array<float, 4>;  // ymin, xmin, ymax, xmax in pixels

BoxMatrix<float> Boxes(const std::vector<Box>& rows) {
  BoxMatrix<float> b(static_cast<Eigen::Index>(rows.size()), 4);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int j = 0; j < 4; ++j) b(static_cast<Eigen::Index>(i), j) = rows[i][static_cast<size_t>(j)];
  }
  return b;
}

CocoGroundtruth<float> Gt(const std::vector<Box>& boxes, std::vector<int> classes, std::vector<bool> crowd = {}) {
  return {Boxes(boxes), std::move(classes), std::move(crowd)};
}

Detections<float> Det(const std::vector<Box>& boxes, const std::vector<float>& scores, std::vector<int> classes) {
  Detections<float> d;
  d.boxes = Boxes(boxes);
  d.scores = Eigen::Map<const warmstart::ssd::Vector<float>>(scores.data(), static_cast<Eigen::Index>(scores.size()));
  d.classes = std::move(classes);
  return d;
}

const Box kA{0, 0, 10, 10};
const Box kFar{50, 50, 60, 60};

}  // namespace

TEST_CASE("coco: perfect detections give 1", "[train][coco]") {
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA, {20, 20, 40, 50}}, {1, 2}), Det({{20, 20, 40, 50}, kA}, {0.8f, 0.9f}, {2, 1}));
  ev.AddImage(Gt({{5, 5, 25, 15}}, {1}), Det({{5, 5, 25, 15}}, {0.7f}, {1}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(1.0));
  REQUIRE(m.map50 == Approx(1.0));
  REQUIRE(m.map75 == Approx(1.0));
  REQUIRE(m.ar100 == 1.0);
  REQUIRE(m.per_category.size() == 2);
  REQUIRE(m.per_category[0].category == 1);
  REQUIRE(m.per_category[0].num_groundtruth == 2);
  REQUIRE(m.per_category[1].ap == Approx(1.0));
}

TEST_CASE("coco: a false positive ranked above the true positive halves AP", "[train][coco]") {
  // Ranked FP, TP: recall [0, 1], precision [0, 1/2] -> envelope [1/2, 1/2] at every recall point.
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA}, {1}), Det({kFar, kA}, {0.9f, 0.8f}, {1, 1}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(0.5));
  REQUIRE(m.map50 == Approx(0.5));
  REQUIRE(m.ar100 == 1.0);

  // Ranked TP, FP: precision 1 until recall 1 is reached, so AP 1.
  CocoEvaluator<float> ranked;
  ranked.AddImage(Gt({kA}, {1}), Det({kFar, kA}, {0.8f, 0.9f}, {1, 1}));
  REQUIRE(ranked.Evaluate().map == Approx(1.0));
}

TEST_CASE("coco: detections of all images are ranked together", "[train][coco]") {
  // .9 FP (image 2), .6 TP (image 1), .5 TP (image 2): recall [0, 1/2, 1], precision [0, 1/2, 2/3]
  // -> envelope 2/3 everywhere.
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA}, {1}), Det({kA}, {0.6f}, {1}));
  ev.AddImage(Gt({kA}, {1}), Det({kFar, kA}, {0.9f, 0.5f}, {1, 1}));
  REQUIRE(ev.Evaluate().map == Approx(2.0 / 3.0));
}

TEST_CASE("coco: partial recall reads precision 0 past the last detection", "[train][coco]") {
  // Two boxes, one found: recall 1/2 with precision 1, so recall points 0, .01, ..., .50 read 1.
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA, kFar}, {1, 1}), Det({kA}, {0.9f}, {1}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(51.0 / 101.0));
  REQUIRE(m.map50 == Approx(51.0 / 101.0));
  REQUIRE(m.ar100 == Approx(0.5));
}

TEST_CASE("coco: IoU 0.725 matches at .50 to .70 only", "[train][coco]") {
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA}, {1}), Det({{0, 0, 7.25f, 10}}, {0.9f}, {1}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(0.5));  // 5 of 10 thresholds
  REQUIRE(m.map50 == Approx(1.0));
  REQUIRE(m.map75 == 0.0);
  REQUIRE(m.ar100 == Approx(0.5));
}

TEST_CASE("coco: crowd boxes are ignored and absorb any number of detections", "[train][coco]") {
  const Box crowd{20, 20, 60, 60};
  const std::vector<Box> dets{{30, 30, 40, 40}, {45, 45, 55, 55}, kA};  // two inside the crowd box
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA, crowd}, {1, 1}, {false, true}), Det(dets, {0.95f, 0.93f, 0.9f}, {1, 1, 1}));
  // A category whose only box is a crowd has no groundtruth: left out.
  ev.AddImage(Gt({crowd}, {3}, {true}), Det({{30, 30, 40, 40}}, {0.5f}, {3}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(1.0));
  REQUIRE(m.per_category.size() == 2);
  REQUIRE(m.per_category[0].num_groundtruth == 1);
  REQUIRE(m.per_category[1].category == 3);
  REQUIRE(m.per_category[1].ap == -1);

  // The same box not marked crowd: the detections inside it are false positives ranked first and it
  // is never found.
  CocoEvaluator<float> plain;
  plain.AddImage(Gt({kA, crowd}, {1, 1}), Det(dets, {0.95f, 0.93f, 0.9f}, {1, 1, 1}));
  REQUIRE(plain.Evaluate().map < 0.5);
}

TEST_CASE("coco: a category without groundtruth is left out of the mean", "[train][coco]") {
  CocoEvaluator<float> ev;
  ev.AddImage(Gt({kA}, {1}), Det({kA, kFar}, {0.5f, 0.99f}, {1, 2}));
  const CocoMetrics m = ev.Evaluate();
  REQUIRE(m.map == Approx(1.0));
  REQUIRE(m.per_category.size() == 2);
  REQUIRE(m.per_category[1].category == 2);
  REQUIRE(m.per_category[1].ap == -1);
  REQUIRE(m.per_category[1].ar100 == -1);

  CocoEvaluator<float> none;
  none.AddImage(Gt({}, {}), Det({kFar}, {0.9f}, {2}));
  REQUIRE(none.Evaluate().map == -1);
  REQUIRE(CocoEvaluator<float>().Evaluate().map == -1);
}

TEST_CASE("coco: only the 100 best detections of an image and category count", "[train][coco]") {
  auto run = [](int false_positives) {
    std::vector<Box> boxes(static_cast<size_t>(false_positives), kFar);
    std::vector<float> scores(static_cast<size_t>(false_positives), 0.9f);
    std::vector<int> classes(static_cast<size_t>(false_positives), 1);
    boxes.push_back(kA);
    scores.push_back(0.1f);
    classes.push_back(1);
    CocoEvaluator<float> ev;
    ev.AddImage(Gt({kA}, {1}), Det(boxes, scores, classes));
    return ev.Evaluate().map;
  };
  REQUIRE(run(99) == Approx(0.01));  // the true positive is 100th: precision 1/100 at recall 1
  REQUIRE(run(100) == 0.0);          // the true positive is 101st: cut
}

TEST_CASE("coco: inconsistent inputs are refused", "[train][coco]") {
  CocoEvaluator<float> ev;
  REQUIRE_THROWS_WITH(ev.AddImage(Gt({kA}, {1, 2}), Det({}, {}, {})),
                      "CocoEvaluator: 1 groundtruth boxes but 2 classes and 0 is_crowd flags");
  REQUIRE_THROWS_WITH(ev.AddImage(Gt({kA}, {1}), Det({kA}, {0.5f, 0.4f}, {1})),
                      "CocoEvaluator: 1 detection boxes but 2 scores and 1 classes");
  REQUIRE(ev.num_images() == 0);
}
