// Table reading: footer checks (size, magic, Git LFS pointers, handles), Snappy-compressed
// data blocks made with libsnappy and a recomputed type-1 trailer CRC, and errors inside
// compressed blocks.
#include "warmstart/sstable/table.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <snappy.h>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace {

using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::test::AssembleTable;
using warmstart::test::BlockContents;
using warmstart::test::Hex;
using warmstart::test::RawBlock;
using warmstart::test::TableLayout;
using warmstart::test::Says;
namespace sst = warmstart::sstable;

using KV = std::pair<std::string, std::string>;

std::vector<KV> ReadAll(const std::string& bytes) {
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t.index", ByteView(bytes.data(), bytes.size())));
  std::vector<KV> out;
  t.ForEach([&](const std::string& k, ByteView v, uint64_t) { out.emplace_back(k, v.ToString()); });
  return out;
}

std::string SnappyCompress(const std::string& raw) {
  std::string out;
  ::snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// Entries that compress well: keys with long common parts, repetitive values.
std::vector<KV> Entries(int first, int n) {
  std::vector<KV> out;
  for (int i = first; i < first + n; ++i) {
    char key[64];
    std::snprintf(key, sizeof key, "model/layer_%03d/kernel/.ATTRIBUTES/VARIABLE_VALUE", i);
    out.emplace_back(key, std::string(40, static_cast<char>('a' + i % 3)) + std::to_string(i));
  }
  return out;
}

}  // namespace

TEST_CASE("table: footer, file too short", "[sstable][table]") {
  CHECK_THROWS_MATCHES(ReadAll(std::string(47, '\0')), FormatError,
                       Says("t.index: file is too short to be an sstable: 47 bytes, a table needs at least 48"));
  CHECK_THROWS_MATCHES(ReadAll(""), FormatError, Says("t.index: file is too short to be an sstable: 0 bytes"));
}

TEST_CASE("table: footer, bad magic", "[sstable][table]") {
  std::string t = AssembleTable({RawBlock{BlockContents({{"a", "1"}})}}, {"a"});
  t.back() = '\0';
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(t.size() - 8) +
                                ": bad table magic number: not an sstable (expected 57 fb 80 8b 24 75 47 db)"));
  // 48 bytes of anything else.
  CHECK_THROWS_MATCHES(ReadAll(std::string(48, 'x')), FormatError, Says("offset 40: bad table magic number"));
}

TEST_CASE("table: a Git LFS pointer is named as such", "[sstable][table]") {
  const std::string lfs =
      "version https://git-lfs.github.com/spec/v1\n"
      "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
      "size 12345\n";
  CHECK_THROWS_MATCHES(ReadAll(lfs), FormatError,
                       Says("t.index: this is a Git LFS pointer file, not a table: fetch the real file with "
                                "'git lfs pull'"));
}

TEST_CASE("table: footer handles must decode within the first 40 bytes", "[sstable][table]") {
  std::string t = AssembleTable({RawBlock{BlockContents({{"a", "1"}})}}, {"a"});
  const size_t footer = t.size() - 48;
  for (size_t i = 0; i < 40; ++i) t[footer + i] = '\xff';  // one endless varint
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(footer) +
                                ": varint too long in block handle offset"));
}

TEST_CASE("table: a corrupt index block is a checksum mismatch", "[sstable][table]") {
  TableLayout layout;
  std::string t = AssembleTable({RawBlock{BlockContents({{"a", "1"}})}}, {"a"}, &layout);
  t[layout.index.offset + 3] ^= 0x40;
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(layout.index.offset) +
                                ": block checksum mismatch in index block"));
}

TEST_CASE("table: a Snappy-compressed data block (type 1) reads back", "[sstable][table][snappy]") {
  const std::vector<KV> entries = Entries(0, 200);
  const std::string raw = BlockContents(entries);
  const std::string compressed = SnappyCompress(raw);
  REQUIRE(compressed.size() < raw.size() - raw.size() / 8);  // what a TF writer would keep
  TableLayout layout;
  const std::string t = AssembleTable({RawBlock{compressed, 1}}, {entries.back().first}, &layout);
  CHECK(layout.data[0].size == compressed.size());
  CHECK(static_cast<uint8_t>(t[compressed.size()]) == 1);
  CHECK(ReadAll(t) == entries);
}

TEST_CASE("table: compressed and raw data blocks mixed, as Google-built indexes have", "[sstable][table][snappy]") {
  const std::vector<KV> a = Entries(0, 50), b = Entries(50, 50), c = Entries(100, 50);
  const std::string t = AssembleTable({RawBlock{SnappyCompress(BlockContents(a)), 1}, RawBlock{BlockContents(b)},
                                       RawBlock{SnappyCompress(BlockContents(c)), 1}},
                                      {a.back().first, b.back().first, c.back().first});
  std::vector<KV> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  CHECK(ReadAll(t) == all);

  // The index block itself compressed.
  sst::TableBuilder builder;
  for (const auto& [k, v] : all) builder.Add(k, ByteView(v.data(), v.size()));
  const std::string plain = builder.Finish();
  const sst::Footer f = sst::Footer::Decode(ByteView(plain.data(), plain.size()), warmstart::ErrorContext("t"));
  const std::string index_raw = plain.substr(f.index.offset, f.index.size);
  std::string rebuilt = plain.substr(0, f.index.offset);
  const sst::BlockHandle index_handle =
      warmstart::test::AppendBlock(&rebuilt, RawBlock{SnappyCompress(index_raw), 1});
  sst::Footer{f.metaindex, index_handle}.EncodeTo(&rebuilt);
  CHECK(ReadAll(rebuilt) == all);
}

TEST_CASE("table: a Snappy block whose CRC was computed for type 0", "[sstable][table][snappy]") {
  const std::string compressed = SnappyCompress(BlockContents(Entries(0, 20)));
  const uint32_t wrong = warmstart::test::BlockCrc(compressed, 0);
  const std::string t = AssembleTable({RawBlock{compressed, 1, wrong}}, {"z"});
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset 0: block checksum mismatch in data block (stored masked crc 0x" +
                                warmstart::detail::Hex32(wrong) + ", computed 0x" +
                                warmstart::detail::Hex32(warmstart::test::BlockCrc(compressed, 1)) + ")"));
}

TEST_CASE("table: a broken Snappy stream with a valid CRC", "[sstable][table][snappy]") {
  // Declared length 100, then one literal of 3 bytes: the stream ends early.
  const std::string stream = Hex("64 08 61 62 63");
  TableLayout layout;
  const std::string t = AssembleTable({RawBlock{BlockContents({{"a", "1"}})}, RawBlock{stream, 1}}, {"a", "b"},
                                      &layout);
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(layout.data[1].offset + 5) +
                                ": snappy stream ends after 3 of 100 declared bytes"));
}

TEST_CASE("table: errors inside a Snappy block name the block and the decompressed offset", "[sstable][table][snappy]") {
  // Entry at decompressed offset 5 shares 5 bytes with a 1-byte key.
  const std::string bad = Hex("00 01 01 61 31 05 01 01 62 32") + std::string(60, '\0') + Hex("00000000 01000000");
  TableLayout layout;
  const std::string t =
      AssembleTable({RawBlock{BlockContents({{"0", "x"}})}, RawBlock{SnappyCompress(bad), 1}}, {"0", "b"}, &layout);
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index (Snappy block at offset " + std::to_string(layout.data[1].offset) +
                                "; offsets are within the decompressed block): offset 5: bad entry in block: shared 5 "
                                "exceeds previous key length 1"));
}

TEST_CASE("table: prefix-compressed keys may not expand beyond 64x the file", "[sstable][table]") {
  // Found in review: 100k entries sharing a 20 KB prefix fit in 1.7 MB and made Open
  // allocate gigabytes of keys. Real indexes expand by less than 3x.
  sst::TableOptions options;
  options.block_restart_interval = 1 << 30;  // every key after the first shares the prefix
  sst::TableBuilder builder(options);
  const std::string prefix(20000, 'p');
  for (int i = 0; i < 400; ++i) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%06d", i);
    builder.Add(prefix + suffix, ByteView("v", 1));
  }
  const std::string table = builder.Finish();
  REQUIRE(table.size() < 40000);  // 8 MB of keys
  CHECK_THROWS_MATCHES(ReadAll(table), FormatError, Says("prefix compression abused"));
}
