// Fuzz target: TFRecord framing (data/tfrecord.hpp RecordReader), tf.Example decoding
// (data/tf_example.hpp ParseExample) and the Object Detection API record view
// (data/detection_example.hpp ParseDetectionRecord).
//
// Input: byte 0 picks the mode, the rest is the payload.
//   even   the payload is a TFRecord file (written to a temporary file, since RecordReader
//          reads files); every record is read with and without data-crc checks and parsed
//          as a tf.Example and a detection record.
//   odd    the payload is one serialized tf.Example.
// Checks, beyond "no crash": a parsed Example re-encodes to bytes that parse to the same
// encoding; records read add up to the file size; errors carry an offset in the file.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "warmstart/core/bytes.hpp"
#include "warmstart/data/detection_example.hpp"
#include "warmstart/data/tf_example.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "warmstart/error.hpp"

namespace {

namespace data = warmstart::data;
using warmstart::core::ByteView;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "tfrecord_fuzz: %s\n", what);
  __builtin_trap();
}

void FuzzExample(ByteView bytes, uint64_t base) {
  const warmstart::ErrorContext ctx("fuzz.record");
  try {
    const data::Example ex = data::ParseExample(bytes, ctx, base);
    const std::string once = data::EncodeExample(ex);
    const data::Example again = data::ParseExample(once, ctx);
    if (data::EncodeExample(again) != once) Bug("encode(parse(encode(x))) != encode(x)");
    data::ExampleEncodeOptions unpacked;
    unpacked.packed = false;
    const std::string loose = data::EncodeExample(ex, unpacked);
    if (data::EncodeExample(data::ParseExample(loose, ctx)) != once) Bug("unpacked encoding parses differently");
  } catch (const warmstart::FormatError& e) {
    const auto off = e.context().offset;
    if (off && (*off < base || *off > base + bytes.size())) Bug("error offset outside the record");
  }
  try {
    const data::DetectionRecord d = data::ParseDetectionRecord(bytes, ctx, base);
    if (!d.labels.empty() && d.labels.size() != d.boxes.size()) Bug("labels and boxes disagree in count");
    (void)data::SerializeDetectionRecord(d);
  } catch (const warmstart::Error&) {
  }
}

std::string TempPath() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("warmstart_fuzz_tfrecord_" + std::to_string(::getpid()))).string();
  return path;
}

void FuzzRecordFile(ByteView bytes, bool verify) {
  data::RecordReaderOptions options;
  options.verify_checksums = verify;
  try {
    auto reader = data::RecordReader::Open(TempPath(), options);
    std::string record;
    uint64_t total = 0;
    while (reader.Next(&record)) {
      total += data::kRecordHeaderSize + record.size() + data::kRecordFooterSize;
      if (reader.offset() != total) Bug("reader offset disagrees with the records read");
      FuzzExample(ByteView(record.data(), record.size()), total - record.size() - data::kRecordFooterSize);
    }
    if (total != bytes.size()) Bug("records do not cover the file");
  } catch (const warmstart::FormatError& e) {
    const auto off = e.context().offset;
    if (!off || *off > bytes.size()) Bug("record error without an offset in the file");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ByteView payload(data + 1, size - 1);
  if (data[0] & 1) {
    FuzzExample(payload, 0);
    return 0;
  }
  {
    std::ofstream out(TempPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
  }
  FuzzRecordFile(payload, true);
  FuzzRecordFile(payload, false);
  std::filesystem::remove(TempPath());
  return 0;
}
