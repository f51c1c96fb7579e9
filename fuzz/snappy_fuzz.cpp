// Fuzz target: the raw Snappy decoder (core/snappy.hpp), as it decodes compressed
// sstable blocks.
//
// Checks, beyond "no crash": the decoder agrees with a slow byte-at-a-time reference
// decoder written here from the format comment (same accept/reject decision, same
// output); and a literal-only encoding of the input decodes back to the input.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "warmstart/core/snappy.hpp"
#include "warmstart/error.hpp"

namespace {

namespace snappy = warmstart::core::snappy;
using warmstart::core::ByteView;

// Obvious reference: nullopt when the stream is invalid.
std::optional<std::string> ReferenceDecode(const uint8_t* p, size_t n, uint64_t limit) {
  size_t i = 0;
  uint64_t length = 0;
  for (int k = 0;; ++k) {
    if (k == 5 || i == n) return std::nullopt;
    const uint8_t b = p[i++];
    length |= static_cast<uint64_t>(b & 0x7f) << (7 * k);
    if ((b & 0x80) == 0) break;
  }
  if (length > 0xffffffffu || length > limit) return std::nullopt;
  std::string out;
  while (i < n) {
    const uint8_t tag = p[i++];
    uint64_t len = 0, offset = 0;
    auto number = [&](int bytes) -> std::optional<uint64_t> {
      if (n - i < static_cast<size_t>(bytes)) return std::nullopt;
      uint64_t v = 0;
      for (int k = 0; k < bytes; ++k) v |= static_cast<uint64_t>(p[i++]) << (8 * k);
      return v;
    };
    if ((tag & 3) == 0) {
      len = (tag >> 2) + 1;
      if ((tag >> 2) >= 60) {
        const auto v = number((tag >> 2) - 59);
        if (!v) return std::nullopt;
        len = *v + 1;
      }
      if (len > n - i || out.size() + len > length) return std::nullopt;
      out.append(reinterpret_cast<const char*>(p + i), static_cast<size_t>(len));
      i += static_cast<size_t>(len);
      continue;
    }
    std::optional<uint64_t> v;
    if ((tag & 3) == 1) {
      len = ((tag >> 2) & 7) + 4;
      v = number(1);
      if (v) *v |= static_cast<uint64_t>(tag >> 5) << 8;
    } else {
      len = (tag >> 2) + 1;
      v = number((tag & 3) == 2 ? 2 : 4);
    }
    if (!v) return std::nullopt;
    offset = *v;
    if (offset == 0 || offset > out.size() || out.size() + len > length) return std::nullopt;
    for (uint64_t k = 0; k < len; ++k) out.push_back(out[out.size() - offset]);
  }
  if (out.size() != length) return std::nullopt;
  return out;
}

// Literal-only encoding: valid Snappy that any decoder must invert.
std::string EncodeLiterals(const uint8_t* p, size_t n) {
  std::string out;
  warmstart::core::PutVarint64(&out, n);
  for (size_t i = 0; i < n;) {
    const size_t chunk = std::min<size_t>(n - i, 300);
    if (chunk <= 60) {
      out.push_back(static_cast<char>((chunk - 1) << 2));
    } else {
      out.push_back(static_cast<char>(61 << 2));  // two length bytes follow
      out.push_back(static_cast<char>((chunk - 1) & 0xff));
      out.push_back(static_cast<char>((chunk - 1) >> 8));
    }
    out.append(reinterpret_cast<const char*>(p + i), chunk);
    i += chunk;
  }
  return out;
}

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "snappy_fuzz: %s\n", what);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const warmstart::ErrorContext ctx("fuzz.snappy");
  const uint64_t limit = 32 * static_cast<uint64_t>(size) + 1024;  // what sstable::ReadBlock allows
  const ByteView in(data, size);
  std::optional<std::string> got;
  try {
    snappy::UncompressedLength(in, ctx, 7);
    got = snappy::Uncompress(in, ctx, 7, limit);
  } catch (const warmstart::FormatError& e) {
    if (!e.context().offset || *e.context().offset < 7 || *e.context().offset > 7 + size) Bug("error offset outside the input");
  }
  const std::optional<std::string> want = ReferenceDecode(data, size, limit);
  if (got.has_value() != want.has_value()) Bug(got ? "decoder accepted a stream the reference rejects" : "decoder rejected a stream the reference accepts");
  if (got && *got != *want) Bug("decoder output differs from the reference");

  const std::string literal = EncodeLiterals(data, size);
  const std::string back = snappy::Uncompress(ByteView(literal.data(), literal.size()), ctx, 0, size);
  if (back.size() != size || (size != 0 && back.compare(0, size, reinterpret_cast<const char*>(data), size) != 0)) {
    Bug("literal-only stream did not decode to its input");
  }
  return 0;
}
