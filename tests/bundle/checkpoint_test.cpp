// Checkpoint::Open on directory layouts in a TempDir: a prefix and its files, state files
// (relative, absolute, moved directories, missing and empty paths), directories without a
// state file, SavedModels, the TF2 model zoo's nested checkpoint/ directory, V1 files, and
// .tempstate debris of crashed saves.
#include "warmstart/bundle/checkpoint.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "realdata.hpp"

namespace {

using namespace warmstart::bundle;
using warmstart::FormatError;
using warmstart::NotFoundError;
using warmstart::test::BundleBuilder;
using warmstart::test::Says;
using warmstart::test::TempDir;
using warmstart::test::WriteFile;
using warmstart::test::WriteFiles;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

// A one-tensor bundle at `prefix` whose tensor "v" holds `value`.
void WriteBundle(const fs::path& prefix, float value) {
  BundleBuilder b;
  b.AddValues("v", {1}, std::vector<float>{value});
  b.AddStrings("_CHECKPOINTABLE_OBJECT_GRAPH", {}, {"graph"});
  WriteFiles(b.Build(prefix.string()));
}

float ValueOf(const Checkpoint& c) { return c.Read<float>("v").at(0); }

std::string AllNotes(const Checkpoint& c) {
  std::string s;
  for (const std::string& n : c.notes()) s += n + "\n";
  return s;
}

}  // namespace

TEST_CASE("checkpoint: a prefix, its index file and its data file", "[bundle][checkpoint]") {
  TempDir dir;
  const fs::path prefix = dir / "model.ckpt";
  WriteBundle(prefix, 1.5f);
  for (const std::string& path : {prefix.string(), prefix.string() + ".index",
                                  prefix.string() + ".data-00000-of-00001"}) {
    INFO(path);
    const Checkpoint c = Checkpoint::Open(path);
    CHECK(c.prefix() == prefix.string());
    CHECK(c.format() == Format::kV2);
    CHECK(c.notes().empty());
    CHECK(ValueOf(c) == 1.5f);
  }
}

TEST_CASE("checkpoint: a directory with a state file naming a relative prefix", "[bundle][checkpoint][state]") {
  TempDir dir;
  WriteBundle(dir / "ckpt-3", 3);
  WriteBundle(dir / "ckpt-4", 4);
  WriteFile(dir / "checkpoint",
            "model_checkpoint_path: \"ckpt-4\"\n"
            "all_model_checkpoint_paths: \"ckpt-3\"\n"
            "all_model_checkpoint_paths: \"ckpt-4\"\n"
            "all_model_checkpoint_timestamps: 1614096307.290289\n"
            "all_model_checkpoint_timestamps: 1614101458.15835\n"
            "last_preserved_timestamp: 1614096304.0404563\n");
  const Checkpoint c = Checkpoint::Open(dir.path().string());
  CHECK(c.prefix() == (dir / "ckpt-4").string());
  CHECK(ValueOf(c) == 4);
  REQUIRE(c.notes().size() == 1);
  CHECK(c.notes()[0] == "'" + dir.path().string() + "/checkpoint' names '" + (dir / "ckpt-4").string() + "'");
}

TEST_CASE("checkpoint: a state file naming an absolute prefix", "[bundle][checkpoint][state]") {
  TempDir dir, other;
  WriteBundle(dir / "ckpt-1", 1);
  WriteBundle(other / "elsewhere", 2);
  WriteFile(dir / "checkpoint", "model_checkpoint_path: \"" + (other / "elsewhere").string() + "\"\n");
  const Checkpoint c = Checkpoint::Open(dir.path().string());
  CHECK(c.prefix() == (other / "elsewhere").string());
  CHECK(ValueOf(c) == 2);
}

TEST_CASE("checkpoint: a moved directory: absent absolute path, same base name here", "[bundle][checkpoint][state]") {
  TempDir dir;
  WriteBundle(dir / "model.ckpt-100", 100);
  WriteFile(dir / "checkpoint",
            "model_checkpoint_path: \"/Users/someone/train/model.ckpt-100\"\n"
            "all_model_checkpoint_paths: \"/Users/someone/train/model.ckpt-100\"\n");
  const Checkpoint c = Checkpoint::Open(dir.path().string());
  CHECK(c.prefix() == (dir / "model.ckpt-100").string());
  CHECK(ValueOf(c) == 100);
  CHECK_THAT(AllNotes(c), Contains("the state file names '/Users/someone/train/model.ckpt-100', which does not exist; "
                                   "using '" + (dir / "model.ckpt-100").string() +
                                   "' from the same directory instead (TensorFlow would find no checkpoint)"));
}

TEST_CASE("checkpoint: a state file naming a prefix that is nowhere", "[bundle][checkpoint][state]") {
  TempDir dir;
  WriteBundle(dir / "ckpt-3", 3);
  WriteFile(dir / "checkpoint", "model_checkpoint_path: \"ckpt-9\"\n");
  const std::string d = dir.path().string();
  CHECK_THROWS_MATCHES(Checkpoint::Open(d), NotFoundError,
                       Says(d + "/checkpoint: model_checkpoint_path '" + d + "/ckpt-9' does not exist (neither '" + d +
                            "/ckpt-9.index' nor a V1 file); bundles present: " + d + "/ckpt-3"));
  // Absolute, with no file of that base name here either.
  WriteFile(dir / "checkpoint", "model_checkpoint_path: \"/gone/ckpt-7\"\n");
  CHECK_THROWS_MATCHES(Checkpoint::Open(d), NotFoundError,
                       Says(d + "/checkpoint: model_checkpoint_path '/gone/ckpt-7' does not exist"));
}

TEST_CASE("checkpoint: an empty or absent model_checkpoint_path is an error", "[bundle][checkpoint][state]") {
  TempDir dir;
  WriteBundle(dir / "ckpt-1", 1);
  const std::string d = dir.path().string();
  WriteFile(dir / "checkpoint", "model_checkpoint_path: \"\"\n");
  CHECK_THROWS_MATCHES(Checkpoint::Open(d), FormatError,
                       Says(d + "/checkpoint: invalid checkpoint state: model_checkpoint_path is empty"));
  WriteFile(dir / "checkpoint", "all_model_checkpoint_paths: \"ckpt-1\"\n");
  CHECK_THROWS_MATCHES(Checkpoint::Open(d), FormatError,
                       Says("invalid checkpoint state: model_checkpoint_path is empty"));
}

TEST_CASE("checkpoint: a directory without a state file", "[bundle][checkpoint]") {
  TempDir dir;
  const std::string d = dir.path().string();
  SECTION("exactly one bundle, with .tempstate debris around it") {
    WriteBundle(dir / "only", 7);
    WriteFile(dir / "crashed.index.tempstate8375629184", "half an index");
    WriteFile(dir / "crashed.data-00000-of-00001.tempstate123", "half a data file");
    WriteFile(dir / "only.data-00000-of-00001.tempstate999", "");
    const Checkpoint c = Checkpoint::Open(d);
    CHECK(c.prefix() == (dir / "only").string());
    CHECK(ValueOf(c) == 7);
    REQUIRE(c.notes().size() == 1);
    CHECK(c.notes()[0] == "no 'checkpoint' state file in '" + d + "'; opened its only bundle '" +
                              (dir / "only").string() + "' (TensorFlow would find no checkpoint)");
  }
  SECTION("two bundles") {
    WriteBundle(dir / "a", 1);
    WriteBundle(dir / "b", 2);
    CHECK_THROWS_MATCHES(Checkpoint::Open(d), NotFoundError,
                         Says(d + ": no 'checkpoint' state file in this directory; pass one of these prefixes: " + d +
                              "/a, " + d + "/b"));
  }
  SECTION("no bundle") {
    WriteFile(dir / "notes.txt", "hello");
    CHECK_THROWS_MATCHES(Checkpoint::Open(d), NotFoundError,
                         Says(d + ": no 'checkpoint' state file in this directory and no *.index files"));
  }
}

TEST_CASE("checkpoint: a SavedModel directory opens variables/variables", "[bundle][checkpoint]") {
  TempDir dir;
  WriteFile(dir / "saved_model.pb", "not parsed");
  WriteFile(dir / "fingerprint.pb", "");
  WriteBundle(dir / "variables" / "variables", 42);
  const Checkpoint c = Checkpoint::Open(dir.path().string());
  CHECK(c.prefix() == (dir / "variables" / "variables").string());
  CHECK(ValueOf(c) == 42);
  REQUIRE(c.notes().size() == 1);
  CHECK(c.notes()[0] == "'" + dir.path().string() + "' is a SavedModel; opened its variables bundle");
  // The variables directory itself is a directory with one bundle.
  const Checkpoint v = Checkpoint::Open((dir / "variables").string());
  CHECK(ValueOf(v) == 42);
}

TEST_CASE("checkpoint: the TF2 model zoo layout, a nested checkpoint/ directory", "[bundle][checkpoint][state]") {
  TempDir dir;
  WriteFile(dir / "pipeline.config", "model {}\n");
  WriteBundle(dir / "checkpoint" / "ckpt-0", 0.5f);
  WriteFile(dir / "checkpoint" / "checkpoint",
            "model_checkpoint_path: \"ckpt-0\"\nall_model_checkpoint_paths: \"ckpt-0\"\n");
  const Checkpoint c = Checkpoint::Open(dir.path().string());
  CHECK(c.prefix() == (dir / "checkpoint" / "ckpt-0").string());
  CHECK(ValueOf(c) == 0.5f);
  REQUIRE(c.notes().size() == 2);
  CHECK(c.notes()[0] == "'" + dir.path().string() + "' has a 'checkpoint' directory; looked inside it");
  CHECK(c.notes()[1] == "'" + (dir / "checkpoint").string() + "/checkpoint' names '" +
                            (dir / "checkpoint" / "ckpt-0").string() + "'");
}

TEST_CASE("checkpoint: a V1 file, by path and through a state file", "[bundle][checkpoint][v1]") {
  TempDir dir;
  warmstart::test::V1Builder v1;
  v1.Add("v", DataType::kFloat, {2}, warmstart::test::ValuesProto(std::vector<float>{9, 8}));
  WriteFile(dir / "model.ckpt-5", v1.Build());
  const Checkpoint c = Checkpoint::Open((dir / "model.ckpt-5").string());
  CHECK(c.format() == Format::kV1);
  CHECK(c.Read<float>("v") == std::vector<float>{9, 8});
  WriteFile(dir / "checkpoint", "model_checkpoint_path: \"model.ckpt-5\"\n");
  const Checkpoint s = Checkpoint::Open(dir.path().string());
  CHECK(s.format() == Format::kV1);
  CHECK(s.prefix() == (dir / "model.ckpt-5").string());
  CHECK(s.Read<float>("v") == std::vector<float>{9, 8});
}

TEST_CASE("checkpoint: a path that is nothing", "[bundle][checkpoint]") {
  TempDir dir;
  const std::string p = (dir / "nope").string();
  CHECK_THROWS_MATCHES(Checkpoint::Open(p), NotFoundError,
                       Says(p + ": no checkpoint here: neither '" + p +
                            ".index' nor a file or directory of this name exists"));
  // A data file name whose bundle has no index.
  CHECK_THROWS_MATCHES(Checkpoint::Open(p + ".data-00000-of-00001"), NotFoundError,
                       Says("no checkpoint here"));
}

TEST_CASE("checkpoint: a corrupt bundle found through a directory reports the real file", "[bundle][checkpoint]") {
  TempDir dir;
  WriteFile(dir / "broken.index", std::string(100, 'x'));
  CHECK_THROWS_MATCHES(Checkpoint::Open(dir.path().string()), FormatError,
                       Says((dir / "broken.index").string() + ": offset 92: bad table magic number"));
}

TEST_CASE("checkpoint: every spelling of a prefix whose overwrite was interrupted finds the preserved copy",
          "[bundle][checkpoint]") {
  // Built by hand: the state after PublishBundle's step 2 (writer.hpp): PREFIX.index moved
  // to B.index, the data file linked as B's, the new data not yet in place.
  TempDir dir;
  const fs::path prefix = dir / "model.ckpt-5";
  const std::string previous = prefix.string() + ".previous.tempstate42";
  WriteBundle(prefix, 2.5f);
  fs::create_hard_link(prefix.string() + ".data-00000-of-00001", previous + ".data-00000-of-00001");
  fs::rename(prefix.string() + ".index", previous + ".index");
  for (const std::string& path : {prefix.string(), prefix.string() + ".index",
                                  prefix.string() + ".data-00000-of-00001"}) {
    INFO(path);
    const Checkpoint c = Checkpoint::Open(path);
    CHECK(c.prefix() == previous);
    CHECK(ValueOf(c) == 2.5f);
    REQUIRE(c.notes().size() == 1);
    CHECK_THAT(c.notes()[0], Contains("'" + prefix.string() + ".index' is missing: an overwrite of '" +
                                      prefix.string() + "' was interrupted; opened the previous bundle it "
                                                        "preserved, '" + previous + "'"));
  }
  // Nothing preserved: the index spelling still reports what is missing.
  fs::remove(previous + ".index");
  CHECK_THROWS_MATCHES(Checkpoint::Open(prefix.string() + ".index"), NotFoundError, Says("no checkpoint here"));
  CHECK_THROWS_MATCHES(Checkpoint::Open(prefix.string()), NotFoundError, Says("no checkpoint here"));
}
