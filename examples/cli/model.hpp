// `warmstart model vars`: the variables of the SSD model a pipeline.config describes, as a TF1
// (slim) graph would hold them (docs/ssd-model.md, docs/cli.md).
//
//   warmstart model vars --config pipeline.config [--json]
//   warmstart model run --config pipeline.config --checkpoint PREFIX --image FILE [--json] [--raw OUT.npz]
//                                                                        (model_run.hpp)
//
// The text form is a table (variable, shape, trainable, what it is) followed by the feature maps
// and the anchor count; --json prints {"config", "entries": [{"name", "dtype", "shape",
// "trainable"}]}, whose entries read like `warmstart inspect --json` ones (and which
// `warmstart plan --model-vars` accepts).
//
// Exit codes: 0 ok; 1 the config cannot be read or its model is not supported; 2 usage.
#pragma once

#include <ostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <warmstart/bundle/dtype.hpp>
#include <warmstart/ssd/variables.hpp>

#include "cli_common.hpp"
#include "model_run.hpp"

namespace warmstart::cli {

struct ModelVarsOptions {
  std::string config;
  bool json = false;
};

namespace model_cli {

inline std::string ShapeText(const ssd::Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

inline void PrintJson(const ssd::ModelSpec& spec, const std::string& config, std::ostream& out) {
  nlohmann::ordered_json doc;
  doc["config"] = config;
  doc["entries"] = nlohmann::ordered_json::array();
  for (const ssd::Variable& v : spec.variables) {
    nlohmann::ordered_json e;
    e["name"] = v.name;
    e["dtype"] = bundle::DataTypeName(v.dtype);
    e["shape"] = v.shape;
    e["trainable"] = v.trainable;
    doc["entries"].push_back(std::move(e));
  }
  out << doc.dump() << "\n";
}

inline void PrintText(const ssd::ModelSpec& spec, std::ostream& out) {
  Table t;
  t.AddRow({"variable", "shape", "train", "role"});
  for (const ssd::Variable& v : spec.variables) {
    const ssd::Layer& l = spec.layers[v.layer];
    const std::string role = std::string(ssd::VariableRoleName(v.role)) + " of " + ssd::ModelPartName(l.part) + " " + ssd::DescribeLayer(l);
    t.AddRow({DisplayName(v.name), ShapeText(v.shape), v.trainable ? "yes" : "no", role});
  }
  t.Print(out);
  out << "\n" << spec.variables.size() << " variables (" << spec.NumTrainable() << " trainable), "
      << spec.feature_extractor_type << ", depth_multiplier " << spec.depth_multiplier << ", min_depth " << spec.min_depth
      << ", " << spec.num_class_slots << " class slots\n";
  const bool fixed = spec.input_height > 0 && spec.input_width > 0;
  const std::vector<ssd::GridSize> grids = fixed ? ssd::FeatureMapSizes(spec) : std::vector<ssd::GridSize>{};
  for (size_t i = 0; i < spec.feature_maps.size(); ++i) {
    const ssd::FeatureMap& f = spec.feature_maps[i];
    out << "feature map " << i << ": " << f.key << ", depth " << f.depth << ", " << f.anchors_per_location << " anchors per location";
    if (fixed) out << ", grid " << grids[i].height << "x" << grids[i].width;
    out << "\n";
  }
  if (fixed) {
    out << "anchors at " << spec.input_height << "x" << spec.input_width << ": " << ssd::AnchorCount(spec, grids) << "\n";
  }
}

}  // namespace model_cli

inline int RunModelVars(const ModelVarsOptions& o, std::ostream& out) {
  const ssd::ModelSpec spec = ssd::LoadModelSpec(o.config);
  if (o.json) {
    model_cli::PrintJson(spec, o.config, out);
  } else {
    model_cli::PrintText(spec, out);
  }
  return kExitOk;
}

class ModelCommand {
 public:
  explicit ModelCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("model", "What a pipeline.config's model is made of");
    app_->require_subcommand(1);
    app_->footer("Exit codes: 0 ok, 1 unreadable config or unsupported model, 2 usage error. See docs/ssd-model.md.");
    vars_ = app_->add_subcommand("vars", "The SSD model's TF1 variables: name, shape, dtype, trainable, role");
    vars_->add_option("--config", vars_options_.config, "The pipeline.config (model.ssd with ssd_mobilenet_v1 or _v2)")->required();
    vars_->add_flag("--json", vars_options_.json, "Print {\"config\", \"entries\": [{name, dtype, shape, trainable}]}");
    run_ = app_->add_subcommand("run", "Load the model from a checkpoint and detect objects in one image");
    run_->add_option("--config", run_options_.config, "The pipeline.config (model.ssd, fixed_shape_resizer)")->required();
    run_->add_option("--checkpoint", run_options_.checkpoint, "Checkpoint prefix holding every model variable")->required();
    run_->add_option("--image", run_options_.image, "PNG, JPEG, GIF or BMP file")->required();
    run_->add_option("--label-map", run_options_.label_map,
                     "Label map for class names (default: train_input_reader.label_map_path, if it exists)");
    run_->add_option("--raw", run_options_.raw,
                     "Also write box_encodings [1,A,4] and class_predictions [1,A,K] (float32, TF anchor order) to this .npz");
    run_->add_option("--threads", run_options_.threads, "Threads for the network (0: every core)")->check(CLI::NonNegativeNumber);
    run_->add_flag("--json", run_options_.json,
                   "Print {\"config\", \"checkpoint\", \"image\", \"image_size\", \"input_size\", \"num_anchors\", "
                   "\"detections\": [{class_id, class_name, score, box}]}");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream& out, std::ostream& /*err*/) {
    if (vars_->parsed()) return RunModelVars(vars_options_, out);
    if (run_->parsed()) return RunModelRun(run_options_, out);
    throw UsageError("model: give a subcommand (vars, run)");
  }

 private:
  CLI::App* app_ = nullptr;
  CLI::App* vars_ = nullptr;
  CLI::App* run_ = nullptr;
  ModelVarsOptions vars_options_;
  ModelRunOptions run_options_;
};

}  // namespace warmstart::cli
