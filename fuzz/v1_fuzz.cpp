// Fuzz target: V1 checkpoints (bundle/v1.hpp OpenV1, proto/saved_slices.hpp), read
// through BundleReader like a V2 bundle.
//
// Input: the bytes of one V1 checkpoint file (an sstable of SavedTensorSlices). Seeds come
// from a small V1 writer in make_corpus.cpp (and real V1 files with realdata).
// Each input runs twice: as given, and with its block checksums rewritten (table_fixup.hpp).
// Checks, beyond "no crash": the converted bundle verifies (its checksums are computed at
// open, so VerifyAll must pass), and every listed tensor either reads or fails with an Error.
#include <complex>
#include <cstdint>
#include <cstdio>
#include <string>

#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/v1.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "table_fixup.hpp"

namespace {

namespace bundle = warmstart::bundle;
using warmstart::core::ByteView;
using warmstart::core::MemoryFileSystem;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "v1_fuzz: %s\n", what);
  __builtin_trap();
}

template <class Fn>
void Try(Fn&& fn) {
  try {
    fn();
  } catch (const warmstart::Error&) {
  }
}

void FuzzV1(ByteView bytes) {
  MemoryFileSystem fs;
  fs.Add("fuzz.ckpt", bytes);
  try {
    const auto reader = bundle::OpenV1("fuzz.ckpt", fs);
    const bundle::VerifyReport report = reader.VerifyAll(1);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.failures[0].message.c_str());
      Bug("a converted V1 checkpoint fails verification");
    }
    size_t reads = 0;
    for (const bundle::Entry& e : reader.entries()) {
      if (++reads > 32) break;
      Try([&] { (void)reader.ReadAs<double>(e.name); });
      Try([&] { (void)reader.ReadAs<std::complex<double>>(e.name); });
      Try([&] { (void)reader.ReadStrings(e.name); });
      Try([&] { (void)reader.Read<int64_t>(e.name); });
    }
  } catch (const warmstart::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzV1(ByteView(data, size));
  // Again with every block checksum made right, so that mutations reach the entries.
  std::string fixed(reinterpret_cast<const char*>(data), size);
  if (warmstart_fuzz::FixTableChecksums(&fixed)) FuzzV1(ByteView(fixed.data(), fixed.size()));
  return 0;
}
