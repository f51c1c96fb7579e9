// A text-format message tree as JSON (nlohmann::ordered_json, so field order survives),
// and back.
//
//   message          -> object, keys in first-appearance order
//   field seen twice -> array of its values, in order (all occurrences, wherever they are)
//   field seen once  -> the value itself, unless JsonHints::repeated names it (then [value])
//   string           -> string (bytes as they are; dump() needs valid UTF-8)
//   enum identifier  -> string ("RELU_6")
//   bool             -> true / false
//   number           -> integer when the literal is an integer that fits int64/uint64,
//                       double when it is a finite float, else a string with the literal
//                       ("123456789012345678901234", "inf", "-nan")
//
// Back from JSON, a string becomes an enum only where JsonHints::enums names the field
// (there is no schema to tell "PATH_TO_BE_CONFIGURED" the string from V2 the enum);
// every other string stays a string. HintsFrom(tree) collects both sets from an example.
// Lossy without hints: enums (become strings), integers beyond 64 bits and inf/nan
// (become strings), the spelling of numbers and bools ("1e-4" -> 0.0001, False -> false),
// and the interleaving of repeated fields with other fields.
//
// A hint names a field by its path of names from the root ("model.ssd.num_classes", no
// indices) or by any tail of it ("activation" matches every field called activation).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "warmstart/config/text_format.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

struct JsonHints {
  std::set<std::string> repeated;  // fields written as arrays even with one value
  std::set<std::string> enums;     // fields whose JSON strings are enum identifiers
};

namespace detail {

inline bool HintMatches(const std::set<std::string>& hints, const std::string& path) {
  for (size_t dot = 0;; ++dot) {
    if (hints.count(path.substr(dot)) != 0) return true;
    dot = path.find('.', dot);
    if (dot == std::string::npos) return false;
  }
}

inline std::string JoinPath(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "." + name;
}

inline nlohmann::ordered_json ScalarToJson(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kBool: return v.AsBool();
    case ValueKind::kNumber: {
      const auto lit = ParseIntegerLiteral(v.text());
      if (lit && !lit->overflow) {
        if (!lit->negative) return lit->magnitude;
        if (lit->magnitude <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) return v.AsInt64();
      }
      if (!lit) {
        const double d = v.AsDouble();
        if (std::isfinite(d)) return d;
      }
      return v.text();
    }
    default: return v.text();
  }
}

inline nlohmann::ordered_json MessageToJson(const Message& m, const JsonHints& hints, const std::string& path) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Value*>> groups;
  for (const Field& f : m.fields()) {
    auto& g = groups[f.name];
    if (g.empty()) order.push_back(f.name);
    g.push_back(&f.value);
  }
  for (const std::string& name : order) {
    const std::string field_path = JoinPath(path, name);
    auto one = [&](const Value* v) {
      return v->is_message() ? MessageToJson(v->message(), hints, field_path) : ScalarToJson(*v);
    };
    const std::vector<const Value*>& values = groups[name];
    if (values.size() == 1 && !HintMatches(hints.repeated, field_path)) {
      out[name] = one(values[0]);
    } else {
      nlohmann::ordered_json array = nlohmann::ordered_json::array();
      for (const Value* v : values) array.push_back(one(v));
      out[name] = std::move(array);
    }
  }
  return out;
}

class JsonReader {
 public:
  JsonReader(const JsonHints& hints, std::string what, int max_depth)
      : hints_(hints), what_(std::move(what)), max_depth_(max_depth) {}

  Message ReadMessage(const nlohmann::ordered_json& j, const std::string& path, int depth) const {
    if (!j.is_object()) Fail(path, std::string("expected an object for a message, found ") + j.type_name());
    if (depth > max_depth_) Fail(path, "messages nest deeper than " + std::to_string(max_depth_) + " levels");
    Message m;
    for (const auto& [name, value] : j.items()) {
      const std::string field_path = JoinPath(path, name);
      if (!IsIdentifier(name) && !(name.size() > 2 && name.front() == '[' && name.back() == ']')) {
        Fail(field_path, "'" + name + "' is not a field name");
      }
      if (value.is_array()) {
        for (const auto& element : value) {
          if (element.is_array()) Fail(field_path, "arrays of arrays have no text-format form");
          m.Add(name, ReadValue(element, field_path, depth));
        }
      } else {
        m.Add(name, ReadValue(value, field_path, depth));
      }
    }
    return m;
  }

 private:
  [[noreturn]] void Fail(const std::string& path, const std::string& what) const {
    throw FormatError(ErrorContext(what_).WithKey(path.empty() ? "(root)" : path), what);
  }

  Value ReadValue(const nlohmann::ordered_json& j, const std::string& path, int depth) const {
    switch (j.type()) {
      case nlohmann::ordered_json::value_t::object: return Value::Of(ReadMessage(j, path, depth + 1));
      case nlohmann::ordered_json::value_t::boolean: return Value::Bool(j.get<bool>());
      case nlohmann::ordered_json::value_t::number_integer: return Value::Int(j.get<int64_t>());
      case nlohmann::ordered_json::value_t::number_unsigned: return Value::UInt(j.get<uint64_t>());
      case nlohmann::ordered_json::value_t::number_float: return Value::Double(j.get<double>());
      case nlohmann::ordered_json::value_t::string: {
        const std::string& s = j.get_ref<const std::string&>();
        if (IsIdentifier(s) && HintMatches(hints_.enums, path)) return Value::Enum(s);
        return Value::String(s);
      }
      default: Fail(path, std::string("a field value cannot be JSON ") + j.type_name());
    }
  }

  const JsonHints& hints_;
  std::string what_;
  int max_depth_;
};

inline void CollectHints(const Message& m, const std::string& path, JsonHints* hints) {
  std::map<std::string, int> counts;
  for (const Field& f : m.fields()) {
    const std::string field_path = JoinPath(path, f.name);
    if (++counts[f.name] > 1 || f.in_list) hints->repeated.insert(field_path);
    if (f.value.kind() == ValueKind::kIdentifier) hints->enums.insert(field_path);
    if (f.value.is_message()) CollectHints(f.value.message(), field_path, hints);
  }
}

}  // namespace detail

inline nlohmann::ordered_json ToJson(const Message& m, const JsonHints& hints = {}) {
  return detail::MessageToJson(m, hints, "");
}

// Throws FormatError "<what>: key '<field path>': <reason>" for JSON with no tree form.
inline Message FromJson(const nlohmann::ordered_json& j, const JsonHints& hints = {},
                        const std::string& what = "<json>", const ParseOptions& options = {}) {
  return detail::JsonReader(hints, what, options.max_depth).ReadMessage(j, "", 0);
}

// Full paths of the fields that appear more than once in a message or in `[...]` lists
// (repeated), and of fields with identifier values (enums).
inline JsonHints HintsFrom(const Message& m) {
  JsonHints hints;
  detail::CollectHints(m, "", &hints);
  return hints;
}

}  // namespace warmstart::config
