// The schema and its validation: unknown fields (with suggestions), wrong value types,
// Merge's duplicate and oneof rules (diagnostics, or errors when strict), exact messages
// and line:column.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/config/schema.hpp"

namespace wc = warmstart::config;

namespace {

// The FormatError message for `text`, or "" when it loads.
std::string ErrorOf(const std::string& text, bool strict = false) {
  wc::LoadOptions options;
  options.validate.strict = strict;
  try {
    wc::PipelineConfig::Parse(text, "p.config", options);
  } catch (const warmstart::FormatError& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> DiagnosticsOf(const std::string& text) {
  std::vector<std::string> out;
  const wc::PipelineConfig p = wc::PipelineConfig::Parse(text, "p.config");
  for (const wc::Diagnostic& d : p.diagnostics()) out.push_back(d.ToString());
  return out;
}

}  // namespace

TEST_CASE("schema: an unknown field in a fully modelled message is an error with a suggestion", "[config]") {
  CHECK(ErrorOf("train_config {\n  fine_tune_checkpont_type: \"detection\"\n}\n") ==
        "p.config:2:3: message type \"object_detection.protos.TrainConfig\" has no field named "
        "\"fine_tune_checkpont_type\"; did you mean 'fine_tune_checkpoint_type'?");
  CHECK(ErrorOf("train_confg { }") ==
        "p.config:1:1: message type \"object_detection.protos.TrainEvalPipelineConfig\" has no field named "
        "\"train_confg\"; did you mean 'train_config'?");
  // Nothing close: no suggestion.
  CHECK(ErrorOf("train_config { xyzzy: 1 }") ==
        "p.config:1:16: message type \"object_detection.protos.TrainConfig\" has no field named \"xyzzy\"");
  CHECK(ErrorOf("train_config { optimizer { adam_optimizer { learning_rate { constant_learning_rate {\n"
                "  learningrate: 0.1 } } } } }") ==
        "p.config:2:3: message type \"object_detection.protos.ConstantLearningRate\" has no field named "
        "\"learningrate\"; did you mean 'learning_rate'?");
}

TEST_CASE("schema: Ssd, SsdFeatureExtractor, Hyperparams and InputReader are fully modelled", "[config]") {
  CHECK(ErrorOf("model {\n  ssd {\n    num_class: 3\n  }\n}\n") ==
        "p.config:3:5: message type \"object_detection.protos.Ssd\" has no field named \"num_class\"; "
        "did you mean 'num_classes'?");
  CHECK(ErrorOf("model { ssd { feature_extractor {\n  depth_multipler: 1.0 } } }") ==
        "p.config:2:3: message type \"object_detection.protos.SsdFeatureExtractor\" has no field named "
        "\"depth_multipler\"; did you mean 'depth_multiplier'?");
  CHECK(ErrorOf("model { ssd { feature_extractor { conv_hyperparams {\n  regularise_depthwise: true } } } }") ==
        "p.config:2:3: message type \"object_detection.protos.Hyperparams\" has no field named "
        "\"regularise_depthwise\"; did you mean 'regularize_depthwise'?");
  CHECK(ErrorOf("train_input_reader {\n  label_map_pth: \"l.pbtxt\"\n}\n") ==
        "p.config:2:3: message type \"object_detection.protos.InputReader\" has no field named "
        "\"label_map_pth\"; did you mean 'label_map_path'?");
  CHECK(ErrorOf("eval_input_reader { tf_record_input_reader { input_path: 'a' } shufle: false }") ==
        "p.config:1:64: message type \"object_detection.protos.InputReader\" has no field named "
        "\"shufle\"; did you mean 'shuffle'?");
  // The nested Ssd.MaskHead is fully modelled too.
  CHECK(ErrorOf("model { ssd { mask_head_config { mask_heigth: 33 } } }") ==
        "p.config:1:34: message type \"object_detection.protos.Ssd.MaskHead\" has no field named "
        "\"mask_heigth\"; did you mean 'mask_height'?");
  // Fields of the current protos load, strictly.
  CHECK(ErrorOf("model { ssd { mask_head_config { mask_height: 33 }\n"
                "  feature_extractor { batch_norm_trainable: true conv_hyperparams { activation: SWISH sync_batch_norm { }\n"
                "    initializer { keras_initializer_by_name: 'glorot_uniform' } } } } }\n"
                "train_input_reader { drop_remainder: false frame_index: 2 load_track_id: true\n"
                "  sample_from_datasets_weights: 0.5 sample_from_datasets_weights: 0.5\n"
                "  load_context_image_ids: true load_keypoint_depth_features: true\n"
                "  external_input_reader { [my.ext] { a: 1 } } }\n",
                /*strict=*/true) == "");
  // batch_norm_trainable (field 6, now `reserved`) is kept as a deprecated field.
  const wc::FieldSchema* bnt =
      wc::OdSchema().Message("object_detection.protos.SsdFeatureExtractor").Find("batch_norm_trainable");
  REQUIRE(bnt != nullptr);
  CHECK(bnt->deprecated);
  CHECK(bnt->number == 6);
}

TEST_CASE("schema: the SSD sub-messages are fully modelled (unknown field: error at line:column)", "[config]") {
  // One misspelt (or foreign) field per message; the text is `<path> {\n  <field> ... }`, so the
  // error is always at 2:3. Messages without fields have nothing to suggest.
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"model { ssd { image_resizer {\n  fixed_shape_resize { } }}}",
       "p.config:2:3: message type \"object_detection.protos.ImageResizer\" has no field named "
       "\"fixed_shape_resize\"; did you mean 'fixed_shape_resizer'?"},
      {"model { ssd { image_resizer { keep_aspect_ratio_resizer {\n  min_dimenson: 600 }}}}",
       "p.config:2:3: message type \"object_detection.protos.KeepAspectRatioResizer\" has no field named "
       "\"min_dimenson\"; did you mean 'min_dimension'?"},
      {"model { ssd { image_resizer { fixed_shape_resizer {\n  resize_metod: AREA }}}}",
       "p.config:2:3: message type \"object_detection.protos.FixedShapeResizer\" has no field named "
       "\"resize_metod\"; did you mean 'resize_method'?"},
      {"model { ssd { image_resizer { identity_resizer {\n  height: 300 }}}}",
       "p.config:2:3: message type \"object_detection.protos.IdentityResizer\" has no field named "
       "\"height\""},
      {"model { ssd { image_resizer { conditional_shape_resizer {\n  size_treshold: 512 }}}}",
       "p.config:2:3: message type \"object_detection.protos.ConditionalShapeResizer\" has no field named "
       "\"size_treshold\"; did you mean 'size_threshold'?"},
      {"model { ssd { image_resizer { pad_to_multiple_resizer {\n  multipl: 32 }}}}",
       "p.config:2:3: message type \"object_detection.protos.PadToMultipleResizer\" has no field named "
       "\"multipl\"; did you mean 'multiple'?"},
      {"model { ssd { box_coder {\n  faster_rcnn_boxcoder { } }}}",
       "p.config:2:3: message type \"object_detection.protos.BoxCoder\" has no field named "
       "\"faster_rcnn_boxcoder\"; did you mean 'faster_rcnn_box_coder'?"},
      {"model { ssd { box_coder { mean_stddev_box_coder {\n  stdev: 0.1 }}}}",
       "p.config:2:3: message type \"object_detection.protos.MeanStddevBoxCoder\" has no field named "
       "\"stdev\"; did you mean 'stddev'?"},
      {"model { ssd { box_coder { square_box_coder {\n  length_scal: 5.0 }}}}",
       "p.config:2:3: message type \"object_detection.protos.SquareBoxCoder\" has no field named "
       "\"length_scal\"; did you mean 'length_scale'?"},
      {"model { ssd { box_coder { keypoint_box_coder {\n  num_keypoint: 4 }}}}",
       "p.config:2:3: message type \"object_detection.protos.KeypointBoxCoder\" has no field named "
       "\"num_keypoint\"; did you mean 'num_keypoints'?"},
      {"model { ssd { matcher {\n  argmax_matchr { } }}}",
       "p.config:2:3: message type \"object_detection.protos.Matcher\" has no field named "
       "\"argmax_matchr\"; did you mean 'argmax_matcher'?"},
      {"model { ssd { matcher { bipartite_matcher {\n  use_matmul_gathr: true }}}}",
       "p.config:2:3: message type \"object_detection.protos.BipartiteMatcher\" has no field named "
       "\"use_matmul_gathr\"; did you mean 'use_matmul_gather'?"},
      {"model { ssd { similarity_calculator {\n  iou_similarty { } }}}",
       "p.config:2:3: message type \"object_detection.protos.RegionSimilarityCalculator\" has no field named "
       "\"iou_similarty\"; did you mean 'iou_similarity'?"},
      {"model { ssd { similarity_calculator { neg_sq_dist_similarity {\n  scale: 2 }}}}",
       "p.config:2:3: message type \"object_detection.protos.NegSqDistSimilarity\" has no field named "
       "\"scale\""},
      {"model { ssd { similarity_calculator { iou_similarity {\n  threshold: 0.5 }}}}",
       "p.config:2:3: message type \"object_detection.protos.IouSimilarity\" has no field named "
       "\"threshold\""},
      {"model { ssd { similarity_calculator { ioa_similarity {\n  threshold: 0.5 }}}}",
       "p.config:2:3: message type \"object_detection.protos.IoaSimilarity\" has no field named "
       "\"threshold\""},
      {"model { ssd { similarity_calculator { thresholded_iou_similarity {\n  iou_treshold: 0.5 }}}}",
       "p.config:2:3: message type \"object_detection.protos.ThresholdedIouSimilarity\" has no field named "
       "\"iou_treshold\"; did you mean 'iou_threshold'?"},
      {"model { ssd { anchor_generator {\n  ssd_anchor_generater { } }}}",
       "p.config:2:3: message type \"object_detection.protos.AnchorGenerator\" has no field named "
       "\"ssd_anchor_generater\"; did you mean 'ssd_anchor_generator'?"},
      {"model { ssd { box_predictor {\n  convolutional_box_predicter { } }}}",
       "p.config:2:3: message type \"object_detection.protos.BoxPredictor\" has no field named "
       "\"convolutional_box_predicter\"; did you mean 'convolutional_box_predictor'?"},
      {"model { ssd { box_predictor { convolutional_box_predictor {\n  kernal_size: 3 }}}}",
       "p.config:2:3: message type \"object_detection.protos.ConvolutionalBoxPredictor\" has no field named "
       "\"kernal_size\"; did you mean 'kernel_size'?"},
      {"model { ssd { box_predictor { convolutional_box_predictor { box_encodings_clip_range {\n  mn: -1 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.ConvolutionalBoxPredictor.BoxEncodingsClipRange\" has no field named "
       "\"mn\"; did you mean 'min'?"},
      {"model { ssd { box_predictor { weight_shared_convolutional_box_predictor {\n  share_prediction_towers: true }}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightSharedConvolutionalBoxPredictor\" has no field named "
       "\"share_prediction_towers\"; did you mean 'share_prediction_tower'?"},
      {"model { ssd { box_predictor { weight_shared_convolutional_box_predictor { box_encodings_clip_range {\n  mx: 1 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange\" has no field named "
       "\"mx\"; did you mean 'max'?"},
      {"model { ssd { post_processing {\n  score_convertor: SIGMOID }}}",
       "p.config:2:3: message type \"object_detection.protos.PostProcessing\" has no field named "
       "\"score_convertor\"; did you mean 'score_converter'?"},
      {"model { ssd { post_processing { batch_non_max_suppression {\n  max_total_detection: 100 }}}}",
       "p.config:2:3: message type \"object_detection.protos.BatchNonMaxSuppression\" has no field named "
       "\"max_total_detection\"; did you mean 'max_total_detections'?"},
      {"model { ssd { loss {\n  classification_wieght: 1.0 }}}",
       "p.config:2:3: message type \"object_detection.protos.Loss\" has no field named "
       "\"classification_wieght\"; did you mean 'classification_weight'?"},
      {"model { ssd { loss { equalization_loss {\n  exclude_prefix: 'a' }}}}",
       "p.config:2:3: message type \"object_detection.protos.Loss.EqualizationLoss\" has no field named "
       "\"exclude_prefix\"; did you mean 'exclude_prefixes'?"},
      {"model { ssd { loss { random_example_sampler {\n  positive_sample_fractions: 0.1 }}}}",
       "p.config:2:3: message type \"object_detection.protos.RandomExampleSampler\" has no field named "
       "\"positive_sample_fractions\"; did you mean 'positive_sample_fraction'?"},
      {"model { ssd { loss { localization_loss {\n  weighted_smoothl1 { } }}}}",
       "p.config:2:3: message type \"object_detection.protos.LocalizationLoss\" has no field named "
       "\"weighted_smoothl1\"; did you mean 'weighted_smooth_l1'?"},
      {"model { ssd { loss { localization_loss { weighted_l2 {\n  anchorwise_outputs: false }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedL2LocalizationLoss\" has no field named "
       "\"anchorwise_outputs\"; did you mean 'anchorwise_output'?"},
      {"model { ssd { loss { localization_loss { weighted_smooth_l1 {\n  delt: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedSmoothL1LocalizationLoss\" has no field named "
       "\"delt\"; did you mean 'delta'?"},
      {"model { ssd { loss { localization_loss { weighted_iou {\n  delta: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedIOULocalizationLoss\" has no field named "
       "\"delta\""},
      {"model { ssd { loss { localization_loss { l1_localization_loss {\n  delta: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.L1LocalizationLoss\" has no field named "
       "\"delta\""},
      {"model { ssd { loss { localization_loss { weighted_giou {\n  delta: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedGIOULocalizationLoss\" has no field named "
       "\"delta\""},
      {"model { ssd { loss { classification_loss {\n  weighted_sigmoid_focall { } }}}}",
       "p.config:2:3: message type \"object_detection.protos.ClassificationLoss\" has no field named "
       "\"weighted_sigmoid_focall\"; did you mean 'weighted_sigmoid_focal'?"},
      {"model { ssd { loss { classification_loss { weighted_sigmoid {\n  anchorwise_ouput: false }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedSigmoidClassificationLoss\" has no field named "
       "\"anchorwise_ouput\"; did you mean 'anchorwise_output'?"},
      {"model { ssd { loss { classification_loss { weighted_sigmoid_focal {\n  gama: 2.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.SigmoidFocalClassificationLoss\" has no field named "
       "\"gama\"; did you mean 'gamma'?"},
      {"model { ssd { loss { classification_loss { weighted_softmax {\n  logit_scal: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedSoftmaxClassificationLoss\" has no field named "
       "\"logit_scal\"; did you mean 'logit_scale'?"},
      {"model { ssd { loss { classification_loss { weighted_logits_softmax {\n  logitscale: 1.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedSoftmaxClassificationAgainstLogitsLoss\" has no field named "
       "\"logitscale\"; did you mean 'logit_scale'?"},
      {"model { ssd { loss { classification_loss { bootstrapped_sigmoid {\n  hard_boostrap: true }}}}}",
       "p.config:2:3: message type \"object_detection.protos.BootstrappedSigmoidClassificationLoss\" has no field named "
       "\"hard_boostrap\"; did you mean 'hard_bootstrap'?"},
      {"model { ssd { loss { classification_loss { penalty_reduced_logistic_focal_loss {\n  betta: 4.0 }}}}}",
       "p.config:2:3: message type \"object_detection.protos.PenaltyReducedLogisticFocalLoss\" has no field named "
       "\"betta\"; did you mean 'beta'?"},
      {"model { ssd { loss { classification_loss { weighted_dice_classification_loss {\n  squared_normalisation: true }}}}}",
       "p.config:2:3: message type \"object_detection.protos.WeightedDiceClassificationLoss\" has no field named "
       "\"squared_normalisation\"; did you mean 'squared_normalization'?"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK(ErrorOf(c.text) == c.error);
  }
}


TEST_CASE("schema: fields of the current SSD sub-message protos load, strictly", "[config]") {
  CHECK(ErrorOf("model { ssd {\n"
                "  image_resizer { keep_aspect_ratio_resizer { resize_method: AREA per_channel_pad_value: 0.5\n"
                "    per_channel_pad_value: 0.5 convert_to_grayscale: true } }\n"
                "  box_coder { keypoint_box_coder { num_keypoints: 17 } }\n"
                "  matcher { bipartite_matcher { use_matmul_gather: true } }\n"
                "  similarity_calculator { thresholded_iou_similarity { iou_threshold: 0.4 } }\n"
                "  box_predictor { weight_shared_convolutional_box_predictor { score_converter: SIGMOID\n"
                "    apply_conv_hyperparams_to_heads: true box_encodings_clip_range { min: -1 max: 1 } } }\n"
                "  post_processing { calibration_config { temperature_scaling_calibration { scaler: 2 } } batch_non_max_suppression {\n"
                "    use_combined_nms: true change_coordinate_frame: false use_cpu_nms: true soft_nms_sigma: 0.5 } }\n"
                "  loss { expected_loss_weights: REWEIGHTING_UNMATCHED_ANCHORS random_example_sampler { }\n"
                "    equalization_loss { weight: 0.1 exclude_prefixes: 'a' exclude_prefixes: 'b' }\n"
                "    localization_loss { weighted_smooth_l1 { anchorwise_output: false delta: 0.1 } }\n"
                "    classification_loss { weighted_sigmoid_focal { gamma: 2.0 alpha: 0.25 } } } } }\n",
                /*strict=*/true) == "");
  CHECK(ErrorOf("model { ssd { image_resizer { conditional_shape_resizer { condition: SMALLER } } } }", true) == "");
  CHECK(ErrorOf("model { ssd { image_resizer { pad_to_multiple_resizer { multiple: 32 } } } }", true) == "");
  CHECK(ErrorOf("model { ssd { image_resizer { fixed_shape_resizer { resize_method: LANCZOS } } } }") ==
        "p.config:1:68: field \"resize_method\": enum type \"object_detection.protos.ResizeType\" has no value named "
        "\"LANCZOS\"; valid values: BILINEAR, NEAREST_NEIGHBOR, BICUBIC, AREA");
}

TEST_CASE("schema: float fields refuse hex and octal-looking literals, as Python's text_format does", "[config]") {
  CHECK(ErrorOf("train_config { gradient_clipping_by_norm: 0x10 }") ==
        "p.config:1:43: field \"gradient_clipping_by_norm\" (float): Couldn't parse float: 0x10");
  CHECK(ErrorOf("train_config { gradient_clipping_by_norm: -0X1f }") ==
        "p.config:1:43: field \"gradient_clipping_by_norm\" (float): Couldn't parse float: -0X1f");
  CHECK(ErrorOf("train_config { gradient_clipping_by_norm: 010 }") ==
        "p.config:1:43: field \"gradient_clipping_by_norm\" (float): Invalid octal float: 010");
  // decimal integers, 0, 0.5, exponents and the f suffix stay valid
  for (const char* ok : {"10", "0", "0.5", "-0.5", "1e3", "0e0", "10.0f", "inf", "-inf", "nan"}) {
    INFO(ok);
    CHECK(ErrorOf(std::string("train_config { gradient_clipping_by_norm: ") + ok + " }") == "");
  }
  // integer fields still take hex and octal
  CHECK(ErrorOf("train_config { batch_size: 0x10 }") == "");
  CHECK(ErrorOf("train_config { batch_size: 010 }") == "");
}

TEST_CASE("schema: wrong value types name the field, its type, and what was found", "[config]") {
  CHECK(ErrorOf("train_config { batch_size: \"32\" }") ==
        "p.config:1:28: field \"batch_size\" (uint32): expected an unsigned integer, found string \"32\"");
  CHECK(ErrorOf("train_config { batch_size: 1.5 }") ==
        "p.config:1:28: field \"batch_size\" (uint32): expected an unsigned integer, found number 1.5");
  CHECK(ErrorOf("train_config { batch_size: -1 }") ==
        "p.config:1:28: field \"batch_size\" (uint32): integer -1 is out of range for uint32");
  CHECK(ErrorOf("train_config { replicas_to_aggregate: 3000000000 }") ==
        "p.config:1:39: field \"replicas_to_aggregate\" (int32): integer 3000000000 is out of range for int32");
  CHECK(ErrorOf("train_config { sync_replicas: yes }") ==
        "p.config:1:31: field \"sync_replicas\" (bool): expected a bool (true, false, True, False, t, f, 1 or 0), "
        "found enum yes");
  CHECK(ErrorOf("train_config { fine_tune_checkpoint: detection }") ==
        "p.config:1:38: field \"fine_tune_checkpoint\" (string): expected a string, found enum detection");
  CHECK(ErrorOf("train_config { batch_size { } }") ==
        "p.config:1:27: field \"batch_size\" (uint32): expected a scalar value, found a message");
  CHECK(ErrorOf("train_config { optimizer: 5 }") ==
        "p.config:1:27: field \"optimizer\" (message object_detection.protos.Optimizer): expected a message "
        "'{ ... }', found number 5");
}

TEST_CASE("schema: enums take a value name or number, unknown names list the valid ones", "[config]") {
  CHECK(ErrorOf("train_config { fine_tune_checkpoint_version: V3 }") ==
        "p.config:1:46: field \"fine_tune_checkpoint_version\": enum type \"object_detection.protos.CheckpointVersion\" "
        "has no value named \"V3\"; valid values: UNKNOWN, V1, V2; did you mean 'V1'?");
  CHECK(ErrorOf("model { ssd { feature_extractor { conv_hyperparams { activation: RELU6 } } } }") ==
        "p.config:1:66: field \"activation\": enum type \"object_detection.protos.Hyperparams.Activation\" has no "
        "value named \"RELU6\"; valid values: NONE, RELU, RELU_6, SWISH; did you mean 'RELU_6'?");
  CHECK(ErrorOf("train_config { fine_tune_checkpoint_version: \"V2\" }") ==
        "p.config:1:46: field \"fine_tune_checkpoint_version\": expected an enum value (an identifier), found "
        "string \"V2\"");
  CHECK(ErrorOf("train_config { fine_tune_checkpoint_version: 7 }") ==
        "p.config:1:46: field \"fine_tune_checkpoint_version\": enum type "
        "\"object_detection.protos.CheckpointVersion\" has no value with number 7");
  const auto p = wc::PipelineConfig::Parse("train_config { fine_tune_checkpoint_version: 2 }");
  CHECK(p.train().fine_tune_checkpoint_version == wc::CheckpointVersion::kV2);
}

TEST_CASE("schema: a duplicate singular field is what Merge keeps (the last), noted, strict refuses", "[config]") {
  const std::string text = "train_config {\n  batch_size: 8\n  batch_size: 16\n}\n";
  const auto p = wc::PipelineConfig::Parse(text, "p.config");
  CHECK(p.train().batch_size == 16);
  REQUIRE(p.diagnostics().size() == 1);
  const wc::Diagnostic& d = p.diagnostics()[0];
  CHECK(d.file == "p.config");
  CHECK(d.line == 3);
  CHECK(d.column == 3);
  CHECK(d.message == "non-repeated field 'batch_size' is specified multiple times; TensorFlow's text_format.Merge keeps the last one");
  CHECK(ErrorOf(text, /*strict=*/true) ==
        "p.config:3:3: non-repeated field 'batch_size' is specified multiple times; TensorFlow's text_format.Merge "
        "keeps the last one");
}

TEST_CASE("schema: occurrences of a singular message are merged before the duplicate check", "[config]") {
  const std::string text = "train_config { batch_size: 8 freeze_variables: 'a' }\ntrain_config { batch_size: 16 freeze_variables: 'b' }\n";
  CHECK(DiagnosticsOf(text) ==
        std::vector<std::string>{
            "p.config:2:1: non-repeated message field 'train_config' is specified multiple times; TensorFlow's "
            "text_format.Merge merges the occurrences",
            "p.config:2:16: non-repeated field 'batch_size' is specified multiple times; TensorFlow's "
            "text_format.Merge keeps the last one"});
  const auto p = wc::PipelineConfig::Parse(text);
  CHECK(p.train().batch_size == 16);
  CHECK(p.train().freeze_variables == std::vector<std::string>{"a", "b"});
}

TEST_CASE("schema: two members of one oneof: the last wins, noted, strict refuses", "[config]") {
  const std::string text = "train_config { optimizer { rms_prop_optimizer {} adam_optimizer {} } }";
  CHECK(DiagnosticsOf(text) ==
        std::vector<std::string>{"p.config:1:50: field 'adam_optimizer' and field 'rms_prop_optimizer' (line 1) are "
                                 "members of oneof 'optimizer' of object_detection.protos.Optimizer; TensorFlow's "
                                 "text_format.Merge keeps the last one"});
  const auto p = wc::PipelineConfig::Parse(text);
  REQUIRE(p.train().optimizer.has_value());
  CHECK(p.train().optimizer->kind == wc::Optimizer::Kind::kAdam);
  CHECK(ErrorOf(text, true).rfind("p.config:1:50: field 'adam_optimizer' and field 'rms_prop_optimizer'", 0) == 0);
  // The same member twice is a duplicate message, not a oneof clash.
  CHECK(DiagnosticsOf("model { ssd { } ssd { } }") ==
        std::vector<std::string>{"p.config:1:17: non-repeated message field 'ssd' is specified multiple times; "
                                 "TensorFlow's text_format.Merge merges the occurrences"});
}

TEST_CASE("schema: unchecked (any) contents and extensions are kept, the text prints back unchanged", "[config]") {
  const std::string text =
      "[my.ext] { a: 1 }\n"
      "model { ssd { num_classes: 3 feature_extractor { type: 'x' bifpn { min_level: 3 } } } }\n"
      "eval_config { batch_size: 2 }\n"
      "graph_rewriter { quantization { delay: 48000 } [my.rewriter] { b: 2 } }\n";
  auto p = wc::PipelineConfig::Parse(text, "p.config");
  CHECK(p.diagnostics().empty());
  CHECK(p.ssd()->num_classes == 3);
  CHECK(p.document().Print() == text);
  p.mutable_document().root().Set("model.ssd.num_classes", wc::Value::Int(4));
  CHECK(p.document().Print() ==
        "[my.ext] { a: 1 }\n"
        "model { ssd { num_classes: 4 feature_extractor { type: 'x' bifpn { min_level: 3 } } } }\n"
        "eval_config { batch_size: 2 }\n"
        "graph_rewriter { quantization { delay: 48000 } [my.rewriter] { b: 2 } }\n");
  p.Reparse();
  CHECK(p.ssd()->num_classes == 4);
  // CenterNet's contents are not checked ("(any)"): a field no proto has is kept.
  CHECK(ErrorOf("model { center_net { num_classes: 1 future_field: 3 } }", /*strict=*/true) == "");
  // A known field of a partially modelled message is still type-checked.
  CHECK(ErrorOf("model { ssd { num_classes: 'three' } }") ==
        "p.config:1:28: field \"num_classes\" (int32): expected an integer, found string \"three\"");
}

TEST_CASE("schema: the table itself is consistent", "[config]") {
  const wc::SchemaRegistry& r = wc::OdSchema();
  for (const auto& [name, m] : r.messages()) {
    INFO(name);
    std::set<int> numbers;
    for (const wc::FieldSchema& f : m->fields) {
      INFO(f.name);
      // Field numbers are unique and positive.
      CHECK(f.number > 0);
      CHECK(numbers.insert(f.number).second);
      if (f.is_message() && !f.type_name.empty()) CHECK(r.FindMessage(f.type_name) != nullptr);
      if (f.type == wc::FieldType::kEnum) {
        REQUIRE(f.enum_type != nullptr);
        if (!f.default_value.empty()) CHECK(f.enum_type->Has(f.default_value));
      }
      // Every default reads back as its type.
      const wc::Value v = wc::FieldReader::DefaultValue(f);
      if (f.type == wc::FieldType::kFloat) CHECK_NOTHROW(v.AsDouble());
      if (f.type == wc::FieldType::kInt32 || f.type == wc::FieldType::kUInt32) CHECK_NOTHROW(v.AsInt64());
    }
  }
  CHECK(r.Message("object_detection.protos.TrainConfig").fields.size() == 29);  // 1-30 without 29
  CHECK(r.Message("object_detection.protos.TrainConfig").fully_modelled());
  // Every message in the table is fully modelled now; CenterNet stays "(any)" (no entry).
  for (const auto& [name, m] : r.messages()) {
    INFO(name);
    CHECK(m->fully_modelled());
  }
  CHECK(r.FindMessage("object_detection.protos.CenterNet") == nullptr);
  for (const char* m :
      {"Ssd", "Ssd.MaskHead", "SsdFeatureExtractor", "Hyperparams", "Initializer", "InputReader",
       "ImageResizer", "KeepAspectRatioResizer", "FixedShapeResizer", "IdentityResizer",
       "ConditionalShapeResizer", "PadToMultipleResizer", "BoxCoder", "MeanStddevBoxCoder",
       "SquareBoxCoder", "KeypointBoxCoder", "Matcher", "BipartiteMatcher",
       "RegionSimilarityCalculator", "NegSqDistSimilarity", "IouSimilarity", "IoaSimilarity",
       "ThresholdedIouSimilarity", "AnchorGenerator", "BoxPredictor", "ConvolutionalBoxPredictor",
       "ConvolutionalBoxPredictor.BoxEncodingsClipRange", "WeightSharedConvolutionalBoxPredictor",
       "WeightSharedConvolutionalBoxPredictor.BoxEncodingsClipRange", "PostProcessing",
       "BatchNonMaxSuppression", "Loss", "Loss.EqualizationLoss", "RandomExampleSampler",
       "LocalizationLoss", "WeightedL2LocalizationLoss", "WeightedSmoothL1LocalizationLoss",
       "WeightedIOULocalizationLoss", "L1LocalizationLoss", "WeightedGIOULocalizationLoss",
       "ClassificationLoss", "WeightedSigmoidClassificationLoss", "SigmoidFocalClassificationLoss",
       "WeightedSoftmaxClassificationLoss", "WeightedSoftmaxClassificationAgainstLogitsLoss",
       "BootstrappedSigmoidClassificationLoss", "PenaltyReducedLogisticFocalLoss",
       "WeightedDiceClassificationLoss", "FasterRcnnBoxCoder", "ArgMaxMatcher", "SsdAnchorGenerator",
       "HardExampleMiner"}) {
    INFO(m);
    CHECK(r.Message(std::string("object_detection.protos.") + m).fully_modelled());
  }
  CHECK(r.Message("object_detection.protos.Ssd").fields.size() == 22);          // 1-16, 21-26
  CHECK(r.Message("object_detection.protos.InputReader").fields.size() == 37);  // 1-38 without 28
  CHECK_THROWS_AS(r.Message("object_detection.protos.Nope"), warmstart::ArgumentError);
}

TEST_CASE("schema: edit distance and suggestions", "[config]") {
  CHECK(wc::detail::EditDistance("", "abc") == 3);
  CHECK(wc::detail::EditDistance("kitten", "sitting") == 3);
  CHECK(wc::detail::EditDistance("batch_size", "batch_size") == 0);
  CHECK(wc::detail::ClosestName("batchsize", {"batch_size", "num_steps"}) == "batch_size");
  CHECK(wc::detail::ClosestName("zzz", {"batch_size", "num_steps"}).empty());
}
