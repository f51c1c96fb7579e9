// What the interop writers (safetensors.hpp, npy.hpp) take: the list of tensors first, so
// that a header can be written before any data, then each tensor's bytes on request.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "warmstart/core/text.hpp"
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
inline bool IsUtf8(std::string_view s) { return core::IsValidUtf8(s); }

// n * m, or false when it overflows uint64.
inline bool MultiplyChecked(uint64_t n, uint64_t m, uint64_t* out) {
  if (m != 0 && n > UINT64_MAX / m) return false;
  *out = n * m;
  return true;
}

}  // namespace detail
}  // namespace warmstart::interop
