// Bundle metadata messages (tensorflow/core/protobuf/tensor_bundle.proto,
// tensorflow/core/framework/{tensor_shape,tensor_slice,versions}.proto).
//
//   BundleHeaderProto  1 num_shards int32 | 2 endianness enum (0 LITTLE, 1 BIG) | 3 version VersionDef
//   VersionDef         1 producer int32 | 2 min_consumer int32 | 3 bad_consumers repeated int32 (packed)
//   BundleEntryProto   1 dtype enum | 2 shape TensorShapeProto | 3 shard_id int32 | 4 offset int64
//                      | 5 size int64 | 6 crc32c fixed32 | 7 slices repeated TensorSliceProto
//   TensorShapeProto   2 dim repeated Dim {1 size int64, 2 name string} | 3 unknown_rank bool
//   TensorSliceProto   1 extent repeated Extent {1 start int64, 2 length int64 (oneof: absent = full)}
//
// These structs hold raw wire values; bundle/ validates them (dtype known, shape valid...).
// Encode* write what TF's C++ serializer writes (spec 4.6): fields in number order,
// zero scalars omitted, sub-messages always present.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "warmstart/proto/wire.hpp"

namespace warmstart::proto {

struct VersionDef {
  int32_t producer = 0;
  int32_t min_consumer = 0;
  std::vector<int32_t> bad_consumers;
};

struct BundleHeader {
  int32_t num_shards = 0;
  int32_t endianness = 0;  // 0 LITTLE, 1 BIG
  VersionDef version;
};

struct ShapeProto {
  std::vector<int64_t> dims;
  bool unknown_rank = false;
};

struct ExtentProto {
  int64_t start = 0;
  std::optional<int64_t> length;  // absent = the whole dimension
};

struct SliceProto {
  std::vector<ExtentProto> extents;
};

struct BundleEntry {
  int32_t dtype = 0;
  ShapeProto shape;
  int32_t shard_id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  uint32_t crc32c = 0;  // masked
  std::vector<SliceProto> slices;
};

// ---- VersionDef ----

inline VersionDef DecodeVersionDef(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  VersionDef v;
  MessageReader r(bytes, ctx, base, "VersionDef");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: v.producer = r.Int32(f); break;
      case 2: v.min_consumer = r.Int32(f); break;
      case 3:
        ForEachVarint(r, f, [&](uint64_t x) { v.bad_consumers.push_back(static_cast<int32_t>(x)); });
        break;
      default: break;
    }
  }
  return v;
}

inline void EncodeVersionDef(const VersionDef& v, std::string* out) {
  if (v.producer != 0) PutInt64Field(out, 1, v.producer);
  if (v.min_consumer != 0) PutInt64Field(out, 2, v.min_consumer);
  if (!v.bad_consumers.empty()) {
    std::string packed;
    for (int32_t c : v.bad_consumers) core::PutVarint64(&packed, static_cast<uint64_t>(static_cast<int64_t>(c)));
    PutBytesField(out, 3, packed);
  }
}

// ---- BundleHeaderProto ----

inline BundleHeader DecodeBundleHeader(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  BundleHeader h;
  MessageReader r(bytes, ctx, base, "BundleHeaderProto");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: h.num_shards = r.Int32(f); break;
      case 2: h.endianness = r.Int32(f); break;
      case 3: h.version = DecodeVersionDef(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      default: break;
    }
  }
  return h;
}

inline std::string EncodeBundleHeader(const BundleHeader& h) {
  std::string out, version;
  if (h.num_shards != 0) PutInt64Field(&out, 1, h.num_shards);
  if (h.endianness != 0) PutInt64Field(&out, 2, h.endianness);
  EncodeVersionDef(h.version, &version);
  PutBytesField(&out, 3, version);
  return out;
}

// ---- TensorShapeProto ----

inline ShapeProto DecodeShape(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  ShapeProto s;
  MessageReader r(bytes, ctx, base, "TensorShapeProto");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 2) {
      int64_t size = 0;
      MessageReader dim(r.Bytes(f), ctx, r.PayloadOffset(f), "TensorShapeProto.Dim");
      Field d;
      while (dim.Next(&d)) {
        if (d.number == 1) size = dim.Int64(d);
      }
      s.dims.push_back(size);
    } else if (f.number == 3) {
      s.unknown_rank = r.Bool(f);
    }
  }
  return s;
}

inline void EncodeShape(const ShapeProto& s, std::string* out) {
  for (int64_t d : s.dims) {
    std::string dim;
    if (d != 0) PutInt64Field(&dim, 1, d);
    PutBytesField(out, 2, dim);
  }
  if (s.unknown_rank) PutVarintField(out, 3, 1);
}

// ---- TensorSliceProto ----

inline SliceProto DecodeSlice(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SliceProto s;
  MessageReader r(bytes, ctx, base, "TensorSliceProto");
  Field f;
  while (r.Next(&f)) {
    if (f.number != 1) continue;
    ExtentProto e;
    MessageReader ext(r.Bytes(f), ctx, r.PayloadOffset(f), "TensorSliceProto.Extent");
    Field x;
    while (ext.Next(&x)) {
      if (x.number == 1) e.start = ext.Int64(x);
      if (x.number == 2) e.length = ext.Int64(x);
    }
    s.extents.push_back(e);
  }
  return s;
}

inline void EncodeSlice(const SliceProto& s, std::string* out) {
  for (const ExtentProto& e : s.extents) {
    std::string ext;
    if (e.start != 0) PutInt64Field(&ext, 1, e.start);
    if (e.length) PutInt64Field(&ext, 2, *e.length);  // oneof: written even when 0
    PutBytesField(out, 1, ext);
  }
}

// ---- BundleEntryProto ----

inline BundleEntry DecodeBundleEntry(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  BundleEntry e;
  MessageReader r(bytes, ctx, base, "BundleEntryProto");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: e.dtype = r.Int32(f); break;
      case 2: e.shape = DecodeShape(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      case 3: e.shard_id = r.Int32(f); break;
      case 4: e.offset = r.Int64(f); break;
      case 5: e.size = r.Int64(f); break;
      case 6: e.crc32c = r.Fixed32(f); break;
      case 7: e.slices.push_back(DecodeSlice(r.Bytes(f), ctx, r.PayloadOffset(f))); break;
      default: break;
    }
  }
  return e;
}

inline std::string EncodeBundleEntry(const BundleEntry& e) {
  std::string out, shape;
  if (e.dtype != 0) PutInt64Field(&out, 1, e.dtype);
  EncodeShape(e.shape, &shape);
  PutBytesField(&out, 2, shape);
  if (e.shard_id != 0) PutInt64Field(&out, 3, e.shard_id);
  if (e.offset != 0) PutInt64Field(&out, 4, e.offset);
  if (e.size != 0) PutInt64Field(&out, 5, e.size);
  if (e.crc32c != 0) PutFixed32Field(&out, 6, e.crc32c);
  for (const SliceProto& s : e.slices) {
    std::string slice;
    EncodeSlice(s, &slice);
    PutBytesField(&out, 7, slice);
  }
  return out;
}

}  // namespace warmstart::proto
