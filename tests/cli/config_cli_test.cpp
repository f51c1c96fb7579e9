// warmstart config get / set / json / check, run as a user runs them.
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

const char kConfig[] =
    "# a small pipeline\n"
    "model {\n"
    "  ssd {\n"
    "    num_classes: 3\n"
    "    anchor_generator {\n"
    "      ssd_anchor_generator {\n"
    "        aspect_ratios: 1.0  # square\n"
    "        aspect_ratios: 2.0\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n"
    "train_config: {\n"
    "  batch_size: 8\n"
    "  from_detection_checkpoint: true\n"
    "  fine_tune_checkpoint: \"/ckpt/model.ckpt\"\n"
    "  optimizer { momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 1e-3 } } } }\n"
    "}\n";

}  // namespace

TEST_CASE("cli config get: explicit values, repeated ones per line, defaults and the resolved type", "[cli][config]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string file = (tmp / "pipeline.config").string();
  WriteFile(tmp / "pipeline.config", kConfig);

  Run r = RunCli({"config", "get", "model.ssd.num_classes", file});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "3\n");
  CHECK(r.err.empty());

  r = RunCli({"config", "get", "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios", file});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "1.0\n2.0\n");

  r = RunCli({"config", "get", "train_config.fine_tune_checkpoint", file});
  CHECK(r.out == "/ckpt/model.ckpt\n");

  r = RunCli({"config", "get", "train_config.optimizer.momentum_optimizer.learning_rate.constant_learning_rate.learning_rate", file});
  CHECK(r.out == "1e-3\n");  // as written

  // Absent, modelled: the proto default, with a note on stderr.
  r = RunCli({"config", "get", "train_config.keep_checkpoint_every_n_hours", file});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "10000.0\n");  // the proto default as train.proto writes it
  CHECK_THAT(r.err, Catch::Contains("not set; printed its default"));
  r = RunCli({"config", "get", "train_config.fine_tune_checkpoint_version", file});
  CHECK(r.out == "V1\n");

  // The section 2 rule: from_detection_checkpoint true -> detection.
  r = RunCli({"config", "get", "train_config.fine_tune_checkpoint_type", file});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "detection\n");
  CHECK_THAT(r.err, Catch::Contains("resolved from from_detection_checkpoint (true)"));

  // A message prints as canonical text.
  r = RunCli({"config", "get", "model.ssd.anchor_generator", file});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("ssd_anchor_generator {"));

  // Unknown paths and files: exit 1, one error line.
  r = RunCli({"config", "get", "train_config.no_such_field", file});
  CHECK(r.exit_code == 1);
  RequireOneErrorLine(r, "no such field");
  r = RunCli({"config", "get", "train_config.batch_size", (tmp / "missing.config").string()});
  CHECK(r.exit_code == 1);
  RequireOneErrorLine(r, "missing.config");
  r = RunCli({"config", "get", "train_config.batch_size"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("cli config set: one value changes, every other byte stays", "[cli][config]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string file = (tmp / "pipeline.config").string();
  WriteFile(tmp / "pipeline.config", kConfig);

  Run r = RunCli({"config", "set", "model.ssd.num_classes", "7", file, "-o", (tmp / "out.config").string()});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("set model.ssd.num_classes = 7 (was 3)"));
  std::string expected = kConfig;
  expected.replace(expected.find("num_classes: 3"), 14, "num_classes: 7");
  CHECK(ReadFile(tmp / "out.config") == expected);
  CHECK(ReadFile(tmp / "pipeline.config") == kConfig);  // -o leaves the input alone

  // In place; a string field takes the text as it is (quoted on output).
  r = RunCli({"config", "set", "train_config.fine_tune_checkpoint", "/new path/ckpt-0", file});
  REQUIRE(r.exit_code == 0);
  expected = kConfig;
  expected.replace(expected.find("\"/ckpt/model.ckpt\""), 18, "\"/new path/ckpt-0\"");
  CHECK(ReadFile(tmp / "pipeline.config") == expected);

  // A field that is not there yet is added; the file still reads back with it.
  r = RunCli({"config", "set", "train_config.fine_tune_checkpoint_type", "detection", file});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("(was not set)"));
  r = RunCli({"config", "get", "train_config.fine_tune_checkpoint_type", file});
  CHECK(r.out == "detection\n");
  CHECK(r.err.empty());  // explicit now: no "resolved" note

  // One element of a repeated field, by index; the whole field is refused.
  r = RunCli({"config", "set", "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios[1]", "3.0", file});
  REQUIRE(r.exit_code == 0);
  r = RunCli({"config", "get", "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios", file});
  CHECK(r.out == "1.0\n3.0\n");
  r = RunCli({"config", "set", "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios", "3.0", file});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "is a repeated field");

  // An edit that TF's Merge would take as a oneof switch (faster_rcnn beside ssd) is refused.
  r = RunCli({"config", "set", "model.faster_rcnn.num_classes", "3", file});
  CHECK(r.exit_code == 1);
  RequireOneErrorLine(r, "would make the file fail `config check`");
  // get of an index that has no occurrence: an error, not a default.
  r = RunCli({"config", "get", "train_config[2].batch_size", file});
  CHECK(r.exit_code == 1);
  RequireOneErrorLine(r, "no such occurrence");

  // Values the schema refuses: usage errors, the file untouched.
  const std::string before = ReadFile(tmp / "pipeline.config");
  r = RunCli({"config", "set", "train_config.batch_size", "eight", file});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "'eight' is not a number");
  r = RunCli({"config", "set", "train_config.fine_tune_checkpoint_version", "V3", file});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "V1, V2");
  r = RunCli({"config", "set", "train_config.from_detection_checkpoint", "maybe", file});
  CHECK(r.exit_code == 2);
  r = RunCli({"config", "set", "train_config.optimizer", "x", file});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "is a message");
  r = RunCli({"config", "set", "train_config.batch_size", "-3", file});  // uint32
  CHECK(r.exit_code == 1);
  CHECK(ReadFile(tmp / "pipeline.config") == before);
}

TEST_CASE("cli config json: the file as JSON, repeated and enum fields from the schema", "[cli][config]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string file = (tmp / "pipeline.config").string();
  WriteFile(tmp / "pipeline.config",
            std::string(kConfig) + "train_input_reader { label_map_path: 'l.pbtxt' tf_record_input_reader { input_path: 'a' } }\n");
  const Run r = RunCli({"config", "json", file});
  REQUIRE(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["model"]["ssd"]["num_classes"] == 3);
  CHECK(j["model"]["ssd"]["anchor_generator"]["ssd_anchor_generator"]["aspect_ratios"] == nlohmann::json({1.0, 2.0}));
  CHECK(j["train_config"]["batch_size"] == 8);
  CHECK(j["train_config"]["from_detection_checkpoint"] == true);
  // input_path is repeated in the schema: an array even with one element.
  CHECK(j["train_input_reader"]["tf_record_input_reader"]["input_path"] == nlohmann::json({"a"}));
}

TEST_CASE("cli config check: ok, or FILE:LINE:COL: message lines and exit 1", "[cli][config]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string good = (tmp / "good.config").string();
  WriteFile(tmp / "good.config", kConfig);
  Run r = RunCli({"config", "check", good});
  CHECK(r.exit_code == 0);
  CHECK(r.out == good + ": ok\n");

  const std::string typo = (tmp / "typo.config").string();
  WriteFile(tmp / "typo.config", "train_config {\n  batch_size: 2\n  fine_tune_checkpont_type: 'detection'\n}\n");
  r = RunCli({"config", "check", typo});
  CHECK(r.exit_code == 1);
  CHECK(r.err == typo +
                     ":3:3: message type \"object_detection.protos.TrainConfig\" has no field named "
                     "\"fine_tune_checkpont_type\"; did you mean 'fine_tune_checkpoint_type'?\n");

  const std::string syntax = (tmp / "syntax.config").string();
  WriteFile(tmp / "syntax.config", "train_config {\n  batch_size: 2\n");
  r = RunCli({"config", "check", syntax});
  CHECK(r.exit_code == 1);
  REQUIRE(Lines(r.err).size() == 1);
  CHECK(StartsWith(r.err, syntax + ":3:1: "));

  // TF's Merge keeps the last of two batch_size lines; check reports both duplicates.
  const std::string dup = (tmp / "dup.config").string();
  WriteFile(tmp / "dup.config", "train_config {\n  batch_size: 2\n  batch_size: 4\n  num_steps: 1\n  num_steps: 2\n}\n");
  r = RunCli({"config", "check", dup});
  CHECK(r.exit_code == 1);
  const std::vector<std::string> lines = Lines(r.err);
  REQUIRE(lines.size() == 2);
  CHECK(StartsWith(lines[0], dup + ":3:3: "));
  CHECK_THAT(lines[0], Catch::Contains("batch_size"));
  CHECK(StartsWith(lines[1], dup + ":5:3: "));
}

TEST_CASE("cli config check and get on every real config", "[cli][config][realdata]") {
  if (!RequireCli()) return;
  fs::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  size_t checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".config") continue;
    INFO(e.path().string());
    const Run r = RunCli({"config", "check", e.path().string()});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    const Run t = RunCli({"config", "get", "train_config.fine_tune_checkpoint_type", e.path().string()});
    CHECK(t.exit_code == 0);
    CHECK((t.out == "detection\n" || t.out == "classification\n" || t.out == "full\n" || t.out == "fine_tune\n"));
    ++checked;
  }
  CHECK(checked == 104);
}
