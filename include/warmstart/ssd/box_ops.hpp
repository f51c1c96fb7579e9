// Box geometry for SSD: area, pairwise intersection and IoU, clipping, and the
// greedy non-maximum suppression that both hard example mining and
// post-processing run.
//
// Layout (the one every ssd/ header uses, as TensorFlow's BoxList holds it):
//   boxes  [N, 4] row-major, each row  ymin, xmin, ymax, xmax  (normalised
//          image coordinates, y down, x right)
//   N = number of boxes in the first set, M in the second.
//
// Mirrors research/object_detection/core/box_list_ops.py (area, intersection,
// iou, clip_to_window) and the kernel behind tf.image.non_max_suppression
// (tensorflow/core/kernels/image/non_max_suppression_op.cc).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "warmstart/error.hpp"

namespace warmstart::ssd {

// [N, 4] boxes or box codes, one row each.
template <typename T>
using BoxMatrix = Eigen::Matrix<T, Eigen::Dynamic, 4, Eigen::RowMajor>;
// [N, C] per-anchor rows (logits, targets, scores, pairwise matrices).
template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// [N] per-anchor values.
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// A window ymin, xmin, ymax, xmax (e.g. {0, 0, 1, 1}).
template <typename T>
using Window = std::array<T, 4>;

// (ymax - ymin) * (xmax - xmin) per box; negative for flipped boxes, as TF.
template <typename T>
Vector<T> Area(const BoxMatrix<T>& boxes) {
  return ((boxes.col(2) - boxes.col(0)).array() * (boxes.col(3) - boxes.col(1)).array()).matrix();
}

// [N, M] intersection areas, each side clamped at 0.
template <typename T>
Matrix<T> Intersection(const BoxMatrix<T>& a, const BoxMatrix<T>& b) {
  Matrix<T> out(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.rows(); ++j) {
      const T h = std::min(a(i, 2), b(j, 2)) - std::max(a(i, 0), b(j, 0));
      const T w = std::min(a(i, 3), b(j, 3)) - std::max(a(i, 1), b(j, 1));
      out(i, j) = std::max(T(0), h) * std::max(T(0), w);
    }
  }
  return out;
}

// [N, M] intersection over union. As box_list_ops.iou: a pair whose
// intersection is exactly 0 has IoU 0 (so two zero-area boxes never divide 0/0).
template <typename T>
Matrix<T> Iou(const BoxMatrix<T>& a, const BoxMatrix<T>& b) {
  const Matrix<T> inter = Intersection(a, b);
  const Vector<T> area_a = Area(a);
  const Vector<T> area_b = Area(b);
  Matrix<T> out(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.rows(); ++j) {
      const T in = inter(i, j);
      out(i, j) = in == T(0) ? T(0) : in / (area_a(i) + area_b(j) - in);
    }
  }
  return out;
}

// Clamps every coordinate into the window (box_list_ops.clip_to_window with
// filter_nonoverlapping=False; callers that filter drop rows whose Area is 0).
template <typename T>
BoxMatrix<T> ClipToWindow(const BoxMatrix<T>& boxes, const Window<T>& window) {
  BoxMatrix<T> out(boxes.rows(), 4);
  for (Eigen::Index i = 0; i < boxes.rows(); ++i) {
    out(i, 0) = std::max(std::min(boxes(i, 0), window[2]), window[0]);
    out(i, 1) = std::max(std::min(boxes(i, 1), window[3]), window[1]);
    out(i, 2) = std::max(std::min(boxes(i, 2), window[2]), window[0]);
    out(i, 3) = std::max(std::min(boxes(i, 3), window[3]), window[1]);
  }
  return out;
}

// Corners -> [N, 4] rows ycenter, xcenter, height, width
// (BoxList.get_center_coordinates_and_sizes).
template <typename T>
BoxMatrix<T> CenterSize(const BoxMatrix<T>& boxes) {
  BoxMatrix<T> out(boxes.rows(), 4);
  for (Eigen::Index i = 0; i < boxes.rows(); ++i) {
    const T h = boxes(i, 2) - boxes(i, 0);
    const T w = boxes(i, 3) - boxes(i, 1);
    out(i, 0) = boxes(i, 0) + h / T(2);
    out(i, 1) = boxes(i, 1) + w / T(2);
    out(i, 2) = h;
    out(i, 3) = w;
  }
  return out;
}

namespace detail {

// The IoU of the NMS kernel: coordinates are reordered so ymin <= ymax, and a
// box of non-positive area overlaps nothing.
template <typename T>
T NmsIou(const BoxMatrix<T>& boxes, Eigen::Index i, Eigen::Index j) {
  const T ymin_i = std::min(boxes(i, 0), boxes(i, 2)), ymax_i = std::max(boxes(i, 0), boxes(i, 2));
  const T xmin_i = std::min(boxes(i, 1), boxes(i, 3)), xmax_i = std::max(boxes(i, 1), boxes(i, 3));
  const T ymin_j = std::min(boxes(j, 0), boxes(j, 2)), ymax_j = std::max(boxes(j, 0), boxes(j, 2));
  const T xmin_j = std::min(boxes(j, 1), boxes(j, 3)), xmax_j = std::max(boxes(j, 1), boxes(j, 3));
  const T area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i);
  const T area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j);
  if (area_i <= T(0) || area_j <= T(0)) return T(0);
  const T h = std::max(std::min(ymax_i, ymax_j) - std::max(ymin_i, ymin_j), T(0));
  const T w = std::max(std::min(xmax_i, xmax_j) - std::max(xmin_i, xmin_j), T(0));
  const T inter = h * w;
  return inter / (area_i + area_j - inter);
}

}  // namespace detail

// Greedy NMS as tf.image.non_max_suppression: visit boxes by descending score
// (ties: lower index first), keep one unless its IoU with a kept box is
// > iou_threshold, stop after max_output_size. Only scores > score_threshold
// are candidates. Returns kept indices in selection order.
// Requires: scores.size() == boxes.rows(), max_output_size >= 0.
template <typename T>
std::vector<int> NonMaxSuppression(const BoxMatrix<T>& boxes, const Vector<T>& scores,
                                   int max_output_size, T iou_threshold,
                                   T score_threshold = -std::numeric_limits<T>::infinity()) {
  if (scores.size() != boxes.rows()) {
    throw ArgumentError("NonMaxSuppression: " + std::to_string(boxes.rows()) + " boxes but " +
                        std::to_string(scores.size()) + " scores");
  }
  if (max_output_size < 0) throw ArgumentError("NonMaxSuppression: max_output_size < 0");
  std::vector<int> order;
  for (Eigen::Index i = 0; i < scores.size(); ++i) {
    if (scores(i) > score_threshold) order.push_back(static_cast<int>(i));
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return scores(a) > scores(b); });
  std::vector<int> kept;
  for (int candidate : order) {
    if (static_cast<int>(kept.size()) >= max_output_size) break;
    bool suppressed = false;
    for (int k : kept) {
      if (detail::NmsIou(boxes, candidate, k) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

// Rows of `boxes` at `indices`, in that order.
template <typename T>
BoxMatrix<T> GatherRows(const BoxMatrix<T>& boxes, const std::vector<int>& indices) {
  BoxMatrix<T> out(static_cast<Eigen::Index>(indices.size()), 4);
  for (size_t i = 0; i < indices.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = boxes.row(indices[i]);
  return out;
}

}  // namespace warmstart::ssd
