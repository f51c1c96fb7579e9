// Test fixtures: checkpoint bytes built in memory.
//
//   BundleBuilder   a V2 bundle (PREFIX.index + PREFIX.data-SSSSS-of-NNNNN) written with the
//                   library's own sstable::TableBuilder and proto::Encode* functions, in the
//                   layout of spec sections 4 and 6 (independent of bundle/writer.hpp, so each checks the other):
//                     data file  payloads in Add order, each followed by zero padding up to
//                                a multiple of data_alignment; offset/size/crc exclude padding
//                     index      "" -> BundleHeaderProto, then every key in bytewise order
//                   with options for several shards, big-endian payloads, alignment, header
//                   overrides, and hooks that corrupt entries before they are encoded.
//   V1Builder       a single-file V1 checkpoint (spec 11): "" -> SavedTensorSlices{meta},
//                   slice key -> SavedTensorSlices{data: SavedSlice{name, slice, TensorProto}}.
//   AssembleTable   a table from hand-made blocks (any type byte, any CRC), for the
//                   sstable error tests that TableBuilder refuses to produce.
//   Says            a Catch matcher: the exception's what() contains a text.
//   RawBytes, Hex   element bytes of a std::vector<T>; "00 c0 f2" -> bytes.
//
// The string payload encoder and the byte swapper here are written independently of
// bundle/tensor_data.hpp so that the reader is tested against a second implementation.
#pragma once

#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/ordered_code.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/proto/saved_slices.hpp"
#include "warmstart/sstable/format.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace warmstart::test {

// ---- matchers ---------------------------------------------------------------------------

// CHECK_THROWS_MATCHES(expr, FormatError, Says("offset 18: bad block type 2")): the
// exception's what() contains the text.
class MessageContains : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageContains(std::string text) : text_(std::move(text)) {}
  bool match(const std::exception& e) const override { return std::string(e.what()).find(text_) != std::string::npos; }
  std::string describe() const override { return "message contains \"" + text_ + "\""; }

 private:
  std::string text_;
};

inline MessageContains Says(std::string text) { return MessageContains(std::move(text)); }

// File name -> file bytes.
using Files = std::map<std::string, std::string>;

// ---- raw bytes -------------------------------------------------------------------------

// The elements' bytes in host order (little-endian on every platform we test on).
template <class T>
std::string RawBytes(const std::vector<T>& values) {
  static_assert(std::is_trivially_copyable_v<T>, "RawBytes needs plain element types");
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// bool: one byte 0x00 / 0x01 per element (std::vector<bool> is packed).
inline std::string RawBytes(const std::vector<bool>& values) {
  std::string out;
  for (bool b : values) out.push_back(b ? '\x01' : '\x00');
  return out;
}

// "00 c0 f2" (spaces optional) -> bytes.
inline std::string Hex(std::string_view text) {
  std::string out;
  int high = -1;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == '|' || c == '\n') continue;
    else throw std::invalid_argument("Hex: bad character in '" + std::string(text) + "'");
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("Hex: odd number of digits in '" + std::string(text) + "'");
  return out;
}

// Bytes -> "00 c0 f2", for readable failure messages.
inline std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

inline std::string Le32(uint32_t v) {
  std::string s;
  core::PutFixed32(&s, v);
  return s;
}

inline uint32_t MaskedCrc(std::string_view bytes) {
  return core::crc32c::Mask(core::crc32c::Value(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Bytes per swapped unit of a dtype's element (complex: per component); 0 = never swapped.
inline size_t SwapUnitOf(bundle::DataType t) {
  switch (t) {
    case bundle::DataType::kFloat: case bundle::DataType::kInt32: case bundle::DataType::kQint32:
    case bundle::DataType::kUint32: case bundle::DataType::kComplex64:
      return 4;
    case bundle::DataType::kDouble: case bundle::DataType::kInt64: case bundle::DataType::kUint64:
    case bundle::DataType::kComplex128:
      return 8;
    case bundle::DataType::kInt16: case bundle::DataType::kUint16: case bundle::DataType::kQint16:
    case bundle::DataType::kQuint16: case bundle::DataType::kHalf: case bundle::DataType::kBfloat16:
      return 2;
    default:
      return 0;
  }
}

inline std::string ByteSwapped(std::string bytes, size_t unit) {
  if (unit <= 1) return bytes;
  for (size_t i = 0; i + unit <= bytes.size(); i += unit) std::reverse(bytes.begin() + i, bytes.begin() + i + unit);
  return bytes;
}

// The DT_STRING payload of spec 6.3 and its masked crc (second implementation, see above).
inline std::string StringPayload(const std::vector<std::string>& elements, bool big_endian, uint32_t* masked_crc) {
  std::string out;
  uint32_t crc = 0;
  for (const std::string& s : elements) {
    core::PutVarint64(&out, s.size());
    const uint64_t len = s.size();
    const size_t width = len <= 0xffffffffull ? 4 : 8;
    std::string fixed;
    for (size_t i = 0; i < width; ++i) fixed.push_back(static_cast<char>(len >> (8 * i)));
    if (big_endian) std::reverse(fixed.begin(), fixed.end());
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(fixed.data()), fixed.size());
  }
  std::string l = Le32(core::crc32c::Mask(crc));
  if (big_endian) std::reverse(l.begin(), l.end());
  out += l;
  crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(l.data()), 4);
  for (const std::string& s : elements) {
    out += s;
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  *masked_crc = core::crc32c::Mask(crc);
  return out;
}

// The DT_VARIANT payload of spec 6.4 (little-endian): per element varint64 len || bytes ||
// fixed32 K, the running crc extended over len as a fixed 8-byte integer, then the bytes;
// K = mask(crc), after which the crc is extended over K's 4 bytes.
inline std::string VariantPayload(const std::vector<std::string>& elements, uint32_t* masked_crc) {
  std::string out;
  uint32_t crc = 0;
  for (const std::string& e : elements) {
    core::PutVarint64(&out, e.size());
    std::string len;
    core::PutFixed64(&len, e.size());
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(len.data()), 8);
    out += e;
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(e.data()), e.size());
    const std::string k = Le32(core::crc32c::Mask(crc));
    out += k;
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(k.data()), 4);
  }
  *masked_crc = core::crc32c::Mask(crc);
  return out;
}

// ---- files -----------------------------------------------------------------------------

// Requires: `files` outlives every reader opened on *fs.
inline void RegisterAll(const Files& files, core::MemoryFileSystem* fs) {
  for (const auto& [name, bytes] : files) fs->Add(name, bytes);
}

inline core::MemoryFileSystem MemoryFs(const Files& files) {
  core::MemoryFileSystem fs;
  RegisterAll(files, &fs);
  return fs;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Writes every file under its name (use a prefix inside a TempDir when building).
inline void WriteFiles(const Files& files) {
  for (const auto& [name, bytes] : files) WriteFile(name, bytes);
}

inline std::string DataFileName(const std::string& prefix, int shard, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof buf, ".data-%05d-of-%05d", shard, num_shards);
  return prefix + buf;
}

// ---- V2 bundles ------------------------------------------------------------------------

struct BundleOptions {
  int num_shards = 1;                // data files written (and the header's num_shards)
  bool big_endian = false;           // payloads and string checksums big-endian, header endianness 1
  size_t data_alignment = 1;         // zero padding after each payload
  proto::VersionDef version{1, 0, {}};
  // Corrupt hooks on the header:
  std::optional<int32_t> header_num_shards;  // what the header says, if not num_shards
  std::optional<int32_t> header_endianness;  // what the header says, if not 0 / 1
  std::optional<std::string> header_value;   // raw header bytes, replacing the encoded header
  bool write_header = true;                  // false: no "" entry at all
  sstable::TableOptions table_options;
};

class BundleBuilder {
 public:
  static constexpr int kRoundRobin = -1;

  explicit BundleBuilder(BundleOptions options = {}) : options_(std::move(options)) {}

  const BundleOptions& options() const { return options_; }

  // A tensor given as its little-endian element bytes (swapped when big_endian).
  // `shard` = kRoundRobin assigns shards 0, 1, 2, ... in Add order.
  void Add(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& shape,
           const std::string& raw_le, int shard = kRoundRobin) {
    const std::string stored = options_.big_endian ? ByteSwapped(raw_le, SwapUnitOf(dtype)) : raw_le;
    AddStored(name, dtype, shape, stored, MaskedCrc(stored), shard);
  }

  template <class T>
  void AddValues(const std::string& name, const bundle::TensorShape& shape, const std::vector<T>& values,
                 int shard = kRoundRobin) {
    Add(name, bundle::DataTypeOf<T>::value, shape, RawBytes(values), shard);
  }

  void AddStrings(const std::string& name, const bundle::TensorShape& shape, const std::vector<std::string>& elements,
                  int shard = kRoundRobin) {
    uint32_t crc = 0;
    const std::string payload = StringPayload(elements, options_.big_endian, &crc);
    AddStored(name, bundle::DataType::kString, shape, payload, crc, shard);
  }

  // A DT_VARIANT tensor whose elements are serialized VariantTensorDataProto bytes.
  void AddVariants(const std::string& name, const bundle::TensorShape& shape, const std::vector<std::string>& elements,
                   int shard = kRoundRobin) {
    uint32_t crc = 0;
    const std::string payload = VariantPayload(elements, &crc);
    AddStored(name, bundle::DataType::kVariant, shape, payload, crc, shard);
  }

  // Like TF's BundleWriter::AddSlice: the full-tensor entry (dtype, full shape, slices
  // appended per call, no data) and a slice entry keyed by EncodeTensorNameSlice. A slice
  // that covers the whole tensor degenerates to Add(full_name, ...).
  void AddSlice(const std::string& full_name, const bundle::TensorShape& full_shape, bundle::DataType dtype,
                const bundle::TensorSlice& slice, const std::string& raw_le, int shard = kRoundRobin) {
    if (slice.IsFullFor(full_shape)) {
      Add(full_name, dtype, full_shape, raw_le, shard);
      return;
    }
    auto [it, inserted] = index_.try_emplace(full_name);
    proto::BundleEntry& full = it->second;
    if (inserted) {
      full.dtype = static_cast<int32_t>(dtype);
      full.shape = full_shape.ToProto();
    }
    full.slices.push_back(slice.ToProto());
    Add(bundle::EncodeTensorNameSlice(full_name, slice), dtype, slice.SliceShape(full_shape), raw_le, shard);
  }

  // Adds another slice to a full entry's list without writing a slice entry (for
  // "listed but missing" and "listed twice" cases).
  void ListSlice(const std::string& full_name, const bundle::TensorSlice& slice) {
    index_.at(full_name).slices.push_back(slice.ToProto());
  }

  // An entry whose payload bytes are given as stored, with a computed crc (variant,
  // unknown dtypes...).
  void AddStoredBytes(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& shape,
                      const std::string& stored, int shard = kRoundRobin) {
    AddStored(name, dtype, shape, stored, MaskedCrc(stored), shard);
  }

  // An index entry with arbitrary value bytes and no data.
  void AddIndexValue(const std::string& key, std::string value) { raw_index_[key] = std::move(value); }

  // Corrupt hook: edits an entry after offset, size and crc are known, before encoding.
  void Patch(const std::string& key, std::function<void(proto::BundleEntry*)> fn) {
    patches_.emplace_back(key, std::move(fn));
  }

  // Data is laid out in Add order; returns PREFIX.index and every data file.
  Files Build(const std::string& prefix) const {
    std::vector<std::string> data(static_cast<size_t>(std::max(options_.num_shards, 1)));
    std::map<std::string, proto::BundleEntry> entries = index_;
    for (const Payload& p : payloads_) {
      std::string& file = data.at(static_cast<size_t>(p.shard));
      proto::BundleEntry& e = entries.at(p.key);
      e.shard_id = p.shard;
      e.offset = static_cast<int64_t>(file.size());
      e.size = static_cast<int64_t>(p.stored.size());
      e.crc32c = p.masked_crc;
      file += p.stored;
      while (options_.data_alignment > 1 && file.size() % options_.data_alignment != 0) file.push_back('\0');
    }
    for (const auto& [key, fn] : patches_) fn(&entries.at(key));
    Files files;
    files[prefix + ".index"] = BuildIndex(entries);
    for (size_t s = 0; s < data.size(); ++s) {
      files[DataFileName(prefix, static_cast<int>(s), static_cast<int>(data.size()))] = data[s];
    }
    return files;
  }

  // The encoded header value, as Build writes it.
  std::string HeaderValue() const {
    if (options_.header_value) return *options_.header_value;
    proto::BundleHeader h;
    h.num_shards = options_.header_num_shards.value_or(options_.num_shards);
    h.endianness = options_.header_endianness.value_or(options_.big_endian ? 1 : 0);
    h.version = options_.version;
    return proto::EncodeBundleHeader(h);
  }

 private:
  struct Payload {
    std::string key;
    int shard;
    std::string stored;
    uint32_t masked_crc;
  };

  void AddStored(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& shape,
                 const std::string& stored, uint32_t masked_crc, int shard) {
    if (!index_.try_emplace(name).second) throw std::invalid_argument("BundleBuilder: duplicate key " + name);
    proto::BundleEntry& e = index_[name];
    e.dtype = static_cast<int32_t>(dtype);
    e.shape = shape.ToProto();
    const int n = std::max(options_.num_shards, 1);
    const int s = shard == kRoundRobin ? next_shard_++ % n : shard;
    if (s < 0 || s >= n) throw std::invalid_argument("BundleBuilder: shard out of range for " + name);
    payloads_.push_back(Payload{name, s, stored, masked_crc});
  }

  std::string BuildIndex(const std::map<std::string, proto::BundleEntry>& entries) const {
    std::map<std::string, std::string> values;
    if (options_.write_header) values[""] = HeaderValue();
    for (const auto& [key, e] : entries) values[key] = proto::EncodeBundleEntry(e);
    for (const auto& [key, v] : raw_index_) values[key] = v;
    sstable::TableBuilder table(options_.table_options);
    for (const auto& [key, v] : values) table.Add(key, core::ByteView(v.data(), v.size()));
    return table.Finish();
  }

  BundleOptions options_;
  std::map<std::string, proto::BundleEntry> index_;  // without shard, offset, size, crc
  std::vector<Payload> payloads_;
  std::map<std::string, std::string> raw_index_;
  std::vector<std::pair<std::string, std::function<void(proto::BundleEntry*)>>> patches_;
  int next_shard_ = 0;
};

// ---- V1 checkpoints --------------------------------------------------------------------

// TensorProto values as TensorSliceWriter stores them: the typed field of the dtype.
template <class T>
proto::TensorProto ValuesProto(const std::vector<T>& values) {
  proto::TensorProto p;
  if constexpr (std::is_same_v<T, float>) {
    p.float_val = values;
  } else if constexpr (std::is_same_v<T, double>) {
    p.double_val = values;
  } else if constexpr (std::is_same_v<T, int32_t>) {
    p.int_val = values;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    p.int64_val = values;
  } else if constexpr (std::is_same_v<T, bool>) {
    p.bool_val = values;
  } else {
    static_assert(!std::is_same_v<T, T>, "ValuesProto: add the typed field for this type");
  }
  return p;
}

inline proto::TensorProto StringsProto(const std::vector<std::string>& values) {
  proto::TensorProto p;
  p.string_val = values;
  return p;
}

class V1Builder {
 public:
  bool write_head = true;  // false: no "" entry at all
  bool write_meta = true;  // false: the "" entry holds a SavedTensorSlices without meta

  // An unpartitioned tensor: meta lists the full slice, one data entry under the full slice key.
  void Add(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& shape,
           proto::TensorProto values) {
    const bundle::TensorSlice full = bundle::TensorSlice::Full(shape.rank());
    AddMeta(name, dtype, shape, {full});
    AddData(name, full, std::move(values));
  }

  // One slice of a partitioned tensor: appended to the meta, data under its slice key.
  void AddSlice(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& full_shape,
                const bundle::TensorSlice& slice, proto::TensorProto values) {
    auto it = std::find_if(meta_.tensor.begin(), meta_.tensor.end(),
                           [&](const proto::SavedSliceMeta& m) { return m.name == name; });
    if (it == meta_.tensor.end()) {
      AddMeta(name, dtype, full_shape, {slice});
    } else {
      it->slice.push_back(slice.ToProto());
    }
    AddData(name, slice, std::move(values));
  }

  // Meta without data, or data without meta.
  void AddMeta(const std::string& name, bundle::DataType dtype, const bundle::TensorShape& shape,
               const std::vector<bundle::TensorSlice>& slices) {
    proto::SavedSliceMeta m;
    m.name = name;
    m.shape = shape.ToProto();
    m.type = static_cast<int32_t>(dtype);
    for (const bundle::TensorSlice& s : slices) m.slice.push_back(s.ToProto());
    meta_.tensor.push_back(std::move(m));
  }
  void AddData(const std::string& name, const bundle::TensorSlice& slice, proto::TensorProto values) {
    proto::SavedTensorSlices sts;
    sts.data = proto::SavedSlice{name, slice.ToProto(), std::move(values)};
    entries_[bundle::EncodeTensorNameSlice(name, slice)] = proto::EncodeSavedTensorSlices(sts);
  }

  // Any key and value.
  void AddRaw(const std::string& key, std::string value) { entries_[key] = std::move(value); }

  std::string Build() const {
    std::map<std::string, std::string> all = entries_;
    if (write_head && !all.count("")) {
      proto::SavedTensorSlices head;
      if (write_meta) {
        head.meta = meta_;
        head.meta->versions.producer = 1;
      }
      all[""] = proto::EncodeSavedTensorSlices(head);
    }
    sstable::TableBuilder table;
    for (const auto& [key, v] : all) table.Add(key, core::ByteView(v.data(), v.size()));
    return table.Finish();
  }

 private:
  proto::SavedTensorSliceMeta meta_;
  std::map<std::string, std::string> entries_;
};

// ---- hand-made tables ------------------------------------------------------------------

// One stored block: contents, type byte and (unless given) the correct masked crc of
// contents || type.
struct RawBlock {
  explicit RawBlock(std::string c, uint8_t t = sstable::kNoCompression, std::optional<uint32_t> stored = std::nullopt)
      : contents(std::move(c)), type(t), crc(stored) {}
  std::string contents;
  uint8_t type;
  std::optional<uint32_t> crc;  // stored masked crc; nullopt = the correct one
};

inline uint32_t BlockCrc(const std::string& contents, uint8_t type) {
  return sstable::BlockChecksum(core::ByteView(contents.data(), contents.size()), type);
}

// Block contents from entries, via the library's BlockBuilder (which does not check key order).
inline std::string BlockContents(const std::vector<std::pair<std::string, std::string>>& entries,
                                 int restart_interval = 16) {
  sstable::BlockBuilder b(restart_interval);
  for (const auto& [k, v] : entries) b.Add(k, core::ByteView(v.data(), v.size()));
  return b.Finish();
}

// Where AssembleTable put things.
struct TableLayout {
  std::vector<sstable::BlockHandle> data;
  sstable::BlockHandle metaindex;
  sstable::BlockHandle index;
};

inline sstable::BlockHandle AppendBlock(std::string* out, const RawBlock& b) {
  sstable::BlockHandle h{out->size(), b.contents.size()};
  *out += b.contents;
  out->push_back(static_cast<char>(b.type));
  *out += Le32(b.crc.value_or(BlockCrc(b.contents, b.type)));
  return h;
}

// data blocks || empty metaindex || index (one entry per data block, key separators[i],
// value its handle; `index_hook` may rewrite the index contents) || footer.
inline std::string AssembleTable(const std::vector<RawBlock>& data_blocks, const std::vector<std::string>& separators,
                                 TableLayout* layout = nullptr,
                                 const std::function<void(std::vector<sstable::BlockHandle>*)>& handle_hook = {}) {
  std::string out;
  TableLayout l;
  for (const RawBlock& b : data_blocks) l.data.push_back(AppendBlock(&out, b));
  l.metaindex = AppendBlock(&out, RawBlock{BlockContents({})});
  std::vector<sstable::BlockHandle> handles = l.data;
  if (handle_hook) handle_hook(&handles);
  std::vector<std::pair<std::string, std::string>> index;
  for (size_t i = 0; i < handles.size(); ++i) {
    std::string v;
    handles[i].EncodeTo(&v);
    index.emplace_back(separators.at(i), v);
  }
  l.index = AppendBlock(&out, RawBlock{BlockContents(index, 1)});
  sstable::Footer footer;
  footer.metaindex = l.metaindex;
  footer.index = l.index;
  footer.EncodeTo(&out);
  if (layout != nullptr) *layout = l;
  return out;
}

}  // namespace warmstart::test
