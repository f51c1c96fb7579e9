// Rewriting every complete single-writer real bundle with BundleWriter gives TensorFlow's
// bytes exactly: each tensor is read with BundleReader and added again in the original
// data-file order (TF writes payloads in Add order, so sorting entries by offset recovers
// it), and both the .index and the .data file must match byte for byte.
//
// Qualify: uncompressed index, num_shards == 1, data file present. TF2 bundles pass
// through MergeBundles even with one shard, which re-serializes the same entries, so a
// one-shard merge is also what a single BundleWriter writes (spec 1.3).
// Multi-shard bundles were merged from one writer per device group (spec 1.3): each shard
// is rewritten as its own piece under P_temp/part-KKKKK-of-NNNNN, and MergeBundles of the
// pieces in shard order must give the real index and every data file byte for byte.
// Snappy-compressed indexes of Google-internal writers are not reproducible by design
// (spec 10): their data files must match and the rewritten index must list the same entries.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/warmstart.hpp"

namespace ws = warmstart;
namespace fs = std::filesystem;

namespace {

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool HasSnappyBlock(const std::string& index_path) {
  auto table = ws::sstable::Table<ws::core::MappedFile>::Open(ws::core::MappedFile::Open(index_path));
  const auto& handle = table.index().front().handle;
  return table.file().bytes()[handle.offset + handle.size] == ws::sstable::kSnappyCompression;
}

// Re-adds every tensor of `original` stored in `shard`, in data-file order, to a writer
// on `out_prefix`.
void Rewrite(const ws::bundle::BundleReader<>& original, const std::string& out_prefix, int shard = 0) {
  std::vector<const ws::bundle::Entry*> order;
  for (const ws::bundle::Entry& e : original.entries()) {
    REQUIRE_FALSE(e.partitioned());  // none in the real data (MANIFEST.md, Coverage)
    if (e.shard_id == shard) order.push_back(&e);
  }
  // Empty tensors sit at the offset of the next payload and were added before it.
  std::stable_sort(order.begin(), order.end(), [](const ws::bundle::Entry* a, const ws::bundle::Entry* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->size < b->size;
  });
  ws::bundle::BundleWriter writer(out_prefix);
  for (const ws::bundle::Entry* e : order) {
    if (e->dtype == ws::bundle::DataType::kString) {
      writer.AddStrings(e->name, e->shape, original.ReadStrings(e->name));
    } else {
      writer.Add(e->name, e->dtype, e->shape, original.RawBytes(*e));
    }
  }
  writer.Finish();
}

}  // namespace

TEST_CASE("realdata: single-writer bundles are rewritten byte for byte", "[writer][realdata]") {
  fs::path dir;
  if (!ws::test::RequireRealData("checkpoints", &dir)) return;
  std::set<std::string> reproduced;
  int index_only = 0, multi_shard = 0, snappy = 0;
  for (const auto& item : fs::recursive_directory_iterator(dir)) {
    if (item.path().extension() != ".index") continue;
    const std::string index_path = item.path().string();
    const std::string prefix = index_path.substr(0, index_path.size() - 6);
    INFO(index_path);
    if (HasSnappyBlock(index_path)) {
      ++snappy;
      continue;
    }
    const auto original = ws::bundle::BundleReader<>::Open(prefix);
    if (original.num_shards() != 1) {
      ++multi_shard;  // merged from several writers: see the MergeBundles test below
      continue;
    }
    if (!fs::exists(ws::bundle::DataFilename(prefix, 0, 1))) {
      ++index_only;
      continue;
    }
    ws::test::TempDir out;
    const std::string out_prefix = (out / "rewritten").string();
    Rewrite(original, out_prefix);
    CHECK(Slurp(ws::bundle::DataFilename(out_prefix, 0, 1)) == Slurp(ws::bundle::DataFilename(prefix, 0, 1)));
    CHECK(Slurp(ws::bundle::MetaFilename(out_prefix)) == Slurp(index_path));
    reproduced.insert(fs::relative(item.path(), dir).parent_path().begin()->string());
  }
  const std::set<std::string> expected = {
      "savedmodel-rust-regression-tf2",          "savedmodel-scisharp-lstm-keras-2.12",
      "savedmodel-serving-tf-text-regression",   "tf1-estimator-iris-contrib-learn-2017",
      "tf1-estimator-wide-deep-part0",           "tf1-saver-adam",
      "tfmodels-lfads-trained-itb",              "tfmodels-official-resnet-refdata-bottleneck-proj-v1",
      "tfx-keras-format-serving"};
  CHECK(reproduced == expected);
  CHECK(multi_shard == 3);  // t2t-transformer, tfx-chicago-taxi, tf2-keras-save-weights
  CHECK(snappy == 4);
  CHECK(index_only == 15);
}

TEST_CASE("realdata: merging per-shard pieces reproduces the real multi-shard bundles", "[writer][realdata]") {
  fs::path dir;
  if (!ws::test::RequireRealData("checkpoints", &dir)) return;
  std::set<std::string> reproduced;
  for (const auto& item : fs::recursive_directory_iterator(dir)) {
    if (item.path().extension() != ".index" || HasSnappyBlock(item.path().string())) continue;
    const std::string index_path = item.path().string();
    const std::string prefix = index_path.substr(0, index_path.size() - 6);
    INFO(index_path);
    const auto original = ws::bundle::BundleReader<>::Open(prefix);
    const int n = original.num_shards();
    if (n == 1) continue;
    ws::test::TempDir out;
    const std::string merged = (out / "model.ckpt").string();
    std::vector<std::string> pieces;
    for (int k = 0; k < n; ++k) {
      char name[64];
      std::snprintf(name, sizeof name, "part-%05d-of-%05d", k, n);
      pieces.push_back((out / "model.ckpt_temp" / name).string());
      Rewrite(original, pieces.back(), k);
    }
    ws::bundle::MergeBundles(pieces, merged);
    CHECK(Slurp(ws::bundle::MetaFilename(merged)) == Slurp(index_path));
    for (int k = 0; k < n; ++k) {
      CHECK(Slurp(ws::bundle::DataFilename(merged, k, n)) == Slurp(ws::bundle::DataFilename(prefix, k, n)));
    }
    reproduced.insert(fs::relative(item.path(), dir).parent_path().begin()->string());
  }
  CHECK(reproduced == std::set<std::string>{"t2t-transformer-test-ckpt", "tf2-keras-save-weights-2shards",
                                            "tfx-estimator-chicago-taxi-2shards-2019"});
}

TEST_CASE("realdata: Snappy-indexed bundles rewrite to identical data and the same entries", "[writer][realdata]") {
  // Google-internal writers compress index blocks with Snappy; we write uncompressed, like
  // open-source TF (spec 3.6, 10). The data file must still be byte-identical and the
  // rewritten (uncompressed) index must hold exactly the same entries.
  fs::path dir;
  if (!ws::test::RequireRealData("checkpoints", &dir)) return;
  int rewritten = 0;
  for (const auto& item : fs::recursive_directory_iterator(dir)) {
    if (item.path().extension() != ".index" || !HasSnappyBlock(item.path().string())) continue;
    const std::string index_path = item.path().string();
    const std::string prefix = index_path.substr(0, index_path.size() - 6);
    INFO(index_path);
    const auto original = ws::bundle::BundleReader<>::Open(prefix);
    if (original.num_shards() != 1 || !fs::exists(ws::bundle::DataFilename(prefix, 0, 1))) continue;  // index-only
    ws::test::TempDir out;
    const std::string out_prefix = (out / "rewritten").string();
    Rewrite(original, out_prefix);
    CHECK(Slurp(ws::bundle::DataFilename(out_prefix, 0, 1)) == Slurp(ws::bundle::DataFilename(prefix, 0, 1)));
    CHECK_FALSE(HasSnappyBlock(ws::bundle::MetaFilename(out_prefix)));
    const auto copy = ws::bundle::BundleReader<>::Open(out_prefix);
    REQUIRE(copy.entries().size() == original.entries().size());
    for (size_t i = 0; i < copy.entries().size(); ++i) {
      const ws::bundle::Entry &a = original.entries()[i], &b = copy.entries()[i];
      CHECK(a.name == b.name);
      CHECK(a.dtype == b.dtype);
      CHECK(a.shape == b.shape);
      CHECK(a.offset == b.offset);
      CHECK(a.size == b.size);
      CHECK(a.masked_crc32c == b.masked_crc32c);
    }
    ++rewritten;
  }
  CHECK(rewritten == 2);  // the two half_plus_two SavedModels; the zoo-tf2 ones are index-only
}
