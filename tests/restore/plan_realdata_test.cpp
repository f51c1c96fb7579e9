// The real zoo -> fine-tune pairs of ../shared/realdata/MANIFEST.md ("Pairs for restore-policy
// tests"): the fine-tuned checkpoint's listing is the model, the zoo checkpoint the
// fine_tune_checkpoint, the pipeline.config beside the fine-tuned one the settings. Every
// profile and type, with the expected restored / skipped sets written out.
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/restore/plan.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart;
using namespace warmstart::restore;

struct Pair {
  std::vector<ModelVariable> model;
  CheckpointListing ckpt;
  FineTuneSettings settings;
};

// nullopt (with a WARN) when the real data is absent.
std::optional<Pair> LoadPair(const std::string& zoo_prefix, const std::string& tuned_dir, const std::string& tuned_prefix) {
  fs::path root;
  if (!test::RequireRealData("checkpoints/" + tuned_dir, &root)) return std::nullopt;
  const fs::path checkpoints = root.parent_path();
  Pair p;
  const bundle::Checkpoint tuned = bundle::Checkpoint::Open((checkpoints / tuned_dir / tuned_prefix).string());
  p.model = ModelFromCheckpoint(CheckpointListing::FromReader(tuned));
  const bundle::Checkpoint zoo = bundle::Checkpoint::Open((checkpoints / zoo_prefix).string());
  p.ckpt = CheckpointListing::FromReader(zoo);
  p.settings = FineTuneSettings::FromConfig(config::PipelineConfig::Load(checkpoints / tuned_dir / "pipeline.config"));
  p.settings.fine_tune_checkpoint = (checkpoints / zoo_prefix).string();
  return p;
}

RestorePlan Plan(const Pair& p, Profile profile, const std::string& type = "") {
  FineTuneSettings s = p.settings;
  if (!type.empty()) s.fine_tune_checkpoint_type = type;
  PlanOptions o;
  o.profile = profile;
  return MakePlan(p.model, &p.ckpt, s, o);
}

std::vector<std::string> Names(const RestorePlan& plan, Action a, bool model_only = true) {
  std::vector<std::string> out;
  for (const PlannedVariable& v : plan.variables) {
    if (v.action == a && (!model_only || v.variable.kind == VariableKind::kModel)) out.push_back(v.variable.name);
  }
  return out;
}

// The availability warnings of a log (the hparams lines of tf1-estimator aside).
std::vector<std::string> VariableLines(const std::vector<std::string>& log) {
  std::vector<std::string> out;
  for (const std::string& l : log) {
    if (l.rfind("Variable [", 0) == 0) out.push_back(l);
  }
  return out;
}

bool AllStartWith(const std::vector<std::string>& names, const std::string& prefix) {
  return std::all_of(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

std::vector<std::string> SsdHeads() {
  std::vector<std::string> out;
  for (int i = 0; i < 6; ++i) {
    for (const char* head : {"BoxEncodingPredictor", "ClassPredictor"}) {
      for (const char* v : {"biases", "weights"}) {
        out.push_back("BoxPredictor_" + std::to_string(i) + "/" + head + "/" + v);
      }
    }
  }
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("real pair: zoo ssd_mobilenet_v1 -> pitting-corrosion fine-tune (TF1 SSD)") {
  const auto pair = LoadPair("zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28/model.ckpt", "tf1-od-ssd-mobilenet-v1-pitting-corrosion",
                             "model.ckpt-29246");
  if (!pair) return;
  REQUIRE(pair->model.size() == 199);
  CHECK(pair->settings.ResolvedType() == "detection");  // from_detection_checkpoint: true

  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator, Profile::kWarmstart}) {
    INFO(ProfileName(p));
    const RestorePlan det = Plan(*pair, p);
    CHECK(det.ok());
    const std::vector<std::string> restored = Names(det, Action::kRestore);
    CHECK(restored.size() == 175);
    CHECK(AllStartWith(restored, "FeatureExtractor/MobilenetV1/"));
    CHECK(Sorted(Names(det, Action::kNotRequested)) == SsdHeads());
    CHECK(Names(det, Action::kMissing).empty());
    CHECK(Names(det, Action::kShapeMismatch).empty());
  }
  // Path A adds RMSProp slots and EMA shadows of the trained FeatureExtractor variables; the zoo
  // checkpoint (an export) has none, hence three "not available" lines per trained variable.
  const RestorePlan a = Plan(*pair, Profile::kTf1Legacy);
  size_t trained_fe = 0;
  for (const PlannedVariable& v : a.variables) {
    trained_fe += v.variable.kind == VariableKind::kModel && v.trainable && v.variable.name.rfind("FeatureExtractor", 0) == 0;
  }
  CHECK(trained_fe == 105);
  CHECK(a.log.size() == 3 * trained_fe);
  CHECK(std::all_of(a.log.begin(), a.log.end(),
                    [](const std::string& l) { return l.find("] is not available in checkpoint") != std::string::npos; }));
  CHECK(a.log.front() == "Variable [FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/beta/ExponentialMovingAverage] is "
                         "not available in checkpoint");
  CHECK(VariableLines(Plan(*pair, Profile::kTf1Estimator).log).empty());

  // classification against a detection checkpoint: every rewritten name misses
  const RestorePlan cls_a = Plan(*pair, Profile::kTf1Legacy, "classification");
  CHECK(cls_a.error == "ValueError: No variables to save");
  const RestorePlan cls_b = Plan(*pair, Profile::kTf1Estimator, "classification");
  CHECK(cls_b.ok());  // model_main.py restores nothing, silently
  CHECK(Names(cls_b, Action::kMissing).size() == 175);
  CHECK(cls_b.Find("FeatureExtractor/MobilenetV1/Conv2d_0/weights")->checkpoint_key == "MobilenetV1/Conv2d_0/weights");
  CHECK(VariableLines(cls_b.log).size() == 175);
  CHECK(VariableLines(cls_b.log).front() == "Variable [MobilenetV1/Conv2d_0/BatchNorm/beta] is not available in checkpoint");
  CHECK(std::any_of(cls_b.diagnostics.begin(), cls_b.diagnostics.end(),
                    [](const Diagnostic& d) { return d.code == "checkpoint_type_mismatch"; }));
  CHECK(Plan(*pair, Profile::kWarmstart, "classification").error.rfind("warmstart: nothing would be restored", 0) == 0);

  // "full": TF1 has no such type; warmstart restores all but the class heads, whose shape changed
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator}) {
    CHECK(Plan(*pair, p, "full").error == "ValueError: Not supported fine_tune_checkpoint_type: full");
  }
  const RestorePlan full = Plan(*pair, Profile::kWarmstart, "full");
  CHECK(Names(full, Action::kRestore).size() == 187);
  std::vector<std::string> class_heads;
  for (int i = 0; i < 6; ++i) {
    for (const char* v : {"biases", "weights"}) class_heads.push_back("BoxPredictor_" + std::to_string(i) + "/ClassPredictor/" + v);
  }
  CHECK(Sorted(Names(full, Action::kShapeMismatch)) == class_heads);

  // TF2 cannot build a slim feature extractor
  CHECK(Plan(*pair, Profile::kTf2).error.rfind("ValueError: ssd_mobilenet_v1 is not supported for tf version 2.", 0) == 0);
}

TEST_CASE("real pair: zoo ssd_mobilenet_v2 -> dzakirin fine-tune (1x1 vs 3x3 extra layers)") {
  const auto pair = LoadPair("zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29/model.ckpt", "tf1-od-ssd-mobilenet-v2-dzakirin",
                             "model.ckpt-31500");
  if (!pair) return;
  REQUIRE(pair->model.size() == 324);
  CHECK(pair->settings.ResolvedType() == "detection");
  // The zoo checkpoint's extra layers named "..._3x3_s2_..." hold 1x1 kernels; the fine-tuned
  // model (built by a later OD API) has 3x3 ones. TF skips them with the shape warning.
  const std::vector<std::string> mismatched = {
      "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512/weights",
      "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_3_3x3_s2_256/weights",
      "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_4_3x3_s2_256/weights",
      "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_5_3x3_s2_128/weights",
  };
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator, Profile::kWarmstart}) {
    INFO(ProfileName(p));
    const RestorePlan det = Plan(*pair, p);
    CHECK(det.ok());
    CHECK(Names(det, Action::kRestore).size() == 296);
    CHECK(AllStartWith(Names(det, Action::kRestore), "FeatureExtractor/MobilenetV2/"));
    CHECK(Names(det, Action::kShapeMismatch) == mismatched);
    CHECK(Sorted(Names(det, Action::kNotRequested)) == SsdHeads());
  }
  const std::vector<std::string> b = VariableLines(Plan(*pair, Profile::kTf1Estimator).log);
  REQUIRE(b.size() == 4);
  CHECK(b[0] ==
        "Variable [FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_512/weights] is available in checkpoint, but "
        "has an incompatible shape with model variable. Checkpoint shape: [[1, 1, 256, 512]], model variable shape: "
        "[[3, 3, 256, 512]]. This variable will not be initialized from the checkpoint.");
  const RestorePlan full = Plan(*pair, Profile::kWarmstart, "full");
  CHECK(Names(full, Action::kRestore).size() == 302);
  CHECK(Names(full, Action::kShapeMismatch).size() == 22);  // 4 extra layers + 6 x (class weights, biases) + ...
}

TEST_CASE("real pair: zoo faster_rcnn_inception_v2 -> paltaj fine-tune (TF1 Faster R-CNN)") {
  const auto pair = LoadPair("zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28/model.ckpt",
                             "tf1-od-faster-rcnn-inception-v2-paltaj", "model.ckpt-6138");
  if (!pair) return;
  REQUIRE(pair->model.size() == 356);
  CHECK(pair->settings.ResolvedType() == "detection");
  const std::vector<std::string> not_requested = {
      "Conv/biases",
      "Conv/weights",
      "FirstStageBoxPredictor/BoxEncodingPredictor/biases",
      "FirstStageBoxPredictor/BoxEncodingPredictor/weights",
      "FirstStageBoxPredictor/ClassPredictor/biases",
      "FirstStageBoxPredictor/ClassPredictor/weights",
      "SecondStageBoxPredictor/BoxEncodingPredictor/biases",
      "SecondStageBoxPredictor/BoxEncodingPredictor/weights",
      "SecondStageBoxPredictor/ClassPredictor/biases",
      "SecondStageBoxPredictor/ClassPredictor/weights",
  };
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator, Profile::kWarmstart}) {
    INFO(ProfileName(p));
    const RestorePlan det = Plan(*pair, p);
    CHECK(det.ok());
    CHECK(Names(det, Action::kRestore).size() == 346);
    CHECK(Sorted(Names(det, Action::kNotRequested)) == not_requested);
  }
  // Path A: the Momentum slots of feature-extractor variables pass the re.search filter.
  const RestorePlan a = Plan(*pair, Profile::kTf1Legacy);
  CHECK(!a.log.empty());
  CHECK(std::all_of(a.log.begin(), a.log.end(), [](const std::string& l) {
    return l.find("/Momentum] is not available in checkpoint") != std::string::npos ||
           l.find("/ExponentialMovingAverage] is not available in checkpoint") != std::string::npos;
  }));
  CHECK(VariableLines(Plan(*pair, Profile::kTf1Estimator, "classification").log).size() == 346);
  const RestorePlan full = Plan(*pair, Profile::kWarmstart, "full");
  CHECK(Names(full, Action::kRestore).size() == 352);
  CHECK(Names(full, Action::kShapeMismatch).size() == 4);
  CHECK(Plan(*pair, Profile::kTf2).error.rfind("ValueError: faster_rcnn_inception_v2 is not supported for tf version 2.", 0) == 0);
}

TEST_CASE("real pair: zoo TF2 ssd_mobilenet_v2_fpnlite -> accident fine-tune (object-based)") {
  const auto pair = LoadPair("zoo-tf2-ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8/checkpoint/ckpt-0",
                             "tf2-od-ssd-mobilenet-v2-fpnlite-accident", "ckpt-6");
  if (!pair) return;
  REQUIRE(pair->model.size() == 384);
  CHECK(pair->settings.ResolvedType() == "detection");
  CHECK(pair->ckpt.object_based());
  for (Profile p : {Profile::kTf2, Profile::kWarmstart}) {
    INFO(ProfileName(p));
    const RestorePlan det = Plan(*pair, p);
    CHECK(det.ok());
    CHECK(det.matching == "object");
    const std::vector<std::string> restored = Names(det, Action::kRestore);
    CHECK(restored.size() == 290);
    CHECK(AllStartWith(restored, "model/_feature_extractor/"));
    const std::vector<std::string> skipped = Names(det, Action::kNotRequested);
    CHECK(skipped.size() == 94);
    CHECK(AllStartWith(skipped, "model/_box_predictor/"));
    for (const PlannedVariable& v : det.variables) {
      if (v.action == Action::kRestore) CHECK(v.checkpoint_key == v.variable.name);
    }
  }
  // classification: the zoo checkpoint has no "feature_extractor" root, so nothing under
  // model/_feature_extractor/classification_backbone/ is bound: TF2's assertion fails.
  const RestorePlan cls = Plan(*pair, Profile::kTf2, "classification");
  CHECK(cls.error.rfind("AssertionError: Found 260 Python objects that were not bound to checkpointed values", 0) == 0);
  CHECK(Names(cls, Action::kMissing).size() == 260);
  // full: the class head's bias has another shape -> TF2 raises
  const RestorePlan full = Plan(*pair, Profile::kTf2, "full");
  CHECK(full.error.rfind("ValueError: Received incompatible tensor with shape (546,) when attempting to restore variable with shape ", 0) == 0);
  const RestorePlan wfull = Plan(*pair, Profile::kWarmstart, "full");
  CHECK(wfull.ok());
  CHECK(Names(wfull, Action::kRestore).size() == 382);
  CHECK(Names(wfull, Action::kShapeMismatch).size() == 2);
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator}) {
    CHECK(Plan(*pair, p).error.rfind("ValueError: ssd_mobilenet_v2_fpn_keras is not supported for tf version 1.", 0) == 0);
  }
}
