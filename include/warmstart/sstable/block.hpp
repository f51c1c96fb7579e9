// One table block: prefix-compressed entries followed by the restart array.
// Mirrors third_party/xla/xla/tsl/lib/io/block.cc (leveldb table/block.cc).
//
//   entry    = varint32 shared || varint32 non_shared || varint32 value_length
//              || key_delta[non_shared] || value[value_length]
//   block    = entry* || restart[r] (fixed32 offsets of entries with shared = 0) || fixed32 r
//
// key(i) = key(i-1)[0, shared) || key_delta. restart[0] = 0. TF treats r = 0 as an
// empty block and rejects a block shorter than 4 bytes or with r > (size - 4) / 4.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/sstable/format.hpp"

namespace warmstart::sstable {

class Block {
 public:
  // Requires: ctx outlives the block. Validates the restart array.
  Block(BlockContents contents, const ErrorContext& ctx) : contents_(std::move(contents)), ctx_(ctx) {
    if (contents_.compressed) {
      ctx_.file += " (Snappy block at offset " + std::to_string(contents_.file_offset) +
                   "; offsets are within the decompressed block)";
      base_ = 0;
    } else {
      base_ = contents_.file_offset;
    }
    ParseRestarts();
  }

  size_t num_restarts() const { return restarts_.size(); }
  const std::vector<uint32_t>& restarts() const { return restarts_; }
  const ErrorContext& context() const { return ctx_; }

  // Calls fn(const std::string& key, ByteView value, uint64_t value_offset) for every
  // entry in order; value_offset is where the value's bytes start (absolute in the
  // file for raw blocks, within the decompressed block for Snappy blocks). Checks `shared` against the previous key and that restart
  // points are entries with shared = 0.
  template <class Fn>
  void ForEach(Fn&& fn) const {
    const ByteView data = contents_.data;
    core::Cursor in(data.Sub(0, entries_end_), ctx_, base_);
    std::string key;
    size_t next_restart = 0;
    while (!in.empty()) {
      const size_t entry_pos = in.position();
      const uint32_t shared = in.ReadVarint32("block entry shared length");
      const uint32_t non_shared = in.ReadVarint32("block entry key length");
      const uint32_t value_length = in.ReadVarint32("block entry value length");
      if (next_restart < restarts_.size() && restarts_[next_restart] == entry_pos) {
        if (shared != 0) in.FailAt(entry_pos, "bad entry in block: restart point with shared = " + std::to_string(shared));
        ++next_restart;
      } else if (next_restart < restarts_.size() && restarts_[next_restart] < entry_pos) {
        in.FailAt(entry_pos, "bad entry in block: restart offset " + std::to_string(restarts_[next_restart]) +
                                 " is not the start of an entry");
      }
      if (shared > key.size()) {
        in.FailAt(entry_pos, "bad entry in block: shared " + std::to_string(shared) +
                                 " exceeds previous key length " + std::to_string(key.size()));
      }
      const ByteView delta = in.ReadBytes(non_shared, "block entry key");
      const ByteView value = in.ReadBytes(value_length, "block entry value");
      key.resize(shared);
      key.append(reinterpret_cast<const char*>(delta.data()), delta.size());
      fn(static_cast<const std::string&>(key), value, base_ + in.position() - value.size());
    }
    if (next_restart != restarts_.size() && entries_end_ != 0) {
      in.FailAt(entries_end_, "bad entry in block: restart offset " + std::to_string(restarts_[next_restart]) +
                                  " is not the start of an entry");
    }
  }

 private:
  void ParseRestarts() {
    const ByteView data = contents_.data;
    core::Cursor in(data, ctx_, base_);
    if (data.size() < 4) in.Fail("bad block contents: " + std::to_string(data.size()) + " bytes, need at least 4");
    const uint32_t r = core::DecodeFixed32(data.data() + data.size() - 4);
    const size_t max_restarts = (data.size() - 4) / 4;
    if (r > max_restarts) {
      in.FailAt(data.size() - 4, "bad block contents: restart count " + std::to_string(r) +
                                     " does not fit in a " + std::to_string(data.size()) + "-byte block");
    }
    if (r == 0) {  // TF: an empty block
      entries_end_ = 0;
      return;
    }
    entries_end_ = data.size() - 4 - 4 * static_cast<size_t>(r);
    restarts_.resize(r);
    for (uint32_t j = 0; j < r; ++j) {
      restarts_[j] = core::DecodeFixed32(data.data() + entries_end_ + 4 * j);
      const bool ordered = j == 0 ? restarts_[j] == 0 : restarts_[j] > restarts_[j - 1];
      if (!ordered || restarts_[j] >= entries_end_) {
        if (!(restarts_[j] == 0 && entries_end_ == 0)) {
          in.FailAt(entries_end_ + 4 * j, "bad block contents: restart[" + std::to_string(j) + "] = " +
                                              std::to_string(restarts_[j]) + " is out of order or past the entries");
        }
      }
    }
  }

  BlockContents contents_;
  ErrorContext ctx_;
  uint64_t base_ = 0;
  size_t entries_end_ = 0;
  std::vector<uint32_t> restarts_;
};

}  // namespace warmstart::sstable
