// The Object Detection API's data augmentation steps (train_config.data_augmentation_options)
// on one example, mirroring research/object_detection/core/preprocessor.py and the TF kernels
// it calls. The image is float in [0, 255], as the preprocessor receives it (the decoded uint8
// image cast to float32); boxes are {ymin, xmin, ymax, xmax} normalised; labels 1-based.
//
//   step                       preprocessor.py               here
//   random_horizontal_flip     flip when U[0,1) < probability RandomHorizontalFlip
//   random_crop_image          random_crop_image              RandomCropImage
//   ssd_random_crop            ssd_random_crop                SsdRandomCrop (empty list: the
//                                                             7 built-in operations)
//   random_adjust_brightness   x + 255 * U[-d, d), clip       RandomAdjustBrightness
//   random_adjust_contrast     (x - mean_c) f + mean_c, clip  RandomAdjustContrast
//   random_adjust_hue          hue += U[-d, d) turns, clip    RandomAdjustHue
//   random_adjust_saturation   s = clamp(s f, 0, 1), clip     RandomAdjustSaturation
//   random_rgb_to_gray         gray when U[0,1) <= p          RandomRgbToGray
// Each clip is to [0, 255], after the step, as preprocessor.py does; the colour steps compute on
// x / 255 and scale back by 255 (tf.image.adjust_* take [0, 1] floats), in float32.
//
// Cropping (random_crop_image, and each ssd_random_crop operation):
//   1. keep the original with probability random_coef (draw U[0,1); crop when U > random_coef;
//      no draw when random_coef < FLT_MIN, as preprocessor.py's sys.float_info.min test);
//   2. SampleDistortedBoundingBox: sample_distorted_bounding_box_op.cc with max_attempts = 100
//      and use_image_if_no_bounding_boxes: boxes (clipped to [0, 1]) become integer pixel
//      rectangles (truncated), each attempt draws an aspect ratio, a height in
//      [lrint(sqrt(min_area / ar)), max height] and an offset, and accepts the crop when it
//      covers >= min_object_covered of some box of >= 1 pixel area; no attempt accepted: the
//      whole image;
//   3. CropToWindow: slice the image; drop boxes completely outside the window
//      (box_list_ops.prune_completely_outside_window), then boxes with intersection / box area
//      < overlap_thresh (prune_non_overlapping_boxes; boxes without positive area too); move the
//      rest to the window's frame (change_coordinate_frame), clip to [0, 1] when clip_boxes.
// ssd_random_crop picks one operation uniformly (_apply_with_random_selector_tuples).
//
// Random numbers come from data::Rng, not TF's Philox: the same seed does not give TF's
// crops, but every draw has TF's distribution and every rule above is TF's. Parameters TF's
// kernels refuse (aspect ratio <= 0, area outside (0, 1], min_object_covered < 0) are refused
// when an Augmenter is built, with the step's position and name.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/data/example.hpp"
#include "warmstart/error.hpp"
#include "warmstart/image/image.hpp"

namespace warmstart::data {

// ---- conversions ----------------------------------------------------------------------

inline FloatDetectionExample ToFloat(const DetectionExample& ex) {
  FloatDetectionExample out;
  out.image.height = ex.image.height;
  out.image.width = ex.image.width;
  out.image.channels = ex.image.channels;
  out.image.pixels.assign(ex.image.pixels.begin(), ex.image.pixels.end());
  out.boxes = ex.boxes;
  out.labels = ex.labels;
  return out;
}

// Rounded to the nearest level and clamped to 0..255 (for drawing and saving).
inline image::Image ToUint8(const image::FloatImage& im) {
  image::Image out = image::Image::Zeros(im.height, im.width, im.channels);
  for (size_t i = 0; i < im.pixels.size(); ++i) {
    out.pixels[i] = static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, std::floor(im.pixels[i] + 0.5f))));
  }
  return out;
}

// ---- geometry: flip and crop ----------------------------------------------------------

// tf.image.flip_left_right and _flip_boxes_left_right: xmin' = 1 - xmax, xmax' = 1 - xmin.
inline void FlipLeftRight(FloatDetectionExample& ex) {
  image::FloatImage& im = ex.image;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width / 2; ++x) {
      for (int c = 0; c < im.channels; ++c) std::swap(im.at(y, x, c), im.at(y, im.width - 1 - x, c));
    }
  }
  for (Box& b : ex.boxes) {
    const float xmin = b[1];
    b[1] = 1.0f - b[3];
    b[3] = 1.0f - xmin;
  }
}

// A crop in pixels: rows [y, y + height), columns [x, x + width).
struct PixelWindow {
  int y = 0, x = 0, height = 0, width = 0;
};

struct CropConstraints {
  float min_object_covered = 1.0f;
  float min_aspect_ratio = 0.75f, max_aspect_ratio = 1.33f;  // width / height
  float min_area = 0.1f, max_area = 1.0f;                    // of the image area
  int max_attempts = 100;
};

namespace detail {

struct Rect {  // sample_distorted_bounding_box_op.cc Rectangle: [min, max) in pixels
  int min_x = 0, min_y = 0, max_x = 0, max_y = 0;
  float Area() const { return static_cast<float>((max_x - min_x) * (max_y - min_y)); }
  Rect Intersect(const Rect& r) const {
    const Rect p{std::max(min_x, r.min_x), std::max(min_y, r.min_y), std::min(max_x, r.max_x), std::min(max_y, r.max_y)};
    return (p.min_x > p.max_x || p.min_y > p.max_y) ? Rect{} : p;
  }
};

inline bool SatisfiesOverlapConstraints(const Rect& crop, float min_object_covered, const std::vector<Rect>& boxes) {
  const float kMinArea = 1.0f;
  if (crop.Area() < kMinArea) return false;
  for (const Rect& b : boxes) {
    const float area = b.Area();
    if (area < kMinArea) continue;
    if (crop.Intersect(b).Area() / area >= min_object_covered) return true;
  }
  return false;
}

inline int Lrint(float v) { return static_cast<int>(std::lrint(v)); }

// GenerateRandomCrop of sample_distorted_bounding_box_op.cc, step for step.
inline bool GenerateRandomCrop(int width, int height, float min_rel, float max_rel, float ar, Rng& rng, Rect* out) {
  if (max_rel <= 0.0f || ar <= 0.0f || width <= 0 || height <= 0 || min_rel > max_rel) return false;
  const float min_area = min_rel * static_cast<float>(width) * static_cast<float>(height);
  const float max_area = max_rel * static_cast<float>(width) * static_cast<float>(height);
  int h = Lrint(std::sqrt(min_area / ar));
  int max_h = Lrint(std::sqrt(max_area / ar));
  if (Lrint(static_cast<float>(max_h) * ar) > width) {
    const float kEps = 0.0000001f;
    max_h = static_cast<int>((static_cast<float>(width) + 0.5f - kEps) / ar);
    if (Lrint(static_cast<float>(max_h) * ar) > width) max_h -= 1;
  }
  max_h = std::min(max_h, height);
  h = std::min(h, max_h);
  if (h < max_h) h += static_cast<int>(rng.UniformInt(static_cast<uint32_t>(max_h - h + 1)));
  int w = Lrint(static_cast<float>(h) * ar);
  float area = static_cast<float>(w * h);
  if (area < min_area) {
    h += 1;
    w = Lrint(static_cast<float>(h) * ar);
    area = static_cast<float>(w * h);
  }
  if (area > max_area) {
    h -= 1;
    w = Lrint(static_cast<float>(h) * ar);
    area = static_cast<float>(w * h);
  }
  if (area < min_area || area > max_area || w > width || h > height || w <= 0 || h <= 0) return false;
  const int y = h < height ? static_cast<int>(rng.UniformInt(static_cast<uint32_t>(height - h))) : 0;
  const int x = w < width ? static_cast<int>(rng.UniformInt(static_cast<uint32_t>(width - w))) : 0;
  *out = Rect{x, y, x + w, y + h};
  return true;
}

inline float Clip01(float v) { return std::min(1.0f, std::max(0.0f, v)); }

}  // namespace detail

// tf.image.sample_distorted_bounding_box(image_shape, boxes, ..., use_image_if_no_bounding_boxes
// = True) for an image of height x width. Boxes are clipped to [0, 1] first, as
// _strict_random_crop_image does.
inline PixelWindow SampleDistortedBoundingBox(int height, int width, const std::vector<Box>& boxes,
                                              const CropConstraints& k, Rng& rng) {
  std::vector<detail::Rect> rects;
  for (const Box& b : boxes) {
    rects.push_back({static_cast<int>(detail::Clip01(b[1]) * static_cast<float>(width)),
                     static_cast<int>(detail::Clip01(b[0]) * static_cast<float>(height)),
                     static_cast<int>(detail::Clip01(b[3]) * static_cast<float>(width)),
                     static_cast<int>(detail::Clip01(b[2]) * static_cast<float>(height))});
  }
  const detail::Rect image_rect{0, 0, width, height};
  if (rects.empty()) rects.push_back(image_rect);
  detail::Rect crop = image_rect;
  for (int i = 0; i < k.max_attempts; ++i) {
    const float ar = rng.Uniform() * (k.max_aspect_ratio - k.min_aspect_ratio) + k.min_aspect_ratio;
    detail::Rect candidate;
    if (detail::GenerateRandomCrop(width, height, k.min_area, k.max_area, ar, rng, &candidate) &&
        detail::SatisfiesOverlapConstraints(candidate, k.min_object_covered, rects)) {
      crop = candidate;
      break;
    }
  }
  return PixelWindow{crop.min_y, crop.min_x, crop.max_y - crop.min_y, crop.max_x - crop.min_x};
}

// Slices the image to `w` and keeps, in the window's frame, the boxes that overlap it by at
// least overlap_thresh of their own area (the rules in the file comment).
// Requires: w lies inside the image and is not empty.
inline void CropToWindow(FloatDetectionExample& ex, const PixelWindow& w, float overlap_thresh, bool clip_boxes) {
  const image::FloatImage& in = ex.image;
  image::FloatImage out = image::FloatImage::Zeros(w.height, w.width, in.channels);
  for (int y = 0; y < w.height; ++y) {
    const float* src = &in.pixels[in.Offset(w.y + y, w.x, 0)];
    std::copy(src, src + static_cast<size_t>(w.width) * static_cast<size_t>(in.channels), &out.pixels[out.Offset(y, 0, 0)]);
  }
  const float H = static_cast<float>(in.height), W = static_cast<float>(in.width);
  const Box win{static_cast<float>(w.y) / H, static_cast<float>(w.x) / W, static_cast<float>(w.y + w.height) / H,
                static_cast<float>(w.x + w.width) / W};
  const float win_h = win[2] - win[0], win_w = win[3] - win[1];
  std::vector<Box> boxes;
  std::vector<int32_t> labels;
  for (size_t i = 0; i < ex.boxes.size(); ++i) {
    const Box& b = ex.boxes[i];
    if (b[0] >= win[2] || b[1] >= win[3] || b[2] <= win[0] || b[3] <= win[1]) continue;  // completely outside
    const float area = (b[2] - b[0]) * (b[3] - b[1]);
    const float ih = std::max(0.0f, std::min(b[2], win[2]) - std::max(b[0], win[0]));
    const float iw = std::max(0.0f, std::min(b[3], win[3]) - std::max(b[1], win[1]));
    if (!(area > 0.0f) || !(ih * iw / area >= overlap_thresh)) continue;
    Box nb{(b[0] - win[0]) * (1.0f / win_h), (b[1] - win[1]) * (1.0f / win_w), (b[2] - win[0]) * (1.0f / win_h),
           (b[3] - win[1]) * (1.0f / win_w)};
    if (clip_boxes) {
      for (float& v : nb) v = detail::Clip01(v);
    }
    boxes.push_back(nb);
    labels.push_back(i < ex.labels.size() ? ex.labels[i] : 0);
  }
  ex.image = std::move(out);
  ex.boxes = std::move(boxes);
  ex.labels = std::move(labels);
}

// ---- colour ---------------------------------------------------------------------------

namespace detail {

inline void Clip255(image::FloatImage& im) {
  for (float& v : im.pixels) v = std::min(255.0f, std::max(0.0f, v));
}

inline void RequireRgb(const image::FloatImage& im, const char* what) {
  if (im.channels != 3) throw ArgumentError(std::string(what) + ": expected 3 channels (RGB), found " + std::to_string(im.channels));
}

// adjust_hue_op.cc rgb_to_hv_range / hv_range_to_rgb: hue in [0, 6) sextants.
inline void RgbToHvRange(float r, float g, float b, float* h, float* vmin, float* vmax) {
  float vmid;
  int cat;
  if (r < g) {
    if (b < r) { *vmax = g; vmid = r; *vmin = b; cat = 1; }
    else if (b > g) { *vmax = b; vmid = g; *vmin = r; cat = 3; }
    else { *vmax = g; vmid = b; *vmin = r; cat = 2; }
  } else {
    if (b < g) { *vmax = r; vmid = g; *vmin = b; cat = 0; }
    else if (b > r) { *vmax = b; vmid = r; *vmin = g; cat = 4; }
    else { *vmax = r; vmid = b; *vmin = g; cat = 5; }
  }
  if (*vmax == *vmin) {
    *h = 0;
    return;
  }
  const float ratio = (vmid - *vmin) / (*vmax - *vmin);
  *h = static_cast<float>(cat) + ((cat & 1) == 0 ? ratio : 1 - ratio);
}

inline void HvRangeToRgb(float h, float vmin, float vmax, float* r, float* g, float* b) {
  const int cat = static_cast<int>(h);
  float ratio = h - static_cast<float>(cat);
  if ((cat & 1) != 0) ratio = 1 - ratio;
  const float vmid = vmin + ratio * (vmax - vmin);
  switch (cat) {
    case 0: *r = vmax; *g = vmid; *b = vmin; break;
    case 1: *r = vmid; *g = vmax; *b = vmin; break;
    case 2: *r = vmin; *g = vmax; *b = vmid; break;
    case 3: *r = vmin; *g = vmid; *b = vmax; break;
    case 4: *r = vmid; *g = vmin; *b = vmax; break;
    default: *r = vmax; *g = vmin; *b = vmid;
  }
}

// adjust_saturation_op.cc rgb_to_hsv / hsv_to_rgb: hue in [0, 1).
inline void RgbToHsv(float r, float g, float b, float* h, float* s, float* v) {
  const float vv = std::max(r, std::max(g, b));
  const float range = vv - std::min(r, std::min(g, b));
  *s = vv > 0 ? range / vv : 0;
  float hh = 0;
  if (range > 0) {
    const float norm = 1.0f / (6.0f * range);
    if (r == vv) hh = norm * (g - b);
    else if (g == vv) hh = norm * (b - r) + 2.0f / 6.0f;
    else hh = norm * (r - g) + 4.0f / 6.0f;
  }
  if (hh < 0) hh += 1;
  *h = hh;
  *v = vv;
}

inline void HsvToRgb(float h, float s, float v, float* r, float* g, float* b) {
  const float c = s * v, m = v - c, dh = h * 6;
  const int cat = static_cast<int>(dh);
  float fmodu = dh;
  while (fmodu <= 0) fmodu += 2.0f;
  while (fmodu >= 2.0f) fmodu -= 2.0f;
  const float x = c * (1 - std::fabs(fmodu - 1));
  float rr = 0, gg = 0, bb = 0;
  switch (cat) {
    case 0: rr = c; gg = x; break;
    case 1: rr = x; gg = c; break;
    case 2: gg = c; bb = x; break;
    case 3: gg = x; bb = c; break;
    case 4: rr = x; bb = c; break;
    case 5: rr = c; bb = x; break;
    default: break;
  }
  *r = rr + m;
  *g = gg + m;
  *b = bb + m;
}

}  // namespace detail

// tf.image.adjust_brightness(x / 255, delta) * 255, clipped.
inline void AdjustBrightness(image::FloatImage& im, float delta) {
  for (float& v : im.pixels) v = (v / 255.0f + delta) * 255.0f;
  detail::Clip255(im);
}

// tf.image.adjust_contrast(x / 255, factor) * 255, clipped: per channel, (x - mean) f + mean.
inline void AdjustContrast(image::FloatImage& im, float factor) {
  const size_t n = static_cast<size_t>(im.height) * static_cast<size_t>(im.width);
  for (int c = 0; c < im.channels; ++c) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += im.pixels[i * static_cast<size_t>(im.channels) + static_cast<size_t>(c)] / 255.0f;
    const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
    for (size_t i = 0; i < n; ++i) {
      float& v = im.pixels[i * static_cast<size_t>(im.channels) + static_cast<size_t>(c)];
      v = ((v / 255.0f - mean) * factor + mean) * 255.0f;
    }
  }
  detail::Clip255(im);
}

// tf.image.adjust_hue(x / 255, delta) * 255, clipped; delta in turns (1 = 360 degrees).
inline void AdjustHue(image::FloatImage& im, float delta) {
  detail::RequireRgb(im, "AdjustHue");
  for (size_t i = 0; i + 2 < im.pixels.size(); i += 3) {
    float* p = &im.pixels[i];
    float h, vmin, vmax;
    detail::RgbToHvRange(p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f, &h, &vmin, &vmax);
    h += delta * 6.0f;
    while (h < 0) h += 6.0f;
    while (h >= 6.0f) h -= 6.0f;
    detail::HvRangeToRgb(h, vmin, vmax, &p[0], &p[1], &p[2]);
    for (int c = 0; c < 3; ++c) p[c] *= 255.0f;
  }
  detail::Clip255(im);
}

// tf.image.adjust_saturation(x / 255, factor) * 255, clipped; s' = clamp(s * factor, 0, 1).
inline void AdjustSaturation(image::FloatImage& im, float factor) {
  detail::RequireRgb(im, "AdjustSaturation");
  for (size_t i = 0; i + 2 < im.pixels.size(); i += 3) {
    float* p = &im.pixels[i];
    float h, s, v;
    detail::RgbToHsv(p[0] / 255.0f, p[1] / 255.0f, p[2] / 255.0f, &h, &s, &v);
    s = std::min(1.0f, std::max(0.0f, s * factor));
    detail::HsvToRgb(h, s, v, &p[0], &p[1], &p[2]);
    for (int c = 0; c < 3; ++c) p[c] *= 255.0f;
  }
  detail::Clip255(im);
}

// preprocessor._rgb_to_grayscale then grayscale_to_rgb: 0.2989 R + 0.5870 G + 0.1140 B in all
// three channels (no clip: the weights sum to 0.9999).
inline void RgbToGray(image::FloatImage& im) {
  detail::RequireRgb(im, "RgbToGray");
  for (size_t i = 0; i + 2 < im.pixels.size(); i += 3) {
    float* p = &im.pixels[i];
    const float gray = p[0] * 0.2989f + p[1] * 0.5870f + p[2] * 0.1140f;
    p[0] = p[1] = p[2] = gray;
  }
}

// ---- the random steps -----------------------------------------------------------------

inline void RandomHorizontalFlip(FloatDetectionExample& ex, const config::RandomHorizontalFlipStep& s, Rng& rng) {
  if (rng.Uniform() < s.probability) FlipLeftRight(ex);
}

namespace detail {

// random_crop_image with one operation's parameters.
inline void RandomCrop(FloatDetectionExample& ex, const CropConstraints& k, float overlap_thresh, bool clip_boxes,
                       float random_coef, Rng& rng) {
  if (random_coef >= FLT_MIN && !(rng.Uniform() > random_coef)) return;  // keep the original
  const PixelWindow w = SampleDistortedBoundingBox(ex.image.height, ex.image.width, ex.boxes, k, rng);
  CropToWindow(ex, w, overlap_thresh, clip_boxes);
}

}  // namespace detail

inline void RandomCropImage(FloatDetectionExample& ex, const config::RandomCropImageStep& s, Rng& rng) {
  const CropConstraints k{s.min_object_covered, s.min_aspect_ratio, s.max_aspect_ratio, s.min_area, s.max_area, 100};
  detail::RandomCrop(ex, k, s.overlap_thresh, s.clip_boxes, s.random_coef, rng);
}

// preprocessor.ssd_random_crop's defaults (the SSD paper's): min_object_covered and
// overlap_thresh 0, 0.1, 0.3, 0.5, 0.7, 0.9, 1; aspect ratio 0.5..2; area 0.1..1; clip_boxes;
// random_coef 0.15.
inline std::vector<config::SsdRandomCropOperation> DefaultSsdRandomCropOperations() {
  std::vector<config::SsdRandomCropOperation> ops;
  for (const float t : {0.0f, 0.1f, 0.3f, 0.5f, 0.7f, 0.9f, 1.0f}) {
    config::SsdRandomCropOperation op;
    op.min_object_covered = t;
    op.min_aspect_ratio = 0.5f;
    op.max_aspect_ratio = 2.0f;
    op.min_area = 0.1f;
    op.max_area = 1.0f;
    op.overlap_thresh = t;
    op.clip_boxes = true;
    op.random_coef = 0.15f;
    ops.push_back(op);
  }
  return ops;
}

inline void SsdRandomCrop(FloatDetectionExample& ex, const config::SsdRandomCropStep& s, Rng& rng) {
  const std::vector<config::SsdRandomCropOperation> defaults = s.operations.empty() ? DefaultSsdRandomCropOperations()
                                                                                    : std::vector<config::SsdRandomCropOperation>();
  const std::vector<config::SsdRandomCropOperation>& ops = s.operations.empty() ? defaults : s.operations;
  const config::SsdRandomCropOperation& op = ops[rng.UniformInt(static_cast<uint32_t>(ops.size()))];
  const CropConstraints k{op.min_object_covered, op.min_aspect_ratio, op.max_aspect_ratio, op.min_area, op.max_area, 100};
  detail::RandomCrop(ex, k, op.overlap_thresh, op.clip_boxes, op.random_coef, rng);
}

inline void RandomAdjustBrightness(image::FloatImage& im, const config::RandomAdjustBrightnessStep& s, Rng& rng) {
  AdjustBrightness(im, rng.Uniform(-s.max_delta, s.max_delta));
}
inline void RandomAdjustContrast(image::FloatImage& im, const config::RandomAdjustContrastStep& s, Rng& rng) {
  AdjustContrast(im, rng.Uniform(s.min_delta, s.max_delta));
}
inline void RandomAdjustHue(image::FloatImage& im, const config::RandomAdjustHueStep& s, Rng& rng) {
  AdjustHue(im, rng.Uniform(-s.max_delta, s.max_delta));
}
inline void RandomAdjustSaturation(image::FloatImage& im, const config::RandomAdjustSaturationStep& s, Rng& rng) {
  AdjustSaturation(im, rng.Uniform(s.min_delta, s.max_delta));
}
// Gray when U[0,1) <= probability (preprocessor.py keeps the image when U > probability).
inline void RandomRgbToGray(image::FloatImage& im, const config::RandomRgbToGrayStep& s, Rng& rng) {
  if (!(rng.Uniform() > s.probability)) RgbToGray(im);
}

// ---- a config's list ------------------------------------------------------------------

// The names of the steps implemented here, in the order of the file comment's table.
inline const std::vector<std::string>& SupportedAugmentationSteps() {
  static const std::vector<std::string> names = {
      "random_horizontal_flip", "random_crop_image",        "ssd_random_crop",          "random_adjust_brightness",
      "random_adjust_contrast", "random_adjust_hue",        "random_adjust_saturation", "random_rgb_to_gray"};
  return names;
}

// train_config.data_augmentation_options, checked once and applied in order to each example.
class Augmenter {
 public:
  // Throws ArgumentError naming every step (position and name) that is not implemented here,
  // and crop parameters TF's kernel refuses.
  explicit Augmenter(std::vector<config::AugmentationStep> steps) : steps_(std::move(steps)) { Check(); }
  static Augmenter FromTrainConfig(const config::TrainConfig& train) { return Augmenter(train.augmentation_steps); }

  const std::vector<config::AugmentationStep>& steps() const { return steps_; }

  void Apply(FloatDetectionExample& ex, Rng& rng) const {
    for (const config::AugmentationStep& step : steps_) ApplyStep(step, ex, rng);
  }

 private:
  static void ApplyStep(const config::AugmentationStep& step, FloatDetectionExample& ex, Rng& rng) {
    if (const auto* s = step.As<config::RandomHorizontalFlipStep>()) RandomHorizontalFlip(ex, *s, rng);
    else if (const auto* s = step.As<config::RandomCropImageStep>()) RandomCropImage(ex, *s, rng);
    else if (const auto* s = step.As<config::SsdRandomCropStep>()) SsdRandomCrop(ex, *s, rng);
    else if (const auto* s = step.As<config::RandomAdjustBrightnessStep>()) RandomAdjustBrightness(ex.image, *s, rng);
    else if (const auto* s = step.As<config::RandomAdjustContrastStep>()) RandomAdjustContrast(ex.image, *s, rng);
    else if (const auto* s = step.As<config::RandomAdjustHueStep>()) RandomAdjustHue(ex.image, *s, rng);
    else if (const auto* s = step.As<config::RandomAdjustSaturationStep>()) RandomAdjustSaturation(ex.image, *s, rng);
    else if (const auto* s = step.As<config::RandomRgbToGrayStep>()) RandomRgbToGray(ex.image, *s, rng);
  }

  static std::string Where(size_t i, const config::AugmentationStep& step) {
    return "data_augmentation_options[" + std::to_string(i) + "] (" + (step.name.empty() ? "empty" : step.name) + ")";
  }

  static void CheckCrop(const std::string& where, float min_object_covered, float min_ar, float max_ar, float min_area,
                        float max_area) {
    if (!(min_object_covered >= 0.0f)) throw ArgumentError(where + ": min_object_covered must be >= 0, found " + std::to_string(min_object_covered));
    if (!(min_ar > 0.0f && max_ar > 0.0f)) {
      throw ArgumentError(where + ": aspect ratios must be > 0, found " + std::to_string(min_ar) + ", " + std::to_string(max_ar));
    }
    if (!(min_area > 0.0f && max_area > 0.0f && min_area <= 1.0f && max_area <= 1.0f)) {
      throw ArgumentError(where + ": areas must be in (0, 1], found " + std::to_string(min_area) + ", " + std::to_string(max_area));
    }
  }

  void Check() const {
    std::string unsupported;
    for (size_t i = 0; i < steps_.size(); ++i) {
      const config::AugmentationStep& step = steps_[i];
      if (!step.modelled()) unsupported += (unsupported.empty() ? "" : ", ") + Where(i, step);
      if (const auto* c = step.As<config::RandomCropImageStep>()) {
        CheckCrop(Where(i, step), c->min_object_covered, c->min_aspect_ratio, c->max_aspect_ratio, c->min_area, c->max_area);
      }
      if (const auto* s = step.As<config::SsdRandomCropStep>()) {
        for (const config::SsdRandomCropOperation& op : s->operations) {
          CheckCrop(Where(i, step), op.min_object_covered, op.min_aspect_ratio, op.max_aspect_ratio, op.min_area, op.max_area);
        }
      }
    }
    if (unsupported.empty()) return;
    std::string known;
    for (const std::string& n : SupportedAugmentationSteps()) known += (known.empty() ? "" : ", ") + n;
    throw ArgumentError("unsupported augmentation step: " + unsupported + " (supported: " + known + ")");
  }

  std::vector<config::AugmentationStep> steps_;
};

// Augmenter(steps).Apply(ex, rng): checks, then applies every step in order.
inline void ApplyAugmentationSteps(const std::vector<config::AugmentationStep>& steps, FloatDetectionExample& ex, Rng& rng) {
  Augmenter(steps).Apply(ex, rng);
}

}  // namespace warmstart::data
