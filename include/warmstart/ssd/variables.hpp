// The variables of a TF1 (slim) Object Detection API SSD model, built from its pipeline.config
// (docs/ssd-model.md; spec §6):
//
//   model.ssd                      ModelSpec
//     feature_extractor              layers of parts kBody (MobileNet) and kExtra (the SSD layers
//                                    added after it), all under FeatureExtractor/<MobilenetV1|V2>/
//     box_predictor                  layers of part kBoxPredictor, under BoxPredictor_<i>/
//     anchor_generator               anchors per location of each feature map
//     image_resizer                  the input size, hence the feature-map grids and anchor count
//
// Each Layer is one slim conv2d or depthwise conv (separable_conv2d with num_outputs=None) with
// the batch norm or biases that follow it; each Variable is one tensor a TF1 graph of that model
// holds, named as the Saver writes it, with its shape, dtype (always DT_FLOAT) and trainable
// flag. The list is in graph-creation order; a zoo or exported checkpoint holds exactly these
// names plus global_step.
//
// Sources mirrored (tensorflow/models research/): object_detection/models/
// ssd_mobilenet_v{1,2}_feature_extractor.py, feature_map_generators.py
// (multi_resolution_feature_maps), predictors/convolutional_box_predictor.py,
// predictors/heads/{box,class}_head.py, builders/{hyperparams,box_predictor}_builder.py,
// anchor_generators/multiple_grid_anchor_generator.py (create_ssd_anchors);
// slim/nets/mobilenet_v1.py, slim/nets/mobilenet/{mobilenet,mobilenet_v2,conv_blocks}.py.
//
// Shapes: conv weights [k, k, in, out]; depthwise weights [k, k, in, 1]; biases and batch norm
// [out]. H, W below are image or grid heights and widths.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/error.hpp"
#include "warmstart/restore/variables.hpp"

namespace warmstart::ssd {

using Shape = std::vector<int64_t>;

// The feature extractor types this builder knows.
inline constexpr std::string_view kSsdMobilenetV1 = "ssd_mobilenet_v1";
inline constexpr std::string_view kSsdMobilenetV2 = "ssd_mobilenet_v2";

enum class ModelPart { kBody, kExtra, kBoxPredictor };
enum class LayerOp { kConv2d, kDepthwiseConv2d };
// kExplicit: ops.fixed_padding then a VALID conv (use_explicit_padding); same output size as SAME.
enum class Padding { kSame, kExplicit };
enum class VariableRole {
  kWeights,
  kDepthwiseWeights,
  kBiases,
  kBatchNormBeta,
  kBatchNormGamma,
  kBatchNormMovingMean,
  kBatchNormMovingVariance
};

inline const char* ModelPartName(ModelPart p) {
  switch (p) {
    case ModelPart::kBody: return "body";
    case ModelPart::kExtra: return "extra";
    case ModelPart::kBoxPredictor: return "box_predictor";
  }
  return "";
}

// The variable's last name component, as slim names it.
inline const char* VariableRoleName(VariableRole r) {
  switch (r) {
    case VariableRole::kWeights: return "weights";
    case VariableRole::kDepthwiseWeights: return "depthwise_weights";
    case VariableRole::kBiases: return "biases";
    case VariableRole::kBatchNormBeta: return "beta";
    case VariableRole::kBatchNormGamma: return "gamma";
    case VariableRole::kBatchNormMovingMean: return "moving_mean";
    case VariableRole::kBatchNormMovingVariance: return "moving_variance";
  }
  return "";
}

// A slim batch_norm after a conv: beta when center, gamma when scale; the moving statistics
// always. A conv with batch norm has no biases. decay and epsilon are slim.batch_norm's (the
// config's float32 widened to double, or the MobileNet arg_scope's 0.9997 / 0.001); train = false
// (BatchNorm.train in the config) keeps the layer on its moving statistics while training;
// fused = false is the non-fused slim path, whose moving variance is fed the biased batch
// variance (the V1 extractor sets fused=False; docs/nn.md has the Bessel-correction story).
struct BatchNormSpec {
  bool present = false;
  bool center = false;
  bool scale = false;
  double decay = 0.999;    // slim.batch_norm default; every OD API path sets it
  double epsilon = 0.001;
  bool train = true;
  bool fused = true;
};

// The weights initializer of a layer (hyperparams_builder._build_initializer, or the MobileNet
// arg_scopes' truncated_normal_initializer(stddev=0.09)). The default, used when a config's
// hyperparams name no initializer (TF raises there), is slim.conv2d's own default,
// xavier_initializer() = variance scaling with factor 1, FAN_AVG, uniform.
enum class InitializerKind { kTruncatedNormal, kRandomNormal, kVarianceScaling };
enum class FanMode { kFanIn, kFanOut, kFanAvg };
struct InitializerSpec {
  InitializerKind kind = InitializerKind::kVarianceScaling;
  double mean = 0.0;    // normal kinds
  double stddev = 1.0;  // normal kinds
  double factor = 1.0;  // variance scaling (proto default 2.0 when written)
  FanMode mode = FanMode::kFanAvg;  // variance scaling (proto default FAN_IN when written)
  bool uniform = true;              // variance scaling (proto default false when written)
};

// The weights regularizer: slim.l2_regularizer(w) adds w * sum(x^2) / 2, slim.l1_regularizer(w)
// w * sum(|x|). slim regularizes weights and depthwise_weights only, never biases or batch norm.
enum class RegularizerKind { kNone, kL1, kL2 };
struct RegularizerSpec {
  RegularizerKind kind = RegularizerKind::kNone;
  double weight = 0.0;
};

// One convolution with what follows it (batch norm or biases, then the activation).
struct Layer {
  std::string scope;  // variable scope: "FeatureExtractor/MobilenetV1/Conv2d_1_depthwise"
  std::string name;   // the scope inside its part: "Conv2d_1_depthwise", "expanded_conv_3/expand", "ClassPredictor"
  ModelPart part = ModelPart::kBody;
  LayerOp op = LayerOp::kConv2d;
  int64_t kernel = 1;  // square kernel
  int64_t stride = 1;
  Padding padding = Padding::kSame;
  int64_t in_channels = 0;
  int64_t out_channels = 0;  // == in_channels for a depthwise conv (channel multiplier 1)
  BatchNormSpec batch_norm;
  bool biases = false;
  std::string activation;  // Hyperparams.activation name: "RELU_6", "RELU", "NONE"
  // What feeds the layer: the output of layer `input`, or with input == -1 the preprocessed
  // image (first body layer) or feature map `input_feature_map` (first layers of a predictor).
  int input = -1;
  int input_feature_map = -1;
  // MobileNet V2 residual: after this layer, add the output of layer `residual_input` (-1: none).
  int residual_input = -1;
  // This layer's output (after batch norm and activation) is feature map `feature_map` (-1: none).
  int feature_map = -1;
  // Box predictor layers: the feature map they predict from.
  int predictor_index = -1;
  // How the variables start and which are regularized (SsdModel::Initialize, RegularizationLoss).
  InitializerSpec initializer;  // weights / depthwise_weights
  RegularizerSpec regularizer;  // weights / depthwise_weights
  double bias_init = 0.0;       // biases: 0, or class_prediction_bias_init for a plain ClassPredictor
};

struct Variable {
  std::string name;
  bundle::DataType dtype = bundle::DataType::kFloat;
  Shape shape;
  bool trainable = true;
  VariableRole role = VariableRole::kWeights;
  size_t layer = 0;  // index into ModelSpec::layers
};

struct FeatureMap {
  std::string key;  // multi_resolution_feature_maps key: "Conv2d_11_pointwise", "layer_15/expansion_output",
                    // "Conv2d_13_pointwise_2_Conv2d_2_3x3_s2_512"
  size_t layer = 0; // the layer that produces it
  int64_t depth = 0;
  int64_t anchors_per_location = 0;
};

struct GridSize {
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const GridSize& o) const { return height == o.height && width == o.width; }
};

struct ModelSpec {
  std::string feature_extractor_type;  // "ssd_mobilenet_v1" / "ssd_mobilenet_v2"
  std::string scope;                   // "FeatureExtractor/MobilenetV1" / "FeatureExtractor/MobilenetV2"
  double depth_multiplier = 1.0;
  int64_t min_depth = 0;
  int64_t pad_to_multiple = 1;
  bool use_depthwise = false;          // feature_extractor.use_depthwise (the extra layers)
  bool use_explicit_padding = false;
  int64_t num_classes = 0;
  int64_t num_class_slots = 0;         // num_classes + 1 with add_background_class
  int64_t box_code_size = 4;
  int64_t input_height = 0, input_width = 0;  // fixed_shape_resizer; 0 for any other resizer
  bool freeze_batchnorm = false;       // model.ssd.freeze_batchnorm: train with SsdModel in kFrozen
  bool apply_sigmoid_to_scores = false;  // convolutional_box_predictor: sigmoid on the class head
  bool use_dropout = false;              // convolutional_box_predictor: dropout before the class head
  double dropout_keep_probability = 0.8;

  std::vector<Layer> layers;
  std::vector<FeatureMap> feature_maps;
  std::vector<Variable> variables;

  const Variable* Find(std::string_view name) const {
    for (const Variable& v : variables) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }
  size_t NumTrainable() const {
    return static_cast<size_t>(std::count_if(variables.begin(), variables.end(), [](const Variable& v) { return v.trainable; }));
  }
  // The list the restore policy engine takes (restore/plan.hpp).
  std::vector<restore::ModelVariable> ModelVariables() const {
    std::vector<restore::ModelVariable> out;
    out.reserve(variables.size());
    for (const Variable& v : variables) {
      restore::ModelVariable m;
      m.name = v.name;
      m.dtype = v.dtype;
      m.shape = v.shape;
      m.trainable = v.trainable;
      out.push_back(std::move(m));
    }
    return out;
  }
};

// ---- depths ---------------------------------------------------------------------------

// mobilenet_v1_base and feature_map_generators.get_depth_fn: max(int(d * m), min_depth).
// `m` is the config's float32 widened to double, as Python sees it.
inline int64_t ScaledDepth(int64_t d, double m, int64_t min_depth) {
  return std::max(static_cast<int64_t>(static_cast<double>(d) * m), min_depth);
}

// mobilenet.py / conv_blocks.py _make_divisible: round v to the nearest multiple of divisor (at
// least min_value), then add a divisor if that lost more than 10%.
inline int64_t MakeDivisible(double v, int64_t divisor, int64_t min_value) {
  int64_t rounded = static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0) / divisor * divisor;
  int64_t out = std::max(min_value, rounded);
  if (static_cast<double>(out) < 0.9 * v) out += divisor;
  return out;
}

// ---- anchors --------------------------------------------------------------------------

// create_ssd_anchors: boxes per location of each layer. Layer 0 with reduce_boxes_in_lowest_layer
// has the 3 fixed boxes (0.1, 1.0), (s0, 2.0), (s0, 0.5); every other layer one box per aspect
// ratio, plus one at sqrt(s_i * s_i+1) when interpolated_scale_aspect_ratio > 0. Explicit
// `scales` shorter than num_layers give fewer layers (Python's zip).
inline std::vector<int64_t> AnchorsPerLocation(const config::SsdAnchorGeneratorConfig& a) {
  int64_t layers = a.num_layers;
  if (!a.scales.empty()) layers = std::min<int64_t>(layers, static_cast<int64_t>(a.scales.size()));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < layers; ++i) {
    if (i == 0 && a.reduce_boxes_in_lowest_layer) {
      out.push_back(3);
    } else {
      out.push_back(static_cast<int64_t>(a.aspect_ratios.size()) + (a.interpolated_scale_aspect_ratio > 0 ? 1 : 0));
    }
  }
  return out;
}

namespace detail {

inline std::string Join(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::string_view s : items) out += (out.empty() ? "" : ", ") + std::string(s);
  return out;
}

// hyperparams_builder: a `batch_norm` block gives slim.batch_norm with its center/scale, decay,
// epsilon and train; none gives no normalizer, so convs get biases.
inline BatchNormSpec BatchNormOf(const config::HyperparamsConfig& hp) {
  if (!hp.batch_norm) return {};
  BatchNormSpec bn;
  bn.present = true;
  bn.center = hp.batch_norm->center;
  bn.scale = hp.batch_norm->scale;
  bn.decay = static_cast<double>(hp.batch_norm->decay);
  bn.epsilon = static_cast<double>(hp.batch_norm->epsilon);
  bn.train = hp.batch_norm->train;
  return bn;
}
inline std::string ActivationOf(const config::HyperparamsConfig& hp) {
  return hp.activation.empty() ? "NONE" : hp.activation;
}

// hyperparams_builder._build_initializer. The variance-scaling fields are not in
// HyperparamsConfig: `variance_scaling` carries them (proto defaults unless the caller read them).
inline InitializerSpec InitializerOf(const config::HyperparamsConfig& hp, const InitializerSpec& variance_scaling) {
  InitializerSpec init;
  if (hp.initializer == "truncated_normal_initializer" || hp.initializer == "random_normal_initializer") {
    init.kind = hp.initializer == "random_normal_initializer" ? InitializerKind::kRandomNormal : InitializerKind::kTruncatedNormal;
    init.mean = static_cast<double>(hp.initializer_mean);
    init.stddev = static_cast<double>(hp.initializer_stddev);
  } else if (hp.initializer == "variance_scaling_initializer") {
    init = variance_scaling;
    init.kind = InitializerKind::kVarianceScaling;
  }
  return init;
}

// hyperparams_builder._build_slim_regularizer (none when the config names none).
inline RegularizerSpec RegularizerOf(const config::HyperparamsConfig& hp) {
  if (hp.regularizer == "l1_regularizer") return {RegularizerKind::kL1, static_cast<double>(hp.regularizer_weight)};
  if (hp.regularizer == "l2_regularizer") return {RegularizerKind::kL2, static_cast<double>(hp.regularizer_weight)};
  return {};
}

// How the conv layers of one part are set up (normalizer, activation, padding, initializer,
// regularizers). depthwise_regularizer applies to depthwise layers: MobileNet V2's
// training_scope sets weights_regularizer=None for slim.separable_conv2d.
struct LayerStyle {
  BatchNormSpec batch_norm;
  std::string activation;
  Padding padding = Padding::kSame;
  InitializerSpec initializer;
  RegularizerSpec regularizer;
  RegularizerSpec depthwise_regularizer;
};

// The style of a part set up by a config's conv_hyperparams (extra layers, box predictor, an
// overridden body).
inline LayerStyle StyleOf(const config::HyperparamsConfig& hp, Padding padding, const InitializerSpec& variance_scaling) {
  LayerStyle s;
  s.batch_norm = BatchNormOf(hp);
  s.activation = ActivationOf(hp);
  s.padding = padding;
  s.initializer = InitializerOf(hp, variance_scaling);
  s.regularizer = RegularizerOf(hp);
  s.depthwise_regularizer = s.regularizer;
  return s;
}

// mobilenet_v1_arg_scope and mobilenet.training_scope (as the SSD extractors call them):
// weight_decay 0.00004, truncated_normal(stddev=0.09), batch norm decay 0.9997 (V1's default;
// V2's extractor passes bn_decay=0.9997), epsilon 0.001, center and scale.
inline LayerStyle MobilenetDefaultStyle(Padding padding) {
  LayerStyle s;
  s.batch_norm.present = s.batch_norm.center = s.batch_norm.scale = true;
  s.batch_norm.decay = 0.9997;
  s.batch_norm.epsilon = 0.001;
  s.activation = "RELU_6";
  s.padding = padding;
  s.initializer.kind = InitializerKind::kTruncatedNormal;
  s.initializer.stddev = 0.09;
  s.regularizer = {RegularizerKind::kL2, 0.00004};
  s.depthwise_regularizer = s.regularizer;
  return s;
}

// Appends layers and their variables to a ModelSpec.
class SpecBuilder {
 public:
  explicit SpecBuilder(ModelSpec* spec) : spec_(spec) {}

  // Requires: l.scope, op, kernel, channels, batch_norm, biases set.
  int Add(Layer l) {
    const size_t index = spec_->layers.size();
    const int64_t k = l.kernel;
    if (l.op == LayerOp::kDepthwiseConv2d) {
      l.out_channels = l.in_channels;
      AddVariable(l.scope + "/depthwise_weights", {k, k, l.in_channels, 1}, true, VariableRole::kDepthwiseWeights, index);
    } else {
      AddVariable(l.scope + "/weights", {k, k, l.in_channels, l.out_channels}, true, VariableRole::kWeights, index);
    }
    if (l.biases) AddVariable(l.scope + "/biases", {l.out_channels}, true, VariableRole::kBiases, index);
    if (l.batch_norm.present) {
      const std::string bn = l.scope + "/BatchNorm/";
      const Shape c = {l.out_channels};
      if (l.batch_norm.center) AddVariable(bn + "beta", c, true, VariableRole::kBatchNormBeta, index);
      if (l.batch_norm.scale) AddVariable(bn + "gamma", c, true, VariableRole::kBatchNormGamma, index);
      AddVariable(bn + "moving_mean", c, false, VariableRole::kBatchNormMovingMean, index);
      AddVariable(bn + "moving_variance", c, false, VariableRole::kBatchNormMovingVariance, index);
    }
    spec_->layers.push_back(std::move(l));
    return static_cast<int>(index);
  }

  // A layer of `part` named `name` under `prefix` with `style`; the caller fills the geometry.
  static Layer Make(const std::string& prefix, const std::string& name, ModelPart part, const LayerStyle& style) {
    Layer l;
    l.scope = prefix.empty() ? name : prefix + "/" + name;
    l.name = name;
    l.part = part;
    l.batch_norm = style.batch_norm;
    l.biases = !style.batch_norm.present;
    l.activation = style.activation;
    l.padding = style.padding;
    l.initializer = style.initializer;
    l.regularizer = style.regularizer;
    return l;
  }
  // As Make, for a depthwise layer (its regularizer is the style's depthwise one).
  static Layer MakeDepthwise(const std::string& prefix, const std::string& name, ModelPart part, const LayerStyle& style) {
    Layer l = Make(prefix, name, part, style);
    l.regularizer = style.depthwise_regularizer;
    return l;
  }

  const Layer& layer(int i) const { return spec_->layers[static_cast<size_t>(i)]; }

 private:
  void AddVariable(std::string name, Shape shape, bool trainable, VariableRole role, size_t layer) {
    Variable v;
    v.name = std::move(name);
    v.shape = std::move(shape);
    v.trainable = trainable;
    v.role = role;
    v.layer = layer;
    spec_->variables.push_back(std::move(v));
  }

  ModelSpec* spec_;
};

inline Layer Conv(Layer l, LayerOp op, int64_t kernel, int64_t stride, int64_t in, int64_t out, int input) {
  l.op = op;
  l.kernel = kernel;
  l.stride = stride;
  l.in_channels = in;
  l.out_channels = out;
  l.input = input;
  return l;
}

// ---- MobileNet V1 body (mobilenet_v1.py MOBILENETV1_CONV_DEFS) -------------------------

struct V1Block {
  int64_t stride;
  int64_t depth;
};
// Conv2d_0 is a 3x3 conv of stride 2 and depth 32; Conv2d_1..13 are depthwise 3x3 + pointwise.
inline constexpr V1Block kV1Separable[13] = {{1, 64},  {2, 128}, {1, 128}, {2, 256}, {1, 256}, {2, 512},  {1, 512},
                                             {1, 512}, {1, 512}, {1, 512}, {1, 512}, {2, 1024}, {1, 1024}};

// The body's layer style: mobilenet_v1_arg_scope(regularize_depthwise=True) (batch norm with
// center and scale, RELU_6, every weight regularized), or with
// override_base_feature_extractor_hyperparams the feature extractor's conv_hyperparams, whose
// arg_scope is the inner one. Batch norm is not fused (the extractor's arg_scope says
// fused=False).
inline LayerStyle V1BodyStyle(const config::SsdFeatureExtractorConfig& fe, Padding padding, const InitializerSpec& variance_scaling) {
  LayerStyle s = fe.override_base_feature_extractor_hyperparams ? StyleOf(fe.conv_hyperparams, padding, variance_scaling)
                                                                : MobilenetDefaultStyle(padding);
  s.batch_norm.fused = false;
  return s;
}

// Returns the layer indices of the two base feature maps (Conv2d_11_pointwise, Conv2d_13_pointwise).
inline std::pair<int, int> BuildMobilenetV1Body(SpecBuilder& b, const ModelSpec& spec, const LayerStyle& style) {
  const double m = spec.depth_multiplier;
  const int64_t md = spec.min_depth;
  int last = b.Add(Conv(SpecBuilder::Make(spec.scope, "Conv2d_0", ModelPart::kBody, style), LayerOp::kConv2d, 3, 2, 3,
                        ScaledDepth(32, m, md), -1));
  std::pair<int, int> maps{-1, -1};
  for (int i = 1; i <= 13; ++i) {
    const V1Block& d = kV1Separable[i - 1];
    const std::string base = "Conv2d_" + std::to_string(i);
    const int64_t in = b.layer(last).out_channels;
    last = b.Add(Conv(SpecBuilder::MakeDepthwise(spec.scope, base + "_depthwise", ModelPart::kBody, style), LayerOp::kDepthwiseConv2d,
                      3, d.stride, in, in, last));
    Layer pw = SpecBuilder::Make(spec.scope, base + "_pointwise", ModelPart::kBody, style);
    pw.padding = Padding::kSame;
    last = b.Add(Conv(std::move(pw), LayerOp::kConv2d, 1, 1, in, ScaledDepth(d.depth, m, md), last));
    if (i == 11) maps.first = last;
    if (i == 13) maps.second = last;
  }
  return maps;
}

// ---- MobileNet V2 body (mobilenet_v2.py V2_DEF, conv_blocks.py expanded_conv) ----------

struct V2Block {
  int64_t stride;
  int64_t depth;
};
// expanded_conv .. expanded_conv_16 (the first expands by 1, i.e. has no expand conv; the
// others by 6), between Conv (3x3, stride 2, 32) and Conv_1 (1x1, 1280).
inline constexpr V2Block kV2Blocks[17] = {{1, 16}, {2, 24}, {1, 24}, {2, 32}, {1, 32}, {1, 32},  {2, 64},  {1, 64},  {1, 64},
                                          {1, 64}, {1, 96}, {1, 96}, {1, 96}, {2, 160}, {1, 160}, {1, 160}, {1, 320}};

// One expanded_conv block: [expand 1x1] -> depthwise 3x3 -> project 1x1 (no activation), with a
// residual when the stride is 1 and the depth is unchanged. Returns the project layer; sets
// *expand to the expand layer (-1 when the block has none).
inline int AddExpandedConv(SpecBuilder& b, const ModelSpec& spec, const LayerStyle& style, int block, int input, int* expand) {
  const V2Block& d = kV2Blocks[block];
  const std::string name = block == 0 ? "expanded_conv" : "expanded_conv_" + std::to_string(block);
  const int64_t in = b.layer(input).out_channels;
  // expand_input_by_factor: _make_divisible(in * n, divisible_by) with min_value = divisible_by;
  // the first block uses n = 1, divisible_by = 1.
  const int64_t inner = block == 0 ? MakeDivisible(static_cast<double>(in), 1, 1) : MakeDivisible(static_cast<double>(in) * 6, 8, 8);
  int last = input;
  *expand = -1;
  if (inner > in) {
    Layer e = SpecBuilder::Make(spec.scope, name + "/expand", ModelPart::kBody, style);
    e.padding = Padding::kSame;
    last = *expand = b.Add(Conv(std::move(e), LayerOp::kConv2d, 1, 1, in, inner, last));
  }
  const int64_t dw_in = b.layer(last).out_channels;
  last = b.Add(Conv(SpecBuilder::MakeDepthwise(spec.scope, name + "/depthwise", ModelPart::kBody, style), LayerOp::kDepthwiseConv2d,
                    3, d.stride, dw_in, dw_in, last));
  Layer p = SpecBuilder::Make(spec.scope, name + "/project", ModelPart::kBody, style);
  p.activation = "NONE";
  p.padding = Padding::kSame;
  const int64_t out = MakeDivisible(static_cast<double>(d.depth) * spec.depth_multiplier, 8, spec.min_depth);
  p = Conv(std::move(p), LayerOp::kConv2d, 1, 1, dw_in, out, last);
  if (d.stride == 1 && out == in) p.residual_input = input;
  return b.Add(std::move(p));
}

// Returns the layer indices of the two base feature maps (layer_15/expansion_output, layer_19).
inline std::pair<int, int> BuildMobilenetV2Body(SpecBuilder& b, const ModelSpec& spec, const LayerStyle& style) {
  const auto depth = [&](int64_t d) { return MakeDivisible(static_cast<double>(d) * spec.depth_multiplier, 8, spec.min_depth); };
  int last = b.Add(Conv(SpecBuilder::Make(spec.scope, "Conv", ModelPart::kBody, style), LayerOp::kConv2d, 3, 2, 3, depth(32), -1));
  std::pair<int, int> maps{-1, -1};
  for (int block = 0; block < 17; ++block) {
    int expand = -1;
    last = AddExpandedConv(b, spec, style, block, last, &expand);
    if (block == 13) maps.first = expand;  // layer_15 = expanded_conv_13
  }
  Layer c1 = SpecBuilder::Make(spec.scope, "Conv_1", ModelPart::kBody, style);
  c1.padding = Padding::kSame;
  maps.second = b.Add(Conv(std::move(c1), LayerOp::kConv2d, 1, 1, b.layer(last).out_channels, depth(1280), last));
  return maps;
}

// The body's layer style for V2: V2_DEF's defaults (batch norm with center and scale, RELU_6)
// are the innermost arg_scope, so override_base_feature_extractor_hyperparams cannot remove the
// batch norm nor its gamma (hyperparams_builder passes batch-norm settings by arg_scope). What
// V2_DEF does not set comes from mobilenet.training_scope (truncated_normal(0.09); l2(0.00004) on
// slim.conv2d, none on slim.separable_conv2d; bn decay 0.9997) or, with the override, from the
// feature extractor's conv_hyperparams (initializer, regularizer on both, and its batch norm's
// decay, epsilon and train when it has a batch_norm block).
inline LayerStyle V2BodyStyle(const config::SsdFeatureExtractorConfig& fe, Padding padding, const InitializerSpec& variance_scaling) {
  LayerStyle s = MobilenetDefaultStyle(padding);
  s.depthwise_regularizer = {};
  if (fe.override_base_feature_extractor_hyperparams) {
    const LayerStyle o = StyleOf(fe.conv_hyperparams, padding, variance_scaling);
    s.initializer = o.initializer;
    s.regularizer = s.depthwise_regularizer = o.regularizer;
    if (o.batch_norm.present) {
      s.batch_norm.decay = o.batch_norm.decay;
      s.batch_norm.epsilon = o.batch_norm.epsilon;
      s.batch_norm.train = o.batch_norm.train;
    }
  }
  return s;
}

// ---- SSD extra layers (feature_map_generators.multi_resolution_feature_maps) -----------

// For each empty from_layer j (j >= 2 here): a 1x1 conv '<base>_1_Conv2d_<j>_1x1_<E(L/2)>', then
// the 3x3 stride-2 layer '<base>_2_Conv2d_<j>_3x3_s2_<E(L)>': a plain conv, or with
// use_depthwise a depthwise 3x3 '<name>_depthwise' followed by a 1x1 conv '<name>'.
inline void BuildExtraLayers(SpecBuilder& b, ModelSpec& spec, const std::string& base_from_layer, const LayerStyle& style,
                             size_t num_maps) {
  static constexpr int64_t kLayerDepth[6] = {-1, -1, 512, 256, 256, 128};
  const double m = spec.depth_multiplier;
  const int64_t md = spec.min_depth;
  for (size_t j = 2; j < num_maps; ++j) {
    const int input = static_cast<int>(spec.feature_maps[j - 1].layer);
    const int64_t half = ScaledDepth(kLayerDepth[j] / 2, m, md);
    const int64_t full = ScaledDepth(kLayerDepth[j], m, md);
    const std::string index = std::to_string(j);
    Layer one = SpecBuilder::Make(spec.scope, base_from_layer + "_1_Conv2d_" + index + "_1x1_" + std::to_string(half),
                                  ModelPart::kExtra, style);
    one.padding = Padding::kSame;
    int last = b.Add(Conv(std::move(one), LayerOp::kConv2d, 1, 1, b.layer(input).out_channels, half, input));
    const std::string name = base_from_layer + "_2_Conv2d_" + index + "_3x3_s2_" + std::to_string(full);
    if (spec.use_depthwise) {
      last = b.Add(Conv(SpecBuilder::MakeDepthwise(spec.scope, name + "_depthwise", ModelPart::kExtra, style),
                        LayerOp::kDepthwiseConv2d, 3, 2, half, half, last));
      Layer pw = SpecBuilder::Make(spec.scope, name, ModelPart::kExtra, style);
      pw.padding = Padding::kSame;
      last = b.Add(Conv(std::move(pw), LayerOp::kConv2d, 1, 1, half, full, last));
    } else {
      last = b.Add(Conv(SpecBuilder::Make(spec.scope, name, ModelPart::kExtra, style), LayerOp::kConv2d, 3, 2, half, full, last));
    }
    spec.feature_maps[j] = FeatureMap{name, static_cast<size_t>(last), full, 0};
  }
}

// ---- box predictor (ConvolutionalBoxPredictor, TF1) ------------------------------------

// Per feature map i, under 'BoxPredictor_<i>' (no scope when there is a single map): optional
// 1x1 convs 'Conv2d_<l>_1x1_<depth>' with depth = max(min(C, max_depth), min_depth) (only when
// depth > 0), then the heads BoxEncodingPredictor (A*box_code_size) and ClassPredictor
// (A*num_class_slots): a kxk conv with biases and no activation, or with use_depthwise a kxk
// depthwise '<head>_depthwise' (the predictor's conv_hyperparams) and a 1x1 conv '<head>'.
// Every layer takes the predictor's initializer and regularizer (its arg_scope); the class bias
// starts at class_prediction_bias_init only in the plain head (class_head.py passes no
// biases_initializer to the 1x1 conv after a depthwise head, so that one starts at 0).
inline void BuildBoxPredictor(SpecBuilder& b, ModelSpec& spec, const config::ConvolutionalBoxPredictorConfig& p,
                              const InitializerSpec& variance_scaling) {
  const LayerStyle style = StyleOf(p.conv_hyperparams, Padding::kSame, variance_scaling);
  LayerStyle head_style = style;
  head_style.batch_norm = {};
  head_style.activation = "NONE";
  const bool scoped = spec.feature_maps.size() > 1;
  for (size_t i = 0; i < spec.feature_maps.size(); ++i) {
    const FeatureMap& fm = spec.feature_maps[i];
    const std::string prefix = scoped ? "BoxPredictor_" + std::to_string(i) : "";
    const auto start = [&](Layer l, int input) {
      l.predictor_index = static_cast<int>(i);
      if (input < 0) l.input_feature_map = static_cast<int>(i);
      return l;
    };
    int net = -1;
    int64_t channels = fm.depth;
    const int64_t depth = std::max<int64_t>(std::min<int64_t>(fm.depth, p.max_depth), p.min_depth);
    if (depth > 0) {
      for (int32_t l = 0; l < p.num_layers_before_predictor; ++l) {
        Layer c = SpecBuilder::Make(prefix, "Conv2d_" + std::to_string(l) + "_1x1_" + std::to_string(depth), ModelPart::kBoxPredictor, style);
        net = b.Add(start(Conv(std::move(c), LayerOp::kConv2d, 1, 1, channels, depth, net), net));
        channels = depth;
      }
    }
    const int64_t k = p.kernel_size;
    const std::pair<const char*, int64_t> heads[] = {{"BoxEncodingPredictor", fm.anchors_per_location * spec.box_code_size},
                                                     {"ClassPredictor", fm.anchors_per_location * spec.num_class_slots}};
    for (const auto& [head, outputs] : heads) {
      int input = net;
      int64_t kernel = k;
      if (p.use_depthwise) {
        Layer dw = SpecBuilder::MakeDepthwise(prefix, std::string(head) + "_depthwise", ModelPart::kBoxPredictor, style);
        input = b.Add(start(Conv(std::move(dw), LayerOp::kDepthwiseConv2d, k, 1, channels, channels, net), net));
        kernel = 1;
      }
      Layer h = SpecBuilder::Make(prefix, head, ModelPart::kBoxPredictor, head_style);
      if (!p.use_depthwise && std::string_view(head) == "ClassPredictor") h.bias_init = static_cast<double>(p.class_prediction_bias_init);
      b.Add(start(Conv(std::move(h), LayerOp::kConv2d, kernel, 1, channels, outputs, input), input));
    }
  }
}

// ---- checks on the config --------------------------------------------------------------

inline void CheckSupported(const config::SsdModelConfig& c) {
  const std::string& type = c.feature_extractor.type;
  if (type != kSsdMobilenetV1 && type != kSsdMobilenetV2) {
    throw ArgumentError("model.ssd.feature_extractor.type \"" + type + "\" is not supported by the SSD model builder (supported: " +
                        Join({kSsdMobilenetV1, kSsdMobilenetV2}) + ")");
  }
  if (c.box_predictor.kind != "convolutional_box_predictor") {
    const std::string kind = c.box_predictor.kind.empty() ? "(none)" : c.box_predictor.kind;
    throw ArgumentError("model.ssd.box_predictor is " + kind + "; the SSD model builder supports convolutional_box_predictor");
  }
  if (c.anchor_generator.kind != "ssd_anchor_generator") {
    const std::string kind = c.anchor_generator.kind.empty() ? "(none)" : c.anchor_generator.kind;
    throw ArgumentError("model.ssd.anchor_generator is " + kind + "; the SSD model builder supports ssd_anchor_generator");
  }
  if (!(c.feature_extractor.depth_multiplier > 0)) {
    throw ArgumentError("model.ssd.feature_extractor.depth_multiplier must be > 0, found " +
                        std::to_string(c.feature_extractor.depth_multiplier));
  }
  if (c.num_classes < 1) throw ArgumentError("model.ssd.num_classes must be >= 1, found " + std::to_string(c.num_classes));
}

// The anchor generator must give one box-spec list per feature map (MultipleGridAnchorGenerator).
inline void AttachAnchors(ModelSpec& spec, const config::SsdAnchorGeneratorConfig& a) {
  const std::vector<int64_t> per_location = AnchorsPerLocation(a);
  if (per_location.size() != spec.feature_maps.size()) {
    throw ArgumentError("model.ssd.anchor_generator.ssd_anchor_generator gives " + std::to_string(per_location.size()) +
                        " anchor layers but the feature extractor makes " + std::to_string(spec.feature_maps.size()) +
                        " feature maps (num_layers must match)");
  }
  for (size_t i = 0; i < per_location.size(); ++i) {
    if (per_location[i] < 1) throw ArgumentError("anchor layer " + std::to_string(i) + " has no boxes (no aspect_ratios)");
    spec.feature_maps[i].anchors_per_location = per_location[i];
  }
}

}  // namespace detail

// ---- building -------------------------------------------------------------------------

struct BuildOptions {
  // SsdFeatureExtractor.num_layers (default 6): the first num_layers entries of the layout.
  int64_t num_layers = 6;
  // The variance_scaling_initializer fields of feature_extractor.conv_hyperparams and
  // box_predictor's conv_hyperparams (not in config::HyperparamsConfig; the PipelineConfig
  // overload reads them). Defaults: the proto's factor 2.0, FAN_IN, normal.
  InitializerSpec feature_extractor_variance_scaling = ProtoVarianceScaling();
  InitializerSpec box_predictor_variance_scaling = ProtoVarianceScaling();

  static InitializerSpec ProtoVarianceScaling() {
    InitializerSpec s;
    s.kind = InitializerKind::kVarianceScaling;
    s.factor = 2.0;
    s.mode = FanMode::kFanIn;
    s.uniform = false;
    return s;
  }
};

// The model of `c`. Throws ArgumentError for an unsupported feature extractor, box predictor
// or anchor generator, and when the anchor layers do not match the feature maps.
inline ModelSpec BuildModelSpec(const config::SsdModelConfig& c, const BuildOptions& options = {}) {
  detail::CheckSupported(c);
  const config::SsdFeatureExtractorConfig& fe = c.feature_extractor;
  ModelSpec spec;
  spec.feature_extractor_type = fe.type;
  const bool v1 = fe.type == kSsdMobilenetV1;
  spec.scope = v1 ? "FeatureExtractor/MobilenetV1" : "FeatureExtractor/MobilenetV2";
  spec.depth_multiplier = static_cast<double>(fe.depth_multiplier);
  spec.min_depth = fe.min_depth;
  spec.pad_to_multiple = fe.pad_to_multiple;
  spec.use_depthwise = fe.use_depthwise;
  spec.use_explicit_padding = fe.use_explicit_padding;
  spec.num_classes = c.num_classes;
  spec.num_class_slots = c.num_classes + (c.add_background_class ? 1 : 0);
  spec.box_code_size = c.box_predictor.convolutional.box_code_size;
  spec.freeze_batchnorm = c.freeze_batchnorm;
  spec.apply_sigmoid_to_scores = c.box_predictor.convolutional.apply_sigmoid_to_scores;
  spec.use_dropout = c.box_predictor.convolutional.use_dropout;
  spec.dropout_keep_probability = static_cast<double>(c.box_predictor.convolutional.dropout_keep_probability);
  if (c.image_resizer.kind == "fixed_shape_resizer") {
    spec.input_height = c.image_resizer.height;
    spec.input_width = c.image_resizer.width;
  }
  // Python slices the 6-entry layout with [:num_layers].
  const size_t num_maps = static_cast<size_t>(std::min<int64_t>(6, options.num_layers));
  if (options.num_layers < 1) {
    throw ArgumentError("model.ssd.feature_extractor.num_layers must be >= 1, found " + std::to_string(options.num_layers));
  }

  detail::SpecBuilder b(&spec);
  const Padding padding = fe.use_explicit_padding ? Padding::kExplicit : Padding::kSame;
  const InitializerSpec& fe_vs = options.feature_extractor_variance_scaling;
  const std::pair<int, int> base = v1 ? detail::BuildMobilenetV1Body(b, spec, detail::V1BodyStyle(fe, padding, fe_vs))
                                      : detail::BuildMobilenetV2Body(b, spec, detail::V2BodyStyle(fe, padding, fe_vs));
  const std::string key0 = v1 ? "Conv2d_11_pointwise" : "layer_15/expansion_output";
  const std::string key1 = v1 ? "Conv2d_13_pointwise" : "layer_19";
  spec.feature_maps.resize(num_maps);
  spec.feature_maps[0] = FeatureMap{key0, static_cast<size_t>(base.first), b.layer(base.first).out_channels, 0};
  if (num_maps > 1) spec.feature_maps[1] = FeatureMap{key1, static_cast<size_t>(base.second), b.layer(base.second).out_channels, 0};
  detail::LayerStyle extra_style = detail::StyleOf(fe.conv_hyperparams, padding, fe_vs);
  extra_style.batch_norm.fused = !v1;  // the V1 extractor's fused=False scope covers the extra layers too
  detail::BuildExtraLayers(b, spec, num_maps > 1 ? key1 : key0, extra_style, num_maps);
  for (size_t i = 0; i < num_maps; ++i) spec.layers[spec.feature_maps[i].layer].feature_map = static_cast<int>(i);

  detail::AttachAnchors(spec, c.anchor_generator.ssd);
  detail::BuildBoxPredictor(b, spec, c.box_predictor.convolutional, options.box_predictor_variance_scaling);
  return spec;
}

namespace detail {

// The variance_scaling_initializer of the Hyperparams at `hyperparams` (proto defaults for
// fields not written).
inline InitializerSpec ReadVarianceScaling(const config::PipelineConfig& cfg, const std::string& hyperparams) {
  const std::string at = hyperparams + ".initializer.variance_scaling_initializer.";
  InitializerSpec s = BuildOptions::ProtoVarianceScaling();
  const auto last = [&](const char* field) { return cfg.GetWithDefault(at + field).values.back(); };
  s.factor = last("factor").AsDouble();
  s.uniform = last("uniform").AsBool();
  const config::Value mode = last("mode");
  const std::string name = mode.IsInteger() ? std::to_string(mode.AsInt64()) : mode.AsEnum();
  if (name == "FAN_OUT" || name == "1") s.mode = FanMode::kFanOut;
  if (name == "FAN_AVG" || name == "2") s.mode = FanMode::kFanAvg;
  return s;
}

}  // namespace detail

// The model of a pipeline.config's model.ssd (with feature_extractor.num_layers and the
// variance-scaling initializer fields read from it).
inline ModelSpec BuildModelSpec(const config::PipelineConfig& cfg) {
  if (!cfg.ssd()) {
    const std::string arch = cfg.meta_arch_name().empty() ? "no model" : "model." + cfg.meta_arch_name();
    throw ArgumentError(cfg.document().file() + ": the SSD model builder needs model.ssd, found " + arch);
  }
  BuildOptions options;
  const config::FieldLookup n = cfg.GetWithDefault("model.ssd.feature_extractor.num_layers");
  if (!n.values.empty()) options.num_layers = n.values.back().AsInt64();
  options.feature_extractor_variance_scaling = detail::ReadVarianceScaling(cfg, "model.ssd.feature_extractor.conv_hyperparams");
  options.box_predictor_variance_scaling =
      detail::ReadVarianceScaling(cfg, "model.ssd.box_predictor.convolutional_box_predictor.conv_hyperparams");
  return BuildModelSpec(*cfg.ssd(), options);
}

inline ModelSpec LoadModelSpec(const std::filesystem::path& pipeline_config) {
  return BuildModelSpec(config::PipelineConfig::Load(pipeline_config));
}

// ---- feature-map grids and anchor count -------------------------------------------------

// The grid of every feature map for an H x W input: the input is zero-padded up to a multiple of
// pad_to_multiple, and every conv of stride s maps n to ceil(n / s) (SAME padding, and explicit
// padding is built to match it). Throws ArgumentError below 33 pixels (check_min_image_dim).
inline std::vector<GridSize> FeatureMapSizes(const ModelSpec& spec, int64_t height, int64_t width) {
  if (height < 33 || width < 33) {
    throw ArgumentError("SSD input " + std::to_string(height) + "x" + std::to_string(width) +
                        " is too small: the feature extractor needs at least 33 pixels per side");
  }
  const int64_t p = std::max<int64_t>(1, spec.pad_to_multiple);
  const GridSize input{(height + p - 1) / p * p, (width + p - 1) / p * p};
  std::vector<GridSize> at(spec.layers.size());
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const Layer& l = spec.layers[i];
    if (l.part == ModelPart::kBoxPredictor) continue;  // predictors keep their feature map's grid
    const GridSize in = l.input < 0 ? input : at[static_cast<size_t>(l.input)];
    at[i] = GridSize{(in.height + l.stride - 1) / l.stride, (in.width + l.stride - 1) / l.stride};
  }
  std::vector<GridSize> out;
  for (const FeatureMap& fm : spec.feature_maps) out.push_back(at[fm.layer]);
  return out;
}

// For the fixed_shape_resizer input size.
inline std::vector<GridSize> FeatureMapSizes(const ModelSpec& spec) {
  if (spec.input_height <= 0 || spec.input_width <= 0) {
    throw ArgumentError("the model's image_resizer is not a fixed_shape_resizer: give the input height and width");
  }
  return FeatureMapSizes(spec, spec.input_height, spec.input_width);
}

// Sum over feature maps of H_i * W_i * anchors_per_location_i.
inline int64_t AnchorCount(const ModelSpec& spec, const std::vector<GridSize>& grids) {
  int64_t n = 0;
  for (size_t i = 0; i < grids.size() && i < spec.feature_maps.size(); ++i) {
    n += grids[i].height * grids[i].width * spec.feature_maps[i].anchors_per_location;
  }
  return n;
}
inline int64_t AnchorCount(const ModelSpec& spec, int64_t height, int64_t width) {
  return AnchorCount(spec, FeatureMapSizes(spec, height, width));
}
inline int64_t AnchorCount(const ModelSpec& spec) { return AnchorCount(spec, FeatureMapSizes(spec)); }

// ---- describing a layer -----------------------------------------------------------------

// "conv 3x3 s2 3->32, batch norm, RELU_6"; "depthwise 3x3 s1 32, ..."; "conv 1x1 s1 512->12, biases".
inline std::string DescribeLayer(const Layer& l) {
  const std::string k = std::to_string(l.kernel);
  std::string out = l.op == LayerOp::kDepthwiseConv2d ? "depthwise " : "conv ";
  out += k + "x" + k + " s" + std::to_string(l.stride) + " ";
  out += l.op == LayerOp::kDepthwiseConv2d ? std::to_string(l.in_channels)
                                           : std::to_string(l.in_channels) + "->" + std::to_string(l.out_channels);
  if (l.padding == Padding::kExplicit && l.kernel > 1) out += " explicit-pad";
  if (l.batch_norm.present) {
    out += std::string(", batch norm") + (l.batch_norm.center ? "" : " (no beta)") + (l.batch_norm.scale ? "" : " (no gamma)");
  }
  if (l.biases) out += ", biases";
  if (l.activation != "NONE") out += ", " + l.activation;
  if (l.residual_input >= 0) out += ", residual";
  if (l.feature_map >= 0) out += ", feature map " + std::to_string(l.feature_map);
  return out;
}

}  // namespace warmstart::ssd
