// ApplyPlan: a plan made by MakePlan over a checkpoint our BundleWriter wrote, applied to
// plain buffers. Layouts are checked at hand-computed positions and against their index
// formulas; every refusal is checked to leave the sentinel-filled destinations untouched.
#include "warmstart/restore/apply.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "realdata.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/restore/plan.hpp"

namespace {

using namespace warmstart::restore;
using warmstart::ArgumentError;
using warmstart::FormatError;
using warmstart::bundle::BundleReader;
using warmstart::bundle::BundleWriter;
using warmstart::bundle::TensorShape;
using warmstart::bundle::TensorSlice;
using warmstart::core::ByteView;
using warmstart::test::Says;
using warmstart::test::TempDir;

constexpr float kSentinel = -777.0f;

// 0, 1, 2, ...: a value names its source position.
std::vector<float> Iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return v;
}

template <class T>
ByteView View(const std::vector<T>& v) {
  return ByteView(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T));
}

const std::vector<float> kHalfValues = {0.5f, -1.25f, 65504.0f, 1e-7f};
const std::vector<float> kBf16Values = {1.5f, -3.0f, 1e30f, 0.1f};

// The checkpoint every test starts from (keys sorted as the plan lists them):
//   bias          float [5]            as-is
//   bf16          bfloat16 [4]
//   conv/kernel   float [2,3,4,5]      HWIO
//   dense/kernel  float [3,4]          [in, out]
//   dw/kernel     float [2,2,3,2]      [kh, kw, in, mult]
//   emb           float [4,3]          partitioned: rows 0-1 and 2-3
//   half          half [4]
//   int           int32 [3]
//   zz/last       float [6]            last in plan order: the one to corrupt
void WriteCheckpoint(const std::string& prefix) {
  BundleWriter w(prefix);
  w.Add("bias", Iota(5), TensorShape{5});
  std::vector<Eigen::bfloat16> bf;
  for (float f : kBf16Values) bf.push_back(Eigen::bfloat16(f));
  w.Add("bf16", bf, TensorShape{4});
  w.Add("conv/kernel", Iota(120), TensorShape{2, 3, 4, 5});
  w.Add("dense/kernel", Iota(12), TensorShape{3, 4});
  w.Add("dw/kernel", Iota(24), TensorShape{2, 2, 3, 2});
  const std::vector<float> emb = Iota(12);
  const std::vector<float> top(emb.begin(), emb.begin() + 6), bottom(emb.begin() + 6, emb.end());
  w.AddSlice("emb", TensorShape{4, 3}, TensorSlice::Parse("2,2:-"), warmstart::bundle::DataType::kFloat, View(bottom));
  w.AddSlice("emb", TensorShape{4, 3}, TensorSlice::Parse("0,2:-"), warmstart::bundle::DataType::kFloat, View(top));
  std::vector<Eigen::half> half;
  for (float f : kHalfValues) half.push_back(Eigen::half(f));
  w.Add("half", half, TensorShape{4});
  w.Add("int", std::vector<int32_t>{1, 16777217, -5}, TensorShape{3});
  w.Add("zz/last", Iota(6), TensorShape{6});
  w.Finish();
}

// A warmstart "full" plan restoring every listed tensor (or only `names`) by its own name.
template <class Fs>
RestorePlan PlanFor(const BundleReader<Fs>& reader, const std::vector<std::string>& names = {},
                    std::vector<std::string> freeze = {}) {
  const CheckpointListing listing = CheckpointListing::FromReader(reader);
  std::vector<ModelVariable> model;
  for (const CheckpointTensor& t : listing.tensors()) {
    if (!names.empty() && std::find(names.begin(), names.end(), t.key) == names.end()) continue;
    ModelVariable v;
    v.name = t.key;
    v.dtype = t.dtype;
    v.shape = t.shape;
    model.push_back(v);
  }
  FineTuneSettings s;
  s.fine_tune_checkpoint = reader.prefix();
  s.fine_tune_checkpoint_type = "full";
  s.meta_arch = warmstart::config::MetaArch::kSsd;
  s.meta_arch_name = "ssd";
  s.freeze_variables = std::move(freeze);
  PlanOptions o;
  o.profile = Profile::kWarmstart;
  return MakePlan(model, &listing, s, o);
}

// Sentinel-filled buffers, one per variable, each of some dtype and shape.
class Buffers {
 public:
  // `count` elements of `dtype`, shaped `shape`, laid out by `layout`.
  void Add(const std::string& name, DataType dtype, Shape shape, Layout layout = Layout::kAsIs) {
    const size_t n = static_cast<size_t>(NumElements(shape));
    std::vector<uint8_t>& b = bytes_[name];
    b.resize(n * static_cast<size_t>(warmstart::bundle::DataTypeSize(dtype)));
    Fill(&b, dtype);
    dest_[name] = Destination{b.data(), dtype, std::move(shape), layout};
  }
  DestinationResolver Resolver() {
    return [this](const PlannedVariable& v) -> std::optional<Destination> {
      auto it = dest_.find(v.name());
      if (it == dest_.end()) return std::nullopt;
      return it->second;
    };
  }
  template <class T>
  std::vector<T> Get(const std::string& name) const {
    const std::vector<uint8_t>& b = bytes_.at(name);
    std::vector<T> out(b.size() / sizeof(T));
    std::memcpy(out.data(), b.data(), b.size());
    return out;
  }
  // Every buffer still holds only the sentinel.
  bool Untouched() const {
    for (const auto& [name, b] : bytes_) {
      std::vector<uint8_t> fresh(b.size());
      Fill(&fresh, dest_.at(name).dtype);
      if (fresh != b) return false;
    }
    return true;
  }

 private:
  static void Fill(std::vector<uint8_t>* b, DataType dtype) {
    if (dtype == DataType::kFloat) {
      for (size_t i = 0; i + 4 <= b->size(); i += 4) std::memcpy(b->data() + i, &kSentinel, 4);
    } else {
      std::fill(b->begin(), b->end(), uint8_t{0xAB});
    }
  }
  std::map<std::string, std::vector<uint8_t>> bytes_;
  std::map<std::string, Destination> dest_;
};

// Destinations for every tensor of the checkpoint, as-is and in its own dtype, except
// those the test sets otherwise.
void AddDefaults(Buffers* b, const std::vector<std::string>& except = {}) {
  const auto want = [&](const char* name) { return std::find(except.begin(), except.end(), name) == except.end(); };
  if (want("bias")) b->Add("bias", DataType::kFloat, {5});
  if (want("bf16")) b->Add("bf16", DataType::kBfloat16, {4});
  if (want("conv/kernel")) b->Add("conv/kernel", DataType::kFloat, {2, 3, 4, 5});
  if (want("dense/kernel")) b->Add("dense/kernel", DataType::kFloat, {3, 4});
  if (want("dw/kernel")) b->Add("dw/kernel", DataType::kFloat, {2, 2, 3, 2});
  if (want("emb")) b->Add("emb", DataType::kFloat, {4, 3});
  if (want("half")) b->Add("half", DataType::kHalf, {4});
  if (want("int")) b->Add("int", DataType::kInt32, {3});
  if (want("zz/last")) b->Add("zz/last", DataType::kFloat, {6});
}

struct Fixture {
  TempDir dir;
  std::string prefix = (dir / "model.ckpt").string();
  Fixture() { WriteCheckpoint(prefix); }
  BundleReader<> Open() const { return BundleReader<>::Open(prefix); }
};

}  // namespace

TEST_CASE("apply: every restored tensor copied as-is", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  const RestorePlan plan = PlanFor(reader);
  REQUIRE(plan.ok());
  REQUIRE(plan.counts().restored == 9);
  Buffers b;
  AddDefaults(&b);
  const ApplyReport report = ApplyPlan(plan, reader, b.Resolver());
  CHECK(report.tensors == 9);
  CHECK(report.bytes == 4 * (5 + 120 + 12 + 24 + 12 + 3 + 6) + 2 * (4 + 4));
  CHECK(report.converted.empty());
  CHECK(report.laid_out.empty());
  CHECK(b.Get<float>("bias") == Iota(5));
  CHECK(b.Get<float>("conv/kernel") == Iota(120));
  CHECK(b.Get<float>("emb") == Iota(12));  // assembled from its two slices
  CHECK(b.Get<int32_t>("int") == std::vector<int32_t>{1, 16777217, -5});
  const std::vector<Eigen::half> half = b.Get<Eigen::half>("half");
  for (size_t i = 0; i < half.size(); ++i) CHECK(static_cast<float>(half[i]) == static_cast<float>(Eigen::half(kHalfValues[i])));
}

TEST_CASE("apply: OIHW from HWIO", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  b.Add("conv/kernel", DataType::kFloat, {5, 4, 2, 3}, Layout::kOihwFromHwio);
  const ApplyReport report = ApplyPlan(PlanFor(reader, {"conv/kernel"}), reader, b.Resolver());
  CHECK(report.laid_out == std::vector<std::string>{"conv/kernel: OIHW-from-HWIO"});
  const std::vector<float> dst = b.Get<float>("conv/kernel");
  // Source [kh=2, kw=3, in=4, out=5]: src[h,w,i,o] = ((h*3 + w)*4 + i)*5 + o.
  // dst[o=0,i=0,h=0,w=1] (flat 1) = src[0,1,0,0] = 20.
  CHECK(dst[1] == 20);
  // dst[o=1,i=2,h=0,w=1] (flat ((1*4+2)*2+0)*3+1 = 37) = src[0,1,2,1] = (4+2)*5+1 = 31.
  CHECK(dst[37] == 31);
  // dst[o=4,i=0,h=1,w=0] (flat (4*4*2+1)*3 = 99) = src[1,0,0,4] = 3*4*5+4 = 64.
  CHECK(dst[99] == 64);
  for (int o = 0; o < 5; ++o)
    for (int i = 0; i < 4; ++i)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 3; ++w) CHECK(dst[((o * 4 + i) * 2 + h) * 3 + w] == ((h * 3 + w) * 4 + i) * 5 + o);
}

TEST_CASE("apply: depthwise kernel to [in*mult, 1, kh, kw]", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  b.Add("dw/kernel", DataType::kFloat, {6, 1, 2, 2}, Layout::kDepthwiseFromHwio);
  ApplyPlan(PlanFor(reader, {"dw/kernel"}), reader, b.Resolver());
  const std::vector<float> dst = b.Get<float>("dw/kernel");
  // Source [kh=2, kw=2, in=3, mult=2]: src[h,w,c,m] = ((h*2 + w)*3 + c)*2 + m; torch output
  // channel c*mult + m. dst[ch=0,h=0,w=1] (flat 1) = src[0,1,0,0] = 6.
  CHECK(dst[1] == 6);
  // dst[ch=3 (c=1,m=1), h=1, w=0] (flat 3*4 + 2 = 14) = src[1,0,1,1] = (2*3+1)*2+1 = 15.
  CHECK(dst[14] == 15);
  for (int c = 0; c < 3; ++c)
    for (int m = 0; m < 2; ++m)
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 2; ++w) CHECK(dst[((c * 2 + m) * 2 + h) * 2 + w] == ((h * 2 + w) * 3 + c) * 2 + m);
}

TEST_CASE("apply: dense kernel transposed, also from a partitioned tensor", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  b.Add("dense/kernel", DataType::kFloat, {4, 3}, Layout::kDenseTransposed);
  b.Add("emb", DataType::kFloat, {3, 4}, Layout::kDenseTransposed);
  ApplyPlan(PlanFor(reader, {"dense/kernel", "emb"}), reader, b.Resolver());
  const std::vector<float> dense = b.Get<float>("dense/kernel");
  // src [in=3, out=4]: src[i,j] = i*4 + j; dst[j,i] at j*3 + i.
  CHECK(dense[1] == 4);   // dst[0,1] = src[1,0]
  CHECK(dense[5] == 9);   // dst[1,2] = src[2,1]
  CHECK(dense[11] == 11);
  const std::vector<float> emb = b.Get<float>("emb");
  // src [4, 3]: src[i,j] = i*3 + j; dst [3, 4]: dst[j,i] at j*4 + i.
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) CHECK(emb[j * 4 + i] == i * 3 + j);
}

TEST_CASE("apply: half and bfloat16 widened to float, int32 to double and int64", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  b.Add("half", DataType::kFloat, {4});
  b.Add("bf16", DataType::kFloat, {4});
  b.Add("int", DataType::kDouble, {3});
  const ApplyReport report = ApplyPlan(PlanFor(reader, {"half", "bf16", "int"}), reader, b.Resolver());
  CHECK(report.converted ==
        std::vector<std::string>{"bf16: DT_BFLOAT16 -> DT_FLOAT", "half: DT_HALF -> DT_FLOAT", "int: DT_INT32 -> DT_DOUBLE"});
  const std::vector<float> half = b.Get<float>("half"), bf = b.Get<float>("bf16");
  for (size_t i = 0; i < 4; ++i) {
    CHECK(half[i] == static_cast<float>(Eigen::half(kHalfValues[i])));
    CHECK(bf[i] == static_cast<float>(Eigen::bfloat16(kBf16Values[i])));
  }
  CHECK(half[2] == 65504.0f);
  CHECK(half[3] > 0);  // a half subnormal survives
  CHECK(b.Get<double>("int") == std::vector<double>{1, 16777217, -5});

  Buffers wide;
  wide.Add("int", DataType::kInt64, {3});
  ApplyPlan(PlanFor(reader, {"int"}), reader, wide.Resolver());
  CHECK(wide.Get<int64_t>("int") == std::vector<int64_t>{1, 16777217, -5});
}

TEST_CASE("apply: lossy conversions refused unless allowed, nothing written", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  const RestorePlan plan = PlanFor(reader);
  Buffers b;
  AddDefaults(&b, {"int", "zz/last"});
  b.Add("int", DataType::kFloat, {3});     // int32 -> float: not exact above 2^24
  b.Add("zz/last", DataType::kHalf, {6});  // float -> half
  CHECK_THROWS_MATCHES(ApplyPlan(plan, reader, b.Resolver()), ArgumentError,
                       Says("cannot apply the restore plan, nothing was written: variable 'int': DT_INT32 -> DT_FLOAT "
                            "loses precision or range; set ApplyOptions::allow_lossy to accept it; variable 'zz/last': "
                            "DT_FLOAT -> DT_HALF loses precision or range"));
  CHECK(b.Untouched());

  ApplyOptions lossy;
  lossy.allow_lossy = true;
  const ApplyReport report = ApplyPlan(plan, reader, b.Resolver(), lossy);
  CHECK(report.tensors == 9);
  CHECK(std::find(report.converted.begin(), report.converted.end(), "int: DT_INT32 -> DT_FLOAT (lossy)") !=
        report.converted.end());
  CHECK(b.Get<float>("int") == std::vector<float>{1, 16777216, -5});  // 2^24 + 1 rounds to even
  const std::vector<Eigen::half> last = b.Get<Eigen::half>("zz/last");
  for (size_t i = 0; i < last.size(); ++i) CHECK(static_cast<float>(last[i]) == static_cast<float>(i));
}

TEST_CASE("apply: float to integer is refused even when lossy is allowed", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  b.Add("bias", DataType::kInt32, {5});
  ApplyOptions lossy;
  lossy.allow_lossy = true;
  CHECK_THROWS_MATCHES(ApplyPlan(PlanFor(reader, {"bias"}), reader, b.Resolver(), lossy), ArgumentError,
                       Says("variable 'bias': DT_FLOAT -> DT_INT32 is not a conversion warmstart performs"));
  CHECK(b.Untouched());
}

TEST_CASE("apply: conversion table", "[restore][apply]") {
  using DT = DataType;
  const auto c = [](DT a, DT b) { return ClassifyConversion(a, b); };
  CHECK(c(DT::kFloat, DT::kFloat) == Conversion::kExact);
  CHECK(c(DT::kQint8, DT::kQint8) == Conversion::kExact);
  CHECK(c(DT::kString, DT::kString) == Conversion::kRefused);
  CHECK(c(DT::kHalf, DT::kFloat) == Conversion::kLossless);
  CHECK(c(DT::kBfloat16, DT::kDouble) == Conversion::kLossless);
  CHECK(c(DT::kFloat, DT::kDouble) == Conversion::kLossless);
  CHECK(c(DT::kHalf, DT::kBfloat16) == Conversion::kLossy);  // bfloat16 has fewer bits
  CHECK(c(DT::kBfloat16, DT::kHalf) == Conversion::kLossy);  // half has less range
  CHECK(c(DT::kFloat, DT::kBfloat16) == Conversion::kLossy);
  CHECK(c(DT::kDouble, DT::kFloat) == Conversion::kLossy);
  CHECK(c(DT::kInt8, DT::kInt16) == Conversion::kLossless);
  CHECK(c(DT::kInt8, DT::kBfloat16) == Conversion::kLossless);
  CHECK(c(DT::kUint8, DT::kInt16) == Conversion::kLossless);
  CHECK(c(DT::kInt16, DT::kFloat) == Conversion::kLossless);
  CHECK(c(DT::kInt16, DT::kHalf) == Conversion::kLossy);
  CHECK(c(DT::kInt32, DT::kDouble) == Conversion::kLossless);
  CHECK(c(DT::kInt32, DT::kFloat) == Conversion::kLossy);
  CHECK(c(DT::kInt32, DT::kInt64) == Conversion::kLossless);
  CHECK(c(DT::kUint32, DT::kInt32) == Conversion::kRefused);
  CHECK(c(DT::kInt32, DT::kUint32) == Conversion::kRefused);  // negative values
  CHECK(c(DT::kInt64, DT::kInt32) == Conversion::kRefused);
  CHECK(c(DT::kInt64, DT::kDouble) == Conversion::kLossy);
  CHECK(c(DT::kFloat, DT::kInt64) == Conversion::kRefused);
  CHECK(c(DT::kBool, DT::kFloat) == Conversion::kLossless);
  CHECK(c(DT::kUint8, DT::kBool) == Conversion::kRefused);
  CHECK(c(DT::kComplex64, DT::kComplex128) == Conversion::kLossless);
  CHECK(c(DT::kComplex128, DT::kComplex64) == Conversion::kLossy);
  CHECK(c(DT::kComplex64, DT::kFloat) == Conversion::kRefused);
  CHECK(c(DT::kQint8, DT::kInt8) == Conversion::kRefused);
  CHECK(c(DT::kFloat8E4m3fn, DT::kFloat) == Conversion::kRefused);
}

TEST_CASE("apply: missing destinations are all named and nothing is written", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  AddDefaults(&b, {"dw/kernel", "int"});
  CHECK_THROWS_MATCHES(ApplyPlan(PlanFor(reader), reader, b.Resolver()), ArgumentError,
                       Says("model.ckpt.index: cannot apply the restore plan, nothing was written: the trainer has no "
                            "destination for 2 restored variables: 'dw/kernel', 'int'"));
  CHECK(b.Untouched());
}

TEST_CASE("apply: shapes and layouts that do not fit are listed together", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  Buffers b;
  AddDefaults(&b, {"bias", "conv/kernel", "dense/kernel", "dw/kernel"});
  b.Add("bias", DataType::kFloat, {5, 1});
  b.Add("conv/kernel", DataType::kFloat, {5, 4, 3, 2}, Layout::kOihwFromHwio);  // kh, kw swapped
  b.Add("dense/kernel", DataType::kFloat, {4, 3}, Layout::kOihwFromHwio);
  b.Add("dw/kernel", DataType::kFloat, {3, 2, 2, 2}, Layout::kDepthwiseFromHwio);
  try {
    ApplyPlan(PlanFor(reader), reader, b.Resolver());
    FAIL("no exception");
  } catch (const ArgumentError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("variable 'bias': destination shape [5, 1] is not the checkpoint's [5] laid out "
                                     "as-is ([5])"));
    CHECK_THAT(what, Catch::Contains("variable 'conv/kernel': destination shape [5, 4, 3, 2] is not the checkpoint's "
                                     "[2, 3, 4, 5] laid out OIHW-from-HWIO ([5, 4, 2, 3])"));
    CHECK_THAT(what, Catch::Contains("variable 'dense/kernel': layout OIHW-from-HWIO needs a rank-4 [kh, kw, in, out] "
                                     "kernel, the checkpoint has [3, 4]"));
    CHECK_THAT(what, Catch::Contains("variable 'dw/kernel': destination shape [3, 2, 2, 2] is not the checkpoint's "
                                     "[2, 2, 3, 2] laid out depthwise-from-HWIO ([6, 1, 2, 2])"));
  }
  CHECK(b.Untouched());
}

TEST_CASE("apply: a corrupt payload fails validation and nothing is written", "[restore][apply]") {
  Fixture f;
  uint64_t offset = 0;
  {
    const auto probe = f.Open();
    offset = static_cast<uint64_t>(probe.Get("zz/last").offset);
  }
  const std::string data = f.prefix + ".data-00000-of-00001";
  {
    std::fstream io(data, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(offset + 5));
    char c = 0;
    io.get(c);
    io.seekp(static_cast<std::streamoff>(offset + 5));
    io.put(static_cast<char>(c ^ 0x40));
  }
  const auto reader = f.Open();
  const RestorePlan plan = PlanFor(reader);
  Buffers b;
  AddDefaults(&b);
  CHECK_THROWS_MATCHES(ApplyPlan(plan, reader, b.Resolver()), FormatError,
                       Says("model.ckpt.data-00000-of-00001: key 'zz/last': offset " + std::to_string(offset) +
                            ": checksum mismatch for 24 bytes"));
  CHECK(b.Untouched());

  size_t delivered = 0;
  const TensorSink count = [&](const PlannedVariable&, const void*, DataType, const Shape&) { ++delivered; };
  CHECK_THROWS_AS(ApplyPlan(plan, reader, count), FormatError);
  CHECK(delivered == 0);

  // Without verification the flipped byte goes through: that is what verify_crc is for.
  ApplyOptions trusting;
  trusting.verify_crc = false;
  ApplyPlan(plan, reader, b.Resolver(), trusting);
  CHECK(b.Get<float>("zz/last")[1] != 1.0f);
  CHECK(b.Get<float>("bias") == Iota(5));
}

TEST_CASE("apply: the sink receives each tensor in the checkpoint's dtype and layout", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  std::map<std::string, std::pair<DataType, Shape>> seen;
  std::vector<float> conv, emb;
  const TensorSink sink = [&](const PlannedVariable& v, const void* bytes, DataType dtype, const Shape& shape) {
    seen[v.name()] = {dtype, shape};
    const size_t n = static_cast<size_t>(NumElements(shape));
    CHECK(reinterpret_cast<uintptr_t>(bytes) % static_cast<uintptr_t>(warmstart::bundle::SwapUnit(dtype)) == 0);
    if (v.name() == "conv/kernel") conv.assign(static_cast<const float*>(bytes), static_cast<const float*>(bytes) + n);
    if (v.name() == "emb") emb.assign(static_cast<const float*>(bytes), static_cast<const float*>(bytes) + n);
  };
  const ApplyReport report = ApplyPlan(PlanFor(reader), reader, sink);
  CHECK(report.tensors == 9);
  CHECK(seen.size() == 9);
  CHECK(seen.at("half").first == DataType::kHalf);
  CHECK(seen.at("conv/kernel").second == Shape{2, 3, 4, 5});
  CHECK(conv == Iota(120));
  CHECK(emb == Iota(12));
  CHECK(report.converted.empty());
}

TEST_CASE("apply: a plan that is not ok is refused", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  const RestorePlan plan = PlanFor(reader, {}, {".*"});  // freezes everything: nothing to train
  REQUIRE(!plan.ok());
  Buffers b;
  AddDefaults(&b);
  CHECK_THROWS_MATCHES(ApplyPlan(plan, reader, b.Resolver()), ArgumentError,
                       Says("the restore plan failed, so it cannot be applied: " + plan.error));
  CHECK(b.Untouched());
  // A plain lambda picks the sink overload.
  CHECK_THROWS_AS(ApplyPlan(plan, reader, [](const PlannedVariable&, const void*, DataType, const Shape&) {}),
                  ArgumentError);
}

TEST_CASE("apply: a plan made for another checkpoint is refused", "[restore][apply]") {
  Fixture f;
  const auto reader = f.Open();
  const RestorePlan plan = PlanFor(reader);
  TempDir other;
  const std::string prefix = (other / "other.ckpt").string();
  {
    BundleWriter w(prefix);
    w.Add("bias", Iota(6), TensorShape{6});
    w.Finish();
  }
  const auto other_reader = BundleReader<>::Open(prefix);
  Buffers b;
  AddDefaults(&b);
  try {
    ApplyPlan(plan, other_reader, b.Resolver());
    FAIL("no exception");
  } catch (const ArgumentError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("variable 'bias': the plan says DT_FLOAT [5], the checkpoint has "
                                                      "DT_FLOAT [6] (the plan was made for another checkpoint)"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("variable 'conv/kernel': the checkpoint has no tensor "
                                                      "'conv/kernel'"));
  }
  CHECK(b.Untouched());
}

TEST_CASE("apply: string tensors are refused", "[restore][apply]") {
  TempDir dir;
  const std::string prefix = (dir / "s.ckpt").string();
  {
    BundleWriter w(prefix);
    w.Add("a", Iota(2), TensorShape{2});
    w.AddStrings("names", TensorShape{2}, std::vector<std::string>{"x", "y"});
    w.Finish();
  }
  const auto reader = BundleReader<>::Open(prefix);
  Buffers b;
  b.Add("a", DataType::kFloat, {2});
  b.Add("names", DataType::kUint8, {2});
  const RestorePlan plan = PlanFor(reader);
  CHECK_THROWS_MATCHES(ApplyPlan(plan, reader, b.Resolver()), ArgumentError,
                       Says("variable 'names': DT_STRING tensors have no fixed-size elements to copy into a buffer"));
  CHECK(b.Untouched());
  const TensorSink sink = [](const PlannedVariable&, const void*, DataType, const Shape&) {};
  CHECK_THROWS_MATCHES(ApplyPlan(plan, reader, sink), ArgumentError, Says("DT_STRING tensors"));
}

TEST_CASE("apply: a big-endian bundle is swapped to host order", "[restore][apply]") {
  warmstart::test::BundleOptions o;
  o.big_endian = true;
  warmstart::test::BundleBuilder builder(o);
  builder.AddValues("dense", TensorShape{2, 3}, Iota(6));
  std::vector<Eigen::half> half;
  for (float x : kHalfValues) half.push_back(Eigen::half(x));
  builder.AddValues("half", TensorShape{4}, half);
  builder.AddValues("wide", TensorShape{2}, std::vector<double>{1.5, -2.25});
  const warmstart::test::Files files = builder.Build("be");
  const auto fs = warmstart::test::MemoryFs(files);
  const auto reader = BundleReader<warmstart::core::MemoryFileSystem>::Open("be", fs);
  REQUIRE(reader.endianness() == warmstart::bundle::Endianness::kBig);
  const RestorePlan plan = PlanFor(reader);
  REQUIRE(plan.ok());

  Buffers b;
  b.Add("dense", DataType::kFloat, {3, 2}, Layout::kDenseTransposed);
  b.Add("half", DataType::kFloat, {4});
  b.Add("wide", DataType::kDouble, {2});
  ApplyPlan(plan, reader, b.Resolver());
  CHECK(b.Get<float>("dense") == std::vector<float>{0, 3, 1, 4, 2, 5});
  const std::vector<float> h = b.Get<float>("half");
  for (size_t i = 0; i < 4; ++i) CHECK(h[i] == static_cast<float>(Eigen::half(kHalfValues[i])));
  CHECK(b.Get<double>("wide") == std::vector<double>{1.5, -2.25});

  std::vector<double> wide;
  const TensorSink sink = [&](const PlannedVariable& v, const void* bytes, DataType, const Shape&) {
    if (v.name() == "wide") wide.assign(static_cast<const double*>(bytes), static_cast<const double*>(bytes) + 2);
  };
  ApplyPlan(plan, reader, sink);
  CHECK(wide == std::vector<double>{1.5, -2.25});
}

TEST_CASE("apply: empty tensors and a null pointer for them", "[restore][apply]") {
  TempDir dir;
  const std::string prefix = (dir / "e.ckpt").string();
  {
    BundleWriter w(prefix);
    w.Add("empty", std::vector<float>{}, TensorShape{0, 3});
    w.Finish();
  }
  const auto reader = BundleReader<>::Open(prefix);
  // A plain lambda picks the resolver overload.
  const ApplyReport report = ApplyPlan(PlanFor(reader), reader, [](const PlannedVariable&) -> std::optional<Destination> {
    return Destination{nullptr, DataType::kDouble, {3, 0}, Layout::kDenseTransposed};
  });
  CHECK(report.tensors == 1);
  CHECK(report.bytes == 0);
}
