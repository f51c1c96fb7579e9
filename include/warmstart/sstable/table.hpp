// A whole table: footer -> index block -> data blocks -> entries, read in key order.
// Mirrors third_party/xla/xla/tsl/lib/io/table.cc (leveldb table/table.cc), two-level
// iteration: every index entry's value is the handle of one data block.
//
// Beyond TF's reader we check that keys increase strictly across the whole table
// (a duplicate or out-of-order key is a FormatError: a lookup would silently miss
// it) and that data blocks lie before the metaindex block without overlapping;
// index separators that disagree with the keys (TF's Seek would miss keys, but
// iteration is unaffected) are collected as warnings.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/sstable/block.hpp"
#include "warmstart/sstable/format.hpp"

namespace warmstart::sstable {

struct IndexEntry {
  std::string separator;  // >= every key of its block, < every key of the next
  BlockHandle handle;
};

template <class File>
class Table {
 public:
  // Reads and verifies the footer and the index block.
  static Table Open(File file) {
    Table t(std::move(file));
    t.ReadIndex();
    return t;
  }

  const File& file() const { return file_; }
  const ErrorContext& context() const { return ctx_; }
  const Footer& footer() const { return footer_; }
  const std::vector<IndexEntry>& index() const { return index_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // A guess at the number of entries, for reserving memory, from the restart counts at
  // the ends of the uncompressed data blocks: TF's writers put a restart point every 16
  // entries. Unverified (blocks are checked when read) and bounded by a block's size / 16
  // (a bundle entry takes ~20-60 bytes), so a hostile file gets at most that many entries'
  // worth of reserved memory (the caller caps it further).
  uint64_t EntryCountHint() const {
    const ByteView bytes = file_.bytes();
    uint64_t hint = 0;
    for (const IndexEntry& e : index_) {
      if (e.handle.size < 4 || !bytes.Contains(e.handle.offset, e.handle.size + kBlockTrailerSize)) continue;
      const uint8_t* end = bytes.data() + e.handle.offset + e.handle.size;
      if (end[0] != kNoCompression) continue;
      const uint64_t restarts = core::DecodeFixed32(end - 4);
      if (4 * restarts + 4 > e.handle.size) continue;  // not a well-formed block; it fails when read
      hint += std::min<uint64_t>(16 * restarts, e.handle.size / 16);
    }
    return hint;
  }

  // Calls fn(const std::string& key, ByteView value, uint64_t value_offset) for every
  // entry in key order, reading (and verifying) each data block once.
  template <class Fn>
  void ForEach(Fn&& fn) {
    std::string previous;
    bool first = true;
    // Prefix compression lets a few index bytes stand for a long key; a hostile file
    // could make every key megabytes long. Real indexes expand by less than 3x.
    const uint64_t key_budget = 64 * static_cast<uint64_t>(file_.bytes().size()) + (1u << 20);
    uint64_t key_bytes = 0;
    for (size_t b = 0; b < index_.size(); ++b) {
      Block block(ReadBlock(file_.bytes(), index_[b].handle, ctx_, "data block"), ctx_);
      bool first_in_block = true;
      block.ForEach([&](const std::string& key, ByteView value, uint64_t offset) {
        if (!first && !(previous < key)) {
          throw FormatError(ctx_.WithKey(key).WithOffset(offset),
                            "keys out of order: '" + warmstart::detail::PrintableKey(key) +
                                "' does not sort after '" + warmstart::detail::PrintableKey(previous) + "'");
        }
        if (first_in_block && b > 0 && !(index_[b - 1].separator < key)) {
          Warn("index separator of data block " + std::to_string(b - 1) + " is not below the first key of block " +
               std::to_string(b));
        }
        key_bytes += key.size();
        if (key_bytes > key_budget) {
          throw FormatError(ctx_.WithKey(key.substr(0, 64)).WithOffset(offset),
                            "keys expand to more than " + std::to_string(key_budget) +
                                " bytes (64x the file): prefix compression abused");
        }
        first = false;
        first_in_block = false;
        previous = key;
        fn(key, value, offset);
      });
      if (!first && index_[b].separator < previous) {
        Warn("index separator of data block " + std::to_string(b) + " sorts before its last key");
      }
    }
  }

 private:
  explicit Table(File file) : file_(std::move(file)), ctx_(file_.path()) {}

  void Warn(std::string w) { warnings_.push_back(ctx_.file + ": " + std::move(w)); }

  void ReadIndex() {
    const ByteView bytes = file_.bytes();
    footer_ = Footer::Decode(bytes, ctx_);
    Block index_block(ReadBlock(bytes, footer_.index, ctx_, "index block"), ctx_);
    uint64_t next_offset = 0;
    index_block.ForEach([&](const std::string& key, ByteView value, uint64_t offset) {
      core::Cursor in(value, ctx_, offset);
      IndexEntry e{key, BlockHandle::Decode(&in)};  // TF ignores bytes after the handle
      CheckDataHandle(e.handle, next_offset, offset);
      next_offset = e.handle.offset + e.handle.size + kBlockTrailerSize;
      index_.push_back(std::move(e));
    });
  }

  // Data blocks come first, in order, and must end before the metaindex block.
  void CheckDataHandle(const BlockHandle& h, uint64_t min_offset, uint64_t entry_offset) const {
    const uint64_t limit = footer_.metaindex.offset;
    if (h.offset < min_offset || h.offset > limit || h.size > limit - h.offset ||
        limit - h.offset - h.size < kBlockTrailerSize) {
      throw FormatError(ctx_.WithOffset(entry_offset),
                        "bad index entry: data block handle (offset " + std::to_string(h.offset) + ", size " +
                            std::to_string(h.size) + ") overlaps another block or lies past the metaindex block at " +
                            std::to_string(limit));
    }
  }

  File file_;
  ErrorContext ctx_;
  Footer footer_;
  std::vector<IndexEntry> index_;
  std::vector<std::string> warnings_;
};

}  // namespace warmstart::sstable
