// The LevelDB table format as TensorFlow writes `.index` files (and V1 checkpoints).
// Mirrors third_party/xla/xla/tsl/lib/io/format.{h,cc} (formerly tensorflow/core/lib/io);
// the byte layout is google/leveldb doc/table_format.md, without filter blocks.
//
//   offset 0          data block 0 || trailer
//                     ...
//                     metaindex block || trailer      (TF writes it empty, never reads it)
//                     index block || trailer
//   file_size - 48    footer
//
//   block handle      varint64 offset || varint64 size          (size excludes the trailer)
//   trailer (5 bytes) type[1] || fixed32 mask(crc32c(contents || type))
//                     type 0 = raw, 1 = Snappy, anything else is corrupt
//   footer (48 bytes) metaindex handle || index handle || zero padding to byte 40
//                     || fixed64 magic 0xdb4775248b80fb57 (bytes 57 fb 80 8b 24 75 47 db)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/crc32c.hpp"
#include "warmstart/core/snappy.hpp"
#include "warmstart/error.hpp"

namespace warmstart::sstable {

using core::ByteView;

inline constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
inline constexpr size_t kFooterSize = 48;
inline constexpr size_t kBlockTrailerSize = 5;
inline constexpr size_t kMaxHandlesSize = 40;  // 2 handles x 2 varint64 x 10 bytes
inline constexpr uint8_t kNoCompression = 0;
inline constexpr uint8_t kSnappyCompression = 1;

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;

  static BlockHandle Decode(core::Cursor* in) {
    BlockHandle h;
    h.offset = in->ReadVarint64("block handle offset");
    h.size = in->ReadVarint64("block handle size");
    return h;
  }
  void EncodeTo(std::string* out) const {
    core::PutVarint64(out, offset);
    core::PutVarint64(out, size);
  }
};

struct Footer {
  BlockHandle metaindex;
  BlockHandle index;

  // Requires: file holds the whole table. Checks the size and the magic first,
  // then decodes the handles from the footer's first 40 bytes, like TF.
  static Footer Decode(ByteView file, const ErrorContext& ctx) {
    if (file.size() < kFooterSize) {
      throw FormatError(ctx, "file is too short to be an sstable: " + std::to_string(file.size()) +
                                 " bytes, a table needs at least 48 (the footer)");
    }
    const size_t start = file.size() - kFooterSize;
    const uint64_t magic = core::DecodeFixed64(file.data() + start + kMaxHandlesSize);
    if (magic != kTableMagic) {
      if (LooksLikeLfsPointer(file)) {
        throw FormatError(ctx, "this is a Git LFS pointer file, not a table: fetch the real file "
                               "with 'git lfs pull'");
      }
      throw FormatError(ctx.WithOffset(start + kMaxHandlesSize),
                        "bad table magic number: not an sstable (expected 57 fb 80 8b 24 75 47 db)");
    }
    core::Cursor in(file.Sub(start, kMaxHandlesSize), ctx, start);
    Footer f;
    f.metaindex = BlockHandle::Decode(&in);
    f.index = BlockHandle::Decode(&in);
    return f;
  }

  void EncodeTo(std::string* out) const {
    const size_t start = out->size();
    metaindex.EncodeTo(out);
    index.EncodeTo(out);
    out->resize(start + kMaxHandlesSize, '\0');
    core::PutFixed64(out, kTableMagic);
  }

  static bool LooksLikeLfsPointer(ByteView file) {
    static constexpr char kLfs[] = "version https://git-lfs";
    const size_t n = sizeof(kLfs) - 1;
    return file.size() >= n && file.AsStringView().substr(0, n) == kLfs;
  }
};

// The contents of one block, verified and (if needed) decompressed. `data` points
// into the file for raw blocks and into `owned` for Snappy blocks.
struct BlockContents {
  ByteView data;
  std::unique_ptr<std::string> owned;
  uint64_t file_offset = 0;  // where the stored block starts in the file
  bool compressed = false;
};

inline uint32_t BlockChecksum(ByteView contents, uint8_t type) {
  uint32_t crc = core::crc32c::Value(contents.data(), contents.size());
  crc = core::crc32c::Extend(crc, &type, 1);
  return core::crc32c::Mask(crc);
}

// Reads and verifies the block at `handle`: bounds, trailer CRC, type, Snappy.
inline BlockContents ReadBlock(ByteView file, const BlockHandle& handle, const ErrorContext& ctx,
                               const char* what) {
  if (!file.Contains(handle.offset, handle.size) ||
      file.size() - handle.offset - handle.size < kBlockTrailerSize) {
    throw FormatError(ctx.WithOffset(handle.offset),
                      std::string("truncated block read: ") + what + " of " +
                          std::to_string(handle.size) + " bytes (+5 trailer) does not fit in a " +
                          std::to_string(file.size()) + "-byte file");
  }
  const ByteView stored = file.Sub(handle.offset, handle.size);
  const uint8_t* trailer = stored.data() + stored.size();
  const uint8_t type = trailer[0];
  const uint32_t expected = core::DecodeFixed32(trailer + 1);
  const uint32_t actual = BlockChecksum(stored, type);
  if (expected != actual) {
    throw FormatError(ctx.WithOffset(handle.offset),
                      std::string("block checksum mismatch in ") + what + " (stored masked crc 0x" +
                          warmstart::detail::Hex32(expected) + ", computed 0x" + warmstart::detail::Hex32(actual) + ")");
  }
  BlockContents out;
  out.file_offset = handle.offset;
  if (type == kNoCompression) {
    out.data = stored;
  } else if (type == kSnappyCompression) {
    const uint64_t limit = 32 * stored.size() + 1024;  // Snappy expands at most ~21x
    out.owned = std::make_unique<std::string>(core::snappy::Uncompress(stored, ctx, handle.offset, limit));
    out.data = ByteView(out.owned->data(), out.owned->size());
    out.compressed = true;
  } else {
    throw FormatError(ctx.WithOffset(handle.offset + handle.size),
                      std::string("bad block type ") + std::to_string(type) + " in " + what +
                          " (0 = none and 1 = Snappy are the only compressions TensorFlow writes)");
  }
  return out;
}

}  // namespace warmstart::sstable
