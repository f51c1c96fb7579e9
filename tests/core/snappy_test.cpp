// Raw Snappy decoding: hand-made streams for every element kind, every error
// with its message and offset, a cross-check against libsnappy, and corrupted
// streams (every truncation, random byte flips) that must fail cleanly.
#include "warmstart/core/snappy.hpp"

#include <catch2/catch.hpp>
#include <snappy.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace snappy_ws = warmstart::core::snappy;
using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::core::ByteView;

constexpr uint64_t kBase = 1000;  // absolute offset of the stream in its "file"
constexpr uint64_t kLimit = 64u << 20;

// ---------------------------------------------------------------------------
// Stream builders (the element layouts drawn in snappy.hpp)

std::string Length(uint64_t n) {
  std::string s;
  warmstart::core::PutVarint64(&s, n);
  return s;
}

std::string LittleEndian(uint64_t v, int n_bytes) {
  std::string s;
  for (int i = 0; i < n_bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string Tag(unsigned bits) { return std::string(1, static_cast<char>(bits)); }

// A literal; extra_bytes 0 uses the one-byte form (length <= 60), 1..4 puts
// length - 1 in that many bytes after the tag.
std::string Literal(const std::string& bytes, int extra_bytes) {
  if (extra_bytes == 0) return Tag((bytes.size() - 1) << 2) + bytes;
  return Tag((59u + extra_bytes) << 2) + LittleEndian(bytes.size() - 1, extra_bytes) + bytes;
}

std::string Literal(const std::string& bytes) {
  const uint64_t n = bytes.size() - 1;
  if (bytes.size() <= 60) return Literal(bytes, 0);
  int extra = 1;
  while (extra < 4 && (n >> (8 * extra)) != 0) ++extra;
  return Literal(bytes, extra);
}

// Requires: 4 <= length <= 11, offset < 2048.
std::string Copy1(unsigned length, unsigned offset) {
  return Tag(((offset >> 8) << 5) | ((length - 4) << 2) | 1) + LittleEndian(offset & 0xff, 1);
}

// Requires: 1 <= length <= 64.
std::string Copy2(unsigned length, uint64_t offset) {
  return Tag(((length - 1) << 2) | 2) + LittleEndian(offset, 2);
}

std::string Copy4(unsigned length, uint64_t offset) {
  return Tag(((length - 1) << 2) | 3) + LittleEndian(offset, 4);
}

std::string Decode(const std::string& stream, uint64_t limit = kLimit) {
  return snappy_ws::Uncompress(ByteView(stream), ErrorContext("block.snappy"), kBase, limit);
}

std::string RandomBytes(size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Compressible input: runs, repeated phrases and a small alphabet.
std::string RepetitiveBytes(size_t n, std::mt19937& rng) {
  static const char* const kWords[] = {"conv2d/kernel", "/Momentum", "BoxPredictor_", "0000", "ab"};
  std::string s;
  while (s.size() < n) {
    switch (rng() % 4) {
      case 0: {
        const size_t run = rng() % 300;
        s.append(run, static_cast<char>('a' + rng() % 3));
        break;
      }
      case 1: s += kWords[rng() % 5]; break;
      case 2: s += static_cast<char>(rng()); break;
      default: {  // an earlier stretch again (two statements: rng() calls in order)
        const size_t from = s.empty() ? 0 : rng() % s.size();
        s += s.substr(from, rng() % 100);
        break;
      }
    }
  }
  s.resize(n);
  return s;
}

std::string LibSnappyCompress(const std::string& input) {
  std::string out;
  snappy::Compress(input.data(), input.size(), &out);
  return out;
}

// Decodes a possibly corrupt stream: it must either fail with FormatError or
// produce exactly the declared length, and agree with libsnappy either way.
void RequireCleanOutcome(const std::string& stream) {
  std::string ours;
  bool ok = false;
  try {
    ours = Decode(stream);
    ok = true;
  } catch (const FormatError&) {
  }
  std::string theirs;
  const bool their_ok = snappy::Uncompress(stream.data(), stream.size(), &theirs);
  if (ok) {
    REQUIRE(ours.size() == snappy_ws::UncompressedLength(ByteView(stream), ErrorContext(), 0));
  }
  REQUIRE(ok == their_ok);
  if (ok) REQUIRE(ours == theirs);
}

}  // namespace

// ---------------------------------------------------------------------------
// Element kinds

TEST_CASE("snappy: length only", "[snappy]") {
  REQUIRE(Decode(Length(0)).empty());
  REQUIRE(snappy_ws::UncompressedLength(ByteView(Length(0)), ErrorContext(), 0) == 0);
  REQUIRE(snappy_ws::UncompressedLength(ByteView(Length(300) + "junk"), ErrorContext(), 0) == 300);
  REQUIRE(snappy_ws::UncompressedLength(ByteView(Length(0xffffffffu)), ErrorContext(), 0) ==
          0xffffffffu);
}

TEST_CASE("snappy: literals with 0 to 4 length bytes", "[snappy]") {
  std::mt19937 rng(1);
  SECTION("length in the tag: 1 and 60 bytes") {
    for (size_t n : {1u, 2u, 59u, 60u}) {
      const std::string bytes = RandomBytes(n, rng);
      REQUIRE(Literal(bytes).size() == n + 1);
      REQUIRE(Decode(Length(n) + Literal(bytes)) == bytes);
    }
  }
  SECTION("1 length byte: 61 to 256 bytes") {
    for (size_t n : {61u, 200u, 256u}) {
      const std::string bytes = RandomBytes(n, rng);
      REQUIRE(Decode(Length(n) + Literal(bytes, 1)) == bytes);
    }
  }
  SECTION("2 length bytes") {
    const std::string bytes = RandomBytes(65536, rng);
    REQUIRE(Decode(Length(bytes.size()) + Literal(bytes, 2)) == bytes);
  }
  SECTION("3 length bytes") {
    const std::string bytes = RandomBytes(70000, rng);
    REQUIRE(Decode(Length(bytes.size()) + Literal(bytes, 3)) == bytes);
  }
  SECTION("4 length bytes, beyond 2^24") {
    const std::string bytes = RandomBytes((1u << 24) + 5, rng);
    REQUIRE(Decode(Length(bytes.size()) + Literal(bytes, 4)) == bytes);
  }
  SECTION("wider length fields than needed are accepted") {
    for (int extra = 1; extra <= 4; ++extra) {
      REQUIRE(Decode(Length(3) + Literal("abc", extra)) == "abc");
    }
  }
  SECTION("several literals in a row") {
    REQUIRE(Decode(Length(9) + Literal("abc") + Literal("de", 2) + Literal("fghi")) == "abcdefghi");
  }
}

TEST_CASE("snappy: copies with 1, 2 and 4 offset bytes", "[snappy]") {
  const std::string text = "0123456789abcdef";
  SECTION("copy-1, every length 4..11") {
    for (unsigned len = 4; len <= 11; ++len) {
      const std::string expected = text + text.substr(2, len);
      REQUIRE(Decode(Length(expected.size()) + Literal(text) + Copy1(len, 14)) == expected);
    }
  }
  SECTION("copy-1 with an 11-bit offset") {
    std::mt19937 rng(2);
    const std::string head = RandomBytes(2047, rng);
    const std::string expected = head + head.substr(0, 11);
    REQUIRE(Decode(Length(expected.size()) + Literal(head) + Copy1(11, 2047)) == expected);
  }
  SECTION("copy-2, lengths 1 and 64") {
    REQUIRE(Decode(Length(17) + Literal(text) + Copy2(1, 16)) == text + "0");
    const std::string expected = text + text + text + text + text;
    REQUIRE(Decode(Length(80) + Literal(text) + Copy2(64, 16)) == expected);
  }
  SECTION("copy-2 with a 16-bit offset") {
    std::mt19937 rng(3);
    const std::string head = RandomBytes(65535, rng);
    const std::string expected = head + head.substr(0, 64);
    REQUIRE(Decode(Length(expected.size()) + Literal(head) + Copy2(64, 65535)) == expected);
  }
  SECTION("copy-4 with a 17-bit offset") {
    std::mt19937 rng(4);
    const std::string head = RandomBytes(70000, rng);
    const std::string expected = head + head.substr(1, 30);
    REQUIRE(Decode(Length(expected.size()) + Literal(head) + Copy4(30, 69999)) == expected);
  }
}

TEST_CASE("snappy: overlapping copies", "[snappy]") {
  SECTION("offset 1 repeats one byte (run-length)") {
    REQUIRE(Decode(Length(12) + Literal("x") + Copy1(11, 1)) == std::string(12, 'x'));
    REQUIRE(Decode(Length(65) + Literal("y") + Copy2(64, 1)) == std::string(65, 'y'));
  }
  SECTION("offset 2 repeats a pair") {
    REQUIRE(Decode(Length(12) + Literal("ab") + Copy2(10, 2)) == "abababababab");
  }
  SECTION("offset 3 with length not a multiple of 3") {
    REQUIRE(Decode(Length(11) + Literal("abc") + Copy4(8, 3)) == "abcabcabcab");
  }
  SECTION("copies chained on copies") {
    const std::string stream = Length(2 + 7 + 9) + Literal("ab") + Copy1(7, 2) + Copy1(9, 5);
    REQUIRE(Decode(stream) == "ababababa" "ababaabab");
  }
}

// ---------------------------------------------------------------------------
// Errors: each names what is wrong and the absolute offset of the bad element

TEST_CASE("snappy: malformed streams name the error and its offset", "[snappy]") {
  struct Case {
    const char* name;
    std::string stream;
    uint64_t limit;
    std::string message;  // includes the absolute offset prefix
  };
  const Case cases[] = {
      {"empty input", "", kLimit, "offset 1000: truncated snappy length varint"},
      {"length varint cut short", "\x80\x80", kLimit,
       "offset 1000: truncated snappy length varint"},
      {"length above 32 bits", "\xff\xff\xff\xff\x10", kLimit,
       "offset 1000: snappy length varint exceeds 32 bits"},
      {"length varint of 6 bytes", std::string("\xff\xff\xff\xff\x8f\x00", 6), kLimit,
       "offset 1000: snappy length varint longer than 5 bytes"},
      {"declared length above the limit", Length(1001) + Literal("a"), 1000,
       "offset 1000: snappy declared length 1001 exceeds limit 1000"},
      {"huge declared length", Length(0xffffffffu), 1u << 20,
       "offset 1000: snappy declared length 4294967295 exceeds limit 1048576"},
      {"literal past the input", Length(10) + Tag(9 << 2) + "abc", kLimit,
       "offset 1001: snappy literal of 10 bytes runs past end of input (3 bytes left)"},
      {"literal past the input, 4 length bytes", Length(10) + Tag(63 << 2) + "\xff\xff\xff\xff",
       kLimit,
       "offset 1001: snappy literal of 4294967296 bytes runs past end of input (0 bytes left)"},
      {"literal length bytes cut short", Length(10) + Tag(62 << 2) + "\x05", kLimit,
       "offset 1001: truncated snappy literal length: need 3 bytes, 1 left"},
      {"literal overflowing the declared length", Length(3) + Literal("abcd"), kLimit,
       "offset 1001: snappy literal of 4 bytes overflows declared length 3"
       " (0 bytes produced so far)"},
      {"copy-1 offset 0", Length(10) + Literal("abc") + Copy1(4, 0), kLimit,
       "offset 1005: snappy copy with offset 0"},
      {"copy-2 offset 0", Length(10) + Literal("abc") + Copy2(4, 0), kLimit,
       "offset 1005: snappy copy with offset 0"},
      {"copy-4 offset 0", Length(10) + Literal("abc") + Copy4(4, 0), kLimit,
       "offset 1005: snappy copy with offset 0"},
      {"copy before any output", Length(4) + Copy1(4, 1), kLimit,
       "offset 1001: snappy copy offset 1 beyond the 0 bytes produced so far"},
      {"copy-1 offset beyond the output", Length(10) + Literal("abc") + Copy1(4, 4), kLimit,
       "offset 1005: snappy copy offset 4 beyond the 3 bytes produced so far"},
      {"copy-4 offset beyond the output", Length(10) + Literal("abc") + Copy4(4, 0x80000000u),
       kLimit, "offset 1005: snappy copy offset 2147483648 beyond the 3 bytes produced so far"},
      {"copy-1 offset byte missing", Length(10) + Literal("abc") + Tag(1), kLimit,
       "offset 1005: truncated snappy copy offset: need 1 bytes, 0 left"},
      {"copy-2 offset cut short", Length(10) + Literal("abc") + Tag(2) + "\x01", kLimit,
       "offset 1005: truncated snappy copy offset: need 2 bytes, 1 left"},
      {"copy-4 offset cut short",
       Length(10) + Literal("abc") + Tag(3) + std::string("\x01\x00\x00", 3), kLimit,
       "offset 1005: truncated snappy copy offset: need 4 bytes, 3 left"},
      {"copy overflowing the declared length", Length(5) + Literal("ab") + Copy2(4, 2), kLimit,
       "offset 1004: snappy copy of 4 bytes overflows declared length 5 (2 bytes produced so far)"},
      {"element after complete output", Length(2) + Literal("ab") + Literal("c"), kLimit,
       "offset 1004: snappy literal of 1 bytes overflows declared length 2"
       " (2 bytes produced so far)"},
      {"output shorter than declared", Length(5) + Literal("abc"), kLimit,
       "offset 1005: snappy stream ends after 3 of 5 declared bytes"},
      {"no elements at all", Length(1), kLimit,
       "offset 1001: snappy stream ends after 0 of 1 declared bytes"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      REQUIRE_THROWS_AS(Decode(c.stream, c.limit), FormatError);
      REQUIRE_THROWS_WITH(Decode(c.stream, c.limit), Catch::Contains(c.message));
      REQUIRE_THROWS_WITH(Decode(c.stream, c.limit), Catch::StartsWith("block.snappy: "));
    }
  }
}

TEST_CASE("snappy: UncompressedLength errors", "[snappy]") {
  const ErrorContext ctx("x.index");
  REQUIRE_THROWS_AS(snappy_ws::UncompressedLength(ByteView(), ctx, 7), FormatError);
  REQUIRE_THROWS_WITH(snappy_ws::UncompressedLength(ByteView(), ctx, 7),
                      Catch::Equals("x.index: offset 7: truncated snappy length varint"));
  REQUIRE_THROWS_WITH(snappy_ws::UncompressedLength(ByteView(std::string_view("\xff\xff")), ctx, 7),
                      Catch::Contains("offset 7: truncated snappy length varint"));
}

// ---------------------------------------------------------------------------
// Against libsnappy

TEST_CASE("snappy: decodes what libsnappy compresses", "[snappy]") {
  std::mt19937 rng(10);
  std::vector<size_t> sizes;
  for (size_t n = 0; n <= 70; ++n) sizes.push_back(n);
  for (size_t p = 128; p <= (1u << 20); p *= 2) {
    sizes.insert(sizes.end(), {p - 1, p, p + 1});
  }
  sizes.push_back(1u << 20);
  for (size_t n : sizes) {
    for (int kind = 0; kind < 3; ++kind) {
      const std::string input = kind == 0   ? RandomBytes(n, rng)
                                : kind == 1 ? RepetitiveBytes(n, rng)
                                            : std::string(n, 'z');
      const std::string compressed = LibSnappyCompress(input);
      INFO("size " << n << " kind " << kind << " compressed " << compressed.size());
      REQUIRE(snappy_ws::UncompressedLength(ByteView(compressed), ErrorContext(), 0) == n);
      REQUIRE(Decode(compressed, n) == input);
    }
  }
}

TEST_CASE("snappy: every truncation of a stream fails cleanly", "[snappy]") {
  std::mt19937 rng(11);
  std::string input = RepetitiveBytes(3000, rng);
  input += RandomBytes(200, rng);
  const std::string compressed = LibSnappyCompress(input);
  REQUIRE(Decode(compressed) == input);
  for (size_t n = 0; n < compressed.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    REQUIRE_THROWS_AS(Decode(compressed.substr(0, n)), FormatError);
  }
}

TEST_CASE("snappy: random byte flips fail cleanly or decode to the declared length", "[snappy]") {
  std::mt19937 rng(12);
  const std::string streams[] = {
      LibSnappyCompress(RepetitiveBytes(5000, rng)),
      LibSnappyCompress(RepetitiveBytes(300, rng)),
      LibSnappyCompress(RandomBytes(100, rng) + std::string(500, 'q')),
      Length(12) + Literal("ab") + Copy2(10, 2),
  };
  for (int i = 0; i < 2000; ++i) {
    std::string s = streams[i % 4];
    const size_t pos = rng() % s.size();
    s[pos] = static_cast<char>(s[pos] ^ static_cast<char>(1 + rng() % 255));
    INFO("flip " << i << " at byte " << pos);
    RequireCleanOutcome(s);
  }
}
