// The two lists the policy engine compares: the model's variables and a checkpoint's tensors.
//
// A model variable is what a trainer owns: a name, a dtype, a shape, a trainable flag, and —
// for TF2 Keras models — the object path through which a tf.train.Checkpoint reaches it
// (`model/_feature_extractor/classification_backbone/layer_with_weights-0/kernel`). TF1 models
// are keyed by the variable's op name (`FeatureExtractor/MobilenetV1/Conv2d_0/weights`, no
// `:0`); TF2 ones by their checkpoint key (the object path + `/.ATTRIBUTES/VARIABLE_VALUE`).
//
// Where the list comes from:
//   * the trainer, in C++ (a std::vector<ModelVariable>);
//   * a JSON file: `[{"name", "dtype", "shape", "trainable"?, "object_path"?}...]`, or an object
//     with "variables" or "entries" (so `warmstart inspect --json` output works as is);
//   * another checkpoint's listing (ModelFromCheckpoint): the variables a model graph would
//     contain, i.e. without optimizer slots, EMA shadows, global_step and other training state.
//
// The checkpoint side is a CheckpointListing: key, dtype, shape, sorted by key, plus whether it
// is object-based (holds `_CHECKPOINTABLE_OBJECT_GRAPH`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/error.hpp"

namespace warmstart::restore {

using bundle::DataType;
using Shape = std::vector<int64_t>;

// What a graph variable is for. Only kModel variables come from a model; the others are
// training state that TF1's legacy trainer creates before it restores (spec §3.5).
enum class VariableKind { kModel, kOptimizerSlot, kEmaShadow, kGlobalStep, kOptimizerState };

inline const char* VariableKindName(VariableKind k) {
  switch (k) {
    case VariableKind::kModel: return "model";
    case VariableKind::kOptimizerSlot: return "optimizer_slot";
    case VariableKind::kEmaShadow: return "ema_shadow";
    case VariableKind::kGlobalStep: return "global_step";
    case VariableKind::kOptimizerState: return "optimizer_state";
  }
  return "model";
}

struct ModelVariable {
  std::string name;         // TF1: op name; TF2: checkpoint key
  DataType dtype = DataType::kFloat;
  Shape shape;
  bool trainable = true;
  std::string object_path;  // TF2 only: path from the tf.train.Checkpoint root
  VariableKind kind = VariableKind::kModel;

  // The text freeze / update patterns are matched against: the op name, or for TF2 variables
  // (which have no TF1 name in a checkpoint) the object path.
  const std::string& pattern_subject() const { return object_path.empty() ? name : object_path; }
};

inline int64_t NumElements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) return 0;
    if (d != 0 && n > INT64_MAX / d) return INT64_MAX;
    n *= d;
  }
  return n;
}

// Python's repr of a shape list: [1, 1, 512, 546]; [] for a scalar.
inline std::string ShapeList(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

// ---- dtype names ----

// "DT_FLOAT", "float32", "float" (TF's and numpy's spellings) -> DataType.
inline DataType ParseDataType(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (s.rfind("DT_", 0) != 0) s = "DT_" + s;
  static const std::pair<const char*, const char*> kAliases[] = {
      {"DT_FLOAT32", "DT_FLOAT"}, {"DT_FLOAT64", "DT_DOUBLE"}, {"DT_FLOAT16", "DT_HALF"},
      {"DT_COMPLEX", "DT_COMPLEX64"}, {"DT_BOOLEAN", "DT_BOOL"}, {"DT_STR", "DT_STRING"},
  };
  for (const auto& [alias, canonical] : kAliases) {
    if (s == alias) s = canonical;
  }
  for (int32_t i = 1; i <= bundle::kMaxKnownDataType; ++i) {
    const auto t = static_cast<DataType>(i);
    if (bundle::IsKnown(t) && bundle::DataTypeName(t) == s) return t;
  }
  throw ArgumentError("unknown dtype '" + std::string(text) + "' (expected a TensorFlow name such as DT_FLOAT or float32)");
}

// ---- names of training state ----

namespace detail {

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The last path component of a TF1 name.
inline std::string_view LastComponent(std::string_view name) {
  const size_t slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

}  // namespace detail

inline constexpr std::string_view kEmaSuffix = "/ExponentialMovingAverage";
inline constexpr std::string_view kTf2ValueSuffix = "/.ATTRIBUTES/VARIABLE_VALUE";

// The slot names TF1's optimizers give `<var>/<slot>` (tf.train.*Optimizer._get_or_make_slot
// uses the optimizer's name; the second slot of one optimizer gets `_1`).
inline bool IsTf1SlotComponent(std::string_view last) {
  static const char* const kSlots[] = {"RMSProp", "RMSProp_1", "Momentum", "Adam", "Adam_1", "Adagrad",
                                       "AdagradDA", "Adadelta", "Adadelta_1", "Ftrl", "Ftrl_1",
                                       "ProximalAdagrad", "LazyAdam", "LazyAdam_1", "Nadam", "Nadam_1",
                                       "AMSGrad", "AMSGrad_1", "AMSGrad_2"};
  for (const char* s : kSlots) {
    if (last == s) return true;
  }
  return false;
}

// How a checkpoint key would appear in a model graph: as a model variable, or as training
// state that a model does not contain.
inline VariableKind ClassifyCheckpointKey(std::string_view key) {
  if (key == "global_step" || key == "step/.ATTRIBUTES/VARIABLE_VALUE") return VariableKind::kGlobalStep;
  if (key == bundle::kObjectGraphKey || key == "save_counter/.ATTRIBUTES/VARIABLE_VALUE") {
    return VariableKind::kOptimizerState;
  }
  if (key.find("/.OPTIMIZER_SLOT/") != std::string_view::npos) return VariableKind::kOptimizerSlot;
  if (detail::StartsWith(key, "optimizer/")) return VariableKind::kOptimizerState;
  if (detail::EndsWith(key, kEmaSuffix)) return VariableKind::kEmaShadow;
  const std::string_view last = detail::LastComponent(key);
  if (key.find('/') != std::string_view::npos && IsTf1SlotComponent(last)) return VariableKind::kOptimizerSlot;
  if (last == "beta1_power" || last == "beta2_power" || detail::StartsWith(last, "beta1_power_") ||
      detail::StartsWith(last, "beta2_power_")) {
    return VariableKind::kOptimizerState;
  }
  return VariableKind::kModel;
}

// Batch-norm statistics are not trainable in any TF model; everything else is assumed to be.
inline bool IsBatchNormStatistic(std::string_view name) {
  const std::string_view last = detail::LastComponent(name);
  return last == "moving_mean" || last == "moving_variance";
}

// ---- the checkpoint side ----

struct CheckpointTensor {
  std::string key;
  DataType dtype = DataType::kInvalid;
  Shape shape;
  VariableKind kind = VariableKind::kModel;
};

class CheckpointListing {
 public:
  CheckpointListing() = default;
  // `path` names the checkpoint in messages. Tensors need not be sorted.
  CheckpointListing(std::string path, std::vector<CheckpointTensor> tensors) : path_(std::move(path)) {
    tensors_ = std::move(tensors);
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    for (size_t i = 0; i < tensors_.size(); ++i) {
      CheckpointTensor& t = tensors_[i];
      t.kind = ClassifyCheckpointKey(t.key);
      if (i > 0 && tensors_[i - 1].key == t.key) {
        throw ArgumentError("checkpoint listing " + path_ + " has the key '" + t.key + "' twice");
      }
      if (t.key == bundle::kObjectGraphKey) object_based_ = true;
    }
    Index();
  }

  // The index holds views of the keys: a copy builds its own; a move keeps the strings' buffers.
  CheckpointListing(const CheckpointListing& other)
      : path_(other.path_), tensors_(other.tensors_), object_based_(other.object_based_) {
    Index();
  }
  CheckpointListing& operator=(const CheckpointListing& other) {
    if (this != &other) *this = CheckpointListing(other);
    return *this;
  }
  CheckpointListing(CheckpointListing&&) noexcept = default;
  CheckpointListing& operator=(CheckpointListing&&) noexcept = default;

  template <class Fs>
  static CheckpointListing FromReader(const bundle::BundleReader<Fs>& reader, std::string path = {}) {
    std::vector<CheckpointTensor> tensors;
    tensors.reserve(reader.entries().size());
    for (const bundle::Entry& e : reader.entries()) tensors.push_back({e.name, e.dtype, e.shape.dims(), VariableKind::kModel});
    return CheckpointListing(path.empty() ? reader.prefix() : std::move(path), std::move(tensors));
  }

  const std::string& path() const { return path_; }
  // Sorted by key (byte order, which is Python's order for UTF-8 names).
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  bool object_based() const { return object_based_; }
  size_t size() const { return tensors_.size(); }
  const CheckpointTensor* Find(std::string_view key) const {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : &tensors_[it->second];
  }
  size_t IndexOf(const CheckpointTensor* t) const { return static_cast<size_t>(t - tensors_.data()); }

 private:
  void Index() {
    by_key_.clear();
    by_key_.reserve(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); ++i) by_key_.emplace(tensors_[i].key, i);
  }

  std::string path_;
  std::vector<CheckpointTensor> tensors_;
  std::unordered_map<std::string_view, size_t> by_key_;
  bool object_based_ = false;
};

// ---- the model side ----

// The model variables of a checkpoint: what a model graph built from the same code would hold.
// Dropped: optimizer slots (`/RMSProp`, `/Momentum`, `/Adam_1`, TF2 `.OPTIMIZER_SLOT`), EMA
// shadows (`/ExponentialMovingAverage`), `global_step` / `step`, Adam's `beta*_power`, the TF2
// `optimizer/...` and `save_counter` state and the object graph itself.
//
// `trainable` is inferred, since a checkpoint does not record it: a variable that has an
// optimizer slot or an EMA shadow was trained; batch-norm `moving_mean` / `moving_variance`
// were not; anything else is assumed trainable. (Variables frozen during the run that wrote
// the checkpoint have neither slot nor shadow and are still reported trainable, as the model
// itself would declare them.)
//
// Object-based (TF2) checkpoints give only the `model/...` subtree, with object paths.
inline std::vector<ModelVariable> ModelFromCheckpoint(const CheckpointListing& ckpt) {
  std::unordered_set<std::string_view> has_training_state;
  for (const CheckpointTensor& t : ckpt.tensors()) {
    if (t.kind == VariableKind::kEmaShadow) {
      has_training_state.insert(std::string_view(t.key).substr(0, t.key.size() - kEmaSuffix.size()));
    } else if (t.kind == VariableKind::kOptimizerSlot) {
      const size_t tf2 = t.key.find("/.OPTIMIZER_SLOT/");
      if (tf2 != std::string::npos) {
        has_training_state.insert(std::string_view(t.key).substr(0, tf2));
      } else {
        has_training_state.insert(std::string_view(t.key).substr(0, t.key.rfind('/')));
      }
    }
  }
  std::vector<ModelVariable> out;
  for (const CheckpointTensor& t : ckpt.tensors()) {
    if (t.kind != VariableKind::kModel) continue;
    ModelVariable v;
    v.name = t.key;
    v.dtype = t.dtype;
    v.shape = t.shape;
    if (ckpt.object_based()) {
      if (!detail::StartsWith(t.key, "model/") || !detail::EndsWith(t.key, kTf2ValueSuffix)) continue;
      v.object_path = t.key.substr(0, t.key.size() - kTf2ValueSuffix.size());
    }
    const std::string_view base = v.object_path.empty() ? std::string_view(v.name) : std::string_view(v.object_path);
    v.trainable = has_training_state.count(base) != 0 || !IsBatchNormStatistic(base);
    out.push_back(std::move(v));
  }
  return out;
}

namespace detail {

inline const nlohmann::json& Member(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw FormatError(ErrorContext(where), std::string("model variable has no \"") + key + "\"");
  return *it;
}

}  // namespace detail

// Reads the JSON forms described at the top. `file` names the source in errors, which say
// which element is wrong ("model.json: variables[3]: ...").
inline std::vector<ModelVariable> ModelFromJson(const nlohmann::json& doc, const std::string& file = "<json>") {
  const nlohmann::json* list = &doc;
  std::string list_name = "variables";
  if (doc.is_object()) {
    if (doc.contains("variables")) {
      list = &doc["variables"];
      list_name = "variables";
    } else if (doc.contains("entries")) {
      list = &doc["entries"];
      list_name = "entries";
    } else {
      throw FormatError(ErrorContext(file), "expected a list of variables, or an object with \"variables\" or \"entries\"");
    }
  }
  if (!list->is_array()) throw FormatError(ErrorContext(file), "expected a JSON array of variables");
  std::vector<ModelVariable> out;
  out.reserve(list->size());
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string where = file + ": " + list_name + "[" + std::to_string(i) + "]";
    const nlohmann::json& e = (*list)[i];
    if (!e.is_object()) throw FormatError(ErrorContext(where), "expected an object");
    ModelVariable v;
    try {
      v.name = detail::Member(e, "name", where).get<std::string>();
      if (e.contains("dtype")) v.dtype = ParseDataType(e["dtype"].get<std::string>());
      const nlohmann::json& shape = detail::Member(e, "shape", where);
      if (!shape.is_array()) throw FormatError(ErrorContext(where), "\"shape\" must be a list of integers");
      for (const auto& d : shape) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) {
          throw FormatError(ErrorContext(where), "\"shape\" must be a list of non-negative integers");
        }
        v.shape.push_back(d.get<int64_t>());
      }
      if (e.contains("trainable")) v.trainable = e["trainable"].get<bool>();
      if (e.contains("object_path")) v.object_path = e["object_path"].get<std::string>();
    } catch (const nlohmann::json::exception& ex) {
      throw FormatError(ErrorContext(where), std::string("wrong JSON type: ") + ex.what());
    } catch (const ArgumentError& ex) {
      throw FormatError(ErrorContext(where), ex.reason());
    }
    if (v.name.empty()) throw FormatError(ErrorContext(where), "\"name\" is empty");
    if (!seen.insert(v.name).second) throw FormatError(ErrorContext(where), "variable '" + v.name + "' is listed twice");
    // A listing of a checkpoint (inspect --json) carries training state too; a model would not.
    if (list_name == "entries" && doc.is_object()) {
      if (ClassifyCheckpointKey(v.name) != VariableKind::kModel) continue;
      if (v.object_path.empty() && detail::EndsWith(v.name, kTf2ValueSuffix)) {
        v.object_path = v.name.substr(0, v.name.size() - kTf2ValueSuffix.size());
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace warmstart::restore
