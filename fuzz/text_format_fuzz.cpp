// Fuzz target: the protobuf text-format parser (config/text_lexer.hpp, text_format.hpp,
// text_json.hpp) and the typed views over it (config/pipeline.hpp PipelineConfig::Parse,
// config/label_map.hpp LabelMap::Parse).
//
// Input: the text of a config / label map. Checks, beyond "no crash":
//   * Document::Parse(text).Print() returns the text unchanged (no edits were made);
//   * the canonical print of the tree parses again to an equal tree, and prints the same;
//   * errors are FormatError with a line:column.
#include <cstdint>
#include <cstdio>
#include <string>

#include "warmstart/config/label_map.hpp"
#include "warmstart/config/pipeline.hpp"
#include "warmstart/config/text_format.hpp"
#include "warmstart/config/text_json.hpp"
#include "warmstart/error.hpp"

namespace {

namespace config = warmstart::config;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "text_format_fuzz: %s\n", what);
  __builtin_trap();
}

void CheckTextError(const warmstart::Error& e) {
  if (!dynamic_cast<const warmstart::FormatError*>(&e)) {
    std::fprintf(stderr, "%s\n", e.what());
    Bug("text error that is not a FormatError");
  }
  if (!e.context().line) {
    std::fprintf(stderr, "%s\n", e.what());
    Bug("text error without line:column");
  }
}

void FuzzTree(const std::string& text) {
  config::Document doc = [&] {
    try {
      return config::Document::Parse(text, "fuzz.config");
    } catch (const warmstart::Error& e) {
      CheckTextError(e);
      throw;
    }
  }();
  if (doc.Print() != text) Bug("Document::Print changed an unedited text");
  const std::string canonical = doc.PrintCanonical();
  config::Message again;
  try {
    again = config::ParseText(canonical, "fuzz.canonical");
  } catch (const warmstart::Error& e) {
    std::fprintf(stderr, "%s\n--- canonical:\n%s\n", e.what(), canonical.c_str());
    Bug("canonical print does not parse");
  }
  if (!(again == doc.root())) {
    std::fprintf(stderr, "--- canonical:\n%s\n", canonical.c_str());
    Bug("canonical print parses to a different tree");
  }
  if (config::PrintText(again) != canonical) Bug("canonical print is not stable");
  (void)config::ToJson(doc.root(), config::HintsFrom(doc.root()));
}

void FuzzViews(const std::string& text) {
  try {
    const auto cfg = config::PipelineConfig::Parse(text, "fuzz.config");
    (void)cfg.train().ResolvedFineTuneCheckpointType();
    for (const char* path : {"train_config.batch_size", "model.ssd.num_classes",
                             "train_config.fine_tune_checkpoint_type",
                             "model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios"}) {
      try {
        (void)cfg.GetWithDefault(path);
      } catch (const warmstart::NotFoundError&) {
      }
    }
  } catch (const warmstart::Error&) {
  }
  try {
    config::LoadOptions strict;
    strict.validate.strict = true;
    (void)config::PipelineConfig::Parse(text, "fuzz.config", strict);
  } catch (const warmstart::Error&) {
  }
  try {
    const auto labels = config::LabelMap::Parse(text, "fuzz.pbtxt");
    for (const auto& item : labels.items()) {
      if (labels.FindById(item.id) == nullptr) Bug("LabelMap::FindById misses an item");
      (void)labels.DisplayName(item.id);
    }
  } catch (const warmstart::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    FuzzTree(text);
  } catch (const warmstart::Error&) {
    return 0;  // checked in FuzzTree; the views would fail the same way
  }
  FuzzViews(text);
  return 0;
}
