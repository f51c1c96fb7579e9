// Tensors printed the way numpy prints them, so that `warmstart inspect --tensor_name`
// shows what `print(reader.get_tensor(name))` shows in TensorFlow's inspect_checkpoint.
//
// Mirrors numpy/core/arrayprint.py (numpy >= 1.14, legacy=False, the default print options):
//
//   layout     _formatArray: nested brackets by shape, rows wrapped at `linewidth` (75) with
//              a one-space hanging indent per level; axes_left - 1 blank lines between blocks
//   summary    more than `threshold` (1000) elements: each dimension longer than
//              2 * `edgeitems` (3) shows its first and last 3 items around "..."; the column
//              widths are computed from the shown elements only (_leading_trailing)
//   floats     FloatingFormat, floatmode "maxprec", precision 8: scientific when a non-zero
//              |x| >= 1e8 or < 1e-4 or max/min > 1e3; otherwise positional. Digits are the
//              shortest that round-trip in the element's own type (float16 digits for half),
//              cut to `precision` fractional digits; integer parts right-aligned, fractions
//              left-aligned, nan/inf right-aligned in the full width
//   integers   right-aligned to the widest of min and max
//   bool       " True" / "False" in arrays, True / False alone
//   complex    real part, then the imaginary part with an explicit sign and "j": [1.+2.j 3.-4.5j];
//              a scalar reads like Python's complex: (1+2j), 2j
//   strings    Python's bytes repr (TF returns bytes): b'abc', b"it's", b'\x00\n'
//   0-d        numpy's scalar str: 0.1, 3.0, 1e-05, 1.5e+17, nan, -inf
//
// bfloat16 is printed with its own shortest digits, like half (numpy has no bfloat16).
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

namespace warmstart::cli {

struct PrintOptions {
  int precision = 8;         // at most this many fractional digits per float
  int64_t threshold = 1000;  // summarise tensors with more elements than this
  int64_t edgeitems = 3;     // items kept at each end of a summarised dimension
  int64_t linewidth = 75;    // wrap rows longer than this
};

namespace numpy {

// ---- Decimal digits of one finite float ----

template <class T>
inline constexpr bool kIsFloat = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                 std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>;

template <class T>
double AsDouble(T x) {
  if constexpr (std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>) {
    return static_cast<double>(static_cast<float>(x));
  } else {
    return static_cast<double>(x);
  }
}

// |x| = digits[0].digits[1..] x 10^exponent; no trailing zeros in digits ("0" for zero).
struct Digits {
  std::string digits;
  int exponent = 0;
};

// Parses "d.ddde[+-]xx" (what %e and to_chars(scientific) write for a non-negative value).
inline Digits ParseScientific(const char* begin, const char* end) {
  Digits d;
  const char* p = begin;
  for (; p != end && *p != 'e'; ++p) {
    if (*p != '.') d.digits += *p;
  }
  if (p != end) d.exponent = std::atoi(std::string(p + 1, end).c_str());
  while (d.digits.size() > 1 && d.digits.back() == '0') d.digits.pop_back();
  if (d.digits == "0") d.exponent = 0;
  return d;
}

// The shortest digits that read back as the same value of type T (numpy's "unique" Dragon4).
// Requires: x finite and not negative.
template <class T>
Digits ShortestDigits(T x) {
  char buf[64];
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    const auto r = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
    return ParseScientific(buf, r.ptr);
  } else {
    // half and bfloat16: the fewest significant digits that round back to x.
    const double v = static_cast<double>(static_cast<float>(x));
    int n = 0;
    for (int p = 1; p <= 9; ++p) {
      n = std::snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
      if (static_cast<float>(T(std::strtof(buf, nullptr))) == static_cast<float>(x)) break;
    }
    return ParseScientific(buf, buf + n);
  }
}

inline std::string TrimZeros(std::string frac) {
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac;
}

// A float split at its decimal point (scientific: plus its exponent), without a sign.
struct Parts {
  std::string int_part;
  std::string frac_part;
  int exponent = 0;
};

// Positional |x|: its shortest digits, or |x| rounded to `precision` fractional digits
// when the shortest need more (precision < 0: no limit). Trailing zeros are trimmed.
// `exact_integer` (arrays: numpy's min_digits=0) prints every digit before the point
// exactly where the shortest digits stop earlier (82682792, not the scalar's 82682790.0).
template <class T>
Parts Positional(T abs_x, int precision, bool exact_integer) {
  const Digits d = ShortestDigits(abs_x);
  const int num_digits = static_cast<int>(d.digits.size());
  const int frac_digits = std::max(0, num_digits - 1 - d.exponent);
  Parts p;
  const bool round = precision >= 0 && frac_digits > precision;
  if (round || (exact_integer && d.exponent + 1 > num_digits)) {  // the latter: |x| is an integer
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", round ? precision : 0, AsDouble(abs_x));
    const std::string s(buf);
    const size_t dot = s.find('.');
    p.int_part = s.substr(0, dot);
    p.frac_part = dot == std::string::npos ? "" : TrimZeros(s.substr(dot + 1));
  } else if (d.exponent >= 0) {
    p.int_part = d.digits.substr(0, static_cast<size_t>(std::min(num_digits, d.exponent + 1)));
    p.int_part.append(static_cast<size_t>(std::max(0, d.exponent + 1 - num_digits)), '0');
    if (num_digits > d.exponent + 1) p.frac_part = d.digits.substr(static_cast<size_t>(d.exponent + 1));
  } else {
    p.int_part = "0";
    p.frac_part = std::string(static_cast<size_t>(-d.exponent - 1), '0') + d.digits;
  }
  return p;
}

// Scientific |x|: its shortest digits, or rounded to `precision` fractional digits of the
// mantissa when the shortest need more. Trailing zeros of the mantissa are trimmed.
template <class T>
Parts Scientific(T abs_x, int precision) {
  Digits d = ShortestDigits(abs_x);
  if (precision >= 0 && static_cast<int>(d.digits.size()) - 1 > precision) {
    char buf[160];
    const int n = std::snprintf(buf, sizeof(buf), "%.*e", precision, AsDouble(abs_x));
    d = ParseScientific(buf, buf + n);
  }
  return Parts{d.digits.substr(0, 1), d.digits.substr(1), d.exponent};
}

// "e+05": the exponent with its sign and at least `min_digits` digits.
inline std::string ExponentText(int exponent, int min_digits) {
  std::string digits = std::to_string(exponent < 0 ? -exponent : exponent);
  if (static_cast<int>(digits.size()) < min_digits) {
    digits.insert(0, static_cast<size_t>(min_digits) - digits.size(), '0');
  }
  return std::string("e") + (exponent < 0 ? "-" : "+") + digits;
}

template <class T>
T Abs(T x) {
  return std::signbit(AsDouble(x)) ? T(-x) : x;
}

inline std::string PadLeft(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

inline std::string PadRight(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// ---- Element formats for arrays (built from the shown elements, then applied to each) ----

// numpy's FloatingFormat (floatmode "maxprec", sign "-" or "+").
template <class T>
class FloatFormat {
 public:
  FloatFormat(const std::vector<T>& shown, const PrintOptions& options, bool plus_sign = false)
      : precision_(options.precision), plus_sign_(plus_sign) {
    std::vector<T> finite;
    bool any_nonfinite = false, negative_inf = false;
    for (const T& x : shown) {
      const double v = AsDouble(x);
      if (std::isfinite(v)) {
        finite.push_back(x);
      } else {
        any_nonfinite = true;
        negative_inf |= std::isinf(v) && v < 0;
      }
    }
    exp_format_ = NeedsScientific(finite);
    if (!finite.empty()) exp_format_ ? FillScientific(finite) : FillPositional(finite);
    if (any_nonfinite) {
      const int offset = pad_right_ + 1;
      const int inf_len = 3 + ((plus_sign_ || negative_inf) ? 1 : 0);
      pad_left_ = std::max({pad_left_, 3 - offset, inf_len - offset});
    }
  }

  std::string operator()(T x) const {
    const double v = AsDouble(x);
    if (!std::isfinite(v)) {
      const std::string text = std::isnan(v) ? std::string(plus_sign_ ? "+" : "") + "nan"
                                             : std::string(v < 0 ? "-" : plus_sign_ ? "+" : "") + "inf";
      return PadLeft(text, static_cast<size_t>(pad_left_ + pad_right_ + 1));
    }
    if (exp_format_) {
      // min_digits = precision: digits past the shortest ones are the exact value's, as %e gives.
      char buf[160];
      const int n = std::snprintf(buf, sizeof(buf), "%#.*e", precision_, std::fabs(v));
      const std::string s(buf, static_cast<size_t>(n));
      const size_t dot = s.find('.'), e = s.find('e');
      return PadLeft(Sign(v) + s.substr(0, dot), static_cast<size_t>(pad_left_)) + s.substr(dot, e - dot) +
             ExponentText(std::atoi(s.c_str() + e + 1), exp_size_);
    }
    const Parts p = Positional(Abs(x), precision_, true);
    return PadLeft(Sign(v) + p.int_part, static_cast<size_t>(pad_left_)) + "." +
           PadRight(p.frac_part, static_cast<size_t>(pad_right_));
  }

 private:
  std::string Sign(double v) const { return std::signbit(v) ? "-" : plus_sign_ ? "+" : ""; }

  static bool NeedsScientific(const std::vector<T>& finite) {
    double max_val = 0, min_val = std::numeric_limits<double>::infinity();
    for (const T& x : finite) {
      const double a = std::fabs(AsDouble(x));
      if (a == 0) continue;
      max_val = std::max(max_val, a);
      min_val = std::min(min_val, a);
    }
    if (max_val == 0) return false;
    return max_val >= 1e8 || min_val < 1e-4 || max_val / min_val > 1e3;
  }

  // First pass: widths of the unique digits, each cut to `precision` fractional digits.
  void FillPositional(const std::vector<T>& finite) {
    for (const T& x : finite) {
      const Parts p = Positional(Abs(x), precision_, true);
      pad_left_ = std::max(pad_left_, static_cast<int>(Sign(AsDouble(x)).size() + p.int_part.size()));
      pad_right_ = std::max(pad_right_, static_cast<int>(p.frac_part.size()));
    }
  }

  // Every element then gets the most fractional digits any one needs, and the widest exponent.
  void FillScientific(const std::vector<T>& finite) {
    int frac = 0, exp_digits = 0;
    for (const T& x : finite) {
      const Parts p = Scientific(Abs(x), precision_);
      pad_left_ = std::max(pad_left_, static_cast<int>(Sign(AsDouble(x)).size() + p.int_part.size()));
      frac = std::max(frac, static_cast<int>(p.frac_part.size()));
      exp_digits = std::max(exp_digits, static_cast<int>(std::to_string(std::abs(p.exponent)).size()));
    }
    precision_ = frac;
    exp_size_ = std::max(2, exp_digits);
    pad_right_ = exp_size_ + 2 + precision_;
  }

  int precision_;
  bool plus_sign_;
  bool exp_format_ = false;
  int pad_left_ = 0;
  int pad_right_ = 0;
  int exp_size_ = -1;
};

// numpy's IntegerFormat: right-aligned to the wider of the smallest and largest.
template <class T>
class IntFormat {
 public:
  IntFormat(const std::vector<T>& shown, const PrintOptions&) {
    if (shown.empty()) return;
    const auto [lo, hi] = std::minmax_element(shown.begin(), shown.end());
    width_ = std::max(Text(*lo).size(), Text(*hi).size());
  }
  std::string operator()(T x) const { return PadLeft(Text(x), width_); }
  static std::string Text(T x) { return std::to_string(x); }

 private:
  size_t width_ = 0;
};

class BoolFormat {
 public:
  BoolFormat(const std::vector<bool>&, const PrintOptions&) {}
  std::string operator()(bool x) const { return x ? " True" : "False"; }
};

// numpy's ComplexFloatingFormat: real and imaginary parts formatted separately.
template <class F>
class ComplexFormat {
 public:
  ComplexFormat(const std::vector<std::complex<F>>& shown, const PrintOptions& options)
      : real_(Parts(shown, true), options), imag_(Parts(shown, false), options, /*plus_sign=*/true) {}

  std::string operator()(const std::complex<F>& x) const {
    std::string i = imag_(x.imag());
    const size_t end = i.find_last_not_of(' ') + 1;
    i.insert(end, "j");
    return real_(x.real()) + i;
  }

 private:
  static std::vector<F> Parts(const std::vector<std::complex<F>>& v, bool real) {
    std::vector<F> out;
    out.reserve(v.size());
    for (const auto& x : v) out.push_back(real ? x.real() : x.imag());
    return out;
  }

  FloatFormat<F> real_;
  FloatFormat<F> imag_;
};

// Python's repr of a bytes object.
inline std::string BytesRepr(const std::string& s) {
  const bool double_quote = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char quote = double_quote ? '"' : '\'';
  std::string out = "b";
  out += quote;
  for (unsigned char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

class BytesFormat {
 public:
  BytesFormat(const std::vector<std::string>&, const PrintOptions&) {}
  std::string operator()(const std::string& x) const { return BytesRepr(x); }
};

template <class T>
auto MakeFormat(const std::vector<T>& shown, const PrintOptions& options) {
  if constexpr (kIsFloat<T>) {
    return FloatFormat<T>(shown, options);
  } else if constexpr (std::is_same_v<T, bool>) {
    return BoolFormat(shown, options);
  } else if constexpr (std::is_integral_v<T>) {
    return IntFormat<T>(shown, options);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return BytesFormat(shown, options);
  } else {
    return ComplexFormat<typename T::value_type>(shown, options);
  }
}

// ---- Scalars (0-d tensors): numpy's scalar str ----

// Positional when 1e-4 <= |x| < 1e16 (or 0), keeping one zero ("3.0"); else scientific
// without trailing zeros or dot ("1e-05"). `keep_zero` false drops ".0" (complex parts).
template <class T>
std::string FloatScalarText(T x, bool keep_zero = true) {
  const double v = AsDouble(x);
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  const std::string sign = std::signbit(v) ? "-" : "";
  const double a = std::fabs(v);
  if (a == 0 || (a >= 1e-4 && a < 1e16)) {
    const Parts p = Positional(Abs(x), -1, false);
    if (p.frac_part.empty()) return sign + p.int_part + (keep_zero ? ".0" : "");
    return sign + p.int_part + "." + p.frac_part;
  }
  const Parts p = Scientific(Abs(x), -1);
  return sign + p.int_part + (p.frac_part.empty() ? "" : "." + p.frac_part) + ExponentText(p.exponent, 2);
}

template <class T>
std::string ScalarText(const T& x) {
  if constexpr (kIsFloat<T>) {
    return FloatScalarText(x);
  } else if constexpr (std::is_same_v<T, bool>) {
    return x ? "True" : "False";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(x);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return BytesRepr(x);
  } else {  // like Python: 2j, (1+2j), (1.5-0.5j)
    const std::string imag = FloatScalarText(x.imag(), false) + "j";
    if (x.real() == 0 && !std::signbit(x.real())) return imag;
    const bool plus = !std::signbit(x.imag()) || std::isnan(x.imag());
    return "(" + FloatScalarText(x.real(), false) + (plus ? "+" : "") + imag + ")";
  }
}

// ---- Layout (numpy's _formatArray) ----

// _extendLine: appends `word` to `line`, first moving `line` into `s` when it would
// grow past `width` (unless the line holds nothing but the indent).
inline void ExtendLine(std::string* s, std::string* line, const std::string& word, int64_t width,
                       const std::string& indent) {
  const bool needs_wrap = static_cast<int64_t>(line->size() + word.size()) > width && line->size() > indent.size();
  if (needs_wrap) {
    const size_t end = line->find_last_not_of(' ');
    *s += line->substr(0, end == std::string::npos ? 0 : end + 1) + "\n";
    *line = indent;
  }
  *line += word;
}

class Layout {
 public:
  using Element = std::function<std::string(int64_t)>;  // text of the element at a flat index

  Layout(std::vector<int64_t> dims, Element element, bool summarise, const PrintOptions& options)
      : dims_(std::move(dims)), strides_(dims_.size(), 1), element_(std::move(element)),
        summarise_(summarise), options_(options) {
    for (size_t i = dims_.size(); i-- > 1;) strides_[i - 1] = strides_[i] * dims_[i];
  }

  std::string Format() const { return Recurse(0, 0, " ", options_.linewidth); }

 private:
  // The block of axis `axis` starting at flat index `base`.
  std::string Recurse(size_t axis, int64_t base, const std::string& indent, int64_t width) const {
    if (axis == dims_.size()) return element_(base);
    const int64_t len = dims_[axis];
    const bool summary = summarise_ && 2 * options_.edgeitems < len;
    const int64_t leading = summary ? options_.edgeitems : 0;
    const int64_t trailing = summary ? options_.edgeitems : len;
    // Item i of this axis; the rest of the line is one narrower for the closing bracket.
    auto item = [&](int64_t i) { return Recurse(axis + 1, base + i * strides_[axis], indent + " ", width - 1); };
    std::string s;
    if (axis + 1 == dims_.size()) {
      const int64_t elem_width = width - 1;
      std::string line = indent;
      for (int64_t i = 0; i < leading; ++i) {
        ExtendLine(&s, &line, item(i), elem_width, indent);
        line += " ";
      }
      if (summary) {
        ExtendLine(&s, &line, "...", elem_width, indent);
        line += " ";
      }
      for (int64_t i = trailing; i > 1; --i) {
        ExtendLine(&s, &line, item(len - i), elem_width, indent);
        line += " ";
      }
      ExtendLine(&s, &line, item(len - 1), elem_width, indent);
      s += line;
    } else {
      const std::string line_sep(dims_.size() - axis - 1, '\n');
      for (int64_t i = 0; i < leading; ++i) s += indent + item(i) + line_sep;
      if (summary) s += indent + "..." + line_sep;
      for (int64_t i = trailing; i > 1; --i) s += indent + item(len - i) + line_sep;
      s += indent + item(len - 1);
    }
    return "[" + s.substr(indent.size()) + "]";
  }

  std::vector<int64_t> dims_;
  std::vector<int64_t> strides_;
  Element element_;
  bool summarise_;
  PrintOptions options_;
};

// Flat indices of the elements a summarised print shows (numpy's _leading_trailing).
inline void ShownIndices(const std::vector<int64_t>& dims, int64_t edgeitems, size_t axis, int64_t base,
                         std::vector<int64_t>* out) {
  if (axis == dims.size()) {
    out->push_back(base);
    return;
  }
  int64_t stride = 1;
  for (size_t i = axis + 1; i < dims.size(); ++i) stride *= dims[i];
  const int64_t len = dims[axis];
  for (int64_t i = 0; i < len; ++i) {
    if (2 * edgeitems < len && i == edgeitems) i = len - edgeitems;
    ShownIndices(dims, edgeitems, axis + 1, base + i * stride, out);
  }
}

}  // namespace numpy

// The text numpy's print() shows for a tensor of shape `dims` holding `values` (row-major).
// Requires: values.size() is the product of dims.
template <class T, class Alloc>
std::string FormatTensor(const std::vector<T, Alloc>& values, const std::vector<int64_t>& dims,
                         const PrintOptions& options) {
  if (dims.empty()) return values.empty() ? "[]" : numpy::ScalarText<T>(values[0]);
  if (values.empty()) return "[]";
  const bool summarise = static_cast<int64_t>(values.size()) > options.threshold;
  std::vector<T> shown;
  if (summarise) {
    std::vector<int64_t> indices;
    numpy::ShownIndices(dims, options.edgeitems, 0, 0, &indices);
    shown.reserve(indices.size());
    for (int64_t i : indices) shown.push_back(values[static_cast<size_t>(i)]);
  } else {
    shown.assign(values.begin(), values.end());
  }
  const auto format = numpy::MakeFormat(shown, options);
  const numpy::Layout layout(
      dims, [&](int64_t i) { return format(values[static_cast<size_t>(i)]); }, summarise, options);
  return layout.Format();
}

}  // namespace warmstart::cli
