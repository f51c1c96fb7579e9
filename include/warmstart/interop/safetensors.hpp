// Hugging Face safetensors (the Rust crate `safetensors`, safetensors/src/tensor.rs).
//
//   offset   size  field
//   0        8     N: header size, u64 little-endian (at most 100,000,000)
//   8        N     header: UTF-8 JSON object starting with '{', padded with spaces to a
//                  multiple of 8 by the writer:
//                    {"__metadata__":{"k":"v"},                       (optional, string -> string)
//                     "name":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}, ...}
//   8 + N    ...   the byte buffer; data_offsets are relative to its start, little-endian,
//                  row-major elements
//
// Validation follows the crate's read_metadata + Metadata::validate: tensors sorted by
// data_offsets must tile the buffer from 0 with no gap or overlap and end exactly at its
// end; each [begin, end) holds numel x dtype size bytes (with overflow checks). We are
// stricter where the crate is vague: duplicate keys and non-integer shapes are errors.
//
// The writer orders tensors as the crate's `prepare` does: dtype descending in the crate's
// enum order (which is alignment order), then name; offsets follow that order; the header
// is serde_json's compact form (__metadata__ first when present), padded with spaces.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "warmstart/interop/tensor_source.hpp"

namespace warmstart::interop {

inline constexpr uint64_t kSafetensorsMaxHeaderSize = 100000000;

// ---- dtypes ----

namespace detail {
struct SafetensorsDtypeInfo {
  const char* name;
  int order;  // position in the crate's `Dtype` enum (alignment order)
  bundle::DataType dtype;  // kInvalid: defined by safetensors, no TensorFlow equivalent here
};
inline const std::vector<SafetensorsDtypeInfo>& SafetensorsDtypes() {
  using D = bundle::DataType;
  static const std::vector<SafetensorsDtypeInfo> kTable = {
      {"BOOL", 0, D::kBool},         {"F4", 1, D::kInvalid},        {"F6_E2M3", 2, D::kInvalid},
      {"F6_E3M2", 3, D::kInvalid},   {"U8", 4, D::kUint8},          {"I8", 5, D::kInt8},
      {"F8_E5M2", 6, D::kFloat8E5m2}, {"F8_E4M3", 7, D::kFloat8E4m3fn}, {"F8_E8M0", 8, D::kInvalid},
      {"I16", 9, D::kInt16},         {"U16", 10, D::kUint16},       {"F16", 11, D::kHalf},
      {"BF16", 12, D::kBfloat16},    {"I32", 13, D::kInt32},        {"U32", 14, D::kUint32},
      {"F32", 15, D::kFloat},        {"C64", 16, D::kComplex64},    {"F64", 17, D::kDouble},
      {"I64", 18, D::kInt64},        {"U64", 19, D::kUint64},
  };
  return kTable;
}
inline const SafetensorsDtypeInfo* FindSafetensorsDtype(bundle::DataType t) {
  for (const auto& d : SafetensorsDtypes()) {
    if (d.dtype == t && t != bundle::DataType::kInvalid) return &d;
  }
  return nullptr;
}
}  // namespace detail

// The safetensors name of a dtype ("F32"), nullopt when safetensors has none (string,
// complex128, quantized, float8 other than e5m2/e4m3fn, int4/int2, float4, variant, resource).
inline std::optional<std::string> SafetensorsDtype(bundle::DataType t) {
  const auto* d = detail::FindSafetensorsDtype(t);
  return d ? std::optional<std::string>(d->name) : std::nullopt;
}

// ---- Reading ----

struct SafetensorsTensor {
  std::string name;
  std::string safetensors_dtype;  // "F32"
  bundle::DataType dtype = bundle::DataType::kInvalid;
  bundle::TensorShape shape;
  uint64_t begin = 0, end = 0;  // data_offsets, relative to the byte buffer
  core::ByteView data;          // the bytes, inside the file
};

namespace detail {

// A SAX pass over the header: finds duplicate keys (at any depth) and reports syntax errors
// with their byte position.
class DuplicateKeyCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) {
      duplicate = k;
      return false;
    }
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    error_position = position;
    error = ex.what();
    return false;
  }

  std::optional<std::string> duplicate;
  std::optional<size_t> error_position;
  std::string error;

 private:
  std::vector<std::set<std::string>> keys_;
};

inline uint64_t KeyOffset(std::string_view header, const std::string& key) {
  const size_t at = header.find(nlohmann::json(key).dump());
  return 8 + (at == std::string_view::npos ? 0 : at);
}

inline uint64_t RequireUnsigned(const nlohmann::json& v, const std::string& what, const ErrorContext& at) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    throw FormatError(at, what + " must be a non-negative integer, found " + v.dump());
  }
  return v.get<uint64_t>();
}

inline SafetensorsTensor ParseTensorInfo(const std::string& name, const nlohmann::json& info, const ErrorContext& at) {
  SafetensorsTensor t;
  t.name = name;
  if (!info.is_object()) throw FormatError(at, "tensor info must be an object, found " + std::string(info.type_name()));
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(field)) throw FormatError(at, std::string("tensor info lacks \"") + field + "\"");
  }
  if (!info["dtype"].is_string()) throw FormatError(at, "\"dtype\" must be a string");
  t.safetensors_dtype = info["dtype"].get<std::string>();
  const SafetensorsDtypeInfo* d = nullptr;
  for (const auto& x : SafetensorsDtypes()) {
    if (t.safetensors_dtype == x.name) d = &x;
  }
  if (d == nullptr) throw FormatError(at, "unknown dtype \"" + t.safetensors_dtype + "\"");
  if (d->dtype == bundle::DataType::kInvalid) {
    throw FormatError(at, "dtype " + t.safetensors_dtype + " has no TensorFlow equivalent (sub-byte or E8M0 floats)");
  }
  t.dtype = d->dtype;
  const nlohmann::json& shape = info["shape"];
  if (!shape.is_array()) throw FormatError(at, "\"shape\" must be an array");
  std::vector<int64_t> dims;
  for (const nlohmann::json& v : shape) {
    const uint64_t dim = RequireUnsigned(v, "shape dimension", at);
    if (dim > static_cast<uint64_t>(INT64_MAX)) throw FormatError(at, "shape dimension " + std::to_string(dim) + " does not fit in int64");
    dims.push_back(static_cast<int64_t>(dim));
  }
  t.shape = bundle::TensorShape(std::move(dims));
  const nlohmann::json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) throw FormatError(at, "\"data_offsets\" must be an array of two integers");
  t.begin = RequireUnsigned(offsets[0], "data_offsets[0]", at);
  t.end = RequireUnsigned(offsets[1], "data_offsets[1]", at);
  return t;
}

inline std::map<std::string, std::string> ParseMetadata(const nlohmann::json& m, const ErrorContext& at) {
  if (!m.is_object()) throw FormatError(at, "__metadata__ must be an object of strings");
  std::map<std::string, std::string> out;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!it.value().is_string()) throw FormatError(at, "__metadata__ value of \"" + it.key() + "\" must be a string");
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

}  // namespace detail

// A safetensors file, validated at open; tensors in data_offsets order.
class SafetensorsFile {
 public:
  static SafetensorsFile Open(const std::string& path) {
    SafetensorsFile f;
    f.file_.emplace(core::MappedFile::Open(path));
    f.Parse(f.file_->bytes(), path);
    return f;
  }
  // Requires: `bytes` outlives the object.
  static SafetensorsFile FromBytes(core::ByteView bytes, const std::string& name) {
    SafetensorsFile f;
    f.Parse(bytes, name);
    return f;
  }

  const std::string& path() const { return path_; }
  uint64_t header_size() const { return header_size_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;

  void Parse(core::ByteView bytes, const std::string& name) {
    path_ = name;
    const ErrorContext ctx(path_);
    core::Cursor c(bytes, ctx);
    header_size_ = c.ReadFixed64("safetensors header size");
    if (header_size_ > kSafetensorsMaxHeaderSize) {
      throw FormatError(ctx.WithOffset(0), "header size " + std::to_string(header_size_) + " exceeds the limit of " +
                                               std::to_string(kSafetensorsMaxHeaderSize) + " bytes");
    }
    if (header_size_ > c.remaining()) {
      throw FormatError(ctx.WithOffset(0), "header of " + std::to_string(header_size_) + " bytes runs past the end of the " +
                                               std::to_string(bytes.size()) + "-byte file");
    }
    const std::string_view header = c.ReadBytes(header_size_, "safetensors header").AsStringView();
    const nlohmann::json root = ParseHeaderJson(header, ctx);
    const core::ByteView buffer = bytes.Sub(8 + static_cast<size_t>(header_size_), c.remaining());
    for (auto it = root.begin(); it != root.end(); ++it) {
      const ErrorContext at = ctx.WithKey(it.key()).WithOffset(detail::KeyOffset(header, it.key()));
      if (it.key() == "__metadata__") {
        metadata_ = detail::ParseMetadata(it.value(), at);
      } else {
        tensors_.push_back(detail::ParseTensorInfo(it.key(), it.value(), at));
      }
    }
    ValidateOffsets(buffer, ctx);
  }

  static nlohmann::json ParseHeaderJson(std::string_view header, const ErrorContext& ctx) {
    if (!detail::IsUtf8(header)) throw FormatError(ctx.WithOffset(8), "header is not valid UTF-8");
    if (header.empty() || header[0] != '{') throw FormatError(ctx.WithOffset(8), "header does not start with '{'");
    detail::DuplicateKeyCheck check;
    nlohmann::json::sax_parse(header.begin(), header.end(), &check);
    if (check.duplicate) {
      throw FormatError(ctx.WithKey(*check.duplicate).WithOffset(detail::KeyOffset(header, *check.duplicate)),
                        "key appears more than once in the header");
    }
    if (check.error_position) {
      const uint64_t pos = *check.error_position > 0 ? *check.error_position - 1 : 0;
      throw FormatError(ctx.WithOffset(8 + pos), "header is not valid JSON: " + check.error);
    }
    nlohmann::json root = nlohmann::json::parse(header.begin(), header.end());
    if (!root.is_object()) throw FormatError(ctx.WithOffset(8), "header is not a JSON object");
    return root;
  }

  // Metadata::validate: sorted by offsets, tensors tile [0, buffer size) exactly.
  void ValidateOffsets(core::ByteView buffer, const ErrorContext& ctx) {
    std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
      return std::make_pair(a.begin, a.end) < std::make_pair(b.begin, b.end);
    });
    const uint64_t base = 8 + header_size_;
    uint64_t next = 0;
    for (SafetensorsTensor& t : tensors_) {
      const ErrorContext at = ctx.WithKey(t.name).WithOffset(base + t.begin);
      if (t.begin != next || t.end < t.begin) {
        throw FormatError(at, "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                                  "] do not start where the previous tensor ends (" + std::to_string(next) +
                                  "): gap, overlap or reversed offsets");
      }
      uint64_t numel = 1, nbytes = 0;
      for (int64_t d : t.shape.dims()) {
        if (!detail::MultiplyChecked(numel, static_cast<uint64_t>(d), &numel)) throw FormatError(at, "shape overflows");
      }
      if (!detail::MultiplyChecked(numel, static_cast<uint64_t>(bundle::DataTypeSize(t.dtype)), &nbytes)) {
        throw FormatError(at, "shape x dtype size overflows");
      }
      if (t.end - t.begin != nbytes) {
        throw FormatError(at, t.safetensors_dtype + " " + t.shape.DebugString() + " needs " + std::to_string(nbytes) +
                                  " bytes, data_offsets give " + std::to_string(t.end - t.begin));
      }
      if (t.end > buffer.size()) {
        throw FormatError(at, "data runs past the end of the file (" + std::to_string(buffer.size()) +
                                  "-byte buffer after the header)");
      }
      t.data = buffer.Sub(static_cast<size_t>(t.begin), static_cast<size_t>(nbytes));
      next = t.end;
    }
    if (next != buffer.size()) {
      throw FormatError(ctx.WithOffset(base + next), "the tensors cover " + std::to_string(next) + " bytes of the " +
                                                         std::to_string(buffer.size()) +
                                                         "-byte buffer: the last data_offsets must end the file");
    }
  }

  std::optional<core::MappedFile> file_;
  std::string path_;
  uint64_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// ---- Writing ----

// The order the crate writes tensors in: dtype descending (crate enum order), then name.
// Requires: every dtype has a safetensors name.
inline std::vector<size_t> SafetensorsOrder(const std::vector<TensorSpec>& tensors) {
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto rank = [&](size_t i) { return detail::FindSafetensorsDtype(tensors[i].dtype)->order; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (rank(a) != rank(b)) return rank(a) > rank(b);
    return tensors[a].name < tensors[b].name;
  });
  return order;
}

// The 8-byte size and the padded JSON header for `tensors` written in `order`.
// Throws ArgumentError for dtypes without a safetensors name and names that are not UTF-8.
inline std::string EncodeSafetensorsHeader(const std::vector<TensorSpec>& tensors, const std::vector<size_t>& order,
                                           const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) root["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const TensorSpec& t = tensors[i];
    const auto dtype = SafetensorsDtype(t.dtype);
    if (!dtype) throw ArgumentError(ErrorContext().WithKey(t.name), bundle::DataTypeName(t.dtype) + " has no safetensors dtype");
    if (!detail::IsUtf8(t.name)) throw ArgumentError(ErrorContext().WithKey(t.name), "name is not valid UTF-8, which safetensors requires");
    if (t.name == "__metadata__" || root.contains(t.name)) {
      throw ArgumentError(ErrorContext().WithKey(t.name), "name is reserved or used twice");
    }
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = *dtype;
    info["shape"] = t.shape.dims();
    info["data_offsets"] = {offset, offset + t.num_bytes()};
    offset += t.num_bytes();
    root[t.name] = std::move(info);
  }
  std::string json = root.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  core::PutFixed64(&out, json.size());
  return out + json;
}

// Writes a safetensors file laid out as the crate's serialize_to_file does.
inline void WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& tensors, const FetchBytes& fetch,
                             const std::map<std::string, std::string>& metadata = {}) {
  for (const TensorSpec& t : tensors) {
    if (!SafetensorsDtype(t.dtype)) {
      throw ArgumentError(ErrorContext(path).WithKey(t.name), bundle::DataTypeName(t.dtype) + " has no safetensors dtype");
    }
  }
  const std::vector<size_t> order = SafetensorsOrder(tensors);
  const std::string header = EncodeSafetensorsHeader(tensors, order, metadata);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw IoError(ErrorContext(path), "cannot create file");
  const auto fail = [&](const std::string& what) {
    std::fclose(f);
    std::remove(path.c_str());
    throw IoError(ErrorContext(path), what);
  };
  if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) fail("cannot write the header");
  std::vector<uint8_t> scratch;
  for (size_t i : order) {
    core::ByteView data;
    try {
      data = fetch(i, &scratch);
    } catch (...) {
      std::fclose(f);
      std::remove(path.c_str());
      throw;
    }
    if (data.size() != tensors[i].num_bytes()) {
      std::fclose(f);
      std::remove(path.c_str());
      throw ArgumentError(ErrorContext(path).WithKey(tensors[i].name), "expected " + std::to_string(tensors[i].num_bytes()) +
                                                                          " bytes, got " + std::to_string(data.size()));
    }
    if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) fail("cannot write tensor data");
  }
  if (std::fclose(f) != 0) {
    std::remove(path.c_str());
    throw IoError(ErrorContext(path), "cannot close file");
  }
}

}  // namespace warmstart::interop
