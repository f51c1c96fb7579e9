// Fuzz target: the sstable reader (sstable/format.hpp, block.hpp, table.hpp) on a whole
// `.index` file, then BundleReader opening the same bytes as PREFIX.index.
//
// Input: the bytes of one table file. The seed corpus holds tables from TableBuilder and
// BundleWriter (and small real `.index` files when the corpus is built with realdata).
// Each input runs twice: as given, and with its block checksums rewritten (table_fixup.hpp).
// Checks, beyond "no crash": every key the table yields sorts strictly after the one
// before (Table promises it), values lie inside the file, and the bundle's listing is
// sorted with unique names.
#include <cstdint>
#include <cstdio>
#include <string>

#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "warmstart/sstable/table.hpp"
#include "table_fixup.hpp"

namespace {

using warmstart::core::ByteView;
using warmstart::core::MemoryFile;
using warmstart::core::MemoryFileSystem;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "sstable_fuzz: %s\n", what);
  __builtin_trap();
}

void FuzzTable(ByteView bytes) {
  try {
    auto table = warmstart::sstable::Table<MemoryFile>::Open(MemoryFile("fuzz.table", bytes));
    (void)table.EntryCountHint();
    std::string previous;
    bool first = true;
    table.ForEach([&](const std::string& key, ByteView value, uint64_t) {
      if (!first && !(previous < key)) Bug("table yielded keys out of order");
      first = false;
      previous = key;
      // Raw blocks point into the file; Snappy blocks into their own buffer.
      if (value.size() > 32 * bytes.size() + 1024) Bug("value larger than any block can hold");
    });
  } catch (const warmstart::Error&) {
  }
}

void FuzzBundleIndex(ByteView bytes) {
  MemoryFileSystem fs;
  fs.Add("fuzz.index", bytes);
  try {
    auto reader = warmstart::bundle::BundleReader<MemoryFileSystem>::Open("fuzz", fs);
    const auto& entries = reader.entries();
    for (size_t i = 1; i < entries.size(); ++i) {
      if (!(entries[i - 1].name < entries[i].name)) Bug("bundle listing not sorted or has duplicates");
    }
    for (const auto& e : entries) {
      if (reader.Find(e.name) != &e) Bug("Find does not find a listed entry");
    }
    // No data file exists: every read must fail cleanly (NotFoundError), never crash.
    size_t reads = 0;
    for (const auto& e : entries) {
      if (++reads > 16) break;
      try {
        (void)reader.ReadAs<double>(e.name);
      } catch (const warmstart::Error&) {
      }
    }
    (void)reader.VerifyAll(1);
  } catch (const warmstart::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView bytes(data, size);
  FuzzTable(bytes);
  FuzzBundleIndex(bytes);
  // Again with every block checksum made right, so that mutations reach the blocks.
  std::string fixed(reinterpret_cast<const char*>(data), size);
  if (warmstart_fuzz::FixTableChecksums(&fixed)) {
    FuzzTable(ByteView(fixed.data(), fixed.size()));
    FuzzBundleIndex(ByteView(fixed.data(), fixed.size()));
  }
  return 0;
}
