// bench_ssd: SSD MobileNet V1 with its box predictor, float, batch 8, forward and
// forward+backward per image, for the two cases:
//
//   a   300x300 input, depth_multiplier 1.0   (the zoo's ssd_mobilenet_v1_coco)
//   b   128x128 input, depth_multiplier 0.25
//
// The network is the ModelSpec ssd::BuildModelSpec makes from the zoo pipeline.config's
// model.ssd (90 classes, min_depth 16, batch norm with center and scale, RELU_6, 1x1 heads
// with biases), image size and depth multiplier replaced. Batch norm runs in training mode; the
// loss is the plain sum of every predictor output (dy = 1), the same on the PyTorch side.
//
// bench/ssd_torch.py builds the same network in PyTorch from `--dump-layers` and drives the
// comparison (it runs this program with --json, interleaved with its own runs).
//
//   bench_ssd [--threads N] [--runs N] [--case a|b] [--batch N] [--json]
//   bench_ssd --dump-layers FILE        the layer list of every case, as JSON
//   bench_ssd --per-layer [--case a|b]  each distinct layer shape: conv, batch norm and
//                                       activation timed alone, forward and backward (JSON
//                                       with --json)
//
// Times are best and median of --runs (5) after one warm-up; fwd+bwd is one Forward plus one
// Backward, timed together. Exit status 0 unless the arguments are wrong.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <malloc.h>

#include <nlohmann/json.hpp>

#include "bench_util.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/nn/activation.hpp"
#include "warmstart/nn/batch_norm.hpp"
#include "warmstart/nn/conv2d.hpp"
#include "warmstart/nn/depthwise_conv2d.hpp"
#include "warmstart/ssd/model.hpp"
#include "warmstart/ssd/variables.hpp"

namespace {

namespace nn = warmstart::nn;
namespace ssd = warmstart::ssd;
using warmstart::bench::Clock;
using warmstart::bench::MsSince;
using nlohmann::json;
using nn::Index;
using Tensor = nn::Tensor4<float>;

struct Case {
  const char* name;
  int64_t size;  // square input
  double depth_multiplier;
};
constexpr Case kCases[] = {{"a", 300, 1.0}, {"b", 128, 0.25}};

// ---- the network description ------------------------------------------------------------

// model.ssd of the zoo's ssd_mobilenet_v1_coco_2018_01_28 pipeline.config (regularizers,
// initializers, box coder, matcher and losses dropped: they do not shape the network).
std::string ConfigText(const Case& c) {
  const std::string hp =
      "conv_hyperparams { activation: RELU_6 "
      "batch_norm { decay: 0.9997 center: true scale: true epsilon: 0.001 train: true } }";
  const std::string size = std::to_string(c.size);
  return "model { ssd {\n"
         "  num_classes: 90\n"
         "  image_resizer { fixed_shape_resizer { height: " + size + " width: " + size + " } }\n"
         "  feature_extractor { type: 'ssd_mobilenet_v1' depth_multiplier: " + std::to_string(c.depth_multiplier) +
         " min_depth: 16 " + hp + " }\n"
         "  box_predictor { convolutional_box_predictor { min_depth: 0 max_depth: 0 "
         "num_layers_before_predictor: 0 kernel_size: 1 box_code_size: 4 " + hp + " } }\n"
         "  anchor_generator { ssd_anchor_generator { num_layers: 6 min_scale: 0.2 max_scale: 0.95 "
         "aspect_ratios: 1.0 aspect_ratios: 2.0 aspect_ratios: 0.5 aspect_ratios: 3.0 aspect_ratios: 0.3333 } }\n"
         "} }\n";
}

ssd::ModelSpec SpecFor(const Case& c) {
  const std::string file = "bench_ssd case " + std::string(c.name);
  return ssd::BuildModelSpec(warmstart::config::PipelineConfig::Parse(ConfigText(c), file));
}

// Every field of a Layer the PyTorch side needs to build the same network.
json LayerJson(const ssd::Layer& l) {
  json j;
  j["scope"] = l.scope;
  j["name"] = l.name;
  j["part"] = ssd::ModelPartName(l.part);
  j["op"] = l.op == ssd::LayerOp::kConv2d ? "conv" : "depthwise";
  j["kernel"] = l.kernel;
  j["stride"] = l.stride;
  j["padding"] = l.padding == ssd::Padding::kSame ? "SAME" : "EXPLICIT";
  j["in_channels"] = l.in_channels;
  j["out_channels"] = l.out_channels;
  j["batch_norm"] = l.batch_norm.present ? json{{"center", l.batch_norm.center},
                                                {"scale", l.batch_norm.scale},
                                                {"epsilon", l.batch_norm.epsilon},
                                                {"decay", l.batch_norm.decay}}
                                         : json();
  j["biases"] = l.biases;
  j["activation"] = l.activation;
  j["input"] = l.input;
  j["input_feature_map"] = l.input_feature_map;
  j["residual_input"] = l.residual_input;
  j["feature_map"] = l.feature_map;
  j["predictor_index"] = l.predictor_index;
  return j;
}

json CaseJson(const Case& c, const ssd::ModelSpec& spec, int batch) {
  json j;
  j["name"] = c.name;
  j["batch"] = batch;
  j["height"] = c.size;
  j["width"] = c.size;
  j["depth_multiplier"] = c.depth_multiplier;
  j["num_class_slots"] = spec.num_class_slots;
  j["layers"] = json::array();
  for (const ssd::Layer& l : spec.layers) j["layers"].push_back(LayerJson(l));
  j["feature_maps"] = json::array();
  for (const ssd::FeatureMap& f : spec.feature_maps) {
    j["feature_maps"].push_back({{"key", f.key}, {"layer", f.layer}, {"depth", f.depth}});
  }
  return j;
}

// ---- one layer alone, for --per-layer: conv, then batch norm or biases, then ReLU6 ---------

nn::Padding NnPadding(const ssd::Layer& l) {
  if (l.padding != ssd::Padding::kSame) {
    throw warmstart::ArgumentError("bench_ssd: explicit padding is not benchmarked");
  }
  return nn::Padding::kSame;
}

// Weights ~ U(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs for unit-variance inputs.
void FillWeights(nn::Parameter<float>& p, Index fan_in, std::mt19937& rng) {
  const float a = std::sqrt(3.0f / static_cast<float>(fan_in));
  std::uniform_real_distribution<float> dist(-a, a);
  for (Index i = 0; i < p.NumElements(); ++i) p.value(i) = dist(rng);
}

// The nn layers of one spec Layer, as SsdModel builds them (its activation runs in place on
// the batch norm output; here nn::ReLU6 stands in, as F.relu6 without inplace on the other side).
class Block {
 public:
  Block(const ssd::Layer& l, std::mt19937& rng) {
    if (l.activation != "RELU_6" && l.activation != "NONE") {
      throw warmstart::ArgumentError("bench_ssd: activation " + l.activation + " is not benchmarked");
    }
    if (l.op == ssd::LayerOp::kConv2d) {
      nn::Conv2DOptions o;
      o.kernel_h = o.kernel_w = l.kernel;
      o.stride_h = o.stride_w = l.stride;
      o.in_channels = l.in_channels;
      o.out_channels = l.out_channels;
      o.padding = NnPadding(l);
      o.use_bias = l.biases;
      conv_ = std::make_unique<nn::Conv2D<float>>(l.scope, o);
      FillWeights(conv_->weights(), l.kernel * l.kernel * l.in_channels, rng);
    } else {
      nn::DepthwiseConv2DOptions o;
      o.kernel_h = o.kernel_w = l.kernel;
      o.stride_h = o.stride_w = l.stride;
      o.in_channels = l.in_channels;
      o.padding = NnPadding(l);
      o.use_bias = l.biases;
      depthwise_ = std::make_unique<nn::DepthwiseConv2D<float>>(l.scope, o);
      FillWeights(depthwise_->weights(), l.kernel * l.kernel, rng);
    }
    if (l.batch_norm.present) {
      nn::BatchNormOptions o;
      o.channels = l.out_channels;
      o.center = l.batch_norm.center;
      o.scale = l.batch_norm.scale;
      o.epsilon = l.batch_norm.epsilon;
      o.decay = l.batch_norm.decay;
      batch_norm_ = std::make_unique<nn::BatchNorm<float>>(l.scope + "/BatchNorm", o);
    }
  }

  // The pieces, for the per-layer benchmark.
  nn::Conv2D<float>* conv() { return conv_.get(); }
  nn::DepthwiseConv2D<float>* depthwise() { return depthwise_.get(); }
  nn::BatchNorm<float>* batch_norm() { return batch_norm_.get(); }
  nn::ReLU6<float>& relu6() { return relu6_; }

 private:
  std::unique_ptr<nn::Conv2D<float>> conv_;
  std::unique_ptr<nn::DepthwiseConv2D<float>> depthwise_;
  std::unique_ptr<nn::BatchNorm<float>> batch_norm_;
  nn::ReLU6<float> relu6_;
};

// ---- timing ---------------------------------------------------------------------------------

struct Stats {
  double best = 0, median = 0;
};

Stats StatsOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

Tensor RandomImages(Index n, Index h, Index w, Index c, uint64_t seed) {
  warmstart::bench::Rng rng{seed * 0x9E3779B97F4A7C15ull + 1};
  Tensor t(n, h, w, c);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = 2 * rng.Uniform() - 1;
  return t;
}

struct ModelTimes {
  std::vector<double> forward, forward_backward;  // ms per image, each run
};

// SsdModel in training mode; Backward gets dy = 1 for every output (loss = their sum).
ModelTimes TimeModel(const Case& c, const ssd::ModelSpec& spec, const nn::Context& ctx, int batch, int runs) {
  ssd::SsdModel<float> model(spec);
  model.Initialize(1);
  model.set_batch_norm_mode(nn::BatchNormMode::kTraining);
  const Tensor images = RandomImages(batch, c.size, c.size, 3, 1);
  const Index anchors = ssd::AnchorCount(spec, c.size, c.size);
  const std::vector<ssd::BoxMatrix<float>> dbox(batch, ssd::BoxMatrix<float>::Ones(anchors, 4));
  const std::vector<ssd::Matrix<float>> dcls(batch, ssd::Matrix<float>::Ones(anchors, spec.num_class_slots));
  std::vector<double> fwd, fwd_bwd;
  for (int r = 0; r <= runs; ++r) {  // run 0 is the warm-up
    model.parameters().ZeroGradients();
    const Clock::time_point t0 = Clock::now();
    const ssd::SsdPredictions<float> predictions = model.Forward(ctx, images);
    const double f = MsSince(t0);
    model.Backward(ctx, dbox, dcls);
    const double fb = MsSince(t0);
    if (r == 0) continue;
    fwd.push_back(f / batch);
    fwd_bwd.push_back(fb / batch);
  }
  return {fwd, fwd_bwd};
}

// ---- per-layer timing -----------------------------------------------------------------------

// Layers with the same geometry and input size are timed once and counted.
std::string LayerKey(const ssd::Layer& l, const ssd::GridSize& in) {
  std::string k = l.op == ssd::LayerOp::kConv2d ? "conv" : "dw";
  k += std::to_string(l.kernel) + "s" + std::to_string(l.stride) + " " + std::to_string(in.height) + "x" +
       std::to_string(in.width) + "x" + std::to_string(l.in_channels);
  if (l.op == ssd::LayerOp::kConv2d) k += "->" + std::to_string(l.out_channels);
  if (l.batch_norm.present) k += " bn";
  if (l.biases) k += " bias";
  if (l.activation != "NONE") k += " relu6";
  return k;
}

// Input grid of every layer (the image for the first, feature maps for the predictors).
std::vector<ssd::GridSize> InputGrids(const ssd::ModelSpec& spec, int64_t size) {
  std::vector<ssd::GridSize> out_grid(spec.layers.size()), in_grid(spec.layers.size());
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const ssd::Layer& l = spec.layers[i];
    ssd::GridSize in{size, size};
    if (l.input >= 0) in = out_grid[static_cast<size_t>(l.input)];
    if (l.input < 0 && l.input_feature_map >= 0) {
      in = out_grid[spec.feature_maps[static_cast<size_t>(l.input_feature_map)].layer];
    }
    in_grid[i] = in;
    out_grid[i] = {(in.height + l.stride - 1) / l.stride, (in.width + l.stride - 1) / l.stride};
  }
  return in_grid;
}

double BestMs(int runs, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const Clock::time_point t0 = Clock::now();
    fn();
    best = std::min(best, MsSince(t0));
  }
  return best;
}

// Conv (or depthwise), batch norm and ReLU6 of one layer, each forward and backward alone.
json TimeLayer(const ssd::Layer& l, const ssd::GridSize& in, const nn::Context& ctx, int batch, int runs) {
  std::mt19937 rng(3);
  Block block(l, rng);
  const Tensor x = RandomImages(batch, in.height, in.width, l.in_channels, 2);
  const bool need_dx = l.input >= 0 || l.input_feature_map >= 0;
  json j;
  Tensor y;
  if (block.conv()) {
    j["conv_fwd"] = BestMs(runs, [&] { y = block.conv()->Forward(ctx, x); });
    const Tensor dy = RandomImages(y.dimension(0), y.dimension(1), y.dimension(2), y.dimension(3), 3);
    j["conv_bwd"] = BestMs(runs, [&] { block.conv()->Backward(ctx, dy, need_dx); });
  } else {
    j["conv_fwd"] = BestMs(runs, [&] { y = block.depthwise()->Forward(ctx, x); });
    const Tensor dy = RandomImages(y.dimension(0), y.dimension(1), y.dimension(2), y.dimension(3), 3);
    j["conv_bwd"] = BestMs(runs, [&] { block.depthwise()->Backward(ctx, dy, need_dx); });
  }
  const Tensor dy = RandomImages(y.dimension(0), y.dimension(1), y.dimension(2), y.dimension(3), 4);
  if (block.batch_norm()) {
    j["bn_fwd"] = BestMs(runs, [&] { block.batch_norm()->Forward(ctx, y); });
    j["bn_bwd"] = BestMs(runs, [&] { block.batch_norm()->Backward(ctx, dy); });
  }
  if (l.activation == "RELU_6") {
    j["act_fwd"] = BestMs(runs, [&] { block.relu6().Forward(ctx, y); });
    j["act_bwd"] = BestMs(runs, [&] { block.relu6().Backward(ctx, dy); });
  }
  return j;
}

json PerLayer(const Case& c, const ssd::ModelSpec& spec, const nn::Context& ctx, int batch, int runs) {
  const std::vector<ssd::GridSize> grids = InputGrids(spec, c.size);
  std::map<std::string, size_t> index;
  json layers = json::array();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const std::string key = LayerKey(spec.layers[i], grids[i]);
    auto it = index.find(key);
    if (it != index.end()) {
      layers[it->second]["count"] = layers[it->second]["count"].get<int>() + 1;
      continue;
    }
    json j = TimeLayer(spec.layers[i], grids[i], ctx, batch, runs);
    j["key"] = key;
    j["layer"] = i;
    j["in_height"] = grids[i].height;
    j["in_width"] = grids[i].width;
    j["count"] = 1;
    index[key] = layers.size();
    layers.push_back(std::move(j));
  }
  return layers;
}

void PrintPerLayer(const json& layers) {
  std::printf("%-34s %3s %9s %9s %8s %8s %8s %8s  (ms per batch, best)\n", "layer", "n", "conv fwd", "conv bwd",
              "bn fwd", "bn bwd", "act fwd", "act bwd");
  for (const json& l : layers) {
    auto ms = [&](const char* k) { return l.contains(k) ? l[k].get<double>() : 0.0; };
    std::printf("%-34s %3d %9.2f %9.2f %8.2f %8.2f %8.2f %8.2f\n", l["key"].get<std::string>().c_str(),
                l["count"].get<int>(), ms("conv_fwd"), ms("conv_bwd"), ms("bn_fwd"), ms("bn_bwd"), ms("act_fwd"),
                ms("act_bwd"));
  }
}

// ---- command line ---------------------------------------------------------------------------

struct Options {
  int threads = 2;
  int runs = 5;
  int batch = 8;
  std::string only_case;
  std::string dump_layers;
  bool per_layer = false;
  bool json_output = false;
  bool keep_memory = false;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: bench_ssd [--threads N] [--runs N] [--batch N] [--case a|b] [--keep-memory] [--json]\n"
               "       bench_ssd --dump-layers FILE\n"
               "       bench_ssd --per-layer [--case a|b] [--threads N] [--runs N] [--json]\n");
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) Usage();
      return std::string(argv[++i]);
    };
    if (a == "--threads") o.threads = std::max(1, std::atoi(value().c_str()));
    else if (a == "--runs") o.runs = std::max(1, std::atoi(value().c_str()));
    else if (a == "--batch") o.batch = std::max(1, std::atoi(value().c_str()));
    else if (a == "--case") o.only_case = value();
    else if (a == "--dump-layers") o.dump_layers = value();
    else if (a == "--per-layer") o.per_layer = true;
    else if (a == "--json") o.json_output = true;
    else if (a == "--keep-memory") o.keep_memory = true;
    else Usage();
  }
  return o;
}

// glibc hands blocks above 32 MiB to mmap and trims the heap's top, so every large activation
// is fresh memory whose first touch page-faults: 46 MiB (Conv2d_1 at 300x300, batch 8) costs
// ~150 ms of faults on the benchmark VM against ~2 ms to write it. --keep-memory (and the same
// mallopt through ctypes on the PyTorch side) keeps freed memory in the heap for reuse.
void KeepFreedMemory() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

int DumpLayers(const Options& o) {
  json j;
  j["cases"] = json::array();
  for (const Case& c : kCases) j["cases"].push_back(CaseJson(c, SpecFor(c), o.batch));
  std::ofstream out(o.dump_layers);
  out << j.dump(1) << "\n";
  if (!out) {
    std::fprintf(stderr, "bench_ssd: cannot write %s\n", o.dump_layers.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  if (!o.dump_layers.empty()) return DumpLayers(o);
  if (o.keep_memory) KeepFreedMemory();
  const nn::Context ctx(o.threads);
  if (!o.json_output) {
    std::printf("bench_ssd: SSD MobileNet V1 + box predictor, float, batch %d, %d thread%s, best/median of %d, %s; "
                "%s\n",
                o.batch, o.threads, o.threads == 1 ? "" : "s", o.runs,
                o.keep_memory ? "freed memory kept" : "default malloc", warmstart::bench::LoadLine().c_str());
  }
  json results = json::array();
  for (const Case& c : kCases) {
    if (!o.only_case.empty() && o.only_case != c.name) continue;
    const ssd::ModelSpec spec = SpecFor(c);
    if (o.per_layer) {
      json layers = PerLayer(c, spec, ctx, o.batch, o.runs);
      if (!o.json_output) {
        std::printf("case %s (%lldx%lld, depth %.2f):\n", c.name, static_cast<long long>(c.size),
                    static_cast<long long>(c.size), c.depth_multiplier);
        PrintPerLayer(layers);
      }
      results.push_back({{"case", c.name}, {"layers", std::move(layers)}});
      continue;
    }
    const ModelTimes t = TimeModel(c, spec, ctx, o.batch, o.runs);
    const Stats f = StatsOf(t.forward), fb = StatsOf(t.forward_backward);
    if (!o.json_output) {
      std::printf("case %s  %3lldx%-3lld depth %.2f   forward %8.2f ms/image (median %8.2f)   forward+backward %8.2f "
                  "ms/image (median %8.2f)\n",
                  c.name, static_cast<long long>(c.size), static_cast<long long>(c.size), c.depth_multiplier, f.best,
                  f.median, fb.best, fb.median);
    }
    results.push_back({{"case", c.name}, {"forward", t.forward}, {"forward_backward", t.forward_backward}});
  }
  if (o.json_output) std::printf("%s\n", results.dump().c_str());
  return 0;
}
