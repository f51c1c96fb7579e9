// train/ssd_trainer.hpp and train/inputs.hpp end to end on a tiny SSD (MobileNet V1, depth
// 0.25, 64x64): the loss falls, a fine-tune restores what the plan says and keeps frozen
// variables at their restored values, checkpoints list and verify through the reader, a
// restart resumes the step count; and the inputs (shapes://, the real pets TFRecord).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/train/inputs.hpp"
#include "warmstart/train/ssd_trainer.hpp"

#include "realdata.hpp"
#include "train/tiny_config.hpp"

namespace ws = warmstart;
namespace fs = std::filesystem;

namespace {

using ws::test::TinyConfig;
using ws::test::TinyConfigText;

ws::config::PipelineConfig Config(const TinyConfig& c) {
  return ws::config::PipelineConfig::Parse(TinyConfigText(c), "tiny.config");
}

// A fixed batch of two shapes images at 64x64.
ws::train::Batch FixedBatch(const std::vector<std::string>& classes, uint64_t seed) {
  ws::data::ShapesOptions o;
  o.classes = classes;
  o.height = o.width = 64;
  o.min_objects = 1;
  o.max_objects = 2;
  o.min_size = 0.3f;
  o.max_size = 0.6f;
  o.seed = seed;
  const ws::data::ShapesDataset ds(o);
  std::vector<ws::data::FloatDetectionExample> prepared;
  for (uint64_t i = 0; i < 2; ++i) prepared.push_back(ws::train::PrepareExample(ds.Example(i), nullptr, nullptr, 64, 64));
  return ws::train::MakeBatch(prepared);
}

std::map<std::string, std::vector<float>> Values(ws::ssd::SsdModel<float>& m) {
  std::map<std::string, std::vector<float>> out;
  for (const ws::nn::Parameter<float>* p : m.parameters().all()) {
    out[p->name] = std::vector<float>(p->value.data(), p->value.data() + p->value.size());
  }
  return out;
}

}  // namespace

TEST_CASE("SsdTrainer: from scratch, the loss falls, Save lists and verifies, a restart resumes", "[train][trainer]") {
  ws::test::TempDir dir;
  const std::string model_dir = (dir / "model").string();
  TinyConfig c;
  c.moving_average = true;
  const ws::config::PipelineConfig cfg = Config(c);
  const ws::train::Batch batch = FixedBatch({"circle", "square", "triangle"}, 11);

  std::map<std::string, std::vector<float>> saved_values;
  std::vector<float> saved_slot;
  {
    ws::train::SsdTrainer trainer(cfg, {});
    const ws::train::StartReport start = trainer.Start(model_dir);
    CHECK(start.kind == ws::train::StartKind::kFromScratch);
    CHECK(start.global_step == 0);
    CHECK(start.frozen_variables == 0);
    CHECK(start.trained_variables == trainer.model().parameters().Trainable().size());
    std::vector<double> losses;
    for (int i = 0; i < 12; ++i) {
      const ws::train::StepStats s = trainer.Step(batch);
      CHECK(s.global_step == i + 1);
      CHECK(std::isfinite(s.total_loss));
      CHECK(s.num_matches > 0);
      CHECK(s.learning_rate == Approx(0.01));
      losses.push_back(s.total_loss);
    }
    // The same batch twelve times: the last steps are well below the first.
    CHECK((losses[9] + losses[10] + losses[11]) / 3 < 0.7 * (losses[0] + losses[1] + losses[2]) / 3);
    const std::string prefix = trainer.Save(model_dir);
    CHECK(prefix == (fs::path(model_dir) / "model.ckpt-12").string());
    saved_values = Values(trainer.model());
    const ws::train::SlotVariable<float>* slot =
        trainer.optimizer().Variables().empty() ? nullptr : &trainer.optimizer().Variables()[2];
    REQUIRE(slot != nullptr);
    saved_slot.assign(slot->value.data(), slot->value.data() + slot->value.size());
  }

  // The bundle: every model variable, Adam's slots and beta powers, global_step = 12; every
  // tensor's crc32c verifies.
  const ws::bundle::Checkpoint ckpt = ws::bundle::Checkpoint::Open(model_dir);
  CHECK(ckpt.prefix() == (fs::path(model_dir) / "model.ckpt-12").string());
  CHECK(ckpt.ReadAs<int64_t>("global_step") == std::vector<int64_t>{12});
  CHECK(ckpt.Contains("beta1_power"));
  CHECK(ckpt.Contains("beta2_power"));
  CHECK(ckpt.Contains("BoxPredictor_0/ClassPredictor/weights/Adam"));
  CHECK(ckpt.Contains("BoxPredictor_0/ClassPredictor/weights/Adam_1"));
  CHECK_FALSE(ckpt.Contains("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean/Adam"));
  for (const auto& [name, values] : saved_values) {
    INFO(name);
    REQUIRE(ckpt.Contains(name));
    CHECK(ckpt.ReadAs<float>(name) == values);
  }
  CHECK(ckpt.ReadAs<float>("beta1_power")[0] == Approx(std::pow(0.9, 13)).epsilon(1e-5));  // starts at 0.9

  CHECK(ckpt.Contains("BoxPredictor_0/ClassPredictor/weights/ExponentialMovingAverage"));

  // Restart on the same model_dir: resumed at step 12 with the same values and slots, and one
  // more step lands exactly where 13 uninterrupted steps do (model, slots, beta powers, moving
  // averages: everything a step reads was restored).
  const auto slots_of = [](const ws::train::SsdTrainer& t) {
    std::map<std::string, std::vector<float>> out;
    for (const ws::train::SlotVariable<float>& v : t.optimizer().Variables()) {
      out[v.name] = std::vector<float>(v.value.data(), v.value.data() + v.value.size());
    }
    for (const ws::train::SlotVariable<float>& v : t.moving_average()->Variables()) {
      out[v.name] = std::vector<float>(v.value.data(), v.value.data() + v.value.size());
    }
    return out;
  };
  ws::train::SsdTrainer resumed(cfg, {});
  const ws::train::StartReport start = resumed.Start(model_dir);
  CHECK(start.kind == ws::train::StartKind::kResumed);
  CHECK(start.global_step == 12);
  CHECK(Values(resumed.model()) == saved_values);
  const ws::train::SlotVariable<float>& slot = resumed.optimizer().Variables()[2];
  CHECK(std::vector<float>(slot.value.data(), slot.value.data() + slot.value.size()) == saved_slot);
  CHECK(resumed.Step(batch).global_step == 13);
  resumed.Save(model_dir);
  CHECK(ws::bundle::Checkpoint::Open(model_dir).ReadAs<int64_t>("global_step") == std::vector<int64_t>{13});

  ws::train::SsdTrainer straight(cfg, {});
  straight.Start("");
  for (int i = 0; i < 13; ++i) straight.Step(batch);
  CHECK(Values(resumed.model()) == Values(straight.model()));
  CHECK(slots_of(resumed) == slots_of(straight));

  // Evaluation with the moving averages swaps them in and puts the variables back.
  const std::map<std::string, std::vector<float>> before_eval = Values(resumed.model());
  ws::data::ShapesOptions eo;
  eo.classes = {"circle", "square", "triangle"};
  eo.height = eo.width = 64;
  const ws::data::ShapesDataset eval_set(eo);
  const ws::train::EvalResult with_ema =
      resumed.Evaluate(3, [&](uint64_t i) { return eval_set.Example(i); }, 2, true, 1);
  CHECK(with_ema.used_moving_averages);
  CHECK(with_ema.num_images == 3);
  CHECK(with_ema.kept.size() == 1);
  CHECK(Values(resumed.model()) == before_eval);
  CHECK_FALSE(resumed.Evaluate(3, [&](uint64_t i) { return eval_set.Example(i); }, 2, false).used_moving_averages);
}

TEST_CASE("SsdTrainer: a fine-tune restores through the plan, re-initialises changed heads, keeps frozen "
          "variables exactly", "[train][trainer]") {
  ws::test::TempDir dir;
  // Stage 1: three classes, a few steps, saved.
  std::map<std::string, std::vector<float>> pretrained;
  {
    ws::train::SsdTrainer trainer(Config({}), {});
    trainer.Start("");
    const ws::train::Batch batch = FixedBatch({"circle", "square", "triangle"}, 5);
    for (int i = 0; i < 3; ++i) trainer.Step(batch);
    trainer.Save((dir / "pre").string());
    pretrained = Values(trainer.model());
  }

  // Stage 2: two classes (the class heads change shape), Conv2d_0 frozen by pattern.
  TinyConfig c;
  c.num_classes = 2;
  c.train_input = "shapes://ring,star?seed=9";
  c.eval_input = "shapes://ring,star?seed=10&count=4";
  c.train_extra = "fine_tune_checkpoint: \"" + (dir / "pre" / "model.ckpt-3").string() +
                  "\"\n  fine_tune_checkpoint_type: \"detection\"\n  load_all_detection_checkpoint_vars: true\n  freeze_variables: \"FeatureExtractor/MobilenetV1/Conv2d_0/\"";
  ws::train::SsdTrainer trainer(Config(c), {});
  const ws::train::StartReport start = trainer.Start((dir / "fine").string());
  CHECK(start.kind == ws::train::StartKind::kFineTuned);
  CHECK(start.global_step == 0);

  // The plan (load_all_detection_checkpoint_vars, else SSD restores the feature extractor
  // only): class predictors skipped for their shape, everything else restored.
  size_t restored = 0, shape_mismatch = 0;
  for (const ws::restore::PlannedVariable& v : start.plan.variables) {
    if (v.variable.kind != ws::restore::VariableKind::kModel) continue;
    INFO(v.name());
    if (v.name().find("ClassPredictor") != std::string::npos) {
      CHECK(v.action == ws::restore::Action::kShapeMismatch);
      ++shape_mismatch;
    } else {
      CHECK(v.action == ws::restore::Action::kRestore);
      ++restored;
    }
  }
  CHECK(shape_mismatch == 12);  // 6 maps x weights and biases
  CHECK(restored + shape_mismatch == trainer.model().parameters().size());
  // Conv2d_0's weights, gamma and beta are frozen; its moving statistics are not trainable anyway.
  CHECK(start.frozen_variables == 3);

  std::map<std::string, std::vector<float>> before = Values(trainer.model());
  for (const auto& [name, values] : before) {
    if (name.find("ClassPredictor") != std::string::npos) continue;
    INFO(name);
    CHECK(values == pretrained.at(name));  // restored exactly
  }
  const ws::train::Batch batch = FixedBatch({"ring", "star"}, 21);
  for (int i = 0; i < 3; ++i) trainer.Step(batch);
  const std::map<std::string, std::vector<float>> after = Values(trainer.model());
  for (const char* frozen : {"FeatureExtractor/MobilenetV1/Conv2d_0/weights", "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma",
                             "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/beta"}) {
    INFO(frozen);
    CHECK(after.at(frozen) == before.at(frozen));
  }
  for (const char* trained : {"FeatureExtractor/MobilenetV1/Conv2d_1_pointwise/weights", "BoxPredictor_0/ClassPredictor/weights",
                              "BoxPredictor_1/BoxEncodingPredictor/weights"}) {
    INFO(trained);
    CHECK(after.at(trained) != before.at(trained));
  }
  // Most trained variables moved (a head whose anchors matched nothing has zero gradients).
  size_t changed = 0;
  for (const ws::nn::Parameter<float>* p : trainer.trained()) changed += after.at(p->name) != before.at(p->name) ? 1 : 0;
  CHECK(changed > trainer.trained().size() * 3 / 4);
  CHECK(trainer.trained().size() == start.trained_variables);
  // The moving statistics of the frozen layer still follow the batches, as TF's update ops do.
  CHECK(after.at("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean") !=
        before.at("FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/moving_mean"));

  // Evaluation runs in inference mode and scores every image.
  ws::train::InputOptions io;
  io.image_size = 64;
  io.default_count = 4;
  const auto eval = ws::train::OpenInput(Config(c).eval_inputs().front(), io, "eval");
  std::vector<ws::data::DetectionExample> examples;
  for (uint64_t i = 0; i < eval->size(); ++i) examples.push_back(eval->Get(i));
  const ws::train::EvalResult r = trainer.Evaluate(examples, 3);
  CHECK(r.num_images == 4);
  CHECK(r.detections.size() == 4);
  CHECK(r.metrics.map50 >= 0);
  CHECK(r.metrics.map50 <= 1);
  CHECK(r.metrics.per_category.size() <= 2);
  CHECK(trainer.model().batch_norm_mode() == ws::nn::BatchNormMode::kTraining);
}

TEST_CASE("SsdTrainer: bad labels and freeze patterns that leave nothing are refused", "[train][trainer]") {
  ws::train::SsdTrainer trainer(Config({}), {});
  trainer.Start("");
  ws::train::Batch batch = FixedBatch({"circle", "square", "triangle"}, 1);
  batch.labels[0][0] = 4;  // num_classes is 3
  CHECK_THROWS_WITH(trainer.Step(batch), Catch::Contains("label 4, outside [1, num_classes = 3]"));

  TinyConfig c;
  c.train_extra = "freeze_variables: \".*\"";
  ws::train::SsdTrainer frozen(Config(c), {});
  CHECK_THROWS_WITH(frozen.Start(""), Catch::Contains("nothing left to train"));
}

TEST_CASE("OpenInput: shapes:// paths and their errors", "[train][inputs]") {
  ws::config::InputReaderConfig reader;
  ws::train::InputOptions io;
  io.image_size = 32;
  reader.input_paths = {"shapes://circle,cross?seed=7&count=5&max_objects=2"};
  const auto source = ws::train::OpenInput(reader, io, "train");
  CHECK(source->size() == 5);
  CHECK(source->ClassNames() == std::vector<std::string>{"", "circle", "cross"});
  const ws::data::DetectionExample ex = source->Get(3);
  CHECK(ex.image.height == 32);
  CHECK(ex.image.width == 32);
  CHECK(ex.boxes.size() == ex.labels.size());
  CHECK(ex.labels.size() <= 2);
  for (int32_t label : ex.labels) CHECK((label == 1 || label == 2));
  CHECK(source->Get(3).image.pixels == ex.image.pixels);  // deterministic

  reader.input_paths = {"shapes://circle,hexagon"};
  CHECK_THROWS_WITH(ws::train::OpenInput(reader, io, "train"), Catch::Contains("unknown class 'hexagon'"));
  reader.input_paths = {"shapes://circle?colour=red"};
  CHECK_THROWS_WITH(ws::train::OpenInput(reader, io, "train"), Catch::Contains("unknown key \"colour\""));
  reader.input_paths = {"shapes://circle?count=many"};
  CHECK_THROWS_WITH(ws::train::OpenInput(reader, io, "train"), Catch::Contains("count=many is not a number"));
  reader.input_paths = {};
  CHECK_THROWS_WITH(ws::train::OpenInput(reader, io, "train"), Catch::Contains("no tf_record_input_reader.input_path"));
}

#if defined(WARMSTART_HAVE_STB)
TEST_CASE("OpenInput: the real pets TFRecord with its label map", "[train][inputs][realdata]") {
  fs::path record, labels;
  if (!ws::test::RequireRealData("od_test_data/pets_examples.record", &record)) return;
  if (!ws::test::RequireRealData("od_test_data/pet_label_map.pbtxt", &labels)) return;
  ws::config::InputReaderConfig reader;
  reader.input_paths = {record.string()};
  reader.label_map_path = labels.string();
  const auto source = ws::train::OpenInput(reader, {}, "train");
  REQUIRE(source->size() == 10);
  CHECK(source->ClassNames().size() == 38);
  CHECK(source->ClassNames()[11] == "chihuahua");
  const ws::data::DetectionExample first = source->Get(0);
  CHECK(first.image.height == 225);
  CHECK(first.image.width == 300);
  REQUIRE(first.boxes.size() == 1);
  CHECK(first.labels == std::vector<int32_t>{11});
  CHECK(first.boxes[0][0] == Approx(54.0 / 225));
  CHECK(first.boxes[0][1] == Approx(119.0 / 300));
  CHECK(first.boxes[0][2] == Approx(128.0 / 225));
  CHECK(first.boxes[0][3] == Approx(228.0 / 300));
  CHECK(source->Get(1).labels == std::vector<int32_t>{33});  // Siamese

  // A glob finds it too; a pattern that matches nothing names itself.
  reader.input_paths = {(record.parent_path() / "pets_*.record").string()};
  CHECK(ws::train::OpenInput(reader, {}, "train")->size() == 10);
  reader.input_paths = {(record.parent_path() / "nothing_*.record").string()};
  CHECK_THROWS_WITH(ws::train::OpenInput(reader, {}, "train"), Catch::Contains("matches no file"));
}
#endif
