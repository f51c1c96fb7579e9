// Decoding and encoding image files through stb_image / stb_image_write.
//
// Linking: this header only declares stb's functions (it never defines STB_IMAGE_IMPLEMENTATION
// or STB_IMAGE_WRITE_IMPLEMENTATION); the program links the shared libstb of Debian's
// libstb-dev (pkg-config stb: -I/usr/include/stb -lstb). In CMake, link warmstart::image,
// which exists when stb was found. The rest of warmstart stays header-only without it.
//
// What is read: the formats TF's tf.image.decode_image reads, recognised by their first bytes
//   JPEG  FF D8 FF            PNG  89 50 4E 47 0D 0A 1A 0A
//   GIF   "GIF87a" / "GIF89a" (first frame)      BMP  "BM"
// always as 3 channels (decode_image(..., channels=3)): gray is copied to R, G and B; alpha is
// dropped, not composited (libpng's png_set_strip_alpha in TF; stb drops it too); 16-bit PNG
// samples keep their high byte (png_set_strip_16). Where stb and TF's decoders differ is in
// docs/images.md (JPEG pixels may differ by a few levels: stb's IDCT and chroma upsampling are
// not libjpeg-turbo's).
//
// Checks, each a FormatError naming the file (or the `what` given for bytes):
//   * unknown first bytes, a file of 2 GiB or more (stb takes an int length);
//   * width or height above DecodeOptions::max_side, or more than max_pixels pixels, read from
//     the header before any pixel is allocated;
//   * a JPEG without an end-of-image marker (FF D9) after its last start-of-scan (FF DA): a
//     truncated file. TF's libjpeg decodes it with the missing blocks filled in (and logs
//     "Premature end of JPEG file"); stb fills them in or stops with a terse reason
//     ("expected marker") depending on where the cut is. Refused, with a clear message;
//   * whatever stb refuses, with stbi_failure_reason() ("bad IHDR len", "outofdata", ...).
#pragma once

#include <stb_image.h>
#include <stb_image_write.h>

#include <climits>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "warmstart/core/bytes.hpp"
#include "warmstart/core/file.hpp"
#include "warmstart/error.hpp"
#include "warmstart/image/image.hpp"

namespace warmstart::image {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kBmp };

inline const char* ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

// The format announced by the first bytes (the signatures in the file comment).
inline ImageFormat SniffImageFormat(core::ByteView b) {
  const auto starts = [&](std::initializer_list<uint8_t> sig) {
    if (b.size() < sig.size()) return false;
    size_t i = 0;
    for (uint8_t s : sig) {
      if (b[i++] != s) return false;
    }
    return true;
  };
  if (starts({0xFF, 0xD8, 0xFF})) return ImageFormat::kJpeg;
  if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return ImageFormat::kPng;
  if (starts({'G', 'I', 'F', '8', '7', 'a'}) || starts({'G', 'I', 'F', '8', '9', 'a'})) return ImageFormat::kGif;
  if (starts({'B', 'M'})) return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

struct DecodeOptions {
  int max_side = 1 << 15;                  // pixels per row or column
  int64_t max_pixels = int64_t{1} << 27;   // width * height (134 million: 400 MB as RGB)
};

namespace detail {

inline std::string FailureReason() {
  const char* r = stbi_failure_reason();
  return r != nullptr ? std::string(r) : std::string("unknown reason");
}

inline std::string FirstBytes(core::ByteView b) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < b.size() && i < 8; ++i) {
    if (i) out += ' ';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out.empty() ? "none: the input is empty" : out;
}

// Why stb cannot read the header. stbi_info tries every format in turn and leaves "unknown
// image type" from the last; stbi_load goes to the one format the signature names and stops at
// the same header check, so its reason is the precise one ("too large", "bad IHDR len").
inline std::string HeaderFailure(core::ByteView b) {
  int w = 0, h = 0, comp = 0;
  stbi_uc* p = stbi_load_from_memory(b.data(), static_cast<int>(b.size()), &w, &h, &comp, 3);
  if (p == nullptr) return FailureReason();
  stbi_image_free(p);
  return "stbi_info refused it";
}

// True when an FF D9 marker follows the last FF DA (start of scan). Entropy-coded data stuffs
// every FF as FF 00, so FF D9 there is the end-of-image marker.
inline bool JpegHasEnd(core::ByteView b) {
  size_t last_sos = 0;
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i;
  }
  for (size_t i = last_sos; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return true;
  }
  return false;
}

// Format, size and header checks before any pixel is decoded.
inline void CheckBeforeDecode(core::ByteView bytes, const ErrorContext& at, const DecodeOptions& options) {
  const ImageFormat format = SniffImageFormat(bytes);
  if (format == ImageFormat::kUnknown) {
    throw FormatError(at, "not a JPEG, PNG, GIF or BMP image (first bytes: " + FirstBytes(bytes) + ")");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    throw FormatError(at, std::to_string(bytes.size()) + " bytes: too large to decode (2 GiB at most)");
  }
  int w = 0, h = 0, comp = 0;
  if (stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp) == 0) {
    throw FormatError(at, std::string("cannot read the ") + ImageFormatName(format) + " header: " + HeaderFailure(bytes));
  }
  if (w > options.max_side || h > options.max_side || static_cast<int64_t>(w) * h > options.max_pixels) {
    throw FormatError(at, std::string(ImageFormatName(format)) + " image of " + std::to_string(w) + "x" + std::to_string(h) +
                              " pixels exceeds the decode limits (" + std::to_string(options.max_side) + " per side, " +
                              std::to_string(options.max_pixels) + " pixels)");
  }
  if (format == ImageFormat::kJpeg && !JpegHasEnd(bytes)) {
    throw FormatError(at, "truncated JPEG: no end-of-image marker (FF D9) after the last scan");
  }
}

}  // namespace detail

// Decodes an encoded image to 3 channels. `what` names the input in errors (a file name).
// Throws FormatError (see the file comment).
inline Image DecodeImage(core::ByteView bytes, const std::string& what, const DecodeOptions& options = {}) {
  const ErrorContext at(what);
  detail::CheckBeforeDecode(bytes, at, options);
  int w = 0, h = 0, comp = 0;
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp, 3);
  if (data == nullptr) {
    throw FormatError(at, std::string("cannot decode the ") + ImageFormatName(SniffImageFormat(bytes)) +
                              " image: " + detail::FailureReason());
  }
  const std::unique_ptr<stbi_uc, void (*)(void*)> owned(data, stbi_image_free);
  Image out;
  out.height = h;
  out.width = w;
  out.channels = 3;
  out.pixels.assign(data, data + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  return out;
}

// The file at `path`, decoded. Throws NotFoundError / IoError for the file, FormatError for its
// contents; every message starts with the path.
inline Image DecodeImageFile(const std::string& path, const DecodeOptions& options = {}) {
  const core::MappedFile file = core::MappedFile::Open(path);
  return DecodeImage(file.bytes(), path, options);
}

namespace detail {

inline void AppendBytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

inline void CheckEncodable(const Image& im, const char* what) {
  CheckImage(im, what);
  if (im.channels > 4) {
    throw ArgumentError(std::string(what) + ": " + std::to_string(im.channels) + " channels (1 to 4 can be encoded)");
  }
}

}  // namespace detail

// PNG bytes of `im` (1 gray, 2 gray + alpha, 3 RGB or 4 RGBA channels), stb's default
// compression. Throws ArgumentError for an empty image or more than 4 channels.
inline std::vector<uint8_t> EncodePng(const Image& im) {
  detail::CheckEncodable(im, "EncodePng");
  std::vector<uint8_t> out;
  if (stbi_write_png_to_func(detail::AppendBytes, &out, im.width, im.height, im.channels, im.pixels.data(),
                             im.width * im.channels) == 0) {
    throw ArgumentError("EncodePng: stb_image_write refused the " + std::to_string(im.width) + "x" +
                        std::to_string(im.height) + " image");
  }
  return out;
}

// JPEG bytes of `im` at quality 1..100 (stb writes baseline JPEG, 4:2:0 chroma up to quality
// 90 and 4:4:4 above; always three YCbCr components, also for a gray image).
inline std::vector<uint8_t> EncodeJpeg(const Image& im, int quality = 95) {
  detail::CheckEncodable(im, "EncodeJpeg");
  if (quality < 1 || quality > 100) throw ArgumentError("EncodeJpeg: quality must be in 1..100, found " + std::to_string(quality));
  std::vector<uint8_t> out;
  if (stbi_write_jpg_to_func(detail::AppendBytes, &out, im.width, im.height, im.channels, im.pixels.data(), quality) == 0) {
    throw ArgumentError("EncodeJpeg: stb_image_write refused the " + std::to_string(im.width) + "x" +
                        std::to_string(im.height) + " image");
  }
  return out;
}

// Writes EncodePng(im) to `path`. Throws IoError naming the path.
inline void WritePng(const std::string& path, const Image& im) {
  const std::vector<uint8_t> png = EncodePng(im);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw IoError(ErrorContext(path), "cannot create file");
  file.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  file.close();
  if (!file) throw IoError(ErrorContext(path), "cannot write " + std::to_string(png.size()) + " bytes");
}

}  // namespace warmstart::image
