// SSD losses: hand values, finite-difference gradient checks (double) for
// every Forward/Backward pair, hard example mining on a tiny image, and the
// ssd_meta_arch normalisation.
#include "warmstart/ssd/losses.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

namespace {

using namespace warmstart::ssd;

Matrix<double> RandomMatrix(Eigen::Index rows, Eigen::Index cols, unsigned seed, double scale = 2.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  Matrix<double> m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
  return m;
}

Matrix<double> OneHot(const std::vector<int>& classes, int k) {
  Matrix<double> m = Matrix<double>::Zero(static_cast<Eigen::Index>(classes.size()), k);
  for (size_t i = 0; i < classes.size(); ++i) m(static_cast<Eigen::Index>(i), classes[i]) = 1;
  return m;
}

// Central differences of sum_i dloss_i * loss_i against the analytic gradient.
template <typename M, typename Loss>
void CheckGradient(const Loss& loss, M pred, const M& target, const Vector<double>& weights) {
  const Vector<double> dloss = RandomMatrix(pred.rows(), 1, 99, 1.0);
  const M analytic = loss.template Backward<double>(pred, target, weights, dloss);
  const double h = 1e-6;
  for (Eigen::Index i = 0; i < pred.rows(); ++i) {
    for (Eigen::Index k = 0; k < pred.cols(); ++k) {
      const double saved = pred(i, k);
      pred(i, k) = saved + h;
      const double up = loss.template Forward<double>(pred, target, weights).dot(dloss);
      pred(i, k) = saved - h;
      const double down = loss.template Forward<double>(pred, target, weights).dot(dloss);
      pred(i, k) = saved;
      INFO("entry " << i << "," << k);
      REQUIRE(analytic(i, k) == Approx((up - down) / (2 * h)).margin(1e-7));
    }
  }
}

Vector<double> Weights() {
  Vector<double> w(5);
  w << 1.0, 0.5, 0.0, 2.0, 1.0;
  return w;
}

}  // namespace

TEST_CASE("losses: hand values", "[ssd][losses]") {
  Matrix<double> x(1, 2);
  x << 0, 0;
  const Matrix<double> z = OneHot({0}, 2);
  const Vector<double> w = Vector<double>::Ones(1);
  REQUIRE(WeightedSigmoidClassificationLoss().Forward(x, z, w)(0) == Approx(2 * std::log(2.0)));
  REQUIRE(WeightedSoftmaxClassificationLoss().Forward(x, z, w)(0) == Approx(std::log(2.0)));
  // Focal at p = 0.5: each entry alpha_t * 0.25 * log 2; alpha_t 0.25 for z=1, 0.75 for z=0.
  REQUIRE(SigmoidFocalClassificationLoss().Forward(x, z, w)(0) == Approx((0.25 + 0.75) * 0.25 * std::log(2.0)));
  REQUIRE(SigmoidFocalClassificationLoss(0.0, std::nullopt).Forward(x, z, w)(0) ==
          Approx(2 * std::log(2.0)));
  // logit_scale 2: logits [2, 0] act as [1, 0].
  x << 2, 0;
  REQUIRE(WeightedSoftmaxClassificationLoss(2.0).Forward(x, z, w)(0) == Approx(std::log1p(std::exp(-1.0))));
  BoxMatrix<double> codes(1, 4), targets(1, 4);
  codes << 0.5, 3.0, -2.0, 0.0;
  targets << 0, 0, 0, std::nan("");
  // 0.5 * 0.25 + (3 - 0.5) + (2 - 0.5) + 0 (NaN target ignored)
  REQUIRE(WeightedSmoothL1LocalizationLoss().Forward(codes, targets, w)(0) == Approx(0.125 + 2.5 + 1.5));
  REQUIRE(WeightedSmoothL1LocalizationLoss(2.0).Forward(codes, targets, w)(0) == Approx(0.125 + 4 + 2));
  Vector<double> half(1);
  half << 0.5;
  REQUIRE(WeightedSigmoidClassificationLoss().Forward(x, z, half)(0) ==
          Approx(0.5 * WeightedSigmoidClassificationLoss().Forward(x, z, w)(0)));
}

TEST_CASE("losses: extreme logits stay finite", "[ssd][losses]") {
  Matrix<double> x(1, 3);
  x << 800, -800, 0;
  const Matrix<double> z = OneHot({1}, 3);
  const Vector<double> w = Vector<double>::Ones(1), d = Vector<double>::Ones(1);
  REQUIRE(WeightedSigmoidClassificationLoss().Forward(x, z, w).allFinite());
  REQUIRE(WeightedSoftmaxClassificationLoss().Forward(x, z, w)(0) == Approx(1600));
  REQUIRE(SigmoidFocalClassificationLoss().Backward(x, z, w, d).allFinite());
  REQUIRE(SigmoidFocalClassificationLoss(0.5).Backward(x, OneHot({0}, 3), w, d).allFinite());
}

TEST_CASE("losses: finite-difference gradients", "[ssd][losses]") {
  const Matrix<double> logits = RandomMatrix(5, 4, 1);
  const Matrix<double> z = OneHot({0, 1, 3, 0, 2}, 4);
  SECTION("sigmoid") { CheckGradient(WeightedSigmoidClassificationLoss(), logits, z, Weights()); }
  SECTION("softmax") { CheckGradient(WeightedSoftmaxClassificationLoss(), logits, z, Weights()); }
  SECTION("softmax, logit_scale 0.7") { CheckGradient(WeightedSoftmaxClassificationLoss(0.7), logits, z, Weights()); }
  SECTION("focal") { CheckGradient(SigmoidFocalClassificationLoss(2.0, 0.25), logits, z, Weights()); }
  SECTION("focal, gamma 1.5 no alpha") { CheckGradient(SigmoidFocalClassificationLoss(1.5, std::nullopt), logits, z, Weights()); }
  SECTION("smooth L1 on both branches") {
    BoxMatrix<double> codes = RandomMatrix(5, 4, 2, 3.0);
    const BoxMatrix<double> targets = RandomMatrix(5, 4, 3, 0.5);
    CheckGradient(WeightedSmoothL1LocalizationLoss(), codes, targets, Weights());
    CheckGradient(WeightedSmoothL1LocalizationLoss(0.3), codes, targets, Weights());
  }
}

TEST_CASE("losses: shape mismatch", "[ssd][losses]") {
  REQUIRE_THROWS_AS(WeightedSigmoidClassificationLoss().Forward<double>(RandomMatrix(2, 3, 1), RandomMatrix(2, 3, 1),
                                                                Vector<double>::Ones(3)),
                    warmstart::ArgumentError);
}

namespace {

// Six predicted boxes in a row; box 2 overlaps box 1 (IoU 0.95/1.05).
BoxMatrix<double> MinerBoxes() {
  BoxMatrix<double> b(6, 4);
  for (int i = 0; i < 6; ++i) b.row(i) << 0, 2 * i, 1, 2 * i + 1;
  b.row(2) << 0, 2.05, 1, 3.05;
  return b;
}

HardExampleMinerOptions ClsMiner() {
  HardExampleMinerOptions o;
  o.num_hard_examples.reset();
  o.iou_threshold = 0.5;
  o.loss_type = MinerLossType::kClassification;
  o.max_negatives_per_positive = 2.0;
  return o;
}

}  // namespace

TEST_CASE("hard example miner: NMS by loss, then the negative ratio", "[ssd][losses][miner]") {
  const std::vector<int> match = {0, kUnmatched, kUnmatched, kUnmatched, kIgnored, kUnmatched};
  Vector<double> cls(6), loc(6);
  cls << 1, 5, 4, 3, 0, 2;
  loc << 0.5, 0, 0, 0, 0, 0;
  HardExampleMinerOptions o = ClsMiner();
  // NMS order 1, (2 suppressed), 3, 5, 0, 4; one positive -> 2 negatives: 1, 3.
  MinedSelection s = HardExampleMiner(o).Mine(loc, cls, MinerBoxes(), match);
  REQUIRE(s.indices == std::vector<int>{1, 3, 0});
  REQUIRE(s.num_positives == 1);
  REQUIRE(s.num_negatives == 2);

  SECTION("min_negatives_per_image lifts the cap; ignored anchors ride along as TF") {
    o.min_negatives_per_image = 3;
    s = HardExampleMiner(o).Mine(loc, cls, MinerBoxes(), match);
    REQUIRE(s.indices == std::vector<int>{1, 3, 5, 0, 4});
    REQUIRE(s.num_negatives == 4);
  }
  SECTION("num_hard_examples caps NMS first; no positive left -> no negatives") {
    o.num_hard_examples = 2;
    s = HardExampleMiner(o).Mine(loc, cls, MinerBoxes(), match);
    REQUIRE(s.indices.empty());
  }
  SECTION("no ratio: the NMS selection as is") {
    o.max_negatives_per_positive.reset();
    REQUIRE(HardExampleMiner(o).Mine(loc, cls, MinerBoxes(), match).indices == std::vector<int>{1, 3, 5, 0, 4});
  }
  SECTION("BOTH mixes the losses with the miner weights") {
    o.loss_type = MinerLossType::kBoth;
    o.cls_loss_weight = 0.0;
    o.loc_loss_weight = 1.0;
    o.max_negatives_per_positive.reset();
    o.num_hard_examples = 1;
    REQUIRE(HardExampleMiner(o).Mine(loc, cls, MinerBoxes(), match).indices == std::vector<int>{0});
  }
}

namespace {

struct TinyBatch {
  BoxMatrix<double> anchors;
  std::vector<BoxMatrix<double>> codes;
  std::vector<Matrix<double>> logits;
  std::vector<TargetAssignment<double>> targets;
};

TinyBatch MakeBatch() {
  TinyBatch b;
  b.anchors.resize(4, 4);
  b.anchors << 0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1, 0, 0.5, 0.5, 1, 0.5, 0, 1, 0.5;
  BoxMatrix<double> gt(2, 4);
  gt << 0.05, 0, 0.5, 0.45, 0.5, 0.5, 1, 0.9;
  const FasterRcnnBoxCoder coder;
  b.targets.push_back(AssignTargets<double>(b.anchors, gt, {1, 0}, 2, ArgMaxMatcher(), coder));
  b.targets.push_back(AssignTargets<double>(b.anchors, gt.topRows(1), {1}, 2, ArgMaxMatcher(), coder));
  for (unsigned i = 0; i < 2; ++i) {
    b.codes.push_back(RandomMatrix(4, 4, 10 + i, 1.5));
    b.logits.push_back(RandomMatrix(4, 3, 20 + i));
  }
  return b;
}

}  // namespace

TEST_CASE("ssd loss: normalisation and gradients", "[ssd][losses]") {
  TinyBatch b = MakeBatch();
  REQUIRE(b.targets[0].num_matches == 2);
  REQUIRE(b.targets[1].num_matches == 1);
  const FasterRcnnBoxCoder coder;
  const WeightedSmoothL1LocalizationLoss loc_loss;
  const ClassificationLoss cls_loss = WeightedSigmoidClassificationLoss();
  SsdLossOptions o;
  o.localization_weight = 2.0;
  o.normalize_loc_loss_by_codesize = true;

  const LossScales scales = ComputeLossScales(3.0, o);
  REQUIRE(scales.localization == Approx(2.0 / 12));
  REQUIRE(scales.classification == Approx(1.0 / 3));
  SsdLossOptions plain;
  plain.normalize_loss_by_num_matches = false;
  REQUIRE(ComputeLossScales(3.0, plain).classification == 1.0);
  REQUIRE(ComputeLossScales(0.0, SsdLossOptions()).classification == 1.0);  // max(0, 1)

  const SsdLossResult<double> r = ComputeSsdLoss(b.codes, b.logits, b.targets, b.anchors, coder, cls_loss, loc_loss, o);
  double loc_sum = 0, cls_sum = 0;
  for (int i = 0; i < 2; ++i) {
    loc_sum += loc_loss.Forward(b.codes[i], b.targets[i].reg_targets, b.targets[i].reg_weights).sum();
    cls_sum += WeightedSigmoidClassificationLoss().Forward(b.logits[i], b.targets[i].cls_targets, b.targets[i].cls_weights).sum();
  }
  REQUIRE(r.localization_loss == Approx(loc_sum * 2.0 / 12));
  REQUIRE(r.classification_loss == Approx(cls_sum / 3));

  // d(loc + cls) by central differences on a few entries of image 1.
  auto total = [&]() {
    const auto t = ComputeSsdLoss(b.codes, b.logits, b.targets, b.anchors, coder, cls_loss, loc_loss, o);
    return t.localization_loss + t.classification_loss;
  };
  const double h = 1e-6;
  for (Eigen::Index k = 0; k < 4; ++k) {
    const double saved = b.codes[1](0, k);
    b.codes[1](0, k) = saved + h;
    const double up = total();
    b.codes[1](0, k) = saved - h;
    const double down = total();
    b.codes[1](0, k) = saved;
    REQUIRE(r.dbox_encodings[1](0, k) == Approx((up - down) / (2 * h)).margin(1e-7));
  }
  for (Eigen::Index k = 0; k < 3; ++k) {
    const double saved = b.logits[1](2, k);
    b.logits[1](2, k) = saved + h;
    const double up = total();
    b.logits[1](2, k) = saved - h;
    const double down = total();
    b.logits[1](2, k) = saved;
    REQUIRE(r.dclass_predictions[1](2, k) == Approx((up - down) / (2 * h)).margin(1e-7));
  }
}

TEST_CASE("ssd loss: hard mining zeroes unselected anchors", "[ssd][losses][miner]") {
  const TinyBatch b = MakeBatch();
  HardExampleMinerOptions mo;
  mo.num_hard_examples.reset();
  mo.iou_threshold = 1.0;  // SSD paper setting: NMS off
  mo.loss_type = MinerLossType::kClassification;
  mo.max_negatives_per_positive = 1.0;
  const HardExampleMiner miner(mo);
  const SsdLossResult<double> r =
      ComputeSsdLoss(b.codes, b.logits, b.targets, b.anchors, FasterRcnnBoxCoder(),
                     ClassificationLoss(WeightedSoftmaxClassificationLoss()), WeightedSmoothL1LocalizationLoss(),
                     SsdLossOptions(), &miner);
  REQUIRE(r.mined.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    REQUIRE(r.mined[i].num_negatives <= r.mined[i].num_positives);
    std::vector<bool> selected(4, false);
    for (int a : r.mined[i].indices) selected[a] = true;
    for (Eigen::Index a = 0; a < 4; ++a) {
      if (!selected[a]) REQUIRE(r.dclass_predictions[i].row(a).isZero());
    }
  }
  // Image 1 has one positive: exactly one negative (the hardest) survives.
  REQUIRE(r.mined[1].num_positives == 1);
  REQUIRE(r.mined[1].num_negatives == 1);
}
