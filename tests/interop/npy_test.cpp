// interop/npy.hpp: a hand-built .npy (written out from the format definition), header
// encoding as numpy 1.24 does it, Fortran order and big-endian on read, .npz through the
// zip layer, every truncation, and numpy itself as a reference when python3 has it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <warmstart/interop/npy.hpp>

#include "tests/interop/interop_test_util.hpp"
#include "tests/realdata.hpp"

namespace {

namespace wi = warmstart::interop;
namespace bundle = warmstart::bundle;
using bundle::DataType;
using bundle::TensorShape;
using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::test::TempDir;
using namespace warmstart::test::interop;

template <class T>
std::string Raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// np.save(np.arange(6, dtype='<f4').reshape(2, 3)), written out by hand: magic, version 1.0,
// HLEN = 118 (0x76), the dict, 20 spaces of growth room (21 - len('2')), 38 spaces of
// padding so that 10 + 118 = 128 is a multiple of 64, '\n', then six little-endian floats.
std::string HandBuiltNpy() {
  std::string s = std::string("\x93NUMPY\x01\x00\x76\x00", 10);
  s += "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  s += std::string(20 + 38, ' ');
  s += '\n';
  s += Raw(std::vector<float>{0, 1, 2, 3, 4, 5});
  return s;
}

TEST_CASE("npy: the hand-built file reads and our header is byte-identical", "[interop][npy]") {
  const std::string file = HandBuiltNpy();
  REQUIRE(file.size() == 128 + 24);
  const wi::NpyArray a = wi::ReadNpy(ByteView(file), ErrorContext("hand.npy"));
  CHECK(a.dtype == DataType::kFloat);
  CHECK(a.shape.dims() == std::vector<int64_t>{2, 3});
  CHECK(a.header.data_offset == 128);
  CHECK(a.data.ToString() == Raw(std::vector<float>{0, 1, 2, 3, 4, 5}));
  CHECK(wi::EncodeNpyHeader(DataType::kFloat, TensorShape({2, 3})) == file.substr(0, 128));
}

TEST_CASE("npy: headers of scalars, vectors and every descr", "[interop][npy]") {
  const std::string scalar = wi::EncodeNpyHeader(DataType::kDouble, TensorShape({}));
  CHECK(scalar.size() % 64 == 0);
  CHECK(scalar.find("{'descr': '<f8', 'fortran_order': False, 'shape': (), }") == 10);
  CHECK(wi::EncodeNpyHeader(DataType::kBool, TensorShape({0})).find("'shape': (0,), }") != std::string::npos);
  CHECK(*wi::NpyDescr(DataType::kBool) == "|b1");
  CHECK(*wi::NpyDescr(DataType::kComplex64) == "<c8");
  CHECK(*wi::NpyDescr(DataType::kHalf) == "<f2");
  CHECK(*wi::NpyDescr(DataType::kUint8) == "|u1");
  CHECK(*wi::NpyDescr(DataType::kBfloat16) == "<V2");
  CHECK_FALSE(wi::NpyDescr(DataType::kString));
  CHECK_FALSE(wi::NpyDescr(DataType::kQint8));
  // A header too long for 1.0 is written as 2.0.
  std::vector<int64_t> dims(30000, 1);  // "(1, 1, ...)" is 90000 characters
  const std::string v2 = wi::EncodeNpyHeader(DataType::kFloat, TensorShape(dims));
  CHECK(v2[6] == 2);
  CHECK(v2.size() % 64 == 0);
  const wi::NpyHeader h = wi::ParseNpyHeader(ByteView(v2), ErrorContext("v2.npy"));
  CHECK(h.major == 2);
  CHECK(h.shape == dims);
}

TEST_CASE("npy: Fortran order and big-endian are converted on read", "[interop][npy]") {
  // shape (2, 3) int16 big-endian, Fortran order: columns stored first.
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }\n";
  file += static_cast<char>(dict.size());
  file += '\0';
  file += dict;
  // Elements a[i][j] = 10 * i + j, column-major: a00 a10 a01 a11 a02 a12.
  for (int v : {0, 10, 1, 11, 2, 12}) {
    file += static_cast<char>(v >> 8);
    file += static_cast<char>(v & 0xff);
  }
  const wi::NpyArray a = wi::ReadNpy(ByteView(file), ErrorContext("f.npy"));
  CHECK(a.dtype == DataType::kInt16);
  CHECK(a.data.ToString() == Raw(std::vector<int16_t>{0, 1, 2, 10, 11, 12}));
}

TEST_CASE("npy: bad headers and truncations are FormatErrors naming file and offset", "[interop][npy]") {
  const std::string good = HandBuiltNpy();
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string cut = good.substr(0, n);
    INFO("truncated to " << n);
    CHECK_THROWS_AS(wi::ReadNpy(ByteView(cut), ErrorContext("cut.npy")), FormatError);
  }
  const auto with_dict = [](const std::string& dict) {
    std::string s = std::string("\x93NUMPY\x01\x00", 8);
    s += static_cast<char>(dict.size());
    s += '\0';
    return s + dict;
  };
  const auto fails = [&](const std::string& dict, const std::string& what) {
    INFO(dict);
    const std::string f = with_dict(dict);
    CHECK_THROWS_WITH(wi::ReadNpy(ByteView(f), ErrorContext("bad.npy")),
                      Catch::StartsWith("bad.npy: offset ") && Catch::Contains(what));
  };
  fails("{'descr': '<f4', 'fortran_order': False}\n", "lacks");
  fails("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}\n", "unexpected key");
  fails("{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}\n", "True or False");
  fails("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", "non-negative integer");
  fails("{'descr': '<f16', 'fortran_order': False, 'shape': ()}\n", "no TensorFlow dtype");
  fails("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}\n", "structured");
  fails("{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n", "needs 4 bytes");
  fails("{'descr': '<V1', 'fortran_order': False, 'shape': ()}\n", "void type");
  const std::string bad_magic = "\x93NUMPX" + good.substr(6);
  CHECK_THROWS_WITH(wi::ReadNpy(ByteView(bad_magic), ErrorContext("m.npy")), Catch::StartsWith("m.npy: offset 0: not a .npy"));
}

TEST_CASE("npz: write, read back, comments carry bfloat16", "[interop][npy][npz]") {
  TempDir dir;
  const std::vector<wi::TensorSpec> specs = {
      {"layer/kernel", DataType::kFloat, TensorShape({2, 2})},
      {"bf", DataType::kBfloat16, TensorShape({3})},
      {"empty", DataType::kInt64, TensorShape({0, 4})},
  };
  const std::vector<std::string> data = {Raw(std::vector<float>{1, 2, 3, 4}), Raw(std::vector<uint16_t>{0x3f80, 0x4000, 0xc040}), ""};
  const std::string path = (dir / "t.npz").string();
  wi::WriteNpz(path, specs, [&](size_t i, std::vector<uint8_t>*) { return ByteView(data[i]); });
  const wi::NpzReader r = wi::NpzReader::Open(path);
  REQUIRE(r.names() == std::vector<std::string>{"layer/kernel", "bf", "empty"});
  std::string scratch;
  for (size_t i = 0; i < specs.size(); ++i) {
    const wi::NpyArray a = r.Read(i, &scratch);
    CHECK(a.dtype == specs[i].dtype);
    CHECK(a.shape.dims() == specs[i].shape.dims());
    CHECK(a.data.ToString() == data[i]);
  }
  CHECK(r.zip().entries()[1].comment == "dtype=DT_BFLOAT16");
  CHECK(r.zip().entries()[0].comment.empty());
}

TEST_CASE("npy/npz: numpy loads what we write and we read what numpy writes", "[interop][npy][npz][python]") {
  if (!RequirePythonNumpy()) return;
  TempDir dir;
  const std::vector<wi::TensorSpec> specs = {
      {"a/b", DataType::kFloat, TensorShape({2, 3})},      {"flag", DataType::kBool, TensorShape({3})},
      {"c", DataType::kComplex64, TensorShape({2})},       {"h", DataType::kHalf, TensorShape({})},
      {"bf", DataType::kBfloat16, TensorShape({2})},       {"z", DataType::kUint16, TensorShape({0})},
  };
  const std::vector<std::string> data = {
      Raw(std::vector<float>{0, 1, 2, 3, 4, 5.5f}), std::string("\x01\x00\x01", 3), Raw(std::vector<float>{1, -2, 3, 4}),
      Raw(std::vector<uint16_t>{0x3c00}), Raw(std::vector<uint16_t>{0x3f80, 0x4040}), ""};
  wi::WriteNpz((dir / "ours.npz").string(), specs, [&](size_t i, std::vector<uint8_t>*) { return ByteView(data[i]); });
  wi::WriteNpy((dir / "ours.npy").string(), specs[0], ByteView(data[0]));
  std::string out;
  int rc = RunPython(dir.path(), R"(
import numpy as np, io
d = np.load('ours.npz')
print(sorted(d.files))
print(d['a/b'].tolist(), d['flag'].tolist(), d['c'].tolist(), d['h'].tolist(), d['bf'].dtype.str, d['z'].shape)
print(np.load('ours.npy').tolist())
b = io.BytesIO(); np.save(b, np.arange(6, dtype='<f4').reshape(2, 3))
assert b.getvalue()[:128] == open('ours.npy', 'rb').read()[:128], 'header differs from numpy'
x = np.arange(12, dtype=np.float64).reshape(3, 4) / 4
np.savez('plain.npz', x=x, s=np.int32(-7), e=np.zeros((0, 2), np.int8))
np.savez_compressed('packed.npz', **{'x/y': np.asfortranarray(x), 'big': x.astype('>f8'), 'c': (x + 1j).astype(np.complex128)})
np.save('fortran.npy', np.asfortranarray(x.astype('>i4')))
)", &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out ==
        "['a/b', 'bf', 'c', 'flag', 'h', 'z']\n"
        "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.5]] [True, False, True] [(1-2j), (3+4j)] 1.0 |V2 (0,)\n"
        "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.5]]\n");
  std::vector<double> x;
  for (int i = 0; i < 12; ++i) x.push_back(i / 4.0);
  std::string scratch;
  for (const char* name : {"plain.npz", "packed.npz"}) {
    const wi::NpzReader r = wi::NpzReader::Open((dir / name).string());
    for (size_t i = 0; i < r.names().size(); ++i) {
      INFO(name << " " << r.names()[i]);
      const wi::NpyArray a = r.Read(i, &scratch);
      if (r.names()[i] == "x" || r.names()[i] == "x/y" || r.names()[i] == "big") {
        CHECK(a.dtype == DataType::kDouble);
        CHECK(a.shape.dims() == std::vector<int64_t>{3, 4});
        CHECK(a.data.ToString() == Raw(x));
      } else if (r.names()[i] == "s") {
        CHECK(a.data.ToString() == Raw(std::vector<int32_t>{-7}));
        CHECK(a.shape.rank() == 0);
      } else if (r.names()[i] == "e") {
        CHECK(a.dtype == DataType::kInt8);
        CHECK(a.data.empty());
      } else {
        CHECK(a.dtype == DataType::kComplex128);
        CHECK(a.data.size() == 12 * 16);
      }
    }
  }
  const std::string fortran = Slurp(dir / "fortran.npy");
  const wi::NpyArray f = wi::ReadNpy(ByteView(fortran), ErrorContext("fortran.npy"));
  std::vector<int32_t> xi(x.begin(), x.end());
  CHECK(f.data.ToString() == Raw(xi));
}

}  // namespace
