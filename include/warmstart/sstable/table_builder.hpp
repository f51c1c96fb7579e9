// Builds a table exactly as TensorFlow's TableBuilder does for bundle indexes
// (third_party/xla/xla/tsl/lib/io/table_builder.cc, block_builder.cc), so that our
// `.index` files are byte-identical to TF's. Layout: see format.hpp and block.hpp.
//
// Options used by BundleWriter and MergeBundles: block_size 262144, restart
// interval 16 for data blocks and 1 for the index block, no compression.
//   Add(key, value): 1. if not the first entry and |key| + |value| >= 2 * block_size,
//                       flush the current (non-empty) block first;
//                    2. emit the pending index entry: shortest_separator(last, key);
//                    3. append; 4. flush when the size estimate
//                       (|entries| + 4 * restarts + 4) >= block_size.
//   Finish():        flush; empty metaindex block; pending index entry with
//                    short_successor(last); index block; footer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/sstable/format.hpp"

namespace warmstart::sstable {

struct TableOptions {
  size_t block_size = 262144;
  int block_restart_interval = 16;
};

// Accumulates one block's entries with prefix compression and restarts.
class BlockBuilder {
 public:
  explicit BlockBuilder(int restart_interval) : interval_(restart_interval) { restarts_.push_back(0); }

  // Requires: key sorts after every key added since the last Reset.
  void Add(const std::string& key, ByteView value) {
    size_t shared = 0;
    if (counter_ < interval_) {
      const size_t n = std::min(last_key_.size(), key.size());
      while (shared < n && last_key_[shared] == key[shared]) ++shared;
    } else {
      restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
      counter_ = 0;
    }
    core::PutVarint64(&buffer_, shared);
    core::PutVarint64(&buffer_, key.size() - shared);
    core::PutVarint64(&buffer_, value.size());
    buffer_.append(key, shared, std::string::npos);
    buffer_.append(reinterpret_cast<const char*>(value.data()), value.size());
    last_key_ = key;
    ++counter_;
    empty_ = false;
  }

  size_t CurrentSizeEstimate() const { return buffer_.size() + 4 * restarts_.size() + 4; }
  bool empty() const { return empty_; }

  // Appends the restart array and returns the finished contents.
  const std::string& Finish() {
    for (uint32_t r : restarts_) core::PutFixed32(&buffer_, r);
    core::PutFixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
    return buffer_;
  }

  void Reset() {
    buffer_.clear();
    restarts_.assign(1, 0);
    counter_ = 0;
    empty_ = true;
    last_key_.clear();
  }

 private:
  int interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;
  bool empty_ = true;
  std::string last_key_;
};

namespace detail {

// Shortest string s with a <= s < b when possible (TF/leveldb BytewiseComparator).
inline std::string ShortestSeparator(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i >= n) return a;  // one is a prefix of the other
  const uint8_t byte = static_cast<uint8_t>(a[i]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(b[i])) {
    std::string s = a.substr(0, i + 1);
    s[i] = static_cast<char>(byte + 1);
    return s;
  }
  return a;
}

// Shortest string >= a: increment the first byte that is not 0xff, drop the rest.
inline std::string ShortSuccessor(const std::string& a) {
  for (size_t i = 0; i < a.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(a[i]);
    if (byte != 0xff) {
      std::string s = a.substr(0, i + 1);
      s[i] = static_cast<char>(byte + 1);
      return s;
    }
  }
  return a;
}

}  // namespace detail

class TableBuilder {
 public:
  explicit TableBuilder(TableOptions options = {})
      : options_(options), data_(options.block_restart_interval), index_(1) {}

  // Requires: key sorts strictly after the previous key.
  void Add(const std::string& key, ByteView value) {
    if (!first_ && !(last_key_ < key)) {
      throw ArgumentError("table keys must be added in strictly increasing order: '" +
                          warmstart::detail::PrintableKey(key) + "' after '" +
                          warmstart::detail::PrintableKey(last_key_) + "'");
    }
    if (!first_ && key.size() + value.size() >= 2 * options_.block_size) Flush();
    if (pending_index_) {
      AddIndexEntry(detail::ShortestSeparator(last_key_, key));
    }
    data_.Add(key, value);
    last_key_ = key;
    first_ = false;
    ++num_entries_;
    if (data_.CurrentSizeEstimate() >= options_.block_size) Flush();
  }

  // Writes the remaining blocks and the footer; returns the whole table.
  std::string Finish() {
    Flush();
    BlockBuilder meta(options_.block_restart_interval);
    const BlockHandle meta_handle = WriteBlock(meta.Finish());
    if (pending_index_) AddIndexEntry(detail::ShortSuccessor(last_key_));
    Footer footer;
    footer.metaindex = meta_handle;
    footer.index = WriteBlock(index_.Finish());
    footer.EncodeTo(&out_);
    return std::move(out_);
  }

  size_t num_entries() const { return num_entries_; }
  size_t size_so_far() const { return out_.size(); }

 private:
  void Flush() {
    if (data_.empty()) return;
    pending_handle_ = WriteBlock(data_.Finish());
    data_.Reset();
    pending_index_ = true;
  }

  void AddIndexEntry(const std::string& separator) {
    std::string handle;
    pending_handle_.EncodeTo(&handle);
    index_.Add(separator, ByteView(handle.data(), handle.size()));
    pending_index_ = false;
  }

  BlockHandle WriteBlock(const std::string& contents) {
    BlockHandle h{out_.size(), contents.size()};
    out_ += contents;
    const ByteView view(contents.data(), contents.size());
    out_.push_back(static_cast<char>(kNoCompression));
    core::PutFixed32(&out_, BlockChecksum(view, kNoCompression));
    return h;
  }

  TableOptions options_;
  BlockBuilder data_;
  BlockBuilder index_;
  std::string out_;
  std::string last_key_;
  bool first_ = true;
  bool pending_index_ = false;
  BlockHandle pending_handle_;
  size_t num_entries_ = 0;
};

}  // namespace warmstart::sstable
