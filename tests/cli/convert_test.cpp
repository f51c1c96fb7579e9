// `warmstart convert`, `warmstart rename` and `warmstart average`, run as a program on
// bundles written here with BundleWriter (and, when the real data is there, on a V1 file).
// The results are read back with Checkpoint::Open and checked value by value.
//
// The binary is ${WARMSTART_BINARY_DIR}/warmstart; when it has not been built the tests
// WARN and pass.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <warmstart/warmstart.hpp>

#include "tests/cli/cli_runner.hpp"
#include "tests/realdata.hpp"

namespace {

using namespace warmstart::test::cli;  // RunCli, RequireCli, Lines, ...

namespace fs = std::filesystem;
namespace bundle = warmstart::bundle;
using bundle::Checkpoint;
using bundle::DataType;
using bundle::TensorShape;
using warmstart::test::RequireRealData;
using warmstart::test::TempDir;

// ---- Running the binary (as in diff_test.cpp) ----









void RequireOk(const Run& r) {
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

std::vector<std::string> Names(const Checkpoint& c) {
  std::vector<std::string> names;
  for (const bundle::Entry& e : c.entries()) names.push_back(e.name);
  return names;
}

// ---- Checkpoints written here ----

using Edit = std::function<void(bundle::BundleWriter&)>;

// Written in name order, as tf.train.Saver does.
std::string WriteBase(const fs::path& prefix, const Edit& edit = nullptr) {
  bundle::BundleWriter w(prefix.string());
  w.Add("bias", std::vector<double>{1.0, 2.0, 3.0}, TensorShape({3}));
  w.Add("flag", std::vector<bool>{true, false}, TensorShape({2}));
  w.Add("global_step", std::vector<int64_t>{42}, TensorShape({}));
  w.Add("kernel", std::vector<float>{0.5f, -1.f, 2.f, 4.f}, TensorShape({2, 2}));
  w.AddStrings("vocab", TensorShape({2}), std::vector<std::string>{"a", "b"});
  if (edit) edit(w);
  w.Finish();
  return prefix.string();
}

void CheckBaseValues(const Checkpoint& c) {
  CHECK(c.Read<double>("bias") == std::vector<double>{1.0, 2.0, 3.0});
  CHECK(c.Read<bool>("flag") == std::vector<bool>{true, false});
  CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{42});
  CHECK(c.Read<float>("kernel") == std::vector<float>{0.5f, -1.f, 2.f, 4.f});
  CHECK(c.ReadStrings("vocab") == std::vector<std::string>{"a", "b"});
}

// A model-like checkpoint for rename: two scopes and a global step.
std::string WriteModel(const fs::path& prefix) {
  bundle::BundleWriter w(prefix.string());
  w.Add("dense/bias", std::vector<float>{1.f, 2.f}, TensorShape({2}));
  w.Add("dense/kernel", std::vector<float>{3.f, 4.f, 5.f, 6.f}, TensorShape({2, 2}));
  w.Add("global_step", std::vector<int64_t>{7}, TensorShape({}));
  w.Add("output/bias", std::vector<float>{8.f}, TensorShape({1}));
  w.Finish();
  return prefix.string();
}

// ---- convert ----

TEST_CASE("convert of a bundle written in name order gives byte-identical files", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteBase(tmp / "src" / "model.ckpt");
  const std::string dst = (tmp / "out" / "model.ckpt").string();
  const Run r = RunCli({"convert", src, dst});
  RequireOk(r);
  CHECK(r.out.empty());
  CHECK(ReadFile(src + ".index") == ReadFile(dst + ".index"));
  CHECK(ReadFile(src + ".data-00000-of-00001") == ReadFile(dst + ".data-00000-of-00001"));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(c.num_shards() == 1);
  CheckBaseValues(c);
}

TEST_CASE("convert --shards 3 writes three merged shards with the same values", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteBase(tmp / "src");
  const std::string dst = (tmp / "sharded").string();
  RequireOk(RunCli({"convert", src, dst, "--shards", "3"}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(c.format() == bundle::Format::kV2);
  CHECK(c.num_shards() == 3);
  for (int i = 0; i < 3; ++i) CHECK(fs::is_regular_file(c.data_path(i)));
  CHECK_FALSE(fs::exists(dst + "_temp"));
  CHECK(Names(c) == Names(Checkpoint::Open(src)));
  CheckBaseValues(c);
  // Round-robin in name order: bias, flag, global_step, kernel, vocab -> 0, 1, 2, 0, 1.
  CHECK(c.Get("bias").shard_id == 0);
  CHECK(c.Get("flag").shard_id == 1);
  CHECK(c.Get("global_step").shard_id == 2);
  CHECK(c.Get("kernel").shard_id == 0);
  CHECK(c.Get("vocab").shard_id == 1);
  // And back to one shard: the same bytes as the original.
  const std::string back = (tmp / "back").string();
  RequireOk(RunCli({"convert", dst, back}));
  CHECK(ReadFile(src + ".data-00000-of-00001") == ReadFile(back + ".data-00000-of-00001"));
  CHECK(ReadFile(src + ".index") == ReadFile(back + ".index"));
}

TEST_CASE("convert writes a partitioned tensor as one whole tensor", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteBase(tmp / "src", [](bundle::BundleWriter& w) {
    const std::vector<float> top{0, 1, 2, 3};
    const std::vector<float> bottom{4, 5, 6, 7};
    const auto bytes = [](const std::vector<float>& v) {
      return warmstart::core::ByteView(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float));
    };
    w.AddSlice("emb", TensorShape({4, 2}), bundle::TensorSlice::Parse("0,2:-"), DataType::kFloat, bytes(top));
    w.AddSlice("emb", TensorShape({4, 2}), bundle::TensorSlice::Parse("2,2:-"), DataType::kFloat, bytes(bottom));
  });
  REQUIRE(Checkpoint::Open(src).Get("emb").partitioned());
  const std::string dst = (tmp / "dst").string();
  RequireOk(RunCli({"convert", src, dst}));
  const Checkpoint c = Checkpoint::Open(dst);
  const bundle::Entry& e = c.Get("emb");
  CHECK_FALSE(e.partitioned());
  CHECK(e.shape.dims() == std::vector<int64_t>{4, 2});
  CHECK(c.Read<float>("emb") == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(c.num_index_entries() == c.entries().size());  // no slice entries left
  CheckBaseValues(c);
}

TEST_CASE("convert refuses to overwrite its source and rejects bad usage", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteBase(tmp / "model.ckpt");
  const std::string before = ReadFile(src + ".index");
  const Run same = RunCli({"convert", src + ".index", src});
  CHECK(same.exit_code == 1);
  RequireOneErrorLine(same, "source checkpoint's own prefix");
  CHECK(ReadFile(src + ".index") == before);
  const Run one = RunCli({"convert", src});
  CHECK(one.exit_code == 2);
  RequireOneErrorLine(one, "expected SRC and DST");
  const Run zero = RunCli({"convert", src, (tmp / "x").string(), "--shards", "0"});
  CHECK(zero.exit_code == 2);
  RequireOneErrorLine(zero, "--shards");
  const Run missing = RunCli({"convert", (tmp / "nothing").string(), (tmp / "y").string()});
  CHECK(missing.exit_code == 1);
}

TEST_CASE("convert turns a real V1 checkpoint into an equal V2 bundle", "[convert][cli]") {
  if (!RequireCli()) return;
  fs::path dir;
  if (!RequireRealData("checkpoints/v1-nxt-tensorflow-2016", &dir)) return;
  TempDir tmp;
  const std::string src = (dir / "model.ckpt").string();
  const std::string dst = (tmp / "v2").string();
  RequireOk(RunCli({"convert", src, dst}));
  const Checkpoint v1 = Checkpoint::Open(src);
  const Checkpoint v2 = Checkpoint::Open(dst);
  CHECK(v1.format() == bundle::Format::kV1);
  CHECK(v2.format() == bundle::Format::kV2);
  REQUIRE(Names(v1) == Names(v2));
  for (const bundle::Entry& e : v1.entries()) {
    INFO(e.name);
    const bundle::Entry& f = v2.Get(e.name);
    CHECK(f.dtype == e.dtype);
    CHECK(f.shape.dims() == e.shape.dims());
    CHECK_FALSE(f.partitioned());
  }
  // Every value equal: diff exits 0.
  const Run d = RunCli({"diff", src, dst});
  INFO(d.out << d.err);
  CHECK(d.exit_code == 0);
}

// ---- rename ----

TEST_CASE("rename maps a scope, an exact name and leaves the rest", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteModel(tmp / "src");
  const std::string dst = (tmp / "dst").string();
  RequireOk(RunCli({"rename", src, dst, "--map", "dense/=encoder/dense/", "--map", "output/bias=head/b"}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(Names(c) == std::vector<std::string>{"encoder/dense/bias", "encoder/dense/kernel", "global_step", "head/b"});
  CHECK(c.Read<float>("encoder/dense/bias") == std::vector<float>{1.f, 2.f});
  CHECK(c.Read<float>("encoder/dense/kernel") == std::vector<float>{3.f, 4.f, 5.f, 6.f});
  CHECK(c.Get("encoder/dense/kernel").shape.dims() == std::vector<int64_t>{2, 2});
  CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{7});
  CHECK(c.Read<float>("head/b") == std::vector<float>{8.f});
}

TEST_CASE("rename '/' prefixes every name, an exact map wins over it", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteModel(tmp / "src");
  const std::string dst = (tmp / "dst").string();
  RequireOk(RunCli({"rename", src, dst, "--map", "/=model/", "--map", "global_step=global_step"}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(Names(c) ==
        std::vector<std::string>{"global_step", "model/dense/bias", "model/dense/kernel", "model/output/bias"});
  CHECK(c.Read<float>("model/output/bias") == std::vector<float>{8.f});
  CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{7});
}

TEST_CASE("rename --regex rewrites every name after the maps", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteModel(tmp / "src");
  const std::string dst = (tmp / "dst").string();
  RequireOk(RunCli({"rename", src, dst, "--regex", "^(dense|output)/bias$=$1/b", "--regex", "kernel=w"}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(Names(c) == std::vector<std::string>{"dense/b", "dense/w", "global_step", "output/b"});
  CHECK(c.Read<float>("dense/w") == std::vector<float>{3.f, 4.f, 5.f, 6.f});
  CHECK(c.Read<float>("output/b") == std::vector<float>{8.f});
}

TEST_CASE("rename refuses collisions and naming both tensors", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteModel(tmp / "src");
  const std::string dst = (tmp / "dst").string();
  // Two sources onto one name.
  const Run two = RunCli({"rename", src, dst, "--map", "dense/bias=b", "--map", "output/bias=b"});
  CHECK(two.exit_code == 1);
  RequireOneErrorLine(two, "'dense/bias' and 'output/bias' would both be named 'b'");
  // A renamed name onto one that stays.
  const Run onto = RunCli({"rename", src, dst, "--map", "output/bias=global_step"});
  CHECK(onto.exit_code == 1);
  RequireOneErrorLine(onto, "'global_step' (not renamed)");
  CHECK(onto.err.find("'output/bias'") != std::string::npos);
  CHECK_FALSE(fs::exists(dst + ".index"));
}

TEST_CASE("rename refuses a --map that matches nothing and bad usage", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string src = WriteModel(tmp / "src");
  const std::string dst = (tmp / "dst").string();
  const Run typo = RunCli({"rename", src, dst, "--map", "dens/=encoder/"});
  CHECK(typo.exit_code == 1);
  RequireOneErrorLine(typo, "'dens/=encoder/' matches no tensor");
  const Run exact = RunCli({"rename", src, dst, "--map", "dense/kernel=k", "--map", "dense/bais=b"});
  CHECK(exact.exit_code == 1);
  RequireOneErrorLine(exact, "'dense/bais=b' matches no tensor");
  CHECK_FALSE(fs::exists(dst + ".index"));
  const Run no_eq = RunCli({"rename", src, dst, "--map", "dense/kernel"});
  CHECK(no_eq.exit_code == 2);
  RequireOneErrorLine(no_eq, "expected OLD=NEW");
  const Run scope = RunCli({"rename", src, dst, "--map", "dense/=encoder"});
  CHECK(scope.exit_code == 2);
  RequireOneErrorLine(scope, "NEW must end in '/'");
  const Run bad_regex = RunCli({"rename", src, dst, "--regex", "(=x"});
  CHECK(bad_regex.exit_code == 2);
  const Run nothing = RunCli({"rename", src, dst});
  CHECK(nothing.exit_code == 2);
  const Run same = RunCli({"rename", src, src, "--map", "dense/=d/"});
  CHECK(same.exit_code == 1);
  RequireOneErrorLine(same, "own prefix");
}

// ---- average ----

std::string WriteAveraged(const fs::path& prefix, float k, double b, int64_t step) {
  bundle::BundleWriter w(prefix.string());
  w.Add("b", std::vector<double>{b, -b}, TensorShape({2}));
  w.Add("global_step", std::vector<int64_t>{step}, TensorShape({}));
  w.Add("h", std::vector<Eigen::half>{Eigen::half(k), Eigen::half(2 * k)}, TensorShape({2}));
  w.Add("k", std::vector<float>{k, 10 * k, 0.f}, TensorShape({3}));
  w.Add("z", std::vector<Eigen::bfloat16>{Eigen::bfloat16(k)}, TensorShape({1}));
  w.AddStrings("names", TensorShape({1}), std::vector<std::string>{"run" + std::to_string(step)});
  w.Finish();
  return prefix.string();
}

TEST_CASE("average of two checkpoints: float tensors averaged, the rest from the last", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = WriteAveraged(tmp / "a", 1.f, 0.25, 100);
  const std::string b = WriteAveraged(tmp / "b", 2.f, 0.5, 200);
  const std::string dst = (tmp / "avg").string();
  RequireOk(RunCli({"average", dst, a, b}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(Names(c) == Names(Checkpoint::Open(a)));
  CHECK(c.Read<float>("k") == std::vector<float>{1.5f, 15.f, 0.f});
  CHECK(c.Read<double>("b") == std::vector<double>{0.375, -0.375});
  CHECK(c.Get("h").dtype == DataType::kHalf);
  CHECK(c.ReadAs<double>("h") == std::vector<double>{1.5, 3.0});
  CHECK(c.Get("z").dtype == DataType::kBfloat16);
  CHECK(c.ReadAs<double>("z") == std::vector<double>{1.5});
  CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{200});
  CHECK(c.ReadStrings("names") == std::vector<std::string>{"run200"});
}

TEST_CASE("average of three checkpoints", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = WriteAveraged(tmp / "a", 1.f, 0.5, 1);
  const std::string b = WriteAveraged(tmp / "b", 2.f, 1.0, 2);
  const std::string c3 = WriteAveraged(tmp / "c", 6.f, 3.0, 3);
  const std::string dst = (tmp / "avg").string();
  RequireOk(RunCli({"average", dst, a, b, c3}));
  const Checkpoint c = Checkpoint::Open(dst);
  CHECK(c.Read<float>("k") == std::vector<float>{3.f, 30.f, 0.f});
  CHECK(c.Read<double>("b") == std::vector<double>{1.5, -1.5});
  CHECK(c.ReadAs<double>("h") == std::vector<double>{3.0, 6.0});
  CHECK(c.ReadAs<double>("z") == std::vector<double>{3.0});
  CHECK(c.Read<int64_t>("global_step") == std::vector<int64_t>{3});
  CHECK(c.ReadStrings("names") == std::vector<std::string>{"run3"});
}

TEST_CASE("average refuses different variable sets and too few sources", "[convert][cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = WriteAveraged(tmp / "a", 1.f, 0.5, 1);
  const std::string b = WriteAveraged(tmp / "b", 2.f, 1.0, 2);
  bundle::BundleWriter w((tmp / "wide").string());
  w.Add("k", std::vector<float>{1.f, 2.f, 3.f, 4.f}, TensorShape({4}));
  w.Finish();
  const std::string dst = (tmp / "avg").string();
  // Same names, one different shape.
  {
    bundle::BundleWriter s((tmp / "shape").string());
    s.Add("b", std::vector<double>{1.0, 2.0}, TensorShape({2}));
    s.Add("global_step", std::vector<int64_t>{3}, TensorShape({}));
    s.Add("h", std::vector<Eigen::half>{Eigen::half(1.f), Eigen::half(2.f)}, TensorShape({2}));
    s.Add("k", std::vector<float>{1.f, 2.f, 3.f}, TensorShape({3, 1}));
    s.Add("z", std::vector<Eigen::bfloat16>{Eigen::bfloat16(1.f)}, TensorShape({1}));
    s.AddStrings("names", TensorShape({1}), std::vector<std::string>{"x"});
    s.Finish();
  }
  const Run shape = RunCli({"average", dst, a, b, (tmp / "shape").string()});
  CHECK(shape.exit_code == 1);
  RequireOneErrorLine(shape, "'k' is DT_FLOAT [3]");
  CHECK(shape.err.find("DT_FLOAT [3,1]") != std::string::npos);
  const Run names = RunCli({"average", dst, a, (tmp / "wide").string()});
  CHECK(names.exit_code == 1);
  RequireOneErrorLine(names, "'b' is in");
  CHECK_FALSE(fs::exists(dst + ".index"));
  const Run one = RunCli({"average", dst, a});
  CHECK(one.exit_code == 2);
  RequireOneErrorLine(one, "at least two sources");
}

}  // namespace
