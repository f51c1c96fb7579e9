// Training an SSD from a pipeline.config: the loop body of the example fine-tuner
// (examples/finetune), usable by any C++ trainer.
//
//   SsdTrainer trainer(cfg, options);
//   const StartReport start = trainer.Start(model_dir);   // resume, fine-tune or fresh
//   while (trainer.global_step() < num_steps) {
//     const StepStats s = trainer.Step(MakeBatch(examples, ...));
//   }
//   trainer.Save(model_dir);
//
// Start(model_dir) decides where the weights come from, as the Object Detection API does:
//   1. model_dir has a `checkpoint` state file: resume from its newest bundle (the model, the
//      optimizer's slots, the moving averages and global_step); the fine-tune checkpoint is
//      ignored, as in TF (model_lib / model_lib_v2 restore model_dir first);
//   2. else train_config.fine_tune_checkpoint (or options.fine_tune_checkpoint): the variables
//      get TF-style initial values, then the restore plan of the policy engine
//      (restore/plan.hpp, options.plan.profile, `warmstart` by default) copies what it restores;
//   3. else every variable starts from its initializer (seeded).
// In every case the plan also decides what trains: a variable is updated only when the plan
// says trainable (freeze_variables / update_trainable_variables as the profile applies them),
// with the plan's gradient multiplier (bias_grad_multiplier) and gradient clipping (per tensor
// or by global norm, the profile's).
//
// One Step(batch), in the order of TF1's train op (model_lib.py / legacy trainer.py):
//   learning rate  LearningRateSchedule::At(global_step)
//   forward        SsdModel::Forward (batch norm in training mode unless freeze_batchnorm)
//   targets        AssignTargets per image (ArgMaxMatcher, FasterRcnnBoxCoder); with
//                  encode_background_as_zeros column 0 of the class targets is zeroed
//   loss           ComputeSsdLoss (hard example mining when configured) + regularization
//                  (train_config.add_regularization_loss, true by default)
//   backward       SsdModel::Backward, then the regularizer's gradient
//   gradients      multipliers, clipping, then the optimizer (RMSProp / Momentum / Adam)
//   moving avg     ExponentialMovingAverage::Apply when use_moving_average (constant decay,
//                  as the TF1 MovingAverageOptimizer)
//   global_step    += 1
// Save(model_dir) writes model_dir/model.ckpt-<step>: the model, the optimizer's slots and Adam's
// beta powers, the moving-average shadows and global_step, under TF1's names, and updates the
// `checkpoint` state file keeping the newest max_to_keep bundles.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/checkpoint_manager.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/data/augment.hpp"
#include "warmstart/data/example.hpp"
#include "warmstart/error.hpp"
#include "warmstart/image/image.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/restore/plan.hpp"
#include "warmstart/ssd/checkpoint.hpp"
#include "warmstart/ssd/losses.hpp"
#include "warmstart/ssd/model.hpp"
#include "warmstart/ssd/options.hpp"
#include "warmstart/ssd/post_processing.hpp"
#include "warmstart/ssd/target_assigner.hpp"
#include "warmstart/ssd/variables.hpp"
#include "warmstart/train/coco_metrics.hpp"
#include "warmstart/train/learning_rate.hpp"
#include "warmstart/train/optimizer.hpp"

namespace warmstart::train {

// A batch ready for the network: preprocessed images and per-image groundtruth.
struct Batch {
  nn::Tensor4<float> images;                  // [N, H, W, 3], (2/255) x - 1
  std::vector<ssd::BoxMatrix<float>> boxes;   // per image [G, 4], normalised ymin, xmin, ymax, xmax
  std::vector<std::vector<int32_t>> labels;   // per image [G], 1-based label ids
};

// The input pipeline of one example: uint8 -> float, the augmentation steps (when given), the
// fixed_shape_resizer's bilinear resize to height x width. Boxes stay normalised.
inline data::FloatDetectionExample PrepareExample(const data::DetectionExample& ex, const data::Augmenter* augmenter,
                                                  data::Rng* rng, int height, int width) {
  data::FloatDetectionExample f = data::ToFloat(ex);
  if (augmenter != nullptr) augmenter->Apply(f, *rng);
  if (f.image.height != height || f.image.width != width) {
    f.image = image::ResizeBilinear(f.image, height, width);
  }
  return f;
}

// Stacks prepared examples (all height x width x 3) into a Batch.
inline Batch MakeBatch(const std::vector<data::FloatDetectionExample>& examples) {
  if (examples.empty()) throw ArgumentError("MakeBatch: no examples");
  const int h = examples.front().image.height, w = examples.front().image.width;
  Batch b;
  b.images = nn::Tensor4<float>(static_cast<nn::Index>(examples.size()), h, w, 3);
  const size_t per_image = static_cast<size_t>(h) * static_cast<size_t>(w) * 3;
  const float scale = static_cast<float>(2.0 / 255.0);
  for (size_t i = 0; i < examples.size(); ++i) {
    const image::FloatImage& im = examples[i].image;
    if (im.height != h || im.width != w || im.channels != 3) {
      throw ArgumentError("MakeBatch: example " + std::to_string(i) + " is " + std::to_string(im.height) + "x" +
                          std::to_string(im.width) + "x" + std::to_string(im.channels) + ", expected " +
                          std::to_string(h) + "x" + std::to_string(w) + "x3");
    }
    float* dst = b.images.data() + i * per_image;
    for (size_t k = 0; k < per_image; ++k) dst[k] = scale * im.pixels[k] - 1.0f;
    ssd::BoxMatrix<float> boxes(static_cast<Eigen::Index>(examples[i].boxes.size()), 4);
    for (size_t g = 0; g < examples[i].boxes.size(); ++g) {
      for (int c = 0; c < 4; ++c) boxes(static_cast<Eigen::Index>(g), c) = examples[i].boxes[g][static_cast<size_t>(c)];
    }
    b.boxes.push_back(std::move(boxes));
    b.labels.push_back(examples[i].labels);
  }
  return b;
}

struct TrainerOptions {
  restore::PlanOptions plan;         // the profile (default `warmstart`) and its options
  std::string fine_tune_checkpoint;  // overrides train_config.fine_tune_checkpoint when not empty
  int threads = 0;                   // nn::Context threads; 0 = hardware concurrency
  uint64_t seed = 1;                 // initializers of variables not restored
  std::optional<size_t> max_to_keep = 5;
};

enum class StartKind { kResumed, kFineTuned, kFromScratch };

inline const char* StartKindName(StartKind k) {
  switch (k) {
    case StartKind::kResumed: return "resumed";
    case StartKind::kFineTuned: return "fine-tuned";
    case StartKind::kFromScratch: return "from scratch";
  }
  return "";
}

struct StartReport {
  StartKind kind = StartKind::kFromScratch;
  std::string checkpoint;  // the bundle read (resume or fine-tune), "" from scratch
  int64_t global_step = 0;
  restore::RestorePlan plan;  // the fine-tune plan (restore decisions), or the freeze-only plan
  size_t trained_variables = 0;
  size_t frozen_variables = 0;   // trainable in the model, not trained (plan)
  int64_t trained_parameters = 0;
};

struct StepStats {
  int64_t global_step = 0;  // after the step
  double learning_rate = 0;
  double total_loss = 0;
  double localization_loss = 0;
  double classification_loss = 0;
  double regularization_loss = 0;
  double gradient_norm = 0;  // global norm of the trained gradients after multipliers, before clipping
  int num_matches = 0;       // matched anchors over the batch
};

// COCO groundtruth here has no crowd boxes: every box is an ordinary one (DetectionExample
// carries no is_crowd), which pycocotools would ignore instead when the dataset marks them.
struct EvalResult {
  CocoMetrics metrics;
  size_t num_images = 0;
  std::vector<ssd::Detections<float>> detections;  // per image, classes 1-based label ids
  std::vector<data::DetectionExample> kept;        // the first `keep` examples (streaming Evaluate)
  bool used_moving_averages = false;
};

class SsdTrainer {
 public:
  // Builds the model and the training pieces from `cfg` (model.ssd and train_config). Throws
  // ArgumentError naming the config field for what cannot be trained here.
  SsdTrainer(const config::PipelineConfig& cfg, TrainerOptions options)
      : cfg_(cfg),
        options_(std::move(options)),
        spec_(ssd::BuildModelSpec(cfg)),
        ssd_(ssd::SsdTrainingOptions::FromConfig(cfg)),
        ctx_(options_.threads),
        model_(spec_),
        coder_(ssd_.MakeBoxCoder()),
        matcher_(ssd_.MakeMatcher()),
        cls_loss_(ssd_.MakeClassificationLoss()),
        loc_loss_(ssd_.MakeLocalizationLoss()),
        miner_(ssd_.MakeHardExampleMiner()),
        anchor_generator_(ssd_.MakeAnchorGenerator()) {
    const config::TrainConfig& t = cfg.train();
    if (spec_.input_height <= 0 || spec_.input_width <= 0) {
      throw ArgumentError(cfg.document().file() +
                          ": training needs image_resizer { fixed_shape_resizer { ... } } (found " +
                          ssd_.image_resizer.kind + ")");
    }
    if (!t.optimizer) throw ArgumentError(cfg.document().file() + ": train_config has no optimizer");
    optimizer_ = std::make_unique<Optimizer<float>>(Optimizer<float>::FromConfig(*t.optimizer));
    schedule_ = std::make_unique<LearningRateSchedule>(t.optimizer->learning_rate);
    if (t.optimizer->use_moving_average) {
      ema_ = std::make_unique<ExponentialMovingAverage<float>>(t.optimizer->moving_average_decay);
    }
    augmenter_ = std::make_unique<data::Augmenter>(data::Augmenter::FromTrainConfig(t));
    add_regularization_loss_ = t.add_regularization_loss;
    model_.set_batch_norm_mode(ssd_.freeze_batchnorm ? nn::BatchNormMode::kFrozen : nn::BatchNormMode::kTraining);
  }

  SsdTrainer(const SsdTrainer&) = delete;
  SsdTrainer& operator=(const SsdTrainer&) = delete;

  // Where the weights come from (see the file comment). Call once, before Step.
  StartReport Start(const std::string& model_dir) {
    if (started_) throw ArgumentError("SsdTrainer::Start: already started");
    started_ = true;
    StartReport report;
    model_.Initialize(options_.seed);
    const std::string state = model_dir.empty() ? "" : (std::filesystem::path(model_dir) / "checkpoint").string();
    if (!state.empty() && std::filesystem::exists(state)) {
      const bundle::Checkpoint ckpt = bundle::Checkpoint::Open(model_dir);
      report.kind = StartKind::kResumed;
      report.checkpoint = ckpt.prefix();
      const std::optional<int64_t> step = ssd::LoadCheckpoint(model_.parameters(), report.checkpoint);
      global_step_ = step.value_or(0);
      report.plan = FreezePlan();
      SetUpTraining(report);
      RestoreTrainingState(ckpt, report.checkpoint);
    } else {
      std::string fine_tune = options_.fine_tune_checkpoint;
      if (fine_tune.empty()) fine_tune = cfg_.train().fine_tune_checkpoint;
      if (!fine_tune.empty()) {
        report.kind = StartKind::kFineTuned;
        report.checkpoint = fine_tune;
        report.plan = ssd::RestoreFromFineTuneCheckpoint(model_.parameters(), cfg_, fine_tune, options_.plan);
      } else {
        report.kind = StartKind::kFromScratch;
        report.plan = FreezePlan();
      }
      SetUpTraining(report);
      if (report.kind == StartKind::kFineTuned) RestorePlannedTrainingState(report);
    }
    report.global_step = global_step_;
    return report;
  }

  // One training step on `batch` (see the file comment). Throws ArgumentError for a label
  // outside [1, num_classes] or a batch of the wrong image size.
  StepStats Step(const Batch& batch) {
    if (!started_) throw ArgumentError("SsdTrainer::Step: call Start first");
    const nn::Index n = batch.images.dimension(0);
    if (batch.images.dimension(1) != spec_.input_height || batch.images.dimension(2) != spec_.input_width ||
        static_cast<size_t>(n) != batch.boxes.size() || batch.labels.size() != batch.boxes.size()) {
      throw ArgumentError("SsdTrainer::Step: the batch does not match the model input " +
                          std::to_string(spec_.input_height) + "x" + std::to_string(spec_.input_width));
    }
    StepStats s;
    s.learning_rate = schedule_->At(global_step_);
    const ssd::SsdPredictions<float> pred = model_.Forward(ctx_, batch.images);
    const ssd::BoxMatrix<float>& anchors = Anchors();

    std::vector<ssd::TargetAssignment<float>> targets;
    targets.reserve(static_cast<size_t>(n));
    for (nn::Index i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      std::vector<int> classes;
      for (const int32_t label : batch.labels[k]) {
        if (label < 1 || label > ssd_.num_classes) {
          throw ArgumentError("SsdTrainer::Step: image " + std::to_string(k) + " of the batch has label " +
                              std::to_string(label) + ", outside [1, num_classes = " + std::to_string(ssd_.num_classes) +
                              "]");
        }
        classes.push_back(label - 1);
      }
      targets.push_back(ssd::AssignTargets<float>(anchors, batch.boxes[k], classes, ssd_.num_classes, matcher_, coder_, {},
                                                  static_cast<float>(ssd_.negative_class_weight)));
      if (ssd_.encode_background_as_zeros) targets.back().cls_targets.col(0).setZero();
      s.num_matches += targets.back().num_matches;
    }
    const ssd::SsdLossResult<float> loss =
        ssd::ComputeSsdLoss<float>(pred.box_encodings, pred.class_predictions, targets, anchors, coder_, cls_loss_,
                                   loc_loss_, ssd_.loss, miner_ ? &*miner_ : nullptr);
    s.localization_loss = loss.localization_loss;
    s.classification_loss = loss.classification_loss;
    if (add_regularization_loss_) s.regularization_loss = model_.RegularizationLoss();
    s.total_loss = s.localization_loss + s.classification_loss + s.regularization_loss;

    model_.parameters().ZeroGradients();
    model_.Backward(ctx_, loss.dbox_encodings, loss.dclass_predictions);
    if (add_regularization_loss_) model_.AddRegularizationGradient();
    for (const auto& [p, m] : multipliers_) p->gradient *= static_cast<float>(m);
    double sq = 0;
    for (const nn::Parameter<float>* p : trained_) sq += static_cast<double>(p->gradient.square().sum());
    s.gradient_norm = std::sqrt(sq);
    if (clipping_.mode == "per_tensor") {
      ClipGradientNorms(trained_, static_cast<float>(clipping_.norm));
    } else if (clipping_.mode == "global_norm") {
      ClipByGlobalNorm(trained_, static_cast<float>(clipping_.norm));
    }
    optimizer_->ApplyGradients(static_cast<float>(s.learning_rate));
    if (ema_) ema_->Apply();
    s.global_step = ++global_step_;
    return s;
  }

  // Writes model_dir/model.ckpt-<global_step> (see the file comment). Returns the prefix.
  std::string Save(const std::string& model_dir) {
    std::filesystem::create_directories(model_dir);
    const std::string prefix = ssd::TrainingCheckpointPrefix(model_dir, global_step_);
    std::map<std::string, std::pair<std::vector<nn::Index>, const float*>> tensors;
    const auto add = [&](const std::string& name, const std::vector<nn::Index>& shape, const float* data) {
      if (!tensors.emplace(name, std::make_pair(shape, data)).second) {
        throw ArgumentError(prefix + ": two variables named '" + name + "'");
      }
    };
    for (const nn::Parameter<float>* p : model_.parameters().all()) add(p->name, p->shape, p->value.data());
    for (const SlotVariable<float>& v : optimizer_->Variables()) add(v.name, v.shape, v.value.data());
    if (ema_) {
      for (const SlotVariable<float>& v : ema_->Variables()) add(v.name, v.shape, v.value.data());
    }
    if (tensors.count(std::string(ssd::kGlobalStepKey)) != 0) {
      throw ArgumentError(prefix + ": a variable is named global_step");
    }
    bundle::BundleWriter writer(prefix);
    bool step_written = false;
    const auto write_step = [&] {
      writer.Add(std::string(ssd::kGlobalStepKey), std::vector<int64_t>{global_step_}, bundle::TensorShape{});
      step_written = true;
    };
    for (const auto& [name, t] : tensors) {
      if (!step_written && name > ssd::kGlobalStepKey) write_step();
      std::vector<int64_t> dims;
      int64_t count = 1;
      for (const nn::Index d : t.first) {
        dims.push_back(d);
        count *= d;
      }
      writer.Add(name, bundle::DataType::kFloat, bundle::TensorShape(std::move(dims)),
                 core::ByteView(reinterpret_cast<const uint8_t*>(t.second), static_cast<size_t>(count) * sizeof(float)));
    }
    if (!step_written) write_step();
    writer.Finish();
    bundle::UpdateCheckpointState(model_dir, prefix, options_.max_to_keep);
    return prefix;
  }

  // Runs the model in inference mode on `examples` (resized to the model's input, no
  // augmentation), in batches of `batch_size`, and scores the detections with the COCO metric.
  // With use_moving_averages the shadows stand in for the variables during the evaluation
  // (eval_config.use_moving_averages, as TF's evaluator restores them); without moving
  // averages in training the variables are evaluated (result.used_moving_averages false).
  EvalResult Evaluate(const std::vector<data::DetectionExample>& examples, int batch_size = 8,
                      bool use_moving_averages = false) {
    return Evaluate(
        examples.size(), [&](uint64_t i) { return examples[static_cast<size_t>(i)]; }, batch_size, use_moving_averages);
  }

  // The same over `count` examples fetched one batch at a time from `get` (index -> example),
  // so a large eval set is never held decoded. The first `keep` examples are returned in
  // result.kept (e.g. to draw their detections).
  EvalResult Evaluate(uint64_t count, const std::function<data::DetectionExample(uint64_t)>& get, int batch_size,
                      bool use_moving_averages, size_t keep = 0) {
    EvalResult out;
    const nn::BatchNormMode mode = model_.batch_norm_mode();
    model_.set_batch_norm_mode(nn::BatchNormMode::kInference);
    std::vector<std::pair<nn::Parameter<float>*, nn::Parameter<float>::Array>> saved;
    if (use_moving_averages && ema_) {
      out.used_moving_averages = true;
      const std::string suffix = "/ExponentialMovingAverage";
      for (SlotVariable<float>& v : ema_->Variables()) {
        nn::Parameter<float>* p = model_.parameters().Find(v.name.substr(0, v.name.size() - suffix.size()));
        if (p == nullptr) continue;
        saved.emplace_back(p, p->value);
        p->value = v.value;
      }
    }
    const auto restore = [&] {
      for (auto& [p, v] : saved) p->value = v;
      model_.set_batch_norm_mode(mode);
    };
    CocoEvaluator<float> evaluator;
    const uint64_t step = static_cast<uint64_t>(std::max(batch_size, 1));
    try {
      for (uint64_t start = 0; start < count; start += step) {
        const uint64_t end = std::min(count, start + step);
        std::vector<data::FloatDetectionExample> prepared;
        for (uint64_t i = start; i < end; ++i) {
          data::DetectionExample ex = get(i);
          prepared.push_back(PrepareExample(ex, nullptr, nullptr, static_cast<int>(spec_.input_height),
                                            static_cast<int>(spec_.input_width)));
          if (out.kept.size() < keep) out.kept.push_back(std::move(ex));
        }
        const Batch batch = MakeBatch(prepared);
        const std::vector<ssd::Detections<float>> dets = Detect(batch.images);
        for (size_t i = 0; i < dets.size(); ++i) {
          CocoGroundtruth<float> gt;
          gt.boxes = batch.boxes[i];
          gt.classes.assign(batch.labels[i].begin(), batch.labels[i].end());
          evaluator.AddImage(gt, dets[i]);
          out.detections.push_back(dets[i]);
        }
      }
    } catch (...) {
      restore();
      throw;
    }
    restore();
    out.metrics = evaluator.Evaluate();
    out.num_images = evaluator.num_images();
    return out;
  }

  // Detections of preprocessed images [N, H, W, 3] in the current batch-norm mode; classes are
  // 1-based label ids.
  std::vector<ssd::Detections<float>> Detect(const nn::Tensor4<float>& images) {
    const ssd::SsdPredictions<float> pred = model_.Forward(ctx_, images);
    const ssd::BoxMatrix<float>& anchors = Anchors();
    std::vector<ssd::Detections<float>> out;
    for (size_t i = 0; i < pred.box_encodings.size(); ++i) {
      ssd::Detections<float> d =
          ssd::PostProcess<float>(pred.box_encodings[i], pred.class_predictions[i], anchors, coder_,
                                  ssd_.score_conversion.converter, ssd_.score_conversion.logit_scale, ssd_.nms);
      for (int& c : d.classes) c += 1;
      out.push_back(std::move(d));
    }
    return out;
  }

  int64_t global_step() const { return global_step_; }
  ssd::SsdModel<float>& model() { return model_; }
  const ssd::ModelSpec& spec() const { return spec_; }
  const ssd::SsdTrainingOptions& ssd_options() const { return ssd_; }
  const data::Augmenter& augmenter() const { return *augmenter_; }
  const std::vector<nn::Parameter<float>*>& trained() const { return trained_; }
  const Optimizer<float>& optimizer() const { return *optimizer_; }
  const ExponentialMovingAverage<float>* moving_average() const { return ema_.get(); }
  const LearningRateSchedule& schedule() const { return *schedule_; }
  nn::Context& context() { return ctx_; }
  int input_height() const { return static_cast<int>(spec_.input_height); }
  int input_width() const { return static_cast<int>(spec_.input_width); }

 private:
  // The plan without a checkpoint: which variables train (freeze / update patterns), the
  // multipliers and the clipping, for a fresh start or a resume.
  restore::RestorePlan FreezePlan() const {
    restore::FineTuneSettings settings = restore::FineTuneSettings::FromConfig(cfg_);
    settings.fine_tune_checkpoint.clear();
    restore::RestorePlan plan =
        restore::MakePlan(ssd::ModelVariablesOf(model_.parameters()), nullptr, settings, options_.plan);
    // Without a checkpoint only the freeze side can fail (a pattern Python's re refuses, say);
    // the profiles' "restores nothing" errors are about the fine-tune start and do not apply.
    for (const restore::PlannedVariable& v : plan.variables) {
      if (v.action == restore::Action::kError) {
        throw ArgumentError(cfg_.document().file() + ": " + v.name() + ": " + v.reason);
      }
    }
    for (const restore::Diagnostic& d : plan.diagnostics) {
      if (d.code == "bad_pattern") throw ArgumentError(cfg_.document().file() + ": " + d.message);
    }
    return plan;
  }

  void SetUpTraining(StartReport& report) {
    std::map<std::string, const restore::PlannedVariable*> by_name;
    for (const restore::PlannedVariable& v : report.plan.variables) by_name[v.name()] = &v;
    for (nn::Parameter<float>* p : model_.parameters().all()) {
      if (!p->trainable) continue;
      const auto it = by_name.find(p->name);
      const bool train = it == by_name.end() || it->second->trainable;
      if (!train) {
        ++report.frozen_variables;
        continue;
      }
      trained_.push_back(p);
      report.trained_parameters += p->NumElements();
      if (it != by_name.end() && it->second->gradient_multiplier != 1.0) {
        multipliers_.emplace_back(p, it->second->gradient_multiplier);
      }
    }
    report.trained_variables = trained_.size();
    if (trained_.empty()) {
      throw ArgumentError(cfg_.document().file() + ": nothing left to train: every trainable variable is frozen by "
                                                   "freeze_variables / update_trainable_variables");
    }
    clipping_ = report.plan.clipping;
    optimizer_->Track(trained_);
    if (ema_) ema_->Track(trained_);
  }

  // The optimizer's slots and the moving averages of a resumed bundle, by name (all of them, or
  // only the names in `only` when given). A bundle without them (saved by another trainer)
  // leaves them at their initial values; one with another shape or dtype is an error.
  void RestoreTrainingState(const bundle::Checkpoint& ckpt, const std::string& prefix,
                            const std::set<std::string>* only = nullptr) {
    const auto load = [&](SlotVariable<float>& v) {
      if (only != nullptr && only->count(v.name) == 0) return;
      const auto* entry = ckpt.Find(v.name);
      if (entry == nullptr) return;
      const std::vector<int64_t> want(v.shape.begin(), v.shape.end());
      if (entry->shape.dims() != want) {
        throw FormatError(ErrorContext(prefix), "'" + v.name + "' has shape " + bundle::TensorShape(entry->shape).DebugString() +
                                                    ", the trainer's is " + bundle::TensorShape(want).DebugString());
      }
      const std::vector<float> values = ckpt.ReadAs<float>(v.name);
      v.Assign(values.data(), v.shape);
    };
    for (SlotVariable<float>& v : optimizer_->Variables()) load(v);
    if (ema_) {
      for (SlotVariable<float>& v : ema_->Variables()) load(v);
    }
  }

  // tf1-legacy with load_all_detection_checkpoint_vars restores the optimizer slots and moving
  // averages the checkpoint has for the trained variables (§3.5): the plan lists them; load
  // those this trainer has (same names: same optimizer).
  void RestorePlannedTrainingState(const StartReport& report) {
    std::set<std::string> names;
    for (const restore::PlannedVariable& v : report.plan.variables) {
      if (v.variable.kind != restore::VariableKind::kModel && v.variable.kind != restore::VariableKind::kGlobalStep &&
          v.action == restore::Action::kRestore) {
        names.insert(v.checkpoint_key.empty() ? v.name() : v.checkpoint_key);
      }
    }
    if (names.empty()) return;
    const bundle::Checkpoint ckpt = bundle::Checkpoint::Open(report.checkpoint);
    RestoreTrainingState(ckpt, report.checkpoint, &names);
  }

  const ssd::BoxMatrix<float>& Anchors() {
    const std::vector<ssd::GridSize> grids = model_.feature_map_sizes();
    if (grids != anchor_grids_) {
      std::vector<ssd::GridShape> shapes;
      for (const ssd::GridSize& g : grids) shapes.push_back({static_cast<int>(g.height), static_cast<int>(g.width)});
      anchors_ = anchor_generator_.Generate<float>(shapes, static_cast<double>(spec_.input_height),
                                                   static_cast<double>(spec_.input_width));
      anchor_grids_ = grids;
    }
    return anchors_;
  }

  config::PipelineConfig cfg_;
  TrainerOptions options_;
  ssd::ModelSpec spec_;
  ssd::SsdTrainingOptions ssd_;
  nn::Context ctx_;
  ssd::SsdModel<float> model_;
  ssd::FasterRcnnBoxCoder coder_;
  ssd::ArgMaxMatcher matcher_;
  ssd::ClassificationLoss cls_loss_;
  ssd::WeightedSmoothL1LocalizationLoss loc_loss_;
  std::optional<ssd::HardExampleMiner> miner_;
  ssd::MultipleGridAnchorGenerator anchor_generator_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  std::unique_ptr<LearningRateSchedule> schedule_;
  std::unique_ptr<ExponentialMovingAverage<float>> ema_;
  std::unique_ptr<data::Augmenter> augmenter_;
  std::vector<nn::Parameter<float>*> trained_;
  std::vector<std::pair<nn::Parameter<float>*, double>> multipliers_;
  restore::GradientClipping clipping_;
  std::vector<ssd::GridSize> anchor_grids_;
  ssd::BoxMatrix<float> anchors_;
  int64_t global_step_ = 0;
  bool add_regularization_loss_ = true;
  bool started_ = false;
};

}  // namespace warmstart::train
