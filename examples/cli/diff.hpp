// `warmstart diff A B [--json]`: compares two checkpoints tensor by tensor. docs/cli.md is
// the reference; in short:
//
//   only in A / only in B   names one checkpoint has and the other has not
//   changed                 same name, different dtype or shape
//   different               same name, dtype and shape, different values: the largest
//                           |a-b|, the largest |a-b| / max(|a|,|b|) and how many elements differ
//   identical               everything equal: counted in the summary line only
//
// A and B are whatever bundle::Checkpoint::Open accepts. Values are read with their crc32c
// verified. NaN equals NaN. Exit 0 when identical, 1 when not (or on bad input), 2 for usage.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <warmstart/bundle/checkpoint.hpp>

#include "cli_common.hpp"
#include "inspect.hpp"

namespace warmstart::cli {

struct DiffOptions {
  std::vector<std::string> paths;  // the positional A and B
  bool json = false;
};

namespace diff {

using bundle::Checkpoint;
using bundle::DataType;
using bundle::Entry;

// A name in both checkpoints whose dtype or shape differ.
struct Changed {
  const Entry* a = nullptr;
  const Entry* b = nullptr;
};

// A name in both with equal dtype and shape and at least one differing element.
// max_abs_diff / max_rel_diff are nullopt when they mean nothing (strings, float8 codes,
// dtypes warmstart cannot read); num_different is nullopt when the values could not be read.
struct Different {
  const Entry* entry = nullptr;
  std::optional<double> max_abs_diff;
  std::optional<double> max_rel_diff;
  std::optional<int64_t> num_different;
};

struct Result {
  std::vector<const Entry*> only_in_a;
  std::vector<const Entry*> only_in_b;
  std::vector<Changed> changed;
  std::vector<Different> different;
  int64_t num_identical = 0;
  std::vector<std::string> notes;  // tensors that could not be compared

  bool identical() const { return only_in_a.empty() && only_in_b.empty() && changed.empty() && different.empty(); }
};

// Accumulates element pairs.
struct Accumulator {
  double max_abs = 0;
  double max_rel = 0;
  int64_t count = 0;

  void AddMagnitudes(double abs_diff, double magnitude) {
    ++count;
    if (std::isnan(abs_diff)) return;  // a NaN against a number: counted, no distance
    max_abs = std::max(max_abs, abs_diff);
    double rel = 0;
    if (std::isinf(abs_diff)) {
      rel = 1;  // an infinity against a finite number or the opposite infinity
    } else if (magnitude > 0) {
      rel = abs_diff / magnitude;
    }
    max_rel = std::max(max_rel, rel);
  }
};

inline bool IsNan(double v) { return std::isnan(v); }

inline void CompareReal(double a, double b, Accumulator* acc) {
  if (a == b || (IsNan(a) && IsNan(b))) return;
  if (IsNan(a) || IsNan(b)) {
    acc->AddMagnitudes(std::numeric_limits<double>::quiet_NaN(), 0);
    return;
  }
  acc->AddMagnitudes(std::isinf(a) || std::isinf(b) ? std::numeric_limits<double>::infinity() : std::fabs(a - b),
                     std::max(std::fabs(a), std::fabs(b)));
}

template <class F>
void CompareComplex(std::complex<F> a, std::complex<F> b, Accumulator* acc) {
  const auto same = [](F x, F y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  if (same(a.real(), b.real()) && same(a.imag(), b.imag())) return;
  const std::complex<double> da(a), db(b);
  if (std::isnan(da.real()) || std::isnan(da.imag()) || std::isnan(db.real()) || std::isnan(db.imag())) {
    acc->AddMagnitudes(std::numeric_limits<double>::quiet_NaN(), 0);
    return;
  }
  const bool inf = std::isinf(da.real()) || std::isinf(da.imag()) || std::isinf(db.real()) || std::isinf(db.imag());
  acc->AddMagnitudes(inf ? std::numeric_limits<double>::infinity() : std::abs(da - db),
                     std::max(std::abs(da), std::abs(db)));
}

// Compares the values of a tensor with equal dtype and shape on both sides.
inline Different CompareValues(const Checkpoint& ca, const Checkpoint& cb, const Entry& ea, const Entry& eb,
                               std::vector<std::string>* notes) {
  Different d;
  d.entry = &ea;
  const bool read = inspect::VisitValues(ca, ea, [&](const auto& va) {
    using Vec = std::decay_t<decltype(va)>;
    using T = typename Vec::value_type;
    Vec vb;
    if constexpr (std::is_same_v<T, std::string>) {
      vb = cb.ReadStrings(eb.name);
    } else {
      vb = cb.template Read<T>(eb.name);
    }
    Accumulator acc;
    const size_t n = std::min(va.size(), vb.size());
    for (size_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, std::string>) {
        if (va[i] != vb[i]) ++acc.count;
      } else if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
        CompareComplex(va[i], vb[i], &acc);
      } else {
        CompareReal(static_cast<double>(va[i]), static_cast<double>(vb[i]), &acc);
      }
    }
    d.num_different = acc.count;
    if (!std::is_same_v<T, std::string> && !inspect::IsRawFloatCode(ea.dtype)) {
      d.max_abs_diff = acc.max_abs;
      d.max_rel_diff = acc.max_rel;
    } else if (inspect::IsRawFloatCode(ea.dtype) && acc.count > 0) {
      notes->push_back("'" + DisplayName(ea.name) + "' is " + bundle::DataTypeName(ea.dtype) +
                       "; compared by its raw 8-bit codes");
    }
  });
  if (!read) {
    notes->push_back("cannot compare '" + DisplayName(ea.name) + "': warmstart cannot read " +
                     bundle::DataTypeName(ea.dtype) + "; counted as different");
  }
  return d;
}

inline bool SameSignature(const Entry& a, const Entry& b) {
  return a.dtype == b.dtype && a.shape.dims() == b.shape.dims();
}

// Both entry lists are in key order: a merge.
inline Result Compare(const Checkpoint& ca, const Checkpoint& cb) {
  Result r;
  const std::vector<Entry>& a = ca.entries();
  const std::vector<Entry>& b = cb.entries();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].name < b[j].name)) {
      r.only_in_a.push_back(&a[i++]);
    } else if (i == a.size() || b[j].name < a[i].name) {
      r.only_in_b.push_back(&b[j++]);
    } else {
      const Entry& ea = a[i++];
      const Entry& eb = b[j++];
      if (!SameSignature(ea, eb)) {
        r.changed.push_back({&ea, &eb});
        continue;
      }
      Different d = CompareValues(ca, cb, ea, eb, &r.notes);
      if (d.num_different && *d.num_different == 0) {
        ++r.num_identical;
      } else {
        r.different.push_back(d);
      }
    }
  }
  return r;
}

// Shortest round-trip digits: "0.5", "1e-07", "inf".
inline std::string Number(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

inline std::string Signature(const Entry& e) { return bundle::DataTypeName(e.dtype) + " " + e.shape.DebugString(); }

inline std::string Summary(const Result& r) {
  return std::to_string(r.num_identical) + " tensors identical, " +
         std::to_string(r.changed.size() + r.different.size()) + " differ, " + std::to_string(r.only_in_a.size()) +
         " only in A, " + std::to_string(r.only_in_b.size()) + " only in B";
}

inline void PrintText(const Result& r, std::ostream& out) {
  Table table;
  for (const Entry* e : r.only_in_a) table.AddRow({"only in A", DisplayName(e->name), Signature(*e)});
  for (const Entry* e : r.only_in_b) table.AddRow({"only in B", DisplayName(e->name), Signature(*e)});
  for (const Changed& c : r.changed) {
    table.AddRow({"changed", DisplayName(c.a->name), Signature(*c.a) + " -> " + Signature(*c.b)});
  }
  for (const Different& d : r.different) {
    std::string detail = Signature(*d.entry);
    if (d.max_abs_diff) detail += "  max_abs_diff " + Number(*d.max_abs_diff);
    if (d.max_rel_diff) detail += "  max_rel_diff " + Number(*d.max_rel_diff);
    detail += "  num_different " + (d.num_different ? std::to_string(*d.num_different) : std::string("?")) + "/" +
              std::to_string(d.entry->shape.num_elements());
    table.AddRow({"different", DisplayName(d.entry->name), detail});
  }
  table.Print(out);
  out << Summary(r) << "\n";
}

template <class T>
nlohmann::ordered_json OptionalJson(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(*v)) return nullptr;
  }
  return *v;
}

inline void PrintJson(const std::string& path_a, const std::string& path_b, const Result& r, std::ostream& out) {
  using json = nlohmann::ordered_json;
  json doc;
  doc["a"] = path_a;
  doc["b"] = path_b;
  doc["identical"] = r.identical();
  doc["only_in_a"] = json::array();
  for (const Entry* e : r.only_in_a) doc["only_in_a"].push_back(e->name);
  doc["only_in_b"] = json::array();
  for (const Entry* e : r.only_in_b) doc["only_in_b"].push_back(e->name);
  doc["changed"] = json::array();
  for (const Changed& c : r.changed) {
    json j;
    j["name"] = c.a->name;
    j["dtype_a"] = bundle::DataTypeName(c.a->dtype);
    j["dtype_b"] = bundle::DataTypeName(c.b->dtype);
    j["shape_a"] = c.a->shape.dims();
    j["shape_b"] = c.b->shape.dims();
    doc["changed"].push_back(std::move(j));
  }
  doc["different"] = json::array();
  for (const Different& d : r.different) {
    json j;
    j["name"] = d.entry->name;
    j["dtype"] = bundle::DataTypeName(d.entry->dtype);
    j["max_abs_diff"] = OptionalJson(d.max_abs_diff);
    j["max_rel_diff"] = OptionalJson(d.max_rel_diff);
    j["num_different"] = OptionalJson(d.num_different);
    doc["different"].push_back(std::move(j));
  }
  doc["num_identical"] = r.num_identical;
  out << doc.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

}  // namespace diff

// Runs `diff` and returns the exit code; throws UsageError and what the library throws.
inline int RunDiff(const DiffOptions& o, std::ostream& out, std::ostream& err) {
  if (o.paths.size() != 2) {
    throw UsageError("diff: expected two checkpoints: warmstart diff A B [--json]");
  }
  const bundle::Checkpoint a = bundle::Checkpoint::Open(o.paths[0]);
  const bundle::Checkpoint b = bundle::Checkpoint::Open(o.paths[1]);
  PrintDiagnostics(a, err);
  PrintDiagnostics(b, err);
  const diff::Result r = diff::Compare(a, b);  // everything is read before anything is printed
  for (const std::string& note : r.notes) err << "note: " << OneLine(note) << "\n";
  err.flush();
  if (o.json) {
    diff::PrintJson(o.paths[0], o.paths[1], r, out);
  } else {
    diff::PrintText(r, out);
  }
  out.flush();
  return r.identical() ? kExitOk : kExitBadInput;
}

// The `diff` subcommand of a CLI11 app.
class DiffCommand {
 public:
  explicit DiffCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("diff", "Compare the tensors of two checkpoints");
    app_->footer("Exit codes: 0 identical, 1 different (or invalid or corrupt input), 2 usage error.\n"
                 "See docs/cli.md for the output formats.");
    app_->add_option("checkpoints", options_.paths,
                     "The two checkpoints A and B: prefixes, PREFIX.index, data files, V1 files or directories")
        ->type_name("A B");
    app_->add_flag("--json", options_.json, "Print the comparison as one JSON document");
  }

  bool selected() const { return app_->parsed(); }

  int Run(std::ostream& out, std::ostream& err) { return RunDiff(options_, out, err); }

 private:
  CLI::App* app_ = nullptr;
  DiffOptions options_;
};

}  // namespace warmstart::cli
