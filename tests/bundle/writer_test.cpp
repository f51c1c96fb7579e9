// BundleWriter on disk: every dtype and strings read back with BundleReader, the spec's
// worked string examples, empty tensors, alignment, partitioned tensors, argument errors,
// the temp-file protocol (nothing under the final names before Finish, nothing left after
// a failure or without Finish), and byte-exactness against tests/fixtures.hpp's BundleBuilder.
#include "warmstart/bundle/writer.hpp"

#include <catch2/catch.hpp>

#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "realdata.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

namespace fs = std::filesystem;
using namespace warmstart::bundle;
using warmstart::ArgumentError;
using warmstart::IoError;
using warmstart::core::ByteView;
using warmstart::test::BundleBuilder;
using warmstart::test::BundleOptions;
using warmstart::test::Files;
using warmstart::test::Hex;
using warmstart::test::RawBytes;
using warmstart::test::Says;
using warmstart::test::TempDir;
using warmstart::test::ToHex;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Names of every file directly in `dir`, sorted.
std::vector<std::string> Listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

ByteView View(const std::string& s) { return ByteView(s.data(), s.size()); }

// `n` bytes that differ from their neighbours.
std::string Pattern(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + 37 * i);
  return s;
}

}  // namespace

TEST_CASE("writer: every fixed-size dtype round trips through BundleReader", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "all").string();
  std::map<std::string, std::string> expected;
  {
    BundleWriter w(prefix);
    for (int32_t i = 1; i <= kMaxKnownDataType; ++i) {
      const auto t = static_cast<DataType>(i);
      if (!IsFixedSize(t)) continue;
      const std::string bytes = Pattern(6 * static_cast<size_t>(DataTypeSize(t)), static_cast<uint8_t>(i));
      w.Add(DataTypeName(t), t, TensorShape{2, 3}, View(bytes));
      expected[DataTypeName(t)] = bytes;
    }
    w.Finish();
  }
  auto r = BundleReader<>::Open(prefix);
  CHECK(r.num_shards() == 1);
  CHECK(r.entries().size() == expected.size());
  for (const auto& [key, bytes] : expected) {
    INFO(key);
    const Entry& e = r.Get(key);
    CHECK(DataTypeName(e.dtype) == key);
    CHECK(e.shape == TensorShape({2, 3}));
    CHECK(r.RawBytes(e).ToString() == bytes);
  }
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("writer: typed Add for vectors, including std::vector<bool>", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "typed").string();
  const std::vector<float> f = {1.5f, -0.0f, std::numeric_limits<float>::max(), 1e-40f};
  const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min(), 0x0102030405060708LL};
  const std::vector<bool> b = {true, false, true, true, false};
  const std::vector<std::complex<double>> c = {{1e100, -2.0}, {0.0, 3.25}};
  const std::vector<Eigen::half> h = {Eigen::half(1.5f), Eigen::half(-2.0f)};
  {
    BundleWriter w(prefix);
    w.Add("f", f, TensorShape{2, 2});
    w.Add("i64", i64, TensorShape{2});
    w.Add("b", b, TensorShape{5});
    w.Add("c", c, TensorShape{2, 1});
    w.Add("h", h, TensorShape{2});
    w.Finish();
  }
  auto r = BundleReader<>::Open(prefix);
  CHECK(RawBytes(r.Read<float>("f")) == RawBytes(f));
  CHECK(r.Read<int64_t>("i64") == i64);
  CHECK(r.Get("b").dtype == DataType::kBool);
  CHECK(r.RawBytes(r.Get("b")).ToString() == Hex("01 00 01 01 00"));
  CHECK(r.Read<std::complex<double>>("c") == c);
  CHECK(RawBytes(r.Read<Eigen::half>("h")) == RawBytes(h));
}

TEST_CASE("writer: strings match the spec's worked examples (6.3)", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "s").string();
  {
    BundleWriter w(prefix);
    w.AddStrings("only", TensorShape{}, std::vector<std::string_view>{"only"});
    w.AddStrings("pair", TensorShape{2}, std::vector<std::string>{"ab", ""});
    w.AddStrings("none", TensorShape{0}, std::vector<std::string_view>{});
    w.Finish();
  }
  const std::string data = Slurp(DataFilename(prefix, 0, 1));
  CHECK(ToHex(data) == ToHex(Hex("04 62 51 eb 96 6f 6e 6c 79" "02 00 78 27 0b 34 61 62" "d8 ea 82 a2")));
  auto r = BundleReader<>::Open(prefix);
  CHECK(r.Get("only").masked_crc32c == 0x11878E4Fu);
  CHECK(r.Get("only").offset == 0);
  CHECK(r.Get("pair").offset == 9);
  CHECK(r.Get("none").size == 4);
  CHECK(r.ReadStrings("only") == std::vector<std::string>{"only"});
  CHECK(r.ReadStrings("pair") == std::vector<std::string>{"ab", ""});
  CHECK(r.ReadStrings("none").empty());
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("writer: empty tensors and scalars", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "e").string();
  {
    BundleWriter w(prefix);
    w.Add("a_scalar", std::vector<int64_t>{42}, TensorShape{});
    w.Add("b_empty", std::vector<float>{}, TensorShape{0, 3});
    w.Add("c_after", std::vector<float>{2.0f}, TensorShape{1});
    w.Finish();
  }
  auto r = BundleReader<>::Open(prefix);
  CHECK(r.Get("a_scalar").shape.rank() == 0);
  CHECK(r.Read<int64_t>("a_scalar") == std::vector<int64_t>{42});
  const Entry& empty = r.Get("b_empty");
  CHECK(empty.size == 0);
  CHECK(empty.offset == 8);
  CHECK(empty.masked_crc32c == 0xA282EAD8u);  // mask(0)
  CHECK(r.Read<float>("b_empty").empty());
  CHECK(r.Get("c_after").offset == 8);
  CHECK(fs::file_size(DataFilename(prefix, 0, 1)) == 12);
}

TEST_CASE("writer: data_alignment pads with zeros after every payload", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "aligned").string();
  const size_t kAlign = 8;
  {
    BundleWriter w(prefix, BundleWriter::Options{kAlign});
    w.Add("a", DataType::kUint8, TensorShape{3}, View(Hex("01 02 03")));
    w.Add("b", DataType::kInt16, TensorShape{5}, View(Pattern(10, 9)));
    w.Add("c", DataType::kFloat, TensorShape{0}, ByteView());
    w.AddStrings("d", TensorShape{}, std::vector<std::string_view>{"only"});
    CHECK(w.data_size() == 40);
    w.Finish();
  }
  const std::string data = Slurp(DataFilename(prefix, 0, 1));
  REQUIRE(data.size() == 40);  // 3+5 | 10+6 | 0 | 9+7
  auto r = BundleReader<>::Open(prefix);
  CHECK(r.Get("a").offset == 0);
  CHECK(r.Get("a").size == 3);
  CHECK(r.Get("b").offset == 8);
  CHECK(r.Get("b").size == 10);
  CHECK(r.Get("c").offset == 24);
  CHECK(r.Get("d").offset == 24);
  CHECK(r.Get("d").size == 9);
  CHECK(r.Get("d").masked_crc32c == 0x11878E4Fu);
  for (const Entry& e : r.entries()) CHECK(e.offset % static_cast<int64_t>(kAlign) == 0);
  CHECK(data.substr(3, 5) == std::string(5, '\0'));
  CHECK(data.substr(18, 6) == std::string(6, '\0'));
  CHECK(data.substr(33, 7) == std::string(7, '\0'));
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("writer: partitioned tensors are read back assembled", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "part").string();
  const std::vector<float> full = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};  // [4,3]
  const std::vector<float> top(full.begin(), full.begin() + 6), bottom(full.begin() + 6, full.end());
  {
    BundleWriter w(prefix);
    // TF1 partitioned variables give explicit extents for every dimension.
    w.AddSlice("v", TensorShape{4, 3}, TensorSlice::Parse("2,2:0,3"), DataType::kFloat, View(RawBytes(bottom)));
    w.AddSlice("v", TensorShape{4, 3}, TensorSlice::Parse("0,2:0,3"), DataType::kFloat, View(RawBytes(top)));
    // A slice covering everything is a plain entry.
    w.AddSlice("whole", TensorShape{2}, TensorSlice::Parse("0,2"), DataType::kFloat,
               View(RawBytes(std::vector<float>{7, 8})));
    w.Finish();
  }
  auto r = BundleReader<>::Open(prefix);
  const Entry& v = r.Get("v");
  REQUIRE(v.slices.size() == 2);
  CHECK(v.slices[0] == TensorSlice::Parse("2,2:0,3"));  // call order
  CHECK(v.slices[1] == TensorSlice::Parse("0,2:0,3"));
  CHECK(v.size == 0);
  CHECK(r.Read<float>("v") == full);
  CHECK(r.num_index_entries() == 4);
  CHECK_FALSE(r.Get("whole").partitioned());
  CHECK(r.Read<float>("whole") == std::vector<float>{7, 8});
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("writer: argument errors name the key", "[writer]") {
  TempDir dir;
  BundleWriter w((dir / "err").string());
  const std::string four = Pattern(4, 1);
  w.Add("x", DataType::kFloat, TensorShape{1}, View(four));
  CHECK_THROWS_MATCHES(w.Add("x", DataType::kFloat, TensorShape{1}, View(four)), ArgumentError,
                       Says("key 'x': tensor was already added"));
  CHECK_THROWS_MATCHES(w.Add("", DataType::kFloat, TensorShape{1}, View(four)), ArgumentError,
                       Says("key must not be empty"));
  CHECK_THROWS_MATCHES(w.Add("y", DataType::kFloat, TensorShape{2, 2}, View(four)), ArgumentError,
                       Says("key 'y': expected 16 bytes for DT_FLOAT [2,2], got 4"));
  CHECK_THROWS_MATCHES(w.Add("y", DataType::kString, TensorShape{1}, View(four)), ArgumentError,
                       Says("DT_STRING is not a fixed-size dtype; use AddStrings"));
  CHECK_THROWS_MATCHES(w.Add("y", std::vector<int32_t>{1, 2}, TensorShape{3}), ArgumentError,
                       Says("expected 12 bytes for DT_INT32 [3], got 8"));
  CHECK_THROWS_MATCHES(w.Add("y", DataType::kFloat, TensorShape{-1}, ByteView()), ArgumentError,
                       Says("negative dimension"));
  CHECK_THROWS_MATCHES(w.AddStrings("s", TensorShape{2}, std::vector<std::string_view>{"a"}), ArgumentError,
                       Says("shape [2] has 2 elements, 1 strings were given"));
  CHECK_THROWS_MATCHES(w.AddSlice("x", TensorShape{2}, TensorSlice::Parse("0,1"), DataType::kFloat, View(four)),
                       ArgumentError, Says("tensor was already added unpartitioned"));
  w.AddSlice("p", TensorShape{2}, TensorSlice::Parse("0,1"), DataType::kFloat, View(four));
  CHECK_THROWS_MATCHES(w.AddSlice("p", TensorShape{2}, TensorSlice::Parse("1,1"), DataType::kInt32, View(four)),
                       ArgumentError, Says("does not match the earlier slices' DT_FLOAT [2]"));
  CHECK_THROWS_MATCHES(w.AddSlice("p", TensorShape{2}, TensorSlice::Parse("0,1"), DataType::kFloat, View(four)),
                       ArgumentError, Says("tensor was already added"));
  CHECK_THROWS_MATCHES(w.AddSlice("p", TensorShape{2}, TensorSlice::Parse("1,2"), DataType::kFloat, View(four)),
                       ArgumentError, Says("out of bounds"));
  CHECK(w.data_size() == 8);  // failed calls wrote nothing
  w.Finish();
  CHECK_THROWS_MATCHES(w.Add("z", DataType::kFloat, TensorShape{1}, View(four)), ArgumentError,
                       Says("after Finish"));
  CHECK_THROWS_MATCHES(w.Finish(), ArgumentError, Says("already called"));
  CHECK_THROWS_AS(BundleWriter((dir / "a").string(), BundleWriter::Options{0}), ArgumentError);
  auto r = BundleReader<>::Open((dir / "err").string());
  CHECK(r.Get("p").slices.size() == 1);  // the rejected slices left no trace
  CHECK(RawBytes(r.Read<float>("x")) == four);
}

TEST_CASE("writer: temp files until Finish, final names after, and a created parent directory", "[writer]") {
  TempDir dir;
  const fs::path sub = dir / "a" / "b";
  const std::string prefix = (sub / "model.ckpt").string();
  BundleWriter w(prefix);
  w.Add("x", std::vector<float>{1}, TensorShape{1});
  std::vector<std::string> names = Listing(sub);
  REQUIRE(names.size() == 1);
  CHECK(names[0].rfind("model.ckpt.data-00000-of-00001.tempstate", 0) == 0);
  CHECK(names[0].size() > std::string("model.ckpt.data-00000-of-00001.tempstate").size());
  CHECK(fs::file_size(sub / names[0]) == 4);  // written at Add, not buffered
  w.Finish();
  CHECK(Listing(sub) == std::vector<std::string>{"model.ckpt.data-00000-of-00001", "model.ckpt.index"});
}

TEST_CASE("writer: nothing is left without Finish or after a failure", "[writer]") {
  TempDir dir;
  SECTION("destroyed without Finish") {
    {
      BundleWriter w((dir / "p").string());
      w.Add("x", std::vector<float>{1}, TensorShape{1});
    }
    CHECK(Listing(dir.path()).empty());
  }
  SECTION("the parent of the prefix is a file") {
    warmstart::test::WriteFile(dir / "file", "not a directory");
    CHECK_THROWS_MATCHES(BundleWriter((dir / "file" / "p").string()), IoError, Says((dir / "file").string()));
    CHECK(Listing(dir.path()) == std::vector<std::string>{"file"});
  }
  SECTION("the data file cannot be renamed") {
    fs::create_directories(dir / "p.data-00000-of-00001" / "occupied");
    BundleWriter w((dir / "p").string());
    w.Add("x", std::vector<float>{1}, TensorShape{1});
    CHECK_THROWS_MATCHES(w.Finish(), IoError, Says("p.data-00000-of-00001: cannot rename"));
    CHECK(Listing(dir.path()) == std::vector<std::string>{"p.data-00000-of-00001"});
  }
  SECTION("the index cannot be renamed: the renamed data file goes too") {
    fs::create_directories(dir / "p.index" / "occupied");
    BundleWriter w((dir / "p").string());
    w.Add("x", std::vector<float>{1}, TensorShape{1});
    CHECK_THROWS_MATCHES(w.Finish(), IoError, Says("p.index: cannot rename"));
    CHECK(Listing(dir.path()) == std::vector<std::string>{"p.index"});
  }
}

TEST_CASE("writer: the index starts with the header 08 01 1a 02 08 01", "[writer]") {
  TempDir dir;
  const std::string prefix = (dir / "h").string();
  {
    BundleWriter w(prefix);
    w.Finish();  // an empty bundle is valid: header only, empty data file
  }
  auto table = warmstart::sstable::Table<warmstart::core::MappedFile>::Open(
      warmstart::core::MappedFile::Open(MetaFilename(prefix)));
  std::vector<std::pair<std::string, std::string>> kv;
  table.ForEach([&](const std::string& key, ByteView value, uint64_t) { kv.emplace_back(key, value.ToString()); });
  REQUIRE(kv.size() == 1);
  CHECK(kv[0].first.empty());
  CHECK(ToHex(kv[0].second) == "08 01 1a 02 08 01");
  CHECK(fs::file_size(DataFilename(prefix, 0, 1)) == 0);
}

namespace {

// The same tensors, in the same order, through BundleWriter and through BundleBuilder.
void CheckSameAsBuilder(size_t alignment) {
  BundleOptions options;
  options.data_alignment = alignment;
  BundleBuilder b(options);
  TempDir dir;
  const std::string prefix = (dir / "w").string();
  BundleWriter w(prefix, BundleWriter::Options{alignment});

  const std::vector<float> kernel = {0.5f, -1, 2, 3, 4, 5};
  w.Add("dense/kernel", kernel, TensorShape{2, 3});
  b.AddValues("dense/kernel", TensorShape{2, 3}, kernel);
  w.Add("global_step", std::vector<int64_t>{1234}, TensorShape{});
  b.AddValues("global_step", TensorShape{}, std::vector<int64_t>{1234});
  w.AddStrings("_CHECKPOINTABLE_OBJECT_GRAPH", TensorShape{}, std::vector<std::string>{std::string(300, 'g')});
  b.AddStrings("_CHECKPOINTABLE_OBJECT_GRAPH", TensorShape{}, {std::string(300, 'g')});
  w.Add("a/flags", std::vector<bool>{true, false, true}, TensorShape{3});
  b.AddValues("a/flags", TensorShape{3}, std::vector<bool>{true, false, true});
  w.Add("empty", std::vector<double>{}, TensorShape{0});
  b.AddValues("empty", TensorShape{0}, std::vector<double>{});
  const std::vector<int32_t> part0 = {1, 2}, part1 = {3, 4, 5};
  w.AddSlice("emb", TensorShape{5}, TensorSlice::Parse("2,3"), DataType::kInt32, View(RawBytes(part1)));
  b.AddSlice("emb", TensorShape{5}, DataType::kInt32, TensorSlice::Parse("2,3"), RawBytes(part1), 0);
  w.AddSlice("emb", TensorShape{5}, TensorSlice::Parse("0,2"), DataType::kInt32, View(RawBytes(part0)));
  b.AddSlice("emb", TensorShape{5}, DataType::kInt32, TensorSlice::Parse("0,2"), RawBytes(part0), 0);
  w.Finish();

  const Files expected = b.Build(prefix);
  REQUIRE(expected.size() == 2);
  for (const auto& [name, bytes] : expected) {
    INFO(name);
    CHECK(ToHex(Slurp(name)) == ToHex(bytes));
  }
}

}  // namespace

TEST_CASE("writer: byte-identical to the fixture BundleBuilder", "[writer]") {
  CheckSameAsBuilder(1);
  CheckSameAsBuilder(16);
}

// ---- MergeBundles ----------------------------------------------------------------------

TEST_CASE("merge: two writers' bundles merge like TF's MergeBundles", "[writer]") {
  TempDir dir;
  const std::string out = (dir / "ckpt").string();
  const std::string part0 = (dir / "ckpt_temp" / "part-00000-of-00002").string();
  const std::string part1 = (dir / "ckpt_temp" / "part-00001-of-00002").string();
  const std::vector<float> a = {1, 2, 3}, c = {4};
  const std::vector<int64_t> step = {7};
  const std::vector<int32_t> lo = {1, 2}, hi = {3, 4, 5};
  {
    BundleWriter w(part0);
    w.Add("b/step", step, TensorShape{});
    w.AddSlice("emb", TensorShape{5}, TensorSlice::Parse("0,2"), DataType::kInt32, View(RawBytes(lo)));
    w.Finish();
  }
  {
    BundleWriter w(part1);
    w.Add("a", a, TensorShape{3});
    w.AddSlice("emb", TensorShape{5}, TensorSlice::Parse("2,3"), DataType::kInt32, View(RawBytes(hi)));
    w.Add("c", c, TensorShape{1});
    w.Finish();
  }
  MergeBundles({part0, part1}, out);

  // What one builder lays out for the same tensors, shard by shard.
  BundleOptions options;
  options.num_shards = 2;
  BundleBuilder b(options);
  b.AddValues("b/step", TensorShape{}, step, 0);
  b.AddSlice("emb", TensorShape{5}, DataType::kInt32, TensorSlice::Parse("0,2"), RawBytes(lo), 0);
  b.AddValues("a", TensorShape{3}, a, 1);
  b.AddSlice("emb", TensorShape{5}, DataType::kInt32, TensorSlice::Parse("2,3"), RawBytes(hi), 1);
  b.AddValues("c", TensorShape{1}, c, 1);
  const Files expected = b.Build(out);
  CHECK(Listing(dir.path()) == std::vector<std::string>{"ckpt.data-00000-of-00002", "ckpt.data-00001-of-00002",
                                                         "ckpt.index", "ckpt_temp"});
  CHECK(Listing(dir / "ckpt_temp").empty());  // data files renamed, input indexes deleted
  for (const auto& [name, bytes] : expected) {
    INFO(name);
    CHECK(ToHex(Slurp(name)) == ToHex(bytes));
  }
  auto r = BundleReader<>::Open(out);
  CHECK(r.num_shards() == 2);
  CHECK(r.Read<int32_t>("emb") == std::vector<int32_t>{1, 2, 3, 4, 5});
  CHECK(r.Get("a").shard_id == 1);
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("merge: refused inputs leave every file where it was", "[writer]") {
  TempDir dir;
  const std::string p0 = (dir / "p0").string(), p1 = (dir / "p1").string(), empty = (dir / "empty").string();
  for (const std::string& p : {p0, p1}) {
    BundleWriter w(p);
    w.Add("x", std::vector<float>{1}, TensorShape{1});
    w.Finish();
  }
  {
    BundleWriter w(empty);
    w.Finish();
  }
  const std::vector<std::string> before = Listing(dir.path());
  CHECK_THROWS_MATCHES(MergeBundles({p0, p1}, (dir / "out").string()), ArgumentError,
                       Says("p1.index: key 'x': duplicate tensor"));
  CHECK_THROWS_MATCHES(MergeBundles({p0, empty}, (dir / "out").string()), ArgumentError,
                       Says("empty.index: input contributes no data file"));
  CHECK_THROWS_AS(MergeBundles({}, (dir / "out").string()), ArgumentError);
  CHECK_THROWS_AS(MergeBundles({(dir / "missing").string()}, (dir / "out").string()), warmstart::NotFoundError);
  CHECK(Listing(dir.path()) == before);
}

TEST_CASE("writer: Eigen tensors are saved row-major, whatever their layout", "[writer]") {
  warmstart::test::TempDir dir;
  const std::string prefix = (dir.path() / "eigen").string();
  Eigen::Tensor<float, 3, Eigen::RowMajor> rm(2, 3, 4);
  Eigen::Tensor<float, 3> cm(2, 3, 4);  // ColMajor, Eigen's default
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) rm(i, j, k) = cm(i, j, k) = static_cast<float>(100 * i + 10 * j + k);
  {
    warmstart::bundle::BundleWriter w(prefix);
    w.Add("row_major", rm);
    w.Add("col_major", cm);
    w.Finish();
  }
  const auto r = warmstart::bundle::BundleReader<>::Open(prefix);
  const std::vector<float> a = r.Read<float>("row_major"), b = r.Read<float>("col_major");
  CHECK(r.Get("col_major").shape == warmstart::bundle::TensorShape({2, 3, 4}));
  CHECK(a == b);
  CHECK(a[1 * 12 + 2 * 4 + 3] == 123.0f);  // row-major: [i][j][k] at i*12 + j*4 + k
}
