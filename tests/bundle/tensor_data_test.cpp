// Tensor payload helpers: the DT_STRING layout of spec 6.3 (examples, round trips, and
// errors), SwapBytes, and CopyRegion against a slow element-by-element reference on
// random shapes and regions of rank 0..4 (STYLE habit 9).
#include "warmstart/bundle/tensor_data.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fixtures.hpp"

namespace {

using namespace warmstart::bundle;
using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::test::Hex;
using warmstart::test::Says;
using warmstart::test::ToHex;

std::string Encode(const std::vector<std::string_view>& elements, uint32_t* crc = nullptr) {
  std::string out;
  const uint32_t c = EncodeStringTensor(elements, &out);
  if (crc != nullptr) *crc = c;
  return out;
}

StringTensor Decode(const std::string& payload, int64_t n, bool big_endian = false, uint64_t base = 100) {
  static const ErrorContext ctx = ErrorContext("d").WithKey("s");
  return DecodeStringTensor(ByteView(payload.data(), payload.size()), n, big_endian, ctx, base);
}

std::vector<std::string> Strings(const StringTensor& t) {
  std::vector<std::string> out;
  for (const ByteView& v : t.elements) out.push_back(v.ToString());
  return out;
}

// ---- the slow reference for CopyRegion ----

// Row-major linear index of `idx` in `shape`.
int64_t Linear(const std::vector<int64_t>& idx, const std::vector<int64_t>& shape) {
  int64_t l = 0;
  for (size_t i = 0; i < shape.size(); ++i) l = l * shape[i] + idx[i];
  return l;
}

// Visits every index of the box `extent`, one element at a time.
void NaiveCopy(const std::vector<uint8_t>& src, const std::vector<int64_t>& src_shape,
               const std::vector<int64_t>& src_origin, std::vector<uint8_t>* dst, const std::vector<int64_t>& dst_shape,
               const std::vector<int64_t>& dst_origin, const std::vector<int64_t>& extent, size_t elem) {
  int64_t total = 1;
  for (int64_t e : extent) total *= e;
  std::vector<int64_t> idx(extent.size(), 0), s(extent.size()), d(extent.size());
  for (int64_t k = 0; k < total; ++k) {
    int64_t rest = k;
    for (size_t i = extent.size(); i-- > 0;) {
      idx[i] = rest % extent[i];
      rest /= extent[i];
    }
    for (size_t i = 0; i < extent.size(); ++i) {
      s[i] = src_origin[i] + idx[i];
      d[i] = dst_origin[i] + idx[i];
    }
    const size_t from = static_cast<size_t>(Linear(s, src_shape)) * elem;
    const size_t to = static_cast<size_t>(Linear(d, dst_shape)) * elem;
    for (size_t b = 0; b < elem; ++b) (*dst)[to + b] = src[from + b];
  }
}

}  // namespace

TEST_CASE("tensor data: spec 6.3 string examples", "[bundle][tensor_data][string]") {
  uint32_t crc = 0;
  CHECK(ToHex(Encode({"only"}, &crc)) == "04 62 51 eb 96 6f 6e 6c 79");
  CHECK(crc == 0x11878e4fu);
  CHECK(ToHex(Encode({"ab", ""})) == "02 00 78 27 0b 34 61 62");
  CHECK(ToHex(Encode({}, &crc)) == "d8 ea 82 a2");
  CHECK(crc == 0x640cc1f6u);  // mask(crc32c(d8 ea 82 a2)): the CRC runs over L even with no elements
  const std::string payload = Hex("04 62 51 eb 96 6f 6e 6c 79");
  const StringTensor only = Decode(payload, 1);  // elements point into payload
  CHECK(Strings(only) == std::vector<std::string>{"only"});
  CHECK(only.masked_crc32c == 0x11878e4fu);
}

TEST_CASE("tensor data: EncodeStringTensor appends and agrees with the fixture's encoder", "[bundle][tensor_data][string]") {
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> elements(rng() % 6);
    for (std::string& s : elements) {
      s.resize(rng() % 3 == 0 ? rng() % 400 : rng() % 5);
      for (char& c : s) c = static_cast<char>(rng());
    }
    std::vector<std::string_view> views(elements.begin(), elements.end());
    std::string out = "prefix";
    const uint32_t crc = EncodeStringTensor(views, &out);
    REQUIRE(out.substr(0, 6) == "prefix");
    const std::string payload = out.substr(6);
    uint32_t ref_crc = 0;
    CHECK(payload == warmstart::test::StringPayload(elements, false, &ref_crc));
    CHECK(crc == ref_crc);
    const StringTensor back = Decode(payload, static_cast<int64_t>(elements.size()));
    CHECK(Strings(back) == elements);
    CHECK(back.masked_crc32c == crc);
    // Elements point into the payload: zero copy.
    for (const ByteView& v : back.elements) {
      if (!v.empty()) CHECK((v.data() >= reinterpret_cast<const uint8_t*>(payload.data()) &&
                             v.data() + v.size() <= reinterpret_cast<const uint8_t*>(payload.data()) + payload.size()));
    }
  }
}

TEST_CASE("tensor data: big-endian string payloads", "[bundle][tensor_data][string][endian]") {
  uint32_t crc = 0;
  const std::vector<std::string> elements = {"big", std::string(300, 'x'), ""};
  const std::string be = warmstart::test::StringPayload(elements, true, &crc);
  const StringTensor t = Decode(be, 3, true);
  CHECK(Strings(t) == elements);
  CHECK(t.masked_crc32c == crc);
  CHECK_THROWS_MATCHES(Decode(be, 3, false), FormatError,
                       Says("d: key 's': offset 104: string tensor length checksum mismatch"));
}

TEST_CASE("tensor data: DecodeStringTensor errors", "[bundle][tensor_data][string]") {
  const std::string only = Hex("04 62 51 eb 96 6f 6e 6c 79");
  // A flipped length checksum byte, at payload offset 1 (file offset 101).
  std::string bad_l = only;
  bad_l[4] = '\x97';
  CHECK_THROWS_MATCHES(Decode(bad_l, 1), FormatError,
                       Says("d: key 's': offset 101: string tensor length checksum mismatch (stored 0x97eb5162, "
                            "computed 0x96eb5162)"));
  // A flipped length: the checksum over the lengths no longer matches.
  std::string bad_len = only;
  bad_len[0] = '\x05';
  CHECK_THROWS_MATCHES(Decode(bad_len, 1), FormatError, Says("offset 101: string tensor length checksum mismatch"));
  // Truncations.
  CHECK_THROWS_MATCHES(Decode(only.substr(0, 3), 1), FormatError,
                       Says("offset 101: truncated string tensor length checksum: need 4 bytes, 2 left"));
  CHECK_THROWS_MATCHES(Decode(only.substr(0, 7), 1), FormatError,
                       Says("offset 105: truncated string tensor element: need 4 bytes, 2 left"));
  CHECK_THROWS_MATCHES(Decode(Hex("84"), 1), FormatError,
                       Says("offset 100: truncated varint in string tensor length"));
  // More elements than bytes: refused before any allocation.
  CHECK_THROWS_MATCHES(Decode(only, 10), FormatError,
                       Says("offset 100: string tensor of 10 elements cannot fit in 9 bytes"));
  CHECK_THROWS_MATCHES(Decode(only, int64_t{1} << 60), FormatError, Says("cannot fit in 9 bytes"));
  CHECK_THROWS_MATCHES(Decode(only, -1), FormatError, Says("string tensor of -1 elements cannot fit"));
  // Extra bytes after the last element are ignored, as TF does (only size >= elements is checked).
  CHECK(Strings(Decode(only + "junk", 1)) == std::vector<std::string>{"only"});
  CHECK(Decode(only + "junk", 1).masked_crc32c == 0x11878e4fu);
}

TEST_CASE("tensor data: SwapBytes", "[bundle][tensor_data][endian]") {
  std::string b = Hex("01 02 03 04 05 06 07 08 09");
  auto swap = [](std::string s, int unit) {
    SwapBytes(reinterpret_cast<uint8_t*>(s.data()), s.size(), unit);
    return ToHex(s);
  };
  CHECK(swap(b, 1) == "01 02 03 04 05 06 07 08 09");
  CHECK(swap(b, 0) == "01 02 03 04 05 06 07 08 09");
  CHECK(swap(b, 2) == "02 01 04 03 06 05 08 07 09");  // a trailing partial unit is left alone
  CHECK(swap(b, 4) == "04 03 02 01 08 07 06 05 09");
  CHECK(swap(b, 8) == "08 07 06 05 04 03 02 01 09");
  CHECK(swap(Hex("00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"), 16) ==
        "0f 0e 0d 0c 0b 0a 09 08 07 06 05 04 03 02 01 00");
  // Complex numbers swap per component: SwapUnit(complex64) = 4.
  CHECK(SwapUnit(DataType::kComplex64) == 4);
  CHECK(SwapUnit(DataType::kComplex128) == 8);
  CHECK(SwapUnit(DataType::kHalf) == 2);
  CHECK(SwapUnit(DataType::kBool) == 1);
  // Twice is the identity.
  std::string twice = b;
  SwapBytes(reinterpret_cast<uint8_t*>(twice.data()), twice.size(), 4);
  SwapBytes(reinterpret_cast<uint8_t*>(twice.data()), twice.size(), 4);
  CHECK(twice == b);
}

TEST_CASE("tensor data: CopyRegion, hand-checked cases", "[bundle][tensor_data][copy]") {
  // Rows 1..3, columns 2..4 of a [5,6] tensor of bytes 0..29.
  std::vector<uint8_t> src(30);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> dst(9, 0xff);
  CopyRegion(src.data(), TensorShape{5, 6}, {1, 2}, dst.data(), TensorShape{3, 3}, {0, 0}, {3, 3}, 1);
  CHECK(dst == std::vector<uint8_t>{8, 9, 10, 14, 15, 16, 20, 21, 22});
  // Into the middle of a larger destination, leaving the rest untouched.
  std::vector<uint8_t> big(16, 0xee);
  CopyRegion(src.data(), TensorShape{5, 6}, {0, 0}, big.data(), TensorShape{4, 4}, {1, 1}, {2, 2}, 1);
  CHECK(big == std::vector<uint8_t>{0xee, 0xee, 0xee, 0xee, 0xee, 0, 1, 0xee, 0xee, 6, 7, 0xee, 0xee, 0xee, 0xee, 0xee});
  // A scalar.
  const uint32_t one = 0x01020304;
  uint32_t out = 0;
  CopyRegion(reinterpret_cast<const uint8_t*>(&one), TensorShape{}, {}, reinterpret_cast<uint8_t*>(&out),
             TensorShape{}, {}, {}, 4);
  CHECK(out == one);
  // An empty region writes nothing.
  std::vector<uint8_t> none(4, 0xaa);
  CopyRegion(src.data(), TensorShape{5, 6}, {0, 0}, none.data(), TensorShape{2, 2}, {0, 0}, {0, 2}, 1);
  CHECK(none == std::vector<uint8_t>(4, 0xaa));
}

TEST_CASE("tensor data: CopyRegion agrees with the naive reference on random boxes", "[bundle][tensor_data][copy]") {
  std::mt19937 rng(1234);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int cases = 0;
  for (int round = 0; round < 2000; ++round) {
    const int rank = static_cast<int>(round % 5);
    const size_t elem = std::vector<size_t>{1, 2, 4, 8, 16}[static_cast<size_t>(uniform(0, 4))];
    std::vector<int64_t> src_shape, dst_shape, extent, src_origin, dst_origin;
    for (int i = 0; i < rank; ++i) {
      const int64_t e = uniform(round % 17 == 0 ? 0 : 1, 4);
      const int64_t s_pad = uniform(0, 3), d_pad = uniform(0, 3);
      extent.push_back(e);
      src_origin.push_back(uniform(0, s_pad));
      dst_origin.push_back(uniform(0, d_pad));
      src_shape.push_back(e + s_pad);
      dst_shape.push_back(e + d_pad);
    }
    int64_t src_n = 1, dst_n = 1;
    for (int i = 0; i < rank; ++i) {
      src_n *= src_shape[static_cast<size_t>(i)];
      dst_n *= dst_shape[static_cast<size_t>(i)];
    }
    std::vector<uint8_t> src(static_cast<size_t>(src_n) * elem);
    for (uint8_t& b : src) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> fast(static_cast<size_t>(dst_n) * elem), slow;
    for (uint8_t& b : fast) b = static_cast<uint8_t>(rng());
    slow = fast;
    CopyRegion(src.data(), TensorShape(src_shape), src_origin, fast.data(), TensorShape(dst_shape), dst_origin, extent,
               elem);
    NaiveCopy(src, src_shape, src_origin, &slow, dst_shape, dst_origin, extent, elem);
    INFO("round " << round << " rank " << rank << " elem " << elem);
    REQUIRE(fast == slow);
    ++cases;
  }
  CHECK(cases == 2000);
}
