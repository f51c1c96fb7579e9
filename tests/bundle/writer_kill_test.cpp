// BundleWriter under SIGKILL: a forked child rewrites PREFIX, which already holds a valid
// bundle of the same keys and sizes but other values, and the parent kills it at many
// moments. Afterwards Checkpoint::Open(PREFIX) must give the complete old bundle or the
// complete new one: VerifyAll ok, every tensor's values from one version, never a mix.
//
// Kill points:
//   * deterministic, by a pipe handshake: the child reports after k Adds and waits to be
//     killed (k = 0 before any Add, mid-Adds, k = all before Finish) and after Finish;
//   * timed: 30 kills at delays from 0 to a little over the time a full write takes,
//     measured first with unkilled children.
// Leftover `PREFIX.*.tempstate<random>` files from a killed writer are expected (nobody is
// left to remove them); Open must ignore them, which the checks exercise.
//
// Overwriting is the hard case: TF's order (data file, then index) pairs the old index with
// the new data after a kill between the two renames. PublishBundle (writer.hpp) first keeps
// the old bundle whole under PREFIX.previous.tempstate<R>, so the states a kill can leave
// are: old; absent with the old one preserved (Checkpoint::Open falls back to it with a
// note); new. The timed kills land in every phase of the write; later test cases build
// the in-between states by hand, and the step-by-step ones (at the end) kill or fail an
// overwrite, and RecoverPreviousBundle, before each of their file-system steps.
//
// The child runs ordinary C++ after fork: this process is single-threaded at that point
// (VerifyAll's threads are joined before it returns), and the child leaves with _exit.
#include "warmstart/bundle/writer.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <csignal>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart::bundle;
using warmstart::test::TempDir;
using Clock = std::chrono::steady_clock;

constexpr int kTensors = 200;
constexpr size_t kElements = 64 * 1024 / sizeof(int32_t);  // 64 KiB per tensor
constexpr int kOld = 1;
constexpr int kNew = 2;
// stop_after values for the child: k in [0, kTensors] pauses after k Adds (kTensors: before
// Finish); kAfterFinish pauses after Finish returned; kNoStop writes and exits.
constexpr int kAfterFinish = kTensors + 1;
constexpr int kNoStop = -1;

std::string Key(int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "layer_%03d/kernel", i);
  return name;
}

// Element j of tensor i in `version`: distinct per version, tensor and element.
int32_t Value(int version, int i, size_t j) {
  return static_cast<int32_t>((static_cast<uint32_t>(version) << 28) | (static_cast<uint32_t>(i) << 16) |
                              static_cast<uint32_t>(j));
}

std::vector<int32_t> Values(int version, int i) {
  std::vector<int32_t> v(kElements);
  for (size_t j = 0; j < kElements; ++j) v[j] = Value(version, i, j);
  return v;
}

void WriteBundle(const std::string& prefix, int version) {
  BundleWriter w(prefix);
  for (int i = 0; i < kTensors; ++i) w.Add(Key(i), Values(version, i), TensorShape{static_cast<int64_t>(kElements)});
  w.Finish();
}

void Signal(int fd) {
  const char byte = 'k';
  while (::write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void PauseForever() {
  for (;;) ::pause();
}

// In the child: writes the new bundle; at `stop_after` reports on `fd` and waits for SIGKILL.
[[noreturn]] void ChildMain(const std::string& prefix, int stop_after, int fd) {
  try {
    BundleWriter w(prefix);
    for (int i = 0; i <= kTensors; ++i) {
      if (i == stop_after) {
        Signal(fd);
        PauseForever();
      }
      if (i == kTensors) break;
      w.Add(Key(i), Values(kNew, i), TensorShape{static_cast<int64_t>(kElements)});
    }
    w.Finish();
    if (stop_after == kAfterFinish) {
      Signal(fd);
      PauseForever();
    }
  } catch (...) {
    ::_exit(2);
  }
  ::_exit(0);
}

struct Child {
  pid_t pid = -1;
  int read_fd = -1;
};

Child StartChild(const std::string& prefix, int stop_after) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);  // nothing buffered twice
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ChildMain(prefix, stop_after, fds[1]);
  }
  ::close(fds[1]);
  return Child{pid, fds[0]};
}

// Waits for the child to end; returns its wait status.
int Reap(Child& c) {
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(c.read_fd);
  c = Child{};
  return status;
}

void WaitForSignal(const Child& c) {
  char byte = 0;
  ssize_t n;
  while ((n = ::read(c.read_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  REQUIRE(n == 1);
}

void KillAndReap(Child& c) {
  ::kill(c.pid, SIGKILL);
  const int status = Reap(c);
  // Killed, or (timed kills) already finished normally.
  REQUIRE((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));
}

void SleepFor(std::chrono::nanoseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000000000), static_cast<long>(d.count() % 1000000000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

size_t TempstateFiles(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tempstate") != std::string::npos) ++n;
  }
  return n;
}

// Requires PREFIX to hold exactly one complete version (directly, or through the old bundle
// an interrupted overwrite preserved); returns which.
int CheckOldOrNew(const std::string& prefix) {
  const Checkpoint ckpt = Checkpoint::Open(prefix);
  if (!fs::exists(MetaFilename(prefix))) {
    REQUIRE(ckpt.notes().size() == 1);
    REQUIRE_THAT(ckpt.notes().front(), Catch::Contains("was interrupted"));
  }
  const VerifyReport report = ckpt.VerifyAll();
  INFO(prefix << ": " << (report.ok() ? std::string("ok") : report.failures.front().message));
  REQUIRE(report.ok());
  REQUIRE(report.tensors_verified == static_cast<size_t>(kTensors));
  REQUIRE(ckpt.entries().size() == static_cast<size_t>(kTensors));
  int version = 0;
  for (int i = 0; i < kTensors; ++i) {
    const std::vector<int32_t> v = ckpt.Read<int32_t>(Key(i));
    REQUIRE(v.size() == kElements);
    const int this_version = static_cast<int>(static_cast<uint32_t>(v[0]) >> 28);
    if (i == 0) version = this_version;
    INFO("tensor " << Key(i) << " is version " << this_version << ", tensor 0 is version " << version);
    REQUIRE(this_version == version);
    REQUIRE((version == kOld || version == kNew));
    REQUIRE(v == Values(version, i));
  }
  return version;
}

int g_recovered = 0;  // trials that ended between "old index moved aside" and "new index in"

// One trial in a fresh directory: old bundle, child started, killed by `kill`, checked.
template <class KillFn>
int Trial(const TempDir& tmp, int n, int stop_after, KillFn kill) {
  const fs::path dir = tmp / ("trial" + std::to_string(n));
  const std::string prefix = (dir / "model.ckpt").string();
  WriteBundle(prefix, kOld);
  Child c = StartChild(prefix, stop_after);
  kill(c);
  const int version = CheckOldOrNew(prefix);
  // Whatever state the kill left, recovery makes PREFIX itself the bundle Open found.
  if (RecoverPreviousBundle(prefix)) {
    ++g_recovered;
    REQUIRE(version == kOld);
  }
  REQUIRE(fs::exists(MetaFilename(prefix)));
  REQUIRE(CheckOldOrNew(prefix) == version);
  fs::remove_all(dir);
  return version;
}

}  // namespace

TEST_CASE("writer killed at handshake points leaves the old or the new bundle", "[writer][kill]") {
  TempDir tmp;
  struct Point {
    int stop_after;
    int expected;
    size_t min_tempstate;  // debris the killed writer leaves
  };
  const Point points[] = {
      {0, kOld, 1},                  // writer constructed, no Add: empty temp data file
      {1, kOld, 1},                  // one tensor written
      {kTensors / 2, kOld, 1},       // mid-Adds
      {kTensors - 1, kOld, 1},       //
      {kTensors, kOld, 1},           // every Add done, Finish not called
      {kAfterFinish, kNew, 0},       // Finish returned: everything renamed
  };
  int n = 0;
  for (const Point& p : points) {
    INFO("stop after " << p.stop_after << " Adds");
    const fs::path dir = tmp / ("point" + std::to_string(n++));
    const std::string prefix = (dir / "model.ckpt").string();
    WriteBundle(prefix, kOld);
    Child c = StartChild(prefix, p.stop_after);
    WaitForSignal(c);
    KillAndReap(c);
    const size_t debris = TempstateFiles(dir);
    CHECK(debris >= p.min_tempstate);
    if (p.stop_after == kAfterFinish) CHECK(debris == 0);
    CHECK(CheckOldOrNew(prefix) == p.expected);
    // Checkpoint::Open by the index or data file name resolves to the same bundle.
    CHECK(Checkpoint::Open(MetaFilename(prefix)).entries().size() == static_cast<size_t>(kTensors));
    CHECK(Checkpoint::Open(DataFilename(prefix, 0, 1)).entries().size() == static_cast<size_t>(kTensors));
    fs::remove_all(dir);
  }
}

TEST_CASE("writer killed at timed moments leaves the old or the new bundle", "[writer][kill]") {
  TempDir tmp;
  int n = 0;
  // How long an unkilled write takes (fork to exit), the longest of two.
  Clock::duration full{0};
  for (int r = 0; r < 2; ++r) {
    const Clock::time_point start = Clock::now();
    const int version = Trial(tmp, n++, kNoStop, [](Child& c) {
      const int status = Reap(c);
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
    });
    full = std::max(full, Clock::now() - start);
    REQUIRE(version == kNew);
  }
  // Only the child's part was meant; the old-bundle write and the check inflate `full`,
  // which only moves a few kills past the end of the write.
  constexpr int kKills = 30;
  int olds = 0, news = 0;
  for (int k = 0; k < kKills; ++k) {
    const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(full) * k / (kKills - 1);
    const double delay_ms = static_cast<double>(delay.count()) / 1e6;
    INFO("kill " << k << " after " << delay_ms << " ms");
    const int version = Trial(tmp, n++, kNoStop, [&](Child& c) {
      SleepFor(delay);
      KillAndReap(c);
    });
    (version == kOld ? olds : news)++;
  }
  // Not asserted (timing-dependent), but the spread shows the kills covered the write.
  const double full_ms = static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(full).count()) / 1e3;
  WARN("full write " << full_ms << " ms; " << kKills << " kills left " << olds << " old and " << news
                     << " new bundles; " << g_recovered << " old ones were read from the preserved copy");
  CHECK(olds + news == kKills);
}

TEST_CASE("a crash between Finish's two renames is caught by VerifyAll, not silently mixed", "[writer][kill]") {
  // Built by hand: the new bundle's data file renamed over the old one, the old index kept.
  TempDir tmp;
  const std::string prefix = (tmp / "a" / "model.ckpt").string();
  const std::string other = (tmp / "b" / "model.ckpt").string();
  WriteBundle(prefix, kOld);
  WriteBundle(other, kNew);
  fs::rename(DataFilename(other, 0, 1), DataFilename(prefix, 0, 1));
  const Checkpoint ckpt = Checkpoint::Open(prefix);  // same keys and sizes: the index is consistent
  const VerifyReport report = ckpt.VerifyAll();
  CHECK_FALSE(report.ok());
  CHECK(report.failures.size() == static_cast<size_t>(kTensors));
}

TEST_CASE("an overwrite interrupted after the old index moved aside reads as the old bundle", "[writer][kill]") {
  // Built by hand: the state after PublishBundle's step 2 and a data rename (step 3).
  TempDir tmp;
  const std::string prefix = (tmp / "a" / "model.ckpt").string();
  const std::string other = (tmp / "b" / "model.ckpt").string();
  const std::string previous = prefix + ".previous.tempstate12345";
  WriteBundle(prefix, kOld);
  WriteBundle(other, kNew);
  fs::create_hard_link(DataFilename(prefix, 0, 1), DataFilename(previous, 0, 1));
  fs::rename(MetaFilename(prefix), MetaFilename(previous));
  fs::rename(DataFilename(other, 0, 1), DataFilename(prefix, 0, 1));
  CHECK(PreservedPreviousBundles(prefix) == std::vector<std::string>{previous});

  const Checkpoint ckpt = Checkpoint::Open(prefix);
  REQUIRE(ckpt.notes().size() == 1);
  CHECK_THAT(ckpt.notes()[0], Catch::Contains("'" + MetaFilename(prefix) + "' is missing") &&
                                  Catch::Contains("'" + previous + "'"));
  CHECK(CheckOldOrNew(prefix) == kOld);
  // A directory scan does not mistake the preserved copy for a bundle of its own.
  CHECK(detail::BundlesIn((tmp / "a").string()).empty());

  REQUIRE(RecoverPreviousBundle(prefix));
  CHECK(Checkpoint::Open(prefix).notes().empty());
  CHECK(CheckOldOrNew(prefix) == kOld);
  CHECK(TempstateFiles(tmp / "a") == 0);
  CHECK_FALSE(RecoverPreviousBundle(prefix));  // nothing left to do
}

TEST_CASE("overwriting a bundle replaces it completely and leaves no debris", "[writer]") {
  TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  // The old bundle has two shards: a merged one, as TF2 and sharded TF1 saves write.
  {
    BundleWriter a((tmp / "p0").string());
    a.Add("x", std::vector<int32_t>{1, 2}, TensorShape{2});
    a.Finish();
    BundleWriter b((tmp / "p1").string());
    b.Add("y", std::vector<int32_t>{3}, TensorShape{1});
    b.Finish();
    MergeBundles({(tmp / "p0").string(), (tmp / "p1").string()}, prefix);
  }
  REQUIRE(fs::exists(DataFilename(prefix, 1, 2)));
  BundleWriter w(prefix);
  w.Add("z", std::vector<float>{5.0f}, TensorShape{1});
  w.Finish();
  const Checkpoint ckpt = Checkpoint::Open(prefix);
  CHECK(ckpt.entries().size() == 1);
  CHECK(ckpt.Read<float>("z") == std::vector<float>{5.0f});
  CHECK(ckpt.VerifyAll().ok());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"model.ckpt.data-00000-of-00001", "model.ckpt.index"});

  // And a merge over an existing prefix goes through the same protection.
  BundleWriter m((tmp / "q0").string());
  m.Add("w", std::vector<int64_t>{7}, TensorShape{1});
  m.Finish();
  MergeBundles({(tmp / "q0").string()}, prefix);
  const Checkpoint merged = Checkpoint::Open(prefix);
  CHECK(merged.Read<int64_t>("w") == std::vector<int64_t>{7});
  CHECK(TempstateFiles(tmp.path()) == 0);
}

TEST_CASE("an overwrite that fails before the switch leaves the old bundle untouched", "[writer]") {
  TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  WriteBundle(prefix, kOld);
  // A directory named like one of the prefix's data files cannot be linked or copied:
  // step 1 fails, and everything must be as before.
  fs::create_directories(DataFilename(prefix, 0, 7));
  BundleWriter w(prefix);
  w.Add(Key(0), Values(kNew, 0), TensorShape{static_cast<int64_t>(kElements)});
  CHECK_THROWS_AS(w.Finish(), warmstart::IoError);
  fs::remove(DataFilename(prefix, 0, 7));
  CHECK(CheckOldOrNew(prefix) == kOld);
  CHECK(TempstateFiles(tmp.path()) == 0);
}

TEST_CASE("overwriting through another spelling of the prefix keeps the new bundle", "[writer]") {
  TempDir tmp;
  const std::string plain = (tmp / "m").string();
  const std::string doubled = tmp.path().string() + "//m";
  WriteBundle(plain, kOld);
  WriteBundle(doubled, kNew);  // the same files, named "dir//m"
  CHECK(CheckOldOrNew(plain) == kNew);
  CHECK(TempstateFiles(tmp.path()) == 0);
}

TEST_CASE("merges that would lose data through their renames are refused or safe", "[writer]") {
  TempDir tmp;
  const std::string m = (tmp / "m").string();
  // A 2-shard bundle whose first key (in sort order) lives in shard 1: merged into its own
  // prefix, shard 1 would be renamed over shard 0 before shard 0 moves.
  {
    BundleWriter a((tmp / "pa").string());
    a.Add("z", std::vector<int32_t>{1}, TensorShape{1});
    a.Finish();
    BundleWriter b((tmp / "pb").string());
    b.Add("a", std::vector<int32_t>{2}, TensorShape{1});
    b.Finish();
    MergeBundles({(tmp / "pa").string(), (tmp / "pb").string()}, m);
  }
  REQUIRE(Checkpoint::Open(m).VerifyAll().ok());
  CHECK_THROWS_AS(MergeBundles({m}, m), warmstart::ArgumentError);
  CHECK(Checkpoint::Open(m).VerifyAll().ok());
  CHECK(Checkpoint::Open(m).Read<int32_t>("a") == std::vector<int32_t>{2});

  // The output prefix spelled differently among the inputs: its new index must survive.
  BundleWriter q((tmp / "q").string());
  q.Add("q", std::vector<int32_t>{3}, TensorShape{1});
  q.Finish();
  MergeBundles({(tmp.path() / "." / "m").string(), (tmp / "q").string()}, m);
  const Checkpoint merged = Checkpoint::Open(m);
  CHECK(merged.VerifyAll().ok());
  CHECK(merged.entries().size() == 3);
  CHECK_FALSE(fs::exists(MetaFilename((tmp / "q").string())));
}

// ---- step by step: every file-system step of an overwrite and of its recovery ----------
//
// detail::CurrentFileStepHook (writer.hpp) names each step of PublishBundle and
// RecoverPreviousBundle before it runs. A child process stops before step k and is killed
// there, for every k; or the hook throws there (an injected failure). Small bundles of four
// tensors, old and new with the same keys, in three shapes: 2 shards overwritten by 1 (the
// new data file is an extra name), 1 by 1 (it replaces the old data file's name) and 2 by
// a 2-shard merge (both names replaced, the merge inputs moved back on failure).

namespace {

constexpr int kSmallTensors = 4;

std::string SmallKey(int i) { return "small_" + std::to_string(i); }

std::vector<int32_t> SmallValues(int version, int i) {
  return {Value(version, i, 0), Value(version, i, 1), Value(version, i, 2)};
}

std::string PartPrefix(const std::string& prefix, int version, int part) {
  return prefix + "_v" + std::to_string(version) + "_part" + std::to_string(part);
}

// For a 2-shard bundle: the two one-writer bundles MergeBundles combines (tensors 0-1, 2-3).
void PrepareSmall(const std::string& prefix, int version, int shards) {
  if (shards == 1) return;
  for (int part = 0; part < 2; ++part) {
    BundleWriter w(PartPrefix(prefix, version, part));
    for (int i = 2 * part; i < 2 * part + 2; ++i) w.Add(SmallKey(i), SmallValues(version, i), TensorShape{3});
    w.Finish();
  }
}

// Publishes the bundle under `prefix`: one BundleWriter, or the merge of the prepared parts.
void PublishSmall(const std::string& prefix, int version, int shards) {
  if (shards == 2) {
    MergeBundles({PartPrefix(prefix, version, 0), PartPrefix(prefix, version, 1)}, prefix);
    return;
  }
  BundleWriter w(prefix);
  for (int i = 0; i < kSmallTensors; ++i) w.Add(SmallKey(i), SmallValues(version, i), TensorShape{3});
  w.Finish();
}

void WriteSmall(const std::string& prefix, int version, int shards) {
  PrepareSmall(prefix, version, shards);
  PublishSmall(prefix, version, shards);
}

// Opens `path` (a prefix or a file of it); requires one complete version of the small
// bundle there, directly or through the preserved copy; returns which.
int CheckSmall(const std::string& path) {
  const Checkpoint ckpt = Checkpoint::Open(path);
  for (const std::string& note : ckpt.notes()) REQUIRE_THAT(note, Catch::Contains("was interrupted"));
  const VerifyReport report = ckpt.VerifyAll();
  INFO(path << ": " << (report.ok() ? std::string("ok") : report.failures.front().message));
  REQUIRE(report.ok());
  REQUIRE(ckpt.entries().size() == static_cast<size_t>(kSmallTensors));
  const int version = static_cast<int>(static_cast<uint32_t>(ckpt.Read<int32_t>(SmallKey(0))[0]) >> 28);
  REQUIRE((version == kOld || version == kNew));
  for (int i = 0; i < kSmallTensors; ++i) REQUIRE(ckpt.Read<int32_t>(SmallKey(i)) == SmallValues(version, i));
  return version;
}

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

size_t PreservedFiles(const fs::path& dir) {
  size_t n = 0;
  for (const std::string& name : Names(dir)) n += name.find(".previous.tempstate") != std::string::npos;
  return n;
}

std::vector<std::string> SmallDataFiles(const std::string& prefix, int shards) {
  std::vector<std::string> out;
  for (int s = 0; s < shards; ++s) out.push_back(DataFilename(prefix, s, shards));
  return out;
}

// Installs a step hook for the scope.
class ScopedStepHook {
 public:
  explicit ScopedStepHook(detail::FileStepHook hook) { detail::CurrentFileStepHook() = std::move(hook); }
  ~ScopedStepHook() { detail::CurrentFileStepHook() = nullptr; }
  ScopedStepHook(const ScopedStepHook&) = delete;
  ScopedStepHook& operator=(const ScopedStepHook&) = delete;
};

// The steps `body` runs through, in order.
template <class Body>
std::vector<std::string> StepsOf(Body body) {
  std::vector<std::string> steps;
  ScopedStepHook hook([&](const std::string& step) { steps.push_back(step); });
  body();
  return steps;
}

// In a child: runs `body` with a hook that, before step `k` (0-based), reports on the pipe
// and waits for SIGKILL. A body that ends first exits (0, or 2 on an exception).
template <class Body>
Child StartStoppingChild(int k, Body body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    const int fd = fds[1];
    detail::CurrentFileStepHook() = [fd, k, n = 0](const std::string&) mutable {
      if (n++ == k) {
        Signal(fd);
        PauseForever();
      }
    };
    try {
      body();
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  return Child{pid, fds[0]};
}

// True when the child stopped at its step and was killed there; false when it ended
// (successfully) without reaching it.
bool KillAtStep(Child& c) {
  char byte = 0;
  ssize_t n;
  while ((n = ::read(c.read_fd, &byte, 1)) < 0 && errno == EINTR) {
  }
  if (n == 1) {
    ::kill(c.pid, SIGKILL);
    const int status = Reap(c);
    REQUIRE(WIFSIGNALED(status));
    return true;
  }
  const int status = Reap(c);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return false;
}

struct Shapes {
  int old_shards, new_shards;
};
constexpr Shapes kShapes[] = {{2, 1}, {1, 1}, {2, 2}};

// Index of the step after which the new bundle is in place.
size_t SwitchStep(const std::vector<std::string>& steps) {
  const auto it = std::find(steps.begin(), steps.end(), "publish: rename the index");
  REQUIRE(it != steps.end());
  return static_cast<size_t>(it - steps.begin());
}

// PREFIX holds the old bundle itself (no fallback), with exactly its data files, and no
// preserved file is left. (Debris of a killed writer, PREFIX.*.tempstate<R>, may remain.)
void CheckRecovered(const fs::path& dir, const std::string& prefix, int old_shards) {
  REQUIRE(fs::exists(MetaFilename(prefix)));
  CHECK(Checkpoint::Open(prefix).notes().empty());
  CHECK(CheckSmall(prefix) == kOld);
  CHECK(detail::DataFilesOf(prefix) == SmallDataFiles(prefix, old_shards));
  CHECK(PreservedFiles(dir) == 0);
}

}  // namespace

TEST_CASE("an overwrite killed before each of its steps, then its recovery killed before each of its steps",
          "[writer][kill]") {
  TempDir tmp;
  int trial = 0;
  for (const Shapes& shapes : kShapes) {
    INFO("old bundle " << shapes.old_shards << " shard(s), new " << shapes.new_shards);
    // Builds the directory a kill before overwrite step k leaves; returns the prefix.
    auto interrupted_overwrite = [&](size_t k) {
      const fs::path dir = tmp / ("t" + std::to_string(trial++));
      const std::string prefix = (dir / "model.ckpt").string();
      WriteSmall(prefix, kOld, shapes.old_shards);
      PrepareSmall(prefix, kNew, shapes.new_shards);
      Child c = StartStoppingChild(static_cast<int>(k), [&] { PublishSmall(prefix, kNew, shapes.new_shards); });
      REQUIRE(KillAtStep(c));
      return prefix;
    };
    const std::vector<std::string> steps = [&] {
      const std::string prefix = (tmp / ("t" + std::to_string(trial++)) / "model.ckpt").string();
      WriteSmall(prefix, kOld, shapes.old_shards);
      PrepareSmall(prefix, kNew, shapes.new_shards);
      return StepsOf([&] { PublishSmall(prefix, kNew, shapes.new_shards); });
    }();
    // Links of the old data files, fsync, index aside, data renames, index, fsync, cleanup.
    CHECK(steps.size() == static_cast<size_t>(shapes.old_shards + shapes.new_shards + 5));
    int absent = 0;
    for (size_t k = 0; k < steps.size(); ++k) {
      INFO("overwrite killed before step " << k << ": " << steps[k]);
      const std::string prefix = interrupted_overwrite(k);
      const int expected = k <= SwitchStep(steps) ? kOld : kNew;
      CHECK(CheckSmall(prefix) == expected);
      CHECK(CheckSmall(MetaFilename(prefix)) == expected);  // the index spelling falls back too
      CHECK(CheckSmall(DataFilename(prefix, 0, shapes.new_shards)) == expected);
      if (fs::exists(MetaFilename(prefix))) continue;
      // PREFIX absent, the old bundle preserved: kill the recovery before each of its steps.
      ++absent;
      for (int r = 0;; ++r) {
        const std::string rprefix = r == 0 ? prefix : interrupted_overwrite(k);
        const fs::path dir = fs::path(rprefix).parent_path();
        Child rc = StartStoppingChild(r, [&] { RecoverPreviousBundle(rprefix); });
        const bool killed = KillAtStep(rc);
        INFO("recovery " << (killed ? "killed before its step " : "ran its ") << r << (killed ? "" : " steps"));
        CHECK(CheckSmall(rprefix) == kOld);
        CHECK(CheckSmall(MetaFilename(rprefix)) == kOld);
        RecoverPreviousBundle(rprefix);  // finishes what the killed one began
        CheckRecovered(dir, rprefix, shapes.old_shards);
        CHECK_FALSE(RecoverPreviousBundle(rprefix));
        fs::remove_all(dir);
        if (!killed) break;
      }
    }
    // Between "old index aside" and "new index in": one state per data rename, one before the index.
    CHECK(absent == shapes.new_shards + 1);
  }
}

TEST_CASE("an overwrite that fails at any step before the switch leaves exactly the old bundle", "[writer]") {
  TempDir tmp;
  int trial = 0;
  for (const Shapes& shapes : kShapes) {
    INFO("old bundle " << shapes.old_shards << " shard(s), new " << shapes.new_shards);
    const std::vector<std::string> steps = [&] {
      const std::string prefix = (tmp / ("f" + std::to_string(trial++)) / "model.ckpt").string();
      WriteSmall(prefix, kOld, shapes.old_shards);
      PrepareSmall(prefix, kNew, shapes.new_shards);
      return StepsOf([&] { PublishSmall(prefix, kNew, shapes.new_shards); });
    }();
    REQUIRE(steps.size() == static_cast<size_t>(shapes.old_shards + shapes.new_shards + 5));
    for (size_t k = 0; k < steps.size(); ++k) {
      const fs::path dir = tmp / ("f" + std::to_string(trial++));
      const std::string prefix = (dir / "model.ckpt").string();
      WriteSmall(prefix, kOld, shapes.old_shards);
      PrepareSmall(prefix, kNew, shapes.new_shards);
      const std::vector<std::string> before = Names(dir);
      INFO("failure injected before step " << k << ": " << steps[k]);
      size_t n = 0;
      {
        ScopedStepHook hook([&](const std::string& step) {
          if (n++ == k) throw warmstart::IoError(warmstart::ErrorContext(step), "injected failure");
        });
        CHECK_THROWS_AS(PublishSmall(prefix, kNew, shapes.new_shards), warmstart::IoError);
      }
      if (k <= SwitchStep(steps)) {
        // Rolled back: the directory as before, byte for byte the old bundle, no debris.
        CHECK(Names(dir) == before);
        CHECK(Checkpoint::Open(prefix).notes().empty());
        CHECK(CheckSmall(prefix) == kOld);
        CHECK(TempstateFiles(dir) == 0);
      } else {
        // After the switch (the final fsync or the cleanup): the new bundle is in place.
        CHECK(CheckSmall(prefix) == kNew);
      }
      fs::remove_all(dir);
    }
  }
}

TEST_CASE("RecoverPreviousBundle with PREFIX.index present removes only unusable preserved files", "[writer]") {
  TempDir tmp;
  const std::string prefix = (tmp / "model.ckpt").string();
  WriteSmall(prefix, kOld, 1);
  // Debris of an interrupted recovery (index already back) and a complete preserved copy.
  fs::copy_file(DataFilename(prefix, 0, 1), DataFilename(prefix + ".previous.tempstate1", 0, 1));
  fs::copy_file(DataFilename(prefix, 0, 1), DataFilename(prefix + ".previous.tempstate1", 0, 1) + ".tempstate7");
  fs::copy_file(DataFilename(prefix, 0, 1), DataFilename(prefix + ".previous.tempstate2", 0, 1));
  fs::copy_file(MetaFilename(prefix), MetaFilename(prefix + ".previous.tempstate2"));
  CHECK_FALSE(RecoverPreviousBundle(prefix));
  CHECK(Names(tmp.path()) == std::vector<std::string>{"model.ckpt.data-00000-of-00001", "model.ckpt.index",
                                                      "model.ckpt.previous.tempstate2.data-00000-of-00001",
                                                      "model.ckpt.previous.tempstate2.index"});
  CHECK(CheckSmall(prefix) == kOld);
}
