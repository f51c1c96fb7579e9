// A built-in synthetic detection dataset: coloured shapes on a cluttered background, generated
// on the fly, deterministic from (seed, index). Made for demos and tests of fine-tuning: train
// on one set of classes, fine-tune on another (docs/shapes-and-augmentation.md).
//
// Classes (ShapeNames(), in this order): circle, square, triangle, cross, ring, diamond, star,
// bar. ShapesOptions::classes picks some of them by name; label i + 1 is classes[i], so the
// label map of a dataset is its class list in order.
//
// One example, drawn in this order:
//   1. background: a linear gradient between two random colours (or one colour), plus uniform
//      per-channel noise in [-noise, noise];
//   2. clutter, never labelled: 0..4 thin lines and 0..6 small dots (radius <= 3 % of the short
//      side, well under the smallest object);
//   3. 1..max_objects objects, each a class, a size (diameter in [min_size, max_size] of the
//      short side), a centre that keeps it inside the image, a colour far from the background
//      under it; each new object may cover at most max_overlap of an earlier object's box (and
//      of its own), so objects overlap but stay mostly visible. Later objects are drawn on top.
// Boxes are the full (amodal) extent of each object: the smallest pixel rectangle holding every
// pixel the object's shape touches (coverage > 0), occluded parts included, as
// {y0 / H, x0 / W, (y1 + 1) / H, (x1 + 1) / W}. With anti_alias, edge pixels are blended by
// coverage = clamp(0.5 - signed distance, 0, 1) (a one-pixel ramp); without, a pixel is the
// object's when its centre is inside.
//
// Determinism: every random choice comes from data::Rng (SplitMix64) seeded with
// Rng::Derive(seed, index), and the geometry uses only +, -, *, / and sqrt (IEEE-exact), no
// trigonometry: the same options, seed and index give the same bytes on every platform (built
// without -ffast-math or FMA contraction).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/data/example.hpp"
#include "warmstart/error.hpp"
#include "warmstart/image/image.hpp"

namespace warmstart::data {

enum class Shape { kCircle, kSquare, kTriangle, kCross, kRing, kDiamond, kStar, kBar };

// Every shape's name, indexed by Shape.
inline const std::vector<std::string>& ShapeNames() {
  static const std::vector<std::string> names = {"circle", "square", "triangle", "cross",
                                                 "ring",   "diamond", "star",    "bar"};
  return names;
}

// Throws ArgumentError naming the known shapes when `name` is none of them.
inline Shape ShapeFromName(const std::string& name) {
  const std::vector<std::string>& names = ShapeNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Shape>(i);
  }
  std::string known;
  for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
  throw ArgumentError("shapes: unknown class '" + name + "' (known: " + known + ")");
}

struct ShapesOptions {
  std::vector<std::string> classes = {"circle", "square", "triangle", "cross"};
  int height = 128;
  int width = 128;
  int min_objects = 1;
  int max_objects = 4;
  float min_size = 0.15f;     // object diameter relative to min(height, width)
  float max_size = 0.45f;
  float max_overlap = 0.25f;  // intersection / area of either box, for every pair of objects
  int noise = 8;              // background noise amplitude, 0..255 levels
  bool gradient = true;       // false: one background colour
  bool clutter = true;        // lines and dots that are not objects
  bool anti_alias = true;
  uint64_t seed = 0;
};

namespace detail {

// One object to draw: shape, centre (pixels, continuous coordinates), radius and variant.
struct ShapeSpec {
  Shape shape = Shape::kCircle;
  float cy = 0, cx = 0, r = 1;
  int variant = 0;  // triangle: pointing up/right/down/left; bar: horizontal/vertical
  std::array<uint8_t, 3> color{};
};

inline float Length(float x, float y) { return std::sqrt(x * x + y * y); }

// Signed distance to an axis-aligned box of half extents (bx, by) centred at 0.
inline float BoxDistance(float x, float y, float bx, float by) {
  const float qx = std::fabs(x) - bx, qy = std::fabs(y) - by;
  return Length(std::max(qx, 0.0f), std::max(qy, 0.0f)) + std::min(std::max(qx, qy), 0.0f);
}

// Signed distance (exact inside, a lower bound outside) to the triangle with apex (0, -r) and
// base corners (+-r, 0.8 r), pointing up; `up` = +1 or -1 (pointing down).
inline float TriangleDistance(float x, float y, float r, float up) {
  y *= up;
  // Edges with outward unit normals: base y = 0.8r; two sides through the apex.
  const float base = y - 0.8f * r;
  // Side through (0, -r) and (r, 0.8r): direction (1, 1.8), outward normal (1.8, -1) / |.|.
  const float inv = 1.0f / std::sqrt(1.0f + 1.8f * 1.8f);
  const float side = (1.8f * std::fabs(x) - (y + r)) * inv;
  return std::max(base, side);
}

// Equilateral triangle of circumradius r, apex up (+1) or down (-1), for the star.
inline float EquilateralDistance(float x, float y, float r, float up) {
  y *= up;
  const float base = y - 0.5f * r;
  // Side through (0, -r) and (r sqrt(3)/2, r / 2): outward normal (sqrt(3)/2, -1/2).
  const float side = 0.8660254f * std::fabs(x) - 0.5f * (y + r);
  return std::max(base, side);
}

// Signed distance of point (x, y) (relative to the centre, pixels) to the shape; < 0 inside.
inline float ShapeDistance(const ShapeSpec& s, float x, float y) {
  const float r = s.r;
  switch (s.shape) {
    case Shape::kCircle: return Length(x, y) - r;
    case Shape::kSquare: return BoxDistance(x, y, 0.8f * r, 0.8f * r);
    case Shape::kTriangle:
      if (s.variant % 2 == 1) std::swap(x, y);  // right / left: the up / down triangle turned
      return TriangleDistance(x, y, r, s.variant < 2 ? 1.0f : -1.0f);
    case Shape::kCross: return std::min(BoxDistance(x, y, r, 0.3f * r), BoxDistance(x, y, 0.3f * r, r));
    case Shape::kRing: return std::fabs(Length(x, y) - 0.75f * r) - 0.25f * r;
    case Shape::kDiamond: return (std::fabs(x) + std::fabs(y) - r) * 0.70710678f;
    case Shape::kStar: return std::min(EquilateralDistance(x, y, r, 1.0f), EquilateralDistance(x, y, r, -1.0f));
    case Shape::kBar:
      return s.variant == 0 ? BoxDistance(x, y, r, 0.3f * r) : BoxDistance(x, y, 0.3f * r, r);
  }
  return 1.0f;
}

inline uint8_t Blend(uint8_t under, uint8_t over, float coverage) {
  const float v = static_cast<float>(under) + (static_cast<float>(over) - static_cast<float>(under)) * coverage;
  return static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, v + 0.5f)));
}

// Pixel rows / columns [y0, y1] x [x0, x1] the shape may touch, clamped to the image.
struct PixelRect {
  int y0 = 0, x0 = 0, y1 = -1, x1 = -1;
  bool empty() const { return y1 < y0 || x1 < x0; }
};

inline PixelRect Reach(const ShapeSpec& s, int height, int width) {
  PixelRect p;
  p.y0 = std::max(0, static_cast<int>(std::floor(s.cy - s.r - 1.0f)));
  p.x0 = std::max(0, static_cast<int>(std::floor(s.cx - s.r - 1.0f)));
  p.y1 = std::min(height - 1, static_cast<int>(std::ceil(s.cy + s.r + 1.0f)));
  p.x1 = std::min(width - 1, static_cast<int>(std::ceil(s.cx + s.r + 1.0f)));
  return p;
}

// Draws the shape over `im`; returns the pixels it touched (coverage > 0).
inline PixelRect DrawShape(image::Image& im, const ShapeSpec& s, bool anti_alias) {
  const PixelRect reach = Reach(s, im.height, im.width);
  PixelRect touched{im.height, im.width, -1, -1};
  for (int y = reach.y0; y <= reach.y1; ++y) {
    for (int x = reach.x0; x <= reach.x1; ++x) {
      const float d = ShapeDistance(s, static_cast<float>(x) + 0.5f - s.cx, static_cast<float>(y) + 0.5f - s.cy);
      const float coverage = anti_alias ? std::min(1.0f, std::max(0.0f, 0.5f - d)) : (d <= 0.0f ? 1.0f : 0.0f);
      if (coverage <= 0.0f) continue;
      uint8_t* p = &im.pixels[im.Offset(y, x, 0)];
      for (int c = 0; c < 3; ++c) p[c] = Blend(p[c], s.color[static_cast<size_t>(c)], coverage);
      touched.y0 = std::min(touched.y0, y);
      touched.x0 = std::min(touched.x0, x);
      touched.y1 = std::max(touched.y1, y);
      touched.x1 = std::max(touched.x1, x);
    }
  }
  return touched;
}

inline std::array<uint8_t, 3> RandomColor(Rng& rng) {
  const uint64_t v = rng.Next();
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16)};
}

inline int ColorDistance(const std::array<uint8_t, 3>& a, const uint8_t* b) {
  int d = 0;
  for (int c = 0; c < 3; ++c) d += std::abs(static_cast<int>(a[static_cast<size_t>(c)]) - static_cast<int>(b[c]));
  return d;
}

// Gradient (or flat) background with per-channel noise.
inline void DrawBackground(image::Image& im, const ShapesOptions& o, Rng& rng) {
  const std::array<uint8_t, 3> c0 = RandomColor(rng);
  const std::array<uint8_t, 3> c1 = o.gradient ? RandomColor(rng) : c0;
  const float gy = rng.Uniform(-1.0f, 1.0f), gx = rng.Uniform(-1.0f, 1.0f);
  const float norm = 1.0f / (std::fabs(gy) * static_cast<float>(im.height) + std::fabs(gx) * static_cast<float>(im.width) + 1.0f);
  const float t0 = (gy < 0 ? -gy * static_cast<float>(im.height) : 0.0f) + (gx < 0 ? -gx * static_cast<float>(im.width) : 0.0f);
  const uint32_t span = static_cast<uint32_t>(2 * o.noise + 1);
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      const float t = (gy * static_cast<float>(y) + gx * static_cast<float>(x) + t0) * norm;
      uint64_t bits = o.noise > 0 ? rng.Next() : 0;
      uint8_t* p = &im.pixels[im.Offset(y, x, 0)];
      for (int c = 0; c < 3; ++c, bits >>= 21) {
        const float base = static_cast<float>(c0[static_cast<size_t>(c)]) +
                           (static_cast<float>(c1[static_cast<size_t>(c)]) - static_cast<float>(c0[static_cast<size_t>(c)])) * t;
        const int n = o.noise > 0 ? static_cast<int>(((bits & 0x1fffff) * span) >> 21) - o.noise : 0;
        p[c] = static_cast<uint8_t>(std::min(255, std::max(0, static_cast<int>(base + 0.5f) + n)));
      }
    }
  }
}

// A one-pixel line from (y0, x0) to (y1, x1), half blended.
inline void DrawClutterLine(image::Image& im, Rng& rng) {
  const int y0 = rng.UniformInt(0, im.height - 1), x0 = rng.UniformInt(0, im.width - 1);
  const int y1 = rng.UniformInt(0, im.height - 1), x1 = rng.UniformInt(0, im.width - 1);
  const std::array<uint8_t, 3> color = RandomColor(rng);
  const int steps = std::max(std::abs(y1 - y0), std::abs(x1 - x0));
  for (int i = 0; i <= steps; ++i) {
    const int y = steps == 0 ? y0 : y0 + ((y1 - y0) * i + (y1 >= y0 ? steps / 2 : -steps / 2)) / steps;
    const int x = steps == 0 ? x0 : x0 + ((x1 - x0) * i + (x1 >= x0 ? steps / 2 : -steps / 2)) / steps;
    uint8_t* p = &im.pixels[im.Offset(y, x, 0)];
    for (int c = 0; c < 3; ++c) p[c] = Blend(p[c], color[static_cast<size_t>(c)], 0.5f);
  }
}

inline void DrawClutter(image::Image& im, const ShapesOptions& o, Rng& rng) {
  const int lines = rng.UniformInt(0, 4);
  for (int i = 0; i < lines; ++i) DrawClutterLine(im, rng);
  const int dots = rng.UniformInt(0, 6);
  const float max_r = std::max(1.0f, 0.03f * static_cast<float>(std::min(im.height, im.width)));
  for (int i = 0; i < dots; ++i) {
    ShapeSpec dot;
    dot.shape = Shape::kCircle;
    dot.r = rng.Uniform(1.0f, max_r);
    dot.cy = rng.Uniform(0.0f, static_cast<float>(im.height));
    dot.cx = rng.Uniform(0.0f, static_cast<float>(im.width));
    dot.color = RandomColor(rng);
    DrawShape(im, dot, o.anti_alias);
  }
}

inline float BoxArea(const PixelRect& p) {
  return static_cast<float>(p.y1 - p.y0 + 1) * static_cast<float>(p.x1 - p.x0 + 1);
}

// True when `a` and `b` overlap by more than max_overlap of either's area.
inline bool OverlapsTooMuch(const PixelRect& a, const PixelRect& b, float max_overlap) {
  const int h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0) + 1;
  const int w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0) + 1;
  if (h <= 0 || w <= 0) return false;
  const float inter = static_cast<float>(h) * static_cast<float>(w);
  return inter > max_overlap * BoxArea(a) || inter > max_overlap * BoxArea(b);
}

}  // namespace detail

class ShapesDataset {
 public:
  // Throws ArgumentError for an empty or unknown class list, sizes outside (0, 1] or
  // min > max, an image side below 16 or above 4096, or object counts outside 1..64.
  explicit ShapesDataset(ShapesOptions options) : options_(std::move(options)) {
    Check();
    for (const std::string& name : options_.classes) shapes_.push_back(ShapeFromName(name));
  }

  const ShapesOptions& options() const { return options_; }
  const std::vector<std::string>& classes() const { return options_.classes; }
  int num_classes() const { return static_cast<int>(options_.classes.size()); }

  // Example `index` (any value; the same index always gives the same example).
  DetectionExample Example(uint64_t index) const {
    Rng rng(Rng::Derive(options_.seed, index));
    DetectionExample ex;
    ex.image = image::Image::Zeros(options_.height, options_.width, 3);
    detail::DrawBackground(ex.image, options_, rng);
    if (options_.clutter) detail::DrawClutter(ex.image, options_, rng);
    const int count = rng.UniformInt(options_.min_objects, options_.max_objects);
    std::vector<detail::PixelRect> placed;
    for (int i = 0; i < count; ++i) {
      detail::ShapeSpec spec;
      if (!Place(rng, placed, &spec)) continue;  // no room left: fewer objects
      const int label = rng.UniformInt(1, num_classes());
      spec.shape = shapes_[static_cast<size_t>(label - 1)];
      spec.variant = rng.UniformInt(0, 3);
      spec.color = Contrasting(ex.image, spec, rng);
      const detail::PixelRect touched = detail::DrawShape(ex.image, spec, options_.anti_alias);
      if (touched.empty()) continue;
      placed.push_back(touched);
      ex.boxes.push_back(NormalizedBox(touched));
      ex.labels.push_back(label);
    }
    return ex;
  }

  // The label map of this dataset in pbtxt form (item { id: 1 name: 'circle' } ...).
  std::string LabelMapText() const {
    std::string out;
    for (size_t i = 0; i < options_.classes.size(); ++i) {
      out += "item {\n  id: " + std::to_string(i + 1) + "\n  name: '" + options_.classes[i] + "'\n}\n";
    }
    return out;
  }

 private:
  void Check() const {
    const ShapesOptions& o = options_;
    if (o.classes.empty()) throw ArgumentError("shapes: the class list is empty");
    if (o.height < 16 || o.width < 16 || o.height > 4096 || o.width > 4096) {
      throw ArgumentError("shapes: image size " + std::to_string(o.height) + "x" + std::to_string(o.width) +
                          " is outside 16..4096");
    }
    if (o.min_objects < 1 || o.max_objects < o.min_objects || o.max_objects > 64) {
      throw ArgumentError("shapes: object count " + std::to_string(o.min_objects) + ".." + std::to_string(o.max_objects) +
                          " is not within 1..64");
    }
    if (!(o.min_size > 0.0f) || !(o.max_size <= 1.0f) || !(o.min_size <= o.max_size)) {
      throw ArgumentError("shapes: object size " + std::to_string(o.min_size) + ".." + std::to_string(o.max_size) +
                          " is not within (0, 1]");
    }
    if (o.noise < 0 || o.noise > 255) throw ArgumentError("shapes: noise " + std::to_string(o.noise) + " is outside 0..255");
  }

  // A centre and radius whose reach overlaps no earlier object too much; 20 tries.
  bool Place(Rng& rng, const std::vector<detail::PixelRect>& placed, detail::ShapeSpec* spec) const {
    const float side = static_cast<float>(std::min(options_.height, options_.width));
    for (int attempt = 0; attempt < 20; ++attempt) {
      const float r = 0.5f * side * rng.Uniform(options_.min_size, options_.max_size) + 0.5f;
      spec->r = std::max(r, 2.0f);
      spec->cy = rng.Uniform(spec->r, std::max(spec->r, static_cast<float>(options_.height) - spec->r));
      spec->cx = rng.Uniform(spec->r, std::max(spec->r, static_cast<float>(options_.width) - spec->r));
      const detail::PixelRect reach = detail::Reach(*spec, options_.height, options_.width);
      bool ok = true;
      for (const detail::PixelRect& p : placed) ok = ok && !detail::OverlapsTooMuch(p, reach, options_.max_overlap);
      if (ok) return true;
    }
    return false;
  }

  // A random colour at least 200 levels (sum over R, G, B) from the pixel under the centre;
  // after 8 misses, white or black, whichever is farther.
  static std::array<uint8_t, 3> Contrasting(const image::Image& im, const detail::ShapeSpec& s, Rng& rng) {
    const int y = std::min(im.height - 1, std::max(0, static_cast<int>(s.cy)));
    const int x = std::min(im.width - 1, std::max(0, static_cast<int>(s.cx)));
    const uint8_t* under = &im.pixels[im.Offset(y, x, 0)];
    for (int i = 0; i < 8; ++i) {
      const std::array<uint8_t, 3> c = detail::RandomColor(rng);
      if (detail::ColorDistance(c, under) >= 200) return c;
    }
    const uint8_t v = under[0] + under[1] + under[2] < 383 ? 255 : 0;
    return {v, v, v};
  }

  Box NormalizedBox(const detail::PixelRect& p) const {
    const float h = static_cast<float>(options_.height), w = static_cast<float>(options_.width);
    return Box{static_cast<float>(p.y0) / h, static_cast<float>(p.x0) / w, static_cast<float>(p.y1 + 1) / h,
               static_cast<float>(p.x1 + 1) / w};
  }

  ShapesOptions options_;
  std::vector<Shape> shapes_;  // shapes_[label - 1]
};

}  // namespace warmstart::data
