// `warmstart inspect`: TensorFlow's inspect_checkpoint (tensorflow/python/tools/
// inspect_checkpoint.py) without TensorFlow, plus JSON, statistics, the TF2 object graph
// and checksum verification. docs/cli.md is the reference; in short:
//
//   inspect PATH                      name  dtype  shape, one line per tensor, sorted by name
//   inspect PATH --tensor_name NAME   "tensor_name:  NAME", then its values as numpy prints them
//   inspect PATH --all_tensors        the same for every tensor
//   inspect PATH --all_tensor_names   "tensor_name:  NAME" for every tensor
//   inspect PATH --stats              min max mean std, NaN and Inf counts (one tensor with --tensor_name)
//   inspect PATH --object-graph       the TF2 object graph (ObjectGraph::Describe)
//   inspect PATH --json               the listing as one JSON document
//   inspect PATH --verify             every checksum; alone, or after any one of the above
//
// PATH is whatever bundle::Checkpoint::Open accepts (prefix, PREFIX.index, a data file,
// a V1 file, a directory). Notes and warnings of the reader go to stderr.
#pragma once

#include <charconv>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <warmstart/core/edit_distance.hpp>
#include <warmstart/bundle/checkpoint.hpp>
#include <warmstart/bundle/object_graph.hpp>

#include "cli_common.hpp"
#include "numpy_format.hpp"

namespace warmstart::cli {

struct InspectOptions {
  std::string path;                        // the positional PATH
  std::string file_name;                   // --file_name, TF's spelling of the same
  std::optional<std::string> tensor_name;  // --tensor_name (may be given as "")
  bool list = false;
  bool json = false;
  bool stats = false;
  bool object_graph = false;
  bool all_tensors = false;
  bool all_tensor_names = false;
  bool verify = false;
  bool full = false;
  std::vector<std::string> printoptions;  // KEY=VALUE
};

enum class InspectMode { kList, kJson, kTensor, kAllTensors, kAllTensorNames, kStats, kObjectGraph, kVerifyOnly };

namespace inspect {

using bundle::Checkpoint;
using bundle::DataType;
using bundle::Entry;

// ---- Command line ----

inline std::string CheckpointPath(const InspectOptions& o) {
  if (!o.path.empty() && !o.file_name.empty()) {
    throw UsageError("inspect: give the checkpoint either as PATH or with --file_name, not both");
  }
  if (o.path.empty() && o.file_name.empty()) {
    throw UsageError("inspect: no checkpoint given: warmstart inspect PATH (or --file_name PATH)");
  }
  return o.path.empty() ? o.file_name : o.path;
}

// At most one output is chosen; --stats with --tensor_name means the statistics of one tensor.
inline InspectMode ChooseMode(const InspectOptions& o) {
  std::vector<std::pair<std::string, InspectMode>> chosen;
  if (o.list) chosen.emplace_back("--list", InspectMode::kList);
  if (o.json) chosen.emplace_back("--json", InspectMode::kJson);
  if (o.stats) chosen.emplace_back("--stats", InspectMode::kStats);
  if (o.object_graph) chosen.emplace_back("--object-graph", InspectMode::kObjectGraph);
  if (o.all_tensors) chosen.emplace_back("--all_tensors", InspectMode::kAllTensors);
  if (o.all_tensor_names) chosen.emplace_back("--all_tensor_names", InspectMode::kAllTensorNames);
  if (o.tensor_name && !o.stats) chosen.emplace_back("--tensor_name", InspectMode::kTensor);
  if (chosen.size() > 1) {
    throw UsageError("inspect: " + chosen[0].first + " and " + chosen[1].first + " cannot be combined");
  }
  if (chosen.empty()) return o.verify ? InspectMode::kVerifyOnly : InspectMode::kList;
  return chosen[0].second;
}

inline int64_t ParsePrintOption(const std::string& key, const std::string& value, int64_t min, int64_t max) {
  if (key == "threshold" && (value == "inf" || value == "sys.maxsize")) return max;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty() || v < min || v > max) {
    throw UsageError("inspect: --printoptions " + key + "=" + value + ": expected an integer from " +
                     std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

// --printoptions threshold=N,edgeitems=N,linewidth=N,precision=N (numpy's names), --full.
inline PrintOptions ChoosePrintOptions(const InspectOptions& o) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  PrintOptions p;
  for (const std::string& kv : o.printoptions) {
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (key == "threshold") {
      p.threshold = ParsePrintOption(key, value, 0, kMax);
    } else if (key == "edgeitems") {
      p.edgeitems = ParsePrintOption(key, value, 0, 1 << 20);
    } else if (key == "linewidth") {
      p.linewidth = ParsePrintOption(key, value, 1, 1 << 20);
    } else if (key == "precision") {
      p.precision = static_cast<int>(ParsePrintOption(key, value, 0, 100));
    } else {
      throw UsageError("inspect: --printoptions '" + kv +
                       "': expected KEY=VALUE with KEY one of threshold, edgeitems, linewidth, precision");
    }
  }
  if (o.full) p.threshold = kMax;
  return p;
}

// ---- Listing ----

inline void PrintListing(const Checkpoint& c, std::ostream& out) {
  Table table;
  for (const Entry& e : c.entries()) {
    std::vector<std::string> row{DisplayName(e.name), bundle::DataTypeName(e.dtype), e.shape.DebugString()};
    if (e.partitioned()) row.push_back("(partitioned into " + std::to_string(e.slices.size()) + " slices)");
    table.AddRow(std::move(row));
  }
  table.Print(out);
}

inline std::string Hex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// {"prefix", "format", "num_shards", "entries": [{"name", "dtype", "shape", "shard", "offset",
// "size"}]}; shard/offset/size are null for V1 and for partitioned tensors, which add
// "slices". A name that is not UTF-8 is written with U+FFFD and adds its bytes as "name_hex".
inline nlohmann::ordered_json EntryJson(const Entry& e, bundle::Format format) {
  nlohmann::ordered_json j;
  j["name"] = e.name;
  j["dtype"] = bundle::DataTypeName(e.dtype);
  j["shape"] = e.shape.dims();
  const bool located = format == bundle::Format::kV2 && !e.partitioned();
  j["shard"] = located ? nlohmann::ordered_json(e.shard_id) : nullptr;
  j["offset"] = located ? nlohmann::ordered_json(e.offset) : nullptr;
  j["size"] = located ? nlohmann::ordered_json(e.size) : nullptr;
  if (e.partitioned()) {
    j["slices"] = nlohmann::ordered_json::array();
    for (const bundle::TensorSlice& s : e.slices) j["slices"].push_back(s.DebugString());
  }
  if (!IsValidUtf8(e.name)) j["name_hex"] = Hex(e.name);
  return j;
}

inline void PrintJson(const Checkpoint& c, std::ostream& out) {
  nlohmann::ordered_json doc;
  doc["prefix"] = c.prefix();
  doc["format"] = c.format() == bundle::Format::kV1 ? "V1" : "V2";
  doc["num_shards"] = c.num_shards();
  doc["entries"] = nlohmann::ordered_json::array();
  for (const Entry& e : c.entries()) doc["entries"].push_back(EntryJson(e, c.format()));
  out << doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

// ---- Values ----

// The float8 and float4 dtypes: printed as their raw 8-bit codes, no statistics.
inline bool IsRawFloatCode(DataType t) {
  switch (t) {
    case DataType::kFloat8E5m2: case DataType::kFloat8E4m3fn: case DataType::kFloat8E4m3fnuz:
    case DataType::kFloat8E4m3b11fnuz: case DataType::kFloat8E5m2fnuz: case DataType::kFloat4E2m1fn:
      return true;
    default:
      return false;
  }
}

// Calls fn(values) with the tensor read in the C++ type numpy would print it as: the
// element type, or the storage integer of quantized, int4 and int2 dtypes (float8 and
// float4 give their raw codes). Returns false for dtypes that cannot be read.
template <class Fn>
bool VisitValues(const Checkpoint& c, const Entry& e, Fn&& fn) {
  const std::string& n = e.name;
  switch (e.dtype) {
    case DataType::kFloat: fn(c.Read<float>(n)); return true;
    case DataType::kDouble: fn(c.Read<double>(n)); return true;
    case DataType::kHalf: fn(c.Read<Eigen::half>(n)); return true;
    case DataType::kBfloat16: fn(c.Read<Eigen::bfloat16>(n)); return true;
    case DataType::kInt8: case DataType::kQint8: case DataType::kInt4: case DataType::kInt2:
      fn(c.Read<int8_t>(n)); return true;
    case DataType::kUint8: case DataType::kQuint8: case DataType::kUint4: case DataType::kUint2:
      fn(c.Read<uint8_t>(n)); return true;
    case DataType::kInt16: case DataType::kQint16: fn(c.Read<int16_t>(n)); return true;
    case DataType::kUint16: case DataType::kQuint16: fn(c.Read<uint16_t>(n)); return true;
    case DataType::kInt32: case DataType::kQint32: fn(c.Read<int32_t>(n)); return true;
    case DataType::kUint32: fn(c.Read<uint32_t>(n)); return true;
    case DataType::kInt64: fn(c.Read<int64_t>(n)); return true;
    case DataType::kUint64: fn(c.Read<uint64_t>(n)); return true;
    case DataType::kBool: fn(c.Read<bool>(n)); return true;
    case DataType::kComplex64: fn(c.Read<std::complex<float>>(n)); return true;
    case DataType::kComplex128: fn(c.Read<std::complex<double>>(n)); return true;
    case DataType::kString: fn(c.ReadStrings(n)); return true;
    default:
      if (IsRawFloatCode(e.dtype)) {
        fn(c.Read<uint8_t>(n));
        return true;
      }
      return false;  // DT_VARIANT, DT_RESOURCE, unknown
  }
}

inline void PrintTensor(const Checkpoint& c, const Entry& e, const PrintOptions& options, std::ostream& out,
                        std::ostream& err) {
  out << "tensor_name:  " << DisplayName(e.name) << "\n";
  if (IsRawFloatCode(e.dtype)) {
    err << "note: '" << DisplayName(e.name) << "' is " << bundle::DataTypeName(e.dtype)
        << "; printing its raw 8-bit codes\n";
  }
  const bool read = VisitValues(c, e, [&](const auto& values) {
    out << FormatTensor(values, e.shape.dims(), options) << "\n";
  });
  if (!read) out << "<" << bundle::DataTypeName(e.dtype) << ": warmstart cannot read this dtype>\n";
}

// A listed name close to `name`: a TF2 key whose object path it is, else the nearest
// name within a third of its length.
inline std::optional<std::string> Suggest(const Checkpoint& c, const std::string& name) {
  const std::string attribute = name + "/" + std::string(bundle::kObjectAttributesName) + "/";
  const Entry* best = nullptr;
  size_t best_distance = name.size() / 3 + 1;
  for (const Entry& e : c.entries()) {
    if (e.name.compare(0, attribute.size(), attribute) == 0) return e.name;
    const size_t length_gap = e.name.size() > name.size() ? e.name.size() - name.size() : name.size() - e.name.size();
    if (length_gap >= best_distance) continue;  // the distance is at least the gap
    const size_t d = core::EditDistance(name, e.name);
    if (d < best_distance) {
      best = &e;
      best_distance = d;
    }
  }
  if (best == nullptr) return std::nullopt;
  return best->name;
}

// Like Checkpoint::Get, with a suggestion in the error.
inline const Entry& FindTensor(const Checkpoint& c, const std::string& name) {
  if (const Entry* e = c.Find(name)) return *e;
  try {
    return c.Get(name);
  } catch (const NotFoundError& error) {
    const std::optional<std::string> suggestion = Suggest(c, name);
    if (!suggestion) throw;
    throw NotFoundError(error.context(), error.reason() + "; did you mean '" + DisplayName(*suggestion) + "'?");
  }
}

// ---- Statistics ----

struct Stats {
  int64_t finite = 0;
  int64_t nan = 0;
  int64_t inf = 0;
  double min = 0, max = 0, mean = 0, std = 0;  // over the finite elements
};

inline Stats ComputeStats(const std::vector<double>& values) {
  Stats s;
  long double sum = 0;
  for (double v : values) {
    if (std::isnan(v)) {
      ++s.nan;
    } else if (std::isinf(v)) {
      ++s.inf;
    } else {
      s.min = s.finite == 0 ? v : std::min(s.min, v);
      s.max = s.finite == 0 ? v : std::max(s.max, v);
      sum += v;
      ++s.finite;
    }
  }
  if (s.finite == 0) return s;
  s.mean = static_cast<double>(sum / s.finite);
  long double squares = 0;  // second pass: population variance, as numpy's std()
  for (double v : values) {
    if (std::isfinite(v)) squares += (static_cast<long double>(v) - s.mean) * (static_cast<long double>(v) - s.mean);
  }
  s.std = static_cast<double>(std::sqrt(squares / s.finite));
  return s;
}

// The tensor as doubles, or nullopt for dtypes without numeric statistics.
inline std::optional<std::vector<double>> ReadForStats(const Checkpoint& c, const Entry& e) {
  switch (e.dtype) {
    case DataType::kInt4: case DataType::kInt2: case DataType::kUint4: case DataType::kUint2: {
      std::vector<double> out;
      VisitValues(c, e, [&](const auto& v) {
        using T = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_integral_v<T>) out.assign(v.begin(), v.end());
      });
      return out;
    }
    case DataType::kString: case DataType::kComplex64: case DataType::kComplex128: case DataType::kVariant:
    case DataType::kResource:
      return std::nullopt;
    default:
      if (IsRawFloatCode(e.dtype) || !bundle::IsKnown(e.dtype)) return std::nullopt;
      return c.ReadAs<double>(e.name);
  }
}

// min and max in the tensor's own type: "0.1" for a float, "200000" for an integer.
inline std::string StatText(double v, DataType t) {
  switch (t) {
    case DataType::kFloat: return numpy::FloatScalarText(static_cast<float>(v));
    case DataType::kDouble: return numpy::FloatScalarText(v);
    case DataType::kHalf: return numpy::FloatScalarText(Eigen::half(static_cast<float>(v)));
    case DataType::kBfloat16: return numpy::FloatScalarText(Eigen::bfloat16(static_cast<float>(v)));
    default: {
      char buf[400];
      const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
      return std::string(buf, r.ptr);
    }
  }
}

inline std::string Approx(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

inline void PrintStats(const Checkpoint& c, const std::vector<const Entry*>& entries, std::ostream& out,
                       std::ostream& err) {
  Table table;
  table.AddRow({"name", "dtype", "shape", "min", "max", "mean", "std", "nan", "inf"});
  for (const Entry* e : entries) {
    const std::optional<std::vector<double>> values = ReadForStats(c, *e);
    if (!values) {
      err << "note: skipping '" << DisplayName(e->name) << "': " << bundle::DataTypeName(e->dtype)
          << " has no numeric statistics\n";
      continue;
    }
    const Stats s = ComputeStats(*values);
    const bool any = s.finite > 0;
    table.AddRow({DisplayName(e->name), bundle::DataTypeName(e->dtype), e->shape.DebugString(),
                  any ? StatText(s.min, e->dtype) : "-", any ? StatText(s.max, e->dtype) : "-",
                  any ? Approx(s.mean) : "-", any ? Approx(s.std) : "-", std::to_string(s.nan),
                  std::to_string(s.inf)});
  }
  table.Print(out);
}

// ---- Object graph ----

inline void PrintObjectGraph(const Checkpoint& c, std::ostream& out, std::ostream& err) {
  const std::optional<bundle::ObjectGraph> graph = bundle::ReadObjectGraph(c);
  if (!graph) {
    err << "no object graph (a TF1 name-based checkpoint)\n";
    return;
  }
  out << graph->Describe();
}

// ---- Verification ----

// One "FAILED <key>: <error>" line per bad entry, then the summary; true when all passed.
inline bool PrintVerification(const Checkpoint& c, std::ostream& out) {
  const bundle::VerifyReport report = c.VerifyAll();
  for (const bundle::VerifyFailure& f : report.failures) {
    out << "FAILED " << DisplayName(f.key) << ": " << OneLine(f.message) << "\n";
  }
  out << "verified " << report.tensors_verified << " tensors (" << report.bytes_verified
      << " bytes): " << report.failures.size() << " failed\n";
  out.flush();
  return report.ok();
}

}  // namespace inspect

// Runs `inspect` and returns the exit code; throws UsageError and what the library throws.
inline int RunInspect(const InspectOptions& o, std::ostream& out, std::ostream& err) {
  const std::string path = inspect::CheckpointPath(o);
  const InspectMode mode = inspect::ChooseMode(o);
  const PrintOptions print_options = inspect::ChoosePrintOptions(o);
  const bundle::Checkpoint c = bundle::Checkpoint::Open(path);
  PrintDiagnostics(c, err);
  switch (mode) {
    case InspectMode::kList: inspect::PrintListing(c, out); break;
    case InspectMode::kJson: inspect::PrintJson(c, out); break;
    case InspectMode::kTensor:
      inspect::PrintTensor(c, inspect::FindTensor(c, *o.tensor_name), print_options, out, err);
      break;
    case InspectMode::kAllTensors:
      for (const bundle::Entry& e : c.entries()) inspect::PrintTensor(c, e, print_options, out, err);
      break;
    case InspectMode::kAllTensorNames:
      for (const bundle::Entry& e : c.entries()) out << "tensor_name:  " << DisplayName(e.name) << "\n";
      break;
    case InspectMode::kStats: {
      std::vector<const bundle::Entry*> entries;
      if (o.tensor_name) {
        entries.push_back(&inspect::FindTensor(c, *o.tensor_name));
      } else {
        for (const bundle::Entry& e : c.entries()) entries.push_back(&e);
      }
      inspect::PrintStats(c, entries, out, err);
      break;
    }
    case InspectMode::kObjectGraph: inspect::PrintObjectGraph(c, out, err); break;
    case InspectMode::kVerifyOnly: break;
  }
  out.flush();
  if (!o.verify) return kExitOk;
  // Keep stdout one JSON document: with --json the verification report goes to stderr.
  return inspect::PrintVerification(c, mode == InspectMode::kJson ? err : out) ? kExitOk : kExitBadInput;
}

// The `inspect` subcommand of a CLI11 app: declares its flags, then runs.
class InspectCommand {
 public:
  explicit InspectCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("inspect", "List, print, check and summarise the tensors of a checkpoint");
    app_->footer("Exit codes: 0 ok, 1 invalid or corrupt checkpoint (or failed --verify), 2 usage error.\n"
                 "See docs/cli.md for the output formats.");
    app_->add_option("path", options_.path,
                     "The checkpoint: a prefix, PREFIX.index, a data file, a V1 file or a directory")
        ->type_name("PATH");
    app_->add_option("--file_name,--file-name", options_.file_name, "The checkpoint, as TensorFlow's tool takes it")
        ->type_name("PATH");
    tensor_name_ = app_->add_option("--tensor_name,--tensor-name", tensor_name_value_,
                                    "Print the values of this tensor (with --stats: its statistics)")
                       ->type_name("NAME");
    app_->add_flag("--all_tensors,--all-tensors", options_.all_tensors, "Print the values of every tensor");
    app_->add_flag("--all_tensor_names,--all-tensor-names", options_.all_tensor_names, "Print every tensor name");
    app_->add_flag("--list", options_.list, "Print the listing (the default; use with --verify for both)");
    app_->add_flag("--json", options_.json, "Print the listing as JSON");
    app_->add_flag("--stats", options_.stats, "Print min, max, mean, std, NaN and Inf counts per numeric tensor");
    app_->add_flag("--object-graph,--object_graph", options_.object_graph,
                   "Print the object graph of a TF2 checkpoint");
    app_->add_flag("--verify", options_.verify,
                   "Read every tensor and check every checksum (after the output chosen, if any)");
    app_->add_flag("--full", options_.full, "Print every value (never summarise with '...')");
    app_->add_option("--printoptions", options_.printoptions,
                     "numpy print options: threshold, edgeitems, linewidth, precision (comma separated)")
        ->type_name("KEY=VALUE")
        ->delimiter(',')
        ->allow_extra_args(false);
  }

  bool selected() const { return app_->parsed(); }

  int Run(std::ostream& out, std::ostream& err) {
    if (tensor_name_->count() > 0) options_.tensor_name = tensor_name_value_;
    return RunInspect(options_, out, err);
  }

 private:
  CLI::App* app_ = nullptr;
  CLI::Option* tensor_name_ = nullptr;
  std::string tensor_name_value_;
  InspectOptions options_;
};

}  // namespace warmstart::cli
