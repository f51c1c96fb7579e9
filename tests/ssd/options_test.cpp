// ssd::SsdTrainingOptions::FromConfig: pipeline.config model.ssd -> the options of anchors, box
// coder, matcher, losses, hard example miner and post-processing, as the TF builders read them;
// every real SSD config, the zoo v1 config field by field (1917 anchors), and one hand-written
// config per option and per refusal.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "realdata.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/ssd/options.hpp"
#include "warmstart/ssd/variables.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart;
using Catch::Matchers::Contains;
using ssd::SsdTrainingOptions;

// A complete model.ssd section; line numbers matter for the error positions below.
const char kBase[] =
    "model { ssd {\n"                                                                          // 1
    "  num_classes: 3\n"                                                                       // 2
    "  image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n"                     // 3
    "  feature_extractor { type: 'ssd_mobilenet_v1' }\n"                                       // 4
    "  box_coder { faster_rcnn_box_coder { } }\n"                                              // 5
    "  matcher { argmax_matcher { } }\n"                                                       // 6
    "  similarity_calculator { iou_similarity { } }\n"                                         // 7
    "  anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] } }\n"         // 8
    "  post_processing { batch_non_max_suppression { } score_converter: SIGMOID }\n"           // 9
    "  loss { classification_loss { weighted_sigmoid { } }\n"                                  // 10
    "         localization_loss { weighted_smooth_l1 { } } }\n"                                // 11
    "} }\n";

// kBase with the first `from` replaced by `to`.
std::string With(const std::string& from, const std::string& to, std::string text = kBase) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

SsdTrainingOptions Options(const std::string& text) {
  return SsdTrainingOptions::FromConfig(config::PipelineConfig::Parse(text, "t.config"));
}

double F(double v) { return static_cast<double>(static_cast<float>(v)); }

std::vector<ssd::GridShape> Grids(const std::vector<ssd::GridSize>& sizes) {
  std::vector<ssd::GridShape> out;
  for (const ssd::GridSize& g : sizes) out.push_back({static_cast<int>(g.height), static_cast<int>(g.width)});
  return out;
}

// Every *.config below `dir`.
std::vector<fs::path> ConfigsUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".config") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---- real configs ------------------------------------------------------------------------

TEST_CASE("ssd options: every real SSD config maps without error", "[ssd][options][realdata]") {
  fs::path dir;
  if (!test::RequireRealData(&dir)) return;
  size_t ssd_configs = 0, multiscale = 0, focal = 0, miners = 0;
  for (const fs::path& path : ConfigsUnder(dir)) {
    const config::PipelineConfig cfg = config::PipelineConfig::Load(path);
    if (cfg.meta_arch() != config::MetaArch::kSsd) continue;
    INFO(path.string());
    ++ssd_configs;
    SsdTrainingOptions o;
    REQUIRE_NOTHROW(o = SsdTrainingOptions::FromConfig(cfg));
    CHECK(o.num_classes == cfg.ssd()->num_classes);
    CHECK(o.nms.clip_window.has_value());
    // The pieces build from every one of them.
    CHECK_NOTHROW(o.MakeBoxCoder());
    CHECK_NOTHROW(o.MakeMatcher());
    CHECK_NOTHROW(o.MakeClassificationLoss());
    CHECK_NOTHROW(o.MakeLocalizationLoss());
    CHECK_NOTHROW(o.MakeHardExampleMiner());
    if (o.ssd_anchors() != nullptr) {
      CHECK_NOTHROW(o.MakeAnchorGenerator());
    } else {
      ++multiscale;
      CHECK_THROWS_AS(o.MakeAnchorGenerator(), ArgumentError);
    }
    focal += o.classification_loss.kind == ssd::ClassificationLossKind::kSigmoidFocal;
    miners += o.hard_example_miner.has_value();
  }
  // 53 sample configs (odapi-configs/ and odapi-configs/tf2/) and the 9 beside real checkpoints.
  CHECK(ssd_configs == 62);
  CHECK(multiscale == 24);  // FPN, MnasFPN, EfficientDet: mapped, not generated
  CHECK(focal == 41);
  CHECK(miners == 21);
}

TEST_CASE("ssd options: zoo ssd_mobilenet_v1_coco_2018_01_28, field by field, 1917 anchors", "[ssd][options][realdata]") {
  fs::path dir;
  if (!test::RequireRealData("checkpoints/zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", &dir)) return;
  const config::PipelineConfig cfg = config::PipelineConfig::Load(dir / "pipeline.config");
  const SsdTrainingOptions o = SsdTrainingOptions::FromConfig(cfg);
  CHECK(o.num_classes == 90);
  CHECK(o.num_class_slots() == 91);
  CHECK(o.add_background_class);
  CHECK_FALSE(o.encode_background_as_zeros);
  CHECK(o.feature_extractor_type == "ssd_mobilenet_v1");
  CHECK(o.image_height() == 300);
  CHECK(o.image_width() == 300);
  CHECK(o.box_coder_scales == std::array<double, 4>{10, 10, 5, 5});
  CHECK(o.matcher.matched_threshold == 0.5);
  CHECK(o.matcher.unmatched_threshold == 0.5);
  CHECK(o.matcher.negatives_lower_than_unmatched);
  CHECK(o.matcher.force_match_for_each_row);
  CHECK(o.classification_loss.kind == ssd::ClassificationLossKind::kWeightedSigmoid);
  CHECK(o.localization_loss.delta == 1.0);
  CHECK(o.loss.classification_weight == 1.0);
  CHECK(o.loss.localization_weight == 1.0);
  CHECK(o.loss.normalize_loss_by_num_matches);
  CHECK_FALSE(o.loss.normalize_loc_loss_by_codesize);
  REQUIRE(o.hard_example_miner);
  CHECK(o.hard_example_miner->num_hard_examples == 3000);
  CHECK(o.hard_example_miner->iou_threshold == F(0.99));
  CHECK(o.hard_example_miner->loss_type == ssd::MinerLossType::kClassification);
  CHECK(o.hard_example_miner->max_negatives_per_positive == 3.0);
  CHECK(o.hard_example_miner->min_negatives_per_image == 0);
  CHECK(o.hard_example_miner->cls_loss_weight == 1.0);
  CHECK(o.hard_example_miner->loc_loss_weight == 1.0);
  CHECK(o.nms.score_threshold == F(0.3));
  CHECK(o.nms.iou_threshold == F(0.6));
  CHECK(o.nms.max_detections_per_class == 100);
  CHECK(o.nms.max_total_detections == 100);
  CHECK(*o.nms.clip_window == ssd::Window<double>{0, 0, 1, 1});
  CHECK(o.score_conversion.converter == ssd::ScoreConverter::kSigmoid);
  CHECK(o.score_conversion.logit_scale == 1.0);

  const ssd::SsdAnchorOptions* a = o.ssd_anchors();
  REQUIRE(a != nullptr);
  CHECK(a->num_layers == 6);
  CHECK(a->min_scale == F(0.2));
  CHECK(a->max_scale == F(0.95));
  CHECK(a->aspect_ratios == std::vector<double>{1.0, 2.0, 0.5, 3.0, F(0.3333)});
  CHECK(a->interpolated_scale_aspect_ratio == 1.0);
  CHECK(a->reduce_boxes_in_lowest_layer);
  CHECK(a->anchor_strides.empty());
  CHECK(a->anchor_offsets.empty());

  // The grids of the model (ssd::BuildModelSpec) at 300x300: 1917 anchors.
  const ssd::ModelSpec spec = ssd::BuildModelSpec(cfg);
  const ssd::MultipleGridAnchorGenerator g = o.MakeAnchorGenerator();
  CHECK(g.NumAnchorsPerLocation() == std::vector<int>{3, 6, 6, 6, 6, 6});
  const ssd::BoxMatrix<float> anchors = g.Generate<float>(Grids(ssd::FeatureMapSizes(spec)), 300, 300);
  REQUIRE(anchors.rows() == 1917);
  // Row 0: layer 0, cell (0, 0), box (0.1, 1.0): centre 0.5 / 19, side 0.1.
  const double c0 = 0.5 / 19;
  CHECK(anchors(0, 0) == Approx(c0 - 0.05).margin(1e-6));
  CHECK(anchors(0, 3) == Approx(c0 + 0.05).margin(1e-6));
  // Row 1: box (s_0 = 0.2, 2.0): h = 0.2 / sqrt(2), w = 0.2 * sqrt(2).
  CHECK(anchors(1, 2) - anchors(1, 0) == Approx(0.2 / std::sqrt(2.0)).margin(1e-6));
  CHECK(anchors(1, 3) - anchors(1, 1) == Approx(0.2 * std::sqrt(2.0)).margin(1e-6));
  // Last row: layer 5 (1x1), interpolated box sqrt(0.95 * 1.0) centred at 0.5.
  const double half = std::sqrt(F(0.95)) / 2;
  CHECK(anchors(1916, 0) == Approx(0.5 - half).margin(1e-6));
  CHECK(anchors(1916, 2) == Approx(0.5 + half).margin(1e-6));
}

TEST_CASE("ssd options: an EfficientDet config (multiscale anchors, keep-aspect resizer, focal loss)",
          "[ssd][options][realdata]") {
  fs::path file;
  if (!test::RequireRealData("odapi-configs/tf2/ssd_efficientdet_d0_512x512_coco17_tpu-8.config", &file)) return;
  const SsdTrainingOptions o = SsdTrainingOptions::FromConfig(config::PipelineConfig::Load(file));
  const auto* m = std::get_if<ssd::MultiscaleAnchorOptions>(&o.anchor_generator);
  REQUIRE(m != nullptr);
  CHECK(m->min_level == 3);
  CHECK(m->max_level == 7);
  CHECK(m->anchor_scale == 4.0);
  CHECK(m->aspect_ratios == std::vector<double>{1.0, 2.0, 0.5});
  CHECK(m->scales_per_octave == 3);
  CHECK(m->normalize_coordinates);
  CHECK(o.image_resizer.kind == "keep_aspect_ratio_resizer");
  CHECK(o.image_resizer.min_dimension == 512);
  CHECK(o.image_resizer.max_dimension == 512);
  CHECK(o.image_resizer.pad_to_max_dimension);
  CHECK(o.image_height() == 0);
  CHECK(o.classification_loss.kind == ssd::ClassificationLossKind::kSigmoidFocal);
  CHECK(o.classification_loss.gamma == 1.5);
  CHECK(o.classification_loss.alpha == 0.25);
  CHECK_FALSE(o.add_background_class);
  CHECK(o.num_class_slots() == 90);
  CHECK(o.encode_background_as_zeros);
  CHECK(o.inplace_batchnorm_update);
  CHECK_THROWS_WITH(o.MakeAnchorGenerator(), Contains("multiscale_anchor_generator is mapped but not implemented"));
}

// ---- hand-written configs: what is read --------------------------------------------------

TEST_CASE("ssd options: proto defaults of a minimal complete config", "[ssd][options]") {
  const SsdTrainingOptions o = Options(kBase);
  CHECK(o.num_classes == 3);
  CHECK(o.num_class_slots() == 4);
  CHECK(o.add_background_class);
  CHECK_FALSE(o.explicit_background_class);
  CHECK_FALSE(o.encode_background_as_zeros);
  CHECK(o.negative_class_weight == 1.0);
  CHECK(o.image_resizer.resize_method == "BILINEAR");
  CHECK_FALSE(o.image_resizer.convert_to_grayscale);
  CHECK(o.box_coder_scales == std::array<double, 4>{10, 10, 5, 5});
  CHECK(o.matcher.matched_threshold == 0.5);
  CHECK(o.matcher.unmatched_threshold == 0.5);
  CHECK(o.matcher.negatives_lower_than_unmatched);
  CHECK_FALSE(o.matcher.force_match_for_each_row);
  CHECK_FALSE(o.use_matmul_gather);
  const ssd::SsdAnchorOptions* a = o.ssd_anchors();
  REQUIRE(a != nullptr);
  CHECK(a->num_layers == 6);
  CHECK(a->min_scale == F(0.2));
  CHECK(a->max_scale == F(0.95));
  CHECK(a->scales.empty());
  CHECK(a->aspect_ratios == std::vector<double>{1.0, 2.0, 0.5});
  CHECK(a->interpolated_scale_aspect_ratio == 1.0);
  CHECK(a->base_anchor_size.y == 1.0);
  CHECK(a->base_anchor_size.x == 1.0);
  CHECK(o.classification_loss.kind == ssd::ClassificationLossKind::kWeightedSigmoid);
  CHECK(std::holds_alternative<ssd::WeightedSigmoidClassificationLoss>(o.MakeClassificationLoss()));
  CHECK(o.localization_loss.delta == 1.0);
  CHECK_FALSE(o.hard_example_miner);
  CHECK_FALSE(o.MakeHardExampleMiner());
  CHECK(o.loss.classification_weight == 1.0);
  CHECK(o.loss.localization_weight == 1.0);
  CHECK(o.loss.normalize_loss_by_num_matches);
  CHECK_FALSE(o.loss.normalize_loc_loss_by_codesize);
  CHECK(o.nms.score_threshold == 0.0);
  CHECK(o.nms.iou_threshold == F(0.6));
  CHECK(o.nms.max_detections_per_class == 100);
  CHECK(o.nms.max_total_detections == 100);
  CHECK(o.score_conversion.converter == ssd::ScoreConverter::kSigmoid);
  CHECK(o.score_conversion.logit_scale == 1.0);
  CHECK_FALSE(o.freeze_batchnorm);
  // Absent post_processing: TF's defaults, IDENTITY.
  const SsdTrainingOptions p =
      Options(With("  post_processing { batch_non_max_suppression { } score_converter: SIGMOID }\n", ""));
  CHECK(p.score_conversion.converter == ssd::ScoreConverter::kIdentity);
  CHECK(p.nms.iou_threshold == F(0.6));
}

TEST_CASE("ssd options: box coder scales and matcher settings", "[ssd][options]") {
  const SsdTrainingOptions o = Options(With("faster_rcnn_box_coder { }", "faster_rcnn_box_coder { y_scale: 5 x_scale: 4 "
                                                                         "height_scale: 3 width_scale: 2 }"));
  CHECK(o.box_coder_scales == std::array<double, 4>{5, 4, 3, 2});
  CHECK(o.MakeBoxCoder().scale_factors() == std::array<double, 4>{5, 4, 3, 2});

  const SsdTrainingOptions m = Options(With("argmax_matcher { }",
                                            "argmax_matcher { matched_threshold: 0.7 unmatched_threshold: 0.3 "
                                            "negatives_lower_than_unmatched: false force_match_for_each_row: true "
                                            "use_matmul_gather: true }"));
  CHECK(m.matcher.matched_threshold == F(0.7));
  CHECK(m.matcher.unmatched_threshold == F(0.3));
  CHECK_FALSE(m.matcher.negatives_lower_than_unmatched);
  CHECK(m.matcher.force_match_for_each_row);
  CHECK(m.use_matmul_gather);
  CHECK(m.MakeMatcher().options().matched_threshold == F(0.7));

  // ignore_thresholds: ArgMaxMatcher(None, None): every anchor matches its best row.
  const SsdTrainingOptions i = Options(With("argmax_matcher { }", "argmax_matcher { ignore_thresholds: true }"));
  CHECK_FALSE(i.matcher.matched_threshold);
  CHECK_FALSE(i.matcher.unmatched_threshold);
  CHECK_NOTHROW(i.MakeMatcher());
}

TEST_CASE("ssd options: ssd_anchor_generator fields, strides and offsets zipped", "[ssd][options]") {
  const std::string anchors = "ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }";
  const SsdTrainingOptions o = Options(With(anchors,
      "ssd_anchor_generator { num_layers: 3 scales: [0.1, 0.4, 0.8] aspect_ratios: 1.0 "
      "interpolated_scale_aspect_ratio: 0 reduce_boxes_in_lowest_layer: false base_anchor_height: 2 "
      "base_anchor_width: 0.5 height_stride: [16, 32, 64] width_stride: [8, 16, 32, 64] "
      "height_offset: [0, 1, 2] width_offset: [3, 4, 5] }"));
  const ssd::SsdAnchorOptions* a = o.ssd_anchors();
  REQUIRE(a != nullptr);
  CHECK(a->num_layers == 3);
  CHECK(a->scales == std::vector<double>{F(0.1), F(0.4), F(0.8)});
  CHECK(a->aspect_ratios == std::vector<double>{1.0});
  CHECK(a->interpolated_scale_aspect_ratio == 0.0);
  CHECK_FALSE(a->reduce_boxes_in_lowest_layer);
  CHECK(a->base_anchor_size.y == 2.0);
  CHECK(a->base_anchor_size.x == 0.5);
  // zip() stops at the shorter list.
  REQUIRE(a->anchor_strides.size() == 3);
  CHECK(a->anchor_strides[2].y == 64);
  CHECK(a->anchor_strides[2].x == 32);
  REQUIRE(a->anchor_offsets.size() == 3);
  CHECK(a->anchor_offsets[1].y == 1);
  CHECK(a->anchor_offsets[1].x == 4);
  CHECK(o.MakeAnchorGenerator().NumAnchorsPerLocation() == std::vector<int>{1, 1, 1});

  // An empty aspect_ratios list stays empty: layers after the first keep only the interpolated box.
  const SsdTrainingOptions e = Options(With(anchors, "ssd_anchor_generator { }"));
  CHECK(e.ssd_anchors()->aspect_ratios.empty());
  CHECK(e.MakeAnchorGenerator().NumAnchorsPerLocation() == std::vector<int>{3, 1, 1, 1, 1, 1});
  // width_offset without height_offset is ignored, as the builder tests height_offset only.
  const SsdTrainingOptions w = Options(With(anchors, "ssd_anchor_generator { width_offset: [1, 2] }"));
  CHECK(w.ssd_anchors()->anchor_offsets.empty());
}

TEST_CASE("ssd options: image resizers", "[ssd][options]") {
  const std::string fixed = "fixed_shape_resizer { height: 300 width: 300 }";
  const SsdTrainingOptions f = Options(With(fixed, "fixed_shape_resizer { height: 240 width: 320 "
                                                   "resize_method: AREA convert_to_grayscale: true }"));
  CHECK(f.image_height() == 240);
  CHECK(f.image_width() == 320);
  CHECK(f.image_resizer.resize_method == "AREA");
  CHECK(f.image_resizer.convert_to_grayscale);
  const SsdTrainingOptions d = Options(With(fixed, "fixed_shape_resizer { }"));
  CHECK(d.image_height() == 300);
  const SsdTrainingOptions k = Options(With(fixed, "keep_aspect_ratio_resizer { min_dimension: 320 }"));
  CHECK(k.image_resizer.kind == "keep_aspect_ratio_resizer");
  CHECK(k.image_resizer.min_dimension == 320);
  CHECK(k.image_resizer.max_dimension == 1024);
  CHECK_FALSE(k.image_resizer.pad_to_max_dimension);
  CHECK(k.image_height() == 0);
  const SsdTrainingOptions i = Options(With(fixed, "identity_resizer { }"));
  CHECK(i.image_resizer.kind == "identity_resizer");
  CHECK(i.image_width() == 0);
}

TEST_CASE("ssd options: classification and localization losses", "[ssd][options]") {
  const std::string sigmoid = "weighted_sigmoid { }";
  const SsdTrainingOptions s = Options(With(sigmoid, "weighted_softmax { logit_scale: 2.0 }"));
  CHECK(s.classification_loss.kind == ssd::ClassificationLossKind::kWeightedSoftmax);
  CHECK(s.classification_loss.logit_scale == 2.0);
  // The built loss is the softmax loss with that scale.
  const ssd::Matrix<double> logits = (ssd::Matrix<double>(1, 3) << 1.0, 2.0, -1.0).finished();
  const ssd::Matrix<double> targets = (ssd::Matrix<double>(1, 3) << 0.0, 1.0, 0.0).finished();
  const ssd::Vector<double> weights = ssd::Vector<double>::Ones(1);
  const ssd::ClassificationLoss built = s.MakeClassificationLoss();
  REQUIRE(std::holds_alternative<ssd::WeightedSoftmaxClassificationLoss>(built));
  CHECK(std::get<ssd::WeightedSoftmaxClassificationLoss>(built).Forward<double>(logits, targets, weights)(0) ==
        ssd::WeightedSoftmaxClassificationLoss(2.0).Forward<double>(logits, targets, weights)(0));

  const SsdTrainingOptions f = Options(With(sigmoid, "weighted_sigmoid_focal { gamma: 1.5 alpha: 0.75 }"));
  CHECK(f.classification_loss.kind == ssd::ClassificationLossKind::kSigmoidFocal);
  CHECK(f.classification_loss.gamma == 1.5);
  CHECK(f.classification_loss.alpha == 0.75);
  const ssd::ClassificationLoss focal = f.MakeClassificationLoss();
  REQUIRE(std::holds_alternative<ssd::SigmoidFocalClassificationLoss>(focal));
  CHECK(std::get<ssd::SigmoidFocalClassificationLoss>(focal).Forward<double>(logits, targets, weights)(0) ==
        ssd::SigmoidFocalClassificationLoss(1.5, 0.75).Forward<double>(logits, targets, weights)(0));
  // No alpha written: HasField is false, no alpha weighting (TF's None), gamma's default 2.
  const SsdTrainingOptions n = Options(With(sigmoid, "weighted_sigmoid_focal { }"));
  CHECK(n.classification_loss.gamma == 2.0);
  CHECK_FALSE(n.classification_loss.alpha);

  const SsdTrainingOptions l = Options(With("weighted_smooth_l1 { }", "weighted_smooth_l1 { delta: 0.5 }"));
  CHECK(l.localization_loss.delta == 0.5);
  const ssd::BoxMatrix<double> codes = (ssd::BoxMatrix<double>(1, 4) << 2.0, 0.0, 0.0, 0.0).finished();
  const ssd::BoxMatrix<double> zero = ssd::BoxMatrix<double>::Zero(1, 4);
  // huber(2; 0.5) = 0.5 * 0.25 + 0.5 * 1.5 = 0.875
  CHECK(l.MakeLocalizationLoss().Forward<double>(codes, zero, weights)(0) == Approx(0.875));
}

TEST_CASE("ssd options: hard example miner and loss weights", "[ssd][options]") {
  const std::string loss_end = "localization_loss { weighted_smooth_l1 { } } }";
  const SsdTrainingOptions o = Options(With(loss_end,
      "localization_loss { weighted_smooth_l1 { } }\n"
      "  hard_example_miner { num_hard_examples: 0 iou_threshold: 0.5 loss_type: LOCALIZATION "
      "max_negatives_per_positive: 0 min_negatives_per_image: 4 }\n"
      "  classification_weight: 0.5 localization_weight: 2.0 }\n"
      "  normalize_loss_by_num_matches: false normalize_loc_loss_by_codesize: true"));
  REQUIRE(o.hard_example_miner);
  CHECK_FALSE(o.hard_example_miner->num_hard_examples);         // 0 -> None
  CHECK_FALSE(o.hard_example_miner->max_negatives_per_positive);  // 0 -> None
  CHECK(o.hard_example_miner->iou_threshold == 0.5);
  CHECK(o.hard_example_miner->loss_type == ssd::MinerLossType::kLocalization);
  CHECK(o.hard_example_miner->min_negatives_per_image == 4);
  CHECK(o.hard_example_miner->cls_loss_weight == 0.5);
  CHECK(o.hard_example_miner->loc_loss_weight == 2.0);
  CHECK(o.MakeHardExampleMiner()->options().loc_loss_weight == 2.0);
  CHECK(o.loss.classification_weight == 0.5);
  CHECK(o.loss.localization_weight == 2.0);
  CHECK_FALSE(o.loss.normalize_loss_by_num_matches);
  CHECK(o.loss.normalize_loc_loss_by_codesize);

  // The proto defaults: 64 examples, IoU 0.7, BOTH.
  const SsdTrainingOptions d = Options(With(loss_end, "localization_loss { weighted_smooth_l1 { } }\n"
                                                      "  hard_example_miner { } }"));
  REQUIRE(d.hard_example_miner);
  CHECK(d.hard_example_miner->num_hard_examples == 64);
  CHECK(d.hard_example_miner->iou_threshold == F(0.7));
  CHECK(d.hard_example_miner->loss_type == ssd::MinerLossType::kBoth);
  CHECK_FALSE(d.hard_example_miner->max_negatives_per_positive);
}

TEST_CASE("ssd options: post-processing and background classes", "[ssd][options]") {
  const std::string pp = "post_processing { batch_non_max_suppression { } score_converter: SIGMOID }";
  const SsdTrainingOptions o = Options(With(pp,
      "post_processing { batch_non_max_suppression { score_threshold: 1e-8 iou_threshold: 0.5 "
      "max_detections_per_class: 10 max_total_detections: 20 use_static_shapes: true } "
      "score_converter: SOFTMAX logit_scale: 2.0 }"));
  CHECK(o.nms.score_threshold == F(1e-8));
  CHECK(o.nms.iou_threshold == 0.5);
  CHECK(o.nms.max_detections_per_class == 10);
  CHECK(o.nms.max_total_detections == 20);
  CHECK(o.score_conversion.converter == ssd::ScoreConverter::kSoftmax);
  CHECK(o.score_conversion.logit_scale == 2.0);
  const SsdTrainingOptions i = Options(With(pp, "post_processing { score_converter: IDENTITY }"));
  CHECK(i.score_conversion.converter == ssd::ScoreConverter::kIdentity);

  const SsdTrainingOptions b = Options(With("  num_classes: 3\n", "  num_classes: 3\n  add_background_class: false "
                                            "explicit_background_class: true encode_background_as_zeros: true "
                                            "negative_class_weight: 0.5 freeze_batchnorm: true\n"));
  CHECK_FALSE(b.add_background_class);
  CHECK(b.explicit_background_class);
  CHECK(b.num_class_slots() == 3);
  CHECK(b.encode_background_as_zeros);
  CHECK(b.negative_class_weight == 0.5);
  CHECK(b.freeze_batchnorm);
}

// ---- hand-written configs: what is refused -----------------------------------------------

TEST_CASE("ssd options: errors name the file, line:column and field", "[ssd][options]") {
  CHECK_THROWS_WITH(Options(With("matcher { argmax_matcher { } }", "matcher { bipartite_matcher { } }")),
                    "t.config:6:13: model.ssd.matcher.bipartite_matcher is not supported by warmstart's SSD training "
                    "pieces (supported: argmax_matcher)");
  CHECK_THROWS_WITH(Options(With("box_coder { faster_rcnn_box_coder { } }",
                                 "box_coder { keypoint_box_coder { num_keypoints: 4 } }")),
                    "t.config:5:15: model.ssd.box_coder.keypoint_box_coder is not supported by warmstart's SSD "
                    "training pieces (supported: faster_rcnn_box_coder)");
  CHECK_THROWS_WITH(Options(With("  box_coder { faster_rcnn_box_coder { } }\n", "")),
                    "t.config:1:9: model.ssd.box_coder sets none of its choices (TF: \"Empty box coder.\"); "
                    "supported: faster_rcnn_box_coder");
  CHECK_THROWS_WITH(Options(With("box_coder { faster_rcnn_box_coder { } }", "box_coder { }")),
                    "t.config:5:3: model.ssd.box_coder sets none of its choices (TF: \"Empty box coder.\"); "
                    "supported: faster_rcnn_box_coder");
}

TEST_CASE("ssd options: every refused choice", "[ssd][options]") {
  struct Case {
    std::string from, to, message;
  };
  const std::string loss_end = "localization_loss { weighted_smooth_l1 { } } }";
  const std::vector<Case> cases = {
      {"faster_rcnn_box_coder { }", "square_box_coder { }", "model.ssd.box_coder.square_box_coder is not supported"},
      {"faster_rcnn_box_coder { }", "mean_stddev_box_coder { }", "model.ssd.box_coder.mean_stddev_box_coder is not supported"},
      {"faster_rcnn_box_coder { }", "faster_rcnn_box_coder { x_scale: 0 }",
       "model.ssd.box_coder.faster_rcnn_box_coder: every scale must be > 0"},
      {"argmax_matcher { }", "argmax_matcher { matched_threshold: 0.4 unmatched_threshold: 0.6 }",
       "model.ssd.matcher.argmax_matcher: ArgMaxMatcher: unmatched_threshold"},
      {"argmax_matcher { }", "argmax_matcher { negatives_lower_than_unmatched: false }",
       "model.ssd.matcher.argmax_matcher: ArgMaxMatcher: with negatives between the thresholds they cannot be equal"},
      {"  matcher { argmax_matcher { } }\n", "", "model.ssd.matcher sets none of its choices (TF: \"Empty matcher.\")"},
      {"iou_similarity { }", "ioa_similarity { }", "model.ssd.similarity_calculator.ioa_similarity is not supported"},
      {"iou_similarity { }", "thresholded_iou_similarity { }",
       "model.ssd.similarity_calculator.thresholded_iou_similarity is not supported"},
      {"  similarity_calculator { iou_similarity { } }\n", "",
       "(TF: \"Unknown region similarity calculator.\"); supported: iou_similarity"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }", "grid_anchor_generator { }",
       "model.ssd.anchor_generator.grid_anchor_generator is not supported by warmstart's SSD training pieces "
       "(supported: ssd_anchor_generator, multiscale_anchor_generator)"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }", "flexible_grid_anchor_generator { }",
       "model.ssd.anchor_generator.flexible_grid_anchor_generator is not supported"},
      {"anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] } }", "anchor_generator { }",
       "model.ssd.anchor_generator sets none of its choices (TF: \"Empty anchor generator.\")"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }", "ssd_anchor_generator { num_layers: 1 }",
       "model.ssd.anchor_generator.ssd_anchor_generator: anchors: num_layers must be >= 2 without explicit scales"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }",
       "ssd_anchor_generator { height_stride: [16, 32] width_stride: [16, 32] }",
       "model.ssd.anchor_generator.ssd_anchor_generator: zip(height_stride, width_stride) gives 2 (y, x) pairs, "
       "expected one per layer (6)"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }", "ssd_anchor_generator { height_offset: [1, 2, 3, 4, 5, 6] }",
       "zip(height_offset, width_offset) gives 0 (y, x) pairs, expected one per layer (6)"},
      {"ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] }",
       "multiscale_anchor_generator { min_level: 5 max_level: 4 }",
       "model.ssd.anchor_generator.multiscale_anchor_generator: need min_level <= max_level"},
      {"  image_resizer { fixed_shape_resizer { height: 300 width: 300 } }\n", "",
       "model.ssd.image_resizer sets no resizer"},
      {"fixed_shape_resizer { height: 300 width: 300 }", "fixed_shape_resizer { height: 0 }",
       "model.ssd.image_resizer.fixed_shape_resizer: height and width must be >= 1, found 0x300"},
      {"weighted_sigmoid { }", "weighted_logits_softmax { }",
       "model.ssd.loss.classification_loss.weighted_logits_softmax is not supported"},
      {"weighted_sigmoid { }", "bootstrapped_sigmoid { alpha: 0.5 }",
       "model.ssd.loss.classification_loss.bootstrapped_sigmoid is not supported"},
      {"weighted_sigmoid { }", "penalty_reduced_logistic_focal_loss { }",
       "model.ssd.loss.classification_loss.penalty_reduced_logistic_focal_loss is not supported"},
      {"weighted_sigmoid { }", "weighted_softmax { logit_scale: 0 }",
       "model.ssd.loss.classification_loss.weighted_softmax.logit_scale must not be 0"},
      {"classification_loss { weighted_sigmoid { } }", "",
       "model.ssd.loss.classification_loss sets none of its choices (TF: \"Empty loss config.\")"},
      {"weighted_smooth_l1 { }", "weighted_l2 { }", "model.ssd.loss.localization_loss.weighted_l2 is not supported"},
      {"weighted_smooth_l1 { }", "weighted_iou { }", "model.ssd.loss.localization_loss.weighted_iou is not supported"},
      {"weighted_smooth_l1 { }", "weighted_giou { }", "model.ssd.loss.localization_loss.weighted_giou is not supported"},
      {"weighted_smooth_l1 { }", "l1_localization_loss { }",
       "model.ssd.loss.localization_loss.l1_localization_loss is not supported"},
      {loss_end, "localization_loss { weighted_smooth_l1 { } } random_example_sampler { } }",
       "model.ssd.loss.random_example_sampler is not supported"},
      {loss_end, "localization_loss { weighted_smooth_l1 { } } expected_loss_weights: EXPECTED_SAMPLING }",
       "model.ssd.loss.expected_loss_weights EXPECTED_SAMPLING is not supported"},
      {loss_end, "localization_loss { weighted_smooth_l1 { } } equalization_loss { weight: 0.5 } }",
       "model.ssd.loss.equalization_loss is not supported"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { iou_threshold: 1.5 }",
       "batch_non_max_suppression.iou_threshold 1.500000 is not in [0, 1] (TF: \"iou_threshold not in [0, 1.0].\")"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { max_detections_per_class: 200 }",
       "max_detections_per_class 200 exceeds max_total_detections 100"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { max_detections_per_class: 0 max_total_detections: 0 }",
       "max_total_detections must be >= 1, found 0"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { soft_nms_sigma: -1 }",
       "soft_nms_sigma must be >= 0 (TF: \"soft_nms_sigma should be non-negative.\")"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { soft_nms_sigma: 0.5 }",
       "soft_nms_sigma > 0 (soft NMS) is not supported"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { use_class_agnostic_nms: true }",
       "use_class_agnostic_nms is not supported"},
      {"batch_non_max_suppression { }", "batch_non_max_suppression { use_combined_nms: true }",
       "use_combined_nms is not supported"},
      {"score_converter: SIGMOID", "score_converter: SIGMOID calibration_config { }",
       "model.ssd.post_processing.calibration_config is not supported"},
      {"score_converter: SIGMOID", "score_converter: SIGMOID logit_scale: 0",
       "model.ssd.post_processing.logit_scale must not be 0"},
      {"  num_classes: 3\n", "  num_classes: 3 explicit_background_class: true\n",
       "model.ssd: add_background_class and explicit_background_class cannot both be true"},
      {"  num_classes: 3\n", "  num_classes: 3 use_confidences_as_targets: true\n",
       "model.ssd.use_confidences_as_targets is not supported"},
      {"  num_classes: 3\n", "  num_classes: 0\n", "t.config:2:3: model.ssd.num_classes must be >= 1, found 0"},
      {"  num_classes: 3\n", "", "t.config:1:9: model.ssd.num_classes must be >= 1, found 0"},
  };
  for (const Case& c : cases) {
    INFO(c.to);
    CHECK_THROWS_AS(Options(With(c.from, c.to)), ArgumentError);
    CHECK_THROWS_WITH(Options(With(c.from, c.to)), Contains(c.message) && Contains("t.config:"));
  }
}

TEST_CASE("ssd options: focal loss with a hard example miner, and a non-SSD config", "[ssd][options]") {
  const std::string text = With("weighted_sigmoid { }", "weighted_sigmoid_focal { }",
                                With("localization_loss { weighted_smooth_l1 { } } }",
                                     "localization_loss { weighted_smooth_l1 { } }\n"
                                     "         hard_example_miner { } }"));
  CHECK_THROWS_WITH(Options(text), "t.config:12:10: model.ssd.loss: hard_example_miner cannot be used with "
                                   "weighted_sigmoid_focal (TF: \"HardExampleMiner should not be used with "
                                   "sigmoid focal loss\")");
  CHECK_THROWS_WITH(Options("model { faster_rcnn { num_classes: 3 } }"),
                    "t.config: SSD training options need model.ssd, found model.faster_rcnn");
  CHECK_THROWS_WITH(Options("train_config { batch_size: 1 }"), "t.config: SSD training options need model.ssd, found no model");
}
