// Protobuf text format, the lexical layer: tokens with line:column, string escapes,
// number literals. Mirrors google/protobuf/io/tokenizer.cc as text_format.cc drives it
// (comments with '#', floats may end in 'f'); see docs/config.md for where we differ.
//
//   token      = identifier | integer | float | string | symbol
//   identifier = [A-Za-z_] [A-Za-z0-9_]*
//   integer    = "0" [xX] hex+ | "0" octal* | [1-9] digit*          (no sign: '-' is a symbol)
//   float      = ( digit+ "." digit* | "." digit+ ) [ exponent ] [ fF ]
//              | digit+ exponent [ fF ] | digit+ [ fF ]
//   exponent   = [eE] [+-] digit+
//   string     = '"' { char | escape } '"' | "'" { char | escape } "'"   (no raw newline)
//   escape     = \a \b \f \n \r \t \v \\ \? \' \"
//              | \ octal{1,3} (<= \377) | \x hex{1,2} | \u hex{4} | \U hex{8}  (code points to UTF-8)
//   symbol     = one of { } < > [ ] : , ; - / .
//   comment    = "#" to the end of the line; spaces, tabs, \r \n \v \f separate tokens
//
// A number must not run into a letter, digit, '_' or '.' ("1x", "1.2.3" are errors).
// Positions are 1-based; columns count bytes (a tab is one column).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "warmstart/core/text.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

// Where a token or value starts: 1-based line and column, 0-based byte offset.
// line == 0 means "not from a file" (made by the program).
struct Position {
  int line = 0;
  int column = 0;
  size_t offset = 0;

  bool known() const { return line > 0; }
  std::string ToString() const { return std::to_string(line) + ":" + std::to_string(column); }
};

// A byte range [begin, end) of the source text; unknown for values made by the program.
struct Span {
  static constexpr size_t kNone = static_cast<size_t>(-1);
  size_t begin = kNone;
  size_t end = kNone;

  bool known() const { return begin != kNone; }
};

enum class TokenKind { kEnd, kIdentifier, kInteger, kFloat, kString, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;    // as written; a string keeps its quotes and escapes
  std::string value;   // kString: the decoded bytes
  Position position;   // of the first byte
  size_t end = 0;      // offset one past the last byte

  bool Is(char symbol) const { return kind == TokenKind::kSymbol && text.size() == 1 && text[0] == symbol; }
};

namespace detail {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
inline bool IsAlnum(char c) { return IsLetter(c) || IsDigit(c); }
inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  const char l = AsciiLower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool IsIdentifier(std::string_view s) {
  if (s.empty() || !IsLetter(s[0])) return false;
  for (const char c : s) {
    if (!IsAlnum(c)) return false;
  }
  return true;
}

// "inf", "infinity", "nan" in any case: the identifiers text_format reads as floats.
inline bool IsNonFiniteWord(std::string_view s) {
  return EqualsIgnoreCase(s, "inf") || EqualsIgnoreCase(s, "infinity") || EqualsIgnoreCase(s, "nan");
}

// The spellings text_format accepts for a bool field (besides the integers 0 and 1).
inline std::optional<bool> BoolWord(std::string_view s) {
  if (s == "true" || s == "True" || s == "t") return true;
  if (s == "false" || s == "False" || s == "f") return false;
  return std::nullopt;
}

// A byte for an error message: 'x' when printable, else 0x01.
inline std::string DescribeByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x20 && b < 0x7f) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", b);
  return hex;
}

inline std::string DescribeToken(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "end of input";
  std::string shown = t.text.size() <= 40 ? t.text : t.text.substr(0, 40) + "...";
  if (t.kind == TokenKind::kString) return "string " + shown;
  return "'" + shown + "'";
}

using core::QuoteString;  // protobuf's CEscape, in double quotes

inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xc0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xe0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out += static_cast<char>(0xf0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// ---- integer and float literals ---------------------------------------------------------

// An integer literal ("-0x1F", "017", "42") read exactly; overflow is kept as a flag.
struct IntegerLiteral {
  bool negative = false;
  uint64_t magnitude = 0;
  bool overflow = false;  // the magnitude does not fit in 64 bits
};

// Requires nothing; nullopt when `text` is not [-] integer (see the grammar above).
inline std::optional<IntegerLiteral> ParseIntegerLiteral(std::string_view text) {
  IntegerLiteral lit;
  if (!text.empty() && text[0] == '-') {
    lit.negative = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  int base = 10;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
    if (text.empty()) return std::nullopt;
  } else if (text.size() >= 2 && text[0] == '0') {
    base = 8;
  }
  for (const char c : text) {
    const int d = base == 16 ? HexValue(c) : (IsDigit(c) ? c - '0' : -1);
    if (d < 0 || d >= base) return std::nullopt;
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    if (lit.magnitude > (max - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) lit.overflow = true;
    lit.magnitude = lit.magnitude * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return lit;
}

// A float or decimal-integer literal as a double, correctly rounded and
// locale-independent; "inf"/"nan" words too; a trailing f/F is ignored; magnitudes
// beyond double become +-inf like strtod. nullopt when `text` is none of those.
inline std::optional<double> ParseFloatLiteral(std::string_view text) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (IsNonFiniteWord(text)) {
    const double v = AsciiLower(text[0]) == 'n' ? std::numeric_limits<double>::quiet_NaN()
                                                 : std::numeric_limits<double>::infinity();
    return negative ? -v : v;
  }
  if (!text.empty() && (text.back() == 'f' || text.back() == 'F')) text.remove_suffix(1);
  if (text.empty() || text[0] == '+' || text[0] == '-') return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (ptr != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Too large: inf; too small: zero (strtod's answers). Tell them apart by the exponent sign.
    const size_t e = text.find_first_of("eE");
    const bool tiny = e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-';
    v = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc()) {
    return std::nullopt;
  }
  return negative ? -v : v;
}

}  // namespace detail

// Splits text into tokens. Peek() looks at the next token, Next() takes it.
// Every error is a FormatError "<file>:<line>:<column>: <what>".
class TextLexer {
 public:
  TextLexer(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

  const Token& Peek() {
    if (!peeked_) {
      current_ = Lex();
      peeked_ = true;
    }
    return current_;
  }
  Token Next() {
    Peek();
    peeked_ = false;
    return std::move(current_);
  }

  const std::string& file() const { return file_; }
  std::string_view text() const { return text_; }

  [[noreturn]] void Fail(const Position& at, const std::string& what) const {
    throw FormatError(ErrorContext(file_).WithLineColumn(at.line, at.column), what);
  }

 private:
  Position Here() const { return Position{line_, column_, pos_}; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Current() const { return text_[pos_]; }
  char At(size_t i) const { return pos_ + i < text_.size() ? text_[pos_ + i] : '\0'; }

  void Advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++pos_;
  }

  void SkipSpaceAndComments() {
    while (!AtEnd()) {
      const char c = Current();
      if (c == '#') {
        while (!AtEnd() && Current() != '\n') Advance();
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        Advance();
      } else {
        return;
      }
    }
  }

  Token Finish(TokenKind kind, const Position& start) const {
    Token t;
    t.kind = kind;
    t.text = std::string(text_.substr(start.offset, pos_ - start.offset));
    t.position = start;
    t.end = pos_;
    return t;
  }

  Token Lex() {
    SkipSpaceAndComments();
    const Position start = Here();
    if (AtEnd()) return Finish(TokenKind::kEnd, start);
    const char c = Current();
    if (IsLetterChar(c)) {
      while (!AtEnd() && detail::IsAlnum(Current())) Advance();
      return Finish(TokenKind::kIdentifier, start);
    }
    if (detail::IsDigit(c) || (c == '.' && detail::IsDigit(At(1)))) return LexNumber(start);
    if (c == '"' || c == '\'') return LexString(start);
    if (std::string_view("{}<>[]:,;-/.").find(c) != std::string_view::npos) {
      Advance();
      return Finish(TokenKind::kSymbol, start);
    }
    Fail(start, "unexpected character " + detail::DescribeByte(c));
  }

  static bool IsLetterChar(char c) { return detail::IsLetter(c); }

  void SkipDigits(int base) {
    while (!AtEnd()) {
      const char c = Current();
      const bool ok = base == 16 ? detail::HexValue(c) >= 0 : (detail::IsDigit(c) && c - '0' < base);
      if (!ok) return;
      Advance();
    }
  }

  // Requires: at a digit, or at '.' followed by a digit.
  Token LexNumber(const Position& start) {
    TokenKind kind = TokenKind::kInteger;
    if (Current() == '0' && (At(1) == 'x' || At(1) == 'X')) {
      Advance();
      Advance();
      if (AtEnd() || detail::HexValue(Current()) < 0) Fail(start, "'0x' must be followed by hex digits");
      SkipDigits(16);
    } else if (Current() == '0' && detail::IsDigit(At(1))) {
      SkipDigits(8);
      if (!AtEnd() && detail::IsDigit(Current())) {
        Fail(Here(), "a number starting with '0' is octal, and " + detail::DescribeByte(Current()) +
                         " is not an octal digit");
      }
    } else {
      SkipDigits(10);
      if (!AtEnd() && Current() == '.') {
        kind = TokenKind::kFloat;
        Advance();
        SkipDigits(10);
      }
      if (!AtEnd() && (Current() == 'e' || Current() == 'E')) {
        kind = TokenKind::kFloat;
        Advance();
        if (!AtEnd() && (Current() == '+' || Current() == '-')) Advance();
        if (AtEnd() || !detail::IsDigit(Current())) Fail(Here(), "exponent 'e' must be followed by digits");
        SkipDigits(10);
      }
      if (!AtEnd() && (Current() == 'f' || Current() == 'F')) {
        kind = TokenKind::kFloat;
        Advance();
      }
    }
    if (!AtEnd() && (detail::IsAlnum(Current()) || Current() == '.')) {
      Fail(Here(), "unexpected character " + detail::DescribeByte(Current()) + " right after the number '" +
                       std::string(text_.substr(start.offset, pos_ - start.offset)) + "'");
    }
    return Finish(kind, start);
  }

  // Requires: at the opening quote.
  Token LexString(const Position& start) {
    const char quote = Current();
    Advance();
    std::string value;
    while (true) {
      if (AtEnd()) Fail(start, std::string("unterminated string: no closing ") + quote + " before the end of input");
      const char c = Current();
      if (c == '\n') Fail(start, std::string("unterminated string: no closing ") + quote + " on this line");
      if (c == quote) break;
      if (c == '\\') {
        LexEscape(&value);
      } else {
        value += c;
        Advance();
      }
    }
    Advance();
    Token t = Finish(TokenKind::kString, start);
    t.value = std::move(value);
    return t;
  }

  // Up to `max` digits of `base` (at least `min`); -1 when fewer than `min`.
  int64_t ReadDigits(int base, int min, int max) {
    int64_t v = 0;
    int n = 0;
    for (; n < max && !AtEnd(); ++n) {
      const char c = Current();
      const int d = base == 16 ? detail::HexValue(c) : (c >= '0' && c <= '7' ? c - '0' : -1);
      if (d < 0) break;
      v = v * base + d;
      Advance();
    }
    return n < min ? -1 : v;
  }

  // Requires: at a backslash inside a string.
  void LexEscape(std::string* value) {
    const Position at = Here();
    Advance();
    if (AtEnd() || Current() == '\n') Fail(at, "backslash at the end of a line inside a string");
    const char e = Current();
    static constexpr std::string_view kFrom = "abfnrtv\\?'\"";
    static constexpr std::string_view kTo = "\a\b\f\n\r\t\v\\?'\"";
    if (const size_t k = kFrom.find(e); k != std::string_view::npos) {
      *value += kTo[k];
      Advance();
    } else if (e >= '0' && e <= '7') {
      const int64_t v = ReadDigits(8, 1, 3);
      if (v > 0377) Fail(at, "octal escape '\\" + std::string(text_.substr(at.offset + 1, 3)) + "' is above \\377");
      *value += static_cast<char>(v);
    } else if (e == 'x') {
      Advance();
      const int64_t v = ReadDigits(16, 1, 2);
      if (v < 0) Fail(at, "escape '\\x' must be followed by one or two hex digits");
      *value += static_cast<char>(v);
    } else if (e == 'u' || e == 'U') {
      LexUnicodeEscape(at, value);
    } else {
      const std::string shown = detail::DescribeByte(e);
      Fail(at, "invalid escape sequence " + (shown[0] == '\'' ? "'\\" + shown.substr(1) : "'\\' followed by " + shown));
    }
  }

  // \uXXXX (a UTF-16 surrogate pair as two escapes) or \UXXXXXXXX, written as UTF-8.
  // Requires: at the 'u' or 'U' of the escape that starts at `at`.
  void LexUnicodeEscape(const Position& at, std::string* value) {
    const int digits = Current() == 'u' ? 4 : 8;
    Advance();
    const int64_t cp = ReadDigits(16, digits, digits);
    if (cp < 0) {
      Fail(at, std::string("escape '\\") + (digits == 4 ? "u" : "U") + "' must be followed by " +
                   std::to_string(digits) + " hex digits");
    }
    uint32_t code = static_cast<uint32_t>(cp);
    if (cp > 0x10ffff) Fail(at, "unicode escape above U+10FFFF");
    if (code >= 0xdc00 && code <= 0xdfff) Fail(at, "unicode escape is a lone low surrogate");
    if (code >= 0xd800 && code <= 0xdbff) {
      const bool pair_follows = At(0) == '\\' && At(1) == 'u';
      if (!pair_follows) Fail(at, "unicode escape is a high surrogate without a following \\u low surrogate");
      Advance();
      Advance();
      const int64_t low = ReadDigits(16, 4, 4);
      if (low < 0xdc00 || low > 0xdfff) Fail(at, "unicode escape is a high surrogate without a following \\u low surrogate");
      code = 0x10000 + ((code - 0xd800) << 10) + (static_cast<uint32_t>(low) - 0xdc00);
    }
    detail::AppendUtf8(code, value);
  }

  std::string_view text_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  Token current_;
  bool peeked_ = false;
};

}  // namespace warmstart::config
