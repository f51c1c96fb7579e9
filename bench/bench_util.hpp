// Helpers the benchmarks share: timing, throughput, the machine's load, a payload
// generator, and a child command run and timed as a whole (posix_spawn + waitpid).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace warmstart::bench {

using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = size_t{1} << 20;

inline double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double GBps(uint64_t bytes, double ms) { return static_cast<double>(bytes) / (ms * 1e6); }

// Other work on the machine skews every number; say how busy it was.
inline std::string LoadLine() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  char line[96];
  std::snprintf(line, sizeof(line), "load average %.2f on %ld CPUs%s", load, cpus,
                load >= 0.5 * static_cast<double>(cpus) ? " (busy machine: timings are noisy)" : "");
  return line;
}

// xorshift64*: fast, deterministic, payloads that no layer can compress.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }
};

struct SpawnResult {
  double ms = 0;         // spawn to exit
  int spawn_error = 0;   // posix_spawnp's error; 0 when the command started
  bool waited = false;   // waitpid reported the child's end
  int status = 0;        // its wait status
  bool Succeeded() const { return spawn_error == 0 && waited && WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

// Runs `args` (args[0] looked up in PATH) and times it as a whole command; its stdout goes to
// `stdout_path` when given. No shell unless args names one.
inline SpawnResult RunTimed(std::vector<std::string> args, const char* stdout_path = nullptr) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdout_path != nullptr) posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path, O_WRONLY, 0);
  SpawnResult r;
  const Clock::time_point start = Clock::now();
  pid_t pid = 0;
  r.spawn_error = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  if (r.spawn_error == 0) {
    int rc;
    while ((rc = ::waitpid(pid, &r.status, 0)) < 0 && errno == EINTR) {
    }
    r.waited = rc == pid;
  }
  r.ms = MsSince(start);
  posix_spawn_file_actions_destroy(&actions);
  return r;
}

}  // namespace warmstart::bench
