// warmstart model vars, run as a user runs it: the table, the JSON contract (inspect-like
// entries plus trainable), exit codes and errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "fixtures.hpp"
#include "realdata.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::test::TempDir;
using warmstart::test::WriteFile;
using namespace warmstart::test::cli;

std::string Config(const std::string& type) {
  return "model { ssd {\n"
         "  num_classes: 3\n"
         "  image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n"
         "  feature_extractor { type: '" + type + "' min_depth: 16 depth_multiplier: 1.0\n"
         "    conv_hyperparams { activation: RELU_6 batch_norm { scale: true center: true } } }\n"
         "  box_predictor { convolutional_box_predictor { kernel_size: 1 box_code_size: 4\n"
         "    conv_hyperparams { activation: RELU_6 batch_norm { scale: true center: true } } } }\n"
         "  anchor_generator { ssd_anchor_generator { num_layers: 6 aspect_ratios: 1.0 aspect_ratios: 2.0\n"
         "    aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 } }\n"
         "} }\n";
}

}  // namespace

TEST_CASE("warmstart model vars: table with roles, feature maps and anchors") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteFile(dir / "pipeline.config", Config("ssd_mobilenet_v1"));
  const Run r = RunCli({"model", "vars", "--config", (dir / "pipeline.config").string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() > 200);
  CHECK(lines[0].rfind("variable", 0) == 0);
  CHECK(lines[1].rfind("FeatureExtractor/MobilenetV1/Conv2d_0/weights", 0) == 0);
  CHECK(lines[1].find("[3, 3, 3, 32]") != std::string::npos);
  CHECK(lines[1].find("weights of body conv 3x3 s2 3->32, batch norm, RELU_6") != std::string::npos);
  CHECK(r.out.find("199 variables (129 trainable), ssd_mobilenet_v1") != std::string::npos);
  CHECK(r.out.find("feature map 0: Conv2d_11_pointwise, depth 512, 3 anchors per location, grid 19x19") != std::string::npos);
  CHECK(r.out.find("anchors at 300x300: 1917") != std::string::npos);
}

TEST_CASE("warmstart model vars --json: inspect-like entries plus trainable") {
  if (!RequireCli()) return;
  TempDir dir;
  const std::string config = (dir / "pipeline.config").string();
  WriteFile(config, Config("ssd_mobilenet_v2"));
  const Run r = RunCli({"model", "vars", "--config", config, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["config"] == config);
  REQUIRE(j["entries"].size() == 324);
  const nlohmann::json& first = j["entries"][0];
  CHECK(first["name"] == "FeatureExtractor/MobilenetV2/Conv/weights");
  CHECK(first["dtype"] == "DT_FLOAT");
  CHECK(first["shape"] == nlohmann::json::array({3, 3, 3, 32}));
  CHECK(first["trainable"] == true);
  CHECK(first.size() == 4);
  size_t trainable = 0;
  for (const auto& e : j["entries"]) trainable += e["trainable"].get<bool>() ? 1 : 0;
  CHECK(trainable == 204);
  const nlohmann::json& last = j["entries"].back();
  CHECK(last["name"] == "BoxPredictor_5/ClassPredictor/biases");
  CHECK(last["shape"] == nlohmann::json::array({24}));
}

TEST_CASE("warmstart model vars: unsupported type is exit 1, missing --config exit 2") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteFile(dir / "pipeline.config", Config("ssd_resnet50_v1_fpn"));
  const Run bad = RunCli({"model", "vars", "--config", (dir / "pipeline.config").string()});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err ==
        "warmstart: error: model.ssd.feature_extractor.type \"ssd_resnet50_v1_fpn\" is not supported by the SSD model "
        "builder (supported: ssd_mobilenet_v1, ssd_mobilenet_v2)\n");
  const Run usage = RunCli({"model", "vars"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.find("--config") != std::string::npos);
  const Run no_sub = RunCli({"model"});
  CHECK(no_sub.exit_code == 2);
  const Run missing = RunCli({"model", "vars", "--config", (dir / "absent.config").string()});
  CHECK(missing.exit_code == 1);
}

TEST_CASE("warmstart model vars on the zoo v1 config (skipped without ../shared/realdata)") {
  if (!RequireCli()) return;
  fs::path root;
  if (!warmstart::test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &root)) return;
  const Run r = RunCli({"model", "vars", "--config", (root / "pipeline.config").string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["entries"].size() == 199);
  CHECK(j["entries"][0]["name"] == "FeatureExtractor/MobilenetV1/Conv2d_0/weights");
}
