// The Object Detection API's tf.Example keys, as a typed record: DetectionRecord holds the
// image still encoded (the bytes of its JPEG / PNG) with the annotations; ToDetectionExample
// turns it into the pipeline's DetectionExample (data/example.hpp: pixels, boxes, labels).
//
// Keys (object_detection/core/standard_fields.py TfExampleFields; decoded as in
// data_decoders/tf_example_decoder.py; written by dataset_tools/create_*_tf_record.py):
//
//   key                          list    here                  when absent
//   image/encoded                bytes   encoded (1 value)     FormatError: required
//   image/format                 bytes   format                "jpeg" (the decoder's default)
//   image/height, image/width    int64   height, width         0 (unknown; the decoded size rules)
//   image/filename               bytes   filename              ""
//   image/source_id              bytes   source_id             ""
//   image/object/bbox/ymin       float   boxes[i][0]           no boxes
//   image/object/bbox/xmin       float   boxes[i][1]           (the four lists come together)
//   image/object/bbox/ymax       float   boxes[i][2]
//   image/object/bbox/xmax       float   boxes[i][3]
//   image/object/class/label     int64   labels                empty
//   image/object/class/text      bytes   texts                 empty
//   image/object/difficult       int64   difficult             empty
//   image/object/is_crowd        int64   is_crowd              empty
// Other keys (image/key/sha256, image/object/truncated, image/object/view, masks, ...) are
// ignored. Boxes are [ymin, xmin, ymax, xmax] normalized to the image size, 0 = top / left.
//
// Checks (each a FormatError naming the file, the key and the record's offset). TF checks only
// the first two; the others are where we are stricter than tf_example_decoder, which passes
// such records on and fails (or silently mislearns) later in the input pipeline:
//   * a key holding the wrong kind of list ("image/height: expected int64_list, found float_list");
//   * a single-valued key (image/encoded, format, height, width, filename, source_id) with more
//     than one value;
//   * the four bbox lists of different lengths; labels, texts, difficult or is_crowd present
//     with a length other than the number of boxes; boxes without labels and without texts;
//   * a label below 1 (0 is the background class: the OD API would drop such a box without a
//     word) or above INT32_MAX; a non-finite box coordinate; a height or width below 1.
// Coordinates outside [0, 1] and ymin > ymax are accepted, as TF does (random crops clip them).
//
// Labels from texts: records that carry only image/object/class/text get their labels from a
// label map with LabelsFromTexts (what tf_example_decoder does when given label_map_proto_file).
//
// Image decoding (DecodeDetectionImage, ToDetectionExample) calls image/decode.hpp, which links
// libstb: it is compiled only when WARMSTART_HAVE_STB is defined (as for warmstart::image users).
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/config/label_map.hpp"
#include "warmstart/data/example.hpp"
#include "warmstart/data/tf_example.hpp"
#include "warmstart/error.hpp"

#if defined(WARMSTART_HAVE_STB)
#include "warmstart/image/decode.hpp"
#endif

namespace warmstart::data {

// One annotated image as stored in a record. Box (data/example.hpp) is
// {ymin, xmin, ymax, xmax}, normalized.
struct DetectionRecord {
  std::string encoded;          // the image file's bytes
  std::string format = "jpeg";  // as written: "jpeg", "JPEG", "png", ...
  int height = 0;               // 0: not recorded
  int width = 0;
  std::string filename;
  std::string source_id;
  std::vector<Box> boxes;
  std::vector<int32_t> labels;     // 1-based class ids; empty, or one per box
  std::vector<std::string> texts;  // class names; empty, or one per box
  std::vector<int> difficult;      // 0/1; empty, or one per box
  std::vector<int> is_crowd;       // 0/1; empty, or one per box
};

namespace keys {
inline constexpr const char* kEncoded = "image/encoded";
inline constexpr const char* kFormat = "image/format";
inline constexpr const char* kHeight = "image/height";
inline constexpr const char* kWidth = "image/width";
inline constexpr const char* kFilename = "image/filename";
inline constexpr const char* kSourceId = "image/source_id";
inline constexpr const char* kYmin = "image/object/bbox/ymin";
inline constexpr const char* kXmin = "image/object/bbox/xmin";
inline constexpr const char* kYmax = "image/object/bbox/ymax";
inline constexpr const char* kXmax = "image/object/bbox/xmax";
inline constexpr const char* kLabel = "image/object/class/label";
inline constexpr const char* kText = "image/object/class/text";
inline constexpr const char* kDifficult = "image/object/difficult";
inline constexpr const char* kIsCrowd = "image/object/is_crowd";
}  // namespace keys

namespace detail {

// Typed access to an Example's features, failing with the key and the record's context.
class FeatureGetter {
 public:
  FeatureGetter(const Example& ex, const ErrorContext& ctx) : ex_(ex), ctx_(ctx) {}

  // The list of `kind` under key; nullptr when absent (or present with no member set).
  const Feature* List(const char* key, FeatureKind kind) const {
    const Feature* f = ex_.Find(key);
    if (f == nullptr || f->kind == FeatureKind::kNone) return nullptr;
    if (f->kind != kind) {
      Fail(key, std::string("expected ") + FeatureKindName(kind) + ", found " + FeatureKindName(f->kind));
    }
    return f;
  }

  // Requires: the feature, when present, has at most one value.
  const Feature* Single(const char* key, FeatureKind kind) const {
    const Feature* f = List(key, kind);
    if (f != nullptr && f->size() > 1) Fail(key, "expected 1 value, found " + std::to_string(f->size()));
    return f != nullptr && f->size() == 1 ? f : nullptr;
  }

  std::vector<float> Floats(const char* key) const {
    const Feature* f = List(key, FeatureKind::kFloat);
    return f ? f->float_list : std::vector<float>();
  }
  std::vector<int64_t> Int64s(const char* key) const {
    const Feature* f = List(key, FeatureKind::kInt64);
    return f ? f->int64_list : std::vector<int64_t>();
  }
  std::vector<std::string> Strings(const char* key) const {
    const Feature* f = List(key, FeatureKind::kBytes);
    return f ? f->bytes_list : std::vector<std::string>();
  }

  [[noreturn]] void Fail(const std::string& key, const std::string& what) const {
    throw FormatError(ctx_.WithKey(key), what);
  }

 private:
  const Example& ex_;
  const ErrorContext& ctx_;
};

inline int SizeFromFeature(const FeatureGetter& get, const char* key) {
  const Feature* f = get.Single(key, FeatureKind::kInt64);
  if (f == nullptr) return 0;
  const int64_t v = f->int64_list[0];
  if (v < 1 || v > INT_MAX) get.Fail(key, "image size " + std::to_string(v) + " is not in [1, " + std::to_string(INT_MAX) + "]");
  return static_cast<int>(v);
}

inline void DecodeImageFields(const FeatureGetter& get, DetectionRecord* out) {
  const Feature* encoded = get.Single(keys::kEncoded, FeatureKind::kBytes);
  if (encoded == nullptr) get.Fail(keys::kEncoded, "missing: the record has no image");
  out->encoded = encoded->bytes_list[0];
  if (const Feature* f = get.Single(keys::kFormat, FeatureKind::kBytes)) out->format = f->bytes_list[0];
  out->height = SizeFromFeature(get, keys::kHeight);
  out->width = SizeFromFeature(get, keys::kWidth);
  if (const Feature* f = get.Single(keys::kFilename, FeatureKind::kBytes)) out->filename = f->bytes_list[0];
  if (const Feature* f = get.Single(keys::kSourceId, FeatureKind::kBytes)) out->source_id = f->bytes_list[0];
}

inline void DecodeBoxes(const FeatureGetter& get, DetectionRecord* out) {
  const char* names[4] = {keys::kYmin, keys::kXmin, keys::kYmax, keys::kXmax};
  std::vector<float> lists[4];
  for (int c = 0; c < 4; ++c) lists[c] = get.Floats(names[c]);
  for (int c = 1; c < 4; ++c) {
    if (lists[c].size() != lists[0].size()) {
      get.Fail(names[c], "has " + std::to_string(lists[c].size()) + " values but " + names[0] + " has " +
                             std::to_string(lists[0].size()));
    }
  }
  for (int c = 0; c < 4; ++c) {
    for (size_t i = 0; i < lists[c].size(); ++i) {
      if (!std::isfinite(lists[c][i])) get.Fail(names[c], "value " + std::to_string(i) + " is not finite");
    }
  }
  out->boxes.resize(lists[0].size());
  for (size_t i = 0; i < out->boxes.size(); ++i) out->boxes[i] = Box{lists[0][i], lists[1][i], lists[2][i], lists[3][i]};
}

// Requires: n is the number of boxes. Empty, or exactly n values.
inline void CheckPerBox(const FeatureGetter& get, const char* key, size_t size, size_t n) {
  if (size != 0 && size != n) {
    get.Fail(key, "has " + std::to_string(size) + " values for " + std::to_string(n) + " boxes");
  }
}

inline std::vector<int> Flags(const FeatureGetter& get, const char* key, size_t n) {
  const std::vector<int64_t> v = get.Int64s(key);
  CheckPerBox(get, key, v.size(), n);
  return std::vector<int>(v.begin(), v.end());
}

inline void DecodeClasses(const FeatureGetter& get, DetectionRecord* out) {
  const size_t n = out->boxes.size();
  const std::vector<int64_t> labels = get.Int64s(keys::kLabel);
  CheckPerBox(get, keys::kLabel, labels.size(), n);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 1 || labels[i] > INT_MAX) {
      get.Fail(keys::kLabel, "value " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                                 ": class ids start at 1 (0 is the background)");
    }
  }
  out->labels.assign(labels.begin(), labels.end());
  out->texts = get.Strings(keys::kText);
  CheckPerBox(get, keys::kText, out->texts.size(), n);
  if (n > 0 && out->labels.empty() && out->texts.empty()) {
    get.Fail(keys::kLabel, "missing, and no " + std::string(keys::kText) + " either, for " + std::to_string(n) + " boxes");
  }
  out->difficult = Flags(get, keys::kDifficult, n);
  out->is_crowd = Flags(get, keys::kIsCrowd, n);
}

}  // namespace detail

// ---- Example <-> DetectionRecord ----

// `ctx` names the file and the record (offset) for errors.
inline DetectionRecord DecodeDetectionRecord(const Example& example, const ErrorContext& ctx) {
  const detail::FeatureGetter get(example, ctx);
  DetectionRecord out;
  detail::DecodeImageFields(get, &out);
  detail::DecodeBoxes(get, &out);
  detail::DecodeClasses(get, &out);
  return out;
}

// Writes the keys of the table above; height, width, difficult and is_crowd only when known
// (non-zero / non-empty), labels and texts when non-empty, boxes always (empty lists for none).
inline Example EncodeDetectionRecord(const DetectionRecord& d) {
  Example ex;
  auto& f = ex.features;
  f[keys::kEncoded] = Feature::Bytes({d.encoded});
  f[keys::kFormat] = Feature::Bytes({d.format});
  if (d.height > 0) f[keys::kHeight] = Feature::Int64s({d.height});
  if (d.width > 0) f[keys::kWidth] = Feature::Int64s({d.width});
  f[keys::kFilename] = Feature::Bytes({d.filename});
  f[keys::kSourceId] = Feature::Bytes({d.source_id});
  std::vector<float> lists[4];
  for (const Box& b : d.boxes) {
    for (int c = 0; c < 4; ++c) lists[c].push_back(b[static_cast<size_t>(c)]);
  }
  f[keys::kYmin] = Feature::Floats(std::move(lists[0]));
  f[keys::kXmin] = Feature::Floats(std::move(lists[1]));
  f[keys::kYmax] = Feature::Floats(std::move(lists[2]));
  f[keys::kXmax] = Feature::Floats(std::move(lists[3]));
  if (!d.labels.empty()) f[keys::kLabel] = Feature::Int64s(std::vector<int64_t>(d.labels.begin(), d.labels.end()));
  if (!d.texts.empty()) f[keys::kText] = Feature::Bytes(d.texts);
  if (!d.difficult.empty()) f[keys::kDifficult] = Feature::Int64s(std::vector<int64_t>(d.difficult.begin(), d.difficult.end()));
  if (!d.is_crowd.empty()) f[keys::kIsCrowd] = Feature::Int64s(std::vector<int64_t>(d.is_crowd.begin(), d.is_crowd.end()));
  return ex;
}

// ---- Serialized records ----

// Parses a serialized tf.Example; base_offset is the absolute offset of bytes[0] in the file.
// Errors carry the file, the key and (for wire errors) the offset of the bad field, (for key
// errors) the offset of the record's data.
inline DetectionRecord ParseDetectionRecord(core::ByteView bytes, const ErrorContext& ctx, uint64_t base_offset = 0) {
  const Example ex = ParseExample(bytes, ctx, base_offset);
  return DecodeDetectionRecord(ex, ctx.WithOffset(base_offset));
}

inline DetectionRecord ParseDetectionRecord(const std::string& bytes, const ErrorContext& ctx, uint64_t base_offset = 0) {
  return ParseDetectionRecord(core::ByteView(bytes.data(), bytes.size()), ctx, base_offset);
}

inline std::string SerializeDetectionRecord(const DetectionRecord& d, const ExampleEncodeOptions& options = {}) {
  return EncodeExample(EncodeDetectionRecord(d), options);
}

// ---- Labels from texts ----

// Fills d->labels from d->texts through the label map (by item name) when the record has texts
// but no labels; when it has both, checks that they agree. Throws FormatError naming the text.
// `ctx` names the record.
inline void LabelsFromTexts(DetectionRecord* d, const config::LabelMap& label_map, const ErrorContext& ctx) {
  std::vector<int32_t> labels;
  for (size_t i = 0; i < d->texts.size(); ++i) {
    const config::LabelMapItem* item = label_map.FindByName(d->texts[i]);
    if (item == nullptr) {
      throw FormatError(ctx.WithKey(keys::kText), "value " + std::to_string(i) + " '" + d->texts[i] + "' is not in the label map");
    }
    if (!d->labels.empty() && d->labels[i] != item->id) {
      throw FormatError(ctx.WithKey(keys::kLabel), "value " + std::to_string(i) + " is " + std::to_string(d->labels[i]) +
                                                       " but the label map gives " + std::to_string(item->id) + " for '" +
                                                       d->texts[i] + "'");
    }
    labels.push_back(item->id);
  }
  d->labels = std::move(labels);
}

// ---- Pixels ----

#if defined(WARMSTART_HAVE_STB)

struct DetectionImageOptions {
  image::DecodeOptions decode;
  bool check_size = true;  // the decoded size must equal image/height, image/width when recorded
};

// Decodes d.encoded to 3-channel pixels (image/decode.hpp). `what` names the record in errors.
// TF ignores image/height and image/width once it has the pixels; a mismatch here means the
// annotations were made for another image, so it is an error unless check_size is false.
inline image::Image DecodeDetectionImage(const DetectionRecord& d, const std::string& what,
                                         const DetectionImageOptions& options = {}) {
  image::Image im = image::DecodeImage(core::ByteView(d.encoded.data(), d.encoded.size()), what, options.decode);
  if (options.check_size && ((d.height > 0 && im.height != d.height) || (d.width > 0 && im.width != d.width))) {
    throw FormatError(ErrorContext(what), "image is " + std::to_string(im.width) + "x" + std::to_string(im.height) +
                                              " (width x height) but the record says " + std::to_string(d.width) +
                                              "x" + std::to_string(d.height));
  }
  return im;
}

// The record as the input pipeline carries it: decoded pixels, boxes and labels.
// Requires: labels present (after LabelsFromTexts for records that carry only texts).
inline DetectionExample ToDetectionExample(const DetectionRecord& d, const std::string& what,
                                           const DetectionImageOptions& options = {}) {
  if (d.labels.size() != d.boxes.size()) {
    throw FormatError(ErrorContext(what).WithKey(keys::kLabel), "has " + std::to_string(d.labels.size()) + " values for " +
                                                                  std::to_string(d.boxes.size()) +
                                                                  " boxes (records with texts only need LabelsFromTexts)");
  }
  DetectionExample out;
  out.image = DecodeDetectionImage(d, what, options);
  out.boxes = d.boxes;
  out.labels = d.labels;
  return out;
}

#endif  // WARMSTART_HAVE_STB

}  // namespace warmstart::data
