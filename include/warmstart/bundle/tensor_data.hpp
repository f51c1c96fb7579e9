// Tensor payloads in data files (tensorflow/core/util/tensor_bundle/tensor_bundle.cc).
//
// Fixed-size types: the elements row-major, each in the producer's byte order;
//   crc32c = mask(crc32c(payload)).
// DT_STRING (WriteStringTensor / ReadStringTensor):
//   varint64 len_0 .. len_{n-1} || fixed32 L || bytes_0 || .. || bytes_{n-1}
//   c = crc over each length as uint32 (uint64 if > 0xffffffff) in producer byte order;
//   L = mask(c) in producer byte order; c is then extended over L's 4 stored bytes
//   and over all element bytes; entry crc32c = mask(c).
// DT_VARIANT (WriteVariantTensor / ReadVariantTensor), per element, row-major:
//   varint64 len || bytes[len] (a serialized VariantTensorDataProto) || fixed32 K
//   c is extended over len as an 8-byte integer (producer byte order), then over the
//   bytes; K = mask(c); then c is extended over K's 4 stored bytes. crc32c = mask(c).
// Encode/Decode of strings sit side by side; byte swapping and sub-block copies
// serve every fixed-size dtype.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/error.hpp"

namespace warmstart::bundle {

using core::ByteView;

namespace detail {

inline void ExtendLength(uint32_t* crc, uint64_t len, bool big_endian) {
  uint8_t b[8];
  const int width = len <= 0xffffffffull ? 4 : 8;
  for (int i = 0; i < width; ++i) {
    const int shift = 8 * (big_endian ? width - 1 - i : i);
    b[i] = static_cast<uint8_t>(len >> shift);
  }
  *crc = core::crc32c::Extend(*crc, b, static_cast<size_t>(width));
}

inline uint32_t LoadU32(const uint8_t* p, bool big_endian) {
  const uint32_t v = core::DecodeFixed32(p);
  return big_endian ? __builtin_bswap32(v) : v;
}

}  // namespace detail

struct StringTensor {
  std::vector<ByteView> elements;  // point into the payload
  uint32_t masked_crc32c = 0;      // computed over the payload as TF does
};

namespace detail {

// Reads the length varints and the length checksum L (checked) of a string payload.
// Returns the running crc after L; stores each length in *lengths when given, and the
// sum of the lengths (capped just past the payload size) in *total.
inline uint32_t ReadStringLengths(core::Cursor* in, int64_t num_elements, bool big_endian,
                                  std::vector<uint64_t>* lengths, uint64_t* total) {
  const uint64_t size = in->remaining();
  if (num_elements < 0 || static_cast<uint64_t>(num_elements) > size) {
    in->Fail("string tensor of " + std::to_string(num_elements) + " elements cannot fit in " +
             std::to_string(size) + " bytes");
  }
  uint32_t crc = 0;
  *total = 0;
  for (int64_t i = 0; i < num_elements; ++i) {
    const uint64_t len = in->ReadVarint64("string tensor length");
    ExtendLength(&crc, len, big_endian);
    if (lengths) lengths->push_back(len);
    *total = std::min<uint64_t>(*total + std::min<uint64_t>(len, size), size + 1);  // no overflow
  }
  const size_t l_pos = in->position();
  const ByteView stored_l = in->ReadBytes(4, "string tensor length checksum");
  const uint32_t l = LoadU32(stored_l.data(), big_endian);
  if (core::crc32c::Unmask(l) != crc) {
    in->FailAt(l_pos, "string tensor length checksum mismatch (stored 0x" + warmstart::detail::Hex32(l) +
                          ", computed 0x" + warmstart::detail::Hex32(core::crc32c::Mask(crc)) + ")");
  }
  return core::crc32c::Extend(crc, stored_l.data(), 4);
}

}  // namespace detail

// Requires: ctx names the data file and key; base = payload's offset in the file.
inline StringTensor DecodeStringTensor(ByteView payload, int64_t num_elements, bool big_endian,
                                       const ErrorContext& ctx, uint64_t base) {
  StringTensor out;
  if (payload.empty() && num_elements == 0) {  // TF's reader: nothing to read, crc of nothing
    out.masked_crc32c = core::crc32c::Mask(0);
    return out;
  }
  core::Cursor in(payload, ctx, base);
  std::vector<uint64_t> lengths;
  uint64_t total = 0;
  uint32_t crc = detail::ReadStringLengths(&in, num_elements, big_endian, &lengths, &total);
  out.elements.reserve(lengths.size());
  for (uint64_t len : lengths) {
    const ByteView s = in.ReadBytes(len, "string tensor element");
    crc = core::crc32c::Extend(crc, s.data(), s.size());
    out.elements.push_back(s);
  }
  out.masked_crc32c = core::crc32c::Mask(crc);
  return out;
}

// The masked crc of a DT_STRING payload, computed as DecodeStringTensor does but
// without keeping the elements (verification of huge string tensors allocates nothing):
// the element bytes are contiguous, so one pass over them suffices.
inline uint32_t StringTensorChecksum(ByteView payload, int64_t num_elements, bool big_endian,
                                     const ErrorContext& ctx, uint64_t base) {
  if (payload.empty() && num_elements == 0) return core::crc32c::Mask(0);
  core::Cursor in(payload, ctx, base);
  uint64_t total = 0;
  const uint32_t crc = detail::ReadStringLengths(&in, num_elements, big_endian, nullptr, &total);
  const ByteView bytes = in.ReadBytes(total, "string tensor element");
  return core::crc32c::Mask(core::crc32c::Extend(crc, bytes.data(), bytes.size()));
}

// Appends the payload of a little-endian string tensor to *out; returns its masked crc.
inline uint32_t EncodeStringTensor(const std::vector<std::string_view>& elements, std::string* out) {
  uint32_t crc = 0;
  for (std::string_view s : elements) {
    core::PutVarint64(out, s.size());
    detail::ExtendLength(&crc, s.size(), false);
  }
  uint8_t l[4];
  core::EncodeFixed32(l, core::crc32c::Mask(crc));
  out->append(reinterpret_cast<const char*>(l), 4);
  crc = core::crc32c::Extend(crc, l, 4);
  for (std::string_view s : elements) {
    out->append(s.data(), s.size());
    crc = core::crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  return core::crc32c::Mask(crc);
}

// Checks every element checksum of a DT_VARIANT payload; returns the entry's masked crc.
// The elements themselves are opaque to warmstart.
inline uint32_t VariantTensorChecksum(ByteView payload, int64_t num_elements, bool big_endian,
                                      const ErrorContext& ctx, uint64_t base) {
  core::Cursor in(payload, ctx, base);
  if (num_elements < 0 || static_cast<uint64_t>(num_elements) > payload.size()) {
    in.Fail("variant tensor of " + std::to_string(num_elements) + " elements cannot fit in " +
            std::to_string(payload.size()) + " bytes");
  }
  uint32_t crc = 0;
  for (int64_t i = 0; i < num_elements; ++i) {
    const uint64_t len = in.ReadVarint64("variant element length");
    uint8_t b[8];
    for (int k = 0; k < 8; ++k) b[k] = static_cast<uint8_t>(len >> (8 * (big_endian ? 7 - k : k)));
    crc = core::crc32c::Extend(crc, b, 8);
    const ByteView bytes = in.ReadBytes(len, "variant element");
    crc = core::crc32c::Extend(crc, bytes.data(), bytes.size());
    const size_t k_pos = in.position();
    const ByteView stored_k = in.ReadBytes(4, "variant element checksum");
    const uint32_t k = detail::LoadU32(stored_k.data(), big_endian);
    if (core::crc32c::Unmask(k) != crc) {
      in.FailAt(k_pos, "variant element " + std::to_string(i) + " checksum mismatch (stored 0x" +
                           warmstart::detail::Hex32(k) + ", computed 0x" +
                           warmstart::detail::Hex32(core::crc32c::Mask(crc)) + ")");
    }
    crc = core::crc32c::Extend(crc, stored_k.data(), 4);
  }
  return core::crc32c::Mask(crc);
}

// Reverses the bytes of each `unit`-byte group in place (big-endian payloads).
inline void SwapBytes(uint8_t* data, size_t size, int unit) {
  if (unit <= 1) return;
  for (size_t i = 0; i + static_cast<size_t>(unit) <= size; i += static_cast<size_t>(unit)) {
    std::reverse(data + i, data + i + unit);
  }
}

// Copies the elements of `region` (a slice of a tensor of shape `src_shape` whose
// row-major bytes are at src) into dst at position `dst_origin` of a row-major
// tensor of shape `dst_shape`. Region, origins and shapes must be consistent:
//   Requires: region fits src_shape; dst_origin + region extent fits dst_shape.
inline void CopyRegion(const uint8_t* src, const TensorShape& src_shape, const std::vector<int64_t>& src_origin,
                       uint8_t* dst, const TensorShape& dst_shape, const std::vector<int64_t>& dst_origin,
                       const std::vector<int64_t>& extent, size_t elem_size) {
  const int rank = src_shape.rank();
  if (rank == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  for (int64_t e : extent) {
    if (e == 0) return;
  }
  // Row-major strides in elements.
  std::vector<int64_t> src_stride(static_cast<size_t>(rank), 1), dst_stride(static_cast<size_t>(rank), 1);
  for (int i = rank - 2; i >= 0; --i) {
    src_stride[i] = src_stride[i + 1] * src_shape.dim(i + 1);
    dst_stride[i] = dst_stride[i + 1] * dst_shape.dim(i + 1);
  }
  const size_t run = static_cast<size_t>(extent[rank - 1]) * elem_size;
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);  // odometer over all dims but the last
  while (true) {
    int64_t s = 0, d = 0;
    for (int i = 0; i < rank; ++i) {
      s += (src_origin[i] + idx[i]) * src_stride[i];
      d += (dst_origin[i] + idx[i]) * dst_stride[i];
    }
    std::memcpy(dst + static_cast<size_t>(d) * elem_size, src + static_cast<size_t>(s) * elem_size, run);
    int i = rank - 2;
    for (; i >= 0; --i) {
      if (++idx[i] < extent[i]) break;
      idx[i] = 0;
    }
    if (i < 0) return;
  }
}

}  // namespace warmstart::bundle
