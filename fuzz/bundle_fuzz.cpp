// Fuzz target: BundleEntryProto decoding (proto/bundle.hpp) and tensor reads through
// BundleReader (bundle/reader.hpp, tensor_data.hpp, object_graph.hpp) over an in-memory
// file system.
//
// The harness builds the `.index` itself (TableBuilder, correct block checksums) so that
// the fuzzer spends its time on entry values and data bytes, not on sstable CRCs:
//
//   byte 0            n: number of records (at most 32)
//   record            u8 key_length || key || u16le value_length || value
//                     key "" is the BundleHeaderProto; a default header (1 shard, little
//                     endian, producer 1) is used when no record has key "".
//                     A key whose first byte is 0x00 is taken as a slice key verbatim.
//   rest              the data file; it is served as every shard of 1..4-shard bundles
//
// Duplicate keys: the last record wins. Every value is also decoded on its own with
// DecodeBundleEntry. Then every listed tensor is read (typed, converted, sliced, strings,
// raw), the object graph is decoded if present, and VerifyAll runs.
#include <algorithm>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "warmstart/bundle/naming.hpp"
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/bundle.hpp"
#include "warmstart/sstable/table_builder.hpp"

namespace {

namespace bundle = warmstart::bundle;
using warmstart::core::ByteView;
using warmstart::core::MemoryFileSystem;

constexpr char kPrefix[] = "fuzz/model.ckpt";

struct Input {
  std::map<std::string, std::string> entries;
  ByteView data;
};

Input Split(const uint8_t* data, size_t size) {
  Input in;
  size_t pos = 0;
  const size_t n = size == 0 ? 0 : std::min<size_t>(data[pos++], 32);
  for (size_t r = 0; r < n; ++r) {
    if (pos >= size) break;
    const size_t key_length = data[pos++];
    if (size - pos < key_length + 2) break;
    std::string key(reinterpret_cast<const char*>(data + pos), key_length);
    pos += key_length;
    const size_t value_length = std::min<size_t>(data[pos] | (data[pos + 1] << 8), size - pos - 2);
    pos += 2;
    in.entries[key] = std::string(reinterpret_cast<const char*>(data + pos), value_length);
    pos += value_length;
  }
  in.data = ByteView(data + pos, size - pos);
  return in;
}

std::string BuildIndex(std::map<std::string, std::string> entries) {
  if (!entries.count("")) {
    warmstart::proto::BundleHeader h;
    h.num_shards = 1;
    h.version.producer = 1;
    entries[""] = warmstart::proto::EncodeBundleHeader(h);
  }
  warmstart::sstable::TableBuilder table;
  for (const auto& [key, value] : entries) table.Add(key, ByteView(value.data(), value.size()));
  return table.Finish();
}

template <class Fn>
void Try(Fn&& fn) {
  try {
    fn();
  } catch (const warmstart::Error&) {
  }
}

void ReadEverything(const bundle::BundleReader<MemoryFileSystem>& reader) {
  size_t reads = 0;
  for (const bundle::Entry& e : reader.entries()) {
    if (++reads > 32) break;
    Try([&] { (void)reader.RawBytes(e); });
    Try([&] { (void)reader.ReadAs<double>(e.name); });
    Try([&] { (void)reader.ReadAs<std::complex<float>>(e.name); });
    Try([&] { (void)reader.Read<float>(e.name); });
    Try([&] { (void)reader.Read<bool>(e.name, bundle::Verify::kNo); });
    Try([&] { (void)reader.View<float>(e.name); });
    Try([&] { (void)reader.ReadStrings(e.name); });
    if (e.shape.rank() >= 1 && e.shape.dim(0) >= 2) {
      // The second half of dimension 0, the rest whole.
      std::vector<bundle::TensorSlice::Extent> extents(static_cast<size_t>(e.shape.rank()));
      extents[0] = {e.shape.dim(0) / 2, e.shape.dim(0) - e.shape.dim(0) / 2};
      Try([&] { (void)reader.ReadSlice<float>(e.name, bundle::TensorSlice(extents)); });
      Try([&] { (void)reader.ReadSlice<int64_t>(e.name, bundle::TensorSlice(extents)); });
    }
  }
  Try([&] {
    const auto graph = bundle::ReadObjectGraph(reader);
    if (graph) (void)graph->Describe();
  });
  Try([&] { (void)reader.VerifyAll(1); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Input in = Split(data, size);
  for (const auto& kv : in.entries) {
    Try([&] { (void)warmstart::proto::DecodeBundleEntry(ByteView(kv.second.data(), kv.second.size()),
                                                         warmstart::ErrorContext("fuzz.index").WithKey(kv.first), 0); });
  }
  const std::string index = BuildIndex(in.entries);
  MemoryFileSystem fs;
  fs.Add(bundle::MetaFilename(kPrefix), index);
  for (int n = 1; n <= 4; ++n) {
    for (int i = 0; i < n; ++i) fs.Add(bundle::DataFilename(kPrefix, i, n), in.data);
  }
  Try([&] {
    const auto reader = bundle::BundleReader<MemoryFileSystem>::Open(kPrefix, fs);
    ReadEverything(reader);
  });
  return 0;
}
