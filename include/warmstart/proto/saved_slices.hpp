// Messages of the V1 checkpoint format (tensorflow/core/util/saved_tensor_slice.proto,
// tensorflow/core/framework/tensor.proto; spec section 11), and the conversion of a
// TensorProto's values to the bytes a V2 data file would hold.
//
// A V1 checkpoint is an SSTable. Key "" holds SavedTensorSlices{meta}; every other key is
// an OrderedCode slice key (spec 7.2) holding SavedTensorSlices{data}.
//
//   SavedTensorSlices     1 meta SavedTensorSliceMeta | 2 data SavedSlice
//   SavedTensorSliceMeta  1 tensor repeated SavedSliceMeta | 2 versions VersionDef
//   SavedSliceMeta        1 name string | 2 shape TensorShapeProto | 3 type DataType enum
//                         | 4 slice repeated TensorSliceProto
//   SavedSlice            1 name string | 2 slice TensorSliceProto | 3 data TensorProto
//   TensorProto           1 dtype enum | 2 tensor_shape TensorShapeProto | 3 version_number int32
//                         | 4 tensor_content bytes (raw little-endian elements)
//                         | 5 float_val float      (fixed32)  | 6 double_val double (fixed64)
//                         | 7 int_val int32        (varint)   | 8 string_val repeated bytes
//                         | 9 scomplex_val float   (fixed32, real/imaginary pairs)
//                         | 10 int64_val int64     (varint)   | 11 bool_val bool (varint)
//                         | 12 dcomplex_val double (fixed64, pairs)
//                         | 13 half_val int32      (varint, the 16-bit pattern of a half/bfloat16)
//                         | 16 uint32_val uint32   (varint)   | 17 uint64_val uint64 (varint)
//                         (14 resource_handle_val, 15 variant_val, 18+ are skipped)
//   Every numeric repeated field is read packed (wire type 2) or not; written packed.
//
// TensorSliceWriter (tensor_slice_writer.h, SaveData) fills only the typed field of the
// slice's dtype in SavedSlice.data: no dtype, no shape, no tensor_content. Which typed field
// holds which dtype follows ProtoHelper in tensorflow/core/framework/tensor.cc.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "warmstart/proto/bundle.hpp"
#include "warmstart/proto/wire.hpp"

namespace warmstart::proto {

struct TensorProto {
  int32_t dtype = 0;
  std::optional<ShapeProto> tensor_shape;  // absent in V1 slices
  int32_t version_number = 0;
  std::string tensor_content;
  std::vector<int32_t> half_val;
  std::vector<float> float_val;
  std::vector<double> double_val;
  std::vector<int32_t> int_val;
  std::vector<std::string> string_val;
  std::vector<float> scomplex_val;
  std::vector<int64_t> int64_val;
  std::vector<bool> bool_val;
  std::vector<double> dcomplex_val;
  std::vector<uint32_t> uint32_val;
  std::vector<uint64_t> uint64_val;
  std::optional<uint64_t> offset;  // absolute offset of the message bytes, set by Decode
};

struct SavedSliceMeta {
  std::string name;
  ShapeProto shape;
  int32_t type = 0;  // DataType
  std::vector<SliceProto> slice;
};

struct SavedTensorSliceMeta {
  std::vector<SavedSliceMeta> tensor;
  VersionDef versions;
};

struct SavedSlice {
  std::string name;
  SliceProto slice;
  TensorProto data;
};

struct SavedTensorSlices {
  std::optional<SavedTensorSliceMeta> meta;  // only under key ""
  std::optional<SavedSlice> data;            // under every other key
};

namespace detail {

inline uint32_t FloatBits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
inline uint64_t DoubleBits(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
inline float FloatFromBits(uint32_t u) {
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
inline double DoubleFromBits(uint64_t u) {
  double v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Calls fn(bits) for each element of a repeated fixed32 (width 4) or fixed64 (width 8)
// field, unpacked (one element per field) or packed (a run of little-endian values).
template <class Fn>
void ForEachFixed(const MessageReader& r, const Field& f, size_t width, Fn&& fn) {
  const WireType single = width == 4 ? kFixed32 : kFixed64;
  if (f.wire_type == single) {
    fn(f.value);
    return;
  }
  if (f.wire_type != kLengthDelimited) {
    r.Fail(f, "field " + std::to_string(f.number) + " has wire type " + std::to_string(f.wire_type) +
                  ", expected " + std::to_string(single) + " or 2 (packed)");
  }
  if (f.bytes.size() % width != 0) {
    r.Fail(f, "packed field " + std::to_string(f.number) + " has " + std::to_string(f.bytes.size()) +
                  " bytes, not a multiple of " + std::to_string(width));
  }
  for (size_t i = 0; i < f.bytes.size(); i += width) {
    const uint8_t* p = f.bytes.data() + i;
    fn(width == 4 ? core::DecodeFixed32(p) : core::DecodeFixed64(p));
  }
}

template <class T, class ToWire>
void PutPackedVarints(std::string* out, uint32_t number, const std::vector<T>& values, ToWire to_wire) {
  if (values.empty()) return;
  std::string packed;
  for (size_t i = 0; i < values.size(); ++i) core::PutVarint64(&packed, to_wire(values[i]));
  PutBytesField(out, number, packed);
}

inline void PutPackedFloats(std::string* out, uint32_t number, const std::vector<float>& values) {
  if (values.empty()) return;
  std::string packed;
  for (float v : values) core::PutFixed32(&packed, FloatBits(v));
  PutBytesField(out, number, packed);
}

inline void PutPackedDoubles(std::string* out, uint32_t number, const std::vector<double>& values) {
  if (values.empty()) return;
  std::string packed;
  for (double v : values) core::PutFixed64(&packed, DoubleBits(v));
  PutBytesField(out, number, packed);
}

// proto int32/int64 are sign-extended to 64 bits on the wire.
inline uint64_t SignExtend(int64_t v) { return static_cast<uint64_t>(v); }

inline int32_t ToInt32(uint64_t x) { return static_cast<int32_t>(static_cast<uint32_t>(x)); }

// Fields 5..17 but 8: the repeated numeric values. False for any other field.
inline bool DecodeTensorValues(const MessageReader& r, const Field& f, TensorProto* t) {
  auto to_float = [](uint64_t x) { return FloatFromBits(static_cast<uint32_t>(x)); };
  switch (f.number) {
    case 5: ForEachFixed(r, f, 4, [&](uint64_t x) { t->float_val.push_back(to_float(x)); }); break;
    case 6: ForEachFixed(r, f, 8, [&](uint64_t x) { t->double_val.push_back(DoubleFromBits(x)); }); break;
    case 7: ForEachVarint(r, f, [&](uint64_t x) { t->int_val.push_back(ToInt32(x)); }); break;
    case 9: ForEachFixed(r, f, 4, [&](uint64_t x) { t->scomplex_val.push_back(to_float(x)); }); break;
    case 10: ForEachVarint(r, f, [&](uint64_t x) { t->int64_val.push_back(static_cast<int64_t>(x)); }); break;
    case 11: ForEachVarint(r, f, [&](uint64_t x) { t->bool_val.push_back(x != 0); }); break;
    case 12: ForEachFixed(r, f, 8, [&](uint64_t x) { t->dcomplex_val.push_back(DoubleFromBits(x)); }); break;
    case 13: ForEachVarint(r, f, [&](uint64_t x) { t->half_val.push_back(ToInt32(x)); }); break;
    case 16: ForEachVarint(r, f, [&](uint64_t x) { t->uint32_val.push_back(static_cast<uint32_t>(x)); }); break;
    case 17: ForEachVarint(r, f, [&](uint64_t x) { t->uint64_val.push_back(x); }); break;
    default: return false;
  }
  return true;
}

}  // namespace detail

// ---- TensorProto ----

inline TensorProto DecodeTensorProto(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  TensorProto t;
  t.offset = base;
  MessageReader r(bytes, ctx, base, "TensorProto");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: t.dtype = r.Int32(f); break;
      case 2: t.tensor_shape = DecodeShape(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      case 3: t.version_number = r.Int32(f); break;
      case 4: t.tensor_content = r.String(f); break;
      case 8: t.string_val.push_back(r.String(f)); break;
      default: detail::DecodeTensorValues(r, f, &t); break;  // unknown fields are skipped
    }
  }
  return t;
}

inline std::string EncodeTensorProto(const TensorProto& t) {
  std::string out;
  if (t.dtype != 0) PutInt64Field(&out, 1, t.dtype);
  if (t.tensor_shape) {
    std::string shape;
    EncodeShape(*t.tensor_shape, &shape);
    PutBytesField(&out, 2, shape);
  }
  if (t.version_number != 0) PutInt64Field(&out, 3, t.version_number);
  if (!t.tensor_content.empty()) PutBytesField(&out, 4, t.tensor_content);
  detail::PutPackedFloats(&out, 5, t.float_val);
  detail::PutPackedDoubles(&out, 6, t.double_val);
  detail::PutPackedVarints(&out, 7, t.int_val, detail::SignExtend);
  for (const std::string& s : t.string_val) PutBytesField(&out, 8, s);
  detail::PutPackedFloats(&out, 9, t.scomplex_val);
  detail::PutPackedVarints(&out, 10, t.int64_val, detail::SignExtend);
  detail::PutPackedVarints(&out, 11, t.bool_val, [](bool b) { return uint64_t{b ? 1u : 0u}; });
  detail::PutPackedDoubles(&out, 12, t.dcomplex_val);
  detail::PutPackedVarints(&out, 13, t.half_val, detail::SignExtend);
  detail::PutPackedVarints(&out, 16, t.uint32_val, [](uint32_t v) { return uint64_t{v}; });
  detail::PutPackedVarints(&out, 17, t.uint64_val, [](uint64_t v) { return v; });
  return out;
}

// ---- SavedSliceMeta ----

inline SavedSliceMeta DecodeSavedSliceMeta(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SavedSliceMeta m;
  MessageReader r(bytes, ctx, base, "SavedSliceMeta");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: m.name = r.String(f); break;
      case 2: m.shape = DecodeShape(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      case 3: m.type = r.Int32(f); break;
      case 4: m.slice.push_back(DecodeSlice(r.Bytes(f), ctx, r.PayloadOffset(f))); break;
      default: break;
    }
  }
  return m;
}

inline void EncodeSavedSliceMeta(const SavedSliceMeta& m, std::string* out) {
  std::string sub;
  if (!m.name.empty()) PutBytesField(out, 1, m.name);
  EncodeShape(m.shape, &sub);
  PutBytesField(out, 2, sub);
  if (m.type != 0) PutInt64Field(out, 3, m.type);
  for (const SliceProto& s : m.slice) {
    sub.clear();
    EncodeSlice(s, &sub);
    PutBytesField(out, 4, sub);
  }
}

// ---- SavedTensorSliceMeta ----

inline SavedTensorSliceMeta DecodeSavedTensorSliceMeta(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SavedTensorSliceMeta m;
  MessageReader r(bytes, ctx, base, "SavedTensorSliceMeta");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) m.tensor.push_back(DecodeSavedSliceMeta(r.Bytes(f), ctx, r.PayloadOffset(f)));
    if (f.number == 2) m.versions = DecodeVersionDef(r.Bytes(f), ctx, r.PayloadOffset(f));
  }
  return m;
}

inline void EncodeSavedTensorSliceMeta(const SavedTensorSliceMeta& m, std::string* out) {
  std::string sub;
  for (const SavedSliceMeta& t : m.tensor) {
    sub.clear();
    EncodeSavedSliceMeta(t, &sub);
    PutBytesField(out, 1, sub);
  }
  sub.clear();
  EncodeVersionDef(m.versions, &sub);
  PutBytesField(out, 2, sub);
}

// ---- SavedSlice ----

inline SavedSlice DecodeSavedSlice(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SavedSlice s;
  MessageReader r(bytes, ctx, base, "SavedSlice");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: s.name = r.String(f); break;
      case 2: s.slice = DecodeSlice(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      case 3: s.data = DecodeTensorProto(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      default: break;
    }
  }
  return s;
}

inline void EncodeSavedSlice(const SavedSlice& s, std::string* out) {
  std::string sub;
  if (!s.name.empty()) PutBytesField(out, 1, s.name);
  EncodeSlice(s.slice, &sub);
  PutBytesField(out, 2, sub);
  PutBytesField(out, 3, EncodeTensorProto(s.data));
}

// ---- SavedTensorSlices ----

inline SavedTensorSlices DecodeSavedTensorSlices(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SavedTensorSlices s;
  MessageReader r(bytes, ctx, base, "SavedTensorSlices");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) s.meta = DecodeSavedTensorSliceMeta(r.Bytes(f), ctx, r.PayloadOffset(f));
    if (f.number == 2) s.data = DecodeSavedSlice(r.Bytes(f), ctx, r.PayloadOffset(f));
  }
  return s;
}

inline std::string EncodeSavedTensorSlices(const SavedTensorSlices& s) {
  std::string out, sub;
  if (s.meta) {
    EncodeSavedTensorSliceMeta(*s.meta, &sub);
    PutBytesField(&out, 1, sub);
  }
  if (s.data) {
    sub.clear();
    EncodeSavedSlice(*s.data, &sub);
    PutBytesField(&out, 2, sub);
  }
  return out;
}

// ---- TensorProto values -> V2 element bytes ----
//
//   dtype (enum)                          bytes  typed field    per element
//   FLOAT 1                               4      float_val      1 value
//   DOUBLE 2                              8      double_val     1
//   INT32 3, QINT32 13                    4      int_val        1, low 4 bytes
//   UINT8 4, INT8 6, QINT8 11, QUINT8 12  1      int_val        1, low byte
//   INT16 5, QINT16 15, QUINT16 16,
//   UINT16 17                             2      int_val        1, low 2 bytes
//   COMPLEX64 8                           8      scomplex_val   2 (real, imaginary)
//   INT64 9                               8      int64_val      1
//   BOOL 10                               1      bool_val       1 (0x00 / 0x01)
//   BFLOAT16 14, HALF 19                  2      half_val       1, low 2 bytes (bit pattern)
//   COMPLEX128 18                         16     dcomplex_val   2
//   UINT32 22                             4      uint32_val     1
//   UINT64 23                             8      uint64_val     1
//   STRING 7                              -      string_val     see TensorProtoStrings
//
// Values come from tensor_content when it is not empty (its size must be exactly
// num_elements x bytes), else from the typed field, which must hold num_elements
// elements, or exactly one element to repeat when num_elements > 1 (TensorProto's
// "version 0" rule). TF itself is laxer: it pads a short field with its last value,
// zero-fills an empty one and ignores extra values; here those are FormatErrors.

namespace detail {

enum class ValueField { kHalf, kFloat, kDouble, kInt, kScomplex, kInt64, kBool, kDcomplex, kUint32, kUint64 };

struct FixedDtype {
  int32_t dtype;
  const char* name;
  size_t element_size;
  ValueField field;
};

// nullptr for DT_STRING, DT_RESOURCE, DT_VARIANT and enums this conversion does not know.
inline const FixedDtype* FindFixedDtype(int32_t dtype) {
  using F = ValueField;
  static const FixedDtype kTable[] = {
      {1, "DT_FLOAT", 4, F::kFloat},       {2, "DT_DOUBLE", 8, F::kDouble},
      {3, "DT_INT32", 4, F::kInt},         {4, "DT_UINT8", 1, F::kInt},
      {5, "DT_INT16", 2, F::kInt},         {6, "DT_INT8", 1, F::kInt},
      {8, "DT_COMPLEX64", 8, F::kScomplex}, {9, "DT_INT64", 8, F::kInt64},
      {10, "DT_BOOL", 1, F::kBool},        {11, "DT_QINT8", 1, F::kInt},
      {12, "DT_QUINT8", 1, F::kInt},       {13, "DT_QINT32", 4, F::kInt},
      {14, "DT_BFLOAT16", 2, F::kHalf},    {15, "DT_QINT16", 2, F::kInt},
      {16, "DT_QUINT16", 2, F::kInt},      {17, "DT_UINT16", 2, F::kInt},
      {18, "DT_COMPLEX128", 16, F::kDcomplex}, {19, "DT_HALF", 2, F::kHalf},
      {22, "DT_UINT32", 4, F::kUint32},    {23, "DT_UINT64", 8, F::kUint64},
  };
  for (const FixedDtype& d : kTable) {
    if (d.dtype == dtype) return &d;
  }
  return nullptr;
}

// The bits of one typed value; the caller keeps the low `width` bytes.
inline uint64_t ValueBits(float v) { return FloatBits(v); }
inline uint64_t ValueBits(double v) { return DoubleBits(v); }
inline uint64_t ValueBits(int32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v)); }
inline uint64_t ValueBits(int64_t v) { return static_cast<uint64_t>(v); }
inline uint64_t ValueBits(uint32_t v) { return v; }
inline uint64_t ValueBits(uint64_t v) { return v; }
inline uint64_t ValueBits(bool v) { return v ? 1 : 0; }

// ctx, pointing at the TensorProto when Decode recorded where it was.
inline ErrorContext AtProto(const ErrorContext& ctx, const TensorProto& p) {
  ErrorContext c = ctx;
  if (p.offset) c.offset = p.offset;
  return c;
}

// The number of elements a typed field holds, checked against num_elements.
// Returns true when the single element is to be repeated.
inline bool CheckCount(uint64_t num_values, uint64_t values_per_element, int64_t num_elements,
                       const char* field, const ErrorContext& ctx) {
  if (num_values % values_per_element != 0) {
    throw FormatError(ctx, std::string(field) + " has " + std::to_string(num_values) +
                               " values, not whole (real, imaginary) pairs");
  }
  const uint64_t found = num_values / values_per_element;
  if (found == 1 && num_elements > 1) return true;
  if (found != static_cast<uint64_t>(num_elements)) {
    throw FormatError(ctx, std::string(field) + " has " + std::to_string(found) + " elements, expected " +
                               std::to_string(num_elements));
  }
  return false;
}

// Requires: num_elements * values_per_element * width fits in int64 (checked by the caller).
template <class T>
std::string RepeatedToBytes(const std::vector<T>& values, const char* field, size_t values_per_element,
                            size_t width, int64_t num_elements, const ErrorContext& ctx) {
  const bool repeat = CheckCount(values.size(), values_per_element, num_elements, field, ctx);
  std::string out;
  out.reserve(static_cast<size_t>(num_elements) * values_per_element * width);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint64_t bits = ValueBits(static_cast<T>(values[i]));
    for (size_t b = 0; b < width; ++b) out.push_back(static_cast<char>(bits >> (8 * b)));
  }
  if (repeat) {
    const std::string one = out;
    for (int64_t i = 1; i < num_elements; ++i) out += one;
  }
  return out;
}

inline std::string TypedFieldToBytes(const TensorProto& p, const FixedDtype& d, int64_t n,
                                     const ErrorContext& ctx) {
  const size_t w = d.element_size;
  switch (d.field) {
    case ValueField::kHalf: return RepeatedToBytes(p.half_val, "half_val", 1, w, n, ctx);
    case ValueField::kFloat: return RepeatedToBytes(p.float_val, "float_val", 1, w, n, ctx);
    case ValueField::kDouble: return RepeatedToBytes(p.double_val, "double_val", 1, w, n, ctx);
    case ValueField::kInt: return RepeatedToBytes(p.int_val, "int_val", 1, w, n, ctx);
    case ValueField::kScomplex: return RepeatedToBytes(p.scomplex_val, "scomplex_val", 2, w / 2, n, ctx);
    case ValueField::kInt64: return RepeatedToBytes(p.int64_val, "int64_val", 1, w, n, ctx);
    case ValueField::kBool: return RepeatedToBytes(p.bool_val, "bool_val", 1, w, n, ctx);
    case ValueField::kDcomplex: return RepeatedToBytes(p.dcomplex_val, "dcomplex_val", 2, w / 2, n, ctx);
    case ValueField::kUint32: return RepeatedToBytes(p.uint32_val, "uint32_val", 1, w, n, ctx);
    case ValueField::kUint64: return RepeatedToBytes(p.uint64_val, "uint64_val", 1, w, n, ctx);
  }
  return std::string();  // unreachable: every ValueField is handled above
}

inline void CheckDtype(const TensorProto& p, int32_t dtype, const char* name, const ErrorContext& ctx) {
  if (p.dtype != 0 && p.dtype != dtype) {
    throw FormatError(ctx, "TensorProto has dtype " + std::to_string(p.dtype) + ", expected " +
                               std::to_string(dtype) + " (" + name + ")");
  }
}

inline void CheckNumElements(int64_t num_elements, size_t element_size, const ErrorContext& ctx) {
  const uint64_t max_elements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / element_size;
  if (num_elements < 0 || static_cast<uint64_t>(num_elements) > max_elements) {
    throw ArgumentError(ctx, "cannot convert a TensorProto of " + std::to_string(num_elements) + " elements of " +
                                 std::to_string(element_size) + " bytes");
  }
}

}  // namespace detail

// The row-major little-endian element bytes of `p` read as `num_elements` elements of
// `dtype`. Throws FormatError when the proto does not hold that many elements (or holds
// another dtype), ArgumentError for a dtype that is not fixed-size (DT_STRING: use
// TensorProtoStrings) or a negative count. ctx names the file and key.
inline std::string TensorProtoToBytes(const TensorProto& p, int32_t dtype, int64_t num_elements,
                                      const ErrorContext& ctx) {
  const ErrorContext c = detail::AtProto(ctx, p);
  const detail::FixedDtype* d = detail::FindFixedDtype(dtype);
  if (d == nullptr) {
    throw ArgumentError(c, "TensorProtoToBytes: dtype " + std::to_string(dtype) +
                               (dtype == 7 ? " (DT_STRING) has no fixed size; use TensorProtoStrings"
                                           : " is not a fixed-size dtype this conversion knows"));
  }
  detail::CheckNumElements(num_elements, d->element_size, c);
  detail::CheckDtype(p, dtype, d->name, c);
  if (p.tensor_content.empty()) return detail::TypedFieldToBytes(p, *d, num_elements, c);
  const uint64_t expected = static_cast<uint64_t>(num_elements) * d->element_size;
  if (p.tensor_content.size() != expected) {
    throw FormatError(c, "tensor_content has " + std::to_string(p.tensor_content.size()) + " bytes, expected " +
                             std::to_string(expected) + " (" + std::to_string(num_elements) + " elements of " +
                             d->name + ")");
  }
  return p.tensor_content;
}

namespace detail {

// tensor_content of a string tensor (port::EncodeStringList): varint32 length of every
// element, then the element bytes back to back, nothing after. Errors point at the
// TensorProto and name the byte within tensor_content.
inline uint32_t ReadStringListLength(const std::string& content, size_t* pos, size_t element,
                                     const ErrorContext& ctx) {
  const size_t start = *pos;
  uint32_t value = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*pos >= content.size()) {
      throw FormatError(ctx, "tensor_content byte " + std::to_string(start) + ": truncated length of string " +
                                 std::to_string(element));
    }
    const uint8_t b = static_cast<uint8_t>(content[(*pos)++]);
    value |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return value;
  }
  throw FormatError(ctx, "tensor_content byte " + std::to_string(start) + ": length of string " +
                             std::to_string(element) + " is longer than 5 bytes");
}

inline std::vector<std::string> DecodeStringList(const std::string& content, int64_t n, const ErrorContext& ctx) {
  if (static_cast<uint64_t>(n) > content.size()) {  // each element needs a length byte
    throw FormatError(ctx, "tensor_content has " + std::to_string(content.size()) + " bytes, too few for " +
                               std::to_string(n) + " string lengths");
  }
  size_t pos = 0;
  std::vector<uint32_t> lengths(static_cast<size_t>(n));
  for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = ReadStringListLength(content, &pos, i, ctx);
  std::vector<std::string> out;
  out.reserve(lengths.size());
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] > content.size() - pos) {
      throw FormatError(ctx, "tensor_content byte " + std::to_string(pos) + ": string " + std::to_string(i) +
                                 " of " + std::to_string(lengths[i]) + " bytes runs past the end (" +
                                 std::to_string(content.size() - pos) + " left)");
    }
    out.push_back(content.substr(pos, lengths[i]));
    pos += lengths[i];
  }
  if (pos != content.size()) {
    throw FormatError(ctx, "tensor_content has " + std::to_string(content.size() - pos) + " bytes after " +
                               std::to_string(n) + " strings");
  }
  return out;
}

}  // namespace detail

// The elements of a DT_STRING TensorProto: tensor_content when not empty, else string_val
// under the same count rule as TensorProtoToBytes.
inline std::vector<std::string> TensorProtoStrings(const TensorProto& p, int64_t num_elements,
                                                   const ErrorContext& ctx) {
  const ErrorContext c = detail::AtProto(ctx, p);
  if (num_elements < 0) {
    throw ArgumentError(c, "cannot convert a TensorProto of " + std::to_string(num_elements) + " elements");
  }
  detail::CheckDtype(p, 7, "DT_STRING", c);
  if (!p.tensor_content.empty()) return detail::DecodeStringList(p.tensor_content, num_elements, c);
  if (detail::CheckCount(p.string_val.size(), 1, num_elements, "string_val", c)) {
    return std::vector<std::string>(static_cast<size_t>(num_elements), p.string_val[0]);
  }
  return p.string_val;
}

}  // namespace warmstart::proto
