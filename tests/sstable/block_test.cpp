// Block-level corruption: every check of spec 3.3-3.4 (trailer type and CRC, bounds,
// restart array, prefix compression), each with its message and absolute offset. The
// tables are assembled by hand (fixtures.hpp) so that each one is broken in exactly one way
// and otherwise valid (in particular with a correct block CRC).
#include "warmstart/sstable/block.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::test::AssembleTable;
using warmstart::test::BlockContents;
using warmstart::test::Hex;
using warmstart::test::Le32;
using warmstart::test::RawBlock;
using warmstart::test::TableLayout;
using Catch::Matchers::Contains;
using warmstart::test::Says;
namespace sst = warmstart::sstable;

using KV = std::pair<std::string, std::string>;

// Opens the table and iterates it; returns the keys.
std::vector<std::string> ReadAll(const std::string& bytes) {
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t.index", ByteView(bytes.data(), bytes.size())));
  std::vector<std::string> keys;
  t.ForEach([&](const std::string& k, ByteView, uint64_t) { keys.push_back(k); });
  return keys;
}

// The 18-byte data block of {"a": "1", "b": "2"}:
//   0: 00 01 01 61 31 | 5: 00 01 01 62 32 | 10: restart 00000000 | 14: count 01000000
const std::string kAb = Hex("00 01 01 61 31 00 01 01 62 32 00000000 01000000");

}  // namespace

TEST_CASE("block: the hand-made reference table reads", "[sstable][block]") {
  REQUIRE(BlockContents({{"a", "1"}, {"b", "2"}}) == kAb);
  TableLayout layout;
  const std::string t = AssembleTable({RawBlock{kAb}}, {"b"}, &layout);
  CHECK(layout.data[0].offset == 0);
  CHECK(layout.data[0].size == 18);
  CHECK(layout.metaindex.offset == 23);
  CHECK(ReadAll(t) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("block: bad block type", "[sstable][block]") {
  // Type 2 with a CRC that is right for type 2: the type check itself must fire.
  const std::string t = AssembleTable({RawBlock{kAb, 2}}, {"b"});
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset 18: bad block type 2 in data block"));
  // In the index block (the type byte sits right after its contents).
  TableLayout layout;
  std::string u = AssembleTable({RawBlock{kAb}}, {"b"}, &layout);
  const size_t type_at = layout.index.offset + layout.index.size;
  const std::string index_contents = u.substr(layout.index.offset, layout.index.size);
  u[type_at] = '\x07';
  u.replace(type_at + 1, 4, Le32(warmstart::test::BlockCrc(index_contents, 7)));
  CHECK_THROWS_MATCHES(ReadAll(u), FormatError,
                       Says("t.index: offset " + std::to_string(type_at) + ": bad block type 7 in index block"));
}

TEST_CASE("block: checksum mismatch", "[sstable][block]") {
  const uint32_t good = warmstart::test::BlockCrc(kAb, 0);
  const std::string t = AssembleTable({RawBlock{kAb, 0, good ^ 1u}}, {"b"});
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset 0: block checksum mismatch in data block (stored masked crc 0x" +
                                warmstart::detail::Hex32(good ^ 1u) + ", computed 0x" +
                                warmstart::detail::Hex32(good) + ")"));
  // A flipped content byte, stored CRC untouched.
  std::string u = AssembleTable({RawBlock{kAb}}, {"b"});
  u[3] = 'z';
  CHECK_THROWS_MATCHES(ReadAll(u), FormatError, Says("offset 0: block checksum mismatch in data block"));
  // The type byte is covered too: a raw block relabelled Snappy fails the CRC, not the decoder.
  std::string v = AssembleTable({RawBlock{kAb}}, {"b"});
  v[18] = '\x01';
  CHECK_THROWS_MATCHES(ReadAll(v), FormatError, Says("offset 0: block checksum mismatch in data block"));
}

TEST_CASE("block: truncated block read", "[sstable][block]") {
  TableLayout layout;
  std::string t = AssembleTable({RawBlock{kAb}}, {"b"}, &layout);
  // The footer's index handle claims 1000 bytes.
  std::string footer;
  sst::Footer f{layout.metaindex, sst::BlockHandle{layout.index.offset, 1000}};
  f.EncodeTo(&footer);
  t.replace(t.size() - 48, 48, footer);
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(layout.index.offset) +
                                ": truncated block read: index block of 1000 bytes (+5 trailer) does not fit in a " +
                                std::to_string(t.size()) + "-byte file"));
  // A data block handle past the end, with a metaindex offset large enough to pass the
  // handle order check (TF never reads the metaindex block).
  std::string u = AssembleTable({RawBlock{kAb}}, {"b"}, &layout, [](std::vector<sst::BlockHandle>* h) {
    (*h)[0].size = 100000;
  });
  std::string footer2;
  sst::Footer{sst::BlockHandle{1000000, 8}, layout.index}.EncodeTo(&footer2);
  u.replace(u.size() - 48, 48, footer2);
  CHECK_THROWS_MATCHES(ReadAll(u), FormatError,
                       Says("t.index: offset 0: truncated block read: data block of 100000 bytes (+5 trailer) "
                                "does not fit in a " + std::to_string(u.size()) + "-byte file"));
}

TEST_CASE("block: restart count too large", "[sstable][block]") {
  std::string bad = kAb;
  bad.replace(14, 4, Le32(1000));
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{bad}}, {"b"})), FormatError,
                       Says("t.index: offset 14: bad block contents: restart count 1000 does not fit in a "
                                "18-byte block"));
  // One more than the largest count that fits, (18 - 4) / 4 = 3.
  std::string three = kAb;
  three.replace(14, 4, Le32(4));
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{three}}, {"b"})), FormatError,
                       Says("restart count 4 does not fit in a 18-byte block"));
}

TEST_CASE("block: contents shorter than the restart count", "[sstable][block]") {
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{Hex("00 00")}}, {"b"})), FormatError,
                       Says("t.index: offset 0: bad block contents: 2 bytes, need at least 4"));
}

TEST_CASE("block: restart count 0 is an empty block", "[sstable][block]") {
  CHECK(ReadAll(AssembleTable({RawBlock{Hex("00000000")}}, {"b"})).empty());
}

TEST_CASE("block: shared exceeds the previous key length", "[sstable][block]") {
  //   0: 00 01 01 'a' '1' | 5: shared 05 ... | restart 0 | count 1
  const std::string bad = Hex("00 01 01 61 31 05 01 01 62 32 00000000 01000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{bad}}, {"b"})), FormatError,
                       Says("t.index: offset 5: bad entry in block: shared 5 exceeds previous key length 1"));
}

TEST_CASE("block: a restart point must have shared = 0", "[sstable][block]") {
  // Two restarts (0 and 5); the entry at 5 claims to share 1 byte.
  const std::string bad = Hex("00 01 01 61 31 01 01 01 62 32 00000000 05000000 02000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{bad}}, {"b"})), FormatError,
                       Says("t.index: offset 5: bad entry in block: restart point with shared = 1"));
}

TEST_CASE("block: a restart offset that is not an entry", "[sstable][block]") {
  const std::string bad = Hex("00 01 01 61 31 00 01 01 62 32 00000000 03000000 02000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{bad}}, {"b"})), FormatError,
                       Says("t.index: offset 5: bad entry in block: restart offset 3 is not the start of an entry"));
  // Restarts out of order: 0, 0.
  const std::string twice = Hex("00 01 01 61 31 00 01 01 62 32 00000000 00000000 02000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{twice}}, {"b"})), FormatError,
                       Says("t.index: offset 14: bad block contents: restart[1] = 0 is out of order or past the "
                                "entries"));
  // Restart past the entries.
  const std::string past = Hex("00 01 01 61 31 00 01 01 62 32 00000000 0a000000 02000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{past}}, {"b"})), FormatError,
                       Says("restart[1] = 10 is out of order or past the entries"));
}

TEST_CASE("block: an entry running into the restart array", "[sstable][block]") {
  // value_length 9, but only 6 bytes are left before the restart array at 10.
  const std::string bad = Hex("00 01 01 61 31 00 01 09 62 32 00000000 01000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{bad}}, {"b"})), FormatError,
                       Says("t.index: offset 9: truncated block entry value: need 9 bytes, 1 left"));
  // A varint cut by the restart array.
  const std::string cut = Hex("00 01 01 61 31 00 81 00000000 01000000");
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{cut}}, {"b"})), FormatError,
                       Says("t.index: offset 6: truncated varint in block entry key length"));
}

TEST_CASE("block: keys out of order", "[sstable][block]") {
  const std::string ba = BlockContents({{"b", "1"}, {"a", "2"}});
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{ba}}, {"b"})), FormatError,
                       Says("t.index: key 'a': offset 9: keys out of order: 'a' does not sort after 'b'"));
  // A duplicate key.
  const std::string aa = BlockContents({{"a", "1"}, {"a", "2"}});
  CHECK_THROWS_MATCHES(ReadAll(AssembleTable({RawBlock{aa}}, {"a"})), FormatError,
                       Says("keys out of order: 'a' does not sort after 'a'"));
  // Across blocks: the second block's first key sorts before the first block's last key.
  TableLayout layout;
  const std::string t = AssembleTable({RawBlock{BlockContents({{"b", "1"}})}, RawBlock{BlockContents({{"a", "2"}})}},
                                      {"b", "c"}, &layout);
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: key 'a': offset " + std::to_string(layout.data[1].offset + 3 + 1) +
                                ": keys out of order: 'a' does not sort after 'b'"));
}

TEST_CASE("block: an index handle pointing past the metaindex block", "[sstable][block]") {
  TableLayout layout;
  const std::string t = AssembleTable({RawBlock{kAb}}, {"b"}, &layout,
                                      [](std::vector<sst::BlockHandle>* h) { (*h)[0].size = 500; });
  CHECK_THROWS_MATCHES(ReadAll(t), FormatError,
                       Says("t.index: offset " + std::to_string(layout.index.offset + 3 + 1) +
                                ": bad index entry: data block handle (offset 0, size 500) overlaps another block or "
                                "lies past the metaindex block at 23"));
  // Two data blocks in the wrong order (the second handle points back into the first).
  const std::string u = AssembleTable({RawBlock{BlockContents({{"a", "1"}})}, RawBlock{BlockContents({{"b", "2"}})}},
                                      {"a", "c"}, &layout, [](std::vector<sst::BlockHandle>* h) { (*h)[1] = (*h)[0]; });
  CHECK_THROWS_MATCHES(ReadAll(u), FormatError, Says("bad index entry: data block handle (offset 0, size 13)"));
}

TEST_CASE("block: index separators that disagree with the keys are warnings", "[sstable][block]") {
  // Separator "a" sorts before the block's last key "b": TF's Seek would miss "b".
  const std::string t = AssembleTable({RawBlock{kAb}, RawBlock{BlockContents({{"c", "3"}})}}, {"a", "d"});
  auto table = sst::Table<MemoryFile>::Open(MemoryFile("t.index", ByteView(t.data(), t.size())));
  std::vector<std::string> keys;
  table.ForEach([&](const std::string& k, ByteView, uint64_t) { keys.push_back(k); });
  CHECK(keys == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(table.warnings().size() == 1);
  CHECK_THAT(table.warnings()[0], Contains("t.index: index separator of data block 0 sorts before its last key"));
  // Separator "c" not below the next block's first key "c".
  const std::string u = AssembleTable({RawBlock{kAb}, RawBlock{BlockContents({{"c", "3"}})}}, {"c", "d"});
  auto table2 = sst::Table<MemoryFile>::Open(MemoryFile("t.index", ByteView(u.data(), u.size())));
  table2.ForEach([](const std::string&, ByteView, uint64_t) {});
  REQUIRE(table2.warnings().size() == 1);
  CHECK_THAT(table2.warnings()[0],
             Contains("index separator of data block 0 is not below the first key of block 1"));
}
