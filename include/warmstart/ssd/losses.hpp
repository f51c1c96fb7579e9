// SSD losses: per-anchor classification and localization losses, each
// Forward beside its Backward, hard example mining, and the batch loss of
// ssd_meta_arch with its normalisation.
//
// Mirrors research/object_detection/core/losses.py
//   WeightedSigmoidClassificationLoss, WeightedSoftmaxClassificationLoss,
//   SigmoidFocalClassificationLoss, WeightedSmoothL1LocalizationLoss,
//   HardExampleMiner
// and meta_architectures/ssd_meta_arch.py (loss, _apply_hard_mining).
//
// Shapes, per image: N anchors, K = num_classes + 1 class slots, code size 4.
//   logits   [N, K]   targets [N, K] (one-hot)   weights [N]
//   codes    [N, 4]   targets [N, 4]             weights [N]
// Forward returns [N] per-anchor losses, summed over the class/code axis (the
// reduce_sum_trailing_dimensions ssd_meta_arch applies). Backward takes
// dloss [N] (the gradient of the scalar objective w.r.t. each anchor's loss)
// and returns the gradient w.r.t. the predictions, [N, K] or [N, 4].
// Weights are per anchor; TF's [N, K] per-class weights are not supported.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_coder.hpp"
#include "warmstart/ssd/box_ops.hpp"
#include "warmstart/ssd/matcher.hpp"
#include "warmstart/ssd/target_assigner.hpp"

namespace warmstart::ssd {

namespace detail {

template <typename P, typename Q>
void CheckLossShapes(const P& pred, const Q& target, Eigen::Index weights, const char* what) {
  if (pred.rows() != target.rows() || pred.cols() != target.cols() || weights != pred.rows()) {
    throw ArgumentError(std::string(what) + ": predictions [" + std::to_string(pred.rows()) + ", " +
                        std::to_string(pred.cols()) + "], targets [" + std::to_string(target.rows()) +
                        ", " + std::to_string(target.cols()) + "], weights [" +
                        std::to_string(weights) + "] do not agree");
  }
}

// tf.nn.sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log(1 + exp(-|x|)).
template <typename T>
T SigmoidCrossEntropy(T x, T z) {
  return std::max(x, T(0)) - x * z + std::log1p(std::exp(-std::abs(x)));
}

template <typename T>
T Sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace detail

// Sum over classes of w * sigmoid_cross_entropy(x, z).
class WeightedSigmoidClassificationLoss {
 public:
  template <typename T>
  Vector<T> Forward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "WeightedSigmoidClassificationLoss");
    Vector<T> loss(logits.rows());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      T sum = 0;
      for (Eigen::Index k = 0; k < logits.cols(); ++k) sum += detail::SigmoidCrossEntropy(logits(i, k), targets(i, k));
      loss(i) = sum * weights(i);
    }
    return loss;
  }

  // d/dx = w * (sigmoid(x) - z).
  template <typename T>
  Matrix<T> Backward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights,
                     const Vector<T>& dloss) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "WeightedSigmoidClassificationLoss");
    Matrix<T> dlogits(logits.rows(), logits.cols());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      for (Eigen::Index k = 0; k < logits.cols(); ++k) {
        dlogits(i, k) = dloss(i) * weights(i) * (detail::Sigmoid(logits(i, k)) - targets(i, k));
      }
    }
    return dlogits;
  }
};

// Sum over classes of w * alpha_t * (1 - p_t)^gamma * sigmoid_cross_entropy,
// p_t = z p + (1 - z)(1 - p), alpha_t = z alpha + (1 - z)(1 - alpha); gamma 0
// drops the modulating factor and a missing alpha the weighting, as TF.
class SigmoidFocalClassificationLoss {
 public:
  explicit SigmoidFocalClassificationLoss(double gamma = 2.0, std::optional<double> alpha = 0.25)
      : gamma_(gamma), alpha_(alpha) {}

  template <typename T>
  Vector<T> Forward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "SigmoidFocalClassificationLoss");
    Vector<T> loss(logits.rows());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      T sum = 0;
      for (Eigen::Index k = 0; k < logits.cols(); ++k) sum += Entry(logits(i, k), targets(i, k)).loss;
      loss(i) = sum * weights(i);
    }
    return loss;
  }

  template <typename T>
  Matrix<T> Backward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights,
                     const Vector<T>& dloss) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "SigmoidFocalClassificationLoss");
    Matrix<T> dlogits(logits.rows(), logits.cols());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      for (Eigen::Index k = 0; k < logits.cols(); ++k) {
        dlogits(i, k) = dloss(i) * weights(i) * Entry(logits(i, k), targets(i, k)).dx;
      }
    }
    return dlogits;
  }

 private:
  template <typename T>
  struct EntryValue {
    T loss;
    T dx;
  };

  // One logit: loss = a m ce, with m = (1 - p_t)^gamma,
  // dm/dx = -gamma (1 - p_t)^(gamma - 1) (2z - 1) p (1 - p), dce/dx = p - z.
  template <typename T>
  EntryValue<T> Entry(T x, T z) const {
    const T p = detail::Sigmoid(x);
    const T ce = detail::SigmoidCrossEntropy(x, z);
    const T p_t = z * p + (T(1) - z) * (T(1) - p);
    const T a = alpha_ ? z * T(*alpha_) + (T(1) - z) * (T(1) - T(*alpha_)) : T(1);
    T m = 1, dm = 0;
    if (gamma_ != 0) {
      const T g = static_cast<T>(gamma_), base = T(1) - p_t;
      m = std::pow(base, g);
      if (base > T(0)) dm = -g * std::pow(base, g - T(1)) * (T(2) * z - T(1)) * p * (T(1) - p);
    }
    return {a * m * ce, a * (dm * ce + m * (p - z))};
  }

  double gamma_;
  std::optional<double> alpha_;
};

// w * softmax_cross_entropy(x / logit_scale, z), one value per anchor.
class WeightedSoftmaxClassificationLoss {
 public:
  explicit WeightedSoftmaxClassificationLoss(double logit_scale = 1.0) : logit_scale_(logit_scale) {
    if (logit_scale == 0) throw ArgumentError("WeightedSoftmaxClassificationLoss: logit_scale is 0");
  }

  template <typename T>
  Vector<T> Forward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "WeightedSoftmaxClassificationLoss");
    Vector<T> loss(logits.rows());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      const Vector<T> log_p = LogSoftmax<T>(logits.row(i));
      T sum = 0;
      for (Eigen::Index k = 0; k < logits.cols(); ++k) sum -= targets(i, k) * log_p(k);
      loss(i) = sum * weights(i);
    }
    return loss;
  }

  // d/dx_k = w * (softmax_k * sum(z) - z_k) / logit_scale.
  template <typename T>
  Matrix<T> Backward(const Matrix<T>& logits, const Matrix<T>& targets, const Vector<T>& weights,
                     const Vector<T>& dloss) const {
    detail::CheckLossShapes(logits, targets, weights.size(), "WeightedSoftmaxClassificationLoss");
    Matrix<T> dlogits(logits.rows(), logits.cols());
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      const Vector<T> p = LogSoftmax<T>(logits.row(i)).array().exp().matrix();
      const T z_sum = targets.row(i).sum();
      const T scale = dloss(i) * weights(i) / static_cast<T>(logit_scale_);
      for (Eigen::Index k = 0; k < logits.cols(); ++k) dlogits(i, k) = scale * (p(k) * z_sum - targets(i, k));
    }
    return dlogits;
  }

 private:
  template <typename T, typename Row>
  Vector<T> LogSoftmax(const Row& row) const {
    const Vector<T> x = row.transpose() / static_cast<T>(logit_scale_);
    const T max = x.maxCoeff();
    const T log_sum = std::log((x.array() - max).exp().sum()) + max;
    return (x.array() - log_sum).matrix();
  }

  double logit_scale_;
};

// Sum over the code of w * huber(pred - target; delta), huber(e) = 0.5 e^2
// for |e| <= delta, delta (|e| - 0.5 delta) beyond (tf.losses.huber_loss).
// A NaN target counts as equal to the prediction (ssd_meta_arch passes
// ignore_nan_targets=True).
class WeightedSmoothL1LocalizationLoss {
 public:
  explicit WeightedSmoothL1LocalizationLoss(double delta = 1.0) : delta_(delta) {}

  template <typename T>
  Vector<T> Forward(const BoxMatrix<T>& codes, const BoxMatrix<T>& targets, const Vector<T>& weights) const {
    detail::CheckLossShapes(codes, targets, weights.size(), "WeightedSmoothL1LocalizationLoss");
    const T delta = static_cast<T>(delta_);
    Vector<T> loss(codes.rows());
    for (Eigen::Index i = 0; i < codes.rows(); ++i) {
      T sum = 0;
      for (Eigen::Index c = 0; c < 4; ++c) {
        const T a = std::abs(Error(codes(i, c), targets(i, c)));
        const T q = std::min(a, delta);
        sum += T(0.5) * q * q + delta * (a - q);
      }
      loss(i) = sum * weights(i);
    }
    return loss;
  }

  // d/dpred = w * clamp(pred - target, -delta, delta).
  template <typename T>
  BoxMatrix<T> Backward(const BoxMatrix<T>& codes, const BoxMatrix<T>& targets, const Vector<T>& weights,
                        const Vector<T>& dloss) const {
    detail::CheckLossShapes(codes, targets, weights.size(), "WeightedSmoothL1LocalizationLoss");
    const T delta = static_cast<T>(delta_);
    BoxMatrix<T> dcodes(codes.rows(), 4);
    for (Eigen::Index i = 0; i < codes.rows(); ++i) {
      for (Eigen::Index c = 0; c < 4; ++c) {
        const T e = Error(codes(i, c), targets(i, c));
        dcodes(i, c) = dloss(i) * weights(i) * std::max(-delta, std::min(e, delta));
      }
    }
    return dcodes;
  }

 private:
  template <typename T>
  static T Error(T pred, T target) {
    return std::isnan(target) ? T(0) : pred - target;
  }

  double delta_;
};

// ---------------------------------------------------------------------------
// Hard example mining

enum class MinerLossType { kBoth, kClassification, kLocalization };

// HardExampleMiner arguments. The losses_builder maps the proto's
// num_hard_examples <= 0 and max_negatives_per_positive <= 0 to nullopt, and
// passes the config's classification_weight / localization_weight as
// cls_loss_weight / loc_loss_weight.
struct HardExampleMinerOptions {
  std::optional<int> num_hard_examples = 64;  // nullopt = every anchor
  double iou_threshold = 0.7;                  // NMS among the mined boxes
  MinerLossType loss_type = MinerLossType::kBoth;
  double cls_loss_weight = 0.05;
  double loc_loss_weight = 0.06;
  std::optional<double> max_negatives_per_positive;  // nullopt = no ratio
  int min_negatives_per_image = 0;
};

struct MinedSelection {
  std::vector<int> indices;  // selected anchors, in NMS order
  int num_positives = 0;     // counted only when a ratio is enforced
  int num_negatives = 0;
};

class HardExampleMiner {
 public:
  explicit HardExampleMiner(HardExampleMinerOptions o = {}) : o_(o) {}

  const HardExampleMinerOptions& options() const { return o_; }

  // One image: NMS over the decoded predicted boxes [N, 4] scored by the
  // per-anchor loss (cls, loc or cls_w * cls + loc_w * loc), at most
  // num_hard_examples; then, if a ratio is set, keep every positive among them
  // and the negatives while their running count is
  // <= max(min_negatives_per_image, int(ratio * positives)). As TF, an ignored
  // anchor before that cut-off stays selected (its losses are 0 anyway).
  template <typename T>
  MinedSelection Mine(const Vector<T>& loc_losses, const Vector<T>& cls_losses,
                      const BoxMatrix<T>& decoded_boxes, const std::vector<int>& match) const {
    const Eigen::Index n = decoded_boxes.rows();
    if (loc_losses.size() != n || cls_losses.size() != n || static_cast<Eigen::Index>(match.size()) != n) {
      throw ArgumentError("HardExampleMiner: losses, boxes and match disagree on the anchor count");
    }
    Vector<T> image_losses = cls_losses;
    if (o_.loss_type == MinerLossType::kLocalization) {
      image_losses = loc_losses;
    } else if (o_.loss_type == MinerLossType::kBoth) {
      image_losses = cls_losses * static_cast<T>(o_.cls_loss_weight) + loc_losses * static_cast<T>(o_.loc_loss_weight);
    }
    const int max_out = o_.num_hard_examples ? *o_.num_hard_examples : static_cast<int>(n);
    MinedSelection out;
    out.indices = NonMaxSuppression<T>(decoded_boxes, image_losses, std::max(max_out, 0),
                                       static_cast<T>(o_.iou_threshold));
    if (o_.max_negatives_per_positive) SubsampleToRatio(match, out);
    return out;
  }

 private:
  void SubsampleToRatio(const std::vector<int>& match, MinedSelection& sel) const {
    int positives = 0;
    for (int i : sel.indices) positives += match[i] >= 0;
    const int max_negatives = std::max(
        o_.min_negatives_per_image, static_cast<int>(static_cast<float>(*o_.max_negatives_per_positive) *
                                                     static_cast<float>(positives)));
    std::vector<int> kept;
    int negatives_seen = 0;
    for (int i : sel.indices) {
      negatives_seen += match[i] == kUnmatched;
      if (match[i] >= 0 || negatives_seen <= max_negatives) kept.push_back(i);
    }
    sel.num_positives = positives;
    sel.num_negatives = static_cast<int>(kept.size()) - positives;
    sel.indices = std::move(kept);
  }

  HardExampleMinerOptions o_;
};

// ---------------------------------------------------------------------------
// The SSD batch loss (ssd_meta_arch.loss)

using ClassificationLoss = std::variant<WeightedSigmoidClassificationLoss, WeightedSoftmaxClassificationLoss,
                                        SigmoidFocalClassificationLoss>;

struct SsdLossOptions {
  double classification_weight = 1.0;
  double localization_weight = 1.0;
  bool normalize_loss_by_num_matches = true;
  bool normalize_loc_loss_by_codesize = false;
};

// The factors the summed losses are multiplied by:
//   normalizer = max(sum of all reg_weights in the batch, 1) when
//                normalize_loss_by_num_matches, else 1
//   loc: localization_weight / (normalizer * (code size if by codesize))
//   cls: classification_weight / normalizer
// With hard mining the normalizer still counts every matched anchor, not only
// the mined ones, as ssd_meta_arch does.
struct LossScales {
  double localization;
  double classification;
};

inline LossScales ComputeLossScales(double total_reg_weight, const SsdLossOptions& o, int code_size = 4) {
  const double normalizer = o.normalize_loss_by_num_matches ? std::max(total_reg_weight, 1.0) : 1.0;
  const double loc_normalizer = o.normalize_loc_loss_by_codesize ? normalizer * code_size : normalizer;
  return {o.localization_weight / loc_normalizer, o.classification_weight / normalizer};
}

template <typename T>
struct SsdLossResult {
  T localization_loss = 0;
  T classification_loss = 0;
  std::vector<BoxMatrix<T>> dbox_encodings;    // per image [N, 4]
  std::vector<Matrix<T>> dclass_predictions;   // per image [N, K]
  std::vector<MinedSelection> mined;            // per image, when mining
};

// The two scalar losses of one batch and their gradients w.r.t. the box
// encodings and class logits (with background). d(loc + cls) is returned; the
// caller's total is loc + cls (+ regularisation).
// Requires: one box_encodings, class_logits and assignment per image, each
// with anchors.rows() rows.
template <typename T>
SsdLossResult<T> ComputeSsdLoss(const std::vector<BoxMatrix<T>>& box_encodings,
                                const std::vector<Matrix<T>>& class_logits,
                                const std::vector<TargetAssignment<T>>& targets, const BoxMatrix<T>& anchors,
                                const FasterRcnnBoxCoder& coder, const ClassificationLoss& cls_loss,
                                const WeightedSmoothL1LocalizationLoss& loc_loss, const SsdLossOptions& o,
                                const HardExampleMiner* miner = nullptr) {
  const size_t b = box_encodings.size();
  if (class_logits.size() != b || targets.size() != b) {
    throw ArgumentError("ComputeSsdLoss: box_encodings, class_logits and targets disagree on the batch size");
  }
  double total_reg_weight = 0;
  for (const auto& t : targets) total_reg_weight += static_cast<double>(t.reg_weights.sum());
  const LossScales scales = ComputeLossScales(total_reg_weight, o, coder.code_size());
  SsdLossResult<T> out;
  for (size_t i = 0; i < b; ++i) {
    const TargetAssignment<T>& t = targets[i];
    const Vector<T> loc = loc_loss.Forward<T>(box_encodings[i], t.reg_targets, t.reg_weights);
    const Vector<T> cls = std::visit(
        [&](const auto& l) { return l.template Forward<T>(class_logits[i], t.cls_targets, t.cls_weights); },
        cls_loss);
    Vector<T> selected = Vector<T>::Ones(loc.size());
    if (miner) {
      out.mined.push_back(miner->Mine<T>(loc, cls, coder.Decode<T>(box_encodings[i], anchors), t.match));
      selected.setZero();
      for (int a : out.mined.back().indices) selected(a) = T(1);
    }
    out.localization_loss += loc.dot(selected) * static_cast<T>(scales.localization);
    out.classification_loss += cls.dot(selected) * static_cast<T>(scales.classification);
    const Vector<T> dloc = selected * static_cast<T>(scales.localization);
    const Vector<T> dcls = selected * static_cast<T>(scales.classification);
    out.dbox_encodings.push_back(loc_loss.Backward<T>(box_encodings[i], t.reg_targets, t.reg_weights, dloc));
    out.dclass_predictions.push_back(std::visit(
        [&](const auto& l) { return l.template Backward<T>(class_logits[i], t.cls_targets, t.cls_weights, dcls); },
        cls_loss));
  }
  return out;
}

}  // namespace warmstart::ssd
