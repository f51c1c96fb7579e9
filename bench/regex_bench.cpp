// bench_regex: the policy engine's regex goal, measured on names this program makes up.
//
//   A PyRegexSet of 20 typical pipeline.config patterns (literal prefixes, .*X.*, ^...$,
//   bare words, character classes) answers FirstMatch for 1,000,000 SSD/MobileNet-style
//   variable names of ~70 bytes, once in kSearch mode (path B: re.search on "name:0") and
//   once in kMatch mode (path A: re.match on the op name). Goal: both passes together well
//   under 1 s on one core.
//
// Baselines, measured in the same process over the same names:
//   find      std::string_view::find of one literal ("BoxPredictor") in every name: the cost
//             of touching the bytes once, the floor for any one-pass matcher;
//   std::regex the same 20 patterns as ECMAScript std::regex, regex_search on each name,
//             on the first 10,000 names (it is too slow for all of them), scaled to 1M.
// Also AllMatches (every matching pattern), and 20 separate PyRegex objects per name.
//
// Usage (from anywhere): bench_regex [--names N] [--runs N]. Exit status is always 0.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/restore/pyregex.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using warmstart::restore::PyMatchMode;
using warmstart::restore::PyRegex;
using warmstart::restore::PyRegexSet;

constexpr double kGoalMs = 1000.0;
constexpr size_t kStdRegexNames = 10000;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of this process: with two cores shared by other jobs, wall time can be several
// times the work done; the goal is about one core's work.
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

// Names as TF1 SSD MobileNet checkpoints spell them, with optimizer slots and EMA shadows
// to reach ~70 bytes on average.
std::vector<std::string> MakeNames(size_t n) {
  static const char* kLeaves[] = {"weights", "depthwise_weights", "biases", "BatchNorm/gamma", "BatchNorm/beta",
                                  "BatchNorm/moving_mean", "BatchNorm/moving_variance"};
  static const char* kSuffixes[] = {"", "/ExponentialMovingAverage", "/Momentum", "/RMSProp", "/RMSProp_1"};
  std::mt19937 engine(12345);
  const auto rng = [&engine] { return static_cast<unsigned>(engine()); };
  std::vector<std::string> names;
  names.reserve(n);
  char buf[256];
  for (size_t i = 0; i < n; ++i) {
    const char* leaf = kLeaves[rng() % 7];
    const char* suffix = kSuffixes[rng() % 5];
    switch (rng() % 4) {
      case 0:
      case 1:
        std::snprintf(buf, sizeof buf, "FeatureExtractor/MobilenetV1/Conv2d_%u_%s/%s%s", rng() % 14,
                      rng() % 2 ? "pointwise" : "depthwise", leaf, suffix);
        break;
      case 2:
        std::snprintf(buf, sizeof buf, "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_%u_Conv2d_%u_3x3_s2_%u/%s%s",
                      1 + rng() % 2, 2 + rng() % 4, 128u << (rng() % 3), leaf, suffix);
        break;
      default:
        std::snprintf(buf, sizeof buf, "BoxPredictor_%u/%s/%s%s", rng() % 6,
                      rng() % 2 ? "ClassPredictor" : "BoxEncodingPredictor", rng() % 2 ? "weights" : "biases",
                      suffix);
    }
    names.emplace_back(buf);
  }
  return names;
}

// Twenty patterns of the kinds pipeline.config files use; all valid ECMAScript too.
const std::vector<std::string>& Patterns() {
  static const std::vector<std::string> kPatterns = {
      "FeatureExtractor/MobilenetV1/Conv2d_[0-9]_",
      ".*BoxPredictor.*",
      "^FeatureExtractor/.*/BatchNorm/gamma$",
      "weights",
      "BoxPredictor_0/ClassPredictor/biases$",
      "FeatureExtractor/MobilenetV1/Conv2d_1[0-3]",
      "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_[12]_Conv2d_[2-5]",
      ".*/biases",
      "BoxPredictor_[0-5]/BoxEncodingPredictor",
      "^BoxPredictor_[3-5]/ClassPredictor/weights$",
      "ExponentialMovingAverage",
      "Momentum$",
      "RMSProp_1",
      "moving_(mean|variance)",
      "Conv2d_[0-9]+_depthwise/depthwise_weights",
      "FeatureExtractor/MobilenetV1/Conv2d_0/",
      "global_step",
      "[A-Z][a-z]+Predictor_9",
      "Conv2d_[0-9]+_3x3_s2_(128|256|512)/BatchNorm/beta",
      "^(?:FeatureExtractor|BoxPredictor_1)/.*weights$",
  };
  return kPatterns;
}

struct Timing {
  double best_ms = 1e300;       // CPU time, best run
  double best_wall_ms = 1e300;  // wall time, best run
  long checksum = 0;
};

template <typename Fn>
Timing Best(int runs, Fn fn) {
  Timing t;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    const double cpu = CpuMs();
    t.checksum = fn();
    t.best_ms = std::min(t.best_ms, CpuMs() - cpu);
    t.best_wall_ms = std::min(t.best_wall_ms, MsSince(start));
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  size_t num_names = 1000000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--names") num_names = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
  }
  std::printf("bench_regex: load average %s\n", LoadAverage().c_str());
  const std::vector<std::string> names = MakeNames(num_names);
  std::vector<std::string> tensor_names;  // path B sees "name:0"
  tensor_names.reserve(names.size());
  size_t bytes = 0;
  for (const auto& n : names) {
    tensor_names.push_back(n + ":0");
    bytes += n.size();
  }
  std::printf("%zu names, %.1f bytes on average, %zu patterns, best of %d runs, CPU time (wall)\n", names.size(),
              static_cast<double>(bytes) / names.size(), Patterns().size(), runs);

  const Timing find = Best(runs, [&] {
    long hits = 0;
    for (const auto& n : tensor_names) hits += std::string_view(n).find("BoxPredictor") != std::string_view::npos;
    return hits;
  });
  std::printf("  baseline find(\"BoxPredictor\")       %8.1f ms (%.1f)\n", find.best_ms, find.best_wall_ms);

  const PyRegexSet search(Patterns(), PyMatchMode::kSearch);
  const PyRegexSet match(Patterns(), PyMatchMode::kMatch);
  const Timing first_search = Best(runs, [&] {
    long hits = 0;
    for (const auto& n : tensor_names) hits += search.FirstMatch(n) + 1;
    return hits;
  });
  const Timing first_match = Best(runs, [&] {
    long hits = 0;
    for (const auto& n : names) hits += match.FirstMatch(n) + 1;
    return hits;
  });
  const double total = first_search.best_ms + first_match.best_ms;
  std::printf("  PyRegexSet FirstMatch, kSearch        %8.1f ms (%.1f)  %.1f x find\n", first_search.best_ms,
              first_search.best_wall_ms, first_search.best_ms / find.best_ms);
  std::printf("  PyRegexSet FirstMatch, kMatch         %8.1f ms (%.1f)  %.1f x find\n", first_match.best_ms,
              first_match.best_wall_ms, first_match.best_ms / find.best_ms);
  std::printf("  search + match                        %8.1f ms  goal < %.0f ms: %s\n", total, kGoalMs,
              total < kGoalMs ? "met" : "NOT met");

  const Timing all_search = Best(runs, [&] {
    std::vector<int> out;
    long hits = 0;
    for (const auto& n : tensor_names) {
      search.AllMatches(n, &out);
      hits += static_cast<long>(out.size());
    }
    return hits;
  });
  std::printf("  PyRegexSet AllMatches, kSearch        %8.1f ms (%.1f)  %.1f x find, %ld matches\n",
              all_search.best_ms, all_search.best_wall_ms, all_search.best_ms / find.best_ms, all_search.checksum);
  std::printf("  DFA states built: %zu (search set), %zu (match set); cache flushes: %zu\n",
              search.CacheStats().first, match.CacheStats().first,
              search.CacheStats().second + match.CacheStats().second);

  // 20 separate PyRegex objects: one pass per pattern instead of one pass in all.
  std::vector<PyRegex> singles;
  for (const auto& p : Patterns()) singles.push_back(PyRegex::Compile(p));
  const Timing separate = Best(runs, [&] {
    long hits = 0;
    for (const auto& n : tensor_names) {
      for (const PyRegex& re : singles) hits += re.Matches(n, PyMatchMode::kSearch);
    }
    return hits;
  });
  std::printf("  20 x PyRegex::Matches, kSearch        %8.1f ms (%.1f)  %.1f x the set's AllMatches\n",
              separate.best_ms, separate.best_wall_ms, separate.best_ms / all_search.best_ms);

  // std::regex on a subset, scaled to the full count.
  const size_t subset = std::min(kStdRegexNames, tensor_names.size());
  std::vector<std::regex> std_regexes;
  for (const auto& p : Patterns()) {
    // (?:...) is ECMAScript too; no Python-only syntax in these patterns.
    std_regexes.emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
  }
  const Timing std_search = Best(1, [&] {
    long hits = 0;
    for (size_t i = 0; i < subset; ++i) {
      for (const auto& re : std_regexes) hits += std::regex_search(tensor_names[i], re);
    }
    return hits;
  });
  const double std_scaled = std_search.best_ms * static_cast<double>(tensor_names.size()) / subset;
  std::printf("  std::regex_search x 20 patterns       %8.1f ms  (scaled from %zu names; %.0f x PyRegexSet AllMatches)\n",
              std_scaled, subset, std_scaled / all_search.best_ms);
  std::printf("checksums %ld %ld %ld %ld\n", find.checksum, first_search.checksum, first_match.checksum,
              separate.checksum);
  return 0;
}
