// Writing the `checkpoint` state file beside the bundles, as TensorFlow's Python side does
// (tensorflow/python/checkpoint/checkpoint_management.py: update_checkpoint_state_internal,
// generate_checkpoint_state_proto, CheckpointManager.save / _sweep / _record_state;
// tensorflow/python/lib/io/file_io.py: atomic_write_string_to_file; spec section 1.4).
//
// WriteCheckpointState(directory, state)
//   FormatCheckpointState(state) goes to <directory>/checkpoint.tmp<32 random hex digits>
//   (TF: uuid4().hex), created exclusively, fsynced and closed, then renamed over
//   <directory>/checkpoint; the directory is fsynced afterwards (TF does not; harmless).
//   On failure the temporary file is removed and IoError names the file that failed.
//   The directory must exist.
//
// UpdateCheckpointState(directory, new_prefix, max_to_keep, save_timestamp)
//   What CheckpointManager.save does after its bundle is written:
//   1. read <directory>/checkpoint when it exists (ParseCheckpointState);
//   2. the path recorded for new_prefix (TF2 save_relative_paths): when it lies inside the
//      directory (compared lexically on absolute, normalized paths, as os.path.relpath does;
//      symlinks are not resolved), the path relative to the directory ("ckpt-3",
//      "sub/ckpt-3"); otherwise new_prefix unchanged when absolute, and made absolute
//      (against the working directory) when relative;
//   3. an earlier entry naming the same bundle (compared after resolving both against the
//      directory) is removed, the new path appended to all_model_checkpoint_paths and set
//      as model_checkpoint_path;
//   4. when max_to_keep is given and the list is longer, the oldest entries beyond
//      max_to_keep are dropped from the front; the state is written (WriteCheckpointState);
//      then the dropped bundles are deleted: their `.index` and every
//      `.data-<digits>-of-<digits>` file of that prefix (missing files are fine, other
//      unlink failures throw IoError). Like TF, the new checkpoint is recorded before
//      anything is deleted, so a crash in between leaves a state naming it.
//   Returns the state as written.
// Where this is simpler than / differs from TF's CheckpointManager:
//   * no keep_checkpoint_every_n_hours: every entry falling off the front is deleted, and
//     last_preserved_timestamp is carried over from the existing file unchanged (0 when
//     none: then it is not written);
//   * timestamps: only when the caller passes save_timestamp (seconds since the epoch; TF
//     uses time.time()) is all_model_checkpoint_timestamps kept, one per path: the existing
//     list if it has one value per path, else (TF's recovery rule) last_preserved_timestamp
//     for each existing path; then the new timestamp appended. Without save_timestamp the
//     list is written empty, i.e. like TF1 Saver / Checkpoint.save, which write none;
//   * max_to_keep = nullopt keeps everything (TF: None); 0 is an ArgumentError (TF's
//     constructor raises ValueError for max_to_keep <= 0);
//   * TF writes "../other/ckpt" for an absolute prefix outside the directory; we keep the
//     absolute path (which resolves to the same bundle and survives moving the directory
//     less badly);
//   * an existing state file that does not parse throws FormatError (TF logs "Checkpoint
//     ignored" and starts a fresh list, forgetting the older bundles without deleting
//     them); unknown fields of the existing file are dropped;
//   * TF writes the state twice: with the dropped entries still listed before it deletes
//     them, and without them afterwards, so a kill during the deletion leaves a state that
//     names deleted bundles. We write it once, without them, before deleting: a kill then
//     leaves at most unlisted old bundles (files nobody deletes), never a listed missing
//     one (tests/robustness/kill_test.cpp);
//   * TF's CheckpointManager keeps its list in memory and only reads the file when it is
//     constructed; we re-read it on every call, so two managers of one directory see each
//     other's saves (TF's would overwrite them).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"

namespace warmstart::bundle {

namespace detail::checkpoint_manager {

// 32 lowercase hex digits, like Python's uuid4().hex (not a valid UUID; only uniqueness matters).
inline std::string RandomHex32() {
  static thread_local std::mt19937_64 rng([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) out += kHex[v & 15];
  }
  return out;
}

inline std::string StatePath(const std::string& directory) {
  return detail::checkpoint_state::JoinPath(directory, "checkpoint");
}

// Absolute and lexically normal, without a trailing separator.
inline std::filesystem::path Normal(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(p, ec);
  if (ec) abs = p;
  abs = abs.lexically_normal();
  if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) abs = abs.parent_path();
  return abs;
}

// The path to record for `prefix` in the state of `directory` (see the file comment, 2.).
inline std::string RecordedPath(const std::string& directory, const std::string& prefix) {
  const std::filesystem::path dir = Normal(directory);
  const std::filesystem::path target = Normal(prefix);
  const std::filesystem::path rel = target.lexically_relative(dir);
  const bool inside = !rel.empty() && *rel.begin() != ".." && rel != ".";
  if (inside) return rel.generic_string();
  if (!prefix.empty() && prefix[0] == '/') return prefix;
  return target.string();
}

inline bool SameBundle(const std::string& directory, const std::string& a, const std::string& b) {
  return Normal(detail::checkpoint_state::JoinPath(directory, a)) ==
         Normal(detail::checkpoint_state::JoinPath(directory, b));
}

inline void UnlinkIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    detail::ThrowIo(path, "cannot delete this file of an old checkpoint", errno);
  }
}

// Deletes PREFIX.index and every PREFIX.data-<digits>-of-<digits>.
inline void DeleteBundle(const std::string& prefix) {
  UnlinkIfExists(MetaFilename(prefix));
  const std::filesystem::path p(prefix);
  const std::filesystem::path parent = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  const std::string base = p.filename().string() + ".data-";
  static const std::regex kShard(R"(\d+-of-\d+)");
  std::error_code ec;
  std::vector<std::string> doomed;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > base.size() && name.compare(0, base.size(), base) == 0 &&
        std::regex_match(name.substr(base.size()), kShard)) {
      doomed.push_back(entry.path().string());
    }
  }
  for (const std::string& f : doomed) UnlinkIfExists(f);
}

}  // namespace detail::checkpoint_manager

// Writes `state` to <directory>/checkpoint atomically (see the file comment). Throws
// IoError naming the temporary or final file on failure.
inline void WriteCheckpointState(const std::string& directory, const CheckpointState& state) {
  namespace cm = detail::checkpoint_manager;
  const std::string final_path = cm::StatePath(directory);
  const std::string temp_path = final_path + ".tmp" + cm::RandomHex32();
  const std::string text = FormatCheckpointState(state);
  try {
    detail::WritableFile file = detail::WritableFile::Create(temp_path);
    file.Append(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    file.SyncAndClose();
    detail::Rename(temp_path, final_path);
  } catch (...) {
    detail::RemoveQuietly(temp_path);
    throw;
  }
  detail::SyncDirectory(directory.empty() ? std::string(".") : directory);
}

// Records the bundle `new_prefix` (already written) in <directory>/checkpoint and, with
// max_to_keep, deletes the oldest bundles beyond that count (see the file comment).
// Throws ArgumentError (empty prefix, max_to_keep 0), FormatError (existing state file
// does not parse), IoError.
inline CheckpointState UpdateCheckpointState(const std::string& directory, const std::string& new_prefix,
                                             std::optional<size_t> max_to_keep,
                                             std::optional<double> save_timestamp = std::nullopt) {
  namespace cm = detail::checkpoint_manager;
  if (new_prefix.empty()) throw ArgumentError(ErrorContext(directory), "checkpoint prefix must not be empty");
  if (max_to_keep && *max_to_keep == 0) {
    throw ArgumentError(ErrorContext(directory), "max_to_keep must be at least 1 (or absent to keep everything)");
  }
  const std::string state_path = cm::StatePath(directory);
  CheckpointState old;
  std::error_code ec;
  if (std::filesystem::exists(state_path, ec)) {
    std::ifstream in(state_path, std::ios::binary);
    std::ostringstream text;
    if (!in || !(text << in.rdbuf())) throw IoError(ErrorContext(state_path), "cannot read the checkpoint state file");
    old = ParseCheckpointState(text.str(), state_path);
  }

  // Timestamps parallel to the existing paths (TF's recovery rule when they are not).
  std::vector<double> old_times = old.all_model_checkpoint_timestamps;
  if (old_times.size() != old.all_model_checkpoint_paths.size()) {
    old_times.assign(old.all_model_checkpoint_paths.size(), old.last_preserved_timestamp);
  }

  const std::string recorded = cm::RecordedPath(directory, new_prefix);
  std::vector<std::string> paths;
  std::vector<double> times;
  for (size_t i = 0; i < old.all_model_checkpoint_paths.size(); ++i) {
    const std::string& p = old.all_model_checkpoint_paths[i];
    if (p.empty() || cm::SameBundle(directory, p, recorded)) continue;
    paths.push_back(p);
    times.push_back(old_times[i]);
  }
  paths.push_back(recorded);
  times.push_back(save_timestamp.value_or(0));

  // The state never lists a bundle that is being deleted (see the file comment).
  std::vector<std::string> dropped;
  if (max_to_keep && paths.size() > *max_to_keep) {
    const auto drop = static_cast<std::ptrdiff_t>(paths.size() - *max_to_keep);
    dropped.assign(paths.begin(), paths.begin() + drop);
    paths.erase(paths.begin(), paths.begin() + drop);
    times.erase(times.begin(), times.begin() + drop);
  }

  CheckpointState state;
  state.model_checkpoint_path = recorded;
  state.all_model_checkpoint_paths = paths;
  if (save_timestamp) state.all_model_checkpoint_timestamps = times;
  state.last_preserved_timestamp = old.last_preserved_timestamp;
  WriteCheckpointState(directory, state);
  for (const std::string& p : dropped) {
    // A dropped entry may spell a bundle that is still listed ("ckpt-1", "./ckpt-1"): kept.
    const bool listed = std::any_of(paths.begin(), paths.end(),
                                    [&](const std::string& kept) { return cm::SameBundle(directory, p, kept); });
    if (!listed) cm::DeleteBundle(detail::checkpoint_state::JoinPath(directory, p));
  }
  return state;
}

}  // namespace warmstart::bundle
