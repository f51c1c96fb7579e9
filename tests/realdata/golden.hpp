// Helpers shared by the real-data tests (realdata_test.cpp, corruption_test.cpp).
//
//   ReadFileBytes    a whole file as a std::string (real files are copied, never modified)
//   Hex              lowercase hex of bytes, as the oracle report writes them
//   ListingRow       everything the index says about one entry: name, dtype, shape, shard,
//                    offset, size, masked crc32c, slices; a Listing adds num_shards and
//                    endianness. Two listings are equal when every field of every row is.
//   FirstDifference  the first row (or header field) where two listings differ, as text
//   FailureLog       counts failing cases and keeps the first few messages, so a test
//                    that tries thousands of corruptions REQUIREs once with a readable
//                    message instead of flooding the report
//   SamplePositions  a deterministic sample of byte positions of a file (all of them when
//                    the file is small), always including the tail where the footer and
//                    the index block live
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "warmstart/bundle/reader.hpp"

namespace warmstart::test {

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string Hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

inline bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct ListingRow {
  std::string name;
  bundle::DataType dtype = bundle::DataType::kInvalid;
  std::vector<int64_t> dims;
  int32_t shard_id = 0;
  int64_t offset = 0;
  int64_t size = 0;
  uint32_t masked_crc32c = 0;
  std::string slices;  // DebugString of each slice, space separated

  bool operator==(const ListingRow& o) const {
    return name == o.name && dtype == o.dtype && dims == o.dims && shard_id == o.shard_id && offset == o.offset &&
           size == o.size && masked_crc32c == o.masked_crc32c && slices == o.slices;
  }
  bool operator!=(const ListingRow& o) const { return !(*this == o); }

  std::string ToString() const {
    std::ostringstream os;
    os << "'" << warmstart::detail::PrintableKey(name) << "' " << bundle::DataTypeName(dtype) << " "
       << bundle::TensorShape(dims).DebugString() << " shard " << shard_id << " offset " << offset << " size "
       << size << " crc 0x" << warmstart::detail::Hex32(masked_crc32c);
    if (!slices.empty()) os << " slices " << slices;
    return os.str();
  }
};

struct Listing {
  int num_shards = 0;
  int endianness = 0;
  size_t num_index_entries = 0;
  std::vector<ListingRow> rows;

  bool operator==(const Listing& o) const {
    return num_shards == o.num_shards && endianness == o.endianness && num_index_entries == o.num_index_entries &&
           rows == o.rows;
  }
  bool operator!=(const Listing& o) const { return !(*this == o); }
};

inline ListingRow RowOf(const bundle::Entry& e) {
  ListingRow r;
  r.name = e.name;
  r.dtype = e.dtype;
  r.dims = e.shape.dims();
  r.shard_id = e.shard_id;
  r.offset = e.offset;
  r.size = e.size;
  r.masked_crc32c = e.masked_crc32c;
  for (const bundle::TensorSlice& s : e.slices) r.slices += (r.slices.empty() ? "" : " ") + s.DebugString();
  return r;
}

template <class Fs>
Listing ListingOf(const bundle::BundleReader<Fs>& reader) {
  Listing l;
  l.num_shards = reader.num_shards();
  l.endianness = static_cast<int>(reader.endianness());
  l.num_index_entries = reader.num_index_entries();
  for (const bundle::Entry& e : reader.entries()) l.rows.push_back(RowOf(e));
  return l;
}

inline std::string FirstDifference(const Listing& expected, const Listing& found) {
  if (expected.num_shards != found.num_shards) {
    return "num_shards " + std::to_string(expected.num_shards) + " became " + std::to_string(found.num_shards);
  }
  if (expected.endianness != found.endianness) return "endianness changed";
  const size_t n = std::min(expected.rows.size(), found.rows.size());
  for (size_t i = 0; i < n; ++i) {
    if (expected.rows[i] != found.rows[i]) {
      return "entry " + std::to_string(i) + ": " + expected.rows[i].ToString() + " became " + found.rows[i].ToString();
    }
  }
  if (expected.rows.size() != found.rows.size() || expected.num_index_entries != found.num_index_entries) {
    return std::to_string(expected.rows.size()) + " listed / " + std::to_string(expected.num_index_entries) +
           " index entries became " + std::to_string(found.rows.size()) + " / " +
           std::to_string(found.num_index_entries);
  }
  return "no difference";
}

// Counts failing cases; keeps the first `keep` descriptions for the REQUIRE message.
class FailureLog {
 public:
  explicit FailureLog(size_t keep = 5) : keep_(keep) {}

  void Add(const std::string& what) {
    if (count_ < keep_) first_.push_back(what);
    ++count_;
  }
  size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }

  std::string Summary() const {
    std::string s = std::to_string(count_) + " failing case(s)";
    if (count_ > first_.size()) s += ", the first " + std::to_string(first_.size());
    s += ":";
    for (const std::string& f : first_) s += "\n  - " + f;
    return s;
  }

 private:
  size_t keep_;
  size_t count_ = 0;
  std::vector<std::string> first_;
};

// Deterministic positions in [0, size): every position when size <= limit; otherwise the
// last `tail` positions plus positions from a fixed linear congruential sequence, `limit`
// in all, sorted. (std::uniform_int_distribution differs between standard libraries, a
// hand-written LCG does not.)
inline std::vector<size_t> SamplePositions(size_t size, size_t limit, size_t tail = 256) {
  std::vector<size_t> out;
  if (size <= limit) {
    for (size_t i = 0; i < size; ++i) out.push_back(i);
    return out;
  }
  std::set<size_t> chosen;
  for (size_t i = size - std::min(tail, size); i < size; ++i) chosen.insert(i);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  while (chosen.size() < limit) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    chosen.insert(static_cast<size_t>((state >> 33) % size));
  }
  return std::vector<size_t>(chosen.begin(), chosen.end());
}

}  // namespace warmstart::test
