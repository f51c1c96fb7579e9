// Applying a RestorePlan: the restored tensors copied into the trainer's own memory.
//
//   auto report = restore::ApplyPlan(plan, reader, [&](const restore::PlannedVariable& v)
//       -> std::optional<restore::Destination> {
//     torch::Tensor& t = params.at(v.name());          // e.g. a libtorch trainer
//     return restore::Destination{t.data_ptr(), DataType::kFloat, t.sizes().vec(), LayoutFor(v)};
//   });
//
// or, for trainers that want the bytes themselves, a sink that receives each restored
// tensor in the checkpoint's dtype, shape and row-major layout:
//
//   restore::ApplyPlan(plan, reader, [&](const PlannedVariable& v, const void* bytes,
//                                        DataType dtype, const Shape& shape) { ... });
//
// Only variables with Action::kRestore are applied, each from its plan.checkpoint_key.
//
// All or nothing. Pass 1 (validation) touches no destination: every restored variable
// gets its destination; dtypes, shapes and layouts are checked (all problems in one
// ArgumentError); then every payload is read and its crc32c checked (Verify::kYes), and
// partitioned tensors are assembled into staging buffers. Pass 2 (writing) only copies:
// it makes no reader call and allocates nothing, so a throw can only come from pass 1,
// before the first byte is written. The one window left: pass 2 reads the mapped data
// file again, so a file rewritten in place by another process after its tensors were
// verified (by this call, or by an earlier read through the same reader, which remembers
// verified entries) is copied unverified. Writers that publish by rename, as TF's and
// ours do, never rewrite a mapped file. The sink form delivers tensor by tensor, so a
// sink that throws leaves the earlier tensors delivered.
//
// Layouts (docs/restore-apply.md has the index formulas): TF stores conv kernels HWIO
// [kh, kw, in, out], depthwise kernels [kh, kw, in, multiplier] and dense kernels
// [in, out]; PyTorch wants OIHW, [in * multiplier, 1, kh, kw] and [out, in].
//
// Conversions (ClassifyConversion): exact (same dtype, any fixed-size dtype), lossless
// (every value of the source is a value of the destination: half/bfloat16 -> float, int16 ->
// int32, int32 -> double, ...), lossy (into a floating type that cannot hold every source
// value: float -> half, int32 -> float, double -> float; only with allow_lossy; rounding to
// nearest, overflow to infinity), refused (floating -> integer, integer narrowing, anything
// -> bool, complex <-> real, quantized / float8 / int4 across dtypes).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/bundle/dtype.hpp"
#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/tensor_data.hpp"
#include "warmstart/error.hpp"
#include "warmstart/restore/plan.hpp"
#include "warmstart/restore/variables.hpp"

namespace warmstart::restore {

// How a checkpoint tensor is laid out in the destination (row-major on both sides).
enum class Layout {
  kAsIs,               // same shape, same order
  kOihwFromHwio,       // conv kernel [kh, kw, in, out] -> [out, in, kh, kw]
  kDepthwiseFromHwio,  // depthwise kernel [kh, kw, in, mult] -> [in * mult, 1, kh, kw]
  kDenseTransposed,    // dense kernel [in, out] -> [out, in]
};

inline const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kAsIs: return "as-is";
    case Layout::kOihwFromHwio: return "OIHW-from-HWIO";
    case Layout::kDepthwiseFromHwio: return "depthwise-from-HWIO";
    case Layout::kDenseTransposed: return "dense-transposed";
  }
  return "as-is";
}

// A writable view of one trainer variable. The buffer holds NumElements(shape) elements
// of `dtype`, row-major, and must stay valid for the ApplyPlan call.
struct Destination {
  void* data = nullptr;
  DataType dtype = DataType::kFloat;
  Shape shape;  // the buffer's shape, i.e. after the layout
  Layout layout = Layout::kAsIs;
};

struct ApplyOptions {
  bool verify_crc = true;    // read every payload with Verify::kYes in pass 1
  bool allow_lossy = false;  // permit Conversion::kLossy (float -> half, int32 -> float, ...)
};

struct ApplyReport {
  size_t tensors = 0;   // variables written (or delivered to the sink)
  uint64_t bytes = 0;   // bytes written to destinations (or delivered)
  std::vector<std::string> converted;  // "name: DT_HALF -> DT_FLOAT", " (lossy)" appended when lossy
  std::vector<std::string> laid_out;   // "name: OIHW-from-HWIO"
};

using DestinationResolver = std::function<std::optional<Destination>(const PlannedVariable&)>;
using TensorSink =
    std::function<void(const PlannedVariable&, const void* bytes, DataType dtype, const Shape& shape)>;

enum class Conversion { kExact, kLossless, kLossy, kRefused };

namespace detail {

template <class T>
struct Tag {
  using type = T;
};

// The element types values are converted between (quantized, float8 and int4 dtypes are
// copied, never converted). Returns false for other dtypes.
template <class Fn>
bool VisitConvertible(DataType t, Fn&& fn) {
  switch (t) {
    case DataType::kFloat: fn(Tag<float>{}); return true;
    case DataType::kDouble: fn(Tag<double>{}); return true;
    case DataType::kHalf: fn(Tag<Eigen::half>{}); return true;
    case DataType::kBfloat16: fn(Tag<Eigen::bfloat16>{}); return true;
    case DataType::kInt8: fn(Tag<int8_t>{}); return true;
    case DataType::kInt16: fn(Tag<int16_t>{}); return true;
    case DataType::kInt32: fn(Tag<int32_t>{}); return true;
    case DataType::kInt64: fn(Tag<int64_t>{}); return true;
    case DataType::kUint8: fn(Tag<uint8_t>{}); return true;
    case DataType::kUint16: fn(Tag<uint16_t>{}); return true;
    case DataType::kUint32: fn(Tag<uint32_t>{}); return true;
    case DataType::kUint64: fn(Tag<uint64_t>{}); return true;
    case DataType::kBool: fn(Tag<bool>{}); return true;
    case DataType::kComplex64: fn(Tag<std::complex<float>>{}); return true;
    case DataType::kComplex128: fn(Tag<std::complex<double>>{}); return true;
    default: return false;
  }
}

template <class T>
constexpr bool kIsComplex = std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>;
template <class T>
constexpr bool kIsFloating = std::is_floating_point_v<T> || std::is_same_v<T, Eigen::half> ||
                             std::is_same_v<T, Eigen::bfloat16>;

// What decides exactness: numeric_limits (Eigen specializes it for half and bfloat16).
struct NumberTraits {
  bool complex = false, floating = false, is_signed = false;
  int digits = 0;  // significand bits (floating, implicit bit included) or value bits (integer)
  int max_exponent = 0, min_exponent = 0;
};

inline std::optional<NumberTraits> TraitsOf(DataType t) {
  std::optional<NumberTraits> out;
  VisitConvertible(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    NumberTraits n;
    if constexpr (kIsComplex<T>) {
      using R = typename T::value_type;
      n = {true, true, true, std::numeric_limits<R>::digits, std::numeric_limits<R>::max_exponent,
           std::numeric_limits<R>::min_exponent};
    } else {
      n = {false, kIsFloating<T>, std::numeric_limits<T>::is_signed, std::numeric_limits<T>::digits,
           std::numeric_limits<T>::max_exponent, std::numeric_limits<T>::min_exponent};
    }
    out = n;
  });
  return out;
}

// Every value of `from` is a value of `to` (both floating, or both complex).
inline bool FloatingFits(const NumberTraits& from, const NumberTraits& to) {
  return to.digits >= from.digits && to.max_exponent >= from.max_exponent && to.min_exponent <= from.min_exponent;
}

}  // namespace detail

// Whether values stored as `from` may be written to a buffer of `to`.
inline Conversion ClassifyConversion(DataType from, DataType to) {
  if (from == to) return bundle::IsFixedSize(from) ? Conversion::kExact : Conversion::kRefused;
  const std::optional<detail::NumberTraits> f = detail::TraitsOf(from), t = detail::TraitsOf(to);
  if (!f || !t || f->complex != t->complex || to == DataType::kBool) return Conversion::kRefused;
  if (f->complex) return detail::FloatingFits(*f, *t) ? Conversion::kLossless : Conversion::kLossy;
  if (t->floating) {
    const bool fits = f->floating ? detail::FloatingFits(*f, *t) : f->digits <= t->digits;
    return fits ? Conversion::kLossless : Conversion::kLossy;
  }
  // Integer destination: only widening from an integer (or bool) source.
  if (f->floating) return Conversion::kRefused;
  const bool fits = f->is_signed ? t->is_signed && t->digits >= f->digits : t->digits >= f->digits;
  return fits ? Conversion::kLossless : Conversion::kRefused;
}

inline const char* ConversionName(Conversion c) {
  switch (c) {
    case Conversion::kExact: return "exact";
    case Conversion::kLossless: return "lossless";
    case Conversion::kLossy: return "lossy";
    case Conversion::kRefused: return "refused";
  }
  return "refused";
}

// The shape a layout gives a checkpoint tensor, or nullopt when the layout does not apply
// to a tensor of that rank.
inline std::optional<Shape> LaidOutShape(Layout layout, const Shape& s) {
  switch (layout) {
    case Layout::kAsIs: return s;
    case Layout::kOihwFromHwio:
      if (s.size() != 4) return std::nullopt;
      return Shape{s[3], s[2], s[0], s[1]};
    case Layout::kDepthwiseFromHwio:
      if (s.size() != 4) return std::nullopt;
      return Shape{s[2] * s[3], 1, s[0], s[1]};
    case Layout::kDenseTransposed:
      if (s.size() != 2) return std::nullopt;
      return Shape{s[1], s[0]};
  }
  return std::nullopt;
}

namespace detail {

// ---- layouts as index maps ----

// Source elements are visited in row-major order; dst_stride[i] is how far the destination
// index moves when source axis i advances by one. Every layout is an axis permutation of
// the source: OIHW puts source axes (3, 2, 0, 1) first to last; depthwise is the
// permutation (2, 3, 0, 1) viewed as [in * mult, 1, kh, kw], because PyTorch's grouped
// convolution numbers output channel c * mult + m exactly as TF's depthwise output does.
struct IndexMap {
  static constexpr size_t kMaxRank = 4;
  bool identity = true;
  size_t rank = 0;
  std::array<int64_t, kMaxRank> dims{}, dst_stride{};
};

// Requires: LaidOutShape(layout, src) has a value.
inline IndexMap MakeIndexMap(Layout layout, const Shape& src) {
  IndexMap m;
  std::vector<size_t> order;  // destination axes as source axes
  switch (layout) {
    case Layout::kAsIs: return m;
    case Layout::kOihwFromHwio: order = {3, 2, 0, 1}; break;
    case Layout::kDepthwiseFromHwio: order = {2, 3, 0, 1}; break;
    case Layout::kDenseTransposed: order = {1, 0}; break;
  }
  m.identity = false;
  m.rank = src.size();
  int64_t stride = 1;
  for (size_t j = order.size(); j-- > 0;) {
    m.dst_stride[order[j]] = stride;
    stride *= src[order[j]];
  }
  for (size_t i = 0; i < m.rank; ++i) m.dims[i] = src[i];
  return m;
}

// fn(source index, destination index) for each of the n elements.
template <class Fn>
void ForEachElement(const IndexMap& m, int64_t n, Fn&& fn) {
  if (m.identity) {
    for (int64_t i = 0; i < n; ++i) fn(i, i);
    return;
  }
  if (n == 0) return;
  std::array<int64_t, IndexMap::kMaxRank> idx{};
  int64_t d = 0;
  for (int64_t s = 0; s < n; ++s) {
    fn(s, d);
    for (size_t i = m.rank; i-- > 0;) {  // odometer over the source axes
      if (++idx[i] < m.dims[i]) {
        d += m.dst_stride[i];
        break;
      }
      d -= m.dst_stride[i] * (m.dims[i] - 1);
      idx[i] = 0;
    }
  }
}

// ---- element conversion ----

// A double narrowed to float without the undefined behaviour of an out-of-range cast:
// IEEE rounding to nearest, overflowing to infinity from FLT_MAX + half an ulp on.
inline float NarrowToFloat(double x) {
  constexpr double kOverflow = 340282356779733661637539395458142568448.0;  // 2^128 - 2^103
  if (std::isfinite(x) && std::fabs(x) >= kOverflow) {
    return x > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(x);
}

// A real value as float on the way into half / bfloat16 (their conversions start from float).
template <class Src>
float AsFloat(Src v) {
  if constexpr (std::is_same_v<Src, double>) {
    return NarrowToFloat(v);
  } else {
    return static_cast<float>(v);
  }
}

// Requires: ClassifyConversion(Src, Dst) is kLossless or kLossy.
template <class Src, class Dst>
Dst ConvertElement(Src v) {
  if constexpr (kIsComplex<Src>) {
    using R = typename Dst::value_type;
    if constexpr (std::is_same_v<R, float>) {
      return Dst(NarrowToFloat(v.real()), NarrowToFloat(v.imag()));
    } else {
      return Dst(static_cast<R>(v.real()), static_cast<R>(v.imag()));
    }
  } else if constexpr (std::is_same_v<Src, Eigen::half> || std::is_same_v<Src, Eigen::bfloat16>) {
    return ConvertElement<float, Dst>(static_cast<float>(v));
  } else if constexpr (std::is_same_v<Dst, Eigen::half> || std::is_same_v<Dst, Eigen::bfloat16>) {
    return Dst(AsFloat(v));
  } else if constexpr (std::is_same_v<Dst, float>) {
    return AsFloat(v);
  } else {
    return static_cast<Dst>(v);
  }
}

// One stored element; `swap` reverses each `unit`-byte group (big-endian bundles).
template <class T>
T LoadElement(const uint8_t* p, bool swap, int unit) {
  uint8_t raw[sizeof(T)];
  std::memcpy(raw, p, sizeof(T));
  if (swap) bundle::SwapBytes(raw, sizeof(T), unit);
  if constexpr (std::is_same_v<T, bool>) {
    return raw[0] != 0;  // a byte other than 0 / 1 is not a valid bool object
  } else {
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
  }
}

// Pairs ClassifyConversion can accept; the others are never instantiated.
template <class Src, class Dst>
constexpr bool kConvertible = !std::is_same_v<Src, Dst> && !std::is_same_v<Dst, bool> &&
                              kIsComplex<Src> == kIsComplex<Dst> && !(kIsFloating<Src> && !kIsFloating<Dst>);

// ---- one variable ----

// A restored variable after validation: where its bytes are and where they go.
struct ApplyItem {
  const PlannedVariable* variable = nullptr;
  const bundle::Entry* entry = nullptr;
  Destination destination;          // resolver form only
  Conversion conversion = Conversion::kExact;
  IndexMap index_map;
  const uint8_t* source = nullptr;  // payload in the mapping, or the staging buffer
  std::shared_ptr<const void> staged;  // owns a partitioned tensor assembled in host order
  bool swap = false;                // source holds big-endian elements
};

template <class Src, class Dst>
void ConvertInto(const ApplyItem& item, int64_t n, uint8_t* dst) {
  static_assert(sizeof(bool) == 1, "DT_BOOL elements are one byte");
  const int unit = bundle::SwapUnit(item.entry->dtype);
  ForEachElement(item.index_map, n, [&](int64_t s, int64_t d) {
    const Dst out = ConvertElement<Src, Dst>(LoadElement<Src>(item.source + s * int64_t{sizeof(Src)}, item.swap, unit));
    std::memcpy(dst + d * int64_t{sizeof(Dst)}, &out, sizeof(Dst));
  });
}

// Pass 2 for one variable. Requires: item validated (conversion not kRefused).
inline void WriteItem(const ApplyItem& item) {
  const int64_t n = item.entry->shape.num_elements();
  auto* dst = static_cast<uint8_t*>(item.destination.data);
  const size_t elem = static_cast<size_t>(bundle::DataTypeSize(item.entry->dtype));
  if (n == 0) return;
  if (item.conversion == Conversion::kExact) {
    if (item.index_map.identity && !item.swap) {
      std::memcpy(dst, item.source, static_cast<size_t>(n) * elem);
      return;
    }
    const int unit = bundle::SwapUnit(item.entry->dtype);
    ForEachElement(item.index_map, n, [&](int64_t s, int64_t d) {
      uint8_t* out = dst + static_cast<size_t>(d) * elem;
      std::memcpy(out, item.source + static_cast<size_t>(s) * elem, elem);
      if (item.swap) bundle::SwapBytes(out, elem, unit);
    });
    return;
  }
  VisitConvertible(item.entry->dtype, [&](auto src_tag) {
    using Src = typename decltype(src_tag)::type;
    VisitConvertible(item.destination.dtype, [&](auto dst_tag) {
      using Dst = typename decltype(dst_tag)::type;
      if constexpr (kConvertible<Src, Dst>) ConvertInto<Src, Dst>(item, n, dst);
    });
  });
}

// ---- pass 1 ----

inline std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

inline std::string Describe(const PlannedVariable& v) {
  return "variable '" + v.name() + "'" + (v.checkpoint_key != v.name() ? " (key '" + v.checkpoint_key + "')" : "");
}

inline std::string DtypeShape(DataType t, const Shape& s) { return bundle::DataTypeName(t) + " " + ShapeList(s); }

// The checkpoint side of one restored variable: present, as the plan saw it, fixed-size.
// Returns "" or what is wrong.
inline std::string CheckSource(const PlannedVariable& v, const bundle::Entry* e) {
  if (e == nullptr) {
    return "the checkpoint has no tensor '" + v.checkpoint_key + "' (the plan was made for another checkpoint)";
  }
  if (e->dtype != v.checkpoint_dtype || e->shape.dims() != v.checkpoint_shape) {
    return "the plan says " + DtypeShape(v.checkpoint_dtype, v.checkpoint_shape) + ", the checkpoint has " +
           DtypeShape(e->dtype, e->shape.dims()) + " (the plan was made for another checkpoint)";
  }
  if (!bundle::IsFixedSize(e->dtype)) {
    return bundle::DataTypeName(e->dtype) + " tensors have no fixed-size elements to copy into a buffer";
  }
  return "";
}

// The destination side: data, dtype, layout, shape and conversion. Returns "" or what is wrong.
inline std::string CheckDestination(const bundle::Entry& e, const Destination& d, const ApplyOptions& options,
                                    ApplyItem* item) {
  const Shape& src = e.shape.dims();
  if (!bundle::IsFixedSize(d.dtype)) {
    return "destination dtype " + bundle::DataTypeName(d.dtype) + " is not a fixed-size element type";
  }
  const std::optional<Shape> want = LaidOutShape(d.layout, src);
  if (!want) {
    return std::string("layout ") + LayoutName(d.layout) + " needs a rank-" +
           (d.layout == Layout::kDenseTransposed ? "2 [in, out]" : "4 [kh, kw, in, out]") +
           " kernel, the checkpoint has " + ShapeList(src);
  }
  if (d.shape != *want) {
    return "destination shape " + ShapeList(d.shape) + " is not the checkpoint's " + ShapeList(src) + " laid out " +
           LayoutName(d.layout) + " (" + ShapeList(*want) + ")";
  }
  if (d.data == nullptr && e.shape.num_elements() > 0) return "destination data is null";
  item->conversion = ClassifyConversion(e.dtype, d.dtype);
  const std::string conv = bundle::DataTypeName(e.dtype) + " -> " + bundle::DataTypeName(d.dtype);
  if (item->conversion == Conversion::kRefused) return conv + " is not a conversion warmstart performs";
  if (item->conversion == Conversion::kLossy && !options.allow_lossy) {
    return conv + " loses precision or range; set ApplyOptions::allow_lossy to accept it";
  }
  item->destination = d;
  item->index_map = MakeIndexMap(d.layout, src);
  return "";
}

[[noreturn]] inline void ThrowProblems(const std::string& index_path, const std::vector<std::string>& missing,
                                       const std::vector<std::string>& problems) {
  std::vector<std::string> parts;
  if (!missing.empty()) {
    parts.push_back("the trainer has no destination for " + std::to_string(missing.size()) + " restored variable" +
                    (missing.size() == 1 ? "" : "s") + ": " + Join(missing, ", "));
  }
  parts.insert(parts.end(), problems.begin(), problems.end());
  throw ArgumentError(ErrorContext(index_path), "cannot apply the restore plan, nothing was written: " + Join(parts, "; "));
}

// A partitioned tensor assembled by the reader (which checks coverage and, with
// Verify::kYes, every slice's crc), in host byte order.
template <class Fs>
std::shared_ptr<const void> ReadAssembled(const bundle::BundleReader<Fs>& reader, const bundle::Entry& e,
                                          bundle::Verify verify, const uint8_t** data) {
  const auto keep = [&](auto tag) -> std::shared_ptr<const void> {
    using T = typename decltype(tag)::type;
    auto v = std::make_shared<std::vector<T>>(reader.template Read<T>(e.name, verify));
    *data = reinterpret_cast<const uint8_t*>(v->data());
    return v;
  };
  using DT = DataType;
  switch (e.dtype) {
    case DT::kFloat: return keep(Tag<float>{});
    case DT::kDouble: return keep(Tag<double>{});
    case DT::kHalf: return keep(Tag<Eigen::half>{});
    case DT::kBfloat16: return keep(Tag<Eigen::bfloat16>{});
    case DT::kComplex64: return keep(Tag<std::complex<float>>{});
    case DT::kComplex128: return keep(Tag<std::complex<double>>{});
    case DT::kInt64: return keep(Tag<int64_t>{});
    case DT::kUint64: return keep(Tag<uint64_t>{});
    case DT::kInt32: case DT::kQint32: return keep(Tag<int32_t>{});
    case DT::kUint32: return keep(Tag<uint32_t>{});
    case DT::kInt16: case DT::kQint16: return keep(Tag<int16_t>{});
    case DT::kUint16: case DT::kQuint16: return keep(Tag<uint16_t>{});
    case DT::kInt8: case DT::kQint8: case DT::kInt4: case DT::kInt2: return keep(Tag<int8_t>{});
    case DT::kBool: {
      const std::vector<bool> bits = reader.template Read<bool>(e.name, verify);
      auto bytes = std::make_shared<std::vector<uint8_t>>(bits.begin(), bits.end());
      *data = bytes->data();
      return bytes;
    }
    default: return keep(Tag<uint8_t>{});  // uint8, quint8, float8, uint4, uint2, float4: one byte each
  }
}

// Reads (and verifies) every source; throws the reader's error, with its file and key.
template <class Fs>
void ReadSources(const bundle::BundleReader<Fs>& reader, const ApplyOptions& options, std::vector<ApplyItem>* items) {
  const bundle::Verify verify = options.verify_crc ? bundle::Verify::kYes : bundle::Verify::kNo;
  for (ApplyItem& item : *items) {
    if (item.entry->partitioned()) {
      item.staged = ReadAssembled(reader, *item.entry, verify, &item.source);
    } else {
      item.source = reader.RawBytes(*item.entry, verify).data();
      item.swap = reader.endianness() == bundle::Endianness::kBig;
    }
  }
}

// Pass 1. `resolve` is null for the sink form (no destinations, no conversion).
template <class Fs>
std::vector<ApplyItem> Validate(const RestorePlan& plan, const bundle::BundleReader<Fs>& reader,
                                const DestinationResolver* resolve, const ApplyOptions& options) {
  if (!plan.ok()) {
    throw ArgumentError(ErrorContext(reader.index_path()),
                        "the restore plan failed, so it cannot be applied: " + plan.error);
  }
  std::vector<ApplyItem> items;
  std::vector<std::string> missing, problems;
  for (const PlannedVariable& v : plan.variables) {
    if (v.action != Action::kRestore) continue;
    ApplyItem item;
    item.variable = &v;
    item.entry = reader.Find(v.checkpoint_key);
    std::string why = CheckSource(v, item.entry);
    if (why.empty() && resolve != nullptr) {
      const std::optional<Destination> d = (*resolve)(v);
      if (!d) {
        missing.push_back("'" + v.name() + "'");
        continue;
      }
      why = CheckDestination(*item.entry, *d, options, &item);
    }
    if (!why.empty()) {
      problems.push_back(Describe(v) + ": " + why);
      continue;
    }
    items.push_back(std::move(item));
  }
  if (!missing.empty() || !problems.empty()) ThrowProblems(reader.index_path(), missing, problems);
  ReadSources(reader, options, &items);
  return items;
}

inline void Record(const ApplyItem& item, DataType written, uint64_t bytes, ApplyReport* report) {
  ++report->tensors;
  report->bytes += bytes;
  const std::string& name = item.variable->name();
  if (written != item.entry->dtype) {
    report->converted.push_back(name + ": " + bundle::DataTypeName(item.entry->dtype) + " -> " +
                                bundle::DataTypeName(written) +
                                (item.conversion == Conversion::kLossy ? " (lossy)" : ""));
  }
  if (item.destination.layout != Layout::kAsIs) {
    report->laid_out.push_back(name + ": " + LayoutName(item.destination.layout));
  }
}

}  // namespace detail

// Copies every restored tensor of `plan` into the destination `resolve` gives for it,
// converting the dtype and applying the layout. All or nothing (see the top of the file):
// throws ArgumentError for a plan that is not ok(), missing destinations, shapes, layouts and
// conversions that do not fit (all listed in one message); FormatError / NotFoundError from
// the reader for a corrupt or missing payload. Nothing is written when it throws.
template <class Fs>
ApplyReport ApplyPlan(const RestorePlan& plan, const bundle::BundleReader<Fs>& reader, const DestinationResolver& resolve,
                      const ApplyOptions& options = {}) {
  if (!resolve) throw ArgumentError("ApplyPlan: the destination resolver is empty");
  const std::vector<detail::ApplyItem> items = detail::Validate(plan, reader, &resolve, options);
  // Pass 2: copies only.
  ApplyReport report;
  for (const detail::ApplyItem& item : items) {
    detail::WriteItem(item);
    const uint64_t n = static_cast<uint64_t>(item.entry->shape.num_elements());
    detail::Record(item, item.destination.dtype, n * static_cast<uint64_t>(bundle::DataTypeSize(item.destination.dtype)),
                   &report);
  }
  return report;
}

// Hands every restored tensor to `sink` after all of them are validated and verified: the
// checkpoint's dtype and shape, row-major, host byte order, aligned for the element type.
// The bytes are valid only during the call (mapped file, staging or scratch buffer).
template <class Fs>
ApplyReport ApplyPlan(const RestorePlan& plan, const bundle::BundleReader<Fs>& reader, const TensorSink& sink,
                      const ApplyOptions& options = {}) {
  if (!sink) throw ArgumentError("ApplyPlan: the tensor sink is empty");
  const std::vector<detail::ApplyItem> items = detail::Validate(plan, reader, nullptr, options);
  // Big-endian or unaligned payloads go through one scratch buffer, sized here so that
  // delivering allocates nothing. uint64_t elements: 8-byte alignment, the largest unit.
  size_t scratch_bytes = 0;
  const auto needs_scratch = [](const detail::ApplyItem& item) {
    const auto unit = static_cast<uintptr_t>(bundle::SwapUnit(item.entry->dtype));
    return item.swap || reinterpret_cast<uintptr_t>(item.source) % unit != 0;
  };
  for (const detail::ApplyItem& item : items) {
    if (needs_scratch(item)) scratch_bytes = std::max(scratch_bytes, static_cast<size_t>(item.entry->size));
  }
  std::vector<uint64_t> scratch((scratch_bytes + 7) / 8);
  ApplyReport report;
  for (const detail::ApplyItem& item : items) {
    const size_t size = static_cast<size_t>(item.entry->shape.num_elements()) *
                        static_cast<size_t>(bundle::DataTypeSize(item.entry->dtype));
    const void* bytes = item.source;
    if (size > 0 && needs_scratch(item)) {
      auto* out = reinterpret_cast<uint8_t*>(scratch.data());
      std::memcpy(out, item.source, size);
      if (item.swap) bundle::SwapBytes(out, size, bundle::SwapUnit(item.entry->dtype));
      bytes = out;
    }
    sink(*item.variable, bytes, item.entry->dtype, item.entry->shape.dims());
    detail::Record(item, item.entry->dtype, size, &report);
  }
  return report;
}

}  // namespace warmstart::restore
