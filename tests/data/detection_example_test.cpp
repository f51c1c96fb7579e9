// data/detection_example.hpp: the OD API's keys <-> DetectionRecord, every consistency check,
// labels from texts, and the pets records (values, label map agreement, decoded pixels).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/config/label_map.hpp"
#include "warmstart/data/detection_example.hpp"
#include "warmstart/data/tfrecord.hpp"
#include "data/data_test_util.hpp"

namespace ws = warmstart;
namespace wd = warmstart::data;
namespace fs = std::filesystem;

namespace {

using warmstart::test::data::ReadBytes;
using warmstart::test::data::Thrown;
using warmstart::test::data::WriteBytes;

const ws::ErrorContext kCtx("mem.record");

wd::DetectionRecord TwoBoxes() {
  wd::DetectionRecord d;
  d.encoded = "not really a jpeg";
  d.format = "png";
  d.height = 480;
  d.width = 640;
  d.filename = "a/b.png";
  d.source_id = "17";
  d.boxes = {wd::Box{0.1f, 0.2f, 0.3f, 0.4f}, wd::Box{0.0f, 0.5f, 1.0f, 0.75f}};
  d.labels = {3, 1};
  d.texts = {"cat", "dog"};
  d.difficult = {0, 1};
  d.is_crowd = {1, 0};
  return d;
}

void CheckSame(const wd::DetectionRecord& a, const wd::DetectionRecord& b) {
  CHECK(a.encoded == b.encoded);
  CHECK(a.format == b.format);
  CHECK(a.height == b.height);
  CHECK(a.width == b.width);
  CHECK(a.filename == b.filename);
  CHECK(a.source_id == b.source_id);
  CHECK(a.boxes == b.boxes);
  CHECK(a.labels == b.labels);
  CHECK(a.texts == b.texts);
  CHECK(a.difficult == b.difficult);
  CHECK(a.is_crowd == b.is_crowd);
}

ws::FormatError DecodeError(const wd::Example& ex) {
  return Thrown<ws::FormatError>([&] { wd::DecodeDetectionRecord(ex, kCtx.WithOffset(40)); });
}

}  // namespace

TEST_CASE("detection record: round trip through tf.Example bytes", "[data][detection]") {
  const wd::DetectionRecord d = TwoBoxes();
  CheckSame(wd::ParseDetectionRecord(wd::SerializeDetectionRecord(d), kCtx), d);
  wd::ExampleEncodeOptions unpacked;
  unpacked.packed = false;
  CheckSame(wd::ParseDetectionRecord(wd::SerializeDetectionRecord(d, unpacked), kCtx), d);

  wd::DetectionRecord none;  // no boxes, no size: optional keys stay out
  none.encoded = "x";
  const wd::Example ex = wd::EncodeDetectionRecord(none);
  CHECK(ex.Find("image/height") == nullptr);
  CHECK(ex.Find("image/object/class/label") == nullptr);
  CHECK(ex.Find("image/object/bbox/ymin")->kind == wd::FeatureKind::kFloat);
  CheckSame(wd::DecodeDetectionRecord(ex, kCtx), none);
}

TEST_CASE("detection record: defaults of absent keys", "[data][detection]") {
  wd::Example ex;
  ex.features["image/encoded"] = wd::Feature::Bytes({"jpg"});
  ex.features["image/object/bbox/ymin"] = wd::Feature();  // no list set: empty
  const wd::DetectionRecord d = wd::DecodeDetectionRecord(ex, kCtx);
  CHECK(d.format == "jpeg");
  CHECK(d.height == 0);
  CHECK(d.width == 0);
  CHECK(d.boxes.empty());
  CHECK(d.labels.empty());
  CHECK(d.difficult.empty());
}

TEST_CASE("detection record: inconsistent records are refused with key and offset", "[data][detection]") {
  wd::Example ex = wd::EncodeDetectionRecord(TwoBoxes());
  auto& f = ex.features;

  SECTION("bbox lists of different lengths") {
    f["image/object/bbox/xmax"].float_list.pop_back();
    const auto e = DecodeError(ex);
    CHECK(e.context().key == std::string("image/object/bbox/xmax"));
    CHECK(e.context().offset == uint64_t{40});
    CHECK(std::string(e.what()) ==
          "mem.record: key 'image/object/bbox/xmax': offset 40: has 1 values but image/object/bbox/ymin has 2");
  }
  SECTION("labels, texts, difficult, is_crowd of the wrong length") {
    for (const char* key : {"image/object/class/label", "image/object/difficult", "image/object/is_crowd"}) {
      wd::Example bad = ex;
      bad.features[key].int64_list.push_back(1);
      const auto e = DecodeError(bad);
      CHECK(e.context().key == std::string(key));
      CHECK(e.reason() == "has 3 values for 2 boxes");
    }
    f["image/object/class/text"].bytes_list.pop_back();
    CHECK(DecodeError(ex).reason() == "has 1 values for 2 boxes");
  }
  SECTION("boxes without labels or texts") {
    f.erase("image/object/class/label");
    CHECK_NOTHROW(wd::DecodeDetectionRecord(ex, kCtx));  // texts alone: LabelsFromTexts later
    f.erase("image/object/class/text");
    CHECK_THAT(DecodeError(ex).reason(), Catch::StartsWith("missing, and no image/object/class/text either, for 2 boxes"));
  }
  SECTION("a key with the wrong kind of list") {
    f["image/height"] = wd::Feature::Floats({480});
    CHECK(DecodeError(ex).reason() == "expected int64_list, found float_list");
    CHECK(DecodeError(ex).context().key == std::string("image/height"));
  }
  SECTION("a single-valued key with two values") {
    f["image/encoded"].bytes_list.push_back("second image");
    CHECK(DecodeError(ex).reason() == "expected 1 value, found 2");
  }
  SECTION("no image") {
    f.erase("image/encoded");
    CHECK(DecodeError(ex).reason() == "missing: the record has no image");
  }
  SECTION("label 0, a negative or huge label") {
    for (int64_t bad : {int64_t{0}, int64_t{-3}, int64_t{1} << 33}) {
      f["image/object/class/label"].int64_list[1] = bad;
      CHECK_THAT(DecodeError(ex).reason(), Catch::StartsWith("value 1 is " + std::to_string(bad) + ": class ids start at 1"));
    }
  }
  SECTION("a non-finite coordinate") {
    f["image/object/bbox/ymax"].float_list[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK(DecodeError(ex).reason() == "value 0 is not finite");
  }
  SECTION("a size below 1") {
    f["image/width"] = wd::Feature::Int64s({0});
    CHECK_THAT(DecodeError(ex).reason(), Catch::StartsWith("image size 0 is not in [1, "));
  }
  SECTION("wire errors keep their field offset through ParseDetectionRecord") {
    std::string bytes = wd::SerializeDetectionRecord(TwoBoxes());
    bytes.resize(bytes.size() - 1);
    const auto e = Thrown<ws::FormatError>([&] { wd::ParseDetectionRecord(bytes, kCtx, 12); });
    CHECK(e.context().offset.value() >= 12);
  }
}

TEST_CASE("detection record: labels from texts through a label map", "[data][detection]") {
  const auto map = ws::config::LabelMap::Parse("item { id: 1 name: 'dog' } item { id: 3 name: 'cat' }");
  wd::DetectionRecord d = TwoBoxes();
  d.labels.clear();
  wd::LabelsFromTexts(&d, map, kCtx);
  CHECK(d.labels == std::vector<int32_t>{3, 1});
  d.labels = {3, 2};
  const auto e = Thrown<ws::FormatError>([&] { wd::LabelsFromTexts(&d, map, kCtx); });
  CHECK(e.reason() == "value 1 is 2 but the label map gives 1 for 'dog'");
  d.texts[0] = "cow";
  CHECK(Thrown<ws::FormatError>([&] { wd::LabelsFromTexts(&d, map, kCtx); }).reason() ==
        "value 0 'cow' is not in the label map");
}

TEST_CASE("detection record: the pets records", "[data][detection][realdata]") {
  fs::path record, labels;
  if (!ws::test::RequireRealData("od_test_data/pets_examples.record", &record)) return;
  if (!ws::test::RequireRealData("od_test_data/pet_label_map.pbtxt", &labels)) return;
  const auto label_map = ws::config::LabelMap::Load(labels);
  REQUIRE(label_map.size() == 37);

  auto reader = wd::RecordReader::Open(record.string());
  std::vector<wd::DetectionRecord> records;
  std::string r;
  for (uint64_t at = reader.offset(); reader.Next(&r); at = reader.offset()) {
    records.push_back(wd::ParseDetectionRecord(r, ws::ErrorContext(record.string()), at + wd::kRecordHeaderSize));
  }
  REQUIRE(records.size() == 10);

  const wd::DetectionRecord& first = records[0];
  CHECK(first.filename == "chihuahua_153.jpg");
  CHECK(first.source_id == "chihuahua_153.jpg");
  CHECK(first.format == "jpeg");
  CHECK(first.width == 300);
  CHECK(first.height == 225);
  CHECK(first.encoded.size() == 17828);
  REQUIRE(first.boxes.size() == 1);
  CHECK(first.boxes[0][0] == Approx(54.0 / 225).margin(1e-6));   // ymin
  CHECK(first.boxes[0][1] == Approx(119.0 / 300).margin(1e-6));  // xmin
  CHECK(first.boxes[0][2] == Approx(128.0 / 225).margin(1e-6));  // ymax
  CHECK(first.boxes[0][3] == Approx(228.0 / 300).margin(1e-6));  // xmax
  CHECK(first.labels == std::vector<int32_t>{11});
  CHECK(first.texts == std::vector<std::string>{"chihuahua"});
  CHECK(first.difficult == std::vector<int>{0});
  CHECK(first.is_crowd.empty());

  const wd::DetectionRecord& second = records[1];
  CHECK(second.filename == "Siamese_112.jpg");
  CHECK(second.width == 500);
  CHECK(second.height == 375);
  CHECK(second.labels == std::vector<int32_t>{33});
  CHECK(second.texts == std::vector<std::string>{"Siamese"});
  CHECK(second.boxes[0][1] == Approx(0.238).margin(1e-6));

  std::vector<std::string> names;
  for (const auto& d : records) {
    names.push_back(d.texts.at(0));
    CHECK(d.boxes.size() == d.labels.size());
    for (const wd::Box& b : d.boxes) {
      for (float v : b) CHECK((v >= 0.0f && v <= 1.0f));
      CHECK(b[0] < b[2]);
      CHECK(b[1] < b[3]);
    }
    wd::DetectionRecord texts_only = d;
    CHECK_NOTHROW(wd::LabelsFromTexts(&texts_only, label_map, ws::ErrorContext(d.filename)));  // label == id of text
    CHECK(texts_only.labels == d.labels);
  }
  CHECK(names == std::vector<std::string>{"chihuahua", "Siamese", "japanese_chin", "miniature_pinscher", "pomeranian",
                                          "leonberger", "english_cocker_spaniel", "yorkshire_terrier", "scottish_terrier",
                                          "samoyed"});

#if defined(WARMSTART_HAVE_STB)
  for (const auto& d : records) {
    const wd::DetectionExample ex = wd::ToDetectionExample(d, d.filename);
    CHECK(ex.image.width == d.width);
    CHECK(ex.image.height == d.height);
    CHECK(ex.image.channels == 3);
    CHECK(ex.labels == d.labels);
  }
  wd::DetectionRecord wrong = records[0];
  wrong.height = 224;
  const auto e = Thrown<ws::FormatError>([&] { wd::DecodeDetectionImage(wrong, "rec0"); });
  CHECK(std::string(e.what()) == "rec0: image is 300x225 (width x height) but the record says 300x224");
  wd::DetectionImageOptions lax;
  lax.check_size = false;
  CHECK(wd::DecodeDetectionImage(wrong, "rec0", lax).height == 225);
#endif
}
