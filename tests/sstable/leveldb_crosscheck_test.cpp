// An independent check of the table format: every .index BundleWriter writes (small
// bundles, an empty one, and one with 6,000 entries spread over several 256 KiB data
// blocks), and every real .index under the real-data folder, is opened with LevelDB's own
// table reader (Debian's libleveldb-dev, test-only) and must give exactly the key/value
// pairs our sstable::Table reads, in the order of LevelDB's default BytewiseComparator
// (the comparator TensorFlow's table uses).
#include <catch2/catch.hpp>

#include <leveldb/comparator.h>
#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>
#include <leveldb/table.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::core::ByteView;
using warmstart::core::MappedFile;
using warmstart::test::TempDir;
namespace bundle = warmstart::bundle;
namespace sst = warmstart::sstable;

using KV = std::pair<std::string, std::string>;

std::vector<KV> OursRead(const std::string& path) {
  auto t = sst::Table<MappedFile>::Open(MappedFile::Open(path));
  std::vector<KV> out;
  t.ForEach([&](const std::string& k, ByteView v, uint64_t) { out.emplace_back(k, v.ToString()); });
  return out;
}

struct LevelDbResult {
  leveldb::Status status;
  std::vector<KV> entries;
  size_t misordered = 0;  // keys not strictly increasing under BytewiseComparator
};

LevelDbResult LevelDbRead(const std::string& path) {
  LevelDbResult r;
  leveldb::Env* env = leveldb::Env::Default();
  uint64_t size = 0;
  r.status = env->GetFileSize(path, &size);
  if (!r.status.ok()) return r;
  leveldb::RandomAccessFile* raw_file = nullptr;
  r.status = env->NewRandomAccessFile(path, &raw_file);
  if (!r.status.ok()) return r;
  const std::unique_ptr<leveldb::RandomAccessFile> file(raw_file);

  leveldb::Options options;
  options.comparator = leveldb::BytewiseComparator();
  options.filter_policy = nullptr;
  options.paranoid_checks = true;
  leveldb::Table* raw_table = nullptr;
  r.status = leveldb::Table::Open(options, file.get(), size, &raw_table);
  if (!r.status.ok()) return r;
  const std::unique_ptr<leveldb::Table> table(raw_table);

  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  read_options.fill_cache = false;
  const std::unique_ptr<leveldb::Iterator> it(table->NewIterator(read_options));
  const leveldb::Comparator* cmp = leveldb::BytewiseComparator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!r.entries.empty() && cmp->Compare(leveldb::Slice(r.entries.back().first), it->key()) >= 0) ++r.misordered;
    r.entries.emplace_back(it->key().ToString(), it->value().ToString());
  }
  r.status = it->status();
  return r;
}

// The two readers agree on `index_path`; returns the number of entries.
size_t CrossCheck(const std::string& index_path) {
  INFO(index_path);
  const std::vector<KV> ours = OursRead(index_path);
  const LevelDbResult theirs = LevelDbRead(index_path);
  INFO("leveldb: " << theirs.status.ToString());
  REQUIRE(theirs.status.ok());
  CHECK(theirs.misordered == 0);
  REQUIRE(theirs.entries.size() == ours.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    if (ours[i] != theirs.entries[i]) ++mismatches;
  }
  CHECK(mismatches == 0);
  return ours.size();
}

std::string Key(int i) {
  char key[80];
  std::snprintf(key, sizeof key, "model/layer_%05d/kernel/.ATTRIBUTES/VARIABLE_VALUE", i);
  return key;
}

}  // namespace

TEST_CASE("leveldb crosscheck: indexes BundleWriter writes", "[leveldb]") {
  TempDir tmp;
  SECTION("no tensors: only the header entry") {
    const std::string prefix = (tmp / "empty").string();
    bundle::BundleWriter w(prefix);
    w.Finish();
    CHECK(CrossCheck(bundle::MetaFilename(prefix)) == 1);
  }
  SECTION("a few tensors of several dtypes, including strings and odd keys") {
    const std::string prefix = (tmp / "small").string();
    bundle::BundleWriter w(prefix);
    w.Add("a", std::vector<float>{1, 2, 3}, bundle::TensorShape({3}));
    w.Add("a/b", std::vector<int64_t>{-1}, bundle::TensorShape({}));
    w.Add(std::string("\x7f\xff key", 6), std::vector<double>{0.5, 1.5}, bundle::TensorShape({2, 1}));
    w.AddStrings("s", bundle::TensorShape({2}), std::vector<std::string>{"hello", std::string(300, 'x')});
    w.Add("z", std::vector<uint8_t>(1000, 7), bundle::TensorShape({10, 100}));
    w.Finish();
    CHECK(CrossCheck(bundle::MetaFilename(prefix)) == 6);
  }
  SECTION("6,000 entries: several 256 KiB data blocks") {
    const std::string prefix = (tmp / "big").string();
    bundle::BundleWriter w(prefix);
    for (int i = 0; i < 6000; ++i) {
      w.Add(Key(i), std::vector<float>{static_cast<float>(i)}, bundle::TensorShape({1}));
    }
    w.Finish();
    const std::string index = bundle::MetaFilename(prefix);
    CHECK(sst::Table<MappedFile>::Open(MappedFile::Open(index)).index().size() >= 2);
    CHECK(CrossCheck(index) == 6001);
  }
}

TEST_CASE("leveldb crosscheck: every real .index", "[leveldb][realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  std::vector<std::string> indexes;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".index") indexes.push_back(e.path().string());
  }
  std::sort(indexes.begin(), indexes.end());
  REQUIRE(!indexes.empty());
  size_t checked = 0;
  for (const std::string& path : indexes) {
    INFO(path);
    std::vector<KV> ours;
    try {
      ours = OursRead(path);
    } catch (const std::exception& e) {
      // Not a table we read (a Git LFS pointer, say): LevelDB must not read it either.
      WARN("our reader refuses " << path << ": " << e.what());
      CHECK_FALSE(LevelDbRead(path).status.ok());
      continue;
    }
    const LevelDbResult theirs = LevelDbRead(path);
    if (!theirs.status.ok() && theirs.status.ToString().find("compress") != std::string::npos) {
      WARN("this LevelDB cannot decompress " << path << " (" << theirs.status.ToString() << "); skipped");
      continue;
    }
    CrossCheck(path);
    ++checked;
  }
  CHECK(checked > 0);
}
