// ssd::SsdModel: the network of a ModelSpec. Variable list against the spec (real configs),
// prediction shapes at 300x300, central-difference gradient checks of the whole SSD loss
// (localization + classification + regularization) through MobileNet V1 and V2 in double with
// batch norm in training and frozen modes, TF's anchor order, explicit padding, pad_to_multiple,
// batch-norm modes, initialisers and the regularization loss.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/ssd/anchors.hpp"
#include "warmstart/ssd/box_coder.hpp"
#include "warmstart/ssd/losses.hpp"
#include "warmstart/ssd/matcher.hpp"
#include "warmstart/ssd/model.hpp"
#include "warmstart/ssd/target_assigner.hpp"
#include "warmstart/ssd/variables.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart;
using nn::Index;
using ssd::ModelSpec;
using ssd::SsdModel;
template <class T>
using Tensor = nn::Tensor4<T>;

// ---- configs ------------------------------------------------------------------------------

// conv_hyperparams: RELU_6, l2 0.01, variance scaling (factor 1, FAN_IN, normal: activations
// keep their scale, so central differences see a smooth function), batch norm (decay 0.9,
// center, scale) unless `extra` contains NO_BN; the rest of `extra` goes inside the block.
std::string Hyperparams(std::string extra) {
  std::string bn = "batch_norm { train: true scale: true center: true decay: 0.9 epsilon: 0.001 }";
  const size_t at = extra.find("NO_BN");
  if (at != std::string::npos) {
    bn.clear();
    extra.erase(at, 5);
  }
  return "conv_hyperparams { activation: RELU_6 regularizer { l2_regularizer { weight: 0.01 } } "
         "initializer { variance_scaling_initializer { factor: 1.0 } } " + bn + " " + extra + " }";
}

// A small model.ssd: 3 classes, depth multiplier 0.25, min_depth 8, anchors with 3 aspect
// ratios (A = 3, 4, 4, ...), 3x3 heads. `fe` goes inside feature_extractor, `bp` inside
// convolutional_box_predictor, `fe_hp` / `bp_hp` inside their conv_hyperparams.
std::string TinyConfig(const std::string& type, const std::string& fe = "", const std::string& bp = "",
                       const std::string& fe_hp = "", const std::string& bp_hp = "") {
  return "model { ssd {\n"
         "  num_classes: 3\n"
         "  image_resizer { fixed_shape_resizer { height: 40 width: 40 } }\n"
         "  feature_extractor { type: '" + type + "' min_depth: 8 depth_multiplier: 0.25 " + Hyperparams(fe_hp) + " " + fe + " }\n"
         "  box_predictor { convolutional_box_predictor { min_depth: 0 max_depth: 0 num_layers_before_predictor: 0 "
         "kernel_size: 3 box_code_size: 4 " + Hyperparams(bp_hp) + " " + bp + " } }\n"
         "  anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 "
         "aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 } }\n"
         "} }\n";
}

ModelSpec Spec(const std::string& text) { return ssd::BuildModelSpec(config::PipelineConfig::Parse(text, "model_test")); }

// TinyConfig for the training-mode gradient checks: the body takes the config's hyperparams
// (override_base_feature_extractor_hyperparams) and every batch norm has epsilon 0.1. With
// MobileNet's 0.001, training-mode batch norm over the 1x1 maps of a 40x40 batch of 2 (two
// values per channel) amplifies ~30x per layer, and central differences cross ReLU6 kinks
// somewhere downstream at any useful step. The code paths are the same.
ModelSpec GradientSpec(const std::string& type, const std::string& fe, const std::string& bp, const std::string& bp_hp = "") {
  std::string text = TinyConfig(type, "override_base_feature_extractor_hyperparams: true " + fe, bp, "", bp_hp);
  for (size_t at = text.find("epsilon: 0.001"); at != std::string::npos; at = text.find("epsilon: 0.001", at)) {
    text.replace(at, 14, "epsilon: 0.1");
  }
  return Spec(text);
}

template <class T>
Tensor<T> RandomImages(Index n, Index h, Index w, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Tensor<T> t(n, h, w, 3);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(u(rng));
  return t;
}

// Moving statistics away from 0 / 1 and gamma, beta away from 1 / 0, so frozen-mode checks see
// a general affine map.
template <class T>
void RandomizeBatchNorm(SsdModel<T>& m, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (nn::Parameter<T>* p : m.parameters().all()) {
    const std::string& n = p->name;
    const auto fill = [&](double lo, double hi) {
      for (Index i = 0; i < p->NumElements(); ++i) p->value(i) = static_cast<T>(lo + (hi - lo) * u(rng));
    };
    if (n.size() > 15 && n.compare(n.size() - 15, 15, "moving_variance") == 0) fill(0.5, 2.0);
    if (n.size() > 11 && n.compare(n.size() - 11, 11, "moving_mean") == 0) fill(-0.5, 0.5);
    if (n.size() > 5 && n.compare(n.size() - 5, 5, "gamma") == 0) fill(0.7, 1.3);
    if (n.size() > 4 && n.compare(n.size() - 4, 4, "beta") == 0) fill(-0.3, 0.3);
  }
}

// ---- the SSD loss of a batch, as a trainer computes it ------------------------------------

struct Problem {
  ssd::BoxMatrix<double> anchors;
  std::vector<ssd::TargetAssignment<double>> targets;
};

ssd::MultipleGridAnchorGenerator TinyAnchors() {
  ssd::SsdAnchorOptions o;
  o.aspect_ratios = {1.0, 2.0, 0.5};
  return ssd::CreateSsdAnchors(o);
}

std::vector<ssd::GridShape> Grids(const std::vector<ssd::GridSize>& g) {
  std::vector<ssd::GridShape> out;
  for (const ssd::GridSize& s : g) out.push_back({static_cast<int>(s.height), static_cast<int>(s.width)});
  return out;
}

// Two groundtruth boxes per image (force-matched), targets for the model's grids.
Problem MakeProblem(const std::vector<ssd::GridSize>& grids, Index batch) {
  Problem p;
  p.anchors = TinyAnchors().Generate<double>(Grids(grids));
  ssd::ArgMaxMatcherOptions mo;
  mo.force_match_for_each_row = true;
  const ssd::ArgMaxMatcher matcher(mo);
  const ssd::FasterRcnnBoxCoder coder;
  for (Index n = 0; n < batch; ++n) {
    ssd::BoxMatrix<double> gt(2, 4);
    gt << 0.1 + 0.05 * n, 0.1, 0.6, 0.5, 0.3, 0.4 - 0.05 * n, 0.9, 0.95;
    p.targets.push_back(ssd::AssignTargets<double>(p.anchors, gt, {0, 2}, 3, matcher, coder));
  }
  return p;
}

struct LossValue {
  double total = 0;
  ssd::SsdLossResult<double> result;
};

LossValue Loss(const Problem& problem, const ssd::SsdPredictions<double>& pred, double regularization) {
  LossValue v;
  v.result = ssd::ComputeSsdLoss<double>(pred.box_encodings, pred.class_predictions, problem.targets, problem.anchors,
                                         ssd::FasterRcnnBoxCoder(), ssd::WeightedSigmoidClassificationLoss(),
                                         ssd::WeightedSmoothL1LocalizationLoss(), ssd::SsdLossOptions());
  v.total = v.result.localization_loss + v.result.classification_loss + regularization;
  return v;
}

double TotalLoss(SsdModel<double>& m, const nn::Context& ctx, const Tensor<double>& images, const Problem& problem) {
  return Loss(problem, m.Forward(ctx, images), m.RegularizationLoss()).total;
}

// True when `name` belongs to the sample: the first two trainable variables of each
// (part, role) pair, plus any whose name contains one of `extra`.
std::function<bool(const std::string&)> Sampler(const ModelSpec& spec, const std::vector<std::string>& extra) {
  std::map<std::pair<int, int>, int> seen;
  std::vector<std::string> picked;
  for (const ssd::Variable& v : spec.variables) {
    if (!v.trainable) continue;
    const auto key = std::make_pair(static_cast<int>(spec.layers[v.layer].part), static_cast<int>(v.role));
    bool take = seen[key]++ < 2;
    for (const std::string& e : extra) take = take || v.name.find(e) != std::string::npos;
    if (take) picked.push_back(v.name);
  }
  return [picked](const std::string& n) { return std::find(picked.begin(), picked.end(), n) != picked.end(); };
}

// Central differences of the SSD loss (+ regularization) for 3 entries of every sampled
// parameter, against Backward + AddRegularizationGradient. Returns how many entries were checked.
int CheckLossGradient(SsdModel<double>& m, const Tensor<double>& images, const std::vector<std::string>& extra,
                      std::vector<ssd::VariableRole>* roles_seen = nullptr) {
  const nn::Context ctx(1);
  m.Forward(ctx, images);
  const Problem problem = MakeProblem(m.feature_map_sizes(), images.dimension(0));
  m.parameters().ZeroGradients();
  const LossValue base = Loss(problem, m.Forward(ctx, images), m.RegularizationLoss());
  REQUIRE(std::isfinite(base.total));
  m.Backward(ctx, base.result.dbox_encodings, base.result.dclass_predictions);
  m.AddRegularizationGradient();

  const auto sampled = Sampler(m.spec(), extra);
  std::mt19937 rng(5);
  int checked = 0;
  for (size_t k = 0; k < m.spec().variables.size(); ++k) {
    const ssd::Variable& v = m.spec().variables[k];
    if (!v.trainable || !sampled(v.name)) continue;
    if (roles_seen) roles_seen->push_back(v.role);
    nn::Parameter<double>& p = *m.parameters().all()[k];
    for (int e = 0; e < 3; ++e) {
      const Index i = std::uniform_int_distribution<Index>(0, p.NumElements() - 1)(rng);
      // The step moves the loss by ~1e-6 whatever the gradient: with training-mode batch norm
      // the first layers' gradients reach 1e4-1e5, and a larger step would cross ReLU6 kinks
      // downstream. Round-off stays ~1e-8 relative (loss O(100)).
      const double h = 1e-6 / std::max(1.0, std::abs(p.gradient(i)));
      const double saved = p.value(i);
      p.value(i) = saved + h;
      const double up = TotalLoss(m, ctx, images, problem);
      p.value(i) = saved - h;
      const double down = TotalLoss(m, ctx, images, problem);
      p.value(i) = saved;
      const double numeric = (up - down) / (2 * h);
      INFO(v.name << "[" << i << "] analytic " << p.gradient(i) << " numeric " << numeric);
      CHECK(std::abs(p.gradient(i) - numeric) <= 1e-6 + 1e-4 * std::abs(numeric));
      ++checked;
    }
  }
  return checked;
}

bool HasAll(std::vector<ssd::VariableRole> seen, std::vector<ssd::VariableRole> want) {
  for (ssd::VariableRole r : want) {
    if (std::find(seen.begin(), seen.end(), r) == seen.end()) return false;
  }
  return true;
}

// Copies every variable of `from` into `to` by name.
template <class T>
void CopyParameters(SsdModel<T>& from, SsdModel<T>& to) {
  for (nn::Parameter<T>* p : from.parameters().all()) to.parameters().Get(p->name).value = p->value;
}

}  // namespace

// ---- real configs ----------------------------------------------------------------------------

TEST_CASE("ssd model: zoo configs, variables equal the spec and 1917 x 91 predictions at 300x300", "[ssd][model][realdata]") {
  for (const std::string name : {"zoo-tf1-ssd_mobilenet_v1_coco_2018_01_28", "zoo-tf1-ssd_mobilenet_v2_coco_2018_03_29"}) {
    fs::path dir;
    if (!test::RequireRealData("checkpoints/" + name, &dir)) return;
    INFO(name);
    const ModelSpec spec = ssd::LoadModelSpec(dir / "pipeline.config");
    SsdModel<float> model(spec);
    const std::vector<nn::VariableInfo> infos = model.parameters().Infos();
    REQUIRE(infos.size() == spec.variables.size());
    for (size_t i = 0; i < infos.size(); ++i) {
      INFO(spec.variables[i].name);
      CHECK(infos[i].name == spec.variables[i].name);
      CHECK(infos[i].shape == spec.variables[i].shape);
      CHECK(infos[i].trainable == spec.variables[i].trainable);
      CHECK(infos[i].dtype == bundle::DataType::kFloat);
    }
    model.Initialize(1);
    const nn::Context ctx(2);
    const Tensor<float> images = RandomImages<float>(1, 300, 300, 3);
    const ssd::SsdPredictions<float> p = model.Forward(ctx, images);
    REQUIRE(p.box_encodings.size() == 1);
    CHECK(p.box_encodings[0].rows() == 1917);
    CHECK(p.class_predictions[0].rows() == 1917);
    CHECK(p.class_predictions[0].cols() == 91);
    CHECK(p.box_encodings[0].allFinite());
    CHECK(p.class_predictions[0].allFinite());
    const std::vector<ssd::GridSize> grids = model.feature_map_sizes();
    const std::vector<ssd::GridSize> want = {{19, 19}, {10, 10}, {5, 5}, {3, 3}, {2, 2}, {1, 1}};
    CHECK(grids == want);
  }
}

// ---- gradients -------------------------------------------------------------------------------

TEST_CASE("ssd model: loss gradient, MobileNet V1, batch norm training and frozen", "[ssd][model]") {
  // A 1x1 predictor conv (num_layers_before_predictor) with batch norm; 3x3 heads.
  const std::string bp = "num_layers_before_predictor: 1 max_depth: 16";
  const Tensor<double> images = RandomImages<double>(2, 40, 40, 13);
  const std::vector<ssd::VariableRole> all = {ssd::VariableRole::kWeights, ssd::VariableRole::kDepthwiseWeights,
                                              ssd::VariableRole::kBiases, ssd::VariableRole::kBatchNormBeta,
                                              ssd::VariableRole::kBatchNormGamma};
  SECTION("training") {
    SsdModel<double> m(GradientSpec("ssd_mobilenet_v1", "", bp));
    m.Initialize(11);
    RandomizeBatchNorm(m, 12);
    std::vector<ssd::VariableRole> roles;
    CHECK(CheckLossGradient(m, images, {"Conv2d_13_pointwise/", "BoxPredictor_5/"}, &roles) > 60);
    CHECK(HasAll(roles, all));
  }
  SECTION("frozen, MobileNet's own hyperparams in the body") {
    SsdModel<double> m(Spec(TinyConfig("ssd_mobilenet_v1", "", bp)));
    m.Initialize(11);
    RandomizeBatchNorm(m, 12);
    m.set_batch_norm_mode(nn::BatchNormMode::kFrozen);
    std::vector<ssd::VariableRole> roles;
    CHECK(CheckLossGradient(m, images, {"Conv2d_2_3x3_s2"}, &roles) > 50);
    CHECK(HasAll(roles, all));
  }
}

TEST_CASE("ssd model: loss gradient, MobileNet V2 (residuals), depthwise extras and heads", "[ssd][model]") {
  // use_depthwise in the extractor and the predictor; the predictor's _depthwise heads without
  // batch norm, so they carry biases.
  const Tensor<double> images = RandomImages<double>(2, 40, 40, 23);
  // expanded_conv (8 -> 8 at this multiplier), _2 and _12 add their input back.
  const std::vector<std::string> residual = {"expanded_conv/", "expanded_conv_2/", "expanded_conv_12/project",
                                             "layer_19_2_Conv2d_2_3x3_s2_128"};
  const std::vector<ssd::VariableRole> all = {ssd::VariableRole::kWeights, ssd::VariableRole::kDepthwiseWeights,
                                              ssd::VariableRole::kBiases, ssd::VariableRole::kBatchNormBeta,
                                              ssd::VariableRole::kBatchNormGamma};
  SECTION("training") {
    const ModelSpec spec = GradientSpec("ssd_mobilenet_v2", "use_depthwise: true", "use_depthwise: true", "NO_BN");
    REQUIRE(spec.Find("BoxPredictor_0/ClassPredictor_depthwise/biases") != nullptr);
    REQUIRE(spec.layers[2].name == "expanded_conv/project");
    REQUIRE(spec.layers[2].residual_input == 0);  // adds Conv's output
    SsdModel<double> m(spec);
    m.Initialize(21);
    RandomizeBatchNorm(m, 22);
    std::vector<ssd::VariableRole> roles;
    CHECK(CheckLossGradient(m, images, residual, &roles) > 60);
    CHECK(HasAll(roles, all));
  }
  SECTION("frozen, MobileNet's own hyperparams in the body") {
    SsdModel<double> m(Spec(TinyConfig("ssd_mobilenet_v2", "use_depthwise: true", "use_depthwise: true", "", "NO_BN")));
    m.Initialize(21);
    RandomizeBatchNorm(m, 22);
    m.set_batch_norm_mode(nn::BatchNormMode::kFrozen);
    std::vector<ssd::VariableRole> roles;
    CHECK(CheckLossGradient(m, images, residual, &roles) > 60);
    CHECK(HasAll(roles, all));
  }
}

TEST_CASE("ssd model: loss and input gradients with explicit padding and pad_to_multiple", "[ssd][model]") {
  // 37x35 images padded to 40x40 (pad_to_multiple 8); fixed_padding + VALID everywhere k > 1.
  const ModelSpec spec = Spec(TinyConfig("ssd_mobilenet_v1", "use_explicit_padding: true pad_to_multiple: 8"));
  SsdModel<double> m(spec);
  m.Initialize(31);
  const Tensor<double> images = RandomImages<double>(2, 37, 35, 33);
  CHECK(CheckLossGradient(m, images, {"Conv2d_0/", "Conv2d_13_pointwise_2_Conv2d_2"}) > 50);

  // d loss / d images.
  const nn::Context ctx(2);
  const Problem problem = MakeProblem(m.feature_map_sizes(), 2);
  const LossValue base = Loss(problem, m.Forward(ctx, images), 0);
  const Tensor<double> dimages = m.BackwardWithInputGradient(ctx, base.result.dbox_encodings, base.result.dclass_predictions);
  REQUIRE(nn::ShapeOf(dimages) == nn::ShapeOf(images));
  Tensor<double> x = images;
  for (const Index i : {Index(0), Index(5), Index(3 * 35 * 3 + 7), Index(images.size() - 1), Index(images.size() / 2)}) {
    const double saved = x.data()[i], h = 1e-6 / std::max(1.0, std::abs(dimages.data()[i]));
    x.data()[i] = saved + h;
    const double up = Loss(problem, m.Forward(ctx, x), 0).total;
    x.data()[i] = saved - h;
    const double down = Loss(problem, m.Forward(ctx, x), 0).total;
    x.data()[i] = saved;
    const double numeric = (up - down) / (2 * h);
    INFO("image element " << i << " analytic " << dimages.data()[i] << " numeric " << numeric);
    CHECK(std::abs(dimages.data()[i] - numeric) <= 1e-6 + 1e-4 * std::abs(numeric));
  }
}

// ---- anchor order ------------------------------------------------------------------------------

TEST_CASE("ssd model: predictions are in TF anchor order (map, y, x, anchor)", "[ssd][model]") {
  const ModelSpec spec = Spec(TinyConfig("ssd_mobilenet_v1"));
  SsdModel<double> m(spec);
  m.Initialize(41);
  const nn::Context ctx(2);
  const Index n_images = 2, k = spec.num_class_slots;
  const Tensor<double> images = RandomImages<double>(n_images, 48, 64, 42);  // non-square: H and W differ everywhere

  SECTION("head channel a * C + c is anchor a, code or class c") {
    // Zero head weights: every output is its bias, which encodes (map, anchor, channel).
    for (size_t mi = 0; mi < spec.feature_maps.size(); ++mi) {
      for (const int head : {m.box_head(mi), m.class_head(mi)}) {
        const std::string scope = spec.layers[static_cast<size_t>(head)].scope;
        m.parameters().Get(scope + "/weights").value.setZero();
        nn::Parameter<double>& b = m.parameters().Get(scope + "/biases");
        const Index c = head == m.box_head(mi) ? 4 : k;
        for (Index j = 0; j < b.NumElements(); ++j) b.value(j) = 1000.0 * mi + 10.0 * (j / c) + j % c;
      }
    }
    const ssd::SsdPredictions<double> p = m.Forward(ctx, images);
    const std::vector<ssd::GridSize> grids = m.feature_map_sizes();
    Index row = 0;
    for (size_t mi = 0; mi < grids.size(); ++mi) {
      const Index a_count = spec.feature_maps[mi].anchors_per_location;
      for (Index yx = 0; yx < grids[mi].height * grids[mi].width; ++yx) {
        for (Index a = 0; a < a_count; ++a, ++row) {
          for (Index n = 0; n < n_images; ++n) {
            for (Index c = 0; c < 4; ++c) REQUIRE(p.box_encodings[n](row, c) == 1000.0 * mi + 10.0 * a + c);
            for (Index c = 0; c < k; ++c) REQUIRE(p.class_predictions[n](row, c) == 1000.0 * mi + 10.0 * a + c);
          }
        }
      }
    }
    CHECK(row == p.box_encodings[0].rows());
  }

  SECTION("rows follow y, then x, then anchor, as the anchor generator tiles them") {
    const ssd::SsdPredictions<double> p = m.Forward(ctx, images);
    const std::vector<ssd::GridSize> grids = m.feature_map_sizes();
    CHECK(grids[0] == ssd::GridSize{3, 4});
    const ssd::BoxMatrix<double> anchors = TinyAnchors().Generate<double>(Grids(grids), 48, 64);
    REQUIRE(anchors.rows() == p.box_encodings[0].rows());
    Index row = 0;
    for (size_t mi = 0; mi < grids.size(); ++mi) {
      const Tensor<double>& box = m.LayerOutput(static_cast<size_t>(m.box_head(mi)));
      const Tensor<double>& cls = m.LayerOutput(static_cast<size_t>(m.class_head(mi)));
      const Index h = grids[mi].height, w = grids[mi].width, a_count = spec.feature_maps[mi].anchors_per_location;
      REQUIRE(nn::ShapeOf(box) == nn::Shape4{n_images, h, w, a_count * 4});
      for (Index y = 0; y < h; ++y) {
        for (Index x = 0; x < w; ++x) {
          for (Index a = 0; a < a_count; ++a, ++row) {
            // The anchor of this row is centred on cell (y, x).
            CHECK((anchors(row, 0) + anchors(row, 2)) / 2 == Approx((y + 0.5) / h));
            CHECK((anchors(row, 1) + anchors(row, 3)) / 2 == Approx((x + 0.5) / w));
            for (Index n = 0; n < n_images; ++n) {
              for (Index c = 0; c < 4; ++c) REQUIRE(p.box_encodings[n](row, c) == box(n, y, x, a * 4 + c));
              for (Index c = 0; c < k; ++c) REQUIRE(p.class_predictions[n](row, c) == cls(n, y, x, a * k + c));
            }
          }
        }
      }
    }
  }
}

// ---- padding -----------------------------------------------------------------------------------

TEST_CASE("ssd model: explicit padding pads (k-1)/2 on both sides, SAME pads after", "[ssd][model]") {
  // No batch norm and no activation anywhere in the body: Conv2d_0's output is the bare conv.
  const std::string fe = "override_base_feature_extractor_hyperparams: true";
  const std::string fe_hp = "NO_BN";
  const auto make = [&](bool explicit_padding) {
    std::string text = TinyConfig("ssd_mobilenet_v1", fe + (explicit_padding ? " use_explicit_padding: true" : ""), "", fe_hp);
    const size_t at = text.find("activation: RELU_6");
    text.replace(at, 18, "activation: NONE");
    return Spec(text);
  };
  const ModelSpec same_spec = make(false), explicit_spec = make(true);
  REQUIRE(explicit_spec.layers[0].padding == ssd::Padding::kExplicit);
  REQUIRE(explicit_spec.layers[0].activation == "NONE");
  REQUIRE(explicit_spec.layers[0].biases);
  SsdModel<double> same(same_spec), expl(explicit_spec);
  same.Initialize(51);
  CopyParameters(same, expl);
  const nn::Context ctx(1);
  const Tensor<double> images = RandomImages<double>(1, 40, 40, 52);
  same.Forward(ctx, images);
  expl.Forward(ctx, images);
  CHECK(same.feature_map_sizes() == expl.feature_map_sizes());
  const Tensor<double>& ys = same.LayerOutput(0);
  const Tensor<double>& ye = expl.LayerOutput(0);
  REQUIRE(nn::ShapeOf(ys) == nn::ShapeOf(ye));
  REQUIRE(ys.dimension(1) == 20);
  const nn::Parameter<double>& w = same.parameters().Get("FeatureExtractor/MobilenetV1/Conv2d_0/weights");
  const Index out = ys.dimension(3);
  // Output (oy, ox) of a stride-2 3x3 conv whose window starts at row 2*oy - top, column 2*ox - left.
  const auto conv = [&](Index oy, Index ox, Index top, Index left, Index o) {
    double sum = 0;
    for (Index ky = 0; ky < 3; ++ky) {
      for (Index kx = 0; kx < 3; ++kx) {
        const Index iy = 2 * oy - top + ky, ix = 2 * ox - left + kx;
        if (iy < 0 || iy >= 40 || ix < 0 || ix >= 40) continue;
        for (Index c = 0; c < 3; ++c) sum += images(0, iy, ix, c) * w.value(((ky * 3 + kx) * 3 + c) * out + o);
      }
    }
    return sum;
  };
  for (const Index o : {Index(0), out - 1}) {
    for (const auto& [oy, ox] : std::vector<std::pair<Index, Index>>{{0, 0}, {3, 7}, {19, 19}}) {
      CHECK(ys(0, oy, ox, o) == Approx(conv(oy, ox, 0, 0, o)).margin(1e-12));  // SAME at 40 -> 20: pad 0 before, 1 after
      CHECK(ye(0, oy, ox, o) == Approx(conv(oy, ox, 1, 1, o)).margin(1e-12));  // fixed_padding: 1 before, 1 after
    }
  }
}

TEST_CASE("ssd model: pad_to_multiple zero-pads the bottom and right", "[ssd][model]") {
  SsdModel<double> padded(Spec(TinyConfig("ssd_mobilenet_v2", "pad_to_multiple: 16")));
  SsdModel<double> plain(Spec(TinyConfig("ssd_mobilenet_v2")));
  padded.Initialize(61);
  CopyParameters(padded, plain);
  const nn::Context ctx(2);
  const Tensor<double> images = RandomImages<double>(2, 41, 35, 62);
  Tensor<double> by_hand(2, 48, 48, 3);
  by_hand.setZero();
  for (Index n = 0; n < 2; ++n)
    for (Index y = 0; y < 41; ++y)
      for (Index x = 0; x < 35; ++x)
        for (Index c = 0; c < 3; ++c) by_hand(n, y, x, c) = images(n, y, x, c);
  const ssd::SsdPredictions<double> a = padded.Forward(ctx, images);
  const ssd::SsdPredictions<double> b = plain.Forward(ctx, by_hand);
  CHECK(padded.feature_map_sizes() == plain.feature_map_sizes());
  for (Index n = 0; n < 2; ++n) {
    CHECK((a.box_encodings[n] - b.box_encodings[n]).cwiseAbs().maxCoeff() < 1e-12);
    CHECK((a.class_predictions[n] - b.class_predictions[n]).cwiseAbs().maxCoeff() < 1e-12);
  }
}

// ---- batch-norm modes ----------------------------------------------------------------------------

TEST_CASE("ssd model: inference and training modes", "[ssd][model]") {
  // Every batch norm from the config (override), decay 0 and not fused (V1): after one training
  // Forward the moving statistics are that batch's, so inference on the same batch matches.
  std::string text = TinyConfig("ssd_mobilenet_v1", "override_base_feature_extractor_hyperparams: true");
  for (size_t at = text.find("decay: 0.9"); at != std::string::npos; at = text.find("decay: 0.9", at)) text.replace(at, 10, "decay: 0.0");
  const ModelSpec spec = Spec(text);
  for (const ssd::Layer& l : spec.layers) {
    if (l.batch_norm.present) REQUIRE(l.batch_norm.decay == 0.0);
  }
  SsdModel<double> m(spec);
  m.Initialize(71);
  const nn::Context ctx(2);
  const Tensor<double> images = RandomImages<double>(2, 40, 40, 72);
  const std::string mean_name = "FeatureExtractor/MobilenetV1/Conv2d_3_depthwise/BatchNorm/moving_mean";

  m.set_batch_norm_mode(nn::BatchNormMode::kInference);
  const ssd::SsdPredictions<double> before = m.Forward(ctx, images);
  CHECK(m.parameters().Get(mean_name).value.isZero());
  CHECK_THROWS_WITH(m.Backward(ctx, before.box_encodings, before.class_predictions), Catch::Contains("inference-mode Forward"));

  m.set_batch_norm_mode(nn::BatchNormMode::kTraining);
  const ssd::SsdPredictions<double> train = m.Forward(ctx, images);
  CHECK_FALSE(m.parameters().Get(mean_name).value.isZero());
  CHECK((train.class_predictions[0] - before.class_predictions[0]).cwiseAbs().maxCoeff() > 1e-3);

  m.set_batch_norm_mode(nn::BatchNormMode::kInference);
  const ssd::SsdPredictions<double> after = m.Forward(ctx, images);
  m.set_batch_norm_mode(nn::BatchNormMode::kFrozen);
  const nn::Parameter<double>::Array frozen_mean = m.parameters().Get(mean_name).value;
  const ssd::SsdPredictions<double> frozen = m.Forward(ctx, images);
  CHECK((m.parameters().Get(mean_name).value - frozen_mean).abs().maxCoeff() == 0);
  for (Index n = 0; n < 2; ++n) {
    CHECK((after.box_encodings[n] - train.box_encodings[n]).cwiseAbs().maxCoeff() < 1e-8);
    CHECK((after.class_predictions[n] - train.class_predictions[n]).cwiseAbs().maxCoeff() < 1e-8);
    CHECK((frozen.class_predictions[n] - after.class_predictions[n]).cwiseAbs().maxCoeff() == 0);
  }
  m.parameters().ZeroGradients();
  m.Backward(ctx, frozen.box_encodings, frozen.class_predictions);  // kFrozen trains gamma and beta
  CHECK_FALSE(m.parameters().Get("FeatureExtractor/MobilenetV1/Conv2d_3_depthwise/BatchNorm/gamma").gradient.isZero());
}

TEST_CASE("ssd model: batch_norm { train: false } keeps those layers on moving statistics", "[ssd][model]") {
  std::string text = TinyConfig("ssd_mobilenet_v2");
  text.replace(text.find("train: true"), 11, "train: false");  // the feature extractor's block: extra layers
  const ModelSpec spec = Spec(text);
  SsdModel<double> m(spec);
  m.Initialize(81);
  const nn::Context ctx(1);
  m.Forward(ctx, RandomImages<double>(2, 40, 40, 82));
  CHECK_FALSE(m.parameters().Get("FeatureExtractor/MobilenetV2/Conv/BatchNorm/moving_mean").value.isZero());
  CHECK(m.parameters().Get("FeatureExtractor/MobilenetV2/layer_19_1_Conv2d_2_1x1_64/BatchNorm/moving_mean").value.isZero());
}

// ---- initialisation and regularization -----------------------------------------------------------

TEST_CASE("ssd model: the spec carries each part's hyperparams", "[ssd][model]") {
  const auto layer = [](const ModelSpec& s, const std::string& name) -> const ssd::Layer& {
    for (const ssd::Layer& l : s.layers) {
      if (l.name == name) return l;
    }
    FAIL("no layer " << name);
    return s.layers[0];
  };
  const ModelSpec v1 = Spec(TinyConfig("ssd_mobilenet_v1", "", "class_prediction_bias_init: -2.5"));
  // Body: mobilenet_v1_arg_scope(regularize_depthwise=True), not fused.
  for (const char* name : {"Conv2d_0", "Conv2d_5_depthwise"}) {
    const ssd::Layer& l = layer(v1, name);
    CHECK(l.initializer.kind == ssd::InitializerKind::kTruncatedNormal);
    CHECK(l.initializer.stddev == 0.09);
    CHECK(l.regularizer.kind == ssd::RegularizerKind::kL2);
    CHECK(l.regularizer.weight == 0.00004);
    CHECK(l.batch_norm.decay == 0.9997);
    CHECK(l.batch_norm.epsilon == 0.001);
    CHECK_FALSE(l.batch_norm.fused);
  }
  // Extra layers: the config's block (float32 values widened), still not fused in V1.
  const ssd::Layer& extra = layer(v1, "Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_128");
  CHECK(extra.initializer.kind == ssd::InitializerKind::kVarianceScaling);
  CHECK(extra.initializer.factor == 1.0);
  CHECK(extra.initializer.mode == ssd::FanMode::kFanIn);
  CHECK_FALSE(extra.initializer.uniform);
  CHECK(extra.regularizer.weight == static_cast<double>(0.01f));
  CHECK(extra.batch_norm.decay == static_cast<double>(0.9f));
  CHECK_FALSE(extra.batch_norm.fused);
  // Heads: the predictor's initializer and regularizer, the class bias.
  const ssd::Layer& cls = layer(v1, "ClassPredictor");
  CHECK(cls.regularizer.kind == ssd::RegularizerKind::kL2);
  CHECK(cls.bias_init == -2.5);
  CHECK(layer(v1, "BoxEncodingPredictor").bias_init == 0.0);

  // V2: depthwise body kernels unregularized, batch norm fused everywhere.
  const ModelSpec v2 = Spec(TinyConfig("ssd_mobilenet_v2", "", "use_depthwise: true class_prediction_bias_init: -2.5"));
  CHECK(layer(v2, "expanded_conv_4/depthwise").regularizer.kind == ssd::RegularizerKind::kNone);
  CHECK(layer(v2, "expanded_conv_4/expand").regularizer.weight == 0.00004);
  CHECK(layer(v2, "expanded_conv_4/expand").batch_norm.fused);
  CHECK(layer(v2, "layer_19_1_Conv2d_3_1x1_32").batch_norm.fused);
  CHECK(layer(v2, "ClassPredictor_depthwise").regularizer.kind == ssd::RegularizerKind::kL2);
  CHECK(layer(v2, "ClassPredictor").bias_init == 0.0);  // class_head.py: no bias init after a depthwise head

  // The override hands the body the config's initializer, regularizer and batch norm.
  const ModelSpec o = Spec(TinyConfig("ssd_mobilenet_v2", "override_base_feature_extractor_hyperparams: true"));
  CHECK(layer(o, "expanded_conv_4/depthwise").regularizer.weight == static_cast<double>(0.01f));
  CHECK(layer(o, "Conv").initializer.kind == ssd::InitializerKind::kVarianceScaling);
  CHECK(layer(o, "Conv").batch_norm.decay == static_cast<double>(0.9f));
  CHECK(layer(o, "Conv").batch_norm.scale);
}

TEST_CASE("ssd model: Initialize is deterministic and follows the initializers", "[ssd][model]") {
  // Extra layers: truncated_normal(0.3); box predictor: uniform variance scaling over FAN_AVG.
  std::string text = TinyConfig("ssd_mobilenet_v2", "", "class_prediction_bias_init: -4.6");
  const std::string vs = "initializer { variance_scaling_initializer { factor: 1.0 } }";
  const size_t first = text.find(vs);
  text.replace(first, vs.size(), "initializer { truncated_normal_initializer { stddev: 0.3 } }");
  const size_t second = text.find(vs);
  text.replace(second, vs.size(), "initializer { variance_scaling_initializer { factor: 1.0 mode: FAN_AVG uniform: true } }");
  const ModelSpec spec = Spec(text);
  SsdModel<float> a(spec), b(spec), c(spec);
  a.Initialize(7);
  b.Initialize(7);
  c.Initialize(8);
  for (size_t i = 0; i < spec.variables.size(); ++i) {
    INFO(spec.variables[i].name);
    CHECK((a.parameters().all()[i]->value == b.parameters().all()[i]->value).all());
  }
  const auto& w = a.parameters().Get("FeatureExtractor/MobilenetV2/expanded_conv_5/expand/weights").value;  // [1, 1, 8, 48]
  CHECK_FALSE((w == c.parameters().Get("FeatureExtractor/MobilenetV2/expanded_conv_5/expand/weights").value).all());
  // Body: truncated_normal(0.09), all within 2 stddev, spread about 0.88 stddev.
  CHECK(w.abs().maxCoeff() <= 0.18f);
  const double sd = std::sqrt(static_cast<double>(w.square().mean()));
  CHECK(sd == Approx(0.0795).epsilon(0.15));
  // Extra layers: the config's truncated_normal(0.3).
  const auto& e = a.parameters().Get("FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_2_3x3_s2_128/weights").value;
  CHECK(e.abs().maxCoeff() <= 0.6f);
  CHECK(e.abs().maxCoeff() > 0.3f);
  // Predictor: variance scaling, uniform in +-sqrt(3 / n), n = (fan_in + fan_out) / 2.
  const nn::Parameter<float>& h = a.parameters().Get("BoxPredictor_1/ClassPredictor/weights");  // [3,3,C,A*K]
  const double n = (9.0 * h.shape[2] + 9.0 * h.shape[3]) / 2;
  CHECK(h.value.abs().maxCoeff() <= std::sqrt(3.0 / n));
  CHECK(h.value.abs().maxCoeff() > 0.9 * std::sqrt(3.0 / n));
  CHECK((a.parameters().Get("BoxPredictor_1/ClassPredictor/biases").value == -4.6f).all());
  CHECK(a.parameters().Get("BoxPredictor_1/BoxEncodingPredictor/biases").value.isZero());
  CHECK((a.parameters().Get("FeatureExtractor/MobilenetV2/Conv/BatchNorm/gamma").value == 1.0f).all());
  CHECK((a.parameters().Get("FeatureExtractor/MobilenetV2/Conv/BatchNorm/moving_variance").value == 1.0f).all());
  CHECK(a.parameters().Get("FeatureExtractor/MobilenetV2/Conv/BatchNorm/beta").value.isZero());
}

TEST_CASE("ssd model: regularization covers kernels as slim's arg_scopes do", "[ssd][model]") {
  // V2 body: training_scope's l2(0.00004) on convs, none on depthwise; extra layers and predictor:
  // the config's l2(0.01) on every kernel, depthwise included. Never biases or batch norm.
  const ModelSpec spec = Spec(TinyConfig("ssd_mobilenet_v2", "use_depthwise: true", "use_depthwise: true"));
  SsdModel<double> m(spec);
  m.Initialize(91);
  double want = 0;
  for (const ssd::Variable& v : spec.variables) {
    if (v.role != ssd::VariableRole::kWeights && v.role != ssd::VariableRole::kDepthwiseWeights) continue;
    const ssd::Layer& l = spec.layers[v.layer];
    double weight = 0.01;
    if (l.part == ssd::ModelPart::kBody) weight = v.role == ssd::VariableRole::kWeights ? 0.00004 : 0.0;
    // The config's weight is a proto float: Python widens float32(0.01).
    if (weight == 0.01) weight = static_cast<double>(0.01f);
    want += weight * 0.5 * m.parameters().Get(v.name).value.square().sum();
  }
  CHECK(m.RegularizationLoss() == Approx(want).epsilon(1e-12));
  m.parameters().ZeroGradients();
  m.AddRegularizationGradient();
  const nn::Parameter<double>& pw = m.parameters().Get("FeatureExtractor/MobilenetV2/Conv_1/weights");
  CHECK((pw.gradient - 0.00004 * pw.value).abs().maxCoeff() < 1e-18);
  CHECK(m.parameters().Get("FeatureExtractor/MobilenetV2/expanded_conv_3/depthwise/depthwise_weights").gradient.isZero());
  const nn::Parameter<double>& dw = m.parameters().Get("BoxPredictor_2/ClassPredictor_depthwise/depthwise_weights");
  CHECK((dw.gradient - static_cast<double>(0.01f) * dw.value).abs().maxCoeff() < 1e-15);
  CHECK(m.parameters().Get("BoxPredictor_2/ClassPredictor/biases").gradient.isZero());
}

TEST_CASE("ssd model: refusals", "[ssd][model]") {
  ModelSpec spec = Spec(TinyConfig("ssd_mobilenet_v1"));
  SsdModel<float> m(spec);
  const nn::Context ctx(1);
  CHECK_THROWS_WITH(m.Backward(ctx, {}, {}), Catch::Contains("Backward without a Forward"));
  CHECK_THROWS_WITH(m.Forward(ctx, Tensor<float>(1, 40, 40, 4)), Catch::Contains("[N, H, W, 3]"));
  CHECK_THROWS_WITH(m.Forward(ctx, Tensor<float>(1, 32, 40, 3)), Catch::Contains("at least 33 pixels"));
  const ssd::SsdPredictions<float> p = m.Forward(ctx, RandomImages<float>(1, 40, 40, 1));
  CHECK_THROWS_WITH(m.Backward(ctx, p.box_encodings, {}), Catch::Contains("Backward expects 1 box gradients"));
  ModelSpec swish = spec;
  swish.layers[3].activation = "SWISH";
  CHECK_THROWS_WITH(SsdModel<float>(swish), Catch::Contains("activation SWISH"));
  ModelSpec sigmoid = spec;
  sigmoid.apply_sigmoid_to_scores = true;
  CHECK_THROWS_WITH(SsdModel<float>(sigmoid), Catch::Contains("apply_sigmoid_to_scores"));
}
