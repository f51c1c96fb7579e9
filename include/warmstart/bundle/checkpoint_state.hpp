// The `checkpoint` state file beside a bundle: which prefixes a directory holds.
// Mirrors tensorflow/python/checkpoint/checkpoint_management.py (generate_checkpoint_state_proto,
// get_checkpoint_state) and tensorflow/python/training/checkpoint_state.proto (proto3):
//
//   message CheckpointState {
//     string model_checkpoint_path = 1;                     // newest prefix
//     repeated string all_model_checkpoint_paths = 2;       // oldest first; last == field 1
//     repeated double all_model_checkpoint_timestamps = 3;  // seconds since the epoch
//     double last_preserved_timestamp = 4;
//   }
//
// TF writes it with Python's text_format.MessageToString: one `name: value` line per
// value, fields in number order, proto3 zeros (empty string, 0.0) left out:
//
//   model_checkpoint_path: "ckpt-4"
//   all_model_checkpoint_paths: "ckpt-1"
//   all_model_checkpoint_paths: "ckpt-4"
//   all_model_checkpoint_timestamps: 1614096307.290289
//   all_model_checkpoint_timestamps: 1614101458.15835
//   last_preserved_timestamp: 1614096304.0404563
//
// Strings are double-quoted with \" \\ \' \n \r \t and every other byte outside 0x20..0x7e
// as \ooo (UTF-8 "é" is "\303\251"). Doubles print as Python's repr(float): the shortest
// decimal that reads back, fixed for 1e-4 <= |v| < 1e16 ("1614096304.0", "0.0001"),
// else with an exponent ("1e+16", "5e-05"); "inf", "-inf", "nan".
//
// TF reads it with text_format.Merge. The grammar we accept (that of Merge, for this
// one message):
//
//   file     = { field [ "," | ";" ] }
//   field    = name ":" value | name ":" "[" [ value { "," value } ] "]"
//   value    = string { string }                       adjacent literals concatenate
//            | number
//   string   = '"' { byte | escape } '"' | "'" { byte | escape } "'"   no raw newline inside
//   escape   = \" \' \\ \? \a \b \f \n \r \t \v | \ + 1-3 octal digits (<= \377)
//            | \x + 1-2 hex digits
//   number   = [+-] ( digits [ "." [digits] ] | "." digits ) [ (e|E) [+-] digits ] [ f|F ]
//            | [+-] ( inf | infinity | nan ) [ f|F ]   (case-insensitive)
//   comment  = "#" up to the end of the line; whitespace may separate any two tokens
//
// Fields may come in any order; a repeated singular field keeps its last value.
// Where we differ from TF (all lenient):
//   * an unknown field name makes TF ignore the whole file; we record the name in
//     unknown_fields and skip its value: `name: scalar`, `name: [...]`,
//     `name [:] { ... }` or `name [:] < ... >`;
//   * strings need not be valid UTF-8 (Python's parser rejects them).
// Paths resolve like POSIX os.path.join (TF's get_checkpoint_state): a path starting
// with '/' is kept, any other is appended to the directory.
// Errors say `<file>:<line>:<column>: <what>`, 1-based, columns counted in bytes.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/core/text.hpp"
#include "warmstart/error.hpp"

namespace warmstart::bundle {

struct CheckpointState {
  std::string model_checkpoint_path;
  std::vector<std::string> all_model_checkpoint_paths;
  std::vector<double> all_model_checkpoint_timestamps;
  double last_preserved_timestamp = 0;
  // Names of fields this library does not know, in order of first appearance (not
  // written back by FormatCheckpointState).
  std::vector<std::string> unknown_fields;

  friend bool operator==(const CheckpointState& a, const CheckpointState& b) {
    return a.model_checkpoint_path == b.model_checkpoint_path &&
           a.all_model_checkpoint_paths == b.all_model_checkpoint_paths &&
           a.all_model_checkpoint_timestamps == b.all_model_checkpoint_timestamps &&
           a.last_preserved_timestamp == b.last_preserved_timestamp &&
           a.unknown_fields == b.unknown_fields;
  }
  friend bool operator!=(const CheckpointState& a, const CheckpointState& b) { return !(a == b); }
};

// Helpers of this file only; named apart because other bundle headers share
// warmstart::bundle::detail.
namespace detail::checkpoint_state {

// ---- numbers --------------------------------------------------------------------------

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// True when `s` is digits [ "." [digits] ] | "." digits, then an optional exponent.
inline bool IsDecimalLiteral(std::string_view s) {
  size_t i = 0, int_digits = 0, frac_digits = 0;
  for (; i < s.size() && IsDigit(s[i]); ++i) ++int_digits;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && IsDigit(s[i]); ++i) ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Locale-independent, correctly rounded (strtod under the "C" locale); out-of-range
// magnitudes become +-inf like Python's float(). Requires: IsDecimalLiteral(s).
inline double DecimalToDouble(std::string_view s, bool negative) {
  std::istringstream is{std::string(s)};
  is.imbue(std::locale::classic());
  double v = 0;
  is >> v;
  if (is.fail()) v = std::numeric_limits<double>::infinity();  // overflow is the only failure left
  return negative ? -v : v;
}

// A number token as Python's text_format.ParseFloat reads it, or nullopt.
inline std::optional<double> ParseDouble(std::string_view text) {
  std::string_view s = text;
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const bool has_f = !s.empty() && (s.back() == 'f' || s.back() == 'F');
  for (const std::string_view body : {s, has_f ? s.substr(0, s.size() - 1) : s}) {
    if (IsDecimalLiteral(body)) return DecimalToDouble(body, negative);
    if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
      return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    }
    if (EqualsIgnoreCase(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  }
  return std::nullopt;
}

// Decimal digits and exponent of the first digit (a = d.ddd x 10^exponent).
struct Decimal {
  std::string digits;
  int exponent = 0;
};

// `a` correctly rounded to precision + 1 significant digits.
inline Decimal RoundedDecimal(double a, int precision) {
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << std::scientific << std::setprecision(precision) << a;
  const std::string text = os.str();  // "d.ddde+XX" or "de+XX"
  const size_t e = text.find('e');
  return Decimal{text.substr(0, 1) + (e > 2 ? text.substr(2, e - 2) : std::string()), std::stoi(text.substr(e + 1))};
}

// The next decimal of the same length upwards (9.99e0 -> 1.00e1).
inline Decimal NextDecimalUp(Decimal d) {
  size_t i = d.digits.size();
  while (i > 0 && d.digits[i - 1] == '9') d.digits[--i] = '0';
  if (i > 0) {
    ++d.digits[i - 1];
  } else {
    d.digits = "1" + d.digits.substr(0, d.digits.size() - 1);
    ++d.exponent;
  }
  return d;
}

inline bool ReadsBackAs(const Decimal& d, double a) {
  std::istringstream in(d.digits.substr(0, 1) + "." + d.digits.substr(1) + "e" + std::to_string(d.exponent));
  in.imbue(std::locale::classic());
  double parsed = 0;
  in >> parsed;  // fails (and gives DBL_MAX) when the text overflows
  return !in.fail() && parsed == a;
}

// The shortest decimal that reads back as a, the nearest one if several (what Python's
// repr prints). The nearest decimal of a length can miss where a shorter-than-usual
// gap below a power of two leaves only the one above inside. Requires: a finite, >= 0.
inline Decimal ShortestDecimal(double a) {
  for (int precision = 0; precision < 16; ++precision) {
    const Decimal nearest = RoundedDecimal(a, precision);
    if (ReadsBackAs(nearest, a)) return nearest;
    const Decimal up = NextDecimalUp(nearest);
    if (ReadsBackAs(up, a)) return up;
  }
  return RoundedDecimal(a, 16);  // 17 digits always read back
}

// Python's repr(float): fixed notation for 1e-4 <= |v| < 1e16, else d.ddde+XX.
inline std::string FormatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  Decimal d = ShortestDecimal(std::fabs(v));
  while (d.digits.size() > 1 && d.digits.back() == '0') d.digits.pop_back();
  const std::string& digits = d.digits;
  const int exponent = d.exponent;
  const int decpt = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  std::string out = std::signbit(v) ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    const std::string e = std::to_string(std::abs(exponent));
    return out + (exponent < 0 ? "e-" : "e+") + (e.size() < 2 ? "0" : "") + e;
  }
  if (decpt <= 0) return out + "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
  if (decpt < n) return out + digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
  return out + digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
}

// ---- strings ----------------------------------------------------------------------------

using core::QuoteString;  // text_format's CEscape

// ---- tokens -----------------------------------------------------------------------------

enum class TokenKind { kEnd, kWord, kString, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // kWord, kSymbol: as written; kString: the unescaped bytes
  size_t offset = 0;  // of the first byte in the file
};

inline bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '.' ||
         c == '+' || c == '-';
}

inline bool IsIdentifier(std::string_view s) {
  if (s.empty() || IsDigit(s[0])) return false;
  for (const char c : s) {
    if (!IsWordChar(c) || c == '.' || c == '+' || c == '-') return false;
  }
  return true;
}

inline std::string Describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::kEnd: return "end of input";
    case TokenKind::kString: return "a string";
    default: return "'" + (t.text.size() <= 40 ? t.text : t.text.substr(0, 40) + "...") + "'";
  }
}

inline std::string DescribeByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x20 && b < 0x7f) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", b);
  return hex;
}

// Splits the text into tokens, one at a time, and knows line:column of any offset.
class StateTokenizer {
 public:
  StateTokenizer(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  const Token& Peek() {
    if (!current_) current_ = Lex();
    return *current_;
  }
  Token Take() {
    Peek();
    Token t = std::move(*current_);
    current_.reset();
    return t;
  }
  bool LookingAt(const char* symbol) {
    return Peek().kind == TokenKind::kSymbol && Peek().text == symbol;
  }
  bool TryTake(const char* symbol) {
    if (!LookingAt(symbol)) return false;
    Take();
    return true;
  }

  // Throws FormatError "<file>:<line>:<column>: <what>" (1-based).
  [[noreturn]] void FailAt(size_t offset, const std::string& what) const {
    const auto [line, column] = Position(offset);
    throw FormatError(ErrorContext(file_).WithLineColumn(line, column), what);
  }
  // "<line>:<column>", 1-based.
  std::string LineColumn(size_t offset) const {
    const auto [line, column] = Position(offset);
    return std::to_string(line) + ":" + std::to_string(column);
  }
  std::pair<int, int> Position(size_t offset) const {
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return {line, static_cast<int>(offset - line_start + 1)};
  }

 private:
  void SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        ++pos_;
      } else {
        return;
      }
    }
  }

  Token Lex() {
    SkipSpaceAndComments();
    const size_t start = pos_;
    if (pos_ >= text_.size()) return Token{TokenKind::kEnd, "", start};
    const char c = text_[pos_];
    if (c == '"' || c == '\'') return LexString();
    if (IsWordChar(c)) {
      while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
      return Token{TokenKind::kWord, std::string(text_.substr(start, pos_ - start)), start};
    }
    if (std::string_view(":{}<>[],;").find(c) != std::string_view::npos) {
      ++pos_;
      return Token{TokenKind::kSymbol, std::string(1, c), start};
    }
    FailAt(start, "unexpected character " + DescribeByte(c));
  }

  // Requires: text_[pos_] is the opening quote.
  Token LexString() {
    const size_t start = pos_;
    const char quote = text_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') {
        FailAt(start, std::string("unterminated string: no closing ") + quote + " on this line");
      }
      const char c = text_[pos_];
      if (c == quote) break;
      if (c == '\\') {
        LexEscape(start, &value);
      } else {
        value += c;
        ++pos_;
      }
    }
    ++pos_;
    return Token{TokenKind::kString, std::move(value), start};
  }

  // Requires: text_[pos_] is a backslash inside the string opened at string_start.
  void LexEscape(size_t string_start, std::string* value) {
    const size_t at = pos_++;
    if (pos_ >= text_.size() || text_[pos_] == '\n') {
      FailAt(string_start, std::string("unterminated string: no closing ") + text_[string_start] + " on this line");
    }
    const char e = text_[pos_++];
    static constexpr std::string_view kFrom = "\"'\\?abfnrtv";
    static constexpr std::string_view kTo = "\"'\\?\a\b\f\n\r\t\v";
    if (const size_t k = kFrom.find(e); k != std::string_view::npos) {
      *value += kTo[k];
    } else if (e >= '0' && e <= '7') {
      *value += LexNumericEscape(at, e - '0', 8, 2);
    } else if (e == 'x' && pos_ < text_.size() && HexValue(text_[pos_]) >= 0) {
      *value += LexNumericEscape(at, HexValue(text_[pos_++]), 16, 1);
    } else if (e == 'x') {
      FailAt(at, "invalid escape sequence '\\x' in string: no hex digit follows");
    } else {
      const std::string shown = DescribeByte(e);  // 'q' or 0x01
      FailAt(at, "invalid escape sequence in string: " +
                     (shown[0] == '\'' ? "'\\" + shown.substr(1) : "backslash followed by " + shown));
    }
  }

  static int HexValue(char c) {
    if (IsDigit(c)) return c - '0';
    if (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'f') return AsciiLower(c) - 'a' + 10;
    return -1;
  }
  static int DigitValue(char c, int base) { return base == 16 ? HexValue(c) : (c >= '0' && c <= '7' ? c - '0' : -1); }

  // The byte of an octal (up to 3 digits) or hex (up to 2) escape whose first digit is read.
  char LexNumericEscape(size_t at, int value, int base, int more_digits) {
    for (int i = 0; i < more_digits && pos_ < text_.size() && DigitValue(text_[pos_], base) >= 0; ++i) {
      value = value * base + DigitValue(text_[pos_++], base);
    }
    if (value > 0xff) {
      FailAt(at, "octal escape '\\" + std::string(text_.substr(at + 1, pos_ - at - 1)) + "' is above \\377");
    }
    return static_cast<char>(value);
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  std::optional<Token> current_;
};

// ---- parser -----------------------------------------------------------------------------

class StateParser {
 public:
  StateParser(std::string_view text, const std::string& file) : in_(text, file) {}

  CheckpointState Parse() {
    while (in_.Peek().kind != TokenKind::kEnd) {
      ParseField();
      if (!in_.TryTake(",")) in_.TryTake(";");
    }
    return std::move(state_);
  }

 private:
  static constexpr int kMaxNesting = 100;

  void ParseField() {
    const std::string name = TakeFieldName();
    if (name == "model_checkpoint_path") {
      TakeColon(name);
      state_.model_checkpoint_path = TakeString(name);
    } else if (name == "all_model_checkpoint_paths") {
      TakeColon(name);
      TakeRepeated(name, [&] { state_.all_model_checkpoint_paths.push_back(TakeString(name)); });
    } else if (name == "all_model_checkpoint_timestamps") {
      TakeColon(name);
      TakeRepeated(name, [&] { state_.all_model_checkpoint_timestamps.push_back(TakeNumber(name)); });
    } else if (name == "last_preserved_timestamp") {
      TakeColon(name);
      state_.last_preserved_timestamp = TakeNumber(name);
    } else {
      RecordUnknown(name);
      SkipFieldContents(name, 0);
    }
  }

  std::string TakeFieldName() {
    const Token& t = in_.Peek();
    if (t.kind != TokenKind::kWord || !IsIdentifier(t.text)) {
      in_.FailAt(t.offset, "expected a field name, found " + Describe(t));
    }
    return in_.Take().text;
  }

  void TakeColon(const std::string& name) {
    if (!in_.TryTake(":")) {
      in_.FailAt(in_.Peek().offset, "expected ':' after field name '" + name + "', found " + Describe(in_.Peek()));
    }
  }

  // `value` or `[ value, ... ]`; take_one reads one value.
  template <class TakeOne>
  void TakeRepeated(const std::string& name, TakeOne take_one) {
    if (!in_.TryTake("[")) return take_one();
    if (in_.TryTake("]")) return;
    do {
      take_one();
    } while (in_.TryTake(","));
    if (!in_.TryTake("]")) {
      in_.FailAt(in_.Peek().offset, "expected ',' or ']' in the list of '" + name + "', found " + Describe(in_.Peek()));
    }
  }

  std::string TakeString(const std::string& name) {
    if (in_.Peek().kind != TokenKind::kString) {
      in_.FailAt(in_.Peek().offset, "expected a string for field '" + name + "', found " + Describe(in_.Peek()));
    }
    std::string value = in_.Take().text;
    while (in_.Peek().kind == TokenKind::kString) value += in_.Take().text;
    return value;
  }

  double TakeNumber(const std::string& name) {
    const Token& t = in_.Peek();
    std::optional<double> v;
    if (t.kind == TokenKind::kWord) v = ParseDouble(t.text);
    if (!v) in_.FailAt(t.offset, "expected a number for field '" + name + "', found " + Describe(t));
    in_.Take();
    return *v;
  }

  void RecordUnknown(const std::string& name) {
    for (const std::string& known : state_.unknown_fields) {
      if (known == name) return;
    }
    state_.unknown_fields.push_back(name);
  }

  // ---- skipping unknown fields (text_format's _SkipFieldContents) ----

  void SkipFieldContents(const std::string& name, int depth) {
    if (in_.TryTake(":") && !in_.LookingAt("{") && !in_.LookingAt("<")) {
      if (in_.LookingAt("[")) return SkipList(name, depth);
      return SkipScalar(name);
    }
    SkipMessage(name, depth);
  }

  void SkipMessage(const std::string& name, int depth) {
    const Token open = in_.Peek();
    if (!in_.TryTake("{") && !in_.TryTake("<")) {
      in_.FailAt(open.offset, "expected ':' or '{' after field name '" + name + "', found " + Describe(open));
    }
    if (depth >= kMaxNesting) in_.FailAt(open.offset, "messages nested more than 100 deep");
    const char* close = open.text == "{" ? "}" : ">";
    while (!in_.TryTake(close)) {
      if (in_.Peek().kind == TokenKind::kEnd) {
        in_.FailAt(in_.Peek().offset, std::string("expected '") + close + "' to close the value of '" + name +
                                          "' opened at " + in_.LineColumn(open.offset) + ", found end of input");
      }
      const std::string inner = TakeFieldName();
      SkipFieldContents(inner, depth + 1);
      if (!in_.TryTake(",")) in_.TryTake(";");
    }
  }

  void SkipList(const std::string& name, int depth) {
    TakeRepeated(name, [&] {
      if (in_.LookingAt("{") || in_.LookingAt("<")) return SkipMessage(name, depth);
      SkipScalar(name);
    });
  }

  void SkipScalar(const std::string& name) {
    const Token& t = in_.Peek();
    if (t.kind == TokenKind::kString) {
      TakeString(name);
    } else if (t.kind == TokenKind::kWord) {
      in_.Take();
    } else {
      in_.FailAt(t.offset, "expected a value for field '" + name + "', found " + Describe(t));
    }
  }

  StateTokenizer in_;
  CheckpointState state_;
};

// os.path.join(directory, path) on POSIX: an absolute path replaces the directory.
inline std::string JoinPath(const std::string& directory, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  if (directory.empty() || directory.back() == '/') return directory + path;
  return directory + "/" + path;
}

}  // namespace detail::checkpoint_state

// Parses the text of a `checkpoint` file. `file_name` only labels errors. Throws
// FormatError "<file_name>:<line>:<column>: <what>" on malformed text.
inline CheckpointState ParseCheckpointState(std::string_view text, const std::string& file_name) {
  return detail::checkpoint_state::StateParser(text, file_name).Parse();
}

// The text Python's text_format.MessageToString writes for `state` (unknown_fields are
// not written).
inline std::string FormatCheckpointState(const CheckpointState& state) {
  std::string out;
  if (!state.model_checkpoint_path.empty()) {
    out += "model_checkpoint_path: " + detail::checkpoint_state::QuoteString(state.model_checkpoint_path) + "\n";
  }
  for (const std::string& p : state.all_model_checkpoint_paths) {
    out += "all_model_checkpoint_paths: " + detail::checkpoint_state::QuoteString(p) + "\n";
  }
  for (const double t : state.all_model_checkpoint_timestamps) {
    out += "all_model_checkpoint_timestamps: " + detail::checkpoint_state::FormatDouble(t) + "\n";
  }
  // proto3 presence: -0.0 is not 0 bit for bit, so it is written.
  if (state.last_preserved_timestamp != 0 || std::signbit(state.last_preserved_timestamp)) {
    out += "last_preserved_timestamp: " + detail::checkpoint_state::FormatDouble(state.last_preserved_timestamp) + "\n";
  }
  return out;
}

// The prefixes of a state read from `directory`, as TF's get_checkpoint_state returns
// them: relative paths joined to the directory, absolute ones unchanged.
struct ResolvedState {
  std::string model_checkpoint_path;
  std::vector<std::string> all_model_checkpoint_paths;
};

// Throws FormatError "<directory>/checkpoint: invalid checkpoint state: model_checkpoint_path
// is empty" where TF raises ValueError ("Invalid checkpoint state loaded from <dir>").
inline ResolvedState ResolveStatePaths(const CheckpointState& state, const std::string& directory) {
  if (state.model_checkpoint_path.empty()) {
    throw FormatError(ErrorContext(detail::checkpoint_state::JoinPath(directory, "checkpoint")),
                      "invalid checkpoint state: model_checkpoint_path is empty");
  }
  ResolvedState resolved;
  resolved.model_checkpoint_path = detail::checkpoint_state::JoinPath(directory, state.model_checkpoint_path);
  for (const std::string& p : state.all_model_checkpoint_paths) {
    resolved.all_model_checkpoint_paths.push_back(detail::checkpoint_state::JoinPath(directory, p));
  }
  return resolved;
}

}  // namespace warmstart::bundle
