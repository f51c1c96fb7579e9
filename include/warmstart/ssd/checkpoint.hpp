// Model checkpoints by name: the parameters of a model (nn::ParameterList) saved as a TF1 bundle,
// loaded back, and filled from a fine_tune_checkpoint through the restore plan.
//
// SaveCheckpoint(params, PREFIX, step) writes, through bundle::BundleWriter, what tf.train.Saver
// writes for a TF1 Object Detection model, minus the .meta graph:
//   PREFIX.index                  "" -> header; then one entry per key, keys ascending
//   PREFIX.data-00000-of-00001    the payloads in the same (sorted) order, as the Saver adds them
//   keys    every parameter under its name (the TF variable's op name), dtype DataTypeOf<T>
//           (DT_FLOAT for float), its shape, row-major values; plus `global_step`, DT_INT64,
//           shape [] (a scalar)
// so `warmstart inspect` lists it like a zoo model.ckpt: model variables plus global_step.
// SaveTrainingCheckpoint puts it at <model_dir>/model.ckpt-<step> and records it in
// <model_dir>/checkpoint (bundle/checkpoint_manager.hpp), keeping the newest max_to_keep.
//
// LoadCheckpoint(params, path) is the mirror: every parameter must be in the checkpoint with
// exactly its dtype and shape; other keys (optimizer slots, EMA shadows) are ignored. All or
// nothing: every problem is reported in one error and no parameter is written unless all are
// read and their crc32c verified. Returns global_step when the checkpoint has an integer one.
//
// RestoreFromFineTuneCheckpoint(params, cfg, path, options) is the fine-tune start: the model
// variables (params.Infos()) and the checkpoint's listing go to restore::MakePlan with the
// train_config of `cfg`, and restore::ApplyPlan copies what the plan restores into the
// parameters (all or nothing again). Variables the plan skips keep their values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/checkpoint_manager.hpp"
#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/restore/apply.hpp"
#include "warmstart/restore/plan.hpp"
#include "warmstart/restore/rules.hpp"
#include "warmstart/restore/variables.hpp"

namespace warmstart::ssd {

inline constexpr std::string_view kGlobalStepKey = "global_step";

// The model's variables as the restore policy takes them (all VariableKind::kModel).
template <class T>
std::vector<restore::ModelVariable> ModelVariablesOf(const nn::ParameterList<T>& params) {
  std::vector<restore::ModelVariable> out;
  out.reserve(params.size());
  for (nn::VariableInfo& info : params.Infos()) {
    restore::ModelVariable v;
    v.name = std::move(info.name);
    v.dtype = info.dtype;
    v.shape = std::move(info.shape);
    v.trainable = info.trainable;
    out.push_back(std::move(v));
  }
  return out;
}

namespace detail::checkpoint {

template <class T>
bundle::TensorShape ShapeOf(const nn::Parameter<T>& p) {
  return bundle::TensorShape(std::vector<int64_t>(p.shape.begin(), p.shape.end()));
}

template <class T>
void CheckSavable(const nn::Parameter<T>& p, const std::string& prefix) {
  if (p.name == kGlobalStepKey) {
    throw ArgumentError(ErrorContext(prefix).WithKey(p.name), "a model parameter may not be named global_step: "
                                                              "the checkpoint keeps that key for the step counter");
  }
  if (p.value.size() != p.NumElements()) {
    throw ArgumentError(ErrorContext(prefix).WithKey(p.name),
                        "parameter holds " + std::to_string(p.value.size()) + " values for shape " +
                            nn::Parameter<T>::ShapeList(p.shape));
  }
}

}  // namespace detail::checkpoint

// Writes PREFIX.index and PREFIX.data-00000-of-00001 (see the file comment); an existing bundle
// at PREFIX is replaced whole. Throws ArgumentError (a parameter named global_step, a value
// buffer that does not match its shape) or IoError naming the file.
template <class T>
void SaveCheckpoint(const nn::ParameterList<T>& params, const std::string& prefix, int64_t global_step) {
  std::vector<const nn::Parameter<T>*> sorted(params.all().begin(), params.all().end());
  for (const nn::Parameter<T>* p : sorted) detail::checkpoint::CheckSavable(*p, prefix);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
  bundle::BundleWriter writer(prefix);
  bool step_written = false;
  const auto write_step = [&] {
    writer.Add(std::string(kGlobalStepKey), std::vector<int64_t>{global_step}, bundle::TensorShape{});
    step_written = true;
  };
  for (const nn::Parameter<T>* p : sorted) {
    if (!step_written && std::string_view(p->name) > kGlobalStepKey) write_step();
    writer.Add(p->name, bundle::DataTypeOf<T>::value, detail::checkpoint::ShapeOf(*p),
               core::ByteView(reinterpret_cast<const uint8_t*>(p->value.data()),
                              static_cast<size_t>(p->value.size()) * sizeof(T)));
  }
  if (!step_written) write_step();
  writer.Finish();
}

// <model_dir>/model.ckpt-<global_step>: where TF1's Saver and the Object Detection trainers put
// the checkpoint of a step.
inline std::string TrainingCheckpointPrefix(const std::string& model_dir, int64_t global_step) {
  const std::string name = "model.ckpt-" + std::to_string(global_step);
  return model_dir.empty() ? name : (std::filesystem::path(model_dir) / name).string();
}

// SaveCheckpoint to TrainingCheckpointPrefix(model_dir, global_step), then the `checkpoint` state file
// updated as CheckpointManager.save does (the oldest bundles beyond max_to_keep deleted;
// nullopt keeps all; 5 is tf.train.Saver's default). Returns the prefix written.
template <class T>
std::string SaveTrainingCheckpoint(const nn::ParameterList<T>& params, const std::string& model_dir, int64_t global_step,
                                   std::optional<size_t> max_to_keep = 5) {
  const std::string prefix = TrainingCheckpointPrefix(model_dir, global_step);
  SaveCheckpoint(params, prefix, global_step);
  bundle::UpdateCheckpointState(model_dir, prefix, max_to_keep);
  return prefix;
}

namespace detail::checkpoint {

// global_step is int64 in TF1; int32 step counters occur too (T2T, LFADS).
inline bool IsStepType(bundle::DataType t) {
  return t == bundle::DataType::kInt64 || t == bundle::DataType::kInt32 || t == bundle::DataType::kInt16 ||
         t == bundle::DataType::kUint8 || t == bundle::DataType::kInt8 || t == bundle::DataType::kUint16;
}

struct Problem {
  std::string name;
  bool missing = false;
  std::string what;
};

inline std::string Describe(const std::vector<Problem>& problems, size_t total) {
  if (problems.size() == 1) return "variable '" + problems[0].name + "' " + problems[0].what;
  std::string out = std::to_string(problems.size()) + " of " + std::to_string(total) + " variables cannot be loaded: ";
  const size_t shown = std::min<size_t>(problems.size(), 10);
  for (size_t i = 0; i < shown; ++i) out += (i ? "; '" : "'") + problems[i].name + "' " + problems[i].what;
  if (problems.size() > shown) out += "; and " + std::to_string(problems.size() - shown) + " more";
  return out;
}

// Each parameter against its entry: present, same dtype, same shape.
template <class T>
std::vector<Problem> CheckEntries(const nn::ParameterList<T>& params, const bundle::Checkpoint& ckpt) {
  std::vector<Problem> problems;
  const bundle::DataType want = bundle::DataTypeOf<T>::value;
  for (const nn::Parameter<T>* p : params.all()) {
    const std::string model_shape = nn::Parameter<T>::ShapeList(p->shape);
    const bundle::Entry* e = ckpt.Find(p->name);
    if (e == nullptr) {
      problems.push_back({p->name, true, "is not in the checkpoint (model: " + model_shape + ")"});
    } else if (e->dtype != want) {
      problems.push_back({p->name, false, "is " + bundle::DataTypeName(e->dtype) + " in the checkpoint, " +
                                              bundle::DataTypeName(want) + " in the model"});
    } else if (e->shape.dims() != std::vector<int64_t>(p->shape.begin(), p->shape.end())) {
      problems.push_back({p->name, false, "has shape " + restore::ShapeList(e->shape.dims()) + " in the checkpoint, " +
                                              model_shape + " in the model"});
    }
  }
  return problems;
}

}  // namespace detail::checkpoint

// Fills every parameter from the checkpoint at `path` (a prefix, an .index file or a directory
// with a `checkpoint` state file). Throws, before writing anything, NotFoundError when the only
// problems are missing variables, ArgumentError when a dtype or shape differs (both list every
// problem, prefixed with the index file), FormatError for a corrupt payload.
template <class T>
std::optional<int64_t> LoadCheckpoint(const nn::ParameterList<T>& params, const std::string& path) {
  const bundle::Checkpoint ckpt = bundle::Checkpoint::Open(path);
  const std::vector<detail::checkpoint::Problem> problems = detail::checkpoint::CheckEntries(params, ckpt);
  if (!problems.empty()) {
    const ErrorContext at(ckpt.index_path());
    const std::string what = detail::checkpoint::Describe(problems, params.size());
    const bool all_missing = std::all_of(problems.begin(), problems.end(), [](const auto& p) { return p.missing; });
    if (all_missing) throw NotFoundError(at, what);
    throw ArgumentError(at, what);
  }
  std::vector<std::vector<T>> staged;
  staged.reserve(params.size());
  for (const nn::Parameter<T>* p : params.all()) staged.push_back(ckpt.template Read<T>(p->name));
  for (size_t i = 0; i < params.size(); ++i) {
    nn::Parameter<T>& p = *params.all()[i];
    p.Assign(staged[i].data(), p.shape);
  }
  const bundle::Entry* step = ckpt.Find(kGlobalStepKey);
  if (step == nullptr || step->shape.num_elements() != 1 || !detail::checkpoint::IsStepType(step->dtype)) return std::nullopt;
  return ckpt.template ReadAs<int64_t>(kGlobalStepKey).at(0);
}

// The fine-tune start (see the file comment). `checkpoint` overrides
// train_config.fine_tune_checkpoint when not empty. Returns the plan (plan.Summary() for the
// report). Throws ArgumentError when there is no checkpoint to read or the plan fails
// (plan.error), the errors of bundle::Checkpoint::Open, and those of restore::ApplyPlan.
template <class T>
restore::RestorePlan RestoreFromFineTuneCheckpoint(const nn::ParameterList<T>& params, const config::PipelineConfig& cfg,
                                                   const std::string& checkpoint = {},
                                                   const restore::PlanOptions& options = {}) {
  restore::FineTuneSettings settings = restore::FineTuneSettings::FromConfig(cfg);
  if (!checkpoint.empty()) settings.fine_tune_checkpoint = checkpoint;
  if (settings.fine_tune_checkpoint.empty()) {
    throw ArgumentError(ErrorContext(cfg.document().file()),
                        "train_config.fine_tune_checkpoint is empty and no checkpoint was given");
  }
  const bundle::Checkpoint ckpt = bundle::Checkpoint::Open(settings.fine_tune_checkpoint);
  const restore::CheckpointListing listing = restore::CheckpointListing::FromReader(ckpt, settings.fine_tune_checkpoint);
  restore::RestorePlan plan = restore::MakePlan(ModelVariablesOf(params), &listing, settings, options);
  if (!plan.ok()) {
    throw ArgumentError(ErrorContext(settings.fine_tune_checkpoint), "the restore plan fails: " + plan.error);
  }
  // Training state the plan may list (tf1-legacy synthesizes slots and global_step) is the
  // trainer's business: only the model's parameters are written here.
  restore::RestorePlan applied = plan;
  for (restore::PlannedVariable& v : applied.variables) {
    if (v.variable.kind != restore::VariableKind::kModel && v.action == restore::Action::kRestore) {
      v.action = restore::Action::kNotRequested;
    }
  }
  restore::ApplyPlan(applied, ckpt, [&](const restore::PlannedVariable& v) -> std::optional<restore::Destination> {
    nn::Parameter<T>* p = params.Find(v.name());
    if (p == nullptr) return std::nullopt;
    return restore::Destination{p->value.data(), bundle::DataTypeOf<T>::value,
                                restore::Shape(p->shape.begin(), p->shape.end()), restore::Layout::kAsIs};
  });
  return plan;
}

}  // namespace warmstart::ssd
