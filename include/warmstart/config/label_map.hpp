// Label maps: object_detection.protos.StringIntLabelMap in text format
// (protos/string_int_label_map.proto), as read by utils/label_map_util.py.
//
//   item {                    StringIntLabelMapItem (repeated `item`)
//     id: 1                     int32; 0 is the background class in the OD API, so ids start at 1
//     name: 'Abyssinian'        string, usually a dataset id (MID, synset)
//     display_name: 'cat'       string, for humans
//     keypoints { id: 0 label: 'nose' }   repeated
//   }
//
// Validation (ours, stricter than label_map_util): unknown fields and wrong types as for
// pipeline.config (schema.hpp); every item needs an id >= 1 and a name; ids and names are
// unique. Gaps between ids are allowed (label_map_util fills them with "category_<id>").
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/config/schema.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

struct LabelMapItem {
  int32_t id = 0;
  std::string name;
  std::string display_name;  // "" when absent
  std::vector<std::pair<int32_t, std::string>> keypoints;  // (id, label)
  Position position;  // of the item's `{`
};

class LabelMap {
 public:
  // Throws NotFoundError / IoError for the file, FormatError "<file>:<line>:<col>: ..." for the text.
  static LabelMap Load(const std::filesystem::path& path, const ValidateOptions& options = {}) {
    return LabelMap(Document::Load(path), options);
  }
  static LabelMap Parse(std::string text, std::string file_name = "<text>", const ValidateOptions& options = {}) {
    return LabelMap(Document::Parse(std::move(text), std::move(file_name)), options);
  }

  const std::vector<LabelMapItem>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  int32_t max_id() const { return by_id_.empty() ? 0 : by_id_.rbegin()->first; }

  // nullptr when absent.
  const LabelMapItem* FindById(int32_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &items_[it->second];
  }
  const LabelMapItem* FindByName(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &items_[it->second];
  }
  // The name the OD API shows for an id: display_name when set (use_display_name), else name.
  std::string DisplayName(int32_t id) const {
    const LabelMapItem* item = FindById(id);
    if (item == nullptr) return "";
    return item->display_name.empty() ? item->name : item->display_name;
  }

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  LabelMap(const Document& doc, const ValidateOptions& options) {
    diagnostics_ = Validate(doc.root(), OdSchema(), kLabelMapType, options);
    for (const Field& f : doc.root().fields()) {
      if (f.name == "item") Add(f.value);
    }
  }

  void Add(const Value& v) {
    const Message& m = v.AsMessage();
    LabelMapItem item;
    item.position = v.position();
    const Value* id = m.FindLast("id");
    const Value* name = m.FindLast("name");
    if (id == nullptr) Fail(v, "label map item has no id");
    if (name == nullptr) Fail(v, "label map item has no name");
    item.id = static_cast<int32_t>(id->AsInt64());
    item.name = name->AsString();
    if (const Value* d = m.FindLast("display_name")) item.display_name = d->AsString();
    for (const Value* k : m.FindAll("keypoints")) {
      const Value* kid = k->AsMessage().FindLast("id");
      const Value* label = k->AsMessage().FindLast("label");
      item.keypoints.emplace_back(kid ? static_cast<int32_t>(kid->AsInt64()) : 0, label ? label->AsString() : "");
    }
    if (item.id < 1) {
      Fail(*id, "label map id " + std::to_string(item.id) + " is reserved: ids start at 1 (0 is the background class)");
    }
    if (const LabelMapItem* other = FindById(item.id)) {
      Fail(*id, "duplicate label map id " + std::to_string(item.id) + " (first used by '" + other->name + "' at " +
                    other->position.ToString() + ")");
    }
    if (const LabelMapItem* other = FindByName(item.name)) {
      Fail(*name, "duplicate label map name '" + item.name + "' (ids " + std::to_string(other->id) + " and " +
                      std::to_string(item.id) + ")");
    }
    by_id_[item.id] = items_.size();
    by_name_[item.name] = items_.size();
    items_.push_back(std::move(item));
  }

  [[noreturn]] static void Fail(const Value& at, const std::string& what) {
    ErrorContext ctx(at.file());
    if (at.position().known()) ctx = ctx.WithLineColumn(at.position().line, at.position().column);
    throw FormatError(ctx, what);
  }

  std::vector<LabelMapItem> items_;
  std::map<int32_t, size_t> by_id_;
  std::map<std::string, size_t> by_name_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace warmstart::config
