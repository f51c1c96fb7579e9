// Label maps: the real ones from the OD API test data and beside the real checkpoints, and
// malformed ones with exact errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "tests/realdata.hpp"
#include "warmstart/config/label_map.hpp"

namespace wc = warmstart::config;
namespace fs = std::filesystem;

namespace {

std::string ErrorOf(const std::string& text) {
  try {
    wc::LabelMap::Parse(text, "l.pbtxt");
  } catch (const warmstart::FormatError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("label map: lookups by id and name", "[config]") {
  const auto m = wc::LabelMap::Parse(
      "item { id: 1 name: '/m/01g317' display_name: 'person' }\n"
      "item { name: \"/m/0199g\" id: 2 }\n"
      "item { id: 7 name: 'kp' keypoints { id: 0 label: 'nose' } keypoints { id: 1 label: 'left_eye' } }\n");
  CHECK(m.size() == 3);
  CHECK(m.max_id() == 7);  // gaps are allowed
  REQUIRE(m.FindById(1) != nullptr);
  CHECK(m.FindById(1)->name == "/m/01g317");
  CHECK(m.DisplayName(1) == "person");
  CHECK(m.DisplayName(2) == "/m/0199g");
  CHECK(m.DisplayName(3).empty());
  CHECK(m.FindById(3) == nullptr);
  REQUIRE(m.FindByName("/m/0199g") != nullptr);
  CHECK(m.FindByName("/m/0199g")->id == 2);
  CHECK(m.FindByName("person") == nullptr);  // display names are not names
  REQUIRE(m.FindById(7)->keypoints.size() == 2);
  CHECK(m.FindById(7)->keypoints[1] == std::make_pair(1, std::string("left_eye")));
  CHECK(m.FindById(7)->position.line == 3);
  CHECK(wc::LabelMap::Parse("").size() == 0);
}

TEST_CASE("label map: malformed maps give the exact error and position", "[config]") {
  CHECK(ErrorOf("item {\n  id: 0\n  name: 'background'\n}\n") ==
        "l.pbtxt:2:7: label map id 0 is reserved: ids start at 1 (0 is the background class)");
  CHECK(ErrorOf("item { id: 1 name: 'a' }\nitem { id: 1 name: 'b' }\n") ==
        "l.pbtxt:2:12: duplicate label map id 1 (first used by 'a' at 1:6)");
  CHECK(ErrorOf("item { id: 1 name: 'a' }\nitem { id: 2 name: 'a' }\n") ==
        "l.pbtxt:2:20: duplicate label map name 'a' (ids 1 and 2)");
  CHECK(ErrorOf("item { name: 'a' }") == "l.pbtxt:1:6: label map item has no id");
  CHECK(ErrorOf("item { id: 3 }") == "l.pbtxt:1:6: label map item has no name");
  CHECK(ErrorOf("item { id: 1 name: 'a' display_nam: 'A' }") ==
        "l.pbtxt:1:24: message type \"object_detection.protos.StringIntLabelMapItem\" has no field named "
        "\"display_nam\"; did you mean 'display_name'?");
  CHECK(ErrorOf("item { id: '1' name: 'a' }") ==
        "l.pbtxt:1:12: field \"id\" (int32): expected an integer, found string \"1\"");
  CHECK(ErrorOf("items { id: 1 }") ==
        "l.pbtxt:1:1: message type \"object_detection.protos.StringIntLabelMap\" has no field named \"items\"; "
        "did you mean 'item'?");
  // Merge keeps the last id of an item; noted.
  const auto m = wc::LabelMap::Parse("item { id: 1 id: 2 name: 'a' }", "l.pbtxt");
  CHECK(m.FindById(2) != nullptr);
  REQUIRE(m.diagnostics().size() == 1);
  CHECK(m.diagnostics()[0].ToString() ==
        "l.pbtxt:1:14: non-repeated field 'id' is specified multiple times; TensorFlow's text_format.Merge keeps the last one");
  CHECK_THROWS_AS(wc::LabelMap::Load("/nonexistent/label_map.pbtxt"), warmstart::NotFoundError);
}

TEST_CASE("label map: the real label maps load", "[config]") {
  fs::path dir;
  if (!warmstart::test::RequireRealData(&dir)) return;
  int loaded = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".pbtxt") continue;
    INFO(e.path().string());
    wc::ValidateOptions strict;
    strict.strict = true;
    const auto m = wc::LabelMap::Load(e.path(), strict);
    CHECK(m.size() >= 1);
    ++loaded;
  }
  CHECK(loaded == 9);
  const auto pets = wc::LabelMap::Load(dir / "od_test_data/pet_label_map.pbtxt");
  CHECK(pets.size() == 37);
  CHECK(pets.max_id() == 37);
  CHECK(pets.FindById(1)->name == "Abyssinian");
  CHECK(pets.FindByName("yorkshire_terrier") != nullptr);
  const auto coco = wc::LabelMap::Load(dir / "od_test_data/mscoco_label_map.pbtxt");
  CHECK(coco.size() == 80);
  CHECK(coco.max_id() == 90);  // COCO ids have gaps
  CHECK(coco.DisplayName(1) == "person");
  CHECK(coco.FindById(12) == nullptr);
  const auto accident = wc::LabelMap::Load(dir / "checkpoints/tf2-od-ssd-mobilenet-v2-fpnlite-accident/label_map.pbtxt");
  CHECK(accident.FindById(1)->name == "accident");
}
