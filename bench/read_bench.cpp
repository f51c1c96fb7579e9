// bench_read: the two read-path goals of the issue, measured on bundles this program writes.
//
//   1. open + list   BundleReader<DiskFileSystem>::Open + one pass over entries() for
//                    bundles of 10k, 100k and 1M small float tensors with realistic
//                    names. Goal: 100k entries in < 100 ms. Best and median of N runs.
//   2. verify        Open + VerifyAll() of a 1 GiB bundle (256 x 4 MiB float tensors;
//                    1 shard, then 4 shards) from the page cache, against `cat FILES >
//                    /dev/null` run in the same process (posix_spawn, whole command timed).
//                    Goal: verify throughput >= 0.8 x cat. Also Open + Read<float> of every
//                    tensor, and two baselines that explain the gap (crc32c over a buffer
//                    already in memory; first touch of the mapped files).
//
// Usage (from the repository root):
//   bench_read [--verify-mib N] [--entries N,N,...] [--runs N] [--verify-runs N] [--verify-threads N]
//              [--dir DIR] [--keep] [--only open|verify]
// Environment: WARMSTART_BENCH_VERIFY_MIB (default 1024), WARMSTART_BENCH_ENTRIES
// (default 10000,100000,1000000). Scratch files go to bench-data/read_bench/ and are
// removed at the end unless --keep. Exit status is 0 whatever the results.
//
// The bundles are written by warmstart's BundleWriter (and MergeBundles for 4 shards).
//
// Open+list allocates a name and a shape per entry. glibc gives freed memory back to the
// system (trim, and mmap for large blocks), so a later run of the same size pays the page
// faults again only when the heap is large: the best of N runs was "warm" at 10k and 100k
// but "cold" at 1M, which looked like super-linear growth. Memory is therefore kept
// (mallopt below) and each size prints both its first run (cold heap: page faults
// included, what one process opening one bundle pays) and its best (warm heap).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <malloc.h>

#include <memory>

#include "bench_util.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/file.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::bench::Clock;
using warmstart::bench::GBps;
using warmstart::bench::kMiB;
using warmstart::bench::LoadLine;
using warmstart::bench::MsSince;
using warmstart::bench::Rng;
using warmstart::bundle::BundleReader;
using warmstart::core::DiskFileSystem;

constexpr double kOpenGoalMs = 100.0;
constexpr size_t kOpenGoalEntries = 100000;
constexpr double kVerifyGoalRatio = 0.8;
constexpr size_t kBigTensorBytes = 4 * kMiB;

// ---- Options ----------------------------------------------------------------------

struct Options {
  size_t verify_mib = 1024;
  std::vector<size_t> entry_counts = {10000, 100000, 1000000};
  int runs = 10;
  int verify_runs = 3;
  unsigned verify_threads = 0;  // VerifyAll's argument: 0 = automatic (2 threads from 64 MiB)
  std::string dir = "bench-data/read_bench";
  bool keep = false;
  bool run_open = true;
  bool run_verify = true;
};

std::vector<size_t> ParseCounts(const std::string& s) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(std::stoull(s.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  if (const char* v = std::getenv("WARMSTART_BENCH_VERIFY_MIB")) o.verify_mib = std::stoull(v);
  if (const char* v = std::getenv("WARMSTART_BENCH_ENTRIES")) o.entry_counts = ParseCounts(v);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--verify-mib") o.verify_mib = std::stoull(next());
    else if (a == "--entries") o.entry_counts = ParseCounts(next());
    else if (a == "--runs") o.runs = std::max(1, std::stoi(next()));
    else if (a == "--verify-runs") o.verify_runs = std::max(1, std::stoi(next()));
    else if (a == "--verify-threads") o.verify_threads = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--dir") o.dir = next();
    else if (a == "--keep") o.keep = true;
    else if (a == "--only") {
      const std::string what = next();
      o.run_open = what == "open";
      o.run_verify = what == "verify";
    } else {
      throw std::invalid_argument("unknown argument " + a +
                                  " (see the comment at the top of bench/read_bench.cpp)");
    }
  }
  return o;
}

// ---- Timing -----------------------------------------------------------------------

struct Stats {
  double best = 0, median = 0;
};

Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return {ms.front(), n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2};
}

const char* PassFail(bool pass) { return pass ? "PASS" : "FAIL"; }

// A value the optimiser must compute.
volatile uint64_t g_sink = 0;

// ---- Layout writer ----------------------------------------------------------------

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;
  int shard = 0;
};

int64_t NumElements(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Writes PREFIX.index and PREFIX.data-*-of-* for DT_FLOAT tensors. Requires: specs sorted
// by name, unique. Payloads are written in that order (TF1 Saver order), packed.
// With one shard a single BundleWriter; with several, one writer per shard and a merge,
// as TF's sharded saves do. Specs are in name order with each shard's tensors contiguous,
// so the merged shard ids equal TensorSpec::shard.
void WriteBundle(const std::string& prefix, int num_shards, const std::vector<TensorSpec>& specs,
                 uint64_t seed) {
  using warmstart::bundle::BundleWriter;
  using warmstart::bundle::TensorShape;
  std::vector<std::string> parts;
  std::vector<std::unique_ptr<BundleWriter>> writers;
  for (int s = 0; s < num_shards; ++s) {
    parts.push_back(num_shards == 1 ? prefix : prefix + "_temp/part-" + std::to_string(s));
    writers.push_back(std::make_unique<BundleWriter>(parts.back()));
  }
  Rng rng{seed | 1};
  std::vector<float> payload;
  for (const TensorSpec& t : specs) {
    payload.resize(static_cast<size_t>(NumElements(t.dims)));
    for (float& v : payload) v = rng.Uniform();
    writers[static_cast<size_t>(t.shard)]->Add(t.name, payload, TensorShape(t.dims));
  }
  for (auto& w : writers) w->Finish();  // fsynced: no writeback during the timings
  if (num_shards > 1) {
    warmstart::bundle::MergeBundles(parts, prefix);
    fs::remove_all(prefix + "_temp");
  }
}

std::vector<std::string> BundleFiles(const std::string& prefix, int num_shards) {
  std::vector<std::string> out = {warmstart::bundle::MetaFilename(prefix)};
  for (int s = 0; s < num_shards; ++s) out.push_back(warmstart::bundle::DataFilename(prefix, s, num_shards));
  return out;
}

void RemoveBundle(const std::string& prefix, int num_shards) {
  for (const std::string& f : BundleFiles(prefix, num_shards)) fs::remove(f);
}

// ---- Goal 1: open + list ----------------------------------------------------------

// Names as an SSD MobileNetV2 checkpoint has them (scope/layer/op/variable), made unique
// by a numeric suffix; small float shapes (scalars to 3x3x1x2) keep the data files small.
std::vector<TensorSpec> ManySmallTensors(size_t n) {
  static const char* const kScopes[] = {
      "FeatureExtractor/MobilenetV2/layer_19_2_Conv2d_5_3x3_s2_128",
      "FeatureExtractor/MobilenetV2/expanded_conv_13/depthwise",
      "FeatureExtractor/MobilenetV2/expanded_conv_16/project",
      "BoxPredictor_3/ClassPredictor",
      "FeatureExtractor/MobilenetV2/Conv_1",
  };
  static const char* const kVariables[] = {
      "BatchNorm/moving_variance", "BatchNorm/moving_mean", "BatchNorm/gamma",
      "BatchNorm/beta",            "weights",               "biases/ExponentialMovingAverage",
  };
  static const std::vector<int64_t> kShapes[] = {{}, {4}, {8}, {16}, {3, 3, 1, 2}, {2, 2}};
  std::vector<TensorSpec> specs(n);
  for (size_t i = 0; i < n; ++i) {
    specs[i].name = std::string(kScopes[i % 5]) + "/" + kVariables[(i / 5) % 6] + "_" + std::to_string(i);
    specs[i].dims = kShapes[i % 6];
  }
  std::sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) { return a.name < b.name; });
  return specs;
}

struct PerEntry {
  size_t n;
  double best_ns, first_ns;
};
std::vector<PerEntry> g_per_entry;  // for the linearity summary

// Open + a pass over entries(); destruction of the reader is timed apart.
double TimeOpenList(const std::string& prefix, size_t expected, double* close_ms) {
  const Clock::time_point start = Clock::now();
  auto reader = std::make_unique<BundleReader<DiskFileSystem>>(BundleReader<DiskFileSystem>::Open(prefix));
  uint64_t sum = 0;
  for (const auto& e : reader->entries()) sum += e.name.size() + static_cast<uint64_t>(e.size) + e.shape.rank();
  const double ms = MsSince(start);
  if (reader->entries().size() != expected) {
    std::printf("  ERROR: listed %zu entries, expected %zu\n", reader->entries().size(), expected);
  }
  const Clock::time_point close_start = Clock::now();
  reader.reset();
  *close_ms = MsSince(close_start);
  g_sink = g_sink + sum;
  return ms;
}

void BenchOpenList(const Options& o, size_t n) {
  const std::string prefix = o.dir + "/many_" + std::to_string(n);
  const Clock::time_point gen_start = Clock::now();
  WriteBundle(prefix, 1, ManySmallTensors(n), n);
  const double gen_ms = MsSince(gen_start);
  const uint64_t index_bytes = fs::file_size(warmstart::bundle::MetaFilename(prefix));
  std::vector<double> open_ms, close_ms;
  for (int r = 0; r < o.runs; ++r) {
    double c = 0;
    open_ms.push_back(TimeOpenList(prefix, n, &c));
    close_ms.push_back(c);
  }
  const Stats s = Summarize(open_ms);
  const Stats c = Summarize(close_ms);
  const double per_best = s.best * 1e6 / static_cast<double>(n);
  const double per_first = open_ms.front() * 1e6 / static_cast<double>(n);
  std::printf("open+list %zu entries: best %.1f ms, median %.1f ms, first run %.1f ms", n, s.best, s.median,
              open_ms.front());
  if (n == kOpenGoalEntries) std::printf(" (goal < %.0f ms: %s)", kOpenGoalMs, PassFail(s.best < kOpenGoalMs));
  std::printf("\n  %.0f ns/entry best (warm heap), %.0f ns/entry first run (cold heap); index %.1f MiB, %d runs; "
              "reader destruction median %.1f ms (not included); bundle written in %.0f ms\n",
              per_best, per_first, static_cast<double>(index_bytes) / kMiB, o.runs, c.median, gen_ms);
  g_per_entry.push_back({n, per_best, per_first});
  std::fflush(stdout);
  if (!o.keep) RemoveBundle(prefix, 1);
}

// ---- Goal 2: verify against cat ---------------------------------------------------

// 4 MiB tensors (fewer, smaller when total < 4 MiB), split into contiguous runs per shard.
std::vector<TensorSpec> BigTensors(uint64_t total_bytes, int num_shards) {
  const uint64_t tensor_bytes = std::min<uint64_t>(kBigTensorBytes, std::max<uint64_t>(total_bytes, 4));
  const size_t count = static_cast<size_t>(std::max<uint64_t>(1, total_bytes / tensor_bytes));
  std::vector<TensorSpec> specs(count);
  for (size_t i = 0; i < count; ++i) {
    char name[96];
    std::snprintf(name, sizeof(name), "FeatureExtractor/MobilenetV2/expanded_conv_%03zu/expand/weights", i);
    specs[i].name = name;
    specs[i].dims = {static_cast<int64_t>(tensor_bytes / 4 / 256), 256};
    specs[i].shard = static_cast<int>(i * static_cast<size_t>(num_shards) / count);
  }
  return specs;
}

// Runs `cat FILES` with stdout on /dev/null; no shell in between.
double TimeCat(const std::vector<std::string>& files) {
  std::vector<std::string> args = {"cat"};
  args.insert(args.end(), files.begin(), files.end());
  const warmstart::bench::SpawnResult r = warmstart::bench::RunTimed(std::move(args), "/dev/null");
  if (!r.Succeeded()) std::printf("  ERROR: cat failed (spawn error %d, status %d)\n", r.spawn_error, r.status);
  return r.ms;
}

// Open + VerifyAll, reader destroyed (files unmapped) inside the timed region.
double TimeVerify(const std::string& prefix, size_t expected_tensors, unsigned threads) {
  const Clock::time_point start = Clock::now();
  warmstart::bundle::VerifyReport report;
  {
    const auto reader = BundleReader<DiskFileSystem>::Open(prefix);
    report = reader.VerifyAll(threads);
  }
  const double ms = MsSince(start);
  if (!report.ok() || report.tensors_verified != expected_tensors) {
    std::printf("  ERROR: verified %zu of %zu tensors, %zu failures%s%s\n", report.tensors_verified,
                expected_tensors, report.failures.size(), report.ok() ? "" : ": ",
                report.ok() ? "" : report.failures.front().message.c_str());
  }
  return ms;
}

// Open + Read<float> of every tensor (crc-checked copy into a fresh vector).
double TimeReadAll(const std::string& prefix) {
  const Clock::time_point start = Clock::now();
  uint64_t sum = 0;
  {
    const auto reader = BundleReader<DiskFileSystem>::Open(prefix);
    for (const auto& e : reader.entries()) {
      const std::vector<float> v = reader.Read<float>(e.name);
      sum += v.size() + (v.empty() ? 0 : static_cast<uint64_t>(v[v.size() / 2] * 1000));
    }
  }
  g_sink = g_sink + sum;
  return MsSince(start);
}

// Baseline: crc32c alone over a buffer already in memory (no mapping, no page faults).
double CrcInMemoryGBps() {
  std::vector<uint8_t> buf(kBigTensorBytes);
  Rng rng{7};
  for (auto& b : buf) b = static_cast<uint8_t>(rng.Next());
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const Clock::time_point start = Clock::now();
    uint32_t c = 0;
    for (int i = 0; i < 64; ++i) c ^= warmstart::core::crc32c::Value(buf.data(), buf.size());
    best = std::min(best, MsSince(start));
    g_sink = g_sink + c;
  }
  return GBps(64 * kBigTensorBytes, best);
}

// Baseline: map each file and read one byte per 4 KiB page: the cost of faulting in
// page-cache pages, which the mmap reader pays and read()-based cat does not.
double TimeTouchPages(const std::vector<std::string>& files) {
  const Clock::time_point start = Clock::now();
  uint64_t sum = 0;
  for (const std::string& path : files) {
    const auto f = warmstart::core::MappedFile::Open(path);
    const auto bytes = f.bytes();
    for (size_t i = 0; i < bytes.size(); i += 4096) sum += bytes[i];
  }
  g_sink = g_sink + sum;
  return MsSince(start);
}

struct VerifyTimes {
  std::vector<double> cat, verify, read, touch, spawn;
};

void PrintVerify(const std::string& label, uint64_t bytes, const VerifyTimes& t) {
  const double cat = GBps(bytes, Summarize(t.cat).best);
  const double verify = GBps(bytes, Summarize(t.verify).best);
  const double read = GBps(bytes, Summarize(t.read).best);
  const double touch = GBps(bytes, Summarize(t.touch).best);
  const double spawn = Summarize(t.spawn).best;
  const double ratio = verify / cat;
  std::printf("verify %.2f GiB %s: %.2f GB/s; cat: %.2f GB/s; ratio %.2f (goal >= %.2f: %s)\n",
              static_cast<double>(bytes) / (1024.0 * kMiB), label.c_str(), verify, cat, ratio, kVerifyGoalRatio,
              PassFail(ratio >= kVerifyGoalRatio));
  std::printf("  read<float> all: %.2f GB/s (%.2f x cat); mmap page touch only: %.2f GB/s; cat of an empty "
              "file: %.1f ms\n  best of %zu; ms best/median: cat %.1f/%.1f, verify %.1f/%.1f, read %.1f/%.1f\n",
              read, read / cat, touch, spawn, t.cat.size(), Summarize(t.cat).best, Summarize(t.cat).median,
              Summarize(t.verify).best, Summarize(t.verify).median, Summarize(t.read).best,
              Summarize(t.read).median);
}

void BenchVerify(const Options& o, int num_shards) {
  const uint64_t total = static_cast<uint64_t>(o.verify_mib) * kMiB;
  const std::string prefix = o.dir + "/big_" + std::to_string(num_shards) + "shard";
  const std::vector<TensorSpec> specs = BigTensors(total, num_shards);
  WriteBundle(prefix, num_shards, specs, 42 + static_cast<uint64_t>(num_shards));
  const std::vector<std::string> files = BundleFiles(prefix, num_shards);
  uint64_t bytes = 0;
  for (const std::string& f : files) bytes += fs::file_size(f);
  TimeCat(files);  // warm the page cache
  VerifyTimes t;
  for (int r = 0; r < o.verify_runs; ++r) {  // interleaved, so drift hits all alike
    t.cat.push_back(TimeCat(files));
    t.verify.push_back(TimeVerify(prefix, specs.size(), o.verify_threads));
    t.read.push_back(TimeReadAll(prefix));
    t.touch.push_back(TimeTouchPages(files));
    t.spawn.push_back(TimeCat({"/dev/null"}));
  }
  PrintVerify("(" + std::to_string(specs.size()) + " tensors, " + std::to_string(num_shards) +
                  (num_shards == 1 ? " shard)" : " shards)"),
              bytes, t);
  std::fflush(stdout);
  if (!o.keep) RemoveBundle(prefix, num_shards);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = ParseOptions(argc, argv);
    fs::create_directories(o.dir);
    std::printf("bench_read: scratch dir %s, crc32c %s, %s\n", o.dir.c_str(),
                warmstart::core::crc32c::HardwareAccelerated() ? "hardware" : "portable", LoadLine().c_str());
    if (o.run_open) {
      // Keep freed memory in the heap (see the top of this file).
      mallopt(M_MMAP_MAX, 0);
      mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
      for (size_t n : o.entry_counts) BenchOpenList(o, n);
      if (g_per_entry.size() > 1) {
        const PerEntry& a = g_per_entry.front();
        const PerEntry& b = g_per_entry.back();
        std::printf("linearity: cost per entry at %zu / at %zu entries = %.2f best (warm heap), %.2f first run "
                    "(cold heap); 1.00 is linear growth\n",
                    b.n, a.n, b.best_ns / a.best_ns, b.first_ns / a.first_ns);
      }
    }
    if (o.run_verify) {
      std::printf("crc32c over a 4 MiB buffer in memory: %.2f GB/s\n", CrcInMemoryGBps());
      std::fflush(stdout);
      BenchVerify(o, 1);
      BenchVerify(o, 4);
    }
  } catch (const std::exception& e) {
    std::printf("bench_read: error: %s\n", e.what());
  }
  return 0;
}
