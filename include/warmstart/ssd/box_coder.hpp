// The Faster R-CNN box coder SSD uses (box_code_size 4).
//
// Mirrors research/object_detection/box_coders/faster_rcnn_box_coder.py.
// A code row is  ty, tx, th, tw:
//   ty = (yc - yc_a) / h_a * sy      tx = (xc - xc_a) / w_a * sx
//   th = log(h / h_a) * sh           tw = log(w / w_a) * sw
// with (yc, xc, h, w) the box centre and size and (.._a) the anchor's.
// Encode adds EPSILON = 1e-8 to h, w, h_a and w_a first (no 0/0 or log(0) for
// degenerate boxes). Decode clamps th/tw (after unscaling) at 80 before exp, so
// a wild prediction cannot overflow to inf.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_ops.hpp"

namespace warmstart::ssd {

class FasterRcnnBoxCoder {
 public:
  static constexpr int kCodeSize = 4;
  static constexpr double kEpsilon = 1e-8;
  static constexpr double kUpperBound = 80;  // exp(89) is inf in float32

  // The SSD configs' y_scale 10, x_scale 10, height_scale 5, width_scale 5.
  FasterRcnnBoxCoder() : FasterRcnnBoxCoder(std::array<double, 4>{10, 10, 5, 5}) {}
  // scale_factors ty, tx, th, tw; nullopt = no scaling (TF's None).
  explicit FasterRcnnBoxCoder(std::optional<std::array<double, 4>> scale_factors)
      : scale_factors_(scale_factors) {
    if (scale_factors_) {
      for (double s : *scale_factors_) {
        if (!(s > 0)) throw ArgumentError("FasterRcnnBoxCoder: scale factors must be > 0, found " + std::to_string(s));
      }
    }
  }

  int code_size() const { return kCodeSize; }
  const std::optional<std::array<double, 4>>& scale_factors() const { return scale_factors_; }

  // [N, 4] corners + [N, 4] anchor corners -> [N, 4] codes ty, tx, th, tw.
  template <typename T>
  BoxMatrix<T> Encode(const BoxMatrix<T>& boxes, const BoxMatrix<T>& anchors) const {
    CheckRows(boxes.rows(), anchors.rows(), "Encode");
    const BoxMatrix<T> b = CenterSize(boxes), a = CenterSize(anchors);
    const T eps = static_cast<T>(kEpsilon);
    BoxMatrix<T> codes(boxes.rows(), 4);
    for (Eigen::Index i = 0; i < boxes.rows(); ++i) {
      const T ha = a(i, 2) + eps, wa = a(i, 3) + eps, h = b(i, 2) + eps, w = b(i, 3) + eps;
      codes(i, 0) = (b(i, 0) - a(i, 0)) / ha * Scale<T>(0);
      codes(i, 1) = (b(i, 1) - a(i, 1)) / wa * Scale<T>(1);
      codes(i, 2) = std::log(h / ha) * Scale<T>(2);
      codes(i, 3) = std::log(w / wa) * Scale<T>(3);
    }
    return codes;
  }

  // [N, 4] codes + [N, 4] anchor corners -> [N, 4] corners.
  template <typename T>
  BoxMatrix<T> Decode(const BoxMatrix<T>& codes, const BoxMatrix<T>& anchors) const {
    CheckRows(codes.rows(), anchors.rows(), "Decode");
    const BoxMatrix<T> a = CenterSize(anchors);
    const T bound = static_cast<T>(kUpperBound);
    BoxMatrix<T> boxes(codes.rows(), 4);
    for (Eigen::Index i = 0; i < codes.rows(); ++i) {
      const T ty = codes(i, 0) / Scale<T>(0), tx = codes(i, 1) / Scale<T>(1);
      const T th = codes(i, 2) / Scale<T>(2), tw = codes(i, 3) / Scale<T>(3);
      const T w = std::exp(std::min(tw, bound)) * a(i, 3);
      const T h = std::exp(std::min(th, bound)) * a(i, 2);
      const T yc = ty * a(i, 2) + a(i, 0);
      const T xc = tx * a(i, 3) + a(i, 1);
      boxes(i, 0) = yc - h / T(2);
      boxes(i, 1) = xc - w / T(2);
      boxes(i, 2) = yc + h / T(2);
      boxes(i, 3) = xc + w / T(2);
    }
    return boxes;
  }

 private:
  template <typename T>
  T Scale(int k) const {
    return scale_factors_ ? static_cast<T>((*scale_factors_)[k]) : T(1);
  }

  static void CheckRows(Eigen::Index n, Eigen::Index anchors, const char* what) {
    if (n != anchors) {
      throw ArgumentError(std::string("FasterRcnnBoxCoder::") + what + ": " + std::to_string(n) +
                          " rows but " + std::to_string(anchors) + " anchors");
    }
  }

  std::optional<std::array<double, 4>> scale_factors_;
};

}  // namespace warmstart::ssd
