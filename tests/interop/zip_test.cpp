// interop/zip.hpp: CRC-32 against the published check value, inflate against hand-built
// streams and Python's zlib, the writer against Python's zipfile, and every truncation and
// corruption of a small archive (FormatError, never a crash).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include <warmstart/interop/zip.hpp>

#include "tests/interop/interop_test_util.hpp"
#include "tests/realdata.hpp"

namespace {

namespace wi = warmstart::interop;
using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::core::ByteView;
using warmstart::test::TempDir;
using namespace warmstart::test::interop;

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s += static_cast<char>(b);
  return s;
}

std::string InflateString(const std::string& raw, size_t expected) {
  return wi::Inflate(ByteView(raw), expected, ErrorContext("t.zip"), 0);
}

std::string WriteSmallZip(const TempDir& dir, wi::ZipWriterOptions options = {}) {
  const std::string path = (dir / "small.zip").string();
  wi::ZipWriter w(path, options);
  const std::string a = "hello, world", b = "second member";
  w.Add("a.npy", {ByteView(a)});
  w.Add("dir/b.npy", {ByteView(b).Sub(0, 6), ByteView(b).Sub(6, b.size() - 6)}, "dtype=DT_BFLOAT16");
  w.Finish();
  return path;
}

TEST_CASE("zip: CRC-32 check value and incremental use", "[interop][zip]") {
  const std::string check = "123456789";
  CHECK(wi::Crc32(ByteView(check)) == 0xcbf43926u);  // the CRC-32/ISO-HDLC check value
  CHECK(wi::Crc32(ByteView()) == 0u);
  const uint32_t part = wi::Crc32Extend(0, ByteView(check).data(), 4);
  CHECK(wi::Crc32Extend(part, ByteView(check).data() + 4, 5) == 0xcbf43926u);
}

TEST_CASE("zip: inflate hand-built streams", "[interop][zip]") {
  // Stored block: BFINAL=1 BTYPE=00, LEN=5, NLEN=~5, "hello".
  CHECK(InflateString(Bytes({0x01, 0x05, 0x00, 0xfa, 0xff}) + "hello", 5) == "hello");
  // Fixed Huffman codes for "hello" (what zlib writes at level 9 for short input).
  CHECK(InflateString(Bytes({0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 5) == "hello");
  // Empty fixed block: just the end-of-block code.
  CHECK(InflateString(Bytes({0x03, 0x00}), 0).empty());
}

TEST_CASE("zip: inflate refuses bad streams", "[interop][zip]") {
  CHECK_THROWS_AS(InflateString(Bytes({0x07}), 0), FormatError);                                  // block type 3
  CHECK_THROWS_AS(InflateString(Bytes({0x01, 0x05, 0x00, 0xfb, 0xff}) + "hello", 5), FormatError);  // NLEN wrong
  CHECK_THROWS_AS(InflateString(Bytes({0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 4), FormatError);  // too long
  CHECK_THROWS_AS(InflateString(Bytes({0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), 6), FormatError);  // too short
  CHECK_THROWS_WITH(InflateString(Bytes({0xcb, 0x48, 0xcd}), 5), Catch::Contains("truncated deflate stream"));
  // A declared size no stream of this length can reach is refused before allocating.
  CHECK_THROWS_WITH(InflateString(Bytes({0x03, 0x00}), uint64_t{1} << 40), Catch::Contains("cannot inflate"));
  // Every truncation of a valid stream fails cleanly.
  const std::string good = Bytes({0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00});
  for (size_t n = 0; n < good.size() - 1; ++n) CHECK_THROWS_AS(InflateString(good.substr(0, n), 5), FormatError);
}

TEST_CASE("zip: inflate matches Python's zlib at every level", "[interop][zip][python]") {
  if (!RequirePythonNumpy()) return;
  TempDir dir;
  std::string out;
  REQUIRE(RunPython(dir.path(), R"(
import zlib, random
random.seed(7)
data = bytes(random.choice(b'abcab\x00\x01') for _ in range(200000)) + bytes(range(256)) * 50 + bytes(70000)
open('plain.bin', 'wb').write(data)
for level in (0, 1, 6, 9):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    open('level%d.bin' % level, 'wb').write(c.compress(data) + c.flush())
)", &out) == 0);
  INFO(out);
  const std::string plain = Slurp(dir / "plain.bin");
  for (int level : {0, 1, 6, 9}) {
    INFO("level " << level);
    CHECK(InflateString(Slurp(dir / ("level" + std::to_string(level) + ".bin")), plain.size()) == plain);
  }
}

TEST_CASE("zip: writer output reads back and Python's zipfile agrees", "[interop][zip][python]") {
  TempDir dir;
  for (uint64_t limit : {(uint64_t{1} << 31) - 1, uint64_t{0}}) {  // 0: every size and offset goes zip64
    INFO("zip64 limit " << limit);
    wi::ZipWriterOptions options;
    options.zip64_limit = limit;
    const std::string path = WriteSmallZip(dir, options);
    const wi::ZipReader r = wi::ZipReader::Open(path);
    REQUIRE(r.entries().size() == 2);
    std::string scratch;
    CHECK(r.entries()[0].name == "a.npy");
    CHECK(r.Read(r.entries()[0], &scratch).ToString() == "hello, world");
    CHECK(r.entries()[1].name == "dir/b.npy");
    CHECK(r.entries()[1].comment == "dtype=DT_BFLOAT16");
    CHECK(r.Read(r.entries()[1], &scratch).ToString() == "second member");
    if (!RequirePythonNumpy()) continue;
    std::string out;
    const int rc = RunPython(dir.path(), R"(
import zipfile
z = zipfile.ZipFile('small.zip')
assert z.testzip() is None
print(sorted(z.namelist()), z.read('a.npy'), z.read('dir/b.npy'), z.getinfo('dir/b.npy').comment)
)", &out);
    INFO(out);
    CHECK(rc == 0);
    CHECK(out == "['a.npy', 'dir/b.npy'] b'hello, world' b'second member' b'dtype=DT_BFLOAT16'\n");
  }
}

TEST_CASE("zip: every truncation and every byte flip is a FormatError or a clean read", "[interop][zip]") {
  TempDir dir;
  const std::string good = Slurp(WriteSmallZip(dir));
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string cut = good.substr(0, n);
    INFO("truncated to " << n);
    CHECK_THROWS_AS(wi::ZipReader::FromBytes(ByteView(cut), "cut.zip"), FormatError);
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    try {
      const wi::ZipReader r = wi::ZipReader::FromBytes(ByteView(bad), "bad.zip");
      std::string scratch;
      for (const wi::ZipEntry& e : r.entries()) r.Read(e, &scratch);
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()).find("bad.zip") == 0);
    }
  }
}

TEST_CASE("zip: a corrupt member fails its CRC-32 check naming file, member and offset", "[interop][zip]") {
  TempDir dir;
  std::string bytes = Slurp(WriteSmallZip(dir));
  const size_t at = bytes.find("hello, world");
  bytes[at] = 'J';
  const wi::ZipReader r = wi::ZipReader::FromBytes(ByteView(bytes), "crc.zip");
  std::string scratch;
  CHECK_THROWS_WITH(r.Read(r.entries()[0], &scratch),
                    Catch::StartsWith("crc.zip: key 'a.npy': offset " + std::to_string(at) + ": CRC-32 mismatch"));
}

TEST_CASE("zip: absurd sizes are refused before allocating", "[interop][zip]") {
  TempDir dir;
  std::string bytes = Slurp(WriteSmallZip(dir));
  const size_t central = bytes.find("PK\x01\x02");
  REQUIRE(central != std::string::npos);
  bytes[central + 10] = 8;  // method: deflate
  for (int k = 0; k < 4; ++k) bytes[central + 24 + k] = '\x7f';  // uncompressed size ~2 GiB from 12 bytes
  CHECK_THROWS_WITH(wi::ZipReader::FromBytes(ByteView(bytes), "big.zip"), Catch::Contains("more than DEFLATE can expand to"));
}

}  // namespace
