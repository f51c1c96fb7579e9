// `warmstart export` and `warmstart import` (docs/cli.md, docs/interop.md):
//
//   warmstart export SRC OUT [--format safetensors|npz] [--skip-unsupported] [--json]
//   warmstart import IN DST [--shards N] [--json]
//
// export writes every tensor of SRC (anything inspect opens; partitioned variables
// assembled) to one safetensors or .npz file; the format comes from --format or from OUT's
// extension. A dtype the format cannot hold stops the export with an error naming the
// tensor, unless --skip-unsupported, which leaves it out with a note on stderr.
// import reads a safetensors or .npz file (told apart by their first bytes, else by the
// extension) and writes a V2 bundle at the prefix DST with BundleWriter, tensors in name
// order; --shards N writes N bundles round-robin and merges them, as convert does.
// Output files are written under a temporary name and renamed when complete.
// Exit 0 ok, 1 bad input or refused dtype, 2 usage error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <warmstart/bundle/checkpoint.hpp>
#include <warmstart/bundle/writer.hpp>
#include <warmstart/interop/npy.hpp>
#include <warmstart/interop/safetensors.hpp>

#include "cli_common.hpp"
#include "convert.hpp"
#include "inspect.hpp"

namespace warmstart::cli {

namespace interop_cli {

using bundle::Checkpoint;
using bundle::DataType;
using bundle::Entry;

enum class FileFormat { kSafetensors, kNpz };

inline const char* FormatName(FileFormat f) { return f == FileFormat::kSafetensors ? "safetensors" : "npz"; }

inline bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::optional<FileFormat> FormatFromExtension(const std::string& path) {
  if (EndsWith(path, ".safetensors")) return FileFormat::kSafetensors;
  if (EndsWith(path, ".npz")) return FileFormat::kNpz;
  return std::nullopt;
}

inline bool Holds(FileFormat f, DataType t) {
  return f == FileFormat::kSafetensors ? interop::SafetensorsDtype(t).has_value() : interop::NpyDescr(t).has_value();
}

// The whole tensor's little-endian row-major bytes: the stored bytes when they can be used
// as they are, else the assembled (and byte-swapped) values copied into *scratch.
inline core::ByteView TensorBytes(const Checkpoint& c, const Entry& e, std::vector<uint8_t>* scratch) {
  if (!e.partitioned() && c.endianness() == bundle::Endianness::kLittle && bundle::IsFixedSize(e.dtype)) {
    return c.RawBytes(e);
  }
  const bool read = inspect::VisitValues(c, e, [&](const auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    if constexpr (std::is_same_v<T, bool>) {
      scratch->assign(values.size(), 0);
      for (size_t i = 0; i < values.size(); ++i) (*scratch)[i] = values[i] ? 1 : 0;
    } else if constexpr (std::is_same_v<T, std::string>) {
      throw std::runtime_error("export: '" + DisplayName(e.name) + "' is DT_STRING");
    } else {
      const auto* p = reinterpret_cast<const uint8_t*>(values.data());
      scratch->assign(p, p + values.size() * sizeof(T));
    }
  });
  if (!read) throw std::runtime_error("export: warmstart cannot read '" + DisplayName(e.name) + "' (" + bundle::DataTypeName(e.dtype) + ")");
  return core::ByteView(scratch->data(), scratch->size());
}

// Writes through `write(temp)` and renames temp to `path` on success; removes it otherwise.
template <class Write>
void WriteAtomically(const std::string& path, Write&& write) {
  const std::string temp = path + ".tmp-warmstart";
  std::error_code ec;
  try {
    write(temp);
    std::filesystem::rename(temp, path);
  } catch (...) {
    std::filesystem::remove(temp, ec);
    throw;
  }
}

// ---- import sources ----

// One tensor of the input, read on request. `data` is valid until the next Read.
struct ImportedTensor {
  DataType dtype = DataType::kInvalid;
  bundle::TensorShape shape;
  core::ByteView data;
};

inline std::optional<FileFormat> SniffFormat(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(ErrorContext(path), "cannot open file");
  char head[9] = {};
  in.read(head, 9);
  const std::streamsize n = in.gcount();
  if (n >= 4 && head[0] == 'P' && head[1] == 'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6))) {
    return FileFormat::kNpz;
  }
  if (n >= 9 && head[8] == '{') return FileFormat::kSafetensors;
  return std::nullopt;
}

class ImportSource {
 public:
  explicit ImportSource(const std::string& path) : path_(path) {
    std::optional<FileFormat> f = SniffFormat(path);
    if (!f) f = FormatFromExtension(path);
    if (!f) {
      throw FormatError(ErrorContext(path).WithOffset(0),
                        "neither a zip archive (.npz, starts with PK) nor a safetensors file (a JSON header at offset 8)");
    }
    format_ = *f;
    if (format_ == FileFormat::kSafetensors) {
      st_.emplace(interop::SafetensorsFile::Open(path));
      for (const auto& t : st_->tensors()) names_.push_back(t.name);
    } else {
      npz_.emplace(interop::NpzReader::Open(path));
      names_ = npz_->names();
    }
  }

  FileFormat format() const { return format_; }
  const std::vector<std::string>& names() const { return names_; }

  ImportedTensor Read(size_t i) {
    ImportedTensor t;
    if (st_) {
      const interop::SafetensorsTensor& s = st_->tensors()[i];
      t.dtype = s.dtype;
      t.shape = s.shape;
      t.data = s.data;
    } else {
      current_ = npz_->Read(i, &scratch_);
      t.dtype = current_.dtype;
      t.shape = current_.shape;
      t.data = current_.data;
    }
    if (t.dtype == DataType::kBool) CheckBooleans(i, t.data);
    return t;
  }

 private:
  void CheckBooleans(size_t i, core::ByteView data) const {
    for (size_t k = 0; k < data.size(); ++k) {
      if (data[k] > 1) {
        throw FormatError(ErrorContext(path_).WithKey(names_[i]),
                          "boolean element " + std::to_string(k) + " is byte " + std::to_string(data[k]) +
                              "; only 0 and 1 are booleans");
      }
    }
  }

  std::string path_;
  FileFormat format_ = FileFormat::kSafetensors;
  std::optional<interop::SafetensorsFile> st_;
  std::optional<interop::NpzReader> npz_;
  std::vector<std::string> names_;
  std::string scratch_;
  interop::NpyArray current_;
};

// Name order, as convert writes.
inline std::vector<size_t> ByName(const std::vector<std::string>& names) {
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return names[a] < names[b]; });
  return order;
}

// Writes every tensor of `src` to the bundle `dst` (num_shards > 1: round-robin, merged).
// Returns the number of data bytes written.
inline uint64_t WriteImportedBundle(ImportSource& src, const std::string& dst, int num_shards) {
  const std::vector<size_t> order = ByName(src.names());
  uint64_t bytes = 0;
  const auto add = [&](size_t i, bundle::BundleWriter* w) {
    const ImportedTensor t = src.Read(i);
    w->Add(src.names()[i], t.dtype, t.shape, t.data);
    bytes += t.data.size();
  };
  if (num_shards <= 1) {
    bundle::BundleWriter w(dst);
    for (size_t i : order) add(i, &w);
    w.Finish();
    return bytes;
  }
  const std::string temp_dir = dst + "_temp";
  std::error_code ec;
  try {
    std::vector<std::string> prefixes;
    {
      std::vector<std::unique_ptr<bundle::BundleWriter>> writers;
      for (int s = 0; s < num_shards; ++s) {
        prefixes.push_back(convert::ShardPrefix(temp_dir, s, num_shards));
        writers.push_back(std::make_unique<bundle::BundleWriter>(prefixes.back()));
      }
      for (size_t k = 0; k < order.size(); ++k) add(order[k], writers[k % writers.size()].get());
      for (auto& w : writers) w->Finish();
    }
    bundle::MergeBundles(prefixes, dst);
  } catch (...) {
    std::filesystem::remove_all(temp_dir, ec);
    throw;
  }
  std::filesystem::remove_all(temp_dir, ec);
  return bytes;
}

}  // namespace interop_cli

// ---- export ----

struct ExportOptions {
  std::vector<std::string> paths;  // SRC OUT
  std::string format;              // "", "safetensors", "npz"
  bool skip_unsupported = false;
  bool json = false;
};

inline interop_cli::FileFormat ChooseExportFormat(const ExportOptions& o) {
  using interop_cli::FileFormat;
  if (o.format == "safetensors") return FileFormat::kSafetensors;
  if (o.format == "npz") return FileFormat::kNpz;
  if (!o.format.empty()) throw UsageError("export: --format must be safetensors or npz, not '" + o.format + "'");
  if (auto f = interop_cli::FormatFromExtension(o.paths[1])) return *f;
  throw UsageError("export: cannot tell the format from '" + o.paths[1] +
                   "': pass --format safetensors|npz or name it *.safetensors or *.npz");
}

inline int RunExport(const ExportOptions& o, std::ostream& out, std::ostream& err) {
  if (o.paths.size() != 2) {
    throw UsageError("export: expected SRC and OUT: warmstart export SRC OUT [--format safetensors|npz]");
  }
  const interop_cli::FileFormat format = ChooseExportFormat(o);
  const bundle::Checkpoint src = bundle::Checkpoint::Open(o.paths[0]);
  PrintDiagnostics(src, err);
  std::vector<interop::TensorSpec> specs;
  std::vector<const bundle::Entry*> entries;
  nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
  for (const bundle::Entry& e : src.entries()) {
    if (!interop_cli::Holds(format, e.dtype)) {
      const std::string why = bundle::DataTypeName(e.dtype) + " has no " + interop_cli::FormatName(format) + " dtype";
      if (!o.skip_unsupported) {
        throw std::runtime_error("export: '" + DisplayName(e.name) + "' is " + bundle::DataTypeName(e.dtype) +
                                 ", which " + interop_cli::FormatName(format) +
                                 " cannot hold; pass --skip-unsupported to leave such tensors out");
      }
      err << "note: skipped '" << DisplayName(e.name) << "': " << why << "\n";
      skipped.push_back({{"name", DisplayName(e.name)}, {"dtype", bundle::DataTypeName(e.dtype)}});
      continue;
    }
    specs.push_back({e.name, e.dtype, e.shape});
    entries.push_back(&e);
  }
  err.flush();
  uint64_t bytes = 0;
  const interop::FetchBytes fetch = [&](size_t i, std::vector<uint8_t>* scratch) {
    const core::ByteView v = interop_cli::TensorBytes(src, *entries[i], scratch);
    bytes += v.size();
    return v;
  };
  interop_cli::WriteAtomically(o.paths[1], [&](const std::string& temp) {
    if (format == interop_cli::FileFormat::kSafetensors) {
      interop::WriteSafetensors(temp, specs, fetch);
    } else {
      interop::WriteNpz(temp, specs, fetch);
    }
  });
  if (o.json) {
    nlohmann::ordered_json doc = {{"command", "export"}, {"input", o.paths[0]}, {"output", o.paths[1]},
                                  {"format", interop_cli::FormatName(format)}, {"tensors", specs.size()},
                                  {"bytes", bytes}, {"skipped", skipped}};
    out << doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  }
  return kExitOk;
}

class ExportCommand {
 public:
  explicit ExportCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("export", "Write a checkpoint's tensors to a safetensors or .npz file");
    app_->footer("Exit codes: 0 ok, 1 invalid input or a dtype the format cannot hold, 2 usage error. "
                 "See docs/cli.md and docs/interop.md.");
    app_->add_option("paths", options_.paths, "SRC (anything inspect opens) and the file OUT to write")
        ->type_name("SRC OUT");
    app_->add_option("--format", options_.format, "safetensors or npz (default: from OUT's extension)")
        ->type_name("FORMAT");
    app_->add_flag("--skip-unsupported,--skip_unsupported", options_.skip_unsupported,
                   "Leave out tensors whose dtype the format cannot hold (listed on stderr)");
    app_->add_flag("--json", options_.json, "Print a JSON summary: tensors, bytes, skipped");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream& out, std::ostream& err) { return RunExport(options_, out, err); }

 private:
  CLI::App* app_ = nullptr;
  ExportOptions options_;
};

// ---- import ----

struct ImportOptions {
  std::vector<std::string> paths;  // IN DST
  int shards = 1;
  bool json = false;
};

inline int RunImport(const ImportOptions& o, std::ostream& out, std::ostream& /*err*/) {
  if (o.paths.size() != 2) throw UsageError("import: expected IN and DST: warmstart import IN DST [--shards N]");
  if (o.shards < 1) throw UsageError("import: --shards must be at least 1");
  interop_cli::ImportSource src(o.paths[0]);
  const uint64_t bytes = interop_cli::WriteImportedBundle(src, o.paths[1], o.shards);
  if (o.json) {
    nlohmann::ordered_json doc = {{"command", "import"}, {"input", o.paths[0]}, {"output", o.paths[1]},
                                  {"format", interop_cli::FormatName(src.format())}, {"tensors", src.names().size()},
                                  {"bytes", bytes}, {"shards", o.shards}, {"skipped", nlohmann::ordered_json::array()}};
    out << doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  }
  return kExitOk;
}

class ImportCommand {
 public:
  explicit ImportCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("import", "Write a safetensors or .npz file as a V2 bundle");
    app_->footer("Exit codes: 0 ok, 1 invalid or corrupt input, 2 usage error. See docs/cli.md and docs/interop.md.");
    app_->add_option("paths", options_.paths, "IN (a .safetensors or .npz file) and the prefix DST to write")
        ->type_name("IN DST");
    app_->add_option("--shards", options_.shards, "Write N shards (round-robin in name order) and merge them")
        ->type_name("N");
    app_->add_flag("--json", options_.json, "Print a JSON summary: tensors, bytes");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream& out, std::ostream& err) { return RunImport(options_, out, err); }

 private:
  CLI::App* app_ = nullptr;
  ImportOptions options_;
};

}  // namespace warmstart::cli
