// Rebuilding every real uncompressed `.index` from its decoded entries with our
// TableBuilder and proto encoders must give TensorFlow's bytes exactly: this pins the
// table layout (blocks, restarts, separators, footer) and the entry serialization.
// Snappy-compressed indexes (Google-internal writers) rebuild to the same entries, uncompressed.
#include <catch2/catch.hpp>

#include <filesystem>

#include "realdata.hpp"
#include "warmstart/warmstart.hpp"

namespace ws = warmstart;

namespace {

struct Rebuilt {
  std::string bytes;
  bool had_snappy = false;
};

Rebuilt Reindex(const std::string& path) {
  auto table = ws::sstable::Table<ws::core::MappedFile>::Open(ws::core::MappedFile::Open(path));
  ws::sstable::TableBuilder builder;
  table.ForEach([&](const std::string& key, ws::core::ByteView value, uint64_t offset) {
    std::string encoded = key.empty()
                              ? ws::proto::EncodeBundleHeader(ws::proto::DecodeBundleHeader(value, table.context(), offset))
                              : ws::proto::EncodeBundleEntry(ws::proto::DecodeBundleEntry(value, table.context(), offset));
    REQUIRE(encoded == value.ToString());  // entries re-serialize byte for byte
    builder.Add(key, ws::core::ByteView(encoded));
  });
  Rebuilt r;
  r.bytes = builder.Finish();
  const auto& handle = table.index().front().handle;
  r.had_snappy = table.file().bytes()[handle.offset + handle.size] == ws::sstable::kSnappyCompression;
  return r;
}

}  // namespace

TEST_CASE("every real uncompressed index is rebuilt byte for byte", "[realdata][sstable]") {
  std::filesystem::path dir;
  if (!ws::test::RequireRealData("checkpoints", &dir)) return;
  int same = 0, snappy = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".index") continue;
    const std::string path = entry.path().string();
    INFO(path);
    const ws::core::MappedFile original = ws::core::MappedFile::Open(path);
    const Rebuilt r = Reindex(path);
    if (r.had_snappy) {
      ++snappy;
      ws::core::MemoryFileSystem fs;
      fs.Add("x.index", r.bytes);
      auto reread = ws::bundle::BundleReader<ws::core::MemoryFileSystem>::Open("x", fs);
      auto real = ws::bundle::BundleReader<>::Open(path.substr(0, path.size() - 6));
      REQUIRE(reread.entries().size() == real.entries().size());
    } else {
      REQUIRE(r.bytes == original.bytes().ToString());
      ++same;
    }
  }
  CHECK(same == 27);  // MANIFEST.md: 31 indexes, 4 of them with Snappy blocks
  CHECK(snappy == 4);
}
