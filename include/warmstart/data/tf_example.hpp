// tf.Example: the record type of TFRecord datasets (tensorflow/core/example/example.proto and
// feature.proto), decoded through proto/wire.hpp.
//
//   Example   { Features features = 1; }
//   Features  { map<string, Feature> feature = 1; }
//               each entry is a message { string key = 1; Feature value = 2; }
//   Feature   { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
//                            Int64List int64_list = 3; } }
//   BytesList { repeated bytes value = 1; }
//   FloatList { repeated float value = 1 [packed = true]; }   fixed32 IEEE-754 LE
//   Int64List { repeated int64 value = 1 [packed = true]; }   varint, two's complement
//
// Decoding follows protobuf's rules: a float or int64 list may be packed (wire type 2) or not
// (wire type 5 / 0), also mixed within one list; unknown fields are skipped; a oneof member
// that appears again merges (values append), a different member replaces it; the last entry
// of a repeated map key wins; an entry without a key has key "". A Feature with no member set
// is kind kNone, which TF's parser reads as an empty list of any type.
//
// Errors are FormatError with the file, the feature key (once known) and the absolute offset
// of the bad field, e.g. "x.record: key 'image/height': offset 812: Int64List: truncated varint ...".
//
// Encoding writes what TF's serializer writes with deterministic serialization: keys in
// bytewise order, every map entry with its key and value, packed float and int64 lists
// (unpacked on request, for tests).
//
// (data/example.hpp is another thing: the decoded image and boxes the input pipeline carries.)
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/wire.hpp"

namespace warmstart::data {

enum class FeatureKind { kNone, kBytes, kFloat, kInt64 };

inline const char* FeatureKindName(FeatureKind k) {
  switch (k) {
    case FeatureKind::kBytes: return "bytes_list";
    case FeatureKind::kFloat: return "float_list";
    case FeatureKind::kInt64: return "int64_list";
    case FeatureKind::kNone: break;
  }
  return "no list";
}

// One Feature: the list of its kind is filled, the other two are empty.
struct Feature {
  FeatureKind kind = FeatureKind::kNone;
  std::vector<std::string> bytes_list;
  std::vector<float> float_list;
  std::vector<int64_t> int64_list;

  static Feature Bytes(std::vector<std::string> v) {
    Feature f;
    f.kind = FeatureKind::kBytes;
    f.bytes_list = std::move(v);
    return f;
  }
  static Feature Floats(std::vector<float> v) {
    Feature f;
    f.kind = FeatureKind::kFloat;
    f.float_list = std::move(v);
    return f;
  }
  static Feature Int64s(std::vector<int64_t> v) {
    Feature f;
    f.kind = FeatureKind::kInt64;
    f.int64_list = std::move(v);
    return f;
  }

  size_t size() const {
    switch (kind) {
      case FeatureKind::kBytes: return bytes_list.size();
      case FeatureKind::kFloat: return float_list.size();
      case FeatureKind::kInt64: return int64_list.size();
      case FeatureKind::kNone: break;
    }
    return 0;
  }
};

inline bool operator==(const Feature& a, const Feature& b) {
  return a.kind == b.kind && a.bytes_list == b.bytes_list && a.float_list == b.float_list &&
         a.int64_list == b.int64_list;
}

struct Example {
  std::map<std::string, Feature> features;

  // nullptr when the key is absent.
  const Feature* Find(const std::string& key) const {
    const auto it = features.find(key);
    return it == features.end() ? nullptr : &it->second;
  }
};

inline bool operator==(const Example& a, const Example& b) { return a.features == b.features; }

// ---- Decoding ----

namespace detail {

inline float FloatFromBits(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// Starts (or continues) the oneof member `kind` of *f.
inline void SwitchKind(Feature* f, FeatureKind kind) {
  if (f->kind == kind) return;
  *f = Feature();
  f->kind = kind;
}

inline void ParseBytesList(const proto::MessageReader& outer, const proto::Field& field, Feature* f) {
  SwitchKind(f, FeatureKind::kBytes);
  proto::MessageReader r(outer.Bytes(field), outer.context(), outer.PayloadOffset(field), "BytesList");
  proto::Field v;
  while (r.Next(&v)) {
    if (v.number == 1) f->bytes_list.push_back(r.String(v));
  }
}

inline void ParseFloatList(const proto::MessageReader& outer, const proto::Field& field, Feature* f) {
  SwitchKind(f, FeatureKind::kFloat);
  proto::MessageReader r(outer.Bytes(field), outer.context(), outer.PayloadOffset(field), "FloatList");
  proto::Field v;
  while (r.Next(&v)) {
    if (v.number != 1) continue;
    if (v.wire_type == proto::kFixed32) {
      f->float_list.push_back(FloatFromBits(r.Fixed32(v)));
    } else if (v.wire_type == proto::kLengthDelimited) {
      if (v.bytes.size() % 4 != 0) {
        r.Fail(v, "packed float values take " + std::to_string(v.bytes.size()) + " bytes, not a multiple of 4");
      }
      for (size_t i = 0; i < v.bytes.size(); i += 4) {
        f->float_list.push_back(FloatFromBits(core::DecodeFixed32(v.bytes.data() + i)));
      }
    } else {
      r.Fail(v, "value has wire type " + std::to_string(v.wire_type) + ", expected 5 (float) or 2 (packed)");
    }
  }
}

inline void ParseInt64List(const proto::MessageReader& outer, const proto::Field& field, Feature* f) {
  SwitchKind(f, FeatureKind::kInt64);
  proto::MessageReader r(outer.Bytes(field), outer.context(), outer.PayloadOffset(field), "Int64List");
  proto::Field v;
  while (r.Next(&v)) {
    if (v.number != 1) continue;
    if (v.wire_type != proto::kVarint && v.wire_type != proto::kLengthDelimited) {
      r.Fail(v, "value has wire type " + std::to_string(v.wire_type) + ", expected 0 (varint) or 2 (packed)");
    }
    proto::ForEachVarint(r, v, [&](uint64_t x) { f->int64_list.push_back(static_cast<int64_t>(x)); });
  }
}

// Requires: ctx names the file and the feature key, and outlives the call.
inline Feature ParseFeature(core::ByteView bytes, const ErrorContext& ctx, uint64_t base_offset) {
  Feature f;
  proto::MessageReader r(bytes, ctx, base_offset, "Feature");
  proto::Field field;
  while (r.Next(&field)) {
    switch (field.number) {
      case 1: ParseBytesList(r, field, &f); break;
      case 2: ParseFloatList(r, field, &f); break;
      case 3: ParseInt64List(r, field, &f); break;
      default: break;  // unknown field
    }
  }
  return f;
}

// One map entry { key = 1; value = 2; }: the key is read first wherever it sits, so errors in
// the value name it.
inline void ParseFeatureEntry(const proto::MessageReader& features, const proto::Field& entry, Example* out) {
  proto::MessageReader r(features.Bytes(entry), features.context(), features.PayloadOffset(entry),
                         "Features.feature entry");
  proto::Field field;
  std::string key;
  core::ByteView value;
  uint64_t value_offset = 0;
  bool has_value = false;
  while (r.Next(&field)) {
    if (field.number == 1) key = r.String(field);
    if (field.number == 2) {
      value = r.Bytes(field);
      value_offset = r.PayloadOffset(field);
      has_value = true;
    }
  }
  const ErrorContext keyed = features.context().WithKey(key);
  out->features[key] = has_value ? ParseFeature(value, keyed, value_offset) : Feature();
}

}  // namespace detail

// Parses one serialized tf.Example. `ctx` names the file; base_offset is the absolute offset of
// bytes[0] in it (a record's data starts 12 bytes after the record, data/tfrecord.hpp).
inline Example ParseExample(core::ByteView bytes, const ErrorContext& ctx, uint64_t base_offset = 0) {
  Example out;
  proto::MessageReader example(bytes, ctx, base_offset, "Example");
  proto::Field field;
  while (example.Next(&field)) {
    if (field.number != 1) continue;
    proto::MessageReader features(example.Bytes(field), ctx, example.PayloadOffset(field), "Features");
    proto::Field entry;
    while (features.Next(&entry)) {
      if (entry.number == 1) detail::ParseFeatureEntry(features, entry, &out);
    }
  }
  return out;
}

inline Example ParseExample(const std::string& bytes, const ErrorContext& ctx, uint64_t base_offset = 0) {
  return ParseExample(core::ByteView(bytes.data(), bytes.size()), ctx, base_offset);
}

// ---- Encoding ----

struct ExampleEncodeOptions {
  bool packed = true;  // false: one field per float / int64 value (valid protobuf, for tests)
};

namespace detail {

inline uint32_t FloatBits(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return bits;
}

inline std::string EncodeFloatList(const std::vector<float>& values, bool packed) {
  std::string list;
  if (!packed) {
    for (float v : values) proto::PutFixed32Field(&list, 1, FloatBits(v));
    return list;
  }
  if (values.empty()) return list;
  std::string payload;
  for (float v : values) core::PutFixed32(&payload, FloatBits(v));
  proto::PutBytesField(&list, 1, payload);
  return list;
}

inline std::string EncodeInt64List(const std::vector<int64_t>& values, bool packed) {
  std::string list;
  if (!packed) {
    for (int64_t v : values) proto::PutInt64Field(&list, 1, v);
    return list;
  }
  if (values.empty()) return list;
  std::string payload;
  for (int64_t v : values) core::PutVarint64(&payload, static_cast<uint64_t>(v));
  proto::PutBytesField(&list, 1, payload);
  return list;
}

inline std::string EncodeFeature(const Feature& f, const ExampleEncodeOptions& options) {
  std::string out;
  std::string list;
  switch (f.kind) {
    case FeatureKind::kBytes:
      for (const std::string& v : f.bytes_list) proto::PutBytesField(&list, 1, v);
      proto::PutBytesField(&out, 1, list);
      break;
    case FeatureKind::kFloat: proto::PutBytesField(&out, 2, EncodeFloatList(f.float_list, options.packed)); break;
    case FeatureKind::kInt64: proto::PutBytesField(&out, 3, EncodeInt64List(f.int64_list, options.packed)); break;
    case FeatureKind::kNone: break;
  }
  return out;
}

}  // namespace detail

inline std::string EncodeExample(const Example& example, const ExampleEncodeOptions& options = {}) {
  std::string features;
  for (const auto& [key, feature] : example.features) {
    std::string entry;
    proto::PutBytesField(&entry, 1, key);
    proto::PutBytesField(&entry, 2, detail::EncodeFeature(feature, options));
    proto::PutBytesField(&features, 1, entry);
  }
  std::string out;
  proto::PutBytesField(&out, 1, features);
  return out;
}

}  // namespace warmstart::data
