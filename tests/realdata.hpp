// Test helpers: where the real TensorFlow files are, and a scratch directory.
//
// Real data (see README.md, "Tests with real TensorFlow files"):
//   1. the environment variable WARMSTART_REALDATA, when set and not empty, wins
//      (set it to a missing path to skip the real-data tests on purpose);
//   2. otherwise the CMake cache variable WARMSTART_REALDATA, compiled in as
//      WARMSTART_REALDATA_DEFAULT (by default ../shared/realdata beside the source tree).
// Catch2 v2 has no SKIP, so a real-data test starts with
//
//   std::filesystem::path dir;
//   if (!warmstart::test::RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
//
// which leaves a WARN in the report and passes when the data is not there.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>

#ifndef WARMSTART_REALDATA_DEFAULT
#define WARMSTART_REALDATA_DEFAULT ""
#endif

namespace warmstart::test {

namespace detail {

// The directory the tests would use, whether or not it exists; empty when none is configured.
inline std::filesystem::path RealDataCandidate() {
  const char* env = std::getenv("WARMSTART_REALDATA");
  if (env != nullptr && *env != '\0') return std::filesystem::path(env);
  return std::filesystem::path(WARMSTART_REALDATA_DEFAULT);
}

inline std::string Describe(const std::filesystem::path& p) {
  if (p.empty()) return "nothing: neither the environment variable nor the CMake variable is set";
  const char* env = std::getenv("WARMSTART_REALDATA");
  const bool from_env = env != nullptr && *env != '\0';
  return p.string() + (from_env ? " from $WARMSTART_REALDATA" : " from the CMake default");
}

inline bool IsDirectory(const std::filesystem::path& p) {
  std::error_code ec;
  return !p.empty() && std::filesystem::is_directory(p, ec);
}

}  // namespace detail

// The real-data directory, or nullopt when it is not configured or does not exist.
inline std::optional<std::filesystem::path> RealDataDir() {
  std::filesystem::path dir = detail::RealDataCandidate();
  if (!detail::IsDirectory(dir)) return std::nullopt;
  return dir;
}

// True and *out = the real-data directory; or false after a WARN saying where it looked.
// Requires: called inside a TEST_CASE (WARN reports to the running test).
inline bool RequireRealData(std::filesystem::path* out) {
  if (std::optional<std::filesystem::path> dir = RealDataDir()) {
    *out = *dir;
    return true;
  }
  WARN("real data not found: set WARMSTART_REALDATA or -DWARMSTART_REALDATA=... (looked at "
       << detail::Describe(detail::RealDataCandidate()) << "); skipping");
  return false;
}

// As above for one entry below the real-data directory (a folder or a file):
// true and *out = <dir>/<relative> when it exists.
inline bool RequireRealData(const std::filesystem::path& relative, std::filesystem::path* out) {
  std::filesystem::path dir;
  if (!RequireRealData(&dir)) return false;
  std::error_code ec;
  if (!std::filesystem::exists(dir / relative, ec)) {
    WARN("real data not found: " << (dir / relative).string()
         << " is missing (set WARMSTART_REALDATA or -DWARMSTART_REALDATA=...); skipping");
    return false;
  }
  *out = dir / relative;
  return true;
}

// A fresh directory under std::filesystem::temp_directory_path(), removed with
// everything in it when the object goes away.
class TempDir {
 public:
  TempDir() : path_(Create()) {}
  ~TempDir() {
    std::error_code ec;  // never throw from a destructor; a leftover dir is harmless
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }

 private:
  static std::filesystem::path Create() {
    static std::atomic<uint64_t> counter{0};
    const std::filesystem::path base = std::filesystem::temp_directory_path();
    std::random_device device;
    std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^
                        static_cast<uint64_t>(
                            std::chrono::steady_clock::now().time_since_epoch().count()));
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::filesystem::path p =
          base / ("warmstart-test-" + std::to_string(rng()) + "-" + std::to_string(counter++));
      // create_directory is false when the name is taken: try another one.
      if (std::filesystem::create_directory(p)) return p;
    }
    throw std::filesystem::filesystem_error("cannot create a unique temporary directory", base,
                                            std::make_error_code(std::errc::file_exists));
  }

  std::filesystem::path path_;
};

}  // namespace warmstart::test
