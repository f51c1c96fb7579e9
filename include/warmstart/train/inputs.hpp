// Where a trainer's examples come from: the `tf_record_input_reader.input_path` entries of a
// pipeline.config's train_input_reader / eval_input_reader, opened as one indexed source of
// data::DetectionExample (decoded pixels, normalised boxes, 1-based labels).
//
// An input_path is one of
//   shapes://CLASS,CLASS,...[?key=value&...]   the built-in synthetic dataset (data/shapes.hpp):
//                                              label i is the i-th class of the list (1-based).
//                                              Keys: seed, count (examples; 0 = endless, the
//                                              default for training, 500 for eval), min_objects,
//                                              max_objects, min_size, max_size, noise, clutter
//                                              (0/1), size (image side; default: the model's
//                                              fixed_shape_resizer size)
//   FILE.json                                  COCO annotations (data/coco.hpp); images are
//                                              looked up next to it, or in the folder given as
//                                              `FILE.json?images=DIR`
//   anything else                              TFRecord files of tf.Example with the Object
//                                              Detection API's keys; `*` and `?` in the file
//                                              name part are expanded (sorted), as TF globs
//                                              input_path
// Relative paths are taken relative to the working directory, as TF does; the shapes:// form
// keeps a pipeline.config an ordinary, valid config (TF parses it and fails only on opening).
//
// TFRecord records are read (and crc-checked) into memory when the source is opened (the
// encoded images: a dataset must fit in memory); COCO annotations are read at open and each
// image file when its example is asked for. Images are decoded when an example is asked for. A record with class texts but no labels
// gets its labels from the label map (label_map_path), as TF's decoder does.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/config/label_map.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/data/coco.hpp"
#include "warmstart/data/detection_example.hpp"
#include "warmstart/data/example.hpp"
#include "warmstart/data/shapes.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "warmstart/error.hpp"

namespace warmstart::train {

// An indexed set of examples. size() 0 means endless (every index is an example).
class ExampleSource {
 public:
  virtual ~ExampleSource() = default;
  virtual uint64_t size() const = 0;
  // Requires: index < size() unless size() is 0. Throws the decoding errors, naming the record.
  virtual data::DetectionExample Get(uint64_t index) const = 0;
  virtual std::string Describe() const = 0;
  // Example `index` in error messages: "FILE: record N", "FILE: images[N]", "shapes example N".
  virtual std::string Name(uint64_t index) const { return Describe() + ": example " + std::to_string(index); }
  // The class names by label id (1-based; [0] unused), when the source knows them.
  virtual std::vector<std::string> ClassNames() const { return {}; }
};

namespace detail::inputs {

inline bool StartsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

inline std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// "key=value&key=value" -> pairs. Throws ArgumentError naming `path` for a malformed pair.
inline std::vector<std::pair<std::string, std::string>> ParseQuery(const std::string& query, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (const std::string& part : Split(query, '&')) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ArgumentError("input_path \"" + path + "\": expected key=value, found \"" + part + "\"");
    }
    out.emplace_back(part.substr(0, eq), part.substr(eq + 1));
  }
  return out;
}

// A seed: a decimal integer in [0, 2^64).
inline uint64_t ParseSeed(const std::string& value, const std::string& path) {
  if (value.empty() || value.size() > 20 || value.find_first_not_of("0123456789") != std::string::npos) {
    throw ArgumentError("input_path \"" + path + "\": seed=" + value + " is not a non-negative integer");
  }
  try {
    return std::stoull(value);
  } catch (const std::exception&) {
    throw ArgumentError("input_path \"" + path + "\": seed=" + value + " does not fit in 64 bits");
  }
}

inline double ParseNumber(const std::string& key, const std::string& value, const std::string& path) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size()) {
    throw ArgumentError("input_path \"" + path + "\": " + key + "=" + value + " is not a number");
  }
  return v;
}

inline int ParseInt(const std::string& key, const std::string& value, const std::string& path, int lo, int hi) {
  const double v = ParseNumber(key, value, path);
  if (!std::isfinite(v) || v < lo || v > hi || v != std::floor(v)) {
    throw ArgumentError("input_path \"" + path + "\": " + key + "=" + value + " must be an integer in [" +
                        std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

// `*` and `?` in the last path component, matched against the directory's files (sorted).
inline std::vector<std::string> ExpandGlob(const std::string& pattern) {
  const std::filesystem::path p(pattern);
  const std::string name = p.filename().string();
  if (name.find_first_of("*?") == std::string::npos) return {pattern};
  std::string re;
  for (const char c : name) {
    if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += '.';
    } else if (std::string("\\^$.|+()[]{}").find(c) != std::string::npos) {
      re += '\\';
      re += c;
    } else {
      re += c;
    }
  }
  const std::regex matcher(re);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && std::regex_match(entry.path().filename().string(), matcher)) {
      out.push_back((p.has_parent_path() ? dir / entry.path().filename() : entry.path().filename()).string());
    }
  }
  if (ec) throw NotFoundError(ErrorContext(dir.string()), "input_path \"" + pattern + "\": cannot list the directory");
  std::sort(out.begin(), out.end());
  if (out.empty()) throw NotFoundError(ErrorContext(pattern), "input_path matches no file");
  return out;
}

}  // namespace detail::inputs

// ---- shapes:// ----

class ShapesSource : public ExampleSource {
 public:
  // `path` is the shapes:// input_path; `size` the image side when the path gives none;
  // `default_count` the count when the path gives none (0 = endless).
  ShapesSource(const std::string& path, int size, uint64_t default_count) : path_(path), count_(default_count) {
    using namespace detail::inputs;
    const std::string body = path.substr(std::string("shapes://").size());
    const size_t q = body.find('?');
    const std::string classes = body.substr(0, q);
    data::ShapesOptions o;
    o.classes.clear();
    for (const std::string& c : Split(classes, ',')) {
      if (c.empty()) throw ArgumentError("input_path \"" + path + "\": empty class name in the class list");
      try {
        data::ShapeFromName(c);  // throws for an unknown class, listing the known ones
      } catch (const ArgumentError& e) {
        throw ArgumentError("input_path \"" + path + "\": " + e.what());
      }
      o.classes.push_back(c);
    }
    o.height = o.width = size;
    for (const auto& [key, value] : ParseQuery(q == std::string::npos ? "" : body.substr(q + 1), path)) {
      if (key == "seed") {
        o.seed = ParseSeed(value, path);
      } else if (key == "count") {
        count_ = static_cast<uint64_t>(ParseInt(key, value, path, 0, 1 << 30));
      } else if (key == "min_objects") {
        o.min_objects = ParseInt(key, value, path, 1, 64);
      } else if (key == "max_objects") {
        o.max_objects = ParseInt(key, value, path, 1, 64);
      } else if (key == "min_size" || key == "max_size") {
        const double v = ParseNumber(key, value, path);
        if (!(v > 0 && v <= 1)) {
          throw ArgumentError("input_path \"" + path + "\": " + key + "=" + value + " must be in (0, 1] (relative size)");
        }
        (key == "min_size" ? o.min_size : o.max_size) = static_cast<float>(v);
      } else if (key == "noise") {
        o.noise = ParseInt(key, value, path, 0, 255);
      } else if (key == "clutter") {
        o.clutter = ParseInt(key, value, path, 0, 1) == 1;
      } else if (key == "size") {
        o.height = o.width = ParseInt(key, value, path, 8, 4096);
      } else {
        throw ArgumentError("input_path \"" + path + "\": unknown key \"" + key +
                            "\" (known: seed, count, min_objects, max_objects, min_size, max_size, noise, clutter, "
                            "size)");
      }
    }
    if (o.height <= 0) throw ArgumentError("input_path \"" + path + "\": no image size (give size=N)");
    try {
      dataset_ = std::make_unique<data::ShapesDataset>(o);
    } catch (const ArgumentError& e) {
      throw ArgumentError("input_path \"" + path + "\": " + e.what());
    }
  }

  uint64_t size() const override { return count_; }
  data::DetectionExample Get(uint64_t index) const override { return dataset_->Example(index); }
  std::string Name(uint64_t index) const override { return path_ + ": example " + std::to_string(index); }
  std::string Describe() const override {
    return "synthetic shapes (" + std::to_string(dataset_->num_classes()) + " classes, " +
           (count_ == 0 ? std::string("endless") : std::to_string(count_) + " examples") + ")";
  }
  std::vector<std::string> ClassNames() const override {
    std::vector<std::string> out = {""};
    for (const std::string& c : dataset_->classes()) out.push_back(c);
    return out;
  }
  const data::ShapesDataset& dataset() const { return *dataset_; }

 private:
  std::string path_;
  uint64_t count_;
  std::unique_ptr<data::ShapesDataset> dataset_;
};

// ---- records (TFRecord, COCO) ----

#if defined(WARMSTART_HAVE_STB)

// Records held in memory (encoded images), decoded on Get.
class RecordSource : public ExampleSource {
 public:
  struct Item {
    data::DetectionRecord record;
    std::string what;  // "FILE: record N" or "FILE: images[N]", for errors
  };

  RecordSource(std::vector<Item> items, std::string description, std::vector<std::string> class_names)
      : items_(std::move(items)), description_(std::move(description)), class_names_(std::move(class_names)) {}

  uint64_t size() const override { return items_.size(); }
  data::DetectionExample Get(uint64_t index) const override {
    const Item& item = items_.at(static_cast<size_t>(index));
    return data::ToDetectionExample(item.record, item.what);
  }
  std::string Describe() const override { return description_; }
  std::string Name(uint64_t index) const override { return items_.at(static_cast<size_t>(index)).what; }
  std::vector<std::string> ClassNames() const override { return class_names_; }
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
  std::string description_;
  std::vector<std::string> class_names_;
};

// A COCO annotations file: the annotations in memory, each image read and decoded on Get.
class CocoSource : public ExampleSource {
 public:
  CocoSource(data::CocoDataset coco, std::string file) : coco_(std::move(coco)), file_(std::move(file)) {}
  uint64_t size() const override { return coco_.size(); }
  data::DetectionExample Get(uint64_t index) const override {
    return data::ToDetectionExample(coco_.Load(static_cast<size_t>(index)), Name(index));
  }
  std::string Name(uint64_t index) const override { return file_ + ": images[" + std::to_string(index) + "]"; }
  std::string Describe() const override {
    std::string d = std::to_string(coco_.size()) + " images of " + file_;
    if (!coco_.skipped().empty()) d += " (" + std::to_string(coco_.skipped().size()) + " annotations left out)";
    return d;
  }

 private:
  data::CocoDataset coco_;
  std::string file_;
};

#endif  // WARMSTART_HAVE_STB

namespace detail::inputs {

inline std::vector<std::string> NamesFrom(const std::optional<config::LabelMap>& labels) {
  if (!labels || labels->max_id() < 1 || labels->max_id() > (1 << 20)) return {};
  std::vector<std::string> out(static_cast<size_t>(labels->max_id()) + 1);
  for (int32_t id = 1; id <= labels->max_id(); ++id) out[static_cast<size_t>(id)] = labels->DisplayName(id);
  return out;
}

}  // namespace detail::inputs

struct InputOptions {
  int image_size = 0;            // the model's input side, for shapes:// without size=
  uint64_t default_count = 0;    // shapes:// without count= (0 = endless)
};

// Opens the input_paths of `reader` as one source (in order, concatenated). Throws
// ArgumentError for an empty list or a malformed path, NotFoundError / IoError / FormatError
// for files, naming them.
inline std::unique_ptr<ExampleSource> OpenInput(const config::InputReaderConfig& reader, const InputOptions& options,
                                                const std::string& what) {
  using namespace detail::inputs;
  if (reader.input_paths.empty()) {
    throw ArgumentError(what + ": no tf_record_input_reader.input_path (for synthetic data use an input_path such as "
                               "\"shapes://circle,square,triangle\")");
  }
  std::optional<config::LabelMap> labels;
  if (!reader.label_map_path.empty()) labels = config::LabelMap::Load(reader.label_map_path);

  const std::string& first = reader.input_paths.front();
  if (StartsWith(first, "shapes://")) {
    if (reader.input_paths.size() != 1) {
      throw ArgumentError(what + ": a shapes:// input_path cannot be combined with other input paths");
    }
    auto source = std::make_unique<ShapesSource>(first, options.image_size, options.default_count);
    if (labels) {
      const std::vector<std::string> names = source->ClassNames();
      for (size_t id = 1; id < names.size(); ++id) {
        const config::LabelMapItem* item = labels->FindById(static_cast<int32_t>(id));
        if (item == nullptr || item->name != names[id]) {
          throw ArgumentError(reader.label_map_path + ": label " + std::to_string(id) + " of \"" + first + "\" is '" +
                              names[id] + "' but the label map has " +
                              (item == nullptr ? std::string("no item with that id") : "'" + item->name + "'"));
        }
      }
    }
    return source;
  }
#if !defined(WARMSTART_HAVE_STB)
  throw ArgumentError(what + ": reading images needs libstb (Debian: libstb-dev); rebuild with it installed");
#else
  std::vector<RecordSource::Item> items;
  std::vector<std::string> files;
  for (const std::string& path : reader.input_paths) {
    if (StartsWith(path, "shapes://")) {
      throw ArgumentError(what + ": a shapes:// input_path cannot be combined with other input paths");
    }
    const size_t q = path.find('?');
    const std::string file = path.substr(0, q);
    if (std::filesystem::path(file).extension() == ".json") {
      std::filesystem::path images = std::filesystem::path(file).parent_path();
      for (const auto& [key, value] : ParseQuery(q == std::string::npos ? "" : path.substr(q + 1), path)) {
        if (key != "images") throw ArgumentError("input_path \"" + path + "\": unknown key \"" + key + "\" (known: images)");
        images = value;
      }
      if (reader.input_paths.size() != 1) {
        throw ArgumentError(what + ": a COCO annotations file (" + file + ") must be the only input_path");
      }
      return std::make_unique<CocoSource>(data::CocoDataset::Load(file, images), file);
    }
    for (const std::string& f : ExpandGlob(path)) {
      const std::vector<std::string> records = data::ReadAllRecords(f);
      for (size_t i = 0; i < records.size(); ++i) {
        const std::string name = f + ": record " + std::to_string(i);
        data::DetectionRecord r = data::ParseDetectionRecord(records[i], ErrorContext(name));
        // TF's decoder maps class texts through the label map when it has one (labels are the
        // fallback); here both must agree when both are present.
        if (!r.texts.empty() && labels) {
          data::LabelsFromTexts(&r, *labels, ErrorContext(name));
        } else if (r.labels.empty() && !r.texts.empty()) {
          throw ArgumentError(name + " has class texts but no labels, and the input reader has no label_map_path");
        }
        items.push_back({std::move(r), name});
      }
      files.push_back(f);
    }
  }
  std::string description = std::to_string(items.size()) + " examples from " +
                            (files.size() == 1 ? files.front() : std::to_string(files.size()) + " files");
  return std::make_unique<RecordSource>(std::move(items), std::move(description), NamesFrom(labels));
#endif
}

}  // namespace warmstart::train
