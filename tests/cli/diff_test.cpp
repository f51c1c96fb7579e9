// `warmstart diff`, run as a program on bundles written here with BundleWriter (and, when the
// real data is there, on an index-only TensorFlow checkpoint).
//
// The binary is ${WARMSTART_BINARY_DIR}/warmstart; when it has not been built the tests
// WARN and pass.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <warmstart/warmstart.hpp>

#include "tests/cli/cli_runner.hpp"
#include "tests/realdata.hpp"

namespace {

using namespace warmstart::test::cli;  // RunCli, RequireCli, Lines, ...

namespace fs = std::filesystem;
namespace bundle = warmstart::bundle;
using nlohmann::json;
using warmstart::test::RequireRealData;
using warmstart::test::TempDir;

// ---- Running the binary ----











// ---- Checkpoints written here ----

using Edit = std::function<void(bundle::BundleWriter&)>;

// The base checkpoint: a few dtypes; `edit` may add more tensors; `skip` names one to leave out.
std::string Write(const fs::path& prefix, const std::string& skip = "", const Edit& edit = nullptr) {
  bundle::BundleWriter w(prefix.string());
  if (skip != "bias") w.Add("bias", std::vector<double>{1.0, 2.0, 3.0}, bundle::TensorShape({3}));
  if (skip != "kernel") w.Add("kernel", std::vector<float>{0.5f, -1.f, 2.f, 4.f}, bundle::TensorShape({2, 2}));
  if (skip != "step") w.Add("step", std::vector<int64_t>{42}, bundle::TensorShape({}));
  if (skip != "vocab") w.AddStrings("vocab", bundle::TensorShape({2}), std::vector<std::string>{"a", "b"});
  if (edit) edit(w);
  w.Finish();
  return prefix.string();
}

// Text output row of a tensor: the line whose second word is `name`.
std::vector<std::string> RowOf(const std::string& out, const std::string& kind, const std::string& name) {
  for (const std::string& line : Lines(out)) {
    if (StartsWith(line, kind) && line.find("  " + name + "  ") != std::string::npos) return Words(line);
  }
  return {};
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_CASE("diff of identical copies exits 0 with only the summary", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt"), b = Write(tmp / "b/model.ckpt");
  const Run r = RunCli({"diff", a, b});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "4 tensors identical, 0 differ, 0 only in A, 0 only in B\n");
  CHECK(r.err.empty());
  // a directory, .index and a data file name work too
  const Run paths = RunCli({"diff", a + ".index", b + ".data-00000-of-00001"});
  CHECK(paths.exit_code == 0);
}

TEST_CASE("diff reports one changed value with its exact max abs diff", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt");
  const std::string b = Write(tmp / "b/model.ckpt", "bias", [](bundle::BundleWriter& w) {
    w.Add("bias", std::vector<double>{1.0, 2.25, 3.0}, bundle::TensorShape({3}));
  });
  const Run r = RunCli({"diff", a, b});
  CHECK(r.exit_code == 1);
  CHECK(r.err.empty());
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(Words(lines[0]) == std::vector<std::string>{"different", "bias", "DT_DOUBLE", "[3]", "max_abs_diff", "0.25",
                                                    "max_rel_diff", "0.1111111111111111", "num_different", "1/3"});
  CHECK(lines[1] == "3 tensors identical, 1 differ, 0 only in A, 0 only in B");
}

TEST_CASE("diff lists tensors only in A and only in B", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt", "step");
  const std::string b = Write(tmp / "b/model.ckpt", "", [](bundle::BundleWriter& w) {
    w.Add("added", std::vector<int32_t>{1, 2}, bundle::TensorShape({2}));
  });
  const Run r = RunCli({"diff", a, b});
  CHECK(r.exit_code == 1);
  CHECK(RowOf(r.out, "only in B", "added") == std::vector<std::string>{"only", "in", "B", "added", "DT_INT32", "[2]"});
  CHECK(RowOf(r.out, "only in B", "step") == std::vector<std::string>{"only", "in", "B", "step", "DT_INT64", "[]"});
  CHECK(Lines(r.out).back() == "3 tensors identical, 0 differ, 0 only in A, 2 only in B");

  const Run reverse = RunCli({"diff", b, a});
  CHECK(reverse.exit_code == 1);
  CHECK(!RowOf(reverse.out, "only in A", "added").empty());
  CHECK(Lines(reverse.out).back() == "3 tensors identical, 0 differ, 2 only in A, 0 only in B");
}

TEST_CASE("diff reports a shape change and a dtype change", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt");
  const std::string shape = Write(tmp / "shape/model.ckpt", "kernel", [](bundle::BundleWriter& w) {
    w.Add("kernel", std::vector<float>{0.5f, -1.f, 2.f, 4.f}, bundle::TensorShape({4}));
  });
  const Run r = RunCli({"diff", a, shape});
  CHECK(r.exit_code == 1);
  CHECK(RowOf(r.out, "changed", "kernel") ==
        std::vector<std::string>{"changed", "kernel", "DT_FLOAT", "[2,2]", "->", "DT_FLOAT", "[4]"});
  CHECK(Lines(r.out).back() == "3 tensors identical, 1 differ, 0 only in A, 0 only in B");

  const std::string dtype = Write(tmp / "dtype/model.ckpt", "step", [](bundle::BundleWriter& w) {
    w.Add("step", std::vector<int32_t>{42}, bundle::TensorShape({}));
  });
  const Run d = RunCli({"diff", a, dtype});
  CHECK(d.exit_code == 1);
  CHECK(RowOf(d.out, "changed", "step") ==
        std::vector<std::string>{"changed", "step", "DT_INT64", "[]", "->", "DT_INT32", "[]"});
}

TEST_CASE("diff compares strings for equality and counts the differing elements", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt");
  const std::string b = Write(tmp / "b/model.ckpt", "vocab", [](bundle::BundleWriter& w) {
    w.AddStrings("vocab", bundle::TensorShape({2}), std::vector<std::string>{"a", "c"});
  });
  const Run r = RunCli({"diff", a, b});
  CHECK(r.exit_code == 1);
  CHECK(RowOf(r.out, "different", "vocab") ==
        std::vector<std::string>{"different", "vocab", "DT_STRING", "[2]", "num_different", "1/2"});

  const Run j = RunCli({"diff", a, b, "--json"});
  const json doc = json::parse(j.out);
  REQUIRE(doc["different"].size() == 1);
  CHECK(doc["different"][0]["name"] == "vocab");
  CHECK(doc["different"][0]["max_abs_diff"].is_null());
  CHECK(doc["different"][0]["max_rel_diff"].is_null());
  CHECK(doc["different"][0]["num_different"] == 1);
}

TEST_CASE("diff treats NaN as equal to NaN, and NaN against a number as different", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const auto with = [&](const std::string& dir, std::vector<double> v) {
    return Write(tmp / dir / "model.ckpt", "", [v](bundle::BundleWriter& w) {
      w.Add("x", v, bundle::TensorShape({static_cast<int64_t>(v.size())}));
    });
  };
  const std::string a = with("a", {kNaN, 1.0, 0.0});
  const std::string same = with("same", {kNaN, 1.0, 0.0});
  const Run r = RunCli({"diff", a, same});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "5 tensors identical, 0 differ, 0 only in A, 0 only in B\n");

  const std::string other = with("other", {1.0, 1.0, 0.0});
  const Run d = RunCli({"diff", a, other, "--json"});
  CHECK(d.exit_code == 1);
  const json doc = json::parse(d.out);
  REQUIRE(doc["different"].size() == 1);
  CHECK(doc["different"][0]["num_different"] == 1);
  CHECK(doc["different"][0]["max_abs_diff"] == 0.0);  // a NaN pair is counted but has no distance
  CHECK(doc["different"][0]["max_rel_diff"] == 0.0);
}

TEST_CASE("diff --json: every key, parsed back", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt", "", [](bundle::BundleWriter& w) {
    w.Add("gone", std::vector<float>{1.f}, bundle::TensorShape({1}));
  });
  const std::string b = Write(tmp / "b/model.ckpt", "kernel", [](bundle::BundleWriter& w) {
    w.Add("kernel", std::vector<float>{0.5f, -1.f, 2.f, 8.f}, bundle::TensorShape({2, 2}));
    w.Add("new", std::vector<float>{1.f}, bundle::TensorShape({1}));
    w.Add("zz", std::vector<float>{1.f}, bundle::TensorShape({1}));
  });
  const Run r = RunCli({"diff", a, b, "--json"});
  CHECK(r.exit_code == 1);
  REQUIRE(Lines(r.out).size() == 1);
  const json doc = json::parse(r.out);
  std::vector<std::string> keys;
  for (auto it = doc.begin(); it != doc.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"a", "b", "changed", "different", "identical", "num_identical", "only_in_a",
                                         "only_in_b"});
  CHECK(doc["a"] == a);
  CHECK(doc["b"] == b);
  CHECK(doc["identical"] == false);
  CHECK(doc["only_in_a"] == json::array({"gone"}));
  CHECK(doc["only_in_b"] == json::array({"new", "zz"}));
  CHECK(doc["changed"] == json::array());
  REQUIRE(doc["different"].size() == 1);
  const json& k = doc["different"][0];
  CHECK(k["name"] == "kernel");
  CHECK(k["dtype"] == "DT_FLOAT");
  CHECK(k["max_abs_diff"] == 4.0);
  CHECK(k["max_rel_diff"] == 0.5);
  CHECK(k["num_different"] == 1);
  CHECK(doc["num_identical"] == 3);

  const std::string c = Write(tmp / "c/model.ckpt", "step", [](bundle::BundleWriter& w) {
    w.Add("step", std::vector<int32_t>{42, 43}, bundle::TensorShape({2}));
  });
  const json changed = json::parse(RunCli({"diff", a, c, "--json"}).out);
  REQUIRE(changed["changed"].size() == 1);
  const json& s = changed["changed"][0];
  CHECK(s["name"] == "step");
  CHECK(s["dtype_a"] == "DT_INT64");
  CHECK(s["dtype_b"] == "DT_INT32");
  CHECK(s["shape_a"] == json::array());
  CHECK(s["shape_b"] == json::array({2}));

  const json same = json::parse(RunCli({"diff", a, a, "--json"}).out);
  CHECK(same["identical"] == true);
  CHECK(same["num_identical"] == 5);
  CHECK(same["different"] == json::array());
}

TEST_CASE("diff errors: a missing path is exit 1 with one line, no arguments exit 2", "[cli][diff]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string a = Write(tmp / "a/model.ckpt");
  const Run missing = RunCli({"diff", a, (tmp / "nope/model.ckpt").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  RequireOneErrorLine(missing, "no checkpoint here");

  const Run none = RunCli({"diff"});
  CHECK(none.exit_code == 2);
  RequireOneErrorLine(none, "diff: expected two checkpoints");
  const Run one = RunCli({"diff", a});
  CHECK(one.exit_code == 2);
  const Run three = RunCli({"diff", a, a, a});
  CHECK(three.exit_code == 2);
  const Run flag = RunCli({"diff", a, a, "--bogus"});
  CHECK(flag.exit_code == 2);
  RequireOneErrorLine(flag, "--bogus");
}

TEST_CASE("diff of index-only checkpoints fails cleanly naming the missing data file", "[cli][diff][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-od-ssd-mobilenet-v1-pitting-corrosion", &dir)) return;
  const Run r = RunCli({"diff", (dir / "model.ckpt-28357").string(), (dir / "model.ckpt-29246").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  RequireOneErrorLine(r, "model.ckpt-28357.data-00000-of-00001");
  CHECK(r.err.find("data file is missing") != std::string::npos);
}
