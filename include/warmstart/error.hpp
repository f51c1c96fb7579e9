// The exception family of warmstart.
//
// Every error thrown by the library derives from warmstart::Error (itself a
// std::runtime_error). The kinds are few on purpose:
//
//   IoError        the operating system refused (open, stat, mmap, read, rename)
//   FormatError    bytes on disk are not what the format says (corrupt, truncated,
//                  unsupported); carries file, key and byte offset where known
//   NotFoundError  a name that is not in the checkpoint (or file that is absent)
//   ArgumentError  the caller asked for something impossible (wrong dtype, bad slice)
//
// Messages are built in one place (Context::Format) so that every error reads
//   "<file>: key '<key>': offset <n>: <what>"
// with the parts that are unknown left out; text inputs read "<file>:<line>:<column>: <what>".
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace warmstart {

// Where an error happened. All parts are optional.
struct ErrorContext {
  std::string file;
  std::optional<std::string> key;
  std::optional<uint64_t> offset;
  std::optional<int> line;  // text inputs: 1-based line and column
  std::optional<int> column;

  ErrorContext() = default;
  explicit ErrorContext(std::string f) : file(std::move(f)) {}
  ErrorContext(std::string f, uint64_t off) : file(std::move(f)), offset(off) {}

  ErrorContext WithKey(std::string k) const {
    ErrorContext c = *this;
    c.key = std::move(k);
    return c;
  }
  ErrorContext WithOffset(uint64_t off) const {
    ErrorContext c = *this;
    c.offset = off;
    return c;
  }
  ErrorContext WithLineColumn(int l, int col) const {
    ErrorContext c = *this;
    c.line = l;
    c.column = col;
    return c;
  }
};

namespace detail {

// Keys may be binary (slice keys start with 0x00): print them escaped.
inline std::string PrintableKey(const std::string& key) {
  std::string out;
  for (unsigned char ch : key) {
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
      out += static_cast<char>(ch);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

// Eight lowercase hex digits, for checksums in messages.
inline std::string Hex32(uint32_t v) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) out[i] = kHex[v & 15];
  return out;
}

inline std::string FormatMessage(const ErrorContext& ctx, const std::string& what) {
  std::ostringstream os;
  if (ctx.line) {
    // Text inputs: the compiler-style "file:line:column: " prefix.
    if (!ctx.file.empty()) os << ctx.file << ":";
    os << *ctx.line << ":" << ctx.column.value_or(0) << ": ";
  } else if (!ctx.file.empty()) {
    os << ctx.file << ": ";
  }
  if (ctx.key) os << "key '" << PrintableKey(*ctx.key) << "': ";
  if (ctx.offset) os << "offset " << *ctx.offset << ": ";
  os << what;
  return os.str();
}

}  // namespace detail

class Error : public std::runtime_error {
 public:
  Error(ErrorContext ctx, const std::string& what)
      : std::runtime_error(detail::FormatMessage(ctx, what)),
        context_(std::move(ctx)),
        what_only_(what) {}

  const ErrorContext& context() const noexcept { return context_; }
  // The message without the file/key/offset prefix.
  const std::string& reason() const noexcept { return what_only_; }

 private:
  ErrorContext context_;
  std::string what_only_;
};

class IoError : public Error {
 public:
  using Error::Error;
};

class FormatError : public Error {
 public:
  using Error::Error;
};

class NotFoundError : public Error {
 public:
  using Error::Error;
};

class ArgumentError : public Error {
 public:
  using Error::Error;
  explicit ArgumentError(const std::string& what) : Error(ErrorContext(), what) {}
};

}  // namespace warmstart
