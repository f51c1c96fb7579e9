// TFRecord files: a sequence of length-prefixed, checksummed records (usually tf.Example).
//
// One record, as tensorflow/core/lib/io/record_writer.cc writes it and record_reader.cc reads
// it (uncompressed files only):
//
//   offset      width  field
//   0           8      length         uint64 little-endian: number of data bytes L
//   8           4      length_crc     uint32 LE: Mask(crc32c(bytes 0..7))
//   12          L      data
//   12 + L      4      data_crc       uint32 LE: Mask(crc32c(data))
//
//   Mask(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8      (core/crc32c.hpp)
//
// Records follow each other with no padding; the file ends right after the last data_crc.
//
// Errors are FormatError with the file and the offset of the record's first byte:
//   "truncated record ..."     fewer bytes left than the header or the length asks for
//   "length crc mismatch ..."  the 12-byte header is corrupt (checked before the length is used)
//   "record length ... exceeds the limit ..."  RecordReaderOptions::max_record_length
//   "data crc mismatch ..."    the data or its checksum is corrupt
// A length is never trusted before its checksum matches and it fits in the file, so a corrupt
// header cannot make the reader allocate more than the file holds.
//
// Not supported: GZIP / ZLIB compressed record files (TFRecordOptions compression_type). A file
// that starts with the gzip magic is named as such in the error.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/error.hpp"

namespace warmstart::data {

using core::ByteView;

inline constexpr size_t kRecordHeaderSize = 12;  // length + length_crc
inline constexpr size_t kRecordFooterSize = 4;   // data_crc

// ---- Framing, in memory ----

// Appends one framed record holding `data` to *out.
inline void AppendRecord(std::string* out, ByteView data) {
  uint8_t header[kRecordHeaderSize];
  core::EncodeFixed64(header, data.size());
  core::EncodeFixed32(header + 8, core::crc32c::Mask(core::crc32c::Value(header, 8)));
  out->append(reinterpret_cast<const char*>(header), sizeof(header));
  out->append(reinterpret_cast<const char*>(data.data()), data.size());
  core::PutFixed32(out, core::crc32c::Mask(core::crc32c::Value(data)));
}

inline void AppendRecord(std::string* out, const std::string& data) {
  AppendRecord(out, ByteView(data.data(), data.size()));
}

// ---- Reading ----

struct RecordReaderOptions {
  // Records longer than this are refused before any allocation (TF has no limit; a record is
  // one image plus its annotations, far below this).
  uint64_t max_record_length = uint64_t{1} << 30;
  // Whether to check data_crc. The length crc is always checked: it guards the allocation.
  bool verify_checksums = true;
};

namespace detail {

inline std::string SizeText(uint64_t need, uint64_t left) {
  return "needs " + std::to_string(need) + " bytes, " + std::to_string(left) + " left";
}

[[noreturn]] inline void FailRecord(const std::string& file, uint64_t offset, const std::string& what) {
  throw FormatError(ErrorContext(file, offset), what);
}

}  // namespace detail

// Streams the records of one file, front to back, through a std::ifstream.
//
//   auto reader = RecordReader::Open("train.record");
//   std::string record;
//   while (reader.Next(&record)) { ... }
class RecordReader {
 public:
  // Throws NotFoundError when the file is absent, IoError when it cannot be opened.
  static RecordReader Open(const std::string& path, const RecordReaderOptions& options = {}) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
      throw NotFoundError(ErrorContext(path), "cannot open record file: no such file");
    }
    if (!std::filesystem::is_regular_file(status)) throw IoError(ErrorContext(path), "not a regular file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) throw IoError(ErrorContext(path), "cannot read the file size: " + ec.message());
    return RecordReader(path, size, options);
  }

  RecordReader(RecordReader&&) = default;
  RecordReader& operator=(RecordReader&&) = default;
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Reads the next record's data into *record. False at the end of the file (exactly after a
  // record); throws FormatError for a corrupt or truncated record, IoError when reading fails.
  bool Next(std::string* record) {
    if (offset_ == file_size_) return false;
    const uint64_t start = offset_;
    const uint64_t length = ReadHeader(start);
    record->resize(static_cast<size_t>(length));
    ReadExactly(record->empty() ? nullptr : &(*record)[0], length, start);
    uint8_t footer[kRecordFooterSize];
    ReadExactly(footer, kRecordFooterSize, start);
    if (options_.verify_checksums) CheckData(*record, core::DecodeFixed32(footer), start);
    offset_ = start + kRecordHeaderSize + length + kRecordFooterSize;
    ++records_read_;
    return true;
  }

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  // Offset of the next record (of the end of the last one read).
  uint64_t offset() const { return offset_; }
  uint64_t records_read() const { return records_read_; }

 private:
  RecordReader(std::string path, uint64_t size, const RecordReaderOptions& options)
      : path_(std::move(path)), file_size_(size), options_(options) {
    in_.open(path_, std::ios::binary);
    if (!in_) throw IoError(ErrorContext(path_), std::string("cannot open record file: ") + std::strerror(errno));
  }

  // Reads and checks the 12-byte header at `start`; returns the data length.
  uint64_t ReadHeader(uint64_t start) {
    const uint64_t left = file_size_ - start;
    if (left < kRecordHeaderSize) {
      detail::FailRecord(path_, start, "truncated record: the header " + detail::SizeText(kRecordHeaderSize, left));
    }
    uint8_t header[kRecordHeaderSize];
    ReadExactly(header, kRecordHeaderSize, start);
    const uint64_t length = core::DecodeFixed64(header);
    const uint32_t stored = core::crc32c::Unmask(core::DecodeFixed32(header + 8));
    const uint32_t actual = core::crc32c::Value(header, 8);
    if (stored != actual) {
      std::string what = "length crc mismatch: stored " + warmstart::detail::Hex32(stored) + ", computed " +
                         warmstart::detail::Hex32(actual);
      if (start == 0 && header[0] == 0x1f && header[1] == 0x8b) {
        what += " (the file starts like gzip: compressed TFRecord files are not supported, gunzip it)";
      }
      detail::FailRecord(path_, start, what);
    }
    const uint64_t body_left = left - kRecordHeaderSize;
    if (length > body_left || body_left - length < kRecordFooterSize) {
      detail::FailRecord(path_, start, "truncated record: length " + std::to_string(length) + ": data and crc " +
                                           detail::SizeText(length + kRecordFooterSize, body_left));
    }
    if (length > options_.max_record_length) {
      detail::FailRecord(path_, start, "record length " + std::to_string(length) + " exceeds the limit " +
                                           std::to_string(options_.max_record_length));
    }
    return length;
  }

  void CheckData(const std::string& data, uint32_t masked, uint64_t start) const {
    const uint32_t stored = core::crc32c::Unmask(masked);
    const uint32_t actual = core::crc32c::Value(ByteView(data.data(), data.size()));
    if (stored != actual) {
      detail::FailRecord(path_, start, "data crc mismatch: " + std::to_string(data.size()) + " bytes, stored " +
                                           warmstart::detail::Hex32(stored) + ", computed " +
                                           warmstart::detail::Hex32(actual));
    }
  }

  // Requires: n bytes are left in the file by its size at Open (checked by ReadHeader); a
  // short read then means the file shrank while being read.
  void ReadExactly(void* dst, uint64_t n, uint64_t record_start) {
    if (n == 0) return;
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    if (static_cast<uint64_t>(in_.gcount()) != n) {
      throw IoError(ErrorContext(path_, record_start), "record file ended early while reading (truncated while open?)");
    }
  }

  std::string path_;
  uint64_t file_size_ = 0;
  RecordReaderOptions options_;
  std::ifstream in_;
  uint64_t offset_ = 0;
  uint64_t records_read_ = 0;
};

// Every record of a file, in order. For small files and tests; large datasets use RecordReader.
inline std::vector<std::string> ReadAllRecords(const std::string& path, const RecordReaderOptions& options = {}) {
  RecordReader reader = RecordReader::Open(path, options);
  std::vector<std::string> out;
  std::string record;
  while (reader.Next(&record)) out.push_back(std::move(record));
  return out;
}

// ---- Writing ----

// Writes records with TF's framing, byte for byte what tf.io.TFRecordWriter writes.
// Close() flushes and reports errors; the destructor closes without reporting.
class RecordWriter {
 public:
  // Creates or truncates `path`. Throws IoError.
  static RecordWriter Create(const std::string& path) { return RecordWriter(path); }

  RecordWriter(RecordWriter&&) = default;
  RecordWriter& operator=(RecordWriter&&) = default;
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  void Write(ByteView data) {
    if (!out_.is_open()) throw ArgumentError(ErrorContext(path_), "record writer is closed");
    frame_.clear();
    AppendRecord(&frame_, data);
    out_.write(frame_.data(), static_cast<std::streamsize>(frame_.size()));
    if (!out_) throw IoError(ErrorContext(path_, bytes_written_), std::string("cannot write record: ") + std::strerror(errno));
    bytes_written_ += frame_.size();
    ++records_written_;
  }
  void Write(const std::string& data) { Write(ByteView(data.data(), data.size())); }

  void Close() {
    if (!out_.is_open()) return;
    out_.close();
    if (!out_) throw IoError(ErrorContext(path_), std::string("cannot close record file: ") + std::strerror(errno));
  }

  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t records_written() const { return records_written_; }

 private:
  explicit RecordWriter(std::string path) : path_(std::move(path)) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) throw IoError(ErrorContext(path_), std::string("cannot create record file: ") + std::strerror(errno));
  }

  std::string path_;
  std::ofstream out_;
  std::string frame_;
  uint64_t bytes_written_ = 0;
  uint64_t records_written_ = 0;
};

}  // namespace warmstart::data
