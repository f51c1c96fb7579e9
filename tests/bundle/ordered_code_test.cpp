#include "warmstart/bundle/ordered_code.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace warmstart::bundle;
namespace oc = warmstart::bundle::ordered_code;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string Num(uint64_t v) {
  std::string s;
  oc::WriteNumIncreasing(&s, v);
  return s;
}

std::string Sig(int64_t v) {
  std::string s;
  oc::WriteSignedNumIncreasing(&s, v);
  return s;
}

std::string Str(std::string_view v) {
  std::string s;
  oc::WriteString(&s, v);
  return s;
}

// Decodes one sig() that must span all of `bytes`.
std::optional<int64_t> ReadSigExactly(std::string_view bytes) {
  int64_t v = 0;
  if (!oc::ReadSignedNumIncreasing(&bytes, &v) || !bytes.empty()) return std::nullopt;
  return v;
}

// Values of every bit length and both signs, plus the extremes.
std::vector<int64_t> InterestingSigned(std::mt19937_64& rng, int count) {
  std::vector<int64_t> out = {0, 1, -1, 63, 64, -64, -65, std::numeric_limits<int64_t>::max(),
                              std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max() - 1,
                              std::numeric_limits<int64_t>::min() + 1};
  for (int shift = 0; shift < 64; ++shift) {
    const uint64_t p = uint64_t{1} << shift;
    for (uint64_t u : {p - 1, p, p + 1}) {
      out.push_back(static_cast<int64_t>(u));
      out.push_back(~static_cast<int64_t>(u));
    }
  }
  for (int i = 0; i < count; ++i) {
    const uint64_t u = rng() >> (rng() % 64);
    out.push_back((rng() & 1) != 0 ? static_cast<int64_t>(u) : ~static_cast<int64_t>(u));
    out.push_back(static_cast<int64_t>(rng()));
  }
  return out;
}

}  // namespace

TEST_CASE("num: spec examples and round trips", "[bundle][ordered_code]") {
  CHECK(Num(0) == Bytes({0x00}));
  CHECK(Num(2) == Bytes({0x01, 0x02}));
  CHECK(Num(300) == Bytes({0x02, 0x01, 0x2c}));
  CHECK(Num(std::numeric_limits<uint64_t>::max()) ==
        Bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));

  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    std::string buf = Num(v) + "tail";
    std::string_view in = buf;
    uint64_t back = 0;
    REQUIRE(oc::ReadNumIncreasing(&in, &back));
    REQUIRE(back == v);
    REQUIRE(in == "tail");
  }
}

TEST_CASE("num: malformed input is rejected and not consumed", "[bundle][ordered_code]") {
  for (const std::string& bad : {std::string(), Bytes({0x01}), Bytes({0x02, 0x01}), Bytes({0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}),
                                 Bytes({0x01, 0x00}) /* leading zero byte: not minimal */}) {
    std::string_view in = bad;
    uint64_t v = 99;
    CHECK_FALSE(oc::ReadNumIncreasing(&in, &v));
    CHECK(in.size() == bad.size());
    CHECK(v == 99);
  }
}

TEST_CASE("sig: spec examples", "[bundle][ordered_code]") {
  CHECK(Sig(0) == Bytes({0x80}));
  CHECK(Sig(2) == Bytes({0x82}));
  CHECK(Sig(-1) == Bytes({0x7f}));
  CHECK(Sig(63) == Bytes({0xbf}));
  CHECK(Sig(-64) == Bytes({0x40}));
  CHECK(Sig(100) == Bytes({0xc0, 0x64}));
  CHECK(Sig(1000) == Bytes({0xc3, 0xe8}));
  CHECK(Sig(10000) == Bytes({0xe0, 0x27, 0x10}));
  CHECK(Sig(-65) == Bytes({0x3f, 0xbf}));
  CHECK(Sig(0x424242) == Bytes({0xf0, 0x42, 0x42, 0x42}));
  CHECK(Sig(-0x800) == Bytes({0x38, 0x00}));
}

TEST_CASE("sig: lengths 9 and 10 carry the header into the second byte", "[bundle][ordered_code]") {
  // 2^62 - 1 is the largest 9-byte value; header 9 ones = ff 80.
  CHECK(Sig((int64_t{1} << 62) - 1) == Bytes({0xff, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  CHECK(Sig(-(int64_t{1} << 62)) == Bytes({0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  CHECK(Sig(std::numeric_limits<int64_t>::max()) ==
        Bytes({0xff, 0xc0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  CHECK(Sig(std::numeric_limits<int64_t>::min()) ==
        Bytes({0x00, 0x3f, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
}

TEST_CASE("sig: every value in -70000..70000 round-trips", "[bundle][ordered_code]") {
  int mismatches = 0;
  int64_t first_bad = 0;
  for (int64_t v = -70000; v <= 70000; ++v) {
    const std::optional<int64_t> back = ReadSigExactly(Sig(v));
    if (back != v && mismatches++ == 0) first_bad = v;
  }
  INFO("first value that did not round-trip: " << first_bad);
  CHECK(mismatches == 0);
}

TEST_CASE("sig: random 64-bit values and the extremes round-trip", "[bundle][ordered_code]") {
  std::mt19937_64 rng(42);
  for (const int64_t v : InterestingSigned(rng, 5000)) {
    INFO("v = " << v);
    std::string buf = Sig(v) + "\x80";  // followed by another sig
    std::string_view in = buf;
    int64_t back = 0;
    REQUIRE(oc::ReadSignedNumIncreasing(&in, &back));
    REQUIRE(back == v);
    REQUIRE(in == "\x80");
  }
}

TEST_CASE("sig: byte order equals numeric order", "[bundle][ordered_code]") {
  std::mt19937_64 rng(1234);
  const std::vector<int64_t> values = InterestingSigned(rng, 3000);
  std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
  for (int i = 0; i < 20000; ++i) {
    const int64_t a = values[pick(rng)], b = values[pick(rng)];
    const int by_value = a < b ? -1 : (a > b ? 1 : 0);
    const int c = Sig(a).compare(Sig(b));
    const int by_bytes = c < 0 ? -1 : (c > 0 ? 1 : 0);
    INFO("a = " << a << ", b = " << b);
    REQUIRE(by_bytes == by_value);
  }
}

TEST_CASE("num and str: byte order equals value order", "[bundle][ordered_code]") {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64);
    REQUIRE((Num(a) < Num(b)) == (a < b));
  }
  // Strings from a tiny alphabet that includes 00 and ff, so prefixes and escapes meet.
  const char alphabet[] = {'\x00', '\x01', 'a', '\xfe', '\xff'};
  auto random_string = [&] {
    std::string s(rng() % 5, ' ');
    for (char& c : s) c = alphabet[rng() % 5];
    return s;
  };
  for (int i = 0; i < 5000; ++i) {
    const std::string a = random_string(), b = random_string();
    INFO("a = " << warmstart::detail::PrintableKey(a) << ", b = " << warmstart::detail::PrintableKey(b));
    REQUIRE((Str(a) < Str(b)) == (a < b));
  }
}

TEST_CASE("str: escapes 00 and ff and round-trips", "[bundle][ordered_code]") {
  CHECK(Str("") == Bytes({0x00, 0x01}));
  CHECK(Str(std::string("a\0b", 3)) == Bytes({0x61, 0x00, 0xff, 0x62, 0x00, 0x01}));
  CHECK(Str("\xff") == Bytes({0xff, 0x00, 0x00, 0x01}));

  std::mt19937_64 rng(5);
  for (int i = 0; i < 1000; ++i) {
    std::string s(rng() % 20, ' ');
    for (char& c : s) c = static_cast<char>(rng() % 4 == 0 ? (rng() % 2 ? 0x00 : 0xff) : rng() % 256);
    std::string buf = Str(s) + "x";
    std::string_view in = buf;
    std::string back;
    REQUIRE(oc::ReadString(&in, &back));
    REQUIRE(back == s);
    REQUIRE(in == "x");
  }
}

TEST_CASE("str: malformed input is rejected and not consumed", "[bundle][ordered_code]") {
  for (const std::string& bad : {std::string("abc"), Bytes({0x61, 0x00}), Bytes({0x61, 0xff}), Bytes({0x00, 0x02}),
                                 Bytes({0xff, 0x01, 0x00, 0x01}), Bytes({0x00, 0xff})}) {
    std::string_view in = bad;
    std::string v = "unchanged";
    CHECK_FALSE(oc::ReadString(&in, &v));
    CHECK(in.size() == bad.size());
    CHECK(v == "unchanged");
  }
}

TEST_CASE("sig: malformed input is rejected and not consumed", "[bundle][ordered_code]") {
  const std::vector<std::string> bad = {
      std::string(),
      Bytes({0xc0}),                    // 2-byte header, 1 byte
      Bytes({0xff}),                    // header continues into a missing byte
      Bytes({0x00}),                    // negative, same
      Bytes({0xff, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),  // 11-byte header
      Bytes({0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}),     // 16 header bits
      Bytes({0xc0, 0x00}),              // 0 in two bytes: not minimal
      Bytes({0x3f, 0xff}),              // -1 in two bytes: not minimal
      // 10 bytes whose 70-bit payload does not fit int64
      Bytes({0xff, 0xc1, 0x00, 0, 0, 0, 0, 0, 0, 0}),
      Bytes({0x00, 0x3e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
  };
  for (const std::string& b : bad) {
    INFO("input " << warmstart::detail::PrintableKey(b));
    std::string_view in = b;
    int64_t v = 99;
    CHECK_FALSE(oc::ReadSignedNumIncreasing(&in, &v));
    CHECK(in.size() == b.size());
    CHECK(v == 99);
  }
}

TEST_CASE("EncodeTensorNameSlice: spec examples", "[bundle][ordered_code]") {
  CHECK(EncodeTensorNameSlice("emb", TensorSlice::Parse("0,2:-")) ==
        Bytes({0x00, 0x65, 0x6d, 0x62, 0x00, 0x01, 0x01, 0x02, 0x80, 0x82, 0x80, 0x7f}));
  CHECK(EncodeTensorNameSlice("emb", TensorSlice::Parse("5,5:0,4")) ==
        Bytes({0x00, 0x65, 0x6d, 0x62, 0x00, 0x01, 0x01, 0x02, 0x85, 0x85, 0x80, 0x84}));
  CHECK(EncodeTensorNameSlice("a", TensorSlice::Parse("")) == Bytes({0x00, 0x61, 0x00, 0x01, 0x00}));
}

TEST_CASE("DecodeTensorNameSlice: inverts the encoder", "[bundle][ordered_code]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"emb", "0,2:-"}, {"emb", "5,5:0,4"}, {"a", ""}, {"", "-"},
      {"layer/kernel/Adam_1", "0,100000:-:3,1000000000000"},
      {std::string("nul\0in\xffname\xff\x00", 13), "1,1:-"},
  };
  for (const auto& [name, text] : cases) {
    const TensorSlice slice = TensorSlice::Parse(text);
    const std::string key = EncodeTensorNameSlice(name, slice);
    INFO("key " << warmstart::detail::PrintableKey(key));
    const auto decoded = DecodeTensorNameSlice(key);
    REQUIRE(decoded);
    CHECK(decoded->first == name);
    CHECK(decoded->second == slice);
    CHECK(decoded->second.DebugString() == text);
  }
}

TEST_CASE("DecodeTensorNameSlice: a full extent is start 0, length -1", "[bundle][ordered_code]") {
  const auto d = DecodeTensorNameSlice(Bytes({0x00, 0x65, 0x00, 0x01, 0x01, 0x01, 0x80, 0x7f}));
  REQUIRE(d);
  REQUIRE(d->second.rank() == 1);
  CHECK(d->second.extent(0).full());
}

TEST_CASE("DecodeTensorNameSlice: malformed keys give nullopt", "[bundle][ordered_code]") {
  const std::string good = Bytes({0x00, 0x65, 0x6d, 0x62, 0x00, 0x01, 0x01, 0x02, 0x85, 0x85, 0x80, 0x84});
  std::string rank255 = Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0xff});
  for (int i = 0; i < 255; ++i) rank255 += Bytes({0x80, 0x7f});
  std::string rank254 = Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0xfe});
  for (int i = 0; i < 254; ++i) rank254 += Bytes({0x80, 0x7f});
  REQUIRE(DecodeTensorNameSlice(rank254));

  const std::vector<std::pair<const char*, std::string>> bad = {
      {"empty", ""},
      {"a normal tensor name", "global_step"},
      {"starts with num(1)", Bytes({0x01, 0x01, 0x61, 0x00, 0x01, 0x00})},
      {"bad escape in name", Bytes({0x00, 0x61, 0x00, 0x02, 0x00})},
      {"unterminated name", Bytes({0x00, 0x61, 0x62})},
      {"rank 255", rank255},
      {"trailing byte", good + "x"},
      {"negative start", Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0x01, 0x7f, 0x82})},
      {"length -2", Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0x01, 0x80, 0x7e})},
      {"full extent with start 3", Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0x01, 0x83, 0x7f})},
      {"rank 2 with one extent", Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0x02, 0x80, 0x7f})},
      {"start + length overflows int64",
       Bytes({0x00, 0x61, 0x00, 0x01, 0x01, 0x01, 0xbf, 0xff, 0xc0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
  };
  for (const auto& [what, key] : bad) {
    INFO(what);
    CHECK_FALSE(DecodeTensorNameSlice(key));
  }
  // Every truncation of a valid key.
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("first " << n << " bytes");
    CHECK_FALSE(DecodeTensorNameSlice(std::string_view(good).substr(0, n)));
  }
}

TEST_CASE("DecodeTensorNameSlice: random garbage never crashes", "[bundle][ordered_code]") {
  std::mt19937_64 rng(2024);
  const std::string good = EncodeTensorNameSlice("w", TensorSlice::Parse("0,3:-:7,1"));
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    if (i % 2 == 0) {
      key = good;
      for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
        key[rng() % key.size()] = static_cast<char>(rng());
      }
    } else {
      key.resize(rng() % 24);
      for (char& c : key) c = static_cast<char>(rng() % 4 == 0 ? 0x00 : rng());
    }
    // A heap copy of exactly the key's size, so ASan catches any read past the end.
    const std::vector<char> heap(key.begin(), key.end());
    const auto d = DecodeTensorNameSlice(std::string_view(heap.data(), heap.size()));
    if (d) {
      ++decoded;
      REQUIRE(EncodeTensorNameSlice(d->first, d->second) == key);  // decoding is exact
    }
  }
  CHECK(decoded > 0);
}
