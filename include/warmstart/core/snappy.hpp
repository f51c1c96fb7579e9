// Raw Snappy decoding, for compressed SSTable blocks (block type 1) in old and
// Google-built `.index` files (spec section 3.6; TF's ReadBlock in
// third_party/xla/xla/tsl/lib/io/format.cc hands them to port::Snappy_Uncompress).
//
// A raw Snappy stream has no framing and no checksum (the block trailer's CRC
// covers the compressed bytes):
//
//   +--------------------+-----------+-----------+-----+
//   | varint32 length    | element 0 | element 1 | ... |   elements run to the end of input
//   +--------------------+-----------+-----------+-----+
//
// `length` is the uncompressed size (at most 5 varint bytes, at most 2^32 - 1).
// Every element opens with a tag byte whose low two bits give its kind:
//
//   bit     7 6 5 4 3 2 1 0
//   tag   [ h h h h h h 0 0 ]          literal
//            h < 60      length = h + 1; the literal bytes follow the tag
//            h = 60..63  the next h - 59 bytes (1..4, little-endian) hold
//                        length - 1; then the literal bytes
//   tag   [ o o o l l l 0 1 ] + 1 byte  copy, length = l + 4 (4..11),
//                                       offset = o << 8 | that byte (11 bits)
//   tag   [ l l l l l l 1 0 ] + 2 bytes copy, length = l + 1 (1..64), offset = LE16
//   tag   [ l l l l l l 1 1 ] + 4 bytes copy, length = l + 1 (1..64), offset = LE32
//
// A copy appends `length` bytes taken from `offset` bytes back in the output
// produced so far. It may overlap its own output: offset 1, length 10 repeats
// the last byte ten times. The output must come to exactly `length` bytes.
//
// The decoder trusts nothing: the declared length is checked against the
// caller's limit before the one allocation, every element is checked against
// the input left and the output room left, and every element consumes at
// least one input byte, so decoding ends. Errors are FormatError at the
// absolute offset (base_offset + position) of the element that is wrong.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"

namespace warmstart::core::snappy {

namespace detail {

inline constexpr int kMaxLengthBytes = 5;

// Reads the varint32 uncompressed length at the cursor.
inline uint64_t ReadLength(Cursor& in) {
  const size_t start = in.position();
  uint64_t length = 0;
  for (int i = 0; i < kMaxLengthBytes; ++i) {
    if (in.empty()) in.FailAt(start, "truncated snappy length varint");
    const uint8_t b = in.ReadByte("snappy length varint");
    length |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (length > 0xffffffffu) in.FailAt(start, "snappy length varint exceeds 32 bits");
      return length;
    }
  }
  in.FailAt(start, "snappy length varint longer than 5 bytes");
}

// Writes the decoded bytes into a buffer of exactly the declared length.
class Decoder {
 public:
  // Requires: out->size() is the declared length.
  Decoder(Cursor& in, std::string* out) : in_(in), out_(out) {}

  void Run() {
    while (!in_.empty()) Element();
    if (produced_ != out_->size()) {
      in_.Fail("snappy stream ends after " + std::to_string(produced_) + " of " +
               std::to_string(out_->size()) + " declared bytes");
    }
  }

 private:
  void Element() {
    const size_t tag_pos = in_.position();
    const uint8_t tag = in_.ReadByte("snappy tag");
    const uint64_t high = tag >> 2;
    switch (tag & 3) {
      case 0:
        return Literal(high, tag_pos);
      case 1:
        return Copy((high & 7) + 4, (high >> 3) << 8 | ReadNumber(1, tag_pos, "copy offset"),
                    tag_pos);
      case 2:
        return Copy(high + 1, ReadNumber(2, tag_pos, "copy offset"), tag_pos);
      default:
        return Copy(high + 1, ReadNumber(4, tag_pos, "copy offset"), tag_pos);
    }
  }

  // An n-byte little-endian number belonging to the element at tag_pos.
  uint64_t ReadNumber(int n, size_t tag_pos, const char* what) {
    if (in_.remaining() < static_cast<size_t>(n)) {
      in_.FailAt(tag_pos, std::string("truncated snappy ") + what + ": need " +
                              std::to_string(n) + " bytes, " + std::to_string(in_.remaining()) +
                              " left");
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_.ReadByte(what)) << (8 * i);
    return v;
  }

  void Literal(uint64_t high, size_t tag_pos) {
    const uint64_t length =
        high < 60 ? high + 1
                  : ReadNumber(static_cast<int>(high - 59), tag_pos, "literal length") + 1;
    if (length > in_.remaining()) {
      in_.FailAt(tag_pos, "snappy literal of " + std::to_string(length) +
                              " bytes runs past end of input (" +
                              std::to_string(in_.remaining()) + " bytes left)");
    }
    CheckRoom(length, tag_pos, "literal");
    const ByteView bytes = in_.ReadBytes(length, "snappy literal");
    std::memcpy(&(*out_)[produced_], bytes.data(), bytes.size());
    produced_ += bytes.size();
  }

  // Repeats in chunks of at most `offset` bytes, so each memcpy reads only
  // bytes already written and never overlaps its destination.
  void Copy(uint64_t length, uint64_t offset, size_t tag_pos) {
    if (offset == 0) in_.FailAt(tag_pos, "snappy copy with offset 0");
    if (offset > produced_) {
      in_.FailAt(tag_pos, "snappy copy offset " + std::to_string(offset) + " beyond the " +
                              std::to_string(produced_) + " bytes produced so far");
    }
    CheckRoom(length, tag_pos, "copy");
    char* out = &(*out_)[0];
    while (length > 0) {
      const size_t chunk = static_cast<size_t>(length < offset ? length : offset);
      std::memcpy(out + produced_, out + produced_ - offset, chunk);
      produced_ += chunk;
      length -= chunk;
    }
  }

  void CheckRoom(uint64_t length, size_t tag_pos, const char* kind) const {
    if (length > out_->size() - produced_) {
      in_.FailAt(tag_pos, std::string("snappy ") + kind + " of " + std::to_string(length) +
                              " bytes overflows declared length " +
                              std::to_string(out_->size()) + " (" + std::to_string(produced_) +
                              " bytes produced so far)");
    }
  }

  Cursor& in_;
  std::string* out_;
  size_t produced_ = 0;
};

}  // namespace detail

// The declared uncompressed length at the start of a raw Snappy stream.
// `ctx` and `base_offset` (the absolute offset of in[0]) locate errors.
inline uint64_t UncompressedLength(ByteView in, const ErrorContext& ctx, uint64_t base_offset) {
  Cursor cursor(in, ctx, base_offset);
  return detail::ReadLength(cursor);
}

// Decodes a whole raw Snappy stream. Streams declaring more than max_output
// bytes are rejected before anything is allocated.
inline std::string Uncompress(ByteView in, const ErrorContext& ctx, uint64_t base_offset,
                              uint64_t max_output) {
  Cursor cursor(in, ctx, base_offset);
  const uint64_t declared = detail::ReadLength(cursor);
  if (declared > max_output) {
    cursor.FailAt(0, "snappy declared length " + std::to_string(declared) + " exceeds limit " +
                         std::to_string(max_output));
  }
  std::string out(static_cast<size_t>(declared), '\0');
  detail::Decoder(cursor, &out).Run();
  return out;
}

}  // namespace warmstart::core::snappy
