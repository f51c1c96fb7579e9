// What every `warmstart` subcommand shares: exit codes, the usage error, how names and
// diagnostics are shown, and aligned text tables.
//
// Exit codes (the contract other tools rely on):
//   0  success
//   1  invalid or corrupt input: any warmstart::Error, or any other exception
//   2  usage error: bad flags, missing PATH, conflicting flags
// Errors are printed to stderr as one line: "warmstart: error: <message>".
#pragma once

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <warmstart/bundle/checkpoint.hpp>

namespace warmstart::cli {

enum ExitCode : int { kExitOk = 0, kExitBadInput = 1, kExitUsage = 2 };

// Thrown for a command line that parses but makes no sense (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

// Length of the valid UTF-8 sequence at s[i], or 0 when there is none (Unicode 15, table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF).
inline size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b >= 0xc2 && b <= 0xdf) {
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
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

inline void AppendHexByte(std::string* out, unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[c >> 4];
  *out += kHex[c & 15];
}

}  // namespace detail

inline bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = detail::Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// A tensor name as text for a terminal: valid UTF-8 as it is; control bytes, DEL and bytes
// that are not UTF-8 (slice keys, corrupt names) as \xNN. TF's names never need escaping.
inline std::string DisplayName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    const size_t n = detail::Utf8SequenceLength(name, i);
    const auto c = static_cast<unsigned char>(name[i]);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      detail::AppendHexByte(&out, c);
      ++i;
    } else {
      out.append(name, i, n);
      i += n;
    }
  }
  return out;
}

// Columns a DisplayName() text takes: one per code point.
inline size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xc0) != 0x80 ? 1 : 0;
  return width;
}

// A message on one line: line breaks and other control characters become \xNN.
inline std::string OneLine(std::string_view message) {
  std::string out;
  for (unsigned char c : message) {
    if (c < 0x20 && c != '\t') {
      detail::AppendHexByte(&out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

inline void PrintError(std::ostream& err, std::string_view message) {
  err << "warmstart: error: " << OneLine(message) << std::endl;
}

// How the path was resolved (notes) and what the reader tolerated (warnings).
inline void PrintDiagnostics(const bundle::Checkpoint& checkpoint, std::ostream& err) {
  for (const std::string& note : checkpoint.notes()) err << "note: " << OneLine(note) << "\n";
  for (const std::string& warning : checkpoint.warnings()) err << "warning: " << OneLine(warning) << "\n";
  err.flush();
}

// Rows of cells printed in columns two spaces apart; the last column is not padded.
class Table {
 public:
  void AddRow(std::vector<std::string> cells) {
    if (cells.size() > widths_.size()) widths_.resize(cells.size(), 0);
    for (size_t i = 0; i < cells.size(); ++i) widths_[i] = std::max(widths_[i], DisplayWidth(cells[i]));
    rows_.push_back(std::move(cells));
  }

  void Print(std::ostream& out) const {
    for (const std::vector<std::string>& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(widths_[i] - DisplayWidth(row[i]) + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<size_t> widths_;
};

}  // namespace warmstart::cli
