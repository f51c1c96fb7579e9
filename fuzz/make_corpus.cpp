// Writes the seed corpora of the fuzz targets, one directory per target:
//
//   make_corpus OUT_DIR [REALDATA_DIR]
//
//   OUT_DIR/sstable/  OUT_DIR/bundle/  OUT_DIR/snappy/  OUT_DIR/checkpoint_state/
//   OUT_DIR/object_graph/  OUT_DIR/text_format/  OUT_DIR/tfrecord/  OUT_DIR/v1/
//
// Seeds are made with our own writers (TableBuilder, BundleWriter, FormatCheckpointState,
// the tf.Example and TrackableObjectGraph encoders, AppendRecord) plus hand-made inputs for
// what no writer of ours produces (Snappy blocks, V1 files, big-endian headers). With
// REALDATA_DIR (../shared/realdata) small real files are copied in too; the corpus lives in
// the build tree, never in the repository. An input that made a fuzzer find a bug belongs
// here too, as a seed named `regression_<what>` of its target (docs/fuzzing.md).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/ordered_code.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/data/detection_example.hpp"
#include "warmstart/data/tf_example.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/proto/saved_slices.hpp"
#include "warmstart/proto/trackable.hpp"
#include "warmstart/sstable/table.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace fs = std::filesystem;
namespace ws = warmstart;
using ws::bundle::DataType;
using ws::bundle::TensorShape;
using ws::bundle::TensorSlice;
using ws::core::ByteView;

namespace {

constexpr uintmax_t kMaxRealFile = 128 * 1024;  // real files above this stay out of the corpus

fs::path g_out;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

ByteView View(const std::string& s) { return ByteView(s.data(), s.size()); }

template <class T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// ---- Snappy (no compressor in the library: literals and hand-placed copies) ----

void PutLiteral(std::string* out, const std::string& s) {
  if (s.empty()) return;
  if (s.size() <= 60) {
    out->push_back(static_cast<char>((s.size() - 1) << 2));
  } else {
    out->push_back(static_cast<char>(61 << 2));
    out->push_back(static_cast<char>((s.size() - 1) & 0xff));
    out->push_back(static_cast<char>((s.size() - 1) >> 8));
  }
  *out += s;
}

std::string SnappyLiteral(const std::string& s) {
  std::string out;
  ws::core::PutVarint64(&out, s.size());
  PutLiteral(&out, s);
  return out;
}

// ---- tables ----

// A table whose blocks are written by hand: `snappy` stores every block Snappy-compressed.
std::string TableWithBlocks(const std::map<std::string, std::string>& kv, bool snappy, size_t per_block) {
  std::string out;
  auto write_block = [&](const std::string& contents) {
    std::string stored = snappy ? SnappyLiteral(contents) : contents;
    const uint8_t type = snappy ? ws::sstable::kSnappyCompression : ws::sstable::kNoCompression;
    ws::sstable::BlockHandle h{out.size(), stored.size()};
    out += stored;
    out.push_back(static_cast<char>(type));
    ws::core::PutFixed32(&out, ws::sstable::BlockChecksum(View(stored), type));
    return h;
  };
  ws::sstable::BlockBuilder index(1);
  ws::sstable::BlockBuilder data(16);
  std::string last;
  size_t n = 0;
  auto flush = [&] {
    if (data.empty()) return;
    const auto h = write_block(data.Finish());
    data.Reset();
    std::string handle;
    h.EncodeTo(&handle);
    index.Add(last, View(handle));
  };
  for (const auto& [k, v] : kv) {
    data.Add(k, View(v));
    last = k;
    if (++n % per_block == 0) flush();
  }
  flush();
  ws::sstable::BlockBuilder meta(16);
  ws::sstable::Footer footer;
  footer.metaindex = write_block(meta.Finish());
  footer.index = write_block(index.Finish());
  footer.EncodeTo(&out);
  return out;
}

// ---- bundles ----

// The bundle target's framing: n || (u8 key_len || key || u16 value_len || value)* || data.
std::string Frame(const std::vector<std::pair<std::string, std::string>>& entries, const std::string& data) {
  std::string out(1, static_cast<char>(entries.size()));
  for (const auto& [k, v] : entries) {
    out.push_back(static_cast<char>(k.size()));
    out += k;
    out.push_back(static_cast<char>(v.size() & 0xff));
    out.push_back(static_cast<char>(v.size() >> 8));
    out += v;
  }
  return out + data;
}

// Reads back a bundle on disk as the bundle target's input (nullopt when it does not fit).
bool FrameBundle(const std::string& prefix, std::string* framed) {
  const std::string index = ReadFile(ws::bundle::MetaFilename(prefix));
  const fs::path data_path = ws::bundle::DataFilename(prefix, 0, 1);
  if (!fs::exists(data_path) || fs::file_size(data_path) > kMaxRealFile) return false;
  std::vector<std::pair<std::string, std::string>> entries;
  try {
    auto table = ws::sstable::Table<ws::core::MemoryFile>::Open(ws::core::MemoryFile(prefix, View(index)));
    table.ForEach([&](const std::string& k, ByteView v, uint64_t) { entries.push_back({k, v.ToString()}); });
  } catch (const ws::Error&) {
    return false;
  }
  if (entries.size() > 32) return false;
  for (const auto& [k, v] : entries) {
    if (k.size() > 255 || v.size() > 65535) return false;
  }
  *framed = Frame(entries, ReadFile(data_path));
  return true;
}

ws::proto::TrackableObjectGraph SampleGraph() {
  using namespace ws::proto;
  TrackableObjectGraph g;
  g.nodes.resize(6);
  g.nodes[0].children = {{1, "model", {}}, {2, "optimizer", {}}, {5, "save_counter", {}}};
  g.nodes[1].children = {{3, "layer.1/dense", {}}};
  g.nodes[3].children = {{4, "kernel", {}}};
  g.nodes[4].attributes = {{"VARIABLE_VALUE", "dense/kernel", "model/layer..1.Sdense/kernel/.ATTRIBUTES/VARIABLE_VALUE", false, {}}};
  g.nodes[2].slot_variables = {{4, "m", 5, {}}};
  g.nodes[5].attributes = {{"VARIABLE_VALUE", "save_counter", "save_counter/.ATTRIBUTES/VARIABLE_VALUE", false, {}}};
  g.nodes[5].has_checkpoint_values = true;
  g.nodes[2].registered_saver = RegisteredSaver{"saver", "optimizer"};
  return g;
}

void WriteBundleSeeds(const fs::path& work) {
  const std::string prefix = (work / "b1" / "model.ckpt").string();
  {
    ws::bundle::BundleWriter w(prefix);
    w.Add<float>("dense/kernel", {1, 2, 3, 4, 5, 6}, TensorShape{2, 3});
    w.Add<int64_t>("global_step", {42}, TensorShape{});
    w.Add<double>("d", {0.5, -1.5}, TensorShape{2});
    w.Add("flags", std::vector<bool>{true, false, true}, TensorShape{3});
    w.Add<int32_t>("empty", {}, TensorShape{0, 4});
    w.AddStrings("names", TensorShape{3}, std::vector<std::string>{"a", "", "long string value"});
    const std::vector<float> top = {1, 2, 3}, bottom = {4, 5, 6};
    w.AddSlice("part", TensorShape{2, 3}, TensorSlice({{0, 1}, {}}), DataType::kFloat, View(Bytes(top)));
    w.AddSlice("part", TensorShape{2, 3}, TensorSlice({{1, 1}, {}}), DataType::kFloat, View(Bytes(bottom)));
    w.AddStrings(std::string(ws::bundle::kObjectGraphKey), TensorShape{},
                 std::vector<std::string>{ws::proto::EncodeTrackableObjectGraph(SampleGraph())});
    w.Finish();
  }
  std::string framed;
  if (FrameBundle(prefix, &framed)) Write("bundle", "writer_mixed", framed);
  Write("sstable", "writer_mixed_index", ReadFile(ws::bundle::MetaFilename(prefix)));

  // Big-endian header, an entry with a bad size, a shard id past num_shards.
  ws::proto::BundleHeader big;
  big.num_shards = 2;
  big.endianness = 1;
  big.version.producer = 1;
  ws::proto::BundleEntry e;
  e.dtype = 3;
  e.shape.dims = {2};
  e.size = 8;
  const std::string be_data("\x00\x00\x00\x01\x00\x00\x00\x02", 8);
  e.crc32c = ws::core::crc32c::Mask(ws::core::crc32c::Value(reinterpret_cast<const uint8_t*>(be_data.data()), 8));
  Write("bundle", "big_endian_2shards",
        Frame({{"", ws::proto::EncodeBundleHeader(big)}, {"x", ws::proto::EncodeBundleEntry(e)}}, be_data));
  ws::proto::BundleEntry bad = e;
  bad.size = 7;
  bad.shard_id = 3;
  Write("bundle", "bad_size", Frame({{"x", ws::proto::EncodeBundleEntry(bad)}}, be_data));
  Write("bundle", "empty", std::string());
}

void WriteTableSeeds() {
  std::map<std::string, std::string> kv;
  for (int i = 0; i < 40; ++i) kv["key/" + std::to_string(1000 + i)] = std::string(static_cast<size_t>(i), 'v');
  ws::sstable::TableBuilder small_blocks(ws::sstable::TableOptions{64, 4});
  for (const auto& [k, v] : kv) small_blocks.Add(k, View(v));
  Write("sstable", "builder_small_blocks", small_blocks.Finish());
  Write("sstable", "builder_empty", ws::sstable::TableBuilder().Finish());
  Write("sstable", "snappy_blocks", TableWithBlocks(kv, true, 8));
  Write("sstable", "raw_blocks", TableWithBlocks(kv, false, 8));
  // The index of a V2 bundle with Snappy blocks, as old TF and Google builds write.
  std::map<std::string, std::string> index;
  ws::proto::BundleHeader h;
  h.num_shards = 1;
  h.version.producer = 1;
  index[""] = ws::proto::EncodeBundleHeader(h);
  ws::proto::BundleEntry e;
  e.dtype = 1;
  e.shape.dims = {3};
  e.size = 12;
  index["w"] = ws::proto::EncodeBundleEntry(e);
  Write("sstable", "snappy_bundle_index", TableWithBlocks(index, true, 16));

  Write("snappy", "literal_short", SnappyLiteral("hello, snappy"));
  Write("snappy", "literal_long", SnappyLiteral(std::string(200, 'x') + "tail"));
  std::string copies;
  ws::core::PutVarint64(&copies, 4 + 10 + 64 + 64);
  PutLiteral(&copies, "abcd");
  copies += std::string("\x19\x04", 2);               // copy-1: length 10, offset 4
  copies += std::string("\xfe\x0e\x00", 3);           // copy-2: length 64, offset 14
  copies += std::string("\xff\x01\x00\x00\x00", 5);   // copy-4: length 64, offset 1
  Write("snappy", "copies", copies);
  Write("snappy", "empty_stream", std::string(1, '\0'));
  const std::string snappy_table = TableWithBlocks(kv, true, 40);
  Write("snappy", "table_block", snappy_table.substr(0, snappy_table.size() - 48 - 5 - 20));
}

// ---- V1 ----

std::string V1File(bool partitioned) {
  using namespace ws::proto;
  SavedTensorSlices head;
  head.meta.emplace();
  head.meta->versions.producer = 1;
  std::map<std::string, std::string> kv;
  auto add = [&](const std::string& name, int32_t dtype, const TensorShape& shape, const TensorSlice& slice,
                 TensorProto values, bool new_meta) {
    if (new_meta) head.meta->tensor.push_back(SavedSliceMeta{name, shape.ToProto(), dtype, {}});
    head.meta->tensor.back().slice.push_back(slice.ToProto());
    SavedTensorSlices sts;
    sts.data = SavedSlice{name, slice.ToProto(), std::move(values)};
    kv[ws::bundle::EncodeTensorNameSlice(name, slice)] = EncodeSavedTensorSlices(sts);
  };
  TensorProto f;
  f.float_val = {1.5f, 2.5f, -3.0f, 4.0f};
  add("w", 1, TensorShape{2, 2}, TensorSlice::Full(2), f, true);
  TensorProto i64;
  i64.int64_val = {7};
  add("step", 9, TensorShape{}, TensorSlice::Full(0), i64, true);
  TensorProto s;
  s.string_val = {"alpha", "beta"};
  add("vocab", 7, TensorShape{2}, TensorSlice::Full(1), s, true);
  if (partitioned) {
    TensorProto a, b;
    a.double_val = {1, 2};
    b.double_val = {3, 4, 5, 6};
    add("p", 2, TensorShape{3, 2}, TensorSlice({{0, 1}, {}}), a, true);
    add("p", 2, TensorShape{3, 2}, TensorSlice({{1, 2}, {}}), b, false);
  }
  kv[""] = EncodeSavedTensorSlices(head);
  ws::sstable::TableBuilder table;
  for (const auto& [k, v] : kv) table.Add(k, View(v));
  return table.Finish();
}

// ---- text ----

const char* const kPipeline = R"(# a small SSD pipeline
model {
  ssd {
    num_classes: 3
    image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
    feature_extractor { type: "ssd_mobilenet_v2" depth_multiplier: 0.5 min_depth: 8 }
    box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }
    matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 } }
    anchor_generator { ssd_anchor_generator { num_layers: 2 min_scale: 0.2 max_scale: 0.95
                                              aspect_ratios: [1.0, 2.0, 0.5] } }
    post_processing { batch_non_max_suppression { score_threshold: 1e-8 iou_threshold: 0.6
                      max_detections_per_class: 10 max_total_detections: 10 } score_converter: SIGMOID }
  }
}
train_config: {
  batch_size: 4
  optimizer { momentum_optimizer: { learning_rate: { cosine_decay_learning_rate {
    learning_rate_base: .04 total_steps: 1000 warmup_learning_rate: .013 warmup_steps: 100 } }
    momentum_optimizer_value: 0.9 } use_moving_average: false }
  fine_tune_checkpoint: "pretrained/ckpt-0"
  fine_tune_checkpoint_type: 'detection'
  num_steps: 1000
  data_augmentation_options { random_horizontal_flip { } }
}
train_input_reader { label_map_path: "labels.pbtxt" tf_record_input_reader { input_path: "train.record" } }
eval_input_reader: < label_map_path: "labels.pbtxt" shuffle: false num_epochs: 1
  tf_record_input_reader { input_path: ["a.record", "b.record"] } >
)";

const char* const kLabelMap = R"(item { id: 1 name: 'circle' display_name: "Circle" }
item {
  id: 2
  name: "square"
  keypoints { id: 0 label: 'corner' }
}
item: { id: 5, name: "tri\x61ngle\303\251" ; }
)";

const char* const kOddities = R"([ext.pkg.Msg] { a: -inf b: nan c: 0x1F d: 1.5e+3f e: t f: False }
[type.googleapis.com/pkg.Any] < x: "a" 'b' "\n\t\"\001" >
list: [] list2: [{a: 1}, <b: 2>] neg: - 5 u: 18446744073709551615 big: 99999999999999999999
)";

void WriteTextSeeds() {
  Write("text_format", "pipeline_ssd", kPipeline);
  Write("text_format", "label_map", kLabelMap);
  Write("text_format", "oddities", kOddities);
  Write("text_format", "empty", "");
  Write("text_format", "deep", std::string(120, '{'));

  ws::bundle::CheckpointState st;
  st.model_checkpoint_path = "ckpt-4";
  st.all_model_checkpoint_paths = {"ckpt-1", "ckpt-4"};
  st.all_model_checkpoint_timestamps = {1614096307.290289, 1614101458.15835};
  st.last_preserved_timestamp = 1614096304.0404563;
  Write("checkpoint_state", "tf2_manager", ws::bundle::FormatCheckpointState(st));
  ws::bundle::CheckpointState odd;
  odd.model_checkpoint_path = "/abs/dir/model.ckpt-10\n\"q\"\xc3\xa9";
  odd.all_model_checkpoint_paths = {odd.model_checkpoint_path};
  odd.all_model_checkpoint_timestamps = {1e16, 5e-05, -0.0, std::numeric_limits<double>::infinity()};
  odd.last_preserved_timestamp = std::numeric_limits<double>::quiet_NaN();
  Write("checkpoint_state", "escapes_and_doubles", ws::bundle::FormatCheckpointState(odd));
  Write("checkpoint_state", "lenient",
        "# comment\nmodel_checkpoint_path: 'a' , all_model_checkpoint_paths: [\"a\", 'b'];\n"
        "unknown_field { nested < deep: [1, 2.5e3, -inf] > }\nall_model_checkpoint_timestamps: 0x10\n"
        "last_preserved_timestamp: -1.5E+2\n");
}

// ---- object graph and records ----

void WriteGraphAndRecordSeeds() {
  Write("object_graph", "sample", ws::proto::EncodeTrackableObjectGraph(SampleGraph()));
  ws::proto::TrackableObjectGraph cyclic;
  cyclic.nodes.resize(3);
  cyclic.nodes[0].children = {{1, "a", {}}, {2, "b", {}}};
  cyclic.nodes[1].children = {{0, "back", {}}, {2, "c.d/e", {}}};
  cyclic.nodes[2].attributes = {{"VARIABLE_VALUE", "", "a/c..d.Se/.ATTRIBUTES/VARIABLE_VALUE", true, {}}};
  Write("object_graph", "cyclic", ws::proto::EncodeTrackableObjectGraph(cyclic));

  ws::data::DetectionRecord d;
  d.encoded = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(24, '\0');
  d.format = "png";
  d.height = 32;
  d.width = 48;
  d.filename = "img_0.png";
  d.source_id = "0";
  d.boxes = {{0.1f, 0.2f, 0.5f, 0.6f}, {0.0f, 0.0f, 1.0f, 1.0f}};
  d.labels = {1, 2};
  d.texts = {"circle", "square"};
  d.difficult = {0, 1};
  d.is_crowd = {0, 0};
  const std::string detection = ws::data::SerializeDetectionRecord(d);
  ws::data::Example ex;
  ex.features["floats"] = ws::data::Feature::Floats({1.0f, -0.0f, 3.5f});
  ex.features["ints"] = ws::data::Feature::Int64s({-1, 0, 1LL << 40});
  ex.features["bytes"] = ws::data::Feature::Bytes({"x", ""});
  ex.features["none"] = ws::data::Feature();
  ws::data::ExampleEncodeOptions unpacked;
  unpacked.packed = false;
  Write("tfrecord", "example_detection", std::string(1, '\x01') + detection);
  Write("tfrecord", "example_mixed_unpacked", std::string(1, '\x01') + ws::data::EncodeExample(ex, unpacked));
  std::string file;
  ws::data::AppendRecord(&file, detection);
  ws::data::AppendRecord(&file, ws::data::EncodeExample(ex));
  ws::data::AppendRecord(&file, std::string());
  Write("tfrecord", "file_three_records", std::string(1, '\x00') + file);
  Write("tfrecord", "file_truncated", std::string(1, '\x00') + file.substr(0, file.size() - 3));
  Write("tfrecord", "file_gzip", std::string("\x00\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x00\x00", 13));

  Write("v1", "plain", V1File(false));
  Write("v1", "partitioned", V1File(true));
  Write("sstable", "v1_partitioned", V1File(true));
}

// ---- real files ----

void CopyRealFiles(const fs::path& realdata) {
  size_t copied = 0;
  for (const auto& e : fs::recursive_directory_iterator(realdata)) {
    if (!e.is_regular_file() || e.file_size() > kMaxRealFile) continue;
    const fs::path& p = e.path();
    std::string tag = fs::relative(p, realdata).string();
    for (char& c : tag) {
      if (c == '/') c = '_';
    }
    const std::string name = p.filename().string(), ext = p.extension().string();
    const std::string stem = (p.parent_path() / p.stem()).string();
    if (ext == ".index") {
      Write("sstable", "real_" + tag, ReadFile(p));
      std::string framed;
      if (FrameBundle(stem, &framed)) Write("bundle", "real_" + tag, framed);
      try {  // the object graph of a complete TF2 bundle
        const auto reader = ws::bundle::BundleReader<>::Open(stem);
        if (reader.Contains(ws::bundle::kObjectGraphKey)) {
          Write("object_graph", "real_" + tag, reader.ReadStrings(ws::bundle::kObjectGraphKey).at(0));
        }
      } catch (const ws::Error&) {
      }
    } else if (name == "checkpoint") {
      Write("checkpoint_state", "real_" + tag, ReadFile(p));
    } else if (ext == ".config" || ext == ".pbtxt") {
      Write("text_format", "real_" + tag, ReadFile(p));
    } else if (name == "model.ckpt" || name.rfind("export-", 0) == 0) {
      Write("v1", "real_" + tag, ReadFile(p));
      Write("sstable", "real_" + tag, ReadFile(p));
    } else {
      continue;
    }
    ++copied;
  }
  // The first record of the OD API test TFRecord (one pet image, ~90 KiB).
  const fs::path pets = realdata / "od_test_data" / "pets_examples.record";
  if (fs::exists(pets)) {
    try {
      auto reader = ws::data::RecordReader::Open(pets.string());
      std::string record;
      if (reader.Next(&record)) {
        Write("tfrecord", "real_pets_example", std::string(1, '\x01') + record);
        std::string file;
        ws::data::AppendRecord(&file, record);
        Write("tfrecord", "real_pets_file", std::string(1, '\x00') + file);
        copied += 2;
      }
    } catch (const ws::Error&) {
    }
  }
  std::printf("make_corpus: %zu real files from %s\n", copied, realdata.string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR [REALDATA_DIR]\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  const fs::path work = g_out / ".work";
  try {
    fs::remove_all(work);
    WriteBundleSeeds(work);
    WriteTableSeeds();
    WriteTextSeeds();
    WriteGraphAndRecordSeeds();
    if (argc == 3 && std::string(argv[2]).size() > 0 && fs::is_directory(argv[2])) CopyRealFiles(argv[2]);
    fs::remove_all(work);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    return 1;
  }
  std::printf("make_corpus: seed corpora written to %s\n", g_out.string().c_str());
  return 0;
}
