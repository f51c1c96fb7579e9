// COCO-format detection annotations (one JSON file) plus a folder of images, read into the
// same DetectionRecord the TFRecord path gives (data/detection_example.hpp).
//
// What is read (cocodataset.org "Data format", object detection; other members are ignored):
//   {
//     "images":      [ {"id": int, "file_name": str, "width": int, "height": int}, ... ],
//     "annotations": [ {"image_id": int, "category_id": int, "bbox": [x, y, w, h],
//                       "iscrowd": 0 | 1 (optional, 0)}, ... ],
//     "categories":  [ {"id": int, "name": str}, ... ]
//   }
//   bbox is in pixels: x, y the top-left corner (0 = left / top edge), w, h the size.
//
// Mapping, as dataset_tools/create_coco_tf_record.py writes its tf.Examples:
//   one DetectionRecord per images[] entry, in file order, with its annotations in file order;
//   source_id = the image id in decimal, filename = file_name, height / width from the entry;
//   box       = [y / height, x / width, (y + h) / height, (x + w) / width];
//   label     = category_id unchanged (COCO's own ids, 1..90 with gaps for COCO 2017, which is
//               what mscoco_label_map.pbtxt uses); text = the category's name;
//   is_crowd  = iscrowd; format = "jpeg" for .jpg / .jpeg, "png" for .png, else the extension.
//   Like create_coco_tf_record, annotations with w <= 0, h <= 0, x + w > width or
//   y + h > height are skipped, not fatal; each one is listed in CocoDataset::skipped.
//   The image bytes are read when asked for (CocoDataset::Load), not up front.
//
// Errors are FormatError "<file>: <json path>: <what>", e.g.
//   "instances.json: annotations[12].bbox: expected 4 numbers, found 3";
// a JSON syntax error names its byte offset. Checked: the three arrays exist; ids are
// integers; image ids and category ids are unique; category ids >= 1 (0 is the background);
// image width and height >= 1; every annotation's image_id and category_id exist; bbox is 4
// finite numbers.
//
// EncodeCoco writes records back as such a JSON file (boxes converted to pixels), for fixtures
// and for exporting a dataset.
#pragma once

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "warmstart/data/detection_example.hpp"
#include "warmstart/error.hpp"

namespace warmstart::data {

struct CocoCategory {
  int32_t id = 0;
  std::string name;
};

namespace detail {

using Json = nlohmann::json;

// A JSON value and where it is, for errors.
class CocoCursor {
 public:
  CocoCursor(const Json& v, std::string path, const ErrorContext& ctx) : v_(v), path_(std::move(path)), ctx_(ctx) {}

  const Json& value() const { return v_; }
  const std::string& path() const { return path_; }

  CocoCursor Member(const char* name) const {
    if (!v_.is_object()) Fail("expected an object, found " + std::string(v_.type_name()));
    const auto it = v_.find(name);
    if (it == v_.end()) Fail("missing member \"" + std::string(name) + "\"");
    return CocoCursor(*it, Join(name), ctx_);
  }
  bool Has(const char* name) const { return v_.is_object() && v_.contains(name); }
  CocoCursor Element(size_t i) const { return CocoCursor(v_[i], path_ + "[" + std::to_string(i) + "]", ctx_); }

  size_t ArraySize() const {
    if (!v_.is_array()) Fail("expected an array, found " + std::string(v_.type_name()));
    return v_.size();
  }
  int64_t Int() const {
    if (v_.is_number_integer()) return v_.get<int64_t>();
    if (v_.is_number_float()) {  // 3.0 is an integer written by a float-happy tool
      const double d = v_.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    Fail("expected an integer, found " + Dump());
  }
  double Number() const {
    if (!v_.is_number()) Fail("expected a number, found " + Dump());
    const double d = v_.get<double>();
    if (!std::isfinite(d)) Fail("expected a finite number, found " + Dump());
    return d;
  }
  std::string String() const {
    if (!v_.is_string()) Fail("expected a string, found " + Dump());
    return v_.get<std::string>();
  }

  [[noreturn]] void Fail(const std::string& what) const {
    throw FormatError(ctx_, path_.empty() ? what : path_ + ": " + what);
  }

 private:
  std::string Join(const char* name) const { return path_.empty() ? std::string(name) : path_ + "." + name; }
  std::string Dump() const {
    std::string s = v_.dump();
    return s.size() > 40 ? s.substr(0, 40) + "..." : s;
  }

  const Json& v_;
  std::string path_;
  const ErrorContext& ctx_;
};

inline Json ParseJson(const std::string& text, const ErrorContext& ctx) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the byte after the last one read.
    throw FormatError(ctx.WithOffset(e.byte > 0 ? e.byte - 1 : 0), std::string("invalid JSON: ") + e.what());
  }
}

inline std::string FormatFromFileName(const std::string& file_name) {
  std::string ext = std::filesystem::path(file_name).extension().string();
  if (!ext.empty()) ext.erase(0, 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "jpg" || ext == "jpeg") return "jpeg";
  return ext;
}

}  // namespace detail

// The annotations of a COCO file, one record per image (image bytes not loaded yet).
class CocoDataset {
 public:
  // Reads `annotations_file`; image files are looked up in `image_dir` by file_name.
  // Throws NotFoundError / IoError for the file, FormatError for its contents.
  static CocoDataset Load(const std::filesystem::path& annotations_file, const std::filesystem::path& image_dir) {
    std::ifstream in(annotations_file, std::ios::binary);
    if (!in) {
      const ErrorContext ctx(annotations_file.string());
      if (!std::filesystem::exists(annotations_file)) throw NotFoundError(ctx, "cannot open COCO annotations: no such file");
      throw IoError(ctx, "cannot open COCO annotations");
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw IoError(ErrorContext(annotations_file.string()), "cannot read COCO annotations");
    return Parse(text.str(), annotations_file.string(), image_dir);
  }

  // `file_name` names the text in errors.
  static CocoDataset Parse(const std::string& json_text, const std::string& file_name, const std::filesystem::path& image_dir) {
    CocoDataset out;
    out.file_ = file_name;
    out.image_dir_ = image_dir;
    const ErrorContext ctx(file_name);
    const detail::Json doc = detail::ParseJson(json_text, ctx);
    const detail::CocoCursor root(doc, "", ctx);
    out.ReadCategories(root.Member("categories"));
    out.ReadImages(root.Member("images"));
    out.ReadAnnotations(root.Member("annotations"));
    return out;
  }

  const std::vector<CocoCategory>& categories() const { return categories_; }
  // One per image, in file order; `encoded` is empty (see Load).
  const std::vector<DetectionRecord>& records() const { return records_; }
  size_t size() const { return records_.size(); }
  // "annotations[7]: ..." for each annotation left out (create_coco_tf_record's rule).
  const std::vector<std::string>& skipped() const { return skipped_; }
  const std::filesystem::path& image_dir() const { return image_dir_; }

  // Record i with its image bytes read from image_dir / file_name.
  // Throws NotFoundError / IoError naming the image file.
  DetectionRecord Load(size_t i) const {
    DetectionRecord d = records_.at(i);
    const std::filesystem::path path = image_dir_ / d.filename;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (!std::filesystem::exists(path)) {
        throw NotFoundError(ErrorContext(path.string()), "image of images[" + std::to_string(i) + "] not found");
      }
      throw IoError(ErrorContext(path.string()), "cannot open image");
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) throw IoError(ErrorContext(path.string()), "cannot read image");
    d.encoded = bytes.str();
    return d;
  }

 private:
  void ReadCategories(const detail::CocoCursor& list) {
    for (size_t i = 0, n = list.ArraySize(); i < n; ++i) {
      const detail::CocoCursor c = list.Element(i);
      const detail::CocoCursor id = c.Member("id");
      CocoCategory cat;
      const int64_t v = id.Int();
      if (v < 1 || v > INT32_MAX) id.Fail("category id " + std::to_string(v) + " is not in [1, 2^31) (0 is the background)");
      cat.id = static_cast<int32_t>(v);
      cat.name = c.Member("name").String();
      if (!category_index_.emplace(cat.id, categories_.size()).second) {
        id.Fail("category id " + std::to_string(v) + " appears twice");
      }
      categories_.push_back(std::move(cat));
    }
  }

  void ReadImages(const detail::CocoCursor& list) {
    for (size_t i = 0, n = list.ArraySize(); i < n; ++i) {
      const detail::CocoCursor im = list.Element(i);
      const detail::CocoCursor id = im.Member("id");
      const int64_t image_id = id.Int();
      if (!image_index_.emplace(image_id, records_.size()).second) {
        id.Fail("image id " + std::to_string(image_id) + " appears twice");
      }
      DetectionRecord d;
      d.source_id = std::to_string(image_id);
      d.filename = im.Member("file_name").String();
      d.format = detail::FormatFromFileName(d.filename);
      d.width = ReadSize(im.Member("width"));
      d.height = ReadSize(im.Member("height"));
      records_.push_back(std::move(d));
    }
  }

  static int ReadSize(const detail::CocoCursor& c) {
    const int64_t v = c.Int();
    if (v < 1 || v > INT32_MAX) c.Fail("image size " + std::to_string(v) + " is not in [1, 2^31)");
    return static_cast<int>(v);
  }

  void ReadAnnotations(const detail::CocoCursor& list) {
    for (size_t i = 0, n = list.ArraySize(); i < n; ++i) ReadAnnotation(list.Element(i));
  }

  void ReadAnnotation(const detail::CocoCursor& a) {
    const detail::CocoCursor image_id = a.Member("image_id");
    const auto im = image_index_.find(image_id.Int());
    if (im == image_index_.end()) image_id.Fail("image id " + std::to_string(image_id.Int()) + " is not in images");
    const detail::CocoCursor category_id = a.Member("category_id");
    const auto cat = category_index_.find(category_id.Int());
    if (cat == category_index_.end()) {
      category_id.Fail("category id " + std::to_string(category_id.Int()) + " is not in categories");
    }
    const detail::CocoCursor bbox = a.Member("bbox");
    if (bbox.ArraySize() != 4) bbox.Fail("expected 4 numbers [x, y, w, h], found " + std::to_string(bbox.ArraySize()));
    double xywh[4];
    for (size_t k = 0; k < 4; ++k) xywh[k] = bbox.Element(k).Number();
    const int iscrowd = a.Has("iscrowd") ? static_cast<int>(a.Member("iscrowd").Int()) : 0;
    DetectionRecord& d = records_[im->second];
    const double x = xywh[0], y = xywh[1], w = xywh[2], h = xywh[3];
    if (w <= 0 || h <= 0 || x + w > d.width || y + h > d.height) {
      skipped_.push_back(bbox.path() + ": box [" + std::to_string(x) + ", " + std::to_string(y) + ", " + std::to_string(w) +
                         ", " + std::to_string(h) + "] is empty or leaves the " + std::to_string(d.width) + "x" +
                         std::to_string(d.height) + " image");
      return;
    }
    d.boxes.push_back(Box{static_cast<float>(y / d.height), static_cast<float>(x / d.width),
                          static_cast<float>((y + h) / d.height), static_cast<float>((x + w) / d.width)});
    d.labels.push_back(categories_[cat->second].id);
    d.texts.push_back(categories_[cat->second].name);
    d.is_crowd.push_back(iscrowd);
  }

  std::string file_;
  std::filesystem::path image_dir_;
  std::vector<CocoCategory> categories_;
  std::vector<DetectionRecord> records_;
  std::vector<std::string> skipped_;
  std::map<int64_t, size_t> category_index_;
  std::map<int64_t, size_t> image_index_;
};

// Records -> COCO JSON text. Image ids are 1, 2, ... in order (source_id is kept only when it
// is a decimal integer, then it is the id); annotation ids 1, 2, ...; boxes back in pixels.
// Requires: every record has width and height >= 1 and one label per box.
inline std::string EncodeCoco(const std::vector<CocoCategory>& categories, const std::vector<DetectionRecord>& records) {
  nlohmann::json doc;
  doc["categories"] = nlohmann::json::array();
  for (const CocoCategory& c : categories) doc["categories"].push_back({{"id", c.id}, {"name", c.name}});
  doc["images"] = nlohmann::json::array();
  doc["annotations"] = nlohmann::json::array();
  int64_t annotation_id = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const DetectionRecord& d = records[i];
    if (d.width < 1 || d.height < 1 || d.labels.size() != d.boxes.size()) {
      throw ArgumentError("EncodeCoco: record " + std::to_string(i) + " needs a size and one label per box");
    }
    int64_t id = static_cast<int64_t>(i) + 1;
    if (!d.source_id.empty() && d.source_id.find_first_not_of("0123456789") == std::string::npos && d.source_id.size() < 16) {
      id = std::stoll(d.source_id);
    }
    doc["images"].push_back({{"id", id}, {"file_name", d.filename}, {"width", d.width}, {"height", d.height}});
    for (size_t b = 0; b < d.boxes.size(); ++b) {
      const Box& box = d.boxes[b];
      const double x = static_cast<double>(box[1]) * d.width, y = static_cast<double>(box[0]) * d.height;
      const double w = static_cast<double>(box[3]) * d.width - x, h = static_cast<double>(box[2]) * d.height - y;
      doc["annotations"].push_back({{"id", ++annotation_id},
                                    {"image_id", id},
                                    {"category_id", d.labels[b]},
                                    {"bbox", {x, y, w, h}},
                                    {"area", w * h},
                                    {"iscrowd", d.is_crowd.empty() ? 0 : d.is_crowd[b]}});
    }
  }
  return doc.dump(1);
}

}  // namespace warmstart::data
