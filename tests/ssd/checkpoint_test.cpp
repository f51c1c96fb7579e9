// ssd::SaveCheckpoint / LoadCheckpoint / SaveTrainingCheckpoint / RestoreFromFineTuneCheckpoint:
// a ParameterList of nn layers saved as a TF1 bundle and read back, the load errors, and a
// fine-tune start through the restore plan, on hand-built layers and on the real SSD MobileNet
// V1 variable lists (zoo config -> pitting-corrosion fine-tune config).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/nn/batch_norm.hpp"
#include "warmstart/nn/conv2d.hpp"
#include "warmstart/restore/variables.hpp"
#include "warmstart/ssd/checkpoint.hpp"
#include "warmstart/ssd/variables.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

const char kConv0[] = "FeatureExtractor/MobilenetV1/Conv2d_0";
const char kConv1[] = "FeatureExtractor/MobilenetV1/Conv2d_1_pointwise";
const char kBoxEnc[] = "BoxPredictor_0/BoxEncodingPredictor";
const char kClass[] = "BoxPredictor_0/ClassPredictor";

nn::Conv2DOptions Conv(nn::Index k, nn::Index in, nn::Index out, nn::Index stride, bool bias) {
  nn::Conv2DOptions o;
  o.kernel_h = o.kernel_w = k;
  o.in_channels = in;
  o.out_channels = out;
  o.stride_h = o.stride_w = stride;
  o.use_bias = bias;
  return o;
}

nn::BatchNormOptions Bn(nn::Index channels) {
  nn::BatchNormOptions o;
  o.channels = channels;
  o.center = true;
  o.scale = true;
  return o;
}

// A tiny SSD-named model: conv + batch norm, a pointwise conv, and the two predictor convs.
template <class T>
struct TinyModel {
  nn::Conv2D<T> conv0;
  nn::BatchNorm<T> bn0;
  nn::Conv2D<T> conv1;
  nn::Conv2D<T> box;
  nn::Conv2D<T> cls;
  nn::ParameterList<T> params;

  TinyModel(nn::Index conv1_out, nn::Index num_classes)
      : conv0(kConv0, Conv(3, 3, 8, 2, false)),
        bn0(std::string(kConv0) + "/BatchNorm", Bn(8)),
        conv1(kConv1, Conv(1, 8, conv1_out, 1, false)),
        box(kBoxEnc, Conv(1, conv1_out, 3 * 4, 1, true)),
        cls(kClass, Conv(1, conv1_out, 3 * (num_classes + 1), 1, true)) {
    conv0.CollectParameters(params);
    bn0.CollectParameters(params);
    conv1.CollectParameters(params);
    box.CollectParameters(params);
    cls.CollectParameters(params);
  }

  // Every value distinct: parameter i, element j -> seed + i + j / 1000.
  void Fill(T seed) {
    for (size_t i = 0; i < params.size(); ++i) {
      nn::Parameter<T>& p = *params.all()[i];
      for (nn::Index j = 0; j < p.value.size(); ++j) p.value(j) = seed + T(i) + T(j) / T(1000);
    }
  }
  void Set(T v) {
    for (nn::Parameter<T>* p : params.all()) p->value.setConstant(v);
  }
};

std::vector<std::string> Keys(const bundle::Checkpoint& ckpt) {
  std::vector<std::string> out;
  for (const bundle::Entry& e : ckpt.entries()) out.push_back(e.name);
  return out;
}

bool AllEqual(const nn::Parameter<float>& p, float v) { return (p.value == v).all(); }

std::string FineTuneConfig(const std::string& ckpt, const std::string& extra = "") {
  return "model { ssd { num_classes: 3 feature_extractor { type: 'ssd_mobilenet_v1' } } }\n"
         "train_config {\n  fine_tune_checkpoint: '" + ckpt + "'\n  fine_tune_checkpoint_type: 'detection'\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("ssd checkpoint: save lists like a TF1 detection checkpoint, load round trip", "[ssd][checkpoint]") {
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  TinyModel<float> saved(16, 90);
  saved.Fill(1.0f);
  ssd::SaveCheckpoint(saved.params, prefix, 1234);

  const bundle::Checkpoint ckpt = bundle::Checkpoint::Open(prefix);
  CHECK(Keys(ckpt) == std::vector<std::string>{
                          "BoxPredictor_0/BoxEncodingPredictor/biases", "BoxPredictor_0/BoxEncodingPredictor/weights",
                          "BoxPredictor_0/ClassPredictor/biases", "BoxPredictor_0/ClassPredictor/weights",
                          "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/beta",
                          "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma",
                          "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean",
                          "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_variance",
                          "FeatureExtractor/MobilenetV1/Conv2d_0/weights",
                          "FeatureExtractor/MobilenetV1/Conv2d_1_pointwise/weights", "global_step"});
  const bundle::Entry& step = ckpt.Get("global_step");
  CHECK(step.dtype == bundle::DataType::kInt64);
  CHECK(step.shape.rank() == 0);
  CHECK(ckpt.Read<int64_t>("global_step") == std::vector<int64_t>{1234});
  const bundle::Entry& w = ckpt.Get("BoxPredictor_0/ClassPredictor/weights");
  CHECK(w.dtype == bundle::DataType::kFloat);
  CHECK(w.shape.dims() == std::vector<int64_t>{1, 1, 16, 273});
  // The data file holds the payloads in key order, as the Saver writes them.
  for (size_t i = 1; i < ckpt.entries().size(); ++i) CHECK(ckpt.entries()[i - 1].offset < ckpt.entries()[i].offset);
  // Its model variables (a listing without global_step) are exactly the parameters.
  const std::vector<restore::ModelVariable> listed =
      restore::ModelFromCheckpoint(restore::CheckpointListing::FromReader(ckpt));
  CHECK(listed.size() == saved.params.size());
  CHECK(ckpt.VerifyAll().ok());

  TinyModel<float> loaded(16, 90);
  const std::optional<int64_t> global_step = ssd::LoadCheckpoint(loaded.params, prefix);
  CHECK(global_step == 1234);
  for (size_t i = 0; i < saved.params.size(); ++i) {
    INFO(saved.params.all()[i]->name);
    CHECK((loaded.params.all()[i]->value == saved.params.all()[i]->value).all());
  }
  // Loading accepts what Checkpoint::Open accepts: the .index file, and an overwrite is whole.
  saved.Fill(5.0f);
  ssd::SaveCheckpoint(saved.params, prefix, 1235);
  CHECK(ssd::LoadCheckpoint(loaded.params, prefix + ".index") == 1235);
  CHECK(loaded.params.Get(std::string(kConv0) + "/weights").value(0) == 5.0f);

  // Double parameters are DT_DOUBLE.
  TinyModel<double> d(4, 1);
  d.Fill(0.5);
  ssd::SaveCheckpoint(d.params, (dir / "double").string(), 0);
  CHECK(bundle::Checkpoint::Open((dir / "double").string()).Get(std::string(kConv0) + "/weights").dtype ==
        bundle::DataType::kDouble);
  TinyModel<double> d2(4, 1);
  CHECK(ssd::LoadCheckpoint(d2.params, (dir / "double").string()) == 0);
  CHECK((d2.params.all()[3]->value == d.params.all()[3]->value).all());
}

TEST_CASE("ssd checkpoint: load errors name the variable and the file, nothing is written", "[ssd][checkpoint]") {
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  const std::string index = prefix + ".index";
  TinyModel<float> saved(16, 90);
  saved.Fill(1.0f);
  ssd::SaveCheckpoint(saved.params, prefix, 7);

  SECTION("a variable the checkpoint lacks") {
    TinyModel<float> model(16, 90);
    model.Set(-1.0f);
    nn::Parameter<float> extra = nn::MakeTrainable<float>("FeatureExtractor/MobilenetV1/Conv2d_2/weights", {1, 1, 16, 4});
    extra.value.setConstant(-1.0f);
    model.params.Add(&extra);
    CHECK_THROWS_AS(ssd::LoadCheckpoint(model.params, prefix), NotFoundError);
    CHECK_THROWS_WITH(ssd::LoadCheckpoint(model.params, prefix),
                      index + ": variable 'FeatureExtractor/MobilenetV1/Conv2d_2/weights' is not in the checkpoint "
                              "(model: [1, 1, 16, 4])");
    for (nn::Parameter<float>* p : model.params.all()) CHECK(AllEqual(*p, -1.0f));
  }
  SECTION("another shape") {
    TinyModel<float> model(32, 90);
    model.Set(-1.0f);
    CHECK_THROWS_AS(ssd::LoadCheckpoint(model.params, prefix), ArgumentError);
    CHECK_THROWS_WITH(ssd::LoadCheckpoint(model.params, prefix),
                      index + ": 3 of 10 variables cannot be loaded: 'FeatureExtractor/MobilenetV1/Conv2d_1_pointwise/"
                              "weights' has shape [1, 1, 8, 16] in the checkpoint, [1, 1, 8, 32] in the model; "
                              "'BoxPredictor_0/BoxEncodingPredictor/weights' has shape [1, 1, 16, 12] in the "
                              "checkpoint, [1, 1, 32, 12] in the model; 'BoxPredictor_0/ClassPredictor/weights' has "
                              "shape [1, 1, 16, 273] in the checkpoint, [1, 1, 32, 273] in the model");
    for (nn::Parameter<float>* p : model.params.all()) CHECK(AllEqual(*p, -1.0f));
  }
  SECTION("another dtype") {
    TinyModel<double> model(16, 90);
    CHECK_THROWS_WITH(ssd::LoadCheckpoint(model.params, prefix),
                      Contains(": 10 of 10 variables cannot be loaded: 'FeatureExtractor/MobilenetV1/Conv2d_0/weights' "
                               "is DT_FLOAT in the checkpoint, DT_DOUBLE in the model; "));
  }
  SECTION("no checkpoint there") {
    TinyModel<float> model(16, 90);
    CHECK_THROWS_AS(ssd::LoadCheckpoint(model.params, (dir / "nothing").string()), NotFoundError);
  }
  SECTION("a corrupt payload") {
    TinyModel<float> model(16, 90);
    model.Set(-1.0f);
    const std::string data = bundle::DataFilename(prefix, 0, 1);
    {
      std::fstream f(data, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(100);
      const char byte = static_cast<char>(f.get() ^ 0xFF);
      f.seekp(100);
      f.put(byte);
    }
    CHECK_THROWS_AS(ssd::LoadCheckpoint(model.params, prefix), FormatError);
    CHECK_THROWS_WITH(ssd::LoadCheckpoint(model.params, prefix),
                      Contains(data + ": key 'BoxPredictor_0/BoxEncodingPredictor/weights': offset 48: checksum mismatch"));
    for (nn::Parameter<float>* p : model.params.all()) CHECK(AllEqual(*p, -1.0f));
  }
  SECTION("a parameter may not be called global_step") {
    nn::ParameterList<float> list;
    nn::Parameter<float> step = nn::MakeState<float>("global_step", {});
    list.Add(&step);
    CHECK_THROWS_WITH(ssd::SaveCheckpoint(list, (dir / "bad").string(), 0),
                      Contains("key 'global_step': a model parameter may not be named global_step"));
  }
}

TEST_CASE("ssd checkpoint: training checkpoints model.ckpt-N with the state file", "[ssd][checkpoint]") {
  test::TempDir dir;
  const std::string model_dir = (dir / "train").string();
  fs::create_directories(model_dir);
  TinyModel<float> model(8, 2);
  for (int64_t step = 1; step <= 5; ++step) {
    model.Set(static_cast<float>(step));
    CHECK(ssd::SaveTrainingCheckpoint(model.params, model_dir, step * 100, 3) ==
          (fs::path(model_dir) / ("model.ckpt-" + std::to_string(step * 100))).string());
  }
  CHECK_FALSE(fs::exists(fs::path(model_dir) / "model.ckpt-200.index"));
  CHECK(fs::exists(fs::path(model_dir) / "model.ckpt-300.index"));
  std::ifstream in(fs::path(model_dir) / "checkpoint");
  std::stringstream text;
  text << in.rdbuf();
  const bundle::CheckpointState state = bundle::ParseCheckpointState(text.str(), "checkpoint");
  CHECK(state.model_checkpoint_path == "model.ckpt-500");
  CHECK(state.all_model_checkpoint_paths == std::vector<std::string>{"model.ckpt-300", "model.ckpt-400", "model.ckpt-500"});
  // The directory resolves through its state file to the newest one.
  TinyModel<float> back(8, 2);
  CHECK(ssd::LoadCheckpoint(back.params, model_dir) == 500);
  CHECK(AllEqual(*back.params.all()[0], 5.0f));
}

TEST_CASE("ssd checkpoint: fine-tune restore through the plan skips other shapes", "[ssd][checkpoint]") {
  test::TempDir dir;
  const std::string prefix = (dir / "zoo" / "model.ckpt").string();
  TinyModel<float> zoo(16, 90);  // the detection checkpoint: 90 classes, a 16-channel pointwise conv
  zoo.Fill(1.0f);
  ssd::SaveCheckpoint(zoo.params, prefix, 200000);

  TinyModel<float> model(32, 3);  // the fine-tune: 3 classes, a 32-channel pointwise conv
  model.Set(-7.0f);
  const std::string conv0w = std::string(kConv0) + "/weights";
  const std::string conv1w = std::string(kConv1) + "/weights";

  SECTION("detection: the feature extractor only") {
    const auto cfg = config::PipelineConfig::Parse(FineTuneConfig(prefix), "p.config");
    const restore::RestorePlan plan = ssd::RestoreFromFineTuneCheckpoint(model.params, cfg);
    REQUIRE(plan.ok());
    CHECK(plan.Find(conv0w)->action == restore::Action::kRestore);
    CHECK(plan.Find(std::string(kConv0) + "/BatchNorm/moving_variance")->action == restore::Action::kRestore);
    CHECK(plan.Find(conv1w)->action == restore::Action::kShapeMismatch);
    CHECK(plan.Find(std::string(kBoxEnc) + "/weights")->action == restore::Action::kNotRequested);
    CHECK(plan.counts().restored == 5);
    // Restored values are the checkpoint's; skipped ones keep theirs.
    for (const char* name : {"FeatureExtractor/MobilenetV1/Conv2d_0/weights",
                             "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma",
                             "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean"}) {
      INFO(name);
      CHECK((model.params.Get(name).value == zoo.params.Get(name).value).all());
    }
    CHECK(AllEqual(model.params.Get(conv1w), -7.0f));
    CHECK(AllEqual(model.params.Get(std::string(kBoxEnc) + "/weights"), -7.0f));
    CHECK(AllEqual(model.params.Get(std::string(kClass) + "/weights"), -7.0f));
  }
  SECTION("load_all_detection_checkpoint_vars: the box predictor too, where the shape fits") {
    const auto cfg = config::PipelineConfig::Parse(
        FineTuneConfig("/elsewhere/model.ckpt", "  load_all_detection_checkpoint_vars: true\n"), "p.config");
    const restore::RestorePlan plan = ssd::RestoreFromFineTuneCheckpoint(model.params, cfg, prefix);
    REQUIRE(plan.ok());
    CHECK(plan.checkpoint == prefix);
    // Box encodings: 3 anchors x 4 codes, same shape only for the biases (the weights read 16 channels).
    CHECK(plan.Find(std::string(kBoxEnc) + "/biases")->action == restore::Action::kRestore);
    CHECK(plan.Find(std::string(kBoxEnc) + "/weights")->action == restore::Action::kShapeMismatch);
    CHECK(plan.Find(std::string(kClass) + "/biases")->action == restore::Action::kShapeMismatch);
    CHECK((model.params.Get(std::string(kBoxEnc) + "/biases").value ==
           zoo.params.Get(std::string(kBoxEnc) + "/biases").value).all());
    CHECK(AllEqual(model.params.Get(std::string(kClass) + "/biases"), -7.0f));
    CHECK(plan.Find("global_step") == nullptr);
  }
  SECTION("no checkpoint, or one that is not there") {
    const auto cfg = config::PipelineConfig::Parse(FineTuneConfig(""), "p.config");
    CHECK_THROWS_WITH(ssd::RestoreFromFineTuneCheckpoint(model.params, cfg),
                      "p.config: train_config.fine_tune_checkpoint is empty and no checkpoint was given");
    CHECK_THROWS_AS(ssd::RestoreFromFineTuneCheckpoint(model.params, cfg, (dir / "none" / "model.ckpt").string()),
                    NotFoundError);
    for (nn::Parameter<float>* p : model.params.all()) CHECK(AllEqual(*p, -7.0f));
  }
  SECTION("a plan that fails throws with its error") {
    // Nothing in the model is under FeatureExtractor: detection restores nothing (warmstart refuses).
    nn::ParameterList<float> other;
    nn::Parameter<float> w = nn::MakeTrainable<float>("Other/weights", {2});
    other.Add(&w);
    const auto cfg = config::PipelineConfig::Parse(FineTuneConfig(prefix), "p.config");
    CHECK_THROWS_WITH(ssd::RestoreFromFineTuneCheckpoint(other, cfg), StartsWith(prefix + ": the restore plan fails: "));
  }
}

TEST_CASE("ssd checkpoint: real SSD MobileNet V1 variables, zoo config -> pitting-corrosion fine-tune",
          "[ssd][checkpoint][realdata]") {
  fs::path zoo_dir, tuned_dir;
  if (!test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &zoo_dir) ||
      !test::RequireRealData("checkpoints/tf1-od-ssd-mobilenet-v1-pitting-corrosion", &tuned_dir)) {
    return;
  }
  // Parameters made from the built variable lists (the real index files have no data shards:
  // the "zoo" checkpoint is written here, with the zoo model's names and shapes).
  const auto make = [](const ssd::ModelSpec& spec, std::vector<std::unique_ptr<nn::Parameter<float>>>* owned) {
    nn::ParameterList<float> list;
    for (const ssd::Variable& v : spec.variables) {
      owned->push_back(std::make_unique<nn::Parameter<float>>(
          v.name, std::vector<nn::Index>(v.shape.begin(), v.shape.end()), v.trainable));
      list.Add(owned->back().get());
    }
    return list;
  };
  std::vector<std::unique_ptr<nn::Parameter<float>>> zoo_owned, tuned_owned;
  const ssd::ModelSpec zoo_spec = ssd::LoadModelSpec(zoo_dir / "pipeline.config");
  nn::ParameterList<float> zoo = make(zoo_spec, &zoo_owned);
  for (size_t i = 0; i < zoo.size(); ++i) zoo.all()[i]->value.setConstant(static_cast<float>(i + 1));
  test::TempDir dir;
  const std::string prefix = (dir / "model.ckpt").string();
  ssd::SaveCheckpoint(zoo, prefix, 0);

  // Our checkpoint lists exactly like the real zoo index (names, shapes, dtypes, global_step).
  const bundle::Checkpoint ours = bundle::Checkpoint::Open(prefix);
  const bundle::Checkpoint real = bundle::Checkpoint::Open((zoo_dir / "model.ckpt").string());
  REQUIRE(ours.entries().size() == real.entries().size());
  for (size_t i = 0; i < ours.entries().size(); ++i) {
    INFO(real.entries()[i].name);
    CHECK(ours.entries()[i].name == real.entries()[i].name);
    CHECK(ours.entries()[i].dtype == real.entries()[i].dtype);
    CHECK(ours.entries()[i].shape.dims() == real.entries()[i].shape.dims());
  }

  const config::PipelineConfig cfg = config::PipelineConfig::Load(tuned_dir / "pipeline.config");
  nn::ParameterList<float> tuned = make(ssd::BuildModelSpec(cfg), &tuned_owned);
  const restore::RestorePlan plan = ssd::RestoreFromFineTuneCheckpoint(tuned, cfg, prefix);
  REQUIRE(plan.ok());
  size_t feature_extractor = 0;
  for (const nn::Parameter<float>* p : tuned.all()) {
    const bool fe = p->name.rfind("FeatureExtractor/", 0) == 0;
    feature_extractor += fe;
    INFO(p->name);
    const restore::PlannedVariable* v = plan.Find(p->name);
    REQUIRE(v != nullptr);
    if (fe) {
      CHECK(v->action == restore::Action::kRestore);
      CHECK((p->value == zoo.Get(p->name).value(0)).all());
    } else {
      CHECK(v->action == restore::Action::kNotRequested);  // from_detection_checkpoint: the extractor only
      CHECK((p->value == 0.0f).all());
    }
  }
  CHECK(feature_extractor == 175);  // 199 variables less 6 x 4 in the box predictors
  CHECK(plan.counts().restored == feature_extractor);
}
