// bench_write: BundleWriter throughput against `cp` of the same bytes.
//
//   write   BundleWriter of a bundle of N MiB (4 MiB float tensors, default 256 x 4 MiB =
//           1 GiB): construction, every Add, Finish (fsync of data and index, renames,
//           directory fsync), timed as a whole. Payloads are generated before the clock starts.
//   cp      `sh -c 'cp DATA DEST && sync DEST'` of the produced data file, spawned and timed
//           as a whole command (so it includes the shell's and cp's start-up, and the fsync).
//   nosync  for context: the same bytes written with plain write() to a temp file, no fsync.
// Best of --runs (3), runs interleaved. No goal: the line prints the ratio write / cp.
//
// Usage (from the repository root):
//   bench_write [--mib N] [--runs N] [--dir DIR] [--keep]
// Environment: WARMSTART_BENCH_WRITE_MIB (default 1024). Scratch files go to
// bench-data/write_bench/ and are removed at the end unless --keep. Exit status is 0.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "bench_util.hpp"
#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/writer.hpp"

namespace {

namespace fs = std::filesystem;
using warmstart::bench::Clock;
using warmstart::bench::GBps;
using warmstart::bench::kMiB;
using warmstart::bench::LoadLine;
using warmstart::bench::MsSince;
using warmstart::bench::Rng;

constexpr size_t kTensorBytes = 4 * kMiB;

struct Options {
  size_t mib = 1024;
  int runs = 3;
  std::string dir = "bench-data/write_bench";
  bool keep = false;
};

Options ParseOptions(int argc, char** argv) {
  Options o;
  if (const char* v = std::getenv("WARMSTART_BENCH_WRITE_MIB")) o.mib = std::stoull(v);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--mib") o.mib = std::stoull(next());
    else if (a == "--runs") o.runs = std::max(1, std::stoi(next()));
    else if (a == "--dir") o.dir = next();
    else if (a == "--keep") o.keep = true;
    else throw std::invalid_argument("unknown argument " + a + " (see the comment at the top of bench/write_bench.cpp)");
  }
  if (o.mib < 4) throw std::invalid_argument("--mib must be at least 4 (one 4 MiB tensor)");
  return o;
}

std::vector<std::vector<float>> MakeTensors(size_t count) {
  std::vector<std::vector<float>> out(count, std::vector<float>(kTensorBytes / sizeof(float)));
  Rng rng{0x9E3779B97F4A7C15ull};
  for (auto& t : out) {
    for (float& v : t) v = static_cast<float>(rng.Next() >> 40) * (1.0f / 16777216.0f);
  }
  return out;
}

std::string Key(size_t i) {
  char name[48];
  std::snprintf(name, sizeof(name), "model/layer_%04zu/kernel", i);
  return name;
}

void RemoveBundle(const std::string& prefix) {
  fs::remove(warmstart::bundle::MetaFilename(prefix));
  fs::remove(warmstart::bundle::DataFilename(prefix, 0, 1));
}

double TimeWrite(const std::string& prefix, const std::vector<std::vector<float>>& tensors) {
  RemoveBundle(prefix);
  const Clock::time_point start = Clock::now();
  warmstart::bundle::BundleWriter w(prefix);
  const warmstart::bundle::TensorShape shape{1024, static_cast<int64_t>(kTensorBytes / sizeof(float) / 1024)};
  for (size_t i = 0; i < tensors.size(); ++i) w.Add(Key(i), tensors[i], shape);
  w.Finish();
  return MsSince(start);
}

// The same bytes with plain write() calls, no fsync: the page-cache cost alone.
double TimeWriteNoSync(const std::string& path, const std::vector<std::vector<float>>& tensors) {
  fs::remove(path);
  const Clock::time_point start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  for (const auto& t : tensors) {
    const auto* p = reinterpret_cast<const char*>(t.data());
    size_t n = t.size() * sizeof(float);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w <= 0) {
        ::close(fd);
        throw std::runtime_error("cannot write " + path);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  ::close(fd);
  const double ms = MsSince(start);
  fs::remove(path);  // unlinked before it is written back: keeps the next timings clean
  return ms;
}

// `cp FROM TO && sync TO` through sh, spawned and timed as one command.
double TimeCp(const std::string& from, const std::string& to) {
  fs::remove(to);
  const std::string script = "cp \"$1\" \"$2\" && sync \"$2\"";
  const warmstart::bench::SpawnResult r = warmstart::bench::RunTimed({"sh", "-c", script, "sh", from, to});
  if (r.spawn_error != 0) throw std::runtime_error("cannot spawn sh");
  if (!r.waited) throw std::runtime_error("waitpid failed");
  if (!r.Succeeded()) throw std::runtime_error("cp + sync failed");
  fs::remove(to);
  return r.ms;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = ParseOptions(argc, argv);
    fs::create_directories(o.dir);
    std::printf("bench_write: scratch dir %s, %s\n", o.dir.c_str(), LoadLine().c_str());
    std::fflush(stdout);
    const size_t count = o.mib * kMiB / kTensorBytes;
    const std::vector<std::vector<float>> tensors = MakeTensors(count);
    const std::string prefix = o.dir + "/model.ckpt";
    const std::string data = warmstart::bundle::DataFilename(prefix, 0, 1);
    const std::string copy = o.dir + "/copy.data";
    const std::string plain = o.dir + "/plain.data";
    TimeWrite(prefix, tensors);  // warm-up: allocations, first writeback
    const uint64_t bytes = fs::file_size(data);
    std::vector<double> write_ms, cp_ms, nosync_ms;
    for (int r = 0; r < o.runs; ++r) {  // interleaved, so drift hits all alike
      write_ms.push_back(TimeWrite(prefix, tensors));
      cp_ms.push_back(TimeCp(data, copy));
      nosync_ms.push_back(TimeWriteNoSync(plain, tensors));
    }
    const double w = GBps(bytes, *std::min_element(write_ms.begin(), write_ms.end()));
    const double c = GBps(bytes, *std::min_element(cp_ms.begin(), cp_ms.end()));
    const double n = GBps(bytes, *std::min_element(nosync_ms.begin(), nosync_ms.end()));
    std::printf("write %.2f GiB: %.2f GB/s; cp: %.2f GB/s; ratio %.2f\n",
                static_cast<double>(bytes) / (1024.0 * kMiB), w, c, w / c);
    std::printf("  %zu tensors x 4 MiB; plain write() without fsync: %.2f GB/s; best of %d; ms best/worst: "
                "write %.1f/%.1f, cp+sync %.1f/%.1f, no-fsync %.1f/%.1f\n",
                count, n, o.runs, *std::min_element(write_ms.begin(), write_ms.end()),
                *std::max_element(write_ms.begin(), write_ms.end()), *std::min_element(cp_ms.begin(), cp_ms.end()),
                *std::max_element(cp_ms.begin(), cp_ms.end()),
                *std::min_element(nosync_ms.begin(), nosync_ms.end()),
                *std::max_element(nosync_ms.begin(), nosync_ms.end()));
    if (!o.keep) {
      RemoveBundle(prefix);
      fs::remove(copy);
      fs::remove(plain);
    }
  } catch (const std::exception& e) {
    std::printf("bench_write: error: %s\n", e.what());
  }
  return 0;
}
