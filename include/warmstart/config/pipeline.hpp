// Typed views of an Object Detection API pipeline.config (TrainEvalPipelineConfig) with the
// proto defaults filled in, on top of the schema-free Document (text_format.hpp) and the
// schema (schema.hpp):
//
//   TrainEvalPipelineConfig                         PipelineConfig
//     model { ssd | faster_rcnn | center_net }        meta_arch(), ssd(), faster_rcnn()
//     train_config                                    train()          TrainConfig, Optimizer, LearningRate
//       data_augmentation_options[]                     train().augmentation_steps   AugmentationStep
//     train_input_reader / eval_input_reader[]        train_input(), eval_inputs()
//     eval_config                                     eval()
//
// Values are read as text_format.Merge leaves them: a singular field written twice gives
// the last value, occurrences of a singular message are merged, repeated fields collect
// every occurrence in file order. Every default comes from the schema table (one place).
// The Document stays beside the views for edits (document(), mutable_document()); views
// are a snapshot of the parse and are not updated by edits (call Reparse()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "warmstart/config/schema.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/error.hpp"

namespace warmstart::config {

// ---- reading one (merged) message with defaults ---------------------------------------

// All occurrences of one message (Merge merges them) read through its schema.
// Requires: the message was validated against `schema` (values have the declared types).
class FieldReader {
 public:
  FieldReader(std::vector<const Message*> occurrences, const MessageSchema& schema)
      : occurrences_(std::move(occurrences)), schema_(&schema) {}

  bool Has(std::string_view name) const { return Last(name) != nullptr; }
  // The last occurrence (what Merge keeps), or nullptr.
  const Value* Last(std::string_view name) const {
    const Value* last = nullptr;
    for (const Message* m : occurrences_) {
      for (const Field& f : m->fields()) {
        if (f.name == name) last = &f.value;
      }
    }
    return last;
  }
  std::vector<const Value*> All(std::string_view name) const {
    std::vector<const Value*> out;
    for (const Message* m : occurrences_) {
      for (const Field& f : m->fields()) {
        if (f.name == name) out.push_back(&f.value);
      }
    }
    return out;
  }

  int64_t Int(std::string_view name) const {
    if (const Value* v = Last(name)) return v->AsInt64();
    return Default(name).AsInt64();
  }
  float Float(std::string_view name) const { return static_cast<float>(Double(name)); }
  double Double(std::string_view name) const {
    if (const Value* v = Last(name)) return v->AsDouble();
    return Default(name).AsDouble();
  }
  bool Bool(std::string_view name) const {
    if (const Value* v = Last(name)) return v->AsBool();
    return Default(name).AsBool();
  }
  std::string String(std::string_view name) const {
    if (const Value* v = Last(name)) return v->AsString();
    return Default(name).AsString();
  }
  // An enum's value name (a number written for it is turned into its name).
  std::string Enum(std::string_view name) const {
    const Value* v = Last(name);
    if (v == nullptr) return Default(name).AsEnum();
    if (v->IsInteger()) {
      if (const std::string* n = FieldOf(name).enum_type->NameOf(v->AsInt64())) return *n;
    }
    return v->AsEnum();
  }
  std::vector<float> Floats(std::string_view name) const {
    std::vector<float> out;
    for (const Value* v : All(name)) out.push_back(static_cast<float>(v->AsDouble()));
    return out;
  }
  std::vector<int64_t> Ints(std::string_view name) const {
    std::vector<int64_t> out;
    for (const Value* v : All(name)) out.push_back(v->AsInt64());
    return out;
  }
  std::vector<std::string> Strings(std::string_view name) const {
    std::vector<std::string> out;
    for (const Value* v : All(name)) out.push_back(v->AsString());
    return out;
  }

  // The singular message field `name`, all its occurrences merged; empty (all defaults) when absent.
  FieldReader Sub(std::string_view name) const { return FieldReader(Messages(name), SubSchema(name)); }
  // Each occurrence of the repeated message field `name`.
  std::vector<FieldReader> Each(std::string_view name) const {
    std::vector<FieldReader> out;
    for (const Message* m : Messages(name)) out.emplace_back(std::vector<const Message*>{m}, SubSchema(name));
    return out;
  }
  // The member of `oneof` that is set (the last one written: Merge clears the others), or "".
  std::string WhichOneof(std::string_view oneof) const {
    std::string which;
    for (const Message* m : occurrences_) {
      for (const ::warmstart::config::Field& f : m->fields()) {
        const FieldSchema* fs = schema_->Find(f.name);
        if (fs != nullptr && fs->oneof == oneof) which = f.name;
      }
    }
    return which;
  }
  // The names of the fields written.
  std::set<std::string> Explicit() const {
    std::set<std::string> out;
    for (const Message* m : occurrences_) {
      for (const ::warmstart::config::Field& f : m->fields()) out.insert(f.name);
    }
    return out;
  }

  const MessageSchema& schema() const { return *schema_; }

  // The schema default of a field as a Value (typed like a parsed one).
  static Value DefaultValue(const FieldSchema& fs) {
    const std::string text = fs.EffectiveDefault();
    switch (fs.type) {
      case FieldType::kBool: return Value::Bool(text == "true");
      case FieldType::kString: return Value::String(text);
      case FieldType::kEnum: return Value::Enum(text);
      case FieldType::kMessage: return Value();
      default: return Value::Number(text);
    }
  }

 private:
  const FieldSchema& FieldOf(std::string_view name) const {
    const FieldSchema* fs = schema_->Find(name);
    if (fs == nullptr) {
      throw ArgumentError("message type \"" + schema_->full_name + "\" has no modelled field \"" + std::string(name) + "\"");
    }
    return *fs;
  }
  Value Default(std::string_view name) const { return DefaultValue(FieldOf(name)); }
  std::vector<const Message*> Messages(std::string_view name) const {
    std::vector<const Message*> out;
    for (const Value* v : All(name)) out.push_back(&v->AsMessage());
    return out;
  }
  const MessageSchema& SubSchema(std::string_view name) const {
    const FieldSchema& fs = FieldOf(name);
    static const MessageSchema kOpaque{"", Modelled::kPartially, {}, false};
    const MessageSchema* sub = fs.type_name.empty() ? nullptr : OdSchema().FindMessage(fs.type_name);
    return sub != nullptr ? *sub : kOpaque;
  }

  std::vector<const Message*> occurrences_;
  const MessageSchema* schema_;
};

// ---- train_config ---------------------------------------------------------------------

enum class CheckpointVersion { kUnknown = 0, kV1 = 1, kV2 = 2 };

struct ConstantLearningRate {
  float learning_rate = 0;
};
struct ExponentialDecayLearningRate {
  float initial_learning_rate = 0;
  uint32_t decay_steps = 0;
  float decay_factor = 0;
  bool staircase = false;
  float burnin_learning_rate = 0;
  uint32_t burnin_steps = 0;
  float min_learning_rate = 0;
};
struct ManualStepLearningRate {
  struct Step {
    uint32_t step = 0;
    float learning_rate = 0;
  };
  float initial_learning_rate = 0;
  std::vector<Step> schedule;
  bool warmup = false;
};
struct CosineDecayLearningRate {
  float learning_rate_base = 0;
  uint32_t total_steps = 0;
  float warmup_learning_rate = 0;
  uint32_t warmup_steps = 0;
  uint32_t hold_base_rate_steps = 0;
};

// LearningRate: a oneof of four schedules. Each member holds its proto defaults; only the
// one named by `kind` is meaningful.
struct LearningRate {
  enum class Kind { kNone, kConstant, kExponentialDecay, kManualStep, kCosineDecay };
  Kind kind = Kind::kNone;
  ConstantLearningRate constant;
  ExponentialDecayLearningRate exponential_decay;
  ManualStepLearningRate manual_step;
  CosineDecayLearningRate cosine_decay;
};

struct Optimizer {
  enum class Kind { kNone, kRmsProp, kMomentum, kAdam };
  Kind kind = Kind::kNone;
  std::string kind_name;   // "rms_prop_optimizer", "momentum_optimizer", "adam_optimizer" or ""
  LearningRate learning_rate;
  float momentum_optimizer_value = 0;  // rms_prop and momentum (0.9)
  float decay = 0;                     // rms_prop (0.9)
  float epsilon = 0;                   // rms_prop (1.0), adam (1e-8)
  bool use_moving_average = true;
  float moving_average_decay = 0;
  std::set<std::string> explicit_fields;  // fields written in Optimizer itself

  bool IsSet(const std::string& field) const { return explicit_fields.count(field) != 0; }
};

// ---- data_augmentation_options --------------------------------------------------------

// The steps a C++ trainer runs (preprocessor.proto), each with its proto defaults filled in.
struct RandomHorizontalFlipStep {
  std::vector<int32_t> keypoint_flip_permutation;  // empty: keypoint order kept
  float probability = 0.5f;
};
struct RandomCropImageStep {
  float min_object_covered = 1.0f;
  float min_aspect_ratio = 0.75f, max_aspect_ratio = 1.33f;
  float min_area = 0.1f, max_area = 1.0f;
  float overlap_thresh = 0.3f;
  bool clip_boxes = true;
  float random_coef = 0.0f;  // probability of keeping the original image
};
// One SSDRandomCropOperation. Only clip_boxes has a proto default; the others are 0 when
// not written.
struct SsdRandomCropOperation {
  float min_object_covered = 0;
  float min_aspect_ratio = 0, max_aspect_ratio = 0;
  float min_area = 0, max_area = 0;
  float overlap_thresh = 0;
  bool clip_boxes = true;
  float random_coef = 0;  // probability that the chosen operation is skipped
};
// An empty operation list (`ssd_random_crop { }`, as in all 29 sample configs that use the
// step) makes upstream's preprocessor_builder call ssd_random_crop with its built-in list.
struct SsdRandomCropStep {
  std::vector<SsdRandomCropOperation> operations;
};
struct RandomAdjustBrightnessStep {
  float max_delta = 0.2f;
};
struct RandomAdjustContrastStep {
  float min_delta = 0.8f, max_delta = 1.25f;
};
struct RandomAdjustHueStep {
  float max_delta = 0.02f;
};
struct RandomAdjustSaturationStep {
  float min_delta = 0.8f, max_delta = 1.25f;
};
struct RandomRgbToGrayStep {
  float probability = 0.1f;
};

// One data_augmentation_options entry: the oneof member written (`name`) and, for the steps
// above, its parameters. Any other step (valid in the schema, but without a typed view here)
// has `params` empty: a trainer reports it by name.
struct AugmentationStep {
  using Params = std::variant<std::monostate, RandomHorizontalFlipStep, RandomCropImageStep, SsdRandomCropStep,
                              RandomAdjustBrightnessStep, RandomAdjustContrastStep, RandomAdjustHueStep,
                              RandomAdjustSaturationStep, RandomRgbToGrayStep>;
  std::string name;  // "ssd_random_crop"; "" for an empty `data_augmentation_options { }`
  Params params;

  bool modelled() const { return !std::holds_alternative<std::monostate>(params); }
  // The parameters as T, or nullptr when this step is not a T.
  template <typename T>
  const T* As() const {
    return std::get_if<T>(&params);
  }
};

// TrainConfig (protos/train.proto), fields 1-30, every default as the proto declares it.
struct TrainConfig {
  uint32_t batch_size = 0;
  std::vector<std::string> data_augmentation_options;  // the chosen step of each, e.g. "ssd_random_crop"
  std::vector<AugmentationStep> augmentation_steps;     // the same steps, typed where modelled
  bool sync_replicas = false;
  float keep_checkpoint_every_n_hours = 0;
  std::optional<Optimizer> optimizer;  // unset when train_config has no optimizer
  float gradient_clipping_by_norm = 0;
  std::string fine_tune_checkpoint;
  bool from_detection_checkpoint = false;  // deprecated: see ResolvedFineTuneCheckpointType
  uint32_t num_steps = 0;
  float startup_delay_steps = 0;
  float bias_grad_multiplier = 0;
  std::vector<std::string> freeze_variables;
  int32_t replicas_to_aggregate = 0;
  int32_t batch_queue_capacity = 0;     // deprecated
  int32_t num_batch_queue_threads = 0;  // deprecated
  int32_t prefetch_queue_capacity = 0;  // deprecated
  bool merge_multiple_label_boxes = false;
  bool add_regularization_loss = false;
  bool load_all_detection_checkpoint_vars = false;
  int32_t max_number_of_boxes = 0;  // deprecated, read by no code
  bool unpad_groundtruth_tensors = false;
  std::string fine_tune_checkpoint_type;  // as written ("" when absent)
  bool retain_original_images = false;
  bool use_multiclass_scores = false;
  std::vector<std::string> update_trainable_variables;
  bool use_bfloat16 = false;
  bool summarize_gradients = false;
  CheckpointVersion fine_tune_checkpoint_version = CheckpointVersion::kV1;
  bool run_fine_tune_checkpoint_dummy_computation = false;
  std::set<std::string> explicit_fields;  // the fields written in the file

  bool IsSet(const std::string& field) const { return explicit_fields.count(field) != 0; }

  // The names of the augmentation steps without a typed view, in file order.
  std::vector<std::string> UnmodelledAugmentationSteps() const {
    std::vector<std::string> out;
    for (const AugmentationStep& s : augmentation_steps) {
      if (!s.modelled()) out.push_back(s.name);
    }
    return out;
  }

  // The type every training path uses (spec section 2): an explicit type wins; otherwise
  // "detection" when from_detection_checkpoint, else "classification".
  std::string ResolvedFineTuneCheckpointType() const {
    if (!fine_tune_checkpoint_type.empty()) return fine_tune_checkpoint_type;
    return from_detection_checkpoint ? "detection" : "classification";
  }
};

// ---- model ----------------------------------------------------------------------------

enum class MetaArch { kNone, kSsd, kFasterRcnn, kCenterNet, kOther };

inline const char* MetaArchName(MetaArch m) {
  switch (m) {
    case MetaArch::kNone: return "";
    case MetaArch::kSsd: return "ssd";
    case MetaArch::kFasterRcnn: return "faster_rcnn";
    case MetaArch::kCenterNet: return "center_net";
    case MetaArch::kOther: return "other";
  }
  return "";
}

struct BatchNormConfig {
  float decay = 0;
  bool center = false;
  bool scale = false;
  float epsilon = 0;
  bool train = false;
};

struct HyperparamsConfig {
  std::string op;                // "CONV" / "FC"
  std::string regularizer;       // "l1_regularizer", "l2_regularizer" or ""
  float regularizer_weight = 0;  // of the chosen regularizer (1.0 by default)
  std::string initializer;       // "truncated_normal_initializer", ... or ""
  float initializer_mean = 0;    // truncated/random normal
  float initializer_stddev = 0;
  std::string activation;        // "NONE", "RELU", "RELU_6", "SWISH"
  std::optional<BatchNormConfig> batch_norm;  // unset: no batch norm
  bool regularize_depthwise = false;
};

struct ImageResizerConfig {
  std::string kind;  // "fixed_shape_resizer", "keep_aspect_ratio_resizer", ...
  int32_t height = 0, width = 0;                 // fixed_shape_resizer
  int32_t min_dimension = 0, max_dimension = 0;  // keep_aspect_ratio_resizer
};

struct SsdFeatureExtractorConfig {
  std::string type;
  float depth_multiplier = 0;
  int32_t min_depth = 0;
  int32_t pad_to_multiple = 0;
  bool use_explicit_padding = false;
  bool use_depthwise = false;
  bool override_base_feature_extractor_hyperparams = false;
  HyperparamsConfig conv_hyperparams;
};

struct BoxCoderConfig {
  std::string kind;  // "faster_rcnn_box_coder", ...
  float y_scale = 0, x_scale = 0, height_scale = 0, width_scale = 0;  // faster_rcnn_box_coder
};

struct MatcherConfig {
  std::string kind;  // "argmax_matcher", "bipartite_matcher"
  float matched_threshold = 0, unmatched_threshold = 0;
  bool ignore_thresholds = false, negatives_lower_than_unmatched = false, force_match_for_each_row = false;
  bool use_matmul_gather = false;
};

struct SsdAnchorGeneratorConfig {
  int32_t num_layers = 0;
  float min_scale = 0, max_scale = 0;
  std::vector<float> scales, aspect_ratios;
  float interpolated_scale_aspect_ratio = 0;
  bool reduce_boxes_in_lowest_layer = false;
  float base_anchor_height = 0, base_anchor_width = 0;
  std::vector<int64_t> height_stride, width_stride, height_offset, width_offset;
};

struct AnchorGeneratorConfig {
  std::string kind;  // "ssd_anchor_generator", "multiscale_anchor_generator", ...
  SsdAnchorGeneratorConfig ssd;
};

struct ConvolutionalBoxPredictorConfig {
  HyperparamsConfig conv_hyperparams;
  int32_t min_depth = 0, max_depth = 0, num_layers_before_predictor = 0;
  bool use_dropout = false;
  float dropout_keep_probability = 0;
  int32_t kernel_size = 0, box_code_size = 0;
  bool apply_sigmoid_to_scores = false;
  float class_prediction_bias_init = 0;
  bool use_depthwise = false;
};

struct BoxPredictorConfig {
  std::string kind;  // "convolutional_box_predictor", "weight_shared_convolutional_box_predictor", ...
  ConvolutionalBoxPredictorConfig convolutional;
};

struct PostProcessingConfig {
  float score_threshold = 0, iou_threshold = 0;  // batch_non_max_suppression
  int32_t max_detections_per_class = 0, max_total_detections = 0;
  std::string score_converter;  // "IDENTITY", "SIGMOID", "SOFTMAX"
  float logit_scale = 0;
};

struct HardExampleMinerConfig {
  int32_t num_hard_examples = 0;
  float iou_threshold = 0;
  std::string loss_type;  // "BOTH", "CLASSIFICATION", "LOCALIZATION"
  int32_t max_negatives_per_positive = 0, min_negatives_per_image = 0;
};

struct LossConfig {
  std::string localization_loss;    // "weighted_smooth_l1", ...
  std::string classification_loss;  // "weighted_sigmoid", "weighted_sigmoid_focal", ...
  std::optional<HardExampleMinerConfig> hard_example_miner;
  float classification_weight = 0, localization_weight = 0;
};

struct SsdModelConfig {
  int32_t num_classes = 0;
  ImageResizerConfig image_resizer;
  SsdFeatureExtractorConfig feature_extractor;
  BoxCoderConfig box_coder;
  MatcherConfig matcher;
  std::string similarity_calculator;  // "iou_similarity", ...
  bool encode_background_as_zeros = false;
  float negative_class_weight = 0;
  BoxPredictorConfig box_predictor;
  AnchorGeneratorConfig anchor_generator;
  PostProcessingConfig post_processing;
  bool normalize_loss_by_num_matches = false;
  bool normalize_loc_loss_by_codesize = false;
  LossConfig loss;
  bool freeze_batchnorm = false;
  bool inplace_batchnorm_update = false;
  bool add_background_class = false;
};

// FasterRcnn (protos/faster_rcnn.proto): what a restore policy and a model builder read first.
struct FasterRcnnModelConfig {
  int32_t num_classes = 0;
  std::string feature_extractor_type;
  int32_t first_stage_features_stride = 0;
  int32_t number_of_stages = 0;  // 2 unless written; 1 = the region proposal network only
  bool batch_norm_trainable = false;
  bool has_context_config = false;  // Context R-CNN (context_config written)

  // The variable scopes of the two halves of the feature extractor. They are fixed names in
  // faster_rcnn_meta_arch.py, not config fields (spec section 3.2).
  static constexpr std::string_view kFirstStageFeatureExtractorScope = "FirstStageFeatureExtractor";
  static constexpr std::string_view kSecondStageFeatureExtractorScope = "SecondStageFeatureExtractor";
};

// ---- inputs and eval ------------------------------------------------------------------

struct InputReaderConfig {
  std::string label_map_path;
  std::vector<std::string> input_paths;  // tf_record_input_reader.input_path
  bool shuffle = false;
  uint32_t num_epochs = 0;
  uint32_t num_readers = 0;
  int32_t max_number_of_boxes = 0;
};

struct EvalConfigView {
  uint32_t batch_size = 0;
  uint32_t num_examples = 0;  // deprecated
  uint32_t max_evals = 0;     // deprecated
  std::vector<std::string> metrics_set;
  bool use_moving_averages = false;
  bool include_metrics_per_category = false;
};

// ---- readers --------------------------------------------------------------------------

namespace detail {

inline HyperparamsConfig ReadHyperparams(const FieldReader& r) {
  HyperparamsConfig h;
  h.op = r.Enum("op");
  const FieldReader reg = r.Sub("regularizer");
  h.regularizer = reg.WhichOneof("regularizer_oneof");
  h.regularizer_weight = h.regularizer.empty() ? 0.0f : reg.Sub(h.regularizer).Float("weight");
  const FieldReader init = r.Sub("initializer");
  h.initializer = init.WhichOneof("initializer_oneof");
  if (h.initializer == "truncated_normal_initializer" || h.initializer == "random_normal_initializer") {
    const FieldReader n = init.Sub(h.initializer);
    h.initializer_mean = n.Float("mean");
    h.initializer_stddev = n.Float("stddev");
  }
  h.activation = r.Enum("activation");
  if (r.WhichOneof("normalizer_oneof") == "batch_norm") {
    const FieldReader bn = r.Sub("batch_norm");
    h.batch_norm = BatchNormConfig{bn.Float("decay"), bn.Bool("center"), bn.Bool("scale"), bn.Float("epsilon"), bn.Bool("train")};
  }
  h.regularize_depthwise = r.Bool("regularize_depthwise");
  return h;
}

inline LearningRate ReadLearningRate(const FieldReader& r) {
  LearningRate lr;
  const std::string which = r.WhichOneof("learning_rate");
  const FieldReader c = r.Sub("constant_learning_rate");
  lr.constant.learning_rate = c.Float("learning_rate");
  const FieldReader e = r.Sub("exponential_decay_learning_rate");
  lr.exponential_decay = ExponentialDecayLearningRate{
      e.Float("initial_learning_rate"), static_cast<uint32_t>(e.Int("decay_steps")), e.Float("decay_factor"),
      e.Bool("staircase"),  e.Float("burnin_learning_rate"), static_cast<uint32_t>(e.Int("burnin_steps")),
      e.Float("min_learning_rate")};
  const FieldReader m = r.Sub("manual_step_learning_rate");
  lr.manual_step.initial_learning_rate = m.Float("initial_learning_rate");
  for (const FieldReader& s : m.Each("schedule")) {
    lr.manual_step.schedule.push_back({static_cast<uint32_t>(s.Int("step")), s.Float("learning_rate")});
  }
  lr.manual_step.warmup = m.Bool("warmup");
  const FieldReader k = r.Sub("cosine_decay_learning_rate");
  lr.cosine_decay = CosineDecayLearningRate{k.Float("learning_rate_base"), static_cast<uint32_t>(k.Int("total_steps")),
                                            k.Float("warmup_learning_rate"), static_cast<uint32_t>(k.Int("warmup_steps")),
                                            static_cast<uint32_t>(k.Int("hold_base_rate_steps"))};
  if (which == "constant_learning_rate") lr.kind = LearningRate::Kind::kConstant;
  if (which == "exponential_decay_learning_rate") lr.kind = LearningRate::Kind::kExponentialDecay;
  if (which == "manual_step_learning_rate") lr.kind = LearningRate::Kind::kManualStep;
  if (which == "cosine_decay_learning_rate") lr.kind = LearningRate::Kind::kCosineDecay;
  return lr;
}

inline Optimizer ReadOptimizer(const FieldReader& r) {
  Optimizer o;
  o.kind_name = r.WhichOneof("optimizer");
  o.use_moving_average = r.Bool("use_moving_average");
  o.moving_average_decay = r.Float("moving_average_decay");
  o.explicit_fields = r.Explicit();
  if (o.kind_name.empty()) return o;
  const FieldReader k = r.Sub(o.kind_name);
  o.learning_rate = ReadLearningRate(k.Sub("learning_rate"));
  if (o.kind_name == "rms_prop_optimizer") {
    o.kind = Optimizer::Kind::kRmsProp;
    o.momentum_optimizer_value = k.Float("momentum_optimizer_value");
    o.decay = k.Float("decay");
    o.epsilon = k.Float("epsilon");
  } else if (o.kind_name == "momentum_optimizer") {
    o.kind = Optimizer::Kind::kMomentum;
    o.momentum_optimizer_value = k.Float("momentum_optimizer_value");
  } else {
    o.kind = Optimizer::Kind::kAdam;
    o.epsilon = k.Float("epsilon");
  }
  return o;
}

// Requires: the checkpoint version enum value is one of the schema's (validated).
inline CheckpointVersion ToCheckpointVersion(const std::string& name) {
  if (name == "V1") return CheckpointVersion::kV1;
  if (name == "V2") return CheckpointVersion::kV2;
  return CheckpointVersion::kUnknown;
}

inline SsdRandomCropOperation ReadSsdRandomCropOperation(const FieldReader& r) {
  SsdRandomCropOperation o;
  o.min_object_covered = r.Float("min_object_covered");
  o.min_aspect_ratio = r.Float("min_aspect_ratio");
  o.max_aspect_ratio = r.Float("max_aspect_ratio");
  o.min_area = r.Float("min_area");
  o.max_area = r.Float("max_area");
  o.overlap_thresh = r.Float("overlap_thresh");
  o.clip_boxes = r.Bool("clip_boxes");
  o.random_coef = r.Float("random_coef");
  return o;
}

inline RandomCropImageStep ReadRandomCropImage(const FieldReader& r) {
  RandomCropImageStep c;
  c.min_object_covered = r.Float("min_object_covered");
  c.min_aspect_ratio = r.Float("min_aspect_ratio");
  c.max_aspect_ratio = r.Float("max_aspect_ratio");
  c.min_area = r.Float("min_area");
  c.max_area = r.Float("max_area");
  c.overlap_thresh = r.Float("overlap_thresh");
  c.clip_boxes = r.Bool("clip_boxes");
  c.random_coef = r.Float("random_coef");
  return c;
}

// One PreprocessingStep: a oneof, so the last member written is the one Merge keeps.
inline AugmentationStep ReadAugmentationStep(const FieldReader& step) {
  AugmentationStep out;
  out.name = step.WhichOneof("preprocessing_step");
  if (out.name.empty()) return out;
  const FieldReader r = step.Sub(out.name);
  if (out.name == "random_horizontal_flip") {
    RandomHorizontalFlipStep f;
    for (const int64_t i : r.Ints("keypoint_flip_permutation")) f.keypoint_flip_permutation.push_back(static_cast<int32_t>(i));
    f.probability = r.Float("probability");
    out.params = std::move(f);
  } else if (out.name == "random_crop_image") {
    out.params = ReadRandomCropImage(r);
  } else if (out.name == "ssd_random_crop") {
    SsdRandomCropStep c;
    for (const FieldReader& op : r.Each("operations")) c.operations.push_back(ReadSsdRandomCropOperation(op));
    out.params = std::move(c);
  } else if (out.name == "random_adjust_brightness") {
    out.params = RandomAdjustBrightnessStep{r.Float("max_delta")};
  } else if (out.name == "random_adjust_contrast") {
    out.params = RandomAdjustContrastStep{r.Float("min_delta"), r.Float("max_delta")};
  } else if (out.name == "random_adjust_hue") {
    out.params = RandomAdjustHueStep{r.Float("max_delta")};
  } else if (out.name == "random_adjust_saturation") {
    out.params = RandomAdjustSaturationStep{r.Float("min_delta"), r.Float("max_delta")};
  } else if (out.name == "random_rgb_to_gray") {
    out.params = RandomRgbToGrayStep{r.Float("probability")};
  }
  return out;
}

inline TrainConfig ReadTrainConfig(const FieldReader& r) {
  TrainConfig t;
  t.batch_size = static_cast<uint32_t>(r.Int("batch_size"));
  for (const FieldReader& step : r.Each("data_augmentation_options")) {
    t.augmentation_steps.push_back(ReadAugmentationStep(step));
    t.data_augmentation_options.push_back(t.augmentation_steps.back().name);
  }
  t.sync_replicas = r.Bool("sync_replicas");
  t.keep_checkpoint_every_n_hours = r.Float("keep_checkpoint_every_n_hours");
  if (r.Has("optimizer")) t.optimizer = ReadOptimizer(r.Sub("optimizer"));
  t.gradient_clipping_by_norm = r.Float("gradient_clipping_by_norm");
  t.fine_tune_checkpoint = r.String("fine_tune_checkpoint");
  t.from_detection_checkpoint = r.Bool("from_detection_checkpoint");
  t.num_steps = static_cast<uint32_t>(r.Int("num_steps"));
  t.startup_delay_steps = r.Float("startup_delay_steps");
  t.bias_grad_multiplier = r.Float("bias_grad_multiplier");
  t.freeze_variables = r.Strings("freeze_variables");
  t.replicas_to_aggregate = static_cast<int32_t>(r.Int("replicas_to_aggregate"));
  t.batch_queue_capacity = static_cast<int32_t>(r.Int("batch_queue_capacity"));
  t.num_batch_queue_threads = static_cast<int32_t>(r.Int("num_batch_queue_threads"));
  t.prefetch_queue_capacity = static_cast<int32_t>(r.Int("prefetch_queue_capacity"));
  t.merge_multiple_label_boxes = r.Bool("merge_multiple_label_boxes");
  t.add_regularization_loss = r.Bool("add_regularization_loss");
  t.load_all_detection_checkpoint_vars = r.Bool("load_all_detection_checkpoint_vars");
  t.max_number_of_boxes = static_cast<int32_t>(r.Int("max_number_of_boxes"));
  t.unpad_groundtruth_tensors = r.Bool("unpad_groundtruth_tensors");
  t.fine_tune_checkpoint_type = r.String("fine_tune_checkpoint_type");
  t.retain_original_images = r.Bool("retain_original_images");
  t.use_multiclass_scores = r.Bool("use_multiclass_scores");
  t.update_trainable_variables = r.Strings("update_trainable_variables");
  t.use_bfloat16 = r.Bool("use_bfloat16");
  t.summarize_gradients = r.Bool("summarize_gradients");
  t.fine_tune_checkpoint_version = ToCheckpointVersion(r.Enum("fine_tune_checkpoint_version"));
  t.run_fine_tune_checkpoint_dummy_computation = r.Bool("run_fine_tune_checkpoint_dummy_computation");
  t.explicit_fields = r.Explicit();
  return t;
}

inline ImageResizerConfig ReadImageResizer(const FieldReader& r) {
  ImageResizerConfig c;
  c.kind = r.WhichOneof("image_resizer_oneof");
  const FieldReader fixed = r.Sub("fixed_shape_resizer");
  c.height = static_cast<int32_t>(fixed.Int("height"));
  c.width = static_cast<int32_t>(fixed.Int("width"));
  const FieldReader keep = r.Sub("keep_aspect_ratio_resizer");
  c.min_dimension = static_cast<int32_t>(keep.Int("min_dimension"));
  c.max_dimension = static_cast<int32_t>(keep.Int("max_dimension"));
  return c;
}

inline SsdFeatureExtractorConfig ReadSsdFeatureExtractor(const FieldReader& r) {
  SsdFeatureExtractorConfig c;
  c.type = r.String("type");
  c.depth_multiplier = r.Float("depth_multiplier");
  c.min_depth = static_cast<int32_t>(r.Int("min_depth"));
  c.pad_to_multiple = static_cast<int32_t>(r.Int("pad_to_multiple"));
  c.use_explicit_padding = r.Bool("use_explicit_padding");
  c.use_depthwise = r.Bool("use_depthwise");
  c.override_base_feature_extractor_hyperparams = r.Bool("override_base_feature_extractor_hyperparams");
  c.conv_hyperparams = ReadHyperparams(r.Sub("conv_hyperparams"));
  return c;
}

inline BoxCoderConfig ReadBoxCoder(const FieldReader& r) {
  const FieldReader f = r.Sub("faster_rcnn_box_coder");
  return BoxCoderConfig{r.WhichOneof("box_coder_oneof"), f.Float("y_scale"), f.Float("x_scale"), f.Float("height_scale"),
                        f.Float("width_scale")};
}

inline MatcherConfig ReadMatcher(const FieldReader& r) {
  const FieldReader a = r.Sub("argmax_matcher");
  return MatcherConfig{r.WhichOneof("matcher_oneof"),           a.Float("matched_threshold"),
                       a.Float("unmatched_threshold"),          a.Bool("ignore_thresholds"),
                       a.Bool("negatives_lower_than_unmatched"), a.Bool("force_match_for_each_row"),
                       a.Bool("use_matmul_gather")};
}

inline AnchorGeneratorConfig ReadAnchorGenerator(const FieldReader& r) {
  AnchorGeneratorConfig c;
  c.kind = r.WhichOneof("anchor_generator_oneof");
  const FieldReader s = r.Sub("ssd_anchor_generator");
  SsdAnchorGeneratorConfig& a = c.ssd;
  a.num_layers = static_cast<int32_t>(s.Int("num_layers"));
  a.min_scale = s.Float("min_scale");
  a.max_scale = s.Float("max_scale");
  a.scales = s.Floats("scales");
  a.aspect_ratios = s.Floats("aspect_ratios");
  a.interpolated_scale_aspect_ratio = s.Float("interpolated_scale_aspect_ratio");
  a.reduce_boxes_in_lowest_layer = s.Bool("reduce_boxes_in_lowest_layer");
  a.base_anchor_height = s.Float("base_anchor_height");
  a.base_anchor_width = s.Float("base_anchor_width");
  a.height_stride = s.Ints("height_stride");
  a.width_stride = s.Ints("width_stride");
  a.height_offset = s.Ints("height_offset");
  a.width_offset = s.Ints("width_offset");
  return c;
}

inline BoxPredictorConfig ReadBoxPredictor(const FieldReader& r) {
  BoxPredictorConfig c;
  c.kind = r.WhichOneof("box_predictor_oneof");
  const FieldReader p = r.Sub("convolutional_box_predictor");
  ConvolutionalBoxPredictorConfig& b = c.convolutional;
  b.conv_hyperparams = ReadHyperparams(p.Sub("conv_hyperparams"));
  b.min_depth = static_cast<int32_t>(p.Int("min_depth"));
  b.max_depth = static_cast<int32_t>(p.Int("max_depth"));
  b.num_layers_before_predictor = static_cast<int32_t>(p.Int("num_layers_before_predictor"));
  b.use_dropout = p.Bool("use_dropout");
  b.dropout_keep_probability = p.Float("dropout_keep_probability");
  b.kernel_size = static_cast<int32_t>(p.Int("kernel_size"));
  b.box_code_size = static_cast<int32_t>(p.Int("box_code_size"));
  b.apply_sigmoid_to_scores = p.Bool("apply_sigmoid_to_scores");
  b.class_prediction_bias_init = p.Float("class_prediction_bias_init");
  b.use_depthwise = p.Bool("use_depthwise");
  return c;
}

inline PostProcessingConfig ReadPostProcessing(const FieldReader& r) {
  const FieldReader n = r.Sub("batch_non_max_suppression");
  return PostProcessingConfig{n.Float("score_threshold"),
                              n.Float("iou_threshold"),
                              static_cast<int32_t>(n.Int("max_detections_per_class")),
                              static_cast<int32_t>(n.Int("max_total_detections")),
                              r.Enum("score_converter"),
                              r.Float("logit_scale")};
}

inline LossConfig ReadLoss(const FieldReader& r) {
  LossConfig c;
  c.localization_loss = r.Sub("localization_loss").WhichOneof("localization_loss");
  c.classification_loss = r.Sub("classification_loss").WhichOneof("classification_loss");
  if (r.Has("hard_example_miner")) {
    const FieldReader h = r.Sub("hard_example_miner");
    c.hard_example_miner = HardExampleMinerConfig{
        static_cast<int32_t>(h.Int("num_hard_examples")), h.Float("iou_threshold"), h.Enum("loss_type"),
        static_cast<int32_t>(h.Int("max_negatives_per_positive")), static_cast<int32_t>(h.Int("min_negatives_per_image"))};
  }
  c.classification_weight = r.Float("classification_weight");
  c.localization_weight = r.Float("localization_weight");
  return c;
}

inline SsdModelConfig ReadSsd(const FieldReader& r) {
  SsdModelConfig c;
  c.num_classes = static_cast<int32_t>(r.Int("num_classes"));
  c.image_resizer = ReadImageResizer(r.Sub("image_resizer"));
  c.feature_extractor = ReadSsdFeatureExtractor(r.Sub("feature_extractor"));
  c.box_coder = ReadBoxCoder(r.Sub("box_coder"));
  c.matcher = ReadMatcher(r.Sub("matcher"));
  c.similarity_calculator = r.Sub("similarity_calculator").WhichOneof("region_similarity");
  c.encode_background_as_zeros = r.Bool("encode_background_as_zeros");
  c.negative_class_weight = r.Float("negative_class_weight");
  c.box_predictor = ReadBoxPredictor(r.Sub("box_predictor"));
  c.anchor_generator = ReadAnchorGenerator(r.Sub("anchor_generator"));
  c.post_processing = ReadPostProcessing(r.Sub("post_processing"));
  c.normalize_loss_by_num_matches = r.Bool("normalize_loss_by_num_matches");
  c.normalize_loc_loss_by_codesize = r.Bool("normalize_loc_loss_by_codesize");
  c.loss = ReadLoss(r.Sub("loss"));
  c.freeze_batchnorm = r.Bool("freeze_batchnorm");
  c.inplace_batchnorm_update = r.Bool("inplace_batchnorm_update");
  c.add_background_class = r.Bool("add_background_class");
  return c;
}

inline FasterRcnnModelConfig ReadFasterRcnn(const FieldReader& r) {
  const FieldReader fe = r.Sub("feature_extractor");
  FasterRcnnModelConfig c;
  c.num_classes = static_cast<int32_t>(r.Int("num_classes"));
  c.feature_extractor_type = fe.String("type");
  c.first_stage_features_stride = static_cast<int32_t>(fe.Int("first_stage_features_stride"));
  c.number_of_stages = static_cast<int32_t>(r.Int("number_of_stages"));
  c.batch_norm_trainable = fe.Bool("batch_norm_trainable");
  c.has_context_config = r.Has("context_config");
  return c;
}

inline InputReaderConfig ReadInputReader(const FieldReader& r) {
  InputReaderConfig c;
  c.label_map_path = r.String("label_map_path");
  c.input_paths = r.Sub("tf_record_input_reader").Strings("input_path");
  c.shuffle = r.Bool("shuffle");
  c.num_epochs = static_cast<uint32_t>(r.Int("num_epochs"));
  c.num_readers = static_cast<uint32_t>(r.Int("num_readers"));
  c.max_number_of_boxes = static_cast<int32_t>(r.Int("max_number_of_boxes"));
  return c;
}

inline EvalConfigView ReadEvalConfig(const FieldReader& r) {
  return EvalConfigView{static_cast<uint32_t>(r.Int("batch_size")), static_cast<uint32_t>(r.Int("num_examples")),
                        static_cast<uint32_t>(r.Int("max_evals")),  r.Strings("metrics_set"),
                        r.Bool("use_moving_averages"),               r.Bool("include_metrics_per_category")};
}

}  // namespace detail

// ---- the pipeline ---------------------------------------------------------------------

// What GetWithDefault found: the explicit values (every occurrence for a repeated field, the
// last for a singular one), else the proto default (is_default), else for
// train_config.fine_tune_checkpoint_type the type resolved by the section-2 rule (resolved).
struct FieldLookup {
  std::vector<Value> values;
  bool is_default = false;
  bool resolved = false;
  const FieldSchema* field = nullptr;  // nullptr for a field outside the modelled schema
};

struct LoadOptions {
  ParseOptions parse;
  ValidateOptions validate;  // strict: duplicate singular fields and oneof clashes are errors
};

class PipelineConfig {
 public:
  // Throws NotFoundError / IoError for the file, FormatError "<file>:<line>:<col>: ..." for the text.
  static PipelineConfig Load(const std::filesystem::path& path, const LoadOptions& options = {}) {
    return PipelineConfig(Document::Load(path, options.parse), options.validate);
  }
  static PipelineConfig Parse(std::string text, std::string file_name = "<text>", const LoadOptions& options = {}) {
    return PipelineConfig(Document::Parse(std::move(text), std::move(file_name), options.parse), options.validate);
  }

  const TrainConfig& train() const { return train_; }
  MetaArch meta_arch() const { return meta_arch_; }
  // The meta-architecture field name as written ("ssd", "faster_rcnn", "center_net", ...).
  const std::string& meta_arch_name() const { return meta_arch_name_; }
  // The feature extractor type of whichever meta-architecture is set ("" if none).
  const std::string& feature_extractor_type() const { return feature_extractor_type_; }
  const std::optional<SsdModelConfig>& ssd() const { return ssd_; }
  const std::optional<FasterRcnnModelConfig>& faster_rcnn() const { return faster_rcnn_; }
  const InputReaderConfig& train_input() const { return train_input_; }
  const std::vector<InputReaderConfig>& eval_inputs() const { return eval_inputs_; }
  const EvalConfigView& eval() const { return eval_; }
  // Merge-accepted oddities: duplicate singular fields, oneof clashes (empty with strict).
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

  const Document& document() const { return document_; }
  Document& mutable_document() { return document_; }
  // Re-validates and re-reads the views after edits to mutable_document().
  void Reparse(const ValidateOptions& options = {}) { Read(options); }

  // For `config get`: the value(s) at a dotted path ("train_config.batch_size",
  // "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"). Explicit values win;
  // an absent modelled field gives its proto default; an absent
  // train_config.fine_tune_checkpoint_type gives the resolved type. Throws NotFoundError
  // for a path that is neither in the file nor in the modelled schema.
  FieldLookup GetWithDefault(std::string_view path) const {
    FieldLookup out;
    out.field = SchemaFieldAt(path);
    const FieldSchema* leaf = out.field;
    if (leaf == nullptr || leaf->repeated) {
      for (const Value* v : document_.root().FindAll(path)) out.values.push_back(*v);
    } else if (const Value* v = document_.root().FindLast(path)) {
      out.values.push_back(*v);
    }
    if (!out.values.empty() || (leaf != nullptr && leaf->repeated)) return out;
    if (leaf == nullptr) throw NotFoundError(ErrorContext(document_.file()).WithKey(std::string(path)), "no such field in the file or in the modelled schema");
    if (path == "train_config.fine_tune_checkpoint_type") {
      out.values.push_back(Value::String(train_.ResolvedFineTuneCheckpointType()));
      out.resolved = true;
      return out;
    }
    out.values.push_back(FieldReader::DefaultValue(*leaf));
    out.is_default = true;
    return out;
  }

  // The schema of the field at `path` ([i] indices ignored), or nullptr when a step is not modelled.
  static const FieldSchema* SchemaFieldAt(std::string_view path) {
    const MessageSchema* m = &OdSchema().Message(kPipelineConfigType);
    const FieldSchema* f = nullptr;
    size_t start = 0;
    while (start <= path.size()) {
      const size_t dot = path.find('.', start);
      std::string_view seg = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (const size_t bracket = seg.find('['); bracket != std::string_view::npos && bracket > 0) seg = seg.substr(0, bracket);
      if (m == nullptr) return nullptr;
      f = m->Find(seg);
      if (f == nullptr) return nullptr;
      if (dot == std::string_view::npos) return f;
      m = f->is_message() && !f->type_name.empty() ? OdSchema().FindMessage(f->type_name) : nullptr;
      start = dot + 1;
    }
    return f;
  }

 private:
  PipelineConfig(Document document, const ValidateOptions& options) : document_(std::move(document)) { Read(options); }

  void Read(const ValidateOptions& options) {
    diagnostics_ = Validate(document_.root(), OdSchema(), kPipelineConfigType, options);
    const FieldReader root({&document_.root()}, OdSchema().Message(kPipelineConfigType));
    train_ = detail::ReadTrainConfig(root.Sub("train_config"));
    ReadModel(root.Sub("model"));
    train_input_ = detail::ReadInputReader(root.Sub("train_input_reader"));
    eval_inputs_.clear();
    for (const FieldReader& e : root.Each("eval_input_reader")) eval_inputs_.push_back(detail::ReadInputReader(e));
    eval_ = detail::ReadEvalConfig(root.Sub("eval_config"));
  }

  void ReadModel(const FieldReader& model) {
    meta_arch_name_ = model.WhichOneof("model");
    meta_arch_ = meta_arch_name_ == "ssd"           ? MetaArch::kSsd
                 : meta_arch_name_ == "faster_rcnn" ? MetaArch::kFasterRcnn
                 : meta_arch_name_ == "center_net"  ? MetaArch::kCenterNet
                 : meta_arch_name_.empty()          ? MetaArch::kNone
                                                    : MetaArch::kOther;
    ssd_.reset();
    faster_rcnn_.reset();
    feature_extractor_type_.clear();
    if (meta_arch_ == MetaArch::kSsd) {
      ssd_ = detail::ReadSsd(model.Sub("ssd"));
      feature_extractor_type_ = ssd_->feature_extractor.type;
    } else if (meta_arch_ == MetaArch::kFasterRcnn) {
      faster_rcnn_ = detail::ReadFasterRcnn(model.Sub("faster_rcnn"));
      feature_extractor_type_ = faster_rcnn_->feature_extractor_type;
    } else if (meta_arch_ == MetaArch::kCenterNet) {
      // CenterNet is not modelled: read its extractor type from the tree.
      const std::vector<const Value*> types = document_.root().FindAll("model.center_net.feature_extractor.type");
      if (!types.empty() && types.back()->kind() == ValueKind::kString) feature_extractor_type_ = types.back()->text();
    }
  }

  Document document_;
  std::vector<Diagnostic> diagnostics_;
  TrainConfig train_;
  MetaArch meta_arch_ = MetaArch::kNone;
  std::string meta_arch_name_;
  std::string feature_extractor_type_;
  std::optional<SsdModelConfig> ssd_;
  std::optional<FasterRcnnModelConfig> faster_rcnn_;
  InputReaderConfig train_input_;
  std::vector<InputReaderConfig> eval_inputs_;
  EvalConfigView eval_;
};

}  // namespace warmstart::config
