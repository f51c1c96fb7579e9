// interop/safetensors.hpp: the crate's own published byte vectors (tensor.rs tests
// test_serialization and test_empty), its tensor order, and every kind of defect the crate
// rejects: truncation at every offset, bad JSON, overlaps, gaps, sizes, limits.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <warmstart/interop/safetensors.hpp>

#include "tests/interop/interop_test_util.hpp"
#include "tests/realdata.hpp"

namespace {

namespace wi = warmstart::interop;
namespace bundle = warmstart::bundle;
using bundle::DataType;
using bundle::TensorShape;
using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::test::TempDir;
using namespace warmstart::test::interop;

std::string Le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

template <class T>
std::string Raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// A file from a header text and a data buffer (header size = text length, no padding added).
std::string File(const std::string& header, const std::string& buffer) { return Le64(header.size()) + header + buffer; }

std::string WriteToString(const TempDir& dir, const std::vector<wi::TensorSpec>& specs, const std::vector<std::string>& data,
                          const std::map<std::string, std::string>& metadata = {}) {
  const std::string path = (dir / "t.safetensors").string();
  wi::WriteSafetensors(path, specs, [&](size_t i, std::vector<uint8_t>*) { return ByteView(data[i]); }, metadata);
  return Slurp(path);
}

// tensor.rs test_serialization: "attn.0" F32 [1, 2, 3] = 0..5, header 64 bytes, no padding.
const std::string kAttn =
    Le64(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" +
    Raw(std::vector<float>{0, 1, 2, 3, 4, 5});

TEST_CASE("safetensors: the crate's published bytes read and write identically", "[interop][safetensors]") {
  const wi::SafetensorsFile f = wi::SafetensorsFile::FromBytes(ByteView(kAttn), "attn.safetensors");
  REQUIRE(f.tensors().size() == 1);
  const wi::SafetensorsTensor& t = f.tensors()[0];
  CHECK(t.name == "attn.0");
  CHECK(t.dtype == DataType::kFloat);
  CHECK(t.shape.dims() == std::vector<int64_t>{1, 2, 3});
  CHECK(t.data.ToString() == Raw(std::vector<float>{0, 1, 2, 3, 4, 5}));
  TempDir dir;
  CHECK(WriteToString(dir, {{"attn.0", DataType::kFloat, TensorShape({1, 2, 3})}},
                      {Raw(std::vector<float>{0, 1, 2, 3, 4, 5})}) == kAttn);
  // test_empty: "{}" padded with six spaces; with metadata {"framework": "pt"}, five.
  CHECK(WriteToString(dir, {}, {}) == Le64(8) + "{}      ");
  CHECK(WriteToString(dir, {}, {}, {{"framework", "pt"}}) == Le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
  const std::string with_meta = WriteToString(dir, {}, {}, {{"framework", "pt"}});
  CHECK(wi::SafetensorsFile::FromBytes(ByteView(with_meta), "m").metadata().at("framework") == "pt");
}

TEST_CASE("safetensors: tensors are ordered by dtype descending, then name", "[interop][safetensors]") {
  TempDir dir;
  const std::vector<wi::TensorSpec> specs = {
      {"b", DataType::kBool, TensorShape({1})},      {"a", DataType::kFloat, TensorShape({})},
      {"z", DataType::kDouble, TensorShape({1})},    {"y", DataType::kFloat, TensorShape({1})},
      {"h", DataType::kBfloat16, TensorShape({2})},  {"e", DataType::kInt64, TensorShape({0})},
  };
  const std::vector<std::string> data = {"\x01", Raw(std::vector<float>{1}), Raw(std::vector<double>{2}),
                                         Raw(std::vector<float>{3}), Raw(std::vector<uint16_t>{1, 2}), ""};
  const std::string bytes = WriteToString(dir, specs, data);
  const wi::SafetensorsFile f = wi::SafetensorsFile::FromBytes(ByteView(bytes), "o");
  std::vector<std::string> names;
  for (const auto& t : f.tensors()) names.push_back(t.name);
  // I64 > F64 > F32 > BF16 > BOOL in the crate's enum; the empty I64 takes no bytes.
  CHECK(names == std::vector<std::string>{"e", "z", "a", "y", "h", "b"});
  CHECK((8 + f.header_size()) % 8 == 0);
  for (size_t i = 0; i < specs.size(); ++i) {
    for (const auto& t : f.tensors()) {
      if (t.name == specs[i].name) CHECK(t.data.ToString() == data[i]);
    }
  }
}

TEST_CASE("safetensors: every truncation is a FormatError", "[interop][safetensors]") {
  for (size_t n = 0; n < kAttn.size(); ++n) {
    const std::string cut = kAttn.substr(0, n);
    INFO("truncated to " << n);
    CHECK_THROWS_AS(wi::SafetensorsFile::FromBytes(ByteView(cut), "cut.safetensors"), FormatError);
  }
  const std::string longer = kAttn + "x";
  CHECK_THROWS_WITH(wi::SafetensorsFile::FromBytes(ByteView(longer), "long.safetensors"),
                    Catch::Contains("the last data_offsets must end the file"));
}

TEST_CASE("safetensors: defects the crate rejects, with file, key and offset", "[interop][safetensors]") {
  const std::string f4 = Raw(std::vector<float>{1, 2});
  const auto fails = [](const std::string& bytes, const std::string& what) {
    INFO(bytes.substr(8));
    CHECK_THROWS_WITH(wi::SafetensorsFile::FromBytes(ByteView(bytes), "bad.safetensors"),
                      Catch::StartsWith("bad.safetensors: ") && Catch::Contains(what));
  };
  fails(Le64(100000001) + "{}", "exceeds the limit");
  fails(Le64(50) + "{}", "runs past the end");
  fails(File("[]", ""), "does not start with '{'");
  fails(File("{\"a\":", ""), "offset 13: header is not valid JSON");
  fails(File("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{}}", f4), "appears more than once");
  fails(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
             f4.substr(0, 6)),
        "key 'b': offset ");
  fails(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             f4.substr(0, 4)),
        "runs past the end of the file");
  fails(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f4), "gap, overlap");
  fails(File(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", f4.substr(0, 4)), "needs 8 bytes");
  fails(File(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", f4.substr(0, 4)), "unknown dtype");
  fails(File(R"({"a":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]}})", "x"), "no TensorFlow equivalent");
  fails(File(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", f4.substr(0, 4)), "non-negative integer");
  fails(File(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", f4.substr(0, 4)), "non-negative integer");
  fails(File(R"({"a":{"dtype":"F32","shape":[1]}})", f4.substr(0, 4)), "lacks \"data_offsets\"");
  fails(File(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", f4.substr(0, 4)), "two integers");
  fails(File(R"({"__metadata__":{"k":1}})", ""), "must be a string");
  fails(File(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,1]}})", "x"), "overflows");
  fails(File("{\"\xff\":1}", ""), "not valid UTF-8");
}

TEST_CASE("safetensors: dtype mapping covers the crate's dtypes", "[interop][safetensors]") {
  const std::map<DataType, std::string> expected = {
      {DataType::kBool, "BOOL"},   {DataType::kUint8, "U8"},    {DataType::kInt8, "I8"},
      {DataType::kInt16, "I16"},   {DataType::kUint16, "U16"},  {DataType::kHalf, "F16"},
      {DataType::kBfloat16, "BF16"}, {DataType::kInt32, "I32"}, {DataType::kUint32, "U32"},
      {DataType::kFloat, "F32"},   {DataType::kDouble, "F64"},  {DataType::kInt64, "I64"},
      {DataType::kUint64, "U64"},  {DataType::kComplex64, "C64"}, {DataType::kFloat8E5m2, "F8_E5M2"},
      {DataType::kFloat8E4m3fn, "F8_E4M3"},
  };
  for (const auto& [t, name] : expected) CHECK(wi::SafetensorsDtype(t) == name);
  for (DataType t : {DataType::kString, DataType::kComplex128, DataType::kQint8, DataType::kVariant,
                     DataType::kResource, DataType::kFloat8E4m3fnuz, DataType::kInt4}) {
    CHECK_FALSE(wi::SafetensorsDtype(t));
  }
}

}  // namespace
