// pipeline.config model.ssd -> the options of the SSD training pieces (anchors, box coder,
// matcher, losses, hard example miner, post-processing), with the proto defaults filled in.
//
// Mirrors research/object_detection/builders/ (tensorflow/models):
//   model_builder.py             _build_ssd_model: which builder gets which field; the
//                                background-class flags; negative_class_weight
//   anchor_generator_builder.py  ssd_anchor_generator -> create_ssd_anchors (strides and offsets
//                                zipped from the height_* / width_* lists), multiscale_anchor_generator
//   box_coder_builder.py         faster_rcnn_box_coder -> scale factors [y, x, height, width]
//   matcher_builder.py           argmax_matcher; ignore_thresholds -> both thresholds None
//   region_similarity_calculator_builder.py   iou_similarity
//   losses_builder.py            classification / localization loss, hard example miner
//                                (num_hard_examples, max_negatives_per_positive <= 0 -> None;
//                                classification_weight / localization_weight as its weights)
//   post_processing_builder.py   batch_non_max_suppression checks, score converter, logit_scale
//   image_resizer_builder.py     fixed_shape_resizer, keep_aspect_ratio_resizer
// and meta_architectures/ssd_meta_arch.py (_compute_clip_window: [0, 0, 1, 1] for a fixed-shape
// input, the NMS clip window).
//
//   model.ssd field                                   SsdTrainingOptions
//   num_classes, add_background_class,                num_classes, add_background_class,
//   explicit_background_class,                        explicit_background_class,
//   encode_background_as_zeros, negative_class_weight encode_background_as_zeros, negative_class_weight
//   image_resizer                                     image_resizer (ImageResizerOptions)
//   anchor_generator.ssd_anchor_generator             anchor_generator = SsdAnchorOptions
//   anchor_generator.multiscale_anchor_generator      anchor_generator = MultiscaleAnchorOptions (data only)
//   box_coder.faster_rcnn_box_coder                   box_coder_scales {y, x, height, width}
//   matcher.argmax_matcher                            matcher (ArgMaxMatcherOptions), use_matmul_gather
//   similarity_calculator.iou_similarity              (IoU is the only similarity AssignTargets has)
//   loss.classification_loss                          classification_loss (ClassificationLossOptions)
//   loss.localization_loss.weighted_smooth_l1         localization_loss.delta
//   loss.hard_example_miner                           hard_example_miner (unset when absent)
//   loss.{classification,localization}_weight,        loss (SsdLossOptions)
//   normalize_loss_by_num_matches, normalize_loc_loss_by_codesize
//   post_processing.batch_non_max_suppression         nms (NmsOptions, clip window [0, 0, 1, 1])
//   post_processing.score_converter, logit_scale      score_conversion
//   freeze_batchnorm, inplace_batchnorm_update        freeze_batchnorm, inplace_batchnorm_update
//
// Float fields of the protos are float32: they are read as float and widened to double, which
// is the value Python hands to the TF constructors (min_scale 0.2 is 0.20000000298023224).
//
// Errors are ArgumentError "<file>:<line>:<col>: model.ssd.<field>: <what>", at the field that
// is refused (or at model.ssd when the field is absent):
//   * what TF's builders refuse: an empty box coder / matcher / similarity / anchor generator /
//     loss / image resizer, hard_example_miner with weighted_sigmoid_focal, NMS iou_threshold
//     outside [0, 1], max_detections_per_class > max_total_detections, negative soft_nms_sigma,
//     add_background_class with explicit_background_class, argmax thresholds TF's
//     ArgMaxMatcher refuses;
//   * what TF accepts but these pieces do not implement: another box coder (keypoint,
//     mean_stddev, square), bipartite_matcher, another similarity (ioa, neg_sq_dist,
//     thresholded_iou), grid or flexible_grid anchors, other losses (weighted_l2, weighted_iou,
//     l1, giou; weighted_logits_softmax, bootstrapped_sigmoid, penalty_reduced_logistic_focal,
//     dice), random_example_sampler, expected_loss_weights, equalization_loss,
//     use_confidences_as_targets, class-agnostic / soft / combined NMS, calibration_config.
// Flags that only change how TF computes the same thing (use_matmul_gather, use_static_shapes,
// use_partitioned_nms, ...) are accepted and ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/config/schema.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/error.hpp"
#include "warmstart/ssd/anchors.hpp"
#include "warmstart/ssd/box_coder.hpp"
#include "warmstart/ssd/losses.hpp"
#include "warmstart/ssd/matcher.hpp"
#include "warmstart/ssd/post_processing.hpp"

namespace warmstart::ssd {

// image_resizer.proto. Only the fields of the two resizers the sample configs use are read;
// another resizer (identity, conditional_shape, pad_to_multiple) keeps just its `kind`.
struct ImageResizerOptions {
  std::string kind = "fixed_shape_resizer";     // the oneof member written
  int height = 300, width = 300;                 // fixed_shape_resizer
  int min_dimension = 600, max_dimension = 1024; // keep_aspect_ratio_resizer
  bool pad_to_max_dimension = false;             // keep_aspect_ratio_resizer
  std::string resize_method = "BILINEAR";        // fixed_shape / keep_aspect_ratio
  bool convert_to_grayscale = false;             // fixed_shape / keep_aspect_ratio

  bool fixed() const { return kind == "fixed_shape_resizer"; }
};

// multiscale_anchor_generator.proto, as MultiscaleGridAnchorGenerator takes it (the RetinaNet /
// FPN / EfficientDet configs). Mapped so that those configs read; no generator here makes
// these anchors yet (SsdTrainingOptions::MakeAnchorGenerator refuses them).
struct MultiscaleAnchorOptions {
  int min_level = 3;
  int max_level = 7;
  double anchor_scale = 4.0;
  std::vector<double> aspect_ratios;
  int scales_per_octave = 2;
  bool normalize_coordinates = true;
};

using AnchorGeneratorOptions = std::variant<SsdAnchorOptions, MultiscaleAnchorOptions>;

enum class ClassificationLossKind { kWeightedSigmoid, kWeightedSoftmax, kSigmoidFocal };

inline const char* ClassificationLossName(ClassificationLossKind k) {
  switch (k) {
    case ClassificationLossKind::kWeightedSigmoid: return "weighted_sigmoid";
    case ClassificationLossKind::kWeightedSoftmax: return "weighted_softmax";
    case ClassificationLossKind::kSigmoidFocal: return "weighted_sigmoid_focal";
  }
  return "";
}

// losses.proto ClassificationLoss, for the three losses losses.hpp has.
struct ClassificationLossOptions {
  ClassificationLossKind kind = ClassificationLossKind::kWeightedSigmoid;
  double logit_scale = 1.0;     // weighted_softmax
  double gamma = 2.0;           // weighted_sigmoid_focal
  std::optional<double> alpha;  // weighted_sigmoid_focal; unset (HasField false): no alpha weighting
};

// losses.proto WeightedSmoothL1LocalizationLoss.
struct LocalizationLossOptions {
  double delta = 1.0;
};

// post_processing.proto score_converter and logit_scale.
struct ScoreConversionOptions {
  ScoreConverter converter = ScoreConverter::kIdentity;
  double logit_scale = 1.0;
};

struct SsdTrainingOptions {
  int num_classes = 0;                    // without background
  bool add_background_class = true;       // the predictor has num_classes + 1 slots, slot 0 background
  bool explicit_background_class = false;
  // TF: all-zero class targets for unmatched anchors. AssignTargets writes one-hot(0) there:
  // with this flag the caller zeroes column 0 of cls_targets.
  bool encode_background_as_zeros = false;
  double negative_class_weight = 1.0;
  std::string feature_extractor_type;
  ImageResizerOptions image_resizer;
  AnchorGeneratorOptions anchor_generator;
  std::array<double, 4> box_coder_scales = {10, 10, 5, 5};  // y, x, height, width
  ArgMaxMatcherOptions matcher;
  bool use_matmul_gather = false;  // same result either way
  ClassificationLossOptions classification_loss;
  LocalizationLossOptions localization_loss;
  std::optional<HardExampleMinerOptions> hard_example_miner;
  SsdLossOptions loss;
  NmsOptions nms;
  ScoreConversionOptions score_conversion;
  bool freeze_batchnorm = false;
  bool inplace_batchnorm_update = false;

  // K: the class columns of the predictor and of the targets.
  int num_class_slots() const { return num_classes + (add_background_class ? 1 : 0); }
  // The fixed_shape_resizer size; 0 for any other resizer.
  int image_height() const { return image_resizer.fixed() ? image_resizer.height : 0; }
  int image_width() const { return image_resizer.fixed() ? image_resizer.width : 0; }
  // The ssd_anchor_generator options, or nullptr for another generator.
  const SsdAnchorOptions* ssd_anchors() const { return std::get_if<SsdAnchorOptions>(&anchor_generator); }

  // Reads model.ssd of `cfg` (see the top of the file). Throws ArgumentError naming the field.
  static SsdTrainingOptions FromConfig(const config::PipelineConfig& cfg);

  // The pieces, built from the options.
  FasterRcnnBoxCoder MakeBoxCoder() const { return FasterRcnnBoxCoder(box_coder_scales); }
  ArgMaxMatcher MakeMatcher() const { return ArgMaxMatcher(matcher); }
  ClassificationLoss MakeClassificationLoss() const {
    const ClassificationLossOptions& c = classification_loss;
    switch (c.kind) {
      case ClassificationLossKind::kWeightedSoftmax: return WeightedSoftmaxClassificationLoss(c.logit_scale);
      case ClassificationLossKind::kSigmoidFocal: return SigmoidFocalClassificationLoss(c.gamma, c.alpha);
      case ClassificationLossKind::kWeightedSigmoid: break;
    }
    return WeightedSigmoidClassificationLoss();
  }
  WeightedSmoothL1LocalizationLoss MakeLocalizationLoss() const {
    return WeightedSmoothL1LocalizationLoss(localization_loss.delta);
  }
  std::optional<HardExampleMiner> MakeHardExampleMiner() const {
    if (!hard_example_miner) return std::nullopt;
    return HardExampleMiner(*hard_example_miner);
  }
  // create_ssd_anchors. Throws ArgumentError for the multiscale generator (not implemented).
  MultipleGridAnchorGenerator MakeAnchorGenerator() const {
    const SsdAnchorOptions* a = ssd_anchors();
    if (a == nullptr) {
      throw ArgumentError("anchors: multiscale_anchor_generator is mapped but not implemented; only "
                          "ssd_anchor_generator anchors can be generated");
    }
    return CreateSsdAnchors(*a);
  }
};

namespace detail::options {

// model.ssd, read two ways: the typed view of pipeline.hpp and, for the fields it does not
// expose, the schema-backed FieldReader over the same tree (same defaults, same Merge rules).
// Also where errors point: the file and the line:column of a value.
// The field (in `m` or below) whose value is `v`: errors point at its name. Only on error paths.
inline const config::Field* FieldHolding(const config::Message& m, const config::Value* v) {
  for (const config::Field& f : m.fields()) {
    if (&f.value == v) return &f;
    if (f.value.is_message()) {
      if (const config::Field* inner = FieldHolding(f.value.message(), v)) return inner;
    }
  }
  return nullptr;
}

struct SsdSection {
  const config::SsdModelConfig& typed;
  config::FieldReader reader;
  const config::Message& root;
  std::string file;
  const config::Value* ssd_value = nullptr;  // model.ssd itself: where an absent field is reported

  // The file and line:column of the field holding `v` (model.ssd when v is null).
  ErrorContext At(const config::Value* v) const {
    if (v == nullptr) v = ssd_value;
    ErrorContext ctx(file);
    const config::Field* f = v != nullptr ? FieldHolding(root, v) : nullptr;
    const config::Position p = f != nullptr && f->position.known() ? f->position : v != nullptr ? v->position() : config::Position{};
    if (p.known()) ctx = ctx.WithLineColumn(p.line, p.column);
    return ctx;
  }
  [[noreturn]] void Fail(const config::Value* v, const std::string& what) const { throw ArgumentError(At(v), what); }
};

inline std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// The oneof member written in `parent` (the message at `path`, whose own value is `parent_value`),
// or an error: an empty oneof with TF's builder message, an unsupported member with the list of
// supported ones.
inline std::string RequireMember(const SsdSection& s, const config::FieldReader& parent, const config::Value* parent_value,
                                 const std::string& path, std::string_view oneof,
                                 const std::vector<std::string>& supported, const std::string& tf_empty_message) {
  const std::string which = parent.WhichOneof(oneof);
  std::string list;
  for (const std::string& m : supported) list += (list.empty() ? "" : ", ") + m;
  if (which.empty()) {
    s.Fail(parent_value, path + " sets none of its choices (TF: " + Quote(tf_empty_message) + "); supported: " + list);
  }
  for (const std::string& m : supported) {
    if (m == which) return which;
  }
  s.Fail(parent.Last(which),
         path + "." + which + " is not supported by warmstart's SSD training pieces (supported: " + list + ")");
}

inline void ReadBackground(const SsdSection& s, SsdTrainingOptions* o) {
  o->num_classes = s.typed.num_classes;
  o->add_background_class = s.typed.add_background_class;
  o->explicit_background_class = s.reader.Bool("explicit_background_class");
  if (o->add_background_class && o->explicit_background_class) {
    s.Fail(s.reader.Last("explicit_background_class"),
           "model.ssd: add_background_class and explicit_background_class cannot both be true (TF: \"Cannot have "
           "both 'add_background_class' and 'explicit_background_class' true.\")");
  }
  if (s.reader.Bool("use_confidences_as_targets")) {
    s.Fail(s.reader.Last("use_confidences_as_targets"),
           "model.ssd.use_confidences_as_targets is not supported by warmstart's SSD training pieces");
  }
  o->encode_background_as_zeros = s.typed.encode_background_as_zeros;
  o->negative_class_weight = static_cast<double>(s.typed.negative_class_weight);
  o->feature_extractor_type = s.typed.feature_extractor.type;
  o->freeze_batchnorm = s.typed.freeze_batchnorm;
  o->inplace_batchnorm_update = s.typed.inplace_batchnorm_update;
}

// image_resizer_builder.build: fixed_shape_resizer and keep_aspect_ratio_resizer are read.
inline void ReadImageResizer(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader r = s.reader.Sub("image_resizer");
  ImageResizerOptions& out = o->image_resizer;
  out.kind = s.typed.image_resizer.kind;
  if (out.kind.empty()) {
    s.Fail(s.reader.Last("image_resizer"),
           "model.ssd.image_resizer sets no resizer (TF: \"Invalid image resizer option: ''.\")");
  }
  out.height = s.typed.image_resizer.height;
  out.width = s.typed.image_resizer.width;
  out.min_dimension = s.typed.image_resizer.min_dimension;
  out.max_dimension = s.typed.image_resizer.max_dimension;
  if (out.kind == "fixed_shape_resizer" || out.kind == "keep_aspect_ratio_resizer") {
    const config::FieldReader k = r.Sub(out.kind);
    out.resize_method = k.Enum("resize_method");
    out.convert_to_grayscale = k.Bool("convert_to_grayscale");
    if (out.kind == "keep_aspect_ratio_resizer") out.pad_to_max_dimension = k.Bool("pad_to_max_dimension");
  }
  if (out.fixed() && (out.height < 1 || out.width < 1)) {
    s.Fail(r.Last("fixed_shape_resizer"), "model.ssd.image_resizer.fixed_shape_resizer: height and width must be >= 1, found " +
                                              std::to_string(out.height) + "x" + std::to_string(out.width));
  }
}

// box_coder_builder.build: FasterRcnnBoxCoder(scale_factors=[y, x, height, width]).
inline void ReadBoxCoder(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader r = s.reader.Sub("box_coder");
  RequireMember(s, r, s.reader.Last("box_coder"), "model.ssd.box_coder", "box_coder_oneof", {"faster_rcnn_box_coder"},
                "Empty box coder.");
  const config::BoxCoderConfig& c = s.typed.box_coder;
  o->box_coder_scales = {static_cast<double>(c.y_scale), static_cast<double>(c.x_scale),
                         static_cast<double>(c.height_scale), static_cast<double>(c.width_scale)};
  for (double v : o->box_coder_scales) {
    if (!(v > 0)) {
      s.Fail(r.Last("faster_rcnn_box_coder"),
             "model.ssd.box_coder.faster_rcnn_box_coder: every scale must be > 0, found " + std::to_string(v));
    }
  }
}

// matcher_builder.build: ignore_thresholds gives ArgMaxMatcher(None, None, ...).
inline void ReadMatcher(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader r = s.reader.Sub("matcher");
  RequireMember(s, r, s.reader.Last("matcher"), "model.ssd.matcher", "matcher_oneof", {"argmax_matcher"}, "Empty matcher.");
  const config::MatcherConfig& m = s.typed.matcher;
  ArgMaxMatcherOptions& out = o->matcher;
  out.matched_threshold = std::nullopt;
  out.unmatched_threshold = std::nullopt;
  if (!m.ignore_thresholds) {
    out.matched_threshold = static_cast<double>(m.matched_threshold);
    out.unmatched_threshold = static_cast<double>(m.unmatched_threshold);
  }
  out.negatives_lower_than_unmatched = m.negatives_lower_than_unmatched;
  out.force_match_for_each_row = m.force_match_for_each_row;
  o->use_matmul_gather = m.use_matmul_gather;
  try {
    ArgMaxMatcher check(out);  // TF's ArgMaxMatcher constructor checks
  } catch (const ArgumentError& e) {
    s.Fail(r.Last("argmax_matcher"), "model.ssd.matcher.argmax_matcher: " + e.reason());
  }
}

inline void ReadSimilarity(const SsdSection& s) {
  const config::FieldReader r = s.reader.Sub("similarity_calculator");
  RequireMember(s, r, s.reader.Last("similarity_calculator"), "model.ssd.similarity_calculator", "region_similarity",
                {"iou_similarity"}, "Unknown region similarity calculator.");
}

// anchor_generator_builder: anchor_strides = zip(height_stride, width_stride) when height_stride
// is non-empty (likewise offsets); MultipleGridAnchorGenerator then wants one pair per layer.
inline std::vector<YX> ZipPairs(const std::vector<int64_t>& ys, const std::vector<int64_t>& xs) {
  std::vector<YX> out;
  for (size_t i = 0; i < ys.size() && i < xs.size(); ++i) {
    out.push_back({static_cast<double>(ys[i]), static_cast<double>(xs[i])});
  }
  return out;
}

inline SsdAnchorOptions ReadSsdAnchors(const SsdSection& s, const config::Value* where) {
  const config::SsdAnchorGeneratorConfig& a = s.typed.anchor_generator.ssd;
  const std::string path = "model.ssd.anchor_generator.ssd_anchor_generator";
  SsdAnchorOptions out;
  out.num_layers = a.num_layers;
  out.min_scale = static_cast<double>(a.min_scale);
  out.max_scale = static_cast<double>(a.max_scale);
  out.scales.assign(a.scales.begin(), a.scales.end());
  out.aspect_ratios.assign(a.aspect_ratios.begin(), a.aspect_ratios.end());  // empty stays empty
  out.interpolated_scale_aspect_ratio = static_cast<double>(a.interpolated_scale_aspect_ratio);
  out.base_anchor_size = {static_cast<double>(a.base_anchor_height), static_cast<double>(a.base_anchor_width)};
  out.reduce_boxes_in_lowest_layer = a.reduce_boxes_in_lowest_layer;
  const bool strides = !a.height_stride.empty(), offsets = !a.height_offset.empty();
  if (strides) out.anchor_strides = ZipPairs(a.height_stride, a.width_stride);
  if (offsets) out.anchor_offsets = ZipPairs(a.height_offset, a.width_offset);
  try {
    SsdAnchorOptions plain = out;  // the layer count, before the per-layer lists are checked
    plain.anchor_strides.clear();
    plain.anchor_offsets.clear();
    const size_t layers = CreateSsdAnchors(plain).box_specs().size();
    const auto check = [&](bool set, size_t n, const char* what) {
      if (set && n != layers) {
        s.Fail(where, path + ": " + what + " gives " + std::to_string(n) + " (y, x) pairs, expected one per layer (" +
                          std::to_string(layers) + ")");
      }
    };
    check(strides, out.anchor_strides.size(), "zip(height_stride, width_stride)");
    check(offsets, out.anchor_offsets.size(), "zip(height_offset, width_offset)");
    CreateSsdAnchors(out);
  } catch (const ArgumentError& e) {
    s.Fail(where, path + ": " + e.reason());
  }
  return out;
}

inline void ReadAnchorGenerator(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader r = s.reader.Sub("anchor_generator");
  const std::string which = RequireMember(s, r, s.reader.Last("anchor_generator"), "model.ssd.anchor_generator",
                                          "anchor_generator_oneof",
                                          {"ssd_anchor_generator", "multiscale_anchor_generator"},
                                          "Empty anchor generator.");
  if (which == "ssd_anchor_generator") {
    o->anchor_generator = ReadSsdAnchors(s, r.Last(which));
    return;
  }
  const config::FieldReader m = r.Sub(which);
  MultiscaleAnchorOptions out;
  out.min_level = static_cast<int>(m.Int("min_level"));
  out.max_level = static_cast<int>(m.Int("max_level"));
  out.anchor_scale = static_cast<double>(m.Float("anchor_scale"));
  for (float v : m.Floats("aspect_ratios")) out.aspect_ratios.push_back(static_cast<double>(v));
  out.scales_per_octave = static_cast<int>(m.Int("scales_per_octave"));
  out.normalize_coordinates = m.Bool("normalize_coordinates");
  if (out.min_level > out.max_level || out.scales_per_octave < 1) {
    s.Fail(r.Last(which), "model.ssd.anchor_generator.multiscale_anchor_generator: need min_level <= max_level and "
                          "scales_per_octave >= 1, found levels " + std::to_string(out.min_level) + ".." +
                              std::to_string(out.max_level) + ", scales_per_octave " + std::to_string(out.scales_per_octave));
  }
  o->anchor_generator = std::move(out);
}

// losses_builder: _build_classification_loss.
inline void ReadClassificationLoss(const SsdSection& s, const config::FieldReader& loss, SsdTrainingOptions* o) {
  const config::FieldReader r = loss.Sub("classification_loss");
  const std::string path = "model.ssd.loss.classification_loss";
  const std::string which = RequireMember(s, r, loss.Last("classification_loss"), path, "classification_loss",
                                          {"weighted_sigmoid", "weighted_softmax", "weighted_sigmoid_focal"},
                                          "Empty loss config.");
  ClassificationLossOptions& out = o->classification_loss;
  const config::FieldReader m = r.Sub(which);
  if (which == "weighted_softmax") {
    out.kind = ClassificationLossKind::kWeightedSoftmax;
    out.logit_scale = static_cast<double>(m.Float("logit_scale"));
    if (out.logit_scale == 0) s.Fail(m.Last("logit_scale"), path + ".weighted_softmax.logit_scale must not be 0");
  } else if (which == "weighted_sigmoid_focal") {
    out.kind = ClassificationLossKind::kSigmoidFocal;
    out.gamma = static_cast<double>(m.Float("gamma"));
    if (m.Has("alpha")) out.alpha = static_cast<double>(m.Float("alpha"));  // HasField('alpha')
  } else {
    out.kind = ClassificationLossKind::kWeightedSigmoid;
  }
}

// losses_builder: _build_localization_loss.
inline void ReadLocalizationLoss(const SsdSection& s, const config::FieldReader& loss, SsdTrainingOptions* o) {
  const config::FieldReader r = loss.Sub("localization_loss");
  RequireMember(s, r, loss.Last("localization_loss"), "model.ssd.loss.localization_loss", "localization_loss",
                {"weighted_smooth_l1"}, "Empty loss config.");
  o->localization_loss.delta = static_cast<double>(r.Sub("weighted_smooth_l1").Float("delta"));
}

// losses_builder.build_hard_example_miner: <= 0 means None for both counts.
inline HardExampleMinerOptions MinerOptions(const config::HardExampleMinerConfig& h, const SsdLossOptions& loss) {
  HardExampleMinerOptions out;
  out.num_hard_examples = h.num_hard_examples > 0 ? std::optional<int>(h.num_hard_examples) : std::nullopt;
  out.iou_threshold = static_cast<double>(h.iou_threshold);
  out.loss_type = h.loss_type == "CLASSIFICATION" ? MinerLossType::kClassification
                  : h.loss_type == "LOCALIZATION" ? MinerLossType::kLocalization
                                                  : MinerLossType::kBoth;
  out.cls_loss_weight = loss.classification_weight;
  out.loc_loss_weight = loss.localization_weight;
  out.max_negatives_per_positive = h.max_negatives_per_positive > 0
                                       ? std::optional<double>(static_cast<double>(h.max_negatives_per_positive))
                                       : std::nullopt;
  out.min_negatives_per_image = h.min_negatives_per_image;
  return out;
}

// What losses_builder.build accepts but losses.hpp does not implement.
inline void RefuseUnsupportedLossParts(const SsdSection& s, const config::FieldReader& loss) {
  const std::string path = "model.ssd.loss.";
  if (loss.Has("random_example_sampler")) {
    s.Fail(loss.Last("random_example_sampler"), path + "random_example_sampler is not supported by warmstart's SSD training pieces");
  }
  const std::string expected = loss.Enum("expected_loss_weights");
  if (expected != "NONE") {
    s.Fail(loss.Last("expected_loss_weights"),
           path + "expected_loss_weights " + expected + " is not supported by warmstart's SSD training pieces (only NONE)");
  }
  if (loss.Sub("equalization_loss").Float("weight") != 0) {
    s.Fail(loss.Last("equalization_loss"), path + "equalization_loss is not supported by warmstart's SSD training pieces");
  }
}

inline void ReadLosses(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader loss = s.reader.Sub("loss");
  ReadClassificationLoss(s, loss, o);
  ReadLocalizationLoss(s, loss, o);
  const config::LossConfig& t = s.typed.loss;
  o->loss.classification_weight = static_cast<double>(t.classification_weight);
  o->loss.localization_weight = static_cast<double>(t.localization_weight);
  o->loss.normalize_loss_by_num_matches = s.typed.normalize_loss_by_num_matches;
  o->loss.normalize_loc_loss_by_codesize = s.typed.normalize_loc_loss_by_codesize;
  if (t.hard_example_miner) {
    if (o->classification_loss.kind == ClassificationLossKind::kSigmoidFocal) {
      s.Fail(loss.Last("hard_example_miner"), "model.ssd.loss: hard_example_miner cannot be used with weighted_sigmoid_focal "
                                              "(TF: \"HardExampleMiner should not be used with sigmoid focal loss\")");
    }
    o->hard_example_miner = MinerOptions(*t.hard_example_miner, o->loss);
  }
  RefuseUnsupportedLossParts(s, loss);
}

// post_processing_builder._build_non_max_suppressor: TF's checks, then what NmsOptions lacks.
inline void CheckNms(const SsdSection& s, const config::FieldReader& pp, const NmsOptions& n) {
  const std::string path = "model.ssd.post_processing.batch_non_max_suppression";
  const config::FieldReader r = pp.Sub("batch_non_max_suppression");
  if (!(n.iou_threshold >= 0 && n.iou_threshold <= 1)) {
    s.Fail(r.Last("iou_threshold"), path + ".iou_threshold " + std::to_string(n.iou_threshold) +
                                        " is not in [0, 1] (TF: \"iou_threshold not in [0, 1.0].\")");
  }
  if (n.max_detections_per_class > n.max_total_detections) {
    s.Fail(r.Last("max_detections_per_class"),
           path + ": max_detections_per_class " + std::to_string(n.max_detections_per_class) + " exceeds max_total_detections " +
               std::to_string(n.max_total_detections) + " (TF: \"max_detections_per_class should be no greater than "
               "max_total_detections.\")");
  }
  if (n.max_total_detections < 1) {
    s.Fail(r.Last("max_total_detections"), path + ".max_total_detections must be >= 1, found " +
                                               std::to_string(n.max_total_detections) + " (TF would detect nothing)");
  }
  const float sigma = r.Float("soft_nms_sigma");
  if (sigma < 0) s.Fail(r.Last("soft_nms_sigma"), path + ".soft_nms_sigma must be >= 0 (TF: \"soft_nms_sigma should be non-negative.\")");
  if (sigma > 0) s.Fail(r.Last("soft_nms_sigma"), path + ".soft_nms_sigma > 0 (soft NMS) is not supported by warmstart's post-processing");
  if (r.Bool("use_class_agnostic_nms")) {
    s.Fail(r.Last("use_class_agnostic_nms"), path + ".use_class_agnostic_nms is not supported by warmstart's post-processing");
  }
  if (r.Bool("use_combined_nms")) {
    s.Fail(r.Last("use_combined_nms"), path + ".use_combined_nms is not supported by warmstart's post-processing");
  }
}

// post_processing_builder.build, and ssd_meta_arch's clip window for a fixed-shape input.
inline void ReadPostProcessing(const SsdSection& s, SsdTrainingOptions* o) {
  const config::FieldReader pp = s.reader.Sub("post_processing");
  const config::PostProcessingConfig& t = s.typed.post_processing;
  NmsOptions& n = o->nms;
  n.score_threshold = static_cast<double>(t.score_threshold);
  n.iou_threshold = static_cast<double>(t.iou_threshold);
  n.max_detections_per_class = t.max_detections_per_class;
  n.max_total_detections = t.max_total_detections;
  n.clip_window = Window<double>{0, 0, 1, 1};
  CheckNms(s, pp, n);
  if (pp.Has("calibration_config")) {
    s.Fail(pp.Last("calibration_config"), "model.ssd.post_processing.calibration_config is not supported by warmstart's post-processing");
  }
  ScoreConversionOptions& c = o->score_conversion;
  c.converter = t.score_converter == "SIGMOID"   ? ScoreConverter::kSigmoid
                : t.score_converter == "SOFTMAX" ? ScoreConverter::kSoftmax
                                                 : ScoreConverter::kIdentity;
  c.logit_scale = static_cast<double>(t.logit_scale);
  if (c.logit_scale == 0) s.Fail(pp.Last("logit_scale"), "model.ssd.post_processing.logit_scale must not be 0");
}

}  // namespace detail::options

// model_builder._build_ssd_model order: box coder, matcher, similarity, anchors, image
// resizer, post-processing, losses, then SSDMetaArch's background-class check; the first
// refusal is reported.
inline SsdTrainingOptions SsdTrainingOptions::FromConfig(const config::PipelineConfig& cfg) {
  const std::string& file = cfg.document().file();
  if (!cfg.ssd()) {
    const std::string arch = cfg.meta_arch_name().empty() ? "no model" : "model." + cfg.meta_arch_name();
    throw ArgumentError(ErrorContext(file), "SSD training options need model.ssd, found " + arch);
  }
  const config::FieldReader root({&cfg.document().root()}, config::OdSchema().Message(config::kPipelineConfigType));
  const config::FieldReader model = root.Sub("model");
  const detail::options::SsdSection s{*cfg.ssd(), model.Sub("ssd"), cfg.document().root(), file, model.Last("ssd")};
  SsdTrainingOptions o;
  if (s.typed.num_classes < 1) {
    s.Fail(s.reader.Last("num_classes"), "model.ssd.num_classes must be >= 1, found " + std::to_string(s.typed.num_classes));
  }
  detail::options::ReadBoxCoder(s, &o);
  detail::options::ReadMatcher(s, &o);
  detail::options::ReadSimilarity(s);
  detail::options::ReadAnchorGenerator(s, &o);
  detail::options::ReadImageResizer(s, &o);
  detail::options::ReadPostProcessing(s, &o);
  detail::options::ReadLosses(s, &o);
  detail::options::ReadBackground(s, &o);
  return o;
}

}  // namespace warmstart::ssd
