// Per-image SSD training targets from groundtruth boxes and anchors.
//
// Mirrors research/object_detection/core/target_assigner.py (TargetAssigner.
// assign with IouSimilarity, ArgMaxMatcher and FasterRcnnBoxCoder) and the
// background padding of meta_architectures/ssd_meta_arch.py (_assign_targets).
//
// Shapes: N anchors, G groundtruth boxes, K = num_classes + 1 class slots.
// Classes: groundtruth class c is 0-based without background (TF's
// groundtruth_classes = label map id - 1); its one-hot slot is c + 1, which
// equals the label map id. Slot 0 is background.
//
// Per anchor j with match result r = match[j]:
//                      matched (r >= 0)     unmatched (-1)   ignored (-2)
//   cls_targets[j]     one-hot(c_r + 1)     one-hot(0)       one-hot(0)
//   cls_weights[j]     gt_weight[r]         negative_weight  0
//   reg_targets[j]     Encode(gt_r, a_j)    0                0
//   reg_weights[j]     gt_weight[r]         0                0
#pragma once

#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_coder.hpp"
#include "warmstart/ssd/box_ops.hpp"
#include "warmstart/ssd/matcher.hpp"

namespace warmstart::ssd {

template <typename T>
struct TargetAssignment {
  Matrix<T> cls_targets;   // [N, K]
  Vector<T> cls_weights;   // [N]
  BoxMatrix<T> reg_targets;  // [N, 4]
  Vector<T> reg_weights;   // [N]
  std::vector<int> match;  // [N], see matcher.hpp
  int num_matches = 0;     // anchors with match >= 0
};

// Requires: gt_classes.size() == gt_boxes.rows(), each in [0, num_classes);
// gt_weights empty (all 1) or one per box.
template <typename T>
TargetAssignment<T> AssignTargets(const BoxMatrix<T>& anchors, const BoxMatrix<T>& gt_boxes,
                                  const std::vector<int>& gt_classes, int num_classes,
                                  const ArgMaxMatcher& matcher, const FasterRcnnBoxCoder& coder,
                                  std::vector<T> gt_weights = {},
                                  T negative_class_weight = T(1)) {
  const Eigen::Index n = anchors.rows(), g = gt_boxes.rows();
  if (static_cast<Eigen::Index>(gt_classes.size()) != g) {
    throw ArgumentError("AssignTargets: " + std::to_string(g) + " boxes but " +
                        std::to_string(gt_classes.size()) + " classes");
  }
  for (int c : gt_classes) {
    if (c < 0 || c >= num_classes) {
      throw ArgumentError("AssignTargets: class " + std::to_string(c) + " outside [0, " +
                          std::to_string(num_classes) + ")");
    }
  }
  if (gt_weights.empty()) gt_weights.assign(static_cast<size_t>(g), T(1));
  if (static_cast<Eigen::Index>(gt_weights.size()) != g) {
    throw ArgumentError("AssignTargets: " + std::to_string(gt_weights.size()) + " weights for " +
                        std::to_string(g) + " boxes");
  }
  std::vector<bool> valid_rows(static_cast<size_t>(g));
  for (Eigen::Index i = 0; i < g; ++i) valid_rows[i] = gt_weights[i] > T(0);

  TargetAssignment<T> out;
  out.match = matcher.Match<T>(Iou(gt_boxes, anchors), &valid_rows);
  out.num_matches = NumMatched(out.match);
  out.cls_targets = Matrix<T>::Zero(n, num_classes + 1);
  out.cls_weights = Vector<T>::Zero(n);
  out.reg_targets = BoxMatrix<T>::Zero(n, 4);
  out.reg_weights = Vector<T>::Zero(n);

  // Encode only the matched anchors: gather their boxes first.
  std::vector<int> matched_anchors, matched_rows;
  for (Eigen::Index j = 0; j < n; ++j) {
    const int r = out.match[j];
    if (r >= 0) {
      matched_anchors.push_back(static_cast<int>(j));
      matched_rows.push_back(r);
      out.cls_targets(j, gt_classes[r] + 1) = T(1);
      out.cls_weights(j) = gt_weights[r];
      out.reg_weights(j) = gt_weights[r];
    } else {
      out.cls_targets(j, 0) = T(1);
      out.cls_weights(j) = r == kUnmatched ? negative_class_weight : T(0);
    }
  }
  const BoxMatrix<T> codes =
      coder.Encode<T>(GatherRows(gt_boxes, matched_rows), GatherRows(anchors, matched_anchors));
  for (size_t k = 0; k < matched_anchors.size(); ++k) {
    out.reg_targets.row(matched_anchors[k]) = codes.row(static_cast<Eigen::Index>(k));
  }
  return out;
}

}  // namespace warmstart::ssd
