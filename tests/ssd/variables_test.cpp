// ssd::BuildModelSpec: the TF1 SSD variable list from a pipeline.config, checked name by name,
// shape by shape against real zoo and fine-tuned checkpoints (golden listings written by
// TensorFlow), plus depth multipliers, min_depth, use_depthwise, anchors and grids.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/restore/variables.hpp"
#include "warmstart/ssd/variables.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart;
using ssd::GridSize;
using ssd::ModelSpec;

// A model.ssd section with the sample's settings; `fe` goes inside feature_extractor, `bp` inside
// convolutional_box_predictor, `ag` inside ssd_anchor_generator, `top` at model.ssd level.
std::string SsdConfig(const std::string& type, const std::string& fe = "", const std::string& bp = "", const std::string& ag = "",
                      const std::string& top = "") {
  const std::string hp = "conv_hyperparams { activation: RELU_6 regularizer { l2_regularizer { weight: 0.00004 } } "
                         "initializer { truncated_normal_initializer { stddev: 0.03 } } "
                         "batch_norm { train: true scale: true center: true decay: 0.9997 epsilon: 0.001 } }";
  return "model { ssd {\n"
         "  num_classes: 90\n"
         "  image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n"
         "  feature_extractor { type: '" + type + "' min_depth: 16 depth_multiplier: 1.0 " + hp + " " + fe + " }\n"
         "  box_predictor { convolutional_box_predictor { min_depth: 0 max_depth: 0 num_layers_before_predictor: 0 "
         "kernel_size: 1 box_code_size: 4 " + hp + " " + bp + " } }\n"
         "  anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 "
         "aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 " + ag + " } }\n" +
         top + "} }\n";
}

ModelSpec Build(const std::string& text) { return ssd::BuildModelSpec(config::PipelineConfig::Parse(text)); }

// `text` with the first `from` replaced by `to` (a singular field may be written only once).
std::string With(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}
const char kM1[] = "depth_multiplier: 1.0";

const ssd::Variable& Var(const ModelSpec& s, const std::string& name) {
  const ssd::Variable* v = s.Find(name);
  INFO(name);
  REQUIRE(v != nullptr);
  return *v;
}

std::map<std::string, std::vector<int64_t>> Listing(const std::vector<restore::ModelVariable>& vars) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const restore::ModelVariable& v : vars) {
    if (v.name != "global_step") out[v.name] = v.shape;
  }
  return out;
}

// Compares the built list with the checkpoint's model variables and reports every difference.
void CheckAgainstCheckpoint(const fs::path& dir, const std::string& prefix, size_t expected_count) {
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  const bundle::Checkpoint ckpt = bundle::Checkpoint::Open((dir / prefix).string());
  const std::vector<restore::ModelVariable> model = restore::ModelFromCheckpoint(restore::CheckpointListing::FromReader(ckpt));
  const auto want = Listing(model);
  const auto got = Listing(spec.ModelVariables());
  for (const auto& [name, shape] : want) {
    INFO("checkpoint has " << name << " " << restore::ShapeList(shape));
    auto it = got.find(name);
    CHECK(it != got.end());
    if (it != got.end()) CHECK(restore::ShapeList(it->second) == restore::ShapeList(shape));
  }
  for (const auto& [name, shape] : got) {
    INFO("built " << name << " " << restore::ShapeList(shape));
    CHECK(want.count(name) == 1);
  }
  CHECK(got.size() == expected_count);
  CHECK(want.size() == expected_count);
  for (const restore::ModelVariable& v : model) {
    if (v.name == "global_step") continue;
    CHECK(v.dtype == bundle::DataType::kFloat);
  }
  for (const ssd::Variable& v : spec.variables) CHECK(v.dtype == bundle::DataType::kFloat);
  // Names are unique.
  std::set<std::string> names;
  for (const ssd::Variable& v : spec.variables) names.insert(v.name);
  CHECK(names.size() == spec.variables.size());
}

// In a training checkpoint, the variables with an optimizer slot are exactly the trainable ones.
void CheckTrainableAgainstSlots(const fs::path& dir, const std::string& prefix) {
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  const bundle::Checkpoint ckpt = bundle::Checkpoint::Open((dir / prefix).string());
  std::set<std::string> with_slot;
  for (const bundle::Entry& e : ckpt.entries()) {
    const std::string suffix = "/RMSProp";
    if (e.name.size() > suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      with_slot.insert(e.name.substr(0, e.name.size() - suffix.size()));
    }
  }
  std::set<std::string> trainable;
  for (const ssd::Variable& v : spec.variables) {
    if (v.trainable) trainable.insert(v.name);
  }
  CHECK(trainable == with_slot);
}

bool Real(const std::string& name, fs::path* dir) { return test::RequireRealData("checkpoints/" + name, dir); }

}  // namespace

// ---- real checkpoints ---------------------------------------------------------------------

TEST_CASE("ssd variables: zoo ssd_mobilenet_v1_coco_2018_01_28 listing, exactly", "[ssd][realdata]") {
  fs::path dir;
  if (!Real("zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &dir)) return;
  CheckAgainstCheckpoint(dir, "model.ckpt", 199);
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  CHECK(spec.variables.size() == 199);
  CHECK(spec.NumTrainable() == 129);
  CHECK(ssd::AnchorCount(spec) == 1917);
}

TEST_CASE("ssd variables: zoo ssd_mobilenet_v2_coco_2018_03_29 listing (use_depthwise extras), exactly", "[ssd][realdata]") {
  fs::path dir;
  if (!Real("zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29", &dir)) return;
  CheckAgainstCheckpoint(dir, "model.ckpt", 344);
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  CHECK(spec.use_depthwise);
  // The '_3x3_s2_' layer is the 1x1 half of a depthwise-separable conv.
  CHECK(Var(spec, "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512/weights").shape == ssd::Shape{1, 1, 256, 512});
  CHECK(Var(spec, "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512_depthwise/depthwise_weights").shape ==
        ssd::Shape{3, 3, 256, 1});
  CHECK(spec.NumTrainable() == 204 + 4 * 3);
}

TEST_CASE("ssd variables: fine-tuned v1 pitting-corrosion listing and trainable set", "[ssd][realdata]") {
  fs::path dir;
  if (!Real("tf1-od-ssd-mobilenet-v1-pitting-corrosion", &dir)) return;
  CheckAgainstCheckpoint(dir, "model.ckpt-29246", 199);
  CheckTrainableAgainstSlots(dir, "model.ckpt-29246");
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  CHECK(Var(spec, "BoxPredictor_0/ClassPredictor/weights").shape == ssd::Shape{1, 1, 512, 6});
  CHECK(spec.NumTrainable() == 129);
}

TEST_CASE("ssd variables: fine-tuned v2 dzakirin (training and export) listings", "[ssd][realdata]") {
  fs::path dir;
  if (!Real("tf1-od-ssd-mobilenet-v2-dzakirin", &dir)) return;
  CheckAgainstCheckpoint(dir, "model.ckpt-31500", 324);
  CheckTrainableAgainstSlots(dir, "model.ckpt-31500");
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  CHECK_FALSE(spec.use_depthwise);
  CHECK(Var(spec, "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512/weights").shape == ssd::Shape{3, 3, 256, 512});
  CHECK(spec.Find("FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512_depthwise/depthwise_weights") == nullptr);
  CHECK(spec.NumTrainable() == 204);

  fs::path exported;
  if (!Real("tf1-od-export-ssd-mobilenet-v2-dzakirin", &exported)) return;
  CheckAgainstCheckpoint(exported, "model.ckpt", 324);
}

TEST_CASE("ssd variables: fine-tuned v2 handdetect (240x320 input) listing and trainable set", "[ssd][realdata]") {
  fs::path dir;
  if (!Real("tf1-od-ssd-mobilenet-v2-handdetect", &dir)) return;
  CheckAgainstCheckpoint(dir, "model.ckpt-7862", 324);
  CheckTrainableAgainstSlots(dir, "model.ckpt-7862");
  const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
  CHECK(spec.input_height == 240);
  CHECK(spec.input_width == 320);
  CHECK(Var(spec, "BoxPredictor_5/ClassPredictor/biases").shape == ssd::Shape{18});
  const std::vector<GridSize> g = ssd::FeatureMapSizes(spec);
  CHECK(g == std::vector<GridSize>{{15, 20}, {8, 10}, {4, 5}, {2, 3}, {1, 2}, {1, 1}});
  CHECK(ssd::AnchorCount(spec) == 15 * 20 * 3 + (80 + 20 + 6 + 2 + 1) * 6);
}

// ---- the sample layout --------------------------------------------------------------------

TEST_CASE("ssd variables: v1 sample layout, roles, order and feature maps", "[ssd]") {
  const ModelSpec s = Build(SsdConfig("ssd_mobilenet_v1"));
  REQUIRE(s.variables.size() == 199);
  CHECK(s.NumTrainable() == 129);
  CHECK(s.variables.front().name == "FeatureExtractor/MobilenetV1/Conv2d_0/weights");
  CHECK(s.variables.back().name == "BoxPredictor_5/ClassPredictor/biases");
  const ssd::Variable& mm = Var(s, "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean");
  CHECK_FALSE(mm.trainable);
  CHECK(mm.role == ssd::VariableRole::kBatchNormMovingMean);
  const ssd::Variable& dw = Var(s, "FeatureExtractor/MobilenetV1/Conv2d_12_depthwise/depthwise_weights");
  CHECK(dw.shape == ssd::Shape{3, 3, 512, 1});
  CHECK(dw.role == ssd::VariableRole::kDepthwiseWeights);
  const ssd::Layer& l12 = s.layers[dw.layer];
  CHECK(l12.op == ssd::LayerOp::kDepthwiseConv2d);
  CHECK(l12.stride == 2);
  CHECK(l12.part == ssd::ModelPart::kBody);
  CHECK(ssd::DescribeLayer(l12) == "depthwise 3x3 s2 512, batch norm, RELU_6");
  const ssd::Layer& head = s.layers[Var(s, "BoxPredictor_0/BoxEncodingPredictor/weights").layer];
  CHECK(head.biases);
  CHECK_FALSE(head.batch_norm.present);
  CHECK(head.activation == "NONE");
  CHECK(head.input == -1);
  CHECK(head.input_feature_map == 0);
  CHECK(Var(s, "BoxPredictor_0/ClassPredictor/weights").shape == ssd::Shape{1, 1, 512, 273});
  CHECK(Var(s, "BoxPredictor_3/ClassPredictor/weights").shape == ssd::Shape{1, 1, 256, 546});

  REQUIRE(s.feature_maps.size() == 6);
  std::vector<std::string> keys;
  std::vector<int64_t> depths, anchors;
  for (const ssd::FeatureMap& f : s.feature_maps) {
    keys.push_back(f.key);
    depths.push_back(f.depth);
    anchors.push_back(f.anchors_per_location);
  }
  CHECK(keys == std::vector<std::string>{"Conv2d_11_pointwise", "Conv2d_13_pointwise", "Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_512",
                                         "Conv2d_13_pointwise_2_Conv2d_3_3x3_s2_256", "Conv2d_13_pointwise_2_Conv2d_4_3x3_s2_256",
                                         "Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_128"});
  CHECK(depths == std::vector<int64_t>{512, 1024, 512, 256, 256, 128});
  CHECK(anchors == std::vector<int64_t>{3, 6, 6, 6, 6, 6});
  CHECK(s.layers[s.feature_maps[0].layer].name == "Conv2d_11_pointwise");
  CHECK(s.layers[s.feature_maps[0].layer].feature_map == 0);
}

TEST_CASE("ssd variables: 300x300 grids 19/10/5/3/2/1 and 1917 anchors", "[ssd]") {
  for (const char* type : {"ssd_mobilenet_v1", "ssd_mobilenet_v2"}) {
    INFO(type);
    const ModelSpec s = Build(SsdConfig(type));
    const std::vector<GridSize> g = ssd::FeatureMapSizes(s);
    CHECK(g == std::vector<GridSize>{{19, 19}, {10, 10}, {5, 5}, {3, 3}, {2, 2}, {1, 1}});
    CHECK(ssd::AnchorCount(s) == 1917);
    CHECK(ssd::AnchorCount(s, 300, 300) == 1917);
  }
}

TEST_CASE("ssd variables: non-square input and pad_to_multiple", "[ssd]") {
  const ModelSpec s = Build(SsdConfig("ssd_mobilenet_v1"));
  // 480 x 640: 30x40, 15x20, 8x10, 4x5, 2x3, 1x2.
  CHECK(ssd::FeatureMapSizes(s, 480, 640) == std::vector<GridSize>{{30, 40}, {15, 20}, {8, 10}, {4, 5}, {2, 3}, {1, 2}});
  CHECK(ssd::AnchorCount(s, 480, 640) == 30 * 40 * 3 + (300 + 80 + 20 + 6 + 2) * 6);
  // An odd size: ceil at every stride-2 layer (SAME).
  CHECK(ssd::FeatureMapSizes(s, 33, 301)[0] == GridSize{3, 19});

  const ModelSpec p = Build(SsdConfig("ssd_mobilenet_v1", "pad_to_multiple: 32"));
  CHECK(ssd::FeatureMapSizes(p, 300, 300)[0] == GridSize{20, 20});  // padded to 320
  CHECK_THROWS_AS(ssd::FeatureMapSizes(s, 32, 300), ArgumentError);

  const ModelSpec keep = Build(
      "model { ssd { num_classes: 2 image_resizer { keep_aspect_ratio_resizer { min_dimension: 300 max_dimension: 600 } }\n"
      "feature_extractor { type: 'ssd_mobilenet_v1' min_depth: 16 depth_multiplier: 1.0 }\n"
      "box_predictor { convolutional_box_predictor { kernel_size: 1 } }\n"
      "anchor_generator { ssd_anchor_generator { num_layers: 6 aspect_ratios: 1.0 } } } }\n");
  CHECK(keep.input_height == 0);
  CHECK_THROWS_WITH(ssd::FeatureMapSizes(keep), Catch::Contains("not a fixed_shape_resizer"));
  CHECK(ssd::FeatureMapSizes(keep, 300, 500).size() == 6);
}

// ---- depth multipliers and min_depth --------------------------------------------------------

TEST_CASE("ssd variables: v1 depth multipliers change extra-layer names", "[ssd]") {
  SECTION("0.75") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v1"), kM1, "depth_multiplier: 0.75"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").shape == ssd::Shape{3, 3, 3, 24});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise/weights").shape == ssd::Shape{1, 1, 768, 768});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_192/weights").shape == ssd::Shape{1, 1, 768, 192});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_384/weights").shape == ssd::Shape{3, 3, 192, 384});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_5_1x1_48/weights").shape == ssd::Shape{1, 1, 192, 48});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_96/weights").shape == ssd::Shape{3, 3, 48, 96});
    CHECK(Var(s, "BoxPredictor_0/BoxEncodingPredictor/weights").shape == ssd::Shape{1, 1, 384, 12});
    CHECK(s.variables.size() == 199);
  }
  SECTION("0.5") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v1"), kM1, "depth_multiplier: 0.5"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_1_pointwise/weights").shape == ssd::Shape{1, 1, 16, 32});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_128/weights").shape == ssd::Shape{1, 1, 512, 128});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_64/weights").shape == ssd::Shape{3, 3, 32, 64});
  }
  SECTION("0.25 with min_depth 16 clamps") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v1"), kM1, "depth_multiplier: 0.25"));
    // 32 * 0.25 = 8 -> 16; 64 * 0.25 = 16.
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").shape == ssd::Shape{3, 3, 3, 16});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_1_pointwise/weights").shape == ssd::Shape{1, 1, 16, 16});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_64/weights").shape == ssd::Shape{1, 1, 256, 64});
    // 128 / 2 * 0.25 = 16; 128 * 0.25 = 32.
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_5_1x1_16/weights").shape == ssd::Shape{1, 1, 64, 16});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_32/weights").shape == ssd::Shape{3, 3, 16, 32});
  }
  SECTION("0.25 with min_depth 64") {
    const ModelSpec s = Build(With(With(SsdConfig("ssd_mobilenet_v1"), kM1, "depth_multiplier: 0.25"), "min_depth: 16", "min_depth: 64"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").shape == ssd::Shape{3, 3, 3, 64});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_5_1x1_64/weights").shape == ssd::Shape{1, 1, 64, 64});
    CHECK(Var(s, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_5_3x3_s2_64/weights").shape == ssd::Shape{3, 3, 64, 64});
  }
}

TEST_CASE("ssd variables: v2 depth multipliers round with _make_divisible(8)", "[ssd]") {
  SECTION("0.75") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v2"), kM1, "depth_multiplier: 0.75"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv/weights").shape == ssd::Shape{3, 3, 3, 24});
    // 16 * 0.75 = 12 -> 16 (nearest multiple of 8, min_depth 16); 24 * 0.75 = 18 -> 16, which is
    // below 90% of 18, so 24.
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/expanded_conv/project/weights").shape == ssd::Shape{1, 1, 24, 16});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/expanded_conv_1/project/weights").shape == ssd::Shape{1, 1, 96, 24});
    // 96 * 0.75 = 72; expansion 72 * 6 = 432 (layer_15/expansion_output).
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/expanded_conv_13/expand/weights").shape == ssd::Shape{1, 1, 72, 432});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv_1/weights").shape == ssd::Shape{1, 1, 240, 960});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/layer_19_1_Conv2d_2_1x1_192/weights").shape == ssd::Shape{1, 1, 960, 192});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_384/weights").shape == ssd::Shape{3, 3, 192, 384});
    CHECK(s.feature_maps[0].depth == 432);
    CHECK(s.variables.size() == 324);
  }
  SECTION("0.5") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v2"), kM1, "depth_multiplier: 0.5"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv/weights").shape == ssd::Shape{3, 3, 3, 16});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/expanded_conv/depthwise/depthwise_weights").shape == ssd::Shape{3, 3, 16, 1});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/expanded_conv_16/project/weights").shape == ssd::Shape{1, 1, 480, 160});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv_1/weights").shape == ssd::Shape{1, 1, 160, 640});
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/layer_19_1_Conv2d_2_1x1_128/weights").shape == ssd::Shape{1, 1, 640, 128});
  }
  SECTION("0.35: 32 * 0.35 = 11.2 rounds to 8, then up to 16 (min_depth)") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v2"), kM1, "depth_multiplier: 0.35"));
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv/weights").shape == ssd::Shape{3, 3, 3, 16});
    // 320 * 0.35 = 112 -> 112; 1280 * 0.35 = 448.
    CHECK(Var(s, "FeatureExtractor/MobilenetV2/Conv_1/weights").shape == ssd::Shape{1, 1, 112, 448});
  }
  SECTION("V2 block structure") {
    const ModelSpec s = Build(SsdConfig("ssd_mobilenet_v2"));
    CHECK(s.Find("FeatureExtractor/MobilenetV2/expanded_conv/expand/weights") == nullptr);
    CHECK(s.Find("FeatureExtractor/MobilenetV2/expanded_conv_1/expand/weights") != nullptr);
    const ssd::Layer& p2 = s.layers[Var(s, "FeatureExtractor/MobilenetV2/expanded_conv_2/project/weights").layer];
    CHECK(p2.activation == "NONE");
    REQUIRE(p2.residual_input >= 0);
    CHECK(s.layers[static_cast<size_t>(p2.residual_input)].scope == "FeatureExtractor/MobilenetV2/expanded_conv_1/project");
    const ssd::Layer& p1 = s.layers[Var(s, "FeatureExtractor/MobilenetV2/expanded_conv_1/project/weights").layer];
    CHECK(p1.residual_input == -1);  // stride 2
    CHECK(s.feature_maps[0].key == "layer_15/expansion_output");
    CHECK(s.layers[s.feature_maps[0].layer].scope == "FeatureExtractor/MobilenetV2/expanded_conv_13/expand");
    CHECK(s.feature_maps[1].key == "layer_19");
    CHECK(s.feature_maps[2].key == "layer_19_2_Conv2d_2_3x3_s2_512");
  }
}

// ---- use_depthwise, batch norm rules, predictor options ----------------------------------------

TEST_CASE("ssd variables: use_depthwise extra layers", "[ssd]") {
  const ModelSpec s = Build(SsdConfig("ssd_mobilenet_v1", "use_depthwise: true"));
  CHECK(s.variables.size() == 199 + 4 * 5);
  const std::string p = "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_2_Conv2d_3_3x3_s2_256";
  CHECK(Var(s, p + "_depthwise/depthwise_weights").shape == ssd::Shape{3, 3, 128, 1});
  CHECK(Var(s, p + "_depthwise/BatchNorm/gamma").shape == ssd::Shape{128});
  CHECK(Var(s, p + "/weights").shape == ssd::Shape{1, 1, 128, 256});
  CHECK(s.layers[Var(s, p + "_depthwise/depthwise_weights").layer].stride == 2);
  CHECK(s.layers[Var(s, p + "/weights").layer].stride == 1);
  CHECK(s.feature_maps[3].key == "Conv2d_13_pointwise_2_Conv2d_3_3x3_s2_256");
  CHECK(ssd::AnchorCount(s) == 1917);
}

TEST_CASE("ssd variables: batch-norm gamma and biases follow conv_hyperparams", "[ssd]") {
  std::string text = SsdConfig("ssd_mobilenet_v1");
  // The feature extractor's batch_norm is the first; turn its scale off.
  const size_t at = text.find("scale: true");
  text.replace(at, 11, "scale: false");
  const ModelSpec s = Build(text);
  // Body keeps gamma (mobilenet_v1_arg_scope), extras lose it.
  CHECK(s.Find("FeatureExtractor/MobilenetV1/Conv2d_5_pointwise/BatchNorm/gamma") != nullptr);
  CHECK(s.Find("FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/BatchNorm/gamma") == nullptr);
  CHECK(s.Find("FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/BatchNorm/beta") != nullptr);
  CHECK(s.variables.size() == 199 - 8);

  std::string over = text;
  over.replace(over.find("depth_multiplier: 1.0"), 21, "depth_multiplier: 1.0 override_base_feature_extractor_hyperparams: true");
  const ModelSpec o = Build(over);
  CHECK(o.Find("FeatureExtractor/MobilenetV1/Conv2d_5_pointwise/BatchNorm/gamma") == nullptr);
  CHECK(o.variables.size() == 199 - 8 - 27);

  // No batch_norm in the extractor's hyperparams: extras get biases, no BatchNorm.
  const ModelSpec n = Build(
      "model { ssd { num_classes: 1 image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n"
      "feature_extractor { type: 'ssd_mobilenet_v1' min_depth: 16 depth_multiplier: 1.0 conv_hyperparams { activation: RELU_6 } }\n"
      "box_predictor { convolutional_box_predictor { kernel_size: 3 } }\n"
      "anchor_generator { ssd_anchor_generator { num_layers: 6 aspect_ratios: 1.0 aspect_ratios: 2.0 } } } }\n");
  CHECK(Var(n, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/biases").shape == ssd::Shape{256});
  CHECK(n.Find("FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/BatchNorm/beta") == nullptr);
  CHECK(n.Find("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma") != nullptr);
  // Anchors: 3 in the reduced lowest layer, 2 + 1 interpolated elsewhere; kernel 3.
  CHECK(Var(n, "BoxPredictor_1/ClassPredictor/weights").shape == ssd::Shape{3, 3, 1024, 6});
  CHECK(Var(n, "BoxPredictor_0/ClassPredictor/weights").shape == ssd::Shape{3, 3, 512, 6});

  // The v2 body keeps batch norm with gamma even when overridden (V2_DEF's arg_scope is innermost).
  std::string v2 = SsdConfig("ssd_mobilenet_v2", "override_base_feature_extractor_hyperparams: true");
  v2.replace(v2.find("scale: true"), 11, "scale: false");
  const ModelSpec v = Build(v2);
  CHECK(v.Find("FeatureExtractor/MobilenetV2/expanded_conv_3/expand/BatchNorm/gamma") != nullptr);
  CHECK(v.Find("FeatureExtractor/MobilenetV2/layer_19_1_Conv2d_2_1x1_256/BatchNorm/gamma") == nullptr);
}

TEST_CASE("ssd variables: box predictor options", "[ssd]") {
  SECTION("layers before the predictor") {
    const ModelSpec s = Build(With(With(SsdConfig("ssd_mobilenet_v1"), "max_depth: 0", "max_depth: 256"), "num_layers_before_predictor: 0",
                                   "num_layers_before_predictor: 2"));
    // depth = max(min(C, 256), 0): 256 for maps of 512/1024/256, 128 for the last.
    CHECK(Var(s, "BoxPredictor_0/Conv2d_0_1x1_256/weights").shape == ssd::Shape{1, 1, 512, 256});
    CHECK(Var(s, "BoxPredictor_0/Conv2d_1_1x1_256/weights").shape == ssd::Shape{1, 1, 256, 256});
    CHECK(Var(s, "BoxPredictor_0/Conv2d_1_1x1_256/BatchNorm/gamma").shape == ssd::Shape{256});
    CHECK(Var(s, "BoxPredictor_5/Conv2d_0_1x1_128/weights").shape == ssd::Shape{1, 1, 128, 128});
    CHECK(Var(s, "BoxPredictor_0/ClassPredictor/weights").shape == ssd::Shape{1, 1, 256, 273});
  }
  SECTION("use_depthwise heads") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v1", "", "use_depthwise: true"), "kernel_size: 1", "kernel_size: 3"));
    CHECK(Var(s, "BoxPredictor_2/BoxEncodingPredictor_depthwise/depthwise_weights").shape == ssd::Shape{3, 3, 512, 1});
    CHECK(Var(s, "BoxPredictor_2/BoxEncodingPredictor_depthwise/BatchNorm/gamma").shape == ssd::Shape{512});
    CHECK(Var(s, "BoxPredictor_2/BoxEncodingPredictor/weights").shape == ssd::Shape{1, 1, 512, 24});
    CHECK(Var(s, "BoxPredictor_2/ClassPredictor_depthwise/depthwise_weights").shape == ssd::Shape{3, 3, 512, 1});
    CHECK(Var(s, "BoxPredictor_2/ClassPredictor/weights").shape == ssd::Shape{1, 1, 512, 546});
  }
  SECTION("no background class, box code size, no interpolated anchor, unreduced lowest layer") {
    const ModelSpec s = Build(SsdConfig("ssd_mobilenet_v1", "", "",
                                        "interpolated_scale_aspect_ratio: 0.0 reduce_boxes_in_lowest_layer: false",
                                        "add_background_class: false"));
    CHECK(s.num_class_slots == 90);
    CHECK(Var(s, "BoxPredictor_0/ClassPredictor/weights").shape == ssd::Shape{1, 1, 512, 450});
    CHECK(Var(s, "BoxPredictor_0/BoxEncodingPredictor/weights").shape == ssd::Shape{1, 1, 512, 20});
    CHECK(ssd::AnchorCount(s) == (361 + 100 + 25 + 9 + 4 + 1) * 5);
  }
  SECTION("a single feature map has no BoxPredictor_<i> scope") {
    const ModelSpec s = Build(With(SsdConfig("ssd_mobilenet_v1", "num_layers: 1"), "num_layers: 6", "num_layers: 1"));
    CHECK(s.feature_maps.size() == 1);
    CHECK(Var(s, "BoxEncodingPredictor/weights").shape == ssd::Shape{1, 1, 512, 12});
    CHECK(s.Find("FeatureExtractor/MobilenetV1/Conv2d_13_pointwise/weights") != nullptr);  // the body is built in full
    CHECK(s.variables.size() == 135 + 4);
  }
  SECTION("anchor layers must match the feature maps") {
    CHECK_THROWS_WITH(Build(With(SsdConfig("ssd_mobilenet_v1"), "num_layers: 6", "num_layers: 5")),
                      Catch::Contains("gives 5 anchor layers but the feature extractor makes 6 feature maps"));
  }
}

// ---- unsupported ---------------------------------------------------------------------------

TEST_CASE("ssd variables: unsupported configs name what is supported", "[ssd]") {
  CHECK_THROWS_WITH(Build(SsdConfig("ssd_resnet50_v1_fpn")),
                    "model.ssd.feature_extractor.type \"ssd_resnet50_v1_fpn\" is not supported by the SSD model builder "
                    "(supported: ssd_mobilenet_v1, ssd_mobilenet_v2)");
  CHECK_THROWS_AS(Build(SsdConfig("ssd_mobilenet_v2_keras")), ArgumentError);
  CHECK_THROWS_WITH(Build("model { ssd { num_classes: 3 feature_extractor { type: 'ssd_mobilenet_v1' }\n"
                          "box_predictor { weight_shared_convolutional_box_predictor { depth: 256 } } } }\n"),
                    Catch::Contains("weight_shared_convolutional_box_predictor; the SSD model builder supports convolutional_box_predictor"));
  CHECK_THROWS_WITH(Build("model { faster_rcnn { num_classes: 3 } }\n"), Catch::Contains("needs model.ssd, found model.faster_rcnn"));
}
