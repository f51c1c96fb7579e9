// warmstart-finetune (examples/finetune) as a user runs it: a tiny config trained for a few
// steps with --eval, the files it writes, JSON progress lines, resuming, and exit codes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.hpp"
#include "realdata.hpp"
#include "train/tiny_config.hpp"
#include "warmstart/bundle/checkpoint.hpp"

namespace fs = std::filesystem;
namespace ws = warmstart;
using ws::test::cli::Lines;
using ws::test::cli::Run;
using ws::test::cli::RunProgram;

namespace {

fs::path FinetunePath() { return fs::path(WARMSTART_BINARY_DIR) / "warmstart-finetune"; }

bool RequireFinetune() {
  std::error_code ec;
  if (fs::is_regular_file(FinetunePath(), ec)) return true;
  WARN("warmstart-finetune is not built (" << FinetunePath().string() << "; it needs libstb-dev); skipping");
  return false;
}

bool IsPng(const fs::path& p) {
  const std::string bytes = ws::test::cli::ReadFile(p);
  return bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

}  // namespace

TEST_CASE("warmstart-finetune: trains, evaluates, writes checkpoints and PNGs, resumes", "[cli][finetune]") {
  if (!RequireFinetune()) return;
  ws::test::TempDir dir;
  const fs::path config = dir / "tiny.config";
  std::ofstream(config) << ws::test::TinyConfigText({});
  const fs::path model_dir = dir / "model";

  const Run r = RunProgram(FinetunePath(), {"--config", config.string(), "--model_dir", model_dir.string(), "--num_steps",
                                            "3", "--eval", "--log-format", "json", "--log_every", "1", "--threads", "1"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // stdout: JSON lines only; the report goes to stderr.
  std::vector<int64_t> steps;
  for (const std::string& line : Lines(r.out)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    steps.push_back(j.at("step").get<int64_t>());
    CHECK(j.at("num_steps") == 3);
    CHECK(j.at("loss").get<double>() > 0);
    CHECK(j.contains("eta_seconds"));
  }
  CHECK(steps == std::vector<int64_t>{1, 2, 3});
  CHECK(r.err.find("training from scratch") != std::string::npos);
  CHECK(r.err.find("eval on 6 images") != std::string::npos);

  CHECK(fs::is_regular_file(model_dir / "model.ckpt-3.index"));
  CHECK(fs::is_regular_file(model_dir / "checkpoint"));
  CHECK(ws::bundle::Checkpoint::Open(model_dir.string()).ReadAs<int64_t>("global_step") == std::vector<int64_t>{3});
  const nlohmann::json metrics = nlohmann::json::parse(ws::test::cli::ReadFile(model_dir / "eval" / "metrics.json"));
  CHECK(metrics.at("step") == 3);
  CHECK(metrics.at("num_images") == 6);
  CHECK(metrics.contains("DetectionBoxes_Precision/mAP"));
  CHECK(metrics.contains("DetectionBoxes_Precision/mAP@.50IOU"));
  CHECK(IsPng(model_dir / "eval" / "detections.png"));
  CHECK(IsPng(model_dir / "eval" / "loss_curve.png"));
  CHECK(Lines(ws::test::cli::ReadFile(model_dir / "train_log.jsonl")).size() == 3);

  // Again with more steps: resumed at 3, trained to 5, the log continued.
  const Run again = RunProgram(FinetunePath(), {"--config", config.string(), "--model_dir", model_dir.string(),
                                                "--num_steps", "5", "--log-format", "text", "--log_every", "1"});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.out.find("at step 3") != std::string::npos);
  CHECK(again.out.find("step 5/5: loss") != std::string::npos);
  CHECK(again.out.find("saved " + (model_dir / "model.ckpt-5").string() + " (step 5)") != std::string::npos);
  CHECK(Lines(ws::test::cli::ReadFile(model_dir / "train_log.jsonl")).size() == 5);

  // Already at num_steps: nothing trained, the checkpoint is not rewritten; --draw 0 draws nothing.
  const auto written = fs::last_write_time(model_dir / "model.ckpt-5.index");
  fs::remove(model_dir / "eval" / "detections.png");
  const Run done = RunProgram(FinetunePath(), {"--config", config.string(), "--model_dir", model_dir.string(),
                                               "--num_steps", "5", "--eval", "--draw", "0"});
  INFO(done.out << done.err);
  REQUIRE(done.exit_code == 0);
  CHECK(done.out.find("0 steps") != std::string::npos);
  CHECK(fs::last_write_time(model_dir / "model.ckpt-5.index") == written);
  CHECK_FALSE(fs::exists(model_dir / "eval" / "detections.png"));
  CHECK(fs::exists(model_dir / "eval" / "metrics.json"));
}

TEST_CASE("warmstart-finetune: usage errors exit 2, bad input exits 1 naming the file", "[cli][finetune]") {
  if (!RequireFinetune()) return;
  ws::test::TempDir dir;
  const fs::path config = dir / "tiny.config";
  std::ofstream(config) << ws::test::TinyConfigText({});

  Run r = RunProgram(FinetunePath(), {"--config", config.string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--model_dir") != std::string::npos);

  r = RunProgram(FinetunePath(), {"--config", (dir / "missing.config").string(), "--model_dir", (dir / "m").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("missing.config") != std::string::npos);

  r = RunProgram(FinetunePath(), {"--config", config.string(), "--model_dir", (dir / "m").string(), "--profile", "tf3"});
  CHECK(r.exit_code == 2);

  ws::test::TinyConfig bad_pattern;
  bad_pattern.train_extra = "freeze_variables: \"FeatureExtractor/(\"";
  std::ofstream(dir / "pattern.config") << ws::test::TinyConfigText(bad_pattern);
  r = RunProgram(FinetunePath(), {"--config", (dir / "pattern.config").string(), "--model_dir", (dir / "m").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("pattern.config") != std::string::npos);
  CHECK(r.err.find("FeatureExtractor/(") != std::string::npos);
  CHECK(r.err.find("nothing left to train") == std::string::npos);

  ws::test::TinyConfig bad;
  bad.train_input = "shapes://circle,hexagon";
  std::ofstream(dir / "bad.config") << ws::test::TinyConfigText(bad);
  r = RunProgram(FinetunePath(), {"--config", (dir / "bad.config").string(), "--model_dir", (dir / "m").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("unknown class 'hexagon'") != std::string::npos);
  CHECK(r.err.find("shapes://circle,hexagon") != std::string::npos);

  // A label the model cannot have names the example.
  ws::test::TinyConfig labels;
  labels.num_classes = 1;
  std::ofstream(dir / "labels.config") << ws::test::TinyConfigText(labels);
  r = RunProgram(FinetunePath(), {"--config", (dir / "labels.config").string(), "--model_dir", (dir / "l").string(),
                                  "--num_steps", "2"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("shapes://circle,square,triangle?seed=3: example") != std::string::npos);
  CHECK(r.err.find("outside [1, num_classes = 1]") != std::string::npos);
}
