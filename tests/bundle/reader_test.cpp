// BundleReader over synthetic bundles (tests/fixtures.hpp) served by MemoryFileSystem:
// every dtype, typed and zero-copy reads, conversions, strings, shards, big-endian
// payloads, alignment, partitioned tensors, and every header / entry / data check of
// spec section 9 with its message.
#include "warmstart/bundle/reader.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "warmstart/sstable/table.hpp"

namespace {

using namespace warmstart::bundle;
using warmstart::ArgumentError;
using warmstart::FormatError;
using warmstart::NotFoundError;
using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::core::MemoryFileSystem;
using warmstart::test::BundleBuilder;
using warmstart::test::BundleOptions;
using warmstart::test::Files;
using warmstart::test::Hex;
using warmstart::test::MaskedCrc;
using warmstart::test::MemoryFs;
using warmstart::test::RawBytes;
using warmstart::test::Says;
using warmstart::test::ToHex;
namespace proto = warmstart::proto;

using Reader = BundleReader<MemoryFileSystem>;

const std::string kIndex = "m.index";
const std::string kData = "m.data-00000-of-00001";

// Requires: files outlives the reader.
Reader OpenBundle(const Files& files, const std::string& prefix = "m") { return Reader::Open(prefix, MemoryFs(files)); }

const uint8_t* DataStart(const Files& files, const std::string& name = kData) {
  return reinterpret_cast<const uint8_t*>(files.at(name).data());
}

std::vector<float> Iota(int n, float start = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = start + static_cast<float>(i);
  return v;
}

// Index key -> (value bytes, offset of the value in the index file).
std::map<std::string, std::pair<std::string, uint64_t>> IndexValues(const std::string& index) {
  auto t = warmstart::sstable::Table<MemoryFile>::Open(MemoryFile(kIndex, ByteView(index.data(), index.size())));
  std::map<std::string, std::pair<std::string, uint64_t>> out;
  t.ForEach([&](const std::string& k, ByteView v, uint64_t) {
    out[k] = {v.ToString(), static_cast<uint64_t>(v.data() - t.file().bytes().data())};
  });
  return out;
}

uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// One tensor of `dtype` holding `values`, read back with Read<T> and View<T>.
template <class T>
void CheckDtype(DataType dtype, const std::vector<T>& values) {
  INFO(DataTypeName(dtype));
  BundleBuilder b;
  b.AddValues("pad", {3}, std::vector<uint8_t>{1, 2, 3});  // the tensor does not start at offset 0
  b.Add("t", dtype, {static_cast<int64_t>(values.size())}, RawBytes(values));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  const Entry& e = r.Get("t");
  CHECK(e.dtype == dtype);
  CHECK(e.offset == 3);
  CHECK(e.size == static_cast<int64_t>(values.size() * static_cast<size_t>(DataTypeSize(dtype))));
  CHECK(r.Read<T>("t") == values);
  const TensorView<T> view = r.View<T>("t");
  CHECK(view.bytes().data() == DataStart(files) + 3);  // zero copy: into the registered buffer
  CHECK(view.shape() == TensorShape{static_cast<int64_t>(values.size())});
  REQUIRE(view.size() == static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) CHECK(view[static_cast<int64_t>(i)] == values[i]);
  CHECK(r.VerifyAll().ok());
}

}  // namespace

// ---------------------------------------------------------------------------
// The fixture writes what the spec says TF writes.

TEST_CASE("reader fixture: header and entry bytes match spec 4.2 and 4.6", "[bundle][reader][fixture]") {
  BundleBuilder b;
  b.AddValues("a", {2, 3}, Iota(6));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,2:-"), RawBytes(Iota(6)));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(6, 6)));
  const Files files = b.Build("m");
  const auto values = IndexValues(files.at(kIndex));
  CHECK(ToHex(values.at("").first) == "08 01 1a 02 08 01");
  const uint32_t crc = MaskedCrc(RawBytes(Iota(6)));
  CHECK(ToHex(values.at("a").first) == ToHex(Hex("08 01 12 08 12 02 08 02 12 02 08 03 28 18 35") +
                                               warmstart::test::Le32(crc)));
  CHECK(ToHex(values.at("w").first) ==
        "08 01 12 08 12 02 08 04 12 02 08 03 3a 06 0a 02 10 02 0a 00 3a 08 0a 04 08 02 10 02 0a 00");
  CHECK(values.count(Hex("00 77 00 01 01 02 80 82 80 7f")) == 1);  // w, 0,2:-
  CHECK(values.count(Hex("00 77 00 01 01 02 82 82 80 7f")) == 1);  // w, 2,2:-
  CHECK(files.at(kData).size() == 3 * 24);
}

// ---------------------------------------------------------------------------
// Dtypes

TEST_CASE("reader: every fixed-size dtype with Read<T> and zero-copy View<T>", "[bundle][reader][dtype]") {
  CheckDtype<float>(DataType::kFloat, {1.5f, -0.0f, std::numeric_limits<float>::max(), 1e-40f});
  CheckDtype<double>(DataType::kDouble, {1.0 / 3, -2.5e300, 4.9e-324});
  CheckDtype<int8_t>(DataType::kInt8, {-128, 0, 127});
  CheckDtype<int16_t>(DataType::kInt16, {-32768, 1, 32767});
  CheckDtype<int32_t>(DataType::kInt32, {std::numeric_limits<int32_t>::min(), -1, 0x12345678});
  CheckDtype<int64_t>(DataType::kInt64, {std::numeric_limits<int64_t>::min(), 0x0102030405060708LL});
  CheckDtype<uint8_t>(DataType::kUint8, {0, 200, 255});
  CheckDtype<uint16_t>(DataType::kUint16, {0, 0xbeef, 65535});
  CheckDtype<uint32_t>(DataType::kUint32, {0xdeadbeefu, 1u});
  CheckDtype<uint64_t>(DataType::kUint64, {0xfedcba9876543210ull, 0});
  CheckDtype<bool>(DataType::kBool, {true, false, true, true});
  CheckDtype<Eigen::half>(DataType::kHalf, {Eigen::half(1.5f), Eigen::half(-2.0f), Eigen::half(65504.0f)});
  CheckDtype<Eigen::bfloat16>(DataType::kBfloat16, {Eigen::bfloat16(1.0f), Eigen::bfloat16(-3.5f)});
  CheckDtype<std::complex<float>>(DataType::kComplex64, {{1.0f, -2.0f}, {0.5f, 3.25f}});
  CheckDtype<std::complex<double>>(DataType::kComplex128, {{1e100, -2.0}, {0.0, 3.25}});
  // Quantized types through their storage types.
  CheckDtype<int8_t>(DataType::kQint8, {-5, 6});
  CheckDtype<uint8_t>(DataType::kQuint8, {5, 250});
  CheckDtype<int16_t>(DataType::kQint16, {-300, 300});
  CheckDtype<uint16_t>(DataType::kQuint16, {300, 60000});
  CheckDtype<int32_t>(DataType::kQint32, {-70000, 70000});
  // float8 / float4 as raw uint8_t bits; int4 / int2 (one element per byte) as int8_t, uint4 / uint2 as uint8_t.
  for (DataType t : {DataType::kFloat8E5m2, DataType::kFloat8E4m3fn, DataType::kFloat8E4m3fnuz,
                     DataType::kFloat8E4m3b11fnuz, DataType::kFloat8E5m2fnuz, DataType::kFloat4E2m1fn}) {
    CheckDtype<uint8_t>(t, {0x3c, 0xbc, 0x7f, 0x00});
  }
  CheckDtype<int8_t>(DataType::kInt4, {-8, 7, 0});
  CheckDtype<int8_t>(DataType::kInt2, {-2, 1});
  CheckDtype<uint8_t>(DataType::kUint4, {15, 0});
  CheckDtype<uint8_t>(DataType::kUint2, {3, 1});
}

TEST_CASE("reader: scalars and empty tensors", "[bundle][reader][dtype]") {
  BundleBuilder b;
  b.AddValues("scalar", {}, std::vector<double>{2.75});
  b.AddValues("empty", {0, 3}, std::vector<float>{});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.Read<double>("scalar") == std::vector<double>{2.75});
  CHECK(r.Get("scalar").shape.rank() == 0);
  CHECK(r.Read<float>("empty").empty());
  CHECK(r.Get("empty").size == 0);
  CHECK(r.Get("empty").masked_crc32c == 0xa282ead8u);  // mask(0), spec 6.2
  CHECK(r.View<float>("empty").size() == 0);
  CHECK(r.VerifyAll().tensors_verified == 2);
}

TEST_CASE("reader: ReadAs converts half and bfloat16 exactly, and integers and bools", "[bundle][reader][convert]") {
  BundleBuilder b;
  // half: 1.5, -2, 65504 (max), 2^-14 (min normal), 2^-24 (min subnormal)
  b.Add("h", DataType::kHalf, {5}, RawBytes(std::vector<uint16_t>{0x3e00, 0xc000, 0x7bff, 0x0400, 0x0001}));
  // bfloat16: the upper 16 bits of a binary32
  b.Add("bf", DataType::kBfloat16, {4}, RawBytes(std::vector<uint16_t>{0x3f80, 0xc060, 0x7f7f, 0x0001}));
  b.AddValues("i64", {3}, std::vector<int64_t>{-3, 1LL << 40, 7});
  b.AddValues("u8", {2}, std::vector<uint8_t>{0, 255});
  b.AddValues("b", {2}, std::vector<bool>{true, false});
  b.AddValues("q", {2}, std::vector<int8_t>{-1, 2});
  b.Add("qi", DataType::kQint8, {2}, RawBytes(std::vector<int8_t>{-7, 8}));
  b.AddValues("c", {1}, std::vector<std::complex<float>>{{1, 2}});
  b.AddStrings("s", {}, {"x"});
  b.Add("f8", DataType::kFloat8E4m3fn, {1}, "\x38");
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);

  const std::vector<float> h = r.ReadAs<float>("h");
  REQUIRE(h.size() == 5);
  CHECK(h[0] == 1.5f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == 65504.0f);
  CHECK(h[3] == std::ldexp(1.0f, -14));
  CHECK(h[4] == std::ldexp(1.0f, -24));
  CHECK(r.ReadAs<double>("h")[4] == std::ldexp(1.0, -24));

  const std::vector<float> bf = r.ReadAs<float>("bf");
  REQUIRE(bf.size() == 4);
  CHECK(BitsOf(bf[0]) == 0x3f800000u);
  CHECK(BitsOf(bf[1]) == 0xc0600000u);
  CHECK(BitsOf(bf[2]) == 0x7f7f0000u);
  CHECK(BitsOf(bf[3]) == 0x00010000u);  // subnormal, kept exactly
  CHECK(r.ReadAs<double>("bf")[1] == -3.5);

  CHECK(r.ReadAs<double>("i64") == std::vector<double>{-3.0, 1099511627776.0, 7.0});
  CHECK(r.ReadAs<float>("u8") == std::vector<float>{0.0f, 255.0f});
  CHECK(r.ReadAs<float>("b") == std::vector<float>{1.0f, 0.0f});
  CHECK(r.ReadAs<double>("q") == std::vector<double>{-1.0, 2.0});
  CHECK(r.ReadAs<int32_t>("qi") == std::vector<int32_t>{-7, 8});
  CHECK(r.ReadAs<std::complex<double>>("c") == std::vector<std::complex<double>>{{1.0, 2.0}});
  // To half / bfloat16 (through float) and between complex types.
  const std::vector<Eigen::half> to_half = r.ReadAs<Eigen::half>("i64");
  CHECK(static_cast<float>(to_half[0]) == -3.0f);
  CHECK(std::isinf(static_cast<float>(to_half[1])));  // 2^40 does not fit in a half
  CHECK(r.ReadAs<Eigen::bfloat16>("u8")[1] == Eigen::bfloat16(255.0f));
  CHECK(r.ReadAs<std::complex<float>>("c") == std::vector<std::complex<float>>{{1.0f, 2.0f}});
  CHECK_THROWS_MATCHES(r.ReadAs<float>("c"), ArgumentError,
                       Says("m.index: key 'c': cannot convert DT_COMPLEX64 to DT_FLOAT"));
  CHECK_THROWS_MATCHES(r.ReadAs<float>("s"), ArgumentError,
                       Says("m.index: key 's': cannot convert DT_STRING to DT_FLOAT"));
  CHECK_THROWS_MATCHES(r.ReadAs<float>("f8"), ArgumentError,
                       Says("m.index: key 'f8': cannot convert DT_FLOAT8_E4M3FN to DT_FLOAT"));
}

TEST_CASE("reader: ReadTensor gives a row-major Eigen tensor", "[bundle][reader]") {
  BundleBuilder b;
  b.AddValues("t", {2, 3, 4}, Iota(24));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  const Eigen::Tensor<float, 3, Eigen::RowMajor> t = r.ReadTensor<float, 3>("t");
  REQUIRE(t.dimension(0) == 2);
  REQUIRE(t.dimension(1) == 3);
  REQUIRE(t.dimension(2) == 4);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) CHECK(t(i, j, k) == static_cast<float>(i * 12 + j * 4 + k));
    }
  }
  CHECK_THROWS_MATCHES((r.ReadTensor<float, 2>("t")), ArgumentError,
                       Says("m.index: key 't': tensor has rank 3 [2,3,4], requested rank 2"));
}

TEST_CASE("reader: wrong-type reads name both dtypes", "[bundle][reader][dtype]") {
  BundleBuilder b;
  b.AddValues("f", {2}, std::vector<float>{1, 2});
  b.AddValues("i8", {1}, std::vector<int8_t>{1});
  b.Add("f8", DataType::kFloat8E5m2, {1}, "\x01");
  b.AddStrings("s", {1}, {"x"});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK_THROWS_MATCHES(r.Read<int32_t>("f"), ArgumentError,
                       Says("m.index: key 'f': tensor is DT_FLOAT, requested DT_INT32 (use ReadAs<T> to convert)"));
  CHECK_THROWS_MATCHES(r.View<double>("f"), ArgumentError, Says("tensor is DT_FLOAT, requested DT_DOUBLE"));
  CHECK_THROWS_MATCHES(r.Read<uint8_t>("i8"), ArgumentError, Says("tensor is DT_INT8, requested DT_UINT8"));
  CHECK_THROWS_MATCHES(r.Read<int8_t>("f8"), ArgumentError, Says("tensor is DT_FLOAT8_E5M2, requested DT_INT8"));
  CHECK_THROWS_MATCHES(r.Read<float>("s"), ArgumentError, Says("tensor is DT_STRING, requested DT_FLOAT"));
  CHECK_THROWS_MATCHES(r.ReadStrings("f"), ArgumentError, Says("m.index: key 'f': tensor is DT_FLOAT, not DT_STRING"));
  CHECK(r.ReadSlice<float>("f", TensorSlice::Parse("1,1")) == std::vector<float>{2});
  CHECK_THROWS_MATCHES(r.Read<float>("nope"), NotFoundError,
                       Says("m.index: key 'nope': no tensor of this name in the checkpoint"));
}

// ---------------------------------------------------------------------------
// Strings

TEST_CASE("reader: DT_STRING tensors, spec 6.3 examples and their CRCs", "[bundle][reader][string]") {
  BundleBuilder b;
  b.AddStrings("only", {}, {"only"});
  b.AddStrings("ab", {2}, {"ab", ""});
  b.AddStrings("empty", {0}, {});
  b.AddStrings("zeros", {2, 2}, {std::string("a\0b", 3), std::string(1, '\0'), "", std::string("\0\xff\0", 3)});
  b.AddStrings("long", {1}, {std::string(300, 'q')});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  const std::string& data = files.at(kData);

  const Entry& only = r.Get("only");
  CHECK(only.masked_crc32c == 0x11878e4fu);
  CHECK(only.size == 9);
  CHECK(ToHex(data.substr(static_cast<size_t>(only.offset), 9)) == "04 62 51 eb 96 6f 6e 6c 79");
  CHECK(r.ReadStrings("only") == std::vector<std::string>{"only"});

  const Entry& ab = r.Get("ab");
  CHECK(ToHex(data.substr(static_cast<size_t>(ab.offset), static_cast<size_t>(ab.size))) ==
        "02 00 78 27 0b 34 61 62");
  CHECK(r.ReadStrings("ab") == std::vector<std::string>{"ab", ""});

  const Entry& empty = r.Get("empty");
  CHECK(empty.size == 4);
  CHECK(ToHex(data.substr(static_cast<size_t>(empty.offset), 4)) == "d8 ea 82 a2");
  CHECK(r.ReadStrings("empty").empty());

  CHECK(r.ReadStrings("zeros") ==
        std::vector<std::string>{std::string("a\0b", 3), std::string(1, '\0'), "", std::string("\0\xff\0", 3)});

  const Entry& lng = r.Get("long");
  CHECK(ToHex(data.substr(static_cast<size_t>(lng.offset), 2)) == "ac 02");  // varint 300
  CHECK(lng.size == 2 + 4 + 300);
  CHECK(r.ReadStrings("long") == std::vector<std::string>{std::string(300, 'q')});

  const VerifyReport report = r.VerifyAll();
  CHECK(report.ok());
  CHECK(report.tensors_verified == 5);
}

TEST_CASE("reader: string length checksum and string CRC mismatches", "[bundle][reader][string][corrupt]") {
  BundleBuilder b;
  b.AddValues("pad", {2}, std::vector<int16_t>{1, 2});
  b.AddStrings("s", {}, {"only"});
  Files files = b.Build("m");
  const uint64_t off = 4;  // after the 4-byte pad

  SECTION("length checksum") {
    files[kData][off + 1] = '\x63';  // L = 62 51 eb 96 -> 63 51 eb 96
    const Reader r = OpenBundle(files);
    CHECK_THROWS_MATCHES(r.ReadStrings("s"), FormatError,
                         Says("m.data-00000-of-00001: key 's': offset 5: string tensor length checksum mismatch "
                              "(stored 0x96eb5163, computed 0x96eb5162)"));
    CHECK_THROWS_MATCHES(r.ReadStrings("s", Verify::kNo), FormatError, Says("length checksum mismatch"));
  }
  SECTION("element bytes") {
    files[kData][off + 5] = 'O';
    const Reader r = OpenBundle(files);
    uint32_t corrupt_crc = 0;
    warmstart::test::StringPayload({"Only"}, false, &corrupt_crc);
    CHECK_THROWS_MATCHES(r.ReadStrings("s"), FormatError,
                         Says("m.data-00000-of-00001: key 's': offset 4: checksum mismatch for 9 bytes: stored masked "
                              "crc32c 0x11878e4f, computed 0x" + warmstart::detail::Hex32(corrupt_crc) +
                              " (the data file is corrupt)"));
    CHECK(r.ReadStrings("s", Verify::kNo) == std::vector<std::string>{"Only"});
  }
}

TEST_CASE("reader: a string length that runs past the payload", "[bundle][reader][string][corrupt]") {
  // varint 127, a length checksum that matches it, then only 4 bytes.
  std::string payload = Hex("7f");
  const uint32_t len_crc = warmstart::core::crc32c::Value(reinterpret_cast<const uint8_t*>("\x7f\0\0\0"), 4);
  payload += warmstart::test::Le32(warmstart::core::crc32c::Mask(len_crc)) + "only";
  BundleBuilder b;
  b.AddStoredBytes("s", DataType::kString, {}, payload);
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK_THROWS_MATCHES(r.ReadStrings("s"), FormatError,
                       Says("m.data-00000-of-00001: key 's': offset 5: truncated string tensor element: need 127 "
                            "bytes, 4 left"));
}

// ---------------------------------------------------------------------------
// Dtypes that are listed but not read

TEST_CASE("reader: DT_VARIANT, DT_RESOURCE and unknown dtypes are listed but refused", "[bundle][reader][dtype]") {
  BundleBuilder b;
  b.AddStoredBytes("var", DataType::kVariant, {}, Hex("03 61 62 63 00 00 00 00"));
  b.AddStoredBytes("res", DataType::kResource, {}, "");
  b.AddStoredBytes("new", static_cast<DataType>(40), {2}, "ab");
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  REQUIRE(r.entries().size() == 3);
  CHECK(r.Get("var").dtype == DataType::kVariant);
  CHECK(DataTypeName(r.Get("new").dtype) == "DT_UNKNOWN(40)");
  CHECK_THROWS_MATCHES(r.Read<uint8_t>("var"), ArgumentError,
                       Says("m.index: key 'var': DT_VARIANT tensors are listed (and verified) but cannot be read by warmstart"));
  CHECK_THROWS_MATCHES(r.RawBytes(r.Get("var")), ArgumentError, Says("DT_VARIANT tensors are listed"));
  CHECK_THROWS_MATCHES(r.Read<uint8_t>("res"), FormatError,
                       Says("m.index: key 'res': DT_RESOURCE tensors cannot be stored in a bundle"));
  CHECK_THROWS_MATCHES(r.Read<uint8_t>("new"), ArgumentError,
                       Says("m.index: key 'new': unknown dtype DT_UNKNOWN(40) (newer than this reader); the tensor is "
                            "listed but cannot be read"));
  CHECK_THROWS_MATCHES(r.RawBytes(r.Get("new")), ArgumentError, Says("unknown dtype DT_UNKNOWN(40)"));
}

TEST_CASE("reader: VerifyAll checks an intact DT_VARIANT tensor instead of failing it", "[bundle][reader][dtype]") {
  // Spec 9 item 9: the variant layout (6.4) has its own per-element checksums and an entry
  // CRC; VerifyAll should check them (or skip the tensor), not report an intact bundle
  // as failed because Read refuses variants.
  BundleBuilder b;
  b.AddVariants("iterator", {2}, {"state-0", "state-1"});
  b.AddValues("a", {1}, std::vector<float>{1});
  const Files files = b.Build("m");
  const VerifyReport report = OpenBundle(files).VerifyAll();
  for (const VerifyFailure& f : report.failures) UNSCOPED_INFO(f.key << ": " << f.message);
  CHECK(report.ok());
}

// ---------------------------------------------------------------------------
// Shards, endianness, alignment

TEST_CASE("reader: three shards, opened lazily, a missing shard fails only its tensors", "[bundle][reader][shards]") {
  BundleOptions o;
  o.num_shards = 3;
  BundleBuilder b(o);
  b.AddValues("a", {2}, std::vector<float>{1, 2});    // shard 0
  b.AddValues("b", {1}, std::vector<int64_t>{-9});    // shard 1
  b.AddValues("c", {1}, std::vector<float>{3});       // shard 2
  b.AddStrings("d", {}, {"in shard 0"});              // shard 0
  const Files files = b.Build("m");
  REQUIRE(files.size() == 4);
  CHECK(files.count("m.data-00002-of-00003") == 1);

  MemoryFileSystem fs;
  fs.Add("m.index", files.at("m.index"));
  fs.Add("m.data-00000-of-00003", files.at("m.data-00000-of-00003"));
  fs.Add("m.data-00001-of-00003", files.at("m.data-00001-of-00003"));
  const Reader r = Reader::Open("m", fs);
  CHECK(r.num_shards() == 3);
  CHECK(r.entries().size() == 4);
  CHECK(r.Get("c").shard_id == 2);
  CHECK(r.Get("d").offset == 8);
  CHECK(r.Read<float>("a") == std::vector<float>{1, 2});
  CHECK(r.Read<int64_t>("b") == std::vector<int64_t>{-9});
  CHECK(r.ReadStrings("d") == std::vector<std::string>{"in shard 0"});
  CHECK_THROWS_MATCHES(r.Read<float>("c"), NotFoundError,
                       Says("m.data-00002-of-00003: key 'c': data file is missing (shard 2 of 3)"));
  const VerifyReport report = r.VerifyAll();
  CHECK(report.tensors_verified == 3);
  REQUIRE(report.failures.size() == 1);
  CHECK(report.failures[0].key == "c");

  // No data file at all: the index still lists everything.
  MemoryFileSystem index_only;
  index_only.Add("m.index", files.at("m.index"));
  const Reader bare = Reader::Open("m", index_only);
  CHECK(bare.entries().size() == 4);
  CHECK_THROWS_MATCHES(bare.Read<float>("a"), NotFoundError,
                       Says("m.data-00000-of-00003: key 'a': data file is missing (shard 0 of 3)"));
}

TEST_CASE("reader: a big-endian bundle reads as the little-endian values, View is refused", "[bundle][reader][endian]") {
  BundleOptions o;
  o.big_endian = true;
  BundleBuilder b(o);
  const std::vector<float> f = {1.0f, -2.5f, 3e30f};
  const std::vector<double> d = {1.0 / 3, -1e-300};
  const std::vector<int16_t> i16 = {0x1234, -2};
  const std::vector<int32_t> i32 = {0x01020304, -5};
  const std::vector<int64_t> i64 = {0x0102030405060708LL, -6};
  const std::vector<uint16_t> u16 = {0xabcd};
  const std::vector<uint32_t> u32 = {0xdeadbeef};
  const std::vector<uint64_t> u64 = {0x1122334455667788ull};
  const std::vector<uint8_t> u8 = {1, 2, 3};
  const std::vector<bool> bl = {true, false};
  const std::vector<std::complex<float>> c64 = {{1.0f, -2.0f}};
  const std::vector<std::complex<double>> c128 = {{3.0, -4.0}};
  const std::vector<Eigen::half> h = {Eigen::half(1.5f), Eigen::half(-0.25f)};
  const std::vector<Eigen::bfloat16> bf = {Eigen::bfloat16(-3.5f)};
  b.AddValues("f", {3}, f);
  b.AddValues("d", {2}, d);
  b.AddValues("i16", {2}, i16);
  b.AddValues("i32", {2}, i32);
  b.AddValues("i64", {2}, i64);
  b.AddValues("u16", {1}, u16);
  b.AddValues("u32", {1}, u32);
  b.AddValues("u64", {1}, u64);
  b.AddValues("u8", {3}, u8);
  b.AddValues("bl", {2}, bl);
  b.AddValues("c64", {1}, c64);
  b.AddValues("c128", {1}, c128);
  b.AddValues("h", {2}, h);
  b.AddValues("bf", {1}, bf);
  b.Add("q32", DataType::kQint32, {1}, RawBytes(std::vector<int32_t>{0x0a0b0c0d}));
  b.AddStrings("s", {3}, {"big", "", std::string(200, 'e')});
  b.AddSlice("p", {4, 2}, DataType::kFloat, TensorSlice::Parse("0,2:-"), RawBytes(Iota(4)));
  b.AddSlice("p", {4, 2}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(4, 4)));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.endianness() == Endianness::kBig);

  // The stored bytes really are big-endian: 1.0f = 3f 80 00 00.
  CHECK(ToHex(files.at(kData).substr(0, 4)) == "3f 80 00 00");
  const Entry& c = r.Get("c64");
  CHECK(ToHex(files.at(kData).substr(static_cast<size_t>(c.offset), 8)) == "3f 80 00 00 c0 00 00 00");

  CHECK(r.Read<float>("f") == f);
  CHECK(r.Read<double>("d") == d);
  CHECK(r.Read<int16_t>("i16") == i16);
  CHECK(r.Read<int32_t>("i32") == i32);
  CHECK(r.Read<int64_t>("i64") == i64);
  CHECK(r.Read<uint16_t>("u16") == u16);
  CHECK(r.Read<uint32_t>("u32") == u32);
  CHECK(r.Read<uint64_t>("u64") == u64);
  CHECK(r.Read<uint8_t>("u8") == u8);
  CHECK(r.Read<bool>("bl") == bl);
  CHECK(r.Read<std::complex<float>>("c64") == c64);
  CHECK(r.Read<std::complex<double>>("c128") == c128);
  CHECK(r.Read<Eigen::half>("h") == h);
  CHECK(r.Read<Eigen::bfloat16>("bf") == bf);
  CHECK(r.Read<int32_t>("q32") == std::vector<int32_t>{0x0a0b0c0d});
  CHECK(r.ReadAs<float>("h") == std::vector<float>{1.5f, -0.25f});
  CHECK(r.ReadAs<double>("i32") == std::vector<double>{16909060.0, -5.0});
  CHECK(r.Read<float>("p") == Iota(8));
  CHECK(r.ReadSlice<float>("p", TensorSlice::Parse("1,2:1,1")) == std::vector<float>{3, 5});
  CHECK(r.ReadStrings("s") == std::vector<std::string>{"big", "", std::string(200, 'e')});
  CHECK(r.VerifyAll().ok());
  CHECK_THROWS_MATCHES(r.View<float>("f"), ArgumentError,
                       Says("m.index: key 'f': a big-endian bundle cannot be viewed in place; use Read()"));
  CHECK_THROWS_MATCHES(r.View<uint8_t>("u8"), ArgumentError, Says("a big-endian bundle cannot be viewed in place"));
}

TEST_CASE("reader: a big-endian string length checksum is read big-endian", "[bundle][reader][endian][string]") {
  BundleOptions o;
  o.big_endian = true;
  BundleBuilder b(o);
  b.AddStrings("s", {}, {"only"});
  const Files files = b.Build("m");
  // L = mask(crc(00 00 00 04)), stored big-endian.
  const uint32_t l = warmstart::core::crc32c::Mask(
      warmstart::core::crc32c::Value(reinterpret_cast<const uint8_t*>("\0\0\0\x04"), 4));
  std::string be;
  for (int i = 3; i >= 0; --i) be.push_back(static_cast<char>(l >> (8 * i)));
  CHECK(ToHex(files.at(kData).substr(1, 4)) == ToHex(be));
  const Reader r = OpenBundle(files);
  CHECK(r.ReadStrings("s") == std::vector<std::string>{"only"});
  // The same bytes in a bundle that claims to be little-endian fail the length checksum.
  BundleOptions lying;
  lying.header_endianness = 0;
  lying.big_endian = true;
  BundleBuilder c(lying);
  c.AddStrings("s", {}, {"only"});
  const Files files2 = c.Build("m");
  const Reader r2 = OpenBundle(files2);
  CHECK_THROWS_MATCHES(r2.ReadStrings("s"), FormatError, Says("offset 1: string tensor length checksum mismatch"));
}

TEST_CASE("reader: data_alignment padding between payloads", "[bundle][reader][alignment]") {
  BundleOptions o;
  o.data_alignment = 8;
  BundleBuilder b(o);
  b.AddValues("u8", {3}, std::vector<uint8_t>{7, 8, 9});
  b.AddValues("f", {2}, std::vector<float>{1.25f, 2.5f});
  b.AddStrings("s", {}, {"x"});
  b.AddValues("d", {1}, std::vector<double>{-1.0});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.Get("u8").offset == 0);
  CHECK(r.Get("f").offset == 8);
  CHECK(r.Get("s").offset == 16);
  CHECK(r.Get("s").size == 6);
  CHECK(r.Get("d").offset == 24);
  CHECK(files.at(kData).size() == 32);
  CHECK(files.at(kData).substr(3, 5) == std::string(5, '\0'));
  CHECK(r.Read<uint8_t>("u8") == std::vector<uint8_t>{7, 8, 9});
  CHECK(r.Read<float>("f") == std::vector<float>{1.25f, 2.5f});
  CHECK(r.ReadStrings("s") == std::vector<std::string>{"x"});
  CHECK(r.Read<double>("d") == std::vector<double>{-1.0});
  const TensorView<double> v = r.View<double>("d");
  CHECK(v.bytes().data() == DataStart(files) + 24);
  CHECK(v.aligned() == (reinterpret_cast<uintptr_t>(DataStart(files) + 24) % alignof(double) == 0));
  CHECK(r.VerifyAll().ok());
}

TEST_CASE("reader: a View at an unaligned offset reads by memcpy and refuses a typed pointer", "[bundle][reader]") {
  BundleBuilder b;
  b.AddValues("pad", {1}, std::vector<uint8_t>{0});
  b.AddValues("f", {2}, std::vector<float>{4.5f, -1.0f});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  const TensorView<float> v = r.View<float>("f");
  CHECK(v[0] == 4.5f);
  CHECK(v[1] == -1.0f);
  if (!v.aligned()) {
    CHECK_THROWS_MATCHES(v.data(), ArgumentError, Says("tensor bytes are not aligned for a typed pointer"));
  }
}

// ---------------------------------------------------------------------------
// Partitioned tensors

TEST_CASE("reader: a [4,3] tensor stored as slices 0,2:- and 2,2:-", "[bundle][reader][slices]") {
  BundleBuilder b;
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,2:-"), RawBytes(Iota(6)));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(6, 6)));
  b.AddValues("x", {1}, std::vector<float>{9});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  REQUIRE(r.entries().size() == 2);  // slice entries are hidden
  CHECK(r.entries()[0].name == "w");
  CHECK(r.num_index_entries() == 4);
  CHECK(r.Get("w").partitioned());
  CHECK(r.Get("w").slices.size() == 2);
  CHECK(r.Read<float>("w") == Iota(12));
  CHECK(r.ReadAs<double>("w")[11] == 11.0);
  // A region spanning both slices.
  CHECK(r.ReadSlice<float>("w", TensorSlice::Parse("1,2:-")) == std::vector<float>{3, 4, 5, 6, 7, 8});
  CHECK(r.ReadSlice<float>("w", TensorSlice::Parse("1,2:1,2")) == std::vector<float>{4, 5, 7, 8});
  CHECK(r.ReadSlice<float>("w", TensorSlice::Parse("3,1:2,1")) == std::vector<float>{11});
  CHECK(r.ReadSlice<float>("w", TensorSlice::Parse("0,0:-")).empty());
  CHECK_THROWS_MATCHES(r.RawBytes(r.Get("w")), ArgumentError,
                       Says("m.index: key 'w': tensor is partitioned into 2 slices; read it with Read/ReadSlice"));
  CHECK_THROWS_MATCHES(r.View<float>("w"), ArgumentError, Says("tensor is partitioned into 2 slices"));
  CHECK(r.VerifyAll().tensors_verified == 3);
}

TEST_CASE("reader: ReadSlice of an unpartitioned tensor", "[bundle][reader][slices]") {
  BundleBuilder b;
  b.AddValues("m56", {5, 6}, Iota(30));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  // Rows 1..3, columns 2..4.
  CHECK(r.ReadSlice<float>("m56", TensorSlice::Parse("1,3:2,3")) ==
        std::vector<float>{8, 9, 10, 14, 15, 16, 20, 21, 22});
  CHECK(r.ReadSlice<float>("m56", TensorSlice::Parse("-:5,1")) == std::vector<float>{5, 11, 17, 23, 29});
  CHECK(r.ReadSlice<float>("m56", TensorSlice::Parse("-:-")) == Iota(30));
  CHECK_THROWS_MATCHES(r.ReadSlice<float>("m56", TensorSlice::Parse("0,1:4,3")), ArgumentError,
                       Says("m.index: key 'm56': extent in dimension 1 of slice 0,1:4,3 is out of bounds for shape "
                            "[5,6]"));
  CHECK_THROWS_MATCHES(r.ReadSlice<float>("m56", TensorSlice::Parse("0,1")), ArgumentError,
                       Says("slice 0,1 has rank 1 but the tensor [5,6] has rank 2"));
}

TEST_CASE("reader: TF1 partitions with explicit extents for every dimension ('10 4 5,5:0,4')", "[bundle][reader][slices]") {
  BundleBuilder b;
  b.AddSlice("emb", {10, 4}, DataType::kFloat, TensorSlice::Parse("0,5:0,4"), RawBytes(Iota(20)));
  b.AddSlice("emb", {10, 4}, DataType::kFloat, TensorSlice::Parse("5,5:0,4"), RawBytes(Iota(20, 20)));
  const Files files = b.Build("m");
  const auto values = IndexValues(files.at(kIndex));
  CHECK(values.count(Hex("00 65 6d 62 00 01 01 02 85 85 80 84")) == 1);  // spec 7.2 example
  const Reader r = OpenBundle(files);
  CHECK(r.Read<float>("emb") == Iota(40));
  CHECK(r.ReadSlice<float>("emb", TensorSlice::Parse("4,2:3,1")) == std::vector<float>{19, 23});
}

TEST_CASE("reader: a tensor partitioned across shards", "[bundle][reader][slices][shards]") {
  BundleOptions o;
  o.num_shards = 3;
  BundleBuilder b(o);
  b.AddValues("other", {1}, std::vector<int32_t>{5}, 0);
  b.AddSlice("w", {3, 2}, DataType::kInt32, TensorSlice::Parse("2,1:-"), RawBytes(std::vector<int32_t>{4, 5}), 2);
  b.AddSlice("w", {3, 2}, DataType::kInt32, TensorSlice::Parse("0,2:-"), RawBytes(std::vector<int32_t>{0, 1, 2, 3}),
             1);
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.Read<int32_t>("w") == std::vector<int32_t>{0, 1, 2, 3, 4, 5});
  CHECK(r.ReadSlice<int32_t>("w", TensorSlice::Parse("1,2:1,1")) == std::vector<int32_t>{3, 5});
  // Without shard 2 the rows it holds cannot be read; rows of shard 1 still can.
  MemoryFileSystem fs;
  fs.Add("m.index", files.at("m.index"));
  fs.Add("m.data-00001-of-00003", files.at("m.data-00001-of-00003"));
  const Reader partial = Reader::Open("m", fs);
  CHECK(partial.ReadSlice<int32_t>("w", TensorSlice::Parse("0,2:-")) == std::vector<int32_t>{0, 1, 2, 3});
  CHECK_THROWS_MATCHES(partial.Read<int32_t>("w"), NotFoundError,
                       Says("m.data-00002-of-00003: key 'w (slice 2,1:-)': data file is missing (shard 2 of 3)"));
}

TEST_CASE("reader: gaps between slices", "[bundle][reader][slices]") {
  BundleBuilder b;
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,1:-"), RawBytes(Iota(3)));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(6, 6)));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK_THROWS_MATCHES(r.Read<float>("w"), FormatError,
                       Says("m.index: key 'w': offset ") &&
                           Says(": does not have sufficient slices for partitioned tensor: the slices "
                                "[0,1:- 2,2:-] do not cover -:-"));
  CHECK_THROWS_MATCHES(r.ReadSlice<float>("w", TensorSlice::Parse("0,2:1,1")), FormatError,
                       Says("do not cover 0,2:1,1"));
  // A region the slices do cover reads (TF judges coverage for the requested region).
  CHECK(r.ReadSlice<float>("w", TensorSlice::Parse("2,2:0,2")) == std::vector<float>{6, 7, 9, 10});
}

TEST_CASE("reader: overlapping slices", "[bundle][reader][slices]") {
  // Like TF's TensorSliceSet: the checkpoint opens (other tensors stay readable) and any
  // read of the tensor fails, naming both slices.
  BundleBuilder b;
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,3:-"), RawBytes(Iota(9)));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(6, 6)));
  b.AddValues<float>("ok", {2}, {1, 2});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.Read<float>("ok") == std::vector<float>{1, 2});
  CHECK_THROWS_MATCHES(r.Read<float>("w"), FormatError,
                       Says("m.index: key 'w': offset ") && Says(": overlapping slices: 0,3:- overlaps 2,2:-"));
  // An overlap hidden by a gap of the same size (element counts agree).
  BundleBuilder c;
  c.AddSlice("v", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,2:-"), RawBytes(Iota(6)));
  c.AddSlice("v", {4, 3}, DataType::kFloat, TensorSlice::Parse("1,2:-"), RawBytes(Iota(6, 3)));
  const Files files2 = c.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(files2).Read<float>("v"), FormatError, Says("overlapping slices: 0,2:- overlaps 1,2:-"));
  // Slices that span all of dimension 0 but are disjoint in dimension 1 are fine.
  BundleBuilder d;
  d.AddSlice("u", {4, 4}, DataType::kFloat, TensorSlice::Parse("0,4:0,2"), RawBytes(Iota(8)));
  d.AddSlice("u", {4, 4}, DataType::kFloat, TensorSlice::Parse("0,4:2,2"), RawBytes(Iota(8, 8)));
  const Files files3 = d.Build("m");
  CHECK(OpenBundle(files3).Read<float>("u").size() == 16);
}

TEST_CASE("reader: a slice entry that lists slices of its own is refused at open", "[bundle][reader][slices]") {
  // Found in review: such an entry, unreferenced, used to be listed as a partitioned
  // tensor whose slices were never linked, and reading it dereferenced a null entry.
  BundleBuilder b;
  b.AddValues<float>("ok", {2}, {1, 2});
  const std::string key = warmstart::bundle::EncodeTensorNameSlice("x", TensorSlice::Parse("0,1"));
  warmstart::proto::BundleEntry p;
  p.dtype = static_cast<int32_t>(DataType::kFloat);
  p.shape.dims = {2};
  p.slices.push_back(TensorSlice::Parse("0,2").ToProto());
  b.AddIndexValue(key, warmstart::proto::EncodeBundleEntry(p));
  const Files files = b.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                       Says("m.index: key 'x (slice 0,1)': offset ") &&
                           Says(": a slice entry lists slices of its own; only a full-tensor entry may"));
}

TEST_CASE("reader: ReadAs saturates out-of-range floats and maps NaN to 0", "[bundle][reader][convert]") {
  BundleBuilder b;
  b.AddValues<float>("f", {5}, {1e10f, -1e10f, std::nanf(""), 2.9f, -2.9f});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.ReadAs<int32_t>("f") == std::vector<int32_t>{2147483647, -2147483647 - 1, 0, 2, -2});
  CHECK(r.ReadAs<uint8_t>("f") == std::vector<uint8_t>{255, 0, 0, 2, 0});
  CHECK(r.ReadAs<bool>("f") == std::vector<bool>{true, true, true, true, true});
}

TEST_CASE("reader: overlapping slices are refused for any region, as TF does", "[bundle][reader][slices]") {
  // Spec 7.3 / 9.10: TF registers every stored slice in a TensorSliceSet and rejects any
  // overlap, whatever region is requested. Here rows 0..1 touch only the first slice.
  BundleBuilder b;
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,3:-"), RawBytes(Iota(9)));
  b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("2,2:-"), RawBytes(Iota(6, 6)));
  const Files files = b.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(files).ReadSlice<float>("w", TensorSlice::Parse("0,2:-")), FormatError,
                       Says("overlapping slices"));
}

TEST_CASE("reader: partitioned entry errors found at open", "[bundle][reader][slices]") {
  auto base = [] {
    BundleBuilder b;
    b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("0,2:-"), RawBytes(Iota(6)));
    return b;
  };
  SECTION("a slice listed twice") {
    BundleBuilder b = base();
    b.ListSlice("w", TensorSlice::Parse("0,2:-"));
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                         Says("m.index: key 'w': offset ") && Says(": overlapping slices: a slice is listed twice"));
  }
  SECTION("a listed slice without its slice entry") {
    BundleBuilder b = base();
    b.ListSlice("w", TensorSlice::Parse("2,2:-"));
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                         Says("m.index: key 'w': offset ") &&
                             Says(": slice 2,2:- is listed but its slice entry is missing"));
  }
  SECTION("a slice entry with the wrong shape") {
    BundleBuilder b = base();
    b.Patch(EncodeTensorNameSlice("w", TensorSlice::Parse("0,2:-")), [](proto::BundleEntry* e) {
      e->shape.dims = {3, 2};
    });
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                         Says("m.index: key 'w': offset ") &&
                             Says("slice entry for 0,2:- has DT_FLOAT [3,2], expected DT_FLOAT [2,3]"));
  }
  SECTION("a slice entry with the wrong dtype") {
    BundleBuilder b = base();
    b.Patch(EncodeTensorNameSlice("w", TensorSlice::Parse("0,2:-")), [](proto::BundleEntry* e) { e->dtype = 3; });
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                         Says("slice entry for 0,2:- has DT_INT32 [2,3], expected DT_FLOAT [2,3]"));
  }
  SECTION("a slice out of bounds") {
    BundleBuilder b;
    b.AddSlice("w", {4, 3}, DataType::kFloat, TensorSlice::Parse("3,2:-"), RawBytes(Iota(6)));
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError,
                         Says("m.index: key 'w': offset ") &&
                             Says("extent in dimension 0 of slice 3,2:- is out of bounds for shape [4,3]"));
  }
  SECTION("a slice of the wrong rank") {
    BundleBuilder b = base();
    b.ListSlice("w", TensorSlice::Parse("2,2"));
    const Files files = b.Build("m");
    CHECK_THROWS_MATCHES(OpenBundle(files), FormatError, Says("slice 2,2 has rank 1 but the tensor [4,3] has rank 2"));
  }
}

TEST_CASE("reader: a slice entry no tensor refers to is listed with a warning", "[bundle][reader][slices]") {
  BundleBuilder b;
  b.AddValues(EncodeTensorNameSlice("orphan", TensorSlice::Parse("0,1")), {1}, std::vector<float>{2});
  b.AddValues("a", {1}, std::vector<float>{1});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.entries().size() == 2);
  REQUIRE(r.warnings().size() == 1);
  CHECK_THAT(r.warnings()[0], Catch::Matchers::Contains("m.index: slice entry '\\x00orphan\\x00\\x01\\x01\\x01\\x80\\x81' "
                                                        "belongs to no partitioned tensor"));
}

// ---------------------------------------------------------------------------
// Header checks

TEST_CASE("reader: header checks", "[bundle][reader][header]") {
  auto open_with = [](BundleOptions o) {
    BundleBuilder b(o);
    b.AddValues("a", {1}, std::vector<float>{1});
    const Files files = b.Build("m");
    return OpenBundle(files).num_shards();
  };
  BundleOptions o;
  SECTION("num_shards 0") {
    o.header_num_shards = 0;
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: offset ") && Says(": header has num_shards 0, need >= 1"));
  }
  SECTION("num_shards -2") {
    o.header_num_shards = -2;
    CHECK_THROWS_MATCHES(open_with(o), FormatError, Says("header has num_shards -2, need >= 1"));
  }
  SECTION("endianness 2") {
    o.header_endianness = 2;
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: offset ") && Says(": header has unknown endianness 2"));
  }
  SECTION("min_consumer 2") {
    o.version.min_consumer = 2;
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: offset ") &&
                             Says(": bundle needs a reader of version >= 2; this reader implements version 1"));
  }
  SECTION("bad_consumers [1]") {
    o.version.bad_consumers = {0, 1};
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: offset ") && Says(": bundle disallows readers of version 1 (bad_consumers)"));
  }
  SECTION("producer -1") {
    o.version.producer = -1;
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: offset ") && Says(": bundle producer version -1 is negative"));
  }
  SECTION("acceptable versions") {
    o.version = proto::VersionDef{0, 1, {0, 2}};  // pre-2016 producer, consumer 1 allowed
    CHECK(open_with(o) == 1);
  }
  SECTION("first key not \"\"") {
    o.write_header = false;
    CHECK_THROWS_MATCHES(open_with(o), FormatError,
                         Says("m.index: key 'a': offset ") &&
                             Says(": first index entry is not the header (key \"\"): not a V2 bundle index"));
  }
}

TEST_CASE("reader: an index with no entries and a missing index", "[bundle][reader][header]") {
  BundleOptions o;
  o.write_header = false;
  const Files files = BundleBuilder(o).Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(files), FormatError, Says("m.index: index has no entries: the header entry is missing"));
  CHECK_THROWS_MATCHES(OpenBundle(files, "other"), NotFoundError,
                       Says("other.index: no such file in memory file system"));
}

// ---------------------------------------------------------------------------
// Entry checks

TEST_CASE("reader: entry checks at open", "[bundle][reader][entry]") {
  auto open_patched = [](std::function<void(proto::BundleEntry*)> patch, DataType dtype = DataType::kFloat) {
    BundleBuilder b;
    b.AddValues("a", {1}, std::vector<float>{0});
    if (dtype == DataType::kString) {
      b.AddStrings("f", {3}, {"x", "y", "z"});
    } else {
      b.AddValues("f", {2, 3}, Iota(6));
    }
    b.Patch("f", std::move(patch));
    const Files files = b.Build("m");
    return OpenBundle(files).entries().size();
  };
  const std::string at = "m.index: key 'f': offset ";
  CHECK(open_patched([](proto::BundleEntry*) {}) == 2);
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->size = 20; }), FormatError,
                       Says(at) && Says(": invalid size in bundle entry: DT_FLOAT [2,3] needs 6 x 4 bytes, entry says 20"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->size = 2; }, DataType::kString), FormatError,
                       Says(at) && Says(": invalid size in bundle entry: a string tensor of 3 elements needs at least "
                                        "that many bytes, entry says 2"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shard_id = 1; }), FormatError,
                       Says(at) && Says(": entry has shard_id 1 but the bundle has 1 shards"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shard_id = -1; }), FormatError,
                       Says("entry has shard_id -1 but the bundle has 1 shards"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->offset = -4; }), FormatError,
                       Says(at) && Says(": entry has a negative offset or size"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->size = -24; }), FormatError,
                       Says("entry has a negative offset or size"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shape.dims = {2, -3}; }), FormatError,
                       Says(at) && Says(": shape [2,-3] has a negative dimension"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shape.dims.assign(255, 1); }), FormatError,
                       Says(at) && Says(": shape has 255 dimensions, at most 254 are allowed"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shape.dims = {1LL << 32, 1LL << 32}; }),
                       FormatError,
                       Says(at) && Says(": shape [4294967296,4294967296] has more elements than fit in int64"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->shape.unknown_rank = true; }), FormatError,
                       Says(at) && Says(": entry shape has unknown_rank set; a bundle stores full shapes"));
  CHECK_THROWS_MATCHES(open_patched([](proto::BundleEntry* e) { e->dtype = 0; }), FormatError,
                       Says(at) && Says(": entry has dtype DT_INVALID (0)"));
}

TEST_CASE("reader: 254 dimensions are allowed", "[bundle][reader][entry]") {
  BundleBuilder b;
  b.AddValues("deep", TensorShape(std::vector<int64_t>(254, 1)), std::vector<float>{6.5f});
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  CHECK(r.Get("deep").shape.rank() == 254);
  CHECK(r.Read<float>("deep") == std::vector<float>{6.5f});
}

TEST_CASE("reader: a tensor running past the end of its data file", "[bundle][reader][entry][corrupt]") {
  BundleBuilder b;
  b.AddValues("f", {2, 3}, Iota(6));
  SECTION("offset past the end") {
    b.Patch("f", [](proto::BundleEntry* e) { e->offset = 100; });
    const Files files = b.Build("m");
    const Reader r = OpenBundle(files);
    CHECK_THROWS_MATCHES(r.Read<float>("f"), FormatError,
                         Says("m.data-00000-of-00001: key 'f': offset 100: tensor of 24 bytes runs past the end of "
                              "the 24-byte data file"));
  }
  SECTION("the last bytes missing") {
    b.Patch("f", [](proto::BundleEntry* e) { e->offset = 4; });
    const Files files = b.Build("m");
    const Reader r = OpenBundle(files);
    CHECK_THROWS_MATCHES(r.Read<float>("f", Verify::kNo), FormatError,
                         Says("m.data-00000-of-00001: key 'f': offset 4: tensor of 24 bytes runs past the end of "
                              "the 24-byte data file"));
  }
  SECTION("a truncated data file") {
    Files files = b.Build("m");
    files[kData].resize(23);
    const Reader r = OpenBundle(files);
    CHECK_THROWS_MATCHES(r.Read<float>("f"), FormatError,
                         Says("offset 0: tensor of 24 bytes runs past the end of the 23-byte data file"));
  }
}

// ---------------------------------------------------------------------------
// CRCs and verification

TEST_CASE("reader: a flipped data byte is a checksum mismatch naming file, key and offset", "[bundle][reader][corrupt]") {
  BundleBuilder b;
  b.AddValues("a", {2, 3}, Iota(6));
  b.AddValues("b", {2, 3}, Iota(6, 10));
  Files files = b.Build("m");
  const std::string good = files[kData].substr(24, 24);
  files[kData][24 + 5] ^= 0x10;
  const std::string bad = files[kData].substr(24, 24);
  const Reader r = OpenBundle(files);
  CHECK(r.Read<float>("a") == Iota(6));
  CHECK_THROWS_MATCHES(r.Read<float>("b"), FormatError,
                       Says("m.data-00000-of-00001: key 'b': offset 24: checksum mismatch for 24 bytes: stored masked "
                            "crc32c 0x" + warmstart::detail::Hex32(MaskedCrc(good)) + ", computed 0x" +
                            warmstart::detail::Hex32(MaskedCrc(bad)) + " (the data file is corrupt)"));
  CHECK_THROWS_MATCHES(r.View<float>("b"), FormatError, Says("checksum mismatch"));
  CHECK_THROWS_MATCHES(r.ReadAs<double>("b"), FormatError, Says("checksum mismatch"));
  CHECK_THROWS_MATCHES(r.ReadSlice<float>("b", TensorSlice::Parse("0,1:0,1")), FormatError, Says("checksum mismatch"));
}

TEST_CASE("reader: Verify::kNo skips the check, Verify::kYes does it once", "[bundle][reader][corrupt]") {
  BundleBuilder b;
  b.AddValues("a", {4}, std::vector<float>{1, 2, 3, 4});
  b.AddValues("b", {4}, std::vector<float>{5, 6, 7, 8});
  Files files = b.Build("m");
  std::string& data = files[kData];
  SECTION("kNo on a corrupt tensor") {
    data[19] = '\x41';  // 5.0f (40a00000) -> 41a00000 = 20.0f
    const Reader r = OpenBundle(files);
    CHECK(r.Read<float>("b", Verify::kNo) == std::vector<float>{20, 6, 7, 8});
    CHECK(r.View<float>("b", Verify::kNo)[0] == 20.0f);
    CHECK_THROWS_MATCHES(r.Read<float>("b"), FormatError, Says("key 'b': offset 16: checksum mismatch"));
    CHECK_THROWS_MATCHES(r.Read<float>("b", Verify::kYes), FormatError, Says("checksum mismatch"));
  }
  SECTION("a verified tensor is not verified again") {
    const Reader r = OpenBundle(files);
    CHECK(r.Read<float>("b") == std::vector<float>{5, 6, 7, 8});
    data[19] = '\x41';  // corrupt the buffer behind the reader's back
    CHECK(r.Read<float>("b") == std::vector<float>{20, 6, 7, 8});  // remembered as verified
    const Reader fresh = OpenBundle(files);
    CHECK_THROWS_MATCHES(fresh.Read<float>("b"), FormatError, Says("checksum mismatch"));
  }
}

TEST_CASE("reader: VerifyAll collects every failure without stopping", "[bundle][reader][corrupt]") {
  BundleOptions o;
  o.num_shards = 2;
  BundleBuilder b(o);
  b.AddValues("a_ok", {2}, std::vector<float>{1, 2}, 0);
  b.AddValues("b_flipped", {2}, std::vector<float>{3, 4}, 0);
  b.AddValues("c_missing_shard", {1}, std::vector<float>{5}, 1);
  b.AddValues("d_past_end", {2}, std::vector<float>{6, 7}, 0);
  b.AddStrings("e_string", {2}, {"ok", "fine"}, 0);
  b.AddSlice("f_part", {2, 1}, DataType::kFloat, TensorSlice::Parse("0,1:-"), RawBytes(std::vector<float>{8}), 0);
  b.AddSlice("f_part", {2, 1}, DataType::kFloat, TensorSlice::Parse("1,1:-"), RawBytes(std::vector<float>{9}), 0);
  b.Patch("d_past_end", [](proto::BundleEntry* e) { e->offset = 1000; });
  Files files = b.Build("m");
  files["m.data-00000-of-00002"][8] ^= 1;  // b_flipped
  files.erase("m.data-00001-of-00002");
  const Reader r = OpenBundle(files);
  const VerifyReport report = r.VerifyAll();
  CHECK_FALSE(report.ok());
  CHECK(report.tensors_verified == 4);  // a_ok, e_string, two slices of f_part
  REQUIRE(report.failures.size() == 3);
  std::map<std::string, std::string> by_key;
  for (const VerifyFailure& f : report.failures) by_key[f.key] = f.message;
  CHECK_THAT(by_key["b_flipped"], Catch::Matchers::Contains("m.data-00000-of-00002: key 'b_flipped': offset 8: "
                                                            "checksum mismatch for 8 bytes"));
  CHECK_THAT(by_key["c_missing_shard"], Catch::Matchers::Contains("data file is missing (shard 1 of 2)"));
  CHECK_THAT(by_key["d_past_end"], Catch::Matchers::Contains("offset 1000: tensor of 8 bytes runs past the end"));
}

// ---------------------------------------------------------------------------
// Offsets of index-level errors

TEST_CASE("reader: index errors point at the entry's value bytes", "[bundle][reader][entry]") {
  // Entry::index_offset is documented as "where the entry's value starts in the .index
  // file", and proto errors inside a value should name the absolute offset of the bad
  // byte. The table callback passes the offset of the entry (its varint header), which
  // the reader uses as the offset of the value.
  BundleBuilder b;
  b.AddValues("a", {1}, std::vector<float>{1});
  b.AddValues("b", {1}, std::vector<float>{2});
  const Files good = b.Build("m");
  const auto values = IndexValues(good.at(kIndex));
  const Reader r = OpenBundle(good);
  CHECK(r.Get("b").index_offset == values.at("b").second);

  // "a" -> 08 (the dtype tag) and nothing after it: a truncated varint at value byte 1.
  BundleBuilder c;
  c.AddValues("b", {1}, std::vector<float>{2});
  c.AddIndexValue("a", Hex("08"));
  const Files bad = c.Build("m");
  const uint64_t value_at = IndexValues(bad.at(kIndex)).at("a").second;
  CHECK_THROWS_MATCHES(OpenBundle(bad), FormatError,
                       Says("m.index: key 'a': offset " + std::to_string(value_at + 1) +
                            ": truncated varint in BundleEntryProto"));
}

TEST_CASE("reader: a malformed entry or header value is a FormatError", "[bundle][reader][entry]") {
  BundleBuilder c;
  c.AddIndexValue("a", Hex("08"));
  const Files bad = c.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(bad), FormatError,
                       Says("m.index: key 'a': offset ") && Says(": truncated varint in BundleEntryProto"));
  BundleBuilder w;
  w.AddIndexValue("a", Hex("35 01 02"));  // crc32c (fixed32) with 2 of its 4 bytes
  const Files wire = w.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(wire), FormatError, Says("truncated BundleEntryProto: need 4 bytes, 2 left"));
  BundleBuilder t;
  t.AddIndexValue("a", Hex("30 05"));  // crc32c as a varint
  const Files wrong_type = t.Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(wrong_type), FormatError,
                       Says("BundleEntryProto: field 6 has wire type 0, expected 5"));
  BundleOptions o;
  o.header_value = Hex("0a");
  const Files header = BundleBuilder(o).Build("m");
  CHECK_THROWS_MATCHES(OpenBundle(header), FormatError, Says("truncated varint in BundleHeaderProto"));
}

TEST_CASE("reader: Entry copies share the verification flag, foreign entries are refused", "[bundle][reader]") {
  BundleBuilder b;
  b.AddValues("a", {1}, std::vector<float>{1});
  Files files = b.Build("m");
  const Reader r = OpenBundle(files);
  const Entry copy = r.Get("a");
  CHECK(r.RawBytes(copy).size() == 4);
  files[kData][0] ^= 1;  // verified through the copy: not checked again through the original
  CHECK(r.RawBytes(r.Get("a")).size() == 4);
  Entry stranger = copy;
  stranger.name = "zz";
  CHECK_THROWS_MATCHES(r.RawBytes(stranger), ArgumentError,
                       Says("m.index: key 'zz': entry does not belong to this checkpoint"));
}

// ---------------------------------------------------------------------------
// Threads

TEST_CASE("reader: four threads reading every tensor concurrently", "[bundle][reader][threads]") {
  BundleOptions o;
  o.num_shards = 3;
  BundleBuilder b(o);
  for (int i = 0; i < 24; ++i) b.AddValues("f" + std::to_string(i), {4, 8}, Iota(32, static_cast<float>(i)));
  for (int i = 0; i < 6; ++i) b.AddStrings("s" + std::to_string(i), {2}, {"s" + std::to_string(i), std::string(50, 'z')});
  b.AddSlice("p", {6, 2}, DataType::kFloat, TensorSlice::Parse("0,3:-"), RawBytes(Iota(6)));
  b.AddSlice("p", {6, 2}, DataType::kFloat, TensorSlice::Parse("3,3:-"), RawBytes(Iota(6, 6)));
  const Files files = b.Build("m");
  const Reader r = OpenBundle(files);  // shards are mapped by whichever thread comes first

  std::atomic<int> wrong{0}, reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        try {
          for (int j = 0; j < 24; ++j) {
            const int i = (j + t * 5) % 24;
            const std::string name = "f" + std::to_string(i);
            if (r.Read<float>(name) != Iota(32, static_cast<float>(i))) ++wrong;
            if (r.View<float>(name)[31] != 31.0f + static_cast<float>(i)) ++wrong;
            ++reads;
          }
          for (int i = 0; i < 6; ++i) {
            if (r.ReadStrings("s" + std::to_string(i))[0] != "s" + std::to_string(i)) ++wrong;
          }
          if (r.Read<float>("p") != Iota(12)) ++wrong;
          if (!r.VerifyAll().ok()) ++wrong;
        } catch (const std::exception&) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(reads == 4 * 20 * 24);
}
