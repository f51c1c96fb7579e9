// Writes a V2 bundle as TensorFlow's BundleWriter does
// (tensorflow/core/util/tensor_bundle/tensor_bundle.cc: BundleWriter::BundleWriter, Add,
// AddSlice, Finish; spec sections 1.2, 6, 7.1 and the checklist of section 10).
//
//   construction  creates the parent directory of PREFIX and opens
//                 PREFIX.data-00000-of-00001.tempstate<R1>        (R1, R2: random u64, decimal)
//   Add*          appends the payload to that file at once, in call order, then zero padding
//                 up to a multiple of data_alignment; remembers the BundleEntryProto
//                   shard_id 0 | offset = data length before the payload | size (no padding)
//                   | crc32c = mask(crc of the payload bytes as stored)
//   Finish        fsync + close the data file; write the index to PREFIX.index.tempstate<R2>:
//                   ""  -> BundleHeaderProto {num_shards 1, LITTLE, version {producer 1}}
//                          = 08 01 1a 02 08 01
//                   key -> BundleEntryProto, every key in ascending bytewise order
//                 through sstable::TableBuilder; fsync; rename data, then index, to their
//                 final names; fsync the directory. Once PREFIX.index exists the data is
//                 complete. On any failure every file this writer made is removed.
//                 Replacing an existing bundle keeps the old one whole until the new one
//                 is in place (PublishBundle, below).
//   destruction   without a successful Finish removes the temporary data file.
//
// Payloads (spec 6.2, 6.3): fixed-size dtypes are the little-endian element bytes;
// DT_STRING is varint lengths || masked length checksum || element bytes.
//
// MergeBundles (spec 1.3; MergeBundles / MergeOneBundle in tensor_bundle.cc) combines the
// one-writer bundles of a sharded save into PREFIX:
//   1. inputs in the given order: num_shards summed; endianness and version from the first
//      (later inputs must agree, version compared as serialized bytes);
//   2. entries in key order: a new key keeps its entry with shard_id = the merged id of the
//      data file it points to (ids 0, 1, ... by first appearance); a key seen before must be
//      a partitioned tensor on both sides (same dtype and shape): its slices are appended;
//   3. every mapped data file is renamed to DataFilename(PREFIX, id, number of files);
//   4. the index: header {num_shards = sum, endianness, version}, entries in key order;
//   5. the inputs' index files are deleted (best effort).
// Deviations from TF, neither visible in the result: everything is checked before the first
// rename (a failed rename moves the earlier ones back), and the index is written to a
// temporary name, fsynced and renamed, so a crash cannot leave a truncated PREFIX.index.
// Both BundleWriter::Finish and MergeBundles publish through PublishBundle, which also
// protects a bundle that already exists under PREFIX (see there): a kill never leaves the
// old index paired with new data.
// An input that contributes no entry is refused: TF would count its shards in the header
// without renaming a data file for it (spec 1.3, last consequence).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unsupported/Eigen/CXX11/Tensor>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/ordered_code.hpp"
#include "warmstart/bundle/tensor_data.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace warmstart::bundle {

namespace detail {

[[noreturn]] inline void ThrowIo(const std::string& path, const std::string& what, int err) {
  throw IoError(ErrorContext(path), what + ": " + std::strerror(err));
}

// Test seam of the crash-safety tests (tests/bundle/writer_kill_test.cpp): when set, it is
// called with the name of each file-system step of PublishBundle and RecoverPreviousBundle
// just before that step runs, so that a test can throw there (an injected failure) or
// stop the process there and SIGKILL it. One per thread; empty outside tests.
using FileStepHook = std::function<void(const std::string& step)>;
inline FileStepHook& CurrentFileStepHook() {
  static thread_local FileStepHook hook;
  return hook;
}
inline void AtFileStep(const std::string& step) {
  if (const FileStepHook& hook = CurrentFileStepHook()) hook(step);
}

// A file opened for writing that must not exist yet; closed (not synced) on destruction.
class WritableFile {
 public:
  WritableFile() = default;  // no file
  static WritableFile Create(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) ThrowIo(path, "cannot create file", errno);
    return WritableFile(path, fd);
  }

  WritableFile(WritableFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}
  WritableFile& operator=(WritableFile&& o) noexcept {
    if (this != &o) {
      Abandon();
      path_ = std::move(o.path_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;
  ~WritableFile() { Abandon(); }

  const std::string& path() const { return path_; }

  void Append(const uint8_t* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) ThrowIo(path_, "cannot write " + std::to_string(n) + " bytes", errno);
      data += w;
      n -= static_cast<size_t>(w);
    }
  }
  void Append(core::ByteView bytes) { Append(bytes.data(), bytes.size()); }

  // fsync, then close; the file is complete on disk when this returns.
  void SyncAndClose() {
    if (::fsync(fd_) != 0) ThrowIo(path_, "cannot fsync", errno);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) ThrowIo(path_, "cannot close", errno);
  }

 private:
  WritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void Abandon() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  std::string path_;
  int fd_ = -1;
};

inline std::string ParentDirectory(const std::string& prefix) {
  const std::filesystem::path parent = std::filesystem::path(prefix).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

inline void CreateParentDirectory(const std::string& prefix) {
  std::error_code ec;
  const std::string dir = ParentDirectory(prefix);
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(ErrorContext(dir), "cannot create the bundle's directory: " + ec.message());
}

// Makes the renames inside `dir` durable.
inline void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowIo(dir, "cannot open directory to fsync it", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) ThrowIo(dir, "cannot fsync directory", err);
}

inline void Rename(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) ThrowIo(to, "cannot rename " + from + " to this name", errno);
}

inline void RemoveQuietly(const std::string& path) { ::unlink(path.c_str()); }

// TF's temporary suffix: ".tempstate" + a random unsigned 64-bit number in decimal.
// Reseeded in a forked child, which would otherwise draw the parent's next numbers.
inline std::string TempSuffix() {
  static thread_local std::mt19937_64 rng;
  static thread_local pid_t seeded_in = 0;
  if (seeded_in != ::getpid()) {
    std::random_device device;
    rng.seed((static_cast<uint64_t>(device()) << 32) ^ device());
    seeded_in = ::getpid();
  }
  return ".tempstate" + std::to_string(rng());
}

// Durably gives `from`'s contents a second name `to` in the same directory: a hard link,
// or a copy (fsynced) where the file system has none.
inline void LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return;
  const int link_err = errno;
  if (link_err != EPERM && link_err != ENOTSUP && link_err != EOPNOTSUPP && link_err != EMLINK && link_err != ENOSYS) {
    ThrowIo(to, "cannot link " + from + " to this name", link_err);
  }
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (ec) throw IoError(ErrorContext(to), "cannot copy " + from + " to this name: " + ec.message());
  const int fd = ::open(to.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    RemoveQuietly(to);
    ThrowIo(to, "cannot fsync the copy of " + from, err);
  }
  ::close(fd);
}

inline bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

inline bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The identity of a file, whatever the spelling of its path; nullopt when it does not exist.
inline std::optional<std::pair<dev_t, ino_t>> FileId(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(st.st_dev, st.st_ino);
}

// The file name of `path` with `prefix` replaced by `other` (path starts with prefix).
inline std::string Reprefix(const std::string& path, const std::string& prefix, const std::string& other) {
  return other + path.substr(prefix.size());
}

// The files PREFIX.previous.tempstate<R>.* of `prefix`'s directory, by R (the digits).
inline std::map<std::string, std::vector<std::string>> PreservedFilesByTag(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path p(prefix);
  const std::string head = p.filename().string() + PreviousTag();
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::map<std::string, std::vector<std::string>> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, head.size(), head) != 0) continue;
    size_t digits_end = head.size();
    while (digits_end < name.size() && name[digits_end] >= '0' && name[digits_end] <= '9') ++digits_end;
    out[name.substr(head.size(), digits_end - head.size())].push_back(it->path().string());
  }
  return out;
}

// Removes every file an overwrite of `prefix` preserved: PREFIX.previous.tempstate<R>.*.
inline void RemovePreserved(const std::string& prefix) {
  for (const auto& [tag, files] : PreservedFilesByTag(prefix)) {
    for (const std::string& f : files) RemoveQuietly(f);
  }
}

// Removes the preserved files of every R whose index is gone: the debris of a step 1 of
// PublishBundle or of a RecoverPreviousBundle that were interrupted. No reader uses them
// (PreservedPreviousBundles lists only copies with their index).
inline void RemoveIncompletePreserved(const std::string& prefix) {
  for (const auto& [tag, files] : PreservedFilesByTag(prefix)) {
    if (IsRegularFile(MetaFilename(prefix + PreviousTag() + tag))) continue;
    for (const std::string& f : files) RemoveQuietly(f);
  }
}

// How a new bundle's data files reach their final names, and how that is undone.
struct DataMove {
  std::string from;  // temporary name (BundleWriter) or a merge input's data file
  std::string to;    // DataFilename(PREFIX, i, n)
};
enum class UndoMoves { kRemove, kMoveBack };

// Renames in order must not overwrite a file a later rename still reads (a merge of a
// bundle into its own prefix whose shard ids change). Throws ArgumentError.
inline void CheckMoveOrder(const std::vector<DataMove>& moves) {
  for (size_t i = 0; i < moves.size(); ++i) {
    const auto target = FileId(moves[i].to);
    for (size_t j = i + 1; target && j < moves.size(); ++j) {
      if (FileId(moves[j].from) == target) {
        throw ArgumentError(ErrorContext(moves[i].to), "renaming " + moves[i].from + " here would overwrite " +
                                                           moves[j].from + ", which is still to be moved; merge "
                                                           "into another prefix");
      }
    }
  }
}

// How far PublishBundle got before an error: what RollBackPublish must undo.
struct PublishProgress {
  std::vector<std::string> linked;  // old data files given (or being given) a name under B
  bool index_moved = false;         // PREFIX.index is B.index
  size_t moved = 0;                 // new data files renamed into place
};

// Puts the directory back as it was before PublishBundle: the new data files out first
// (removed, or moved back), then each old data file's B name is dropped when the file is
// still under its own name (a hard link of it), or renamed back over the name a new data
// file held (or when it is a copy); then the old index; the new index's temporary goes.
// Best effort: an error here cannot be reported over the one being handled.
inline void RollBackPublish(const std::string& prefix, const std::string& previous,
                            const std::vector<DataMove>& moves, const std::string& index_temp, UndoMoves undo,
                            const PublishProgress& done) {
  for (size_t i = done.moved; i-- > 0;) {
    if (undo == UndoMoves::kMoveBack) {
      std::rename(moves[i].to.c_str(), moves[i].from.c_str());
    } else {
      RemoveQuietly(moves[i].to);
    }
  }
  for (const std::string& f : done.linked) {
    const std::string kept = Reprefix(f, prefix, previous);
    // rename() of two names of one file does nothing and leaves both: unlink instead.
    const auto kept_id = FileId(kept);
    if (!done.index_moved || (kept_id && kept_id == FileId(f))) {
      RemoveQuietly(kept);
    } else {
      std::rename(kept.c_str(), f.c_str());
    }
  }
  if (done.index_moved) std::rename(MetaFilename(previous).c_str(), MetaFilename(prefix).c_str());
  RemoveQuietly(index_temp);
}

// Puts a new bundle in place under `prefix`: its data files `moves` (all present) and its
// complete, fsynced index at `index_temp`. TensorFlow's order: data files, then the index,
// so that PREFIX.index only ever names complete data. When PREFIX.index already exists
// (an overwrite) that order alone would pair the old index with new data after a kill, so:
//   1. every PREFIX.data-*-of-* gets a second name B.data-*-of-*, where
//      B = PREFIX.previous.tempstate<R> (hard links; copies where links are impossible),
//      then the directory is fsynced;
//   2. PREFIX.index is renamed to B.index: PREFIX is now absent and B is the old bundle,
//      complete (Checkpoint::Open falls back to it; RecoverPreviousBundle moves it back);
//   3. data files, then the index, are renamed into place; the directory is fsynced;
//   4. B and the old data files the new bundle did not replace are removed.
// A kill at any moment leaves PREFIX old, absent with B complete, or new. On an error in
// steps 1-3 the directory is put back as it was (RollBackPublish: the new data files
// removed or moved back per `undo`, no B file left) and the error rethrown. An error in
// the final directory fsync leaves the new bundle in place, B too, and is rethrown.
inline void PublishBundle(const std::string& prefix, const std::vector<DataMove>& moves,
                          const std::string& index_temp, UndoMoves undo) {
  const std::string dir = ParentDirectory(prefix);
  const std::string index_final = MetaFilename(prefix);
  const bool overwrite = IsRegularFile(index_final);
  const std::vector<std::string> old_data = overwrite ? DataFilesOf(prefix) : std::vector<std::string>{};
  const std::string previous = prefix + PreviousTag() + TempSuffix().substr(std::strlen(".tempstate"));
  CheckMoveOrder(moves);
  if (overwrite) RemovePreserved(prefix);  // debris of an earlier interrupted overwrite
  PublishProgress done;
  try {
    if (overwrite) {
      for (const std::string& f : old_data) {
        AtFileStep("publish: link " + f);
        done.linked.push_back(f);  // before the call: a partial copy is removed too
        LinkOrCopy(f, Reprefix(f, prefix, previous));
      }
      AtFileStep("publish: sync directory");
      SyncDirectory(dir);
      AtFileStep("publish: move the old index aside");
      Rename(index_final, MetaFilename(previous));
      done.index_moved = true;
    }
    for (const DataMove& m : moves) {
      AtFileStep("publish: rename " + m.from);
      Rename(m.from, m.to);
      ++done.moved;
    }
    AtFileStep("publish: rename the index");
    Rename(index_temp, index_final);
  } catch (...) {
    RollBackPublish(prefix, previous, moves, index_temp, undo, done);
    throw;
  }
  AtFileStep("published: sync directory");
  SyncDirectory(dir);
  // The new bundle is in place: what remains of the old one (and of any earlier
  // interrupted overwrite) is debris.
  AtFileStep("published: remove the old files");
  for (const std::string& f : old_data) {
    const bool replaced = std::any_of(moves.begin(), moves.end(), [&](const DataMove& m) { return m.to == f; });
    if (!replaced) RemoveQuietly(f);
  }
  RemovePreserved(prefix);
}

// The header every single-writer bundle carries: 08 01 1a 02 08 01.
inline proto::BundleHeader SingleWriterHeader() {
  proto::BundleHeader h;
  h.num_shards = 1;
  h.endianness = 0;
  h.version.producer = 1;
  return h;
}

// Header first, then entries in key order (std::map iterates bytewise-ascending).
inline std::string BuildIndex(const proto::BundleHeader& header,
                              const std::map<std::string, proto::BundleEntry>& entries) {
  sstable::TableBuilder table;
  const std::string head = proto::EncodeBundleHeader(header);
  table.Add("", core::ByteView(head));
  for (const auto& [key, entry] : entries) {
    const std::string value = proto::EncodeBundleEntry(entry);
    table.Add(key, core::ByteView(value));
  }
  return table.Finish();
}

}  // namespace detail

struct BundleWriterOptions {
  size_t data_alignment = 1;  // zero padding after each payload up to a multiple of this
};

class BundleWriter {
 public:
  using Options = BundleWriterOptions;

  // Creates the parent directory of `prefix` and the temporary data file.
  // Throws ArgumentError (prefix empty, alignment 0) or IoError.
  explicit BundleWriter(std::string prefix, Options options = Options())
      : prefix_(std::move(prefix)), options_(options) {
    if (prefix_.empty()) throw ArgumentError("bundle prefix must not be empty");
    if (options_.data_alignment == 0) {
      throw ArgumentError(ErrorContext(prefix_), "data_alignment must be at least 1");
    }
    detail::CreateParentDirectory(prefix_);
    data_ = detail::WritableFile::Create(DataFilename(prefix_, 0, 1) + detail::TempSuffix());
  }

  BundleWriter(const BundleWriter&) = delete;
  BundleWriter& operator=(const BundleWriter&) = delete;

  ~BundleWriter() {
    if (!finished_) {
      const std::string temp = data_.path();
      data_ = detail::WritableFile();
      detail::RemoveQuietly(temp);
    }
  }

  const std::string& prefix() const { return prefix_; }
  // Bytes written to the data file so far (payloads and padding).
  uint64_t data_size() const { return size_; }

  // A fixed-size dtype from its little-endian element bytes, row-major.
  // Requires: bytes.size() == shape.num_elements() * DataTypeSize(dtype).
  void Add(const std::string& key, DataType dtype, const TensorShape& shape, core::ByteView bytes) {
    CheckNewKey(key);
    CheckFixedSize(key, dtype, shape, bytes.size());
    AppendEntry(key, dtype, shape, bytes, core::crc32c::Mask(core::crc32c::Value(bytes)));
  }

  // Convenience for element types with a DataType (DataTypeOf<T>); host order must be
  // little-endian, which holds on every platform TF writes LITTLE bundles from.
  template <class T>
  void Add(const std::string& key, const std::vector<T>& values, const TensorShape& shape) {
    static_assert(std::is_trivially_copyable_v<T>, "element type must be trivially copyable");
    Add(key, DataTypeOf<T>::value, shape,
        core::ByteView(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(T)));
  }

  // An Eigen tensor, saved row-major like TF. A RowMajor tensor is written from its own
  // buffer without a copy; a ColMajor one is reordered first.
  template <class T, int R, int Layout, class Index>
  void Add(const std::string& key, const Eigen::Tensor<T, R, Layout, Index>& t) {
    std::vector<int64_t> dims;
    for (int i = 0; i < R; ++i) dims.push_back(static_cast<int64_t>(t.dimension(i)));
    if constexpr ((Layout & Eigen::RowMajor) != 0) {
      Add(key, DataTypeOf<T>::value, TensorShape(dims),
          core::ByteView(reinterpret_cast<const uint8_t*>(t.data()), static_cast<size_t>(t.size()) * sizeof(T)));
    } else {
      Eigen::array<Index, R> reverse;
      for (int i = 0; i < R; ++i) reverse[i] = R - 1 - i;
      const Eigen::Tensor<T, R, Eigen::RowMajor, Index> row_major = t.swap_layout().shuffle(reverse);
      Add(key, row_major);
    }
  }

  // DT_BOOL from std::vector<bool> (packed bits): one byte 0x00 / 0x01 per element.
  void Add(const std::string& key, const std::vector<bool>& values, const TensorShape& shape) {
    std::string bytes;
    bytes.reserve(values.size());
    for (bool b : values) bytes.push_back(b ? '\x01' : '\x00');
    Add(key, DataType::kBool, shape, core::ByteView(bytes));
  }

  // A DT_STRING tensor. Requires: elements.size() == shape.num_elements().
  void AddStrings(const std::string& key, const TensorShape& shape, const std::vector<std::string_view>& elements) {
    CheckNewKey(key);
    CheckShape(key, shape);
    if (static_cast<uint64_t>(shape.num_elements()) != elements.size()) {
      throw ArgumentError(KeyContext(key), "shape " + shape.DebugString() + " has " +
                                               std::to_string(shape.num_elements()) + " elements, " +
                                               std::to_string(elements.size()) + " strings were given");
    }
    std::string payload;
    const uint32_t masked_crc = EncodeStringTensor(elements, &payload);
    AppendEntry(key, DataType::kString, shape, core::ByteView(payload), masked_crc);
  }
  void AddStrings(const std::string& key, const TensorShape& shape, const std::vector<std::string>& elements) {
    AddStrings(key, shape, std::vector<std::string_view>(elements.begin(), elements.end()));
  }

  // One partition of `full_key` (spec 7.1): the slice's data under
  // EncodeTensorNameSlice(full_key, slice), and `slice` appended to the full-tensor entry
  // (dtype, full shape, slices; no data). A slice covering the whole tensor is a plain Add.
  // Requires: bytes hold slice.SliceShape(full_shape) elements of a fixed-size dtype.
  void AddSlice(const std::string& full_key, const TensorShape& full_shape, const TensorSlice& slice,
                DataType dtype, core::ByteView bytes) {
    CheckShape(full_key, full_shape);
    const std::string why = slice.ValidateFor(full_shape);
    if (!why.empty()) throw ArgumentError(KeyContext(full_key), why);
    if (slice.IsFullFor(full_shape)) {
      Add(full_key, dtype, full_shape, bytes);
      return;
    }
    CheckFullEntry(full_key, full_shape, dtype);
    Add(EncodeTensorNameSlice(full_key, slice), dtype, slice.SliceShape(full_shape), bytes);
    proto::BundleEntry& full = entries_[full_key];
    if (full.slices.empty()) {
      full.dtype = static_cast<int32_t>(dtype);
      full.shape = full_shape.ToProto();
    }
    full.slices.push_back(slice.ToProto());
  }

  // Closes the data file, writes the index and moves both to their final names.
  // Throws IoError naming the file; afterwards no file of this writer remains. (Only the
  // final directory fsync can fail after the renames: the bundle is then complete but its
  // durability across a power loss is not guaranteed.)
  void Finish() {
    if (finished_) throw ArgumentError(ErrorContext(prefix_), "Finish was already called");
    finished_ = true;
    const std::string data_temp = data_.path();
    const std::string data_final = DataFilename(prefix_, 0, 1);
    const std::string index_temp = MetaFilename(prefix_) + detail::TempSuffix();
    try {
      if (broken_) throw IoError(ErrorContext(data_temp), "an earlier write to the data file failed");
      data_.SyncAndClose();
      WriteIndex(index_temp);
    } catch (...) {
      data_ = detail::WritableFile();
      detail::RemoveQuietly(data_temp);
      detail::RemoveQuietly(index_temp);
      throw;
    }
    try {
      detail::PublishBundle(prefix_, {{data_temp, data_final}}, index_temp, detail::UndoMoves::kRemove);
    } catch (...) {
      detail::RemoveQuietly(data_temp);  // when the failure came before its rename
      throw;
    }
  }

 private:
  ErrorContext KeyContext(const std::string& key) const { return ErrorContext(prefix_).WithKey(key); }

  void CheckUsable() const {
    if (finished_) throw ArgumentError(ErrorContext(prefix_), "cannot add tensors after Finish");
    if (broken_) throw IoError(ErrorContext(data_.path()), "an earlier write to the data file failed");
  }

  void CheckNewKey(const std::string& key) const {
    CheckUsable();
    if (key.empty()) throw ArgumentError(ErrorContext(prefix_), "tensor key must not be empty (reserved for the header)");
    if (entries_.count(key)) throw ArgumentError(KeyContext(key), "tensor was already added to this bundle");
  }

  void CheckShape(const std::string& key, const TensorShape& shape) const {
    const std::string why = shape.Validate();
    if (!why.empty()) throw ArgumentError(KeyContext(key), why);
  }

  void CheckFixedSize(const std::string& key, DataType dtype, const TensorShape& shape, size_t n) const {
    if (!IsFixedSize(dtype)) {
      throw ArgumentError(KeyContext(key), DataTypeName(dtype) + " is not a fixed-size dtype" +
                                               (dtype == DataType::kString ? "; use AddStrings" : ""));
    }
    CheckShape(key, shape);
    const uint64_t expected = static_cast<uint64_t>(shape.num_elements()) * static_cast<uint64_t>(DataTypeSize(dtype));
    if (n != expected) {
      throw ArgumentError(KeyContext(key), "expected " + std::to_string(expected) + " bytes for " +
                                               DataTypeName(dtype) + " " + shape.DebugString() + ", got " +
                                               std::to_string(n));
    }
  }

  // The full-tensor entry may only gain slices: same dtype and shape, never a plain entry.
  void CheckFullEntry(const std::string& full_key, const TensorShape& full_shape, DataType dtype) const {
    CheckUsable();
    if (full_key.empty()) throw ArgumentError(ErrorContext(prefix_), "tensor key must not be empty");
    const auto it = entries_.find(full_key);
    if (it == entries_.end()) return;
    const proto::BundleEntry& full = it->second;
    if (full.slices.empty()) throw ArgumentError(KeyContext(full_key), "tensor was already added unpartitioned");
    if (full.dtype != static_cast<int32_t>(dtype) || full.shape.dims != full_shape.dims()) {
      throw ArgumentError(KeyContext(full_key),
                          "slice of " + DataTypeName(dtype) + " " + full_shape.DebugString() +
                              " does not match the earlier slices' " +
                              DataTypeName(static_cast<DataType>(full.dtype)) + " " +
                              TensorShape(full.shape.dims).DebugString());
    }
  }

  // Requires: key is new; payload is the bytes as stored; masked_crc covers them.
  void AppendEntry(const std::string& key, DataType dtype, const TensorShape& shape, core::ByteView payload,
                   uint32_t masked_crc) {
    proto::BundleEntry e;
    e.dtype = static_cast<int32_t>(dtype);
    e.shape = shape.ToProto();
    e.offset = static_cast<int64_t>(size_);
    e.size = static_cast<int64_t>(payload.size());
    e.crc32c = masked_crc;
    try {
      data_.Append(payload);
      size_ += payload.size();
      WritePadding();
    } catch (...) {
      broken_ = true;
      throw;
    }
    entries_.emplace(key, std::move(e));
  }

  void WritePadding() {
    const size_t pad = (options_.data_alignment - size_ % options_.data_alignment) % options_.data_alignment;
    if (pad == 0) return;
    const std::string zeros(pad, '\0');
    data_.Append(core::ByteView(zeros));
    size_ += pad;
  }

  void WriteIndex(const std::string& path) const {
    const std::string table = detail::BuildIndex(detail::SingleWriterHeader(), entries_);
    detail::WritableFile index = detail::WritableFile::Create(path);
    index.Append(core::ByteView(table));
    index.SyncAndClose();
  }

  std::string prefix_;
  Options options_;
  detail::WritableFile data_;
  uint64_t size_ = 0;
  std::map<std::string, proto::BundleEntry> entries_;
  bool finished_ = false;
  bool broken_ = false;
};

namespace detail {

struct MergeState {
  std::optional<proto::BundleHeader> first_header;  // endianness and version come from here
  std::string first_version_bytes;
  int32_t num_shards = 0;
  std::map<std::string, proto::BundleEntry> entries;
  std::map<std::string, int32_t> shard_ids;  // input data file -> merged id
  std::vector<std::string> data_files;       // input data files by merged id
};

inline void MergeHeader(const proto::BundleHeader& h, const std::string& index_path, MergeState* state) {
  std::string version;
  proto::EncodeVersionDef(h.version, &version);
  state->num_shards += h.num_shards;
  if (!state->first_header) {
    state->first_header = h;
    state->first_version_bytes = version;
    return;
  }
  if (h.endianness != state->first_header->endianness) {
    throw ArgumentError(ErrorContext(index_path), "endianness " + std::to_string(h.endianness) +
                                                      " differs from the first input's " +
                                                      std::to_string(state->first_header->endianness));
  }
  if (version != state->first_version_bytes) {
    throw ArgumentError(ErrorContext(index_path), "version differs from the first input's");
  }
}

// Requires: the input's header was merged (num_shards known).
inline void MergeEntry(const std::string& prefix, int32_t input_shards, const std::string& key,
                       proto::BundleEntry entry, MergeState* state) {
  const ErrorContext at = ErrorContext(MetaFilename(prefix)).WithKey(key);
  const auto it = state->entries.find(key);
  if (it != state->entries.end()) {
    proto::BundleEntry& existing = it->second;
    if (existing.slices.empty() || entry.slices.empty()) {
      throw ArgumentError(at, "duplicate tensor: the key is in an earlier input too");
    }
    if (existing.dtype != entry.dtype || existing.shape.dims != entry.shape.dims) {
      throw ArgumentError(at, "partitioned tensor's dtype or shape differs from an earlier input's");
    }
    existing.slices.insert(existing.slices.end(), entry.slices.begin(), entry.slices.end());
    return;
  }
  const std::string file = DataFilename(prefix, entry.shard_id, input_shards);
  const auto [id, added] = state->shard_ids.try_emplace(file, static_cast<int32_t>(state->data_files.size()));
  if (added) state->data_files.push_back(file);
  entry.shard_id = id->second;
  state->entries.emplace(key, std::move(entry));
}

inline void MergeOneBundle(const std::string& prefix, MergeState* state) {
  const std::string index_path = MetaFilename(prefix);
  auto table = sstable::Table<core::MappedFile>::Open(core::MappedFile::Open(index_path));
  std::optional<int32_t> input_shards;
  const size_t files_before = state->data_files.size();
  table.ForEach([&](const std::string& key, core::ByteView value, uint64_t offset) {
    if (key.empty()) {
      const proto::BundleHeader h = proto::DecodeBundleHeader(value, table.context(), offset);
      MergeHeader(h, index_path, state);
      input_shards = h.num_shards;
      return;
    }
    if (!input_shards) throw FormatError(ErrorContext(index_path), "index has no header entry");
    MergeEntry(prefix, *input_shards, key, proto::DecodeBundleEntry(value, table.context(), offset), state);
  });
  if (!input_shards) throw FormatError(ErrorContext(index_path), "index has no header entry");
  if (state->data_files.size() == files_before) {
    throw ArgumentError(ErrorContext(index_path), "input contributes no data file to the merge");
  }
}

// The data files of the merge, from their input names to their merged names; all must exist.
inline std::vector<DataMove> MergeMoves(const MergeState& state, const std::string& out_prefix) {
  const int n = static_cast<int>(state.data_files.size());
  std::vector<DataMove> moves;
  for (int i = 0; i < n; ++i) {
    const std::string& f = state.data_files[static_cast<size_t>(i)];
    if (::access(f.c_str(), F_OK) != 0) ThrowIo(f, "data file of a merge input is missing", errno);
    moves.push_back(DataMove{f, DataFilename(out_prefix, i, n)});
  }
  return moves;
}

inline void WriteSyncedFile(const std::string& path, const std::string& bytes) {
  try {
    WritableFile f = WritableFile::Create(path);
    f.Append(core::ByteView(bytes));
    f.SyncAndClose();
  } catch (...) {
    RemoveQuietly(path);
    throw;
  }
}

}  // namespace detail

// After a kill in the middle of an overwrite (PREFIX.index absent, a preserved
// PREFIX.previous.tempstate<R> = B complete): puts the newest preserved bundle back under
// PREFIX and returns true. Every step keeps B or PREFIX complete, so a kill anywhere in
// here leaves a directory that Checkpoint::Open(PREFIX) reads as the old bundle, and
// calling this again finishes the job:
//   1. each B.data-* is given its PREFIX name too (B keeps its own): skipped when that name
//      already holds the same file, else a link (or copy) under a temporary B name renamed
//      over it;
//   2. PREFIX's data files B does not have (the interrupted new bundle's) are removed;
//      the directory is fsynced;
//   3. B.index is renamed to PREFIX.index, the index last; the directory is fsynced;
//   4. every PREFIX.previous.tempstate* file is removed.
// When PREFIX.index exists, returns false and removes only preserved files whose index is
// gone (what an interrupted step 1 of an overwrite or an interrupted step 4 left); a complete
// preserved copy beside PREFIX.index is left for the next write to PREFIX to remove. Returns
// false, changing nothing, when nothing was preserved. Throws IoError when a step fails.
inline bool RecoverPreviousBundle(const std::string& prefix) {
  if (detail::IsRegularFile(MetaFilename(prefix))) {
    detail::RemoveIncompletePreserved(prefix);
    return false;
  }
  const std::vector<std::string> preserved = PreservedPreviousBundles(prefix);
  if (preserved.empty()) return false;
  const std::string& previous = preserved.front();
  const std::string dir = detail::ParentDirectory(prefix);
  const std::vector<std::string> kept = detail::DataFilesOf(previous);
  for (const std::string& f : kept) {
    const std::string target = detail::Reprefix(f, previous, prefix);
    const auto id = detail::FileId(f);
    if (id && id == detail::FileId(target)) continue;
    const std::string temp = f + detail::TempSuffix();  // a B name: step 4 removes it if left
    try {
      detail::AtFileStep("recover: link " + f);
      detail::LinkOrCopy(f, temp);
      detail::AtFileStep("recover: rename " + temp);
      detail::Rename(temp, target);
    } catch (...) {
      detail::RemoveQuietly(temp);
      throw;
    }
  }
  for (const std::string& f : detail::DataFilesOf(prefix)) {
    if (std::find(kept.begin(), kept.end(), detail::Reprefix(f, prefix, previous)) != kept.end()) continue;
    detail::AtFileStep("recover: remove " + f);
    detail::RemoveQuietly(f);
  }
  detail::AtFileStep("recover: sync directory");
  detail::SyncDirectory(dir);
  detail::AtFileStep("recover: move the index back");
  detail::Rename(MetaFilename(previous), MetaFilename(prefix));
  detail::AtFileStep("recovered: sync directory");
  detail::SyncDirectory(dir);
  detail::AtFileStep("recovered: remove the preserved files");
  detail::RemovePreserved(prefix);
  return true;
}

// Merges the bundles `prefixes` (in this order) into `out_prefix`; see the top of this file.
// Throws ArgumentError (no inputs, duplicates, mismatched inputs), FormatError, IoError.
inline void MergeBundles(const std::vector<std::string>& prefixes, const std::string& out_prefix) {
  if (prefixes.empty()) throw ArgumentError(ErrorContext(out_prefix), "MergeBundles needs at least one input");
  detail::CreateParentDirectory(out_prefix);
  detail::MergeState state;
  for (const std::string& p : prefixes) detail::MergeOneBundle(p, &state);
  proto::BundleHeader header = *state.first_header;
  header.num_shards = state.num_shards;
  const std::string table = detail::BuildIndex(header, state.entries);
  const std::vector<detail::DataMove> moves = detail::MergeMoves(state, out_prefix);
  const std::string index_temp = MetaFilename(out_prefix) + detail::TempSuffix();
  detail::WriteSyncedFile(index_temp, table);
  // Input indexes are deleted afterwards by identity: a spelling of out_prefix among the
  // inputs ("d/./m" for "d/m") must not delete the new index.
  std::vector<std::optional<std::pair<dev_t, ino_t>>> input_ids;
  for (const std::string& p : prefixes) input_ids.push_back(detail::FileId(MetaFilename(p)));
  try {
    detail::PublishBundle(out_prefix, moves, index_temp, detail::UndoMoves::kMoveBack);
  } catch (...) {
    detail::RemoveQuietly(index_temp);
    throw;
  }
  const auto out_id = detail::FileId(MetaFilename(out_prefix));
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const auto id = detail::FileId(MetaFilename(prefixes[i]));
    if (id && id == input_ids[i] && id != out_id) detail::RemoveQuietly(MetaFilename(prefixes[i]));
  }
}

}  // namespace warmstart::bundle
