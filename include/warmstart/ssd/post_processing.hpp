// SSD post-processing: score conversion and per-class non-maximum suppression.
//
// Mirrors research/object_detection/
//   builders/post_processing_builder.py  (_build_score_converter, logit_scale)
//   core/post_processing.py              (multiclass_non_max_suppression)
//   meta_architectures/ssd_meta_arch.py  (postprocess: decode, convert scores,
//                                         drop the background column)
//
// Shapes: N anchors, K = num_classes + 1 logit columns (slot 0 background),
// C = num_classes score columns after the background is dropped.
// Output classes are 0-based without background, as TF's detection_classes
// before the exporter adds label_id_offset 1: label map id = class + 1.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_coder.hpp"
#include "warmstart/ssd/box_ops.hpp"

namespace warmstart::ssd {

enum class ScoreConverter { kIdentity, kSigmoid, kSoftmax };

// converter(logits / logit_scale), row-wise for SOFTMAX. [N, K] -> [N, K].
template <typename T>
Matrix<T> ConvertScores(const Matrix<T>& logits, ScoreConverter converter, double logit_scale = 1.0) {
  if (logit_scale == 0) throw ArgumentError("ConvertScores: logit_scale is 0");
  Matrix<T> x = logits / static_cast<T>(logit_scale);
  switch (converter) {
    case ScoreConverter::kIdentity:
      return x;
    case ScoreConverter::kSigmoid:
      return x.unaryExpr([](T v) { return v >= T(0) ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v)); });
    case ScoreConverter::kSoftmax:
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const T max = x.row(i).maxCoeff();
        x.row(i) = (x.row(i).array() - max).exp().matrix();
        x.row(i) /= x.row(i).sum();
      }
      return x;
  }
  throw ArgumentError("ConvertScores: unknown converter");
}

struct NmsOptions {
  double score_threshold = 0.0;    // a box is a candidate if score > this
  double iou_threshold = 0.6;      // suppress IoU > this; in [0, 1]
  int max_detections_per_class = 100;
  int max_total_detections = 100;  // 0 = keep all
  // Clip to this window before NMS and drop boxes left with zero area.
  std::optional<Window<double>> clip_window;
};

template <typename T>
struct Detections {
  BoxMatrix<T> boxes;        // [D, 4] corners, by descending score
  Vector<T> scores;          // [D]
  std::vector<int> classes;  // [D] 0-based, no background
  int num_detections() const { return static_cast<int>(classes.size()); }
};

namespace detail {

template <typename T>
struct Candidate {
  T score;
  int cls;
  Eigen::Index row;  // into the (possibly clipped) box matrix
};

// One class: score filter, clip, NMS. Appends the kept boxes.
template <typename T>
void SuppressClass(const BoxMatrix<T>& boxes, const Matrix<T>& scores, int cls, const NmsOptions& o,
                   std::vector<Candidate<T>>& out) {
  std::vector<int> rows;
  for (Eigen::Index i = 0; i < boxes.rows(); ++i) {
    if (scores(i, cls) > static_cast<T>(o.score_threshold)) rows.push_back(static_cast<int>(i));
  }
  if (o.clip_window) {
    const Vector<T> area = Area<T>(boxes);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int r) { return !(area(r) > T(0)); }), rows.end());
  }
  const BoxMatrix<T> class_boxes = GatherRows(boxes, rows);
  Vector<T> class_scores(static_cast<Eigen::Index>(rows.size()));
  for (size_t k = 0; k < rows.size(); ++k) class_scores(static_cast<Eigen::Index>(k)) = scores(rows[k], cls);
  const int max_out = std::min(o.max_detections_per_class, static_cast<int>(rows.size()));
  for (int k : NonMaxSuppression<T>(class_boxes, class_scores, max_out, static_cast<T>(o.iou_threshold))) {
    out.push_back({class_scores(k), cls, rows[k]});
  }
}

}  // namespace detail

// multiclass_non_max_suppression with one box per anchor shared by all classes
// (q = 1): boxes [N, 4], scores [N, C] (background already removed). Results
// of all classes are merged, sorted by descending score (ties: class order,
// then NMS order) and cut to max_total_detections.
template <typename T>
Detections<T> MulticlassNonMaxSuppression(const BoxMatrix<T>& boxes, const Matrix<T>& scores,
                                          const NmsOptions& o) {
  if (scores.rows() != boxes.rows()) {
    throw ArgumentError("MulticlassNonMaxSuppression: " + std::to_string(boxes.rows()) + " boxes but " +
                        std::to_string(scores.rows()) + " score rows");
  }
  if (!(o.iou_threshold >= 0 && o.iou_threshold <= 1)) {
    throw ArgumentError("MulticlassNonMaxSuppression: iou_threshold must be between 0 and 1");
  }
  BoxMatrix<T> work = boxes;
  if (o.clip_window) {
    const auto& w = *o.clip_window;
    work = ClipToWindow<T>(boxes, {static_cast<T>(w[0]), static_cast<T>(w[1]), static_cast<T>(w[2]), static_cast<T>(w[3])});
  }
  std::vector<detail::Candidate<T>> kept;
  for (int c = 0; c < static_cast<int>(scores.cols()); ++c) detail::SuppressClass(work, scores, c, o, kept);
  std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  if (o.max_total_detections > 0 && static_cast<int>(kept.size()) > o.max_total_detections) {
    kept.resize(static_cast<size_t>(o.max_total_detections));
  }
  Detections<T> out;
  out.boxes.resize(static_cast<Eigen::Index>(kept.size()), 4);
  out.scores.resize(static_cast<Eigen::Index>(kept.size()));
  for (size_t k = 0; k < kept.size(); ++k) {
    out.boxes.row(static_cast<Eigen::Index>(k)) = work.row(kept[k].row);
    out.scores(static_cast<Eigen::Index>(k)) = kept[k].score;
    out.classes.push_back(kept[k].cls);
  }
  return out;
}

// ssd_meta_arch.postprocess for one image: decode box_encodings [N, 4]
// against anchors, convert class_logits [N, K], drop column 0, run NMS.
template <typename T>
Detections<T> PostProcess(const BoxMatrix<T>& box_encodings, const Matrix<T>& class_logits,
                          const BoxMatrix<T>& anchors, const FasterRcnnBoxCoder& coder,
                          ScoreConverter converter, double logit_scale, const NmsOptions& o) {
  if (class_logits.cols() < 2) throw ArgumentError("PostProcess: class_logits needs background + 1 columns");
  const Matrix<T> with_background = ConvertScores<T>(class_logits, converter, logit_scale);
  const Matrix<T> scores = with_background.rightCols(with_background.cols() - 1);
  return MulticlassNonMaxSuppression<T>(coder.Decode<T>(box_encodings, anchors), scores, o);
}

}  // namespace warmstart::ssd
