// Typed views of pipeline.config: defaults against spec section 1, the 104 sample configs
// against the tables of spec section 7 (read from the spec at test time), the zoo SSD
// pipeline.configs, GetWithDefault.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/config/pipeline.hpp"

namespace wc = warmstart::config;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> SplitRow(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

std::string Strip(std::string s, const std::string& chars) {
  for (const char c : chars) s.erase(std::remove(s.begin(), s.end(), c), s.end());
  return s;
}

// The table rows (cells) of the section of `spec` whose heading starts with `heading`.
std::vector<std::vector<std::string>> TableUnder(const fs::path& spec, const std::string& heading) {
  std::ifstream in(spec);
  std::string line;
  bool inside = false;
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {
      if (inside) break;
      inside = line.rfind(heading, 0) == 0;
      continue;
    }
    if (inside && line.rfind("| ", 0) == 0 && line.find("---") == std::string::npos) rows.push_back(SplitRow(line));
  }
  if (!rows.empty()) rows.erase(rows.begin());  // the header
  return rows;
}

bool SpecPath(fs::path* out) {
  fs::path realdata;
  if (!warmstart::test::RequireRealData(&realdata)) return false;
  *out = realdata.parent_path() / "spec" / "odapi-finetune-semantics.md";
  if (!fs::exists(*out)) {
    WARN("spec not found at " << out->string() << "; skipping");
    return false;
  }
  return true;
}

std::vector<fs::path> ConfigsIn(const fs::path& dir, bool recursive) {
  std::vector<fs::path> out;
  auto add = [&](const fs::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".config") out.push_back(e.path());
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) add(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir)) add(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("pipeline: an empty train_config has the defaults of spec section 1", "[config]") {
  const auto p = wc::PipelineConfig::Parse("train_config { }");
  const wc::TrainConfig& t = p.train();
  CHECK(t.batch_size == 32);
  CHECK(t.data_augmentation_options.empty());
  CHECK_FALSE(t.sync_replicas);
  CHECK(t.keep_checkpoint_every_n_hours == 10000.0f);
  CHECK_FALSE(t.optimizer.has_value());
  CHECK(t.gradient_clipping_by_norm == 0.0f);
  CHECK(t.fine_tune_checkpoint.empty());
  CHECK_FALSE(t.from_detection_checkpoint);
  CHECK(t.num_steps == 0);
  CHECK(t.startup_delay_steps == 15.0f);
  CHECK(t.bias_grad_multiplier == 0.0f);
  CHECK(t.freeze_variables.empty());
  CHECK(t.replicas_to_aggregate == 1);
  CHECK(t.batch_queue_capacity == 150);
  CHECK(t.num_batch_queue_threads == 8);
  CHECK(t.prefetch_queue_capacity == 5);
  CHECK_FALSE(t.merge_multiple_label_boxes);
  CHECK(t.add_regularization_loss);
  CHECK_FALSE(t.load_all_detection_checkpoint_vars);
  CHECK(t.max_number_of_boxes == 100);
  CHECK(t.unpad_groundtruth_tensors);
  CHECK(t.fine_tune_checkpoint_type.empty());
  CHECK(t.ResolvedFineTuneCheckpointType() == "classification");
  CHECK_FALSE(t.retain_original_images);
  CHECK_FALSE(t.use_multiclass_scores);
  CHECK(t.update_trainable_variables.empty());
  CHECK_FALSE(t.use_bfloat16);
  CHECK_FALSE(t.summarize_gradients);
  CHECK(t.fine_tune_checkpoint_version == wc::CheckpointVersion::kV1);
  CHECK(t.run_fine_tune_checkpoint_dummy_computation);
  CHECK(t.explicit_fields.empty());
  // No train_config at all reads the same.
  CHECK(wc::PipelineConfig::Parse("").train().batch_size == 32);
}

TEST_CASE("pipeline: the schema's TrainConfig equals the table of spec section 1", "[config]") {
  fs::path spec;
  if (!SpecPath(&spec)) return;
  const auto rows = TableUnder(spec, "## 1. `TrainConfig`");
  REQUIRE(rows.size() == 29);
  const wc::MessageSchema& m = wc::OdSchema().Message("object_detection.protos.TrainConfig");
  for (const auto& row : rows) {
    const std::string name = Strip(row[1], "`");
    INFO(name);
    const wc::FieldSchema* f = m.Find(name);
    REQUIRE(f != nullptr);
    CHECK(std::to_string(f->number) == row[0]);
    // Type: "uint32", "**float**", "repeated `PreprocessingStep`", "`Optimizer` (...)", "`CheckpointVersion`".
    const std::string type = Strip(row[2], "*`");
    if (f->is_message() || f->type == wc::FieldType::kEnum) {
      const std::string short_name = f->is_message() ? f->type_name.substr(f->type_name.rfind('.') + 1)
                                                     : f->enum_type->full_name.substr(f->enum_type->full_name.rfind('.') + 1);
      CHECK(type.find(short_name) != std::string::npos);
    } else {
      CHECK(type == (f->repeated ? "repeated " : "") + std::string(wc::FieldTypeName(f->type)));
    }
    CHECK(f->repeated == (type.rfind("repeated", 0) == 0));
    // Default: "32", "**10000.0**", "false, **deprecated**", "150, deprecated", "\"\"", "empty", "unset".
    std::string def = Strip(row[3], "*");
    const bool deprecated = def.find("deprecated") != std::string::npos;
    def = def.substr(0, def.find(','));
    CHECK(f->deprecated == deprecated);
    if (def == "empty" || def == "unset") {
      CHECK(f->default_value.empty());
    } else if (def == "\"\"") {
      CHECK(f->type == wc::FieldType::kString);
      CHECK(f->default_value.empty());
    } else {
      CHECK(wc::FieldReader::DefaultValue(*f) == wc::FieldReader::DefaultValue([&] {
              wc::FieldSchema g = *f;
              g.default_value = def;
              return g;
            }()));
    }
  }
}

TEST_CASE("pipeline: optimizer and learning-rate defaults (spec 1.2)", "[config]") {
  const auto p = wc::PipelineConfig::Parse(
      "train_config { optimizer { rms_prop_optimizer { learning_rate { exponential_decay_learning_rate { } } } } }");
  const wc::Optimizer& o = *p.train().optimizer;
  CHECK(o.kind == wc::Optimizer::Kind::kRmsProp);
  CHECK(o.kind_name == "rms_prop_optimizer");
  CHECK(o.use_moving_average);
  CHECK_FALSE(o.IsSet("use_moving_average"));
  CHECK(o.moving_average_decay == 0.9999f);
  CHECK(o.momentum_optimizer_value == 0.9f);
  CHECK(o.decay == 0.9f);
  CHECK(o.epsilon == 1.0f);
  REQUIRE(o.learning_rate.kind == wc::LearningRate::Kind::kExponentialDecay);
  const wc::ExponentialDecayLearningRate& e = o.learning_rate.exponential_decay;
  CHECK(e.initial_learning_rate == 0.002f);
  CHECK(e.decay_steps == 4000000);
  CHECK(e.decay_factor == 0.95f);
  CHECK(e.staircase);
  CHECK(e.burnin_learning_rate == 0.0f);
  CHECK(e.burnin_steps == 0);
  CHECK(e.min_learning_rate == 0.0f);
  const wc::CosineDecayLearningRate& c = o.learning_rate.cosine_decay;
  CHECK(c.learning_rate_base == 0.002f);
  CHECK(c.total_steps == 4000000);
  CHECK(c.warmup_learning_rate == 0.0002f);
  CHECK(c.warmup_steps == 10000);
  CHECK(c.hold_base_rate_steps == 0);
  CHECK(o.learning_rate.constant.learning_rate == 0.002f);

  const auto adam = wc::PipelineConfig::Parse(
      "train_config { optimizer { adam_optimizer { learning_rate { manual_step_learning_rate {\n"
      "  initial_learning_rate: 0.1 schedule { step: 100 learning_rate: 0.01 } schedule { step: 200 }\n"
      "  warmup: true } } } use_moving_average: False } }");
  const wc::Optimizer& a = *adam.train().optimizer;
  CHECK(a.kind == wc::Optimizer::Kind::kAdam);
  CHECK(a.epsilon == 1e-8f);
  CHECK_FALSE(a.use_moving_average);
  CHECK(a.IsSet("use_moving_average"));
  const wc::ManualStepLearningRate& m = a.learning_rate.manual_step;
  CHECK(a.learning_rate.kind == wc::LearningRate::Kind::kManualStep);
  CHECK(m.initial_learning_rate == 0.1f);
  REQUIRE(m.schedule.size() == 2);
  CHECK(m.schedule[0].step == 100);
  CHECK(m.schedule[0].learning_rate == 0.01f);
  CHECK(m.schedule[1].step == 200);
  CHECK(m.schedule[1].learning_rate == 0.002f);
  CHECK(m.warmup);
}

TEST_CASE("pipeline: the section 2 rule resolves fine_tune_checkpoint_type", "[config]") {
  CHECK(wc::PipelineConfig::Parse("train_config { from_detection_checkpoint: true }").train().ResolvedFineTuneCheckpointType() == "detection");
  CHECK(wc::PipelineConfig::Parse("train_config { from_detection_checkpoint: false }").train().ResolvedFineTuneCheckpointType() == "classification");
  const auto explicit_wins = wc::PipelineConfig::Parse(
      "train_config { from_detection_checkpoint: true fine_tune_checkpoint_type: 'classification' }");
  CHECK(explicit_wins.train().ResolvedFineTuneCheckpointType() == "classification");
  CHECK(wc::PipelineConfig::Parse("train_config { fine_tune_checkpoint_type: 'full' }").train().ResolvedFineTuneCheckpointType() == "full");
}

TEST_CASE("pipeline: GetWithDefault gives explicit values, proto defaults, the resolved type", "[config]") {
  const auto p = wc::PipelineConfig::Parse(
      "model { ssd { anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 2.0] } } } }\n"
      "train_config { batch_size: 4 batch_size: 6 from_detection_checkpoint: true }\n"
      "graph_rewriter { quantization { delay: 48000 } }\n",
      "p.config");
  auto got = p.GetWithDefault("train_config.batch_size");
  REQUIRE(got.values.size() == 1);
  CHECK(got.values[0].AsInt64() == 6);  // Merge: the last one
  CHECK_FALSE(got.is_default);
  got = p.GetWithDefault("train_config.keep_checkpoint_every_n_hours");
  CHECK(got.is_default);
  CHECK(got.values.at(0).AsDouble() == 10000.0);
  got = p.GetWithDefault("train_config.fine_tune_checkpoint_type");
  CHECK(got.resolved);
  CHECK(got.values.at(0).AsString() == "detection");
  got = p.GetWithDefault("train_config.fine_tune_checkpoint_version");
  CHECK(got.values.at(0).AsEnum() == "V1");
  got = p.GetWithDefault("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios");
  REQUIRE(got.values.size() == 2);
  CHECK(got.values[1].AsDouble() == 2.0);
  got = p.GetWithDefault("model.ssd.anchor_generator.ssd_anchor_generator.min_scale");
  CHECK(got.values.at(0).AsDouble() == Approx(0.2));
  CHECK(p.GetWithDefault("train_config.freeze_variables").values.empty());
  CHECK(p.GetWithDefault("train_config.optimizer.use_moving_average").values.at(0).AsBool());
  // graph_rewriter is modelled (graph_rewriter.proto): explicit value, then a default.
  CHECK(p.GetWithDefault("graph_rewriter.quantization.delay").values.at(0).AsInt64() == 48000);
  CHECK(p.GetWithDefault("graph_rewriter.quantization.delay").field != nullptr);
  got = p.GetWithDefault("graph_rewriter.quantization.weight_bits");
  CHECK(got.is_default);
  CHECK(got.values.at(0).AsInt64() == 8);
  CHECK_THROWS_AS(p.GetWithDefault("graph_rewriter.quantization.bits"), warmstart::NotFoundError);
  // Not modelled but present (CenterNet's contents): the explicit value; neither: NotFoundError.
  const auto c = wc::PipelineConfig::Parse("model { center_net { num_classes: 7 } }", "c.config");
  CHECK(c.GetWithDefault("model.center_net.num_classes").values.at(0).AsInt64() == 7);
  CHECK(c.GetWithDefault("model.center_net.num_classes").field == nullptr);
  CHECK_THROWS_AS(c.GetWithDefault("model.center_net.max_box_predictions"), warmstart::NotFoundError);
  CHECK_THROWS_AS(p.GetWithDefault("train_config.nope"), warmstart::NotFoundError);
}

TEST_CASE("pipeline: every real config loads, strict too (no duplicate singular fields)", "[config]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData(&dir)) return;
  std::vector<fs::path> configs = ConfigsIn(dir / "odapi-configs", true);
  CHECK(configs.size() == 104);
  for (const fs::path& p : ConfigsIn(dir / "checkpoints", true)) configs.push_back(p);
  CHECK(configs.size() == 116);
  std::vector<std::string> strict_failures;
  for (const fs::path& path : configs) {
    INFO(path.string());
    const auto p = wc::PipelineConfig::Load(path);
    CHECK(p.diagnostics().empty());
    CHECK(p.document().Print() == p.document().source());
    CHECK(p.meta_arch() != wc::MetaArch::kNone);
    wc::LoadOptions strict;
    strict.validate.strict = true;
    try {
      wc::PipelineConfig::Load(path, strict);
    } catch (const warmstart::FormatError& e) {
      strict_failures.push_back(e.what());
    }
  }
  // A real finding would be listed here; none of the 116 files repeats a singular field
  // or sets two members of a oneof.
  CHECK(strict_failures == std::vector<std::string>{});
}

TEST_CASE("pipeline: the 104 sample configs give the train_config values of spec 7.1 / 7.2", "[config]") {
  fs::path spec, dir;
  if (!SpecPath(&spec) || !warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  struct Table {
    std::string heading;
    fs::path dir;
    size_t rows;
  };
  for (const Table& table : {Table{"### 7.1", dir, 64}, Table{"### 7.2", dir / "tf2", 40}}) {
    const auto rows = TableUnder(spec, table.heading);
    REQUIRE(rows.size() == table.rows);
    REQUIRE(ConfigsIn(table.dir, false).size() == table.rows);
    for (const auto& row : rows) {
      REQUIRE(row.size() == 13);
      const std::string file = Strip(row[0], "`");
      INFO(file);
      const auto p = wc::PipelineConfig::Load(table.dir / file);
      const wc::TrainConfig& t = p.train();
      CHECK(p.meta_arch_name() == row[1]);
      CHECK(p.feature_extractor_type() == Strip(row[2], "`"));
      // ftc: path / `""` / absent
      if (row[3] == "absent") {
        CHECK_FALSE(t.IsSet("fine_tune_checkpoint"));
      } else {
        CHECK(t.IsSet("fine_tune_checkpoint"));
        CHECK(t.fine_tune_checkpoint.empty() == (row[3] == "`\"\"`"));
      }
      if (row[4] == "—") {
        CHECK_FALSE(t.IsSet("fine_tune_checkpoint_type"));
      } else {
        CHECK(t.fine_tune_checkpoint_type == Strip(row[4], "\""));
      }
      CHECK(t.from_detection_checkpoint == (row[5] == "true"));
      CHECK(t.IsSet("from_detection_checkpoint") == (row[5] != "—"));
      CHECK(t.load_all_detection_checkpoint_vars == (row[6] == "true"));
      CHECK(t.IsSet("load_all_detection_checkpoint_vars") == (row[6] != "—"));
      if (row[7] == "—") {
        CHECK_FALSE(t.IsSet("fine_tune_checkpoint_version"));
      } else {
        CHECK(row[7] == "V2");
        CHECK(t.fine_tune_checkpoint_version == wc::CheckpointVersion::kV2);
      }
      CHECK(t.freeze_variables.empty() == (row[8] == "—"));
      CHECK(t.update_trainable_variables.empty() == (row[9] == "—"));
      CHECK(t.ResolvedFineTuneCheckpointType() == Strip(row[10], "*"));
      // opt/ema: "momentum/false", "rms_prop/-", "rms_prop/False"
      const std::string opt = row[11].substr(0, row[11].find('/'));
      const std::string ema = row[11].substr(row[11].find('/') + 1);
      REQUIRE(t.optimizer.has_value());
      CHECK(t.optimizer->kind_name == opt + "_optimizer");
      if (ema == "-") {
        CHECK_FALSE(t.optimizer->IsSet("use_moving_average"));
        CHECK(t.optimizer->use_moving_average);
      } else {
        const wc::Value* literal = p.document().root().FindLast("train_config.optimizer.use_moving_average");
        REQUIRE(literal != nullptr);
        CHECK(literal->text() == ema);
        CHECK(t.optimizer->use_moving_average == (ema == "true" || ema == "True"));
      }
      if (row[12] == "—") {
        CHECK(t.gradient_clipping_by_norm == 0.0f);
      } else {
        CHECK(t.gradient_clipping_by_norm == std::stof(row[12]));
      }
    }
  }
}

TEST_CASE("pipeline: SSD view of the zoo ssd_mobilenet_v1_coco pipeline.config", "[config]") {
  fs::path path;
  if (!warmstart::test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28/pipeline.config", &path)) return;
  const auto p = wc::PipelineConfig::Load(path);
  REQUIRE(p.meta_arch() == wc::MetaArch::kSsd);
  const wc::SsdModelConfig& s = *p.ssd();
  CHECK(s.num_classes == 90);
  CHECK(s.image_resizer.kind == "fixed_shape_resizer");
  CHECK(s.image_resizer.height == 300);
  CHECK(s.image_resizer.width == 300);
  CHECK(s.feature_extractor.type == "ssd_mobilenet_v1");
  CHECK(s.feature_extractor.depth_multiplier == 1.0f);
  CHECK(s.feature_extractor.min_depth == 16);
  CHECK(s.feature_extractor.pad_to_multiple == 1);
  const wc::HyperparamsConfig& h = s.feature_extractor.conv_hyperparams;
  CHECK(h.regularizer == "l2_regularizer");
  CHECK(h.regularizer_weight == 3.99999989895e-05f);
  CHECK(h.initializer == "truncated_normal_initializer");
  CHECK(h.initializer_stddev == 0.0299999993294f);
  CHECK(h.activation == "RELU_6");
  REQUIRE(h.batch_norm.has_value());
  CHECK(h.batch_norm->decay == 0.999700009823f);
  CHECK(h.batch_norm->center);
  CHECK(h.batch_norm->scale);
  CHECK(h.batch_norm->epsilon == 0.0010000000475f);
  CHECK(h.batch_norm->train);
  CHECK(s.box_coder.kind == "faster_rcnn_box_coder");
  CHECK(s.box_coder.y_scale == 10.0f);
  CHECK(s.box_coder.height_scale == 5.0f);
  CHECK(s.matcher.kind == "argmax_matcher");
  CHECK(s.matcher.matched_threshold == 0.5f);
  CHECK(s.matcher.force_match_for_each_row);
  CHECK(s.similarity_calculator == "iou_similarity");
  CHECK(s.anchor_generator.kind == "ssd_anchor_generator");
  const wc::SsdAnchorGeneratorConfig& a = s.anchor_generator.ssd;
  CHECK(a.num_layers == 6);
  CHECK(a.min_scale == 0.20000000298f);
  CHECK(a.max_scale == 0.949999988079f);
  CHECK(a.aspect_ratios == std::vector<float>{1.0f, 2.0f, 0.5f, 3.0f, 0.333299994469f});
  CHECK(a.scales.empty());
  CHECK(a.interpolated_scale_aspect_ratio == 1.0f);
  CHECK(a.reduce_boxes_in_lowest_layer);
  CHECK(s.box_predictor.kind == "convolutional_box_predictor");
  CHECK(s.box_predictor.convolutional.kernel_size == 1);
  CHECK(s.box_predictor.convolutional.box_code_size == 4);
  CHECK_FALSE(s.box_predictor.convolutional.use_dropout);
  CHECK(s.box_predictor.convolutional.dropout_keep_probability == 0.800000011921f);
  CHECK(s.box_predictor.convolutional.conv_hyperparams.activation == "RELU_6");
  CHECK(s.post_processing.score_threshold == 0.300000011921f);
  CHECK(s.post_processing.iou_threshold == 0.600000023842f);
  CHECK(s.post_processing.max_detections_per_class == 100);
  CHECK(s.post_processing.max_total_detections == 100);
  CHECK(s.post_processing.score_converter == "SIGMOID");
  CHECK(s.normalize_loss_by_num_matches);
  CHECK(s.loss.localization_loss == "weighted_smooth_l1");
  CHECK(s.loss.classification_loss == "weighted_sigmoid");
  REQUIRE(s.loss.hard_example_miner.has_value());
  CHECK(s.loss.hard_example_miner->num_hard_examples == 3000);
  CHECK(s.loss.hard_example_miner->loss_type == "CLASSIFICATION");
  CHECK(s.loss.hard_example_miner->max_negatives_per_positive == 3);
  CHECK(s.loss.classification_weight == 1.0f);
  CHECK_FALSE(s.freeze_batchnorm);
  CHECK(s.add_background_class);
  CHECK(p.train().batch_size == 24);
  CHECK(p.train().data_augmentation_options == std::vector<std::string>{"random_horizontal_flip", "ssd_random_crop"});
  CHECK(p.train().num_steps == 200000);
  CHECK(p.train_input().label_map_path == "PATH_TO_BE_CONFIGURED/mscoco_label_map.pbtxt");
  CHECK(p.train_input().input_paths == std::vector<std::string>{"PATH_TO_BE_CONFIGURED/mscoco_train.record"});
  REQUIRE(p.eval_inputs().size() == 1);
  CHECK_FALSE(p.eval_inputs()[0].shuffle);
  CHECK(p.eval_inputs()[0].num_readers == 1);
  CHECK(p.eval().num_examples == 8000);
  CHECK(p.eval().max_evals == 10);
  CHECK_FALSE(p.eval().use_moving_averages);
}

TEST_CASE("pipeline: SSD view of the zoo ssd_mobilenet_v2_coco pipeline.config (2018 fields)", "[config]") {
  fs::path path;
  if (!warmstart::test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29/pipeline.config", &path)) return;
  const auto p = wc::PipelineConfig::Load(path);
  const wc::SsdModelConfig& s = *p.ssd();
  CHECK(s.num_classes == 90);
  CHECK(s.feature_extractor.type == "ssd_mobilenet_v2");
  CHECK(s.feature_extractor.depth_multiplier == 1.0f);
  CHECK(s.feature_extractor.min_depth == 16);
  // batch_norm_trainable (field 6 of the 2018 proto, reserved today) is accepted and kept.
  CHECK(p.GetWithDefault("model.ssd.feature_extractor.batch_norm_trainable").values.at(0).AsBool());
  CHECK(s.anchor_generator.ssd.num_layers == 6);
  CHECK(s.anchor_generator.ssd.aspect_ratios.size() == 5);
  CHECK(s.box_predictor.kind == "convolutional_box_predictor");
  CHECK(s.feature_extractor.conv_hyperparams.batch_norm.has_value());
}

TEST_CASE("pipeline: Faster R-CNN view of the zoo faster_rcnn_inception_v2_coco pipeline.config", "[config]") {
  fs::path path;
  if (!warmstart::test::RequireRealData("checkpoints/zoo-tf1-faster_rcnn_inception_v2_coco_2018_01_28/pipeline.config", &path)) return;
  const auto p = wc::PipelineConfig::Load(path);
  REQUIRE(p.meta_arch() == wc::MetaArch::kFasterRcnn);
  CHECK(p.faster_rcnn()->num_classes == 90);
  CHECK(p.faster_rcnn()->feature_extractor_type == "faster_rcnn_inception_v2");
  CHECK(p.faster_rcnn()->first_stage_features_stride == 16);
  CHECK_FALSE(p.ssd().has_value());
}

TEST_CASE("pipeline: Load reports a missing file", "[config]") {
  CHECK_THROWS_AS(wc::PipelineConfig::Load("/nonexistent/pipeline.config"), warmstart::NotFoundError);
}
