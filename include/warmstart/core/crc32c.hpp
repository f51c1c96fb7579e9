// CRC-32C (Castagnoli), the checksum of every TensorFlow checkpoint bundle.
//
// Parameters (spec section 2.1; tensorflow/core/lib/hash/crc32c.h, now
// third_party/xla/xla/tsl/lib/hash/crc32c.h):
//
//   polynomial   P = 0x1EDC6F41, bit-reflected 0x82F63B78
//   register     32 bits, starts at 0xFFFFFFFF, result is register xor 0xFFFFFFFF
//   bit order    reflected: bit 0 of each byte enters first, and bit i of the
//                register holds the coefficient of x^(31-i)
//   check        Value("123456789") = 0xE3069283, Value("") = 0
//
// Extend continues a finished CRC over more bytes:
//
//   Value(A || B) == Extend(Value(A), B),   Value(A) == Extend(0, A)
//
// Stored CRCs are masked (spec section 2.2) so that a CRC over data that
// itself contains CRCs stays well distributed:
//
//   Mask(c)   = rotate_right_32(c, 15) + 0xA282EAD8      (mod 2^32)
//   Unmask(m) = rotate_left_32(m - 0xA282EAD8, 15)
//
// Two implementations compute the same register:
//
//   detail::ExtendPortable  slicing-by-8: eight 256-entry tables built at
//                           compile time, 8 input bytes per step
//   detail::ExtendHardware  the crc32 instruction, 8 bytes per step: x86-64
//                           SSE4.2 (detected at run time) or ARMv8 CRC32
//                           (when the compiler targets it); three interleaved
//                           streams merged with zero-shift tables, see
//                           "Combining streams" below
//
// Extend picks the hardware path when HardwareAccelerated().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "warmstart/core/bytes.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define WARMSTART_CRC32C_X86 1
#include <nmmintrin.h>
#elif defined(__ARM_FEATURE_CRC32) && (defined(__GNUC__) || defined(__clang__))
#define WARMSTART_CRC32C_ARM 1
#include <arm_acle.h>
#endif

namespace warmstart::core::crc32c {

inline constexpr uint32_t kMaskDelta = 0xA282EAD8u;

// Requires: c is a finished CRC (the value stored next to the data it covers).
inline constexpr uint32_t Mask(uint32_t c) { return ((c >> 15) | (c << 17)) + kMaskDelta; }

inline constexpr uint32_t Unmask(uint32_t masked) {
  const uint32_t r = masked - kMaskDelta;
  return (r >> 17) | (r << 15);
}

namespace detail {

inline constexpr uint32_t kPolyReflected = 0x82F63B78u;

// ---------------------------------------------------------------------------
// Register arithmetic
//
// Below, "register" means the raw 32-bit state, without the initial and final
// inversion. Feeding m message bits M to register r computes
//
//   r' = (r * x^m + M * x^32) mod P
//
// which is linear in (r, M). Hence, for messages A and B,
//
//   Raw(r, A || B) = Shift(Raw(r, A), |B|) xor Raw(0, B),
//   Shift(r, n)    = r * x^(8n) mod P     (r followed by n zero bytes)

// Requires: a and b in register form (bit i = coefficient of x^(31-i)).
inline constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int degree = 0; degree < 32; ++degree) {
    if (a & (0x80000000u >> degree)) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolyReflected : b >> 1;  // b *= x
  }
  return product;
}

// x^(8 * n_bytes) mod P, by square-and-multiply.
inline constexpr uint32_t XPowBytes(uint64_t n_bytes) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t square = 0x00800000u;  // x^8
  for (; n_bytes != 0; n_bytes >>= 1) {
    if (n_bytes & 1) result = MultiplyModP(result, square);
    square = MultiplyModP(square, square);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Portable path: slicing-by-8
//
// table[k][b] is the register after byte b followed by k zero bytes, starting
// from register 0. Eight input bytes d0..d7 (d0 first) update register r as
//
//   lo = r xor LE32(d0..d3),  hi = LE32(d4..d7)
//   r' = table[7][lo byte 0] ^ table[6][lo byte 1] ^ table[5][lo byte 2] ^ table[4][lo byte 3]
//      ^ table[3][hi byte 0] ^ table[2][hi byte 1] ^ table[1][hi byte 2] ^ table[0][hi byte 3]

struct SliceTables {
  uint32_t table[8][256] = {};
};

inline constexpr SliceTables BuildSliceTables() {
  SliceTables t;
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = (r & 1) ? (r >> 1) ^ kPolyReflected : r >> 1;
    t.table[0][b] = r;
  }
  for (int k = 1; k < 8; ++k) {
    for (int b = 0; b < 256; ++b) {
      const uint32_t prev = t.table[k - 1][b];
      t.table[k][b] = (prev >> 8) ^ t.table[0][prev & 0xff];
    }
  }
  return t;
}

inline constexpr SliceTables kSliceTables = BuildSliceTables();

inline uint32_t StepByte(uint32_t r, uint8_t byte) {
  return (r >> 8) ^ kSliceTables.table[0][(r ^ byte) & 0xff];
}

inline uint32_t StepEight(uint32_t r, const uint8_t* p) {
  const auto& t = kSliceTables.table;
  const uint32_t lo = r ^ DecodeFixed32(p);
  const uint32_t hi = DecodeFixed32(p + 4);
  return t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
         t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
}

inline uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n) {
  uint32_t r = ~crc;
  for (; n >= 8; n -= 8, data += 8) r = StepEight(r, data);
  for (; n > 0; --n, ++data) r = StepByte(r, *data);
  return ~r;
}

// ---------------------------------------------------------------------------
// Combining streams
//
// The crc32 instruction has a latency of about 3 cycles but can start one per
// cycle, so a single dependent chain uses a third of it. The hardware paths
// split a block into three equal parts A, B, C of `stride` bytes, run three
// chains side by side (A from the incoming register, B and C from 0) and merge:
//
//   Raw(r, A || B || C) = Shift(Shift(Raw(r, A), stride) ^ Raw(0, B), stride) ^ Raw(0, C)
//
// Shift by a fixed byte count is linear in the register, so it is four table
// lookups, one per register byte: table[i][b] = (b << 8i) * x^(8 * stride) mod P.
// Each table is linear in b too: only the eight single-bit entries need a
// multiplication, the others are XORs of them (which keeps compile time low).

struct ZeroShift {
  uint32_t table[4][256] = {};

  uint32_t Apply(uint32_t r) const {
    return table[0][r & 0xff] ^ table[1][(r >> 8) & 0xff] ^ table[2][(r >> 16) & 0xff] ^
           table[3][r >> 24];
  }
};

inline constexpr ZeroShift BuildZeroShift(uint64_t n_bytes) {
  ZeroShift s;
  const uint32_t factor = XPowBytes(n_bytes);
  for (int i = 0; i < 4; ++i) {
    for (uint32_t b = 1; b < 256; ++b) {
      const uint32_t low_bit = b & (~b + 1);
      s.table[i][b] = (b == low_bit) ? MultiplyModP(b << (8 * i), factor)
                                     : s.table[i][b ^ low_bit] ^ s.table[i][low_bit];
    }
  }
  return s;
}

// Two block sizes: long blocks for bulk data, short ones so that inputs of a
// few KiB (index blocks, small tensors) also run three chains.
inline constexpr size_t kLongStride = 4096;
inline constexpr size_t kShortStride = 256;
inline constexpr ZeroShift kShiftLong = BuildZeroShift(kLongStride);
inline constexpr ZeroShift kShiftShort = BuildZeroShift(kShortStride);

inline uint32_t Merge3(uint32_t a, uint32_t b, uint32_t c, const ZeroShift& shift) {
  return shift.Apply(shift.Apply(a) ^ b) ^ c;
}

// ---------------------------------------------------------------------------
// Hardware paths

#if defined(WARMSTART_CRC32C_X86)

inline uint64_t LoadHost64(const uint8_t* p) {  // x86 is little-endian
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Requires: stride % 8 == 0; p holds 3 * stride bytes.
__attribute__((target("sse4.2"))) inline uint32_t X86Block3(uint32_t r, const uint8_t* p,
                                                             size_t stride,
                                                             const ZeroShift& shift) {
  uint64_t a = r, b = 0, c = 0;
  const uint8_t* pb = p + stride;
  const uint8_t* pc = p + 2 * stride;
  for (size_t i = 0; i < stride; i += 8) {
    a = _mm_crc32_u64(a, LoadHost64(p + i));
    b = _mm_crc32_u64(b, LoadHost64(pb + i));
    c = _mm_crc32_u64(c, LoadHost64(pc + i));
  }
  return Merge3(static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(c),
                shift);
}

// Requires: the CPU supports SSE4.2 (HardwareAccelerated()).
__attribute__((target("sse4.2"))) inline uint32_t ExtendHardware(uint32_t crc,
                                                                  const uint8_t* data, size_t n) {
  uint32_t r = ~crc;
  for (; n > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0; --n, ++data) {
    r = _mm_crc32_u8(r, *data);
  }
  for (; n >= 3 * kLongStride; n -= 3 * kLongStride, data += 3 * kLongStride) {
    r = X86Block3(r, data, kLongStride, kShiftLong);
  }
  for (; n >= 3 * kShortStride; n -= 3 * kShortStride, data += 3 * kShortStride) {
    r = X86Block3(r, data, kShortStride, kShiftShort);
  }
  for (; n >= 8; n -= 8, data += 8) {
    r = static_cast<uint32_t>(_mm_crc32_u64(r, LoadHost64(data)));
  }
  for (; n > 0; --n, ++data) r = _mm_crc32_u8(r, *data);
  return ~r;
}

inline bool DetectHardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}

#elif defined(WARMSTART_CRC32C_ARM)

// Requires: stride % 8 == 0; p holds 3 * stride bytes.
inline uint32_t ArmBlock3(uint32_t r, const uint8_t* p, size_t stride, const ZeroShift& shift) {
  uint32_t a = r, b = 0, c = 0;
  const uint8_t* pb = p + stride;
  const uint8_t* pc = p + 2 * stride;
  for (size_t i = 0; i < stride; i += 8) {
    a = __crc32cd(a, DecodeFixed64(p + i));
    b = __crc32cd(b, DecodeFixed64(pb + i));
    c = __crc32cd(c, DecodeFixed64(pc + i));
  }
  return Merge3(a, b, c, shift);
}

inline uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t n) {
  uint32_t r = ~crc;
  for (; n > 0 && (reinterpret_cast<uintptr_t>(data) & 7) != 0; --n, ++data) {
    r = __crc32cb(r, *data);
  }
  for (; n >= 3 * kLongStride; n -= 3 * kLongStride, data += 3 * kLongStride) {
    r = ArmBlock3(r, data, kLongStride, kShiftLong);
  }
  for (; n >= 3 * kShortStride; n -= 3 * kShortStride, data += 3 * kShortStride) {
    r = ArmBlock3(r, data, kShortStride, kShiftShort);
  }
  for (; n >= 8; n -= 8, data += 8) r = __crc32cd(r, DecodeFixed64(data));
  for (; n > 0; --n, ++data) r = __crc32cb(r, *data);
  return ~r;
}

inline bool DetectHardware() { return true; }  // the compiler was told the CPU has it

#else

// No hardware path on this platform: same results, portable speed.
inline uint32_t ExtendHardware(uint32_t crc, const uint8_t* data, size_t n) {
  return ExtendPortable(crc, data, n);
}

inline bool DetectHardware() { return false; }

#endif

}  // namespace detail

// Whether Extend uses the crc32 instruction. Detected once.
inline bool HardwareAccelerated() {
  static const bool has_hardware = detail::DetectHardware();
  return has_hardware;
}

inline uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n) {
  return HardwareAccelerated() ? detail::ExtendHardware(crc, data, n)
                               : detail::ExtendPortable(crc, data, n);
}

inline uint32_t Extend(uint32_t crc, ByteView data) {
  return Extend(crc, data.data(), data.size());
}

inline uint32_t Value(const uint8_t* data, size_t n) { return Extend(0, data, n); }

inline uint32_t Value(ByteView data) { return Value(data.data(), data.size()); }

}  // namespace warmstart::core::crc32c

#undef WARMSTART_CRC32C_X86
#undef WARMSTART_CRC32C_ARM
