// data/augment.hpp: the Object Detection API preprocessor steps. Flip maps boxes exactly and
// mirrors pixels; crops keep boxes consistent with the pixels they frame (a marker image);
// TF's sample_distorted_bounding_box rules (area, aspect ratio, coverage); box pruning by
// overlap; colour steps against hand-computed values and their clipping; the config list in
// order, and unsupported steps refused by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/data/augment.hpp"
#include "warmstart/data/shapes.hpp"

namespace {

using namespace warmstart;
using Catch::Matchers::Contains;
using data::Box;
using data::FloatDetectionExample;
using data::Rng;

// H x W, each pixel's R = its row, G = its column, B = 7: a crop's pixels name their origin.
FloatDetectionExample Marker(int h, int w, std::vector<Box> boxes = {}) {
  FloatDetectionExample ex;
  ex.image = image::FloatImage::Zeros(h, w, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      ex.image.at(y, x, 0) = static_cast<float>(y);
      ex.image.at(y, x, 1) = static_cast<float>(x);
      ex.image.at(y, x, 2) = 7;
    }
  }
  for (size_t i = 0; i < boxes.size(); ++i) ex.labels.push_back(static_cast<int32_t>(i + 1));
  ex.boxes = std::move(boxes);
  return ex;
}

config::AugmentationStep Step(const std::string& name, config::AugmentationStep::Params p) {
  config::AugmentationStep s;
  s.name = name;
  s.params = std::move(p);
  return s;
}

}  // namespace

TEST_CASE("FlipLeftRight mirrors pixels and maps boxes exactly", "[data][augment]") {
  FloatDetectionExample ex = Marker(4, 10, {Box{0.1f, 0.2f, 0.5f, 0.7f}, Box{0, 0, 1, 1}});
  data::FlipLeftRight(ex);
  CHECK(ex.image.at(2, 0, 1) == 9);
  CHECK(ex.image.at(2, 9, 1) == 0);
  CHECK(ex.image.at(3, 4, 0) == 3);
  CHECK(ex.boxes[0] == Box{0.1f, 1.0f - 0.7f, 0.5f, 1.0f - 0.2f});
  CHECK(ex.boxes[1] == Box{0, 0, 1, 1});
  CHECK(ex.labels == std::vector<int32_t>{1, 2});
  data::FlipLeftRight(ex);
  CHECK(ex.image.pixels == Marker(4, 10).image.pixels);
}

TEST_CASE("RandomHorizontalFlip flips with the given probability", "[data][augment]") {
  Rng rng(1);
  int flips = 0;
  for (int i = 0; i < 2000; ++i) {
    FloatDetectionExample ex = Marker(1, 2, {Box{0, 0, 1, 0.5f}});
    data::RandomHorizontalFlip(ex, config::RandomHorizontalFlipStep{{}, 0.3f}, rng);
    flips += ex.boxes[0][1] == 0.5f ? 1 : 0;
  }
  CHECK(flips > 500);
  CHECK(flips < 700);
  FloatDetectionExample ex = Marker(1, 2);
  data::RandomHorizontalFlip(ex, config::RandomHorizontalFlipStep{{}, 0.0f}, rng);
  CHECK(ex.image.at(0, 0, 1) == 0);
}

TEST_CASE("CropToWindow slices pixels and moves, prunes and clips boxes as TF", "[data][augment]") {
  // 10 x 20 image; window rows 2..7, columns 5..14 (normalised 0.2..0.8, 0.25..0.75).
  FloatDetectionExample ex = Marker(10, 20, {
      Box{0.3f, 0.3f, 0.5f, 0.5f},    // inside
      Box{0.0f, 0.0f, 0.1f, 0.1f},    // completely outside
      Box{0.1f, 0.2f, 0.5f, 0.5f},    // 0.3 x 0.25 of 0.4 x 0.3: ioa 0.625
      Box{0.7f, 0.7f, 0.9f, 0.9f},    // 0.1 x 0.05 of 0.2 x 0.2: ioa 0.125
      Box{0.4f, 0.4f, 0.4f, 0.6f},    // zero area: dropped
  });
  data::CropToWindow(ex, data::PixelWindow{2, 5, 6, 10}, 0.3f, true);
  REQUIRE(ex.image.height == 6);
  REQUIRE(ex.image.width == 10);
  CHECK(ex.image.at(0, 0, 0) == 2);
  CHECK(ex.image.at(0, 0, 1) == 5);
  CHECK(ex.image.at(5, 9, 0) == 7);
  CHECK(ex.image.at(5, 9, 1) == 14);
  REQUIRE(ex.labels == std::vector<int32_t>{1, 3});
  CHECK(ex.boxes[0][0] == Approx((0.3 - 0.2) / 0.6));
  CHECK(ex.boxes[0][1] == Approx((0.3 - 0.25) / 0.5));
  CHECK(ex.boxes[0][2] == Approx((0.5 - 0.2) / 0.6));
  CHECK(ex.boxes[0][3] == Approx((0.5 - 0.25) / 0.5));
  CHECK(ex.boxes[1][0] == 0.0f);  // clipped from (0.1 - 0.2) / 0.6
  CHECK(ex.boxes[1][1] == 0.0f);

  FloatDetectionExample unclipped = Marker(10, 20, {Box{0.1f, 0.2f, 0.5f, 0.5f}});
  data::CropToWindow(unclipped, data::PixelWindow{2, 5, 6, 10}, 0.0f, false);
  CHECK(unclipped.boxes[0][0] == Approx(-0.1 / 0.6));
  CHECK(unclipped.boxes[0][1] == Approx(-0.05 / 0.5));
}

TEST_CASE("SampleDistortedBoundingBox follows TF's constraints", "[data][augment]") {
  Rng rng(5);
  const std::vector<Box> boxes = {Box{0.4f, 0.4f, 0.6f, 0.6f}};
  data::CropConstraints k;
  k.min_object_covered = 1.0f;
  k.min_aspect_ratio = 0.5f;
  k.max_aspect_ratio = 2.0f;
  k.min_area = 0.1f;
  k.max_area = 1.0f;
  int whole = 0;
  for (int i = 0; i < 500; ++i) {
    const data::PixelWindow w = data::SampleDistortedBoundingBox(100, 200, boxes, k, rng);
    REQUIRE(w.y >= 0);
    REQUIRE(w.x >= 0);
    REQUIRE(w.y + w.height <= 100);
    REQUIRE(w.x + w.width <= 200);
    if (w.height == 100 && w.width == 200) {
      ++whole;
      continue;
    }
    const float area = static_cast<float>(w.height * w.width);
    CHECK(area >= 0.1f * 20000 - 1e-3f);
    CHECK(static_cast<float>(w.width) / static_cast<float>(w.height) == Approx(1.25).margin(0.76));
    // The box (rows 40..60, columns 80..120) is fully covered.
    CHECK(w.y <= 40);
    CHECK(w.x <= 80);
    CHECK(w.y + w.height >= 60);
    CHECK(w.x + w.width >= 120);
  }
  CHECK(whole < 100);
  // Impossible constraints: the whole image.
  k.min_area = 0.9f;
  k.min_aspect_ratio = k.max_aspect_ratio = 20.0f;
  const data::PixelWindow w = data::SampleDistortedBoundingBox(100, 200, boxes, k, rng);
  CHECK(w.height == 100);
  CHECK(w.width == 200);
}

TEST_CASE("Random crops keep boxes consistent with pixel content", "[data][augment]") {
  // A shapes image, cropped by ssd_random_crop's defaults: after the crop, every box in the
  // crop's frame maps back to the same pixels of the original (marker channels).
  data::ShapesOptions so;
  so.seed = 4;
  const data::ShapesDataset ds(so);
  Rng rng(99);
  int cropped = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const data::DetectionExample orig = ds.Example(i);
    FloatDetectionExample ex = Marker(orig.image.height, orig.image.width, orig.boxes);
    data::SsdRandomCrop(ex, config::SsdRandomCropStep{}, rng);
    REQUIRE(ex.boxes.size() == ex.labels.size());
    const int y0 = static_cast<int>(ex.image.at(0, 0, 0)), x0 = static_cast<int>(ex.image.at(0, 0, 1));
    if (ex.image.height != 128 || ex.image.width != 128) ++cropped;
    const float H = 128, h = static_cast<float>(ex.image.height), w = static_cast<float>(ex.image.width);
    for (size_t k = 0; k < ex.boxes.size(); ++k) {
      const Box& b = ex.boxes[k];
      const Box& o = orig.boxes[static_cast<size_t>(ex.labels[k] - 1)];
      for (int c = 0; c < 4; ++c) {
        CHECK(b[c] >= 0.0f);
        CHECK(b[c] <= 1.0f);
      }
      // Back to original pixels: equal to the original box clipped to the crop.
      CHECK(b[0] * h + y0 == Approx(std::max(o[0] * H, static_cast<float>(y0))).margin(1e-3));
      CHECK(b[1] * w + x0 == Approx(std::max(o[1] * H, static_cast<float>(x0))).margin(1e-3));
      CHECK(b[2] * h + y0 == Approx(std::min(o[2] * H, y0 + h)).margin(1e-3));
      CHECK(b[3] * w + x0 == Approx(std::min(o[3] * H, x0 + w)).margin(1e-3));
    }
  }
  CHECK(cropped > 100);  // random_coef 0.15 and a few whole-image fallbacks
}

TEST_CASE("random_crop_image with random_coef 1 keeps the original", "[data][augment]") {
  Rng rng(3);
  config::RandomCropImageStep s;
  s.random_coef = 1.0f;
  FloatDetectionExample ex = Marker(20, 30, {Box{0.1f, 0.1f, 0.9f, 0.9f}});
  data::RandomCropImage(ex, s, rng);
  CHECK(ex.image.height == 20);
  CHECK(ex.image.width == 30);
  CHECK(ex.boxes[0] == Box{0.1f, 0.1f, 0.9f, 0.9f});
}

TEST_CASE("Brightness and contrast follow tf.image and clip to [0, 255]", "[data][augment]") {
  image::FloatImage im = image::FloatImage::Zeros(1, 3, 1);
  im.pixels = {0, 100, 250};
  data::AdjustBrightness(im, 0.1f);
  CHECK(im.pixels[0] == Approx(25.5));
  CHECK(im.pixels[1] == Approx(125.5));
  CHECK(im.pixels[2] == 255.0f);
  data::AdjustBrightness(im, -0.5f);
  CHECK(im.pixels[0] == 0.0f);

  im.pixels = {0, 100, 200};  // mean 100
  data::AdjustContrast(im, 2.0f);
  CHECK(im.pixels[0] == 0.0f);  // -100 clipped
  CHECK(im.pixels[1] == Approx(100));
  CHECK(im.pixels[2] == 255.0f);  // 300 clipped
  im.pixels = {50, 100, 150};
  data::AdjustContrast(im, 0.5f);
  CHECK(im.pixels[0] == Approx(75));
  CHECK(im.pixels[2] == Approx(125));
}

TEST_CASE("Hue, saturation and gray match hand-computed values", "[data][augment]") {
  image::FloatImage im = image::FloatImage::Zeros(1, 1, 3);
  im.pixels = {255, 0, 0};  // red, hue 0
  data::AdjustHue(im, 1.0f / 3.0f);  // -> green
  CHECK(im.pixels[0] == Approx(0).margin(1e-3));
  CHECK(im.pixels[1] == Approx(255));
  CHECK(im.pixels[2] == Approx(0).margin(1e-3));
  data::AdjustHue(im, -0.5f);  // green (1/3) -> magenta (5/6)
  CHECK(im.pixels[0] == Approx(255));
  CHECK(im.pixels[1] == Approx(0).margin(1e-3));
  CHECK(im.pixels[2] == Approx(255));

  im.pixels = {200, 100, 100};  // s = 0.5, v = 200/255
  data::AdjustSaturation(im, 0.0f);
  CHECK(im.pixels[0] == Approx(200));
  CHECK(im.pixels[1] == Approx(200));
  CHECK(im.pixels[2] == Approx(200));
  im.pixels = {200, 100, 100};
  data::AdjustSaturation(im, 4.0f);  // s clamps to 1
  CHECK(im.pixels[0] == Approx(200));
  CHECK(im.pixels[1] == Approx(0).margin(1e-3));

  im.pixels = {100, 50, 200};
  data::RgbToGray(im);
  const float g = 100 * 0.2989f + 50 * 0.5870f + 200 * 0.1140f;
  CHECK(im.pixels == std::vector<float>{g, g, g});
}

TEST_CASE("Augmenter applies a config's steps in order", "[data][augment]") {
  const std::string text =
      "model { ssd { num_classes: 2 } }\n"
      "train_config {\n"
      "  data_augmentation_options { random_horizontal_flip { probability: 1.0 } }\n"
      "  data_augmentation_options { random_adjust_brightness { max_delta: 0.0 } }\n"
      "  data_augmentation_options { random_rgb_to_gray { probability: 1.0 } }\n"
      "}\n";
  const config::PipelineConfig cfg = config::PipelineConfig::Parse(text, "test.config");
  const data::Augmenter aug = data::Augmenter::FromTrainConfig(cfg.train());
  REQUIRE(aug.steps().size() == 3);
  FloatDetectionExample ex = Marker(2, 4, {Box{0, 0, 1, 0.25f}});
  Rng rng(1);
  aug.Apply(ex, rng);
  CHECK(ex.boxes[0] == Box{0, 0.75f, 1, 1});
  // Flipped, then gray: R = row, G = 3 - column, B = 7.
  CHECK(ex.image.at(1, 0, 0) == Approx(1 * 0.2989f + 3 * 0.5870f + 7 * 0.1140f));
  CHECK(ex.image.at(1, 0, 2) == ex.image.at(1, 0, 0));

  // Same seed, same result; the uint8 round trip.
  const data::DetectionExample u = data::ShapesDataset(data::ShapesOptions{}).Example(0);
  const data::Augmenter all({Step("ssd_random_crop", config::SsdRandomCropStep{}),
                             Step("random_adjust_contrast", config::RandomAdjustContrastStep{}),
                             Step("random_adjust_hue", config::RandomAdjustHueStep{}),
                             Step("random_adjust_saturation", config::RandomAdjustSaturationStep{})});
  FloatDetectionExample a = data::ToFloat(u), b = data::ToFloat(u);
  Rng ra(42), rb(42);
  all.Apply(a, ra);
  all.Apply(b, rb);
  CHECK(a.image.pixels == b.image.pixels);
  CHECK(a.boxes == b.boxes);
  CHECK(data::ToUint8(data::ToFloat(u).image).pixels == u.image.pixels);
}

TEST_CASE("Augmenter refuses unsupported steps by name", "[data][augment]") {
  config::AugmentationStep jitter;
  jitter.name = "random_jitter_boxes";
  config::AugmentationStep empty;
  CHECK_THROWS_WITH(data::Augmenter({Step("random_horizontal_flip", config::RandomHorizontalFlipStep{}), jitter, empty}),
                    Contains("data_augmentation_options[1] (random_jitter_boxes)") &&
                        Contains("data_augmentation_options[2] (empty)") && Contains("supported: random_horizontal_flip"));
  config::RandomCropImageStep bad;
  bad.max_area = 1.5f;
  CHECK_THROWS_WITH(data::Augmenter({Step("random_crop_image", bad)}),
                    Contains("data_augmentation_options[0] (random_crop_image): areas must be in (0, 1]"));
  FloatDetectionExample ex = Marker(2, 2);
  Rng rng(0);
  CHECK_THROWS_AS(data::ApplyAugmentationSteps({jitter}, ex, rng), ArgumentError);
}
