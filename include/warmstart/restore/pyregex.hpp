// Python `re` semantics for the variable-name patterns of pipeline.config.
//
// The Object Detection API selects variables with Python regular expressions taken verbatim
// from train_config (spec odapi-finetune-semantics.md §4):
//
//   path A, legacy/trainer.py       re.match(p, var.op.name)    anchored at the start only
//   path B, model_lib.py via slim   re.search(p, var.name)      anywhere; the name ends in ":0"
//
// Reproducing those choices needs Python's boolean answer exactly, for every name of a
// checkpoint, so this header is a small engine of our own (std::regex is ECMAScript, which
// reads `$`, `\Z`, `{`, `(?i)` and escapes differently, and backtracks):
//
//   pattern (UTF-8) --Parser--> syntax tree --Compile--> Thompson NFA --lazy DFA--> bool
//
// * The parser follows Python 3.11's re/_parser.py check for check, with the same tokenizer,
//   so a pattern Python rejects is rejected here with Python's words and 0-based code-point
//   position: "bad character range 3-0 at position 10".
// * What an automaton cannot express, and the few things we chose not to carry, are rejected
//   after a successful parse, marked PatternError::unsupported(): backreferences, lookahead
//   and lookbehind, conditionals, atomic groups, possessive quantifiers, \N{...}, (?t), and
//   patterns whose automaton would exceed kMaxInstructions.
// * Matching is linear in the subject. The NFA is simulated by a DFA built lazily: a DFA
//   state is the set of NFA states waiting for the next character plus the class of the
//   previous character (start of text, newline, word character), which is all `^ $ \A \Z \b
//   \B` need. Transitions are cached per (state, character class); ASCII bytes map to a
//   class through a 128-entry table. The cache is capped and flushed when full.
//
// Subjects are UTF-8 and matched by code point. A byte that does not start a valid UTF-8
// sequence counts as one code point U+DC00+byte (U+DC80..U+DCFF), which is the string Python
// sees after bytes.decode("utf-8", "surrogateescape"); such a code point is not a word,
// digit or space character and `.` matches it.
//
// Unicode approximations (Python consults the full Unicode database; we keep small tables):
// * \d: the Unicode decimal digits (category Nd) of Unicode 14, all 62 ranges: exact.
// * \s: Python's str.isspace() set (\t\n\v\f\r, U+001C..U+001F, space, U+0085, U+00A0,
//   U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000): exact.
// * \w: exact below U+0590 (ASCII, Latin-1, Latin Extended-A/B, IPA, Greek, Cyrillic,
//   Armenian), in U+1E00..U+1FFF (Latin Extended Additional, Greek Extended), the letterlike
//   symbols U+2100..U+214F, kana, CJK ideographs (U+3400..U+4DBF, U+4E00..U+9FFF), Hangul syllables and the fullwidth forms;
//   plus every \d digit. Letters of other scripts (Hebrew, Arabic, Indic, ...) are NOT word
//   characters here, unlike Python. \b follows the same \w.
// * IGNORECASE folds with Unicode simple lowercase mappings for ASCII, Latin-1, Latin
//   Extended-A/B, Greek and Coptic, Cyrillic, Armenian, Latin Extended Additional, the
//   letterlike symbols (Ω K Å), Roman numerals, circled letters, Glagolitic and fullwidth
//   Latin (exact within those blocks), plus Python's extra equivalences of characters with a
//   common uppercase (i ı, s ſ, µ μ, σ ς, β ϐ, ...). Greek Extended (polytonic), Latin
//   Extended-C/D/E, Cherokee, Georgian and the non-BMP scripts are not folded.
// * Group names must look like identifiers: a letter (as for \w above, digits excluded) or
//   `_`, then word characters. Python accepts a few more (combining marks, other scripts).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "warmstart/core/text.hpp"
#include "warmstart/error.hpp"

namespace warmstart::restore {

// re.match: a match must start at the beginning of the subject. re.search: anywhere.
// re.fullmatch: the match must cover the whole subject.
enum class PyMatchMode { kMatch, kSearch, kFullMatch };

// A pattern Python rejects, or one we do not support. what() reads
//   pattern 'Conv2d_1[3-0]': bad character range 3-0 at position 10
//   patterns[2] 'a(?=b)': lookahead assertions are not supported at position 1
// reason() is Python's own message (with " at position N" as Python prints it).
class PatternError : public ArgumentError {
 public:
  PatternError(const std::string& message, std::string pattern, std::string python_message,
               std::optional<size_t> position, bool unsupported, std::optional<size_t> index)
      : ArgumentError(message),
        pattern_(std::move(pattern)),
        python_message_(std::move(python_message)),
        position_(position),
        unsupported_(unsupported),
        index_(index) {}

  const std::string& pattern() const noexcept { return pattern_; }
  // The message as Python's re.error would print it (for unsupported constructs, ours).
  const std::string& python_message() const noexcept { return python_message_; }
  // 0-based code-point offset into the pattern, when there is one.
  std::optional<size_t> position() const noexcept { return position_; }
  // True when Python accepts the pattern but this engine does not.
  bool unsupported() const noexcept { return unsupported_; }
  // Index of the pattern in a PyRegexSet.
  std::optional<size_t> index() const noexcept { return index_; }

 private:
  std::string pattern_;
  std::string python_message_;
  std::optional<size_t> position_;
  bool unsupported_;
  std::optional<size_t> index_;
};

namespace detail {

// ---- code points ---------------------------------------------------------------------

constexpr char32_t kMaxCodePoint = 0x10FFFF;

// The code point at s[*i], advancing *i; invalid bytes read as U+DC00+byte (surrogateescape).
inline char32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  const size_t n = b0 < 0x80 ? 1 : core::Utf8SequenceLength(s, *i);
  if (n == 0) {
    ++*i;
    return 0xDC00 + b0;
  }
  if (n == 1) {
    ++*i;
    return b0;
  }
  char32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += n;
  return cp;
}

inline void AppendUtf8(char32_t c, std::string* out) {
  if (c < 0x80) {
    *out += static_cast<char>(c);
  } else if (c < 0x800) {
    *out += static_cast<char>(0xC0 | (c >> 6));
    *out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    *out += static_cast<char>(0xE0 | (c >> 12));
    *out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (c >> 18));
    *out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

inline std::string ToUtf8(std::u32string_view s) {
  std::string out;
  for (const char32_t c : s) AppendUtf8(c, &out);
  return out;
}

// ---- sets of code points ---------------------------------------------------------------

// Sorted, disjoint, non-adjacent closed ranges once Normalize() has run.
class CodeSet {
 public:
  using Range = std::pair<char32_t, char32_t>;

  void Add(char32_t lo, char32_t hi) { ranges_.emplace_back(lo, hi); }
  void Add(char32_t c) { ranges_.emplace_back(c, c); }
  void Add(const CodeSet& other) { ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end()); }

  void Normalize() {
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<Range> merged;
    for (const Range& r : ranges_) {
      if (!merged.empty() && r.first <= merged.back().second + 1) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    ranges_.swap(merged);
  }

  // Requires: normalized.
  bool Contains(char32_t c) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), Range(c, kMaxCodePoint));
    return it != ranges_.begin() && std::prev(it)->second >= c;
  }

  // Requires: normalized.
  CodeSet Complement() const {
    CodeSet out;
    char32_t next = 0;
    for (const Range& r : ranges_) {
      if (r.first > next) out.Add(next, r.first - 1);
      next = r.second + 1;
    }
    if (next <= kMaxCodePoint) out.Add(next, kMaxCodePoint);
    return out;
  }

  // Requires: both normalized.
  CodeSet Minus(const CodeSet& other) const {
    CodeSet out;
    out.ranges_ = Complement().ranges_;
    out.Add(other);
    out.Normalize();
    CodeSet result = out.Complement();
    result.Normalize();
    return result;
  }

  bool empty() const { return ranges_.empty(); }
  const std::vector<Range>& ranges() const { return ranges_; }
  bool operator==(const CodeSet& o) const { return ranges_ == o.ranges_; }
  bool operator<(const CodeSet& o) const { return ranges_ < o.ranges_; }

 private:
  std::vector<Range> ranges_;
};

// ---- Unicode tables (see the approximations at the top of the file) -----------------

inline const CodeSet& DigitSet(bool ascii) {
  static const CodeSet kAscii = [] {
    CodeSet s;
    s.Add('0', '9');
    return s;
  }();
  // Unicode 14 category Nd (what Python 3.11's str.isdecimal() accepts).
  static const CodeSet kUnicode = [] {
    static constexpr char32_t kStarts[] = {
        0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
        0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,
        0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
        0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
        0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
        0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1E140, 0x1E2F0, 0x1E950,
        0x1FBF0};
    CodeSet s;
    for (const char32_t lo : kStarts) s.Add(lo, lo + 9);
    s.Add(0x1D7CE, 0x1D7FF);  // mathematical digits: five runs of ten
    s.Normalize();
    return s;
  }();
  return ascii ? kAscii : kUnicode;
}

inline const CodeSet& SpaceSet(bool ascii) {
  static const CodeSet kAscii = [] {
    CodeSet s;
    s.Add('\t', '\r');
    s.Add(' ');
    s.Normalize();
    return s;
  }();
  static const CodeSet kUnicode = [] {
    CodeSet s;
    s.Add('\t', '\r');
    s.Add(0x1C, 0x20);
    s.Add(0x85);
    s.Add(0xA0);
    s.Add(0x1680);
    s.Add(0x2000, 0x200A);
    s.Add(0x2028, 0x2029);
    s.Add(0x202F);
    s.Add(0x205F);
    s.Add(0x3000);
    s.Normalize();
    return s;
  }();
  return ascii ? kAscii : kUnicode;
}

inline const CodeSet& AsciiWordSet() {
  static const CodeSet kAscii = [] {
    CodeSet s;
    s.Add('0', '9');
    s.Add('A', 'Z');
    s.Add('_');
    s.Add('a', 'z');
    s.Normalize();
    return s;
  }();
  return kAscii;
}

inline const CodeSet& WordSet(bool ascii) {
  if (ascii) return AsciiWordSet();
  static const CodeSet kUnicode = [] {
    // str.isalnum() of Python 3.11 in the blocks named at the top of the file.
    static constexpr std::pair<char32_t, char32_t> kRanges[] = {
        {0xAA, 0xAA},       {0xB2, 0xB3},       {0xB5, 0xB5},       {0xB9, 0xBA},
        {0xBC, 0xBE},       {0xC0, 0xD6},       {0xD8, 0xF6},       {0xF8, 0x2C1},
        {0x2C6, 0x2D1},     {0x2E0, 0x2E4},     {0x2EC, 0x2EC},     {0x2EE, 0x2EE},
        {0x370, 0x374},     {0x376, 0x377},     {0x37A, 0x37D},     {0x37F, 0x37F},
        {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},     {0x38E, 0x3A1},
        {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},     {0x531, 0x556},
        {0x559, 0x559},     {0x560, 0x588},     {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},
        {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
        {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},
        {0x1FB6, 0x1FBC},   {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},
        {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},
        {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},
        {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
        {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2139},   {0x213C, 0x213F},
        {0x2145, 0x2149},   {0x214E, 0x214E},   {0x3041, 0x3096},   {0x309D, 0x309F},   {0x30A1, 0x30FA},
        {0x30FC, 0x30FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},
        {0xFF10, 0xFF19},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0xFF66, 0xFFBE},
        {0xFFC2, 0xFFC7},   {0xFFCA, 0xFFCF},   {0xFFD2, 0xFFD7},   {0xFFDA, 0xFFDC}};
    CodeSet s = AsciiWordSet();
    for (const auto& r : kRanges) s.Add(r.first, r.second);
    s.Add(DigitSet(false));
    s.Normalize();
    return s;
  }();
  return kUnicode;
}

// A run of the simple lowercase mapping: c in [lo, hi] (every code point, or every second
// one from lo when step is 2) lowercases to c + delta. Unicode 14 UnicodeData.txt field 13.
struct LowerRun {
  char32_t lo, hi;
  int32_t delta;
  uint8_t step;
};

inline const std::vector<LowerRun>& LowerRuns() {
  static const std::vector<LowerRun> kRuns = {
      {0x41, 0x5A, 32, 1}, {0xC0, 0xD6, 32, 1}, {0xD8, 0xDE, 32, 1},
      // Latin Extended-A
      {0x100, 0x12E, 1, 2}, {0x130, 0x130, 0x69 - 0x130, 1}, {0x132, 0x136, 1, 2},
      {0x139, 0x147, 1, 2}, {0x14A, 0x176, 1, 2}, {0x178, 0x178, 0xFF - 0x178, 1},
      {0x179, 0x17D, 1, 2},
      // Latin Extended-B
      {0x181, 0x181, 0x253 - 0x181, 1}, {0x182, 0x184, 1, 2}, {0x186, 0x186, 0x254 - 0x186, 1},
      {0x187, 0x187, 1, 1}, {0x189, 0x18A, 0x256 - 0x189, 1}, {0x18B, 0x18B, 1, 1},
      {0x18E, 0x18E, 0x1DD - 0x18E, 1}, {0x18F, 0x18F, 0x259 - 0x18F, 1},
      {0x190, 0x190, 0x25B - 0x190, 1}, {0x191, 0x191, 1, 1}, {0x193, 0x193, 0x260 - 0x193, 1},
      {0x194, 0x194, 0x263 - 0x194, 1}, {0x196, 0x196, 0x269 - 0x196, 1},
      {0x197, 0x197, 0x268 - 0x197, 1}, {0x198, 0x198, 1, 1}, {0x19C, 0x19C, 0x26F - 0x19C, 1},
      {0x19D, 0x19D, 0x272 - 0x19D, 1}, {0x19F, 0x19F, 0x275 - 0x19F, 1}, {0x1A0, 0x1A4, 1, 2},
      {0x1A6, 0x1A6, 0x280 - 0x1A6, 1}, {0x1A7, 0x1A7, 1, 1}, {0x1A9, 0x1A9, 0x283 - 0x1A9, 1},
      {0x1AC, 0x1AC, 1, 1}, {0x1AE, 0x1AE, 0x288 - 0x1AE, 1}, {0x1AF, 0x1AF, 1, 1},
      {0x1B1, 0x1B2, 0x28A - 0x1B1, 1}, {0x1B3, 0x1B5, 1, 2}, {0x1B7, 0x1B7, 0x292 - 0x1B7, 1},
      {0x1B8, 0x1B8, 1, 1}, {0x1BC, 0x1BC, 1, 1}, {0x1C4, 0x1C4, 2, 1}, {0x1C5, 0x1C5, 1, 1},
      {0x1C7, 0x1C7, 2, 1}, {0x1C8, 0x1C8, 1, 1}, {0x1CA, 0x1CA, 2, 1}, {0x1CB, 0x1DB, 1, 2},
      {0x1DE, 0x1EE, 1, 2}, {0x1F1, 0x1F1, 2, 1}, {0x1F2, 0x1F4, 1, 2},
      {0x1F6, 0x1F6, 0x195 - 0x1F6, 1}, {0x1F7, 0x1F7, 0x1BF - 0x1F7, 1}, {0x1F8, 0x21E, 1, 2},
      {0x220, 0x220, 0x19E - 0x220, 1}, {0x222, 0x232, 1, 2}, {0x23A, 0x23A, 0x2C65 - 0x23A, 1},
      {0x23B, 0x23B, 1, 1}, {0x23D, 0x23D, 0x19A - 0x23D, 1}, {0x23E, 0x23E, 0x2C66 - 0x23E, 1},
      {0x241, 0x241, 1, 1}, {0x243, 0x243, 0x180 - 0x243, 1}, {0x244, 0x244, 0x289 - 0x244, 1},
      {0x245, 0x245, 0x28C - 0x245, 1}, {0x246, 0x24E, 1, 2},
      // Greek and Coptic
      {0x370, 0x372, 1, 2}, {0x376, 0x376, 1, 1}, {0x37F, 0x37F, 0x3F3 - 0x37F, 1},
      {0x386, 0x386, 0x3AC - 0x386, 1}, {0x388, 0x38A, 0x25, 1}, {0x38C, 0x38C, 0x40, 1},
      {0x38E, 0x38F, 0x3F, 1}, {0x391, 0x3A1, 32, 1}, {0x3A3, 0x3AB, 32, 1}, {0x3CF, 0x3CF, 8, 1},
      {0x3D8, 0x3EE, 1, 2}, {0x3F4, 0x3F4, 0x3B8 - 0x3F4, 1}, {0x3F7, 0x3F7, 1, 1},
      {0x3F9, 0x3F9, 0x3F2 - 0x3F9, 1}, {0x3FA, 0x3FA, 1, 1}, {0x3FD, 0x3FF, 0x37B - 0x3FD, 1},
      // Cyrillic, Cyrillic Supplement, Armenian
      {0x400, 0x40F, 0x50, 1}, {0x410, 0x42F, 32, 1}, {0x460, 0x480, 1, 2}, {0x48A, 0x4BE, 1, 2},
      {0x4C0, 0x4C0, 15, 1}, {0x4C1, 0x4CD, 1, 2}, {0x4D0, 0x52E, 1, 2}, {0x531, 0x556, 0x30, 1},
      // Latin Extended Additional
      {0x1E00, 0x1E94, 1, 2}, {0x1E9E, 0x1E9E, 0xDF - 0x1E9E, 1}, {0x1EA0, 0x1EFE, 1, 2},
      // Letterlike symbols, number forms, enclosed alphanumerics, Glagolitic, fullwidth
      {0x2126, 0x2126, 0x3C9 - 0x2126, 1}, {0x212A, 0x212A, 0x6B - 0x212A, 1},
      {0x212B, 0x212B, 0xE5 - 0x212B, 1}, {0x2132, 0x2132, 0x1C, 1}, {0x2160, 0x216F, 16, 1},
      {0x2183, 0x2183, 1, 1}, {0x24B6, 0x24CF, 26, 1}, {0x2C00, 0x2C2F, 48, 1},
      {0xFF21, 0xFF3A, 32, 1}};
  return kRuns;
}

inline char32_t SimpleLower(char32_t c, bool ascii) {
  if (c < 0x80 || ascii) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  const auto& runs = LowerRuns();
  auto it = std::upper_bound(runs.begin(), runs.end(), c,
                             [](char32_t v, const LowerRun& r) { return v < r.lo; });
  if (it == runs.begin()) return c;
  const LowerRun& r = *std::prev(it);
  if (c > r.hi || (c - r.lo) % r.step != 0) return c;
  return static_cast<char32_t>(static_cast<int32_t>(c) + r.delta);
}

// Lowercase letters that share an uppercase letter but not a lowercase one; Python's
// re/_casefix.py makes them match each other under IGNORECASE (Unicode mode only).
inline const std::vector<std::vector<char32_t>>& CaseEquivalences() {
  static const std::vector<std::vector<char32_t>> kGroups = {
      {0x69, 0x131},   {0x73, 0x17F},   {0xB5, 0x3BC},   {0x345, 0x3B9, 0x1FBE},
      {0x390, 0x1FD3}, {0x3B0, 0x1FE3}, {0x3B2, 0x3D0},  {0x3B5, 0x3F5},
      {0x3B8, 0x3D1},  {0x3BA, 0x3F0},  {0x3C0, 0x3D6},  {0x3C1, 0x3F1},
      {0x3C2, 0x3C3},  {0x3C6, 0x3D5},  {0x432, 0x1C80}, {0x434, 0x1C81},
      {0x43E, 0x1C82}, {0x441, 0x1C83}, {0x442, 0x1C84, 0x1C85}, {0x44A, 0x1C86},
      {0x463, 0x1C87}, {0x1C88, 0xA64B}, {0x1E61, 0x1E9B}, {0xFB05, 0xFB06}};
  return kGroups;
}

// The code points that match `s` under IGNORECASE, as Python decides it: c matches when
// lower(c) is in F, where F holds lower(x) for every x in s plus the case equivalences of
// those. Requires: s normalized.
inline CodeSet CaseClosure(const CodeSet& s, bool ascii) {
  std::vector<std::pair<char32_t, char32_t>> pairs;  // (c, lower(c)) where they differ
  if (ascii) {
    for (char32_t c = 'A'; c <= 'Z'; ++c) pairs.emplace_back(c, c + 32);
  } else {
    for (const LowerRun& r : LowerRuns()) {
      for (char32_t c = r.lo; c <= r.hi; c += r.step) pairs.emplace_back(c, SimpleLower(c, false));
    }
  }
  CodeSet folded = s;  // F: lower(x) beside x itself is harmless, lower() is idempotent
  for (const auto& p : pairs) {
    if (s.Contains(p.first)) folded.Add(p.second);
  }
  folded.Normalize();
  if (!ascii) {
    CodeSet extra;
    for (const auto& group : CaseEquivalences()) {
      for (const char32_t c : group) {
        if (!folded.Contains(c)) continue;
        for (const char32_t e : group) extra.Add(e);
      }
    }
    folded.Add(extra);
    folded.Normalize();
  }
  CodeSet add, remove;
  for (const auto& p : pairs) {
    if (folded.Contains(p.second)) {
      add.Add(p.first);
    } else {
      remove.Add(p.first);
    }
  }
  remove.Normalize();
  CodeSet out = folded.Minus(remove);
  out.Add(add);
  out.Normalize();
  return out;
}

// ---- flags ------------------------------------------------------------------------

// Python's inline flag letters. Values are ours; only identity matters.
enum : int {
  kFlagIgnoreCase = 1 << 0,  // i
  kFlagLocale = 1 << 1,      // L (rejected for str patterns, as in Python)
  kFlagMultiline = 1 << 2,   // m
  kFlagDotAll = 1 << 3,      // s
  kFlagVerbose = 1 << 4,     // x
  kFlagAscii = 1 << 5,       // a
  kFlagTemplate = 1 << 6,    // t (deprecated; unsupported here)
  kFlagUnicode = 1 << 7,     // u
};
constexpr int kTypeFlags = kFlagAscii | kFlagLocale | kFlagUnicode;
constexpr int kGlobalOnlyFlags = kFlagTemplate;

inline int FlagOf(char32_t c) {
  switch (c) {
    case 'i': return kFlagIgnoreCase;
    case 'L': return kFlagLocale;
    case 'm': return kFlagMultiline;
    case 's': return kFlagDotAll;
    case 'x': return kFlagVerbose;
    case 'a': return kFlagAscii;
    case 't': return kFlagTemplate;
    case 'u': return kFlagUnicode;
    default: return 0;
  }
}

// _compiler._combine_flags: a type flag in a scoped group replaces the outer one.
inline int CombineFlags(int flags, int add, int del) {
  if (add & kTypeFlags) flags &= ~kTypeFlags;
  return (flags | add) & ~del;
}

// ---- syntax tree ----------------------------------------------------------------------

enum class AssertKind : uint8_t {
  kBeginText,            // \A, and ^ without MULTILINE
  kBeginLine,            // ^ with MULTILINE
  kEndText,              // \Z
  kEndTextOrFinalNewline,  // $ without MULTILINE: at the end, or before a final \n
  kEndLine,              // $ with MULTILINE
  kWordBoundary,         // \b (Unicode \w)
  kNotWordBoundary,      // \B
  kWordBoundaryAscii,    // \b under ASCII
  kNotWordBoundaryAscii,
};

struct Node {
  enum class Kind : uint8_t { kEmpty, kSet, kConcat, kAlt, kRepeat, kAssert };
  Kind kind = Kind::kEmpty;
  CodeSet set;                  // kSet: the code points one step consumes (flags applied)
  AssertKind assert_kind = AssertKind::kBeginText;
  int64_t min = 0, max = 0;     // kRepeat; max < 0 means unbounded
  std::vector<int> children;    // indexes into Tree::nodes
};

struct Tree {
  std::vector<Node> nodes;
  int root = -1;
};

// Python's MAXREPEAT (_sre.MAXREPEAT on 64-bit builds): counts must stay below it.
constexpr int64_t kMaxRepeat = 4294967295LL;
// Nesting depth beyond which we refuse a pattern rather than recurse further.
constexpr int kMaxNesting = 400;

// ---- errors inside the parser -----------------------------------------------------

struct ParseFailure {
  std::string message;           // Python's wording, without the position
  std::optional<size_t> position;
  bool unsupported = false;
};

// repr() of a str, as Python prints group names in messages.
inline std::string PyRepr(std::u32string_view s) {
  const bool has_single = s.find(U'\'') != std::u32string_view::npos;
  const bool has_double = s.find(U'"') != std::u32string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  static const char kHex[] = "0123456789abcdef";
  for (const char32_t c : s) {
    if (c == '\\' || c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || (c >= 0x7F && c < 0xA0)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      AppendUtf8(c, &out);
    }
  }
  return out + quote;
}

// ---- tokenizer (re/_parser.py Tokenizer) -----------------------------------------------

// A token is one code point, or a backslash and the code point after it.
struct Token {
  char32_t c = 0;
  uint8_t len = 0;  // 0: end of pattern, 1: plain, 2: escaped
  bool Is(char32_t ch) const { return len == 1 && c == ch; }
  bool none() const { return len == 0; }
  std::u32string Text() const {
    if (len == 0) return {};
    if (len == 1) return std::u32string(1, c);
    return std::u32string{U'\\', c};
  }
};

class Tokenizer {
 public:
  explicit Tokenizer(std::u32string s) : s_(std::move(s)) { Advance(); }

  const Token& next() const { return next_; }
  bool Match(char32_t c) {
    if (!next_.Is(c)) return false;
    Advance();
    return true;
  }
  Token Get() {
    const Token t = next_;
    Advance();
    return t;
  }
  template <typename Pred>
  bool NextIs(Pred pred) const {
    return next_.len == 1 && pred(next_.c);
  }
  // Up to n plain tokens satisfying pred.
  template <typename Pred>
  std::u32string GetWhile(size_t n, Pred pred) {
    std::u32string out;
    for (size_t i = 0; i < n && NextIs(pred); ++i) out += Get().c;
    return out;
  }
  // Tokens up to `terminator`, for group and character names.
  std::u32string GetUntil(char32_t terminator, const std::string& what) {
    std::u32string result;
    while (true) {
      const Token t = Get();
      if (t.none()) {
        if (result.empty()) throw Error("missing " + what);
        std::string term;
        AppendUtf8(terminator, &term);
        throw Error("missing " + term + ", unterminated name", result.size());
      }
      if (t.Is(terminator)) {
        if (result.empty()) throw Error("missing " + what, 1);
        break;
      }
      result += t.Text();
    }
    return result;
  }
  size_t Tell() const { return index_ - next_.len; }
  void Seek(size_t index) {
    index_ = index;
    Advance();
  }
  ParseFailure Error(std::string message, size_t offset = 0) const {
    return ParseFailure{std::move(message), Tell() - offset, false};
  }

 private:
  void Advance() {
    if (index_ >= s_.size()) {
      next_ = Token{};
      return;
    }
    size_t i = index_;
    if (s_[i] == '\\') {
      if (++i >= s_.size()) throw ParseFailure{"bad escape (end of pattern)", s_.size() - 1, false};
      next_ = Token{s_[i], 2};
    } else {
      next_ = Token{s_[i], 1};
    }
    index_ = i + 1;
  }

  std::u32string s_;
  size_t index_ = 0;
  Token next_;
};

inline bool IsDigit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool IsOctDigit(char32_t c) { return c >= '0' && c <= '7'; }
inline bool IsHexDigit(char32_t c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// str.isalpha() for the blocks our \w table covers.
inline bool IsAlpha(char32_t c) {
  return c != '_' && WordSet(false).Contains(c) && !DigitSet(false).Contains(c) &&
         !(c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE));
}
// str.isidentifier(), approximately (see the top of the file).
inline bool IsIdentifier(std::u32string_view s) {
  if (s.empty() || !(s[0] == '_' || IsAlpha(s[0]))) return false;
  for (const char32_t c : s) {
    if (!WordSet(false).Contains(c)) return false;
  }
  return true;
}
inline uint32_t ParseUnsigned(std::u32string_view digits, int base) {
  uint64_t v = 0;
  for (const char32_t c : digits) {
    const uint32_t d = IsDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
    v = std::min<uint64_t>(v * base + d, 0xFFFFFFFFFULL);
  }
  return static_cast<uint32_t>(std::min<uint64_t>(v, 0xFFFFFFFFULL));
}
// Decimal repeat count, saturated at kMaxRepeat.
inline int64_t ParseCount(std::u32string_view digits) {
  int64_t v = 0;
  for (const char32_t c : digits) v = std::min<int64_t>(v * 10 + (c - '0'), kMaxRepeat);
  return v;
}

// ---- parser (re/_parser.py _parse_sub, _parse, _escape, _class_escape, _parse_flags) --

class Parser {
 public:
  explicit Parser(std::u32string pattern) : tok_(std::move(pattern)) {}

  // Throws ParseFailure.
  Tree Parse() {
    tree_.root = ParseSub(false, 0);
    if ((global_flags_ & kFlagAscii) && (global_flags_ & kFlagUnicode)) {
      throw ParseFailure{"ASCII and UNICODE flags are incompatible", std::nullopt, false};
    }
    if (!tok_.next().none()) throw tok_.Error("unbalanced parenthesis");
    for (const auto& ref : condition_refs_) {
      if (ref.first >= GroupCount()) {
        throw ParseFailure{"invalid group reference " + std::to_string(ref.first), ref.second, false};
      }
    }
    if (unsupported_) throw *unsupported_;
    return std::move(tree_);
  }

 private:
  enum class ItemKind { kAt, kRepeat, kOther };
  struct Item {
    int node;
    ItemKind kind;
  };
  // What an escape stands for.
  struct Escape {
    enum class Kind { kLiteral, kCategory, kAt, kGroupRef } kind = Kind::kLiteral;
    char32_t literal = 0;
    char category = 0;  // d D s S w W
    char at = 0;        // A Z b B
  };
  struct ClassItem {
    bool is_literal;
    char32_t lo, hi;    // literal or range
    char category;      // when !is_literal and category != 0
  };

  // ---- flags and nodes

  int EffectiveFlags() const {
    int flags = global_flags_;
    if (!(flags & kFlagAscii)) flags |= kFlagUnicode;  // _parser.fix_flags
    for (const auto& scope : scopes_) flags = CombineFlags(flags, scope.first, scope.second);
    return flags;
  }
  int Add(Node n) {
    tree_.nodes.push_back(std::move(n));
    return static_cast<int>(tree_.nodes.size()) - 1;
  }
  int AddSet(CodeSet set) {
    set.Normalize();
    const int flags = EffectiveFlags();
    Node n;
    n.kind = Node::Kind::kSet;
    n.set = (flags & kFlagIgnoreCase) ? CaseClosure(set, (flags & kFlagAscii) != 0) : std::move(set);
    return Add(std::move(n));
  }
  int AddLiteral(char32_t c) {
    CodeSet s;
    s.Add(c);
    return AddSet(std::move(s));
  }
  int AddAny() {
    CodeSet s;
    if (EffectiveFlags() & kFlagDotAll) {
      s.Add(0, kMaxCodePoint);
    } else {
      s.Add(0, '\n' - 1);
      s.Add('\n' + 1, kMaxCodePoint);
    }
    Node n;
    n.kind = Node::Kind::kSet;
    n.set = std::move(s);
    return Add(std::move(n));
  }
  int AddAssert(AssertKind kind) {
    Node n;
    n.kind = Node::Kind::kAssert;
    n.assert_kind = kind;
    return Add(std::move(n));
  }
  int AddAt(char at) {
    const int flags = EffectiveFlags();
    const bool ascii = (flags & kFlagAscii) != 0;
    switch (at) {
      case '^': return AddAssert((flags & kFlagMultiline) ? AssertKind::kBeginLine : AssertKind::kBeginText);
      case '$':
        return AddAssert((flags & kFlagMultiline) ? AssertKind::kEndLine : AssertKind::kEndTextOrFinalNewline);
      case 'A': return AddAssert(AssertKind::kBeginText);
      case 'Z': return AddAssert(AssertKind::kEndText);
      case 'b': return AddAssert(ascii ? AssertKind::kWordBoundaryAscii : AssertKind::kWordBoundary);
      default: return AddAssert(ascii ? AssertKind::kNotWordBoundaryAscii : AssertKind::kNotWordBoundary);
    }
  }
  CodeSet Category(char cat) const {
    const bool ascii = (EffectiveFlags() & kFlagAscii) != 0;
    const char lower = static_cast<char>(cat | 0x20);
    const CodeSet& base = lower == 'd' ? DigitSet(ascii) : lower == 's' ? SpaceSet(ascii) : WordSet(ascii);
    return cat == lower ? base : base.Complement();
  }
  int AddSequence(const std::vector<Item>& items) {
    if (items.size() == 1) return items[0].node;
    Node n;
    n.kind = items.empty() ? Node::Kind::kEmpty : Node::Kind::kConcat;
    for (const Item& item : items) n.children.push_back(item.node);
    return Add(std::move(n));
  }
  void Unsupported(std::string message, size_t position) {
    if (!unsupported_) unsupported_ = ParseFailure{std::move(message), position, true};
  }

  // ---- groups

  size_t GroupCount() const { return group_closed_.size() + 1; }  // group 0 included
  bool GroupClosed(size_t gid) const { return gid >= 1 && gid < GroupCount() && group_closed_[gid - 1]; }
  size_t OpenGroup(const std::optional<std::u32string>& name) {
    const size_t gid = GroupCount();
    group_closed_.push_back(false);
    if (name) {
      auto it = group_names_.find(*name);
      if (it != group_names_.end()) {
        throw tok_.Error("redefinition of group name " + PyRepr(*name) + " as group " + std::to_string(gid) +
                             "; was group " + std::to_string(it->second),
                         name->size() + 1);
      }
      group_names_[*name] = gid;
    }
    return gid;
  }
  void CheckGroupName(const std::u32string& name, size_t offset) {
    if (!IsIdentifier(name)) {
      throw tok_.Error("bad character in group name " + PyRepr(name), name.size() + offset);
    }
  }

  // ---- alternation and sequence

  int ParseSub(bool verbose, int nested) {
    if (nested > kMaxNesting) {
      throw ParseFailure{"too deeply nested (more than " + std::to_string(kMaxNesting) + " levels)",
                         tok_.Tell(), true};
    }
    std::vector<int> branches;
    while (true) {
      branches.push_back(ParseSeq(verbose, nested + 1, nested == 0 && branches.empty()));
      if (!tok_.Match('|')) break;
      if (nested == 0) verbose = (global_flags_ & kFlagVerbose) != 0;
    }
    if (branches.size() == 1) return branches[0];
    Node n;
    n.kind = Node::Kind::kAlt;
    n.children = std::move(branches);
    return Add(std::move(n));
  }

  int ParseSeq(bool verbose, int nested, bool first) {
    std::vector<Item> items;
    while (true) {
      const Token t = tok_.next();
      if (t.none() || t.Is('|') || t.Is(')')) break;
      tok_.Get();
      if (verbose && t.len == 1) {
        if (t.c == ' ' || t.c == '\t' || t.c == '\n' || t.c == '\r' || t.c == '\v' || t.c == '\f') continue;
        if (t.c == '#') {
          for (Token u = tok_.Get(); !u.none() && !u.Is('\n'); u = tok_.Get()) {
          }
          continue;
        }
      }
      if (t.len == 2) {
        items.push_back(ItemOf(ParseEscape(t)));
        continue;
      }
      switch (t.c) {
        case '[': items.push_back({ParseClass(), ItemKind::kOther}); break;
        case '*': case '+': case '?': case '{': ParseRepeat(t.c, &items); break;
        case '.': items.push_back({AddAny(), ItemKind::kOther}); break;
        case '(':
          // Global flags at the start may turn on VERBOSE for the rest of this branch.
          if (ParseGroup(verbose, nested, first, &items)) verbose = (global_flags_ & kFlagVerbose) != 0;
          break;
        case '^': items.push_back({AddAt('^'), ItemKind::kAt}); break;
        case '$': items.push_back({AddAt('$'), ItemKind::kAt}); break;
        default: items.push_back({AddLiteral(t.c), ItemKind::kOther});
      }
    }
    return AddSequence(items);
  }

  // ---- quantifiers

  void ParseRepeat(char32_t quantifier, std::vector<Item>* items) {
    const size_t here = tok_.Tell();
    int64_t min = 0, max = -1;
    if (quantifier == '?') {
      max = 1;
    } else if (quantifier == '+') {
      min = 1;
    } else if (quantifier == '{') {
      if (tok_.next().Is('}')) {
        items->push_back({AddLiteral('{'), ItemKind::kOther});
        return;
      }
      const std::u32string lo = tok_.GetWhile(SIZE_MAX, IsDigit);
      std::u32string hi;
      const bool comma = tok_.Match(',');
      hi = comma ? tok_.GetWhile(SIZE_MAX, IsDigit) : lo;
      if (!tok_.Match('}')) {
        items->push_back({AddLiteral('{'), ItemKind::kOther});
        tok_.Seek(here);
        return;
      }
      if (!lo.empty()) {
        min = ParseCount(lo);
        if (min >= kMaxRepeat) throw ParseFailure{"the repetition number is too large", std::nullopt, false};
      }
      if (!hi.empty()) {
        max = ParseCount(hi);
        if (max >= kMaxRepeat) throw ParseFailure{"the repetition number is too large", std::nullopt, false};
        if (max < min) throw tok_.Error("min repeat greater than max repeat", tok_.Tell() - here);
      }
    }
    if (items->empty() || items->back().kind == ItemKind::kAt) {
      throw tok_.Error("nothing to repeat", tok_.Tell() - here + 1);
    }
    if (items->back().kind == ItemKind::kRepeat) throw tok_.Error("multiple repeat", tok_.Tell() - here + 1);
    if (!tok_.Match('?')) {  // lazy and greedy give the same yes/no answer
      if (tok_.next().Is('+')) Unsupported("possessive quantifiers are not supported", here - 1);
      tok_.Match('+');
    }
    Node n;
    n.kind = Node::Kind::kRepeat;
    n.min = min;
    n.max = max;
    n.children.push_back(items->back().node);
    items->back() = {Add(std::move(n)), ItemKind::kRepeat};
  }

  // ---- escapes

  Escape ParseEscape(const Token& t) {
    const char32_t c = t.c;
    Escape e;
    switch (c) {
      case 'A': case 'Z': case 'b': case 'B':
        e.kind = Escape::Kind::kAt;
        e.at = static_cast<char>(c);
        return e;
      case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
        e.kind = Escape::Kind::kCategory;
        e.category = static_cast<char>(c);
        return e;
      default: break;
    }
    if (std::optional<char32_t> simple = SimpleEscape(c)) {
      e.literal = *simple;
      return e;
    }
    if (std::optional<char32_t> code = CodeEscape(c)) {
      e.literal = *code;
      return e;
    }
    if (c == '0') {
      e.literal = ParseUnsigned(U"0" + tok_.GetWhile(2, IsOctDigit), 8);
      return e;
    }
    if (IsDigit(c)) return GroupRefOrOctal(c);
    if (IsAsciiLetter(c)) throw tok_.Error("bad escape " + ToUtf8(t.Text()), 2);
    e.literal = c;
    return e;
  }
  Item ItemOf(const Escape& e) {
    switch (e.kind) {
      case Escape::Kind::kAt: return {AddAt(e.at), ItemKind::kAt};
      case Escape::Kind::kCategory: {
        CodeSet s = Category(e.category);
        s.Normalize();
        // Categories are not case folded: \w under IGNORECASE is still \w.
        Node n;
        n.kind = Node::Kind::kSet;
        n.set = std::move(s);
        return {Add(std::move(n)), ItemKind::kOther};
      }
      case Escape::Kind::kGroupRef: {
        Node n;  // never matched: the pattern is refused after the parse
        return {Add(std::move(n)), ItemKind::kOther};
      }
      default: return {AddLiteral(e.literal), ItemKind::kOther};
    }
  }

  static std::optional<char32_t> SimpleEscape(char32_t c) {
    switch (c) {
      case 'a': return 0x07;
      case 'f': return 0x0C;
      case 'n': return 0x0A;
      case 'r': return 0x0D;
      case 't': return 0x09;
      case 'v': return 0x0B;
      case '\\': return '\\';
      default: return std::nullopt;
    }
  }

  // \xhh \uXXXX \UXXXXXXXX and \N{...}, the same inside and outside a class.
  std::optional<char32_t> CodeEscape(char32_t c) {
    size_t digits = 0;
    if (c == 'x') digits = 2;
    if (c == 'u') digits = 4;
    if (c == 'U') digits = 8;
    if (digits != 0) {
      const std::u32string hex = tok_.GetWhile(digits, IsHexDigit);
      std::u32string escape = U"\\";
      escape += c;
      escape += hex;
      if (hex.size() != digits) throw tok_.Error("incomplete escape " + ToUtf8(escape), escape.size());
      const uint32_t value = ParseUnsigned(hex, 16);
      if (value > kMaxCodePoint) throw tok_.Error("bad escape " + ToUtf8(escape), escape.size());
      return value;
    }
    if (c == 'N') {
      const size_t start = tok_.Tell() - 2;
      if (!tok_.Match('{')) throw tok_.Error("missing {");
      tok_.GetUntil('}', "character name");
      // Python looks the name up in its Unicode database, which we do not carry.
      Unsupported("named Unicode escapes \\N{...} are not supported", start);
      return 0xFFFD;
    }
    return std::nullopt;
  }

  // \1..\99: octal when three octal digits follow the backslash, else a group reference.
  Escape GroupRefOrOctal(char32_t first) {
    const size_t start = tok_.Tell() - 2;
    std::u32string escape = U"\\";
    escape += first;
    if (tok_.NextIs(IsDigit)) {
      escape += tok_.Get().c;
      if (IsOctDigit(escape[1]) && IsOctDigit(escape[2]) && tok_.NextIs(IsOctDigit)) {
        escape += tok_.Get().c;
        const uint32_t value = ParseUnsigned(escape.substr(1), 8);
        if (value > 0377) {
          throw tok_.Error("octal escape value " + ToUtf8(escape) + " outside of range 0-0o377", escape.size());
        }
        Escape e;
        e.literal = value;
        return e;
      }
    }
    const size_t group = ParseUnsigned(escape.substr(1), 10);
    if (group < GroupCount()) {
      if (!GroupClosed(group)) throw tok_.Error("cannot refer to an open group", escape.size());
      Unsupported("backreferences are not supported", start);
      Escape e;
      e.kind = Escape::Kind::kGroupRef;
      return e;
    }
    throw tok_.Error("invalid group reference " + std::to_string(group), escape.size() - 1);
  }

  // _class_escape: inside [...], \b is a backspace and \A \Z \B are errors.
  Escape ParseClassEscape(const Token& t) {
    const char32_t c = t.c;
    Escape e;
    if (c == 'b') {
      e.literal = 0x08;
      return e;
    }
    if (std::optional<char32_t> simple = SimpleEscape(c)) {
      e.literal = *simple;
      return e;
    }
    if (c == 'd' || c == 'D' || c == 's' || c == 'S' || c == 'w' || c == 'W') {
      e.kind = Escape::Kind::kCategory;
      e.category = static_cast<char>(c);
      return e;
    }
    if (std::optional<char32_t> code = CodeEscape(c)) {
      e.literal = *code;
      return e;
    }
    if (IsOctDigit(c)) {
      std::u32string escape = U"\\";
      escape += c;
      escape += tok_.GetWhile(2, IsOctDigit);
      const uint32_t value = ParseUnsigned(escape.substr(1), 8);
      if (value > 0377) {
        throw tok_.Error("octal escape value " + ToUtf8(escape) + " outside of range 0-0o377", escape.size());
      }
      e.literal = value;
      return e;
    }
    if (IsDigit(c) || IsAsciiLetter(c)) throw tok_.Error("bad escape " + ToUtf8(t.Text()), 2);
    e.literal = c;
    return e;
  }

  // ---- character classes

  int ParseClass() {
    const size_t here = tok_.Tell() - 1;
    std::vector<ClassItem> items;
    const bool negate = tok_.Match('^');
    while (true) {
      const Token t = tok_.Get();
      if (t.none()) throw tok_.Error("unterminated character set", tok_.Tell() - here);
      if (t.Is(']') && !items.empty()) break;
      const Escape code1 = t.len == 2 ? ParseClassEscape(t) : Escape{Escape::Kind::kLiteral, t.c, 0, 0};
      if (tok_.Match('-')) {
        const Token that = tok_.Get();
        if (that.none()) throw tok_.Error("unterminated character set", tok_.Tell() - here);
        if (that.Is(']')) {
          items.push_back(ToClassItem(code1));
          items.push_back({true, '-', '-', 0});
          break;
        }
        const Escape code2 =
            that.len == 2 ? ParseClassEscape(that) : Escape{Escape::Kind::kLiteral, that.c, 0, 0};
        const std::string message = "bad character range " + ToUtf8(t.Text()) + "-" + ToUtf8(that.Text());
        if (code1.kind != Escape::Kind::kLiteral || code2.kind != Escape::Kind::kLiteral ||
            code2.literal < code1.literal) {
          throw tok_.Error(message, t.len + 1 + that.len);
        }
        items.push_back({false, code1.literal, code2.literal, 0});
      } else {
        items.push_back(ToClassItem(code1));
      }
    }
    return AddClassSet(items, negate);
  }
  static ClassItem ToClassItem(const Escape& e) {
    if (e.kind == Escape::Kind::kCategory) return {false, 0, 0, e.category};
    return {true, e.literal, e.literal, 0};
  }
  int AddClassSet(const std::vector<ClassItem>& items, bool negate) {
    const int flags = EffectiveFlags();
    CodeSet explicit_set, categories;
    for (const ClassItem& item : items) {
      if (item.category != 0) {
        categories.Add(Category(item.category));
      } else {
        explicit_set.Add(item.lo, item.hi);
      }
    }
    explicit_set.Normalize();
    if (flags & kFlagIgnoreCase) explicit_set = CaseClosure(explicit_set, (flags & kFlagAscii) != 0);
    explicit_set.Add(categories);
    explicit_set.Normalize();
    Node n;
    n.kind = Node::Kind::kSet;
    n.set = negate ? explicit_set.Complement() : std::move(explicit_set);
    n.set.Normalize();
    return Add(std::move(n));
  }

  // ---- groups and extensions

  // Returns true when the group was global flags, (?aiLmsux).
  bool ParseGroup(bool verbose, int nested, bool first, std::vector<Item>* items) {
    const size_t start = tok_.Tell() - 1;
    bool capture = true;
    std::optional<std::u32string> name;
    int add_flags = 0, del_flags = 0;
    if (tok_.Match('?')) {
      const Token t = tok_.Get();
      if (t.none()) throw tok_.Error("unexpected end of pattern");
      if (t.Is('P')) {
        if (tok_.Match('<')) {
          name = tok_.GetUntil('>', "group name");
          CheckGroupName(*name, 1);
        } else if (tok_.Match('=')) {
          const std::u32string ref = tok_.GetUntil(')', "group name");
          CheckGroupName(ref, 1);
          auto it = group_names_.find(ref);
          if (it == group_names_.end()) throw tok_.Error("unknown group name " + PyRepr(ref), ref.size() + 1);
          if (!GroupClosed(it->second)) throw tok_.Error("cannot refer to an open group", ref.size() + 1);
          Unsupported("backreferences are not supported", start);
          items->push_back({Add(Node{}), ItemKind::kOther});
          return false;
        } else {
          const Token u = tok_.Get();
          if (u.none()) throw tok_.Error("unexpected end of pattern");
          throw tok_.Error("unknown extension ?P" + ToUtf8(u.Text()), u.len + 2);
        }
      } else if (t.Is(':')) {
        capture = false;
      } else if (t.Is('#')) {
        while (true) {
          if (tok_.next().none()) throw tok_.Error("missing ), unterminated comment", tok_.Tell() - start);
          if (tok_.Get().Is(')')) break;
        }
        return false;
      } else if (t.Is('=') || t.Is('!') || t.Is('<')) {
        ParseLookaround(t, verbose, nested, start, items);
        return false;
      } else if (t.Is('(')) {
        ParseConditional(verbose, nested, start, items);
        return false;
      } else if (t.Is('>')) {
        capture = false;
        Unsupported("atomic groups are not supported", start);
      } else if (t.len == 1 && (FlagOf(t.c) != 0 || t.c == '-')) {
        if (!ParseFlags(t.c, &add_flags, &del_flags)) {
          if (!first || !items->empty()) {
            throw tok_.Error("global flags not at the start of the expression", tok_.Tell() - start);
          }
          if (add_flags & kFlagTemplate) Unsupported("the TEMPLATE flag (?t) is not supported", start);
          return true;
        }
        capture = false;
      } else {
        throw tok_.Error("unknown extension ?" + ToUtf8(t.Text()), t.len + 1);
      }
    }
    size_t gid = 0;
    if (capture) gid = OpenGroup(name);
    const bool sub_verbose = (verbose || (add_flags & kFlagVerbose)) && !(del_flags & kFlagVerbose);
    scopes_.emplace_back(add_flags, del_flags);
    const int body = ParseSub(sub_verbose, nested + 1);
    scopes_.pop_back();
    if (!tok_.Match(')')) throw tok_.Error("missing ), unterminated subpattern", tok_.Tell() - start);
    if (capture) group_closed_[gid - 1] = true;
    items->push_back({body, ItemKind::kOther});
    return false;
  }

  void ParseLookaround(Token t, bool verbose, int nested, size_t start, std::vector<Item>* items) {
    bool behind = false;
    if (t.Is('<')) {
      t = tok_.Get();
      if (t.none()) throw tok_.Error("unexpected end of pattern");
      if (!t.Is('=') && !t.Is('!')) throw tok_.Error("unknown extension ?<" + ToUtf8(t.Text()), t.len + 2);
      behind = true;
    }
    Unsupported(behind ? "lookbehind assertions are not supported" : "lookahead assertions are not supported",
                start);
    ParseSub(verbose, nested + 1);
    if (!tok_.Match(')')) throw tok_.Error("missing ), unterminated subpattern", tok_.Tell() - start);
    items->push_back({Add(Node{}), ItemKind::kOther});
  }

  void ParseConditional(bool verbose, int nested, size_t start, std::vector<Item>* items) {
    const std::u32string cond = tok_.GetUntil(')', "group name");
    if (IsIdentifier(cond)) {
      if (group_names_.find(cond) == group_names_.end()) {
        throw tok_.Error("unknown group name " + PyRepr(cond), cond.size() + 1);
      }
    } else {
      // int(): ASCII digits here; Python also takes spaces, signs and other digits.
      const bool digits = !cond.empty() && std::all_of(cond.begin(), cond.end(), IsDigit);
      if (!digits) throw tok_.Error("bad character in group name " + PyRepr(cond), cond.size() + 1);
      const uint32_t group = ParseUnsigned(cond, 10);
      if (group == 0) throw tok_.Error("bad group number", cond.size() + 1);
      if (group >= 0x3FFFFFFF) {
        throw tok_.Error("invalid group reference " + std::to_string(group), cond.size() + 1);
      }
      condition_refs_.emplace_back(group, tok_.Tell() - cond.size() - 1);
    }
    Unsupported("conditional groups are not supported", start);
    ParseSeq(verbose, nested + 1, false);
    if (tok_.Match('|')) {
      ParseSeq(verbose, nested + 1, false);
      if (tok_.next().Is('|')) throw tok_.Error("conditional backref with more than two branches");
    }
    if (!tok_.Match(')')) throw tok_.Error("missing ), unterminated subpattern", tok_.Tell() - start);
    items->push_back({Add(Node{}), ItemKind::kOther});
  }

  // (?aiLmsux) sets global flags and returns false; (?flags-flags:...) fills add/del and
  // returns true.
  bool ParseFlags(char32_t c, int* add, int* del) {
    Token t{c, 1};
    if (c != '-') {
      while (true) {
        const int flag = FlagOf(t.c);
        if (t.c == 'L') throw tok_.Error("bad inline flags: cannot use 'L' flag with a str pattern");
        *add |= flag;
        if ((flag & kTypeFlags) && (*add & kTypeFlags) != flag) {
          throw tok_.Error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
        }
        t = tok_.Get();
        if (t.none()) throw tok_.Error("missing -, : or )");
        if (t.Is(')') || t.Is('-') || t.Is(':')) break;
        if (t.len != 1 || FlagOf(t.c) == 0) {
          throw tok_.Error(IsFlagAlpha(t) ? "unknown flag" : "missing -, : or )", t.len);
        }
      }
    }
    if (t.Is(')')) {
      global_flags_ |= *add;
      return false;
    }
    if (*add & kGlobalOnlyFlags) throw tok_.Error("bad inline flags: cannot turn on global flag", 1);
    if (t.Is('-')) {
      t = tok_.Get();
      if (t.none()) throw tok_.Error("missing flag");
      if (t.len != 1 || FlagOf(t.c) == 0) throw tok_.Error(IsFlagAlpha(t) ? "unknown flag" : "missing flag", t.len);
      while (true) {
        const int flag = FlagOf(t.c);
        if (flag & kTypeFlags) throw tok_.Error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        *del |= flag;
        t = tok_.Get();
        if (t.none()) throw tok_.Error("missing :");
        if (t.Is(':')) break;
        if (t.len != 1 || FlagOf(t.c) == 0) throw tok_.Error(IsFlagAlpha(t) ? "unknown flag" : "missing :", t.len);
      }
    }
    if (*del & kGlobalOnlyFlags) throw tok_.Error("bad inline flags: cannot turn off global flag", 1);
    if (*add & *del) throw tok_.Error("bad inline flags: flag turned on and off", 1);
    return true;
  }
  static bool IsFlagAlpha(const Token& t) { return t.len == 1 && (IsAsciiLetter(t.c) || IsAlpha(t.c)); }

  Tokenizer tok_;
  Tree tree_;
  int global_flags_ = 0;
  std::vector<std::pair<int, int>> scopes_;  // (add, del) of the enclosing scoped groups
  std::vector<bool> group_closed_;            // [gid - 1]
  std::map<std::u32string, size_t> group_names_;
  std::vector<std::pair<uint32_t, size_t>> condition_refs_;  // (group, position) of (?(n)...)
  std::optional<ParseFailure> unsupported_;
};

// ---- NFA --------------------------------------------------------------------------------

// Per pattern; a bigger automaton is refused (Python accepts e.g. a{100000}).
constexpr size_t kMaxInstructions = 100000;

struct Inst {
  enum class Op : uint8_t { kChar, kSplit, kNop, kAssert, kMatch };
  Op op = Op::kNop;
  AssertKind assert_kind = AssertKind::kBeginText;
  int32_t out = -1;
  int32_t out1 = -1;   // kSplit
  int32_t arg = -1;    // kChar: set index; kMatch: pattern index
  int32_t pattern = 0;
};

// Instructions of one pattern, emitted back to front: Emit(node, next) returns the entry of
// code that matches `node` and continues at `next`.
class NfaBuilder {
 public:
  NfaBuilder(const Tree& tree, int32_t pattern, std::vector<Inst>* insts, std::vector<CodeSet>* sets,
             std::map<CodeSet, int32_t>* set_index)
      : tree_(tree), pattern_(pattern), insts_(insts), sets_(sets), set_index_(set_index) {}

  // Returns the start instruction. Throws ParseFailure (unsupported) when too large.
  int32_t Build() {
    if (Size(tree_.root) > kMaxInstructions) {
      throw ParseFailure{"pattern too large for the matcher (more than " + std::to_string(kMaxInstructions) +
                             " automaton states)",
                         std::nullopt, true};
    }
    Inst match;
    match.op = Inst::Op::kMatch;
    match.arg = pattern_;
    return Emit(tree_.root, Push(match));
  }

 private:
  // Instruction count of a node, saturated.
  uint64_t Size(int id) const {
    const Node& n = tree_.nodes[id];
    constexpr uint64_t kCap = 1ULL << 40;
    switch (n.kind) {
      case Node::Kind::kSet: case Node::Kind::kAssert: return 1;
      case Node::Kind::kEmpty: return 0;
      case Node::Kind::kRepeat: {
        const uint64_t body = Size(n.children[0]) + 1;
        const uint64_t copies = n.max < 0 ? static_cast<uint64_t>(n.min) + 1 : static_cast<uint64_t>(n.max);
        return std::min(kCap, body * std::max<uint64_t>(copies, 1));
      }
      default: {
        uint64_t sum = n.children.size();
        for (const int c : n.children) sum = std::min(kCap, sum + Size(c));
        return sum;
      }
    }
  }

  int32_t Push(const Inst& inst) {
    insts_->push_back(inst);
    insts_->back().pattern = pattern_;
    return static_cast<int32_t>(insts_->size()) - 1;
  }
  int32_t Split(int32_t a, int32_t b) {
    Inst s;
    s.op = Inst::Op::kSplit;
    s.out = a;
    s.out1 = b;
    return Push(s);
  }

  int32_t Emit(int id, int32_t next) {
    const Node& n = tree_.nodes[id];
    switch (n.kind) {
      case Node::Kind::kEmpty: return next;
      case Node::Kind::kSet: {
        Inst c;
        c.op = Inst::Op::kChar;
        c.arg = InternSet(n.set);
        c.out = next;
        return Push(c);
      }
      case Node::Kind::kAssert: {
        Inst a;
        a.op = Inst::Op::kAssert;
        a.assert_kind = n.assert_kind;
        a.out = next;
        return Push(a);
      }
      case Node::Kind::kConcat: {
        for (size_t i = n.children.size(); i-- > 0;) next = Emit(n.children[i], next);
        return next;
      }
      case Node::Kind::kAlt: {
        int32_t entry = Emit(n.children.back(), next);
        for (size_t i = n.children.size() - 1; i-- > 0;) entry = Split(Emit(n.children[i], next), entry);
        return entry;
      }
      case Node::Kind::kRepeat: return EmitRepeat(n, next);
    }
    return next;
  }

  // x{min,max} as min copies of x, then max-min nested optional copies (or a loop).
  int32_t EmitRepeat(const Node& n, int32_t next) {
    const int child = n.children[0];
    int32_t tail = next;
    if (n.max < 0) {
      const int32_t loop = Split(-1, next);
      (*insts_)[loop].out = Emit(child, loop);
      tail = loop;
    } else {
      for (int64_t i = n.min; i < n.max; ++i) tail = Split(Emit(child, tail), next);
    }
    for (int64_t i = 0; i < n.min; ++i) tail = Emit(child, tail);
    return tail;
  }

  int32_t InternSet(const CodeSet& set) {
    auto it = set_index_->find(set);
    if (it != set_index_->end()) return it->second;
    const auto index = static_cast<int32_t>(sets_->size());
    sets_->push_back(set);
    set_index_->emplace(set, index);
    return index;
  }

  const Tree& tree_;
  int32_t pattern_;
  std::vector<Inst>* insts_;
  std::vector<CodeSet>* sets_;
  std::map<CodeSet, int32_t>* set_index_;
};

// ---- the compiled program: NFA plus the alphabet of character classes -------------

// Flags of a character class (bits of Program::class_flags) and of the previous character
// (bits of a DFA state's `prev`).
enum : uint8_t {
  kClassNewline = 1 << 0,
  kClassWord = 1 << 1,       // Unicode \w
  kClassWordAscii = 1 << 2,  // ASCII \w
  kClassFinal = 1 << 3,      // the subject's last character (only for a final \n)
  kClassEnd = 1 << 4,        // end of subject
  kPrevStart = 1 << 5,       // no character before (start of subject)
};

struct Program {
  std::vector<Inst> insts;
  std::vector<int32_t> starts;  // start instruction of each pattern
  // Per pattern (empty: none): in a kSearch run, the pattern starts at position 0 only, as
  // re.match would, so one pass answers re.match for some patterns and re.search for others.
  std::vector<uint8_t> anchored;
  std::vector<CodeSet> sets;

  // Code points fall into classes that no set and no assertion can tell apart. Classes
  // 0..num_classes-1 are code points; then the final \n of a subject, then end of subject.
  std::array<int32_t, 128> ascii_class{};
  std::vector<char32_t> interval_lo;      // sorted starts of code-point intervals
  std::vector<int32_t> interval_class;
  int32_t num_classes = 0;
  int32_t newline_class = 0;
  int32_t final_newline_class = 0;
  int32_t end_class = 0;
  int32_t stride = 0;                     // classes per DFA row
  std::vector<uint8_t> class_flags;       // [class]
  std::vector<uint8_t> accepts;           // [set * stride + class]
  uint8_t prev_mask = 0;                  // which prev bits any assertion reads

  int32_t ClassOf(char32_t c) const { return c < 0x80 ? ascii_class[c] : IntervalClassOf(c); }
  int32_t IntervalClassOf(char32_t c) const {
    auto it = std::upper_bound(interval_lo.begin(), interval_lo.end(), c);
    return interval_class[(it - interval_lo.begin()) - 1];
  }
  size_t num_patterns() const { return starts.size(); }
};

// Splits the code points into classes: same membership in every set, same newline and
// word properties.
inline void BuildAlphabet(Program* p) {
  std::vector<const CodeSet*> props;
  for (const CodeSet& s : p->sets) props.push_back(&s);
  CodeSet newline;
  newline.Add('\n');
  props.push_back(&newline);
  props.push_back(&WordSet(false));
  props.push_back(&WordSet(true));
  std::vector<char32_t> cuts = {0};
  for (const CodeSet* s : props) {
    for (const auto& r : s->ranges()) {
      cuts.push_back(r.first);
      if (r.second < kMaxCodePoint) cuts.push_back(r.second + 1);
    }
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::map<std::vector<bool>, int32_t> signature_class;
  std::vector<std::vector<bool>> class_signature;
  for (const char32_t lo : cuts) {
    std::vector<bool> signature;
    for (const CodeSet* s : props) signature.push_back(s->Contains(lo));
    auto it = signature_class.find(signature);
    if (it == signature_class.end()) {
      it = signature_class.emplace(signature, static_cast<int32_t>(class_signature.size())).first;
      class_signature.push_back(signature);
    }
    p->interval_lo.push_back(lo);
    p->interval_class.push_back(it->second);
  }
  p->num_classes = static_cast<int32_t>(class_signature.size());
  p->final_newline_class = p->num_classes;
  p->end_class = p->num_classes + 1;
  p->stride = p->num_classes + 2;
  for (char32_t c = 0; c < 0x80; ++c) p->ascii_class[c] = p->IntervalClassOf(c);
  p->newline_class = p->ascii_class['\n'];
  const size_t nsets = p->sets.size();
  p->class_flags.assign(p->stride, 0);
  p->accepts.assign(nsets * p->stride, 0);
  for (int32_t k = 0; k < p->num_classes; ++k) {
    const std::vector<bool>& sig = class_signature[k];
    for (size_t s = 0; s < nsets; ++s) p->accepts[s * p->stride + k] = sig[s];
    p->class_flags[k] = (sig[nsets] ? kClassNewline : 0) | (sig[nsets + 1] ? kClassWord : 0) |
                        (sig[nsets + 2] ? kClassWordAscii : 0);
  }
  for (size_t s = 0; s < nsets; ++s) {
    p->accepts[s * p->stride + p->final_newline_class] = p->accepts[s * p->stride + p->newline_class];
  }
  p->class_flags[p->final_newline_class] = kClassNewline | kClassFinal;
  p->class_flags[p->end_class] = kClassEnd;
}

inline void ComputePrevMask(Program* p) {
  for (const Inst& inst : p->insts) {
    if (inst.op != Inst::Op::kAssert) continue;
    switch (inst.assert_kind) {
      case AssertKind::kBeginText: p->prev_mask |= kPrevStart; break;
      case AssertKind::kBeginLine: p->prev_mask |= kPrevStart | kClassNewline; break;
      case AssertKind::kWordBoundary: case AssertKind::kNotWordBoundary:
        p->prev_mask |= kPrevStart | kClassWord;
        break;
      case AssertKind::kWordBoundaryAscii: case AssertKind::kNotWordBoundaryAscii:
        p->prev_mask |= kPrevStart | kClassWordAscii;
        break;
      default: break;  // end assertions look at the next character only
    }
  }
}

// Whether an assertion holds between a previous character (prev bits) and the next class.
inline bool AssertionHolds(AssertKind kind, uint8_t prev, uint8_t next) {
  const bool start = prev & kPrevStart;
  const bool end = next & kClassEnd;
  switch (kind) {
    case AssertKind::kBeginText: return start;
    case AssertKind::kBeginLine: return start || (prev & kClassNewline);
    case AssertKind::kEndText: return end;
    case AssertKind::kEndTextOrFinalNewline: return end || (next & kClassFinal);
    case AssertKind::kEndLine: return end || (next & kClassNewline);
    // Python: neither \b nor \B matches in an empty subject.
    case AssertKind::kWordBoundary: return !(start && end) && ((prev & kClassWord) != 0) != ((next & kClassWord) != 0);
    case AssertKind::kNotWordBoundary:
      return !(start && end) && ((prev & kClassWord) != 0) == ((next & kClassWord) != 0);
    case AssertKind::kWordBoundaryAscii:
      return !(start && end) && ((prev & kClassWordAscii) != 0) != ((next & kClassWordAscii) != 0);
    case AssertKind::kNotWordBoundaryAscii:
      return !(start && end) && ((prev & kClassWordAscii) != 0) == ((next & kClassWordAscii) != 0);
  }
  return false;
}

inline std::string PrintablePattern(std::string_view pattern) {
  std::string out;
  static const char kHex[] = "0123456789abcdef";
  for (const char ch : pattern) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7F) {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

// Python's re.error text: "msg at position N", with "(line L, column C)" for patterns
// that span lines.
inline PatternError MakePatternError(std::string_view pattern, const std::u32string& cps,
                                     const ParseFailure& f, std::optional<size_t> index) {
  std::string python = f.message;
  if (f.position) {
    python += " at position " + std::to_string(*f.position);
    if (cps.find(U'\n') != std::u32string::npos) {
      const size_t pos = std::min(*f.position, cps.size());
      const size_t line = 1 + std::count(cps.begin(), cps.begin() + pos, U'\n');
      const size_t last_nl = cps.rfind(U'\n', pos == 0 ? 0 : pos - 1);
      const size_t column = (last_nl == std::u32string::npos || pos == 0) ? pos + 1 : pos - last_nl;
      python += " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
    }
  }
  std::string head = index ? "patterns[" + std::to_string(*index) + "] " : "pattern ";
  return PatternError(head + "'" + PrintablePattern(pattern) + "': " + python, std::string(pattern), python,
                      f.position, f.unsupported, index);
}

// Parses and compiles one pattern into `program` as pattern number program->starts.size().
inline void AddPattern(std::string_view pattern, std::optional<size_t> index, Program* program,
                       std::map<CodeSet, int32_t>* set_index) {
  std::u32string cps;
  for (size_t i = 0; i < pattern.size();) {
    if (core::Utf8SequenceLength(pattern, i) == 0) {
      throw MakePatternError(pattern, cps,
                             ParseFailure{"pattern is not valid UTF-8 (byte " + std::to_string(i) + ")",
                                          std::nullopt, true},
                             index);
    }
    cps += NextCodePoint(pattern, &i);
  }
  try {
    Tree tree = Parser(cps).Parse();
    const auto id = static_cast<int32_t>(program->starts.size());
    const size_t before = program->insts.size();
    try {
      program->starts.push_back(NfaBuilder(tree, id, &program->insts, &program->sets, set_index).Build());
    } catch (...) {
      program->insts.resize(before);
      throw;
    }
  } catch (const ParseFailure& f) {
    throw MakePatternError(pattern, cps, f, index);
  }
}

inline void FinishProgram(Program* p) {
  BuildAlphabet(p);
  ComputePrevMask(p);
}

// ---- lazy DFA ---------------------------------------------------------------------------

enum class Query : uint8_t {
  kFirst,  // lowest matching pattern: once pattern i matched, patterns >= i stop running
  kAll,    // every matching pattern: a pattern stops running once it matched
};

// The DFA states and transitions built so far for one (program, mode, query). Copying
// gives an empty cache: copies share nothing mutable.
class DfaCache {
 public:
  static constexpr size_t kDefaultBudget = size_t{8} << 20;  // bytes

  explicit DfaCache(Query query = Query::kFirst, size_t budget = kDefaultBudget)
      : query_(query), budget_(budget) {}
  DfaCache(const DfaCache& other) : query_(other.query_), budget_(other.budget_) {}
  DfaCache& operator=(const DfaCache& other) {
    if (this != &other) {
      Clear();
      query_ = other.query_;
      budget_ = other.budget_;
    }
    return *this;
  }
  DfaCache(DfaCache&&) = default;
  DfaCache& operator=(DfaCache&&) = default;

  struct State {
    std::vector<int32_t> kernel;   // NFA instructions waiting for the next character
    std::vector<int32_t> matched;  // patterns that matched, sorted (kFirst: at most one)
    uint8_t prev = 0;              // class bits of the previous character, masked
  };

  // Transition entries: -1 unknown, else next_state * 2 + (next state is final).
  std::vector<int32_t> trans;
  std::vector<State> states;
  size_t resets = 0;  // times the cache was flushed (for tests and benchmarks)

  void Clear() {
    trans.clear();
    states.clear();
    index_.clear();
    bytes_ = 0;
    start_ = -1;
  }

  // Requires: the cache is used with one (program, mode, query) only.
  int32_t Start(const Program& p, PyMatchMode mode) {
    if (start_ < 0) {
      State s;
      if (mode != PyMatchMode::kSearch) {
        s.kernel = p.starts;
      } else {  // search restarts the unanchored patterns at every step
        for (size_t i = 0; i < p.anchored.size(); ++i) {
          if (p.anchored[i]) s.kernel.push_back(p.starts[i]);
        }
      }
      std::sort(s.kernel.begin(), s.kernel.end());
      s.prev = kPrevStart & p.prev_mask;
      start_ = Intern(p, mode, std::move(s)) >> 1;
    }
    return start_;
  }

  Query query() const { return query_; }

  // Computes (and caches) the transition of state `from` on class k.
  int32_t Step(const Program& p, PyMatchMode mode, int32_t from, int32_t k) {
    State next = Successor(p, mode, query_, states[from], k);
    if (bytes_ > budget_) {
      ++resets;
      Clear();
      const int32_t t = Intern(p, mode, std::move(next));
      return t;  // not recorded: the source state is gone
    }
    const int32_t t = Intern(p, mode, std::move(next));
    trans[static_cast<size_t>(from) * p.stride + k] = t;
    return t;
  }

 private:
  bool Active(const State& s, Query query, int32_t pattern) const {
    if (s.matched.empty()) return true;
    if (query == Query::kFirst) return pattern < s.matched[0];
    return !std::binary_search(s.matched.begin(), s.matched.end(), pattern);
  }

  State Successor(const Program& p, PyMatchMode mode, Query query, const State& from, int32_t k) {
    if (mark_.size() < p.insts.size()) mark_.assign(p.insts.size(), 0);
    if (++stamp_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      stamp_ = 1;
    }
    const uint8_t next_flags = p.class_flags[k];
    std::vector<int32_t> stack(from.kernel.begin(), from.kernel.end());
    if (mode == PyMatchMode::kSearch) {
      for (size_t i = 0; i < p.starts.size(); ++i) {
        if (!p.anchored.empty() && p.anchored[i]) continue;
        if (Active(from, query, static_cast<int32_t>(i))) stack.push_back(p.starts[i]);
      }
    }
    State next;
    next.matched = from.matched;
    std::vector<int32_t> stepped;  // instructions after a consumed character
    const bool count_matches = mode != PyMatchMode::kFullMatch || k == p.end_class;
    while (!stack.empty()) {
      const int32_t id = stack.back();
      stack.pop_back();
      if (id < 0 || mark_[id] == stamp_) continue;
      mark_[id] = stamp_;
      const Inst& inst = p.insts[id];
      switch (inst.op) {
        case Inst::Op::kChar:
          if (k < p.end_class && p.accepts[static_cast<size_t>(inst.arg) * p.stride + k]) stepped.push_back(inst.out);
          break;
        case Inst::Op::kSplit:
          stack.push_back(inst.out1);
          stack.push_back(inst.out);
          break;
        case Inst::Op::kNop: stack.push_back(inst.out); break;
        case Inst::Op::kAssert:
          if (AssertionHolds(inst.assert_kind, from.prev, next_flags)) stack.push_back(inst.out);
          break;
        case Inst::Op::kMatch:
          if (count_matches) AddMatch(query, inst.arg, &next.matched);
          break;
      }
    }
    for (const int32_t id : stepped) {
      if (Active(next, query, p.insts[id].pattern)) next.kernel.push_back(id);
    }
    std::sort(next.kernel.begin(), next.kernel.end());
    next.kernel.erase(std::unique(next.kernel.begin(), next.kernel.end()), next.kernel.end());
    if (k == p.end_class) next.kernel.clear();
    next.prev = (next_flags & (kClassNewline | kClassWord | kClassWordAscii)) & p.prev_mask;
    return next;
  }

  static void AddMatch(Query query, int32_t pattern, std::vector<int32_t>* matched) {
    if (query == Query::kFirst) {
      if (matched->empty()) {
        matched->push_back(pattern);
      } else if (pattern < (*matched)[0]) {
        (*matched)[0] = pattern;
      }
      return;
    }
    auto it = std::lower_bound(matched->begin(), matched->end(), pattern);
    if (it == matched->end() || *it != pattern) matched->insert(it, pattern);
  }

  // True when no character can change the outcome any more.
  static bool Final(const Program& p, PyMatchMode mode, Query query, const State& s) {
    if (!s.kernel.empty()) return false;
    if (mode != PyMatchMode::kSearch) return true;
    if (s.matched.empty()) return p.num_patterns() == 0;
    if (query == Query::kFirst) return s.matched[0] == 0;
    return s.matched.size() == p.num_patterns();
  }

  // Returns id * 2 + final.
  int32_t Intern(const Program& p, PyMatchMode mode, State s) {
    std::string key;
    key.reserve(1 + 4 * (s.kernel.size() + s.matched.size() + 1));
    key += static_cast<char>(s.prev);
    const auto put = [&key](int32_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
    put(static_cast<int32_t>(s.matched.size()));
    for (const int32_t m : s.matched) put(m);
    for (const int32_t i : s.kernel) put(i);
    auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    const bool final = Final(p, mode, query_, s);
    const auto id = static_cast<int32_t>(states.size());
    bytes_ += key.size() * 3 + sizeof(State) + static_cast<size_t>(p.stride) * sizeof(int32_t) + 64;
    states.push_back(std::move(s));
    trans.resize(trans.size() + p.stride, -1);
    const int32_t value = id * 2 + (final ? 1 : 0);
    index_.emplace(std::move(key), value);
    return value;
  }

 private:
  Query query_;
  size_t budget_ = kDefaultBudget;
  size_t bytes_ = 0;
  int32_t start_ = -1;
  std::unordered_map<std::string, int32_t> index_;
  std::vector<uint32_t> mark_;
  uint32_t stamp_ = 0;
};

// Feeds `text` to the DFA from state `s`. `at_end`: text ends the subject, so a last "\n" gets
// its own class (for `$`). Returns the state reached, or -1 - state when a final state (one no
// character can change) was reached early.
inline int32_t FeedDfa(const Program& p, PyMatchMode mode, DfaCache& cache, int32_t s, std::string_view text,
                       bool at_end) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const size_t stride = static_cast<size_t>(p.stride);
  const int32_t* ascii_class = p.ascii_class.data();
  const int32_t* trans = cache.trans.data();  // reloaded after Step, which may grow it
  size_t i = 0;
  while (i < n) {
    int32_t k;
    const unsigned b = bytes[i];
    if (b < 0x80) {
      k = ascii_class[b];
      ++i;
      if (b == '\n' && i == n && at_end) k = p.final_newline_class;
    } else {
      k = p.ClassOf(NextCodePoint(text, &i));
    }
    int32_t t = trans[static_cast<size_t>(s) * stride + static_cast<size_t>(k)];
    if (t < 0) {
      t = cache.Step(p, mode, s, k);
      trans = cache.trans.data();
    }
    s = t >> 1;
    if (t & 1) return -1 - s;
  }
  return s;
}

// The state after the end of the subject: its `matched` is the answer.
inline const DfaCache::State& EndDfa(const Program& p, PyMatchMode mode, DfaCache& cache, int32_t fed) {
  if (fed < 0) return cache.states[static_cast<size_t>(-1 - fed)];
  int32_t t = cache.trans[static_cast<size_t>(fed) * static_cast<size_t>(p.stride) + static_cast<size_t>(p.end_class)];
  if (t < 0) t = cache.Step(p, mode, fed, p.end_class);
  return cache.states[static_cast<size_t>(t >> 1)];
}

// Runs the DFA over `subject`; returns the final state (its `matched` is the answer).
inline const DfaCache::State& RunDfa(const Program& p, PyMatchMode mode, DfaCache& cache,
                                     std::string_view subject) {
  return EndDfa(p, mode, cache, FeedDfa(p, mode, cache, cache.Start(p, mode), subject, /*at_end=*/true));
}

// The slow, obvious twin of RunDfa for tests: a cache with no budget is flushed on every
// step, so each character is an epsilon closure over the NFA and nothing is remembered.
inline std::vector<int32_t> RunNfa(const Program& p, PyMatchMode mode, Query query, std::string_view subject) {
  DfaCache uncached(query, 0);
  return RunDfa(p, mode, uncached, subject).matched;
}

}  // namespace detail

// One Python regular expression, compiled for repeated yes/no questions.
//
// Matches() is const but fills a per-object DFA cache: one object must not be used from two
// threads at once. Copies are independent (each starts with an empty cache).
class PyRegex {
 public:
  // Throws PatternError (an ArgumentError) for patterns Python rejects or we do not support.
  static PyRegex Compile(std::string_view pattern) {
    auto program = std::make_shared<detail::Program>();
    std::map<detail::CodeSet, int32_t> set_index;
    detail::AddPattern(pattern, std::nullopt, program.get(), &set_index);
    detail::FinishProgram(program.get());
    return PyRegex(std::string(pattern), std::move(program));
  }

  // Python's bool(re.match / re.search / re.fullmatch(pattern, subject)).
  bool Matches(std::string_view subject, PyMatchMode mode) const {
    detail::DfaCache& cache = caches_[static_cast<int>(mode)];
    return !detail::RunDfa(*program_, mode, cache, subject).matched.empty();
  }

  const std::string& pattern() const { return pattern_; }

  // True when some subject WITHOUT a newline exists on which re.search finds a match and
  // re.match does not (re.match implies re.search, so otherwise they always agree).
  // Variable names never contain newlines, hence the restriction: `.*BoxPredictor` and
  // `^conv` give false, `BoxPredictor` and `a|^b` true. Decided exactly by walking the pair
  // of DFAs (match, search) over every character class except the newline; when that walk
  // exceeds kMaxPairs state pairs the answer is a conservative true. Computed once.
  bool SearchMayDifferFromMatch() const {
    if (!search_differs_) search_differs_ = ComputeSearchDiffers();
    return *search_differs_;
  }

  static constexpr size_t kMaxPairs = 20000;

 private:
  PyRegex(std::string pattern, std::shared_ptr<const detail::Program> program)
      : pattern_(std::move(pattern)), program_(std::move(program)) {}

  bool ComputeSearchDiffers() const {
    const detail::Program& p = *program_;
    detail::DfaCache match(detail::Query::kFirst, SIZE_MAX), search(detail::Query::kFirst, SIZE_MAX);
    std::map<std::pair<int32_t, int32_t>, bool> seen;
    std::vector<std::pair<int32_t, int32_t>> todo = {
        {match.Start(p, PyMatchMode::kMatch), search.Start(p, PyMatchMode::kSearch)}};
    seen[todo[0]] = true;
    const auto step = [&p](detail::DfaCache& c, PyMatchMode mode, int32_t s, int32_t k) {
      const int32_t t = c.trans[static_cast<size_t>(s) * p.stride + k];
      return (t >= 0 ? t : c.Step(p, mode, s, k)) >> 1;
    };
    while (!todo.empty()) {
      const auto [ms, ss] = todo.back();
      todo.pop_back();
      const int32_t me = step(match, PyMatchMode::kMatch, ms, p.end_class);
      const int32_t se = step(search, PyMatchMode::kSearch, ss, p.end_class);
      if (!search.states[se].matched.empty() && match.states[me].matched.empty()) return true;
      for (int32_t k = 0; k < p.num_classes; ++k) {
        if (k == p.newline_class) continue;
        const std::pair<int32_t, int32_t> next = {step(match, PyMatchMode::kMatch, ms, k),
                                                  step(search, PyMatchMode::kSearch, ss, k)};
        if (seen.emplace(next, true).second) {
          if (seen.size() > kMaxPairs) return true;
          todo.push_back(next);
        }
      }
    }
    return false;
  }

  std::string pattern_;
  std::shared_ptr<const detail::Program> program_;
  mutable detail::DfaCache caches_[3];  // by PyMatchMode
  mutable std::optional<bool> search_differs_;
};

// Many patterns against one subject in one pass: "which patterns match this name".
// Same threading rule as PyRegex: one object per thread, copies are independent.
class PyRegexSet {
 public:
  // Throws PatternError naming the first bad pattern and its index ("patterns[3] '...'").
  PyRegexSet(const std::vector<std::string>& patterns, PyMatchMode mode)
      : PyRegexSet(patterns, std::vector<PyMatchMode>(patterns.size(), mode)) {}

  // Each pattern with its own mode, kMatch or kSearch (re.match for some patterns and
  // re.search for others in one pass); all kFullMatch is allowed too.
  PyRegexSet(const std::vector<std::string>& patterns, const std::vector<PyMatchMode>& modes)
      : patterns_(patterns), first_(detail::Query::kFirst), all_(detail::Query::kAll) {
    if (modes.size() != patterns.size()) throw ArgumentError("PyRegexSet: one mode per pattern");
    const bool all_same = std::all_of(modes.begin(), modes.end(), [&](PyMatchMode m) { return m == modes.front(); });
    if (!all_same && std::find(modes.begin(), modes.end(), PyMatchMode::kFullMatch) != modes.end()) {
      throw ArgumentError("PyRegexSet: fullmatch patterns cannot share a set with other modes");
    }
    auto program = std::make_shared<detail::Program>();
    std::map<detail::CodeSet, int32_t> set_index;
    for (size_t i = 0; i < patterns.size(); ++i) detail::AddPattern(patterns[i], i, program.get(), &set_index);
    detail::FinishProgram(program.get());
    mode_ = modes.empty() ? PyMatchMode::kSearch : modes.front();
    if (!all_same) {
      mode_ = PyMatchMode::kSearch;
      for (PyMatchMode m : modes) program->anchored.push_back(m == PyMatchMode::kMatch ? 1 : 0);
    }
    program_ = std::move(program);
  }

  // Lowest index of a matching pattern, -1 when none matches.
  int FirstMatch(std::string_view subject) const {
    const auto& matched = detail::RunDfa(*program_, mode_, first_, subject).matched;
    return matched.empty() ? -1 : matched[0];
  }

  // Every matching pattern index, ascending, into *out (cleared first).
  void AllMatches(std::string_view subject, std::vector<int>* out) const {
    const auto& matched = detail::RunDfa(*program_, mode_, all_, subject).matched;
    out->assign(matched.begin(), matched.end());
  }

  // AllMatches of `subject` into *plain and of `subject + suffix` into *extended, reading
  // `subject` once (TF's two spellings of a variable, "name" and "name:0").
  void AllMatchesWithSuffix(std::string_view subject, std::string_view suffix, std::vector<int>* plain,
                            std::vector<int>* extended) const {
    const detail::Program& p = *program_;
    const size_t resets = all_.resets;
    // A subject ending in "\n" reads differently once something follows it; rare: run twice.
    if (!subject.empty() && subject.back() == '\n') {
      AllMatches(subject, plain);
      AllMatches(std::string(subject) + std::string(suffix), extended);
      return;
    }
    const int32_t fed = detail::FeedDfa(p, mode_, all_, all_.Start(p, mode_), subject, /*at_end=*/false);
    const auto& at_end = detail::EndDfa(p, mode_, all_, fed).matched;
    plain->assign(at_end.begin(), at_end.end());
    if (fed < 0) {  // decided before the end: the suffix changes nothing
      extended->assign(at_end.begin(), at_end.end());
      return;
    }
    if (all_.resets != resets) {  // the cache was flushed: `fed` no longer names a state
      AllMatches(std::string(subject) + std::string(suffix), extended);
      return;
    }
    const auto& more = detail::EndDfa(p, mode_, all_, detail::FeedDfa(p, mode_, all_, fed, suffix, /*at_end=*/true)).matched;
    extended->assign(more.begin(), more.end());
  }

  size_t size() const { return patterns_.size(); }

  // DFA states built so far and cache flushes, both queries together (benchmarks, tests).
  std::pair<size_t, size_t> CacheStats() const {
    return {first_.states.size() + all_.states.size(), first_.resets + all_.resets};
  }
  const std::vector<std::string>& patterns() const { return patterns_; }
  // The set's mode; kSearch for a set of mixed modes.
  PyMatchMode mode() const { return mode_; }

 private:
  std::vector<std::string> patterns_;
  PyMatchMode mode_ = PyMatchMode::kSearch;
  std::shared_ptr<const detail::Program> program_;
  mutable detail::DfaCache first_;
  mutable detail::DfaCache all_;
};

}  // namespace warmstart::restore
