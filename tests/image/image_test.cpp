// image::ResizeBilinear (TF1 resize_images, BILINEAR, align_corners=False, legacy pixel centres)
// against hand-computed values, and the SSD MobileNet normalisation (2/255) x - 1.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "warmstart/image/image.hpp"

namespace {

using namespace warmstart;
using image::FloatImage;
using image::Image;

Image Gray(int h, int w, const std::vector<uint8_t>& values) {
  Image im = Image::Zeros(h, w, 1);
  im.pixels = values;
  return im;
}

std::vector<float> Row(const FloatImage& im, int y, int c = 0) {
  std::vector<float> out;
  for (int x = 0; x < im.width; ++x) out.push_back(im.at(y, x, c));
  return out;
}

}  // namespace

TEST_CASE("image resize: 2x2 -> 4x4 upscaling repeats the last row and column (legacy centres)", "[image]") {
  // scale 0.5: rows/columns 0, 0.5, 1, 1.5 of the source; 1.5 clamps to the last one.
  const FloatImage out = image::ResizeBilinear(Gray(2, 2, {0, 100, 200, 50}), 4, 4);
  REQUIRE(out.height == 4);
  REQUIRE(out.width == 4);
  REQUIRE(out.channels == 1);
  CHECK(Row(out, 0) == std::vector<float>{0, 50, 100, 100});
  CHECK(Row(out, 1) == std::vector<float>{100, 87.5f, 75, 75});
  CHECK(Row(out, 2) == std::vector<float>{200, 125, 50, 50});
  CHECK(Row(out, 3) == std::vector<float>{200, 125, 50, 50});
}

TEST_CASE("image resize: downscaling samples at i * in / out, not at pixel centres", "[image]") {
  // 5 -> 2: scale 2.5, columns 0 and 2.5.
  const FloatImage a = image::ResizeBilinear(Gray(1, 5, {10, 20, 30, 40, 50}), 1, 2);
  CHECK(Row(a, 0) == std::vector<float>{10, 35});
  // 7 -> 3: scale 7/3 in float = 2.3333333; columns 0, 2.3333333, 4.6666665.
  const FloatImage b = image::ResizeBilinear(Gray(1, 7, {0, 10, 20, 30, 40, 50, 60}), 1, 3);
  CHECK(b.at(0, 0, 0) == 0.0f);
  CHECK(b.at(0, 1, 0) == Approx(23.333333).margin(1e-4));
  CHECK(b.at(0, 2, 0) == Approx(46.666665).margin(1e-4));
  // Both axes at once: 4x4 -> 2x2 picks rows and columns 0 and 2 exactly.
  std::vector<uint8_t> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 10);
  const FloatImage c = image::ResizeBilinear(Gray(4, 4, v), 2, 2);
  CHECK(Row(c, 0) == std::vector<float>{0, 20});
  CHECK(Row(c, 1) == std::vector<float>{80, 100});
}

TEST_CASE("image resize: channels are independent, same size is an exact copy, float input", "[image]") {
  Image rgb = Image::Zeros(2, 2, 3);
  const uint8_t px[4][3] = {{0, 255, 10}, {100, 155, 20}, {200, 55, 30}, {50, 205, 40}};
  for (int i = 0; i < 4; ++i) {
    for (int c = 0; c < 3; ++c) rgb.pixels[static_cast<size_t>(i * 3 + c)] = px[i][c];
  }
  const FloatImage out = image::ResizeBilinear(rgb, 4, 4);
  CHECK(Row(out, 1, 0) == std::vector<float>{100, 87.5f, 75, 75});
  // Channel 1 is 255 - channel 0.
  CHECK(Row(out, 1, 1) == std::vector<float>{155, 167.5f, 180, 180});
  CHECK(Row(out, 0, 2) == std::vector<float>{10, 15, 20, 20});

  const FloatImage same = image::ResizeBilinear(rgb, 2, 2);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) CHECK(same.pixels[i] == static_cast<float>(rgb.pixels[i]));

  FloatImage f = FloatImage::Zeros(1, 2, 1);
  f.pixels = {0.25f, 1.25f};
  CHECK(Row(image::ResizeBilinear(f, 1, 4), 0) == std::vector<float>{0.25f, 0.75f, 1.25f, 1.25f});
}

TEST_CASE("image resize: refuses empty images and absurd sizes", "[image]") {
  CHECK_THROWS_WITH(image::ResizeBilinear(Image(), 2, 2),
                    "ResizeBilinear: image 0x0x0 with 0 values is empty or inconsistent");
  Image bad = Image::Zeros(2, 2, 1);
  bad.pixels.pop_back();
  CHECK_THROWS_AS(image::ResizeBilinear(bad, 2, 2), ArgumentError);
  CHECK_THROWS_WITH(image::ResizeBilinear(Gray(1, 1, {7}), 0, 3), "ResizeBilinear: output size 0x3 is outside 1..32768");
  CHECK_THROWS_WITH(image::ResizeBilinear(Gray(1, 1, {7}), 3, 40000),
                    "ResizeBilinear: output size 3x40000 is outside 1..32768");
}

TEST_CASE("image preprocess: (2/255) x - 1 into [1, H, W, 3]", "[image]") {
  FloatImage f = FloatImage::Zeros(1, 2, 3);
  f.pixels = {0, 255, 127.5f, 1, 128, 254};
  const nn::Tensor4<float> t = image::PreprocessSsd(f);
  REQUIRE(t.dimension(0) == 1);
  REQUIRE(t.dimension(1) == 1);
  REQUIRE(t.dimension(2) == 2);
  REQUIRE(t.dimension(3) == 3);
  CHECK(t(0, 0, 0, 0) == -1.0f);
  CHECK(t(0, 0, 0, 1) == 1.0f);  // float(2/255) * 255 rounds to 2
  CHECK(t(0, 0, 0, 2) == Approx(0.0).margin(1e-6));
  const float scale = static_cast<float>(2.0 / 255.0);
  CHECK(t(0, 0, 1, 0) == scale * 1.0f - 1.0f);
  CHECK(t(0, 0, 1, 1) == Approx(1.0 / 255.0).margin(1e-6));
  CHECK(t(0, 0, 1, 2) == Approx(253.0 / 255.0).epsilon(1e-6));

  // Decoded image -> fixed_shape_resizer size -> normalised.
  Image rgb = Image::Zeros(2, 2, 3);
  for (size_t i = 0; i < rgb.pixels.size(); ++i) rgb.pixels[i] = 255;
  const nn::Tensor4<float> u = image::PreprocessSsd(rgb, 3, 5);
  CHECK(u.dimension(1) == 3);
  CHECK(u.dimension(2) == 5);
  for (Eigen::Index i = 0; i < u.size(); ++i) CHECK(u.data()[i] == 1.0f);
  CHECK_THROWS_WITH(image::PreprocessSsd(Image::Zeros(2, 2, 1), 3, 3),
                    "PreprocessSsd: expected 3 channels (RGB), found 1");
}
