// V1 checkpoints (spec 11) built with the V1Builder fixture and read through OpenV1 over
// MemoryFileSystem: typed TensorProto fields, strings, a partitioned tensor, the
// repeat-one-value rule, and the errors of a malformed file.
#include "warmstart/bundle/v1.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "fixtures.hpp"

namespace {

using namespace warmstart::bundle;
using warmstart::FormatError;
using warmstart::NotFoundError;
using warmstart::core::MemoryFileSystem;
using warmstart::test::Hex;
using warmstart::test::Says;
using warmstart::test::StringsProto;
using warmstart::test::V1Builder;
using warmstart::test::ValuesProto;
namespace proto = warmstart::proto;

using Reader = BundleReader<MemoryFileSystem>;

// Requires: bytes outlives the reader.
Reader OpenV1Bytes(const std::string& bytes, const std::string& path = "model.ckpt") {
  MemoryFileSystem fs;
  fs.Add(path, bytes);
  return OpenV1<MemoryFileSystem>(path, fs);
}

}  // namespace

TEST_CASE("v1: float, int, int64, double, bool and string tensors", "[bundle][v1]") {
  V1Builder b;
  b.Add("weights", DataType::kFloat, {2, 3}, ValuesProto(std::vector<float>{1, 2, 3, 4, 5, 6}));
  b.Add("step", DataType::kInt64, {}, ValuesProto(std::vector<int64_t>{1LL << 40}));
  b.Add("ids", DataType::kInt32, {3}, ValuesProto(std::vector<int32_t>{-1, 0, 70000}));
  b.Add("bytes", DataType::kUint8, {2}, ValuesProto(std::vector<int32_t>{255, 7}));
  b.Add("d", DataType::kDouble, {1}, ValuesProto(std::vector<double>{0.1}));
  b.Add("flags", DataType::kBool, {3}, ValuesProto(std::vector<bool>{true, false, true}));
  b.Add("names", DataType::kString, {2}, StringsProto({"alpha", std::string("b\0c", 3)}));
  const std::string file = b.Build();
  const Reader r = OpenV1Bytes(file);
  CHECK(r.format() == Format::kV1);
  CHECK(r.index_path() == "model.ckpt");
  CHECK(r.data_path(0) == "model.ckpt");
  REQUIRE(r.entries().size() == 7);
  CHECK(r.num_index_entries() == 7);
  CHECK(r.Get("weights").shape == TensorShape{2, 3});
  CHECK(r.Read<float>("weights") == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(r.Read<int64_t>("step") == std::vector<int64_t>{1LL << 40});
  CHECK(r.Read<int32_t>("ids") == std::vector<int32_t>{-1, 0, 70000});
  CHECK(r.Read<uint8_t>("bytes") == std::vector<uint8_t>{255, 7});
  CHECK(r.Read<double>("d") == std::vector<double>{0.1});
  CHECK(r.Read<bool>("flags") == std::vector<bool>{true, false, true});
  CHECK(r.ReadStrings("names") == std::vector<std::string>{"alpha", std::string("b\0c", 3)});
  CHECK(r.ReadAs<double>("ids") == std::vector<double>{-1, 0, 70000});
  CHECK(r.ReadSlice<float>("weights", TensorSlice::Parse("-:1,2")) == std::vector<float>{2, 3, 5, 6});
  const TensorView<float> view = r.View<float>("weights");
  CHECK(view[5] == 6.0f);
  CHECK(r.VerifyAll().ok());
  CHECK(r.VerifyAll().tensors_verified == 7);
}

TEST_CASE("v1: the scalar key form 00 <name> 00 01 00", "[bundle][v1]") {
  V1Builder b;
  b.Add("a", DataType::kFloat, {}, ValuesProto(std::vector<float>{2.5f}));
  CHECK(EncodeTensorNameSlice("a", TensorSlice::Full(0)) == Hex("00 61 00 01 00"));
  const std::string file = b.Build();
  const Reader r = OpenV1Bytes(file);
  CHECK(r.Read<float>("a") == std::vector<float>{2.5f});
}

TEST_CASE("v1: the repeat-one-value rule", "[bundle][v1]") {
  V1Builder b;
  b.Add("sevens", DataType::kFloat, {2, 3}, ValuesProto(std::vector<float>{7}));
  b.Add("zeros", DataType::kInt64, {4}, ValuesProto(std::vector<int64_t>{0}));
  b.Add("s", DataType::kString, {3}, StringsProto({"same"}));
  const std::string file = b.Build();
  const Reader r = OpenV1Bytes(file);
  CHECK(r.Read<float>("sevens") == std::vector<float>(6, 7.0f));
  CHECK(r.Read<int64_t>("zeros") == std::vector<int64_t>(4, 0));
  CHECK(r.ReadStrings("s") == std::vector<std::string>(3, "same"));
}

TEST_CASE("v1: a partitioned tensor with two slices", "[bundle][v1][slices]") {
  V1Builder b;
  b.AddSlice("part", DataType::kFloat, {4, 2}, TensorSlice::Parse("2,2:-"), ValuesProto(std::vector<float>{4, 5, 6, 7}));
  b.AddSlice("part", DataType::kFloat, {4, 2}, TensorSlice::Parse("0,2:-"), ValuesProto(std::vector<float>{0, 1, 2, 3}));
  b.Add("other", DataType::kInt32, {1}, ValuesProto(std::vector<int32_t>{1}));
  const std::string file = b.Build();
  const Reader r = OpenV1Bytes(file);
  REQUIRE(r.entries().size() == 2);  // the slice entries are hidden
  CHECK(r.num_index_entries() == 4);
  CHECK(r.Get("part").partitioned());
  CHECK(r.Read<float>("part") == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(r.ReadSlice<float>("part", TensorSlice::Parse("1,2:1,1")) == std::vector<float>{3, 5});
  // TF1 partitions with explicit extents in every dimension.
  V1Builder c;
  c.AddSlice("emb", DataType::kInt32, {4, 2}, TensorSlice::Parse("0,3:0,2"),
             ValuesProto(std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
  c.AddSlice("emb", DataType::kInt32, {4, 2}, TensorSlice::Parse("3,1:0,2"), ValuesProto(std::vector<int32_t>{6, 7}));
  const std::string file2 = c.Build();
  CHECK(OpenV1Bytes(file2).Read<int32_t>("emb") == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("v1: a partitioned tensor missing a slice's data", "[bundle][v1][slices]") {
  // The meta lists two slices of "part"; only one has a data entry.
  V1Builder c;
  c.AddMeta("part", DataType::kFloat, {4, 2}, {TensorSlice::Parse("0,2:-"), TensorSlice::Parse("2,2:-")});
  c.AddData("part", TensorSlice::Parse("0,2:-"), ValuesProto(std::vector<float>{0, 1, 2, 3}));
  const std::string file = c.Build();
  CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                       Says("model.ckpt: key 'part': offset ") &&
                           Says(": V1 tensor has data for 1 of the 2 slices its meta lists"));
}

TEST_CASE("v1: an unpartitioned tensor whose only data entry is for another slice", "[bundle][v1]") {
  // The meta lists "a" [4] as one full slice, the file holds data for slice 0,2 only.
  // TF's TensorSliceReader looks the data up by the meta's slice key and fails; so do we,
  // naming the stray slice (it must not make "a" vanish from the listing).
  V1Builder b;
  b.AddMeta("a", DataType::kFloat, {4}, {TensorSlice::Full(1)});
  b.AddData("a", TensorSlice::Parse("0,2"), ValuesProto(std::vector<float>{1, 2}));
  const std::string file = b.Build();
  CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                       Says("model.ckpt: key 'a': offset ") &&
                           Says(": V1 data for slice 0,2, which the meta does not list for this tensor"));
}

TEST_CASE("v1: errors", "[bundle][v1]") {
  SECTION("no meta: the first entry is a data entry") {
    V1Builder b;
    b.write_head = false;
    b.AddData("a", TensorSlice::Full(1), ValuesProto(std::vector<float>{1}));
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key '\\x00a\\x00\\x01\\x01\\x01\\x80\\x7f': offset ") &&
                             Says(": not a V1 checkpoint: no meta entry"));
  }
  SECTION("no meta: the \"\" entry holds no SavedTensorSliceMeta") {
    V1Builder b;
    b.write_meta = false;
    b.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key '': offset ") &&
                             Says(": not a V1 checkpoint: the first entry holds no SavedTensorSliceMeta"));
  }
  SECTION("an empty table") {
    V1Builder b;
    b.write_head = false;
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError, Says("model.ckpt: not a V1 checkpoint: the table is empty"));
  }
  SECTION("data for a tensor the meta does not list") {
    V1Builder b;
    b.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    b.AddData("ghost", TensorSlice::Full(1), ValuesProto(std::vector<float>{1}));
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'ghost': offset ") &&
                             Says(": V1 data for a tensor the meta does not list"));
  }
  SECTION("a tensor without data") {
    V1Builder b;
    b.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    b.AddMeta("lonely", DataType::kFloat, {2}, {TensorSlice::Full(1)});
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'lonely': offset ") &&
                             Says(": V1 tensor has data for 0 of the 1 slices its meta lists"));
  }
  SECTION("a key that is not a slice key") {
    V1Builder b;
    b.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    b.AddRaw("weights", "");
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'weights': offset ") && Says(": V1 key is not a tensor slice key"));
    V1Builder c;
    c.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    c.AddRaw(Hex("00 61 00 01 01 01 80"), "");  // rank 1 but only the start of the extent
    const std::string file2 = c.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file2), FormatError,
                         Says("key '\\x00a\\x00\\x01\\x01\\x01\\x80': offset ") &&
                             Says(": V1 key is not a tensor slice key"));
  }
  SECTION("a data entry without a SavedSlice") {
    V1Builder b;
    b.AddMeta("a", DataType::kFloat, {1}, {TensorSlice::Full(1)});
    b.AddRaw(EncodeTensorNameSlice("a", TensorSlice::Full(1)), "");
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError, Says("key 'a': offset ") &&
                                                             Says(": V1 data entry holds no SavedSlice"));
  }
  SECTION("the wrong number of values") {
    V1Builder b;
    b.Add("a", DataType::kFloat, {2, 3}, ValuesProto(std::vector<float>{1, 2, 3, 4, 5}));
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'a': offset ") && Says(": float_val has 5 elements, expected 6"));
  }
  SECTION("a tensor listed twice in the meta") {
    V1Builder b;
    b.Add("a", DataType::kFloat, {1}, ValuesProto(std::vector<float>{1}));
    b.AddMeta("a", DataType::kFloat, {1}, {TensorSlice::Full(1)});
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'a': offset ") && Says(": tensor listed twice in the V1 meta"));
  }
  SECTION("a slice outside the shape") {
    V1Builder b;
    b.AddSlice("p", DataType::kFloat, {2}, TensorSlice::Parse("1,2"), ValuesProto(std::vector<float>{1, 2}));
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'p': offset ") &&
                             Says(": extent in dimension 0 of slice 1,2 is out of bounds for shape [2]"));
  }
  SECTION("a dtype V1 cannot hold") {
    V1Builder b;
    b.AddMeta("v", DataType::kVariant, {1}, {TensorSlice::Full(1)});
    const std::string file = b.Build();
    CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                         Says("model.ckpt: key 'v': offset ") &&
                             Says(": V1 tensor has dtype DT_VARIANT, which warmstart cannot read"));
  }
  SECTION("a missing file") {
    MemoryFileSystem fs;
    CHECK_THROWS_MATCHES(OpenV1<MemoryFileSystem>("nope", fs), NotFoundError,
                         Says("nope: no such file in memory file system"));
  }
}

TEST_CASE("v1: one string value repeated over a huge shape is refused before allocating", "[bundle][v1]") {
  // Found in review: a 147-byte file with shape [20000000] and one string_val made the
  // reader build 20 million strings. The expansion budget now covers strings too.
  V1Builder b;
  b.Add("s", DataType::kString, {200000000}, StringsProto({"x"}));
  const std::string file = b.Build();
  CHECK_THROWS_MATCHES(OpenV1Bytes(file), FormatError,
                       Says("model.ckpt: key 's': offset ") && Says("would expand to 400000000 bytes"));
}
