// The messages modelled from preprocessor.proto, faster_rcnn.proto, eval.proto,
// calibration.proto, the anchor generators, the Mask R-CNN / R-FCN box predictors, fpn.proto
// and graph_rewriter.proto: for each, a misspelt field is an error with a suggestion, and
// absent fields read as the proto's defaults (written out here from the .proto files).
#include <catch2/catch.hpp>

#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/config/schema.hpp"

namespace wc = warmstart::config;
namespace fs = std::filesystem;

namespace {

const std::string kPkg = "object_detection.protos.";

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

// The messages this file covers (short names).
const std::vector<std::string>& NewMessages() {
  static const std::vector<std::string> kNames = {
      // preprocessor.proto
      "PreprocessingStep", "NormalizeImage", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation90",
      "RandomPixelValueScale", "RandomImageScale", "RandomRGBtoGray", "RandomAdjustBrightness",
      "RandomAdjustContrast", "RandomAdjustHue", "RandomAdjustSaturation", "RandomDistortColor", "RandomJitterBoxes",
      "RandomCropImage", "RandomPadImage", "RandomAbsolutePadImage", "RandomCropPadImage", "RandomCropToAspectRatio",
      "RandomBlackPatches", "RandomResizeMethod", "RGBtoGray", "ScaleBoxesToPixelCoordinates", "ResizeImage",
      "SubtractChannelMean", "SSDRandomCrop", "SSDRandomCropOperation", "SSDRandomCropPad",
      "SSDRandomCropPadOperation", "SSDRandomCropFixedAspectRatio", "SSDRandomCropFixedAspectRatioOperation",
      "SSDRandomCropPadFixedAspectRatio", "SSDRandomCropPadFixedAspectRatioOperation", "ConvertClassLogitsToSoftmax",
      "RandomSelfConcatImage", "AutoAugmentImage", "DropLabelProbabilistically", "RemapLabels", "RandomJpegQuality",
      "RandomDownscaleToTargetPixels", "RandomPatchGaussian", "RandomSquareCropByScale",
      "RandomScaleCropAndPadToSquare", "AdjustGamma",
      // faster_rcnn.proto, box_predictor.proto, the anchor generators, fpn.proto
      "FasterRcnn", "FasterRcnnFeatureExtractor", "Context", "MaskRCNNBoxPredictor", "RfcnBoxPredictor",
      "GridAnchorGenerator", "MultiscaleAnchorGenerator", "FlexibleGridAnchorGenerator", "AnchorGrid",
      "FeaturePyramidNetworks", "BidirectionalFeaturePyramidNetworks",
      // calibration.proto
      "CalibrationConfig", "FunctionApproximation", "ClassIdFunctionApproximations",
      "ClassIdFunctionApproximations.ClassIdXyPairsMapEntry", "SigmoidCalibration", "ClassIdSigmoidCalibrations",
      "ClassIdSigmoidCalibrations.ClassIdSigmoidParametersMapEntry", "TemperatureScalingCalibration", "XYPairs",
      "XYPairs.XYPair", "SigmoidParameters",
      // eval.proto, graph_rewriter.proto, model.proto
      "EvalConfig", "EvalConfig.SuperCategoriesEntry", "ParameterizedMetric", "CocoKeypointMetrics",
      "CocoKeypointMetrics.KeypointLabelToSigmasEntry", "KeypointEdge", "GraphRewriter", "Quantization",
      "ExperimentalModel"};
  return kNames;
}

// The shortest field path from TrainEvalPipelineConfig to each modelled message.
std::map<std::string, std::vector<std::string>> PathsToMessages() {
  const wc::SchemaRegistry& r = wc::OdSchema();
  std::map<std::string, std::vector<std::string>> paths;
  paths[std::string(wc::kPipelineConfigType)] = {};
  std::deque<std::string> queue{std::string(wc::kPipelineConfigType)};
  while (!queue.empty()) {
    const std::string m = queue.front();
    queue.pop_front();
    for (const wc::FieldSchema& f : r.Message(m).fields) {
      if (!f.is_message() || f.type_name.empty() || paths.count(f.type_name) != 0) continue;
      paths[f.type_name] = paths[m];
      paths[f.type_name].push_back(f.name);
      queue.push_back(f.type_name);
    }
  }
  return paths;
}

// "a { b { c {\n  <field>: 1 } } }": the misspelt name is always at 2:3.
std::string TextAt(const std::vector<std::string>& path, const std::string& field) {
  std::string open, close;
  for (const std::string& p : path) {
    open += p + " { ";
    close += " }";
  }
  return open + "\n  " + field + ": 1" + close;
}

}  // namespace

TEST_CASE("schema (OD messages): every newly modelled message refuses a misspelt field, with a suggestion",
          "[config]") {
  const auto paths = PathsToMessages();
  for (const std::string& name : NewMessages()) {
    INFO(name);
    const std::string full = kPkg + name;
    REQUIRE(paths.count(full) == 1);
    const wc::MessageSchema& m = wc::OdSchema().Message(full);
    CHECK(m.fully_modelled());
    const std::string prefix = "p.config:2:3: message type \"" + full + "\" has no field named ";
    if (m.fields.empty()) {
      CHECK(ErrorOf(TextAt(paths.at(full), "probability")) == prefix + "\"probability\"");
      continue;
    }
    // Drop one letter from the longest field name (double a one-letter name): one edit from it.
    std::string field;
    for (const wc::FieldSchema& f : m.fields) {
      if (f.name.size() > field.size()) field = f.name;
    }
    std::string misspelt = field;
    if (misspelt.size() < 3) {
      misspelt += field;
    } else {
      misspelt.erase(misspelt.size() / 2, 1);
    }
    CHECK(ErrorOf(TextAt(paths.at(full), misspelt)) ==
          prefix + "\"" + misspelt + "\"; did you mean '" + field + "'?");
  }
}

TEST_CASE("schema (OD messages): exact errors in preprocessing steps, Faster R-CNN and eval_config", "[config]") {
  CHECK(ErrorOf("train_config { data_augmentation_options {\n  random_horizontal_flp { } } }") ==
        "p.config:2:3: message type \"object_detection.protos.PreprocessingStep\" has no field named "
        "\"random_horizontal_flp\"; did you mean 'random_horizontal_flip'?");
  CHECK(ErrorOf("train_config { data_augmentation_options { random_horizontal_flip {\n"
                "  keypoint_flip_permutaton: 1 } } }") ==
        "p.config:2:3: message type \"object_detection.protos.RandomHorizontalFlip\" has no field named "
        "\"keypoint_flip_permutaton\"; did you mean 'keypoint_flip_permutation'?");
  CHECK(ErrorOf("train_config { data_augmentation_options { ssd_random_crop { operations {\n"
                "  min_object_coverd: 0.1 } } } }") ==
        "p.config:2:3: message type \"object_detection.protos.SSDRandomCropOperation\" has no field named "
        "\"min_object_coverd\"; did you mean 'min_object_covered'?");
  // Types are checked inside the steps now.
  CHECK(ErrorOf("train_config { data_augmentation_options { random_crop_image { clip_boxes: 'yes' } } }") ==
        "p.config:1:76: field \"clip_boxes\" (bool): expected a bool (true, false, True, False, t, f, 1 or 0), "
        "found string \"yes\"");
  CHECK(ErrorOf("train_config { data_augmentation_options { resize_image { method: BILINEAR_ } } }") ==
        "p.config:1:67: field \"method\": enum type \"object_detection.protos.ResizeImage.Method\" has no value "
        "named \"BILINEAR_\"; valid values: AREA, BICUBIC, BILINEAR, NEAREST_NEIGHBOR; did you mean 'BILINEAR'?");
  CHECK(ErrorOf("model { faster_rcnn {\n  first_stage_max_proposal: 100 } }") ==
        "p.config:2:3: message type \"object_detection.protos.FasterRcnn\" has no field named "
        "\"first_stage_max_proposal\"; did you mean 'first_stage_max_proposals'?");
  CHECK(ErrorOf("model { faster_rcnn { feature_extractor {\n  first_stage_feature_stride: 8 } } }") ==
        "p.config:2:3: message type \"object_detection.protos.FasterRcnnFeatureExtractor\" has no field named "
        "\"first_stage_feature_stride\"; did you mean 'first_stage_features_stride'?");
  CHECK(ErrorOf("eval_config {\n  metric_set: 'coco_detection_metrics' }") ==
        "p.config:2:3: message type \"object_detection.protos.EvalConfig\" has no field named "
        "\"metric_set\"; did you mean 'metrics_set'?");
  CHECK(ErrorOf("eval_config { keypoint_edge {\n  stat: 0 end: 1 } }") ==
        "p.config:2:3: message type \"object_detection.protos.KeypointEdge\" has no field named "
        "\"stat\"; did you mean 'start'?");
  CHECK(ErrorOf("model { ssd { post_processing { calibration_config {\n  sigmoid_calibraton { } } } } }") ==
        "p.config:2:3: message type \"object_detection.protos.CalibrationConfig\" has no field named "
        "\"sigmoid_calibraton\"; did you mean 'sigmoid_calibration'?");
}

TEST_CASE("schema (OD messages): current fields of the new messages load, strictly", "[config]") {
  CHECK(ErrorOf("train_config {\n"
                "  data_augmentation_options { random_horizontal_flip { keypoint_flip_permutation: [1, 0] probability: 0.3 } }\n"
                "  data_augmentation_options { random_rotation90 { keypoint_rot_permutation: 1 } }\n"
                "  data_augmentation_options { random_jitter_boxes { jitter_mode: SHRINK_SYMMETRIC_XY } }\n"
                "  data_augmentation_options { ssd_random_crop_pad { operations { pad_color_r: 0.5 clip_boxes: false\n"
                "    min_padded_size_ratio: [1.0, 1.0] } } }\n"
                "  data_augmentation_options { ssd_random_crop_pad_fixed_aspect_ratio { aspect_ratio: 0.5\n"
                "    min_padded_size_ratio: [1.0, 1.0] operations { max_area: 1 } } }\n"
                "  data_augmentation_options { autoaugment_image { policy_name: 'v1' } }\n"
                "  data_augmentation_options { remap_labels { original_labels: [1, 2] new_label: 3 } }\n"
                "  data_augmentation_options { adjust_gamma { gamma: 1.2 } }\n"
                "}\n"
                "model { faster_rcnn { number_of_stages: 3 context_config { attention_position: POST_RPN }\n"
                "  feature_extractor { fpn { min_level: 2 } pad_to_multiple: 32 }\n"
                "  first_stage_anchor_generator { multiscale_anchor_generator { scales_per_octave: 3 } }\n"
                "  second_stage_box_predictor { mask_rcnn_box_predictor { predict_instance_masks: true } }\n"
                "  second_stage_post_processing { calibration_config { class_id_sigmoid_calibrations {\n"
                "    class_id_sigmoid_parameters_map { key: 1 value { a: -2 b: 0.5 } } } } } } }\n"
                "eval_config { super_categories { key: 'animal' value: 'cat,dog' }\n"
                "  parameterized_metric { coco_keypoint_metrics { class_label: 'person'\n"
                "    keypoint_label_to_sigmas { key: 'nose' value: 0.026 } } }\n"
                "  image_classes_field_map_empty_to_ones: false }\n"
                "graph_rewriter { quantization { delay: 0 symmetric: true } }\n",
                /*strict=*/true) == "");
  // The fields the 2021-2023 protos added to messages that were already fully modelled.
  CHECK(ErrorOf("model { ssd { feature_extractor { use_hardswish: true spaghettinet_arch_name: 'a' }\n"
                "  loss { classification_loss { weighted_dice_classification_loss { is_prediction_probability: true } } } } }\n"
                "train_input_reader { use_keypoint_label_map: true }\n",
                /*strict=*/true) == "");
}

TEST_CASE("schema (OD messages): absent fields read as the proto defaults", "[config]") {
  const auto p = wc::PipelineConfig::Parse("", "p.config");
  const std::string aug = "train_config.data_augmentation_options.";
  const std::string frcnn = "model.faster_rcnn.";
  // (path, default as text format writes it), read from the .proto files.
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {aug + "normalize_image.target_maxval", "1"},
      {aug + "random_horizontal_flip.probability", "0.5"},
      {aug + "random_vertical_flip.probability", "0.5"},
      {aug + "random_rotation90.probability", "0.5"},
      {aug + "random_pixel_value_scale.maxval", "1.1"},
      {aug + "random_image_scale.min_scale_ratio", "0.5"},
      {aug + "random_image_scale.max_scale_ratio", "2.0"},
      {aug + "random_rgb_to_gray.probability", "0.1"},
      {aug + "random_adjust_brightness.max_delta", "0.2"},
      {aug + "random_adjust_contrast.min_delta", "0.8"},
      {aug + "random_adjust_contrast.max_delta", "1.25"},
      {aug + "random_adjust_hue.max_delta", "0.02"},
      {aug + "random_adjust_saturation.max_delta", "1.25"},
      {aug + "random_distort_color.color_ordering", "0"},
      {aug + "random_jitter_boxes.ratio", "0.05"},
      {aug + "random_jitter_boxes.jitter_mode", "DEFAULT"},
      {aug + "random_crop_image.min_object_covered", "1.0"},
      {aug + "random_crop_image.max_aspect_ratio", "1.33"},
      {aug + "random_crop_image.clip_boxes", "true"},
      {aug + "random_pad_image.min_image_height", "0"},
      {aug + "random_absolute_pad_image.max_height_padding", "0"},
      {aug + "random_crop_pad_image.min_area", "0.1"},
      {aug + "random_crop_to_aspect_ratio.overlap_thresh", "0.3"},
      {aug + "random_black_patches.max_black_patches", "10"},
      {aug + "random_black_patches.size_to_image_ratio", "0.1"},
      {aug + "random_resize_method.target_height", "0"},
      {aug + "resize_image.method", "BILINEAR"},
      {aug + "ssd_random_crop.operations.clip_boxes", "true"},
      {aug + "ssd_random_crop.operations.min_area", "0.0"},
      {aug + "ssd_random_crop_pad.operations.clip_boxes", "true"},
      {aug + "ssd_random_crop_pad.operations.pad_color_r", "0.0"},
      {aug + "ssd_random_crop_fixed_aspect_ratio.aspect_ratio", "1.0"},
      {aug + "ssd_random_crop_fixed_aspect_ratio.operations.clip_boxes", "true"},
      {aug + "ssd_random_crop_pad_fixed_aspect_ratio.aspect_ratio", "1.0"},
      {aug + "ssd_random_crop_pad_fixed_aspect_ratio.operations.random_coef", "0.0"},
      {aug + "convert_class_logits_to_softmax.temperature", "1.0"},
      {aug + "random_self_concat_image.concat_vertical_probability", "0.1"},
      {aug + "autoaugment_image.policy_name", "v0"},
      {aug + "drop_label_probabilistically.drop_probability", "1.0"},
      {aug + "remap_labels.new_label", "0"},
      {aug + "random_jpeg_quality.max_jpeg_quality", "100"},
      {aug + "random_downscale_to_target_pixels.min_target_pixels", "300000"},
      {aug + "random_downscale_to_target_pixels.max_target_pixels", "500000"},
      {aug + "random_patch_gaussian.max_patch_size", "250"},
      {aug + "random_square_crop_by_scale.max_border", "128"},
      {aug + "random_square_crop_by_scale.num_scales", "8"},
      {aug + "random_scale_crop_and_pad_to_square.output_size", "512"},
      {aug + "adjust_gamma.gain", "1.0"},
      {frcnn + "number_of_stages", "2"},
      {frcnn + "first_stage_atrous_rate", "1"},
      {frcnn + "first_stage_box_predictor_depth", "512"},
      {frcnn + "first_stage_minibatch_size", "256"},
      {frcnn + "first_stage_nms_iou_threshold", "0.7"},
      {frcnn + "first_stage_max_proposals", "300"},
      {frcnn + "second_stage_batch_size", "64"},
      {frcnn + "second_stage_balance_fraction", "0.25"},
      {frcnn + "resize_masks", "true"},
      {frcnn + "use_partitioned_nms_in_first_stage", "true"},
      {frcnn + "feature_extractor.first_stage_features_stride", "16"},
      {frcnn + "feature_extractor.pad_to_multiple", "32"},
      {frcnn + "feature_extractor.fpn.additional_layer_depth", "256"},
      {frcnn + "context_config.max_num_context_features", "2000"},
      {frcnn + "context_config.context_feature_length", "2057"},
      {frcnn + "context_config.use_long_term_attention", "true"},
      {frcnn + "context_config.attention_position", "POST_BOX_CLASSIFIER"},
      {frcnn + "first_stage_anchor_generator.grid_anchor_generator.height", "256"},
      {frcnn + "first_stage_anchor_generator.grid_anchor_generator.height_stride", "16"},
      {frcnn + "first_stage_anchor_generator.multiscale_anchor_generator.anchor_scale", "4.0"},
      {frcnn + "first_stage_anchor_generator.multiscale_anchor_generator.scales_per_octave", "2"},
      {frcnn + "first_stage_anchor_generator.flexible_grid_anchor_generator.normalize_coordinates", "true"},
      {frcnn + "first_stage_anchor_generator.flexible_grid_anchor_generator.anchor_grid.height_offset", "0"},
      {frcnn + "second_stage_box_predictor.mask_rcnn_box_predictor.dropout_keep_probability", "0.5"},
      {frcnn + "second_stage_box_predictor.mask_rcnn_box_predictor.mask_prediction_conv_depth", "256"},
      {frcnn + "second_stage_box_predictor.rfcn_box_predictor.depth", "1024"},
      {frcnn + "second_stage_box_predictor.rfcn_box_predictor.crop_height", "12"},
      {frcnn + "second_stage_post_processing.calibration_config.sigmoid_calibration.sigmoid_parameters.a", "-1.0"},
      {frcnn + "second_stage_post_processing.calibration_config.function_approximation.x_y_pairs.training_data_type",
       "DATA_TYPE_UNKNOWN"},
      {frcnn + "second_stage_post_processing.calibration_config.temperature_scaling_calibration.scaler", "0.0"},
      {"model.ssd.feature_extractor.bifpn.combine_method", "fast_attention"},
      {"model.ssd.feature_extractor.bifpn.max_level", "7"},
      {"model.ssd.feature_extractor.use_hardswish", "false"},
      {"eval_config.batch_size", "1"},
      {"eval_config.retain_original_images", "true"},
      {"eval_config.all_metrics_per_category", "false"},
      {"eval_config.image_classes_field_map_empty_to_ones", "true"},
      {"eval_config.groundtruth_box_visualization_color", "black"},
      {"eval_config.keypoint_edge.start", "0"},
      {"eval_config.parameterized_metric.coco_keypoint_metrics.class_label", ""},
      {"graph_rewriter.quantization.delay", "500000"},
      {"graph_rewriter.quantization.activation_bits", "8"},
      {"train_input_reader.use_keypoint_label_map", "false"},
  };
  for (const auto& [path, expected] : defaults) {
    INFO(path);
    const wc::FieldLookup got = p.GetWithDefault(path);
    CHECK(got.is_default);
    REQUIRE(got.values.size() == 1);
    const wc::Value& v = got.values[0];
    switch (got.field->type) {
      case wc::FieldType::kFloat: CHECK(v.AsDouble() == Approx(std::stod(expected))); break;
      case wc::FieldType::kInt32:
      case wc::FieldType::kUInt32: CHECK(v.AsInt64() == std::stoll(expected)); break;
      case wc::FieldType::kBool: CHECK(v.AsBool() == (expected == "true")); break;
      case wc::FieldType::kString: CHECK(v.AsString() == expected); break;
      case wc::FieldType::kEnum: CHECK(v.AsEnum() == expected); break;
      default: FAIL("unexpected type");
    }
  }
  // Repeated fields have no default: absent means empty.
  CHECK(p.GetWithDefault(aug + "random_horizontal_flip.keypoint_flip_permutation").values.empty());
  CHECK(p.GetWithDefault("eval_config.keypoint_edge").values.empty());
}

TEST_CASE("pipeline: the augmentation view fills in the proto defaults of each step", "[config]") {
  const auto p = wc::PipelineConfig::Parse(
      "train_config {\n"
      "  data_augmentation_options { random_horizontal_flip { } }\n"
      "  data_augmentation_options { random_crop_image { } }\n"
      "  data_augmentation_options { ssd_random_crop { } }\n"
      "  data_augmentation_options { random_adjust_brightness { } }\n"
      "  data_augmentation_options { random_adjust_contrast { } }\n"
      "  data_augmentation_options { random_adjust_hue { } }\n"
      "  data_augmentation_options { random_adjust_saturation { } }\n"
      "  data_augmentation_options { random_rgb_to_gray { } }\n"
      "  data_augmentation_options { random_square_crop_by_scale { } }\n"
      "  data_augmentation_options { }\n"
      "}\n",
      "p.config");
  const std::vector<wc::AugmentationStep>& s = p.train().augmentation_steps;
  REQUIRE(s.size() == 10);
  REQUIRE(s[0].As<wc::RandomHorizontalFlipStep>() != nullptr);
  CHECK(s[0].As<wc::RandomHorizontalFlipStep>()->keypoint_flip_permutation.empty());
  CHECK(s[0].As<wc::RandomHorizontalFlipStep>()->probability == 0.5f);
  CHECK(s[0].As<wc::RandomCropImageStep>() == nullptr);
  const wc::RandomCropImageStep* crop = s[1].As<wc::RandomCropImageStep>();
  REQUIRE(crop != nullptr);
  CHECK(crop->min_object_covered == 1.0f);
  CHECK(crop->min_aspect_ratio == 0.75f);
  CHECK(crop->max_aspect_ratio == 1.33f);
  CHECK(crop->min_area == 0.1f);
  CHECK(crop->max_area == 1.0f);
  CHECK(crop->overlap_thresh == 0.3f);
  CHECK(crop->random_coef == 0.0f);
  CHECK(crop->clip_boxes);
  REQUIRE(s[2].As<wc::SsdRandomCropStep>() != nullptr);
  CHECK(s[2].As<wc::SsdRandomCropStep>()->operations.empty());
  CHECK(s[3].As<wc::RandomAdjustBrightnessStep>()->max_delta == 0.2f);
  CHECK(s[4].As<wc::RandomAdjustContrastStep>()->min_delta == 0.8f);
  CHECK(s[4].As<wc::RandomAdjustContrastStep>()->max_delta == 1.25f);
  CHECK(s[5].As<wc::RandomAdjustHueStep>()->max_delta == 0.02f);
  CHECK(s[6].As<wc::RandomAdjustSaturationStep>()->min_delta == 0.8f);
  CHECK(s[6].As<wc::RandomAdjustSaturationStep>()->max_delta == 1.25f);
  CHECK(s[7].As<wc::RandomRgbToGrayStep>()->probability == 0.1f);
  // A valid step without a typed view, and an empty entry: reported by name.
  CHECK_FALSE(s[8].modelled());
  CHECK(s[8].name == "random_square_crop_by_scale");
  CHECK_FALSE(s[9].modelled());
  CHECK(s[9].name.empty());
  CHECK(p.train().UnmodelledAugmentationSteps() == std::vector<std::string>{"random_square_crop_by_scale", ""});
  // The old string list is unchanged.
  CHECK(p.train().data_augmentation_options.size() == 10);
  CHECK(p.train().data_augmentation_options[2] == "ssd_random_crop");
}

TEST_CASE("pipeline: the augmentation view reads written values, SSD crop operations in order", "[config]") {
  const auto p = wc::PipelineConfig::Parse(
      "train_config {\n"
      "  data_augmentation_options { random_horizontal_flip { keypoint_flip_permutation: [1, 0, 2] probability: 0.25 } }\n"
      "  data_augmentation_options { ssd_random_crop {\n"
      "    operations { min_object_covered: 0.0 min_aspect_ratio: 0.5 max_aspect_ratio: 2.0 min_area: 0.1\n"
      "      max_area: 1.0 overlap_thresh: 0.0 random_coef: 0.15 }\n"
      "    operations { min_object_covered: 0.7 clip_boxes: false } } }\n"
      "  data_augmentation_options { random_crop_image { min_area: 0.75 clip_boxes: false random_coef: 0.25 } }\n"
      "  data_augmentation_options { random_adjust_contrast { min_delta: 0.5 } }\n"
      "}\n",
      "p.config");
  const auto& s = p.train().augmentation_steps;
  REQUIRE(s.size() == 4);
  CHECK(s[0].As<wc::RandomHorizontalFlipStep>()->keypoint_flip_permutation == std::vector<int32_t>{1, 0, 2});
  CHECK(s[0].As<wc::RandomHorizontalFlipStep>()->probability == 0.25f);
  const auto& ops = s[1].As<wc::SsdRandomCropStep>()->operations;
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].min_object_covered == 0.0f);
  CHECK(ops[0].min_aspect_ratio == 0.5f);
  CHECK(ops[0].max_aspect_ratio == 2.0f);
  CHECK(ops[0].random_coef == 0.15f);
  CHECK(ops[0].clip_boxes);  // the one operation default
  CHECK(ops[1].min_object_covered == 0.7f);
  CHECK(ops[1].max_area == 0.0f);  // no proto default
  CHECK_FALSE(ops[1].clip_boxes);
  const auto* crop = s[2].As<wc::RandomCropImageStep>();
  CHECK(crop->min_area == 0.75f);
  CHECK(crop->max_area == 1.0f);
  CHECK_FALSE(crop->clip_boxes);
  CHECK(crop->random_coef == 0.25f);
  CHECK(s[3].As<wc::RandomAdjustContrastStep>()->min_delta == 0.5f);
  CHECK(s[3].As<wc::RandomAdjustContrastStep>()->max_delta == 1.25f);
  CHECK(p.train().UnmodelledAugmentationSteps().empty());
}

TEST_CASE("pipeline: the augmentation view on the 104 sample configs", "[config]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  std::map<std::string, int> files_with;  // step name -> number of configs that use it
  int configs = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".config") continue;
    ++configs;
    const auto p = wc::PipelineConfig::Load(e.path());
    std::set<std::string> names;
    for (const wc::AugmentationStep& s : p.train().augmentation_steps) names.insert(s.name);
    for (const std::string& n : names) ++files_with[n];
  }
  CHECK(configs == 104);
  CHECK(files_with == std::map<std::string, int>{{"random_absolute_pad_image", 5},
                                                 {"random_adjust_brightness", 11},
                                                 {"random_adjust_contrast", 17},
                                                 {"random_adjust_hue", 17},
                                                 {"random_adjust_saturation", 17},
                                                 {"random_crop_image", 19},
                                                 {"random_horizontal_flip", 104},
                                                 {"random_scale_crop_and_pad_to_square", 8},
                                                 {"random_square_crop_by_scale", 12},
                                                 {"ssd_random_crop", 29},
                                                 {"ssd_random_crop_fixed_aspect_ratio", 2}});

  // Exact values: the face SSD's keypoint flip, an FPN SSD's crop, CenterNet's colour steps.
  const auto face = wc::PipelineConfig::Load(dir / "facessd_mobilenet_v2_quantized_320x320_open_image_v4.config");
  const auto* flip = face.train().augmentation_steps.at(0).As<wc::RandomHorizontalFlipStep>();
  REQUIRE(flip != nullptr);
  CHECK(flip->keypoint_flip_permutation == std::vector<int32_t>{1, 0, 2, 3, 5, 4});
  CHECK(flip->probability == 0.5f);
  CHECK(face.train().UnmodelledAugmentationSteps() == std::vector<std::string>{"ssd_random_crop_fixed_aspect_ratio"});

  const auto fpn = wc::PipelineConfig::Load(dir / "ssd_mobilenet_v1_fpn_shared_box_predictor_640x640_coco14_sync.config");
  const wc::RandomCropImageStep* crop = nullptr;
  for (const auto& s : fpn.train().augmentation_steps) {
    if (s.As<wc::RandomCropImageStep>() != nullptr) crop = s.As<wc::RandomCropImageStep>();
  }
  REQUIRE(crop != nullptr);
  CHECK(crop->min_object_covered == 0.0f);
  CHECK(crop->min_aspect_ratio == 0.75f);
  CHECK(crop->max_aspect_ratio == 3.0f);
  CHECK(crop->min_area == 0.75f);
  CHECK(crop->max_area == 1.0f);
  CHECK(crop->overlap_thresh == 0.0f);
  CHECK(crop->random_coef == 0.0f);  // not written: the default
  CHECK(crop->clip_boxes);           // not written: the default

  const auto ssd = wc::PipelineConfig::Load(dir / "ssd_mobilenet_v1_coco.config");
  REQUIRE(ssd.train().augmentation_steps.size() == 2);
  REQUIRE(ssd.train().augmentation_steps[1].As<wc::SsdRandomCropStep>() != nullptr);
  CHECK(ssd.train().augmentation_steps[1].As<wc::SsdRandomCropStep>()->operations.empty());  // `ssd_random_crop { }`

  const auto cn = wc::PipelineConfig::Load(dir / "tf2" / "centernet_hourglass104_512x512_coco17_tpu-8.config");
  int colour = 0;
  for (const auto& s : cn.train().augmentation_steps) {
    if (const auto* c = s.As<wc::RandomCropImageStep>()) {
      CHECK(c->min_aspect_ratio == 0.5f);
      CHECK(c->max_aspect_ratio == 1.7f);
      CHECK(c->random_coef == 0.25f);
    }
    if (const auto* b = s.As<wc::RandomAdjustBrightnessStep>()) colour += (b->max_delta == 0.2f);
    if (const auto* h = s.As<wc::RandomAdjustHueStep>()) colour += (h->max_delta == 0.02f);
    if (const auto* c = s.As<wc::RandomAdjustContrastStep>()) colour += (c->min_delta == 0.8f && c->max_delta == 1.25f);
    if (const auto* c = s.As<wc::RandomAdjustSaturationStep>()) colour += (c->min_delta == 0.8f && c->max_delta == 1.25f);
  }
  CHECK(colour == 4);
}

TEST_CASE("pipeline: the Faster R-CNN view on the sample configs (stages, Context R-CNN)", "[config]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  const auto rcnn = wc::PipelineConfig::Load(dir / "faster_rcnn_resnet101_pets.config");
  REQUIRE(rcnn.faster_rcnn().has_value());
  CHECK(rcnn.faster_rcnn()->number_of_stages == 2);  // not written: the default
  CHECK(rcnn.faster_rcnn()->feature_extractor_type == "faster_rcnn_resnet101");
  CHECK(rcnn.faster_rcnn()->num_classes == 37);
  CHECK_FALSE(rcnn.faster_rcnn()->has_context_config);
  const auto mask = wc::PipelineConfig::Load(dir / "mask_rcnn_resnet101_atrous_coco.config");
  CHECK(mask.faster_rcnn()->number_of_stages == 3);
  CHECK(mask.faster_rcnn()->first_stage_features_stride == 8);
  const auto context = wc::PipelineConfig::Load(dir / "context_rcnn_resnet101_snapshot_serengeti.config");
  CHECK(context.faster_rcnn()->has_context_config);
  CHECK(wc::FasterRcnnModelConfig::kFirstStageFeatureExtractorScope == "FirstStageFeatureExtractor");
  CHECK(wc::FasterRcnnModelConfig::kSecondStageFeatureExtractorScope == "SecondStageFeatureExtractor");
}
