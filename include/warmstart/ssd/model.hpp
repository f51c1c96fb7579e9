// SsdModel: the SSD MobileNet network of a ModelSpec (ssd/variables.hpp), built from the nn
// layers, with Forward from preprocessed images to per-anchor box encodings and class logits and
// Backward from their gradients into every parameter (docs/ssd-model.md, "The network").
//
//   images                  [N, H, W, 3]  preprocessed, (2/255) x - 1; any H, W >= 33
//   box_encodings[n]        [A, 4]        ty, tx, th, tw
//   class_predictions[n]    [A, K]        logits; slot 0 is background
//
// A is the anchor count of the input size. Rows are in TensorFlow's anchor order: each head's
// output [N, H_m, W_m, A_m * C] (channel a * C + c: anchor-major, then code or class) is reshaped
// to [N, H_m * W_m * A_m, C] (box_head.py / class_head.py) and the maps are concatenated:
//
//   row = offset(m) + (y * W_m + x) * A_m + a,   offset(m) = sum over maps j < m of H_j W_j A_j
//
// the order MultipleGridAnchorGenerator tiles its anchors in (ssd/anchors.hpp).
//
// Each spec Layer is one node: [fixed padding] -> Conv2D or DepthwiseConv2D (with biases when
// the layer has no batch norm) -> [BatchNorm] -> activation (NONE, RELU, RELU_6, applied in place)
// -> [+ residual]. The model owns every activation (nodes' `out`); the nn layers keep pointers
// to their inputs for Backward, as docs/nn.md requires. Forward's `images` is such an input
// too: it must stay alive and unchanged until Backward.
//
// Mirrors research/object_detection/models/ssd_mobilenet_v{1,2}_feature_extractor.py,
// models/feature_map_generators.py, predictors/convolutional_box_predictor.py,
// predictors/heads/{box,class}_head.py, builders/hyperparams_builder.py (initializers,
// regularizers), utils/ops.py (fixed_padding, pad_to_multiple), and slim's
// variance_scaling_initializer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/batch_norm.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/conv2d.hpp"
#include "warmstart/nn/depthwise_conv2d.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"
#include "warmstart/ssd/box_ops.hpp"
#include "warmstart/ssd/variables.hpp"

namespace warmstart::ssd {

template <class T>
struct SsdPredictions {
  std::vector<BoxMatrix<T>> box_encodings;   // per image [num_anchors, 4]  (ty, tx, th, tw)
  std::vector<Matrix<T>> class_predictions;  // per image [num_anchors, num_class_slots] logits, slot 0 background
};

namespace detail {

using nn::Index;

// ---- deterministic initialisation --------------------------------------------------------

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Each variable draws from its own stream, seeded by the model seed and its name (FNV-1a), so a
// variable's start does not depend on which other variables exist or their order.
inline uint64_t VariableSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ULL;
  uint64_t state = seed ^ h;
  return SplitMix64(state);
}

// Uniform [0, 1) from 53 bits; normals by Box-Muller. Portable: no std:: distributions, whose
// algorithms differ between standard libraries.
class InitRandom {
 public:
  explicit InitRandom(uint64_t seed) : state_(seed) {}

  double Uniform() { return static_cast<double>(SplitMix64(state_) >> 11) * (1.0 / 9007199254740992.0); }

  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586 * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

  // tf.truncated_normal: a standard normal redrawn while more than 2 standard deviations out.
  double TruncatedNormal() {
    for (;;) {
      const double z = Normal();
      if (std::abs(z) <= 2.0) return z;
    }
  }

 private:
  uint64_t state_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// slim.variance_scaling_initializer: fan_in = shape[-2] * receptive field, fan_out = shape[-1] *
// receptive field (a depthwise [k, k, C, 1] kernel has fan_out k*k); n by mode; uniform in
// +-sqrt(3 factor / n), else truncated normal with stddev sqrt(1.3 factor / n).
inline double VarianceScalingN(const InitializerSpec& s, const std::vector<Index>& shape) {
  double fan_in = shape.size() > 1 ? static_cast<double>(shape[shape.size() - 2]) : static_cast<double>(shape.back());
  double fan_out = static_cast<double>(shape.back());
  for (size_t i = 0; i + 2 < shape.size(); ++i) {
    fan_in *= static_cast<double>(shape[i]);
    fan_out *= static_cast<double>(shape[i]);
  }
  switch (s.mode) {
    case FanMode::kFanIn: return fan_in;
    case FanMode::kFanOut: return fan_out;
    case FanMode::kFanAvg: return (fan_in + fan_out) / 2.0;
  }
  return fan_in;
}

template <class T>
void FillWeights(const InitializerSpec& s, nn::Parameter<T>& p, InitRandom& rng) {
  const Index count = p.NumElements();
  switch (s.kind) {
    case InitializerKind::kTruncatedNormal:
      for (Index i = 0; i < count; ++i) p.value(i) = static_cast<T>(s.mean + s.stddev * rng.TruncatedNormal());
      return;
    case InitializerKind::kRandomNormal:
      for (Index i = 0; i < count; ++i) p.value(i) = static_cast<T>(s.mean + s.stddev * rng.Normal());
      return;
    case InitializerKind::kVarianceScaling: {
      const double n = VarianceScalingN(s, p.shape);
      if (s.uniform) {
        const double limit = std::sqrt(3.0 * s.factor / n);
        for (Index i = 0; i < count; ++i) p.value(i) = static_cast<T>((2.0 * rng.Uniform() - 1.0) * limit);
      } else {
        const double stddev = std::sqrt(1.3 * s.factor / n);
        for (Index i = 0; i < count; ++i) p.value(i) = static_cast<T>(stddev * rng.TruncatedNormal());
      }
      return;
    }
  }
}

// ---- spatial zero padding (ops.fixed_padding, ops.pad_to_multiple) and its adjoint ---------

// y = x with `top`/`bottom` zero rows and `left`/`right` zero columns. y keeps its buffer when
// its shape already fits (the model pads into the same tensor every step).
template <class T>
void PadSpatial(const nn::Context& ctx, const nn::Tensor4<T>& x, Index top, Index bottom, Index left, Index right,
                nn::Tensor4<T>& y) {
  const Index n = x.dimension(0), h = x.dimension(1), w = x.dimension(2), c = x.dimension(3);
  const Index ho = h + top + bottom, wo = w + left + right;
  if (nn::ShapeOf(y) != nn::Shape4{n, ho, wo, c}) y = nn::Tensor4<T>(n, ho, wo, c);
  nn::detail::ParallelForWork(ctx, n * ho, static_cast<double>(wo * c), [&](int, Index begin, Index end) {
    for (Index row = begin; row < end; ++row) {
      T* dst = y.data() + row * wo * c;
      const Index iy = row % ho - top;
      if (iy < 0 || iy >= h) {
        std::fill(dst, dst + wo * c, T(0));
        continue;
      }
      const T* src = x.data() + ((row / ho) * h + iy) * w * c;
      std::fill(dst, dst + left * c, T(0));
      std::copy(src, src + w * c, dst + left * c);
      std::fill(dst + (left + w) * c, dst + wo * c, T(0));
    }
  });
}

// The adjoint of PadSpatial: the [N, H, W, C] interior of dy starting at (top, left).
template <class T>
nn::Tensor4<T> CropSpatial(const nn::Context& ctx, const nn::Tensor4<T>& dy, Index top, Index left, const nn::Shape4& x_shape) {
  const Index h = x_shape[1], w = x_shape[2], c = x_shape[3];
  const Index hp = dy.dimension(1), wp = dy.dimension(2);
  nn::Tensor4<T> dx(x_shape[0], h, w, c);
  nn::detail::ParallelForWork(ctx, x_shape[0] * h, static_cast<double>(w * c), [&](int, Index begin, Index end) {
    for (Index row = begin; row < end; ++row) {
      const T* src = dy.data() + (((row / h) * hp + row % h + top) * wp + left) * c;
      std::copy(src, src + w * c, dx.data() + row * w * c);
    }
  });
  return dx;
}

// ---- element-wise steps --------------------------------------------------------------

enum class Activation { kNone, kRelu, kRelu6 };

inline Activation ParseActivation(const Layer& l) {
  if (l.activation == "NONE") return Activation::kNone;
  if (l.activation == "RELU") return Activation::kRelu;
  if (l.activation == "RELU_6") return Activation::kRelu6;
  throw ArgumentError("SsdModel: layer '" + l.scope + "' has activation " + l.activation +
                      "; supported are NONE, RELU and RELU_6");
}

template <class T>
void ActivationForward(const nn::Context& ctx, Activation a, nn::Tensor4<T>& y) {
  if (a == Activation::kNone) return;
  nn::detail::ParallelForWork(ctx, y.size(), 1, [&](int, Index begin, Index end) {
    auto v = nn::detail::VectorMap<T>(y.data() + begin, end - begin);
    if (a == Activation::kRelu6) {
      v = v.max(T(0)).min(T(6));
    } else {
      v = v.max(T(0));
    }
  });
}

// dy masked where the activation was flat, read from its output y (as TF's ReluGrad and
// Relu6Grad, which take the op's output): relu6 passes where 0 < y < 6, relu where y > 0.
template <class T>
void ActivationBackward(const nn::Context& ctx, Activation a, const nn::Tensor4<T>& y, nn::Tensor4<T>& dy) {
  if (a == Activation::kNone) return;
  // The vectorised masks of the nn layers: Eigen's select() here is scalar with a branch per
  // element, and was 40% of the 128x128 model's forward+backward time.
  nn::detail::ParallelForWork(ctx, y.size(), 1, [&](int, Index begin, Index end) {
    T* g = dy.data() + begin;
    if (a == Activation::kRelu6) {
      nn::detail::MaskBetween(y.data() + begin, g, g, end - begin, T(0), T(6));
    } else {
      nn::detail::MaskAbove(y.data() + begin, g, g, end - begin, T(0));
    }
  });
}

// y += x. Requires: same shape.
template <class T>
void AddInPlace(const nn::Context& ctx, nn::Tensor4<T>& y, const nn::Tensor4<T>& x) {
  nn::detail::ParallelForWork(ctx, y.size(), 1, [&](int, Index begin, Index end) {
    nn::detail::VectorMap<T>(y.data() + begin, end - begin) += nn::detail::ConstVectorMap<T>(x.data() + begin, end - begin);
  });
}

}  // namespace detail

template <class T>
class SsdModel {
 public:
  // Builds every nn layer of `spec`; parameters() lists exactly spec.variables, in order.
  // Throws ArgumentError for what the network cannot run: an activation other than NONE, RELU
  // and RELU_6, a box code size other than 4, apply_sigmoid_to_scores.
  explicit SsdModel(const ModelSpec& spec) : spec_(spec) {
    CheckSupported();
    nodes_.resize(spec_.layers.size());
    for (size_t i = 0; i < nodes_.size(); ++i) BuildNode(i);
    FindHeads();
    MarkNeeded();
    CollectParameters();
    set_batch_norm_mode(nn::BatchNormMode::kTraining);
  }

  // Layers keep pointers into the model's own activations: neither copied nor moved.
  SsdModel(const SsdModel&) = delete;
  SsdModel& operator=(const SsdModel&) = delete;

  const ModelSpec& spec() const { return spec_; }
  nn::ParameterList<T>& parameters() { return parameters_; }
  const nn::ParameterList<T>& parameters() const { return parameters_; }

  // kTraining (the default), kInference or kFrozen for every batch norm. In kTraining, a layer
  // whose config says batch_norm { train: false } runs kFrozen (hyperparams_builder passes
  // is_training and train).
  nn::BatchNormMode batch_norm_mode() const { return mode_; }
  void set_batch_norm_mode(nn::BatchNormMode mode) {
    mode_ = mode;
    for (Node& n : nodes_) {
      if (!n.batch_norm) continue;
      const bool frozen_by_config = mode == nn::BatchNormMode::kTraining && !n.layer->batch_norm.train;
      n.batch_norm->set_mode(frozen_by_config ? nn::BatchNormMode::kFrozen : mode);
    }
  }

  // TF-like start: weights from each layer's initializer (drawn per variable from `seed` and the
  // variable's name), biases 0 (the class head's class_prediction_bias_init), gamma 1, beta 0,
  // moving mean 0, moving variance 1. Gradients are zeroed. Same seed, same values.
  void Initialize(uint64_t seed) {
    for (size_t k = 0; k < spec_.variables.size(); ++k) {
      const Variable& v = spec_.variables[k];
      nn::Parameter<T>& p = *parameters_.all()[k];
      const Layer& l = spec_.layers[v.layer];
      switch (v.role) {
        case VariableRole::kWeights:
        case VariableRole::kDepthwiseWeights: {
          detail::InitRandom rng(detail::VariableSeed(seed, v.name));
          detail::FillWeights(l.initializer, p, rng);
          break;
        }
        case VariableRole::kBiases: p.value.setConstant(static_cast<T>(l.bias_init)); break;
        case VariableRole::kBatchNormGamma:
        case VariableRole::kBatchNormMovingVariance: p.value.setOnes(); break;
        case VariableRole::kBatchNormBeta:
        case VariableRole::kBatchNormMovingMean: p.value.setZero(); break;
      }
    }
    parameters_.ZeroGradients();
  }

  // images [N, H, W, 3], preprocessed. Requires: images stays alive and unchanged until the
  // matching Backward. Throws ArgumentError for a wrong channel count or a side below 33.
  SsdPredictions<T> Forward(const nn::Context& ctx, const nn::Tensor4<T>& images) {
    const nn::Tensor4<T>& input = PrepareInput(ctx, images);
    for (Node& n : nodes_) {
      if (n.needed) ForwardNode(ctx, n, input);
    }
    forward_batch_ = images.dimension(0);
    forward_mode_ = mode_;
    return GatherPredictions();
  }

  // Adds the gradients of the parameters given the gradients of the last Forward's outputs
  // (same shapes). Zero them first with parameters().ZeroGradients(). Throws ArgumentError
  // without a Forward, on shape mismatches, and after a Forward in kInference mode.
  void Backward(const nn::Context& ctx, const std::vector<BoxMatrix<T>>& dbox_encodings,
                const std::vector<Matrix<T>>& dclass_predictions) {
    BackwardImpl(ctx, dbox_encodings, dclass_predictions, nullptr);
  }

  // As Backward, and returns the gradient with respect to the images [N, H, W, 3].
  nn::Tensor4<T> BackwardWithInputGradient(const nn::Context& ctx, const std::vector<BoxMatrix<T>>& dbox_encodings,
                                           const std::vector<Matrix<T>>& dclass_predictions) {
    nn::Tensor4<T> dimages;
    BackwardImpl(ctx, dbox_encodings, dclass_predictions, &dimages);
    return dimages;
  }

  // The feature-map grids of the last Forward (empty before one).
  std::vector<GridSize> feature_map_sizes() const { return grids_; }

  // Sum over regularized kernels of slim's penalty: l2 w * sum(x^2) / 2, l1 w * sum(|x|)
  // (the tf.losses.get_regularization_losses() a TF1 train op adds with
  // add_regularization_loss). Biases and batch norm are never regularized.
  T RegularizationLoss() const {
    T sum = 0;
    for (const Node& n : nodes_) {
      const RegularizerSpec& r = n.layer->regularizer;
      if (r.kind == RegularizerKind::kNone || r.weight == 0) continue;
      const auto& w = n.weights->value;
      const T penalty = r.kind == RegularizerKind::kL2 ? T(0.5) * w.square().sum() : w.abs().sum();
      sum += static_cast<T>(r.weight) * penalty;
    }
    return sum;
  }

  // Adds d RegularizationLoss / d kernel to the kernels' gradients: w * x (l2), w * sign(x) (l1).
  void AddRegularizationGradient() {
    for (Node& n : nodes_) {
      const RegularizerSpec& r = n.layer->regularizer;
      if (r.kind == RegularizerKind::kNone || r.weight == 0) continue;
      nn::Parameter<T>& w = *n.weights;
      const T scale = static_cast<T>(r.weight);
      if (r.kind == RegularizerKind::kL2) {
        w.gradient += scale * w.value;
      } else {
        w.gradient += scale * w.value.sign();
      }
    }
  }

  // The output of spec layer `layer` (after batch norm, activation and residual) in the last
  // Forward; a head's is its raw [N, H_m, W_m, A_m * C] map. Empty for a layer no head needs.
  const nn::Tensor4<T>& LayerOutput(size_t layer) const {
    if (layer >= nodes_.size()) {
      throw ArgumentError("SsdModel: layer " + std::to_string(layer) + " out of range (" + std::to_string(nodes_.size()) +
                          " layers)");
    }
    return nodes_[layer].out;
  }

  // The spec layer indices of the box and class heads of feature map m.
  int box_head(size_t m) const { return box_head_.at(m); }
  int class_head(size_t m) const { return class_head_.at(m); }

 private:
  using Tensor = nn::Tensor4<T>;
  using Index = nn::Index;

  // One spec Layer and its activations.
  struct Node {
    const Layer* layer = nullptr;
    detail::Activation activation = detail::Activation::kNone;
    std::unique_ptr<nn::Conv2D<T>> conv;
    std::unique_ptr<nn::DepthwiseConv2D<T>> depthwise;
    std::unique_ptr<nn::BatchNorm<T>> batch_norm;
    nn::Parameter<T>* weights = nullptr;  // the kernel, conv or depthwise
    Index pad_before = 0, pad_after = 0;  // fixed_padding of an explicit-padding layer
    int source = -1;                      // the node that feeds it; -1 = the image
    bool needed = false;                  // some head depends on it
    Tensor padded;                        // the input after fixed_padding
    Tensor pre_norm;                      // the conv output, when batch norm follows
    Tensor out;                           // after batch norm, activation and residual
    Tensor dout;                          // d loss / d out, summed over consumers
    bool has_dout = false;
  };

  // ---- construction ----

  void CheckSupported() const {
    if (spec_.box_code_size != 4) {
      throw ArgumentError("SsdModel: box_code_size " + std::to_string(spec_.box_code_size) + " is not supported (4)");
    }
    if (spec_.apply_sigmoid_to_scores) {
      throw ArgumentError("SsdModel: convolutional_box_predictor.apply_sigmoid_to_scores is not supported");
    }
    if (spec_.layers.empty() || spec_.layers[0].in_channels != 3) {
      throw ArgumentError("SsdModel: the spec's first layer must read the 3-channel image");
    }
  }

  void BuildNode(size_t i) {
    const Layer& l = spec_.layers[i];
    Node& n = nodes_[i];
    n.layer = &l;
    n.activation = detail::ParseActivation(l);
    n.source = l.input >= 0 ? l.input : l.input_feature_map >= 0 ? static_cast<int>(spec_.feature_maps.at(l.input_feature_map).layer) : -1;
    CheckWiring(i);
    const bool explicit_padding = l.padding == Padding::kExplicit && l.kernel > 1;
    if (explicit_padding) {
      n.pad_before = (l.kernel - 1) / 2;
      n.pad_after = l.kernel - 1 - n.pad_before;
    }
    const nn::Padding padding = explicit_padding ? nn::Padding::kValid : nn::Padding::kSame;
    if (l.op == LayerOp::kConv2d) {
      nn::Conv2DOptions o;
      o.kernel_h = o.kernel_w = l.kernel;
      o.stride_h = o.stride_w = l.stride;
      o.in_channels = l.in_channels;
      o.out_channels = l.out_channels;
      o.padding = padding;
      o.use_bias = l.biases;
      n.conv = std::make_unique<nn::Conv2D<T>>(l.scope, o);
      n.weights = &n.conv->weights();
    } else {
      nn::DepthwiseConv2DOptions o;
      o.kernel_h = o.kernel_w = l.kernel;
      o.stride_h = o.stride_w = l.stride;
      o.in_channels = l.in_channels;
      o.depth_multiplier = 1;
      o.padding = padding;
      o.use_bias = l.biases;
      n.depthwise = std::make_unique<nn::DepthwiseConv2D<T>>(l.scope, o);
      n.weights = &n.depthwise->weights();
    }
    if (l.batch_norm.present) {
      nn::BatchNormOptions o;
      o.channels = l.out_channels;
      o.epsilon = l.batch_norm.epsilon;
      o.decay = l.batch_norm.decay;
      o.center = l.batch_norm.center;
      o.scale = l.batch_norm.scale;
      o.bessel_correction = l.batch_norm.fused;
      n.batch_norm = std::make_unique<nn::BatchNorm<T>>(l.scope + "/BatchNorm", o);
    }
  }

  // Inputs come before their consumers with matching channels; a residual adds to a layer
  // without activation (the mask of the activation's gradient is read from the output).
  void CheckWiring(size_t i) const {
    const Layer& l = spec_.layers[i];
    const int source = nodes_[i].source;
    const int64_t in = source >= 0 ? spec_.layers[static_cast<size_t>(source)].out_channels : 3;
    if (source >= static_cast<int>(i) || in != l.in_channels) {
      throw ArgumentError("SsdModel: layer '" + l.scope + "' reads layer " + std::to_string(source) + " with " +
                          std::to_string(in) + " channels; expected an earlier layer with " + std::to_string(l.in_channels));
    }
    if (l.residual_input < 0) return;
    if (l.residual_input >= static_cast<int>(i) || spec_.layers[static_cast<size_t>(l.residual_input)].out_channels != l.out_channels ||
        l.activation != "NONE") {
      throw ArgumentError("SsdModel: layer '" + l.scope + "' has a residual from layer " + std::to_string(l.residual_input) +
                          " that is not an earlier layer of the same depth, or follows an activation");
    }
  }

  void FindHeads() {
    const size_t maps = spec_.feature_maps.size();
    box_head_.assign(maps, -1);
    class_head_.assign(maps, -1);
    for (size_t i = 0; i < spec_.layers.size(); ++i) {
      const Layer& l = spec_.layers[i];
      if (l.part != ModelPart::kBoxPredictor || l.predictor_index < 0 || static_cast<size_t>(l.predictor_index) >= maps) continue;
      if (l.name == "BoxEncodingPredictor") box_head_[static_cast<size_t>(l.predictor_index)] = static_cast<int>(i);
      if (l.name == "ClassPredictor") class_head_[static_cast<size_t>(l.predictor_index)] = static_cast<int>(i);
    }
    for (size_t m = 0; m < maps; ++m) {
      const int64_t a = spec_.feature_maps[m].anchors_per_location;
      if (box_head_[m] < 0 || class_head_[m] < 0 ||
          spec_.layers[static_cast<size_t>(box_head_[m])].out_channels != a * spec_.box_code_size ||
          spec_.layers[static_cast<size_t>(class_head_[m])].out_channels != a * spec_.num_class_slots) {
        throw ArgumentError("SsdModel: feature map " + std::to_string(m) + " lacks a BoxEncodingPredictor / ClassPredictor with " +
                            std::to_string(a) + " anchors per location");
      }
    }
  }

  // A layer runs when a head depends on it (num_layers < 6 leaves body layers unused).
  void MarkNeeded() {
    for (size_t m = 0; m < box_head_.size(); ++m) {
      nodes_[static_cast<size_t>(box_head_[m])].needed = nodes_[static_cast<size_t>(class_head_[m])].needed = true;
    }
    for (size_t i = nodes_.size(); i-- > 0;) {
      if (!nodes_[i].needed) continue;
      if (nodes_[i].source >= 0) nodes_[static_cast<size_t>(nodes_[i].source)].needed = true;
      if (nodes_[i].layer->residual_input >= 0) nodes_[static_cast<size_t>(nodes_[i].layer->residual_input)].needed = true;
    }
  }

  // The parameters in spec.variables order, each checked against its variable.
  void CollectParameters() {
    for (const Variable& v : spec_.variables) {
      nn::Parameter<T>* p = ParameterFor(nodes_.at(v.layer), v.role);
      const std::vector<Index> shape(v.shape.begin(), v.shape.end());
      if (p == nullptr || p->name != v.name || p->shape != shape || p->trainable != v.trainable) {
        throw ArgumentError("SsdModel: spec variable '" + v.name + "' " + nn::Parameter<T>::ShapeList(shape) +
                            " has no matching layer parameter" + (p ? " (found '" + p->name + "' " + nn::Parameter<T>::ShapeList(p->shape) + ")" : ""));
      }
      parameters_.Add(p);
    }
  }

  static nn::Parameter<T>* ParameterFor(Node& n, VariableRole role) {
    switch (role) {
      case VariableRole::kWeights: return n.conv ? &n.conv->weights() : nullptr;
      case VariableRole::kDepthwiseWeights: return n.depthwise ? &n.depthwise->weights() : nullptr;
      case VariableRole::kBiases: return n.conv ? n.conv->biases() : n.depthwise->biases();
      case VariableRole::kBatchNormBeta: return n.batch_norm ? n.batch_norm->beta() : nullptr;
      case VariableRole::kBatchNormGamma: return n.batch_norm ? n.batch_norm->gamma() : nullptr;
      case VariableRole::kBatchNormMovingMean: return n.batch_norm ? &n.batch_norm->moving_mean() : nullptr;
      case VariableRole::kBatchNormMovingVariance: return n.batch_norm ? &n.batch_norm->moving_variance() : nullptr;
    }
    return nullptr;
  }

  // ---- forward ----

  // Checks the images, records the grids, and pads to pad_to_multiple (zeros at the bottom and
  // right, as ops.pad_to_multiple) into the model's own buffer when needed.
  const Tensor& PrepareInput(const nn::Context& ctx, const Tensor& images) {
    if (images.dimension(0) < 1 || images.dimension(3) != 3) {
      throw ArgumentError("SsdModel: images must be [N, H, W, 3] with N >= 1, found " + nn::ShapeString(nn::ShapeOf(images)));
    }
    const Index h = images.dimension(1), w = images.dimension(2);
    grids_ = FeatureMapSizes(spec_, h, w);  // throws below 33 pixels
    const Index p = std::max<Index>(1, spec_.pad_to_multiple);
    const Index hp = (h + p - 1) / p * p, wp = (w + p - 1) / p * p;
    image_shape_ = nn::ShapeOf(images);
    network_input_shape_ = {images.dimension(0), hp, wp, 3};
    if (hp == h && wp == w) return images;
    detail::PadSpatial(ctx, images, 0, hp - h, 0, wp - w, padded_images_);
    return padded_images_;
  }

  void ForwardNode(const nn::Context& ctx, Node& n, const Tensor& images) {
    const Tensor* x = n.source >= 0 ? &nodes_[static_cast<size_t>(n.source)].out : &images;
    if (n.pad_before + n.pad_after > 0) {
      detail::PadSpatial(ctx, *x, n.pad_before, n.pad_after, n.pad_before, n.pad_after, n.padded);
      x = &n.padded;
    }
    Tensor y = n.conv ? n.conv->Forward(ctx, *x) : n.depthwise->Forward(ctx, *x);
    if (n.batch_norm) {
      n.pre_norm = std::move(y);
      n.out = n.batch_norm->Forward(ctx, n.pre_norm);
    } else {
      n.out = std::move(y);
    }
    detail::ActivationForward(ctx, n.activation, n.out);
    if (n.layer->residual_input >= 0) detail::AddInPlace(ctx, n.out, nodes_[static_cast<size_t>(n.layer->residual_input)].out);
  }

  // Per image, each head's rows [H_m * W_m * A_m, C] are contiguous in its NHWC output: copied
  // as blocks into TF's anchor order.
  SsdPredictions<T> GatherPredictions() const {
    const Index batch = forward_batch_, anchors = AnchorCount(spec_, grids_), k = spec_.num_class_slots;
    SsdPredictions<T> p;
    p.box_encodings.assign(static_cast<size_t>(batch), BoxMatrix<T>(anchors, 4));
    p.class_predictions.assign(static_cast<size_t>(batch), Matrix<T>(anchors, k));
    Index offset = 0;
    for (size_t m = 0; m < grids_.size(); ++m) {
      const Index rows = grids_[m].height * grids_[m].width * spec_.feature_maps[m].anchors_per_location;
      const Tensor& box = nodes_[static_cast<size_t>(box_head_[m])].out;
      const Tensor& cls = nodes_[static_cast<size_t>(class_head_[m])].out;
      for (Index n = 0; n < batch; ++n) {
        std::copy(box.data() + n * rows * 4, box.data() + (n + 1) * rows * 4, p.box_encodings[n].data() + offset * 4);
        std::copy(cls.data() + n * rows * k, cls.data() + (n + 1) * rows * k, p.class_predictions[n].data() + offset * k);
      }
      offset += rows;
    }
    return p;
  }

  // ---- backward ----

  void BackwardImpl(const nn::Context& ctx, const std::vector<BoxMatrix<T>>& dbox, const std::vector<Matrix<T>>& dclass,
                    Tensor* dimages) {
    CheckOutputGradients(dbox, dclass);
    ScatterHeadGradients(dbox, dclass);
    Tensor dinput;
    bool has_dinput = false;
    for (size_t i = nodes_.size(); i-- > 0;) {
      Node& n = nodes_[i];
      if (!n.has_dout) continue;
      Tensor d = std::move(n.dout);
      n.has_dout = false;
      if (n.layer->residual_input >= 0) AddGradient(ctx, nodes_[static_cast<size_t>(n.layer->residual_input)], Tensor(d));
      detail::ActivationBackward(ctx, n.activation, n.out, d);
      if (n.batch_norm) d = n.batch_norm->Backward(ctx, d);
      const bool need_dx = n.source >= 0 || dimages != nullptr;
      Tensor dx = n.conv ? n.conv->Backward(ctx, d, need_dx) : n.depthwise->Backward(ctx, d, need_dx);
      if (!need_dx) continue;
      if (n.pad_before + n.pad_after > 0) {
        const nn::Shape4 x = n.source >= 0 ? nn::ShapeOf(nodes_[static_cast<size_t>(n.source)].out) : network_input_shape_;
        dx = detail::CropSpatial(ctx, dx, n.pad_before, n.pad_before, x);
      }
      if (n.source >= 0) {
        AddGradient(ctx, nodes_[static_cast<size_t>(n.source)], std::move(dx));
      } else if (!has_dinput) {
        dinput = std::move(dx);
        has_dinput = true;
      } else {
        detail::AddInPlace(ctx, dinput, dx);
      }
    }
    if (dimages == nullptr) return;
    *dimages = nn::ShapeOf(dinput) == image_shape_ ? std::move(dinput) : detail::CropSpatial(ctx, dinput, 0, 0, image_shape_);
  }

  void CheckOutputGradients(const std::vector<BoxMatrix<T>>& dbox, const std::vector<Matrix<T>>& dclass) const {
    if (forward_batch_ == 0) throw ArgumentError("SsdModel: Backward without a Forward");
    if (forward_mode_ == nn::BatchNormMode::kInference) {
      throw ArgumentError("SsdModel: Backward after an inference-mode Forward (kFrozen trains on the moving statistics)");
    }
    const Index anchors = AnchorCount(spec_, grids_);
    bool ok = static_cast<Index>(dbox.size()) == forward_batch_ && static_cast<Index>(dclass.size()) == forward_batch_;
    for (size_t n = 0; ok && n < dbox.size(); ++n) {
      ok = dbox[n].rows() == anchors && dclass[n].rows() == anchors && dclass[n].cols() == spec_.num_class_slots;
    }
    if (!ok) {
      throw ArgumentError("SsdModel: Backward expects " + std::to_string(forward_batch_) + " box gradients [" + std::to_string(anchors) +
                          ", 4] and class gradients [" + std::to_string(anchors) + ", " + std::to_string(spec_.num_class_slots) +
                          "] (the last Forward's shapes)");
    }
  }

  // The adjoint of GatherPredictions: each head's d out from the rows of its map.
  void ScatterHeadGradients(const std::vector<BoxMatrix<T>>& dbox, const std::vector<Matrix<T>>& dclass) {
    for (Node& n : nodes_) {
      n.has_dout = false;
      n.dout = Tensor();
    }
    const Index batch = forward_batch_, k = spec_.num_class_slots;
    Index offset = 0;
    for (size_t m = 0; m < grids_.size(); ++m) {
      const Index a = spec_.feature_maps[m].anchors_per_location, h = grids_[m].height, w = grids_[m].width, rows = h * w * a;
      Tensor box(batch, h, w, a * 4), cls(batch, h, w, a * k);
      for (Index n = 0; n < batch; ++n) {
        std::copy(dbox[n].data() + offset * 4, dbox[n].data() + (offset + rows) * 4, box.data() + n * rows * 4);
        std::copy(dclass[n].data() + offset * k, dclass[n].data() + (offset + rows) * k, cls.data() + n * rows * k);
      }
      nodes_[static_cast<size_t>(box_head_[m])].dout = std::move(box);
      nodes_[static_cast<size_t>(class_head_[m])].dout = std::move(cls);
      nodes_[static_cast<size_t>(box_head_[m])].has_dout = nodes_[static_cast<size_t>(class_head_[m])].has_dout = true;
      offset += rows;
    }
  }

  static void AddGradient(const nn::Context& ctx, Node& n, Tensor g) {
    if (!n.has_dout) {
      n.dout = std::move(g);
      n.has_dout = true;
    } else {
      detail::AddInPlace(ctx, n.dout, g);
    }
  }

  ModelSpec spec_;
  std::vector<Node> nodes_;
  std::vector<int> box_head_, class_head_;  // spec layer index per feature map
  nn::ParameterList<T> parameters_;
  nn::BatchNormMode mode_ = nn::BatchNormMode::kTraining;
  nn::BatchNormMode forward_mode_ = nn::BatchNormMode::kTraining;  // mode_ at the last Forward
  std::vector<GridSize> grids_;
  Index forward_batch_ = 0;
  nn::Shape4 image_shape_{};          // the last Forward's images
  nn::Shape4 network_input_shape_{};  // what the first layer read (padded to pad_to_multiple)
  Tensor padded_images_;              // the images padded to pad_to_multiple, when needed
};

}  // namespace warmstart::ssd
