// TensorFlow's DataType enum (tensorflow/core/framework/types.proto) and what a
// bundle stores per element (DataTypeSize in types.cc).
//
//   enum  name                 bytes   C++ type used here
//   1     DT_FLOAT             4       float
//   2     DT_DOUBLE            8       double
//   3     DT_INT32             4       int32_t
//   4     DT_UINT8             1       uint8_t
//   5     DT_INT16             2       int16_t
//   6     DT_INT8              1       int8_t
//   7     DT_STRING            var     std::string (length varints + checksum, see tensor_data.hpp)
//   8     DT_COMPLEX64         8       std::complex<float>
//   9     DT_INT64             8       int64_t
//   10    DT_BOOL              1       bool (0x00 / 0x01)
//   11-13 DT_QINT8/QUINT8/QINT32  1/1/4  int8_t / uint8_t / int32_t
//   14    DT_BFLOAT16          2       Eigen::bfloat16
//   15-17 DT_QINT16/QUINT16/UINT16 2   int16_t / uint16_t / uint16_t
//   18    DT_COMPLEX128        16      std::complex<double>
//   19    DT_HALF              2       Eigen::half
//   20    DT_RESOURCE          -       not storable
//   21    DT_VARIANT           var     not readable here (listed, refused on read)
//   22    DT_UINT32            4       uint32_t
//   23    DT_UINT64            8       uint64_t
//   24-28 float8 variants      1       raw uint8_t bits (27 provisional)
//   29-32 DT_INT4/UINT4/INT2/UINT2  1  one element per byte (31, 32 provisional)
//   33    DT_FLOAT4_E2M1FN     1       provisional
// Values 101..132 are reference types that never appear in bundles.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <type_traits>

#include <Eigen/Core>

namespace warmstart::bundle {

enum class DataType : int32_t {
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kComplex64 = 8,
  kInt64 = 9,
  kBool = 10,
  kQint8 = 11,
  kQuint8 = 12,
  kQint32 = 13,
  kBfloat16 = 14,
  kQint16 = 15,
  kQuint16 = 16,
  kUint16 = 17,
  kComplex128 = 18,
  kHalf = 19,
  kResource = 20,
  kVariant = 21,
  kUint32 = 22,
  kUint64 = 23,
  kFloat8E5m2 = 24,
  kFloat8E4m3fn = 25,
  kFloat8E4m3fnuz = 26,
  kFloat8E4m3b11fnuz = 27,
  kFloat8E5m2fnuz = 28,
  kInt4 = 29,
  kUint4 = 30,
  kInt2 = 31,
  kUint2 = 32,
  kFloat4E2m1fn = 33,
};

inline constexpr int32_t kMaxKnownDataType = 33;

namespace detail {
struct DataTypeInfo {
  const char* name;
  int size;  // bytes per element; 0 = variable length or not storable
};
inline const DataTypeInfo& Info(DataType t) {
  static const DataTypeInfo kInfo[] = {
      {"DT_INVALID", 0},      {"DT_FLOAT", 4},         {"DT_DOUBLE", 8},
      {"DT_INT32", 4},        {"DT_UINT8", 1},         {"DT_INT16", 2},
      {"DT_INT8", 1},         {"DT_STRING", 0},        {"DT_COMPLEX64", 8},
      {"DT_INT64", 8},        {"DT_BOOL", 1},          {"DT_QINT8", 1},
      {"DT_QUINT8", 1},       {"DT_QINT32", 4},        {"DT_BFLOAT16", 2},
      {"DT_QINT16", 2},       {"DT_QUINT16", 2},       {"DT_UINT16", 2},
      {"DT_COMPLEX128", 16},  {"DT_HALF", 2},          {"DT_RESOURCE", 0},
      {"DT_VARIANT", 0},      {"DT_UINT32", 4},        {"DT_UINT64", 8},
      {"DT_FLOAT8_E5M2", 1},  {"DT_FLOAT8_E4M3FN", 1}, {"DT_FLOAT8_E4M3FNUZ", 1},
      {"DT_FLOAT8_E4M3B11FNUZ", 1}, {"DT_FLOAT8_E5M2FNUZ", 1}, {"DT_INT4", 1},
      {"DT_UINT4", 1},        {"DT_INT2", 1},          {"DT_UINT2", 1},
      {"DT_FLOAT4_E2M1FN", 1},
  };
  static const DataTypeInfo kUnknown{"DT_UNKNOWN", 0};
  const auto i = static_cast<int32_t>(t);
  return i >= 0 && i <= kMaxKnownDataType ? kInfo[i] : kUnknown;
}
}  // namespace detail

inline bool IsKnown(DataType t) {
  const auto i = static_cast<int32_t>(t);
  return i >= 1 && i <= kMaxKnownDataType;
}

// TF's enum name ("DT_FLOAT"); "DT_UNKNOWN(<n>)" for values we don't know.
inline std::string DataTypeName(DataType t) {
  if (IsKnown(t) || t == DataType::kInvalid) return detail::Info(t).name;
  return "DT_UNKNOWN(" + std::to_string(static_cast<int32_t>(t)) + ")";
}

// Bytes per element, 0 for string, variant, resource and unknown types.
inline int DataTypeSize(DataType t) { return detail::Info(t).size; }

inline bool IsFixedSize(DataType t) { return IsKnown(t) && DataTypeSize(t) > 0; }

// Can a bundle entry hold this type at all (listing)?
inline bool IsStorable(DataType t) { return IsKnown(t) && t != DataType::kResource; }

// Element types whose bytes we swap element-wise (complex: per component).
inline int SwapUnit(DataType t) {
  if (t == DataType::kComplex64) return 4;
  if (t == DataType::kComplex128) return 8;
  return DataTypeSize(t);
}

// ---- C++ element types <-> DataType ----

template <class T>
struct DataTypeOf;  // undefined: not a tensor element type
#define WARMSTART_DTYPE(T, E) \
  template <>                 \
  struct DataTypeOf<T> {      \
    static constexpr DataType value = DataType::E; \
  }
WARMSTART_DTYPE(float, kFloat);
WARMSTART_DTYPE(double, kDouble);
WARMSTART_DTYPE(int32_t, kInt32);
WARMSTART_DTYPE(uint8_t, kUint8);
WARMSTART_DTYPE(int16_t, kInt16);
WARMSTART_DTYPE(int8_t, kInt8);
WARMSTART_DTYPE(std::complex<float>, kComplex64);
WARMSTART_DTYPE(int64_t, kInt64);
WARMSTART_DTYPE(bool, kBool);
WARMSTART_DTYPE(Eigen::bfloat16, kBfloat16);
WARMSTART_DTYPE(uint16_t, kUint16);
WARMSTART_DTYPE(std::complex<double>, kComplex128);
WARMSTART_DTYPE(Eigen::half, kHalf);
WARMSTART_DTYPE(uint32_t, kUint32);
WARMSTART_DTYPE(uint64_t, kUint64);
#undef WARMSTART_DTYPE

// True when a tensor stored as `stored` may be read as T without conversion:
// the exact type, or a quantized / float8 / int4 type read through its storage type.
template <class T>
bool StorageCompatible(DataType stored) {
  if (stored == DataTypeOf<T>::value) return true;
  switch (stored) {
    case DataType::kQint8: case DataType::kInt4: case DataType::kInt2:
      return std::is_same_v<T, int8_t>;
    case DataType::kQuint8: case DataType::kUint4: case DataType::kUint2:
    case DataType::kFloat8E5m2: case DataType::kFloat8E4m3fn: case DataType::kFloat8E4m3fnuz:
    case DataType::kFloat8E4m3b11fnuz: case DataType::kFloat8E5m2fnuz: case DataType::kFloat4E2m1fn:
      return std::is_same_v<T, uint8_t>;
    case DataType::kQint32: return std::is_same_v<T, int32_t>;
    case DataType::kQint16: return std::is_same_v<T, int16_t>;
    case DataType::kQuint16: return std::is_same_v<T, uint16_t>;
    default: return false;
  }
}

}  // namespace warmstart::bundle
