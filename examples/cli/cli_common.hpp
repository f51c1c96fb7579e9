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
#include <warmstart/core/text.hpp>

namespace warmstart::cli {

enum ExitCode : int { kExitOk = 0, kExitBadInput = 1, kExitUsage = 2 };

// Thrown for a command line that parses but makes no sense (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

inline void AppendHexByte(std::string* out, unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  *out += "\\x";
  *out += kHex[c >> 4];
  *out += kHex[c & 15];
}

}  // namespace detail

using core::IsValidUtf8;

// A tensor name as text for a terminal: valid UTF-8 as it is; control bytes, DEL and bytes
// that are not UTF-8 (slice keys, corrupt names) as \xNN. TF's names never need escaping.
inline std::string DisplayName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    const size_t n = core::Utf8SequenceLength(name, i);
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
