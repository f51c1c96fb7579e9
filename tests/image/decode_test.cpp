// image::DecodeImage / DecodeImageFile / EncodePng through libstb: files made by the test itself
// (stb_image_write PNG, JPEG and BMP; a hand-made GIF and PNG header), decoded to 3 channels as
// TF's decode_image(channels=3); garbage, truncated and oversized inputs refused with the file
// named. Compiled only when CMake found stb (WARMSTART_HAVE_STB).
#include <catch2/catch.hpp>

#ifdef WARMSTART_HAVE_STB

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "realdata.hpp"
#include "warmstart/image/decode.hpp"

namespace {

using namespace warmstart;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using image::Image;

core::ByteView View(const std::vector<uint8_t>& b) { return core::ByteView(b.data(), b.size()); }

// A w x h image with `c` channels and a pattern that differs in every channel.
Image Pattern(int h, int w, int c) {
  Image im = Image::Zeros(h, w, c);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) im.at(y, x, k) = static_cast<uint8_t>((y * 37 + x * 11 + k * 71) % 256);
    }
  }
  return im;
}

int MaxDifference(const Image& a, const Image& b) {
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

}  // namespace

TEST_CASE("image decode: PNG RGB round trip is exact", "[image][decode]") {
  const Image rgb = Pattern(4, 5, 3);
  const std::vector<uint8_t> png = image::EncodePng(rgb);
  CHECK(image::SniffImageFormat(View(png)) == image::ImageFormat::kPng);
  const Image back = image::DecodeImage(View(png), "mem.png");
  CHECK(back.height == 4);
  CHECK(back.width == 5);
  CHECK(back.channels == 3);
  CHECK(back.pixels == rgb.pixels);
}

TEST_CASE("image decode: gray, gray+alpha and RGBA PNGs become RGB (alpha dropped, not composited)", "[image][decode]") {
  const Image gray = Pattern(3, 2, 1);
  const Image g = image::DecodeImage(View(image::EncodePng(gray)), "gray.png");
  REQUIRE(g.channels == 3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 2; ++x) {
      for (int c = 0; c < 3; ++c) CHECK(g.at(y, x, c) == gray.at(y, x, 0));
    }
  }
  Image ga = Pattern(2, 2, 2);
  ga.at(0, 0, 1) = 0;  // fully transparent: the gray value stays
  const Image a = image::DecodeImage(View(image::EncodePng(ga)), "ga.png");
  for (int c = 0; c < 3; ++c) CHECK(a.at(0, 0, c) == ga.at(0, 0, 0));
  for (int c = 0; c < 3; ++c) CHECK(a.at(1, 1, c) == ga.at(1, 1, 0));

  Image rgba = Pattern(2, 3, 4);
  rgba.at(1, 2, 3) = 0;
  const Image r = image::DecodeImage(View(image::EncodePng(rgba)), "rgba.png");
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) CHECK(r.at(y, x, c) == rgba.at(y, x, c));
    }
  }
}

TEST_CASE("image decode: JPEG (lossy), BMP (exact) and a one-pixel GIF", "[image][decode]") {
  // A flat colour survives JPEG at quality 100 within a level or two.
  Image flat = Image::Zeros(16, 16, 3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) {
      flat.at(y, x, 0) = 200;
      flat.at(y, x, 1) = 100;
      flat.at(y, x, 2) = 50;
    }
  }
  const std::vector<uint8_t> jpg = image::EncodeJpeg(flat, 100);
  CHECK(image::SniffImageFormat(View(jpg)) == image::ImageFormat::kJpeg);
  const Image j = image::DecodeImage(View(jpg), "flat.jpg");
  REQUIRE(j.width == 16);
  REQUIRE(j.height == 16);
  CHECK(MaxDifference(j, flat) <= 2);
  // A smooth gradient at quality 95 (4:4:4).
  Image grad = Image::Zeros(32, 24, 3);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 24; ++x) {
      grad.at(y, x, 0) = static_cast<uint8_t>(y * 8);
      grad.at(y, x, 1) = static_cast<uint8_t>(x * 10);
      grad.at(y, x, 2) = 128;
    }
  }
  CHECK(MaxDifference(image::DecodeImage(View(image::EncodeJpeg(grad, 95)), "grad.jpg"), grad) <= 12);

  std::vector<uint8_t> bmp;
  const Image pattern = Pattern(3, 5, 3);
  REQUIRE(stbi_write_bmp_to_func(image::detail::AppendBytes, &bmp, 5, 3, 3, pattern.pixels.data()) != 0);
  CHECK(image::SniffImageFormat(View(bmp)) == image::ImageFormat::kBmp);
  CHECK(image::DecodeImage(View(bmp), "p.bmp").pixels == pattern.pixels);

  // GIF89a, 1x1, palette {white, black}, no transparency; LZW codes clear, 0, end.
  const std::vector<uint8_t> gif = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
                                    0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00,
                                    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B};
  CHECK(image::SniffImageFormat(View(gif)) == image::ImageFormat::kGif);
  CHECK(image::DecodeImage(View(gif), "w.gif").pixels == std::vector<uint8_t>{255, 255, 255});
}

TEST_CASE("image decode: files, and errors that name them", "[image][decode]") {
  test::TempDir dir;
  const std::string path = (dir / "p.png").string();
  const Image rgb = Pattern(6, 7, 3);
  image::WritePng(path, rgb);
  CHECK(image::DecodeImageFile(path).pixels == rgb.pixels);

  const std::string missing = (dir / "missing.png").string();
  CHECK_THROWS_AS(image::DecodeImageFile(missing), NotFoundError);
  CHECK_THROWS_WITH(image::DecodeImageFile(missing), StartsWith(missing + ": cannot open file"));
  CHECK_THROWS_AS(image::WritePng((dir / "no" / "such" / "dir.png").string(), rgb), IoError);

  // The size limits are checked from the header, before decoding.
  image::DecodeOptions small;
  small.max_side = 6;
  CHECK_THROWS_WITH(image::DecodeImageFile(path, small),
                    path + ": PNG image of 7x6 pixels exceeds the decode limits (6 per side, 134217728 pixels)");
  image::DecodeOptions few;
  few.max_pixels = 41;
  CHECK_THROWS_WITH(image::DecodeImageFile(path, few), Contains("7x6 pixels exceeds the decode limits"));
}

TEST_CASE("image decode: garbage, truncated and absurd inputs", "[image][decode]") {
  const std::string hello = "hello world";
  CHECK_THROWS_AS(image::DecodeImage(core::ByteView(hello), "h.png"), FormatError);
  CHECK_THROWS_WITH(image::DecodeImage(core::ByteView(hello), "h.png"),
                    "h.png: not a JPEG, PNG, GIF or BMP image (first bytes: 68 65 6c 6c 6f 20 77 6f)");
  CHECK_THROWS_WITH(image::DecodeImage(core::ByteView(), "empty.jpg"),
                    "empty.jpg: not a JPEG, PNG, GIF or BMP image (first bytes: none: the input is empty)");

  // A PNG signature followed by junk: the header cannot be read.
  std::vector<uint8_t> junk = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_THROWS_WITH(image::DecodeImage(View(junk), "junk.png"), StartsWith("junk.png: cannot read the PNG header: "));

  // A PNG cut inside its image data: the header reads, the pixels do not.
  const std::vector<uint8_t> png = image::EncodePng(Pattern(40, 40, 3));
  const std::vector<uint8_t> cut(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2));
  CHECK_THROWS_WITH(image::DecodeImage(View(cut), "cut.png"), StartsWith("cut.png: cannot decode the PNG image: "));

  // A JPEG cut in its scan: TF would fill the rest in, stb says "expected marker"; refused clearly.
  const std::vector<uint8_t> jpg = image::EncodeJpeg(Pattern(40, 40, 3), 90);
  const std::vector<uint8_t> cut_jpg(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(jpg.size() * 3 / 4));
  CHECK_THROWS_WITH(image::DecodeImage(View(cut_jpg), "cut.jpg"),
                    "cut.jpg: truncated JPEG: no end-of-image marker (FF D9) after the last scan");
  // A JPEG cut inside its headers.
  const std::vector<uint8_t> head(jpg.begin(), jpg.begin() + 30);
  CHECK_THROWS_WITH(image::DecodeImage(View(head), "head.jpg"), StartsWith("head.jpg: cannot read the JPEG header: "));

  // An IHDR announcing 40000 x 2 pixels: beyond max_side, refused before anything is allocated.
  std::vector<uint8_t> wide = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                               0, 0, 0x9C, 0x40, 0, 0, 0, 2, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  CHECK_THROWS_WITH(image::DecodeImage(View(wide), "wide.png"),
                    "wide.png: PNG image of 40000x2 pixels exceeds the decode limits (32768 per side, "
                    "134217728 pixels)");
  // 100000 x 100000: stb's own limit (2^30 bytes) refuses it already in the header.
  std::vector<uint8_t> huge = wide;
  huge[17] = 0x01, huge[18] = 0x86, huge[19] = 0xA0;
  huge[21] = 0x01, huge[22] = 0x86, huge[23] = 0xA0;
  CHECK_THROWS_WITH(image::DecodeImage(View(huge), "huge.png"), "huge.png: cannot read the PNG header: too large");
}

TEST_CASE("image encode: refuses what PNG cannot hold", "[image][decode]") {
  CHECK_THROWS_AS(image::EncodePng(Image()), ArgumentError);
  CHECK_THROWS_WITH(image::EncodePng(Image::Zeros(1, 1, 5)), "EncodePng: 5 channels (1 to 4 can be encoded)");
  CHECK_THROWS_WITH(image::EncodeJpeg(Image::Zeros(1, 1, 3), 0), "EncodeJpeg: quality must be in 1..100, found 0");
}

#else

TEST_CASE("image decode: skipped, stb was not found at configure time", "[image][decode]") {
  WARN("libstb-dev (pkg-config stb) not found: the image decode tests are not built");
}

#endif  // WARMSTART_HAVE_STB
