// V1 checkpoint messages: wire round trips, packed and unpacked repeated fields,
// TensorProto values to V2 element bytes for every fixed-size dtype, and the two real
// V1 checkpoints (single-file SSTables, parsed by hand below).
#include "warmstart/proto/saved_slices.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "../realdata.hpp"

namespace {

using warmstart::ArgumentError;
using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::core::ByteView;
namespace proto = warmstart::proto;

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

std::string Le32(uint32_t v) {
  std::string s;
  warmstart::core::PutFixed32(&s, v);
  return s;
}

std::string Le64(uint64_t v) {
  std::string s;
  warmstart::core::PutFixed64(&s, v);
  return s;
}

std::string FloatBytes(float v) { return Le32(proto::detail::FloatBits(v)); }
std::string DoubleBytes(double v) { return Le64(proto::detail::DoubleBits(v)); }

proto::TensorProto Decode(const std::string& bytes, uint64_t base = 0) {
  return proto::DecodeTensorProto(ByteView(bytes), ErrorContext("t"), base);
}

proto::TensorProto EveryField() {
  proto::TensorProto t;
  t.dtype = 1;
  t.tensor_shape = proto::ShapeProto{{2, 3}, false};
  t.version_number = 7;
  t.tensor_content = std::string("\0\1\2", 3);
  t.half_val = {0x3c00, 0};
  t.float_val = {0.5f, -0.0f, std::nanf("0x123")};
  t.double_val = {1e300, -2.5};
  t.int_val = {-1, 0, 2147483647};
  t.string_val = {"", "a", std::string("\0b", 2)};
  t.scomplex_val = {1.0f, -1.0f};
  t.int64_val = {-9000000000LL, 1};
  t.bool_val = {true, false, true};
  t.dcomplex_val = {3.0, 4.0};
  t.uint32_val = {0xffffffffu, 0};
  t.uint64_val = {0xffffffffffffffffull, 42};
  return t;
}

// Requires: called inside a test; checks every value field and the message-level fields.
void CheckSameValues(const proto::TensorProto& a, const proto::TensorProto& b) {
  CHECK(a.dtype == b.dtype);
  CHECK(a.tensor_shape.has_value() == b.tensor_shape.has_value());
  if (a.tensor_shape && b.tensor_shape) CHECK(a.tensor_shape->dims == b.tensor_shape->dims);
  CHECK(a.version_number == b.version_number);
  CHECK(a.tensor_content == b.tensor_content);
  CHECK(a.half_val == b.half_val);
  REQUIRE(a.float_val.size() == b.float_val.size());
  for (size_t i = 0; i < a.float_val.size(); ++i) {  // bitwise: NaN payloads and -0 survive
    CHECK(proto::detail::FloatBits(a.float_val[i]) == proto::detail::FloatBits(b.float_val[i]));
  }
  CHECK(a.double_val == b.double_val);
  CHECK(a.int_val == b.int_val);
  CHECK(a.string_val == b.string_val);
  CHECK(a.scomplex_val == b.scomplex_val);
  CHECK(a.int64_val == b.int64_val);
  CHECK(a.bool_val == b.bool_val);
  CHECK(a.dcomplex_val == b.dcomplex_val);
  CHECK(a.uint32_val == b.uint32_val);
  CHECK(a.uint64_val == b.uint64_val);
}

void RequireFormatError(const std::function<void()>& fn, const std::string& reason) {
  try {
    fn();
    FAIL("expected a FormatError: " << reason);
  } catch (const FormatError& e) {
    CHECK(e.reason() == reason);
  }
}

// ---- A single-file SSTable, parsed just far enough for the tests (spec section 3) ----

struct TableEntry {
  std::string key;
  std::string value;
};

// Requires: an uncompressed block; restart points are not needed for a full scan.
void ReadBlockEntries(const std::string& file, uint64_t offset, uint64_t size, const ErrorContext& ctx,
                      std::vector<TableEntry>* out) {
  REQUIRE(offset + size + 5 <= file.size());
  REQUIRE(file[offset + size] == 0);  // block type: no compression
  REQUIRE(size >= 4);
  const ByteView block = ByteView(file).Sub(offset, size);
  const uint32_t num_restarts = warmstart::core::DecodeFixed32(block.data() + size - 4);
  REQUIRE(4 + 4 * uint64_t{num_restarts} <= size);
  warmstart::core::Cursor in(block.Sub(0, size - 4 - 4 * num_restarts), ctx, offset);
  std::string key;
  while (!in.empty()) {
    const uint32_t shared = in.ReadVarint32("shared");
    const uint32_t non_shared = in.ReadVarint32("non_shared");
    const uint32_t value_length = in.ReadVarint32("value_length");
    REQUIRE(shared <= key.size());
    key = key.substr(0, shared) + in.ReadBytes(non_shared, "key").ToString();
    out->push_back({key, in.ReadBytes(value_length, "value").ToString()});
  }
}

// Footer (last 48 bytes): metaindex handle, index handle (varint64 offset, size each), padding, magic.
std::vector<TableEntry> ReadTable(const std::string& file, const ErrorContext& ctx) {
  REQUIRE(file.size() >= 48);
  const uint8_t* end = reinterpret_cast<const uint8_t*>(file.data()) + file.size();
  REQUIRE(warmstart::core::DecodeFixed64(end - 8) == 0xdb4775248b80fb57ull);
  warmstart::core::Cursor footer(ByteView(file).Sub(file.size() - 48, 40), ctx, file.size() - 48);
  footer.ReadVarint64("metaindex offset");
  footer.ReadVarint64("metaindex size");
  const uint64_t index_offset = footer.ReadVarint64("index offset");
  const uint64_t index_size = footer.ReadVarint64("index size");
  std::vector<TableEntry> index, entries;
  ReadBlockEntries(file, index_offset, index_size, ctx, &index);
  for (const TableEntry& handle : index) {
    warmstart::core::Cursor h(ByteView(handle.value), ctx);
    const uint64_t offset = h.ReadVarint64("block offset");
    ReadBlockEntries(file, offset, h.ReadVarint64("block size"), ctx, &entries);
  }
  return entries;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Elements of a slice of `shape`: an extent without length spans its whole dimension.
int64_t SliceElements(const proto::ShapeProto& shape, const proto::SliceProto& slice) {
  int64_t n = 1;
  for (size_t d = 0; d < shape.dims.size(); ++d) {
    const bool has_length = d < slice.extents.size() && slice.extents[d].length.has_value();
    n *= has_length ? *slice.extents[d].length : shape.dims[d];
  }
  return n;
}

// Decodes a V1 checkpoint file; returns every tensor's element bytes by name.
std::map<std::string, std::string> ReadV1(const std::filesystem::path& path, size_t expected_tensors) {
  const std::string file = ReadFile(path);
  const ErrorContext ctx(path.string());
  const std::vector<TableEntry> entries = ReadTable(file, ctx);
  REQUIRE(entries.size() == expected_tensors + 1);
  REQUIRE(entries[0].key.empty());
  const proto::SavedTensorSlices head = proto::DecodeSavedTensorSlices(ByteView(entries[0].value), ctx, 0);
  REQUIRE(head.meta.has_value());
  CHECK_FALSE(head.data.has_value());
  CHECK(proto::EncodeSavedTensorSlices(head) == entries[0].value);
  REQUIRE(head.meta->tensor.size() == expected_tensors);
  std::map<std::string, const proto::SavedSliceMeta*> metas;
  for (const proto::SavedSliceMeta& m : head.meta->tensor) {
    CHECK(m.type == 1);  // DT_FLOAT
    metas[m.name] = &m;
  }

  std::map<std::string, std::string> tensors;
  for (size_t i = 1; i < entries.size(); ++i) {
    const ErrorContext at = ctx.WithKey(entries[i].key);
    const proto::SavedTensorSlices s = proto::DecodeSavedTensorSlices(ByteView(entries[i].value), at, 0);
    REQUIRE(s.data.has_value());
    CHECK(proto::EncodeSavedTensorSlices(s) == entries[i].value);
    REQUIRE(metas.count(s.data->name) == 1);
    const proto::SavedSliceMeta& meta = *metas[s.data->name];
    const int64_t n = SliceElements(meta.shape, s.data->slice);
    const std::string bytes = proto::TensorProtoToBytes(s.data->data, meta.type, n, at);
    CHECK(bytes.size() == static_cast<size_t>(n) * 4);
    tensors[s.data->name] = bytes;
  }
  CHECK(tensors.size() == expected_tensors);
  return tensors;
}

}  // namespace

TEST_CASE("TensorProto encodes like TF's serializer", "[proto][saved_slices]") {
  proto::TensorProto t;
  t.float_val = {0.5f};
  CHECK(proto::EncodeTensorProto(t) == Bytes({0x2a, 0x04, 0x00, 0x00, 0x00, 0x3f}));

  t = proto::TensorProto();
  t.dtype = 3;
  t.int_val = {-1};
  CHECK(proto::EncodeTensorProto(t) ==
        Bytes({0x08, 0x03, 0x3a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));

  t = proto::TensorProto();
  t.string_val = {"", "a"};
  t.bool_val = {true, false};
  CHECK(proto::EncodeTensorProto(t) == Bytes({0x42, 0x00, 0x42, 0x01, 'a', 0x5a, 0x02, 0x01, 0x00}));

  t = proto::TensorProto();
  t.tensor_shape = proto::ShapeProto();  // present but scalar: an empty message
  t.uint64_val = {1};
  CHECK(proto::EncodeTensorProto(t) == Bytes({0x12, 0x00, 0x8a, 0x01, 0x01, 0x01}));
  CHECK(proto::EncodeTensorProto(proto::TensorProto()).empty());
}

TEST_CASE("TensorProto round-trips every field", "[proto][saved_slices]") {
  const proto::TensorProto t = EveryField();
  const std::string bytes = proto::EncodeTensorProto(t);
  const proto::TensorProto back = Decode(bytes, 100);
  CheckSameValues(t, back);
  CHECK(back.offset == uint64_t{100});
  CHECK(proto::EncodeTensorProto(back) == bytes);
}

TEST_CASE("TensorProto reads repeated fields packed and unpacked alike", "[proto][saved_slices]") {
  proto::TensorProto t = EveryField();
  t.tensor_content.clear();
  t.tensor_shape.reset();
  t.string_val.clear();
  const std::string packed = proto::EncodeTensorProto(t);

  // The same values, one field per element (tags: number << 3 | wire type).
  std::string unpacked = Bytes({0x08, 0x01, 0x18, 0x07});
  for (int32_t v : t.half_val) {
    unpacked += Bytes({0x68});
    warmstart::core::PutVarint64(&unpacked, static_cast<uint64_t>(v));
  }
  for (float v : t.float_val) unpacked += Bytes({0x2d}) + FloatBytes(v);
  for (double v : t.double_val) unpacked += Bytes({0x31}) + DoubleBytes(v);
  for (int32_t v : t.int_val) {
    unpacked += Bytes({0x38});
    warmstart::core::PutVarint64(&unpacked, static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  for (float v : t.scomplex_val) unpacked += Bytes({0x4d}) + FloatBytes(v);
  for (int64_t v : t.int64_val) {
    unpacked += Bytes({0x50});
    warmstart::core::PutVarint64(&unpacked, static_cast<uint64_t>(v));
  }
  for (bool v : t.bool_val) unpacked += Bytes({0x58, v ? 1 : 0});
  for (double v : t.dcomplex_val) unpacked += Bytes({0x61}) + DoubleBytes(v);
  for (uint32_t v : t.uint32_val) {
    unpacked += Bytes({0x80, 0x01});
    warmstart::core::PutVarint64(&unpacked, v);
  }
  for (uint64_t v : t.uint64_val) {
    unpacked += Bytes({0x88, 0x01});
    warmstart::core::PutVarint64(&unpacked, v);
  }
  const proto::TensorProto a = Decode(packed);
  const proto::TensorProto b = Decode(unpacked);
  CheckSameValues(a, b);
  CheckSameValues(t, b);
  CHECK(proto::EncodeTensorProto(b) == packed);

  // Packed and unpacked runs of one field concatenate, as protobuf merges them.
  const proto::TensorProto mixed = Decode(Bytes({0x2d}) + FloatBytes(1.0f) + Bytes({0x2a, 0x04}) + FloatBytes(2.0f));
  CHECK(mixed.float_val == std::vector<float>{1.0f, 2.0f});
}

TEST_CASE("TensorProto rejects malformed repeated fields with their offsets", "[proto][saved_slices]") {
  // float_val packed with 3 bytes; the tag is at offset 2 (after dtype), absolute 10 + 2.
  const std::string odd = Bytes({0x08, 0x01, 0x2a, 0x03, 0x00, 0x00, 0x80});
  try {
    Decode(odd, 10);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(std::string(e.what()) == "t: offset 12: TensorProto: packed field 5 has 3 bytes, not a multiple of 4");
  }
  RequireFormatError([] { Decode(Bytes({0x31, 0x00})); }, "truncated TensorProto: need 8 bytes, 1 left");
  RequireFormatError([] { Decode(Bytes({0x28, 0x01})); },
                     "TensorProto: field 5 has wire type 0, expected 5 or 2 (packed)");
  RequireFormatError([] { Decode(Bytes({0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0x35, 0, 0, 0, 0})); },
                     "TensorProto: field 6 has wire type 5, expected 1 or 2 (packed)");
  RequireFormatError([] { Decode(Bytes({0x3d, 0, 0, 0, 0})); },
                     "TensorProto: field 7 has wire type 5, expected 2");
  RequireFormatError([] { Decode(Bytes({0x3a, 0x02, 0x80, 0x80})); },
                     "truncated varint in packed repeated field");
  // Unknown fields (resource_handle_val 14, variant_val 15, 99) are skipped.
  const proto::TensorProto skipped = Decode(Bytes({0x72, 0x01, 0x00, 0x7a, 0x00, 0x98, 0x06, 0x01, 0x2d}) +
                                            FloatBytes(3.0f));
  CHECK(skipped.float_val == std::vector<float>{3.0f});
}

TEST_CASE("SavedTensorSlices encodes the V1 meta record like TensorSliceWriter", "[proto][saved_slices]") {
  // The "" record of v1-serving-session-bundle-half-plus-two: scalars a and b, DT_FLOAT, producer 1.
  proto::SavedTensorSlices head;
  head.meta.emplace();
  for (const char* name : {"a", "b"}) {
    proto::SavedSliceMeta m;
    m.name = name;
    m.type = 1;
    m.slice.emplace_back();  // the full slice of a scalar: no extents
    head.meta->tensor.push_back(m);
  }
  head.meta->versions.producer = 1;
  const std::string expected = Bytes({0x0a, 0x1a, 0x0a, 0x09, 0x0a, 0x01, 'a', 0x12, 0x00, 0x18, 0x01, 0x22, 0x00,
                                      0x0a, 0x09, 0x0a, 0x01, 'b', 0x12, 0x00, 0x18, 0x01, 0x22, 0x00,
                                      0x12, 0x02, 0x08, 0x01});
  CHECK(proto::EncodeSavedTensorSlices(head) == expected);

  // The record of "a": SavedSlice {name "a", full slice, data {float_val 0.5}}.
  proto::SavedTensorSlices a;
  a.data.emplace();
  a.data->name = "a";
  a.data->data.float_val = {0.5f};
  const std::string a_bytes =
      Bytes({0x12, 0x0d, 0x0a, 0x01, 'a', 0x12, 0x00, 0x1a, 0x06, 0x2a, 0x04, 0x00, 0x00, 0x00, 0x3f});
  CHECK(proto::EncodeSavedTensorSlices(a) == a_bytes);
  const proto::SavedTensorSlices back = proto::DecodeSavedTensorSlices(ByteView(a_bytes), ErrorContext(), 50);
  REQUIRE(back.data.has_value());
  CHECK_FALSE(back.meta.has_value());
  CHECK(back.data->data.offset == uint64_t{50 + 9});
}

TEST_CASE("SavedTensorSlices round-trips shapes, slices and versions", "[proto][saved_slices]") {
  proto::SavedTensorSlices s;
  s.meta.emplace();
  proto::SavedSliceMeta m;
  m.name = "dense/kernel";
  m.shape.dims = {4, 10};
  m.type = 1;
  proto::SliceProto part;
  part.extents = {proto::ExtentProto{0, 2}, proto::ExtentProto{}};
  m.slice = {part, proto::SliceProto{{proto::ExtentProto{2, 2}, proto::ExtentProto{}}}};
  s.meta->tensor = {m};
  s.meta->versions = proto::VersionDef{21, 3, {5, -1}};
  s.data.emplace();
  s.data->name = "dense/kernel";
  s.data->slice = part;
  s.data->data.float_val.assign(20, 0.25f);

  const std::string bytes = proto::EncodeSavedTensorSlices(s);
  const proto::SavedTensorSlices back = proto::DecodeSavedTensorSlices(ByteView(bytes), ErrorContext(), 0);
  REQUIRE(back.meta.has_value());
  REQUIRE(back.meta->tensor.size() == 1);
  const proto::SavedSliceMeta& bm = back.meta->tensor[0];
  CHECK(bm.name == "dense/kernel");
  CHECK(bm.shape.dims == std::vector<int64_t>{4, 10});
  REQUIRE(bm.slice.size() == 2);
  CHECK(bm.slice[1].extents[0].start == 2);
  CHECK(bm.slice[1].extents[0].length == int64_t{2});
  CHECK_FALSE(bm.slice[1].extents[1].length.has_value());
  CHECK(back.meta->versions.producer == 21);
  CHECK(back.meta->versions.bad_consumers == std::vector<int32_t>{5, -1});
  REQUIRE(back.data.has_value());
  CHECK(back.data->data.float_val.size() == 20);
  CHECK(proto::EncodeSavedTensorSlices(back) == bytes);
  CHECK(proto::EncodeSavedTensorSlices(proto::SavedTensorSlices()).empty());
}

TEST_CASE("TensorProtoToBytes writes the V2 element bytes of every fixed-size dtype", "[proto][saved_slices]") {
  struct Case {
    int32_t dtype;
    proto::TensorProto p;
    int64_t n;
    std::string expected;
  };
  auto with = [](auto member, auto values) {
    proto::TensorProto p;
    p.*member = values;
    return p;
  };
  using P = proto::TensorProto;
  using I = std::vector<int32_t>;
  const std::vector<Case> cases = {
      {1, with(&P::float_val, std::vector<float>{1.0f, -2.0f}), 2, Bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0})},
      {2, with(&P::double_val, std::vector<double>{1.0}), 1, Bytes({0, 0, 0, 0, 0, 0, 0xf0, 0x3f})},
      {3, with(&P::int_val, I{1, -2}), 2, Bytes({1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff})},
      {4, with(&P::int_val, I{255, 1}), 2, Bytes({0xff, 0x01})},
      {5, with(&P::int_val, I{-2, 0x1234}), 2, Bytes({0xfe, 0xff, 0x34, 0x12})},
      {6, with(&P::int_val, I{-1, 5}), 2, Bytes({0xff, 0x05})},
      {8, with(&P::scomplex_val, std::vector<float>{1.0f, 2.0f}), 1, FloatBytes(1.0f) + FloatBytes(2.0f)},
      {9, with(&P::int64_val, std::vector<int64_t>{-2, int64_t{1} << 40}), 2,
       Le64(0xfffffffffffffffeull) + Le64(uint64_t{1} << 40)},
      {10, with(&P::bool_val, std::vector<bool>{true, false}), 2, Bytes({1, 0})},
      {11, with(&P::int_val, I{-128}), 1, Bytes({0x80})},
      {12, with(&P::int_val, I{200}), 1, Bytes({0xc8})},
      {13, with(&P::int_val, I{7}), 1, Bytes({7, 0, 0, 0})},
      {14, with(&P::half_val, I{0x3f80}), 1, Bytes({0x80, 0x3f})},
      {15, with(&P::int_val, I{-3}), 1, Bytes({0xfd, 0xff})},
      {16, with(&P::int_val, I{65535}), 1, Bytes({0xff, 0xff})},
      {17, with(&P::int_val, I{0xabcd}), 1, Bytes({0xcd, 0xab})},
      {18, with(&P::dcomplex_val, std::vector<double>{1.0, -1.0}), 1, DoubleBytes(1.0) + DoubleBytes(-1.0)},
      {19, with(&P::half_val, I{0x3c00, 0xc000}), 2, Bytes({0x00, 0x3c, 0x00, 0xc0})},
      {22, with(&P::uint32_val, std::vector<uint32_t>{0xdeadbeef}), 1, Bytes({0xef, 0xbe, 0xad, 0xde})},
      {23, with(&P::uint64_val, std::vector<uint64_t>{0x0102030405060708ull}), 1, Le64(0x0102030405060708ull)},
  };
  for (const Case& c : cases) {
    INFO("dtype " << c.dtype);
    CHECK(proto::TensorProtoToBytes(c.p, c.dtype, c.n, ErrorContext()) == c.expected);
    // The same bytes in tensor_content win over the typed field.
    proto::TensorProto content;
    content.dtype = c.dtype;
    content.tensor_content = c.expected;
    content.float_val = {9.0f};
    CHECK(proto::TensorProtoToBytes(content, c.dtype, c.n, ErrorContext()) == c.expected);
    // Through the wire and back; a single element repeats to fill the tensor.
    const proto::TensorProto decoded = Decode(proto::EncodeTensorProto(c.p));
    CHECK(proto::TensorProtoToBytes(decoded, c.dtype, c.n, ErrorContext()) == c.expected);
    if (c.n == 1) {
      CHECK(proto::TensorProtoToBytes(decoded, c.dtype, 3, ErrorContext()) == c.expected + c.expected + c.expected);
    }
  }
}

TEST_CASE("TensorProtoToBytes repeats a single value and rejects other count mismatches", "[proto][saved_slices]") {
  proto::TensorProto p;
  p.float_val = {1.5f};
  CHECK(proto::TensorProtoToBytes(p, 1, 3, ErrorContext()) == FloatBytes(1.5f) + FloatBytes(1.5f) + FloatBytes(1.5f));
  CHECK(proto::TensorProtoToBytes(p, 1, 1, ErrorContext()) == FloatBytes(1.5f));
  RequireFormatError([&] { proto::TensorProtoToBytes(p, 1, 0, ErrorContext()); },
                     "float_val has 1 elements, expected 0");
  p.float_val = {1.0f, 2.0f};
  RequireFormatError([&] { proto::TensorProtoToBytes(p, 1, 3, ErrorContext()); },
                     "float_val has 2 elements, expected 3");
  RequireFormatError([&] { proto::TensorProtoToBytes(p, 1, 1, ErrorContext()); },
                     "float_val has 2 elements, expected 1");
  p.float_val.clear();
  RequireFormatError([&] { proto::TensorProtoToBytes(p, 1, 2, ErrorContext()); },
                     "float_val has 0 elements, expected 2");
  CHECK(proto::TensorProtoToBytes(p, 1, 0, ErrorContext()).empty());
  // Values in another dtype's field do not count.
  p.int_val = {1, 2};
  RequireFormatError([&] { proto::TensorProtoToBytes(p, 1, 2, ErrorContext()); },
                     "float_val has 0 elements, expected 2");

  proto::TensorProto c;
  c.scomplex_val = {1.0f, 2.0f};
  CHECK(proto::TensorProtoToBytes(c, 8, 2, ErrorContext()) ==
        FloatBytes(1.0f) + FloatBytes(2.0f) + FloatBytes(1.0f) + FloatBytes(2.0f));
  c.scomplex_val = {1.0f, 2.0f, 3.0f};
  RequireFormatError([&] { proto::TensorProtoToBytes(c, 8, 2, ErrorContext()); },
                     "scomplex_val has 3 values, not whole (real, imaginary) pairs");
  c.scomplex_val.clear();
  c.dcomplex_val = {1.0, 2.0, 3.0, 4.0};
  RequireFormatError([&] { proto::TensorProtoToBytes(c, 18, 3, ErrorContext()); },
                     "dcomplex_val has 2 elements, expected 3");

  proto::TensorProto content;
  content.tensor_content = std::string(8, '\0');
  RequireFormatError([&] { proto::TensorProtoToBytes(content, 1, 3, ErrorContext()); },
                     "tensor_content has 8 bytes, expected 12 (3 elements of DT_FLOAT)");
  RequireFormatError([&] { proto::TensorProtoToBytes(content, 19, 1, ErrorContext()); },
                     "tensor_content has 8 bytes, expected 2 (1 elements of DT_HALF)");
}

TEST_CASE("TensorProtoToBytes errors name the file, key and the TensorProto's offset", "[proto][saved_slices]") {
  proto::SavedTensorSlices a;
  a.data.emplace();
  a.data->name = "a";
  a.data->data.float_val = {0.5f, 1.0f};
  const std::string bytes = proto::EncodeSavedTensorSlices(a);
  const ErrorContext ctx = ErrorContext("model.ckpt").WithKey("a");
  const proto::SavedTensorSlices back = proto::DecodeSavedTensorSlices(ByteView(bytes), ctx, 1000);
  try {
    proto::TensorProtoToBytes(back.data->data, 1, 3, ctx);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(std::string(e.what()) == "model.ckpt: key 'a': offset 1009: float_val has 2 elements, expected 3");
  }
  proto::TensorProto typed;
  typed.dtype = 3;
  typed.int_val = {1};
  RequireFormatError([&] { proto::TensorProtoToBytes(typed, 1, 1, ctx); },
                     "TensorProto has dtype 3, expected 1 (DT_FLOAT)");
  CHECK(proto::TensorProtoToBytes(typed, 3, 1, ctx) == Bytes({1, 0, 0, 0}));
}

TEST_CASE("TensorProtoToBytes refuses dtypes without a fixed size", "[proto][saved_slices]") {
  const proto::TensorProto p;
  CHECK_THROWS_WITH(proto::TensorProtoToBytes(p, 7, 1, ErrorContext()), Catch::Contains("use TensorProtoStrings"));
  for (int32_t dtype : {0, 7, 20, 21, 24, 101, -1}) {
    INFO("dtype " << dtype);
    CHECK_THROWS_AS(proto::TensorProtoToBytes(p, dtype, 1, ErrorContext()), ArgumentError);
  }
  CHECK_THROWS_AS(proto::TensorProtoToBytes(p, 1, -1, ErrorContext()), ArgumentError);
  CHECK_THROWS_AS(proto::TensorProtoToBytes(p, 18, int64_t{1} << 60, ErrorContext()), ArgumentError);
}

TEST_CASE("TensorProtoStrings reads string_val and string tensor_content", "[proto][saved_slices]") {
  proto::TensorProto p;
  p.string_val = {"a", "bc"};
  CHECK(proto::TensorProtoStrings(p, 2, ErrorContext()) == std::vector<std::string>{"a", "bc"});
  RequireFormatError([&] { proto::TensorProtoStrings(p, 3, ErrorContext()); }, "string_val has 2 elements, expected 3");
  p.string_val = {"x"};
  CHECK(proto::TensorProtoStrings(p, 3, ErrorContext()) == std::vector<std::string>{"x", "x", "x"});
  p.string_val.clear();
  CHECK(proto::TensorProtoStrings(p, 0, ErrorContext()).empty());
  p.dtype = 1;
  RequireFormatError([&] { proto::TensorProtoStrings(p, 0, ErrorContext()); },
                     "TensorProto has dtype 1, expected 7 (DT_STRING)");

  proto::TensorProto c;
  c.dtype = 7;
  c.tensor_content = Bytes({0x01, 0x02, 0x00}) + "abc";
  CHECK(proto::TensorProtoStrings(c, 3, ErrorContext()) == std::vector<std::string>{"a", "bc", ""});
  RequireFormatError([&] { proto::TensorProtoStrings(c, 2, ErrorContext()); },
                     "tensor_content has 1 bytes after 2 strings");
  c.tensor_content = Bytes({0x01, 0x05}) + "abc";
  RequireFormatError([&] { proto::TensorProtoStrings(c, 2, ErrorContext()); },
                     "tensor_content byte 3: string 1 of 5 bytes runs past the end (2 left)");
  c.tensor_content = Bytes({0x01, 0x01}) + "abc";
  RequireFormatError([&] { proto::TensorProtoStrings(c, 2, ErrorContext()); },
                     "tensor_content has 1 bytes after 2 strings");
  c.tensor_content = Bytes({0x80});
  RequireFormatError([&] { proto::TensorProtoStrings(c, 1, ErrorContext()); },
                     "tensor_content byte 0: truncated length of string 0");
  RequireFormatError([&] { proto::TensorProtoStrings(c, 2, ErrorContext()); },
                     "tensor_content has 1 bytes, too few for 2 string lengths");
  CHECK_THROWS_AS(proto::TensorProtoStrings(c, -1, ErrorContext()), ArgumentError);
}

TEST_CASE("V1 checkpoint of the SessionBundle half_plus_two export", "[proto][saved_slices][realdata]") {
  std::filesystem::path path;
  if (!warmstart::test::RequireRealData(
          "checkpoints/v1-serving-session-bundle-half-plus-two/export-00000-of-00001", &path)) {
    return;
  }
  REQUIRE(std::filesystem::file_size(path) == 169);
  const std::map<std::string, std::string> tensors = ReadV1(path, 2);
  CHECK(tensors.at("a") == FloatBytes(0.5f));
  CHECK(tensors.at("b") == FloatBytes(2.0f));
}

TEST_CASE("V1 checkpoint of a 2016 tf.train.Saver MLP", "[proto][saved_slices][realdata]") {
  std::filesystem::path path;
  if (!warmstart::test::RequireRealData("checkpoints/v1-nxt-tensorflow-2016/model.ckpt", &path)) return;
  const std::map<std::string, std::string> tensors = ReadV1(path, 14);
  CHECK(tensors.at("mweight").size() == 4 * 10 * 4);
  CHECK(tensors.at("mweight2").size() == 10 * 2 * 4);
}
