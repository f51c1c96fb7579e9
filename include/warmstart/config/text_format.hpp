// Protobuf text format without a schema: an ordered message tree, a parser, a canonical
// printer, and a Document that writes edits back into the original text.
//
// What a parsed file becomes:
//
//   model {                          Message (root)
//     ssd {                            Field "model"  = Value kMessage
//       num_classes: 90                  Field "ssd"    = Value kMessage
//       activation: RELU_6                 Field "num_classes" = Value kNumber "90"
//       type: 'ssd' "_v1"                  Field "activation"  = Value kIdentifier "RELU_6"
//       scales: [0.25, 0.5]                Field "type"        = Value kString "ssd_v1"
//       center: False                      Field "scales" = kNumber "0.25"  (in_list)
//     }                                    Field "scales" = kNumber "0.5"   (in_list)
//   }                                      Field "center" = Value kBool "False"
//
// Grammar (that of google/protobuf/text_format.cc, ParserImpl; tokens in text_lexer.hpp):
//
//   message = { field [ "," | ";" ] }
//   field   = name ( ":" value | ":" list | [ ":" ] "{" message "}" | [ ":" ] "<" message ">"
//                  | list )
//   name    = identifier | "[" identifier { ("." | "/") identifier } "]"   extension / Any
//   list    = "[" [ value { "," value } ] "]"          one Field per element, same name
//   value   = "{" message "}" | "<" message ">" | scalar
//   scalar  = string { string }                         adjacent literals concatenate
//           | [ "-" ] ( integer | float | inf | infinity | nan )
//           | identifier                                 true/True/t/false/False/f are bools
//
// Without a schema a field that appears once cannot be told from a repeated field with
// one element, nor a singular field written twice (Merge: the last one wins) from a
// repeated one; the tree keeps every occurrence in file order and lets the caller choose
// (Find = first, FindLast = what Merge makes of a singular field, FindAll = all).
// Messages nest at most ParseOptions::max_depth (100, like protobuf) levels deep.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "warmstart/config/text_lexer.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

// How a scalar was written. kNumber keeps the literal's text, so "1e-4", "0.0001", ".5"
// and int64 values beyond double precision print back as written.
enum class ValueKind { kMessage, kString, kIdentifier, kNumber, kBool };

inline const char* ValueKindName(ValueKind k) {
  switch (k) {
    case ValueKind::kMessage: return "message";
    case ValueKind::kString: return "string";
    case ValueKind::kIdentifier: return "enum";
    case ValueKind::kNumber: return "number";
    case ValueKind::kBool: return "bool";
  }
  return "?";
}

struct ParseOptions {
  int max_depth = 100;  // deepest message nesting accepted
};

class Value;
struct Field;
class Document;

namespace detail {
class TextParser;
class EditWriter;
struct PathSegment;

// A field Remove took out of a parsed message: where its bytes were, for the EditWriter.
struct RemovedField {
  Span statement;  // Field::span
  Span value;      // the value's own bytes (a list element's, inside the statement)
  bool in_list = false;
};
}  // namespace detail

// An ordered list of fields. Paths name fields through nested messages:
//   "model.ssd.num_classes"            every segment a field name
//   "train_config.data_augmentation_options[1].random_horizontal_flip"
//                                      [i] picks the i-th (0-based) occurrence in its message
//   "[my.ext].value", "[type.googleapis.com/pkg.Msg]"   extension and Any names, brackets included
class Message {
 public:
  Message() = default;

  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }

  // The first occurrence, in file order, or nullptr.
  const Value* Find(std::string_view path) const;
  // The last occurrence: the value Merge keeps for a singular field. nullptr if none.
  const Value* FindLast(std::string_view path) const;
  // Every occurrence in file order (through every occurrence of each message on the way).
  std::vector<const Value*> FindAll(std::string_view path) const;
  bool Has(std::string_view path) const { return Find(path) != nullptr; }

  // Sets the value at `path`: the last occurrence at each step (so that afterwards
  // FindLast(path) is `value`, as Merge would read it), an explicit [i] where given.
  // Missing fields and messages are appended. Throws ArgumentError for a bad path, a
  // missing [i], or a scalar where the path needs a message.
  const Value& Set(std::string_view path, Value value);
  // The message at `path`, created (appended) when missing; same rules as Set.
  Message& Mutable(std::string_view path);
  // Appends one more occurrence of a field (a repeated field's next element).
  const Value& Add(std::string name, Value value);
  // Removes every value FindAll(path) finds: all occurrences of the last segment in each
  // message the path reaches, or with [i] only the i-th of each; returns how many. A path
  // that reaches nothing removes nothing (0). Throws ArgumentError for a bad path.
  // Document::Print deletes their text and keeps every other byte.
  size_t Remove(std::string_view path);

  friend bool operator==(const Message& a, const Message& b);
  friend bool operator!=(const Message& a, const Message& b) { return !(a == b); }

 private:
  friend class detail::TextParser;
  friend class detail::EditWriter;

  Message& MutableAt(const std::vector<detail::PathSegment>& segs, std::string_view path,
                     const Value** owner = nullptr);
  size_t RemoveAt(const std::vector<detail::PathSegment>& segs, size_t i);
  // ArgumentError "<file>[:<line>:<col>]: field path '...': no occurrence [i] of '...'": the
  // file this message was parsed from, and where `owner` (the value holding it) opens.
  [[noreturn]] void NoOccurrence(std::string_view path, const detail::PathSegment& seg, const Value* owner) const;

  std::vector<Field> fields_;
  std::shared_ptr<const std::string> file_;     // parsed from; null when made by code
  std::vector<detail::RemovedField> removed_;  // parsed fields Remove took out
};

// One value: a nested message or a scalar, with where it came from.
class Value {
 public:
  Value() = default;  // an empty message

  static Value Of(Message m) {
    Value v;
    v.message_ = std::move(m);
    return v;
  }
  static Value String(std::string bytes) { return Scalar(ValueKind::kString, std::move(bytes)); }
  // Requires an identifier ([A-Za-z_][A-Za-z0-9_]*); else ArgumentError.
  static Value Enum(std::string name) {
    if (!detail::IsIdentifier(name)) throw ArgumentError("not an enum identifier: '" + name + "'");
    return Scalar(ValueKind::kIdentifier, std::move(name));
  }
  static Value Bool(bool b) { return Scalar(ValueKind::kBool, b ? "true" : "false"); }
  static Value Int(int64_t v) { return Scalar(ValueKind::kNumber, std::to_string(v)); }
  static Value UInt(uint64_t v) { return Scalar(ValueKind::kNumber, std::to_string(v)); }
  // The shortest text that reads back as v, always float-looking ("1.0", "1e-05", "inf").
  static Value Double(double v);
  // A number literal as text format writes it ("-4.6", "1e-4", "0x1F", "-inf"); else ArgumentError.
  static Value Number(std::string literal);

  ValueKind kind() const { return kind_; }
  bool is_message() const { return kind_ == ValueKind::kMessage; }
  // kString: the decoded bytes; kNumber, kIdentifier, kBool: the token as written
  // ("-4.6", "RELU_6", "False"); kMessage: empty.
  const std::string& text() const { return text_; }
  // A number written as an integer literal (decimal, hex or octal).
  bool IsInteger() const { return kind_ == ValueKind::kNumber && detail::ParseIntegerLiteral(text_).has_value(); }

  // Typed reads, as text_format would read the value into a field of that type. Each
  // throws FormatError "<file>:<line>:<col>: expected ..., found ..." on a mismatch.
  int64_t AsInt64() const;
  uint64_t AsUInt64() const;
  double AsDouble() const;                // integers too; inf, nan; a trailing f
  bool AsBool() const;                    // true/True/t, false/False/f, 1, 0
  const std::string& AsString() const;
  const std::string& AsEnum() const;      // an identifier
  const Message& AsMessage() const;
  const Message& message() const { return AsMessage(); }

  // The scalar as text format writes it (strings quoted and escaped); a message on one line.
  std::string ToText() const;

  const Position& position() const { return position_; }  // first token; unknown if made by code
  const Span& span() const { return span_; }               // source bytes of the value
  const std::string& file() const {
    static const std::string kNone;
    return file_ ? *file_ : kNone;
  }

  // Numbers compare by value (integer literals exactly, others as doubles, nan == nan),
  // bools by truth; the raw text and the positions are not compared.
  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  friend class Message;
  friend class detail::TextParser;
  friend class detail::EditWriter;

  static Value Scalar(ValueKind kind, std::string text) {
    Value v;
    v.kind_ = kind;
    v.text_ = std::move(text);
    return v;
  }
  [[noreturn]] void Fail(const std::string& what) const {
    ErrorContext ctx(file());
    if (position_.known()) ctx = ctx.WithLineColumn(position_.line, position_.column);
    throw FormatError(ctx, what);
  }
  [[noreturn]] void Mismatch(const std::string& expected) const {
    std::string shown = is_message() ? std::string() : " " + ToText();
    if (shown.size() > 60) shown = shown.substr(0, 60) + "...";
    Fail("expected " + expected + ", found " + ValueKindName(kind_) + shown);
  }

  ValueKind kind_ = ValueKind::kMessage;
  std::string text_;
  Message message_;
  Position position_;
  Span span_;
  std::shared_ptr<const std::string> file_;
  bool edited_ = false;  // replaced by Set: the writer splices it over span_
};

// One occurrence of a field. A list `name: [a, b]` gives one Field per element.
struct Field {
  std::string name;
  Value value;
  Position position;     // of the name; unknown for fields added by code
  Span span;             // the whole `name: value` (a list element: the whole `name: [...]`)
  bool in_list = false;  // written inside `[...]`

  friend bool operator==(const Field& a, const Field& b) { return a.name == b.name && a.value == b.value; }
  friend bool operator!=(const Field& a, const Field& b) { return !(a == b); }
};

// ---- values ---------------------------------------------------------------------------

namespace detail {

// A number's value as a double, whatever literal it was written as.
inline std::optional<double> NumberAsDouble(std::string_view text) {
  if (const auto lit = ParseIntegerLiteral(text); lit && !lit->overflow) {
    const double m = static_cast<double>(lit->magnitude);
    return lit->negative ? -m : m;
  }
  return ParseFloatLiteral(text);
}

inline bool NumbersEqual(const std::string& a, const std::string& b) {
  const auto ia = ParseIntegerLiteral(a), ib = ParseIntegerLiteral(b);
  if (ia && ib && !ia->overflow && !ib->overflow) {
    if (ia->magnitude == 0 && ib->magnitude == 0) return true;
    return ia->negative == ib->negative && ia->magnitude == ib->magnitude;
  }
  if (!(ia && ia->overflow) && !(ib && ib->overflow)) {
    const auto da = NumberAsDouble(a), db = NumberAsDouble(b);
    if (da && db) return (std::isnan(*da) && std::isnan(*db)) || *da == *db;
  }
  return a == b;
}

// "-4.6" for "-4.6", "- 5" written with a space becomes "-5"; nullopt if not a number.
inline std::optional<std::string> NormalizeNumber(std::string_view text) {
  try {
    TextLexer lexer(text, "");
    std::string out;
    if (lexer.Peek().Is('-')) {
      lexer.Next();
      out = "-";
    }
    const Token t = lexer.Next();
    const bool ok = t.kind == TokenKind::kInteger || t.kind == TokenKind::kFloat ||
                    (t.kind == TokenKind::kIdentifier && IsNonFiniteWord(t.text));
    if (!ok || lexer.Peek().kind != TokenKind::kEnd) return std::nullopt;
    return out + t.text;
  } catch (const FormatError&) {
    return std::nullopt;
  }
}

}  // namespace detail

inline Value Value::Double(double v) {
  if (std::isnan(v)) return Scalar(ValueKind::kNumber, "nan");
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string text(buf, r.ptr);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // "1" would read as an integer
  return Scalar(ValueKind::kNumber, std::move(text));
}

inline Value Value::Number(std::string literal) {
  std::optional<std::string> text = detail::NormalizeNumber(literal);
  if (!text) throw ArgumentError("not a number literal: '" + literal + "'");
  return Scalar(ValueKind::kNumber, std::move(*text));
}

inline int64_t Value::AsInt64() const {
  if (kind_ != ValueKind::kNumber) Mismatch("an integer");
  const auto lit = detail::ParseIntegerLiteral(text_);
  if (!lit) Mismatch("an integer");
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + (lit->negative ? 1 : 0);
  if (lit->overflow || lit->magnitude > limit) Fail("integer " + text_ + " is out of range for int64");
  if (!lit->negative) return static_cast<int64_t>(lit->magnitude);
  // -(2^63) has no positive int64 counterpart: negate in unsigned arithmetic.
  return static_cast<int64_t>(~lit->magnitude + 1);
}

inline uint64_t Value::AsUInt64() const {
  if (kind_ != ValueKind::kNumber) Mismatch("an unsigned integer");
  const auto lit = detail::ParseIntegerLiteral(text_);
  if (!lit) Mismatch("an unsigned integer");
  if (lit->overflow || (lit->negative && lit->magnitude != 0)) {
    Fail("integer " + text_ + " is out of range for uint64");
  }
  return lit->magnitude;
}

inline double Value::AsDouble() const {
  if (kind_ != ValueKind::kNumber) Mismatch("a number");
  const auto d = detail::NumberAsDouble(text_);
  if (!d) Fail("integer " + text_ + " is out of range for double");
  return *d;
}

inline bool Value::AsBool() const {
  if (kind_ == ValueKind::kBool) {
    if (const auto b = detail::BoolWord(text_)) return *b;
  }
  if (kind_ == ValueKind::kNumber) {
    const auto lit = detail::ParseIntegerLiteral(text_);
    if (lit && !lit->overflow && lit->magnitude <= 1 && !(lit->negative && lit->magnitude == 1)) {
      return lit->magnitude == 1;
    }
  }
  Mismatch("a bool (true, false, True, False, t, f, 1 or 0)");
}

inline const std::string& Value::AsString() const {
  if (kind_ != ValueKind::kString) Mismatch("a string");
  return text_;
}

inline const std::string& Value::AsEnum() const {
  // Without a schema "t", "nan" and the like were classified as bool and number; an enum
  // field may still name a value so.
  if (kind_ == ValueKind::kIdentifier || (kind_ != ValueKind::kString && detail::IsIdentifier(text_))) return text_;
  Mismatch("an enum value (an identifier)");
}

inline const Message& Value::AsMessage() const {
  if (kind_ != ValueKind::kMessage) Mismatch("a message");
  return message_;
}

inline bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case ValueKind::kMessage: return a.message_ == b.message_;
    case ValueKind::kNumber: return detail::NumbersEqual(a.text_, b.text_);
    case ValueKind::kBool: return detail::BoolWord(a.text_) == detail::BoolWord(b.text_);
    default: return a.text_ == b.text_;
  }
}

inline bool operator==(const Message& a, const Message& b) { return a.fields_ == b.fields_; }

// ---- paths ----------------------------------------------------------------------------

namespace detail {

struct PathSegment {
  std::string name;
  std::optional<size_t> index;
};

[[noreturn]] inline void BadPath(std::string_view path, const std::string& why) {
  throw ArgumentError("bad field path '" + std::string(path) + "': " + why);
}

// "a.b[2].[x.y].c" -> {a} {b,2} {[x.y]} {c}. Throws ArgumentError on a malformed path.
inline std::vector<PathSegment> ParsePath(std::string_view path) {
  std::vector<PathSegment> out;
  size_t i = 0;
  while (true) {
    PathSegment seg;
    if (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) BadPath(path, "no ']' after '['");
      seg.name = std::string(path.substr(i, close + 1 - i));
      i = close + 1;
    } else {
      const size_t start = i;
      while (i < path.size() && IsAlnum(path[i])) ++i;
      seg.name = std::string(path.substr(start, i - start));
      if (!IsIdentifier(seg.name)) BadPath(path, "expected a field name at byte " + std::to_string(start));
    }
    if (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) BadPath(path, "no ']' after '['");
      const std::string_view digits = path.substr(i + 1, close - i - 1);
      size_t index = 0;
      const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size()) {
        BadPath(path, "expected an index like [0] at byte " + std::to_string(i));
      }
      seg.index = index;
      i = close + 1;
    }
    out.push_back(std::move(seg));
    if (i == path.size()) return out;
    if (path[i] != '.') BadPath(path, "expected '.' at byte " + std::to_string(i));
    ++i;
  }
}

// The fields named seg.name in m (all occurrences, or only the [i]-th).
template <class Fields>  // std::vector<Field>, const or not
auto Matching(Fields& fields, const PathSegment& seg) {
  std::vector<decltype(&fields.front())> out;
  size_t n = 0;
  for (auto& f : fields) {
    if (f.name != seg.name) continue;
    if (!seg.index || n == *seg.index) out.push_back(&f);
    ++n;
  }
  return out;
}

inline void CollectAll(const std::vector<Field>& fields, const std::vector<PathSegment>& segs, size_t i,
                       std::vector<const Value*>* out) {
  for (const Field* f : Matching(fields, segs[i])) {
    if (i + 1 == segs.size()) {
      out->push_back(&f->value);
    } else if (f->value.is_message()) {
      CollectAll(f->value.message().fields(), segs, i + 1, out);
    }
  }
}

}  // namespace detail

inline std::vector<const Value*> Message::FindAll(std::string_view path) const {
  const std::vector<detail::PathSegment> segs = detail::ParsePath(path);
  std::vector<const Value*> out;
  detail::CollectAll(fields_, segs, 0, &out);
  return out;
}

inline const Value* Message::Find(std::string_view path) const {
  const std::vector<const Value*> all = FindAll(path);
  return all.empty() ? nullptr : all.front();
}

inline const Value* Message::FindLast(std::string_view path) const {
  const std::vector<const Value*> all = FindAll(path);
  return all.empty() ? nullptr : all.back();
}

inline const Value& Message::Add(std::string name, Value value) {
  Field f;
  f.name = std::move(name);
  f.value = std::move(value);
  f.value.position_ = Position{};  // a value copied from elsewhere: its old place is not ours
  f.value.span_ = Span{};
  f.value.edited_ = false;
  fields_.push_back(std::move(f));
  return fields_.back().value;
}

inline void Message::NoOccurrence(std::string_view path, const detail::PathSegment& seg, const Value* owner) const {
  ErrorContext at(file_ ? *file_ : std::string());
  if (owner != nullptr && owner->position_.known()) at = at.WithLineColumn(owner->position_.line, owner->position_.column);
  throw ArgumentError(at, "field path '" + std::string(path) + "': no occurrence [" + std::to_string(*seg.index) +
                              "] of '" + seg.name + "'");
}

inline Message& Message::Mutable(std::string_view path) { return MutableAt(detail::ParsePath(path), path); }

// `owner`, when given, receives the value holding the message returned (nullptr: this).
inline Message& Message::MutableAt(const std::vector<detail::PathSegment>& segs, std::string_view path,
                                   const Value** owner) {
  Message* m = this;
  const Value* holder = nullptr;
  for (const detail::PathSegment& seg : segs) {
    std::vector<Field*> found = detail::Matching(m->fields_, seg);
    if (found.empty() && seg.index) m->NoOccurrence(path, seg, holder);
    if (found.empty()) {
      m->Add(seg.name, Value());
      Value& added = m->fields_.back().value;
      added.message_.file_ = m->file_;  // part of the same document
      holder = &added;
      m = &added.message_;
      continue;
    }
    Value& v = found.back()->value;
    if (!v.is_message()) {
      throw ArgumentError("field path '" + std::string(path) + "': '" + seg.name + "' is a " +
                          ValueKindName(v.kind()) + ", not a message");
    }
    holder = &v;
    m = &v.message_;
  }
  if (owner != nullptr) *owner = holder;
  return *m;
}

inline const Value& Message::Set(std::string_view path, Value value) {
  std::vector<detail::PathSegment> segs = detail::ParsePath(path);
  const detail::PathSegment last = segs.back();
  segs.pop_back();
  const Value* owner = nullptr;
  Message& parent = MutableAt(segs, path, &owner);
  std::vector<Field*> found = detail::Matching(parent.fields_, last);
  if (found.empty() && last.index) parent.NoOccurrence(path, last, owner);
  if (found.empty()) return parent.Add(last.name, std::move(value));
  // The new value takes the old one's place in the file; the writer splices it there.
  Value& old = found.back()->value;
  value.position_ = old.position_;
  value.span_ = old.span_;
  value.file_ = old.file_;
  value.edited_ = old.span_.known();
  old = std::move(value);
  return old;
}

inline size_t Message::Remove(std::string_view path) { return RemoveAt(detail::ParsePath(path), 0); }

inline size_t Message::RemoveAt(const std::vector<detail::PathSegment>& segs, size_t i) {
  const detail::PathSegment& seg = segs[i];
  if (i + 1 < segs.size()) {
    size_t removed = 0;
    for (Field* f : detail::Matching(fields_, seg)) {
      if (f->value.is_message()) removed += f->value.message_.RemoveAt(segs, i + 1);
    }
    return removed;
  }
  std::vector<Field> kept;
  size_t seen = 0, removed = 0;
  for (Field& f : fields_) {
    const bool match = f.name == seg.name && (!seg.index || seen == *seg.index);
    if (f.name == seg.name) ++seen;
    if (!match) {
      kept.push_back(std::move(f));
      continue;
    }
    if (f.span.known()) removed_.push_back(detail::RemovedField{f.span, f.value.span_, f.in_list});
    ++removed;
  }
  fields_ = std::move(kept);
  return removed;
}

// ---- parser ---------------------------------------------------------------------------

namespace detail {

class TextParser {
 public:
  TextParser(std::string_view text, const std::string& file, const ParseOptions& options)
      : lexer_(text, file), file_(std::make_shared<const std::string>(file)), options_(options) {}

  Message Parse() {
    Message root;
    root.file_ = file_;
    ParseBody(&root, '\0', 0, "", Position{});
    return root;
  }

 private:
  Token Take() {
    Token t = lexer_.Next();
    last_end_ = t.end;
    return t;
  }
  [[noreturn]] void Fail(const Position& at, const std::string& what) const { lexer_.Fail(at, what); }

  // Fields up to `close` ('}' or '>'), or to the end of input when close is '\0'.
  void ParseBody(Message* m, char close, int depth, const std::string& owner, const Position& open) {
    while (true) {
      const Token& t = lexer_.Peek();
      if (close == '\0' ? t.kind == TokenKind::kEnd : t.Is(close)) return;
      if (t.kind == TokenKind::kEnd) {
        Fail(t.position, std::string("expected '") + close + "' to close message '" + owner + "' opened at " +
                             open.ToString() + ", found end of input");
      }
      ParseField(m, close, depth);
      if (lexer_.Peek().Is(',') || lexer_.Peek().Is(';')) Take();
    }
  }

  void ParseField(Message* m, char close, int depth) {
    Position pos;
    std::string name = ParseFieldName(close, &pos);
    const Token& t = lexer_.Peek();
    bool colon = false;
    if (t.Is(':')) {
      Take();
      colon = true;
    }
    const Token& v = lexer_.Peek();
    if (v.Is('[')) return ParseList(m, name, pos, depth);
    if (!colon && !v.Is('{') && !v.Is('<')) {
      Fail(v.position, "expected ':' or '{' after field name '" + name + "', found " + DescribeToken(v));
    }
    Field f;
    f.value = ParseValue(name, depth);
    f.name = std::move(name);
    f.position = pos;
    f.span = Span{pos.offset, last_end_};
    m->fields_.push_back(std::move(f));
  }

  // An identifier, or "[a.b.c]" / "[type.googleapis.com/a.B]" kept with its brackets.
  std::string ParseFieldName(char close, Position* pos) {
    Token t = Take();
    *pos = t.position;
    if (t.kind == TokenKind::kIdentifier) return t.text;
    if (!t.Is('[')) {
      const std::string expected = close == '\0' ? "a field name" : std::string("a field name or '") + close + "'";
      Fail(t.position, "expected " + expected + ", found " + DescribeToken(t));
    }
    std::string name = "[";
    while (true) {
      Token part = Take();
      if (part.kind != TokenKind::kIdentifier) {
        Fail(part.position, "expected an identifier in the extension name '" + name + "', found " + DescribeToken(part));
      }
      name += part.text;
      Token sep = Take();
      if (sep.Is(']')) return name + "]";
      if (!sep.Is('.') && !sep.Is('/')) {
        Fail(sep.position, "expected '.', '/' or ']' in the extension name '" + name + "', found " + DescribeToken(sep));
      }
      name += sep.text;
    }
  }

  // `[` value { `,` value } `]`: one field per element; all share the statement's span.
  void ParseList(Message* m, const std::string& name, const Position& pos, int depth) {
    Take();  // '['
    const size_t first = m->fields_.size();
    if (lexer_.Peek().Is(']')) {
      Take();
      return;
    }
    while (true) {
      Field f;
      f.name = name;
      f.value = ParseValue(name, depth);
      f.position = pos;
      f.in_list = true;
      m->fields_.push_back(std::move(f));
      Token t = Take();
      if (t.Is(']')) break;
      if (!t.Is(',')) {
        Fail(t.position, "expected ',' or ']' in the list of field '" + name + "', found " + DescribeToken(t));
      }
    }
    for (size_t i = first; i < m->fields_.size(); ++i) m->fields_[i].span = Span{pos.offset, last_end_};
  }

  Value ParseValue(const std::string& name, int depth) {
    const Token& t = lexer_.Peek();
    if (t.Is('{') || t.Is('<')) return ParseMessage(name, depth);
    return ParseScalar(name);
  }

  // Requires: at '{' or '<'.
  Value ParseMessage(const std::string& name, int depth) {
    const Token open = Take();
    if (depth + 1 > options_.max_depth) {
      Fail(open.position, "message '" + name + "' nests deeper than " + std::to_string(options_.max_depth) + " levels");
    }
    const char close = open.Is('{') ? '}' : '>';
    Value v;
    v.message_.file_ = file_;
    ParseBody(&v.message_, close, depth + 1, name, open.position);
    Take();  // the close
    Stamp(&v, open.position);
    return v;
  }

  Value ParseScalar(const std::string& name) {
    Token t = Take();
    Value v;
    switch (t.kind) {
      case TokenKind::kString:
        v.kind_ = ValueKind::kString;
        v.text_ = std::move(t.value);
        while (lexer_.Peek().kind == TokenKind::kString) v.text_ += Take().value;
        break;
      case TokenKind::kInteger:
      case TokenKind::kFloat:
        v.kind_ = ValueKind::kNumber;
        v.text_ = t.text;
        break;
      case TokenKind::kIdentifier:
        v.kind_ = BoolWord(t.text) ? ValueKind::kBool
                  : IsNonFiniteWord(t.text) ? ValueKind::kNumber
                                            : ValueKind::kIdentifier;
        v.text_ = t.text;
        break;
      default:
        if (!t.Is('-')) Fail(t.position, "expected a value for field '" + name + "', found " + DescribeToken(t));
        v.kind_ = ValueKind::kNumber;
        v.text_ = "-" + ParseNegated(name);
    }
    Stamp(&v, t.position);
    return v;
  }

  // The number after a '-'.
  std::string ParseNegated(const std::string& name) {
    Token n = Take();
    const bool ok = n.kind == TokenKind::kInteger || n.kind == TokenKind::kFloat ||
                    (n.kind == TokenKind::kIdentifier && IsNonFiniteWord(n.text));
    if (!ok) Fail(n.position, "expected a number after '-' in field '" + name + "', found " + DescribeToken(n));
    return n.text;
  }

  void Stamp(Value* v, const Position& start) const {
    v->position_ = start;
    v->span_ = Span{start.offset, last_end_};
    v->file_ = file_;
  }

  TextLexer lexer_;
  std::shared_ptr<const std::string> file_;
  ParseOptions options_;
  size_t last_end_ = 0;
};

}  // namespace detail

// Parses text format. Throws FormatError "<file>:<line>:<column>: <what>".
inline Message ParseText(std::string_view text, const std::string& file = "<text>", const ParseOptions& options = {}) {
  return detail::TextParser(text, file, options).Parse();
}

// ---- canonical printer ----------------------------------------------------------------

namespace detail {

inline void PrintFields(const Message& m, const std::string& indent, std::string* out);

// `name: scalar` or `name {` ... `}` at `indent`, without a final newline.
inline std::string FieldText(const Field& f, const std::string& indent) {
  if (!f.value.is_message()) return f.name + ": " + f.value.ToText();
  std::string out = f.name + " {\n";
  PrintFields(f.value.message(), indent + "  ", &out);
  return out + indent + "}";
}

inline void PrintFields(const Message& m, const std::string& indent, std::string* out) {
  for (const Field& f : m.fields()) *out += indent + FieldText(f, indent) + "\n";
}

inline void PrintOneLine(const Message& m, std::string* out) {
  *out += "{";
  for (const Field& f : m.fields()) {
    *out += " " + f.name;
    if (f.value.is_message()) {
      *out += " ";
      PrintOneLine(f.value.message(), out);
    } else {
      *out += ": " + f.value.ToText();
    }
  }
  *out += m.empty() ? "}" : " }";
}

}  // namespace detail

inline std::string Value::ToText() const {
  if (kind_ == ValueKind::kString) return detail::QuoteString(text_);
  if (kind_ != ValueKind::kMessage) return text_;
  std::string out;
  detail::PrintOneLine(message_, &out);
  return out;
}

// One field per line, two spaces per level, `name {` for messages, lists as repeated
// lines, strings double-quoted and CEscaped; numbers, enums and bools as written.
inline std::string PrintText(const Message& m) {
  std::string out;
  detail::PrintFields(m, "", &out);
  return out;
}

// ---- documents: parse, edit, write back ----------------------------------------------

namespace detail {

// Writes a Document's edits into its source text: an edited value replaces its own bytes;
// new fields go on new lines after their last sibling from the file (indented like it),
// or just inside the braces of a message that had none; a removed field's text is deleted
// (RemovedText); everything else stays byte for byte.
class EditWriter {
 public:
  explicit EditWriter(const std::string& source) : source_(source) {}

  std::string Write(const Message& root) {
    Collect(root, nullptr);
    std::stable_sort(splices_.begin(), splices_.end(),
                     [](const Splice& a, const Splice& b) { return a.begin < b.begin; });
    std::string out;
    size_t cursor = 0;
    for (const Splice& s : splices_) {
      if (s.begin > cursor) out.append(source_, cursor, s.begin - cursor);
      out += s.text;
      cursor = std::max(cursor, s.end);
    }
    if (cursor < source_.size()) out.append(source_, cursor, std::string::npos);
    return out;
  }

 private:
  struct Splice {
    size_t begin, end;
    std::string text;
  };

  void Collect(const Message& m, const Value* owner) {
    std::vector<const Field*> added;
    for (const Field& f : m.fields_) {
      if (!f.span.known()) {
        added.push_back(&f);
      } else if (f.value.edited_) {
        Replace(f);
      } else if (f.value.is_message()) {
        Collect(f.value.message_, &f.value);
      }
    }
    if (!added.empty()) Insert(m, owner, added);
    if (!m.removed_.empty()) Delete(m);
  }

  // Removed statements go whole; a list that keeps some elements loses each run of removed
  // ones with the separator between it and a kept neighbour:
  //   `s: [1, 2, 3]` without 2 -> `s: [1, 3]`; without 3 -> `s: [1, 2]`.
  void Delete(const Message& m) {
    std::vector<size_t> statements;  // begin offsets, each once
    for (const RemovedField& r : m.removed_) {
      if (std::find(statements.begin(), statements.end(), r.statement.begin) != statements.end()) continue;
      statements.push_back(r.statement.begin);
      std::vector<std::pair<Span, bool>> elements;  // a list's value spans, removed or not
      for (const Field& f : m.fields_) {
        if (f.in_list && f.span.begin == r.statement.begin) elements.emplace_back(f.value.span_, false);
      }
      if (!r.in_list || elements.empty()) {
        splices_.push_back(RemovedText(r.statement));
        continue;
      }
      for (const RemovedField& e : m.removed_) {
        if (e.statement.begin == r.statement.begin) elements.emplace_back(e.value, true);
      }
      DeleteListElements(std::move(elements));
    }
  }

  void DeleteListElements(std::vector<std::pair<Span, bool>> elements) {
    std::sort(elements.begin(), elements.end(),
              [](const auto& a, const auto& b) { return a.first.begin < b.first.begin; });
    for (size_t i = 0; i < elements.size();) {
      if (!elements[i].second) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j + 1 < elements.size() && elements[j + 1].second) ++j;
      if (j + 1 < elements.size()) {  // up to the next kept element
        splices_.push_back(Splice{elements[i].first.begin, elements[j + 1].first.begin, ""});
      } else {  // the tail: from the end of the kept element before the run
        splices_.push_back(Splice{elements[i - 1].first.end, elements[j].first.end, ""});
      }
      i = j + 1;
    }
  }

  // The bytes a removed statement takes with it. Alone on its line(s): the whole lines,
  // with a comment after it. Else the statement, the separator after it and the blanks
  // after that; or, when only separators and a comment follow on its line, the blanks
  // before it instead (so `a: 1; b: 2  # c` without b is `a: 1;  # c`).
  Splice RemovedText(const Span& s) const {
    const size_t eol = TriviaToEndOfLine(s.end);
    if (StartsLine(s.begin) && eol != std::string::npos) {
      return Splice{LineStart(s.begin), eol < source_.size() ? eol + 1 : eol, ""};
    }
    if (eol != std::string::npos) {
      size_t begin = s.begin;
      while (begin > 0 && (source_[begin - 1] == ' ' || source_[begin - 1] == '\t')) --begin;
      return Splice{begin, s.end, ""};
    }
    size_t end = SkipBlanks(s.end);
    if (end < source_.size() && (source_[end] == ',' || source_[end] == ';')) end = SkipBlanks(end + 1);
    return Splice{s.begin, end, ""};
  }

  size_t SkipBlanks(size_t i) const {
    while (i < source_.size() && (source_[i] == ' ' || source_[i] == '\t')) ++i;
    return i;
  }

  void Replace(const Field& f) {
    const Value& v = f.value;
    const std::string indent = LineIndent(f.position.offset);
    if (v.is_message()) {
      std::string text = "{\n";
      PrintFields(v.message_, indent + "  ", &text);
      splices_.push_back(Splice{v.span_.begin, v.span_.end, text + indent + "}"});
      return;
    }
    // `name { ... }` had no colon; a scalar needs one, right after the name.
    const std::string_view before(source_.data() + f.position.offset, v.span_.begin - f.position.offset);
    if (before.find(':') == std::string_view::npos) {
      const size_t name_end = f.name[0] == '[' ? source_.find(']', f.position.offset) + 1
                                               : f.position.offset + f.name.size();
      splices_.push_back(Splice{name_end, v.span_.end, ": " + v.ToText()});
      return;
    }
    splices_.push_back(Splice{v.span_.begin, v.span_.end, v.ToText()});
  }

  void Insert(const Message& m, const Value* owner, const std::vector<const Field*>& added) {
    const Field* last = nullptr;
    for (const Field& f : m.fields_) {
      if (f.span.known()) last = &f;
    }
    if (last != nullptr) {
      const std::string indent = StartsLine(last->position.offset) ? LineIndent(last->position.offset)
                                 : owner != nullptr ? LineIndent(owner->position_.offset) + "  "
                                                    : std::string();
      size_t at = last->span.end;
      if (const size_t eol = TriviaToEndOfLine(at); eol != std::string::npos) at = eol;
      splices_.push_back(Splice{at, at, Lines(added, indent)});
    } else if (owner != nullptr) {
      const std::string outer = LineIndent(owner->position_.offset);
      const size_t open = owner->span_.begin, close = owner->span_.end - 1;
      // Blank once removed fields are gone: the braces get the new fields on lines of their own.
      std::string body = source_.substr(open + 1, close - open - 1);
      for (const RemovedField& r : m.removed_) {
        if (r.statement.begin > open && r.statement.end <= close) {
          std::fill_n(body.begin() + static_cast<std::ptrdiff_t>(r.statement.begin - open - 1),
                      r.statement.end - r.statement.begin, ' ');
        }
      }
      if (body.find_first_not_of(" \t\r,;") == std::string::npos) {  // separators: of removed fields
        splices_.push_back(Splice{open + 1, close, Lines(added, outer + "  ") + "\n" + outer});
      } else {
        splices_.push_back(Splice{open + 1, open + 1, Lines(added, outer + "  ")});
      }
    } else {
      std::string text = source_.empty() || source_.back() == '\n' ? "" : "\n";
      for (const Field* f : added) text += FieldText(*f, "") + "\n";
      splices_.push_back(Splice{source_.size(), source_.size(), std::move(text)});
    }
  }

  static std::string Lines(const std::vector<const Field*>& added, const std::string& indent) {
    std::string text;
    for (const Field* f : added) text += "\n" + indent + FieldText(*f, indent);
    return text;
  }

  size_t LineStart(size_t offset) const {
    const size_t nl = offset == 0 ? std::string::npos : source_.rfind('\n', offset - 1);
    return nl == std::string::npos ? 0 : nl + 1;
  }
  std::string LineIndent(size_t offset) const {
    const size_t start = LineStart(offset);
    size_t end = start;
    while (end < source_.size() && (source_[end] == ' ' || source_[end] == '\t')) ++end;
    return source_.substr(start, end - start);
  }
  bool StartsLine(size_t offset) const {
    for (size_t i = LineStart(offset); i < offset; ++i) {
      if (source_[i] != ' ' && source_[i] != '\t') return false;
    }
    return true;
  }
  // The offset of the line's end ('\n' or end of text) when only separators, blanks and
  // a comment follow `at` on its line; npos otherwise.
  size_t TriviaToEndOfLine(size_t at) const {
    size_t i = at;
    while (i < source_.size() && std::string_view(" \t\r,;").find(source_[i]) != std::string_view::npos) ++i;
    if (i < source_.size() && source_[i] == '#') i = std::min(source_.find('\n', i), source_.size());
    return i == source_.size() || source_[i] == '\n' ? i : std::string::npos;
  }

  const std::string& source_;
  std::vector<Splice> splices_;
};

}  // namespace detail

namespace detail {

[[noreturn]] inline void ThrowSaveError(const std::string& path, const std::string& what, int err) {
  throw IoError(ErrorContext(path), what + ": " + std::strerror(err));
}

// "<path>.tmp" + 32 random hex digits: unique in the directory (created with O_EXCL).
inline std::string SaveTempName(const std::string& path) {
  static thread_local std::mt19937_64 rng;
  static thread_local pid_t seeded_in = 0;
  if (seeded_in != ::getpid()) {  // a forked child would draw its parent's numbers
    std::random_device device;
    rng.seed((static_cast<uint64_t>(device()) << 32) ^ device());
    seeded_in = ::getpid();
  }
  static const char kHex[] = "0123456789abcdef";
  std::string name = path + ".tmp";
  for (int i = 0; i < 2; ++i) {
    const uint64_t r = rng();
    for (int b = 0; b < 16; ++b) name += kHex[(r >> (4 * b)) & 15];
  }
  return name;
}

inline void WriteAll(int fd, const std::string& text, const std::string& path, const std::string& temp) {
  const char* p = text.data();
  size_t n = text.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) ThrowSaveError(path, "cannot write the temporary file " + temp, errno);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Makes a rename to `path` durable.
inline void SyncParentDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowSaveError(path, "saved, but cannot open the directory " + dir + " to fsync it", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) ThrowSaveError(path, "saved, but cannot fsync the directory " + dir, err);
}

// Writes `text` to `path` as the checkpoint state writer does (bundle/checkpoint_manager.hpp,
// WriteCheckpointState): a new file under a unique temporary name in the same directory,
// written, fsynced and closed, renamed over `path`; then the directory is fsynced. An existing
// file's permission bits carry over (a new one gets 0666 less the umask). On failure the
// temporary file is removed and IoError names `path` (and the temporary file, when that
// was what failed). A symbolic link at `path` is replaced by the file, not followed.
inline void WriteFileAtomically(const std::string& path, const std::string& text) {
  struct stat old;
  const bool existed = ::stat(path.c_str(), &old) == 0;
  const std::string temp = SaveTempName(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) ThrowSaveError(path, "cannot create the temporary file " + temp, errno);
  try {
    if (existed && ::fchmod(fd, old.st_mode & 07777) != 0) {
      ThrowSaveError(path, "cannot copy the permissions to the temporary file " + temp, errno);
    }
    WriteAll(fd, text, path, temp);
    if (::fsync(fd) != 0) ThrowSaveError(path, "cannot fsync the temporary file " + temp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    ThrowSaveError(path, "cannot close the temporary file " + temp, err);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    ThrowSaveError(path, "cannot rename " + temp + " to this name", err);
  }
  SyncParentDirectory(path);
}

}  // namespace detail

// A parsed file that remembers its text. Edit root() with Set/Mutable/Add; Print()
// returns the original bytes with only the edits changed.
class Document {
 public:
  static Document Parse(std::string text, std::string file = "<text>", const ParseOptions& options = {}) {
    Message root = ParseText(text, file, options);
    return Document(std::move(text), std::move(file), std::move(root));
  }
  // Throws NotFoundError / IoError when the file cannot be read.
  static Document Load(const std::filesystem::path& path, const ParseOptions& options = {}) {
    std::error_code dir_ec;
    if (std::filesystem::is_directory(path, dir_ec)) throw IoError(ErrorContext(path.string()), "is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) throw NotFoundError(ErrorContext(path.string()), "no such file");
      throw IoError(ErrorContext(path.string()), "cannot open file for reading");
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) throw IoError(ErrorContext(path.string()), "cannot read file");
    return Parse(bytes.str(), path.string(), options);
  }

  const Message& root() const { return root_; }
  Message& root() { return root_; }
  const std::string& source() const { return source_; }
  const std::string& file() const { return file_; }

  // The source with the edits spliced in (the source itself when nothing was edited).
  std::string Print() const { return detail::EditWriter(source_).Write(root_); }
  // The tree in canonical form; comments and layout are not kept.
  std::string PrintCanonical() const { return PrintText(root_); }

  // Writes Print() to `path` so that a crash leaves the old file or the new one, whole
  // (WriteFileAtomically). Throws IoError naming `path`.
  void Save(const std::filesystem::path& path) const { detail::WriteFileAtomically(path.string(), Print()); }

 private:
  Document(std::string source, std::string file, Message root)
      : source_(std::move(source)), file_(std::move(file)), root_(std::move(root)) {}

  std::string source_;
  std::string file_;
  Message root_;
};

}  // namespace warmstart::config
