// `warmstart model run`: load an SSD model from a pipeline.config and a checkpoint, run it on one
// image and print the detections (docs/cli.md, docs/ssd-model.md).
//
//   warmstart model run --config pipeline.config --checkpoint PREFIX --image FILE
//                       [--label-map FILE] [--json] [--raw OUT.npz] [--threads N]
//
// The image (PNG, JPEG, GIF, BMP) is decoded to RGB, resized to the fixed_shape_resizer's size
// with TF1's bilinear resize (align_corners=False) and mapped to (2/255)x - 1, as the MobileNet
// feature extractors' preprocess does. Batch norm runs in inference mode (moving statistics).
// Post-processing is the config's: score converter, per-class NMS with its thresholds and limits.
//
// Output: one line per detection, "class_id name score ymin xmin ymax xmax" (box normalised
// to the image). class_id is the label map id (TF's detection_classes + 1); the name comes from
// --label-map, else from train_input_reader.label_map_path when that file exists. --json prints
//   {"config", "checkpoint", "image", "image_size": [h, w], "input_size": [h, w],
//    "num_anchors", "detections": [{"class_id", "class_name", "score", "box": [ymin, xmin, ymax, xmax]}]}
// --raw OUT.npz saves the predictions before post-processing, float32, in TF's anchor order
// (feature map, then y, then x, then anchor): box_encodings [1, A, 4] (ty, tx, th, tw) and
// class_predictions [1, A, num_classes + 1] (logits, background first).
//
// Exit codes: 0 ok (also with no detection); 1 bad config, checkpoint or image; 2 usage.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <warmstart/config/label_map.hpp>
#include <warmstart/config/pipeline.hpp>
#include <warmstart/interop/npy.hpp>
#include <warmstart/nn/context.hpp>
#include <warmstart/ssd/checkpoint.hpp>
#include <warmstart/ssd/model.hpp>
#include <warmstart/ssd/options.hpp>
#include <warmstart/ssd/variables.hpp>
#if WARMSTART_HAVE_STB
#include <warmstart/image/decode.hpp>
#include <warmstart/image/image.hpp>
#endif

#include "cli_common.hpp"

namespace warmstart::cli {

struct ModelRunOptions {
  std::string config;
  std::string checkpoint;
  std::string image;
  std::string label_map;
  std::string raw;
  bool json = false;
  int threads = 0;  // 0: all cores
};

namespace model_run {

// --label-map, else the train input's label_map_path when the file is there (a config copied
// from another machine often names a path that is not).
inline std::optional<config::LabelMap> LoadLabelMap(const ModelRunOptions& o, const config::PipelineConfig& cfg,
                                                    std::string* source) {
  if (!o.label_map.empty()) {
    *source = o.label_map;
    return config::LabelMap::Load(o.label_map);
  }
  const std::string& path = cfg.train_input().label_map_path;
  if (path.empty() || !std::filesystem::is_regular_file(path)) return std::nullopt;
  *source = path;
  return config::LabelMap::Load(path);
}

inline void WriteRaw(const std::string& path, const ssd::BoxMatrix<float>& boxes, const ssd::Matrix<float>& logits) {
  const auto rows = static_cast<int64_t>(boxes.rows());
  std::vector<interop::TensorSpec> specs(2);
  specs[0] = {"box_encodings", bundle::DataType::kFloat, bundle::TensorShape({1, rows, 4})};
  specs[1] = {"class_predictions", bundle::DataType::kFloat,
              bundle::TensorShape({1, rows, static_cast<int64_t>(logits.cols())})};
  // Both matrices are row-major, so their bytes are already [anchor][column].
  interop::WriteNpz(path, specs, [&](size_t i, std::vector<uint8_t>*) {
    const float* data = i == 0 ? boxes.data() : logits.data();
    const size_t n = static_cast<size_t>(i == 0 ? boxes.size() : logits.size());
    return core::ByteView(reinterpret_cast<const uint8_t*>(data), n * sizeof(float));
  });
}

}  // namespace model_run

inline int RunModelRun(const ModelRunOptions& o, std::ostream& out) {
#if !WARMSTART_HAVE_STB
  (void)o;
  (void)out;
  throw ArgumentError("model run: this warmstart was built without libstb (Debian: libstb-dev), so it cannot decode "
                      "images; install it and rebuild");
#else
  const config::PipelineConfig cfg = config::PipelineConfig::Load(o.config);
  const ssd::ModelSpec spec = ssd::BuildModelSpec(cfg);
  const ssd::SsdTrainingOptions options = ssd::SsdTrainingOptions::FromConfig(cfg);
  if (spec.input_height <= 0 || spec.input_width <= 0) {
    throw ArgumentError(o.config + ": model run needs image_resizer { fixed_shape_resizer { ... } } (found " +
                        options.image_resizer.kind + ")");
  }
  std::string label_source;
  const std::optional<config::LabelMap> labels = model_run::LoadLabelMap(o, cfg, &label_source);

  ssd::SsdModel<float> model(spec);
  model.set_batch_norm_mode(nn::BatchNormMode::kInference);
  const std::optional<int64_t> step = ssd::LoadCheckpoint(model.parameters(), o.checkpoint);

  const image::Image decoded = image::DecodeImageFile(o.image);
  const nn::Tensor4<float> input =
      image::PreprocessSsd(decoded, static_cast<int>(spec.input_height), static_cast<int>(spec.input_width));
  const nn::Context ctx(o.threads);
  const ssd::SsdPredictions<float> pred = model.Forward(ctx, input);

  std::vector<ssd::GridShape> grids;
  for (const ssd::GridSize& g : model.feature_map_sizes()) {
    grids.push_back({static_cast<int>(g.height), static_cast<int>(g.width)});
  }
  const ssd::BoxMatrix<float> anchors = options.MakeAnchorGenerator().Generate<float>(
      grids, static_cast<int>(spec.input_height), static_cast<int>(spec.input_width));
  const ssd::Detections<float> det =
      ssd::PostProcess<float>(pred.box_encodings[0], pred.class_predictions[0], anchors, options.MakeBoxCoder(),
                              options.score_conversion.converter, options.score_conversion.logit_scale, options.nms);
  if (!o.raw.empty()) model_run::WriteRaw(o.raw, pred.box_encodings[0], pred.class_predictions[0]);

  const auto name_of = [&](int class_id) -> std::string {
    if (!labels) return "";
    const config::LabelMapItem* item = labels->FindById(class_id);
    return item == nullptr ? "" : !item->display_name.empty() ? item->display_name : item->name;
  };
  if (o.json) {
    nlohmann::ordered_json doc;
    doc["config"] = o.config;
    doc["checkpoint"] = o.checkpoint;
    doc["image"] = o.image;
    doc["image_size"] = {decoded.height, decoded.width};
    doc["input_size"] = {spec.input_height, spec.input_width};
    doc["num_anchors"] = anchors.rows();
    doc["detections"] = nlohmann::ordered_json::array();
    for (int d = 0; d < det.num_detections(); ++d) {
      nlohmann::ordered_json e;
      e["class_id"] = det.classes[static_cast<size_t>(d)] + 1;
      const std::string name = name_of(det.classes[static_cast<size_t>(d)] + 1);
      e["class_name"] = name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(name);
      e["score"] = det.scores(d);
      e["box"] = {det.boxes(d, 0), det.boxes(d, 1), det.boxes(d, 2), det.boxes(d, 3)};
      doc["detections"].push_back(std::move(e));
    }
    out << doc.dump() << "\n";
    return kExitOk;
  }
  out << o.image << ": " << decoded.width << "x" << decoded.height << " resized to " << spec.input_width << "x"
      << spec.input_height << "; " << anchors.rows() << " anchors; checkpoint " << o.checkpoint;
  if (step) out << " (global_step " << *step << ")";
  out << "\n";
  if (!label_source.empty()) out << "labels from " << label_source << "\n";
  Table t;
  t.AddRow({"class_id", "name", "score", "ymin", "xmin", "ymax", "xmax"});
  const auto fixed = [](double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return std::string(buf);
  };
  for (int d = 0; d < det.num_detections(); ++d) {
    const int id = det.classes[static_cast<size_t>(d)] + 1;
    t.AddRow({std::to_string(id), name_of(id), fixed(det.scores(d), 4), fixed(det.boxes(d, 0), 4),
              fixed(det.boxes(d, 1), 4), fixed(det.boxes(d, 2), 4), fixed(det.boxes(d, 3), 4)});
  }
  t.Print(out);
  out << det.num_detections() << " detections (score > " << options.nms.score_threshold << ")\n";
  if (!o.raw.empty()) out << "raw predictions written to " << o.raw << "\n";
  return kExitOk;
#endif
}

}  // namespace warmstart::cli
