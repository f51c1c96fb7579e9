// Every real TensorFlow checkpoint in shared/realdata/checkpoints, checked against
// MANIFEST.md (entry counts, dtypes, shards, Snappy, complete or index-only), against the
// oracle's golden listing of tf1-saver-adam, and through the TF2 object graph; plus a few
// values we can justify from outside the files, and checkpoint resolution of each folder.
//
// "entries" in MANIFEST.md are the tensors of the index, without the header entry "":
// "18 entries [float×17, int64×1]" is entries().size() == 18 (no real bundle is
// partitioned, so num_index_entries() is the same number).
//
// Every test SKIPs (a WARN, then return) when the real data is not there.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../realdata.hpp"
#include "golden.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::FormatError;
using warmstart::NotFoundError;
using warmstart::bundle::Checkpoint;
using warmstart::bundle::DataType;
using warmstart::bundle::DataTypeName;
using warmstart::bundle::Entry;
using warmstart::bundle::Format;
using warmstart::test::EndsWith;

const std::string kValueSuffix = "/.ATTRIBUTES/VARIABLE_VALUE";

// One bundle of MANIFEST.md. `path` is below checkpoints/: a V2 prefix, or a V1 file.
struct BundleRow {
  const char* path;
  Format format;
  size_t entries;
  int shards;
  bool snappy;    // the index data block is Snappy-compressed
  bool complete;  // every data shard is present
  int float32, int64, int32, string;
};

constexpr Format V2 = Format::kV2;
constexpr Format V1 = Format::kV1;

// Transcribed from MANIFEST.md (tf1-saver-adam's counts, which MANIFEST leaves out, are
// from its SOURCE.md and spec section 13: 34 DT_FLOAT tensors).
const std::vector<BundleRow> kBundles = {
    // path                                                                    fmt entries sh snappy complete  f32  i64 i32 str
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-28357",              V2, 587, 1, false, false, 586, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-28580",              V2, 587, 1, false, false, 586, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-28804",              V2, 587, 1, false, false, 586, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-29027",              V2, 587, 1, false, false, 586, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-29246",              V2, 587, 1, false, false, 586, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v2-dzakirin/model.ckpt-31500",                       V2, 937, 1, false, false, 936, 1, 0, 0},
    {"tf1-od-ssd-mobilenet-v2-handdetect/model.ckpt-7862",                      V2, 937, 1, false, false, 936, 1, 0, 0},
    {"tf1-od-export-ssd-mobilenet-v2-dzakirin/model.ckpt",                      V2, 325, 1, false, false, 324, 1, 0, 0},
    {"tf1-od-faster-rcnn-inception-v2-paltaj/model.ckpt-6138",                  V2, 575, 1, false, false, 574, 1, 0, 0},
    {"zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28/model.ckpt",             V2, 357, 1, false, false, 356, 1, 0, 0},
    {"zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28/model.ckpt",                     V2, 200, 1, false, false, 199, 1, 0, 0},
    {"zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29/model.ckpt",                     V2, 345, 1, false, false, 344, 1, 0, 0},
    {"zoo-tf1-ssd_mobilenet_v2_quantized_300x300_coco_2019_01_03/model.ckpt",   V2, 1574, 1, false, false, 1572, 2, 0, 0},
    {"tf2-od-ssd-mobilenet-v2-fpnlite-accident/ckpt-1",                         V2, 387, 1, false, false, 384, 2, 0, 1},
    {"tf2-od-ssd-mobilenet-v2-fpnlite-accident/ckpt-6",                         V2, 622, 1, false, false, 618, 3, 0, 1},
    {"zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8/checkpoint/ckpt-0", V2, 386, 1, true, false, 384, 1, 0, 1},
    {"zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8/saved_model/variables/variables",
                                                                                V2, 385, 1, true, false, 384, 0, 0, 1},
    {"t2t-transformer-test-ckpt/model.ckpt-1",                                  V2, 250, 2, false, true, 248, 1, 1, 0},
    {"tf1-estimator-iris-contrib-learn-2017/model.ckpt-8000",                   V2, 18, 1, false, true, 17, 1, 0, 0},
    {"tf1-estimator-wide-deep-part0/model.ckpt-63",                             V2, 61, 1, false, true, 60, 1, 0, 0},
    {"tf1-saver-adam/model.ckpt",                                               V2, 34, 1, false, true, 34, 0, 0, 0},
    {"tfmodels-lfads-trained-itb/model-65000",                                  V2, 6, 1, false, true, 5, 0, 1, 0},
    {"tfmodels-official-resnet-refdata-bottleneck-proj-v1/model.ckpt",          V2, 21, 1, false, true, 21, 0, 0, 0},
    {"tfx-estimator-chicago-taxi-2shards-2019/model.ckpt-10000",                V2, 51, 2, false, true, 50, 1, 0, 0},
    {"tf2-keras-save-weights-2shards/model.ckpt",                               V2, 18, 2, false, true, 16, 1, 0, 1},
    {"savedmodel-rust-regression-tf2/variables/variables",                      V2, 7, 1, false, true, 5, 1, 0, 1},
    {"savedmodel-scisharp-lstm-keras-2.12/variables/variables",                 V2, 22, 1, false, true, 20, 1, 0, 1},
    {"savedmodel-serving-half-plus-two-cpu-tf1/variables/variables",            V2, 5, 1, true, true, 5, 0, 0, 0},
    {"savedmodel-serving-half-plus-two-tf2-cpu/variables/variables",            V2, 4, 1, true, true, 3, 0, 0, 1},
    {"savedmodel-serving-tf-text-regression/variables/variables",               V2, 1, 1, false, true, 0, 0, 0, 1},
    {"tfx-keras-format-serving/variables/variables",                            V2, 28, 1, false, true, 26, 1, 0, 1},
    {"v1-nxt-tensorflow-2016/model.ckpt",                                       V1, 14, 1, false, true, 14, 0, 0, 0},
    {"v1-serving-session-bundle-half-plus-two/export-00000-of-00001",           V1, 2, 1, false, true, 2, 0, 0, 0},
};

// The two V1 files the walk adds to the *.index files (V1 checkpoints have no .index).
const std::vector<std::string> kV1Files = {
    "v1-nxt-tensorflow-2016/model.ckpt",
    "v1-serving-session-bundle-half-plus-two/export-00000-of-00001",
};

std::string Full(const fs::path& checkpoints, const BundleRow& row) { return (checkpoints / row.path).string(); }

std::string IndexPathOf(const fs::path& checkpoints, const BundleRow& row) {
  const std::string p = Full(checkpoints, row);
  return row.format == V2 ? warmstart::bundle::MetaFilename(p) : p;
}

// Bundles found on disk: every *.index (as its prefix) and the V1 files that exist.
std::set<std::string> WalkBundles(const fs::path& checkpoints) {
  std::set<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(checkpoints)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), checkpoints).generic_string();
    if (EndsWith(rel, ".index")) found.insert(rel.substr(0, rel.size() - 6));
  }
  for (const std::string& v1 : kV1Files) {
    if (fs::is_regular_file(checkpoints / v1)) found.insert(v1);
  }
  return found;
}

bool AllShardsPresent(const fs::path& checkpoints, const BundleRow& row) {
  if (row.format == V1) return true;  // the single file holds the values
  for (int s = 0; s < row.shards; ++s) {
    if (!fs::is_regular_file(warmstart::bundle::DataFilename(Full(checkpoints, row), s, row.shards))) return false;
  }
  return true;
}

std::map<std::string, int> ExpectedDtypes(const BundleRow& row) {
  std::map<std::string, int> m;
  if (row.float32) m["DT_FLOAT"] = row.float32;
  if (row.int64) m["DT_INT64"] = row.int64;
  if (row.int32) m["DT_INT32"] = row.int32;
  if (row.string) m["DT_STRING"] = row.string;
  return m;
}

std::map<std::string, int> DtypesOf(const Checkpoint& c) {
  std::map<std::string, int> m;
  for (const Entry& e : c.entries()) ++m[DataTypeName(e.dtype)];
  return m;
}

std::string Describe(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k + " x" + std::to_string(v);
  return "[" + s + "]";
}

// Reads the footer and index block itself and reports (number of data blocks, any Snappy?).
std::pair<size_t, bool> DataBlocks(const std::string& index_path) {
  namespace sst = warmstart::sstable;
  auto table = sst::Table<warmstart::core::MappedFile>::Open(warmstart::core::MappedFile::Open(index_path));
  bool snappy = false;
  for (const sst::IndexEntry& ie : table.index()) {
    snappy |= sst::ReadBlock(table.file().bytes(), ie.handle, table.context(), "data block").compressed;
  }
  return {table.index().size(), snappy};
}

const BundleRow& RowFor(const std::string& path) {
  for (const BundleRow& row : kBundles) {
    if (path == row.path) return row;
  }
  throw std::logic_error("no row for " + path);
}

}  // namespace

TEST_CASE("realdata: the bundle table lists every bundle under checkpoints/ and nothing else", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  const std::set<std::string> found = WalkBundles(dir);
  std::set<std::string> listed;
  for (const BundleRow& row : kBundles) {
    INFO("kBundles lists '" << row.path << "' twice");
    CHECK(listed.insert(row.path).second);
  }
  for (const std::string& p : found) {
    INFO("new bundle '" << p << "' on disk: add it to kBundles (from MANIFEST.md)");
    CHECK(listed.count(p) == 1);
  }
  for (const std::string& p : listed) {
    INFO("kBundles lists '" << p << "', which is not on disk");
    CHECK(found.count(p) == 1);
  }
  CHECK(found.size() == 33);  // 31 .index files and 2 V1 files
}

TEST_CASE("realdata: every bundle opens with the entries, dtypes, shards and compression of MANIFEST.md",
          "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  for (const BundleRow& row : kBundles) {
    INFO("bundle " << row.path);
    const Checkpoint c = Checkpoint::Open(Full(dir, row));
    CHECK(c.format() == row.format);
    CHECK(c.entries().size() == row.entries);
    CHECK(c.num_index_entries() == row.entries);  // no partitioned tensors in real data
    CHECK(c.num_shards() == row.shards);
    CHECK(c.endianness() == warmstart::bundle::Endianness::kLittle);
    CHECK(Describe(DtypesOf(c)) == Describe(ExpectedDtypes(row)));
    CHECK(c.warnings().empty());
    CHECK(c.notes().empty());  // opened by prefix / file name: nothing to resolve
    CHECK(AllShardsPresent(dir, row) == row.complete);
    const auto [blocks, snappy] = DataBlocks(IndexPathOf(dir, row));
    for (const Entry& e : c.entries()) {
      CHECK_FALSE(e.partitioned());
      // In a Snappy block, index_offset counts within the decompressed block.
      if (!snappy) CHECK(e.index_offset < fs::file_size(IndexPathOf(dir, row)));
    }
    CHECK(blocks == 1);  // MANIFEST: every index here is a single data block
    CHECK(snappy == row.snappy);
  }
}

TEST_CASE("realdata: complete bundles verify every checksum and every tensor reads", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  for (const BundleRow& row : kBundles) {
    if (!row.complete) continue;
    INFO("bundle " << row.path);
    const Checkpoint c = Checkpoint::Open(Full(dir, row));
    const warmstart::bundle::VerifyReport report = c.VerifyAll();
    INFO("first failure: " << (report.ok() ? std::string("none") : report.failures.front().message));
    CHECK(report.ok());
    CHECK(report.tensors_verified == row.entries);
    uint64_t bytes = 0;
    for (const Entry& e : c.entries()) bytes += static_cast<uint64_t>(e.size);
    CHECK(report.bytes_verified == bytes);

    for (const Entry& e : c.entries()) {
      INFO("tensor " << e.name << " " << DataTypeName(e.dtype) << " " << e.shape.DebugString());
      const auto n = static_cast<size_t>(e.shape.num_elements());
      if (e.dtype == DataType::kString) {
        CHECK(c.ReadStrings(e.name).size() == n);
        continue;
      }
      const std::vector<double> values = c.ReadAs<double>(e.name);
      CHECK(values.size() == n);
      // Trained weights, optimizer slots and counters: all finite in these files.
      CHECK(std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); }));
    }
  }
}

TEST_CASE("realdata: index-only bundles list their tensors and report only the missing data file",
          "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  for (const BundleRow& row : kBundles) {
    if (row.complete) continue;
    INFO("bundle " << row.path);
    const Checkpoint c = Checkpoint::Open(Full(dir, row));
    REQUIRE(c.entries().size() == row.entries);
    const warmstart::bundle::VerifyReport report = c.VerifyAll();
    CHECK(report.tensors_verified == 0);
    CHECK(report.bytes_verified == 0);
    CHECK(report.failures.size() == row.entries);
    const std::string data_file = warmstart::bundle::DataFilename(Full(dir, row), 0, row.shards);
    size_t other = 0;
    for (const warmstart::bundle::VerifyFailure& f : report.failures) {
      const bool expected = f.message.find("data file is missing") != std::string::npos &&
                            f.message.find(data_file) != std::string::npos && c.Contains(f.key);
      if (!expected && other++ == 0) FAIL_CHECK("unexpected failure for '" << f.key << "': " << f.message);
    }
    CHECK(other == 0);
    // A read names the data file it needs.
    const Entry& first = c.entries().front();
    try {
      if (first.dtype == DataType::kString) {
        c.ReadStrings(first.name);
      } else {
        c.ReadAs<double>(first.name);
      }
      FAIL_CHECK("reading '" << first.name << "' without its data file succeeded");
    } catch (const NotFoundError& e) {
      CHECK(e.context().file == data_file);
      CHECK(e.context().key == first.name);
    }
  }
}

TEST_CASE("realdata: tf1-saver-adam matches the oracle's golden listing", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const nlohmann::json oracle =
      nlohmann::json::parse(warmstart::test::ReadFileBytes((dir / "oracle-report.json").string()));
  REQUIRE(oracle.at("valid").get<bool>());
  REQUIRE(oracle.at("errors").empty());
  const std::string prefix = (dir / oracle.at("prefix").get<std::string>()).string();
  const Checkpoint c = Checkpoint::Open(prefix);

  // Header.
  const nlohmann::json& header = oracle.at("header");
  CHECK(c.num_shards() == header.at("num_shards").get<int>());
  CHECK(header.at("endianness") == "LITTLE");
  CHECK(c.endianness() == warmstart::bundle::Endianness::kLittle);
  CHECK(c.version().producer == header.at("version").at("producer").get<int>());
  CHECK(c.version().min_consumer == header.at("version").at("min_consumer").get<int>());
  CHECK(c.version().bad_consumers == header.at("version").at("bad_consumers").get<std::vector<int32_t>>());

  // Table: file size, footer handles, the one data block, the raw header entry.
  namespace sst = warmstart::sstable;
  const nlohmann::json& table_json = oracle.at("table");
  const std::string index_path = warmstart::bundle::MetaFilename(prefix);
  CHECK(fs::file_size(index_path) == table_json.at("index_file_bytes").get<uint64_t>());
  auto table = sst::Table<warmstart::core::MappedFile>::Open(warmstart::core::MappedFile::Open(index_path));
  const auto handle = [](const sst::BlockHandle& h) { return std::vector<uint64_t>{h.offset, h.size}; };
  const nlohmann::json& footer = table_json.at("footer");
  CHECK(handle(table.footer().metaindex) == footer.at("metaindex_handle").get<std::vector<uint64_t>>());
  CHECK(handle(table.footer().index) == footer.at("index_handle").get<std::vector<uint64_t>>());
  const nlohmann::json& blocks = table_json.at("data_blocks");
  REQUIRE(blocks.size() == table.index().size());
  const sst::IndexEntry& block = table.index().front();
  CHECK(block.handle.offset == blocks[0].at("offset").get<uint64_t>());
  CHECK(block.handle.size == blocks[0].at("size").get<uint64_t>());
  CHECK(warmstart::test::Hex(block.separator) == blocks[0].at("index_key_hex").get<std::string>());
  size_t table_entries = 0;
  std::string header_hex;
  table.ForEach([&](const std::string& key, warmstart::core::ByteView value, uint64_t) {
    if (table_entries++ == 0 && key.empty()) header_hex = warmstart::test::Hex(value.ToString());
  });
  CHECK(table_entries == blocks[0].at("entries").get<size_t>());
  CHECK(table_entries == c.num_index_entries() + 1);  // + the header
  CHECK(header_hex == table_json.at("header_entry_hex").get<std::string>());
  CHECK(table_json.at("metaindex_entries").get<int>() == 0);

  // Every entry, field by field.
  const nlohmann::json& entries = oracle.at("entries");
  REQUIRE(entries.size() == c.entries().size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const nlohmann::json& g = entries[i];
    const Entry& e = c.entries()[i];
    INFO("oracle entry " << i << ": " << g.dump());
    CHECK(e.name == g.at("name").get<std::string>());
    CHECK(DataTypeName(e.dtype) == g.at("dtype").get<std::string>());
    CHECK(e.shape.dims() == g.at("shape").get<std::vector<int64_t>>());
    CHECK(e.shard_id == g.at("shard_id").get<int32_t>());
    CHECK(e.offset == g.at("offset").get<int64_t>());
    CHECK(e.size == g.at("size").get<int64_t>());
    CHECK("0x" + warmstart::detail::Hex32(e.masked_crc32c) == g.at("crc32c_masked").get<std::string>());
    CHECK(g.at("crc32c_ok").get<bool>());
  }
  CHECK(c.VerifyAll().tensors_verified == entries.size());
}

TEST_CASE("realdata: TF2 object graphs give every saved variable the path of its key", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  using warmstart::bundle::kObjectGraphKey;
  std::vector<std::string> skipped;
  size_t decoded = 0;
  for (const BundleRow& row : kBundles) {
    INFO("bundle " << row.path);
    const Checkpoint c = Checkpoint::Open(Full(dir, row));
    const bool tf2 = c.Contains(kObjectGraphKey);
    CHECK(tf2 == (row.string == 1));  // in this data the only string tensor is the graph
    if (!tf2) continue;
    if (!row.complete) {
      skipped.push_back(row.path);
      continue;
    }
    const Entry& graph_entry = c.Get(kObjectGraphKey);
    CHECK(graph_entry.shape.rank() == 0);
    const std::vector<std::string> serialized = c.ReadStrings(kObjectGraphKey);
    REQUIRE(serialized.size() == 1);
    const auto graph = warmstart::bundle::ObjectGraph::Decode(
        warmstart::core::ByteView(serialized[0].data(), serialized[0].size()),
        warmstart::ErrorContext(c.data_path(graph_entry.shard_id)).WithKey(std::string(kObjectGraphKey)));
    ++decoded;

    // The graph and the bundle name the same tensors (all but the graph itself).
    for (const Entry& e : c.entries()) {
      if (e.name != kObjectGraphKey) CHECK(graph.FindByKey(e.name) != nullptr);
    }
    CHECK(graph.variables().size() == c.entries().size() - 1);
    for (const warmstart::bundle::VariableInfo& v : graph.variables()) {
      INFO("variable " << v.checkpoint_key << " (path '" << v.object_path << "')");
      CHECK(c.Contains(v.checkpoint_key));
      if (!EndsWith(v.checkpoint_key, kValueSuffix)) continue;
      CHECK(v.attribute == "VARIABLE_VALUE");
      CHECK(v.object_path == v.checkpoint_key.substr(0, v.checkpoint_key.size() - kValueSuffix.size()));
      if (!v.is_slot) continue;
      // A slot variable sits under its variable, named by optimizer and slot, and has its shape.
      CHECK(v.object_path == v.original_variable_path + "/.OPTIMIZER_SLOT/" + v.optimizer_path + "/" + v.slot_name);
      const Entry* original = c.Find(v.original_variable_path + kValueSuffix);
      REQUIRE(original != nullptr);
      CHECK(c.Get(v.checkpoint_key).shape == original->shape);
    }
  }
  CHECK(decoded == 6);
  WARN("object graph not checked for the index-only TF2 bundles (the graph is in their missing data file): "
       << warmstart::bundle::detail::JoinNames(skipped));
  CHECK(skipped.size() == 4);
}

TEST_CASE("realdata: the Keras Adam checkpoint has m and v slots for each of its four variables", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &dir)) return;
  const Checkpoint c = Checkpoint::Open((dir / "model.ckpt").string());
  const std::vector<std::string> serialized = c.ReadStrings(warmstart::bundle::kObjectGraphKey);
  REQUIRE(serialized.size() == 1);
  const auto graph = warmstart::bundle::ObjectGraph::Decode(
      warmstart::core::ByteView(serialized[0].data(), serialized[0].size()), warmstart::ErrorContext("graph"));
  std::set<std::string> slots;
  for (const warmstart::bundle::VariableInfo& v : graph.variables()) {
    if (!v.is_slot) continue;
    CHECK(v.optimizer_path == "optimizer");
    slots.insert(v.original_variable_path + " " + v.slot_name);
  }
  const std::set<std::string> expected = {
      "layer-1/bias m",   "layer-1/bias v",   "layer-1/kernel m", "layer-1/kernel v",
      "layer-2/bias m",   "layer-2/bias v",   "layer-2/kernel m", "layer-2/kernel v",
  };
  CHECK(slots == expected);
  CHECK(c.Contains("layer-1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"));
  // Shard 0 holds only the object graph (spec section 13).
  for (const Entry& e : c.entries()) {
    INFO(e.name);
    CHECK((e.shard_id == 0) == (e.name == warmstart::bundle::kObjectGraphKey));
  }
}

TEST_CASE("realdata: V1 checkpoints list their float tensors, and half_plus_two has a = 0.5 and b = 2", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  const Checkpoint nxt = Checkpoint::Open((dir / "v1-nxt-tensorflow-2016/model.ckpt").string());
  CHECK(nxt.format() == Format::kV1);
  CHECK(nxt.entries().size() == 14);
  for (const Entry& e : nxt.entries()) CHECK(e.dtype == DataType::kFloat);

  const Checkpoint half =
      Checkpoint::Open((dir / "v1-serving-session-bundle-half-plus-two/export-00000-of-00001").string());
  CHECK(half.format() == Format::kV1);
  REQUIRE(half.entries().size() == 2);
  CHECK(half.entries()[0].name == "a");
  CHECK(half.entries()[1].name == "b");
  CHECK(half.Get("a").shape.rank() == 0);
  CHECK(half.Read<float>("a") == std::vector<float>{0.5f});
  CHECK(half.Read<float>("b") == std::vector<float>{2.0f});
}

TEST_CASE("realdata: values known from outside the files", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  // A TF1 Saver (or Estimator) names the bundle <prefix>-<global_step>.
  struct Step {
    const char* prefix;
    int64_t step;
  };
  for (const Step& s : {Step{"tf1-estimator-iris-contrib-learn-2017/model.ckpt-8000", 8000},
                        Step{"tf1-estimator-wide-deep-part0/model.ckpt-63", 63},
                        Step{"tfx-estimator-chicago-taxi-2shards-2019/model.ckpt-10000", 10000},
                        Step{"t2t-transformer-test-ckpt/model.ckpt-1", 1}}) {
    INFO(s.prefix);
    const Checkpoint c = Checkpoint::Open((dir / s.prefix).string());
    CHECK(c.Get("global_step").dtype == DataType::kInt64);
    CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{s.step});
  }
  // LFADS keeps its step counter as int32.
  const Checkpoint lfads = Checkpoint::Open((dir / "tfmodels-lfads-trained-itb/model-65000").string());
  CHECK(lfads.Read<int32_t>("global_step") == std::vector<int32_t>{65000});

  // TF Serving's half_plus_two models (saved_model_half_plus_two.py): y = a*x + b with
  // a = 0.5, b = 2, and a second head y = a*x + c with c = 3.
  const Checkpoint tf1 = Checkpoint::Open((dir / "savedmodel-serving-half-plus-two-cpu-tf1").string());
  CHECK(tf1.Read<float>("a") == std::vector<float>{0.5f});
  CHECK(tf1.Read<float>("b") == std::vector<float>{2.0f});
  CHECK(tf1.Read<float>("c") == std::vector<float>{3.0f});
  const Checkpoint tf2 = Checkpoint::Open((dir / "savedmodel-serving-half-plus-two-tf2-cpu").string());
  CHECK(tf2.Read<float>("a" + kValueSuffix) == std::vector<float>{0.5f});
  CHECK(tf2.Read<float>("b" + kValueSuffix) == std::vector<float>{2.0f});
  CHECK(tf2.Read<float>("c" + kValueSuffix) == std::vector<float>{3.0f});
}

namespace {

// How each folder under checkpoints/ resolves (include/warmstart/bundle/checkpoint.hpp).
struct ResolutionRow {
  const char* dir;
  const char* prefix;  // below checkpoints/; nullptr: NotFoundError
  const char* note;    // words in the last note (or in the error)
  size_t notes;
};

const char* const kStateNote = "/checkpoint' names '";
const char* const kSavedModel = "is a SavedModel; opened its variables bundle";
const char* const kOnlyBundle = "opened its only bundle";
const char* const kOnlyV1 = "as a V1 checkpoint";

const std::vector<ResolutionRow> kResolutions = {
    {"savedmodel-rust-regression-tf2", "savedmodel-rust-regression-tf2/variables/variables", kSavedModel, 1},
    {"savedmodel-scisharp-lstm-keras-2.12", "savedmodel-scisharp-lstm-keras-2.12/variables/variables", kSavedModel, 1},
    {"savedmodel-serving-half-plus-two-cpu-tf1", "savedmodel-serving-half-plus-two-cpu-tf1/variables/variables",
     kSavedModel, 1},
    {"savedmodel-serving-half-plus-two-tf2-cpu", "savedmodel-serving-half-plus-two-tf2-cpu/variables/variables",
     kSavedModel, 1},
    {"savedmodel-serving-tf-text-regression", "savedmodel-serving-tf-text-regression/variables/variables",
     kSavedModel, 1},
    {"tfx-keras-format-serving", "tfx-keras-format-serving/variables/variables", kSavedModel, 1},
    {"t2t-transformer-test-ckpt", "t2t-transformer-test-ckpt/model.ckpt-1", kStateNote, 1},
    // The state file holds absolute macOS paths; the base name is used, with a note.
    {"tf1-estimator-iris-contrib-learn-2017", "tf1-estimator-iris-contrib-learn-2017/model.ckpt-8000",
     "/Volumes/MacAndroidStudio/ml-books/basic-ml/iris_model/model.ckpt-8000', which does not exist; using", 2},
    {"tf1-estimator-wide-deep-part0", "tf1-estimator-wide-deep-part0/model.ckpt-63", kStateNote, 1},
    {"tf1-od-export-ssd-mobilenet-v2-dzakirin", "tf1-od-export-ssd-mobilenet-v2-dzakirin/model.ckpt", kStateNote, 1},
    {"tf1-od-faster-rcnn-inception-v2-paltaj", "tf1-od-faster-rcnn-inception-v2-paltaj/model.ckpt-6138", kStateNote, 1},
    {"tf1-od-ssd-mobilenet-v1-pitting-corrosion", "tf1-od-ssd-mobilenet-v1-pitting-corrosion/model.ckpt-29246",
     kStateNote, 1},
    {"tf1-od-ssd-mobilenet-v2-dzakirin", "tf1-od-ssd-mobilenet-v2-dzakirin/model.ckpt-31500", kStateNote, 1},
    {"tf1-od-ssd-mobilenet-v2-handdetect", "tf1-od-ssd-mobilenet-v2-handdetect/model.ckpt-7862", kOnlyBundle, 1},
    {"tf1-saver-adam", "tf1-saver-adam/model.ckpt", kStateNote, 1},
    {"tf2-keras-save-weights-2shards", "tf2-keras-save-weights-2shards/model.ckpt", kStateNote, 1},
    {"tf2-od-ssd-mobilenet-v2-fpnlite-accident", "tf2-od-ssd-mobilenet-v2-fpnlite-accident/ckpt-6", kStateNote, 1},
    {"tfmodels-lfads-trained-itb", "tfmodels-lfads-trained-itb/model-65000", kOnlyBundle, 1},
    {"tfmodels-official-resnet-refdata-bottleneck-proj-v1",
     "tfmodels-official-resnet-refdata-bottleneck-proj-v1/model.ckpt", kOnlyBundle, 1},
    {"tfx-estimator-chicago-taxi-2shards-2019", "tfx-estimator-chicago-taxi-2shards-2019/model.ckpt-10000",
     kStateNote, 1},
    // V1 folders: no state file and no *.index, but exactly one table file (the .meta
    // beside it is a MetaGraphDef, not a table).
    {"v1-nxt-tensorflow-2016", "v1-nxt-tensorflow-2016/model.ckpt", kOnlyV1, 1},
    {"v1-serving-session-bundle-half-plus-two", "v1-serving-session-bundle-half-plus-two/export-00000-of-00001",
     kOnlyV1, 1},
    {"zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28", "zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28/model.ckpt",
     kStateNote, 1},
    {"zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", "zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28/model.ckpt", kStateNote, 1},
    {"zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29", "zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29/model.ckpt", kStateNote, 1},
    {"zoo-tf1-ssd_mobilenet_v2_quantized_300x300_coco_2019_01_03",
     "zoo-tf1-ssd_mobilenet_v2_quantized_300x300_coco_2019_01_03/model.ckpt", kOnlyBundle, 1},
    // The TF2 model zoo layout: <model>/checkpoint/ is a directory with its own state file.
    {"zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8",
     "zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8/checkpoint/ckpt-0", kStateNote, 2},
};

bool SamePath(const std::string& a, const fs::path& b) {
  return fs::path(a).lexically_normal() == b.lexically_normal();
}

}  // namespace

TEST_CASE("realdata: every checkpoint folder resolves as documented", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  std::set<std::string> folders, listed;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) folders.insert(entry.path().filename().string());
  }
  for (const ResolutionRow& row : kResolutions) listed.insert(row.dir);
  CHECK(folders == listed);  // a new folder needs a row in kResolutions

  for (const ResolutionRow& row : kResolutions) {
    INFO("folder " << row.dir);
    const std::string folder = (dir / row.dir).string();
    if (row.prefix == nullptr) {
      try {
        Checkpoint::Open(folder);
        FAIL_CHECK("resolved, expected NotFoundError");
      } catch (const NotFoundError& e) {
        CHECK_THAT(e.what(), Catch::Contains(row.note));
        CHECK(e.context().file == folder);
      }
      continue;
    }
    const warmstart::bundle::ResolvedCheckpoint r = warmstart::bundle::ResolveCheckpoint(folder);
    CHECK(SamePath(r.prefix, dir / row.prefix));
    CHECK(r.format == (std::string(row.note) == kOnlyV1 ? Format::kV1 : Format::kV2));
    REQUIRE(r.notes.size() == row.notes);
    CHECK_THAT(r.notes.back(), Catch::Contains(row.note));
    const bool lenient = std::string(row.note) != kStateNote && std::string(row.note) != kSavedModel;
    CHECK((r.notes.back().find("TensorFlow would find no checkpoint") != std::string::npos) == lenient);
    const Checkpoint c = Checkpoint::Open(folder);
    CHECK(c.notes() == r.notes);
    CHECK(c.entries().size() == RowFor(fs::relative(fs::path(r.prefix), dir).generic_string()).entries);
  }
}

TEST_CASE("realdata: state files list checkpoints that are absent, as MANIFEST.md says", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints", &dir)) return;
  // folder with a state file -> (listed in all_model_checkpoint_paths, of those present by base name)
  const std::map<std::string, std::pair<size_t, size_t>> expected = {
      {"t2t-transformer-test-ckpt", {1, 1}},
      {"tf1-estimator-iris-contrib-learn-2017", {5, 1}},
      {"tf1-estimator-wide-deep-part0", {2, 1}},
      {"tf1-od-export-ssd-mobilenet-v2-dzakirin", {1, 1}},
      {"tf1-od-faster-rcnn-inception-v2-paltaj", {5, 1}},
      {"tf1-od-ssd-mobilenet-v1-pitting-corrosion", {5, 5}},
      {"tf1-od-ssd-mobilenet-v2-dzakirin", {5, 1}},
      {"tf1-saver-adam", {1, 1}},
      {"tf2-keras-save-weights-2shards", {1, 1}},
      {"tf2-od-ssd-mobilenet-v2-fpnlite-accident", {6, 2}},
      {"tfx-estimator-chicago-taxi-2shards-2019", {1, 1}},
      {"zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28", {1, 1}},
      {"zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", {1, 1}},
      {"zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29", {1, 1}},
      {"zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8/checkpoint", {1, 1}},
  };
  std::set<std::string> with_state;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() == "checkpoint") {
      with_state.insert(fs::relative(entry.path().parent_path(), dir).generic_string());
    }
  }
  std::set<std::string> listed;
  for (const auto& [folder, counts] : expected) listed.insert(folder);
  CHECK(with_state == listed);
  for (const auto& [folder, counts] : expected) {
    INFO("state file " << folder << "/checkpoint");
    const std::string state_path = (dir / folder / "checkpoint").string();
    const warmstart::bundle::CheckpointState state =
        warmstart::bundle::ParseCheckpointState(warmstart::test::ReadFileBytes(state_path), state_path);
    CHECK(state.unknown_fields.empty());
    CHECK(state.all_model_checkpoint_paths.size() == counts.first);
    size_t present = 0;
    for (const std::string& p : state.all_model_checkpoint_paths) {
      present += fs::is_regular_file(dir / folder / (fs::path(p).filename().string() + ".index")) ? 1 : 0;
    }
    CHECK(present == counts.second);
    // The latest checkpoint is always the last one listed.
    REQUIRE_FALSE(state.all_model_checkpoint_paths.empty());
    CHECK(state.all_model_checkpoint_paths.back() == state.model_checkpoint_path);
  }
}

TEST_CASE("realdata: a real state file whose checkpoint is absent is a NotFoundError naming the state file",
          "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints/tf1-od-faster-rcnn-inception-v2-paltaj", &dir)) return;
  warmstart::test::TempDir tmp;
  fs::copy_file(dir / "checkpoint", tmp / "checkpoint");
  const std::string state_path = (tmp / "checkpoint").string();
  try {
    Checkpoint::Open(tmp.path().string());
    FAIL("resolved a directory holding only a state file");
  } catch (const NotFoundError& e) {
    CHECK(e.context().file == state_path);
    CHECK_THAT(e.what(),
               Catch::Contains("model.ckpt-6138' does not exist") && Catch::Contains("bundles present: none"));
  }
  // A bundle the state file lists among all_model_checkpoint_paths, but not as the latest,
  // is not picked up (TensorFlow's latest_checkpoint returns None too); the error names it.
  fs::copy_file(dir / "model.ckpt-6138.index", tmp / "model.ckpt-5703.index");
  try {
    Checkpoint::Open(tmp.path().string());
    FAIL("resolved to a checkpoint the state file does not name as the latest");
  } catch (const NotFoundError& e) {
    CHECK(e.context().file == state_path);
    CHECK_THAT(e.what(), Catch::Contains("bundles present: " + (tmp / "model.ckpt-5703").string()));
  }
}

TEST_CASE("realdata: a bundle opens the same by prefix, index file, data file and directory", "[realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("checkpoints/tfx-estimator-chicago-taxi-2shards-2019", &dir)) return;
  const std::string prefix = (dir / "model.ckpt-10000").string();
  const warmstart::test::Listing expected = warmstart::test::ListingOf(Checkpoint::Open(prefix));
  for (const std::string& path : {prefix + ".index", prefix + ".data-00000-of-00002", prefix + ".data-00001-of-00002",
                                  dir.string()}) {
    INFO(path);
    const Checkpoint c = Checkpoint::Open(path);
    CHECK(SamePath(c.prefix(), fs::path(prefix)));
    CHECK(warmstart::test::ListingOf(c) == expected);
  }
}
