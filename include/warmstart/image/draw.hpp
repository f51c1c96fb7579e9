// Drawing into an RGB Image: lines, rectangle outlines, detection boxes with a label, text in a
// built-in 5x7 bitmap font, and a line chart (a loss curve). Header-only and without stb; save
// the result with image/decode.hpp's WritePng.
//
// Coordinates are pixels, (y, x) = (row, column), y down. Everything is clipped to the image:
// drawing outside it is not an error.
//
// The font: each glyph is 5 columns x 7 rows, drawn at `scale` pixels per dot, advancing
// 6 * scale per character. It has the digits, the lowercase letters (uppercase is drawn
// lowercase), space and . : - + _ / % = ( ) ; any other character is drawn as '?'.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/image/image.hpp"

namespace warmstart::image {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// A colour per class id (1-based), well apart for the first ten; id 0 is gray.
inline Rgb ClassColor(int label) {
  static const Rgb kPalette[] = {{230, 25, 75},  {60, 180, 75},  {0, 130, 200}, {245, 130, 48}, {145, 30, 180},
                                 {70, 240, 240}, {240, 50, 230}, {210, 245, 60}, {250, 190, 190}, {0, 128, 128}};
  if (label <= 0) return {128, 128, 128};
  return kPalette[static_cast<size_t>(label - 1) % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

namespace detail {

inline void CheckRgb(const Image& im, const char* what) {
  CheckImage(im, what);
  if (im.channels != 3) throw ArgumentError(std::string(what) + ": expected 3 channels (RGB), found " + std::to_string(im.channels));
}

inline void Put(Image& im, int y, int x, Rgb c) {
  if (y < 0 || x < 0 || y >= im.height || x >= im.width) return;
  uint8_t* p = &im.pixels[im.Offset(y, x, 0)];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

struct Glyph {
  char ch;
  const char* rows[7];
};

// clang-format off
inline const Glyph kGlyphs[] = {
  {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
  {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
  {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
  {'3', {"####.", "....#", "....#", ".###.", "....#", "....#", "####."}},
  {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
  {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
  {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
  {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
  {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
  {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
  {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
  {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."}},
  {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
  {'d', {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"}},
  {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
  {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
  {'g', {".....", ".####", "#...#", ".####", "....#", "#...#", ".###."}},
  {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
  {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
  {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."}},
  {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
  {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
  {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
  {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
  {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
  {'p', {".....", ".....", "####.", "#...#", "####.", "#....", "#...."}},
  {'q', {".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"}},
  {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
  {'s', {".....", ".....", ".###.", "#....", ".###.", "....#", "####."}},
  {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
  {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
  {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
  {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
  {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
  {'y', {".....", ".....", "#...#", "#...#", ".####", "....#", ".###."}},
  {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
  {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
  {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
  {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
  {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
  {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
  {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
  {'/', {"....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."}},
  {'%', {"##..#", "##..#", "...#.", "..#..", ".#...", "#..##", "#..##"}},
  {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
  {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
  {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
  {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
};
// clang-format on

inline const Glyph& FindGlyph(char ch) {
  if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  for (const Glyph& g : kGlyphs) {
    if (g.ch == ch) return g;
  }
  return kGlyphs[sizeof(kGlyphs) / sizeof(kGlyphs[0]) - 1];  // '?'
}

}  // namespace detail

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;

inline int TextWidth(std::string_view text, int scale = 1) {
  return text.empty() ? 0 : (static_cast<int>(text.size()) * kGlyphAdvance - 1) * scale;
}
inline int TextHeight(int scale = 1) { return kGlyphHeight * scale; }

// `text` with its top-left corner at (y, x). Requires: scale >= 1.
inline void DrawText(Image& im, int y, int x, std::string_view text, Rgb color, int scale = 1) {
  detail::CheckRgb(im, "DrawText");
  for (size_t i = 0; i < text.size(); ++i) {
    const detail::Glyph& g = detail::FindGlyph(text[i]);
    const int gx = x + static_cast<int>(i) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (g.rows[row][col] != '#') continue;
        for (int dy = 0; dy < scale; ++dy) {
          for (int dx = 0; dx < scale; ++dx) detail::Put(im, y + row * scale + dy, gx + col * scale + dx, color);
        }
      }
    }
  }
}

// Rows [y0, y1] x columns [x0, x1], both ends included.
inline void FillRect(Image& im, int y0, int x0, int y1, int x1, Rgb color) {
  detail::CheckRgb(im, "FillRect");
  for (int y = std::max(0, y0); y <= std::min(im.height - 1, y1); ++y) {
    for (int x = std::max(0, x0); x <= std::min(im.width - 1, x1); ++x) detail::Put(im, y, x, color);
  }
}

// The outline of [y0, y1] x [x0, x1], `thickness` pixels wide, growing inwards.
inline void DrawRect(Image& im, int y0, int x0, int y1, int x1, Rgb color, int thickness = 1) {
  for (int t = 0; t < thickness && y0 + t <= y1 - t && x0 + t <= x1 - t; ++t) {
    FillRect(im, y0 + t, x0 + t, y0 + t, x1 - t, color);
    FillRect(im, y1 - t, x0 + t, y1 - t, x1 - t, color);
    FillRect(im, y0 + t, x0 + t, y1 - t, x0 + t, color);
    FillRect(im, y0 + t, x1 - t, y1 - t, x1 - t, color);
  }
}

// A one-pixel line (Bresenham), both ends included.
inline void DrawLine(Image& im, int y0, int x0, int y1, int x1, Rgb color) {
  detail::CheckRgb(im, "DrawLine");
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    detail::Put(im, y0, x0, color);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

// The pixel rectangle of a normalised box {ymin, xmin, ymax, xmax}: rows floor(ymin * H) ..
// ceil(ymax * H) - 1, the pixels the box covers.
struct PixelBox {
  int y0, x0, y1, x1;
};
inline PixelBox ToPixels(const std::array<float, 4>& box, int height, int width) {
  const auto lo = [](float v, int n) { return static_cast<int>(std::floor(v * static_cast<float>(n))); };
  const auto hi = [](float v, int n) { return static_cast<int>(std::ceil(v * static_cast<float>(n))) - 1; };
  return {lo(box[0], height), lo(box[1], width), hi(box[2], height), hi(box[3], width)};
}

// "circle 0.93": a name and a score with two decimals (score < 0: the name only).
inline std::string DetectionCaption(const std::string& name, float score) {
  if (score < 0) return name;
  char buf[32];
  std::snprintf(buf, sizeof(buf), " %.2f", static_cast<double>(score));
  return name + buf;
}

// One detection: the box outline and, above it (inside when there is no room), its caption
// on a filled strip of the box colour.
inline void DrawDetection(Image& im, const std::array<float, 4>& box, const std::string& caption, Rgb color,
                          int thickness = 2) {
  const PixelBox p = ToPixels(box, im.height, im.width);
  DrawRect(im, p.y0, p.x0, p.y1, p.x1, color, thickness);
  if (caption.empty()) return;
  const int h = TextHeight() + 2;
  const int top = p.y0 - h >= 0 ? p.y0 - h : p.y0 + thickness;
  FillRect(im, top, p.x0, top + h - 1, p.x0 + TextWidth(caption) + 1, color);
  const bool light = static_cast<int>(color.r) * 299 + static_cast<int>(color.g) * 587 + static_cast<int>(color.b) * 114 > 128000;
  DrawText(im, top + 1, p.x0 + 1, caption, light ? Rgb{0, 0, 0} : Rgb{255, 255, 255});
}

// Every box with ClassColor(label) and "name score" (names[label - 1]; the id when out of
// range). scores may be empty (names only).
inline void DrawDetections(Image& im, const std::vector<std::array<float, 4>>& boxes, const std::vector<int32_t>& labels,
                           const std::vector<float>& scores, const std::vector<std::string>& names, int thickness = 2) {
  for (size_t i = 0; i < boxes.size(); ++i) {
    const int label = i < labels.size() ? labels[i] : 0;
    const std::string name = label >= 1 && static_cast<size_t>(label) <= names.size() ? names[static_cast<size_t>(label - 1)]
                                                                                      : std::to_string(label);
    DrawDetection(im, boxes[i], DetectionCaption(name, i < scores.size() ? scores[i] : -1.0f), ClassColor(label), thickness);
  }
}

// ---- line chart -----------------------------------------------------------------------

struct ChartOptions {
  int height = 240;
  int width = 400;
  std::string title;  // drawn top left, e.g. "loss"
  Rgb background{255, 255, 255};
  Rgb axis{0, 0, 0};
  Rgb line{200, 30, 30};
};

namespace detail {

inline std::string TickLabel(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

}  // namespace detail

// A chart of y[i] against x[i] (x empty: the index i): axes, min / max tick labels on both,
// and the polyline through the finite points. Throws ArgumentError for a size below 64 x 48 or
// x and y of different lengths.
inline Image LineChart(const std::vector<float>& y, const std::vector<float>& x = {}, const ChartOptions& o = {}) {
  if (o.height < 48 || o.width < 64) throw ArgumentError("LineChart: size " + std::to_string(o.height) + "x" + std::to_string(o.width) + " is below 48x64");
  if (!x.empty() && x.size() != y.size()) {
    throw ArgumentError("LineChart: " + std::to_string(x.size()) + " x values for " + std::to_string(y.size()) + " y values");
  }
  Image im = Image::Zeros(o.height, o.width, 3);
  FillRect(im, 0, 0, o.height - 1, o.width - 1, o.background);
  const auto xs = [&](size_t i) { return x.empty() ? static_cast<double>(i) : static_cast<double>(x[i]); };
  double ylo = INFINITY, yhi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]) || !std::isfinite(xs(i))) continue;
    ylo = std::min(ylo, static_cast<double>(y[i]));
    yhi = std::max(yhi, static_cast<double>(y[i]));
    xlo = std::min(xlo, xs(i));
    xhi = std::max(xhi, xs(i));
  }
  if (!(ylo <= yhi)) ylo = 0, yhi = 1, xlo = 0, xhi = 1;  // nothing finite: empty axes
  if (yhi == ylo) ylo -= 1, yhi += 1;
  if (xhi == xlo) xhi = xlo + 1;
  // Plot area: left margin for the y labels, bottom for the x labels, top for the title.
  const std::string ytop = detail::TickLabel(yhi), ybot = detail::TickLabel(ylo);
  const int left = std::max(TextWidth(ytop), TextWidth(ybot)) + 6, right = o.width - 8;
  const int top = TextHeight() + 6, bottom = o.height - TextHeight() - 6;
  DrawLine(im, top, left, bottom, left, o.axis);
  DrawLine(im, bottom, left, bottom, right, o.axis);
  DrawText(im, top, 2, ytop, o.axis);
  DrawText(im, bottom - TextHeight() + 1, 2, ybot, o.axis);
  const std::string xl = detail::TickLabel(xlo), xr = detail::TickLabel(xhi);
  DrawText(im, bottom + 3, left, xl, o.axis);
  DrawText(im, bottom + 3, right - TextWidth(xr), xr, o.axis);
  if (!o.title.empty()) DrawText(im, 2, left + 4, o.title, o.axis);
  const auto py = [&](double v) { return bottom - static_cast<int>(std::lround((v - ylo) / (yhi - ylo) * (bottom - top))); };
  const auto px = [&](double v) { return left + static_cast<int>(std::lround((v - xlo) / (xhi - xlo) * (right - left))); };
  bool have_prev = false;
  int prev_y = 0, prev_x = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i]) || !std::isfinite(xs(i))) {
      have_prev = false;
      continue;
    }
    const int cy = py(y[i]), cx = px(xs(i));
    if (have_prev) DrawLine(im, prev_y, prev_x, cy, cx, o.line);
    else detail::Put(im, cy, cx, o.line);
    prev_y = cy, prev_x = cx, have_prev = true;
  }
  return im;
}

}  // namespace warmstart::image
