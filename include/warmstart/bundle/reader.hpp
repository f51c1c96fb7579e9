// BundleReader: a TensorFlow checkpoint bundle opened once, read many times.
// Mirrors tensorflow/core/util/tensor_bundle/tensor_bundle.cc (BundleReader) and
// tensorflow/c/checkpoint_reader.cc (the listing that hides slice entries).
//
//   PREFIX.index                 sstable: "" -> BundleHeaderProto, name -> BundleEntryProto
//   PREFIX.data-SSSSS-of-NNNNN   payloads at [offset, offset + size) of shard shard_id
//
// Open() parses and validates the whole index (spec section 9, MUST list) and keeps
// the entries sorted by key. Data files are mapped lazily, on the first read of a
// tensor they hold; a missing shard is an error only then. Every read verifies the
// entry's crc32c once (remembered per entry) unless the caller passes Verify::kNo.
// Partitioned tensors (an entry with `slices`, data in slice entries keyed by
// EncodeTensorNameSlice) are assembled; overlaps and gaps are errors, as in TF.
//
// Views returned by RawBytes/View point into the mappings: valid while the reader lives
// (moving it keeps them valid); a moved-from reader may only be destroyed or assigned to.
//
// The class is templated over the file system (core/file.hpp): DiskFileSystem maps
// files, MemoryFileSystem serves caller-owned buffers. V1 checkpoints (v1.hpp) are
// converted at open into the same entries over an owned in-memory shard.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>
#include <thread>

#include <unsupported/Eigen/CXX11/Tensor>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/ordered_code.hpp"
#include "warmstart/bundle/tensor_data.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/sstable/table.hpp"

namespace warmstart::bundle {

enum class Format { kV1, kV2 };
enum class Endianness { kLittle = 0, kBig = 1 };
enum class Verify { kYes, kNo };

inline constexpr int32_t kTensorBundleVersion = 1;  // the consumer version we implement

// One tensor as the index describes it.
struct Entry {
  std::string name;  // the index key (binary for slice entries)
  DataType dtype = DataType::kInvalid;
  TensorShape shape;
  int32_t shard_id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  uint32_t masked_crc32c = 0;
  std::vector<TensorSlice> slices;  // non-empty: partitioned, data in slice entries
  uint64_t index_offset = 0;        // where the entry's value starts in the .index file (within the
                                    // decompressed block when the index block is Snappy-compressed)

  bool partitioned() const { return !slices.empty(); }
};

// A zero-copy, read-only typed view of a tensor inside a mapped data file.
// Elements are read with memcpy, so the view is safe at any alignment; data()
// is offered only when the bytes happen to be aligned for T.
template <class T>
class TensorView {
 public:
  TensorView(const uint8_t* bytes, TensorShape shape) : bytes_(bytes), shape_(std::move(shape)) {}

  const TensorShape& shape() const { return shape_; }
  int64_t size() const { return shape_.num_elements(); }
  T operator[](int64_t i) const {
    if constexpr (std::is_same_v<T, bool>) {
      return bytes_[i] != 0;
    } else {
      T v;
      std::memcpy(&v, bytes_ + static_cast<size_t>(i) * sizeof(T), sizeof(T));
      return v;
    }
  }
  bool aligned() const { return reinterpret_cast<uintptr_t>(bytes_) % alignof(T) == 0; }
  // Requires: aligned() (throws ArgumentError otherwise). Not for bool.
  const T* data() const {
    static_assert(!std::is_same_v<T, bool>, "bool views have no typed pointer; use operator[]");
    if (!aligned()) throw ArgumentError("tensor bytes are not aligned for a typed pointer; use operator[] or Read()");
    return reinterpret_cast<const T*>(bytes_);
  }
  core::ByteView bytes() const { return core::ByteView(bytes_, static_cast<size_t>(size()) * sizeof(T)); }

 private:
  const uint8_t* bytes_;
  TensorShape shape_;
};

struct VerifyFailure {
  std::string key;
  std::string message;
};

struct VerifyReport {
  size_t tensors_verified = 0;
  uint64_t bytes_verified = 0;
  std::vector<VerifyFailure> failures;
  bool ok() const { return failures.empty(); }
};

template <class Fs = core::DiskFileSystem>
class BundleReader {
 public:
  using File = typename Fs::File;

  // Opens PREFIX.index and validates every entry. Throws NotFoundError when the
  // index is absent, FormatError when it is corrupt.
  static BundleReader Open(const std::string& prefix, Fs fs = Fs()) {
    BundleReader r(prefix, std::move(fs), Format::kV2);
    r.ReadIndex();
    return r;
  }

  // Used by the V1 reader: entries (sorted, slice entries included) over one owned shard.
  static BundleReader FromMemory(const std::string& path, Format format, std::vector<Entry> all_entries,
                                 std::string data, Fs fs = Fs()) {
    BundleReader r(path, std::move(fs), format);
    r.num_shards_ = 1;
    r.owned_data_ = std::make_unique<std::string>(std::move(data));
    for (Entry& e : all_entries) r.AddEntry(std::move(e));
    r.Finalize();
    return r;
  }

  BundleReader(BundleReader&&) noexcept = default;
  BundleReader& operator=(BundleReader&&) noexcept = default;

  Format format() const { return format_; }
  const std::string& prefix() const { return prefix_; }
  int num_shards() const { return num_shards_; }
  Endianness endianness() const { return endianness_; }
  const proto::VersionDef& version() const { return version_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  std::string index_path() const { return format_ == Format::kV2 ? MetaFilename(prefix_) : prefix_; }
  std::string data_path(int shard) const {
    return format_ == Format::kV2 ? DataFilename(prefix_, shard, num_shards_) : prefix_;
  }

  // Listed tensors in key order; slice entries of partitioned tensors are hidden.
  const std::vector<Entry>& entries() const { return entries_; }
  // Every entry of the index in key order, slice entries included.
  size_t num_index_entries() const { return entries_.size() + slice_entries_.size(); }

  const Entry* Find(std::string_view name) const { return FindIn(entries_, name); }
  bool Contains(std::string_view name) const { return Find(name) != nullptr; }
  const Entry& Get(std::string_view name) const {
    const Entry* e = Find(name);
    if (e == nullptr) {
      throw NotFoundError(ErrorContext(index_path()).WithKey(std::string(name)),
                          "no tensor of this name in the checkpoint");
    }
    return *e;
  }

  // ---- Raw bytes ----

  // The verified payload of a non-partitioned entry, zero copy.
  // An Entry copied by the caller is looked up by name: offset, size and crc always
  // come from the index.
  core::ByteView RawBytes(const Entry& entry, Verify verify = Verify::kYes) const {
    const Entry& e = Own(entry);
    RequireReadable(e);
    if (e.partitioned()) {
      throw ArgumentError(EntryContext(e), "tensor is partitioned into " + std::to_string(e.slices.size()) +
                                               " slices; read it with Read/ReadSlice");
    }
    const core::ByteView bytes = Payload(e);
    if (verify == Verify::kYes) VerifyEntry(e, bytes);
    return bytes;
  }

  // ---- Typed reads ----

  // Zero-copy view of a non-partitioned little-endian tensor whose dtype is T.
  template <class T>
  TensorView<T> View(std::string_view name, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    RequireType<T>(e);
    if (endianness_ == Endianness::kBig) {
      throw ArgumentError(EntryContext(e), "a big-endian bundle cannot be viewed in place; use Read()");
    }
    return TensorView<T>(RawBytes(e, verify).data(), e.shape);
  }

  // The whole tensor, row-major, in a vector of its own element type (or the
  // storage type of quantized / float8 / int4 dtypes). Partitioned tensors are assembled.
  template <class T>
  std::vector<T> Read(std::string_view name, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    return ReadRegion<T>(e, TensorSlice::Full(e.shape.rank()), verify);
  }

  // The rectangular sub-block `slice` of a tensor, without copying the rest.
  template <class T>
  std::vector<T> ReadSlice(std::string_view name, const TensorSlice& slice, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    const std::string why = slice.ValidateFor(e.shape);
    if (!why.empty()) throw ArgumentError(EntryContext(e), why);
    return ReadRegion<T>(e, slice, verify);
  }

  // The whole tensor converted to T: any real numeric dtype (incl. half,
  // bfloat16, bool) to a real T (arithmetic, Eigen::half, Eigen::bfloat16) with
  // static_cast semantics; complex to complex.
  template <class T>
  std::vector<T> ReadAs(std::string_view name, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    std::vector<T> out;
    const bool done = VisitNumeric(e.dtype, [&](auto tag) {
      using Src = typename decltype(tag)::type;
      if constexpr (Convertible<Src, T>()) {
        const std::vector<Src> src = ReadRegion<Src>(e, TensorSlice::Full(e.shape.rank()), verify);
        out.reserve(src.size());
        for (const Src& v : src) out.push_back(Convert<Src, T>(v));
        return true;
      } else {
        return false;
      }
    });
    if (!done) {
      throw ArgumentError(EntryContext(e), "cannot convert " + DataTypeName(e.dtype) + " to " + TypeLabel<T>());
    }
    return out;
  }

  // Row-major Eigen tensor of rank R (R must equal the stored rank).
  template <class T, int R>
  Eigen::Tensor<T, R, Eigen::RowMajor> ReadTensor(std::string_view name, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    if (e.shape.rank() != R) {
      throw ArgumentError(EntryContext(e), "tensor has rank " + std::to_string(e.shape.rank()) + " " +
                                               e.shape.DebugString() + ", requested rank " + std::to_string(R));
    }
    const std::vector<T> flat = Read<T>(name, verify);
    Eigen::array<Eigen::Index, R> dims;
    for (int i = 0; i < R; ++i) dims[i] = static_cast<Eigen::Index>(e.shape.dim(i));
    Eigen::Tensor<T, R, Eigen::RowMajor> t(dims);
    std::copy(flat.begin(), flat.end(), t.data());
    return t;
  }

  // Every element of a DT_STRING tensor.
  std::vector<std::string> ReadStrings(std::string_view name, Verify verify = Verify::kYes) const {
    const Entry& e = Get(name);
    if (e.dtype != DataType::kString) {
      throw ArgumentError(EntryContext(e), "tensor is " + DataTypeName(e.dtype) + ", not DT_STRING");
    }
    if (e.partitioned()) throw ArgumentError(EntryContext(e), "partitioned string tensors are not supported");
    const core::ByteView payload = Payload(e);
    const StringTensor s = DecodeStringTensor(payload, e.shape.num_elements(), big(), DataContext(e),
                                              static_cast<uint64_t>(e.offset));
    if (verify == Verify::kYes) CheckCrc(e, s.masked_crc32c);
    std::vector<std::string> out;
    out.reserve(s.elements.size());
    for (const core::ByteView& v : s.elements) out.push_back(v.ToString());
    return out;
  }

  // ---- Verification ----

  // Reads every payload (listed and slice entries) and checks every checksum.
  // Collects failures instead of stopping at the first.
  // On disk, payloads are read in file order with pread (a single pass through a
  // mapping costs a page-table entry per page, which is slower than copying); with
  // `threads` = 0 two threads share the work once there is 64 MiB or more, 1 forces one.
  VerifyReport VerifyAll(unsigned threads = 0) const {
    if constexpr (HasStreamedFiles<Fs>::value) {
      if (!owned_data_) return VerifyAllStreamed(threads);
    }
    VerifyReport report;
    for (const auto* list : {&slice_entries_, &entries_}) {
      for (const Entry& e : *list) {
        if (e.partitioned()) continue;
        try {
          RequireVerifiable(e);
          const core::ByteView bytes = Payload(e);
          VerifyEntry(e, bytes);
          ++report.tensors_verified;
          report.bytes_verified += bytes.size();
        } catch (const Error& err) {
          report.failures.push_back({e.name, err.what()});
        }
      }
    }
    return report;
  }

 private:
  BundleReader(std::string prefix, Fs fs, Format format)
      : prefix_(std::move(prefix)), fs_(std::move(fs)), format_(format), shards_(std::make_unique<Shards>()) {}

  // ---- Opening ----

  void ReadIndex() {
    auto table = sstable::Table<File>::Open(fs_.Open(MetaFilename(prefix_)));
    const ErrorContext& ctx = table.context();
    bool first = true;
    ErrorContext keyed = ctx;  // one context for all entries: assigning a key reuses its buffer
    // Growing the vector entry by entry touches fresh memory at every doubling, a large
    // part of listing a million entries; reserve what the table's restart points suggest.
    entries_.reserve(static_cast<size_t>(std::min<uint64_t>(table.EntryCountHint(), uint64_t{1} << 20)));
    table.ForEach([&](const std::string& key, core::ByteView value, uint64_t offset) {
      if (first) {
        ReadHeader(key, value, offset, ctx);
        first = false;
        return;
      }
      keyed.key = key;
      AddEntry(DecodeEntry(key, value, offset, keyed));
    });
    if (first) throw FormatError(ctx, "index has no entries: the header entry is missing");
    for (const std::string& w : table.warnings()) warnings_.push_back(w);
    Finalize(/*sorted=*/true);  // Table::ForEach refuses keys out of order
  }

  void ReadHeader(const std::string& key, core::ByteView value, uint64_t offset, const ErrorContext& ctx) {
    if (!key.empty()) {
      throw FormatError(ctx.WithKey(key).WithOffset(offset),
                        "first index entry is not the header (key \"\"): not a V2 bundle index");
    }
    proto::BundleHeader h;
    try {
      h = proto::DecodeBundleHeader(value, ctx, offset);
    } catch (const FormatError& e) {
      throw FormatError(e.context(), e.reason() + " (not a V2 bundle header; a V1 checkpoint is opened by its own "
                                                  "file name, without .index)");
    }
    const ErrorContext at = ctx.WithOffset(offset);
    if (h.num_shards < 1) throw FormatError(at, "header has num_shards " + std::to_string(h.num_shards) + ", need >= 1");
    if (h.endianness != 0 && h.endianness != 1) {
      throw FormatError(at, "header has unknown endianness " + std::to_string(h.endianness));
    }
    CheckVersion(h.version, at);
    num_shards_ = h.num_shards;
    endianness_ = static_cast<Endianness>(h.endianness);
    version_ = h.version;
  }

  // tensorflow/core/framework/versions.cc CheckVersions, with our consumer version 1.
  static void CheckVersion(const proto::VersionDef& v, const ErrorContext& at) {
    if (v.producer < 0) throw FormatError(at, "bundle producer version " + std::to_string(v.producer) + " is negative");
    if (v.min_consumer > kTensorBundleVersion) {
      throw FormatError(at, "bundle needs a reader of version >= " + std::to_string(v.min_consumer) +
                                "; this reader implements version 1: upgrade warmstart");
    }
    for (int32_t bad : v.bad_consumers) {
      if (bad == kTensorBundleVersion) {
        throw FormatError(at, "bundle disallows readers of version 1 (bad_consumers); it was written for a newer reader");
      }
    }
  }

  // Requires: keyed is the index context with key = `key`.
  Entry DecodeEntry(const std::string& key, core::ByteView value, uint64_t offset, const ErrorContext& keyed) const {
    const proto::BundleEntry p = proto::DecodeBundleEntry(value, keyed, offset);
    Entry e;
    e.name = key;
    e.dtype = static_cast<DataType>(p.dtype);
    e.shape = TensorShape(p.shape.dims);
    e.shard_id = p.shard_id;
    e.offset = p.offset;
    e.size = p.size;
    e.masked_crc32c = p.crc32c;
    e.index_offset = offset;
    for (const proto::SliceProto& s : p.slices) e.slices.push_back(TensorSlice::FromProto(s));
    ValidateEntry(e, p, [&] { return keyed.WithOffset(offset); });
    return e;
  }

  // Spec section 9, items 7 and 8 (data-file bounds are checked when read).
  // `at()` makes the error context; it runs only when an error is thrown.
  template <class At>
  void ValidateEntry(const Entry& e, const proto::BundleEntry& p, const At& at) const {
    if (p.dtype == 0) throw FormatError(at(), "entry has dtype DT_INVALID (0)");
    if (p.shape.unknown_rank) throw FormatError(at(), "entry shape has unknown_rank set; a bundle stores full shapes");
    const std::string why = e.shape.Validate();
    if (!why.empty()) throw FormatError(at(), why);
    for (const TensorSlice& s : e.slices) {
      const std::string bad = s.ValidateFor(e.shape);
      if (!bad.empty()) throw FormatError(at(), bad);
    }
    if (e.partitioned()) return;  // shard/offset/size/crc are ignored
    if (e.shard_id < 0 || e.shard_id >= num_shards_) {
      throw FormatError(at(), "entry has shard_id " + std::to_string(e.shard_id) + " but the bundle has " +
                                std::to_string(num_shards_) + " shards");
    }
    if (e.offset < 0 || e.size < 0) throw FormatError(at(), "entry has a negative offset or size");
    CheckSize(e, at);
  }

  template <class At>
  static void CheckSize(const Entry& e, const At& at) {
    const int64_t n = e.shape.num_elements();
    if (IsFixedSize(e.dtype)) {
      const int elem = DataTypeSize(e.dtype);
      if (n > std::numeric_limits<int64_t>::max() / elem || e.size != n * elem) {
        throw FormatError(at(), "invalid size in bundle entry: " + DataTypeName(e.dtype) + " " + e.shape.DebugString() +
                                  " needs " + std::to_string(n) + " x " + std::to_string(elem) + " bytes, entry says " +
                                  std::to_string(e.size));
      }
    } else if (e.dtype == DataType::kString && e.size < n) {
      throw FormatError(at(), "invalid size in bundle entry: a string tensor of " + std::to_string(n) +
                                " elements needs at least that many bytes, entry says " + std::to_string(e.size));
    }
  }

  void AddEntry(Entry e) {
    if (!e.name.empty() && e.name[0] == '\0' && DecodeTensorNameSlice(e.name)) {
      if (e.partitioned()) {
        throw FormatError(ErrorContext(index_path()).WithKey(KeyLabel(e.name)).WithOffset(e.index_offset),
                          "a slice entry lists slices of its own; only a full-tensor entry may");
      }
      slice_entries_.push_back(std::move(e));
    } else {
      entries_.push_back(std::move(e));
    }
  }

  // After all entries are in: sort (V1 input may be unsorted), link slices, hide them.
  // `sorted`: the entries arrived in ascending key order (a V2 index); V1 input may not.
  void Finalize(bool sorted = false) {
    auto by_name = [](const Entry& a, const Entry& b) { return a.name < b.name; };
    if (!sorted && !std::is_sorted(entries_.begin(), entries_.end(), by_name)) {
      std::sort(entries_.begin(), entries_.end(), by_name);
    }
    if (!sorted && !std::is_sorted(slice_entries_.begin(), slice_entries_.end(), by_name)) {
      std::sort(slice_entries_.begin(), slice_entries_.end(), by_name);
    }
    std::vector<bool> referenced(slice_entries_.size(), false);
    for (const Entry& e : entries_) {
      if (e.partitioned()) LinkSlices(e, &referenced);
    }
    // Slice-shaped keys no partitioned tensor lists are shown as tensors of their own.
    std::vector<Entry> kept;
    const size_t listed = entries_.size();
    for (size_t i = 0; i < slice_entries_.size(); ++i) {
      if (referenced[i]) {
        kept.push_back(std::move(slice_entries_[i]));
        continue;
      }
      warnings_.push_back(index_path() + ": slice entry '" + warmstart::detail::PrintableKey(slice_entries_[i].name) +
                          "' belongs to no partitioned tensor; listed as a tensor of its own");
      entries_.push_back(std::move(slice_entries_[i]));
    }
    slice_entries_ = std::move(kept);
    if (entries_.size() != listed) std::sort(entries_.begin(), entries_.end(), by_name);
    verified_ = std::make_unique<std::atomic<uint8_t>[]>(entries_.size() + slice_entries_.size());
  }

  // Each listed slice must exist as a slice entry of the same dtype and the slice's shape.
  void LinkSlices(const Entry& full, std::vector<bool>* referenced) const {
    std::vector<std::string> keys;
    for (const TensorSlice& s : full.slices) {
      const std::string key = EncodeTensorNameSlice(full.name, s);
      const Entry* se = FindIn(slice_entries_, key);
      const ErrorContext at = ErrorContext(index_path()).WithKey(full.name).WithOffset(full.index_offset);
      if (se == nullptr) throw FormatError(at, "slice " + s.DebugString() + " is listed but its slice entry is missing");
      if (se->dtype != full.dtype || se->shape != s.SliceShape(full.shape)) {
        throw FormatError(at, "slice entry for " + s.DebugString() + " has " + DataTypeName(se->dtype) + " " +
                                  se->shape.DebugString() + ", expected " + DataTypeName(full.dtype) + " " +
                                  s.SliceShape(full.shape).DebugString());
      }
      (*referenced)[static_cast<size_t>(se - slice_entries_.data())] = true;
      keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
      throw FormatError(ErrorContext(index_path()).WithKey(full.name).WithOffset(full.index_offset),
                        "overlapping slices: a slice is listed twice");
    }
  }

  // The slice entry holding slice `s` of partitioned tensor `full` (linked at open).
  const Entry& SliceEntry(const Entry& full, const TensorSlice& s) const {
    const Entry* se = FindIn(slice_entries_, EncodeTensorNameSlice(full.name, s));
    if (se == nullptr) {
      throw FormatError(EntryContext(full).WithOffset(full.index_offset),
                        "slice " + s.DebugString() + " is listed but its slice entry is missing");
    }
    return *se;
  }

  // TF (TensorSliceSet) refuses a partitioned tensor two of whose stored slices share an
  // element, whatever region is read; checked on the first read of the tensor. Sorted by
  // their start in dimension 0, a slice can only meet those that start before it ends
  // there. Beyond kMaxPairwiseSlices slices the pairwise test could take too long on a
  // hostile file; the coverage map of the region read (MarkCovered) still catches every
  // overlap inside that region.
  static constexpr size_t kMaxPairwiseSlices = 4096;

  void CheckNoOverlap(const Entry& full) const {
    std::atomic<uint8_t>& checked = verified_[EntryIndex(full)];
    if (checked.load(std::memory_order_acquire) || full.slices.size() > kMaxPairwiseSlices) return;
    const int rank = full.shape.rank();
    std::vector<std::pair<int64_t, const TensorSlice*>> order;
    for (const TensorSlice& s : full.slices) order.push_back({rank == 0 ? 0 : s.start(0), &s});
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < order.size(); ++i) {
      const TensorSlice& a = *order[i].second;
      const int64_t end0 = rank == 0 ? 1 : a.start(0) + a.length(0, full.shape);
      for (size_t j = i + 1; j < order.size() && order[j].first < end0; ++j) {
        if (Overlap(a, *order[j].second, full.shape)) {
          throw FormatError(EntryContext(full).WithOffset(full.index_offset),
                            "overlapping slices: " + a.DebugString() + " overlaps " + order[j].second->DebugString());
        }
      }
    }
    checked.store(1, std::memory_order_release);
  }

  static bool Overlap(const TensorSlice& a, const TensorSlice& b, const TensorShape& shape) {
    for (int i = 0; i < shape.rank(); ++i) {
      const int64_t lo = std::max(a.start(i), b.start(i));
      const int64_t hi = std::min(a.start(i) + a.length(i, shape), b.start(i) + b.length(i, shape));
      if (hi <= lo) return false;
    }
    return true;
  }

  static const Entry* FindIn(const std::vector<Entry>& list, std::string_view name) {
    auto it = std::lower_bound(list.begin(), list.end(), name,
                               [](const Entry& e, std::string_view n) { return std::string_view(e.name) < n; });
    return it != list.end() && it->name == name ? &*it : nullptr;
  }

  // ---- Streamed verification (file systems with OpenStreamed, i.e. DiskFileSystem) ----

  template <class F, class = void>
  struct HasStreamedFiles : std::false_type {};
  template <class F>
  struct HasStreamedFiles<F, std::void_t<typename F::StreamedFile>> : std::true_type {};

  // Payloads in file order per shard, read through one 256 KiB buffer. String tensors
  // (whose checksum needs the decoded lengths) go through the mapping as before.
  VerifyReport VerifyAllStreamed(unsigned threads_wanted) const {
    std::vector<const Entry*> order;
    for (const auto* list : {&slice_entries_, &entries_}) {
      for (const Entry& e : *list) {
        if (!e.partitioned()) order.push_back(&e);
      }
    }
    std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
      return a->shard_id != b->shard_id ? a->shard_id < b->shard_id : a->offset < b->offset;
    });
    // Two halves of about equal bytes on two threads once there is enough data to pay
    // for a thread; the checksum, not the copy, is the larger half of the work.
    uint64_t total = 0;
    for (const Entry* e : order) total += static_cast<uint64_t>(e->size);
    const unsigned threads = threads_wanted != 0 ? threads_wanted
                             : (std::thread::hardware_concurrency() > 1 && total >= (64u << 20) ? 2 : 1);
    if (threads < 2) return VerifyRange(order, 0, order.size());
    size_t split = 0;
    for (uint64_t acc = 0; split < order.size() && acc < total / 2; ++split) acc += static_cast<uint64_t>(order[split]->size);
    VerifyReport second;
    std::exception_ptr second_error;  // e.g. bad_alloc: rethrown here, never std::terminate
    std::thread worker([&] {
      try {
        second = VerifyRange(order, split, order.size());
      } catch (...) {
        second_error = std::current_exception();
      }
    });
    VerifyReport report;
    std::exception_ptr first_error;
    try {
      report = VerifyRange(order, 0, split);
    } catch (...) {
      first_error = std::current_exception();
    }
    worker.join();
    if (first_error) std::rethrow_exception(first_error);
    if (second_error) std::rethrow_exception(second_error);
    report.tensors_verified += second.tensors_verified;
    report.bytes_verified += second.bytes_verified;
    for (VerifyFailure& f : second.failures) report.failures.push_back(std::move(f));
    return report;
  }

  VerifyReport VerifyRange(const std::vector<const Entry*>& order, size_t begin, size_t end) const {
    VerifyReport report;
    std::vector<uint8_t> buffer(256 * 1024);
    std::optional<typename Fs::StreamedFile> file;
    int file_shard = -1;
    for (size_t i = begin; i < end; ++i) {
      const Entry* e = order[i];
      try {
        RequireVerifiable(*e);
        if (e->dtype == DataType::kString || e->dtype == DataType::kVariant) {
          VerifyEntry(*e, Payload(*e));
        } else {
          if (e->shard_id != file_shard) {
            file.reset();
            file_shard = -1;
            file.emplace(OpenStreamedShard(*e));
            file_shard = e->shard_id;
          }
          VerifyStreamed(*e, *file, &buffer);
        }
        ++report.tensors_verified;
        report.bytes_verified += static_cast<uint64_t>(e->size);
      } catch (const Error& err) {
        report.failures.push_back({e->name, err.what()});
      }
    }
    return report;
  }

  auto OpenStreamedShard(const Entry& e) const {  // auto: Fs::StreamedFile exists only for some Fs
    try {
      return fs_.OpenStreamed(data_path(e.shard_id));
    } catch (const NotFoundError&) {
      throw MissingShard(e);
    }
  }

  template <class StreamedFile>
  void VerifyStreamed(const Entry& e, const StreamedFile& file, std::vector<uint8_t>* buffer) const {
    CheckInDataFile(e, file.size());
    const uint64_t offset = static_cast<uint64_t>(e.offset), size = static_cast<uint64_t>(e.size);
    uint32_t crc = 0;
    file.ForEachChunk(offset, size, buffer, [&](core::ByteView chunk) { crc = core::crc32c::Extend(crc, chunk); });
    CheckCrc(e, core::crc32c::Mask(crc));
    verified_[EntryIndex(e)].store(1, std::memory_order_release);
  }

  // ---- Reading ----

  bool big() const { return endianness_ == Endianness::kBig; }
  ErrorContext EntryContext(const Entry& e) const { return ErrorContext(index_path()).WithKey(KeyLabel(e.name)); }
  ErrorContext DataContext(const Entry& e) const { return ErrorContext(data_path(e.shard_id)).WithKey(KeyLabel(e.name)); }

  // A slice entry's binary key, shown as "name (slice 0,2:-)".
  static std::string KeyLabel(const std::string& key) {
    if (key.empty() || key[0] != '\0') return key;
    const auto decoded = DecodeTensorNameSlice(key);
    return decoded ? decoded->first + " (slice " + decoded->second.DebugString() + ")" : key;
  }

  void RequireReadable(const Entry& e) const {
    if (e.dtype == DataType::kVariant) {
      throw ArgumentError(EntryContext(e), "DT_VARIANT tensors are listed (and verified) but cannot be read by warmstart");
    }
    RequireVerifiable(e);
  }

  // Everything but resource and unknown dtypes has a checksum we can check.
  void RequireVerifiable(const Entry& e) const {
    if (e.dtype == DataType::kResource) throw FormatError(EntryContext(e), "DT_RESOURCE tensors cannot be stored in a bundle");
    if (!IsKnown(e.dtype)) {
      throw ArgumentError(EntryContext(e), "unknown dtype " + DataTypeName(e.dtype) +
                                               " (newer than this reader); the tensor is listed but cannot be read");
    }
  }

  template <class T>
  void RequireType(const Entry& e) const {
    RequireReadable(e);
    if (!StorageCompatible<T>(e.dtype)) {
      throw ArgumentError(EntryContext(e), "tensor is " + DataTypeName(e.dtype) + ", requested " +
                                               DataTypeName(DataTypeOf<T>::value) + " (use ReadAs<T> to convert)");
    }
  }

  struct Shards {
    std::mutex mu;
    std::map<int32_t, std::unique_ptr<File>> files;  // by shard id; num_shards comes from the file
  };

  // The bytes of shard `id`, mapped on first use.
  core::ByteView ShardBytes(const Entry& e) const {
    if (owned_data_) return core::ByteView(owned_data_->data(), owned_data_->size());
    std::lock_guard<std::mutex> lock(shards_->mu);
    auto& slot = shards_->files[e.shard_id];
    if (!slot) {
      const std::string path = data_path(e.shard_id);
      try {
        slot = std::make_unique<File>(fs_.Open(path));
      } catch (const NotFoundError&) {
        throw MissingShard(e);
      }
    }
    return slot->bytes();
  }

  NotFoundError MissingShard(const Entry& e) const {
    return NotFoundError(DataContext(e), "data file is missing (shard " + std::to_string(e.shard_id) + " of " +
                                             std::to_string(num_shards_) + ")");
  }

  void CheckInDataFile(const Entry& e, uint64_t file_size) const {
    const uint64_t offset = static_cast<uint64_t>(e.offset), size = static_cast<uint64_t>(e.size);
    if (offset > file_size || size > file_size - offset) {
      throw FormatError(DataContext(e).WithOffset(offset), "tensor of " + std::to_string(size) +
                                                               " bytes runs past the end of the " +
                                                               std::to_string(file_size) + "-byte data file");
    }
  }

  core::ByteView Payload(const Entry& e) const {
    const core::ByteView shard = ShardBytes(e);
    CheckInDataFile(e, shard.size());
    return shard.Sub(static_cast<size_t>(e.offset), static_cast<size_t>(e.size));
  }

  // The position of `e` in entries_ ++ slice_entries_. An Entry the caller copied is
  // found again by name, so its verification flag is the shared one.
  size_t EntryIndex(const Entry& e) const {
    const auto within = [&](const std::vector<Entry>& v) {
      return !v.empty() && std::less_equal<const Entry*>()(v.data(), &e) && std::less<const Entry*>()(&e, v.data() + v.size());
    };
    if (within(entries_)) return static_cast<size_t>(&e - entries_.data());
    if (within(slice_entries_)) return entries_.size() + static_cast<size_t>(&e - slice_entries_.data());
    if (const Entry* found = FindIn(entries_, e.name)) return static_cast<size_t>(found - entries_.data());
    if (const Entry* found = FindIn(slice_entries_, e.name)) {
      return entries_.size() + static_cast<size_t>(found - slice_entries_.data());
    }
    throw ArgumentError(EntryContext(e), "entry does not belong to this checkpoint");
  }

  const Entry& Own(const Entry& e) const {
    const size_t i = EntryIndex(e);
    return i < entries_.size() ? entries_[i] : slice_entries_[i - entries_.size()];
  }

  void VerifyEntry(const Entry& e, core::ByteView bytes) const {
    std::atomic<uint8_t>& flag = verified_[EntryIndex(e)];
    if (flag.load(std::memory_order_acquire)) return;
    uint32_t computed;
    if (e.dtype == DataType::kString) {
      computed = StringTensorChecksum(bytes, e.shape.num_elements(), big(), DataContext(e),
                                      static_cast<uint64_t>(e.offset));
    } else if (e.dtype == DataType::kVariant) {
      computed = VariantTensorChecksum(bytes, e.shape.num_elements(), big(), DataContext(e),
                                       static_cast<uint64_t>(e.offset));
    } else {
      computed = core::crc32c::Mask(core::crc32c::Value(bytes.data(), bytes.size()));
    }
    CheckCrc(e, computed);
    flag.store(1, std::memory_order_release);
  }

  void CheckCrc(const Entry& e, uint32_t computed) const {
    if (computed != e.masked_crc32c) {
      throw FormatError(DataContext(e).WithOffset(static_cast<uint64_t>(e.offset)),
                        "checksum mismatch for " + std::to_string(e.size) + " bytes: stored masked crc32c 0x" +
                            warmstart::detail::Hex32(e.masked_crc32c) + ", computed 0x" +
                            warmstart::detail::Hex32(computed) + " (the data file is corrupt)");
    }
  }

  // Reads `region` of the tensor into a new vector (stored bytes, then swapped to host order).
  template <class T>
  std::vector<T> ReadRegion(const Entry& e, const TensorSlice& region, Verify verify) const {
    RequireType<T>(e);
    CheckPayloadsCover(e, region);  // before allocating: the sizes come from the file
    const TensorShape out_shape = region.SliceShape(e.shape);
    const size_t n = static_cast<size_t>(out_shape.num_elements());
    const size_t elem = static_cast<size_t>(DataTypeSize(e.dtype));
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<uint8_t> raw(n);
      CopyRegionOf(e, region, raw.data(), verify);
      std::vector<bool> out(n);
      for (size_t i = 0; i < n; ++i) out[i] = raw[i] != 0;
      return out;
    } else {
      std::vector<T> out(n);
      CopyRegionOf(e, region, reinterpret_cast<uint8_t*>(out.data()), verify);
      if (big()) SwapBytes(reinterpret_cast<uint8_t*>(out.data()), n * elem, SwapUnit(e.dtype));
      return out;
    }
  }

  // Checks that the payloads holding `region` lie inside their data files and add up
  // to the region, so that a hostile shape cannot make us allocate more than the files hold.
  void CheckPayloadsCover(const Entry& e, const TensorSlice& region) const {
    if (!e.partitioned()) {
      Payload(e);
      return;
    }
    CheckNoOverlap(e);
    int64_t total = 0;
    for (const TensorSlice& s : e.slices) {
      const std::optional<TensorSlice> overlap = s.Intersect(region, e.shape);
      if (!overlap) continue;
      Payload(SliceEntry(e, s));
      total += overlap->SliceShape(e.shape).num_elements();
    }
    const int64_t needed = region.SliceShape(e.shape).num_elements();
    if (total < needed) {
      throw FormatError(EntryContext(e).WithOffset(e.index_offset), "does not have sufficient slices for partitioned tensor: the slices " +
                                             SliceList(e) + " do not cover " + region.DebugString());
    }
    if (total > needed) {
      throw FormatError(EntryContext(e).WithOffset(e.index_offset), "overlapping slices: the slices " + SliceList(e) + " overlap within " +
                                             region.DebugString());
    }
  }

  // Writes the stored bytes of `region` of `e` to out (row-major over the region).
  void CopyRegionOf(const Entry& e, const TensorSlice& region, uint8_t* out, Verify verify) const {
    const TensorShape out_shape = region.SliceShape(e.shape);
    const size_t elem = static_cast<size_t>(DataTypeSize(e.dtype));
    const std::vector<int64_t> zero(static_cast<size_t>(e.shape.rank()), 0);
    if (!e.partitioned()) {
      const core::ByteView bytes = RawBytes(e, verify);
      CopyRegion(bytes.data(), e.shape, Starts(region), out, out_shape, zero, out_shape.dims(), elem);
      return;
    }
    // Partitioned: copy each stored slice's overlap with the region; a coverage map
    // of the region detects overlapping slices and gaps, as TF's TensorSliceSet does.
    std::vector<uint8_t> covered(static_cast<size_t>(out_shape.num_elements()), 0);
    for (const TensorSlice& s : e.slices) {
      const std::optional<TensorSlice> overlap = s.Intersect(region, e.shape);
      if (!overlap) continue;
      const Entry& se = SliceEntry(e, s);
      const core::ByteView bytes = RawBytes(se, verify);
      std::vector<int64_t> src_origin, dst_origin;
      for (int i = 0; i < e.shape.rank(); ++i) {
        src_origin.push_back(overlap->start(i) - s.start(i));
        dst_origin.push_back(overlap->start(i) - region.start(i));
      }
      const std::vector<int64_t> extent = overlap->SliceShape(e.shape).dims();
      MarkCovered(e, s, out_shape, dst_origin, extent, &covered);
      CopyRegion(bytes.data(), se.shape, src_origin, out, out_shape, dst_origin, extent, elem);
    }
    if (std::find(covered.begin(), covered.end(), 0) != covered.end()) {
      throw FormatError(EntryContext(e).WithOffset(e.index_offset), "does not have sufficient slices for partitioned tensor: the slices " +
                                             SliceList(e) + " do not cover " + region.DebugString());
    }
  }

  // Sets the cells of the region [origin, origin + extent) of `covered`; a cell
  // that is already set means two stored slices overlap.
  void MarkCovered(const Entry& e, const TensorSlice& s, const TensorShape& out_shape,
                   const std::vector<int64_t>& origin, const std::vector<int64_t>& extent,
                   std::vector<uint8_t>* covered) const {
    const int rank = out_shape.rank();
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    while (true) {
      int64_t linear = 0;
      for (int i = 0; i < rank; ++i) linear = linear * out_shape.dim(i) + origin[i] + idx[i];
      uint8_t& cell = (*covered)[static_cast<size_t>(linear)];
      if (cell) {
        throw FormatError(EntryContext(e).WithOffset(e.index_offset), "overlapping slices: " + s.DebugString() + " overlaps another slice of " +
                                               SliceList(e));
      }
      cell = 1;
      int i = rank - 1;
      for (; i >= 0; --i) {
        if (++idx[i] < extent[i]) break;
        idx[i] = 0;
      }
      if (i < 0) return;
    }
  }

  static std::vector<int64_t> Starts(const TensorSlice& s) {
    std::vector<int64_t> v;
    for (int i = 0; i < s.rank(); ++i) v.push_back(s.start(i));
    return v;
  }

  static std::string SliceList(const Entry& e) {
    std::string s;
    for (const TensorSlice& x : e.slices) s += (s.empty() ? "" : " ") + x.DebugString();
    return "[" + s + "]";
  }

  // ---- Conversions for ReadAs ----

  template <class U, class = void>
  struct HasDataType : std::false_type {};
  template <class U>
  struct HasDataType<U, std::void_t<decltype(DataTypeOf<U>::value)>> : std::true_type {};
  template <class U>
  static std::string TypeLabel() {
    if constexpr (HasDataType<U>::value) {
      return DataTypeName(DataTypeOf<U>::value);
    } else {
      return "the requested C++ type";
    }
  }

  template <class U>
  struct Tag {
    using type = U;
  };

  // Calls fn(Tag<C++ type>) for numeric dtypes; returns false for others.
  template <class Fn>
  static bool VisitNumeric(DataType t, Fn&& fn) {
    switch (t) {
      case DataType::kFloat: return fn(Tag<float>{});
      case DataType::kDouble: return fn(Tag<double>{});
      case DataType::kInt32: case DataType::kQint32: return fn(Tag<int32_t>{});
      case DataType::kUint8: case DataType::kQuint8: return fn(Tag<uint8_t>{});
      case DataType::kInt16: case DataType::kQint16: return fn(Tag<int16_t>{});
      case DataType::kInt8: case DataType::kQint8: return fn(Tag<int8_t>{});
      case DataType::kInt64: return fn(Tag<int64_t>{});
      case DataType::kBool: return fn(Tag<bool>{});
      case DataType::kUint16: case DataType::kQuint16: return fn(Tag<uint16_t>{});
      case DataType::kUint32: return fn(Tag<uint32_t>{});
      case DataType::kUint64: return fn(Tag<uint64_t>{});
      case DataType::kHalf: return fn(Tag<Eigen::half>{});
      case DataType::kBfloat16: return fn(Tag<Eigen::bfloat16>{});
      case DataType::kComplex64: return fn(Tag<std::complex<float>>{});
      case DataType::kComplex128: return fn(Tag<std::complex<double>>{});
      default: return false;
    }
  }

  template <class U>
  static constexpr bool IsReal() {
    return std::is_arithmetic_v<U> || std::is_same_v<U, Eigen::half> || std::is_same_v<U, Eigen::bfloat16>;
  }
  template <class U>
  static constexpr bool IsComplex() {
    return std::is_same_v<U, std::complex<float>> || std::is_same_v<U, std::complex<double>>;
  }
  template <class Src, class Dst>
  static constexpr bool Convertible() {
    return (IsReal<Src>() && IsReal<Dst>()) || (IsComplex<Src>() && IsComplex<Dst>());
  }

  // static_cast semantics, except that a floating value out of an integer type's range
  // saturates and NaN becomes 0 (a plain cast would be undefined behaviour, and the
  // values come from the file); half and bfloat16 go through float.
  template <class Src, class Dst>
  static Dst Convert(const Src& v) {
    constexpr bool kFromFloating = std::is_floating_point_v<Src> || std::is_same_v<Src, Eigen::half> ||
                                   std::is_same_v<Src, Eigen::bfloat16>;
    if constexpr (kFromFloating && std::is_integral_v<Dst> && !std::is_same_v<Dst, bool>) {
      const double x = static_cast<double>(static_cast<std::conditional_t<std::is_floating_point_v<Src>, Src, float>>(v));
      if (std::isnan(x)) return 0;
      if (x <= static_cast<double>(std::numeric_limits<Dst>::min())) return std::numeric_limits<Dst>::min();
      if (x >= static_cast<double>(std::numeric_limits<Dst>::max())) return std::numeric_limits<Dst>::max();
      return static_cast<Dst>(x);
    } else if constexpr (IsComplex<Src>()) {
      using D = typename Dst::value_type;
      return Dst(static_cast<D>(v.real()), static_cast<D>(v.imag()));
    } else if constexpr (std::is_same_v<Src, Eigen::half> || std::is_same_v<Src, Eigen::bfloat16>) {
      return static_cast<Dst>(static_cast<float>(v));
    } else if constexpr (std::is_same_v<Dst, Eigen::half> || std::is_same_v<Dst, Eigen::bfloat16>) {
      return Dst(static_cast<float>(v));
    } else {
      return static_cast<Dst>(v);
    }
  }

  std::string prefix_;
  Fs fs_;
  Format format_;
  int num_shards_ = 1;
  Endianness endianness_ = Endianness::kLittle;
  proto::VersionDef version_;
  std::vector<Entry> entries_;        // listed, sorted by name
  std::vector<Entry> slice_entries_;  // hidden slice entries, sorted by key
  std::vector<std::string> warnings_;
  std::unique_ptr<std::string> owned_data_;           // V1: the single in-memory shard
  std::unique_ptr<Shards> shards_;                    // lazily mapped data files
  std::unique_ptr<std::atomic<uint8_t>[]> verified_;  // per entry: crc checked
};

}  // namespace warmstart::bundle
