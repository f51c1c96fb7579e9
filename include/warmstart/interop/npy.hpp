// NumPy's .npy format (numpy/lib/format.py, NEP 1) and .npz archives of them (np.savez).
//
//   offset  size  field
//   0       6     magic "\x93NUMPY"
//   6       1     major version (1, 2 or 3)
//   7       1     minor version (0)
//   8       2|4   header length HLEN, little-endian: u16 in 1.0, u32 in 2.0 and 3.0
//   10|12   HLEN  a Python dict literal, latin-1 (1.0, 2.0) or UTF-8 (3.0), padded with spaces
//                 and ended by '\n' so that the data starts at a multiple of 64:
//                   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   ...           the elements, C (row-major) order unless fortran_order, byte order per descr
//
// descr is byte order ('<' little, '>' big, '|' not applicable, '=' native) + kind + item
// size: b1 bool, i1..i8, u1..u8, f2 f4 f8, c8 c16, Vn raw bytes. numpy has no bfloat16 or
// float8: np.save of an ml_dtypes bfloat16 array writes '<V2' (ml_dtypes issue 41), float8
// arrays '<V1'. We write the same, and in an .npz name the exact dtype in the member's zip
// comment ("dtype=DT_BFLOAT16"), which np.load ignores; see docs/interop.md.
//
// The writer mirrors numpy 1.24's _write_array_header: keys sorted, shape as Python's repr
// of a tuple, 21 - len(str(shape[0])) spaces of growth room (rank > 0), version 1.0 when
// the padded header fits in a u16, else 2.0. The reader converts fortran_order to row-major
// and big-endian to little-endian, and refuses everything it cannot represent exactly.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/tensor_shape.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/interop/tensor_source.hpp"
#include "warmstart/interop/zip.hpp"

namespace warmstart::interop {

using bundle::DataType;

inline constexpr char kNpyMagic[] = "\x93NUMPY";
inline constexpr size_t kNpyArrayAlign = 64;
inline constexpr size_t kNpyGrowthAxisMaxDigits = 21;

// ---- dtype <-> descr ----

// The descr we write for a dtype; nullopt when .npy cannot hold it (string, quantized,
// int4/int2, float4, variant, resource).
inline std::optional<std::string> NpyDescr(DataType t) {
  switch (t) {
    case DataType::kBool: return "|b1";
    case DataType::kInt8: return "|i1";
    case DataType::kUint8: return "|u1";
    case DataType::kInt16: return "<i2";
    case DataType::kUint16: return "<u2";
    case DataType::kInt32: return "<i4";
    case DataType::kUint32: return "<u4";
    case DataType::kInt64: return "<i8";
    case DataType::kUint64: return "<u8";
    case DataType::kHalf: return "<f2";
    case DataType::kFloat: return "<f4";
    case DataType::kDouble: return "<f8";
    case DataType::kComplex64: return "<c8";
    case DataType::kComplex128: return "<c16";
    case DataType::kBfloat16: return "<V2";  // what np.save writes for ml_dtypes.bfloat16
    case DataType::kFloat8E5m2: case DataType::kFloat8E4m3fn: case DataType::kFloat8E4m3fnuz:
    case DataType::kFloat8E4m3b11fnuz: case DataType::kFloat8E5m2fnuz:
      return "<V1";  // ml_dtypes float8 types
    default: return std::nullopt;
  }
}

// True when the descr alone does not say which dtype it is: we add "dtype=<name>" as
// the npz member's comment.
inline bool NpyDescrIsAmbiguous(DataType t) {
  const std::optional<std::string> d = NpyDescr(t);
  return d && (*d)[1] == 'V';
}

struct NpyType {
  DataType dtype = DataType::kInvalid;
  bool big_endian = false;
};

// The dtype of a descr; `void_dtype` says what a 'V1'/'V2' descr holds (default for V2:
// bfloat16, as jnp.load and Keras assume). nullopt when unsupported.
inline std::optional<NpyType> ParseNpyDescr(std::string_view descr, std::optional<DataType> void_dtype = std::nullopt) {
  if (descr.size() < 3) return std::nullopt;
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return std::nullopt;
  const std::string_view type = descr.substr(1);
  static const std::pair<const char*, DataType> kTypes[] = {
      {"b1", DataType::kBool},   {"i1", DataType::kInt8},    {"u1", DataType::kUint8},   {"i2", DataType::kInt16},
      {"u2", DataType::kUint16}, {"i4", DataType::kInt32},   {"u4", DataType::kUint32},  {"i8", DataType::kInt64},
      {"u8", DataType::kUint64}, {"f2", DataType::kHalf},    {"f4", DataType::kFloat},   {"f8", DataType::kDouble},
      {"c8", DataType::kComplex64}, {"c16", DataType::kComplex128},
      {"f1", DataType::kFloat8E5m2},  // older ml_dtypes wrote float8_e5m2 as '<f1'
  };
  NpyType out;
  out.big_endian = order == '>';
  for (const auto& [code, dtype] : kTypes) {
    if (type == code) {
      out.dtype = dtype;
      return out;
    }
  }
  if (type == "V2" || type == "V1") {
    const DataType d = void_dtype ? *void_dtype : (type == "V2" ? DataType::kBfloat16 : DataType::kInvalid);
    if (d == DataType::kInvalid || bundle::DataTypeSize(d) != type[1] - '0' || !NpyDescrIsAmbiguous(d)) return std::nullopt;
    out.dtype = d;
    out.big_endian = false;  // raw bytes: numpy never swaps void data
    return out;
  }
  return std::nullopt;
}

// ---- Header ----

struct NpyHeader {
  int major = 1;
  int minor = 0;
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;  // where the elements start
};

namespace detail {

// "()", "(3,)", "(2, 3)": Python's repr of a tuple of ints.
inline std::string ShapeRepr(const std::vector<int64_t>& dims) {
  if (dims.size() == 1) return "(" + std::to_string(dims[0]) + ",)";
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// The header dict of a Python literal, as numpy's safe_eval accepts what numpy writes:
// string keys; values a string, True/False or a tuple of non-negative ints.
class DictParser {
 public:
  DictParser(std::string_view text, const ErrorContext& ctx, uint64_t base) : s_(text), ctx_(ctx), base_(base) {}

  NpyHeader Parse() {
    NpyHeader h;
    bool seen[3] = {false, false, false};
    SkipSpace();
    Expect('{', "header dict must start with '{'");
    while (true) {
      SkipSpace();
      if (Peek() == '}') break;
      const size_t key_at = pos_;
      const std::string key = ReadString();
      SkipSpace();
      Expect(':', "expected ':' after a key of the header dict");
      SkipSpace();
      const int slot = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
      if (slot < 0) Fail(key_at, "unexpected key '" + key + "' in the header dict (numpy refuses it too)");
      if (seen[slot]) Fail(key_at, "key '" + key + "' appears twice in the header dict");
      seen[slot] = true;
      if (slot == 0) {
        if (Peek() == '[') Fail(pos_, "structured dtypes (a list descr) are not supported");
        h.descr = ReadString();
      } else if (slot == 1) {
        h.fortran_order = ReadBool();
      } else {
        h.shape = ReadTuple();
      }
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != '}') Fail(pos_, "expected ',' or '}' in the header dict");
    }
    ++pos_;
    for (; pos_ < s_.size(); ++pos_) {
      if (s_[pos_] != ' ' && s_[pos_] != '\n' && s_[pos_] != '\t' && s_[pos_] != '\r') Fail(pos_, "unexpected text after the header dict");
    }
    if (!seen[0] || !seen[1] || !seen[2]) Fail(0, "header dict lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  [[noreturn]] void Fail(size_t at, const std::string& what) const { throw FormatError(ctx_.WithOffset(base_ + at), what); }
  void Expect(char c, const char* what) {
    if (Peek() != c) Fail(pos_, what);
    ++pos_;
  }
  std::string ReadString() {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') Fail(pos_, "expected a quoted string in the header dict");
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') Fail(pos_, "escape sequences are not supported in the header dict");
      ++pos_;
    }
    if (pos_ >= s_.size()) Fail(start - 1, "unterminated string in the header dict");
    return std::string(s_.substr(start, pos_++ - start));
  }
  bool ReadBool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    Fail(pos_, "fortran_order must be True or False");
  }
  int64_t ReadInt() {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (INT64_MAX - 9) / 10) Fail(start, "shape dimension does not fit in int64");
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) Fail(start, "expected a non-negative integer in the shape tuple");
    if (Peek() == 'L') ++pos_;  // Python 2 longs, which numpy still accepts
    return v;
  }
  std::vector<int64_t> ReadTuple() {
    Expect('(', "shape must be a tuple");
    std::vector<int64_t> dims;
    SkipSpace();
    while (Peek() != ')') {
      dims.push_back(ReadInt());
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
      } else if (Peek() != ')') {
        Fail(pos_, "expected ',' or ')' in the shape tuple");
      }
    }
    ++pos_;
    return dims;
  }

  std::string_view s_;
  const ErrorContext& ctx_;
  uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace detail

// Reads magic, version, length and dict. Requires nothing of the data.
inline NpyHeader ParseNpyHeader(core::ByteView file, const ErrorContext& ctx) {
  core::Cursor c(file, ctx);
  const core::ByteView magic = c.ReadBytes(6, "npy magic");
  if (magic.AsStringView() != std::string_view(kNpyMagic, 6)) c.FailAt(0, "not a .npy file: magic \\x93NUMPY missing");
  NpyHeader h;
  h.major = c.ReadByte("npy version");
  h.minor = c.ReadByte("npy version");
  if (h.major < 1 || h.major > 3 || h.minor != 0) {
    c.FailAt(6, "unsupported .npy version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                    " (1.0, 2.0 and 3.0 are defined)");
  }
  uint64_t hlen;
  if (h.major == 1) {
    const core::ByteView b = c.ReadBytes(2, "npy header length");
    hlen = static_cast<uint64_t>(b[0] | b[1] << 8);
  } else {
    hlen = c.ReadFixed32("npy header length");
  }
  const uint64_t text_at = c.absolute_offset();
  const core::ByteView text = c.ReadBytes(hlen, "npy header");
  if (h.major < 3) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] >= 0x80) c.FailAt(text_at + i, "non-ASCII byte in a version 1.0/2.0 header");
    }
  } else if (!detail::IsUtf8(text.AsStringView())) {
    c.FailAt(text_at, "version 3.0 header is not valid UTF-8");
  }
  NpyHeader dict = detail::DictParser(text.AsStringView(), ctx, text_at).Parse();
  dict.major = h.major;
  dict.minor = h.minor;
  dict.data_offset = c.absolute_offset();
  return dict;
}

// The header numpy 1.24 writes for a C-order array of `descr` and `dims`.
inline std::string EncodeNpyHeader(const std::string& descr, const std::vector<int64_t>& dims) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + detail::ShapeRepr(dims) + ", }";
  if (!dims.empty()) dict.append(kNpyGrowthAxisMaxDigits - std::to_string(dims[0]).size(), ' ');
  const size_t hlen = dict.size() + 1;  // + '\n'
  for (int major : {1, 2}) {
    const size_t prefix = 6 + 2 + (major == 1 ? 2 : 4);
    const size_t pad = kNpyArrayAlign - (prefix + hlen) % kNpyArrayAlign;  // 64 when aligned, as numpy
    const uint64_t total = hlen + pad;
    if (major == 1 && total > 0xffff) continue;
    std::string out(kNpyMagic, 6);
    out += static_cast<char>(major);
    out += '\0';
    if (major == 1) {
      out += static_cast<char>(total & 0xff);
      out += static_cast<char>(total >> 8);
    } else {
      core::PutFixed32(&out, static_cast<uint32_t>(total));
    }
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return out;
  }
  throw ArgumentError("npy header of " + std::to_string(hlen) + " bytes is too long");
}

// Requires: NpyDescr(dtype) exists (else ArgumentError naming `name`).
inline std::string EncodeNpyHeader(DataType dtype, const bundle::TensorShape& shape, const std::string& name = "") {
  const std::optional<std::string> descr = NpyDescr(dtype);
  if (!descr) throw ArgumentError(ErrorContext().WithKey(name), bundle::DataTypeName(dtype) + " has no .npy dtype");
  return EncodeNpyHeader(*descr, shape.dims());
}

// ---- Arrays ----

// One array: bytes little-endian, row-major; a view into the file or into `storage`.
struct NpyArray {
  NpyArray() = default;
  NpyArray(NpyArray&&) = default;
  NpyArray& operator=(NpyArray&&) = default;
  NpyArray(const NpyArray&) = delete;  // `data` may point into `storage`
  NpyArray& operator=(const NpyArray&) = delete;

  NpyHeader header;
  DataType dtype = DataType::kInvalid;
  bundle::TensorShape shape;
  core::ByteView data;
  std::vector<uint8_t> storage;  // when converted (big-endian, Fortran order); vector moves keep data valid
};

namespace detail {

// Column-major `in` to row-major `out`, elements of `elem` bytes.
inline void FortranToC(const uint8_t* in, uint8_t* out, const std::vector<int64_t>& dims, size_t elem) {
  const size_t rank = dims.size();
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d);
  if (n == 0) return;
  std::vector<uint64_t> fstride(rank, 1);
  for (size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * static_cast<uint64_t>(dims[k - 1]);
  std::vector<int64_t> idx(rank, 0);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t src = 0;
    for (size_t k = 0; k < rank; ++k) src += static_cast<uint64_t>(idx[k]) * fstride[k];
    std::copy(in + src * elem, in + (src + 1) * elem, out + i * elem);
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
}

inline void SwapEach(uint8_t* p, size_t n, size_t unit) {
  for (size_t i = 0; i + unit <= n; i += unit) std::reverse(p + i, p + i + unit);
}

}  // namespace detail

// Parses a whole .npy file held in `file`. `void_dtype`: what a V1/V2 descr holds.
// Requires: `file` outlives the returned view (unless it was converted into storage).
inline NpyArray ReadNpy(core::ByteView file, const ErrorContext& ctx, std::optional<DataType> void_dtype = std::nullopt) {
  NpyArray a;
  a.header = ParseNpyHeader(file, ctx);
  const std::optional<NpyType> type = ParseNpyDescr(a.header.descr, void_dtype);
  if (!type) {
    throw FormatError(ctx.WithOffset(10), "descr '" + a.header.descr + "' has no TensorFlow dtype" +
                                              (a.header.descr.find('V') != std::string::npos ? " (a void type without a dtype= comment)" : ""));
  }
  a.dtype = type->dtype;
  a.shape = bundle::TensorShape(a.header.shape);
  const std::string why = a.shape.Validate();
  if (!why.empty()) throw FormatError(ctx.WithOffset(10), why);
  const size_t elem = static_cast<size_t>(bundle::DataTypeSize(a.dtype));
  uint64_t nbytes = 0;
  if (!detail::MultiplyChecked(static_cast<uint64_t>(a.shape.num_elements()), elem, &nbytes) ||
      nbytes != file.size() - a.header.data_offset) {
    throw FormatError(ctx.WithOffset(a.header.data_offset),
                      "shape " + detail::ShapeRepr(a.header.shape) + " of '" + a.header.descr + "' needs " +
                          std::to_string(nbytes) + " bytes of data, the file has " +
                          std::to_string(file.size() - a.header.data_offset));
  }
  a.data = file.Sub(static_cast<size_t>(a.header.data_offset), static_cast<size_t>(nbytes));
  const bool swap = type->big_endian && elem > 1;
  const bool transpose = a.header.fortran_order && a.shape.rank() > 1;
  if (!swap && !transpose) return a;
  a.storage.assign(a.data.begin(), a.data.end());
  if (swap) detail::SwapEach(a.storage.data(), a.storage.size(), static_cast<size_t>(bundle::SwapUnit(a.dtype)));
  if (transpose) {
    std::vector<uint8_t> c_order(a.storage.size());
    detail::FortranToC(a.storage.data(), c_order.data(), a.header.shape, elem);
    a.storage = std::move(c_order);
  }
  a.data = core::ByteView(a.storage.data(), a.storage.size());
  return a;
}

// Writes one .npy file. Requires: data holds spec.num_bytes() little-endian row-major bytes.
inline void WriteNpy(const std::string& path, const TensorSpec& spec, core::ByteView data) {
  const std::string header = EncodeNpyHeader(spec.dtype, spec.shape, spec.name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw IoError(ErrorContext(path), "cannot create file");
  const bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
                  (data.empty() || std::fwrite(data.data(), 1, data.size(), f) == data.size());
  if (std::fclose(f) != 0 || !ok) {
    std::remove(path.c_str());
    throw IoError(ErrorContext(path), "cannot write file");
  }
}

// ---- .npz: a zip of <name>.npy members ----

inline constexpr char kNpzDtypeComment[] = "dtype=";

// np.savez layout: one stored member per tensor, named "<name>.npy" (slashes kept), in the
// given order; bfloat16 and float8 members carry "dtype=<DT_NAME>" as their zip comment.
inline void WriteNpz(const std::string& path, const std::vector<TensorSpec>& tensors, const FetchBytes& fetch,
                     ZipWriterOptions options = ZipWriterOptions()) {
  ZipWriter zip(path, options);
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& t = tensors[i];
    const std::string header = EncodeNpyHeader(t.dtype, t.shape, t.name);
    const core::ByteView data = fetch(i, &scratch);
    if (data.size() != t.num_bytes()) {
      throw ArgumentError(ErrorContext(path).WithKey(t.name), "expected " + std::to_string(t.num_bytes()) +
                                                                  " bytes, got " + std::to_string(data.size()));
    }
    const std::string comment = NpyDescrIsAmbiguous(t.dtype) ? kNpzDtypeComment + bundle::DataTypeName(t.dtype) : "";
    zip.Add(t.name + ".npy", {core::ByteView(header), data}, comment);
  }
  zip.Finish();
}

// The dtype named by a member comment "dtype=DT_...", if any.
inline std::optional<DataType> NpzCommentDtype(const ZipEntry& e, const ErrorContext& ctx) {
  const std::string prefix = kNpzDtypeComment;
  if (e.comment.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string name = e.comment.substr(prefix.size());
  for (int32_t i = 1; i <= bundle::kMaxKnownDataType; ++i) {
    if (bundle::DataTypeName(static_cast<DataType>(i)) == name) return static_cast<DataType>(i);
  }
  throw FormatError(ctx.WithKey(e.name).WithOffset(e.central_offset), "member comment names unknown dtype '" + name + "'");
}

// An .npz archive: each member "<name>.npy" is one tensor named <name>.
class NpzReader {
 public:
  static NpzReader Open(const std::string& path) { return NpzReader(ZipReader::Open(path)); }
  static NpzReader FromBytes(core::ByteView bytes, const std::string& name) {
    return NpzReader(ZipReader::FromBytes(bytes, name));
  }

  const ZipReader& zip() const { return zip_; }
  const std::vector<std::string>& names() const { return names_; }

  // Member i, CRC-checked and parsed; data may point into *scratch.
  NpyArray Read(size_t i, std::string* scratch) const {
    const ZipEntry& e = zip_.entries()[i];
    const ErrorContext ctx = ErrorContext(zip_.path()).WithKey(e.name);
    const core::ByteView bytes = zip_.Read(e, scratch);
    try {
      NpyArray a = ReadNpy(bytes, ctx, NpzCommentDtype(e, ctx));
      return a;
    } catch (const FormatError& err) {
      // Offsets inside the member: say so, with where the member starts in the archive.
      throw FormatError(err.context(), err.reason() + " (offset within the member, whose data starts at archive offset " +
                                           std::to_string(e.data_offset) + (e.method == 8 ? ", deflated)" : ")"));
    }
  }

 private:
  explicit NpzReader(ZipReader zip) : zip_(std::move(zip)) {
    const std::string suffix = ".npy";
    for (const ZipEntry& e : zip_.entries()) {
      if (e.name.size() <= suffix.size() || e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        throw FormatError(ErrorContext(zip_.path()).WithKey(e.name).WithOffset(e.central_offset),
                          "member is not a .npy file: an .npz holds only <name>.npy members");
      }
      names_.push_back(e.name.substr(0, e.name.size() - suffix.size()));
    }
  }

  ZipReader zip_;
  std::vector<std::string> names_;
};

}  // namespace warmstart::interop
