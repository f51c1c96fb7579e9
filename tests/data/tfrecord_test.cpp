// data/tfrecord.hpp: framing round trips, every corruption with its offset, the real pets file
// (read, and rewritten byte for byte).
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "data/data_test_util.hpp"

namespace ws = warmstart;
namespace wd = warmstart::data;
namespace fs = std::filesystem;

namespace {

using warmstart::test::data::ReadBytes;
using warmstart::test::data::Thrown;
using warmstart::test::data::WriteBytes;

// Three records: short, empty, 70000 bytes (longer than any stream buffer).
std::vector<std::string> SampleRecords() {
  std::string big(70000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) & 0xff);
  return {"hello", "", big};
}

std::string Framed(const std::vector<std::string>& records) {
  std::string out;
  for (const auto& r : records) wd::AppendRecord(&out, r);
  return out;
}

ws::FormatError ReadError(const fs::path& p, const wd::RecordReaderOptions& options = {}) {
  return Thrown<ws::FormatError>([&] { wd::ReadAllRecords(p.string(), options); });
}

}  // namespace

TEST_CASE("tfrecord: a record is length, masked crc of length, data, masked crc of data", "[data][tfrecord]") {
  std::string framed;
  wd::AppendRecord(&framed, std::string("abc"));
  REQUIRE(framed.size() == 12 + 3 + 4);
  CHECK(framed.substr(0, 8) == std::string("\x03\0\0\0\0\0\0\0", 8));
  const auto le32 = [&](size_t at) { return ws::core::DecodeFixed32(reinterpret_cast<const uint8_t*>(framed.data()) + at); };
  const auto masked = [](const std::string& s) {
    const uint32_t c = ws::core::crc32c::Value(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;  // the mask written out, independent of Mask()
  };
  CHECK(le32(8) == masked(framed.substr(0, 8)));
  CHECK(framed.substr(12, 3) == "abc");
  CHECK(le32(15) == masked("abc"));
}

TEST_CASE("tfrecord: writer and reader round trip", "[data][tfrecord]") {
  ws::test::TempDir dir;
  const fs::path path = dir / "x.record";
  const std::vector<std::string> records = SampleRecords();
  auto writer = wd::RecordWriter::Create(path.string());
  for (const auto& r : records) writer.Write(r);
  writer.Close();
  CHECK(writer.records_written() == 3);
  CHECK(writer.bytes_written() == fs::file_size(path));
  CHECK(ReadBytes(path) == Framed(records));

  auto reader = wd::RecordReader::Open(path.string());
  std::string record;
  std::vector<uint64_t> offsets;
  std::vector<std::string> read;
  for (offsets.push_back(reader.offset()); reader.Next(&record); offsets.push_back(reader.offset())) read.push_back(record);
  CHECK(read == records);
  CHECK(offsets == std::vector<uint64_t>{0, 21, 37, 37 + 70016});
  CHECK(reader.records_read() == 3);
  CHECK_FALSE(reader.Next(&record));  // stays at the end
}

TEST_CASE("tfrecord: an empty file has no records", "[data][tfrecord]") {
  ws::test::TempDir dir;
  WriteBytes(dir / "empty.record", "");
  CHECK(wd::ReadAllRecords((dir / "empty.record").string()).empty());
}

TEST_CASE("tfrecord: every corruption is named with the record's offset", "[data][tfrecord]") {
  ws::test::TempDir dir;
  const fs::path path = dir / "bad.record";
  const std::string good = Framed(SampleRecords());
  const uint64_t second = 21, third = 37;  // record offsets
  const auto with = [&](size_t at, char xor_mask) {
    std::string b = good;
    b[at] = static_cast<char>(b[at] ^ xor_mask);
    WriteBytes(path, b);
  };

  SECTION("a flipped length byte") {
    with(third + 1, 0x01);
    const auto e = ReadError(path);
    CHECK(e.context().offset == third);
    CHECK_THAT(e.what(), Catch::Contains("offset 37: length crc mismatch"));
    CHECK_THAT(e.what(), Catch::Contains(path.string()));
  }
  SECTION("a flipped length crc byte") {
    with(second + 9, 0x40);
    const auto e = ReadError(path);
    CHECK(e.context().offset == second);
    CHECK_THAT(e.reason(), Catch::StartsWith("length crc mismatch"));
  }
  SECTION("a flipped data byte") {
    with(third + 12 + 500, 0x10);
    const auto e = ReadError(path);
    CHECK(e.context().offset == third);
    CHECK_THAT(e.what(), Catch::Contains("offset 37: data crc mismatch: 70000 bytes"));
  }
  SECTION("a flipped data crc byte") {
    with(second + 12 + 3, 0x80);  // the empty record's data crc
    const auto e = ReadError(path);
    CHECK(e.context().offset == second);
    CHECK_THAT(e.reason(), Catch::StartsWith("data crc mismatch: 0 bytes"));
  }
  SECTION("data crcs are not checked on request; length crcs always are") {
    with(third + 12 + 500, 0x10);
    wd::RecordReaderOptions lax;
    lax.verify_checksums = false;
    CHECK(wd::ReadAllRecords(path.string(), lax).size() == 3);
    with(third + 1, 0x01);
    CHECK_THAT(ReadError(path, lax).reason(), Catch::StartsWith("length crc mismatch"));
  }
  SECTION("truncated inside a header, the data, the data crc") {
    for (uint64_t cut : {third + 5, third + 12 + 69999, good.size() - 1}) {
      WriteBytes(path, good.substr(0, static_cast<size_t>(cut)));
      const auto e = ReadError(path);
      CHECK(e.context().offset == third);
      CHECK_THAT(e.reason(), Catch::StartsWith("truncated record"));
    }
    WriteBytes(path, good.substr(0, static_cast<size_t>(third + 5)));
    CHECK_THAT(ReadError(path).reason(), Catch::Equals("truncated record: the header needs 12 bytes, 5 left"));
  }
  SECTION("a length beyond the file is refused before allocating") {
    std::string b;
    wd::AppendRecord(&b, std::string("x"));
    // A valid header announcing 2^40 bytes: its crc matches, the file is far shorter.
    std::string header(8, '\0');
    ws::core::EncodeFixed64(reinterpret_cast<uint8_t*>(&header[0]), uint64_t{1} << 40);
    ws::core::PutFixed32(&header, ws::core::crc32c::Mask(ws::core::crc32c::Value(reinterpret_cast<const uint8_t*>(header.data()), 8)));
    WriteBytes(path, b + header + "tail");
    auto e = ReadError(path);
    CHECK(e.context().offset == 17);
    CHECK_THAT(e.reason(), Catch::Contains("truncated record: length 1099511627776"));
    WriteBytes(path, good);
    wd::RecordReaderOptions small;
    small.max_record_length = 1000;
    e = ReadError(path, small);
    CHECK(e.context().offset == third);
    CHECK_THAT(e.reason(), Catch::Equals("record length 70000 exceeds the limit 1000"));
  }
  SECTION("a gzip-compressed file is named as such") {
    WriteBytes(path, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03tfrecord-ish", 22));
    CHECK_THAT(ReadError(path).reason(), Catch::Contains("compressed TFRecord files are not supported"));
  }
  SECTION("records before the bad one are returned") {
    with(third + 1, 0x01);
    auto reader = wd::RecordReader::Open(path.string());
    std::string r;
    CHECK(reader.Next(&r));
    CHECK(reader.Next(&r));
    CHECK_THROWS_AS(reader.Next(&r), ws::FormatError);
  }
}

TEST_CASE("tfrecord: missing file", "[data][tfrecord]") {
  ws::test::TempDir dir;
  CHECK_THROWS_AS(wd::RecordReader::Open((dir / "none.record").string()), ws::NotFoundError);
  CHECK_THROWS_AS(wd::RecordReader::Open(dir.path().string()), ws::IoError);
  CHECK_THROWS_AS(wd::RecordWriter::Create((dir / "no" / "such" / "dir.record").string()), ws::IoError);
}

TEST_CASE("tfrecord: the pets test record, read and rewritten byte for byte", "[data][tfrecord][realdata]") {
  fs::path record;
  if (!ws::test::RequireRealData("od_test_data/pets_examples.record", &record)) return;
  auto reader = wd::RecordReader::Open(record.string());
  std::vector<std::string> records;
  std::vector<uint64_t> offsets;
  std::string r;
  for (uint64_t at = reader.offset(); reader.Next(&r); at = reader.offset()) {
    records.push_back(r);
    offsets.push_back(at);
  }
  REQUIRE(records.size() == 10);
  CHECK(reader.offset() == 873919);
  CHECK(offsets[1] == 18446);  // record 0 holds 18430 bytes
  CHECK(records[0].size() == 18430);
  CHECK(records[1].size() == 147098);
  CHECK(offsets[9] == 782453);
  CHECK(records[9].size() == 91450);

  ws::test::TempDir dir;
  auto writer = wd::RecordWriter::Create((dir / "copy.record").string());
  for (const auto& rec : records) writer.Write(rec);
  writer.Close();
  CHECK(ReadBytes(dir / "copy.record") == ReadBytes(record));
}
