// Just enough of the protobuf binary wire format for bundle metadata.
//
//   message = field*
//   field   = varint tag (field_number << 3 | wire_type) || value
//   wire_type 0: varint   1: fixed64 (8 bytes LE)   2: varint length || bytes
//             5: fixed32 (4 bytes LE)   3/4: groups (never used by TF's protos; rejected)
//
// Decoding follows protobuf's rules: fields in any order, unknown fields skipped,
// a repeated scalar may be packed (wire type 2) or not, and the last value of a
// singular field wins. Encoding writes what TF's C++ serializer writes: fields in
// number order, proto3 zero scalars omitted (callers decide), packed repeated scalars.
#pragma once

#include <cstdint>
#include <string>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"

namespace warmstart::proto {

using core::ByteView;

enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

struct Field {
  uint32_t number = 0;
  WireType wire_type = kVarint;
  uint64_t value = 0;  // varint, fixed32 or fixed64 payload
  ByteView bytes;      // length-delimited payload
  uint64_t offset = 0; // absolute offset of the tag
};

// Iterates the fields of one serialized message. `what` names the message type
// for errors ("BundleEntryProto").
class MessageReader {
 public:
  MessageReader(ByteView bytes, const ErrorContext& ctx, uint64_t base_offset, const char* what)
      : in_(bytes, ctx, base_offset), what_(what) {}

  bool Next(Field* f) {
    if (in_.empty()) return false;
    f->offset = in_.absolute_offset();
    const uint64_t tag = in_.ReadVarint64(what_);
    f->number = static_cast<uint32_t>(tag >> 3);
    if (f->number == 0 || (tag >> 3) > 0x1fffffff) Fail(*f, "invalid field number " + std::to_string(tag >> 3));
    switch (tag & 7) {
      case kVarint: f->wire_type = kVarint; f->value = in_.ReadVarint64(what_); break;
      case kFixed64: f->wire_type = kFixed64; f->value = in_.ReadFixed64(what_); break;
      case kFixed32: f->wire_type = kFixed32; f->value = in_.ReadFixed32(what_); break;
      case kLengthDelimited: {
        f->wire_type = kLengthDelimited;
        const uint64_t n = in_.ReadVarint64(what_);
        f->bytes = in_.ReadBytes(n, what_);
        break;
      }
      default:
        Fail(*f, "unsupported wire type " + std::to_string(tag & 7) + " for field " + std::to_string(f->number));
    }
    return true;
  }

  // Absolute offset where a length-delimited field's payload starts.
  uint64_t PayloadOffset(const Field& f) const {
    return in_.absolute_offset() - f.bytes.size();
  }

  // Type checks: a field with the right number but the wrong wire type is corrupt.
  uint64_t Varint(const Field& f) const {
    Expect(f, kVarint);
    return f.value;
  }
  int64_t Int64(const Field& f) const { return static_cast<int64_t>(Varint(f)); }
  // proto int32: negative values are sign-extended to 64 bits on the wire.
  int32_t Int32(const Field& f) const { return static_cast<int32_t>(static_cast<uint32_t>(Varint(f))); }
  bool Bool(const Field& f) const { return Varint(f) != 0; }
  uint32_t Fixed32(const Field& f) const {
    Expect(f, kFixed32);
    return static_cast<uint32_t>(f.value);
  }
  ByteView Bytes(const Field& f) const {
    Expect(f, kLengthDelimited);
    return f.bytes;
  }
  std::string String(const Field& f) const { return Bytes(f).ToString(); }

  const ErrorContext& context() const { return in_.context(); }
  [[noreturn]] void Fail(const Field& f, const std::string& what) const {
    throw FormatError(in_.context().WithOffset(f.offset), std::string(what_) + ": " + what);
  }

 private:
  void Expect(const Field& f, WireType t) const {
    if (f.wire_type != t) {
      Fail(f, "field " + std::to_string(f.number) + " has wire type " + std::to_string(f.wire_type) +
                  ", expected " + std::to_string(t));
    }
  }

  core::Cursor in_;
  const char* what_;
};

// Calls fn(value) for each element of a repeated varint field, packed or not.
template <class Fn>
void ForEachVarint(const MessageReader& r, const Field& f, Fn&& fn) {
  if (f.wire_type == kVarint) {
    fn(f.value);
    return;
  }
  core::Cursor in(r.Bytes(f), r.context(), r.PayloadOffset(f));
  while (!in.empty()) fn(in.ReadVarint64("packed repeated field"));
}

// ---- Encoding (mirror of the above) ----

inline void PutTag(std::string* out, uint32_t number, WireType type) {
  core::PutVarint64(out, (static_cast<uint64_t>(number) << 3) | type);
}
inline void PutVarintField(std::string* out, uint32_t number, uint64_t v) {
  PutTag(out, number, kVarint);
  core::PutVarint64(out, v);
}
// int32/int64/enum fields: negative values take 10 bytes, as protobuf writes them.
inline void PutInt64Field(std::string* out, uint32_t number, int64_t v) {
  PutVarintField(out, number, static_cast<uint64_t>(v));
}
inline void PutFixed32Field(std::string* out, uint32_t number, uint32_t v) {
  PutTag(out, number, kFixed32);
  core::PutFixed32(out, v);
}
inline void PutBytesField(std::string* out, uint32_t number, ByteView v) {
  PutTag(out, number, kLengthDelimited);
  core::PutVarint64(out, v.size());
  out->append(reinterpret_cast<const char*>(v.data()), v.size());
}
inline void PutBytesField(std::string* out, uint32_t number, const std::string& v) {
  PutBytesField(out, number, ByteView(v.data(), v.size()));
}

}  // namespace warmstart::proto
