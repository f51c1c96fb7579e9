// Just enough ZIP for .npz files (PKWARE APPNOTE 6.3.x; what Python's zipfile writes for
// np.savez and np.savez_compressed), with our own CRC-32 and a bounded inflate (RFC 1951).
//
// Layout, all integers little-endian:
//
//   local header   50 4b 03 04 | version needed u16 | flags u16 | method u16 | time u16 | date u16
//                  | crc-32 u32 | compressed size u32 | uncompressed size u32 | name length u16
//                  | extra length u16 | name | extra          then the member's data
//   central entry  50 4b 01 02 | version made by u16 | version needed u16 | flags u16 | method u16
//                  | time u16 | date u16 | crc-32 u32 | compressed u32 | uncompressed u32
//                  | name length u16 | extra length u16 | comment length u16 | disk u16
//                  | internal attributes u16 | external attributes u32 | local header offset u32
//                  | name | extra | comment
//   zip64 EOCD     50 4b 06 06 | record size u64 (44) | made by u16 | needed u16 | disk u32
//                  | cd disk u32 | entries on disk u64 | entries u64 | cd size u64 | cd offset u64
//   zip64 locator  50 4b 06 07 | disk u32 | zip64 EOCD offset u64 | disks u32
//   EOCD           50 4b 05 06 | disk u16 | cd disk u16 | entries on disk u16 | entries u16
//                  | cd size u32 | cd offset u32 | comment length u16 | comment
//
// A 32-bit field that does not fit holds 0xffffffff (16-bit: 0xffff) and the value moves to the
// zip64 extra field (id 0x0001): uncompressed size, compressed size, local header offset, disk
// (only those that overflowed, in this order). The central directory is authoritative; the
// local header only tells where the data starts (its sizes may be 0xffffffff: numpy forces
// zip64 there).
//
// The writer emits STORED members (method 0, np.savez's default) with date 1980-01-01 00:00
// so that output is reproducible; the reader takes STORED and DEFLATE (method 8,
// np.savez_compressed), checks every offset against the file, refuses sizes the input cannot
// hold before allocating, and verifies each member's CRC-32. Every defect is a FormatError
// naming the file, the member and the offset.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"

namespace warmstart::interop {

// ---- CRC-32 (ISO 3309 / zlib: reflected polynomial 0xedb88320, init and final xor ~0) ----

namespace detail {
inline const std::array<uint32_t, 256>& Crc32Table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}
}  // namespace detail

// Extends `crc` (the CRC-32 of earlier bytes, 0 for none) by n more bytes.
inline uint32_t Crc32Extend(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& table = detail::Crc32Table();
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}
inline uint32_t Crc32(core::ByteView bytes) { return Crc32Extend(0, bytes.data(), bytes.size()); }

// ---- Inflate (RFC 1951), bounded by the size the archive declares ----

namespace detail {

// Reads bits LSB first from a ByteView; running past the end is a FormatError.
class BitReader {
 public:
  BitReader(core::ByteView in, const ErrorContext& ctx, uint64_t base) : in_(in), ctx_(ctx), base_(base) {}

  uint32_t Bits(int n) {
    while (count_ < n) {
      if (pos_ >= in_.size()) Fail("truncated deflate stream");
      buffer_ |= static_cast<uint64_t>(in_[pos_++]) << count_;
      count_ += 8;
    }
    const uint32_t v = static_cast<uint32_t>(buffer_ & ((uint64_t{1} << n) - 1));
    buffer_ >>= n;
    count_ -= n;
    return v;
  }
  // Drops the bits left in the current byte (stored blocks start on a byte boundary).
  void AlignToByte() {
    buffer_ = 0;
    count_ = 0;
  }
  core::ByteView Bytes(size_t n) {
    if (n > in_.size() - pos_) Fail("truncated stored block in deflate stream");
    const core::ByteView v = in_.Sub(pos_, n);
    pos_ += n;
    return v;
  }
  size_t consumed() const { return pos_; }
  [[noreturn]] void Fail(const std::string& what) const {
    throw FormatError(ctx_.WithOffset(base_ + pos_), what);
  }

 private:
  core::ByteView in_;
  const ErrorContext& ctx_;
  uint64_t base_;
  size_t pos_ = 0;
  uint64_t buffer_ = 0;
  int count_ = 0;
};

// A canonical Huffman code: how many codes of each length, symbols in code order.
struct Huffman {
  std::array<uint16_t, 16> count{};
  std::vector<uint16_t> symbol;
};

// Requires: lengths[i] <= 15. Over-subscribed codes are refused; incomplete ones are kept
// (a code that reaches an unassigned pattern fails when decoded).
inline Huffman BuildHuffman(const uint8_t* lengths, size_t n, BitReader& bits, const char* what) {
  Huffman h;
  for (size_t i = 0; i < n; ++i) ++h.count[lengths[i]];
  int left = 1;
  for (int len = 1; len <= 15; ++len) {
    left = left * 2 - h.count[len];
    if (left < 0) bits.Fail(std::string("over-subscribed ") + what + " Huffman code");
  }
  std::array<uint16_t, 16> next{};
  for (int len = 1; len < 15; ++len) next[len + 1] = static_cast<uint16_t>(next[len] + h.count[len]);
  h.symbol.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (lengths[i] != 0) h.symbol[next[lengths[i]]++] = static_cast<uint16_t>(i);
  }
  h.count[0] = 0;
  return h;
}

// Codes are sent most significant bit first: extend the code one bit at a time and compare
// with the first code of each length.
inline int Decode(const Huffman& h, BitReader& bits) {
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= 15; ++len) {
    code |= static_cast<int>(bits.Bits(1));
    const int count = h.count[len];
    if (code - first < count) return h.symbol[static_cast<size_t>(index + code - first)];
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  bits.Fail("invalid Huffman code in deflate stream");
}

inline constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                             31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
inline constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                             2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr uint16_t kDistBase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,
                                           33,  49,  65,  97,  129, 193,  257,  385,  513,  769,
                                           1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
inline constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                           6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Output of exactly `expected` bytes; anything more is an error before it is written.
class InflateOutput {
 public:
  // Requires: `expected` was checked against the input (at most 1032 bytes per input byte).
  InflateOutput(uint64_t expected, BitReader& bits) : bits_(bits), limit_(expected) {
    out_.reserve(static_cast<size_t>(expected));
  }
  void Put(uint8_t b) {
    if (out_.size() >= limit_) bits_.Fail("deflate stream inflates to more than the declared " + std::to_string(limit_) + " bytes");
    out_.push_back(static_cast<char>(b));
  }
  void PutBytes(core::ByteView v) {
    if (v.size() > limit_ - out_.size()) bits_.Fail("deflate stream inflates to more than the declared " + std::to_string(limit_) + " bytes");
    out_.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  void Copy(size_t distance, size_t length) {
    if (distance > out_.size()) {
      bits_.Fail("deflate distance " + std::to_string(distance) + " reaches before the start of the output (" +
                 std::to_string(out_.size()) + " bytes so far)");
    }
    if (length > limit_ - out_.size()) bits_.Fail("deflate stream inflates to more than the declared " + std::to_string(limit_) + " bytes");
    for (size_t i = 0; i < length; ++i) {
      const char c = out_[out_.size() - distance];
      out_.push_back(c);
    }
  }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  BitReader& bits_;
  std::string out_;
  uint64_t limit_ = 0;
};

inline void InflateStored(BitReader& bits, InflateOutput& out) {
  bits.AlignToByte();
  const core::ByteView head = bits.Bytes(4);
  const uint16_t len = static_cast<uint16_t>(head[0] | head[1] << 8);
  const uint16_t nlen = static_cast<uint16_t>(head[2] | head[3] << 8);
  if (static_cast<uint16_t>(~nlen) != len) bits.Fail("stored block length does not match its complement");
  out.PutBytes(bits.Bytes(len));
}

inline void InflateCodes(BitReader& bits, const Huffman& lit, const Huffman& dist, InflateOutput& out) {
  while (true) {
    const int sym = Decode(lit, bits);
    if (sym < 256) {
      out.Put(static_cast<uint8_t>(sym));
      continue;
    }
    if (sym == 256) return;
    const int li = sym - 257;
    if (li >= 29) bits.Fail("invalid length symbol " + std::to_string(sym) + " in deflate stream");
    const size_t length = kLengthBase[li] + bits.Bits(kLengthExtra[li]);
    const int di = Decode(dist, bits);
    if (di >= 30) bits.Fail("invalid distance symbol " + std::to_string(di) + " in deflate stream");
    const size_t distance = kDistBase[di] + bits.Bits(kDistExtra[di]);
    out.Copy(distance, length);
  }
}

inline void InflateFixed(BitReader& bits, InflateOutput& out) {
  static const std::pair<Huffman, Huffman> codes = [&bits] {  // a complete code: never fails
    uint8_t lengths[288];
    for (int i = 0; i < 288; ++i) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    uint8_t dist[30];
    std::fill(dist, dist + 30, 5);
    return std::make_pair(BuildHuffman(lengths, 288, bits, "fixed literal"), BuildHuffman(dist, 30, bits, "fixed distance"));
  }();
  InflateCodes(bits, codes.first, codes.second, out);
}

// Reads the code lengths of a dynamic block (RFC 1951 3.2.7).
inline void ReadDynamicLengths(BitReader& bits, std::vector<uint8_t>* lengths, size_t nlen, size_t ndist) {
  static constexpr uint8_t kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  const size_t ncode = bits.Bits(4) + 4;
  uint8_t code_lengths[19] = {};
  for (size_t i = 0; i < ncode; ++i) code_lengths[kOrder[i]] = static_cast<uint8_t>(bits.Bits(3));
  const Huffman lencode = BuildHuffman(code_lengths, 19, bits, "code length");
  lengths->assign(nlen + ndist, 0);
  for (size_t i = 0; i < nlen + ndist;) {
    const int sym = Decode(lencode, bits);
    if (sym < 16) {
      (*lengths)[i++] = static_cast<uint8_t>(sym);
      continue;
    }
    uint8_t value = 0;
    size_t repeat;
    if (sym == 16) {
      if (i == 0) bits.Fail("deflate code length repeat with no previous length");
      value = (*lengths)[i - 1];
      repeat = 3 + bits.Bits(2);
    } else if (sym == 17) {
      repeat = 3 + bits.Bits(3);
    } else {
      repeat = 11 + bits.Bits(7);
    }
    if (repeat > nlen + ndist - i) bits.Fail("deflate code lengths run past the declared count");
    for (size_t k = 0; k < repeat; ++k) (*lengths)[i++] = value;
  }
  if ((*lengths)[256] == 0) bits.Fail("deflate block has no end-of-block code");
}

inline void InflateDynamic(BitReader& bits, InflateOutput& out) {
  const size_t nlen = bits.Bits(5) + 257;
  const size_t ndist = bits.Bits(5) + 1;
  if (nlen > 286 || ndist > 30) bits.Fail("deflate block declares too many codes");
  std::vector<uint8_t> lengths;
  ReadDynamicLengths(bits, &lengths, nlen, ndist);
  const Huffman lit = BuildHuffman(lengths.data(), nlen, bits, "literal/length");
  const Huffman dist = BuildHuffman(lengths.data() + nlen, ndist, bits, "distance");
  InflateCodes(bits, lit, dist, out);
}

}  // namespace detail

// Inflates the raw DEFLATE stream `in` (no zlib header), which must produce exactly
// `expected` bytes. `base` is the file offset of in[0], for errors.
inline std::string Inflate(core::ByteView in, uint64_t expected, const ErrorContext& ctx, uint64_t base) {
  detail::BitReader bits(in, ctx, base);
  if (expected / 1032 > in.size()) {
    bits.Fail("a deflate stream of " + std::to_string(in.size()) + " bytes cannot inflate to the declared " +
              std::to_string(expected));
  }
  detail::InflateOutput out(expected, bits);
  bool last = false;
  while (!last) {
    last = bits.Bits(1) != 0;
    switch (bits.Bits(2)) {
      case 0: detail::InflateStored(bits, out); break;
      case 1: detail::InflateFixed(bits, out); break;
      case 2: detail::InflateDynamic(bits, out); break;
      default: bits.Fail("invalid deflate block type 3");
    }
  }
  if (out.size() != expected) {
    bits.Fail("deflate stream ends after " + std::to_string(out.size()) + " bytes, the archive declares " +
              std::to_string(expected));
  }
  return out.Take();
}

// ---- Reading ----

struct ZipEntry {
  std::string name;
  std::string comment;
  uint16_t flags = 0;
  uint16_t method = 0;  // 0 stored, 8 deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;           // where the member's (compressed) bytes start
  uint64_t central_offset = 0;        // where its central directory entry starts
};

inline constexpr uint32_t kZipLocalSignature = 0x04034b50;
inline constexpr uint32_t kZipCentralSignature = 0x02014b50;
inline constexpr uint32_t kZipEndSignature = 0x06054b50;
inline constexpr uint32_t kZip64EndSignature = 0x06064b50;
inline constexpr uint32_t kZip64LocatorSignature = 0x07064b50;

namespace detail {

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

struct ZipDirectory {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  std::string comment;
};

// The zip64 end record, found through the locator just before the EOCD record at `eocd`.
inline void ReadZip64End(core::ByteView file, size_t eocd, const ErrorContext& ctx, ZipDirectory* d) {
  if (eocd < 20 || core::DecodeFixed32(file.data() + eocd - 20) != kZip64LocatorSignature) {
    throw FormatError(ctx.WithOffset(eocd), "end-of-central-directory record has zip64 markers but no zip64 locator");
  }
  const uint64_t at = core::DecodeFixed64(file.data() + eocd - 20 + 8);
  if (at > eocd - 20 || eocd - 20 - at < 56) {
    throw FormatError(ctx.WithOffset(eocd - 20), "zip64 locator points at offset " + std::to_string(at) +
                                                     ", which leaves no room for the 56-byte zip64 end record");
  }
  const uint8_t* p = file.data() + at;
  if (core::DecodeFixed32(p) != kZip64EndSignature) {
    throw FormatError(ctx.WithOffset(at), "zip64 end-of-central-directory signature missing");
  }
  d->entries = core::DecodeFixed64(p + 32);
  d->size = core::DecodeFixed64(p + 40);
  d->offset = core::DecodeFixed64(p + 48);
}

// The end-of-central-directory record: searched backwards, the first signature whose
// comment length reaches exactly the end of the file.
inline ZipDirectory FindDirectory(core::ByteView file, const ErrorContext& ctx) {
  if (file.size() < 22) {
    throw FormatError(ctx.WithOffset(0), "not a zip archive: " + std::to_string(file.size()) +
                                             " bytes, the smallest zip has 22");
  }
  const size_t lowest = file.size() >= 22 + 65535 ? file.size() - 22 - 65535 : 0;
  for (size_t pos = file.size() - 22;; --pos) {
    const uint8_t* p = file.data() + pos;
    if (core::DecodeFixed32(p) == kZipEndSignature && pos + 22 + Get16(p + 20) == file.size()) {
      if (Get16(p + 4) != 0 || Get16(p + 6) != 0) {
        throw FormatError(ctx.WithOffset(pos), "multi-disk zip archives are not supported");
      }
      ZipDirectory d;
      d.entries = Get16(p + 10);
      d.size = core::DecodeFixed32(p + 12);
      d.offset = core::DecodeFixed32(p + 16);
      d.comment.assign(reinterpret_cast<const char*>(p + 22), Get16(p + 20));
      if (d.entries == 0xffff || d.size == 0xffffffffu || d.offset == 0xffffffffu) ReadZip64End(file, pos, ctx, &d);
      if (d.offset > pos || d.size > pos - d.offset) {
        throw FormatError(ctx.WithOffset(pos), "central directory of " + std::to_string(d.size) + " bytes at offset " +
                                                   std::to_string(d.offset) + " overlaps the end record at " +
                                                   std::to_string(pos));
      }
      if (d.entries > d.size / 46) {
        throw FormatError(ctx.WithOffset(pos), std::to_string(d.entries) +
                                                   " entries cannot fit in a central directory of " +
                                                   std::to_string(d.size) + " bytes");
      }
      return d;
    }
    if (pos == lowest) break;
  }
  throw FormatError(ctx.WithOffset(file.size()), "not a zip archive: no end-of-central-directory record");
}

// The zip64 extra field (id 1) of a central entry: the fields that hold 0xffffffff, in order.
inline void ApplyZip64Extra(core::ByteView extra, bool usize64, bool csize64, bool offset64, ZipEntry* e,
                            const ErrorContext& ctx, uint64_t base) {
  for (size_t pos = 0; pos + 4 <= extra.size();) {
    const uint16_t id = Get16(extra.data() + pos), len = Get16(extra.data() + pos + 2);
    if (len > extra.size() - pos - 4) {
      throw FormatError(ctx.WithOffset(base + pos), "extra field runs past the end of its central entry");
    }
    if (id == 1) {
      size_t k = pos + 4;
      const auto next = [&](const char* what) {
        if (k + 8 > pos + 4 + len) {
          throw FormatError(ctx.WithOffset(base + pos), std::string("zip64 extra field lacks the ") + what);
        }
        const uint64_t v = core::DecodeFixed64(extra.data() + k);
        k += 8;
        return v;
      };
      if (usize64) e->uncompressed_size = next("uncompressed size");
      if (csize64) e->compressed_size = next("compressed size");
      if (offset64) e->local_header_offset = next("local header offset");
      return;
    }
    pos += 4 + len;
  }
  if (usize64 || csize64 || offset64) {
    throw FormatError(ctx.WithOffset(base), "central entry has zip64 markers but no zip64 extra field");
  }
}

// One central directory entry at cursor position; advances the cursor past it.
inline ZipEntry ReadCentralEntry(core::Cursor& cd, const ErrorContext& ctx) {
  ZipEntry e;
  e.central_offset = cd.absolute_offset();
  if (cd.ReadFixed32("central directory entry") != kZipCentralSignature) {
    cd.FailAt(cd.position() - 4, "central directory entry signature missing");
  }
  const core::ByteView fixed = cd.ReadBytes(42, "central directory entry");
  const uint8_t* p = fixed.data();
  e.flags = Get16(p + 4);
  e.method = Get16(p + 6);
  e.crc32 = core::DecodeFixed32(p + 12);
  e.compressed_size = core::DecodeFixed32(p + 16);
  e.uncompressed_size = core::DecodeFixed32(p + 20);
  const uint16_t name_len = Get16(p + 24), extra_len = Get16(p + 26), comment_len = Get16(p + 28);
  e.local_header_offset = core::DecodeFixed32(p + 38);
  e.name = cd.ReadBytes(name_len, "member name").ToString();
  const uint64_t extra_at = cd.absolute_offset();
  const core::ByteView extra = cd.ReadBytes(extra_len, "extra field");
  e.comment = cd.ReadBytes(comment_len, "member comment").ToString();
  ApplyZip64Extra(extra, e.uncompressed_size == 0xffffffffu, e.compressed_size == 0xffffffffu,
                  e.local_header_offset == 0xffffffffu, &e, ctx.WithKey(e.name), extra_at);
  return e;
}

// Checks the member against the file and finds where its data starts (after the local header).
inline void LocateData(core::ByteView file, uint64_t directory_offset, ZipEntry* e, const ErrorContext& ctx) {
  const ErrorContext at = ctx.WithKey(e->name);
  if (e->flags & 1) throw FormatError(at.WithOffset(e->central_offset), "encrypted members are not supported");
  if (e->method != 0 && e->method != 8) {
    throw FormatError(at.WithOffset(e->central_offset), "compression method " + std::to_string(e->method) +
                                                            " is not supported (only 0 stored and 8 deflate)");
  }
  const uint64_t off = e->local_header_offset;
  if (off > directory_offset || directory_offset - off < 30) {
    throw FormatError(at.WithOffset(e->central_offset), "local header offset " + std::to_string(off) +
                                                            " is not before the central directory");
  }
  const uint8_t* p = file.data() + off;
  if (core::DecodeFixed32(p) != kZipLocalSignature) throw FormatError(at.WithOffset(off), "local header signature missing");
  const uint64_t name_len = Get16(p + 26), extra_len = Get16(p + 28);
  e->data_offset = off + 30 + name_len + extra_len;
  if (e->data_offset > directory_offset || e->compressed_size > directory_offset - e->data_offset) {
    throw FormatError(at.WithOffset(off), "member data of " + std::to_string(e->compressed_size) +
                                              " bytes runs into the central directory at " +
                                              std::to_string(directory_offset));
  }
  if (std::string_view(reinterpret_cast<const char*>(p + 30), name_len) != e->name) {
    throw FormatError(at.WithOffset(off + 30), "local header names a different member than the central directory");
  }
  if (e->method == 0 && e->compressed_size != e->uncompressed_size) {
    throw FormatError(at.WithOffset(e->central_offset), "stored member has compressed size " +
                                                            std::to_string(e->compressed_size) + " but uncompressed size " +
                                                            std::to_string(e->uncompressed_size));
  }
  // DEFLATE expands at most 258 bytes per 2 bits: refuse larger claims before allocating.
  if (e->method == 8 && e->uncompressed_size / 1032 > e->compressed_size) {
    throw FormatError(at.WithOffset(e->central_offset), "deflated member claims " +
                                                            std::to_string(e->uncompressed_size) + " bytes from " +
                                                            std::to_string(e->compressed_size) +
                                                            ", more than DEFLATE can expand to");
  }
}

}  // namespace detail

// A zip archive opened once; members are read (and CRC-checked) on request.
class ZipReader {
 public:
  static ZipReader Open(const std::string& path) {
    ZipReader r;
    r.file_.emplace(core::MappedFile::Open(path));
    r.Parse(r.file_->bytes(), path);
    return r;
  }
  // Requires: `bytes` outlives the reader.
  static ZipReader FromBytes(core::ByteView bytes, const std::string& name) {
    ZipReader r;
    r.Parse(bytes, name);
    return r;
  }

  const std::string& path() const { return path_; }
  const std::string& comment() const { return comment_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }

  // The member's uncompressed bytes, CRC-32 verified: a view into the file for stored
  // members, into *scratch for deflated ones.
  core::ByteView Read(const ZipEntry& e, std::string* scratch) const {
    const ErrorContext at = ErrorContext(path_).WithKey(e.name);
    const core::ByteView raw = bytes_.Sub(static_cast<size_t>(e.data_offset), static_cast<size_t>(e.compressed_size));
    core::ByteView out = raw;
    if (e.method == 8) {
      *scratch = Inflate(raw, e.uncompressed_size, at, e.data_offset);
      out = core::ByteView(*scratch);
    }
    const uint32_t crc = Crc32(out);
    if (crc != e.crc32) {
      throw FormatError(at.WithOffset(e.data_offset), "CRC-32 mismatch: the archive says 0x" +
                                                          warmstart::detail::Hex32(e.crc32) + ", the data has 0x" +
                                                          warmstart::detail::Hex32(crc));
    }
    return out;
  }

 private:
  ZipReader() = default;

  void Parse(core::ByteView bytes, const std::string& name) {
    bytes_ = bytes;
    path_ = name;
    const ErrorContext ctx(path_);
    const detail::ZipDirectory dir = detail::FindDirectory(bytes, ctx);
    comment_ = dir.comment;
    core::Cursor cd(bytes.Sub(static_cast<size_t>(dir.offset), static_cast<size_t>(dir.size)), ctx, dir.offset);
    entries_.reserve(static_cast<size_t>(dir.entries));
    for (uint64_t i = 0; i < dir.entries; ++i) {
      ZipEntry e = detail::ReadCentralEntry(cd, ctx);
      detail::LocateData(bytes, dir.offset, &e, ctx);
      for (const ZipEntry& other : entries_) {
        if (other.name == e.name) throw FormatError(ctx.WithKey(e.name).WithOffset(e.central_offset), "duplicate member name");
      }
      entries_.push_back(std::move(e));
    }
  }

  std::optional<core::MappedFile> file_;
  core::ByteView bytes_;
  std::string path_;
  std::string comment_;
  std::vector<ZipEntry> entries_;
};

// ---- Writing ----

struct ZipWriterOptions {
  // Sizes and offsets above this use zip64 fields. Python's zipfile uses 2^31 - 1
  // (ZIP64_LIMIT), so readers that treat the 32-bit fields as signed still work.
  uint64_t zip64_limit = (uint64_t{1} << 31) - 1;
};

// Writes STORED members to a new file at `path` (replaced if it exists). Without a
// successful Finish() the file is removed on destruction.
class ZipWriter {
 public:
  explicit ZipWriter(std::string path, ZipWriterOptions options = ZipWriterOptions())
      : path_(std::move(path)), options_(options) {
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr) throw IoError(ErrorContext(path_), std::string("cannot create file: ") + std::strerror(errno));
  }
  ZipWriter(const ZipWriter&) = delete;
  ZipWriter& operator=(const ZipWriter&) = delete;
  ~ZipWriter() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::remove(path_.c_str());
    }
  }

  // Appends one stored member made of `pieces` in order. `comment` goes to its central entry.
  void Add(const std::string& name, const std::vector<core::ByteView>& pieces, const std::string& comment = "") {
    if (name.size() > 0xffff || comment.size() > 0xffff) {
      throw ArgumentError(ErrorContext(path_).WithKey(name), "member name or comment longer than 65535 bytes");
    }
    Member m;
    m.name = name;
    m.comment = comment;
    m.offset = offset_;
    for (const core::ByteView& p : pieces) {
      m.crc = Crc32Extend(m.crc, p.data(), p.size());
      m.size += p.size();
    }
    WriteLocalHeader(m);
    for (const core::ByteView& p : pieces) Write(p.data(), p.size());
    members_.push_back(std::move(m));
  }

  // Writes the central directory and the end records; closes the file.
  void Finish(const std::string& archive_comment = "") {
    if (archive_comment.size() > 0xffff) throw ArgumentError(ErrorContext(path_), "archive comment longer than 65535 bytes");
    const uint64_t cd_offset = offset_;
    for (const Member& m : members_) WriteCentralEntry(m);
    const uint64_t cd_size = offset_ - cd_offset;
    const bool zip64 = members_.size() >= 0xffff || cd_size > options_.zip64_limit || cd_offset > options_.zip64_limit;
    if (zip64) WriteZip64End(cd_offset, cd_size);
    std::string end;
    core::PutFixed32(&end, kZipEndSignature);
    Put16(&end, 0);
    Put16(&end, 0);
    Put16(&end, zip64 ? 0xffff : static_cast<uint16_t>(members_.size()));
    Put16(&end, zip64 ? 0xffff : static_cast<uint16_t>(members_.size()));
    core::PutFixed32(&end, zip64 ? 0xffffffffu : static_cast<uint32_t>(cd_size));
    core::PutFixed32(&end, zip64 ? 0xffffffffu : static_cast<uint32_t>(cd_offset));
    Put16(&end, static_cast<uint16_t>(archive_comment.size()));
    end += archive_comment;
    Write(end);
    std::FILE* f = std::exchange(file_, nullptr);
    if (std::fclose(f) != 0) {
      std::remove(path_.c_str());
      throw IoError(ErrorContext(path_), std::string("cannot close file: ") + std::strerror(errno));
    }
  }

  uint64_t size() const { return offset_; }

 private:
  struct Member {
    std::string name, comment;
    uint32_t crc = 0;
    uint64_t size = 0;
    uint64_t offset = 0;
  };

  static void Put16(std::string* out, uint16_t v) {
    out->push_back(static_cast<char>(v & 0xff));
    out->push_back(static_cast<char>(v >> 8));
  }
  static bool NeedsUtf8Flag(const std::string& name) {
    return std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  }

  void Write(const uint8_t* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file_) != n) {
      throw IoError(ErrorContext(path_), "cannot write " + std::to_string(n) + " bytes: " + std::strerror(errno));
    }
    offset_ += n;
  }
  void Write(const std::string& s) { Write(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

  // Shared by the local header and the central entry: version needed .. extra length.
  void PutCommon(std::string* h, const Member& m, bool zip64, uint16_t extra_len) const {
    Put16(h, zip64 ? 45 : 20);                      // version needed to extract
    Put16(h, NeedsUtf8Flag(m.name) ? 0x0800 : 0);  // flags: bit 11 = UTF-8 name
    Put16(h, 0);                                    // method: stored
    Put16(h, 0);                                    // time 00:00:00
    Put16(h, 0x21);                                 // date 1980-01-01
    core::PutFixed32(h, m.crc);
    const uint32_t size32 = m.size > options_.zip64_limit ? 0xffffffffu : static_cast<uint32_t>(m.size);
    core::PutFixed32(h, size32);  // compressed
    core::PutFixed32(h, size32);  // uncompressed
    Put16(h, static_cast<uint16_t>(m.name.size()));
    Put16(h, extra_len);
  }

  void WriteLocalHeader(const Member& m) {
    const bool big = m.size > options_.zip64_limit;
    std::string h;
    core::PutFixed32(&h, kZipLocalSignature);
    PutCommon(&h, m, big, big ? 20 : 0);
    h += m.name;
    if (big) {
      Put16(&h, 1);
      Put16(&h, 16);
      core::PutFixed64(&h, m.size);
      core::PutFixed64(&h, m.size);
    }
    Write(h);
  }

  void WriteCentralEntry(const Member& m) {
    const bool big_size = m.size > options_.zip64_limit, big_offset = m.offset > options_.zip64_limit;
    std::string extra;
    if (big_size || big_offset) {
      Put16(&extra, 1);
      Put16(&extra, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
      if (big_size) {
        core::PutFixed64(&extra, m.size);
        core::PutFixed64(&extra, m.size);
      }
      if (big_offset) core::PutFixed64(&extra, m.offset);
    }
    std::string h;
    core::PutFixed32(&h, kZipCentralSignature);
    Put16(&h, 0x0300 | (big_size || big_offset ? 45 : 20));  // made by: Unix, spec version
    PutCommon(&h, m, big_size || big_offset, static_cast<uint16_t>(extra.size()));
    Put16(&h, static_cast<uint16_t>(m.comment.size()));
    Put16(&h, 0);                   // disk number start
    Put16(&h, 0);                   // internal attributes
    core::PutFixed32(&h, 0600u << 16);  // external attributes: Unix mode rw-------, as zipfile
    core::PutFixed32(&h, big_offset ? 0xffffffffu : static_cast<uint32_t>(m.offset));
    h += m.name;
    h += extra;
    h += m.comment;
    Write(h);
  }

  void WriteZip64End(uint64_t cd_offset, uint64_t cd_size) {
    const uint64_t at = offset_;
    std::string r;
    core::PutFixed32(&r, kZip64EndSignature);
    core::PutFixed64(&r, 44);
    Put16(&r, 0x0300 | 45);
    Put16(&r, 45);
    core::PutFixed32(&r, 0);
    core::PutFixed32(&r, 0);
    core::PutFixed64(&r, members_.size());
    core::PutFixed64(&r, members_.size());
    core::PutFixed64(&r, cd_size);
    core::PutFixed64(&r, cd_offset);
    core::PutFixed32(&r, kZip64LocatorSignature);
    core::PutFixed32(&r, 0);
    core::PutFixed64(&r, at);
    core::PutFixed32(&r, 1);
    Write(r);
  }

  std::string path_;
  ZipWriterOptions options_;
  std::FILE* file_ = nullptr;
  uint64_t offset_ = 0;
  std::vector<Member> members_;
};

}  // namespace warmstart::interop
