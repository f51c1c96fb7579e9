// warmstart model run, as a user runs it: a small model saved by our writer and an image we
// encode give detections whose raw predictions equal the library's own forward pass; the zoo
// SSD MobileNet V1 (COCO) finds the cat or dog in a real Oxford-IIIT Pets photo.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "fixtures.hpp"
#include "realdata.hpp"
#include "warmstart/config/label_map.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/interop/npy.hpp"
#include "warmstart/proto/wire.hpp"
#include "warmstart/ssd/checkpoint.hpp"
#include "warmstart/ssd/model.hpp"
#include "warmstart/ssd/variables.hpp"
#if WARMSTART_HAVE_STB
#include "warmstart/image/decode.hpp"
#include "warmstart/image/image.hpp"
#endif

namespace {

namespace fs = std::filesystem;
using warmstart::test::TempDir;
using warmstart::test::WriteFile;
using namespace warmstart::test::cli;

std::string SmallConfig(const std::string& resizer = "fixed_shape_resizer { height: 96 width: 128 }") {
  return "model { ssd {\n"
         "  num_classes: 3\n"
         "  image_resizer { " + resizer + " }\n"
         "  feature_extractor { type: 'ssd_mobilenet_v1' min_depth: 8 depth_multiplier: 0.25\n"
         "    conv_hyperparams { activation: RELU_6 batch_norm { scale: true center: true decay: 0.9 epsilon: 0.001 }\n"
         "      initializer { truncated_normal_initializer { stddev: 0.09 } } regularizer { l2_regularizer { weight: 0.00004 } } } }\n"
         "  box_coder { faster_rcnn_box_coder { y_scale: 10.0 x_scale: 10.0 height_scale: 5.0 width_scale: 5.0 } }\n"
         "  matcher { argmax_matcher { matched_threshold: 0.5 unmatched_threshold: 0.5 } }\n"
         "  similarity_calculator { iou_similarity { } }\n"
         "  box_predictor { convolutional_box_predictor { kernel_size: 1 box_code_size: 4\n"
         "    conv_hyperparams { activation: RELU_6 batch_norm { scale: true center: true }\n"
         "      initializer { truncated_normal_initializer { stddev: 0.03 } } regularizer { l2_regularizer { weight: 0.00004 } } } } }\n"
         "  anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 aspect_ratios: 1.0\n"
         "    aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 } }\n"
         "  post_processing { batch_non_max_suppression { score_threshold: 0.3 iou_threshold: 0.6\n"
         "    max_detections_per_class: 5 max_total_detections: 7 } score_converter: SIGMOID }\n"
         "  loss { classification_loss { weighted_sigmoid { } } localization_loss { weighted_smooth_l1 { } }\n"
         "    classification_weight: 1.0 localization_weight: 1.0 }\n"
         "} }\n";
}

// One member of an .npz, as (shape, floats).
struct NpzMember {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

NpzMember ReadMember(const std::string& path, const std::string& name) {
  const warmstart::interop::NpzReader npz = warmstart::interop::NpzReader::Open(path);
  for (size_t i = 0; i < npz.names().size(); ++i) {
    if (npz.names()[i] != name) continue;
    std::string scratch;
    const warmstart::interop::NpyArray a = npz.Read(i, &scratch);
    REQUIRE(a.dtype == warmstart::bundle::DataType::kFloat);
    NpzMember m;
    m.shape = a.shape.dims();
    m.values.resize(a.data.size() / sizeof(float));
    std::memcpy(m.values.data(), a.data.data(), m.values.size() * sizeof(float));
    return m;
  }
  FAIL("no member " << name << " in " << path);
  return {};
}

#if WARMSTART_HAVE_STB

// A 160x120 picture: a gradient with a bright square, so that the resize has work to do.
warmstart::image::Image TestPicture() {
  warmstart::image::Image im = warmstart::image::Image::Zeros(120, 160, 3);
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      const bool square = y > 30 && y < 80 && x > 50 && x < 110;
      im.at(y, x, 0) = static_cast<uint8_t>(square ? 240 : x);
      im.at(y, x, 1) = static_cast<uint8_t>(square ? 200 : y * 2);
      im.at(y, x, 2) = static_cast<uint8_t>((x + y) % 256);
    }
  }
  return im;
}

// The first record's image/encoded of a TFRecord of tf.Example (framing crcs not checked here:
// the reader of record files is tested on its own).
std::string FirstEncodedImage(const fs::path& record) {
  std::ifstream in(record, std::ios::binary);
  std::string header(12, '\0');
  REQUIRE(in.read(&header[0], 12));
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(header[static_cast<size_t>(i)]);
  REQUIRE(length < (64u << 20));
  std::string example(length, '\0');
  REQUIRE(in.read(&example[0], static_cast<std::streamsize>(length)));
  namespace wp = warmstart::proto;
  const warmstart::ErrorContext ctx(record.string());
  wp::MessageReader ex(warmstart::core::ByteView(example), ctx, 12, "Example");
  wp::Field f;
  while (ex.Next(&f)) {
    if (f.number != 1) continue;  // features
    wp::MessageReader features(f.bytes, ctx, 0, "Features");
    wp::Field entry;
    while (features.Next(&entry)) {
      if (entry.number != 1) continue;  // map<string, Feature> feature
      wp::MessageReader kv(entry.bytes, ctx, 0, "FeatureEntry");
      wp::Field part;
      std::string key;
      warmstart::core::ByteView value;
      while (kv.Next(&part)) {
        if (part.number == 1) key.assign(reinterpret_cast<const char*>(part.bytes.data()), part.bytes.size());
        if (part.number == 2) value = part.bytes;
      }
      if (key != "image/encoded") continue;
      wp::MessageReader feature(value, ctx, 0, "Feature");
      wp::Field list;
      while (feature.Next(&list)) {
        if (list.number != 1) continue;  // bytes_list
        wp::MessageReader bytes(list.bytes, ctx, 0, "BytesList");
        wp::Field b;
        while (bytes.Next(&b)) {
          if (b.number == 1) return std::string(reinterpret_cast<const char*>(b.bytes.data()), b.bytes.size());
        }
      }
    }
  }
  FAIL("no image/encoded in the first record of " << record);
  return {};
}

#endif

}  // namespace

TEST_CASE("warmstart model run: detections and raw predictions of a model saved by our writer", "[cli][model_run]") {
  if (!RequireCli()) return;
#if !WARMSTART_HAVE_STB
  WARN("SKIP: built without libstb (libstb-dev): model run cannot decode images");
#else
  namespace ws = warmstart;
  TempDir dir;
  const std::string config = (dir / "pipeline.config").string();
  WriteFile(config, SmallConfig());
  const ws::config::PipelineConfig cfg = ws::config::PipelineConfig::Load(config);
  ws::ssd::SsdModel<float> model(ws::ssd::BuildModelSpec(cfg));
  model.Initialize(11);
  // Non-trivial moving statistics, so that inference mode is visible in the numbers.
  for (ws::nn::Parameter<float>* p : model.parameters().all()) {
    if (p->name.find("moving_mean") != std::string::npos) p->value.setConstant(0.05f);
    if (p->name.find("moving_variance") != std::string::npos) p->value.setConstant(1.5f);
  }
  const std::string prefix = (dir / "model.ckpt-7").string();
  ws::ssd::SaveCheckpoint(model.parameters(), prefix, 7);
  const std::string image = (dir / "picture.png").string();
  ws::image::WritePng(image, TestPicture());
  const std::string raw = (dir / "raw.npz").string();

  const Run r = RunCli({"model", "run", "--config", config, "--checkpoint", prefix, "--image", image, "--json", "--raw",
                        raw, "--threads", "2"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["image_size"] == nlohmann::json::array({120, 160}));
  CHECK(doc["input_size"] == nlohmann::json::array({96, 128}));
  // 96x128 input: grids 6x8, 3x4, 2x2, 1x1, 1x1, 1x1 (3 anchors on the first map, 6 after).
  CHECK(doc["num_anchors"] == 6 * 8 * 3 + (3 * 4 + 2 * 2 + 1 + 1 + 1) * 6);
  REQUIRE(doc["detections"].is_array());
  CHECK(doc["detections"].size() <= 7u);
  for (const auto& d : doc["detections"]) {
    CHECK(d["class_id"].get<int>() >= 1);
    CHECK(d["class_id"].get<int>() <= 3);
    CHECK(d["score"].get<double>() > 0.3);
    CHECK(d["box"].size() == 4u);
    CHECK(d["class_name"].is_null());
  }

  // The raw predictions are the library's forward pass on the same preprocessed image.
  model.set_batch_norm_mode(ws::nn::BatchNormMode::kInference);
  const ws::nn::Tensor4<float> input = ws::image::PreprocessSsd(ws::image::DecodeImageFile(image), 96, 128);
  const ws::ssd::SsdPredictions<float> expected = model.Forward(ws::nn::Context(1), input);
  const NpzMember box = ReadMember(raw, "box_encodings");
  const NpzMember cls = ReadMember(raw, "class_predictions");
  REQUIRE(box.shape == std::vector<int64_t>{1, expected.box_encodings[0].rows(), 4});
  REQUIRE(cls.shape == std::vector<int64_t>{1, expected.class_predictions[0].rows(), 4});
  const float* got_box = box.values.data();
  const float* got_cls = cls.values.data();
  double worst = 0;
  for (Eigen::Index i = 0; i < expected.box_encodings[0].size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(got_box[i] - expected.box_encodings[0].data()[i])));
  }
  for (Eigen::Index i = 0; i < expected.class_predictions[0].size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(got_cls[i] - expected.class_predictions[0].data()[i])));
  }
  CHECK(worst < 1e-4);

  // The text form: a header line, a table and the count.
  const Run text = RunCli({"model", "run", "--config", config, "--checkpoint", prefix, "--image", image});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("160x120 resized to 128x96") != std::string::npos);
  CHECK(text.out.find("(global_step 7)") != std::string::npos);
  CHECK(text.out.find("detections (score > 0.3") != std::string::npos);
#endif
}

TEST_CASE("warmstart model run: errors name the file, usage errors exit 2", "[cli][model_run]") {
  if (!RequireCli()) return;
  TempDir dir;
  const std::string config = (dir / "pipeline.config").string();
  WriteFile(config, SmallConfig());
  WriteFile(dir / "not_an_image.png", "hello");
  const Run usage = RunCli({"model", "run", "--config", config, "--checkpoint", "x"});
  CHECK(usage.exit_code == 2);
#if WARMSTART_HAVE_STB
  // No checkpoint there.
  const Run missing = RunCli({"model", "run", "--config", config, "--checkpoint", (dir / "nothing").string(), "--image",
                              (dir / "not_an_image.png").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nothing") != std::string::npos);
  // A checkpoint that lacks the model's variables: each is named.
  warmstart::ssd::SaveCheckpoint(warmstart::nn::ParameterList<float>(), (dir / "other").string(), 1);
  const Run partial = RunCli({"model", "run", "--config", config, "--checkpoint", (dir / "other").string(), "--image",
                              (dir / "not_an_image.png").string()});
  CHECK(partial.exit_code == 1);
  CHECK(partial.err.find("FeatureExtractor/MobilenetV1/Conv2d_0/weights") != std::string::npos);
  // A resizer without a fixed size.
  WriteFile(dir / "keep.config",
            SmallConfig("keep_aspect_ratio_resizer { min_dimension: 100 max_dimension: 200 }"));
  const Run keep = RunCli({"model", "run", "--config", (dir / "keep.config").string(), "--checkpoint", "x", "--image",
                           (dir / "not_an_image.png").string()});
  CHECK(keep.exit_code == 1);
  CHECK(keep.err.find("fixed_shape_resizer") != std::string::npos);
#endif
}

TEST_CASE("warmstart model run: the zoo SSD MobileNet V1 config on a real Pets JPEG", "[cli][model_run][realdata]") {
  if (!RequireCli()) return;
#if !WARMSTART_HAVE_STB
  WARN("SKIP: built without libstb (libstb-dev): model run cannot decode images");
#else
  // The zoo folders hold the checkpoint index only (no weights), so the weights are ours,
  // saved under the zoo's names; the config, the label map and the photo are real.
  namespace ws = warmstart;
  fs::path zoo, record, labels;
  if (!ws::test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &zoo)) return;
  if (!ws::test::RequireRealData("od_test_data/pets_examples.record", &record)) return;
  if (!ws::test::RequireRealData("od_test_data/mscoco_label_map.pbtxt", &labels)) return;
  TempDir dir;
  const std::string image = (dir / "pet.jpg").string();
  WriteFile(image, FirstEncodedImage(record));
  const std::string config = (zoo / "pipeline.config").string();
  ws::ssd::SsdModel<float> model(ws::ssd::LoadModelSpec(config));
  model.Initialize(3);
  const std::string prefix = (dir / "model.ckpt").string();
  ws::ssd::SaveCheckpoint(model.parameters(), prefix, 0);
  const std::string raw = (dir / "raw.npz").string();
  const Run r = RunCli({"model", "run", "--config", config, "--checkpoint", prefix, "--image", image, "--label-map",
                        labels.string(), "--json", "--raw", raw});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc["num_anchors"] == 1917);
  CHECK(doc["input_size"] == nlohmann::json::array({300, 300}));
  CHECK(doc["image_size"][0].get<int>() > 100);
  // score_threshold 1e-8 and max_total_detections 100 in the zoo config.
  CHECK(doc["detections"].size() == 100u);
  const ws::config::LabelMap map = ws::config::LabelMap::Load(labels);
  for (const auto& d : doc["detections"]) {
    const ws::config::LabelMapItem* item = map.FindById(d["class_id"].get<int>());
    if (item == nullptr) {
      CHECK(d["class_name"].is_null());
    } else {
      CHECK(d["class_name"] == (item->display_name.empty() ? item->name : item->display_name));
    }
  }
  CHECK(ReadMember(raw, "class_predictions").shape == std::vector<int64_t>{1, 1917, 91});
  CHECK(ReadMember(raw, "box_encodings").shape == std::vector<int64_t>{1, 1917, 4});
#endif
}
