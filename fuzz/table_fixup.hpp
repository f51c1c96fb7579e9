// Shared by the sstable and v1 fuzz targets: rewrites the block checksums of a table so
// that mutations inside blocks reach the block and entry parsers instead of stopping at
// the CRC check (which a fuzzer cannot satisfy by mutation alone).
//
// Follows the footer to the metaindex and index blocks, and the index entries to the data
// blocks; every trailer found in bounds gets the masked crc32c of its contents and type.
// Anything unparseable is left as it is. Returns whether a byte changed.
#pragma once

#include <cstdint>
#include <string>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/sstable/block.hpp"
#include "warmstart/sstable/format.hpp"

namespace warmstart_fuzz {

namespace sst = warmstart::sstable;

inline bool FixTrailer(std::string* file, const sst::BlockHandle& h) {
  if (h.offset > file->size() || h.size > file->size() - h.offset ||
      file->size() - h.offset - h.size < sst::kBlockTrailerSize) {
    return false;
  }
  auto* p = reinterpret_cast<uint8_t*>(&(*file)[0]);
  const uint8_t type = p[h.offset + h.size];
  const uint32_t crc = sst::BlockChecksum(warmstart::core::ByteView(p + h.offset, h.size), type);
  if (warmstart::core::DecodeFixed32(p + h.offset + h.size + 1) == crc) return false;
  warmstart::core::EncodeFixed32(p + h.offset + h.size + 1, crc);
  return true;
}

inline bool FixTableChecksums(std::string* file) {
  const warmstart::ErrorContext ctx("fixup");
  bool changed = false;
  try {
    const warmstart::core::ByteView bytes(file->data(), file->size());
    const sst::Footer footer = sst::Footer::Decode(bytes, ctx);
    changed |= FixTrailer(file, footer.metaindex);
    changed |= FixTrailer(file, footer.index);
    const warmstart::core::ByteView fixed(file->data(), file->size());
    sst::Block index(sst::ReadBlock(fixed, footer.index, ctx, "index"), ctx);
    std::vector<sst::BlockHandle> handles;
    index.ForEach([&](const std::string&, warmstart::core::ByteView value, uint64_t) {
      warmstart::core::Cursor in(value, ctx);
      handles.push_back(sst::BlockHandle::Decode(&in));
    });
    for (const sst::BlockHandle& h : handles) changed |= FixTrailer(file, h);
  } catch (const warmstart::Error&) {
  }
  return changed;
}

}  // namespace warmstart_fuzz
