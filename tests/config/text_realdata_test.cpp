// The text-format layer on the real Object Detection API configs: the 104 sample configs
// (odapi-configs/, odapi-configs/tf2/) and every *.config under checkpoints/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/config/text_json.hpp"

namespace wc = warmstart::config;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> ConfigsUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".config") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The real configs, or empty after a WARN when the real data is absent.
std::vector<fs::path> RealConfigs(size_t* samples) {
  fs::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return {};
  std::vector<fs::path> all = ConfigsUnder(dir);
  *samples = all.size();
  fs::path ckpts;
  if (warmstart::test::RequireRealData("checkpoints", &ckpts)) {
    for (const fs::path& p : ConfigsUnder(ckpts)) all.push_back(p);
  }
  return all;
}

// The single differing region of two texts, as (prefix length, a's middle, b's middle).
struct Difference {
  size_t at;
  std::string a, b;
};
Difference Diff(const std::string& a, const std::string& b) {
  size_t p = 0;
  while (p < a.size() && p < b.size() && a[p] == b[p]) ++p;
  size_t s = 0;
  while (s < a.size() - p && s < b.size() - p && a[a.size() - 1 - s] == b[b.size() - 1 - s]) ++s;
  return Difference{p, a.substr(p, a.size() - p - s), b.substr(p, b.size() - p - s)};
}

}  // namespace

TEST_CASE("text format real data: every config parses, prints and reads back equal", "[config][realdata]") {
  size_t samples = 0;
  const std::vector<fs::path> configs = RealConfigs(&samples);
  if (configs.empty()) return;
  CHECK(samples == 104);
  CHECK(configs.size() >= 104 + 11);
  for (const fs::path& p : configs) {
    INFO(p.string());
    const wc::Document doc = wc::Document::Load(p);
    CHECK(doc.root().Has("model"));
    CHECK(doc.Print() == doc.source());
    const wc::Message again = wc::ParseText(doc.PrintCanonical(), "canonical");
    CHECK(again == doc.root());
    CHECK(wc::PrintText(again) == doc.PrintCanonical());
    // JSON: with hints from the tree itself the round trip is exact.
    const wc::JsonHints hints = wc::HintsFrom(doc.root());
    const nlohmann::ordered_json j = wc::ToJson(doc.root(), hints);
    CHECK(wc::FromJson(nlohmann::ordered_json::parse(j.dump()), hints) == doc.root());
  }
}

TEST_CASE("text format real data: edits change exactly the edited bytes", "[config][realdata]") {
  size_t samples = 0;
  const std::vector<fs::path> configs = RealConfigs(&samples);
  for (const fs::path& p : configs) {
    INFO(p.string());
    const std::string original = ReadAll(p);
    const wc::Message tree = wc::ParseText(original, p.string());
    for (const char* path : {"model.ssd.num_classes", "model.faster_rcnn.num_classes", "model.center_net.num_classes",
                             "train_config.fine_tune_checkpoint", "train_config.batch_size"}) {
      const wc::Value* old = tree.FindLast(path);
      if (old == nullptr) continue;
      INFO(path);
      wc::Document doc = wc::Document::Parse(original, p.string());
      const wc::Value replacement =
          old->kind() == wc::ValueKind::kString ? wc::Value::String("/new/ckpt-0") : wc::Value::Int(12345);
      doc.root().Set(path, replacement);
      const std::string edited = doc.Print();
      // The original with exactly the value's bytes replaced by the new value's text.
      const size_t begin = old->span().begin, end = old->span().end;
      CHECK(edited == original.substr(0, begin) + replacement.ToText() + original.substr(end));
      const Difference d = Diff(original, edited);
      CHECK(d.at >= begin);
      CHECK(d.at + d.a.size() <= end);
      const wc::Message reparsed = wc::ParseText(edited, "edited");
      CHECK(*reparsed.FindLast(path) == replacement);
      CHECK(reparsed == doc.root());
    }
    // A new field lands after its last sibling, on its own line, and nothing else moves.
    wc::Document doc = wc::Document::Parse(original, p.string());
    doc.root().Set("train_config.warmstart_note", wc::Value::Enum("V2"));
    const std::string edited = doc.Print();
    const Difference d = Diff(original, edited);
    CHECK(d.a.empty());
    CHECK(d.b.find("warmstart_note: V2") != std::string::npos);
    CHECK(d.b.find('\n') != std::string::npos);
    CHECK(wc::ParseText(edited, "edited") == doc.root());
  }
}

TEST_CASE("text format real data: every truncation fails cleanly or parses", "[config][realdata]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  for (const char* name : {"ssd_mobilenet_v1_coco.config", "tf2/center_net_deepmac_1024x1024_coco_tpu-128.config",
                           "ssd_mobilenet_v2_pets_keras.config"}) {
    if (!fs::exists(dir / name)) continue;
    const std::string text = ReadAll(dir / name);
    size_t failures = 0;
    for (size_t n = 0; n <= text.size(); ++n) {
      try {
        wc::ParseText(std::string_view(text).substr(0, n), name);
      } catch (const warmstart::FormatError& e) {
        ++failures;
        CHECK(e.context().line.has_value());
      }
    }
    CHECK(failures > text.size() / 2);
    // Flip every byte to a few troublesome characters.
    for (size_t n = 0; n < text.size(); n += 7) {
      for (const char c : {'{', '}', '"', '\\', '[', '-', ':', '\0'}) {
        std::string broken = text;
        broken[n] = c;
        try {
          wc::ParseText(broken, name);
        } catch (const warmstart::FormatError&) {
        }
      }
    }
  }
}
