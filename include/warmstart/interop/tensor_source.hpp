// What the interop writers (safetensors.hpp, npy.hpp) take: the list of tensors first, so
// that a header can be written before any data, then each tensor's bytes on request.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"

namespace warmstart::interop {

struct TensorSpec {
  std::string name;
  bundle::DataType dtype = bundle::DataType::kInvalid;
  bundle::TensorShape shape;

  uint64_t num_bytes() const {
    return static_cast<uint64_t>(shape.num_elements()) * static_cast<uint64_t>(bundle::DataTypeSize(dtype));
  }
};

// Returns the little-endian, row-major bytes of tensors[index] (num_bytes() of them): a view
// that stays valid until the next call, into *scratch or into memory the caller owns.
using FetchBytes = std::function<core::ByteView(size_t index, std::vector<uint8_t>* scratch)>;

namespace detail {

// Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): what both formats
// require of names (JSON strings; zip names flagged UTF-8).
inline bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (b == 0xe0) lo = 0xa0;
      if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (b == 0xf0) lo = 0x90;
      if (b == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf)) return false;
    }
    i += n;
  }
  return true;
}

// n * m, or false when it overflows uint64.
inline bool MultiplyChecked(uint64_t n, uint64_t m, uint64_t* out) {
  if (m != 0 && n > UINT64_MAX / m) return false;
  *out = n * m;
  return true;
}

}  // namespace detail
}  // namespace warmstart::interop
