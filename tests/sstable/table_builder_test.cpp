// TableBuilder: the exact bytes TF's table builder writes (spec 3.2-3.7), the index
// separators, and the block flush rules checked against a naive model of them.
#include "warmstart/sstable/table_builder.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/block.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

using warmstart::ArgumentError;
using warmstart::ErrorContext;
using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::test::Hex;
using warmstart::test::ToHex;
using warmstart::test::Says;
namespace sst = warmstart::sstable;

using KV = std::pair<std::string, std::string>;

std::string Build(const std::vector<KV>& entries, sst::TableOptions options = {}) {
  sst::TableBuilder b(options);
  for (const auto& [k, v] : entries) b.Add(k, ByteView(v.data(), v.size()));
  return b.Finish();
}

// The entries of each data block, read back through the index.
std::vector<std::vector<KV>> BlocksOf(const std::string& table_bytes) {
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table_bytes.data(), table_bytes.size())));
  std::vector<std::vector<KV>> out;
  for (const sst::IndexEntry& ie : t.index()) {
    sst::Block block(sst::ReadBlock(t.file().bytes(), ie.handle, t.context(), "data block"), t.context());
    out.emplace_back();
    block.ForEach([&](const std::string& k, ByteView v, uint64_t) { out.back().emplace_back(k, v.ToString()); });
  }
  return out;
}

std::string Sep(const std::string& a, const std::string& b) { return sst::detail::ShortestSeparator(a, b); }
std::string Succ(const std::string& a) { return sst::detail::ShortSuccessor(a); }

}  // namespace

TEST_CASE("table builder: the empty metaindex block is 00000000 01000000 | 00 c0f2a1b0", "[sstable][builder]") {
  sst::BlockBuilder meta(16);
  const std::string contents = meta.Finish();
  CHECK(ToHex(contents) == "00 00 00 00 01 00 00 00");
  CHECK(warmstart::test::BlockCrc(contents, 0) == 0xb0a1f2c0u);  // stored little-endian: c0 f2 a1 b0
}

TEST_CASE("table builder: header-only table, byte for byte", "[sstable][builder]") {
  // Spec 3.7 for a bundle with no tensors: one data block holding "" -> 08 01 1a 02 08 01,
  // the empty metaindex block, an index block whose one key is ShortSuccessor("") = "",
  // and the footer. CRCs computed independently (Python reference implementation).
  const std::string table = Build({{"", Hex("08 01 1a 02 08 01")}});
  const std::string expected = Hex(
      "00 00 06 08 01 1a 02 08 01 | 00 00 00 00 | 01 00 00 00 | 00 62 94 57 f9"  // data block [0, 17)
      "00 00 00 00 01 00 00 00 | 00 c0 f2 a1 b0"                                 // metaindex [22, 30)
      "00 00 02 00 11 | 00 00 00 00 | 01 00 00 00 | 00 cc bf 8b 5d"              // index [35, 48)
      "16 08 23 0d" +                                                            // handles
      std::string(36 * 2, '0') +                                                 // padding to 40
      "57 fb 80 8b 24 75 47 db");                                                // magic
  REQUIRE(expected.size() == 101);
  CHECK(ToHex(table) == ToHex(expected));
}

TEST_CASE("table builder: layout of the spec's worked example (one data block, index key 'p')", "[sstable][builder]") {
  // Section 3.7: 19 entries, the last key "optimizer/learning_rate/..." gives the index
  // key "p" = ShortSuccessor(last key); entry 16 is the second restart point.
  std::vector<KV> entries = {{"", Hex("08 02 1a 02 08 01")}};
  for (int i = 0; i < 17; ++i) entries.emplace_back("layer/" + std::string(1, static_cast<char>('a' + i)), "v");
  entries.emplace_back("optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE", "lr");
  const std::string table = Build(entries);

  const sst::Footer footer = sst::Footer::Decode(ByteView(table.data(), table.size()), ErrorContext("t"));
  // Blocks are contiguous: data [0, d) + 5, metaindex 8 bytes + 5, index + 5, footer 48.
  const uint64_t data_size = footer.metaindex.offset - 5;
  CHECK(footer.metaindex.size == 8);
  CHECK(footer.index.offset == footer.metaindex.offset + 8 + 5);
  CHECK(footer.index.offset + footer.index.size + 5 + 48 == table.size());
  CHECK(ToHex(table.substr(footer.metaindex.offset, 13)) == "00 00 00 00 01 00 00 00 00 c0 f2 a1 b0");
  // Index block: 00 01 03 | "p" | handle (0, data_size) | restart 0 | count 1 | trailer.
  std::string handle;
  sst::BlockHandle{0, data_size}.EncodeTo(&handle);
  const std::string index = table.substr(footer.index.offset, footer.index.size);
  CHECK(ToHex(index) == ToHex(Hex("00 01") + std::string(1, static_cast<char>(handle.size())) + "p" + handle +
                              Hex("00000000 01000000")));
  // Footer: the four varints, zero padding to byte 40, then the magic.
  const std::string foot = table.substr(table.size() - 48);
  std::string handles;
  footer.metaindex.EncodeTo(&handles);
  footer.index.EncodeTo(&handles);
  CHECK(foot.substr(0, handles.size()) == handles);
  CHECK(foot.substr(handles.size(), 40 - handles.size()) == std::string(40 - handles.size(), '\0'));
  CHECK(ToHex(foot.substr(40)) == "57 fb 80 8b 24 75 47 db");
  // Data block: header entry first, two restart points (entries 0 and 16).
  CHECK(ToHex(table.substr(0, 9)) == "00 00 06 08 02 1a 02 08 01");
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table.data(), table.size())));
  sst::Block block(sst::ReadBlock(t.file().bytes(), t.index()[0].handle, t.context(), "data block"), t.context());
  REQUIRE(block.num_restarts() == 2);
  CHECK(block.restarts()[0] == 0);
  // ForEach gives each value's offset; a restart entry (shared = 0) starts
  // varint(0) + varint(|key|) + varint(|value|) + |key| bytes before its value.
  std::vector<uint64_t> starts;
  block.ForEach([&](const std::string& key, ByteView value, uint64_t off) {
    starts.push_back(off - key.size() - 1 - warmstart::core::VarintLength(key.size()) -
                     warmstart::core::VarintLength(value.size()));
  });
  REQUIRE(starts.size() == 19);
  CHECK(block.restarts()[1] == starts[16]);
}

TEST_CASE("table builder: the index block restarts at every entry and separates blocks", "[sstable][builder]") {
  // Small blocks so that every entry closes one: keys "a", "abc", "abz", "b".
  sst::TableOptions small;
  small.block_size = 8;
  const std::string table = Build({{"a", "1"}, {"abc", "2"}, {"abz", "3"}, {"b", "4"}}, small);
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table.data(), table.size())));
  std::vector<std::string> seps;
  for (const auto& ie : t.index()) seps.push_back(ie.separator);
  // Sep("a","abc") = "a" (prefix), Sep("abc","abz") = "abd", Sep("abz","b") = "abz", Succ("b") = "c".
  CHECK(seps == std::vector<std::string>{"a", "abd", "abz", "c"});
  sst::Block index(sst::ReadBlock(t.file().bytes(), t.footer().index, t.context(), "index block"), t.context());
  CHECK(index.num_restarts() == 4);
}

TEST_CASE("table builder: ShortestSeparator", "[sstable][builder]") {
  CHECK(Sep("abc", "abz") == "abd");
  CHECK(Sep("abc", "abd") == "abc");                         // c + 1 is not below d
  CHECK(Sep("ab", "abc") == "ab");                           // prefix
  CHECK(Sep("abc", "ab") == "abc");                          // prefix the other way
  CHECK(Sep("", "a") == "");
  CHECK(Sep("abc", "abc") == "abc");
  CHECK(Sep("optimizer/learning_rate", "save_counter") == "p");
  CHECK(Sep("a\xff", "b") == "a\xff");                        // a + 1 == b
  CHECK(Sep("\xff\x01" "zz", "\xff\x05") == "\xff\x02");     // bytes are unsigned
  CHECK(Sep(std::string("\x7f" "abc"), "\x90") == "\x80");   // 0x7f + 1 < 0x90 (signed char would fail)
  CHECK(Sep("\xfe" "a", "\xff") == "\xfe" "a");              // 0xfe + 1 is not below 0xff
  CHECK(Sep(std::string("a\0x", 3), std::string("a\2", 2)) == std::string("a\1", 2));
}

TEST_CASE("table builder: ShortSuccessor", "[sstable][builder]") {
  CHECK(Succ("abc") == "b");
  CHECK(Succ("optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE") == "p");
  CHECK(Succ("\xff\xff" "a") == "\xff\xff" "b");
  CHECK(Succ("\xff\xff") == "\xff\xff");
  CHECK(Succ("") == "");
  CHECK(Succ("\x7f") == "\x80");
  CHECK(Succ(std::string("\0\0", 2)) == std::string("\1", 1));
}

TEST_CASE("table builder: keys must increase strictly", "[sstable][builder]") {
  sst::TableBuilder b;
  b.Add("b", ByteView("1", 1));
  CHECK_THROWS_MATCHES(b.Add("a", ByteView("2", 1)), ArgumentError,
                       Says("strictly increasing order: 'a' after 'b'"));
  CHECK_THROWS_MATCHES(b.Add("b", ByteView("2", 1)), ArgumentError,
                       Says("'b' after 'b'"));
}

TEST_CASE("table builder: 6,000 entries flush several 256 KiB blocks and read back in order", "[sstable][builder]") {
  std::vector<KV> entries;
  std::mt19937 rng(7);
  for (int i = 0; i < 6000; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "tensor/%05d/kernel", i);
    std::string value(100 + rng() % 8, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    entries.emplace_back(key, value);
  }
  const std::string table = Build(entries);
  const auto blocks = BlocksOf(table);
  REQUIRE(blocks.size() == 3);  // ~700 KB of entries in 256 KiB blocks
  std::vector<KV> all;
  for (const auto& b : blocks) all.insert(all.end(), b.begin(), b.end());
  CHECK(all == entries);

  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table.data(), table.size())));
  std::vector<KV> iterated;
  t.ForEach([&](const std::string& k, ByteView v, uint64_t) { iterated.emplace_back(k, v.ToString()); });
  CHECK(iterated == entries);
  CHECK(t.warnings().empty());
  // Each block closes once its size estimate reaches 256 KiB, and no earlier.
  for (size_t b = 0; b + 1 < blocks.size(); ++b) {
    const sst::BlockHandle& h = t.index()[b].handle;
    CHECK(h.size >= 262144);
    CHECK(h.size < 262144 + 200);
    // Separator: >= last key of block b, < first key of block b + 1.
    CHECK(blocks[b].back().first <= t.index()[b].separator);
    CHECK(t.index()[b].separator < blocks[b + 1].front().first);
  }
}

TEST_CASE("table builder: a value over 512 KiB flushes the block before it and after it", "[sstable][builder]") {
  const std::string big(600 * 1024, 'x');
  const std::string table = Build({{"a", "1"}, {"b", "2"}, {"c", big}, {"d", "4"}});
  const auto blocks = BlocksOf(table);
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0] == std::vector<KV>{{"a", "1"}, {"b", "2"}});
  CHECK(blocks[1] == std::vector<KV>{{"c", big}});
  CHECK(blocks[2] == std::vector<KV>{{"d", "4"}});
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table.data(), table.size())));
  CHECK(t.index()[0].separator == "b");  // Sep("b", "c"): b + 1 is not below c
  CHECK(t.index()[1].separator == "c");  // Sep("c", "d")
  CHECK(t.index()[2].separator == "e");  // Succ("d")

  // The first entry never flushes early, however large.
  const auto first_big = BlocksOf(Build({{"a", big}, {"b", "2"}}));
  REQUIRE(first_big.size() == 2);
  CHECK(first_big[0].size() == 1);
}

namespace {

// Naive model of spec 3.7's flush rules: the number of entries in each data block.
std::vector<size_t> ModelBlockSizes(const std::vector<KV>& entries, size_t block_size) {
  std::vector<size_t> out;
  size_t count = 0, bytes = 0, restarts = 1, since_restart = 0;
  std::string last;
  auto close = [&] {
    if (count == 0) return;
    out.push_back(count);
    count = bytes = since_restart = 0;
    restarts = 1;
    last.clear();
  };
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [k, v] = entries[i];
    if (i > 0 && k.size() + v.size() >= 2 * block_size) close();
    size_t shared = 0;
    if (since_restart == 16) {
      ++restarts;
      since_restart = 0;
    } else {
      while (shared < std::min(last.size(), k.size()) && last[shared] == k[shared]) ++shared;
    }
    bytes += warmstart::core::VarintLength(shared) + warmstart::core::VarintLength(k.size() - shared) +
             warmstart::core::VarintLength(v.size()) + (k.size() - shared) + v.size();
    ++count;
    ++since_restart;
    last = k;
    if (bytes + 4 * restarts + 4 >= block_size) close();
  }
  close();
  return out;
}

}  // namespace

TEST_CASE("table builder: block boundaries agree with a naive model of the flush rules", "[sstable][builder]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 40; ++round) {
    const size_t block_size = 32 + rng() % 400;
    std::vector<KV> entries;
    const int n = 1 + static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "k%04d%s", i * 3, rng() % 4 == 0 ? "/slot" : "");
      const size_t len = rng() % 5 == 0 ? rng() % (3 * block_size) : rng() % 40;
      entries.emplace_back(key, std::string(len, static_cast<char>('a' + i % 26)));
    }
    sst::TableOptions options;
    options.block_size = block_size;
    const auto blocks = BlocksOf(Build(entries, options));
    std::vector<size_t> sizes;
    for (const auto& b : blocks) sizes.push_back(b.size());
    INFO("round " << round << ", block size " << block_size);
    CHECK(sizes == ModelBlockSizes(entries, block_size));
  }
}

TEST_CASE("table builder: an empty table has no data block and an empty index", "[sstable][builder]") {
  const std::string table = Build({});
  CHECK(table.size() == 13 + 13 + 48);
  auto t = sst::Table<MemoryFile>::Open(MemoryFile("t", ByteView(table.data(), table.size())));
  CHECK(t.index().empty());
  int n = 0;
  t.ForEach([&](const std::string&, ByteView, uint64_t) { ++n; });
  CHECK(n == 0);
}
