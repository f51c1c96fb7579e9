// WriteCheckpointState / UpdateCheckpointState: the exact bytes of a new state file, the
// max_to_keep sweep over real bundles, Checkpoint::Open of the directory afterwards, no
// checkpoint.tmp* debris, relative vs absolute paths, duplicates and timestamps.
#include "warmstart/bundle/checkpoint_manager.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/bundle/checkpoint.hpp"
#include "warmstart/bundle/writer.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart::bundle;
using warmstart::ArgumentError;
using warmstart::FormatError;
using warmstart::IoError;
using warmstart::test::TempDir;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool HasTempDebris(const fs::path& dir) {
  for (const std::string& n : Names(dir)) {
    if (n.rfind("checkpoint.tmp", 0) == 0) return true;
  }
  return false;
}

void WriteBundle(const std::string& prefix, float value) {
  BundleWriter w(prefix);
  w.Add("v", std::vector<float>{value, value + 1}, TensorShape({2}));
  w.Finish();
}

}  // namespace

TEST_CASE("checkpoint manager: first save writes TF's exact bytes", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  WriteBundle(dir + "/ckpt-1", 1);
  const CheckpointState s = UpdateCheckpointState(dir, dir + "/ckpt-1", 5);
  CHECK(s.model_checkpoint_path == "ckpt-1");
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"ckpt-1"});
  CHECK(Slurp(tmp / "checkpoint") == "model_checkpoint_path: \"ckpt-1\"\nall_model_checkpoint_paths: \"ckpt-1\"\n");
  CHECK_FALSE(HasTempDebris(tmp.path()));
}

TEST_CASE("checkpoint manager: max_to_keep=2 deletes the oldest bundle", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  for (int i = 1; i <= 3; ++i) {
    const std::string prefix = dir + "/ckpt-" + std::to_string(i);
    WriteBundle(prefix, static_cast<float>(i));
    UpdateCheckpointState(dir, prefix, 2);
    CHECK_FALSE(HasTempDebris(tmp.path()));
  }
  CHECK(Names(tmp.path()) == std::vector<std::string>{"checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
                                                      "ckpt-3.data-00000-of-00001", "ckpt-3.index"});
  CHECK(Slurp(tmp / "checkpoint") ==
        "model_checkpoint_path: \"ckpt-3\"\n"
        "all_model_checkpoint_paths: \"ckpt-2\"\n"
        "all_model_checkpoint_paths: \"ckpt-3\"\n");
  Checkpoint ck = Checkpoint::Open(dir);
  CHECK(ck.prefix() == dir + "/ckpt-3");
  CHECK(ck.Read<float>("v") == std::vector<float>{3, 4});
}

TEST_CASE("checkpoint manager: multi-shard data files are deleted too", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  WriteBundle(dir + "/a", 1);
  // Files of a sharded bundle and a look-alike that must survive.
  for (const char* n : {"a.data-00000-of-00002", "a.data-00001-of-00002", "a.data-x-of-00002", "ab.index"}) {
    std::ofstream(tmp / n) << "x";
  }
  UpdateCheckpointState(dir, dir + "/a", 1);
  WriteBundle(dir + "/b", 2);
  const CheckpointState s = UpdateCheckpointState(dir, dir + "/b", 1);
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"b"});
  CHECK(Names(tmp.path()) == std::vector<std::string>{"a.data-x-of-00002", "ab.index", "b.data-00000-of-00001",
                                                      "b.index", "checkpoint"});
}

TEST_CASE("checkpoint manager: paths inside, below and outside the directory", "[state_writer]") {
  TempDir tmp;
  TempDir other;
  const std::string dir = tmp.path().string();
  SECTION("subdirectory: relative with a slash") {
    const CheckpointState s = UpdateCheckpointState(dir, dir + "/sub/../sub/ckpt-1", std::nullopt);
    CHECK(s.model_checkpoint_path == "sub/ckpt-1");
  }
  SECTION("absolute outside stays absolute") {
    const std::string outside = (other / "ckpt-9").string();
    const CheckpointState s = UpdateCheckpointState(dir, outside, std::nullopt);
    CHECK(s.model_checkpoint_path == outside);
    CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{outside});
    CHECK(ResolveStatePaths(ParseCheckpointState(Slurp(tmp / "checkpoint"), "checkpoint"), dir)
              .model_checkpoint_path == outside);
  }
  SECTION("a directory given with a trailing slash") {
    const CheckpointState s = UpdateCheckpointState(dir + "/", dir + "/ckpt-1", std::nullopt);
    CHECK(s.model_checkpoint_path == "ckpt-1");
  }
}

TEST_CASE("checkpoint manager: re-saving a prefix moves it to the end", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  UpdateCheckpointState(dir, dir + "/ckpt-1", std::nullopt);
  UpdateCheckpointState(dir, dir + "/ckpt-2", std::nullopt);
  const CheckpointState s = UpdateCheckpointState(dir, dir + "/./ckpt-1", std::nullopt);
  CHECK(s.model_checkpoint_path == "ckpt-1");
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"ckpt-2", "ckpt-1"});
  CHECK(ParseCheckpointState(Slurp(tmp / "checkpoint"), "checkpoint") == s);
}

TEST_CASE("checkpoint manager: timestamps only when given", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  // An existing file as CheckpointManager writes it.
  CheckpointState prior;
  prior.model_checkpoint_path = "ckpt-1";
  prior.all_model_checkpoint_paths = {"ckpt-1"};
  prior.all_model_checkpoint_timestamps = {1614096307.290289};
  prior.last_preserved_timestamp = 1614096304.0404563;
  WriteCheckpointState(dir, prior);
  UpdateCheckpointState(dir, dir + "/ckpt-2", 3, 1614101458.15835);
  CHECK(Slurp(tmp / "checkpoint") ==
        "model_checkpoint_path: \"ckpt-2\"\n"
        "all_model_checkpoint_paths: \"ckpt-1\"\n"
        "all_model_checkpoint_paths: \"ckpt-2\"\n"
        "all_model_checkpoint_timestamps: 1614096307.290289\n"
        "all_model_checkpoint_timestamps: 1614101458.15835\n"
        "last_preserved_timestamp: 1614096304.0404563\n");
  // Without a timestamp the list is dropped; last_preserved_timestamp is kept.
  const CheckpointState s = UpdateCheckpointState(dir, dir + "/ckpt-3", 3);
  CHECK(s.all_model_checkpoint_timestamps.empty());
  CHECK(s.last_preserved_timestamp == 1614096304.0404563);
}

TEST_CASE("checkpoint manager: errors", "[state_writer]") {
  TempDir tmp;
  const std::string dir = tmp.path().string();
  CHECK_THROWS_AS(UpdateCheckpointState(dir, dir + "/c", 0), ArgumentError);
  CHECK_THROWS_AS(UpdateCheckpointState(dir, "", 1), ArgumentError);
  std::ofstream(tmp / "checkpoint") << "model_checkpoint_path: \"unterminated\n";
  CHECK_THROWS_AS(UpdateCheckpointState(dir, dir + "/c", 1), FormatError);
  CHECK_THROWS_WITH(WriteCheckpointState((tmp / "missing").string(), CheckpointState{}),
                    Catch::Contains((tmp / "missing" / "checkpoint.tmp").string()));
  CHECK_FALSE(HasTempDebris(tmp.path()));
}
