// A declarative schema for the parts of pipeline.config that warmstart models, and the
// validation that walks a schema-free Message tree (text_format.hpp) against it.
//
// Each modelled message lists its fields as protobuf declares them in
// tensorflow/models research/object_detection/protos/*.proto (proto2):
//
//   name               field number   type (int32 ... enum, message)   repeated?
//   proto default      deprecated?    oneof group (when in one)
//
// A message is either fully modelled (every field of the current .proto is listed, so an
// unknown name is an error, as in text_format.Merge) or partially modelled (the fields we
// read are listed and type-checked; other names are kept without a word). docs/config-fields.md
// lists which is which.
//
// What validation does, mirroring Python's text_format.Merge that the OD API uses:
//
//   unknown field in a fully modelled message   FormatError at the name, with a suggestion
//   value of the wrong type / unknown enum name FormatError at the value
//   singular field written twice                Merge keeps the last one: a Diagnostic
//                                               (a FormatError with ValidateOptions::strict)
//   two members of one oneof                    Merge keeps the last one: same treatment
//   singular message written twice              Merge merges them: same treatment
//
// Occurrences of one singular message are validated together (Merge merges them first), so
// `train_config { batch_size: 1 } train_config { batch_size: 2 }` is a duplicate too.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/core/edit_distance.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

enum class FieldType { kInt32, kUInt32, kInt64, kUInt64, kFloat, kDouble, kBool, kString, kEnum, kMessage };

inline const char* FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kInt32: return "int32";
    case FieldType::kUInt32: return "uint32";
    case FieldType::kInt64: return "int64";
    case FieldType::kUInt64: return "uint64";
    case FieldType::kFloat: return "float";
    case FieldType::kDouble: return "double";
    case FieldType::kBool: return "bool";
    case FieldType::kString: return "string";
    case FieldType::kEnum: return "enum";
    case FieldType::kMessage: return "message";
  }
  return "?";
}

// An enum type: its full name and (name, number) values in declaration order.
struct EnumSchema {
  std::string full_name;
  std::vector<std::pair<std::string, int>> values;

  bool Has(std::string_view name) const {
    return std::any_of(values.begin(), values.end(), [&](const auto& v) { return v.first == name; });
  }
  const std::string* NameOf(int64_t number) const {
    for (const auto& v : values) {
      if (v.second == number) return &v.first;
    }
    return nullptr;
  }
};

struct FieldSchema {
  std::string name;
  int number = 0;
  FieldType type = FieldType::kInt32;
  bool repeated = false;
  // The proto default as text format writes it ("32", "0.9999", "true", "V1"); empty for
  // "no explicit default" (then 0, false, "", the first enum value or an empty message).
  std::string default_value;
  bool deprecated = false;
  std::string oneof;          // the oneof group, empty when none
  std::string type_name;      // kMessage: the message's full name ("" = contents unchecked)
  const EnumSchema* enum_type = nullptr;  // kEnum

  FieldSchema& Repeated() { repeated = true; return *this; }
  FieldSchema& Deprecated() { deprecated = true; return *this; }
  FieldSchema& Oneof(std::string group) { oneof = std::move(group); return *this; }

  bool is_message() const { return type == FieldType::kMessage; }
  // "uint32", "enum object_detection.protos.CheckpointVersion", "message object_detection.protos.Optimizer".
  std::string TypeDescription() const {
    if (type == FieldType::kEnum) return "enum " + enum_type->full_name;
    if (type == FieldType::kMessage) return "message " + (type_name.empty() ? std::string("(any)") : type_name);
    return FieldTypeName(type);
  }
  // The value a reader sees when the field is absent: the explicit default, else the type's zero.
  std::string EffectiveDefault() const {
    if (!default_value.empty() || type == FieldType::kString) return default_value;
    switch (type) {
      case FieldType::kBool: return "false";
      case FieldType::kEnum: return enum_type->values.front().first;
      case FieldType::kFloat:
      case FieldType::kDouble: return "0.0";
      default: return "0";
    }
  }
};

enum class Modelled { kFully, kPartially };

struct MessageSchema {
  std::string full_name;  // "object_detection.protos.TrainConfig"
  Modelled modelled = Modelled::kFully;
  std::vector<FieldSchema> fields;
  bool allows_extensions = false;  // `extensions N to M;`: "[ext.name]" fields are accepted

  bool fully_modelled() const { return modelled == Modelled::kFully; }
  const FieldSchema* Find(std::string_view name) const {
    for (const FieldSchema& f : fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

// A note from validation that text_format.Merge would not raise: the input is accepted, but
// a value in it is ignored (or merged). `file:line:col: message` via ToString().
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  std::string ToString() const {
    return (file.empty() ? std::string() : file + ":") + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
  }
};

struct ValidateOptions {
  // Turn every Diagnostic into a FormatError (what `warmstart config check` uses).
  bool strict = false;
};

// A set of message and enum schemas, looked up by full name.
class SchemaRegistry {
 public:
  SchemaRegistry() = default;
  SchemaRegistry(const SchemaRegistry&) = delete;
  SchemaRegistry& operator=(const SchemaRegistry&) = delete;

  const EnumSchema* AddEnum(EnumSchema e) {
    auto owned = std::make_unique<EnumSchema>(std::move(e));
    const EnumSchema* p = owned.get();
    enums_[p->full_name] = std::move(owned);
    return p;
  }
  const MessageSchema& AddMessage(MessageSchema m) {
    auto owned = std::make_unique<MessageSchema>(std::move(m));
    const MessageSchema& r = *owned;
    messages_[r.full_name] = std::move(owned);
    return r;
  }
  // nullptr when not modelled.
  const MessageSchema* FindMessage(std::string_view full_name) const {
    const auto it = messages_.find(std::string(full_name));
    return it == messages_.end() ? nullptr : it->second.get();
  }
  const EnumSchema* FindEnum(std::string_view full_name) const {
    const auto it = enums_.find(std::string(full_name));
    return it == enums_.end() ? nullptr : it->second.get();
  }
  // Requires: the message is in the registry (else ArgumentError).
  const MessageSchema& Message(std::string_view full_name) const {
    const MessageSchema* m = FindMessage(full_name);
    if (m == nullptr) throw ArgumentError("no schema for message type \"" + std::string(full_name) + "\"");
    return *m;
  }
  const std::map<std::string, std::unique_ptr<MessageSchema>>& messages() const { return messages_; }

 private:
  std::map<std::string, std::unique_ptr<MessageSchema>> messages_;
  std::map<std::string, std::unique_ptr<EnumSchema>> enums_;
};

// ---- suggestions ----------------------------------------------------------------------

namespace detail {

using core::EditDistance;

inline std::string Folded(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c != '_') out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// The closest candidate within a third of the name's length (at least 1, at most 3 edits),
// or "" when none is that close. On a tie, one that differs only in case and '_' wins
// (RELU6 -> RELU_6, not RELU).
inline std::string ClosestName(std::string_view name, const std::vector<std::string>& candidates) {
  const size_t limit = std::min<size_t>(3, std::max<size_t>(1, name.size() / 3));
  std::string best;
  size_t best_score = 2 * limit + 2;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(name, c);
    if (d > limit) continue;
    const size_t score = 2 * d + (Folded(name) == Folded(c) ? 0 : 1);
    if (score < best_score) {
      best_score = score;
      best = c;
    }
  }
  return best;
}

inline std::string Suggestion(std::string_view name, const std::vector<std::string>& candidates) {
  const std::string best = ClosestName(name, candidates);
  return best.empty() ? std::string() : "; did you mean '" + best + "'?";
}

}  // namespace detail

// ---- validation -----------------------------------------------------------------------

namespace detail {

class Validator {
 public:
  Validator(const SchemaRegistry& registry, const ValidateOptions& options) : registry_(registry), options_(options) {}

  // `occurrences`: every occurrence of one message (Merge merges them), in file order.
  void Walk(const std::vector<const Message*>& occurrences, const MessageSchema& schema) {
    std::map<std::string, std::vector<const Field*>> by_name;
    std::vector<std::string> order;
    for (const Message* m : occurrences) {
      for (const Field& f : m->fields()) {
        const FieldSchema* fs = schema.Find(f.name);
        if (fs == nullptr) {
          CheckUnknown(f, schema);
          continue;
        }
        if (by_name.count(f.name) == 0) order.push_back(f.name);
        by_name[f.name].push_back(&f);
      }
    }
    CheckOneofs(occurrences, schema);
    for (const std::string& name : order) CheckField(*schema.Find(name), by_name[name]);
  }

  std::vector<Diagnostic> TakeDiagnostics() { return std::move(diagnostics_); }

 private:
  void CheckUnknown(const Field& f, const MessageSchema& schema) {
    if (!schema.fully_modelled()) return;
    if (!f.name.empty() && f.name[0] == '[' && schema.allows_extensions) return;
    std::vector<std::string> names;
    for (const FieldSchema& fs : schema.fields) names.push_back(fs.name);
    FailAt(f.value.file(), f.position, "message type \"" + schema.full_name + "\" has no field named \"" + f.name +
                                           "\"" + Suggestion(f.name, names));
  }

  // Merge: setting a second member of a oneof clears the first.
  void CheckOneofs(const std::vector<const Message*>& occurrences, const MessageSchema& schema) {
    std::map<std::string, const Field*> first_member;
    for (const Message* m : occurrences) {
      for (const Field& f : m->fields()) {
        const FieldSchema* fs = schema.Find(f.name);
        if (fs == nullptr || fs->oneof.empty()) continue;
        auto [it, inserted] = first_member.emplace(fs->oneof, &f);
        if (!inserted && it->second->name != f.name) {
          Note(f.value.file(), f.position,
               "field '" + f.name + "' and field '" + it->second->name + "' (line " +
                   std::to_string(it->second->position.line) + ") are members of oneof '" + fs->oneof + "' of " +
                   schema.full_name + "; TensorFlow's text_format.Merge keeps the last one");
          it->second = &f;
        }
      }
    }
  }

  void CheckField(const FieldSchema& fs, const std::vector<const Field*>& fields) {
    if (!fs.repeated && fields.size() > 1) {
      for (size_t i = 1; i < fields.size(); ++i) {
        const std::string kind = fs.is_message() ? "non-repeated message field '" : "non-repeated field '";
        const std::string what = fs.is_message() ? "merges the occurrences" : "keeps the last one";
        Note(fields[i]->value.file(), fields[i]->position,
             kind + fs.name + "' is specified multiple times; TensorFlow's text_format.Merge " + what);
      }
    }
    for (const Field* f : fields) CheckValue(fs, *f);
    if (!fs.is_message() || fs.type_name.empty()) return;
    const MessageSchema* sub = registry_.FindMessage(fs.type_name);
    if (sub == nullptr) return;
    if (fs.repeated) {
      for (const Field* f : fields) Walk({&f->value.message()}, *sub);
    } else {
      std::vector<const Message*> merged;
      for (const Field* f : fields) merged.push_back(&f->value.message());
      Walk(merged, *sub);
    }
  }

  void CheckValue(const FieldSchema& fs, const Field& f) {
    const Value& v = f.value;
    const std::string prefix = "field \"" + fs.name + "\"" +
                               (fs.type == FieldType::kEnum ? std::string() : " (" + fs.TypeDescription() + ")") + ": ";
    if (fs.is_message()) {
      if (!v.is_message()) {
        FailAt(v.file(), v.position(), prefix + "expected a message '{ ... }', found " + ValueKindName(v.kind()) + " " + v.ToText());
      }
      return;
    }
    if (v.is_message()) FailAt(v.file(), v.position(), prefix + "expected a scalar value, found a message");
    try {
      CheckScalar(fs, v);
    } catch (const FormatError& e) {
      throw FormatError(e.context(), prefix + e.reason());
    }
  }

  static void CheckScalar(const FieldSchema& fs, const Value& v) {
    switch (fs.type) {
      case FieldType::kInt32: CheckRange(v, v.AsInt64(), std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), "int32"); break;
      case FieldType::kUInt32: {
        if (v.kind() == ValueKind::kNumber && !v.text().empty() && v.text()[0] == '-' && v.IsInteger() && v.AsInt64() != 0) {
          FailAt(v.file(), v.position(), "integer " + v.text() + " is out of range for uint32");
        }
        const uint64_t u = v.AsUInt64();
        if (u > std::numeric_limits<uint32_t>::max()) FailAt(v.file(), v.position(), "integer " + v.text() + " is out of range for uint32");
        break;
      }
      case FieldType::kInt64: v.AsInt64(); break;
      case FieldType::kUInt64: v.AsUInt64(); break;  // "-1 is out of range for uint64"
      case FieldType::kFloat:
      case FieldType::kDouble: CheckFloatLiteral(v); v.AsDouble(); break;
      case FieldType::kBool: v.AsBool(); break;
      case FieldType::kString: v.AsString(); break;
      case FieldType::kEnum: CheckEnum(fs, v); break;
      case FieldType::kMessage: break;
    }
  }

  // Python's text_format (Tokenizer.ConsumeFloat -> ParseFloat) refuses hex and octal-looking
  // literals in float fields, which Value::AsDouble accepts as integers: "min_scale: 0x10" and
  // "min_scale: 010" are errors with protobuf's wording.
  static void CheckFloatLiteral(const Value& v) {
    if (v.kind() != ValueKind::kNumber) return;
    const std::string& t = v.text();
    const size_t i = !t.empty() && t[0] == '-' ? 1 : 0;
    if (t.size() > i + 1 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X')) {
      FailAt(v.file(), v.position(), "Couldn't parse float: " + t);
    }
    if (t.size() > i + 1 && t[i] == '0' && std::isdigit(static_cast<unsigned char>(t[i + 1]))) {
      FailAt(v.file(), v.position(), "Invalid octal float: " + t);
    }
  }

  static void CheckRange(const Value& v, int64_t x, int64_t lo, int64_t hi, const char* type) {
    if (x < lo || x > hi) FailAt(v.file(), v.position(), "integer " + v.text() + " is out of range for " + type);
  }

  // An enum takes a value name or (as protobuf allows) a value number.
  static void CheckEnum(const FieldSchema& fs, const Value& v) {
    const EnumSchema& e = *fs.enum_type;
    if (v.IsInteger()) {
      const int64_t n = v.AsInt64();
      if (e.NameOf(n) != nullptr) return;
      FailAt(v.file(), v.position(), "enum type \"" + e.full_name + "\" has no value with number " + v.text());
    }
    if (v.kind() == ValueKind::kString) v.AsEnum();  // "expected an enum value (an identifier), found string ..."
    const std::string& name = v.AsEnum();
    if (e.Has(name)) return;
    std::vector<std::string> names;
    std::string list;
    for (const auto& [n, number] : e.values) {
      names.push_back(n);
      list += (list.empty() ? "" : ", ") + n;
    }
    FailAt(v.file(), v.position(), "enum type \"" + e.full_name + "\" has no value named \"" + name +
                                       "\"; valid values: " + list + Suggestion(name, names));
  }

  [[noreturn]] static void FailAt(const std::string& file, const Position& p, const std::string& what) {
    ErrorContext ctx(file);
    if (p.known()) ctx = ctx.WithLineColumn(p.line, p.column);
    throw FormatError(ctx, what);
  }

  void Note(const std::string& file, const Position& p, const std::string& what) {
    if (options_.strict) FailAt(file, p, what);
    diagnostics_.push_back(Diagnostic{file, p.line, p.column, what});
  }

  const SchemaRegistry& registry_;
  ValidateOptions options_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace detail

// Validates `message` as an instance of `type_name`. Throws FormatError on the first error
// (and, with options.strict, on the first diagnostic); returns the diagnostics otherwise.
inline std::vector<Diagnostic> Validate(const Message& message, const SchemaRegistry& registry,
                                        std::string_view type_name, const ValidateOptions& options = {}) {
  detail::Validator v(registry, options);
  v.Walk({&message}, registry.Message(type_name));
  return v.TakeDiagnostics();
}

// ---- the OD API schema ----------------------------------------------------------------

namespace detail {

inline const std::string kPkg = "object_detection.protos.";

inline FieldSchema F(std::string name, int number, FieldType type, std::string def = "") {
  FieldSchema f;
  f.name = std::move(name);
  f.number = number;
  f.type = type;
  f.default_value = std::move(def);
  return f;
}
inline FieldSchema I32(std::string n, int num, std::string def = "") { return F(std::move(n), num, FieldType::kInt32, std::move(def)); }
inline FieldSchema U32(std::string n, int num, std::string def = "") { return F(std::move(n), num, FieldType::kUInt32, std::move(def)); }
inline FieldSchema Flt(std::string n, int num, std::string def = "") { return F(std::move(n), num, FieldType::kFloat, std::move(def)); }
inline FieldSchema Bool(std::string n, int num, std::string def = "") { return F(std::move(n), num, FieldType::kBool, std::move(def)); }
inline FieldSchema Str(std::string n, int num, std::string def = "") { return F(std::move(n), num, FieldType::kString, std::move(def)); }
inline FieldSchema Enum(std::string n, int num, const EnumSchema* e, std::string def = "") {
  FieldSchema f = F(std::move(n), num, FieldType::kEnum, std::move(def));
  f.enum_type = e;
  return f;
}
// `type` is the short message name in object_detection.protos, or "" for unchecked contents.
inline FieldSchema Msg(std::string n, int num, const std::string& type) {
  FieldSchema f = F(std::move(n), num, FieldType::kMessage);
  f.type_name = type.empty() ? std::string() : kPkg + type;
  return f;
}

inline void Add(SchemaRegistry* r, const std::string& name, Modelled modelled, std::vector<FieldSchema> fields) {
  MessageSchema m;
  m.full_name = kPkg + name;
  m.modelled = modelled;
  m.fields = std::move(fields);
  r->AddMessage(std::move(m));
}

inline const EnumSchema* AddEnum(SchemaRegistry* r, const std::string& name, std::vector<std::pair<std::string, int>> values) {
  return r->AddEnum(EnumSchema{kPkg + name, std::move(values)});
}

constexpr Modelled kFully = Modelled::kFully;
constexpr Modelled kPartially = Modelled::kPartially;

inline void AddPipeline(SchemaRegistry* r) {
  MessageSchema top;
  top.full_name = kPkg + "TrainEvalPipelineConfig";
  top.allows_extensions = true;
  top.fields = {Msg("model", 1, "DetectionModel"), Msg("train_config", 2, "TrainConfig"),
                Msg("train_input_reader", 3, "InputReader"), Msg("eval_config", 4, "EvalConfig"),
                Msg("eval_input_reader", 5, "InputReader").Repeated(), Msg("graph_rewriter", 6, "GraphRewriter")};
  r->AddMessage(std::move(top));
  // graph_rewriter.proto: `extensions 1000 to max;` as well.
  MessageSchema rewriter;
  rewriter.full_name = kPkg + "GraphRewriter";
  rewriter.allows_extensions = true;
  rewriter.fields = {Msg("quantization", 1, "Quantization")};
  r->AddMessage(std::move(rewriter));
  Add(r, "Quantization", kFully,
      {I32("delay", 1, "500000"), I32("weight_bits", 2, "8"), I32("activation_bits", 3, "8"), Bool("symmetric", 4, "false")});
  Add(r, "DetectionModel", kFully,
      {Msg("faster_rcnn", 1, "FasterRcnn").Oneof("model"), Msg("ssd", 2, "Ssd").Oneof("model"),
       Msg("experimental_model", 3, "ExperimentalModel").Oneof("model"), Msg("center_net", 4, "").Oneof("model")});
  Add(r, "ExperimentalModel", kFully, {Str("name", 1)});
}

inline void AddPreprocessor(SchemaRegistry* r);
inline void AddSsdRandomCrops(SchemaRegistry* r);

inline void AddTrain(SchemaRegistry* r) {
  const EnumSchema* version = AddEnum(r, "CheckpointVersion", {{"UNKNOWN", 0}, {"V1", 1}, {"V2", 2}});
  Add(r, "TrainConfig", kFully,
      {U32("batch_size", 1, "32"),
       Msg("data_augmentation_options", 2, "PreprocessingStep").Repeated(),
       Bool("sync_replicas", 3, "false"),
       Flt("keep_checkpoint_every_n_hours", 4, "10000.0"),
       Msg("optimizer", 5, "Optimizer"),
       Flt("gradient_clipping_by_norm", 6, "0.0"),
       Str("fine_tune_checkpoint", 7, ""),
       Bool("from_detection_checkpoint", 8, "false").Deprecated(),
       U32("num_steps", 9, "0"),
       Flt("startup_delay_steps", 10, "15"),
       Flt("bias_grad_multiplier", 11, "0"),
       Str("freeze_variables", 12).Repeated(),
       I32("replicas_to_aggregate", 13, "1"),
       I32("batch_queue_capacity", 14, "150").Deprecated(),
       I32("num_batch_queue_threads", 15, "8").Deprecated(),
       I32("prefetch_queue_capacity", 16, "5").Deprecated(),
       Bool("merge_multiple_label_boxes", 17, "false"),
       Bool("add_regularization_loss", 18, "true"),
       Bool("load_all_detection_checkpoint_vars", 19, "false"),
       I32("max_number_of_boxes", 20, "100").Deprecated(),
       Bool("unpad_groundtruth_tensors", 21, "true"),
       Str("fine_tune_checkpoint_type", 22, ""),
       Bool("retain_original_images", 23, "false"),
       Bool("use_multiclass_scores", 24, "false"),
       Str("update_trainable_variables", 25).Repeated(),
       Bool("use_bfloat16", 26, "false"),
       Bool("summarize_gradients", 27, "false"),
       Enum("fine_tune_checkpoint_version", 28, version, "V1"),
       Bool("run_fine_tune_checkpoint_dummy_computation", 30, "true")});
  AddPreprocessor(r);
}

// preprocessor.proto: PreprocessingStep (a oneof of 39 steps, fields 1-39) and every step.
inline void AddPreprocessor(SchemaRegistry* r) {
  const std::pair<const char*, const char*> steps[] = {
      {"normalize_image", "NormalizeImage"},
      {"random_horizontal_flip", "RandomHorizontalFlip"},
      {"random_pixel_value_scale", "RandomPixelValueScale"},
      {"random_image_scale", "RandomImageScale"},
      {"random_rgb_to_gray", "RandomRGBtoGray"},
      {"random_adjust_brightness", "RandomAdjustBrightness"},
      {"random_adjust_contrast", "RandomAdjustContrast"},
      {"random_adjust_hue", "RandomAdjustHue"},
      {"random_adjust_saturation", "RandomAdjustSaturation"},
      {"random_distort_color", "RandomDistortColor"},
      {"random_jitter_boxes", "RandomJitterBoxes"},
      {"random_crop_image", "RandomCropImage"},
      {"random_pad_image", "RandomPadImage"},
      {"random_crop_pad_image", "RandomCropPadImage"},
      {"random_crop_to_aspect_ratio", "RandomCropToAspectRatio"},
      {"random_black_patches", "RandomBlackPatches"},
      {"random_resize_method", "RandomResizeMethod"},
      {"scale_boxes_to_pixel_coordinates", "ScaleBoxesToPixelCoordinates"},
      {"resize_image", "ResizeImage"},
      {"subtract_channel_mean", "SubtractChannelMean"},
      {"ssd_random_crop", "SSDRandomCrop"},
      {"ssd_random_crop_pad", "SSDRandomCropPad"},
      {"ssd_random_crop_fixed_aspect_ratio", "SSDRandomCropFixedAspectRatio"},
      {"ssd_random_crop_pad_fixed_aspect_ratio", "SSDRandomCropPadFixedAspectRatio"},
      {"random_vertical_flip", "RandomVerticalFlip"},
      {"random_rotation90", "RandomRotation90"},
      {"rgb_to_gray", "RGBtoGray"},
      {"convert_class_logits_to_softmax", "ConvertClassLogitsToSoftmax"},
      {"random_absolute_pad_image", "RandomAbsolutePadImage"},
      {"random_self_concat_image", "RandomSelfConcatImage"},
      {"autoaugment_image", "AutoAugmentImage"},
      {"drop_label_probabilistically", "DropLabelProbabilistically"},
      {"remap_labels", "RemapLabels"},
      {"random_jpeg_quality", "RandomJpegQuality"},
      {"random_downscale_to_target_pixels", "RandomDownscaleToTargetPixels"},
      {"random_patch_gaussian", "RandomPatchGaussian"},
      {"random_square_crop_by_scale", "RandomSquareCropByScale"},
      {"random_scale_crop_and_pad_to_square", "RandomScaleCropAndPadToSquare"},
      {"adjust_gamma", "AdjustGamma"}};
  std::vector<FieldSchema> oneof;
  int number = 1;  // the steps are numbered 1-39 in declaration order
  for (const auto& [field, type] : steps) oneof.push_back(Msg(field, number++, type).Oneof("preprocessing_step"));
  Add(r, "PreprocessingStep", kFully, std::move(oneof));

  Add(r, "NormalizeImage", kFully,
      {Flt("original_minval", 1), Flt("original_maxval", 2), Flt("target_minval", 3, "0"), Flt("target_maxval", 4, "1")});
  // Flips and rotation: the keypoint permutation, and (since 2020) the probability.
  Add(r, "RandomHorizontalFlip", kFully, {I32("keypoint_flip_permutation", 1).Repeated(), Flt("probability", 2, "0.5")});
  Add(r, "RandomVerticalFlip", kFully, {I32("keypoint_flip_permutation", 1).Repeated(), Flt("probability", 2, "0.5")});
  Add(r, "RandomRotation90", kFully, {I32("keypoint_rot_permutation", 1).Repeated(), Flt("probability", 2, "0.5")});
  Add(r, "RandomPixelValueScale", kFully, {Flt("minval", 1, "0.9"), Flt("maxval", 2, "1.1")});
  Add(r, "RandomImageScale", kFully, {Flt("min_scale_ratio", 1, "0.5"), Flt("max_scale_ratio", 2, "2.0")});
  Add(r, "RandomRGBtoGray", kFully, {Flt("probability", 1, "0.1")});
  // Colour.
  Add(r, "RandomAdjustBrightness", kFully, {Flt("max_delta", 1, "0.2")});
  Add(r, "RandomAdjustContrast", kFully, {Flt("min_delta", 1, "0.8"), Flt("max_delta", 2, "1.25")});
  Add(r, "RandomAdjustHue", kFully, {Flt("max_delta", 1, "0.02")});
  Add(r, "RandomAdjustSaturation", kFully, {Flt("min_delta", 1, "0.8"), Flt("max_delta", 2, "1.25")});
  Add(r, "RandomDistortColor", kFully, {I32("color_ordering", 1)});
  const EnumSchema* jitter = AddEnum(r, "RandomJitterBoxes.JitterMode",
                                     {{"DEFAULT", 0}, {"EXPAND", 1}, {"SHRINK", 2}, {"EXPAND_SYMMETRIC", 4},
                                      {"SHRINK_SYMMETRIC", 5}, {"EXPAND_SYMMETRIC_XY", 6}, {"SHRINK_SYMMETRIC_XY", 7}});
  Add(r, "RandomJitterBoxes", kFully, {Flt("ratio", 1, "0.05"), Enum("jitter_mode", 2, jitter, "DEFAULT")});
  // Crops and pads. clip_boxes has a different number in each message.
  Add(r, "RandomCropImage", kFully,
      {Flt("min_object_covered", 1, "1.0"), Flt("min_aspect_ratio", 2, "0.75"), Flt("max_aspect_ratio", 3, "1.33"),
       Flt("min_area", 4, "0.1"), Flt("max_area", 5, "1.0"), Flt("overlap_thresh", 6, "0.3"),
       Bool("clip_boxes", 8, "true"), Flt("random_coef", 7, "0.0")});
  Add(r, "RandomPadImage", kFully,
      {I32("min_image_height", 1), I32("min_image_width", 2), I32("max_image_height", 3), I32("max_image_width", 4),
       Flt("pad_color", 5).Repeated()});
  Add(r, "RandomAbsolutePadImage", kFully,
      {I32("max_height_padding", 1), I32("max_width_padding", 2), Flt("pad_color", 3).Repeated()});
  Add(r, "RandomCropPadImage", kFully,
      {Flt("min_object_covered", 1, "1.0"), Flt("min_aspect_ratio", 2, "0.75"), Flt("max_aspect_ratio", 3, "1.33"),
       Flt("min_area", 4, "0.1"), Flt("max_area", 5, "1.0"), Flt("overlap_thresh", 6, "0.3"),
       Bool("clip_boxes", 11, "true"), Flt("random_coef", 7, "0.0"), Flt("min_padded_size_ratio", 8).Repeated(),
       Flt("max_padded_size_ratio", 9).Repeated(), Flt("pad_color", 10).Repeated()});
  Add(r, "RandomCropToAspectRatio", kFully,
      {Flt("aspect_ratio", 1, "1.0"), Flt("overlap_thresh", 2, "0.3"), Bool("clip_boxes", 3, "true")});
  Add(r, "RandomBlackPatches", kFully,
      {I32("max_black_patches", 1, "10"), Flt("probability", 2, "0.5"), Flt("size_to_image_ratio", 3, "0.1")});
  Add(r, "RandomResizeMethod", kFully, {I32("target_height", 1), I32("target_width", 2)});
  Add(r, "RGBtoGray", kFully, {});
  Add(r, "ScaleBoxesToPixelCoordinates", kFully, {});
  // ResizeImage.Method has no value 0: AREA is 1.
  const EnumSchema* method =
      AddEnum(r, "ResizeImage.Method", {{"AREA", 1}, {"BICUBIC", 2}, {"BILINEAR", 3}, {"NEAREST_NEIGHBOR", 4}});
  Add(r, "ResizeImage", kFully, {I32("new_height", 1), I32("new_width", 2), Enum("method", 3, method, "BILINEAR")});
  Add(r, "SubtractChannelMean", kFully, {Flt("means", 1).Repeated()});
  AddSsdRandomCrops(r);
  Add(r, "ConvertClassLogitsToSoftmax", kFully, {Flt("temperature", 1, "1.0")});
  Add(r, "RandomSelfConcatImage", kFully,
      {Flt("concat_vertical_probability", 1, "0.1"), Flt("concat_horizontal_probability", 2, "0.1")});
  Add(r, "AutoAugmentImage", kFully, {Str("policy_name", 1, "v0")});
  Add(r, "DropLabelProbabilistically", kFully, {I32("label", 1), Flt("drop_probability", 2, "1.0")});
  Add(r, "RemapLabels", kFully, {I32("original_labels", 1).Repeated(), I32("new_label", 2)});
  Add(r, "RandomJpegQuality", kFully,
      {Flt("random_coef", 1, "0.0"), I32("min_jpeg_quality", 2, "0"), I32("max_jpeg_quality", 3, "100")});
  Add(r, "RandomDownscaleToTargetPixels", kFully,
      {Flt("random_coef", 1, "0.0"), I32("min_target_pixels", 2, "300000"), I32("max_target_pixels", 3, "500000")});
  Add(r, "RandomPatchGaussian", kFully,
      {Flt("random_coef", 1, "0.0"), I32("min_patch_size", 2, "1"), I32("max_patch_size", 3, "250"),
       Flt("min_gaussian_stddev", 4, "0.0"), Flt("max_gaussian_stddev", 5, "1.0")});
  Add(r, "RandomSquareCropByScale", kFully,
      {I32("max_border", 1, "128"), Flt("scale_min", 2, "0.6"), Flt("scale_max", 3, "1.3"), I32("num_scales", 4, "8")});
  Add(r, "RandomScaleCropAndPadToSquare", kFully,
      {I32("output_size", 1, "512"), Flt("scale_min", 2, "0.1"), Flt("scale_max", 3, "2.0")});
  Add(r, "AdjustGamma", kFully, {Flt("gamma", 1, "1.0"), Flt("gain", 2, "1.0")});
}

// The four SSD crop steps: a repeated list of operations, one of which is chosen per image.
// The operation fields have no proto defaults except clip_boxes (true).
inline void AddSsdRandomCrops(SchemaRegistry* r) {
  Add(r, "SSDRandomCrop", kFully, {Msg("operations", 1, "SSDRandomCropOperation").Repeated()});
  Add(r, "SSDRandomCropOperation", kFully,
      {Flt("min_object_covered", 1), Flt("min_aspect_ratio", 2), Flt("max_aspect_ratio", 3), Flt("min_area", 4),
       Flt("max_area", 5), Flt("overlap_thresh", 6), Bool("clip_boxes", 8, "true"), Flt("random_coef", 7)});
  Add(r, "SSDRandomCropPad", kFully, {Msg("operations", 1, "SSDRandomCropPadOperation").Repeated()});
  Add(r, "SSDRandomCropPadOperation", kFully,
      {Flt("min_object_covered", 1), Flt("min_aspect_ratio", 2), Flt("max_aspect_ratio", 3), Flt("min_area", 4),
       Flt("max_area", 5), Flt("overlap_thresh", 6), Bool("clip_boxes", 13, "true"), Flt("random_coef", 7),
       Flt("min_padded_size_ratio", 8).Repeated(), Flt("max_padded_size_ratio", 9).Repeated(), Flt("pad_color_r", 10),
       Flt("pad_color_g", 11), Flt("pad_color_b", 12)});
  Add(r, "SSDRandomCropFixedAspectRatio", kFully,
      {Msg("operations", 1, "SSDRandomCropFixedAspectRatioOperation").Repeated(), Flt("aspect_ratio", 2, "1.0")});
  // No aspect-ratio range here (fields 2 and 3 are unused): the step fixes the ratio.
  Add(r, "SSDRandomCropFixedAspectRatioOperation", kFully,
      {Flt("min_object_covered", 1), Flt("min_area", 4), Flt("max_area", 5), Flt("overlap_thresh", 6),
       Bool("clip_boxes", 8, "true"), Flt("random_coef", 7)});
  Add(r, "SSDRandomCropPadFixedAspectRatio", kFully,
      {Msg("operations", 1, "SSDRandomCropPadFixedAspectRatioOperation").Repeated(), Flt("aspect_ratio", 2, "1.0"),
       Flt("min_padded_size_ratio", 3).Repeated(), Flt("max_padded_size_ratio", 4).Repeated()});
  Add(r, "SSDRandomCropPadFixedAspectRatioOperation", kFully,
      {Flt("min_object_covered", 1), Flt("min_aspect_ratio", 2), Flt("max_aspect_ratio", 3), Flt("min_area", 4),
       Flt("max_area", 5), Flt("overlap_thresh", 6), Bool("clip_boxes", 8, "true"), Flt("random_coef", 7)});
}

inline void AddOptimizer(SchemaRegistry* r) {
  Add(r, "Optimizer", kFully,
      {Msg("rms_prop_optimizer", 1, "RMSPropOptimizer").Oneof("optimizer"),
       Msg("momentum_optimizer", 2, "MomentumOptimizer").Oneof("optimizer"),
       Msg("adam_optimizer", 3, "AdamOptimizer").Oneof("optimizer"),
       Bool("use_moving_average", 4, "true"), Flt("moving_average_decay", 5, "0.9999")});
  Add(r, "RMSPropOptimizer", kFully,
      {Msg("learning_rate", 1, "LearningRate"), Flt("momentum_optimizer_value", 2, "0.9"), Flt("decay", 3, "0.9"),
       Flt("epsilon", 4, "1.0")});
  Add(r, "MomentumOptimizer", kFully, {Msg("learning_rate", 1, "LearningRate"), Flt("momentum_optimizer_value", 2, "0.9")});
  Add(r, "AdamOptimizer", kFully, {Msg("learning_rate", 1, "LearningRate"), Flt("epsilon", 2, "1e-8")});
  Add(r, "LearningRate", kFully,
      {Msg("constant_learning_rate", 1, "ConstantLearningRate").Oneof("learning_rate"),
       Msg("exponential_decay_learning_rate", 2, "ExponentialDecayLearningRate").Oneof("learning_rate"),
       Msg("manual_step_learning_rate", 3, "ManualStepLearningRate").Oneof("learning_rate"),
       Msg("cosine_decay_learning_rate", 4, "CosineDecayLearningRate").Oneof("learning_rate")});
  Add(r, "ConstantLearningRate", kFully, {Flt("learning_rate", 1, "0.002")});
  Add(r, "ExponentialDecayLearningRate", kFully,
      {Flt("initial_learning_rate", 1, "0.002"), U32("decay_steps", 2, "4000000"), Flt("decay_factor", 3, "0.95"),
       Bool("staircase", 4, "true"), Flt("burnin_learning_rate", 5, "0.0"), U32("burnin_steps", 6, "0"),
       Flt("min_learning_rate", 7, "0.0")});
  Add(r, "ManualStepLearningRate", kFully,
      {Flt("initial_learning_rate", 1, "0.002"),
       Msg("schedule", 2, "ManualStepLearningRate.LearningRateSchedule").Repeated(), Bool("warmup", 3, "false")});
  Add(r, "ManualStepLearningRate.LearningRateSchedule", kFully, {U32("step", 1), Flt("learning_rate", 2, "0.002")});
  Add(r, "CosineDecayLearningRate", kFully,
      {Flt("learning_rate_base", 1, "0.002"), U32("total_steps", 2, "4000000"), Flt("warmup_learning_rate", 3, "0.0002"),
       U32("warmup_steps", 4, "10000"), U32("hold_base_rate_steps", 5, "0")});
}

inline void AddHyperparams(SchemaRegistry* r) {
  const EnumSchema* op = AddEnum(r, "Hyperparams.Op", {{"CONV", 1}, {"FC", 2}});
  const EnumSchema* act = AddEnum(r, "Hyperparams.Activation", {{"NONE", 0}, {"RELU", 1}, {"RELU_6", 2}, {"SWISH", 3}});
  Add(r, "Hyperparams", kFully,
      {Enum("op", 1, op, "CONV"), Msg("regularizer", 2, "Regularizer"), Msg("initializer", 3, "Initializer"),
       Enum("activation", 4, act, "RELU"), Msg("batch_norm", 5, "BatchNorm").Oneof("normalizer_oneof"),
       Msg("sync_batch_norm", 9, "BatchNorm").Oneof("normalizer_oneof"),
       Msg("group_norm", 7, "GroupNorm").Oneof("normalizer_oneof"), Bool("regularize_depthwise", 6, "false"),
       Bool("force_use_bias", 8, "false")});
  Add(r, "GroupNorm", kFully, {});
  Add(r, "Regularizer", kFully,
      {Msg("l1_regularizer", 1, "L1Regularizer").Oneof("regularizer_oneof"),
       Msg("l2_regularizer", 2, "L2Regularizer").Oneof("regularizer_oneof")});
  Add(r, "L1Regularizer", kFully, {Flt("weight", 1, "1.0")});
  Add(r, "L2Regularizer", kFully, {Flt("weight", 1, "1.0")});
  Add(r, "Initializer", kFully,
      {Msg("truncated_normal_initializer", 1, "TruncatedNormalInitializer").Oneof("initializer_oneof"),
       Msg("variance_scaling_initializer", 2, "VarianceScalingInitializer").Oneof("initializer_oneof"),
       Msg("random_normal_initializer", 3, "RandomNormalInitializer").Oneof("initializer_oneof"),
       Str("keras_initializer_by_name", 4).Oneof("initializer_oneof")});
  Add(r, "TruncatedNormalInitializer", kFully, {Flt("mean", 1, "0.0"), Flt("stddev", 2, "1.0")});
  const EnumSchema* mode =
      AddEnum(r, "VarianceScalingInitializer.Mode", {{"FAN_IN", 0}, {"FAN_OUT", 1}, {"FAN_AVG", 2}});
  Add(r, "VarianceScalingInitializer", kFully,
      {Flt("factor", 1, "2.0"), Bool("uniform", 2, "false"), Enum("mode", 3, mode, "FAN_IN")});
  Add(r, "RandomNormalInitializer", kFully, {Flt("mean", 1, "0.0"), Flt("stddev", 2, "1.0")});
  Add(r, "BatchNorm", kFully,
      {Flt("decay", 1, "0.999"), Bool("center", 2, "true"), Bool("scale", 3, "false"), Flt("epsilon", 4, "0.001"),
       Bool("train", 5, "true")});
}

inline void AddSsdHeads(SchemaRegistry* r);
inline void AddCalibration(SchemaRegistry* r);

inline void AddSsd(SchemaRegistry* r) {
  Add(r, "Ssd", kFully,
      {I32("num_classes", 1), Msg("image_resizer", 2, "ImageResizer"), Msg("feature_extractor", 3, "SsdFeatureExtractor"),
       Msg("box_coder", 4, "BoxCoder"), Msg("matcher", 5, "Matcher"),
       Msg("similarity_calculator", 6, "RegionSimilarityCalculator"), Bool("encode_background_as_zeros", 12, "false"),
       Flt("negative_class_weight", 13, "1.0"), Msg("box_predictor", 7, "BoxPredictor"),
       Msg("anchor_generator", 8, "AnchorGenerator"), Msg("post_processing", 9, "PostProcessing"),
       Bool("normalize_loss_by_num_matches", 10, "true"), Bool("normalize_loc_loss_by_codesize", 14, "false"),
       Msg("loss", 11, "Loss"), Bool("freeze_batchnorm", 16, "false"), Bool("inplace_batchnorm_update", 15, "false"),
       Bool("add_background_class", 21, "true"), Bool("explicit_background_class", 24, "false"),
       Bool("use_confidences_as_targets", 22, "false"), Flt("implicit_example_weight", 23, "1.0"),
       Bool("return_raw_detections_during_predict", 26, "false"), Msg("mask_head_config", 25, "Ssd.MaskHead")});
  Add(r, "Ssd.MaskHead", kFully,
      {I32("mask_height", 1, "15"), I32("mask_width", 2, "15"), Bool("masks_are_class_agnostic", 3, "true"),
       I32("mask_prediction_conv_depth", 4, "256"), I32("mask_prediction_num_conv_layers", 5, "2"),
       Bool("convolve_then_upsample_masks", 6, "false"), Flt("mask_loss_weight", 7, "5.0"),
       I32("mask_loss_sample_size", 8, "16"), Msg("conv_hyperparams", 9, "Hyperparams"),
       I32("initial_crop_size", 10, "15")});
  Add(r, "SsdFeatureExtractor", kFully,
      {Str("type", 1), Flt("depth_multiplier", 2, "1.0"), I32("min_depth", 3, "16"), Msg("conv_hyperparams", 4, "Hyperparams"),
       Bool("override_base_feature_extractor_hyperparams", 9, "false"), I32("pad_to_multiple", 5, "1"),
       Bool("use_explicit_padding", 7, "false"), Bool("use_depthwise", 8, "false"),
       Msg("fpn", 10, "FeaturePyramidNetworks").Oneof("feature_pyramid_oneof"),
       Msg("bifpn", 19, "BidirectionalFeaturePyramidNetworks").Oneof("feature_pyramid_oneof"),
       // Field 6 of the 2018 proto, reserved since; zoo pipeline.configs of 2018 still carry it.
       Bool("batch_norm_trainable", 6, "true").Deprecated(),
       Bool("replace_preprocessor_with_placeholder", 11, "false"), I32("num_layers", 12, "6"),
       Str("spaghettinet_arch_name", 20), Bool("use_hardswish", 21, "false")});
  // fpn.proto
  Add(r, "FeaturePyramidNetworks", kFully,
      {I32("min_level", 1, "3"), I32("max_level", 2, "7"), I32("additional_layer_depth", 3, "256")});
  Add(r, "BidirectionalFeaturePyramidNetworks", kFully,
      {I32("min_level", 1, "3"), I32("max_level", 2, "7"), I32("num_iterations", 3), I32("num_filters", 4),
       Str("combine_method", 5, "fast_attention"), Bool("use_native_resize_op", 6)});
  // image_resizer.proto
  const EnumSchema* resize_type =
      AddEnum(r, "ResizeType", {{"BILINEAR", 0}, {"NEAREST_NEIGHBOR", 1}, {"BICUBIC", 2}, {"AREA", 3}});
  const EnumSchema* resize_condition =
      AddEnum(r, "ConditionalShapeResizer.ResizeCondition", {{"INVALID", 0}, {"GREATER", 1}, {"SMALLER", 2}});
  Add(r, "ImageResizer", kFully,
      {Msg("keep_aspect_ratio_resizer", 1, "KeepAspectRatioResizer").Oneof("image_resizer_oneof"),
       Msg("fixed_shape_resizer", 2, "FixedShapeResizer").Oneof("image_resizer_oneof"),
       Msg("identity_resizer", 3, "IdentityResizer").Oneof("image_resizer_oneof"),
       Msg("conditional_shape_resizer", 4, "ConditionalShapeResizer").Oneof("image_resizer_oneof"),
       Msg("pad_to_multiple_resizer", 5, "PadToMultipleResizer").Oneof("image_resizer_oneof")});
  Add(r, "KeepAspectRatioResizer", kFully,
      {I32("min_dimension", 1, "600"), I32("max_dimension", 2, "1024"), Enum("resize_method", 3, resize_type, "BILINEAR"),
       Bool("pad_to_max_dimension", 4, "false"), Bool("convert_to_grayscale", 5, "false"),
       Flt("per_channel_pad_value", 6).Repeated()});
  Add(r, "FixedShapeResizer", kFully,
      {I32("height", 1, "300"), I32("width", 2, "300"), Enum("resize_method", 3, resize_type, "BILINEAR"),
       Bool("convert_to_grayscale", 4, "false")});
  Add(r, "IdentityResizer", kFully, {});
  Add(r, "ConditionalShapeResizer", kFully,
      {Enum("condition", 1, resize_condition, "GREATER"), I32("size_threshold", 2, "300"),
       Enum("resize_method", 3, resize_type, "BILINEAR"), Bool("convert_to_grayscale", 4, "false")});
  Add(r, "PadToMultipleResizer", kFully, {I32("multiple", 1, "1"), Bool("convert_to_grayscale", 4, "false")});
  // box_coder.proto and the four coders
  Add(r, "BoxCoder", kFully,
      {Msg("faster_rcnn_box_coder", 1, "FasterRcnnBoxCoder").Oneof("box_coder_oneof"),
       Msg("mean_stddev_box_coder", 2, "MeanStddevBoxCoder").Oneof("box_coder_oneof"),
       Msg("square_box_coder", 3, "SquareBoxCoder").Oneof("box_coder_oneof"),
       Msg("keypoint_box_coder", 4, "KeypointBoxCoder").Oneof("box_coder_oneof")});
  Add(r, "FasterRcnnBoxCoder", kFully,
      {Flt("y_scale", 1, "10.0"), Flt("x_scale", 2, "10.0"), Flt("height_scale", 3, "5.0"), Flt("width_scale", 4, "5.0")});
  Add(r, "MeanStddevBoxCoder", kFully, {Flt("stddev", 1, "0.01")});
  Add(r, "SquareBoxCoder", kFully, {Flt("y_scale", 1, "10.0"), Flt("x_scale", 2, "10.0"), Flt("length_scale", 3, "5.0")});
  Add(r, "KeypointBoxCoder", kFully,
      {I32("num_keypoints", 1), Flt("y_scale", 2, "10.0"), Flt("x_scale", 3, "10.0"), Flt("height_scale", 4, "5.0"),
       Flt("width_scale", 5, "5.0")});
  // matcher.proto, argmax_matcher.proto, bipartite_matcher.proto
  Add(r, "Matcher", kFully,
      {Msg("argmax_matcher", 1, "ArgMaxMatcher").Oneof("matcher_oneof"),
       Msg("bipartite_matcher", 2, "BipartiteMatcher").Oneof("matcher_oneof")});
  Add(r, "ArgMaxMatcher", kFully,
      {Flt("matched_threshold", 1, "0.5"), Flt("unmatched_threshold", 2, "0.5"), Bool("ignore_thresholds", 3, "false"),
       Bool("negatives_lower_than_unmatched", 4, "true"), Bool("force_match_for_each_row", 5, "false"),
       Bool("use_matmul_gather", 6, "false")});
  Add(r, "BipartiteMatcher", kFully, {Bool("use_matmul_gather", 6, "false")});
  // region_similarity_calculator.proto
  Add(r, "RegionSimilarityCalculator", kFully,
      {Msg("neg_sq_dist_similarity", 1, "NegSqDistSimilarity").Oneof("region_similarity"),
       Msg("iou_similarity", 2, "IouSimilarity").Oneof("region_similarity"),
       Msg("ioa_similarity", 3, "IoaSimilarity").Oneof("region_similarity"),
       Msg("thresholded_iou_similarity", 4, "ThresholdedIouSimilarity").Oneof("region_similarity")});
  Add(r, "NegSqDistSimilarity", kFully, {});
  Add(r, "IouSimilarity", kFully, {});
  Add(r, "IoaSimilarity", kFully, {});
  Add(r, "ThresholdedIouSimilarity", kFully, {Flt("iou_threshold", 1, "0.5")});
  AddSsdHeads(r);
}

inline void AddSsdHeads(SchemaRegistry* r) {
  // anchor_generator.proto and the four generators' files.
  Add(r, "AnchorGenerator", kFully,
      {Msg("grid_anchor_generator", 1, "GridAnchorGenerator").Oneof("anchor_generator_oneof"),
       Msg("ssd_anchor_generator", 2, "SsdAnchorGenerator").Oneof("anchor_generator_oneof"),
       Msg("multiscale_anchor_generator", 3, "MultiscaleAnchorGenerator").Oneof("anchor_generator_oneof"),
       Msg("flexible_grid_anchor_generator", 4, "FlexibleGridAnchorGenerator").Oneof("anchor_generator_oneof")});
  Add(r, "GridAnchorGenerator", kFully,
      {I32("height", 1, "256"), I32("width", 2, "256"), I32("height_stride", 3, "16"), I32("width_stride", 4, "16"),
       I32("height_offset", 5, "0"), I32("width_offset", 6, "0"), Flt("scales", 7).Repeated(),
       Flt("aspect_ratios", 8).Repeated()});
  Add(r, "MultiscaleAnchorGenerator", kFully,
      {I32("min_level", 1, "3"), I32("max_level", 2, "7"), Flt("anchor_scale", 3, "4.0"),
       Flt("aspect_ratios", 4).Repeated(), I32("scales_per_octave", 5, "2"), Bool("normalize_coordinates", 6, "true")});
  Add(r, "FlexibleGridAnchorGenerator", kFully,
      {Msg("anchor_grid", 1, "AnchorGrid").Repeated(), Bool("normalize_coordinates", 2, "true")});
  Add(r, "AnchorGrid", kFully,
      {Flt("base_sizes", 1).Repeated(), Flt("aspect_ratios", 2).Repeated(), U32("height_stride", 3),
       U32("width_stride", 4), U32("height_offset", 5, "0"), U32("width_offset", 6, "0")});
  Add(r, "SsdAnchorGenerator", kFully,
      {I32("num_layers", 1, "6"), Flt("min_scale", 2, "0.2"), Flt("max_scale", 3, "0.95"), Flt("scales", 12).Repeated(),
       Flt("aspect_ratios", 4).Repeated(), Flt("interpolated_scale_aspect_ratio", 13, "1.0"),
       Bool("reduce_boxes_in_lowest_layer", 5, "true"), Flt("base_anchor_height", 6, "1.0"),
       Flt("base_anchor_width", 7, "1.0"), I32("height_stride", 8).Repeated(), I32("width_stride", 9).Repeated(),
       I32("height_offset", 10).Repeated(), I32("width_offset", 11).Repeated()});
  // box_predictor.proto
  Add(r, "BoxPredictor", kFully,
      {Msg("convolutional_box_predictor", 1, "ConvolutionalBoxPredictor").Oneof("box_predictor_oneof"),
       Msg("mask_rcnn_box_predictor", 2, "MaskRCNNBoxPredictor").Oneof("box_predictor_oneof"),
       Msg("rfcn_box_predictor", 3, "RfcnBoxPredictor").Oneof("box_predictor_oneof"),
       Msg("weight_shared_convolutional_box_predictor", 4, "WeightSharedConvolutionalBoxPredictor")
           .Oneof("box_predictor_oneof")});
  Add(r, "ConvolutionalBoxPredictor", kFully,
      {Msg("conv_hyperparams", 1, "Hyperparams"), I32("min_depth", 2, "0"), I32("max_depth", 3, "0"),
       I32("num_layers_before_predictor", 4, "0"), Bool("use_dropout", 5, "true"),
       Flt("dropout_keep_probability", 6, "0.8"), I32("kernel_size", 7, "1"), I32("box_code_size", 8, "4"),
       Bool("apply_sigmoid_to_scores", 9, "false"), Flt("class_prediction_bias_init", 10, "0.0"),
       Bool("use_depthwise", 11, "false"),
       Msg("box_encodings_clip_range", 12, "ConvolutionalBoxPredictor.BoxEncodingsClipRange")});
  Add(r, "ConvolutionalBoxPredictor.BoxEncodingsClipRange", kFully, {Flt("min", 1), Flt("max", 2)});
  const EnumSchema* ws_conv =
      AddEnum(r, "WeightSharedConvolutionalBoxPredictor.ScoreConverter", {{"IDENTITY", 0}, {"SIGMOID", 1}});
  Add(r, "WeightSharedConvolutionalBoxPredictor", kFully,
      {Msg("conv_hyperparams", 1, "Hyperparams"), Bool("apply_conv_hyperparams_to_heads", 19, "false"),
       Bool("apply_conv_hyperparams_pointwise", 20, "false"), I32("num_layers_before_predictor", 4, "0"),
       I32("depth", 2, "0"), I32("kernel_size", 7, "3"), I32("box_code_size", 8, "4"),
       Flt("class_prediction_bias_init", 10, "0.0"), Bool("use_dropout", 11, "false"),
       Flt("dropout_keep_probability", 12, "0.8"), Bool("share_prediction_tower", 13, "false"),
       Bool("use_depthwise", 14, "false"), Enum("score_converter", 16, ws_conv, "IDENTITY"),
       Msg("box_encodings_clip_range", 17, "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange")});
  Add(r, "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange", kFully, {Flt("min", 1), Flt("max", 2)});
  Add(r, "MaskRCNNBoxPredictor", kFully,
      {Msg("fc_hyperparams", 1, "Hyperparams"), Bool("use_dropout", 2, "false"), Flt("dropout_keep_probability", 3, "0.5"),
       I32("box_code_size", 4, "4"), Msg("conv_hyperparams", 5, "Hyperparams"), Bool("predict_instance_masks", 6, "false"),
       I32("mask_prediction_conv_depth", 7, "256"), Bool("predict_keypoints", 8, "false"), I32("mask_height", 9, "15"),
       I32("mask_width", 10, "15"), I32("mask_prediction_num_conv_layers", 11, "2"),
       Bool("masks_are_class_agnostic", 12, "false"), Bool("share_box_across_classes", 13, "false"),
       Bool("convolve_then_upsample_masks", 14, "false")});
  Add(r, "RfcnBoxPredictor", kFully,
      {Msg("conv_hyperparams", 1, "Hyperparams"), I32("num_spatial_bins_height", 2, "3"),
       I32("num_spatial_bins_width", 3, "3"), I32("depth", 4, "1024"), I32("box_code_size", 5, "4"),
       I32("crop_height", 6, "12"), I32("crop_width", 7, "12")});
  // post_processing.proto
  const EnumSchema* conv = AddEnum(r, "PostProcessing.ScoreConverter", {{"IDENTITY", 0}, {"SIGMOID", 1}, {"SOFTMAX", 2}});
  Add(r, "PostProcessing", kFully,
      {Msg("batch_non_max_suppression", 1, "BatchNonMaxSuppression"), Enum("score_converter", 2, conv, "IDENTITY"),
       Flt("logit_scale", 3, "1.0"), Msg("calibration_config", 4, "CalibrationConfig")});
  AddCalibration(r);
  Add(r, "BatchNonMaxSuppression", kFully,
      {Flt("score_threshold", 1, "0.0"), Flt("iou_threshold", 2, "0.6"), I32("max_detections_per_class", 3, "100"),
       I32("max_total_detections", 5, "100"), Bool("use_static_shapes", 6, "false"),
       Bool("use_class_agnostic_nms", 7, "false"), I32("max_classes_per_detection", 8, "1"),
       Flt("soft_nms_sigma", 9, "0.0"), Bool("use_partitioned_nms", 10, "false"), Bool("use_combined_nms", 11, "false"),
       Bool("change_coordinate_frame", 12, "true"), Bool("use_hard_nms", 13, "false"), Bool("use_cpu_nms", 14, "false")});
  // losses.proto
  const EnumSchema* loss_type = AddEnum(r, "HardExampleMiner.LossType", {{"BOTH", 0}, {"CLASSIFICATION", 1}, {"LOCALIZATION", 2}});
  const EnumSchema* expected =
      AddEnum(r, "Loss.ExpectedLossWeights", {{"NONE", 0}, {"EXPECTED_SAMPLING", 1}, {"REWEIGHTING_UNMATCHED_ANCHORS", 2}});
  Add(r, "Loss", kFully,
      {Msg("localization_loss", 1, "LocalizationLoss"), Msg("classification_loss", 2, "ClassificationLoss"),
       Msg("hard_example_miner", 3, "HardExampleMiner"), Flt("classification_weight", 4, "1.0"),
       Flt("localization_weight", 5, "1.0"), Msg("random_example_sampler", 6, "RandomExampleSampler"),
       Msg("equalization_loss", 7, "Loss.EqualizationLoss"), Enum("expected_loss_weights", 18, expected, "NONE"),
       Flt("min_num_negative_samples", 19, "0.0"), Flt("desired_negative_sampling_ratio", 20, "3.0")});
  Add(r, "Loss.EqualizationLoss", kFully, {Flt("weight", 1, "0.0"), Str("exclude_prefixes", 2).Repeated()});
  Add(r, "RandomExampleSampler", kFully, {Flt("positive_sample_fraction", 1, "0.01")});
  Add(r, "LocalizationLoss", kFully,
      {Msg("weighted_l2", 1, "WeightedL2LocalizationLoss").Oneof("localization_loss"),
       Msg("weighted_smooth_l1", 2, "WeightedSmoothL1LocalizationLoss").Oneof("localization_loss"),
       Msg("weighted_iou", 3, "WeightedIOULocalizationLoss").Oneof("localization_loss"),
       Msg("l1_localization_loss", 4, "L1LocalizationLoss").Oneof("localization_loss"),
       Msg("weighted_giou", 5, "WeightedGIOULocalizationLoss").Oneof("localization_loss")});
  // `anchorwise_output` is marked "DEPRECATED, do not use" (a comment, not [deprecated = true]).
  Add(r, "WeightedL2LocalizationLoss", kFully, {Bool("anchorwise_output", 1, "false").Deprecated()});
  Add(r, "WeightedSmoothL1LocalizationLoss", kFully,
      {Bool("anchorwise_output", 1, "false").Deprecated(), Flt("delta", 2, "1.0")});
  Add(r, "WeightedIOULocalizationLoss", kFully, {});
  Add(r, "L1LocalizationLoss", kFully, {});
  Add(r, "WeightedGIOULocalizationLoss", kFully, {});
  Add(r, "ClassificationLoss", kFully,
      {Msg("weighted_sigmoid", 1, "WeightedSigmoidClassificationLoss").Oneof("classification_loss"),
       Msg("weighted_softmax", 2, "WeightedSoftmaxClassificationLoss").Oneof("classification_loss"),
       Msg("weighted_logits_softmax", 5, "WeightedSoftmaxClassificationAgainstLogitsLoss").Oneof("classification_loss"),
       Msg("bootstrapped_sigmoid", 3, "BootstrappedSigmoidClassificationLoss").Oneof("classification_loss"),
       Msg("weighted_sigmoid_focal", 4, "SigmoidFocalClassificationLoss").Oneof("classification_loss"),
       Msg("penalty_reduced_logistic_focal_loss", 6, "PenaltyReducedLogisticFocalLoss").Oneof("classification_loss"),
       Msg("weighted_dice_classification_loss", 7, "WeightedDiceClassificationLoss").Oneof("classification_loss")});
  Add(r, "WeightedSigmoidClassificationLoss", kFully, {Bool("anchorwise_output", 1, "false").Deprecated()});
  Add(r, "SigmoidFocalClassificationLoss", kFully,
      {Bool("anchorwise_output", 1, "false").Deprecated(), Flt("gamma", 2, "2.0"), Flt("alpha", 3)});
  Add(r, "WeightedSoftmaxClassificationLoss", kFully,
      {Bool("anchorwise_output", 1, "false").Deprecated(), Flt("logit_scale", 2, "1.0")});
  Add(r, "WeightedSoftmaxClassificationAgainstLogitsLoss", kFully,
      {Bool("anchorwise_output", 1, "false").Deprecated(), Flt("logit_scale", 2, "1.0")});
  Add(r, "BootstrappedSigmoidClassificationLoss", kFully,
      {Flt("alpha", 1), Bool("hard_bootstrap", 2, "false"), Bool("anchorwise_output", 3, "false").Deprecated()});
  Add(r, "PenaltyReducedLogisticFocalLoss", kFully, {Flt("alpha", 1), Flt("beta", 2)});
  Add(r, "WeightedDiceClassificationLoss", kFully,
      {Bool("squared_normalization", 1, "false"), Bool("is_prediction_probability", 2, "false")});
  Add(r, "HardExampleMiner", kFully,
      {I32("num_hard_examples", 1, "64"), Flt("iou_threshold", 2, "0.7"), Enum("loss_type", 3, loss_type, "BOTH"),
       I32("max_negatives_per_positive", 4, "0"), I32("min_negatives_per_image", 5, "0")});
}

// calibration.proto. The two `map<int32, ...>` fields are, in text format, repeated
// `{ key: ... value { ... } }` entries: modelled as protoc's synthesized *Entry messages.
inline void AddCalibration(SchemaRegistry* r) {
  Add(r, "CalibrationConfig", kFully,
      {Msg("function_approximation", 1, "FunctionApproximation").Oneof("calibrator"),
       Msg("class_id_function_approximations", 2, "ClassIdFunctionApproximations").Oneof("calibrator"),
       Msg("sigmoid_calibration", 3, "SigmoidCalibration").Oneof("calibrator"),
       Msg("class_id_sigmoid_calibrations", 4, "ClassIdSigmoidCalibrations").Oneof("calibrator"),
       Msg("temperature_scaling_calibration", 5, "TemperatureScalingCalibration").Oneof("calibrator")});
  Add(r, "FunctionApproximation", kFully, {Msg("x_y_pairs", 1, "XYPairs")});
  Add(r, "ClassIdFunctionApproximations", kFully,
      {Msg("class_id_xy_pairs_map", 1, "ClassIdFunctionApproximations.ClassIdXyPairsMapEntry").Repeated()});
  Add(r, "ClassIdFunctionApproximations.ClassIdXyPairsMapEntry", kFully, {I32("key", 1), Msg("value", 2, "XYPairs")});
  Add(r, "SigmoidCalibration", kFully, {Msg("sigmoid_parameters", 1, "SigmoidParameters")});
  Add(r, "ClassIdSigmoidCalibrations", kFully,
      {Msg("class_id_sigmoid_parameters_map", 1, "ClassIdSigmoidCalibrations.ClassIdSigmoidParametersMapEntry").Repeated()});
  Add(r, "ClassIdSigmoidCalibrations.ClassIdSigmoidParametersMapEntry", kFully,
      {I32("key", 1), Msg("value", 2, "SigmoidParameters")});
  Add(r, "TemperatureScalingCalibration", kFully, {Flt("scaler", 1)});
  const EnumSchema* data_type =
      AddEnum(r, "TrainingDataType", {{"DATA_TYPE_UNKNOWN", 0}, {"ALL_CLASSES", 1}, {"CLASS_SPECIFIC", 2}});
  Add(r, "XYPairs", kFully, {Msg("x_y_pair", 1, "XYPairs.XYPair").Repeated(), Enum("training_data_type", 2, data_type)});
  Add(r, "XYPairs.XYPair", kFully, {Flt("x", 1), Flt("y", 2)});
  Add(r, "SigmoidParameters", kFully, {Flt("a", 1, "-1.0"), Flt("b", 2, "0.0")});
}

// faster_rcnn.proto: fields 1, 3-43 (2 is not used); context_config (41) is Context R-CNN's.
inline void AddFasterRcnn(SchemaRegistry* r) {
  Add(r, "FasterRcnn", kFully,
      {I32("number_of_stages", 1, "2"), I32("num_classes", 3), Msg("image_resizer", 4, "ImageResizer"),
       Msg("feature_extractor", 5, "FasterRcnnFeatureExtractor"),
       // The first stage: the region proposal network.
       Msg("first_stage_anchor_generator", 6, "AnchorGenerator"), I32("first_stage_atrous_rate", 7, "1"),
       Msg("first_stage_box_predictor_conv_hyperparams", 8, "Hyperparams"),
       I32("first_stage_box_predictor_kernel_size", 9, "3"), I32("first_stage_box_predictor_depth", 10, "512"),
       I32("first_stage_minibatch_size", 11, "256"), Flt("first_stage_positive_balance_fraction", 12, "0.5"),
       Flt("first_stage_nms_score_threshold", 13, "0.0"), Flt("first_stage_nms_iou_threshold", 14, "0.7"),
       I32("first_stage_max_proposals", 15, "300"), Flt("first_stage_localization_loss_weight", 16, "1.0"),
       Flt("first_stage_objectness_loss_weight", 17, "1.0"),
       // Cropping the proposals, then the second stage: the box classifier.
       I32("initial_crop_size", 18), I32("maxpool_kernel_size", 19), I32("maxpool_stride", 20),
       Msg("second_stage_box_predictor", 21, "BoxPredictor"), I32("second_stage_batch_size", 22, "64"),
       Flt("second_stage_balance_fraction", 23, "0.25"), Msg("second_stage_post_processing", 24, "PostProcessing"),
       Flt("second_stage_localization_loss_weight", 25, "1.0"),
       Flt("second_stage_classification_loss_weight", 26, "1.0"),
       Flt("second_stage_mask_prediction_loss_weight", 27, "1.0"), Msg("hard_example_miner", 28, "HardExampleMiner"),
       Msg("second_stage_classification_loss", 29, "ClassificationLoss"),
       Bool("inplace_batchnorm_update", 30, "false"), Bool("use_matmul_crop_and_resize", 31, "false"),
       Bool("clip_anchors_to_image", 32, "false"), Bool("use_matmul_gather_in_matcher", 33, "false"),
       Bool("use_static_balanced_label_sampler", 34, "false"), Bool("use_static_shapes", 35, "false"),
       Bool("resize_masks", 36, "true"), Bool("use_static_shapes_for_eval", 37, "false"),
       Bool("use_partitioned_nms_in_first_stage", 38, "true"), Bool("return_raw_detections_during_predict", 39, "false"),
       Bool("use_combined_nms_in_first_stage", 40, "false"), Bool("output_final_box_features", 42, "false"),
       Bool("output_final_box_rpn_features", 43, "false"), Msg("context_config", 41, "Context")});
  Add(r, "FasterRcnnFeatureExtractor", kFully,
      {Str("type", 1), I32("first_stage_features_stride", 2, "16"), Bool("batch_norm_trainable", 3, "false"),
       Msg("conv_hyperparams", 4, "Hyperparams"), Bool("override_base_feature_extractor_hyperparams", 5, "false"),
       I32("pad_to_multiple", 6, "32"), Msg("fpn", 7, "FeaturePyramidNetworks")});
  const EnumSchema* position =
      AddEnum(r, "AttentionPosition", {{"ATTENTION_DEFAULT", 0}, {"POST_BOX_CLASSIFIER", 1}, {"POST_RPN", 2}});
  Add(r, "Context", kFully,
      {I32("max_num_context_features", 1, "2000"), I32("attention_bottleneck_dimension", 2, "2048"),
       Flt("attention_temperature", 3, "0.01"), I32("context_feature_length", 4, "2057"),
       Bool("use_self_attention", 6, "false"), Bool("use_long_term_attention", 7, "true"),
       Bool("self_attention_in_sequence", 8, "false"), I32("num_attention_heads", 9, "1"),
       I32("num_attention_layers", 11, "1"), Enum("attention_position", 10, position, "POST_BOX_CLASSIFIER")});
}

inline void AddInputAndEval(SchemaRegistry* r) {
  const EnumSchema* mask = AddEnum(r, "InstanceMaskType", {{"DEFAULT", 0}, {"NUMERICAL_MASKS", 1}, {"PNG_MASKS", 2}});
  const EnumSchema* input = AddEnum(r, "InputType", {{"INPUT_DEFAULT", 0}, {"TF_EXAMPLE", 1}, {"TF_SEQUENCE_EXAMPLE", 2}});
  Add(r, "InputReader", kFully,
      {Str("name", 23, ""), Str("label_map_path", 1, ""), Bool("shuffle", 2, "true"), U32("shuffle_buffer_size", 11, "2048"),
       U32("filenames_shuffle_buffer_size", 12, "100"), U32("num_epochs", 5, "0"), U32("sample_1_of_n_examples", 22, "1"),
       U32("num_readers", 6, "64"), U32("num_parallel_batches", 19, "8"), I32("num_prefetch_batches", 20, "2"),
       U32("queue_capacity", 3, "2000").Deprecated(), U32("min_after_dequeue", 4, "1000").Deprecated(),
       U32("read_block_length", 15, "32"), U32("prefetch_size", 13, "512").Deprecated(),
       U32("num_parallel_map_calls", 14, "64").Deprecated(), Bool("drop_remainder", 35, "true"),
       I32("num_additional_channels", 18, "0"),
       U32("num_keypoints", 16, "0"), Flt("keypoint_type_weight", 26).Repeated(), I32("max_number_of_boxes", 21, "100"),
       Bool("load_multiclass_scores", 24, "false"), Bool("load_context_features", 25, "false"),
       Bool("load_context_image_ids", 36, "false"), Bool("load_instance_masks", 7, "false"),
       Enum("mask_type", 10, mask, "NUMERICAL_MASKS"), Bool("load_dense_pose", 31, "false"),
       Bool("load_track_id", 33, "false"), Bool("load_keypoint_depth_features", 37, "false"),
       Bool("use_display_name", 17, "false"), Bool("include_source_id", 27, "false"),
       Enum("input_type", 30, input, "TF_EXAMPLE"), I32("frame_index", 32, "-1"),
       Bool("use_keypoint_label_map", 38, "false"),
       Msg("tf_record_input_reader", 8, "TFRecordInputReader").Oneof("input_reader"),
       Msg("external_input_reader", 9, "ExternalInputReader").Oneof("input_reader"),
       Flt("sample_from_datasets_weights", 34).Repeated(), Bool("expand_labels_hierarchy", 29, "false")});
  Add(r, "TFRecordInputReader", kFully, {Str("input_path", 1).Repeated()});
  {
    // `extensions 1 to 999;` and no fields: only "[ext.name]" entries.
    MessageSchema external;
    external.full_name = kPkg + "ExternalInputReader";
    external.allows_extensions = true;
    r->AddMessage(std::move(external));
  }
  // eval.proto: fields 1-19, 23-36 (20-22 are not used). The `map<string, ...>` fields are
  // repeated `{ key: ... value: ... }` entries (protoc's synthesized *Entry messages).
  Add(r, "EvalConfig", kFully,
      {U32("batch_size", 25, "1"), U32("num_visualizations", 1, "10"), U32("num_examples", 2, "5000").Deprecated(),
       U32("eval_interval_secs", 3, "300"), U32("max_evals", 4, "0").Deprecated(), Bool("save_graph", 5, "false"),
       Str("visualization_export_dir", 6, ""), Str("eval_master", 7, ""), Str("metrics_set", 8).Repeated(),
       Msg("parameterized_metric", 31, "ParameterizedMetric").Repeated(), Str("export_path", 9, ""),
       Bool("ignore_groundtruth", 10, "false"), Bool("use_moving_averages", 11, "false"),
       Bool("eval_instance_masks", 12, "false"), Flt("min_score_threshold", 13, "0.5"),
       I32("max_num_boxes_to_visualize", 14, "20"), Bool("skip_scores", 15, "false"), Bool("skip_labels", 16, "false"),
       Bool("visualize_groundtruth_boxes", 17, "false"), Str("groundtruth_box_visualization_color", 18, "black"),
       Bool("keep_image_id_for_visualization_export", 19, "false"), Bool("retain_original_images", 23, "true"),
       Bool("include_metrics_per_category", 24, "false"), Bool("all_metrics_per_category", 35, "false"),
       Msg("super_categories", 34, "EvalConfig.SuperCategoriesEntry").Repeated(),
       Flt("recall_lower_bound", 26, "0.0"), Flt("recall_upper_bound", 27, "1.0"),
       Bool("retain_original_image_additional_channels", 28, "false"), Bool("force_no_resize", 29, "false"),
       Bool("use_dummy_loss_in_eval", 30, "false"), Msg("keypoint_edge", 32, "KeypointEdge").Repeated(),
       Bool("skip_predictions_for_unlabeled_class", 33, "false"),
       Bool("image_classes_field_map_empty_to_ones", 36, "true")});
  Add(r, "EvalConfig.SuperCategoriesEntry", kFully, {Str("key", 1), Str("value", 2)});
  Add(r, "ParameterizedMetric", kFully,
      {Msg("coco_keypoint_metrics", 1, "CocoKeypointMetrics").Oneof("parameterized_metric")});
  Add(r, "CocoKeypointMetrics", kFully,
      {Str("class_label", 1),
       Msg("keypoint_label_to_sigmas", 2, "CocoKeypointMetrics.KeypointLabelToSigmasEntry").Repeated()});
  Add(r, "CocoKeypointMetrics.KeypointLabelToSigmasEntry", kFully, {Str("key", 1), Flt("value", 2)});
  Add(r, "KeypointEdge", kFully, {I32("start", 1), I32("end", 2)});
}

inline void AddLabelMap(SchemaRegistry* r) {
  const EnumSchema* freq = AddEnum(r, "LVISFrequency", {{"UNSPECIFIED", 0}, {"FREQUENT", 1}, {"COMMON", 2}, {"RARE", 3}});
  Add(r, "StringIntLabelMap", kFully, {Msg("item", 1, "StringIntLabelMapItem").Repeated()});
  Add(r, "StringIntLabelMapItem", kFully,
      {Str("name", 1), I32("id", 2), Str("display_name", 3),
       Msg("keypoints", 4, "StringIntLabelMapItem.KeypointMap").Repeated(), I32("ancestor_ids", 5).Repeated(),
       I32("descendant_ids", 6).Repeated(), Enum("frequency", 7, freq), I32("instance_count", 8)});
  Add(r, "StringIntLabelMapItem.KeypointMap", kFully, {I32("id", 1), Str("label", 2)});
}

}  // namespace detail

namespace detail {

class OdSchemaRegistry : public SchemaRegistry {
 public:
  OdSchemaRegistry() {
    AddPipeline(this);
    AddTrain(this);
    AddOptimizer(this);
    AddHyperparams(this);
    AddSsd(this);
    AddFasterRcnn(this);
    AddInputAndEval(this);
    AddLabelMap(this);
  }
};

}  // namespace detail

// The messages warmstart models (a constant table, built on first use). Root types:
// kPipelineConfigType, kLabelMapType.
inline const SchemaRegistry& OdSchema() {
  static const detail::OdSchemaRegistry registry;
  return registry;
}

inline constexpr std::string_view kPipelineConfigType = "object_detection.protos.TrainEvalPipelineConfig";
inline constexpr std::string_view kLabelMapType = "object_detection.protos.StringIntLabelMap";

}  // namespace warmstart::config
