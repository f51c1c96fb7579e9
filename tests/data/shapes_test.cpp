// data::ShapesDataset: the same (seed, index) gives the same bytes, another seed or index other
// bytes; labels within the class list; every pixel an object touched lies in its box and each
// box is tight (plain background, no clutter); option checks; generation speed.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "warmstart/data/shapes.hpp"

namespace {

using namespace warmstart;
using data::ShapesDataset;
using data::ShapesOptions;

ShapesOptions Plain(uint64_t seed) {
  ShapesOptions o;
  o.classes = data::ShapeNames();
  o.noise = 0;
  o.gradient = false;
  o.clutter = false;
  o.max_objects = 5;
  o.seed = seed;
  return o;
}

// The most frequent colour: the flat background.
std::array<uint8_t, 3> Background(const image::Image& im) {
  std::map<std::array<uint8_t, 3>, int> count;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) ++count[{im.at(y, x, 0), im.at(y, x, 1), im.at(y, x, 2)}];
  }
  std::array<uint8_t, 3> best{};
  int n = -1;
  for (const auto& [c, k] : count) {
    if (k > n) best = c, n = k;
  }
  return best;
}

bool IsBackground(const image::Image& im, int y, int x, const std::array<uint8_t, 3>& bg) {
  return im.at(y, x, 0) == bg[0] && im.at(y, x, 1) == bg[1] && im.at(y, x, 2) == bg[2];
}

}  // namespace

TEST_CASE("ShapesDataset is deterministic per seed and index", "[data][shapes]") {
  ShapesOptions o;
  o.seed = 7;
  const ShapesDataset a(o), b(o);
  for (uint64_t i : {0ull, 1ull, 12345ull}) {
    const data::DetectionExample x = a.Example(i), y = b.Example(i);
    CHECK(x.image.pixels == y.image.pixels);
    CHECK(x.boxes == y.boxes);
    CHECK(x.labels == y.labels);
  }
  CHECK(a.Example(0).image.pixels != a.Example(1).image.pixels);
  o.seed = 8;
  CHECK(ShapesDataset(o).Example(0).image.pixels != a.Example(0).image.pixels);
  // Order does not matter: example 5 alone equals example 5 after others.
  (void)a.Example(3);
  CHECK(a.Example(5).image.pixels == b.Example(5).image.pixels);
}

TEST_CASE("ShapesDataset images, boxes and labels are consistent", "[data][shapes]") {
  ShapesOptions o;
  o.classes = {"ring", "star"};
  o.height = 96;
  o.width = 160;
  const ShapesDataset ds(o);
  for (uint64_t i = 0; i < 50; ++i) {
    const data::DetectionExample ex = ds.Example(i);
    REQUIRE(ex.image.height == 96);
    REQUIRE(ex.image.width == 160);
    REQUIRE(ex.image.channels == 3);
    REQUIRE(ex.boxes.size() == ex.labels.size());
    CHECK(ex.boxes.size() >= 1);
    CHECK(ex.boxes.size() <= 4);
    for (size_t k = 0; k < ex.boxes.size(); ++k) {
      CHECK(ex.labels[k] >= 1);
      CHECK(ex.labels[k] <= 2);
      const data::Box& b = ex.boxes[k];
      CHECK(0.0f <= b[0]);
      CHECK(b[0] < b[2]);
      CHECK(b[2] <= 1.0f);
      CHECK(0.0f <= b[1]);
      CHECK(b[1] < b[3]);
      CHECK(b[3] <= 1.0f);
      // Sizes: at least min_size of the short side (minus the rounding of a pixel).
      CHECK((b[2] - b[0]) * 96.0f >= 0.15f * 96.0f * 0.6f - 1.0f);
    }
  }
  CHECK(ds.LabelMapText() == "item {\n  id: 1\n  name: 'ring'\n}\nitem {\n  id: 2\n  name: 'star'\n}\n");
}

TEST_CASE("ShapesDataset boxes hold every object pixel and are tight", "[data][shapes]") {
  for (const bool aa : {false, true}) {
    ShapesOptions o = Plain(3);
    o.anti_alias = aa;
    const ShapesDataset ds(o);
    for (uint64_t i = 0; i < 40; ++i) {
      const data::DetectionExample ex = ds.Example(i);
      const std::array<uint8_t, 3> bg = Background(ex.image);
      std::vector<std::array<int, 4>> px;  // y0, x0, y1, x1 inclusive
      for (const data::Box& b : ex.boxes) {
        px.push_back({static_cast<int>(b[0] * 128 + 0.5f), static_cast<int>(b[1] * 128 + 0.5f),
                      static_cast<int>(b[2] * 128 + 0.5f) - 1, static_cast<int>(b[3] * 128 + 0.5f) - 1});
      }
      int outside = 0;
      for (int y = 0; y < 128; ++y) {
        for (int x = 0; x < 128; ++x) {
          if (IsBackground(ex.image, y, x, bg)) continue;
          bool in = false;
          for (const auto& p : px) in = in || (p[0] <= y && y <= p[2] && p[1] <= x && x <= p[3]);
          if (!in) ++outside;
        }
      }
      CHECK(outside == 0);
      // Tight: each edge row / column of a box has a pixel that is not background (a
      // faint anti-aliased edge pixel may round to the background colour: allow one pixel).
      for (const auto& p : px) {
        const auto row_has = [&](int y) {
          for (int x = p[1]; x <= p[3]; ++x) {
            if (!IsBackground(ex.image, y, x, bg)) return true;
          }
          return false;
        };
        const auto col_has = [&](int x) {
          for (int y = p[0]; y <= p[2]; ++y) {
            if (!IsBackground(ex.image, y, x, bg)) return true;
          }
          return false;
        };
        CHECK((row_has(p[0]) || row_has(p[0] + 1)));
        CHECK((row_has(p[2]) || row_has(p[2] - 1)));
        CHECK((col_has(p[1]) || col_has(p[1] + 1)));
        CHECK((col_has(p[3]) || col_has(p[3] - 1)));
      }
    }
  }
}

TEST_CASE("ShapesDataset keeps overlaps within max_overlap", "[data][shapes]") {
  ShapesOptions o = Plain(11);
  o.min_objects = o.max_objects = 6;
  const ShapesDataset ds(o);
  for (uint64_t i = 0; i < 30; ++i) {
    const data::DetectionExample ex = ds.Example(i);
    for (size_t a = 0; a < ex.boxes.size(); ++a) {
      for (size_t b = a + 1; b < ex.boxes.size(); ++b) {
        const data::Box &p = ex.boxes[a], &q = ex.boxes[b];
        const float h = std::max(0.0f, std::min(p[2], q[2]) - std::max(p[0], q[0]));
        const float w = std::max(0.0f, std::min(p[3], q[3]) - std::max(p[1], q[1]));
        const float area_p = (p[2] - p[0]) * (p[3] - p[1]);
        // Placement checks the reach (a pixel larger than the box): allow that slack.
        CHECK(h * w <= 0.25f * area_p * 1.35f);
      }
    }
  }
}

TEST_CASE("ShapesDataset refuses bad options", "[data][shapes]") {
  using Catch::Matchers::Contains;
  ShapesOptions o;
  o.classes = {"circle", "hexagon"};
  CHECK_THROWS_WITH(ShapesDataset(o), Contains("unknown class 'hexagon'") && Contains("star"));
  o.classes = {};
  CHECK_THROWS_AS(ShapesDataset(o), ArgumentError);
  o = ShapesOptions();
  o.min_size = 0.5f;
  o.max_size = 0.2f;
  CHECK_THROWS_WITH(ShapesDataset(o), Contains("object size"));
  o = ShapesOptions();
  o.max_objects = 0;
  CHECK_THROWS_WITH(ShapesDataset(o), Contains("object count"));
  o = ShapesOptions();
  o.height = 8;
  CHECK_THROWS_WITH(ShapesDataset(o), Contains("image size 8x128"));
}
