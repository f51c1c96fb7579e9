// Real checkpoints, corrupted on purpose. The contract (issue "robust reading"): no
// malformed file may crash, hang, read out of bounds, allocate absurd memory, or return
// silently wrong data. Copies of real files are corrupted in memory
// (core::MemoryFileSystem) or in a TempDir; the real files are never touched.
//
//   truncation      the index cut at every length 0..size-1 -> FormatError naming the file
//   byte flips      every byte of the index, XOR 0xff and each single bit -> FormatError /
//                   NotFoundError naming the file, or the original listing (only bytes no
//                   reader looks at may change nothing: the metaindex block, footer padding)
//   behind the CRC  every index block byte flipped and the block CRC recomputed, so the
//                   parsers see the damage -> any warmstart::Error, or a reader whose
//                   tensors all read or fail with a warmstart::Error (no other exception)
//   data flips      every byte of every data file, XOR 0xff, one at a time, a fresh reader
//                   each time (4096 sampled positions in files over 64 KiB) -> VerifyAll
//                   names exactly the owning tensor; reading it throws FormatError naming
//                   the data file, the key and the offset
//   tiny files      empty, 47 bytes, wrong magic, a Git LFS pointer    -> FormatError
//   short data      a data file one byte short -> its last tensor "runs past the end"
//   huge shape      a consistent entry claiming 2^60 floats -> FormatError, no allocation
//
// Subjects: tf1-saver-adam (1 shard), tf2-keras-save-weights-2shards (2 shards, a string
// tensor), savedmodel-serving-half-plus-two-tf2-cpu (Snappy index block), the two V1
// files (OpenV1), and one large index-only file (68,923 bytes) with sampled positions.
// Each experiment counts its failures and CHECKs once per subject, listing the first few.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "../realdata.hpp"
#include "golden.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/v1.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/sstable/table.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::FormatError;
using warmstart::NotFoundError;
using warmstart::bundle::DataType;
using warmstart::bundle::Entry;
using warmstart::bundle::Format;
using warmstart::test::FailureLog;
using warmstart::test::Listing;
using MemFs = warmstart::core::MemoryFileSystem;
using Reader = warmstart::bundle::BundleReader<MemFs>;

constexpr size_t kAllBytes = 65536;     // files up to this size: every position
constexpr size_t kSampledData = 4096;   // larger data files: this many positions
constexpr size_t kSampledIndex = 2000;  // the large index-only file: this many cases
constexpr size_t kBehindCrcAll = 4096;  // blocks up to this size: every byte behind the CRC
constexpr size_t kBehindCrcSampled = 120;  // larger blocks (1,574 entries to parse each time)

// A real bundle (or V1 file) copied into memory, under its real path.
struct Subject {
  std::string name;
  Format format = Format::kV2;
  std::string prefix;               // V2 prefix, or the V1 file
  std::string index;                // bytes of PREFIX.index (or of the V1 file)
  std::vector<std::string> shards;  // V2 data files, empty when index-only
  int num_shards = 1;

  std::string index_path() const { return format == Format::kV2 ? warmstart::bundle::MetaFilename(prefix) : prefix; }
  std::string data_path(int shard) const { return warmstart::bundle::DataFilename(prefix, shard, num_shards); }
};

Subject LoadV2(const fs::path& dir, const std::string& name, int num_shards, bool with_data) {
  Subject s;
  s.name = name;
  s.prefix = (dir / name).string();
  s.num_shards = num_shards;
  s.index = warmstart::test::ReadFileBytes(s.index_path());
  for (int i = 0; with_data && i < num_shards; ++i) s.shards.push_back(warmstart::test::ReadFileBytes(s.data_path(i)));
  return s;
}

Subject LoadV1(const fs::path& dir, const std::string& name) {
  Subject s;
  s.name = name;
  s.format = Format::kV1;
  s.prefix = (dir / name).string();
  s.index = warmstart::test::ReadFileBytes(s.prefix);
  return s;
}

// Opens `index` (standing in for the subject's index or V1 file) with `shards` as its data
// files. Requires: the strings outlive the reader (MemoryFileSystem does not copy).
Reader OpenWith(const Subject& s, const std::string& index, const std::vector<std::string>& shards) {
  MemFs mem;
  mem.Add(s.index_path(), index);
  for (size_t i = 0; i < shards.size(); ++i) mem.Add(s.data_path(static_cast<int>(i)), shards[i]);
  if (s.format == Format::kV1) return warmstart::bundle::OpenV1<MemFs>(s.prefix, mem);
  return Reader::Open(s.prefix, mem);
}

std::string TypeOf(const std::exception& e) {
  if (dynamic_cast<const warmstart::IoError*>(&e)) return "IoError";
  if (dynamic_cast<const warmstart::ArgumentError*>(&e)) return "ArgumentError";
  if (dynamic_cast<const FormatError*>(&e)) return "FormatError";
  if (dynamic_cast<const NotFoundError*>(&e)) return "NotFoundError";
  if (dynamic_cast<const warmstart::Error*>(&e)) return "warmstart::Error";
  return std::string("std::exception (") + typeid(e).name() + ")";
}

struct Outcome {
  enum Kind { kOpened, kFormatError, kNotFound, kOther } kind = kOther;
  std::string message;
  Listing listing;
};

Outcome TryOpen(const Subject& s, const std::string& index, const std::vector<std::string>& shards = {}) {
  Outcome o;
  try {
    const Reader r = OpenWith(s, index, shards);
    o.kind = Outcome::kOpened;
    o.listing = warmstart::test::ListingOf(r);
  } catch (const FormatError& e) {
    o.kind = Outcome::kFormatError;
    o.message = e.what();
  } catch (const NotFoundError& e) {
    o.kind = Outcome::kNotFound;
    o.message = e.what();
  } catch (const std::exception& e) {
    o.kind = Outcome::kOther;
    o.message = TypeOf(e) + ": " + e.what();
  }
  return o;
}

std::string Hex8(uint8_t v) {
  static const char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[v >> 4] + kHex[v & 15];
}

// The masks tried at each position: 0xff and every single bit when `exhaustive`, otherwise
// one mask per position, alternating 0xff and a rotating single bit.
std::vector<uint8_t> MasksAt(size_t i, bool exhaustive) {
  if (exhaustive) return {0xff, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80};
  if (i % 2 == 0) return {0xff};
  return {static_cast<uint8_t>(1u << ((i / 2) % 8))};
}

struct Subjects {
  fs::path checkpoints;
  std::vector<Subject> list;

  const Subject& Get(const std::string& name) const {
    for (const Subject& s : list) {
      if (s.name == name) return s;
    }
    throw std::logic_error("no subject " + name);
  }
};

// The subjects of the index experiments; false (after a WARN) without real data.
bool LoadIndexSubjects(Subjects* out) {
  if (!warmstart::test::RequireRealData("checkpoints", &out->checkpoints)) return false;
  const fs::path& d = out->checkpoints;
  out->list.push_back(LoadV2(d, "tf1-saver-adam/model.ckpt", 1, true));
  out->list.push_back(LoadV2(d, "tf2-keras-save-weights-2shards/model.ckpt", 2, true));
  out->list.push_back(LoadV2(d, "savedmodel-serving-half-plus-two-tf2-cpu/variables/variables", 1, true));
  out->list.push_back(LoadV1(d, "v1-nxt-tensorflow-2016/model.ckpt"));
  out->list.push_back(LoadV1(d, "v1-serving-session-bundle-half-plus-two/export-00000-of-00001"));
  out->list.push_back(LoadV2(d, "zoo-tf1-ssd_mobilenet_v2_quantized_300x300_coco_2019_01_03/model.ckpt", 1, false));
  return true;
}

}  // namespace

TEST_CASE("corruption: an index truncated at any length is a FormatError", "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  for (const Subject& s : subjects.list) {
    INFO(s.name << " (" << s.index.size() << " bytes)");
    REQUIRE(TryOpen(s, s.index).kind == Outcome::kOpened);
    FailureLog failures;
    size_t tried = 0;
    const bool all = s.index.size() <= kAllBytes;
    for (size_t length : warmstart::test::SamplePositions(s.index.size(), all ? kAllBytes : kSampledIndex)) {
      const std::string cut = s.index.substr(0, length);
      const Outcome o = TryOpen(s, cut);
      ++tried;
      if (o.kind == Outcome::kFormatError && o.message.rfind(s.index_path(), 0) == 0) continue;
      failures.Add("length " + std::to_string(length) + ": " +
                   (o.kind == Outcome::kOpened ? "opened, " + std::to_string(o.listing.rows.size()) + " entries"
                                               : o.message));
    }
    CHECK(tried == (all ? s.index.size() : kSampledIndex));
    INFO(failures.Summary());
    CHECK(failures.empty());
  }
}

namespace {

// Bytes of a table that neither TF nor we read, so a flip there changes nothing: the
// metaindex block with its trailer (always empty, never read; spec 12) and the footer's
// metaindex handle and zero padding (the handle only bounds the data blocks).
bool IgnoredByReaders(const Subject& s, size_t pos) {
  namespace sst = warmstart::sstable;
  const sst::Footer footer =
      sst::Footer::Decode(warmstart::core::ByteView(s.index.data(), s.index.size()), warmstart::ErrorContext());
  const size_t meta_begin = footer.metaindex.offset;
  const size_t meta_end = meta_begin + footer.metaindex.size + sst::kBlockTrailerSize;
  const size_t footer_begin = s.index.size() - sst::kFooterSize;
  return (pos >= meta_begin && pos < meta_end) || (pos >= footer_begin && pos < footer_begin + sst::kMaxHandlesSize);
}

}  // namespace

TEST_CASE("corruption: a flipped index byte is an error or changes nothing", "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  for (const Subject& s : subjects.list) {
    INFO(s.name << " (" << s.index.size() << " bytes)");
    const Outcome original = TryOpen(s, s.index);
    REQUIRE(original.kind == Outcome::kOpened);
    const bool exhaustive = s.index.size() <= kAllBytes;
    const std::vector<size_t> positions =
        warmstart::test::SamplePositions(s.index.size(), exhaustive ? kAllBytes : kSampledIndex);
    FailureLog failures;
    size_t tried = 0, unchanged = 0;
    std::string copy = s.index;
    for (size_t i = 0; i < positions.size(); ++i) {
      const size_t pos = positions[i];
      for (uint8_t mask : MasksAt(i, exhaustive)) {
        copy[pos] = static_cast<char>(copy[pos] ^ mask);
        const Outcome o = TryOpen(s, copy);
        copy[pos] = s.index[pos];
        ++tried;
        const std::string where = "byte " + std::to_string(pos) + " ^ " + Hex8(mask) + ": ";
        if (o.kind == Outcome::kFormatError || o.kind == Outcome::kNotFound) {
          if (o.message.rfind(s.index_path(), 0) != 0) {
            failures.Add(where + "the error does not name the file: " + o.message);
          }
          continue;
        }
        if (o.kind == Outcome::kOther) {
          failures.Add(where + o.message);
        } else if (o.listing != original.listing) {
          failures.Add(where + "opened with a different listing (silently wrong): " +
                       warmstart::test::FirstDifference(original.listing, o.listing));
        } else {
          ++unchanged;
          if (!IgnoredByReaders(s, pos)) {
            failures.Add(where + "opened unchanged, but the byte is not one readers ignore");
          }
        }
      }
    }
    CHECK(tried == (exhaustive ? 9 * s.index.size() : kSampledIndex));
    INFO(unchanged << " flips opened unchanged");
    INFO(failures.Summary());
    CHECK(failures.empty());
  }
}

namespace {

// Where the blocks of an uncompressed table are: (contents offset, contents size) of each
// data block and of the index block.
std::vector<std::pair<size_t, size_t>> BlocksOf(const Subject& s) {
  namespace sst = warmstart::sstable;
  const auto table = sst::Table<warmstart::core::MemoryFile>::Open(
      warmstart::core::MemoryFile(s.index_path(), warmstart::core::ByteView(s.index.data(), s.index.size())));
  std::vector<std::pair<size_t, size_t>> blocks;
  for (const sst::IndexEntry& ie : table.index()) blocks.emplace_back(ie.handle.offset, ie.handle.size);
  blocks.emplace_back(table.footer().index.offset, table.footer().index.size);
  return blocks;
}

// Rewrites the trailer CRC of the block whose contents are bytes [offset, offset + size).
void FixBlockCrc(std::string* table, size_t offset, size_t size) {
  namespace sst = warmstart::sstable;
  const auto type = static_cast<uint8_t>((*table)[offset + size]);
  const uint32_t crc =
      sst::BlockChecksum(warmstart::core::ByteView(table->data() + offset, size), type);
  std::string fixed;
  warmstart::core::PutFixed32(&fixed, crc);
  table->replace(offset + size + 1, 4, fixed);
}

// Reads every tensor of a reader that opened a damaged index. Anything but a
// warmstart::Error (bad_alloc, length_error, ...) is a failure; returns its description.
std::string ReadEverything(const Reader& r) {
  try {
    r.VerifyAll();
  } catch (const std::exception& e) {
    return "VerifyAll threw " + TypeOf(e) + ": " + e.what();
  }
  for (const Entry& e : r.entries()) {
    try {
      if (e.dtype == DataType::kString) {
        r.ReadStrings(e.name);
      } else {
        r.ReadAs<double>(e.name);
      }
    } catch (const warmstart::Error&) {
      // corrupt, missing or unreadable: reported, which is all we ask
    } catch (const std::exception& e2) {
      return "reading '" + warmstart::detail::PrintableKey(e.name) + "' threw " + TypeOf(e2) + ": " + e2.what();
    }
  }
  return {};
}

}  // namespace

TEST_CASE("corruption: index bytes flipped behind a recomputed block CRC never crash the reader",
          "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  size_t subjects_done = 0;
  for (const Subject& s : subjects.list) {
    if (s.name.find("half-plus-two-tf2") != std::string::npos) continue;  // Snappy: a flip breaks the encoding
    const bool index_only = s.format == Format::kV2 && s.shards.empty();
    INFO(s.name);
    ++subjects_done;
    FailureLog failures;
    size_t tried = 0, opened = 0;
    std::string copy = s.index;
    for (const auto& [offset, size] : BlocksOf(s)) {
      // Small blocks: every byte; the large index-only block: a sample. One mask per byte,
      // alternating 0xff and a rotating single bit.
      const bool all = size <= kBehindCrcAll;
      const std::vector<size_t> positions = warmstart::test::SamplePositions(size, all ? size : kBehindCrcSampled, 0);
      for (size_t i = 0; i < positions.size(); ++i) {
        const size_t pos = offset + positions[i];
        for (uint8_t mask : MasksAt(i, false)) {
          copy[pos] = static_cast<char>(copy[pos] ^ mask);
          FixBlockCrc(&copy, offset, size);
          ++tried;
          const std::string where = "byte " + std::to_string(pos) + " ^ " + Hex8(mask) + ": ";
          try {
            const Reader r = OpenWith(s, copy, s.shards);
            ++opened;
            // Without data files every read is a NotFoundError: only the parse is of interest.
            const std::string why = index_only ? std::string() : ReadEverything(r);
            if (!why.empty()) failures.Add(where + why);
          } catch (const warmstart::Error&) {
            // any kind: the damage was seen
          } catch (const std::exception& e) {
            failures.Add(where + "open threw " + TypeOf(e) + ": " + e.what());
          }
          copy = s.index;
        }
      }
    }
    INFO(tried << " cases, " << opened << " opened");
    INFO(failures.Summary());
    CHECK(failures.empty());
  }
  CHECK(subjects_done == 5);
}

namespace {

// Per data file, which listed entry owns each byte (-1: none).
std::vector<std::vector<int>> Owners(const Subject& s, const Reader& r) {
  std::vector<std::vector<int>> owner;
  for (const std::string& shard : s.shards) owner.emplace_back(shard.size(), -1);
  for (size_t i = 0; i < r.entries().size(); ++i) {
    const Entry& e = r.entries()[i];
    std::vector<int>& shard = owner[static_cast<size_t>(e.shard_id)];
    for (int64_t b = e.offset; b < e.offset + e.size; ++b) shard[static_cast<size_t>(b)] = static_cast<int>(i);
  }
  return owner;
}

// Reading `e` of `r` must fail with a FormatError naming the data file, the key and an
// offset inside the tensor (for numeric tensors: its first byte, where the CRC covers).
std::string CheckReadFails(const Subject& s, const Reader& r, const Entry& e) {
  try {
    if (e.dtype == DataType::kString) {
      r.ReadStrings(e.name);
    } else {
      r.ReadAs<double>(e.name);
    }
    return "reading '" + e.name + "' succeeded (silently wrong data)";
  } catch (const FormatError& err) {
    const std::string data = s.data_path(e.shard_id);
    const warmstart::ErrorContext& c = err.context();
    const auto first = static_cast<uint64_t>(e.offset), end = static_cast<uint64_t>(e.offset + e.size);
    const bool offset_ok = c.offset && (e.dtype == DataType::kString ? *c.offset >= first && *c.offset <= end
                                                                     : *c.offset == first);
    const std::string what = err.what();
    if (c.file != data || c.key != e.name || !offset_ok || what.find(data) == std::string::npos ||
        what.find("key '" + e.name + "'") == std::string::npos || what.find("offset ") == std::string::npos) {
      return "reading '" + e.name + "' gave a FormatError without file, key and offset: " + what;
    }
    return {};
  } catch (const std::exception& err) {
    return "reading '" + e.name + "' threw " + TypeOf(err) + ": " + err.what();
  }
}

// With one data byte flipped (owned by listed entry `owner`, or by none when -1): a fresh
// reader's VerifyAll fails exactly that entry, and reading it fails as CheckReadFails says.
std::string CheckDataFlip(const Subject& s, const std::vector<std::string>& shards, int owner) {
  const Reader r = OpenWith(s, s.index, shards);
  const warmstart::bundle::VerifyReport report = r.VerifyAll();
  if (owner < 0) return report.ok() ? "" : "a byte of no tensor failed '" + report.failures[0].key + "'";
  const Entry& e = r.entries()[static_cast<size_t>(owner)];
  if (report.failures.size() != 1 || report.failures[0].key != e.name ||
      report.tensors_verified != r.entries().size() - 1) {
    return "expected exactly '" + e.name + "' to fail, got " + std::to_string(report.failures.size()) + " failures" +
           (report.failures.empty() ? "" : ", the first '" + report.failures[0].key + "'");
  }
  return CheckReadFails(s, r, e);
}

// Flips every byte of every data file of `name` (4096 sampled ones in files over 64 KiB),
// one at a time. XOR 0xff only: CRC32C detects every error burst of up to 32 bits.
void FlipEveryDataByte(const std::string& name) {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  const Subject& s = subjects.Get(name);
  const Reader original = OpenWith(s, s.index, s.shards);
  REQUIRE(original.VerifyAll().ok());
  const std::vector<std::vector<int>> owner = Owners(s, original);
  FailureLog failures;
  size_t tried = 0, unowned = 0;
  std::vector<std::string> shards = s.shards;
  for (size_t k = 0; k < shards.size(); ++k) {
    const bool all = shards[k].size() <= kAllBytes;
    for (size_t pos : warmstart::test::SamplePositions(shards[k].size(), all ? kAllBytes : kSampledData, 0)) {
      shards[k][pos] = static_cast<char>(shards[k][pos] ^ 0xff);
      ++tried;
      const std::string why = CheckDataFlip(s, shards, owner[k][pos]);
      if (!why.empty()) failures.Add("shard " + std::to_string(k) + " byte " + std::to_string(pos) + ": " + why);
      unowned += owner[k][pos] < 0 ? 1 : 0;
      shards[k][pos] = s.shards[k][pos];
    }
  }
  INFO(name << ": " << tried << " flips, " << unowned << " in bytes of no tensor");
  INFO(failures.Summary());
  CHECK(failures.empty());
  CHECK(unowned == 0);  // TF packs payloads densely (data_alignment 1)
  size_t data_bytes = 0;
  for (const std::string& shard : s.shards) data_bytes += shard.size() <= kAllBytes ? shard.size() : kSampledData;
  CHECK(tried == data_bytes);
}

}  // namespace

TEST_CASE("corruption: a flipped data byte of tf1-saver-adam fails exactly its tensor", "[realdata][corruption]") {
  FlipEveryDataByte("tf1-saver-adam/model.ckpt");
}

TEST_CASE("corruption: a flipped data byte of tf2-keras-save-weights-2shards fails exactly its tensor",
          "[realdata][corruption]") {
  FlipEveryDataByte("tf2-keras-save-weights-2shards/model.ckpt");
}

TEST_CASE("corruption: a flipped data byte of the Snappy half_plus_two SavedModel fails exactly its tensor",
          "[realdata][corruption]") {
  FlipEveryDataByte("savedmodel-serving-half-plus-two-tf2-cpu/variables/variables");
}

namespace {

template <class Fn>
std::string FormatErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return "not a FormatError: " + TypeOf(e) + ": " + e.what();
  }
  return "no error";
}

const char kLfsPointer[] =
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:acd79df61bddccb65b18008d09dfa984b69f528399845c1595b1dd6865d7d836\n"
    "size 1042\n";

}  // namespace

TEST_CASE("corruption: empty, tiny, wrong-magic and Git LFS index files are named for what they are",
          "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  const Subject& adam = subjects.Get("tf1-saver-adam/model.ckpt");
  const std::string& index = adam.index;
  const auto open = [&](const std::string& bytes) { return FormatErrorOf([&] { OpenWith(adam, bytes, {}); }); };
  using Catch::Contains;

  CHECK_THAT(open(""), Contains(adam.index_path()) && Contains("too short") && Contains("0 bytes"));
  CHECK_THAT(open(index.substr(index.size() - 47)), Contains("too short") && Contains("47 bytes"));
  // The footer alone: magic fine, handles point outside the 48-byte file.
  CHECK_THAT(open(index.substr(index.size() - 48)), Contains("truncated block read"));
  std::string wrong = index;
  wrong.back() = static_cast<char>(wrong.back() ^ 0x01);
  CHECK_THAT(open(wrong), Contains("bad table magic") &&
                              Contains("offset " + std::to_string(index.size() - 8)));
  CHECK_THAT(open(std::string(1042, '\0')), Contains("bad table magic"));
  CHECK_THAT(open(kLfsPointer), Contains("Git LFS") && Contains("git lfs pull"));

  // The same through Checkpoint::Open on disk (the LFS pointer and an empty index).
  warmstart::test::TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  for (const std::string& content : {std::string(kLfsPointer), std::string()}) {
    std::ofstream(prefix + ".index", std::ios::binary) << content;
    const std::string what = FormatErrorOf([&] { warmstart::bundle::Checkpoint::Open(prefix); });
    INFO(what);
    CHECK_THAT(what, Contains(prefix + ".index"));
    CHECK_THAT(what, Contains(content.empty() ? "too short" : "Git LFS"));
  }

  // A V1 file is not a V2 index, and a V2 index is not a V1 file.
  const Subject& v1 = subjects.Get("v1-nxt-tensorflow-2016/model.ckpt");
  CHECK_THAT(open(v1.index), Contains(adam.index_path()) && !Contains("not a FormatError"));
  CHECK_THAT(FormatErrorOf([&] { OpenWith(v1, index, {}); }),
             Contains(v1.prefix) && Contains("SavedTensorSlices") && !Contains("not a FormatError"));
}

TEST_CASE("corruption: a data file one byte short fails its last tensor with 'runs past the end'",
          "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  size_t cases = 0;
  for (const Subject& s : subjects.list) {
    if (s.format != Format::kV2 || s.shards.empty()) continue;
    const Reader original = OpenWith(s, s.index, s.shards);
    for (size_t k = 0; k < s.shards.size(); ++k) {
      INFO(s.name << " shard " << k);
      ++cases;
      const Entry* last = nullptr;
      size_t in_shard = 0;
      for (const Entry& e : original.entries()) {
        if (e.shard_id != static_cast<int>(k)) continue;
        ++in_shard;
        if (last == nullptr || e.offset + e.size > last->offset + last->size) last = &e;
      }
      REQUIRE(last != nullptr);
      REQUIRE(static_cast<size_t>(last->offset + last->size) == s.shards[k].size());
      std::vector<std::string> shards = s.shards;
      shards[k].pop_back();
      const Reader r = OpenWith(s, s.index, shards);
      const warmstart::bundle::VerifyReport report = r.VerifyAll();
      REQUIRE(report.failures.size() == 1);
      CHECK(report.failures[0].key == last->name);
      CHECK_THAT(report.failures[0].message, Catch::Contains("runs past the end") &&
                                                 Catch::Contains(std::to_string(shards[k].size()) + "-byte data file") &&
                                                 Catch::Contains(s.data_path(static_cast<int>(k))));
      CHECK(report.tensors_verified == r.entries().size() - 1);
      const std::string read = FormatErrorOf([&] {
        if (last->dtype == DataType::kString) {
          r.ReadStrings(last->name);
        } else {
          r.ReadAs<double>(last->name);
        }
      });
      CHECK_THAT(read, Catch::Contains("runs past the end") &&
                           Catch::Contains("offset " + std::to_string(last->offset)));
      // An empty data file: every tensor of the shard fails, the others verify.
      shards[k].clear();
      const warmstart::bundle::VerifyReport empty = OpenWith(s, s.index, shards).VerifyAll();
      CHECK(empty.failures.size() == in_shard);
      CHECK(empty.tensors_verified == r.entries().size() - in_shard);
    }
  }
  CHECK(cases == 4);
}

TEST_CASE("corruption: an entry claiming 2^60 floats fails before anything is allocated", "[realdata][corruption]") {
  Subjects subjects;
  if (!LoadIndexSubjects(&subjects)) return;
  const Subject& adam = subjects.Get("tf1-saver-adam/model.ckpt");
  // Rebuild the real index with the library's table builder; unchanged it is byte-identical.
  const auto rebuild = [&](bool huge) {
    namespace sst = warmstart::sstable;
    const warmstart::core::ByteView bytes(adam.index.data(), adam.index.size());
    auto table = sst::Table<warmstart::core::MemoryFile>::Open(warmstart::core::MemoryFile(adam.index_path(), bytes));
    sst::TableBuilder builder;
    table.ForEach([&](const std::string& key, warmstart::core::ByteView value, uint64_t offset) {
      if (!huge || key != "Variable") return builder.Add(key, value);
      warmstart::proto::BundleEntry e = warmstart::proto::DecodeBundleEntry(value, table.context(), offset);
      e.shape.dims = {int64_t{1} << 30, int64_t{1} << 30};
      e.size = int64_t{4} << 60;  // consistent with the shape: 2^60 x 4 bytes
      const std::string encoded = warmstart::proto::EncodeBundleEntry(e);
      builder.Add(key, warmstart::core::ByteView(encoded.data(), encoded.size()));
    });
    return builder.Finish();
  };
  REQUIRE(rebuild(false) == adam.index);
  const std::string index = rebuild(true);
  const Reader r = OpenWith(adam, index, adam.shards);  // offsets are checked against data files on read
  CHECK(r.Get("Variable").shape.num_elements() == int64_t{1} << 60);
  const std::string read = FormatErrorOf([&] { r.Read<float>("Variable"); });
  CHECK_THAT(read, Catch::Contains("runs past the end") && Catch::Contains("key 'Variable'"));
  CHECK_THAT(FormatErrorOf([&] { r.ReadAs<double>("Variable"); }), Catch::Contains("runs past the end"));
  const warmstart::bundle::VerifyReport report = r.VerifyAll();
  REQUIRE(report.failures.size() == 1);
  CHECK(report.failures[0].key == "Variable");
  CHECK(report.tensors_verified == r.entries().size() - 1);
}
