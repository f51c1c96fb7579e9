// Damaged checkpoints (issue 8): every real bundle under realdata/checkpoints and bundles our
// writer makes (so that the suite runs without real data), each served from memory
// (MemoryFileSystem over exact-size heap buffers, so that AddressSanitizer sees any read past
// a file's end), damaged on purpose; then every tensor is read the way a user reads it.
//
// The contract, checked after every damage:
//   * nothing crashes, and nothing but a warmstart::Error escapes (no bad_alloc, no
//     std::length_error);
//   * a read either returns exactly the bytes of the undamaged file, or throws a
//     warmstart::Error whose what() is one line naming the file (and, for a FormatError, the
//     byte offset) — see ErrorOk;
//   * a flipped data byte inside a payload fails exactly that tensor's read (crc32c), and
//     a flip outside every payload changes nothing.
//
// Damages (docs/robustness.md has the sampling and what the runs found):
//   1. truncation of each .index after k bytes, and the same with the 48-byte footer put
//      back after the cut (so that the block handles point past the end, not the magic);
//   2. single-byte flips of each .index (xor 0xff and xor 0x01), raw: the block CRCs (or
//      the footer checks) must catch them or they must not matter;
//   3. the same flips with the block's CRC recomputed, so that they reach the block, table
//      and protobuf parsers and the entry checks; a successful read must then return
//      bytes whose checksum the (damaged) index names, i.e. the bytes of some original tensor;
//   4. byte flips in data shards (seeded samples), in memory and, for a few, on disk
//      through Checkpoint::Open and the streamed VerifyAll;
//   5. crafted index entries, written with our own encoders: offsets, sizes and shape
//      dimensions that overflow or point past the end of the data file; each must fail
//      with its message and without a large allocation (peak RSS, see MemoryGuard).
// Sampling (the constants under "Sampling" below) keeps the whole file under ~60 s in a
// RelWithDebInfo build (about 30 s measured on a loaded 2-core machine): indexes up to 4 KiB
// get every offset, larger ones (the TF1 Object Detection indexes, 6-69 KiB) seeded samples
// plus every byte outside the blocks' contents.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/sstable/table.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace {

namespace fs = std::filesystem;
namespace wb = warmstart::bundle;
namespace proto = warmstart::proto;
using warmstart::Error;
using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::core::MemoryFileSystem;
using Reader = wb::BundleReader<MemoryFileSystem>;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------
// Bundles in memory

// One bundle: its index and the data shards that are present (index-only real bundles
// have none; their reads fail with "data file is missing", which is checked like any error).
struct Bundle {
  std::string label;   // where it came from
  std::string prefix;  // the prefix the memory file system serves it under
  Bytes index;
  std::map<std::string, Bytes> data;  // data file name (prefix.data-...) -> bytes
};

Bytes ReadFileBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return Bytes(s.begin(), s.end());
}

// Loads PREFIX.index and every PREFIX.data-* beside it; `served` is the prefix used in memory.
Bundle LoadBundle(const std::string& prefix_on_disk, const std::string& served, const std::string& label) {
  Bundle b;
  b.label = label;
  b.prefix = served;
  b.index = ReadFileBytes(prefix_on_disk + ".index");
  const fs::path p(prefix_on_disk);
  const std::string head = p.filename().string() + ".data-";
  for (const auto& entry : fs::directory_iterator(p.parent_path())) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, head.size(), head) != 0 || name.find(".tempstate") != std::string::npos) continue;
    b.data[served + name.substr(p.filename().string().size())] = ReadFileBytes(entry.path());
  }
  return b;
}

// Every V2 bundle under realdata/checkpoints (empty, with a WARN, when there is no real data).
std::vector<Bundle> RealBundles() {
  std::vector<Bundle> out;
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return out;
  std::vector<fs::path> indexes;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 6 && name.compare(name.size() - 6, 6, ".index") == 0 &&
        name.find(".tempstate") == std::string::npos) {
      indexes.push_back(entry.path());
    }
  }
  std::sort(indexes.begin(), indexes.end());
  for (const fs::path& index : indexes) {
    const std::string prefix = index.string().substr(0, index.string().size() - 6);
    const std::string served = "real/" + fs::relative(prefix, dir).generic_string();
    out.push_back(LoadBundle(prefix, served, served));
  }
  return out;
}

std::vector<uint8_t> Iota8(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i + (i >> 8));
  return v;
}

template <class T>
std::vector<T> Ramp(size_t n, double start) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<T>(start + 0.25 * static_cast<double>(i));
  return v;
}

// What our writer makes: many dtypes, scalars, an empty tensor, strings, a partitioned
// tensor, 64-byte alignment, and a two-shard bundle from MergeBundles.
std::vector<Bundle> OurBundles(const warmstart::test::TempDir& tmp) {
  const std::string one = (tmp / "one" / "model.ckpt").string();
  {
    wb::BundleWriter w(one);
    w.Add("a/float", Ramp<float>(24, -3), wb::TensorShape{2, 3, 4});
    w.Add("a/double", Ramp<double>(5, 1e10), wb::TensorShape{5});
    w.Add("b/int64_scalar", std::vector<int64_t>{123456789012345}, wb::TensorShape{});
    w.Add("b/int32", Ramp<int32_t>(7, -100), wb::TensorShape{7});
    w.Add("b/uint8", Iota8(300, 7), wb::TensorShape{10, 30});
    w.Add("b/bool", std::vector<bool>{true, false, true}, wb::TensorShape{3});
    w.Add("c/half", wb::DataType::kHalf, wb::TensorShape{4}, ByteView(std::string("\x00\x3c\x00\x40\x00\xc0\xff\x7b", 8)));
    w.Add("c/empty", std::vector<float>{}, wb::TensorShape{0, 3});
    w.AddStrings("d/strings", wb::TensorShape{4}, std::vector<std::string>{"", "x", std::string(200, 'y'), "zz"});
    const std::vector<float> top = Ramp<float>(8, 0), bottom = Ramp<float>(4, 100);
    w.AddSlice("e/partitioned", wb::TensorShape{3, 4}, wb::TensorSlice::Parse("0,2:-"), wb::DataType::kFloat,
               ByteView(reinterpret_cast<const uint8_t*>(top.data()), top.size() * 4));
    w.AddSlice("e/partitioned", wb::TensorShape{3, 4}, wb::TensorSlice::Parse("2,1:-"), wb::DataType::kFloat,
               ByteView(reinterpret_cast<const uint8_t*>(bottom.data()), bottom.size() * 4));
    w.Add("f/big", Ramp<float>(16 * 1024, 0.5), wb::TensorShape{128, 128});
    w.Finish();
  }
  const std::string aligned = (tmp / "aligned" / "model.ckpt").string();
  {
    wb::BundleWriterOptions options;
    options.data_alignment = 64;
    wb::BundleWriter w(aligned, options);
    w.Add("w", Ramp<float>(3, 1), wb::TensorShape{3});
    w.Add("x", Iota8(5, 1), wb::TensorShape{5});
    w.Add("y", Ramp<double>(2, 9), wb::TensorShape{2});
    w.Finish();
  }
  const std::string merged = (tmp / "merged" / "model.ckpt").string();
  {
    wb::BundleWriter a((tmp / "merged" / "part0").string());
    a.Add("p/kernel", Ramp<float>(40, 2), wb::TensorShape{8, 5});
    a.AddStrings("p/names", wb::TensorShape{2}, std::vector<std::string>{"first", "second"});
    a.Finish();
    wb::BundleWriter b((tmp / "merged" / "part1").string());
    b.Add("q/bias", Ramp<float>(5, -1), wb::TensorShape{5});
    b.Add("q/step", std::vector<int64_t>{42}, wb::TensorShape{});
    b.Finish();
    wb::MergeBundles({(tmp / "merged" / "part0").string(), (tmp / "merged" / "part1").string()}, merged);
  }
  return {LoadBundle(one, "ours/model.ckpt", "our writer: many dtypes"),
          LoadBundle(aligned, "ours/aligned", "our writer: data_alignment 64"),
          LoadBundle(merged, "ours/merged", "MergeBundles: two shards")};
}

MemoryFileSystem Serve(const Bundle& b, const Bytes& index) {
  MemoryFileSystem fs;
  fs.Add(b.prefix + ".index", ByteView(index.data(), index.size()));
  for (const auto& [name, bytes] : b.data) fs.Add(name, ByteView(bytes.data(), bytes.size()));
  return fs;
}

// ---------------------------------------------------------------------------------------
// Reading everything, and judging the outcome

// What one tensor read gave: its content, or the error.
struct Read {
  bool ok = false;
  std::string content;  // bytes as stored (strings: length || bytes per element)
  wb::DataType dtype = wb::DataType::kInvalid;
  std::vector<int64_t> dims;
  uint32_t crc = 0;
  bool partitioned = false;
};

// Accumulates violations of the contract (reported at the end, at most a few in full)
// and counts what happened.
struct Findings {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::vector<std::string> violations;
  size_t cases = 0, opened = 0, reads_ok = 0, errors = 0, errors_without_offset = 0;
  std::map<std::string, size_t> unexpected_kinds;
  std::set<std::string> reasons_without_offset;

  void Violation(const std::string& case_label, const std::string& what) {
    if (violations.size() < 50) violations.push_back(case_label + ": " + what);
  }
};

std::string Describe(const std::exception& e) { return std::string(typeid(e).name()) + ": " + e.what(); }

// Two FormatErrors are about the whole file and carry no offset (tests/sstable/table_test.cpp
// and tests/bundle/reader_test.cpp pin them so): a file shorter than the 48-byte footer
// (the message gives its size) and a table without a single entry.
bool IsWholeFileError(const std::string& reason) {
  return reason.rfind("file is too short to be an sstable", 0) == 0 ||
         reason.rfind("index has no entries: the header entry is missing", 0) == 0;
}

// The error contract: one line naming a file of the bundle; a FormatError also names an
// offset. Other kinds (NotFoundError for a missing data file, ArgumentError for a dtype that
// cannot be read) name file and key; those without an offset are counted and listed in
// docs/robustness.md.
void ErrorOk(const Error& e, const Bundle& b, const std::string& case_label, Findings* f) {
  ++f->errors;
  const std::string what = e.what();
  if (what.find('\n') != std::string::npos) f->Violation(case_label, "error message spans lines: " + what);
  if (what.find(b.prefix) == std::string::npos) f->Violation(case_label, "error names no file of the bundle: " + what);
  if (!e.context().offset) {
    ++f->errors_without_offset;
    if (dynamic_cast<const FormatError*>(&e) != nullptr && !IsWholeFileError(e.reason())) {
      f->Violation(case_label, "FormatError without an offset: " + what);
    }
    if (f->reasons_without_offset.size() < 40) {
      f->reasons_without_offset.insert(std::string(typeid(e).name()) + ": " + e.reason().substr(0, 60));
    }
  }
}

// Strings as one byte string: varint-free "length(8 bytes) || bytes" per element.
std::string Flatten(const std::vector<std::string>& elements) {
  std::string out;
  for (const std::string& s : elements) {
    const uint64_t n = s.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out += s;
  }
  return out;
}

// Reads one listed tensor as a user would: RawBytes (zero copy) and Read<T> for
// fixed-size dtypes, ReadStrings for strings, ReadAs<double> for partitioned tensors.
std::string ReadOne(const Reader& r, const wb::Entry& e) {
  if (e.dtype == wb::DataType::kString) return Flatten(r.ReadStrings(e.name));
  if (e.partitioned()) {
    const std::vector<double> v = r.ReadAs<double>(e.name);
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  const std::string raw = r.RawBytes(e).ToString();
  if (e.dtype == wb::DataType::kFloat) {  // the allocating, typed path must agree
    const std::vector<float> v = r.Read<float>(e.name);
    if (v.size() * 4 != raw.size() || (!raw.empty() && std::memcmp(v.data(), raw.data(), raw.size()) != 0)) {
      throw std::logic_error("Read<float> differs from RawBytes for " + e.name);
    }
  }
  return raw;
}

// Opens the bundle over `index` and reads every tensor; errors are judged on the way.
// Returns nullopt when the open failed.
std::optional<std::map<std::string, Read>> ReadAll(const Bundle& b, const Bytes& index, const std::string& label,
                                                   Findings* f) {
  ++f->cases;
  std::optional<Reader> r;
  try {
    r.emplace(Reader::Open(b.prefix, Serve(b, index)));
  } catch (const Error& e) {
    ErrorOk(e, b, label, f);
    return std::nullopt;
  } catch (const std::exception& e) {
    f->Violation(label, "open threw a non-warmstart exception: " + Describe(e));
    ++f->unexpected_kinds[typeid(e).name()];
    return std::nullopt;
  }
  ++f->opened;
  std::map<std::string, Read> out;
  // An index-only bundle fails every read at the missing data file: a few reads show it.
  const size_t reads = b.data.empty() ? std::min<size_t>(3, r->entries().size()) : r->entries().size();
  for (size_t i = 0; i < r->entries().size(); ++i) {
    const wb::Entry& e = r->entries()[i];
    Read& x = out[e.name];
    x.dtype = e.dtype;
    x.dims = e.shape.dims();
    x.crc = e.masked_crc32c;
    x.partitioned = e.partitioned();
    if (i >= reads) continue;
    try {
      x.content = ReadOne(*r, e);
      x.ok = true;
      ++f->reads_ok;
    } catch (const Error& err) {
      ErrorOk(err, b, label + " key " + e.name, f);
    } catch (const std::exception& err) {
      f->Violation(label + " key " + e.name, "read threw a non-warmstart exception: " + Describe(err));
      ++f->unexpected_kinds[typeid(err).name()];
    }
  }
  try {
    const wb::VerifyReport report = r->VerifyAll(1);
    for (const wb::VerifyFailure& failure : report.failures) {
      if (failure.message.find('\n') != std::string::npos || failure.message.find(b.prefix) == std::string::npos) {
        f->Violation(label, "VerifyAll failure message is not one line naming the file: " + failure.message);
      }
    }
  } catch (const std::exception& e) {
    f->Violation(label, "VerifyAll threw: " + Describe(e));
  }
  return out;
}

// Damage the CRCs guard (raw flips, data flips): every successful read is the original.
void SameAsOriginal(const std::map<std::string, Read>& got, const std::map<std::string, Read>& original,
                    const std::string& label, Findings* f) {
  for (const auto& [name, x] : got) {
    const auto it = original.find(name);
    if (it == original.end()) {
      f->Violation(label, "a tensor the original does not have: " + name);
      continue;
    }
    if (x.dtype != it->second.dtype || x.dims != it->second.dims) {
      f->Violation(label, "dtype or shape of " + name + " changed silently");
    }
    if (x.ok && (!it->second.ok || x.content != it->second.content)) {
      f->Violation(label, "silently different data for " + name);
    }
  }
  if (got.size() != original.size()) f->Violation(label, "the listing changed silently");
}

// Damage behind a recomputed block CRC: the index is valid but different, so names, shapes
// and dtypes may change. A successful read must still be the bytes the (damaged) index's
// crc32c names: those of some original tensor, and of the same one when name, dtype, shape
// and checksum are unchanged.
void ContentFromOriginal(const std::map<std::string, Read>& got, const std::map<std::string, Read>& original,
                         const std::set<std::string>& original_contents, const std::string& label, Findings* f) {
  for (const auto& [name, x] : got) {
    if (!x.ok) continue;
    const auto it = original.find(name);
    const bool same_entry = it != original.end() && it->second.dtype == x.dtype && it->second.dims == x.dims &&
                            it->second.crc == x.crc && it->second.partitioned == x.partitioned;
    if (same_entry && it->second.ok && x.content != it->second.content) {
      f->Violation(label, "silently different data for unchanged entry " + name);
    } else if (!x.partitioned && !original_contents.count(x.content)) {
      f->Violation(label, "tensor " + name + " read bytes that are no original tensor's");
    }
  }
}

void Report(const Findings& f, const std::string& what) {
  INFO(what << ": " << f.cases << " cases, " << f.opened << " opened, " << f.reads_ok << " reads ok, " << f.errors
            << " errors (" << f.errors_without_offset << " without offset)");
  for (const std::string& v : f.violations) UNSCOPED_INFO(v);
  CHECK(f.violations.empty());
  if (std::getenv("WARMSTART_ROBUSTNESS_VERBOSE") != nullptr) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - f.start);
    std::cerr << what << ": " << ms.count() << " ms, " << f.cases << " cases, " << f.opened << " opened, " << f.reads_ok << " reads ok, "
              << f.errors << " errors (" << f.errors_without_offset << " without offset)\n";
    for (const std::string& r : f.reasons_without_offset) std::cerr << "  no offset: " << r << "\n";
    for (const auto& [kind, n] : f.unexpected_kinds) std::cerr << "  unexpected " << kind << " x" << n << "\n";
  }
}

struct Baseline {
  std::map<std::string, Read> reads;
  std::set<std::string> contents;
};

Baseline ReadOriginal(const Bundle& b) {
  Findings f;
  const auto reads = ReadAll(b, b.index, b.label + " (undamaged)", &f);
  REQUIRE(reads);
  INFO(b.label);
  for (const std::string& v : f.violations) UNSCOPED_INFO(v);
  REQUIRE(f.violations.empty());
  Baseline base{*reads, {}};
  for (const auto& [name, x] : base.reads) {
    if (x.ok && !x.partitioned) base.contents.insert(x.content);
  }
  return base;
}

std::vector<Bundle> AllBundles(const warmstart::test::TempDir& tmp) {
  std::vector<Bundle> all = OurBundles(tmp);
  for (Bundle& b : RealBundles()) all.push_back(std::move(b));
  return all;
}

// ---------------------------------------------------------------------------------------
// Sampling

// Raw flips inside a block's contents need no exhaustive run: CRC-32C detects every error
// burst of up to 32 bits, so each is caught by the same check; bytes outside the blocks'
// contents (trailers, footer) are always all flipped.
constexpr size_t kExhaustiveIndex = 4 * 1024;     // raw damage: every offset up to this size
constexpr size_t kSampledRaw = 512;               // raw flips in block contents of larger indexes
constexpr size_t kSampledTruncations = 1024;      // cut points of larger indexes (+ first 4 KiB, last 4 KiB)
constexpr size_t kExhaustiveRepaired = 4 * 1024;  // CRC-repaired flips: every offset up to this size,
constexpr size_t kExhaustiveRepairedData = 256 * 1024;  // when the data files are this small
constexpr size_t kSampledRepaired = 128;          // CRC-repaired flip positions otherwise
constexpr size_t kDataFlips = 300;               // per data shard
constexpr size_t kDiskDataFlips = 12;            // per data shard, through Checkpoint::Open

// The byte ranges [begin, end) of the blocks' contents in an index (data, metaindex and
// index blocks), from the undamaged table.
std::vector<std::pair<uint64_t, uint64_t>> BlockContents(const Bundle& b) {
  const auto table = warmstart::sstable::Table<MemoryFile>::Open(
      MemoryFile(b.prefix + ".index", ByteView(b.index.data(), b.index.size())));
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& e : table.index()) out.push_back({e.handle.offset, e.handle.offset + e.handle.size});
  out.push_back({table.footer().metaindex.offset, table.footer().metaindex.offset + table.footer().metaindex.size});
  out.push_back({table.footer().index.offset, table.footer().index.offset + table.footer().index.size});
  return out;
}

// Offsets in [0, size) to damage: all of them when size <= exhaustive; otherwise every
// offset outside `dense` ranges (block contents) plus `samples` seeded offsets inside them.
std::vector<size_t> Positions(size_t size, size_t exhaustive, size_t samples,
                              const std::vector<std::pair<uint64_t, uint64_t>>& dense, uint64_t seed) {
  std::vector<size_t> out;
  if (size <= exhaustive) {
    for (size_t i = 0; i < size; ++i) out.push_back(i);
    return out;
  }
  std::vector<size_t> inside;
  for (size_t i = 0; i < size; ++i) {
    const bool in_dense = std::any_of(dense.begin(), dense.end(), [&](const auto& r) { return i >= r.first && i < r.second; });
    (in_dense ? inside : out).push_back(i);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(inside.begin(), inside.end(), rng);
  inside.resize(std::min(inside.size(), samples));
  out.insert(out.end(), inside.begin(), inside.end());
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t Seed(const std::string& label) { return std::hash<std::string>()(label) ^ 0x8f1bbcdcull; }

// ---------------------------------------------------------------------------------------
// Peak memory

// The growth of peak resident memory while it lives: /proc/self/clear_refs "5" resets the
// high-water mark (Linux >= 4.0), /proc/self/status VmHWM reads it. Returns 0 where that is
// unavailable (the error-text checks still apply).
class MemoryGuard {
 public:
  MemoryGuard() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    usable_ = static_cast<bool>(clear);
    start_kib_ = StatusKib("VmRSS:");
  }
  uint64_t GrowthKib() const {
    const uint64_t peak = StatusKib("VmHWM:");
    return usable_ && peak > start_kib_ ? peak - start_kib_ : 0;
  }

 private:
  static uint64_t StatusKib(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.compare(0, field.size(), field) == 0) return std::strtoull(line.c_str() + field.size(), nullptr, 10);
    }
    return 0;
  }
  bool usable_ = false;
  uint64_t start_kib_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------

TEST_CASE("robustness: every bundle reads completely and identically before any damage", "[robustness][corruption]") {
  warmstart::test::TempDir tmp;
  for (const Bundle& b : AllBundles(tmp)) {
    INFO(b.label);
    const Baseline base = ReadOriginal(b);
    CHECK(!base.reads.empty());
    if (!b.data.empty()) {
      for (const auto& [name, x] : base.reads) {
        INFO(name);
        CHECK(x.ok);
      }
    }
  }
}

TEST_CASE("robustness: a truncated .index fails cleanly at every length", "[robustness][corruption][index]") {
  warmstart::test::TempDir tmp;
  for (const Bundle& b : AllBundles(tmp)) {
    const Baseline base = ReadOriginal(b);
    const size_t n = b.index.size();
    Findings f;
    const std::vector<size_t> cuts = Positions(n, kExhaustiveIndex, kSampledTruncations, {{4096, n - 4096}}, Seed(b.label));
    const Bytes footer(b.index.end() - 48, b.index.end());
    for (const size_t k : cuts) {
      const Bytes cut(b.index.begin(), b.index.begin() + static_cast<std::ptrdiff_t>(k));
      if (ReadAll(b, cut, b.label + " truncated to " + std::to_string(k), &f)) {
        f.Violation(b.label, "truncated to " + std::to_string(k) + " bytes, the index still opened");
      }
      if (k + 48 >= n) continue;  // the footer put back after the cut
      Bytes patched = cut;
      patched.insert(patched.end(), footer.begin(), footer.end());
      const std::string label = b.label + " truncated to " + std::to_string(k) + " + footer";
      if (const auto got = ReadAll(b, patched, label, &f)) SameAsOriginal(*got, base.reads, label, &f);
    }
    Report(f, b.label + ": truncation");
  }
}

TEST_CASE("robustness: a flipped .index byte is caught by a CRC or the footer checks, or changes nothing",
          "[robustness][corruption][index]") {
  warmstart::test::TempDir tmp;
  for (const Bundle& b : AllBundles(tmp)) {
    const Baseline base = ReadOriginal(b);
    Findings f;
    Bytes index = b.index;  // flipped in place and restored: an exact-size buffer
    for (const size_t pos : Positions(index.size(), kExhaustiveIndex, kSampledRaw, BlockContents(b), Seed(b.label))) {
      for (const uint8_t x : {uint8_t{0xff}, uint8_t{0x01}}) {
        index[pos] ^= x;
        const std::string label = b.label + " index byte " + std::to_string(pos) + " ^ " + std::to_string(x);
        if (const auto got = ReadAll(b, index, label, &f)) SameAsOriginal(*got, base.reads, label, &f);
        index[pos] ^= x;
      }
    }
    Report(f, b.label + ": raw index flips");
  }
}

TEST_CASE("robustness: .index flips behind a recomputed block CRC reach the parsers and never give foreign bytes",
          "[robustness][corruption][index]") {
  warmstart::test::TempDir tmp;
  for (const Bundle& b : AllBundles(tmp)) {
    const Baseline base = ReadOriginal(b);
    Findings f;
    Bytes index = b.index;
    const auto blocks = BlockContents(b);
    // Offsets inside block contents only; the trailer of the block holding each is rewritten.
    std::vector<size_t> inside;
    size_t data_size = 0;
    for (const auto& [name, bytes] : b.data) data_size += bytes.size();
    const size_t exhaustive = data_size <= kExhaustiveRepairedData ? kExhaustiveRepaired : 0;
    for (const size_t pos : Positions(index.size(), exhaustive, kSampledRepaired, blocks, Seed(b.label) + 1)) {
      if (std::any_of(blocks.begin(), blocks.end(), [&](const auto& r) { return pos >= r.first && pos < r.second; })) {
        inside.push_back(pos);
      }
    }
    for (const size_t pos : inside) {
      const auto block = *std::find_if(blocks.begin(), blocks.end(),
                                       [&](const auto& r) { return pos >= r.first && pos < r.second; });
      uint8_t* trailer = index.data() + block.second;
      uint8_t saved[5];
      std::memcpy(saved, trailer, 5);
      for (const uint8_t x : {uint8_t{0xff}, uint8_t{0x01}}) {
        index[pos] ^= x;
        const ByteView contents(index.data() + block.first, block.second - block.first);
        const uint32_t crc = warmstart::sstable::BlockChecksum(contents, trailer[0]);
        std::memcpy(trailer + 1, &crc, 4);  // little-endian host, as DecodeFixed32 reads it
        const std::string label = b.label + " index byte " + std::to_string(pos) + " ^ " + std::to_string(x) + " (CRC fixed)";
        if (const auto got = ReadAll(b, index, label, &f)) ContentFromOriginal(*got, base.reads, base.contents, label, &f);
        index[pos] ^= x;
        std::memcpy(trailer, saved, 5);
      }
    }
    Report(f, b.label + ": CRC-repaired index flips");
  }
}

namespace {

// Where one stored payload lies, and the listed tensor it belongs to.
struct Payload {
  std::string file;    // data file name
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string tensor;  // the entry's key, or for a slice entry its partitioned tensor's name
};

// Every payload of the undamaged index, slice entries included (the reader hides those),
// decoded straight from the table.
std::vector<Payload> Payloads(const Bundle& b) {
  const Reader reader = Reader::Open(b.prefix, Serve(b, b.index));
  auto table = warmstart::sstable::Table<MemoryFile>::Open(
      MemoryFile(b.prefix + ".index", ByteView(b.index.data(), b.index.size())));
  std::vector<Payload> out;
  table.ForEach([&](const std::string& key, ByteView value, uint64_t offset) {
    if (key.empty()) return;
    const proto::BundleEntry e = proto::DecodeBundleEntry(value, table.context(), offset);
    if (!e.slices.empty()) return;
    const auto slice = key[0] == '\0' ? wb::DecodeTensorNameSlice(key) : std::nullopt;
    out.push_back(Payload{reader.data_path(e.shard_id), static_cast<uint64_t>(e.offset),
                          static_cast<uint64_t>(e.size), slice ? slice->first : key});
  });
  return out;
}

}  // namespace

TEST_CASE("robustness: a flipped data byte fails exactly the tensor that holds it", "[robustness][corruption][data]") {
  warmstart::test::TempDir tmp;
  for (const Bundle& original : AllBundles(tmp)) {
    if (original.data.empty()) continue;
    Bundle b = original;  // its data buffers are flipped in place
    const Baseline base = ReadOriginal(b);
    const std::vector<Payload> payloads = Payloads(b);
    Findings f;
    for (auto& [file, bytes] : b.data) {
      if (bytes.empty()) continue;
      std::mt19937_64 rng(Seed(b.label + file));
      std::vector<size_t> positions = {0, bytes.size() - 1};
      for (size_t i = 0; i < kDataFlips && i < bytes.size(); ++i) positions.push_back(rng() % bytes.size());
      for (size_t i = 0; i < positions.size(); ++i) {
        const size_t pos = positions[i];
        const uint8_t x = i % 2 == 0 ? 0xff : 0x01;
        // The listed tensor whose payload (or one of whose slices) holds the byte, if any.
        std::string holder;
        for (const Payload& p : payloads) {
          if (p.file == file && pos >= p.offset && pos < p.offset + p.size) holder = p.tensor;
        }
        bytes[pos] ^= x;
        const std::string label = b.label + " " + file + " byte " + std::to_string(pos) + " ^ " + std::to_string(x);
        const auto got = ReadAll(b, b.index, label, &f);
        bytes[pos] ^= x;
        if (!got) {
          f.Violation(label, "the index no longer opens after a data flip");
          continue;
        }
        for (const auto& [name, r] : *got) {
          const bool hit = name == holder;
          if (hit && r.ok) f.Violation(label, "flip inside " + name + " was not detected");
          if (!hit && !r.ok) f.Violation(label, name + " failed although the flip is outside it");
          if (r.ok && r.content != base.reads.at(name).content) f.Violation(label, "silently different data for " + name);
        }
      }
    }
    Report(f, b.label + ": data flips");
  }
}

TEST_CASE("robustness: data flips on disk are found by Checkpoint::Open reads and the streamed VerifyAll",
          "[robustness][corruption][data]") {
  warmstart::test::TempDir tmp;
  int bundle_no = 0;
  for (const Bundle& b : AllBundles(tmp)) {
    if (b.data.empty()) continue;
    const fs::path dir = tmp / ("disk" + std::to_string(bundle_no++));
    fs::create_directories(dir);
    const std::string base_name = fs::path(b.prefix).filename().string();
    const std::string prefix = (dir / base_name).string();
    const auto write = [](const fs::path& p, const Bytes& bytes) {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    };
    write(prefix + ".index", b.index);
    for (const auto& [file, bytes] : b.data) write(dir / fs::path(file).filename(), bytes);
    for (const auto& [file, bytes] : b.data) {
      const fs::path on_disk = dir / fs::path(file).filename();
      std::mt19937_64 rng(Seed(b.label + file) + 7);
      for (size_t i = 0; i < kDiskDataFlips && !bytes.empty(); ++i) {
        Bytes damaged = bytes;
        const size_t pos = rng() % damaged.size();
        damaged[pos] ^= 0x01;
        write(on_disk, damaged);
        INFO(b.label << " " << on_disk.string() << " byte " << pos);
        const wb::Checkpoint ckpt = wb::Checkpoint::Open(prefix);
        std::vector<std::string> failed_reads;
        for (const wb::Entry& e : ckpt.entries()) {
          try {
            if (e.dtype == wb::DataType::kString) {
              ckpt.ReadStrings(e.name);
            } else if (e.partitioned()) {
              ckpt.ReadAs<double>(e.name);
            } else {
              ckpt.RawBytes(e);
            }
          } catch (const Error& err) {
            CHECK(std::string(err.what()).find(dir.string()) != std::string::npos);
            CHECK(err.context().offset.has_value());
            failed_reads.push_back(e.name);
          }
        }
        const wb::VerifyReport report = ckpt.VerifyAll();
        CHECK(failed_reads.size() <= 1);
        CHECK(report.failures.size() == failed_reads.size());  // partitioned tensors fail through one slice
      }
      write(on_disk, bytes);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Crafted entries

namespace {

// An index with the single-writer header and `entries`, made with our encoders.
std::string CraftedIndex(const std::map<std::string, proto::BundleEntry>& entries, int32_t num_shards = 1) {
  proto::BundleHeader header;
  header.num_shards = num_shards;
  header.version.producer = 1;
  return wb::detail::BuildIndex(header, entries);
}

proto::BundleEntry CraftedEntry(wb::DataType dtype, std::vector<int64_t> dims, int64_t offset, int64_t size) {
  proto::BundleEntry e;
  e.dtype = static_cast<int32_t>(dtype);
  e.shape.dims = std::move(dims);
  e.offset = offset;
  e.size = size;
  return e;
}

struct Crafted {
  std::string name;                                 // what is hostile about it
  std::map<std::string, proto::BundleEntry> entries;  // the tensor under test is "t"
  std::string expected;                             // part of the error message
  int32_t num_shards = 1;
};

// Runs every read of "t" (and VerifyAll); the first error must carry `expected`.
std::string FirstError(const Crafted& c, const Bytes& data) {
  const std::string index_text = CraftedIndex(c.entries, c.num_shards);
  const Bytes index(index_text.begin(), index_text.end());
  MemoryFileSystem fs;
  fs.Add("m.index", ByteView(index.data(), index.size()));
  fs.Add("m.data-00000-of-00001", ByteView(data.data(), data.size()));
  try {
    const Reader r = Reader::Open("m", fs);
    const wb::Entry& e = r.Get("t");
    const std::vector<std::function<void()>> reads = {
        [&] { r.RawBytes(e); },
        [&] { r.Read<float>("t"); },
        [&] { r.ReadAs<double>("t"); },
        [&] { r.ReadStrings("t"); },
        [&] { r.View<float>("t"); },
        [&] { r.ReadSlice<float>("t", wb::TensorSlice::Full(e.shape.rank())); },
    };
    std::string first;
    for (const auto& read : reads) {
      try {
        read();
      } catch (const warmstart::ArgumentError&) {
        // the wrong accessor for this dtype: fine, and not what this test is about
      } catch (const Error& err) {
        if (first.empty()) first = err.what();
      }
    }
    const wb::VerifyReport report = r.VerifyAll();
    if (first.empty() && !report.ok()) first = report.failures.front().message;
    return first.empty() ? "no error" : first;
  } catch (const Error& err) {
    return err.what();
  }
}

}  // namespace

TEST_CASE("robustness: crafted entries with huge or overflowing offsets, sizes and shapes fail cleanly",
          "[robustness][corruption][crafted]") {
  using wb::DataType;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const Bytes data(4096, 0);  // the data file every crafted entry points into
  std::vector<Crafted> cases;
  const auto add = [&](std::string name, proto::BundleEntry e, std::string expected, int32_t num_shards = 1) {
    cases.push_back(Crafted{std::move(name), {{"t", std::move(e)}}, std::move(expected), num_shards});
  };
  add("offset INT64_MAX", CraftedEntry(DataType::kFloat, {1}, kMax, 4), "runs past the end of the 4096-byte data file");
  add("offset + size wraps", CraftedEntry(DataType::kUint8, {16}, kMax - 7, 16), "runs past the end");
  add("offset just past the end", CraftedEntry(DataType::kFloat, {2}, 4092, 8), "offset 4092: tensor of 8 bytes runs past the end");
  add("size INT64_MAX for a big shape", CraftedEntry(DataType::kUint8, {kMax}, 0, kMax), "runs past the end");
  add("2^60 floats, size 2^62", CraftedEntry(DataType::kFloat, {1ll << 30, 1ll << 30}, 0, 1ll << 62), "runs past the end");
  add("2^62 floats: bytes overflow int64", CraftedEntry(DataType::kFloat, {1ll << 31, 1ll << 31}, 0, 0), "invalid size in bundle entry");
  add("elements overflow int64", CraftedEntry(DataType::kFloat, {1ll << 40, 1ll << 40}, 0, 4), "has more elements than fit in int64");
  add("254 dims of 2: 2^254 elements", CraftedEntry(DataType::kUint8, std::vector<int64_t>(254, 2), 0, 1), "has more elements than fit in int64");
  add("255 dims", CraftedEntry(DataType::kUint8, std::vector<int64_t>(255, 1), 0, 1), "offset 14: shape has 255 dimensions, at most 254 are allowed");
  add("dimension -1", CraftedEntry(DataType::kFloat, {-1, 4}, 0, 16), "offset 13: shape [-1,4] has a negative dimension");
  add("dimension INT64_MIN", CraftedEntry(DataType::kFloat, {std::numeric_limits<int64_t>::min()}, 0, 4), "has a negative dimension");
  add("negative size", CraftedEntry(DataType::kFloat, {0}, 0, -4), "negative offset or size");
  add("negative offset", CraftedEntry(DataType::kFloat, {1}, -4, 4), "negative offset or size");
  add("size disagrees with shape", CraftedEntry(DataType::kDouble, {3}, 0, 16), "invalid size in bundle entry");
  add("string of 2^40 elements", CraftedEntry(DataType::kString, {1ll << 40}, 0, 1ll << 40), "runs past the end");
  add("string of 2^62 elements, size INT64_MAX", CraftedEntry(DataType::kString, {1ll << 62}, 0, kMax), "runs past the end");
  add("4096 strings with zero lengths, no length checksum", CraftedEntry(DataType::kString, {4096}, 0, 4096), "offset 4096: truncated string tensor length checksum");
  add("400 strings claiming huge lengths", CraftedEntry(DataType::kString, {400}, 0, 4096), "offset 4000: string tensor length checksum mismatch");
  {
    proto::BundleEntry e = CraftedEntry(DataType::kFloat, {4}, 0, 16);
    e.shard_id = std::numeric_limits<int32_t>::max() - 1;
    add("shard id near INT32_MAX", e, "data file is missing", std::numeric_limits<int32_t>::max());
    e.shard_id = 5;
    add("shard id past num_shards", e, "entry has shard_id 5 but the bundle has 1 shards");
  }
  {
    // A partitioned tensor of 2^62 elements whose one slice holds a single element.
    proto::BundleEntry full = CraftedEntry(DataType::kFloat, {1ll << 31, 1ll << 31}, 0, 0);
    const wb::TensorSlice one = wb::TensorSlice::Parse("0,1:0,1");
    full.slices.push_back(one.ToProto());
    Crafted c{"partitioned 2^62 elements, one 1-element slice", {{"t", full}}, "does not have sufficient slices"};
    c.entries[wb::EncodeTensorNameSlice("t", one)] = CraftedEntry(DataType::kFloat, {1, 1}, 0, 4);
    cases.push_back(c);
    // The same slice claiming 2^62 bytes: the slice entry's size must match its shape.
    Crafted d = c;
    d.name = "partitioned: a slice entry with a huge size";
    d.entries[wb::EncodeTensorNameSlice("t", one)] = CraftedEntry(DataType::kFloat, {1, 1}, 0, 1ll << 62);
    d.expected = "invalid size in bundle entry";
    cases.push_back(d);
    // Slices covering a huge tensor: each slice entry points past the end of the data file.
    proto::BundleEntry wide = CraftedEntry(DataType::kUint8, {1ll << 40}, 0, 0);
    Crafted w{"partitioned: two slices of 2^39 bytes each", {}, "runs past the end"};
    for (const char* s : {"0,549755813888", "549755813888,549755813888"}) {
      const wb::TensorSlice slice = wb::TensorSlice::Parse(s);
      wide.slices.push_back(slice.ToProto());
      w.entries[wb::EncodeTensorNameSlice("t", slice)] = CraftedEntry(DataType::kUint8, {1ll << 39}, 0, 1ll << 39);
    }
    w.entries["t"] = wide;
    cases.push_back(w);
  }
  Bytes lengths(4096);  // ten-byte varints: every string claims a length of about 2^63
  for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = i % 10 == 9 ? 0x01 : 0xff;

  MemoryGuard guard;
  for (const Crafted& c : cases) {
    INFO(c.name);
    const std::string message = FirstError(c, c.name.find("huge lengths") != std::string::npos ? lengths : data);
    if (std::getenv("WARMSTART_ROBUSTNESS_VERBOSE") != nullptr) std::cerr << c.name << ": " << message << "\n";
    CHECK_THAT(message, Catch::Contains(c.expected));
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.rfind("m.", 0) == 0);  // starts with the file: m.index or m.data-...
  }
  INFO("peak RSS grew by " << guard.GrowthKib() << " KiB");
  CHECK(guard.GrowthKib() < 64 * 1024);
}
