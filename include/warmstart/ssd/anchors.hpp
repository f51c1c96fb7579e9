// SSD anchors: create_ssd_anchors and MultipleGridAnchorGenerator.
//
// Mirrors research/object_detection/anchor_generators/
//   multiple_grid_anchor_generator.py  (create_ssd_anchors, _generate)
//   grid_anchor_generator.py           (tile_anchors)
//
// Output: [N, 4] corners ymin, xmin, ymax, xmax in normalised coordinates (the
// BoxList TF holds; ssd::CenterSize converts). Not clipped: create_ssd_anchors
// passes no clip_window, so anchors may stick out of [0, 1].
//
// Order (TF's): box spec fastest, then x, then y, then feature map:
//   row = offset(map) + ((y * W_map) + x) * A_map + a
//
// Box spec (scale s, aspect ratio ar): height = s / sqrt(ar) * base_h,
// width = s * sqrt(ar) * base_w, with base_h *= min(H, W) / H and
// base_w *= min(H, W) / W for an H x W image.
// Scales are computed in double (Python floats), then every tensor op runs in
// T, as TF runs them in float32.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_ops.hpp"

namespace warmstart::ssd {

struct BoxSpec {
  double scale;
  double aspect_ratio;
};

// A (y, x) pair, in pixels for explicit strides/offsets.
struct YX {
  double y;
  double x;
};

// One entry per feature map, (height, width) of its grid.
struct GridShape {
  int height;
  int width;
};

class MultipleGridAnchorGenerator {
 public:
  // Requires: strides/offsets empty or one per feature map (explicit ones are
  // in pixels and need the image size at Generate).
  MultipleGridAnchorGenerator(std::vector<std::vector<BoxSpec>> box_specs, YX base_anchor_size,
                              std::vector<YX> anchor_strides = {},
                              std::vector<YX> anchor_offsets = {})
      : box_specs_(std::move(box_specs)),
        base_anchor_size_(base_anchor_size),
        anchor_strides_(std::move(anchor_strides)),
        anchor_offsets_(std::move(anchor_offsets)) {
    CheckPerMap(anchor_strides_.size(), "anchor_strides");
    CheckPerMap(anchor_offsets_.size(), "anchor_offsets");
  }

  const std::vector<std::vector<BoxSpec>>& box_specs() const { return box_specs_; }

  // A: anchors per spatial location, one per feature map.
  std::vector<int> NumAnchorsPerLocation() const {
    std::vector<int> out;
    for (const auto& specs : box_specs_) out.push_back(static_cast<int>(specs.size()));
    return out;
  }

  // Total anchors for these grids: sum of H * W * A.
  int NumAnchors(const std::vector<GridShape>& grids) const {
    CheckGrids(grids);
    int n = 0;
    for (size_t i = 0; i < grids.size(); ++i) {
      n += grids[i].height * grids[i].width * static_cast<int>(box_specs_[i].size());
    }
    return n;
  }

  // [N, 4] corners for an im_height x im_width image (pixels; the default 1 x 1
  // keeps base sizes square and is only valid with default strides/offsets).
  template <typename T>
  BoxMatrix<T> Generate(const std::vector<GridShape>& grids, double im_height = 1,
                        double im_width = 1) const {
    const int n = NumAnchors(grids);
    if (im_height <= 0 || im_width <= 0) throw ArgumentError("anchors: image size must be positive");
    const T h = static_cast<T>(im_height), w = static_cast<T>(im_width);
    const T min_side = std::min(h, w);
    const T base_h = min_side / h * static_cast<T>(base_anchor_size_.y);
    const T base_w = min_side / w * static_cast<T>(base_anchor_size_.x);
    BoxMatrix<T> out(n, 4);
    Eigen::Index row = 0;
    for (size_t m = 0; m < grids.size(); ++m) {
      T stride_y, stride_x, offset_y, offset_x;
      if (anchor_strides_.empty()) {
        stride_y = T(1) / static_cast<T>(grids[m].height);
        stride_x = T(1) / static_cast<T>(grids[m].width);
      } else {
        stride_y = static_cast<T>(anchor_strides_[m].y) / h;
        stride_x = static_cast<T>(anchor_strides_[m].x) / w;
      }
      if (anchor_offsets_.empty()) {
        offset_y = T(0.5) * stride_y;
        offset_x = T(0.5) * stride_x;
      } else {
        offset_y = static_cast<T>(anchor_offsets_[m].y) / h;
        offset_x = static_cast<T>(anchor_offsets_[m].x) / w;
      }
      TileAnchors(grids[m], box_specs_[m], base_h, base_w, stride_y, stride_x, offset_y, offset_x,
                  out, row);
    }
    return out;
  }

 private:
  void CheckPerMap(size_t n, const char* what) const {
    if (n != 0 && n != box_specs_.size()) {
      throw ArgumentError(std::string("anchors: ") + what + " has " + std::to_string(n) +
                          " entries, expected one per feature map (" +
                          std::to_string(box_specs_.size()) + ")");
    }
  }

  void CheckGrids(const std::vector<GridShape>& grids) const {
    if (grids.size() != box_specs_.size()) {
      throw ArgumentError("anchors: " + std::to_string(grids.size()) + " feature maps given, " +
                          std::to_string(box_specs_.size()) + " expected");
    }
    for (const auto& g : grids) {
      if (g.height <= 0 || g.width <= 0) throw ArgumentError("anchors: grid sizes must be positive");
    }
  }

  // grid_anchor_generator.tile_anchors for one map, appended at `row`.
  template <typename T>
  static void TileAnchors(GridShape grid, const std::vector<BoxSpec>& specs, T base_h, T base_w,
                          T stride_y, T stride_x, T offset_y, T offset_x, BoxMatrix<T>& out,
                          Eigen::Index& row) {
    std::vector<T> heights, widths;
    for (const auto& spec : specs) {
      const T ratio_sqrt = std::sqrt(static_cast<T>(spec.aspect_ratio));
      heights.push_back(static_cast<T>(spec.scale) / ratio_sqrt * base_h);
      widths.push_back(static_cast<T>(spec.scale) * ratio_sqrt * base_w);
    }
    for (int y = 0; y < grid.height; ++y) {
      const T yc = static_cast<T>(y) * stride_y + offset_y;
      for (int x = 0; x < grid.width; ++x) {
        const T xc = static_cast<T>(x) * stride_x + offset_x;
        for (size_t a = 0; a < specs.size(); ++a, ++row) {
          out(row, 0) = yc - T(0.5) * heights[a];
          out(row, 1) = xc - T(0.5) * widths[a];
          out(row, 2) = yc + T(0.5) * heights[a];
          out(row, 3) = xc + T(0.5) * widths[a];
        }
      }
    }
  }

  std::vector<std::vector<BoxSpec>> box_specs_;
  YX base_anchor_size_;
  std::vector<YX> anchor_strides_;
  std::vector<YX> anchor_offsets_;
};

// The arguments of create_ssd_anchors (and of the ssd_anchor_generator proto,
// whose builder passes them through; an empty proto aspect_ratios list stays
// empty). Defaults are the Python function's.
struct SsdAnchorOptions {
  int num_layers = 6;
  double min_scale = 0.2;
  double max_scale = 0.95;
  std::vector<double> scales;  // when non-empty, min/max_scale are unused
  std::vector<double> aspect_ratios = {1.0, 2.0, 3.0, 1.0 / 2, 1.0 / 3};
  double interpolated_scale_aspect_ratio = 1.0;  // 0 drops the extra anchor
  YX base_anchor_size = {1.0, 1.0};              // height, width
  std::vector<YX> anchor_strides;                // pixels; empty = 1 / grid
  std::vector<YX> anchor_offsets;                // pixels; empty = stride / 2
  bool reduce_boxes_in_lowest_layer = true;
};

namespace detail {

// s_i = min + (max - min) * i / (num_layers - 1), or the explicit list; then 1.0.
inline std::vector<double> SsdScales(const SsdAnchorOptions& o) {
  std::vector<double> scales = o.scales;
  if (scales.empty()) {
    if (o.num_layers < 2) throw ArgumentError("anchors: num_layers must be >= 2 without explicit scales");
    for (int i = 0; i < o.num_layers; ++i) {
      scales.push_back(o.min_scale + (o.max_scale - o.min_scale) * i / (o.num_layers - 1));
    }
  }
  scales.push_back(1.0);
  return scales;
}

}  // namespace detail

// create_ssd_anchors. Layer 0 with reduce_boxes_in_lowest_layer gets
// (0.1, 1.0), (s_0, 2.0), (s_0, 0.5); every other layer (s_i, ar) for each
// aspect ratio, then (sqrt(s_i * s_{i+1}), interpolated_scale_aspect_ratio)
// when that ratio is > 0. As Python's zip, an explicit scale list shorter
// than num_layers yields that many layers.
inline MultipleGridAnchorGenerator CreateSsdAnchors(const SsdAnchorOptions& o) {
  if (o.num_layers <= 0) throw ArgumentError("anchors: num_layers must be positive");
  const std::vector<double> scales = detail::SsdScales(o);
  const size_t layers = std::min(static_cast<size_t>(o.num_layers), scales.size() - 1);
  std::vector<std::vector<BoxSpec>> specs(layers);
  for (size_t layer = 0; layer < layers; ++layer) {
    const double scale = scales[layer], scale_next = scales[layer + 1];
    if (layer == 0 && o.reduce_boxes_in_lowest_layer) {
      specs[layer] = {{0.1, 1.0}, {scale, 2.0}, {scale, 0.5}};
      continue;
    }
    for (double ar : o.aspect_ratios) specs[layer].push_back({scale, ar});
    if (o.interpolated_scale_aspect_ratio > 0.0) {
      specs[layer].push_back({std::sqrt(scale * scale_next), o.interpolated_scale_aspect_ratio});
    }
  }
  return MultipleGridAnchorGenerator(std::move(specs), o.base_anchor_size, o.anchor_strides,
                                     o.anchor_offsets);
}

}  // namespace warmstart::ssd
