// warmstart plan, run as a user runs it: exit codes, the JSON contract, --tf-log, errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "fixtures.hpp"
#include "realdata.hpp"
#include "warmstart/bundle/writer.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::test::TempDir;
using warmstart::test::WriteFile;
using namespace warmstart::test::cli;

std::string Config(const std::string& train_extra) {
  return "model { ssd { num_classes: 3 feature_extractor { type: \"ssd_mobilenet_v1\" } } }\n"
         "train_config {\n"
         "  fine_tune_checkpoint: \"unused\"\n" +
         train_extra + "}\n";
}

// A small detection checkpoint: two feature-extractor variables and a class head of 91 classes.
void WriteZoo(const std::string& prefix) {
  warmstart::bundle::BundleWriter w(prefix);
  w.Add("BoxPredictor_0/ClassPredictor/biases", std::vector<float>(273, 0.f), {273});
  w.Add("FeatureExtractor/MobilenetV1/Conv2d_0/weights", std::vector<float>(3 * 3 * 3 * 8, 1.f), {3, 3, 3, 8});
  w.Add("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma", std::vector<float>(8, 1.f), {8});
  w.Add("global_step", std::vector<int64_t>{5}, {});
  w.Finish();
}

const char kModel[] = R"([
  {"name": "FeatureExtractor/MobilenetV1/Conv2d_0/weights", "dtype": "float32", "shape": [3, 3, 3, 8]},
  {"name": "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma", "dtype": "float32", "shape": [8]},
  {"name": "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean", "dtype": "float32", "shape": [8], "trainable": false},
  {"name": "BoxPredictor_0/ClassPredictor/biases", "dtype": "float32", "shape": [12]}
])";

}  // namespace

TEST_CASE("warmstart plan: text, JSON contract, exit 0") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteZoo((dir / "zoo").string());
  WriteFile(dir / "pipeline.config", Config("  fine_tune_checkpoint_type: \"detection\"\n  freeze_variables: \"Conv2d_0/weights\"\n"));
  WriteFile(dir / "model.json", kModel);
  const std::vector<std::string> base = {"plan", "--config", (dir / "pipeline.config").string(), "--checkpoint",
                                         (dir / "zoo").string(), "--model-vars", (dir / "model.json").string()};
  const Run text = RunCli(base);
  INFO(text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("restore ") != std::string::npos);
  CHECK(text.out.find("num_classes changed from 90 (checkpoint) to 3 (model)") != std::string::npos);

  std::vector<std::string> args = base;
  args.push_back("--json");
  const Run json = RunCli(args);
  REQUIRE(json.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  CHECK(j["profile"] == "warmstart");
  CHECK(j["checkpoint_type"] == "detection");
  REQUIRE(j["variables"].size() == 4);
  const nlohmann::json& w = j["variables"][0];
  CHECK(w["name"] == "FeatureExtractor/MobilenetV1/Conv2d_0/weights");
  CHECK(w["action"] == "restore");
  CHECK(w["checkpoint_key"] == "FeatureExtractor/MobilenetV1/Conv2d_0/weights");
  CHECK(w["checkpoint_shape"] == nlohmann::json::array({3, 3, 3, 8}));
  CHECK(w["trainable"] == false);
  CHECK(w["frozen_by"] == "Conv2d_0/weights");
  CHECK(j["variables"][1]["frozen_by"].is_null());
  CHECK(j["variables"][1]["trainable"] == true);
  CHECK(j["variables"][2]["action"] == "missing");  // moving_mean is not in the small checkpoint
  CHECK(j["variables"][3]["action"] == "not_requested");
  CHECK(j["variables"][3]["checkpoint_key"].is_null());
  CHECK(j["unused_checkpoint_keys"] == nlohmann::json::array({"BoxPredictor_0/ClassPredictor/biases", "global_step"}));
  CHECK(j["log"].is_array());
  CHECK(j["diagnostics"].is_array());
  for (const auto& d : j["diagnostics"]) {
    CHECK(d.contains("level"));
    CHECK(d.contains("message"));
  }
}

TEST_CASE("warmstart plan --profile: TF's failure is exit 1 with the TF error, --tf-log prints TF's lines") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteZoo((dir / "zoo").string());
  // Neither type nor from_detection_checkpoint: classification, which finds nothing.
  WriteFile(dir / "pipeline.config", Config(""));
  WriteFile(dir / "model.json", kModel);
  const std::vector<std::string> base = {"plan", "--config", (dir / "pipeline.config").string(), "--checkpoint",
                                         (dir / "zoo").string(), "--model-vars", (dir / "model.json").string()};
  std::vector<std::string> a = base;
  a.insert(a.end(), {"--profile", "tf1-legacy", "--tf-log"});
  const Run legacy = RunCli(a);
  CHECK(legacy.exit_code == 1);
  CHECK(legacy.err == "warmstart: error: legacy/train.py would fail: ValueError: No variables to save\n");
  CHECK(Lines(legacy.out).front() == "Variable [MobilenetV1/Conv2d_0/BatchNorm/gamma] is not available in checkpoint");

  std::vector<std::string> b = base;
  b.insert(b.end(), {"--profile", "tf1-estimator", "--json"});
  const Run estimator = RunCli(b);
  CHECK(estimator.exit_code == 0);  // model_main.py goes on, restoring nothing
  const nlohmann::json j = nlohmann::json::parse(estimator.out);
  CHECK(j["checkpoint_type"] == "classification");
  bool suggested = false;
  for (const auto& d : j["diagnostics"]) suggested |= d["message"].get<std::string>().find("Set fine_tune_checkpoint_type: \"detection\"") != std::string::npos;
  CHECK(suggested);

  std::vector<std::string> c = base;
  c.insert(c.end(), {"--profile", "tf1-estimator", "--load-pretrained", "false", "--json"});
  const Run stock = RunCli(c);
  CHECK(stock.exit_code == 0);
  CHECK(nlohmann::json::parse(stock.out)["summary"]["restored"] == 0);
}

TEST_CASE("warmstart plan: usage errors are exit 2, bad input exit 1") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteFile(dir / "pipeline.config", Config(""));
  WriteFile(dir / "bad.json", "[{\"name\": \"a\"}]");
  const Run none = RunCli({"plan", "--config", (dir / "pipeline.config").string()});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("give exactly one of --model-from-checkpoint, --model-vars, --model-from-config") != std::string::npos);
  const Run profile = RunCli({"plan", "--config", (dir / "pipeline.config").string(), "--model-vars",
                              (dir / "bad.json").string(), "--profile", "tf3"});
  CHECK(profile.exit_code == 2);
  CHECK(profile.err.find("tf3") != std::string::npos);
  const Run bad = RunCli({"plan", "--config", (dir / "pipeline.config").string(), "--model-vars",
                          (dir / "bad.json").string(), "--checkpoint", ""});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err == "warmstart: error: " + (dir / "bad.json").string() + ": variables[0]: model variable has no \"shape\"\n");
}

TEST_CASE("warmstart plan on a real pair (skipped without ../shared/realdata)") {
  if (!RequireCli()) return;
  fs::path root;
  if (!warmstart::test::RequireRealData("checkpoints/tf1-od-ssd-mobilenet-v2-dzakirin", &root)) return;
  const fs::path ck = root.parent_path();
  const Run r = RunCli({"plan", "--config", (root / "pipeline.config").string(), "--checkpoint",
                        (ck / "zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29/model.ckpt").string(), "--model-from-checkpoint",
                        root.string(), "--profile", "tf1-estimator", "--tf-log"});
  CHECK(r.exit_code == 0);
  CHECK(Lines(r.out).size() == 6);  // the two hparams lines, then the four shape warnings
  CHECK(Lines(r.out)[0] == "Maybe overwriting load_pretrained: True");
}

TEST_CASE("warmstart plan --model-from-config builds the SSD's variables from the config (real zoo config)") {
  if (!RequireCli()) return;
  fs::path root;
  if (!warmstart::test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &root)) return;
  const Run r = RunCli({"plan", "--config", (root / "pipeline.config").string(), "--checkpoint",
                        (root / "model.ckpt").string(), "--model-from-config", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["variables"].size() == 199);
  CHECK(j["summary"]["restored"] == 175);  // the zoo config says from_detection_checkpoint: true
}

TEST_CASE("warmstart plan: an unreadable checkpoint matters only where the path reads it") {
  if (!RequireCli()) return;
  TempDir dir;
  WriteFile(dir / "pipeline.config", Config("  from_detection_checkpoint: true\n"));
  WriteFile(dir / "model.json", kModel);
  const std::vector<std::string> base = {"plan", "--config", (dir / "pipeline.config").string(), "--model-vars",
                                         (dir / "model.json").string(), "--profile", "tf1-estimator"};
  std::vector<std::string> stock = base;
  stock.insert(stock.end(), {"--load-pretrained", "false"});
  CHECK(RunCli(stock).exit_code == 0);  // config says fine_tune_checkpoint "unused": never opened
  const Run old = RunCli(base);
  CHECK(old.exit_code == 1);
  CHECK(old.err.rfind("warmstart: error: no plan: unused: ", 0) == 0);
}
