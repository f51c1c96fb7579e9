// bench_plan: the fine-tune policy engine at scale (issue goal: a plan for 1,000,000 model
// variables against a 1,000,000-key checkpoint with 20 freeze patterns in under 2 s on one
// core, growing linearly: 10k / 100k / 1M printed).
//
// Names look like the Object Detection API's (~70 bytes, FeatureExtractor/... and
// BoxPredictor_i/...); 1 in 50 checkpoint tensors has another shape, 1 in 100 model variables
// is absent from the checkpoint, 1 in 3 is a non-trainable batch-norm statistic. The 20
// patterns mix literal prefixes, classes, alternations, anchors and `.*`.
//
// Baseline, timed in the same process on the same names: building an unordered_map of the
// checkpoint keys and looking every model name up in it (the floor of any name matching),
// plus sorting the model names (the TF order of the restore map). The ratio plan / baseline
// says what the rules, the three pattern semantics and the diagnostics cost on top.
//
//   bench_plan [--sizes 10000,100000,1000000] [--runs 3] [--profile warmstart]
#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>

#include "warmstart/restore/plan.hpp"

namespace {

using namespace warmstart::restore;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string Name(size_t i) {
  static const char* const kLeaf[] = {"weights", "BatchNorm/gamma", "BatchNorm/beta", "BatchNorm/moving_mean",
                                      "BatchNorm/moving_variance", "depthwise_weights", "biases"};
  char buf[160];
  if (i % 10 == 9) {
    std::snprintf(buf, sizeof buf, "BoxPredictor_%zu/ClassPredictor_block_%05zu/%s", i % 6, i / 10,
                  kLeaf[i % 7]);
  } else {
    std::snprintf(buf, sizeof buf, "FeatureExtractor/MobilenetV1/Conv2d_%zu_pointwise/unit_%07zu/%s", i % 14, i,
                  kLeaf[i % 7]);
  }
  return buf;
}

struct Inputs {
  std::vector<ModelVariable> model;
  CheckpointListing ckpt;
};

Inputs Make(size_t n) {
  Inputs in;
  in.model.reserve(n);
  std::vector<CheckpointTensor> tensors;
  tensors.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    ModelVariable v;
    v.name = Name(i);
    v.shape = {1, 1, 64, static_cast<int64_t>(8 + i % 5)};
    v.trainable = v.name.find("moving_") == std::string::npos;
    in.model.push_back(v);
    if (i % 100 == 7) continue;  // missing from the checkpoint
    CheckpointTensor t;
    t.key = v.name;
    t.dtype = warmstart::bundle::DataType::kFloat;
    t.shape = v.shape;
    if (i % 50 == 3) t.shape.back() += 1;  // another shape
    tensors.push_back(std::move(t));
  }
  for (size_t i = in.model.size() - tensors.size(); i > 0; --i) {  // keep the key count at n
    CheckpointTensor t;
    t.key = "Extra/unused_" + std::to_string(i);
    t.dtype = warmstart::bundle::DataType::kFloat;
    t.shape = {4};
    tensors.push_back(std::move(t));
  }
  in.ckpt = CheckpointListing("bench", std::move(tensors));
  return in;
}

FineTuneSettings Settings() {
  FineTuneSettings s;
  s.fine_tune_checkpoint = "bench";
  s.fine_tune_checkpoint_type = "detection";
  s.feature_extractor_type = "ssd_mobilenet_v1";
  s.freeze_variables = {
      "FeatureExtractor/MobilenetV1/Conv2d_0_",  "FeatureExtractor/MobilenetV1/Conv2d_[1-3]_pointwise/unit_00",
      ".*BoxPredictor_5.*",                       "^FeatureExtractor/.*/BatchNorm/gamma$",
      "weights$",                                 "Conv2d_1[0-3]_pointwise/unit_0000",
      "(?:depthwise|pointwise)/unit_999",         "BoxPredictor_[0-2]/ClassPredictor_block_0000",
      "\\AFeatureExtractor/MobilenetV1/Conv2d_4", "unit_12345[0-9]+/biases",
      "FeatureExtractor/MobilenetV2/",            "ClassPredictor_block_1[0-9]{4}/",
      "Conv2d_5_pointwise/unit_00[0-4]",          "[A-Z][a-z]+Extractor/Mobile.*/Conv2d_6_",
      "BatchNorm/beta$",                          "BoxPredictor_4/.*biases",
      "unit_(0|1)23",                             "Conv2d_7_pointwise/unit_0*1$",
      "NotInTheModel",                            "FeatureExtractor/MobilenetV1/Conv2d_8_pointwise/unit_000[0-9]{4}/w",
  };
  return s;
}

double Baseline(const Inputs& in) {
  const auto t0 = Clock::now();
  std::unordered_map<std::string_view, size_t> keys;
  keys.reserve(in.ckpt.size());
  for (size_t i = 0; i < in.ckpt.size(); ++i) keys.emplace(in.ckpt.tensors()[i].key, i);
  size_t found = 0;
  for (const ModelVariable& v : in.model) found += keys.count(v.name);
  std::vector<std::string_view> names;
  names.reserve(in.model.size());
  for (const ModelVariable& v : in.model) names.push_back(v.name);
  std::sort(names.begin(), names.end());
  const auto t1 = Clock::now();
  if (found == 0) std::printf("(no names found)\n");
  return Seconds(t0, t1);
}

std::vector<size_t> ParseSizes(const char* s) {
  std::vector<size_t> out;
  while (*s != '\0') {
    char* end = nullptr;
    out.push_back(std::strtoull(s, &end, 10));
    s = *end == ',' ? end + 1 : end;
  }
  return out;
}

long MinorFaults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000, 1000000};
  int runs = 3;
  Profile profile = Profile::kWarmstart;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--sizes") sizes = ParseSizes(argv[i + 1]);
    else if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--profile") profile = ParseProfile(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_plan [--sizes N,N,...] [--runs N] [--profile P]\n");
      return 2;
    }
  }
  // Keep freed memory in the process (as bench_read does): otherwise every 1M run pays its
  // page faults again while smaller runs reuse a warm heap. The first run is printed too.
  mallopt(M_TRIM_THRESHOLD, -1);
  mallopt(M_MMAP_MAX, 0);
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  std::printf("bench_plan: profile %s, 20 freeze patterns, load average %.2f\n", ProfileName(profile), load);
  const FineTuneSettings settings = Settings();
  PlanOptions options;
  options.profile = profile;
  double first_per_var = 0, last_per_var = 0;
  for (size_t n : sizes) {
    const Inputs in = Make(n);
    double best = 1e30, base = 1e30, first = 0;
    long first_faults = 0;
    size_t restored = 0, frozen = 0;
    for (int r = 0; r < runs; ++r) {
      base = std::min(base, Baseline(in));
      // MakePlan takes the model list by value; a caller done with its list moves it in, so
      // the copy this loop needs is not timed.
      std::vector<ModelVariable> model = in.model;
      const long faults0 = MinorFaults();
      const auto t0 = Clock::now();
      const RestorePlan plan = MakePlan(std::move(model), &in.ckpt, settings, options);
      const auto t1 = Clock::now();
      best = std::min(best, Seconds(t0, t1));
      if (r == 0) first = Seconds(t0, t1);
      if (r == 0) first_faults = MinorFaults() - faults0;
      const RestorePlan::Counts c = plan.counts();
      restored = c.restored;
      frozen = c.frozen;
    }
    const double per_var = best / static_cast<double>(n) * 1e9;
    if (first_per_var == 0) first_per_var = per_var;
    last_per_var = per_var;
    std::printf("plan %8zu variables x %8zu keys: best %7.3f s (%5.0f ns/variable), first %7.3f s (%ld page faults); baseline %6.3f s, "
                "ratio %4.1f; restored %zu, frozen %zu%s\n",
                n, in.ckpt.size(), best, per_var, first, first_faults, base, best / base, restored, frozen,
                n == 1000000 ? (best < 2.0 ? "  [goal < 2 s: met]" : "  [goal < 2 s: MISSED]") : "");
  }
  if (sizes.size() > 1) {
    std::printf("linearity: ns/variable at %zu / at %zu = %.2f (1.00 = linear)\n", sizes.back(), sizes.front(),
                last_per_var / first_per_var);
  }
  return 0;
}
