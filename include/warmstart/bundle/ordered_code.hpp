// OrderedCode: encodings whose byte order (memcmp) equals the order of the values,
// and the slice keys of partitioned tensors built from them.
// Written from the description of tensorflow/core/lib/strings/ordered_code.cc (also in
// tsl) and EncodeTensorNameSlice in tensorflow/core/util/saved_tensor_slice_util.cc.
//
//   num(v)  "NumIncreasing", v: uint64
//             len (1 byte, 0..8) || v big-endian in len bytes, no leading 00 byte
//             num(0) = 00   num(2) = 01 02   num(300) = 02 01 2c
//
//   str(s)  s with every 00 written as 00 FF and every FF as FF 00, then 00 01
//             "a\0b" = 61 00 ff 62 00 01
//
//   sig(v)  "SignedNumIncreasing", v: int64, n = 1..10 bytes. The 8n bits are
//             [ n header bits ][ 7n payload bits: v in two's complement ]
//           header = n ones for v >= 0, n zeros for v < 0; the first payload bit is
//           the sign, so the header always ends at a bit that differs from it.
//           n is the smallest with -2^(7n-1) <= v < 2^(7n-1), i.e. n = bitlen(x)/7 + 1
//           where x = v for v >= 0 and x = -v - 1 (= ~v) for v < 0.
//             n    header   range                   example
//             1    1 / 0     [-2^6, 2^6)            0 -> 80   2 -> 82   -1 -> 7f
//             2    11 / 00   [-2^13, 2^13)          100 -> c0 64   -65 -> 3f bf
//             3    111       [-2^20, 2^20)          10000 -> e0 27 10
//             4    1111      [-2^27, 2^27)          0x424242 -> f0 42 42 42
//             9    ff 1      [-2^62, 2^62)          header spills into byte 2
//             10   ff 11     all other int64        payload is v sign-extended to 70 bits
//
//   slice key = num(0) || str(name) || num(rank)
//               || sig(start_0) || sig(length_0) || ... || sig(start_r-1) || sig(length_r-1)
//           a full dimension ("-") is written as start 0, length -1.
//             emb, "0,2:-"   -> 00 65 6d 62 00 01 01 02 80 82 80 7f
//             emb, "5,5:0,4" -> 00 65 6d 62 00 01 01 02 85 85 80 84
//
// Readers take a std::string_view that they advance past what they consumed; on
// malformed or truncated input they return false and leave it untouched. They never
// read past its end. Unlike TF's readers they also reject encodings TF's writers never
// produce (num with a leading 00 byte, sig longer than needed), so that decoding a key
// and encoding it again gives the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/bundle/tensor_shape.hpp"

namespace warmstart::bundle {

namespace ordered_code {

namespace detail {

inline uint8_t ByteAt(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

// Number of significant bytes of v (0 for v == 0).
inline int SignificantBytes(uint64_t v) {
  int n = 0;
  for (; v != 0; v >>= 8) ++n;
  return n;
}

inline int BitLength(uint64_t x) {
  int b = 0;
  for (; x != 0; x >>= 1) ++b;
  return b;
}

// n of the drawing above.
inline int SignedLength(int64_t v) {
  const uint64_t x = v >= 0 ? static_cast<uint64_t>(v) : ~static_cast<uint64_t>(v);
  return BitLength(x) / 7 + 1;
}

inline int LeadingOnes(uint8_t b) {
  int n = 0;
  for (uint8_t mask = 0x80; mask != 0 && (b & mask) != 0; mask >>= 1) ++n;
  return n;
}

// The header length n of a sig() that starts `in`, or 0 when it cannot be one.
inline int SignedHeaderLength(std::string_view in) {
  if (in.empty()) return 0;
  const uint8_t flip = (ByteAt(in, 0) & 0x80) != 0 ? 0x00 : 0xff;  // negative: count zeros
  int n = LeadingOnes(static_cast<uint8_t>(ByteAt(in, 0) ^ flip));
  if (n == 8) {
    if (in.size() < 2) return 0;
    n += LeadingOnes(static_cast<uint8_t>(ByteAt(in, 1) ^ flip));
  }
  return n <= 10 ? n : 0;
}

// Sign-extends the low `bits` bits of u. Requires: 1 <= bits <= 64.
inline int64_t SignExtend(uint64_t u, int bits) {
  if (bits < 64) {
    const uint64_t sign = uint64_t{1} << (bits - 1);
    u &= (sign << 1) - 1;
    u = (u ^ sign) - sign;  // two's complement wrap, well defined on uint64
  }
  return static_cast<int64_t>(u);
}

}  // namespace detail

// ---- num: unsigned ------------------------------------------------------------------

inline void WriteNumIncreasing(std::string* out, uint64_t v) {
  const int len = detail::SignificantBytes(v);
  out->push_back(static_cast<char>(len));
  for (int i = len - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

inline bool ReadNumIncreasing(std::string_view* in, uint64_t* value) {
  if (in->empty()) return false;
  const size_t len = detail::ByteAt(*in, 0);
  if (len > 8 || in->size() < 1 + len) return false;
  if (len > 0 && detail::ByteAt(*in, 1) == 0) return false;  // not minimal
  uint64_t v = 0;
  for (size_t i = 1; i <= len; ++i) v = (v << 8) | detail::ByteAt(*in, i);
  *value = v;
  in->remove_prefix(1 + len);
  return true;
}

// ---- str: byte strings ----------------------------------------------------------------

inline void WriteString(std::string* out, std::string_view s) {
  for (const char c : s) {
    out->push_back(c);
    if (c == '\x00') out->push_back('\xff');
    if (c == '\xff') out->push_back('\x00');
  }
  out->append("\x00\x01", 2);
}

inline bool ReadString(std::string_view* in, std::string* value) {
  std::string s;
  for (size_t i = 0; i < in->size(); ++i) {
    const uint8_t c = detail::ByteAt(*in, i);
    if (c != 0x00 && c != 0xff) {
      s.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 1 >= in->size()) return false;
    const uint8_t next = detail::ByteAt(*in, ++i);
    if (c == 0x00 && next == 0x01) {  // terminator
      *value = std::move(s);
      in->remove_prefix(i + 1);
      return true;
    }
    if (c == 0x00 && next == 0xff) s.push_back('\x00');
    else if (c == 0xff && next == 0x00) s.push_back('\xff');
    else return false;
  }
  return false;  // no terminator
}

// ---- sig: signed ----------------------------------------------------------------------

inline void WriteSignedNumIncreasing(std::string* out, int64_t v) {
  const int n = detail::SignedLength(v);
  const uint64_t u = static_cast<uint64_t>(v);
  const uint8_t extension = v < 0 ? 0xff : 0x00;
  uint8_t buf[10];
  for (int i = 0; i < n; ++i) {  // i counts bytes from the least significant one
    buf[n - 1 - i] = i < 8 ? static_cast<uint8_t>(u >> (8 * i)) : extension;
  }
  for (int k = 0; k < n; ++k) buf[k / 8] ^= static_cast<uint8_t>(0x80u >> (k % 8));
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

inline bool ReadSignedNumIncreasing(std::string_view* in, int64_t* value) {
  const int n = detail::SignedHeaderLength(*in);
  if (n == 0 || in->size() < static_cast<size_t>(n)) return false;
  // The low 64 payload bits are in the last min(n, 8) bytes.
  uint64_t low = 0;
  for (int i = n > 8 ? n - 8 : 0; i < n; ++i) low = (low << 8) | detail::ByteAt(*in, static_cast<size_t>(i));
  int64_t v = 0;
  if (n < 10) {
    v = detail::SignExtend(low, 7 * n);
  } else {
    // 70 payload bits: bits 69..64 sit in the low 6 bits of byte 1 and must all
    // repeat bit 63, or the value does not fit int64.
    const uint8_t high = detail::ByteAt(*in, 1) & 0x3f;
    if (high != ((low >> 63) != 0 ? 0x3f : 0x00)) return false;
    v = static_cast<int64_t>(low);
  }
  if (detail::SignedLength(v) != n) return false;  // not minimal
  *value = v;
  in->remove_prefix(static_cast<size_t>(n));
  return true;
}

}  // namespace ordered_code

// ---- slice keys -------------------------------------------------------------------------

// The index key of one stored slice of the partitioned tensor `name`.
inline std::string EncodeTensorNameSlice(std::string_view name, const TensorSlice& slice) {
  std::string key;
  ordered_code::WriteNumIncreasing(&key, 0);
  ordered_code::WriteString(&key, name);
  ordered_code::WriteNumIncreasing(&key, static_cast<uint64_t>(slice.rank()));
  for (const TensorSlice::Extent& e : slice.extents()) {
    ordered_code::WriteSignedNumIncreasing(&key, e.full() ? 0 : e.start);
    ordered_code::WriteSignedNumIncreasing(&key, e.full() ? TensorSlice::kFullLength : e.length);
  }
  return key;
}

namespace detail {

// One extent of a slice key; nullopt unless start >= 0 and either length == -1 (full,
// then start must be 0 as TF writes it) or 0 <= length <= INT64_MAX - start.
inline std::optional<TensorSlice::Extent> ReadSliceExtent(std::string_view* in) {
  int64_t start = 0, length = 0;
  if (!ordered_code::ReadSignedNumIncreasing(in, &start) ||
      !ordered_code::ReadSignedNumIncreasing(in, &length)) {
    return std::nullopt;
  }
  if (start < 0 || length < TensorSlice::kFullLength) return std::nullopt;
  if (length == TensorSlice::kFullLength) {
    if (start != 0) return std::nullopt;
    return TensorSlice::Extent{};
  }
  if (length > std::numeric_limits<int64_t>::max() - start) return std::nullopt;
  return TensorSlice::Extent{start, length};
}

}  // namespace detail

// The tensor name and slice of a slice key, or nullopt when `key` is not exactly one
// well-formed slice key (every normal tensor name is not: it does not start with 00).
inline std::optional<std::pair<std::string, TensorSlice>> DecodeTensorNameSlice(std::string_view key) {
  uint64_t zero = 0, rank = 0;
  std::string name;
  if (!ordered_code::ReadNumIncreasing(&key, &zero) || zero != 0) return std::nullopt;
  if (!ordered_code::ReadString(&key, &name)) return std::nullopt;
  if (!ordered_code::ReadNumIncreasing(&key, &rank) || rank > static_cast<uint64_t>(kMaxRank)) {
    return std::nullopt;
  }
  std::vector<TensorSlice::Extent> extents;
  for (uint64_t i = 0; i < rank; ++i) {
    std::optional<TensorSlice::Extent> e = detail::ReadSliceExtent(&key);
    if (!e) return std::nullopt;
    extents.push_back(*e);
  }
  if (!key.empty()) return std::nullopt;  // trailing bytes
  return std::make_pair(std::move(name), TensorSlice(std::move(extents)));
}

}  // namespace warmstart::bundle
