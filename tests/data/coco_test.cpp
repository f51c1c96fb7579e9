// data/coco.hpp: COCO JSON + image folder -> DetectionRecord, EncodeCoco round trip, skipped
// boxes, and errors naming the file and the JSON path.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/data/coco.hpp"
#include "data/data_test_util.hpp"

namespace ws = warmstart;
namespace wd = warmstart::data;
namespace fs = std::filesystem;

namespace {

using warmstart::test::data::ReadBytes;
using warmstart::test::data::Thrown;
using warmstart::test::data::WriteBytes;

const char* kSmall = R"({
  "info": {"description": "ignored"},
  "images": [
    {"id": 7, "file_name": "a.jpg", "width": 200, "height": 100},
    {"id": 9, "file_name": "b.PNG", "width": 50, "height": 40, "license": 3}
  ],
  "annotations": [
    {"id": 1, "image_id": 7, "category_id": 18, "bbox": [20, 10, 100, 50], "iscrowd": 0},
    {"id": 2, "image_id": 9, "category_id": 1, "bbox": [0, 0, 50, 40]},
    {"id": 3, "image_id": 7, "category_id": 1, "bbox": [150.5, 0, 60, 10], "iscrowd": 0},
    {"id": 4, "image_id": 7, "category_id": 1, "bbox": [0, 0, 0, 10]},
    {"id": 5, "image_id": 7, "category_id": 1, "bbox": [0.0, 50.0, 10.0, 25.0], "iscrowd": 1}
  ],
  "categories": [{"id": 1, "name": "person", "supercategory": "x"}, {"id": 18, "name": "dog"}]
})";

ws::FormatError ParseError(const std::string& json) {
  return Thrown<ws::FormatError>([&] { wd::CocoDataset::Parse(json, "instances.json", "."); });
}

// kSmall with one substring replaced.
std::string SmallWith(const std::string& from, const std::string& to) {
  std::string s = kSmall;
  const size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("coco: records, normalized boxes, labels = category ids", "[data][coco]") {
  const auto ds = wd::CocoDataset::Parse(kSmall, "instances.json", "imgs");
  REQUIRE(ds.size() == 2);
  REQUIRE(ds.categories().size() == 2);
  CHECK(ds.categories()[1].id == 18);
  CHECK(ds.categories()[1].name == "dog");

  const wd::DetectionRecord& a = ds.records()[0];
  CHECK(a.source_id == "7");
  CHECK(a.filename == "a.jpg");
  CHECK(a.format == "jpeg");
  CHECK(a.width == 200);
  CHECK(a.height == 100);
  CHECK(a.encoded.empty());
  REQUIRE(a.boxes.size() == 2);  // annotations 3 (leaves the image) and 4 (w = 0) skipped
  CHECK(a.boxes[0] == wd::Box{0.1f, 0.1f, 0.6f, 0.6f});
  CHECK(a.boxes[1] == wd::Box{0.5f, 0.0f, 0.75f, 0.05f});
  CHECK(a.labels == std::vector<int32_t>{18, 1});
  CHECK(a.texts == std::vector<std::string>{"dog", "person"});
  CHECK(a.is_crowd == std::vector<int>{0, 1});
  CHECK(a.difficult.empty());

  const wd::DetectionRecord& b = ds.records()[1];
  CHECK(b.format == "png");
  CHECK(b.boxes == std::vector<wd::Box>{wd::Box{0, 0, 1, 1}});
  CHECK(b.is_crowd == std::vector<int>{0});

  REQUIRE(ds.skipped().size() == 2);
  CHECK_THAT(ds.skipped()[0], Catch::StartsWith("annotations[2].bbox: box [150.5"));
  CHECK_THAT(ds.skipped()[1], Catch::StartsWith("annotations[3].bbox: "));
}

TEST_CASE("coco: EncodeCoco and Load round trip with image files", "[data][coco]") {
  ws::test::TempDir dir;
  const auto ds = wd::CocoDataset::Parse(kSmall, "instances.json", dir.path());
  WriteBytes(dir / "a.jpg", std::string("\xff\xd8\xff jpeg bytes", 14));
  WriteBytes(dir / "b.PNG", "png bytes");
  WriteBytes(dir / "out.json", wd::EncodeCoco(ds.categories(), ds.records()));

  const auto again = wd::CocoDataset::Load(dir / "out.json", dir.path());
  REQUIRE(again.size() == ds.size());
  CHECK(again.skipped().empty());
  for (size_t i = 0; i < ds.size(); ++i) {
    const auto& x = ds.records()[i];
    const auto& y = again.records()[i];
    CHECK(y.source_id == x.source_id);
    CHECK(y.filename == x.filename);
    CHECK(y.labels == x.labels);
    CHECK(y.texts == x.texts);
    CHECK(y.is_crowd == x.is_crowd);
    REQUIRE(y.boxes.size() == x.boxes.size());
    for (size_t k = 0; k < x.boxes.size(); ++k) {
      for (size_t c = 0; c < 4; ++c) CHECK(y.boxes[k][c] == Approx(x.boxes[k][c]).margin(1e-6));
    }
  }
  const wd::DetectionRecord loaded = again.Load(0);
  CHECK(loaded.encoded == std::string("\xff\xd8\xff jpeg bytes", 14));
  CHECK(again.Load(1).encoded == "png bytes");
  fs::remove(dir / "b.PNG");
  const auto e = Thrown<ws::NotFoundError>([&] { again.Load(1); });
  CHECK_THAT(e.what(), Catch::Contains("b.PNG") && Catch::Contains("image of images[1] not found"));
  CHECK_THROWS_AS(again.Load(2), std::out_of_range);
}

TEST_CASE("coco: errors name the file and the JSON path", "[data][coco]") {
  SECTION("bbox of three numbers") {
    const auto e = ParseError(SmallWith("[20, 10, 100, 50]", "[20, 10, 100]"));
    CHECK(std::string(e.what()) == "instances.json: annotations[0].bbox: expected 4 numbers [x, y, w, h], found 3");
  }
  SECTION("bbox with a string") {
    CHECK(ParseError(SmallWith("[0, 0, 50, 40]", "[0, \"0\", 50, 40]")).reason() ==
          "annotations[1].bbox[1]: expected a number, found \"0\"");
  }
  SECTION("unknown image and category") {
    CHECK(ParseError(SmallWith("\"image_id\": 9", "\"image_id\": 8")).reason() ==
          "annotations[1].image_id: image id 8 is not in images");
    CHECK(ParseError(SmallWith("\"category_id\": 18", "\"category_id\": 2")).reason() ==
          "annotations[0].category_id: category id 2 is not in categories");
  }
  SECTION("duplicate ids, category 0, bad sizes, missing members") {
    CHECK(ParseError(SmallWith("\"id\": 9,", "\"id\": 7,")).reason() == "images[1].id: image id 7 appears twice");
    CHECK(ParseError(SmallWith("{\"id\": 18,", "{\"id\": 1,")).reason() == "categories[1].id: category id 1 appears twice");
    CHECK_THAT(ParseError(SmallWith("{\"id\": 1, \"name\"", "{\"id\": 0, \"name\"")).reason(),
               Catch::StartsWith("categories[0].id: category id 0 is not in [1, 2^31)"));
    CHECK(ParseError(SmallWith("\"width\": 50", "\"width\": \"50\"")).reason() ==
          "images[1].width: expected an integer, found \"50\"");
    CHECK_THAT(ParseError(SmallWith("\"height\": 40", "\"height\": 0")).reason(),
               Catch::StartsWith("images[1].height: image size 0"));
    CHECK(ParseError(SmallWith("\"file_name\": \"a.jpg\", ", "")).reason() == "images[0]: missing member \"file_name\"");
    CHECK(ParseError("{\"images\": [], \"categories\": []}").reason() == "missing member \"annotations\"");
    CHECK(ParseError("{\"images\": {}, \"annotations\": [], \"categories\": []}").reason() ==
          "images: expected an array, found object");
  }
  SECTION("a JSON syntax error names its byte offset") {
    const auto e = ParseError("{\"images\": [1,, 2]}");
    CHECK(e.context().offset == uint64_t{14});
    CHECK_THAT(e.reason(), Catch::StartsWith("invalid JSON"));
  }
  SECTION("a missing annotations file") {
    ws::test::TempDir dir;
    CHECK_THROWS_AS(wd::CocoDataset::Load(dir / "none.json", dir.path()), ws::NotFoundError);
  }
}
