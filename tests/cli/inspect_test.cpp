// `warmstart inspect`, run as a program on real TensorFlow checkpoints, on copies corrupted on
// purpose, and on small bundles written here byte by byte (dtypes and names TensorFlow's
// checkpoints in shared/realdata do not have). The numpy-style printer is also tested
// in-process against text printed by numpy 1.24 itself.
//
// The binary is ${WARMSTART_BINARY_DIR}/warmstart; when it has not been built the CLI tests
// WARN and pass.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <warmstart/warmstart.hpp>

#include "examples/cli/numpy_format.hpp"
#include "tests/cli/cli_runner.hpp"
#include "tests/realdata.hpp"

namespace {

using namespace warmstart::test::cli;  // RunCli, RequireCli, Lines, ...

namespace fs = std::filesystem;
namespace bundle = warmstart::bundle;
using nlohmann::json;
using warmstart::cli::FormatTensor;
using warmstart::cli::PrintOptions;
using warmstart::test::RequireRealData;
using warmstart::test::TempDir;

// ---- Running the binary ----



void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}









std::string ShapeText(const json& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i].get<int64_t>());
  return s + "]";
}

// Copies every file of a bundle (PREFIX.*) into dir; returns the new prefix.
fs::path CopyBundle(const fs::path& prefix, const fs::path& dir) {
  const std::string stem = prefix.filename().string() + ".";
  for (const auto& f : fs::directory_iterator(prefix.parent_path())) {
    if (StartsWith(f.path().filename().string(), stem)) fs::copy_file(f.path(), dir / f.path().filename());
  }
  return dir / prefix.filename();
}

// ---- A bundle written by hand ----

// One little-endian shard; entries may be added in any order.
class BundleBuilder {
 public:
  void AddFixed(const std::string& name, bundle::DataType dtype, std::vector<int64_t> dims, const std::string& bytes) {
    warmstart::proto::BundleEntry e = Located(dtype, std::move(dims), bytes);
    e.crc32c = warmstart::core::crc32c::Mask(
        warmstart::core::crc32c::Value(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    entries_[name] = e;
    data_ += bytes;
  }

  template <class T>
  void Add(const std::string& name, bundle::DataType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
    AddFixed(name, dtype, std::move(dims),
             std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  }

  void AddStrings(const std::string& name, std::vector<int64_t> dims, const std::vector<std::string>& values) {
    std::string bytes;
    const std::vector<std::string_view> views(values.begin(), values.end());
    const uint32_t crc = bundle::EncodeStringTensor(views, &bytes);
    warmstart::proto::BundleEntry e = Located(bundle::DataType::kString, std::move(dims), bytes);
    e.crc32c = crc;
    entries_[name] = e;
    data_ += bytes;
  }

  // A partitioned float tensor: the full entry lists the slices, each slice has its own entry.
  void AddPartitioned(const std::string& name, std::vector<int64_t> dims, const std::vector<std::string>& slices,
                      const std::vector<std::vector<float>>& values) {
    warmstart::proto::BundleEntry full;
    full.dtype = static_cast<int32_t>(bundle::DataType::kFloat);
    full.shape.dims = dims;
    for (size_t i = 0; i < slices.size(); ++i) {
      const bundle::TensorSlice s = bundle::TensorSlice::Parse(slices[i]);
      full.slices.push_back(s.ToProto());
      Add(bundle::EncodeTensorNameSlice(name, s), bundle::DataType::kFloat,
          s.SliceShape(bundle::TensorShape(dims)).dims(), values[i]);
    }
    entries_[name] = full;
  }

  void Write(const fs::path& prefix) const {
    warmstart::sstable::TableBuilder table;
    warmstart::proto::BundleHeader header;
    header.num_shards = 1;
    header.version.producer = 1;
    const std::string h = warmstart::proto::EncodeBundleHeader(header);
    table.Add("", warmstart::core::ByteView(h.data(), h.size()));
    for (const auto& [key, entry] : entries_) {
      const std::string value = warmstart::proto::EncodeBundleEntry(entry);
      table.Add(key, warmstart::core::ByteView(value.data(), value.size()));
    }
    WriteFile(prefix.string() + ".index", table.Finish());
    WriteFile(bundle::DataFilename(prefix.string(), 0, 1), data_);
  }

 private:
  warmstart::proto::BundleEntry Located(bundle::DataType dtype, std::vector<int64_t> dims, const std::string& bytes) {
    warmstart::proto::BundleEntry e;
    e.dtype = static_cast<int32_t>(dtype);
    e.shape.dims = std::move(dims);
    e.offset = static_cast<int64_t>(data_.size());
    e.size = static_cast<int64_t>(bytes.size());
    return e;
  }

  std::map<std::string, warmstart::proto::BundleEntry> entries_;  // sorted: the index order
  std::string data_;
};

const std::string kBadUtf8Name = std::string("bad\xff\xfe") + "name";

// Every dtype family the printer handles, a partitioned tensor and a name that is not UTF-8.
fs::path WriteSyntheticBundle(const TempDir& dir) {
  using DT = bundle::DataType;
  BundleBuilder b;
  b.Add<Eigen::half>("half", DT::kHalf, {4},
                     {Eigen::half(0.1f), Eigen::half(0.2f), Eigen::half(1.5f), Eigen::half(-2.0f)});
  b.Add<uint8_t>("flags", DT::kBool, {2, 3}, {1, 0, 1, 0, 0, 1});
  b.Add<std::complex<float>>("complex", DT::kComplex64, {2}, {{1, 2}, {3, -4.5f}});
  b.AddStrings("strings", {3}, {"a", "it's", std::string("\x00\xff", 2)});
  b.Add<int64_t>("step", DT::kInt64, {}, {42});
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  b.Add<float>("with_nan", DT::kFloat, {6}, {1, 2, nan, inf, -inf, 3});
  std::vector<float> big(1600);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) / 7.0f;
  b.Add<float>("big", DT::kFloat, {40, 40}, big);
  b.AddPartitioned("part", {4, 2}, {"0,2:-", "2,2:-"}, {{0, 1, 2, 3}, {4, 5, 6, 7}});
  b.AddFixed("variant", DT::kVariant, {}, "opaque");
  b.Add<float>(kBadUtf8Name, DT::kFloat, {1}, {1.0f});
  const fs::path prefix = dir / "synthetic";
  b.Write(prefix);
  return prefix;
}

}  // namespace

// ---- The numpy printer, in-process (expected texts printed by numpy 1.24.2) ----

TEST_CASE("numpy printer: floats, positional and scientific", "[cli][numpy]") {
  const PrintOptions o;
  CHECK(FormatTensor(std::vector<float>{1.5f, 2.25f, 3.0f}, {3}, o) == "[1.5  2.25 3.  ]");
  CHECK(FormatTensor(std::vector<double>{1e-5, 123.45}, {2}, o) == "[1.0000e-05 1.2345e+02]");
  CHECK(FormatTensor(std::vector<double>{1e-5, 1.0}, {2}, o) == "[1.e-05 1.e+00]");
  CHECK(FormatTensor(std::vector<double>{1e-100, 1.0}, {2}, o) == "[1.e-100 1.e+000]");
  CHECK(FormatTensor(std::vector<double>{0.123456789123, 1.0}, {2}, o) == "[0.12345679 1.        ]");
  CHECK(FormatTensor(std::vector<double>{9.999999999, 1.0}, {2}, o) == "[10.  1.]");
  CHECK(FormatTensor(std::vector<float>{-1.0f, 0.0f, -0.0f}, {3}, o) == "[-1.  0. -0.]");
  // float32 digits: exact integers in arrays, exact digits past the shortest in scientific.
  CHECK(FormatTensor(std::vector<float>{82682792.0f}, {1}, o) == "[82682792.]");
  CHECK(FormatTensor(std::vector<float>{1e-5f, 0.5f}, {2}, o) == "[1.e-05 5.e-01]");
  CHECK(FormatTensor(std::vector<float>{1e-5f, 0.12345678f}, {2}, o) == "[9.9999997e-06 1.2345678e-01]");
}

TEST_CASE("numpy printer: nan and inf are right-aligned", "[cli][numpy]") {
  const PrintOptions o;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  CHECK(FormatTensor(std::vector<float>{1.0f, static_cast<float>(nan), static_cast<float>(-inf)}, {3}, o) ==
        "[  1.  nan -inf]");
  CHECK(FormatTensor(std::vector<double>{nan, inf}, {2}, o) == "[nan inf]");
  CHECK(FormatTensor(std::vector<double>{1e-5, nan, -inf}, {3}, o) == "[1.e-05    nan   -inf]");
}

TEST_CASE("numpy printer: other dtypes", "[cli][numpy]") {
  const PrintOptions o;
  CHECK(FormatTensor(std::vector<Eigen::half>{Eigen::half(0.1f), Eigen::half(0.2f)}, {2}, o) == "[0.1 0.2]");
  CHECK(FormatTensor(std::vector<Eigen::half>{Eigen::half(1e-4f), Eigen::half(0.1f)}, {2}, o) == "[0.0001 0.1   ]");
  CHECK(FormatTensor(std::vector<bool>{true, false, true}, {3}, o) == "[ True False  True]");
  CHECK(FormatTensor(std::vector<int8_t>{-5, 100, 7}, {3}, o) == "[ -5 100   7]");
  CHECK(FormatTensor(std::vector<uint64_t>{18446744073709551615ull, 5}, {2}, o) ==
        "[18446744073709551615                    5]");
  CHECK(FormatTensor(std::vector<std::complex<float>>{{1, 2}, {3, -4.5f}}, {2}, o) == "[1.+2.j  3.-4.5j]");
  CHECK(FormatTensor(std::vector<std::string>{"a", "it's", "x\"y", std::string("\x00\xff\n\t\\", 5), "both'\""}, {5},
                     o) == R"([b'a' b"it's" b'x"y' b'\x00\xff\n\t\\' b'both\'"'])");
}

TEST_CASE("numpy printer: scalars read like numpy's str()", "[cli][numpy]") {
  const PrintOptions o;
  CHECK(FormatTensor(std::vector<float>{0.1f}, {}, o) == "0.1");
  CHECK(FormatTensor(std::vector<float>{3.0f}, {}, o) == "3.0");
  CHECK(FormatTensor(std::vector<float>{1e-5f}, {}, o) == "1e-05");
  CHECK(FormatTensor(std::vector<double>{1.5e17}, {}, o) == "1.5e+17");
  CHECK(FormatTensor(std::vector<float>{82682792.0f}, {}, o) == "82682790.0");
  CHECK(FormatTensor(std::vector<float>{-0.0f}, {}, o) == "-0.0");
  CHECK(FormatTensor(std::vector<float>{-std::numeric_limits<float>::infinity()}, {}, o) == "-inf");
  CHECK(FormatTensor(std::vector<int64_t>{200}, {}, o) == "200");
  CHECK(FormatTensor(std::vector<bool>{true}, {}, o) == "True");
  CHECK(FormatTensor(std::vector<std::complex<float>>{{1, 2}}, {}, o) == "(1+2j)");
  CHECK(FormatTensor(std::vector<std::complex<double>>{{0, 2}}, {}, o) == "2j");
  CHECK(FormatTensor(std::vector<std::complex<double>>{{1.5, -0.5}}, {}, o) == "(1.5-0.5j)");
  CHECK(FormatTensor(std::vector<std::string>{"hello\x01"}, {}, o) == R"(b'hello\x01')");
}

TEST_CASE("numpy printer: wrapping, nesting, summaries, empty tensors", "[cli][numpy]") {
  PrintOptions o;
  std::vector<double> v30(30);
  for (size_t i = 0; i < v30.size(); ++i) v30[i] = static_cast<double>(i);
  CHECK(FormatTensor(v30, {30}, o) ==
        "[ 0.  1.  2.  3.  4.  5.  6.  7.  8.  9. 10. 11. 12. 13. 14. 15. 16. 17.\n"
        " 18. 19. 20. 21. 22. 23. 24. 25. 26. 27. 28. 29.]");
  std::vector<int64_t> v2000(2000);
  for (size_t i = 0; i < v2000.size(); ++i) v2000[i] = static_cast<int64_t>(i);
  CHECK(FormatTensor(v2000, {2, 10, 100}, o) ==
        "[[[   0    1    2 ...   97   98   99]\n"
        "  [ 100  101  102 ...  197  198  199]\n"
        "  [ 200  201  202 ...  297  298  299]\n"
        "  ...\n"
        "  [ 700  701  702 ...  797  798  799]\n"
        "  [ 800  801  802 ...  897  898  899]\n"
        "  [ 900  901  902 ...  997  998  999]]\n"
        "\n"
        " [[1000 1001 1002 ... 1097 1098 1099]\n"
        "  [1100 1101 1102 ... 1197 1198 1199]\n"
        "  [1200 1201 1202 ... 1297 1298 1299]\n"
        "  ...\n"
        "  [1700 1701 1702 ... 1797 1798 1799]\n"
        "  [1800 1801 1802 ... 1897 1898 1899]\n"
        "  [1900 1901 1902 ... 1997 1998 1999]]]");
  std::vector<float> v1001(1001);  // the widths come from the shown elements only
  for (size_t i = 0; i < v1001.size(); ++i) v1001[i] = static_cast<float>(i) * 1e-3f;
  CHECK(FormatTensor(v1001, {1001}, o) == "[0.        0.001     0.002     ... 0.998     0.9990001 1.       ]");
  CHECK(FormatTensor(std::vector<double>{}, {0, 3}, o) == "[]");
  std::vector<float> v8{0, 1, 2, 3, 4, 5, 6, 7};
  o.threshold = 5;
  o.edgeitems = 1;
  o.linewidth = 30;
  CHECK(FormatTensor(v8, {4, 2}, o) == "[[0. 1.]\n ...\n [6. 7.]]");
}

// ---- The binary on real checkpoints ----

TEST_CASE("inspect lists every tensor of a TF1 Saver checkpoint, sorted, in columns", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const json oracle = json::parse(ReadFile(dir / "oracle-report.json"));
  const Run r = RunCli({"inspect", (dir / "model.ckpt").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 34);
  REQUIRE(oracle["entries"].size() == 34);
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& e = oracle["entries"][i];
    CHECK(Words(lines[i]) == std::vector<std::string>{e["name"].get<std::string>(), e["dtype"].get<std::string>(),
                                                      ShapeText(e["shape"])});
    CHECK(lines[i].find("DT_FLOAT") == lines[0].find("DT_FLOAT"));  // aligned
  }
  CHECK(lines[0] == "Variable           DT_FLOAT  [8,100]");
  CHECK(lines[33] == "beta2_power        DT_FLOAT  []");
}

TEST_CASE("inspect accepts a directory, PREFIX.index, a data file and --file_name", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const Run from_dir = RunCli({"inspect", dir.string()});
  REQUIRE(from_dir.exit_code == 0);
  CHECK(Lines(from_dir.out).size() == 34);
  CHECK(StartsWith(from_dir.err, "note: "));  // how the state file was followed
  for (const char* form : {"model.ckpt.index", "model.ckpt.data-00000-of-00001"}) {
    const Run r = RunCli({"inspect", (dir / form).string()});
    CHECK(r.exit_code == 0);
    CHECK(r.out == from_dir.out);
  }
  const Run tf_style = RunCli({"inspect", "--file_name", (dir / "model.ckpt").string()});
  CHECK(tf_style.exit_code == 0);
  CHECK(tf_style.out == from_dir.out);
}

TEST_CASE("inspect --json: exact keys, types and values of a V2 bundle", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const auto oracle = nlohmann::ordered_json::parse(ReadFile(dir / "oracle-report.json"));
  const Run r = RunCli({"inspect", (dir / "model.ckpt").string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> out_lines = Lines(r.out);
  CHECK(out_lines.size() == 1);  // one document, one line
  const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(r.out);
  std::vector<std::string> keys;
  for (const auto& [k, v] : doc.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"prefix", "format", "num_shards", "entries"});
  CHECK(doc["prefix"] == (dir / "model.ckpt").string());
  CHECK(doc["format"] == "V2");
  CHECK(doc["num_shards"].is_number_integer());
  CHECK(doc["num_shards"] == 1);
  REQUIRE(doc["entries"].is_array());
  REQUIRE(doc["entries"].size() == 34);
  for (size_t i = 0; i < doc["entries"].size(); ++i) {
    const auto& e = doc["entries"][i];
    const auto& want = oracle["entries"][i];
    std::vector<std::string> entry_keys;
    for (const auto& [k, v] : e.items()) entry_keys.push_back(k);
    CHECK(entry_keys == std::vector<std::string>{"name", "dtype", "shape", "shard", "offset", "size"});
    CHECK(e["name"] == want["name"]);
    CHECK(e["dtype"] == want["dtype"]);
    CHECK(e["shape"] == want["shape"]);
    CHECK(e["shard"].is_number_integer());
    CHECK(e["shard"] == want["shard_id"]);
    CHECK(e["offset"] == want["offset"]);
    CHECK(e["size"] == want["size"]);
    if (i > 0) CHECK(doc["entries"][i - 1]["name"].get<std::string>() < e["name"].get<std::string>());  // key order
  }
}

TEST_CASE("inspect --json: a V1 checkpoint has null shard, offset and size", "[cli][realdata]") {
  fs::path file;
  if (!RequireCli() || !RequireRealData("checkpoints/v1-nxt-tensorflow-2016/model.ckpt", &file)) return;
  const Run r = RunCli({"inspect", file.string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const json doc = json::parse(r.out);
  CHECK(doc["format"] == "V1");
  CHECK(doc["prefix"] == file.string());
  CHECK(doc["num_shards"] == 1);
  REQUIRE(doc["entries"].size() == 14);
  for (const json& e : doc["entries"]) {
    CHECK(e.size() == 6);
    CHECK(e["dtype"] == "DT_FLOAT");
    CHECK(e["shard"].is_null());
    CHECK(e["offset"].is_null());
    CHECK(e["size"].is_null());
  }
}

TEST_CASE("inspect --json: a two-shard bundle", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &dir)) return;
  const Run r = RunCli({"inspect", (dir / "model.ckpt").string(), "--json"});
  REQUIRE(r.exit_code == 0);
  const json doc = json::parse(r.out);
  CHECK(doc["num_shards"] == 2);
  REQUIRE(doc["entries"].size() == 18);
  std::vector<int> shards;
  for (const json& e : doc["entries"]) shards.push_back(e["shard"].get<int>());
  CHECK(std::count(shards.begin(), shards.end(), 0) > 0);
  CHECK(std::count(shards.begin(), shards.end(), 1) > 0);
  CHECK(std::count(shards.begin(), shards.end(), 0) + std::count(shards.begin(), shards.end(), 1) == 18);
  CHECK(doc["entries"][0]["name"] == "_CHECKPOINTABLE_OBJECT_GRAPH");
  CHECK(doc["entries"][0]["dtype"] == "DT_STRING");
}

TEST_CASE("inspect --verify passes on complete bundles", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const Run r = RunCli({"inspect", (dir / "model.ckpt").string(), "--verify"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "verified 34 tensors (18088 bytes): 0 failed\n");  // 18088: the data file's size
  CHECK(r.err.empty());
  // Combined with the listing: the listing, then the summary.
  const Run both = RunCli({"inspect", (dir / "model.ckpt").string(), "--list", "--verify"});
  CHECK(both.exit_code == 0);
  REQUIRE(Lines(both.out).size() == 35);
  CHECK(Lines(both.out).back() == "verified 34 tensors (18088 bytes): 0 failed");

  fs::path two;
  if (!RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &two)) return;
  const Run sharded = RunCli({"inspect", (two / "model.ckpt").string(), "--verify"});
  CHECK(sharded.exit_code == 0);
  CHECK(sharded.out == "verified 18 tensors (14439 bytes): 0 failed\n");  // both data files
}

TEST_CASE("inspect --verify names the tensor whose data byte was flipped", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  TempDir tmp;
  const fs::path prefix = CopyBundle(dir / "model.ckpt", tmp.path());
  const fs::path data = prefix.string() + ".data-00000-of-00001";
  std::string bytes = ReadFile(data);
  REQUIRE(bytes.size() == 18088);
  bytes[3300] = static_cast<char>(bytes[3300] ^ 0x01);  // inside Variable/Adam: [3200, 6400)
  WriteFile(data, bytes);

  const Run r = RunCli({"inspect", prefix.string(), "--verify"});
  CHECK(r.exit_code == 1);
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(StartsWith(lines[0], "FAILED Variable/Adam: "));
  CHECK(lines[0].find("key 'Variable/Adam': offset 3200: checksum mismatch") != std::string::npos);
  CHECK(lines[1] == "verified 33 tensors (14888 bytes): 1 failed");

  // With --json the report goes to stderr and stdout stays one JSON document.
  const Run j = RunCli({"inspect", prefix.string(), "--json", "--verify"});
  CHECK(j.exit_code == 1);
  CHECK(json::parse(j.out)["entries"].size() == 34);
  CHECK(j.err.find("FAILED Variable/Adam: ") != std::string::npos);

  // Reading the corrupt tensor is an error of its own.
  const Run read = RunCli({"inspect", prefix.string(), "--tensor_name", "Variable/Adam"});
  CHECK(read.exit_code == 1);
  RequireOneErrorLine(read, "checksum mismatch");
}

TEST_CASE("inspect: a missing path or a truncated index is exit 1 with one error line", "[cli][realdata]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const Run missing = RunCli({"inspect", (tmp / "nothing" / "model.ckpt").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  RequireOneErrorLine(missing, "nothing/model.ckpt");

  fs::path dir;
  if (!RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const fs::path prefix = CopyBundle(dir / "model.ckpt", tmp.path());
  const std::string index = ReadFile(prefix.string() + ".index");
  WriteFile(prefix.string() + ".index", index.substr(0, index.size() / 2));
  const Run truncated = RunCli({"inspect", prefix.string()});
  CHECK(truncated.exit_code == 1);
  CHECK(truncated.out.empty());
  RequireOneErrorLine(truncated, "model.ckpt.index");

  // An index whose data file is absent lists fine but cannot be read.
  fs::remove(prefix.string() + ".index");
  WriteFile(prefix.string() + ".index", index);
  fs::remove(prefix.string() + ".data-00000-of-00001");
  CHECK(RunCli({"inspect", prefix.string()}).exit_code == 0);
  const Run no_data = RunCli({"inspect", prefix.string(), "--stats"});
  CHECK(no_data.exit_code == 1);
  RequireOneErrorLine(no_data, "data file is missing");
}

TEST_CASE("inspect: usage errors are exit 2, --help and --version exit 0", "[cli]") {
  if (!RequireCli()) return;
  const Run unknown_flag = RunCli({"inspect", "x", "--no-such-flag"});
  CHECK(unknown_flag.exit_code == 2);
  RequireOneErrorLine(unknown_flag, "--no-such-flag");
  const Run no_path = RunCli({"inspect"});
  CHECK(no_path.exit_code == 2);
  RequireOneErrorLine(no_path, "no checkpoint given");
  const Run both_paths = RunCli({"inspect", "a", "--file_name", "b"});
  CHECK(both_paths.exit_code == 2);
  RequireOneErrorLine(both_paths, "not both");
  const Run conflict = RunCli({"inspect", "x", "--json", "--stats"});
  CHECK(conflict.exit_code == 2);
  RequireOneErrorLine(conflict, "--json and --stats cannot be combined");
  const Run bad_option = RunCli({"inspect", "x", "--printoptions", "threshold=lots"});
  CHECK(bad_option.exit_code == 2);
  RequireOneErrorLine(bad_option, "threshold=lots");
  const Run no_command = RunCli({});
  CHECK(no_command.exit_code == 2);
  RequireOneErrorLine(no_command, "no command given");
  const Run unknown_command = RunCli({"frobnicate"});
  CHECK(unknown_command.exit_code == 2);
  RequireOneErrorLine(unknown_command, "unknown command 'frobnicate'");

  const Run help = RunCli({"inspect", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--tensor_name") != std::string::npos);
  CHECK(RunCli({"--help"}).exit_code == 0);
  const Run version = RunCli({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == "0.1.0\n");
}

TEST_CASE("inspect --tensor_name prints a scalar, an unknown name is exit 1 with a suggestion", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const std::string prefix = (dir / "model.ckpt").string();
  const Run scalar = RunCli({"inspect", prefix, "--tensor_name", "beta2_power"});
  CHECK(scalar.exit_code == 0);
  CHECK(scalar.out == "tensor_name:  beta2_power\n4.1621723e-18\n");

  const Run vector = RunCli({"inspect", prefix, "--tensor_name", "Variable_9"});
  CHECK(vector.out == "tensor_name:  Variable_9\n[-0.75341254]\n");

  const Run missing = RunCli({"inspect", prefix, "--tensor_name", "Variabel_9"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.out.empty());
  RequireOneErrorLine(missing, "key 'Variabel_9': no tensor of this name in the checkpoint; did you mean 'Variable_9'?");

  // TensorFlow's flag spellings for everything at once.
  const Run names = RunCli({"inspect", prefix, "--all_tensor_names"});
  REQUIRE(Lines(names.out).size() == 34);
  CHECK(Lines(names.out)[0] == "tensor_name:  Variable");
  const Run all = RunCli({"inspect", prefix, "--all_tensors"});
  CHECK(all.exit_code == 0);
  CHECK(all.out.find("tensor_name:  beta2_power\n4.1621723e-18\n") != std::string::npos);
}

TEST_CASE("inspect --tensor_name on a V1 checkpoint", "[cli][realdata]") {
  fs::path file;
  if (!RequireCli() || !RequireRealData("checkpoints/v1-serving-session-bundle-half-plus-two/export-00000-of-00001",
                                        &file)) {
    return;
  }
  const Run r = RunCli({"inspect", file.string(), "--all_tensors"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "tensor_name:  a\n0.5\ntensor_name:  b\n2.0\n");
}

TEST_CASE("inspect --stats agrees with the library", "[cli][realdata]") {
  fs::path dir;
  if (!RequireCli() || !RequireRealData("checkpoints/tf1-saver-adam", &dir)) return;
  const std::string prefix = (dir / "model.ckpt").string();
  const Run r = RunCli({"inspect", prefix, "--stats", "--tensor_name", "Variable_4"});
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(Words(lines[0]) == std::vector<std::string>{"name", "dtype", "shape", "min", "max", "mean", "std", "nan", "inf"});
  const std::vector<std::string> w = Words(lines[1]);
  REQUIRE(w.size() == 9);
  CHECK(w[0] == "Variable_4");
  CHECK(w[1] == "DT_FLOAT");
  CHECK(w[2] == "[5,5]");

  const auto ckpt = bundle::Checkpoint::Open(prefix);
  const std::vector<float> v = ckpt.Read<float>("Variable_4");
  double sum = 0;
  for (float x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  double squares = 0;
  for (float x : v) squares += (x - mean) * (x - mean);
  CHECK(std::stof(w[3]) == *std::min_element(v.begin(), v.end()));  // shortest float digits: exact
  CHECK(std::stof(w[4]) == *std::max_element(v.begin(), v.end()));
  CHECK(std::stod(w[5]) == Approx(mean).epsilon(1e-5));
  CHECK(std::stod(w[6]) == Approx(std::sqrt(squares / static_cast<double>(v.size()))).epsilon(1e-5));
  CHECK(w[7] == "0");
  CHECK(w[8] == "0");

  const Run all = RunCli({"inspect", prefix, "--stats"});
  CHECK(Lines(all.out).size() == 35);
}

TEST_CASE("inspect --object-graph describes a TF2 checkpoint, TF1 says it has none", "[cli][realdata]") {
  fs::path tf2, tf1;
  if (!RequireCli() || !RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &tf2) ||
      !RequireRealData("checkpoints/tf1-saver-adam", &tf1)) {
    return;
  }
  const Run r = RunCli({"inspect", (tf2 / "model.ckpt").string(), "--object-graph"});
  CHECK(r.exit_code == 0);
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() > 2);
  CHECK(lines[0] == "object graph: 22 nodes, 17 saved tensors (8 of optimizer slots)");
  CHECK(lines[1] == "(root)  [node 0]");
  CHECK(r.out.find("@VARIABLE_VALUE = layer-1/kernel/.ATTRIBUTES/VARIABLE_VALUE  (full name sequential/dense/kernel)") !=
        std::string::npos);

  const Run none = RunCli({"inspect", (tf1 / "model.ckpt").string(), "--object-graph"});
  CHECK(none.exit_code == 0);
  CHECK(none.out.empty());
  CHECK(none.err == "no object graph (a TF1 name-based checkpoint)\n");
}

// ---- The binary on a bundle written here ----

TEST_CASE("inspect prints every dtype family like numpy", "[cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string prefix = WriteSyntheticBundle(tmp).string();
  auto values = [&](const std::string& name) {
    const Run r = RunCli({"inspect", prefix, "--tensor_name", name});
    INFO(name << ": " << r.err);
    CHECK(r.exit_code == 0);
    return r.out;
  };
  CHECK(values("half") == "tensor_name:  half\n[ 0.1  0.2  1.5 -2. ]\n");
  CHECK(values("flags") == "tensor_name:  flags\n[[ True False  True]\n [False False  True]]\n");
  CHECK(values("complex") == "tensor_name:  complex\n[1.+2.j  3.-4.5j]\n");
  CHECK(values("strings") == "tensor_name:  strings\n[b'a' b\"it's\" b'\\x00\\xff']\n");
  CHECK(values("step") == "tensor_name:  step\n42\n");
  CHECK(values("part") == "tensor_name:  part\n[[0. 1.]\n [2. 3.]\n [4. 5.]\n [6. 7.]]\n");
  CHECK(values("variant") == "tensor_name:  variant\n<DT_VARIANT: warmstart cannot read this dtype>\n");
  CHECK(values("big") ==
        "tensor_name:  big\n"
        "[[0.0000000e+00 1.4285715e-01 2.8571430e-01 ... 5.2857141e+00\n"
        "  5.4285712e+00 5.5714288e+00]\n"
        " [5.7142859e+00 5.8571429e+00 6.0000000e+00 ... 1.1000000e+01\n"
        "  1.1142858e+01 1.1285714e+01]\n"
        " [1.1428572e+01 1.1571428e+01 1.1714286e+01 ... 1.6714285e+01\n"
        "  1.6857143e+01 1.7000000e+01]\n"
        " ...\n"
        " [2.1142857e+02 2.1157143e+02 2.1171428e+02 ... 2.1671428e+02\n"
        "  2.1685715e+02 2.1700000e+02]\n"
        " [2.1714285e+02 2.1728572e+02 2.1742857e+02 ... 2.2242857e+02\n"
        "  2.2257143e+02 2.2271428e+02]\n"
        " [2.2285715e+02 2.2300000e+02 2.2314285e+02 ... 2.2814285e+02\n"
        "  2.2828572e+02 2.2842857e+02]]\n");

  const Run full = RunCli({"inspect", prefix, "--tensor_name", "big", "--full"});
  CHECK(full.out.find("...") == std::string::npos);
  CHECK(Lines(full.out).size() == 1 + 40 * 8);  // 40 rows of 40, 5 per line
  const Run options = RunCli({"inspect", prefix, "--tensor_name", "part", "--printoptions", "threshold=5,edgeitems=1"});
  CHECK(options.out == "tensor_name:  part\n[[0. 1.]\n ...\n [6. 7.]]\n");
}

TEST_CASE("inspect --json: partitioned tensors and names that are not UTF-8", "[cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string prefix = WriteSyntheticBundle(tmp).string();
  const Run r = RunCli({"inspect", prefix, "--json"});
  REQUIRE(r.exit_code == 0);
  const json doc = json::parse(r.out);  // valid JSON despite the name
  REQUIRE(doc["entries"].size() == 10);  // the slice entries are not listed
  std::map<std::string, json> by_name;
  for (const json& e : doc["entries"]) by_name[e["name"].get<std::string>()] = e;

  const json& part = by_name.at("part");
  CHECK(part["shape"] == json::array({4, 2}));
  CHECK(part["shard"].is_null());
  CHECK(part["offset"].is_null());
  CHECK(part["size"].is_null());
  CHECK(part["slices"] == json::array({"0,2:-", "2,2:-"}));
  CHECK(by_name.at("half").count("slices") == 0);
  CHECK(by_name.at("variant")["dtype"] == "DT_VARIANT");

  const json& bad = by_name.at("bad\xEF\xBF\xBD\xEF\xBF\xBDname");  // each bad byte became U+FFFD
  CHECK(bad["name_hex"] == "626164fffe6e616d65");
  CHECK(by_name.at("half").count("name_hex") == 0);

  const Run listing = RunCli({"inspect", prefix});
  CHECK(listing.exit_code == 0);
  std::map<std::string, std::vector<std::string>> rows;
  for (const std::string& line : Lines(listing.out)) rows[Words(line)[0]] = Words(line);
  CHECK(rows.size() == 10);
  CHECK(rows["bad\\xff\\xfename"] == std::vector<std::string>{"bad\\xff\\xfename", "DT_FLOAT", "[1]"});
  CHECK(rows["part"] ==
        std::vector<std::string>{"part", "DT_FLOAT", "[4,2]", "(partitioned", "into", "2", "slices)"});
}

TEST_CASE("inspect --stats counts NaN and Inf and skips strings with a note", "[cli]") {
  if (!RequireCli()) return;
  TempDir tmp;
  const std::string prefix = WriteSyntheticBundle(tmp).string();
  const Run one = RunCli({"inspect", prefix, "--stats", "--tensor_name", "with_nan"});
  REQUIRE(one.exit_code == 0);
  REQUIRE(Lines(one.out).size() == 2);
  CHECK(Words(Lines(one.out)[1]) ==
        std::vector<std::string>{"with_nan", "DT_FLOAT", "[6]", "1.0", "3.0", "2", "0.816497", "1", "2"});

  const Run all = RunCli({"inspect", prefix, "--stats"});
  CHECK(all.exit_code == 0);
  CHECK(all.err.find("note: skipping 'strings': DT_STRING has no numeric statistics") != std::string::npos);
  CHECK(all.err.find("note: skipping 'complex'") != std::string::npos);
  CHECK(all.err.find("note: skipping 'variant'") != std::string::npos);
  CHECK(all.out.find("\nstep ") != std::string::npos);
  CHECK(all.out.find("\nstrings ") == std::string::npos);
  CHECK(Lines(all.out).size() == 1 + 7);  // header + the 7 numeric tensors
}
