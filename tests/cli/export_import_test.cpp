// `warmstart export` and `warmstart import`, run as a program: bundle -> safetensors ->
// bundle and bundle -> npz -> bundle keep every byte for every dtype each format holds
// (scalars and empty tensors too), refusals and corrupt inputs give exit 1 and one error
// line, usage errors exit 2, and the real checkpoints survive the trip tensor by tensor.
#include <catch2/catch.hpp>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
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
using bundle::Checkpoint;
using bundle::DataType;
using bundle::TensorShape;
using warmstart::test::TempDir;

void RequireOk(const Run& r) {
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
}

struct Sample {
  std::string name;
  DataType dtype;
  TensorShape shape;
};

// Deterministic bytes of the right size; bools as 0/1.
std::string SampleBytes(const Sample& s) {
  const size_t n = static_cast<size_t>(s.shape.num_elements()) * static_cast<size_t>(bundle::DataTypeSize(s.dtype));
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(s.dtype == DataType::kBool ? (i % 3 == 0) : (i * 37 + 11));
  return out;
}

std::vector<Sample> Samples(bool npz) {
  std::vector<Sample> v = {
      {"b/bool", DataType::kBool, TensorShape({5})},         {"c64", DataType::kComplex64, TensorShape({2, 2})},
      {"f16", DataType::kHalf, TensorShape({3})},            {"bf16", DataType::kBfloat16, TensorShape({2, 3})},
      {"f32", DataType::kFloat, TensorShape({})},            {"f64", DataType::kDouble, TensorShape({4})},
      {"i8", DataType::kInt8, TensorShape({3})},             {"u8", DataType::kUint8, TensorShape({0})},
      {"i16", DataType::kInt16, TensorShape({2})},           {"u16", DataType::kUint16, TensorShape({})},
      {"i32", DataType::kInt32, TensorShape({2, 0, 3})},     {"u32", DataType::kUint32, TensorShape({1})},
      {"i64", DataType::kInt64, TensorShape({})},            {"u64", DataType::kUint64, TensorShape({2})},
      {"f8e5m2", DataType::kFloat8E5m2, TensorShape({4})},   {"f8e4m3", DataType::kFloat8E4m3fn, TensorShape({4})},
  };
  if (npz) {
    v.push_back({"c128", DataType::kComplex128, TensorShape({2})});
    v.push_back({"f8fnuz", DataType::kFloat8E4m3fnuz, TensorShape({3})});
  }
  return v;
}

std::string WriteSamples(const fs::path& prefix, const std::vector<Sample>& samples) {
  bundle::BundleWriter w(prefix.string());
  for (const Sample& s : samples) {
    const std::string bytes = SampleBytes(s);
    w.Add(s.name, s.dtype, s.shape, warmstart::core::ByteView(bytes));
  }
  w.Finish();
  return prefix.string();
}

// Every listed tensor of `a` is in `b` with the same dtype, shape and bytes (assembled).
void CheckSameTensors(const Checkpoint& a, const Checkpoint& b, const std::vector<std::string>& skipped = {}) {
  size_t compared = 0;
  for (const bundle::Entry& e : a.entries()) {
    if (std::find(skipped.begin(), skipped.end(), e.name) != skipped.end()) continue;
    INFO("tensor " << e.name);
    const bundle::Entry* f = b.Find(e.name);
    REQUIRE(f != nullptr);
    CHECK(f->dtype == e.dtype);
    CHECK(f->shape.dims() == e.shape.dims());
    if (e.dtype == DataType::kBool) {
      CHECK(a.Read<bool>(e.name) == b.Read<bool>(e.name));
    } else if (e.partitioned() || a.endianness() != bundle::Endianness::kLittle) {
      CHECK(a.ReadAs<double>(e.name) == b.ReadAs<double>(e.name));
    } else {
      CHECK(a.RawBytes(e).ToString() == b.RawBytes(*f).ToString());
    }
    ++compared;
  }
  CHECK(compared + skipped.size() == a.entries().size());
  CHECK(b.entries().size() == compared);
}

TEST_CASE("cli export/import: every dtype round-trips byte for byte", "[cli][export][import]") {
  if (!RequireCli()) return;
  TempDir dir;
  for (const char* ext : {".safetensors", ".npz"}) {
    INFO(ext);
    const bool npz = std::string(ext) == ".npz";
    const std::string src = WriteSamples(dir / (std::string("src") + ext), Samples(npz));
    const std::string file = (dir / (std::string("out") + ext)).string();
    const Run ex = RunCli({"export", src, file, "--json"});
    RequireOk(ex);
    const auto summary = nlohmann::json::parse(ex.out);
    CHECK(summary["tensors"] == Samples(npz).size());
    CHECK(summary["skipped"].empty());
    for (const char* shards : {"1", "3"}) {
      const std::string back = (dir / (std::string("back") + shards + ext)).string();
      const Run im = RunCli({"import", file, back, "--shards", shards, "--json"});
      RequireOk(im);
      CHECK(nlohmann::json::parse(im.out)["format"] == (npz ? "npz" : "safetensors"));
      CheckSameTensors(Checkpoint::Open(src), Checkpoint::Open(back));
      CHECK(Checkpoint::Open(back).VerifyAll().ok());
    }
  }
}

TEST_CASE("cli export: format from --format or the extension, else a usage error", "[cli][export]") {
  if (!RequireCli()) return;
  TempDir dir;
  const std::string src = WriteSamples(dir / "src", {{"w", DataType::kFloat, TensorShape({2})}});
  RequireOk(RunCli({"export", src, (dir / "plain").string(), "--format", "npz"}));
  CHECK(ReadFile(dir / "plain").substr(0, 2) == "PK");
  Run r = RunCli({"export", src, (dir / "noext").string()});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "--format safetensors|npz");
  r = RunCli({"export", src, (dir / "x.npz").string(), "--format", "onnx"});
  CHECK(r.exit_code == 2);
  RequireOneErrorLine(r, "'onnx'");
  r = RunCli({"export", src});
  CHECK(r.exit_code == 2);
  r = RunCli({"import", (dir / "plain").string()});
  CHECK(r.exit_code == 2);
  r = RunCli({"import", (dir / "plain").string(), (dir / "b").string(), "--shards", "0"});
  CHECK(r.exit_code == 2);
  // import finds the format from the bytes, whatever the name.
  RequireOk(RunCli({"import", (dir / "plain").string(), (dir / "b").string()}));
  CHECK(Checkpoint::Open((dir / "b").string()).Read<float>("w").size() == 2);
}

TEST_CASE("cli export: unsupported dtypes are refused or skipped by name", "[cli][export]") {
  if (!RequireCli()) return;
  TempDir dir;
  bundle::BundleWriter w((dir / "src").string());
  w.Add("kernel", std::vector<float>{1, 2}, TensorShape({2}));
  w.AddStrings("vocab", TensorShape({1}), std::vector<std::string>{"a"});
  w.Add("wide", std::vector<std::complex<double>>{{1, 2}}, TensorShape({1}));
  w.Finish();
  const std::string src = (dir / "src").string();
  const std::string out = (dir / "o.safetensors").string();
  Run r = RunCli({"export", src, out});
  CHECK(r.exit_code == 1);
  RequireOneErrorLine(r, "'vocab' is DT_STRING, which safetensors cannot hold; pass --skip-unsupported");
  CHECK_FALSE(fs::exists(out));
  r = RunCli({"export", src, out, "--skip-unsupported", "--json"});
  RequireOk(r);
  CHECK(r.err.find("note: skipped 'vocab': DT_STRING has no safetensors dtype") != std::string::npos);
  CHECK(r.err.find("note: skipped 'wide': DT_COMPLEX128 has no safetensors dtype") != std::string::npos);
  const auto summary = nlohmann::json::parse(r.out);
  CHECK(summary["tensors"] == 1);
  CHECK(summary["skipped"].size() == 2);
  CHECK(summary["skipped"][0]["name"] == "vocab");
  // npz holds complex128 but not strings.
  r = RunCli({"export", src, (dir / "o.npz").string(), "--skip-unsupported", "--json"});
  RequireOk(r);
  CHECK(nlohmann::json::parse(r.out)["tensors"] == 2);
}

TEST_CASE("cli import: corrupt inputs exit 1 with one line naming file and offset", "[cli][import]") {
  if (!RequireCli()) return;
  TempDir dir;
  const std::string src = WriteSamples(dir / "src", {{"w", DataType::kFloat, TensorShape({4})}});
  for (const char* ext : {".safetensors", ".npz"}) {
    const std::string file = (dir / (std::string("good") + ext)).string();
    RequireOk(RunCli({"export", src, file}));
    const std::string good = ReadFile(file);
    for (size_t n : {size_t{0}, size_t{5}, good.size() / 2, good.size() - 1}) {
      INFO(ext << " truncated to " << n);
      const fs::path bad = dir / (std::string("bad") + ext);
      { std::ofstream(bad, std::ios::binary) << good.substr(0, n); }
      const Run r = RunCli({"import", bad.string(), (dir / "never").string()});
      CHECK(r.exit_code == 1);
      RequireOneErrorLine(r, bad.string() + ": ");
      CHECK(r.err.find("offset ") != std::string::npos);
      CHECK_FALSE(fs::exists(dir / "never.index"));
    }
  }
  const Run missing = RunCli({"import", (dir / "absent.npz").string(), (dir / "never").string()});
  CHECK(missing.exit_code == 1);
  RequireOneErrorLine(missing, "absent.npz");
}

TEST_CASE("cli export/import: the real checkpoints survive both formats", "[cli][export][import][realdata]") {
  if (!RequireCli()) return;
  fs::path root;
  if (!warmstart::test::RequireRealData("checkpoints", &root)) return;
  TempDir dir;
  int done = 0;
  for (const auto& item : fs::directory_iterator(root)) {
    if (!item.is_directory()) continue;
    const std::string src = item.path().string();
    const Run probe = RunCli({"inspect", src, "--verify"});
    if (probe.exit_code != 0) continue;  // not every entry is a complete checkpoint
    for (const char* ext : {".safetensors", ".npz"}) {
      INFO(src << " " << ext);
      const std::string file = (dir / (item.path().filename().string() + ext)).string();
      const Run ex = RunCli({"export", src, file, "--skip-unsupported", "--json"});
      RequireOk(ex);
      std::vector<std::string> skipped;
      const nlohmann::json summary = nlohmann::json::parse(ex.out);
      for (const auto& s : summary["skipped"]) skipped.push_back(s["name"].get<std::string>());
      const std::string back = (dir / (item.path().filename().string() + ext + ".back")).string();
      RequireOk(RunCli({"import", file, back}));
      CheckSameTensors(Checkpoint::Open(src), Checkpoint::Open(back), skipped);
    }
    ++done;
  }
  CHECK(done > 0);
}

}  // namespace
