// Bounded byte decoding: a non-owning view, and a cursor that never reads past its end.
//
// Encodings (all little-endian, as in leveldb util/coding.h and protobuf):
//   fixed32   4 bytes, least significant first
//   fixed64   8 bytes, least significant first
//   varint    7 payload bits per byte, low group first, high bit = "more follows";
//             varint32 at most 5 bytes, varint64 at most 10 bytes
//
// Every read checks the remaining length first; an overrun throws FormatError
// naming the file and the absolute byte offset where the read started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "warmstart/error.hpp"

namespace warmstart::core {

// A non-owning, read-only run of bytes.
class ByteView {
 public:
  constexpr ByteView() = default;
  constexpr ByteView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  ByteView(const char* data, size_t size)
      : data_(reinterpret_cast<const uint8_t*>(data)), size_(size) {}
  explicit ByteView(std::string_view s) : ByteView(s.data(), s.size()) {}

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t operator[](size_t i) const { return data_[i]; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }

  // Requires: offset + n <= size() (checked by callers through Cursor or Contains).
  ByteView Sub(size_t offset, size_t n) const { return ByteView(data_ + offset, n); }
  bool Contains(uint64_t offset, uint64_t n) const {
    return offset <= size_ && n <= size_ - offset;
  }
  std::string_view AsStringView() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  std::string ToString() const { return std::string(AsStringView()); }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

inline uint32_t DecodeFixed32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline uint64_t DecodeFixed64(const uint8_t* p) {
  return static_cast<uint64_t>(DecodeFixed32(p)) |
         (static_cast<uint64_t>(DecodeFixed32(p + 4)) << 32);
}

inline void EncodeFixed32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void EncodeFixed64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void PutFixed32(std::string* out, uint32_t v) {
  uint8_t b[4];
  EncodeFixed32(b, v);
  out->append(reinterpret_cast<const char*>(b), 4);
}

inline void PutFixed64(std::string* out, uint64_t v) {
  uint8_t b[8];
  EncodeFixed64(b, v);
  out->append(reinterpret_cast<const char*>(b), 8);
}

inline void PutVarint64(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// A forward-only reader over a ByteView. `context` names the file (and key) for
// errors; `base_offset` is the absolute offset of bytes[0] in that file.
// Requires: *context outlives the cursor.
class Cursor {
 public:
  Cursor(ByteView bytes, const ErrorContext& context, uint64_t base_offset = 0)
      : bytes_(bytes), context_(&context), base_(base_offset) {}

  size_t position() const { return pos_; }
  uint64_t absolute_offset() const { return base_ + pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool empty() const { return pos_ == bytes_.size(); }
  const ErrorContext& context() const { return *context_; }

  uint8_t ReadByte(const char* what) {
    Need(1, what);
    return bytes_[pos_++];
  }

  uint32_t ReadFixed32(const char* what) {
    Need(4, what);
    uint32_t v = DecodeFixed32(bytes_.data() + pos_);
    pos_ += 4;
    return v;
  }

  uint64_t ReadFixed64(const char* what) {
    Need(8, what);
    uint64_t v = DecodeFixed64(bytes_.data() + pos_);
    pos_ += 8;
    return v;
  }

  uint64_t ReadVarint64(const char* what) { return ReadVarint(10, what); }

  uint32_t ReadVarint32(const char* what) {
    return static_cast<uint32_t>(ReadVarint(5, what));
  }

  ByteView ReadBytes(uint64_t n, const char* what) {
    Need(n, what);
    ByteView v = bytes_.Sub(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return v;
  }

  void Skip(uint64_t n, const char* what) { ReadBytes(n, what); }

  [[noreturn]] void Fail(const std::string& what) const { FailAt(pos_, what); }
  [[noreturn]] void FailAt(size_t pos, const std::string& what) const {
    throw FormatError(context_->WithOffset(base_ + pos), what);
  }

 private:
  void Need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      Fail(std::string("truncated ") + what + ": need " + std::to_string(n) +
           " bytes, " + std::to_string(remaining()) + " left");
    }
  }

  // Bytes beyond 32 (resp. 64) bits are dropped like protobuf does for varint32;
  // a varint longer than max_bytes is an error.
  uint64_t ReadVarint(int max_bytes, const char* what) {
    uint64_t result = 0;
    const size_t start = pos_;
    for (int i = 0; i < max_bytes; ++i) {
      if (pos_ >= bytes_.size()) FailAt(start, std::string("truncated varint in ") + what);
      const uint8_t b = bytes_[pos_++];
      if (i < 10) result |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) return result;
    }
    FailAt(start, std::string("varint too long in ") + what);
  }

  ByteView bytes_;
  const ErrorContext* context_;
  uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace warmstart::core
