// SSD anchors: the 1917 anchors of ssd_mobilenet_v1 at 300x300 (spec 6.3, 6.4)
// with values worked out by hand from the create_ssd_anchors formulas.
#include "warmstart/ssd/anchors.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

using namespace warmstart::ssd;
using Catch::Matchers::WithinAbs;

const std::vector<GridShape> kGrids300 = {{19, 19}, {10, 10}, {5, 5}, {3, 3}, {2, 2}, {1, 1}};

SsdAnchorOptions SampleConfig() {
  SsdAnchorOptions o;
  o.aspect_ratios = {1.0, 2.0, 0.5, 3.0, 0.3333};
  return o;
}

void RequireRow(const BoxMatrix<double>& a, int row, double ymin, double xmin, double ymax, double xmax) {
  INFO("row " << row);
  REQUIRE_THAT(a(row, 0), WithinAbs(ymin, 1e-12));
  REQUIRE_THAT(a(row, 1), WithinAbs(xmin, 1e-12));
  REQUIRE_THAT(a(row, 2), WithinAbs(ymax, 1e-12));
  REQUIRE_THAT(a(row, 3), WithinAbs(xmax, 1e-12));
}

}  // namespace

TEST_CASE("ssd anchors: 1917 anchors at 300x300 in TF order", "[ssd][anchors]") {
  const MultipleGridAnchorGenerator gen = CreateSsdAnchors(SampleConfig());
  REQUIRE(gen.NumAnchorsPerLocation() == std::vector<int>{3, 6, 6, 6, 6, 6});
  const BoxMatrix<double> a = gen.Generate<double>(kGrids300, 300, 300);
  REQUIRE(a.rows() == 1917);

  // Layer 0, cell (0, 0): centre 0.5/19; specs (0.1, 1), (0.2, 2), (0.2, 0.5).
  const double c0 = 0.5 / 19;
  RequireRow(a, 0, c0 - 0.05, c0 - 0.05, c0 + 0.05, c0 + 0.05);
  const double h1 = 0.2 / std::sqrt(2.0), w1 = 0.2 * std::sqrt(2.0);
  RequireRow(a, 1, c0 - h1 / 2, c0 - w1 / 2, c0 + h1 / 2, c0 + w1 / 2);
  RequireRow(a, 2, c0 - w1 / 2, c0 - h1 / 2, c0 + w1 / 2, c0 + h1 / 2);
  // Cell (y=0, x=1) follows the three specs of cell (0, 0): x varies before y.
  const double c1 = 1.5 / 19;
  RequireRow(a, 3, c0 - 0.05, c1 - 0.05, c0 + 0.05, c1 + 0.05);
  // Cell (y=1, x=0) starts after one full row of 19 cells.
  RequireRow(a, 19 * 3, c1 - 0.05, c0 - 0.05, c1 + 0.05, c0 + 0.05);

  // Layer 1 starts at 1083: grid 10, centre 0.05, scale 0.35, ratio 1.
  RequireRow(a, 1083, 0.05 - 0.175, 0.05 - 0.175, 0.05 + 0.175, 0.05 + 0.175);
  // ...its 6th spec is the interpolated sqrt(0.35 * 0.5) square.
  const double s01 = std::sqrt(0.35 * 0.5) / 2;
  RequireRow(a, 1088, 0.05 - s01, 0.05 - s01, 0.05 + s01, 0.05 + s01);
  // Last anchor: 1x1 grid centred at 0.5, sqrt(0.95 * 1.0) (scale_next = 1).
  const double s5 = std::sqrt(0.95) / 2;
  RequireRow(a, 1916, 0.5 - s5, 0.5 - s5, 0.5 + s5, 0.5 + s5);
  // Layer 5 ratio 3.0 anchor (index 1911 + 3): h = 0.95/sqrt3, w = 0.95*sqrt3.
  const double h3 = 0.95 / std::sqrt(3.0) / 2, w3 = 0.95 * std::sqrt(3.0) / 2;
  RequireRow(a, 1914, 0.5 - h3, 0.5 - w3, 0.5 + h3, 0.5 + w3);
}

TEST_CASE("ssd anchors: float agrees with double", "[ssd][anchors]") {
  const MultipleGridAnchorGenerator gen = CreateSsdAnchors(SampleConfig());
  const BoxMatrix<float> f = gen.Generate<float>(kGrids300, 300, 300);
  const BoxMatrix<double> d = gen.Generate<double>(kGrids300, 300, 300);
  REQUIRE((f.cast<double>() - d).cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("ssd anchors: scale schedule and options", "[ssd][anchors]") {
  SsdAnchorOptions o = SampleConfig();
  SECTION("no reduction: layer 0 gets the full spec list") {
    o.reduce_boxes_in_lowest_layer = false;
    const auto specs = CreateSsdAnchors(o).box_specs();
    REQUIRE(specs[0].size() == 6);
    REQUIRE(specs[0][0].scale == Approx(0.2));
    REQUIRE(specs[0][5].scale == Approx(std::sqrt(0.2 * 0.35)));
  }
  SECTION("interpolated ratio 0 drops the extra anchor") {
    o.interpolated_scale_aspect_ratio = 0;
    REQUIRE(CreateSsdAnchors(o).NumAnchorsPerLocation() == std::vector<int>{3, 5, 5, 5, 5, 5});
  }
  SECTION("explicit scales replace min/max; 1.0 is appended") {
    o.num_layers = 2;
    o.scales = {0.3, 0.6};
    o.reduce_boxes_in_lowest_layer = false;
    o.aspect_ratios = {1.0};
    const auto specs = CreateSsdAnchors(o).box_specs();
    REQUIRE(specs.size() == 2);
    REQUIRE(specs[0][1].scale == Approx(std::sqrt(0.3 * 0.6)));
    REQUIRE(specs[1][1].scale == Approx(std::sqrt(0.6)));
  }
  SECTION("one layer without explicit scales divides by zero in TF") {
    o.num_layers = 1;
    REQUIRE_THROWS_AS(CreateSsdAnchors(o), warmstart::ArgumentError);
  }
}

TEST_CASE("ssd anchors: non-square image and explicit strides", "[ssd][anchors]") {
  SECTION("300x600: width scaled by min(H,W)/W") {
    const MultipleGridAnchorGenerator gen({{{0.5, 1.0}}}, {1.0, 1.0});
    const BoxMatrix<double> a = gen.Generate<double>({{1, 2}}, 300, 600);
    REQUIRE(a.rows() == 2);
    RequireRow(a, 0, 0.25, 0.125, 0.75, 0.375);
    RequireRow(a, 1, 0.25, 0.625, 0.75, 0.875);
  }
  SECTION("strides and offsets in pixels") {
    const MultipleGridAnchorGenerator gen({{{0.2, 1.0}}}, {1.0, 1.0}, {{100, 100}}, {{50, 25}});
    const BoxMatrix<double> a = gen.Generate<double>({{2, 2}}, 200, 400);
    // Cell (1, 1): yc = 100/200 + 50/200 = 0.75, xc = 100/400 + 25/400 = 0.3125;
    // h = 0.2, w = 0.2 * 200/400 = 0.1.
    RequireRow(a, 3, 0.65, 0.2625, 0.85, 0.3625);
  }
  SECTION("errors") {
    REQUIRE_THROWS_AS(MultipleGridAnchorGenerator({{{0.2, 1.0}}}, {1, 1}, {{1, 1}, {2, 2}}),
                      warmstart::ArgumentError);
    const MultipleGridAnchorGenerator gen({{{0.2, 1.0}}}, {1.0, 1.0});
    REQUIRE_THROWS_AS(gen.Generate<double>({{2, 2}, {1, 1}}), warmstart::ArgumentError);
    REQUIRE_THROWS_AS(gen.Generate<double>({{0, 2}}), warmstart::ArgumentError);
  }
}
