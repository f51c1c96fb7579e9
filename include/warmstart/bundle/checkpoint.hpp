// Checkpoint: open whatever a user calls "a checkpoint" — the way
// tf.train.latest_checkpoint and RestoreV2 find one — and read it with BundleReader.
//
// Accepted forms of `path`, tried in this order:
//   1. a directory: its `checkpoint` state file names the prefix (model_checkpoint_path,
//      relative paths joined to the directory, absolute ones used as they are)
//   2. PREFIX.index, or any PREFIX.data-NNNNN-of-NNNNN of a bundle (with PREFIX.index
//      missing mid-overwrite: as 5 for PREFIX)
//   3. a prefix P with P.index present (V2)
//   4. a single-file V1 checkpoint (an sstable of SavedTensorSlices)
//   5. a prefix whose overwrite was interrupted: the previous bundle the writer preserved
//      (PREFIX.previous.tempstate<R>, see writer.hpp), with a note
//
// Where we are more lenient than TensorFlow (documented in docs/format.md):
//   - a state file path that does not exist, but whose base name does exist in the
//     directory (a checkpoint directory copied from another machine), is used with a note;
//   - a directory without a state file but with exactly one bundle (or, with no bundle,
//     exactly one V1 checkpoint file) is opened with a note;
//   - unknown fields in the state file are skipped instead of voiding the file;
//   - a SavedModel directory opens its variables/variables bundle, and a directory whose
//     `checkpoint` is itself a directory (the TF2 model zoo layout) is looked into.
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/v1.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"

namespace warmstart::bundle {

struct ResolvedCheckpoint {
  std::string prefix;  // V2: the bundle prefix; V1: the file
  Format format = Format::kV2;
  std::vector<std::string> notes;  // how it was found, where we differ from TF
};

namespace detail {

namespace fs = std::filesystem;

inline bool IsFile(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

inline std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(ErrorContext(path), "cannot read file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Prefixes of the bundles in a directory (ignoring .tempstate debris of crashed saves).
inline std::vector<std::string> BundlesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".index";
    if (name.find(".tempstate") != std::string::npos) continue;  // debris, or a preserved previous bundle
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back((fs::path(dir) / name.substr(0, name.size() - suffix.size())).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Regular files in a directory that end with the table magic: V1 checkpoint candidates.
inline std::vector<std::string> TablesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.file_size(ec) < 48) continue;
    const std::string name = entry.path().filename().string();
    if (name.find(".tempstate") != std::string::npos) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    in.seekg(-8, std::ios::end);
    uint8_t magic[8] = {};
    in.read(reinterpret_cast<char*>(magic), 8);
    if (in && core::DecodeFixed64(magic) == sstable::kTableMagic) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string JoinNames(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// PREFIX.index is missing but an interrupted overwrite preserved the old bundle
// (writer.hpp, PublishBundle): that one, with a note.
inline std::optional<ResolvedCheckpoint> ResolvePreserved(const std::string& prefix) {
  const std::vector<std::string> preserved = PreservedPreviousBundles(prefix);
  if (preserved.empty()) return std::nullopt;
  return ResolvedCheckpoint{preserved.front(), Format::kV2,
                            {"'" + MetaFilename(prefix) + "' is missing: an overwrite of '" + prefix +
                             "' was interrupted; opened the previous bundle it preserved, '" + preserved.front() +
                             "' (bundle::RecoverPreviousBundle moves it back)"}};
}

// A prefix (or V1 file) named by a state file: as written, else its base name here.
inline std::optional<ResolvedCheckpoint> ResolveListed(const std::string& listed, const std::string& dir) {
  if (IsFile(MetaFilename(listed))) return ResolvedCheckpoint{listed, Format::kV2, {}};
  if (IsFile(listed)) return ResolvedCheckpoint{listed, Format::kV1, {}};
  if (std::optional<ResolvedCheckpoint> r = ResolvePreserved(listed)) return r;
  const std::string local = (fs::path(dir) / fs::path(listed).filename()).string();
  if (local != listed && (IsFile(MetaFilename(local)) || IsFile(local))) {
    ResolvedCheckpoint r{local, IsFile(MetaFilename(local)) ? Format::kV2 : Format::kV1, {}};
    r.notes.push_back("the state file names '" + listed + "', which does not exist; using '" + local +
                      "' from the same directory instead (TensorFlow would find no checkpoint)");
    return r;
  }
  return std::nullopt;
}

inline ResolvedCheckpoint ResolveDirectory(const std::string& dir) {
  const std::string state_path = (fs::path(dir) / "checkpoint").string();
  std::error_code ec;
  if (fs::is_directory(state_path, ec)) {  // the TF2 model zoo layout: <model>/checkpoint/ckpt-0
    ResolvedCheckpoint r = ResolveDirectory(state_path);
    r.notes.insert(r.notes.begin(), "'" + dir + "' has a 'checkpoint' directory; looked inside it");
    return r;
  }
  const std::string saved_model = (fs::path(dir) / "variables" / "variables").string();
  if (!IsFile(state_path) && IsFile(MetaFilename(saved_model))) {
    return ResolvedCheckpoint{saved_model, Format::kV2, {"'" + dir + "' is a SavedModel; opened its variables bundle"}};
  }
  if (!IsFile(state_path)) {
    const std::vector<std::string> bundles = BundlesIn(dir);
    if (bundles.size() == 1) {
      return ResolvedCheckpoint{bundles[0], Format::kV2,
                                {"no 'checkpoint' state file in '" + dir + "'; opened its only bundle '" +
                                 bundles[0] + "' (TensorFlow would find no checkpoint)"}};
    }
    const std::vector<std::string> tables = bundles.empty() ? TablesIn(dir) : std::vector<std::string>{};
    if (tables.size() == 1) {
      return ResolvedCheckpoint{tables[0], Format::kV1,
                                {"no 'checkpoint' state file and no bundle in '" + dir + "'; opened its only table '" +
                                 tables[0] + "' as a V1 checkpoint (TensorFlow would find no checkpoint)"}};
    }
    if (tables.size() > 1) {
      throw NotFoundError(ErrorContext(dir), "no 'checkpoint' state file and no *.index files; V1 checkpoints here: " +
                                                 JoinNames(tables) + "; pass one of them");
    }
    throw NotFoundError(ErrorContext(dir), "no 'checkpoint' state file in this directory" +
                                               (bundles.empty() ? std::string(" and no *.index files")
                                                                : "; pass one of these prefixes: " + JoinNames(bundles)));
  }
  const CheckpointState state = ParseCheckpointState(ReadTextFile(state_path), state_path);
  const ResolvedState resolved = ResolveStatePaths(state, dir);
  std::optional<ResolvedCheckpoint> r = ResolveListed(resolved.model_checkpoint_path, dir);
  if (!r) {
    throw NotFoundError(ErrorContext(state_path),
                        "model_checkpoint_path '" + resolved.model_checkpoint_path +
                            "' does not exist (neither '" + MetaFilename(resolved.model_checkpoint_path) +
                            "' nor a V1 file); bundles present: " +
                            (BundlesIn(dir).empty() ? std::string("none") : JoinNames(BundlesIn(dir))));
  }
  r->notes.insert(r->notes.begin(), "'" + state_path + "' names '" + r->prefix + "'");
  for (const std::string& u : state.unknown_fields) {
    r->notes.push_back("state file field '" + u + "' is unknown and was skipped (TensorFlow would reject the file)");
  }
  return *r;
}

}  // namespace detail

// Finds the checkpoint `path` refers to. Throws NotFoundError with what was tried.
inline ResolvedCheckpoint ResolveCheckpoint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return detail::ResolveDirectory(path);
  static const std::regex kData(R"((.*)\.data-\d{5,}-of-\d{5,})");
  std::smatch m;
  const std::string index_suffix = ".index";
  // A file of the bundle names its prefix; with the index missing mid-overwrite, the
  // preserved previous bundle stands in, as for the prefix itself.
  if (path.size() > index_suffix.size() && path.compare(path.size() - 6, 6, index_suffix) == 0) {
    const std::string prefix = path.substr(0, path.size() - 6);
    if (detail::IsFile(path)) return ResolvedCheckpoint{prefix, Format::kV2, {}};
    if (std::optional<ResolvedCheckpoint> r = detail::ResolvePreserved(prefix)) return std::move(*r);
  }
  if (std::regex_match(path, m, kData)) {
    if (detail::IsFile(MetaFilename(m[1].str()))) return ResolvedCheckpoint{m[1].str(), Format::kV2, {}};
    if (std::optional<ResolvedCheckpoint> r = detail::ResolvePreserved(m[1].str())) return std::move(*r);
  }
  if (detail::IsFile(MetaFilename(path))) return ResolvedCheckpoint{path, Format::kV2, {}};
  if (detail::IsFile(path)) return ResolvedCheckpoint{path, Format::kV1, {}};
  if (std::optional<ResolvedCheckpoint> r = detail::ResolvePreserved(path)) return std::move(*r);
  throw NotFoundError(ErrorContext(path), "no checkpoint here: neither '" + MetaFilename(path) +
                                              "' nor a file or directory of this name exists");
}

// A checkpoint on disk, opened from a prefix, an index or data file name, a V1
// file or a directory with a `checkpoint` state file.
class Checkpoint : public BundleReader<core::DiskFileSystem> {
 public:
  static Checkpoint Open(const std::string& path) {
    ResolvedCheckpoint r = ResolveCheckpoint(path);
    if (r.format == Format::kV2) return Checkpoint(BundleReader::Open(r.prefix), std::move(r.notes));
    return Checkpoint(OpenV1<core::DiskFileSystem>(r.prefix), std::move(r.notes));
  }

  // How the path was resolved, and where that differs from TensorFlow.
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  Checkpoint(BundleReader reader, std::vector<std::string> notes)
      : BundleReader(std::move(reader)), notes_(std::move(notes)) {}

  std::vector<std::string> notes_;
};

}  // namespace warmstart::bundle
