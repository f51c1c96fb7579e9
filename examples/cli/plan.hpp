// `warmstart plan`: which variables a fine-tune restores, skips and freezes, as a chosen
// training path of the Object Detection API would decide (docs/cli.md, docs/restore-*.md).
//
//   warmstart plan --config pipeline.config [--checkpoint PATH]
//                  (--model-from-checkpoint PATH | --model-vars FILE.json | --model-from-config)
//                  [--profile tf1-legacy|tf1-estimator|tf2|warmstart] [--json] [--tf-log]
//
// Exit codes: 0 the plan is valid; 1 the emulated path would fail (its error is printed and
// in the JSON), or bad input; 2 usage.
#pragma once

#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <warmstart/bundle/checkpoint.hpp>
#include <warmstart/config/pipeline.hpp>
#include <warmstart/restore/plan.hpp>
#include <warmstart/ssd/variables.hpp>

#include "cli_common.hpp"

namespace warmstart::cli {

struct PlanOptions {
  std::string config;
  std::string checkpoint;
  std::string model_from_checkpoint;
  std::string model_vars;
  bool model_from_config = false;
  std::string profile = "warmstart";
  bool json = false;
  bool tf_log = false;
  std::string load_pretrained = "true";
  std::string model_dir;
  bool use_ema_values = false;
  std::vector<std::string> maps;
};

namespace plan_cli {

inline std::vector<restore::ModelVariable> LoadModelVars(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFoundError(ErrorContext(path), "cannot open the model variables file");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(ErrorContext(path, e.byte), std::string("not valid JSON: ") + e.what());
  }
  return restore::ModelFromJson(doc, path);
}

inline void PrintVariables(const restore::RestorePlan& plan, std::ostream& out) {
  Table t;
  t.AddRow({"action", "train", "variable", "checkpoint key / reason"});
  for (const restore::PlannedVariable& v : plan.variables) {
    std::string train = v.trainable ? "yes" : v.frozen_by ? "frozen" : v.excluded_by_update ? "excluded" : "no";
    if (v.gradient_multiplier != 1.0) train += " x" + restore::detail::PercentF(v.gradient_multiplier);
    std::string detail;
    if (v.action == restore::Action::kRestore) {
      detail = v.checkpoint_key == v.variable.name ? "(same name)" : "<- " + DisplayName(v.checkpoint_key);
    } else {
      detail = v.reason;
      if (!v.checkpoint_key.empty() && v.checkpoint_key != v.variable.name) {
        detail = "key " + DisplayName(v.checkpoint_key) + ": " + detail;
      }
    }
    std::string name = DisplayName(v.variable.name);
    if (v.variable.kind != restore::VariableKind::kModel) name += " [" + std::string(restore::VariableKindName(v.variable.kind)) + "]";
    t.AddRow({restore::ActionName(v.action), train, name, OneLine(detail)});
  }
  t.Print(out);
}

}  // namespace plan_cli

inline int RunPlan(const PlanOptions& o, std::ostream& out, std::ostream& err) {
  const int sources = !o.model_from_checkpoint.empty() + !o.model_vars.empty() + o.model_from_config;
  if (sources != 1) {
    throw UsageError("plan: give exactly one of --model-from-checkpoint, --model-vars, --model-from-config");
  }
  if (o.load_pretrained != "true" && o.load_pretrained != "false") {
    throw UsageError("plan: --load-pretrained takes true or false, not '" + o.load_pretrained + "'");
  }
  restore::PlanOptions options;
  options.profile = restore::ParseProfile(o.profile);
  options.load_pretrained = o.load_pretrained == "true";
  options.model_dir = o.model_dir;
  options.use_ema_values = o.use_ema_values;
  for (const std::string& kv : o.maps) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) throw UsageError("plan: --map '" + kv + "': expected CHECKPOINT_NAME=MODEL_NAME");
    options.assignment_map.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }

  const config::PipelineConfig cfg = config::PipelineConfig::Load(o.config);
  restore::FineTuneSettings settings = restore::FineTuneSettings::FromConfig(cfg);
  if (!o.checkpoint.empty()) settings.fine_tune_checkpoint = o.checkpoint;

  std::vector<restore::ModelVariable> model;
  if (!o.model_vars.empty()) {
    model = plan_cli::LoadModelVars(o.model_vars);
  } else if (o.model_from_config) {
    model = ssd::BuildModelSpec(cfg).ModelVariables();
  } else {
    const bundle::Checkpoint m = bundle::Checkpoint::Open(o.model_from_checkpoint);
    model = restore::ModelFromCheckpoint(restore::CheckpointListing::FromReader(m, o.model_from_checkpoint));
  }

  // A checkpoint that cannot be opened fails the plan only if the emulated path reads it
  // (today's model_main.py, for one, never does).
  std::optional<restore::CheckpointListing> listing;
  if (!settings.fine_tune_checkpoint.empty()) {
    try {
      const bundle::Checkpoint c = bundle::Checkpoint::Open(settings.fine_tune_checkpoint);
      if (!o.json) PrintDiagnostics(c, err);
      listing = restore::CheckpointListing::FromReader(c, settings.fine_tune_checkpoint);
    } catch (const Error& e) {
      options.checkpoint_error = e.what();
    }
  }
  const restore::RestorePlan plan = restore::MakePlan(std::move(model), listing ? &*listing : nullptr, settings, options);

  if (o.json) {
    out << plan.ToJson().dump() << "\n";
  } else {
    if (o.tf_log) {
      for (const std::string& line : plan.log) out << line << "\n";
    } else {
      plan_cli::PrintVariables(plan, out);
      out << "\n" << plan.Summary();
    }
  }
  if (!plan.ok()) {
    PrintError(err, plan.error_source == "tensorflow"
                        ? std::string(restore::ProfileBinary(plan.profile)) + " would fail: " + plan.error
                        : "no plan: " + plan.error);
    return kExitBadInput;
  }
  return kExitOk;
}

class PlanCommand {
 public:
  explicit PlanCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("plan", "Which variables a fine-tune restores, skips and freezes");
    app_->footer("Exit codes: 0 the plan is valid, 1 the emulated training path would fail (or bad input), "
                 "2 usage error. See docs/cli.md.");
    app_->add_option("--config", options_.config, "The pipeline.config")->required();
    app_->add_option("--checkpoint", options_.checkpoint,
                     "The checkpoint to restore from (default: train_config.fine_tune_checkpoint)");
    app_->add_option("--model-from-checkpoint", options_.model_from_checkpoint,
                     "Take the model's variables from this checkpoint's listing (without optimizer slots, "
                     "moving averages and global_step)");
    app_->add_option("--model-vars", options_.model_vars,
                     "Take the model's variables from a JSON list of {name, dtype, shape, trainable, object_path}");
    app_->add_flag("--model-from-config", options_.model_from_config,
                   "Take the model's variables from the config's model.ssd section (ssd_mobilenet_v1/v2)");
    app_->add_option("--profile", options_.profile, "tf1-legacy, tf1-estimator, tf2 or warmstart (default)")
        ->check(CLI::IsMember({"tf1-legacy", "tf1-estimator", "tf2", "warmstart"}));
    app_->add_flag("--json", options_.json, "Print the plan as one JSON document");
    app_->add_flag("--tf-log", options_.tf_log, "Print only the lines the emulated TensorFlow path logs");
    app_->add_option("--load-pretrained", options_.load_pretrained,
                     "tf1-estimator: model_lib's load_pretrained (true: binaries before 2020-07; false: today's)")
        ->check(CLI::IsMember({"true", "false"}));
    app_->add_option("--model-dir", options_.model_dir, "tf2: the model_dir, checked against the checkpoint's directory");
    app_->add_flag("--use-ema-values", options_.use_ema_values,
                   "warmstart: restore <name>/ExponentialMovingAverage values when the checkpoint has them");
    app_->add_option("--map", options_.maps,
                     "CHECKPOINT_NAME=MODEL_NAME or CKPT_SCOPE/=MODEL_SCOPE/ (init_from_checkpoint rules), repeatable");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream& out, std::ostream& err) { return RunPlan(options_, out, err); }

 private:
  CLI::App* app_ = nullptr;
  PlanOptions options_;
};

}  // namespace warmstart::cli
