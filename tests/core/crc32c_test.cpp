// CRC-32C: published check values (RFC 3720 appendix B.4, the iSCSI vectors;
// spec section 2), masking, extension, and the hardware path against the
// portable one.
#include "warmstart/core/crc32c.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

namespace crc32c = warmstart::core::crc32c;
using warmstart::core::ByteView;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// The public entry point and both implementations must agree on every vector.
void RequireCrc(const std::vector<uint8_t>& data, uint32_t expected) {
  REQUIRE(crc32c::Value(data.data(), data.size()) == expected);
  REQUIRE(crc32c::Value(ByteView(data.data(), data.size())) == expected);
  REQUIRE(crc32c::detail::ExtendPortable(0, data.data(), data.size()) == expected);
  if (crc32c::HardwareAccelerated()) {
    REQUIRE(crc32c::detail::ExtendHardware(0, data.data(), data.size()) == expected);
  }
}

}  // namespace

TEST_CASE("crc32c: RFC 3720 iSCSI vectors", "[crc32c]") {
  SECTION("32 zero bytes") { RequireCrc(std::vector<uint8_t>(32, 0x00), 0x8a9136aa); }
  SECTION("32 bytes 0xff") { RequireCrc(std::vector<uint8_t>(32, 0xff), 0x62a8ab43); }
  SECTION("ascending 0x00..0x1f") {
    std::vector<uint8_t> v(32);
    for (int i = 0; i < 32; ++i) v[i] = static_cast<uint8_t>(i);
    RequireCrc(v, 0x46dd794e);
  }
  SECTION("descending 0x1f..0x00") {
    std::vector<uint8_t> v(32);
    for (int i = 0; i < 32; ++i) v[i] = static_cast<uint8_t>(31 - i);
    RequireCrc(v, 0x113fdb5c);
  }
  SECTION("iSCSI read command PDU") {
    const std::vector<uint8_t> pdu = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    REQUIRE(pdu.size() == 48);
    RequireCrc(pdu, 0xd9963a56);
  }
}

TEST_CASE("crc32c: check value and empty input", "[crc32c]") {
  const std::string check = "123456789";
  RequireCrc(std::vector<uint8_t>(check.begin(), check.end()), 0xe3069283);
  RequireCrc({}, 0);
  REQUIRE(crc32c::Value(nullptr, 0) == 0);
  REQUIRE(crc32c::Value(ByteView()) == 0);
  REQUIRE(crc32c::Extend(0x12345678, nullptr, 0) == 0x12345678);
}

TEST_CASE("crc32c: mask and unmask", "[crc32c]") {
  static_assert(crc32c::Mask(0) == 0xa282ead8, "usable in constant expressions");
  REQUIRE(crc32c::Mask(0) == 0xa282ead8);
  REQUIRE(crc32c::Mask(0x12345678) == 0x4f730f40);
  REQUIRE(crc32c::Unmask(0xa282ead8) == 0);
  REQUIRE(crc32c::Unmask(0x4f730f40) == 0x12345678);

  std::mt19937 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t x = static_cast<uint32_t>(rng());
    REQUIRE(crc32c::Unmask(crc32c::Mask(x)) == x);
    REQUIRE(crc32c::Mask(crc32c::Unmask(x)) == x);
  }
  for (uint32_t x : {0u, 1u, 0x7fffu, 0x8000u, 0xffffffffu}) {
    REQUIRE(crc32c::Unmask(crc32c::Mask(x)) == x);
  }
  // A mask of a mask is not the identity: masking twice is a real change.
  REQUIRE(crc32c::Mask(crc32c::Mask(0x12345678)) != 0x12345678);
}

TEST_CASE("crc32c: Extend in pieces equals the whole", "[crc32c]") {
  const std::vector<uint8_t> data = RandomBytes(1000, 1);
  const uint32_t whole = crc32c::Value(data.data(), data.size());

  SECTION("two pieces, every split") {
    for (size_t split = 0; split <= data.size(); ++split) {
      const uint32_t a = crc32c::Value(data.data(), split);
      REQUIRE(crc32c::Extend(a, data.data() + split, data.size() - split) == whole);
      const uint32_t pa = crc32c::detail::ExtendPortable(0, data.data(), split);
      REQUIRE(crc32c::detail::ExtendPortable(pa, data.data() + split, data.size() - split) ==
              whole);
    }
  }
  SECTION("many small pieces") {
    std::mt19937 rng(2);
    uint32_t crc = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(rng() % 40, data.size() - pos);
      crc = crc32c::Extend(crc, ByteView(data.data() + pos, n));
      pos += n;
    }
    REQUIRE(crc == whole);
  }
}

TEST_CASE("crc32c: register arithmetic used to merge streams", "[crc32c]") {
  namespace d = crc32c::detail;
  std::mt19937 rng(3);
  SECTION("x^0 is the multiplicative identity") {
    for (int i = 0; i < 100; ++i) {
      const uint32_t a = static_cast<uint32_t>(rng());
      REQUIRE(d::MultiplyModP(0x80000000u, a) == a);
      REQUIRE(d::MultiplyModP(a, 0x80000000u) == a);
    }
    REQUIRE(d::XPowBytes(0) == 0x80000000u);
  }
  SECTION("a shift table equals feeding zero bytes") {
    const std::vector<uint8_t> zeros(d::kLongStride, 0);
    for (int i = 0; i < 50; ++i) {
      const uint32_t r = static_cast<uint32_t>(rng());
      // ExtendPortable inverts on the way in and out; undo that to get the register.
      REQUIRE(d::kShiftShort.Apply(r) == ~d::ExtendPortable(~r, zeros.data(), d::kShortStride));
      REQUIRE(d::kShiftLong.Apply(r) == ~d::ExtendPortable(~r, zeros.data(), d::kLongStride));
    }
  }
}

TEST_CASE("crc32c: hardware path equals portable path", "[crc32c]") {
  if (!crc32c::HardwareAccelerated()) {
    WARN("no crc32 instruction on this machine; hardware path not compared");
    return;
  }
  namespace d = crc32c::detail;
  const std::vector<uint8_t> data = RandomBytes(200000, 4);
  std::mt19937 rng(5);

  SECTION("every length 0..300 at every misalignment 0..7") {
    for (size_t misalign = 0; misalign < 8; ++misalign) {
      for (size_t n = 0; n <= 300; ++n) {
        const uint8_t* p = data.data() + misalign;
        const uint32_t seed = static_cast<uint32_t>(rng());
        REQUIRE(d::ExtendHardware(0, p, n) == d::ExtendPortable(0, p, n));
        REQUIRE(d::ExtendHardware(seed, p, n) == d::ExtendPortable(seed, p, n));
      }
    }
  }
  SECTION("lengths around the three-stream block sizes") {
    const size_t blocks[] = {3 * d::kShortStride, 3 * d::kLongStride};
    for (size_t block : blocks) {
      for (size_t k = 1; k <= 3; ++k) {
        for (size_t n = k * block - 17; n <= k * block + 17; ++n) {
          for (size_t misalign = 0; misalign < 8; ++misalign) {
            const uint8_t* p = data.data() + misalign;
            REQUIRE(d::ExtendHardware(0, p, n) == d::ExtendPortable(0, p, n));
          }
        }
      }
    }
  }
  SECTION("random lengths and offsets") {
    for (int i = 0; i < 300; ++i) {
      const size_t offset = rng() % 1000;
      const size_t n = rng() % (data.size() - offset);
      const uint32_t seed = static_cast<uint32_t>(rng());
      const uint8_t* p = data.data() + offset;
      REQUIRE(d::ExtendHardware(seed, p, n) == d::ExtendPortable(seed, p, n));
    }
  }
}
