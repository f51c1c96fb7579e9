// data/tf_example.hpp: tf.Example wire decoding (packed and unpacked lists, protobuf's merge
// rules), encoding, malformed protos with key and offset; the pets records re-encoded.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/data/tf_example.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "data/data_test_util.hpp"

namespace ws = warmstart;
namespace wd = warmstart::data;
namespace wp = warmstart::proto;
namespace fs = std::filesystem;

namespace {

using warmstart::test::data::ReadBytes;
using warmstart::test::data::Thrown;
using warmstart::test::data::WriteBytes;

const ws::ErrorContext kCtx("mem.record");

// Hand-made protobuf pieces, written with proto/wire.hpp's field encoders only.
std::string Message(uint32_t number, const std::string& payload) {
  std::string out;
  wp::PutBytesField(&out, number, payload);
  return out;
}
std::string Entry(const std::string& key, const std::string& feature) {
  return Message(1, Message(1, key) + Message(2, feature));
}
std::string ExampleOf(const std::string& entries) { return Message(1, entries); }

wd::Example Sample() {
  wd::Example ex;
  ex.features["b"] = wd::Feature::Bytes({"x", "", std::string("\0\xff", 2)});
  ex.features["f"] = wd::Feature::Floats({0.5f, -1.25f, std::numeric_limits<float>::infinity()});
  ex.features["i"] = wd::Feature::Int64s({0, 1, -1, int64_t{1} << 40, std::numeric_limits<int64_t>::min()});
  ex.features["empty_f"] = wd::Feature::Floats({});
  ex.features["none"] = wd::Feature();
  return ex;
}

}  // namespace

TEST_CASE("tf_example: encode and parse round trip, packed and unpacked", "[data][example]") {
  const wd::Example ex = Sample();
  const std::string packed = wd::EncodeExample(ex);
  wd::ExampleEncodeOptions opt;
  opt.packed = false;
  const std::string unpacked = wd::EncodeExample(ex, opt);
  CHECK(packed != unpacked);
  CHECK(wd::ParseExample(packed, kCtx) == ex);
  CHECK(wd::ParseExample(unpacked, kCtx) == ex);
  CHECK(wd::ParseExample(unpacked, kCtx).Find("i")->int64_list[4] == std::numeric_limits<int64_t>::min());
  CHECK(wd::ParseExample(packed, kCtx).Find("missing") == nullptr);
}

TEST_CASE("tf_example: the bytes TF writes for a small Example", "[data][example]") {
  // tf.train.Example(features=tf.train.Features(feature={'a': int64_list [1, 2]})).SerializeToString()
  wd::Example ex;
  ex.features["a"] = wd::Feature::Int64s({1, 2});
  const std::string expected("\x0a\x0d\x0a\x0b\x0a\x01\x61\x12\x06\x1a\x04\x0a\x02\x01\x02", 15);
  CHECK(wd::EncodeExample(ex) == expected);
}

TEST_CASE("tf_example: packed and unpacked values mix within one list", "[data][example]") {
  std::string floats;                                     // FloatList
  wp::PutFixed32Field(&floats, 1, 0x3f800000u);           // 1.0 unpacked
  std::string packed;
  ws::core::PutFixed32(&packed, 0x40000000u);             // 2.0
  ws::core::PutFixed32(&packed, 0x40400000u);             // 3.0
  wp::PutBytesField(&floats, 1, packed);
  std::string ints;                                       // Int64List
  wp::PutVarintField(&ints, 1, 7);
  std::string packed_ints;
  ws::core::PutVarint64(&packed_ints, 300);
  ws::core::PutVarint64(&packed_ints, static_cast<uint64_t>(int64_t{-2}));
  wp::PutBytesField(&ints, 1, packed_ints);
  const std::string bytes = ExampleOf(Entry("f", Message(2, floats)) + Entry("i", Message(3, ints)));
  const wd::Example ex = wd::ParseExample(bytes, kCtx);
  CHECK(ex.Find("f")->float_list == std::vector<float>{1.0f, 2.0f, 3.0f});
  CHECK(ex.Find("i")->int64_list == std::vector<int64_t>{7, 300, -2});
}

TEST_CASE("tf_example: protobuf merge rules", "[data][example]") {
  std::string one_int;
  wp::PutVarintField(&one_int, 1, 5);
  const std::string bytes_list = Message(1, "s");  // BytesList{value: "s"}

  SECTION("a repeated oneof member appends, another member replaces") {
    const auto ex = wd::ParseExample(ExampleOf(Entry("k", Message(3, one_int) + Message(3, one_int))), kCtx);
    CHECK(ex.Find("k")->int64_list == std::vector<int64_t>{5, 5});
    const auto ex2 = wd::ParseExample(ExampleOf(Entry("k", Message(3, one_int) + Message(1, bytes_list))), kCtx);
    CHECK(ex2.Find("k")->kind == wd::FeatureKind::kBytes);
    CHECK(ex2.Find("k")->int64_list.empty());
    CHECK(ex2.Find("k")->bytes_list == std::vector<std::string>{"s"});
  }
  SECTION("the last entry of a key wins; value before key; no value is kNone") {
    const std::string reversed = Message(1, Message(2, Message(3, one_int)) + Message(1, "k"));
    const auto ex = wd::ParseExample(ExampleOf(Entry("k", Message(1, bytes_list)) + reversed + Message(1, Message(1, "n"))), kCtx);
    CHECK(ex.Find("k")->int64_list == std::vector<int64_t>{5});
    CHECK(ex.Find("n")->kind == wd::FeatureKind::kNone);
    CHECK(ex.Find("n")->size() == 0);
  }
  SECTION("unknown fields anywhere are skipped") {
    std::string extra;
    wp::PutVarintField(&extra, 9, 1);
    const std::string feature = extra + Message(3, one_int + extra);
    const auto ex = wd::ParseExample(extra + ExampleOf(extra + Entry("k", feature)), kCtx);
    CHECK(ex.Find("k")->int64_list == std::vector<int64_t>{5});
  }
  SECTION("an empty message is an Example without features") {
    CHECK(wd::ParseExample(std::string(), kCtx).features.empty());
  }
}

TEST_CASE("tf_example: malformed protos name the key and the offset", "[data][example]") {
  SECTION("a truncated varint inside an Int64List") {
    std::string ints = "\x08\x80";  // field 1 varint, continuation bit and nothing after
    const std::string bytes = ExampleOf(Entry("image/height", Message(3, ints)));
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(bytes, kCtx, 100); });
    CHECK(e.context().key == std::string("image/height"));
    CHECK(e.context().offset == 100 + bytes.size() - 1);  // the varint's first byte
    CHECK_THAT(e.what(), Catch::StartsWith("mem.record: key 'image/height': offset"));
    CHECK_THAT(e.what(), Catch::Contains("truncated varint"));
  }
  SECTION("packed floats not a multiple of 4 bytes") {
    const std::string bytes = ExampleOf(Entry("f", Message(2, Message(1, "abcde"))));
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(bytes, kCtx); });
    CHECK_THAT(e.reason(), Catch::Equals("FloatList: packed float values take 5 bytes, not a multiple of 4"));
    CHECK(e.context().offset == bytes.size() - 7);  // the tag of the packed field
  }
  SECTION("a float value with the varint wire type") {
    std::string floats;
    wp::PutVarintField(&floats, 1, 1);
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(ExampleOf(Entry("f", Message(2, floats))), kCtx); });
    CHECK_THAT(e.reason(), Catch::Contains("expected 5 (float) or 2 (packed)"));
  }
  SECTION("an int64 value with the fixed32 wire type") {
    std::string ints;
    wp::PutFixed32Field(&ints, 1, 1);
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(ExampleOf(Entry("i", Message(3, ints))), kCtx); });
    CHECK_THAT(e.reason(), Catch::Contains("expected 0 (varint) or 2 (packed)"));
  }
  SECTION("a list that is not a message") {
    std::string feature;
    wp::PutVarintField(&feature, 1, 3);  // bytes_list as a varint
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(ExampleOf(Entry("b", feature)), kCtx); });
    CHECK_THAT(e.reason(), Catch::Contains("Feature: field 1 has wire type 0, expected 2"));
  }
  SECTION("a length running past the end, at every cut") {
    const std::string good = wd::EncodeExample(Sample());
    for (size_t cut = 1; cut < good.size(); ++cut) {
      CHECK_THROWS_AS(wd::ParseExample(good.substr(0, cut), kCtx), ws::FormatError);
    }
  }
  SECTION("group wire types are refused") {
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseExample(std::string("\x0b", 1), kCtx); });
    CHECK_THAT(e.reason(), Catch::Contains("unsupported wire type 3"));
  }
}

TEST_CASE("tf_example: the pets records parse and re-encode", "[data][example][realdata]") {
  fs::path record;
  if (!ws::test::RequireRealData("od_test_data/pets_examples.record", &record)) return;
  auto reader = wd::RecordReader::Open(record.string());
  std::string r;
  int n = 0;
  for (uint64_t at = reader.offset(); reader.Next(&r); at = reader.offset(), ++n) {
    const wd::Example ex = wd::ParseExample(r, ws::ErrorContext(record.string()), at + wd::kRecordHeaderSize);
    CHECK(ex.features.size() == 16);
    CHECK(ex.Find("image/key/sha256")->bytes_list.at(0).size() == 64);
    CHECK(ex.Find("image/object/view")->kind == wd::FeatureKind::kBytes);
    // The Python serializer wrote the map in hash order ("image/encoded",
    // "image/object/bbox/xmin", ...), we write it sorted: same entries, same bytes per entry.
    const std::string again = wd::EncodeExample(ex);
    CHECK(again.size() == r.size());
    CHECK(wd::ParseExample(again, ws::ErrorContext("again")) == ex);
  }
  CHECK(n == 10);
}
