// image/draw.hpp: rectangle outlines land on the box edges (and only there), thickness grows
// inwards, clipping at the image border, the 5x7 font's glyphs and widths, captions, and the
// line chart's axes and polyline; PNG encoding of a chart when stb is there.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "warmstart/image/draw.hpp"

#ifdef WARMSTART_HAVE_STB
#include "warmstart/image/decode.hpp"
#endif

namespace {

using namespace warmstart;
using image::Image;
using image::Rgb;

bool Is(const Image& im, int y, int x, Rgb c) { return im.at(y, x, 0) == c.r && im.at(y, x, 1) == c.g && im.at(y, x, 2) == c.b; }

int CountColor(const Image& im, Rgb c) {
  int n = 0;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) n += Is(im, y, x, c) ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("DrawRect puts pixels on the box edges only", "[image][draw]") {
  Image im = Image::Zeros(20, 30, 3);
  const Rgb red{255, 0, 0};
  image::DrawRect(im, 2, 3, 10, 20, red, 1);
  for (int x = 3; x <= 20; ++x) {
    CHECK(Is(im, 2, x, red));
    CHECK(Is(im, 10, x, red));
  }
  for (int y = 2; y <= 10; ++y) {
    CHECK(Is(im, y, 3, red));
    CHECK(Is(im, y, 20, red));
  }
  CHECK(CountColor(im, red) == 2 * 18 + 2 * 7);
  CHECK(Is(im, 5, 10, Rgb{0, 0, 0}));

  Image thick = Image::Zeros(20, 30, 3);
  image::DrawRect(thick, 2, 3, 10, 20, red, 3);
  CHECK(Is(thick, 4, 10, red));   // third ring, inside
  CHECK(!Is(thick, 5, 10, red));  // the fourth row is not
  CHECK(!Is(thick, 1, 10, red));  // nothing outside

  Image clipped = Image::Zeros(8, 8, 3);
  image::DrawRect(clipped, -5, -5, 20, 4, red, 1);  // only the right edge is inside
  CHECK(CountColor(clipped, red) == 8);
}

TEST_CASE("DrawDetection outlines a normalised box and captions it", "[image][draw]") {
  Image im = Image::Zeros(100, 100, 3);
  const Rgb c = image::ClassColor(1);
  image::DrawDetection(im, {0.5f, 0.2f, 0.9f, 0.6f}, "circle 0.93", c, 2);
  // Box rows 50..89, columns 20..59.
  CHECK(Is(im, 89, 40, c));
  CHECK(Is(im, 88, 40, c));
  CHECK(Is(im, 70, 20, c));
  CHECK(Is(im, 70, 59, c));
  CHECK(!Is(im, 70, 40, c));
  // The caption strip sits above the box.
  CHECK(Is(im, 41, 20, c));
  CHECK(image::DetectionCaption("circle", 0.931f) == "circle 0.93");
  CHECK(image::DetectionCaption("circle", -1) == "circle");

  Image all = Image::Zeros(64, 64, 3);
  image::DrawDetections(all, {{0.1f, 0.1f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.9f, 0.9f}}, {1, 2}, {}, {"a", "b"}, 1);
  CHECK(Is(all, 57, 40, image::ClassColor(2)));
  CHECK(Is(all, 31, 10, image::ClassColor(1)));
}

TEST_CASE("DrawText draws the 5x7 glyphs", "[image][draw]") {
  CHECK(image::TextWidth("ab") == 11);
  CHECK(image::TextWidth("ab", 2) == 22);
  CHECK(image::TextWidth("") == 0);
  Image im = Image::Zeros(9, 20, 3);
  const Rgb w{255, 255, 255};
  image::DrawText(im, 1, 1, "1", w);
  // '1': "..#..", ".##..", "..#.." x4, ".###."
  CHECK(Is(im, 1, 3, w));
  CHECK(!Is(im, 1, 2, w));
  CHECK(Is(im, 2, 2, w));
  CHECK(Is(im, 7, 2, w));
  CHECK(Is(im, 7, 4, w));
  CHECK(CountColor(im, w) == 1 + 2 + 4 + 3);
  // Every supported character draws something but the space; unknown ones draw '?'.
  for (const char ch : std::string("0123456789abcdefghijklmnopqrstuvwxyz.:-+_/%=()ABC")) {
    Image g = Image::Zeros(7, 5, 3);
    image::DrawText(g, 0, 0, std::string(1, ch), w);
    INFO("glyph '" << ch << "'");
    CHECK(CountColor(g, w) > 0);
  }
  Image q1 = Image::Zeros(7, 5, 3), q2 = Image::Zeros(7, 5, 3);
  image::DrawText(q1, 0, 0, "?", w);
  image::DrawText(q2, 0, 0, "#", w);
  CHECK(q1.pixels == q2.pixels);
  Image sp = Image::Zeros(7, 5, 3);
  image::DrawText(sp, 0, 0, " ", w);
  CHECK(CountColor(sp, w) == 0);
}

TEST_CASE("LineChart draws axes and the curve", "[image][draw]") {
  std::vector<float> loss;
  for (int i = 0; i < 50; ++i) loss.push_back(2.0f / static_cast<float>(i + 1));
  image::ChartOptions o;
  o.title = "loss";
  const Image chart = image::LineChart(loss, {}, o);
  REQUIRE(chart.height == 240);
  REQUIRE(chart.width == 400);
  CHECK(CountColor(chart, o.line) > 300);  // the polyline spans the width
  CHECK(CountColor(chart, o.axis) > 400);  // two axes and tick labels
  // First point top left of the plot area, last bottom right.
  bool top_left = false, bottom_right = false;
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 80; ++x) top_left = top_left || Is(chart, y, x, o.line);
  }
  for (int y = 200; y < 240; ++y) {
    for (int x = 360; x < 400; ++x) bottom_right = bottom_right || Is(chart, y, x, o.line);
  }
  CHECK(top_left);
  CHECK(bottom_right);
  CHECK_NOTHROW(image::LineChart({}, {}, o));
  CHECK_NOTHROW(image::LineChart({1.0f, 1.0f}, {}, o));
  CHECK_THROWS_AS(image::LineChart({1.0f}, {1.0f, 2.0f}, o), ArgumentError);
#ifdef WARMSTART_HAVE_STB
  const std::vector<uint8_t> png = image::EncodePng(chart);
  const Image back = image::DecodeImage(core::ByteView(png.data(), png.size()), "chart.png");
  CHECK(back.pixels == chart.pixels);
#endif
}
