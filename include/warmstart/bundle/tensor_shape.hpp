// Shapes and slices of tensors, as TensorFlow defines them.
//
// TensorShape: dimensions outermost first, data row-major (C order). Valid when
// rank <= 254, every size >= 0 and the element count fits in int64
// (tensorflow/core/framework/tensor_shape.cc, TensorShape::IsValid).
//
// TensorSlice: one extent per dimension, either the whole dimension ("-") or
// [start, start + length) ("start,length"); text form joins dimensions with ':',
// e.g. "0,2:-" (tensorflow/core/framework/tensor_slice.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/proto/bundle.hpp"

namespace warmstart::bundle {

inline constexpr int kMaxRank = 254;

class TensorShape {
 public:
  TensorShape() = default;
  TensorShape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit TensorShape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t dim(int i) const { return dims_[static_cast<size_t>(i)]; }
  const std::vector<int64_t>& dims() const { return dims_; }

  // Requires: IsValid().
  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : dims_) n *= d;
    return n;
  }

  // Returns an empty string when valid, else why not.
  std::string Validate() const {
    if (dims_.size() > static_cast<size_t>(kMaxRank)) {
      return "shape has " + std::to_string(dims_.size()) + " dimensions, at most 254 are allowed";
    }
    int64_t n = 1;
    for (int64_t d : dims_) {
      if (d < 0) return "shape " + DebugString() + " has a negative dimension";
      if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
        return "shape " + DebugString() + " has more elements than fit in int64";
      }
      n *= d;
    }
    return {};
  }
  bool IsValid() const { return Validate().empty(); }

  std::string DebugString() const {
    std::string s = "[";
    for (size_t i = 0; i < dims_.size(); ++i) {
      if (i) s += ",";
      s += std::to_string(dims_[i]);
    }
    return s + "]";
  }

  bool operator==(const TensorShape& o) const { return dims_ == o.dims_; }
  bool operator!=(const TensorShape& o) const { return dims_ != o.dims_; }

  proto::ShapeProto ToProto() const { return proto::ShapeProto{dims_, false}; }

 private:
  std::vector<int64_t> dims_;
};

class TensorSlice {
 public:
  struct Extent {
    int64_t start = 0;
    int64_t length = kFullLength;  // kFullLength: the whole dimension
    bool full() const { return length == kFullLength; }
    bool operator==(const Extent& o) const { return start == o.start && length == o.length; }
  };
  static constexpr int64_t kFullLength = -1;

  TensorSlice() = default;
  explicit TensorSlice(std::vector<Extent> extents) : extents_(std::move(extents)) {}

  // The slice covering every element of a rank-`rank` tensor.
  static TensorSlice Full(int rank) { return TensorSlice(std::vector<Extent>(static_cast<size_t>(rank))); }

  // Parses TF's text form "0,2:-" ("" is rank 0). Throws ArgumentError.
  static TensorSlice Parse(const std::string& text) {
    std::vector<Extent> extents;
    if (text.empty()) return TensorSlice(extents);
    size_t pos = 0;
    while (true) {
      const size_t colon = text.find(':', pos);
      const std::string part = text.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      extents.push_back(ParseExtent(part, text));
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
    return TensorSlice(std::move(extents));
  }

  int rank() const { return static_cast<int>(extents_.size()); }
  const std::vector<Extent>& extents() const { return extents_; }
  const Extent& extent(int i) const { return extents_[static_cast<size_t>(i)]; }

  int64_t start(int i) const { return extent(i).full() ? 0 : extent(i).start; }
  // Length of dimension i within `shape`.
  int64_t length(int i, const TensorShape& shape) const {
    return extent(i).full() ? shape.dim(i) : extent(i).length;
  }

  // Empty when the slice fits `shape`, else why not.
  std::string ValidateFor(const TensorShape& shape) const {
    if (rank() != shape.rank()) {
      return "slice " + DebugString() + " has rank " + std::to_string(rank()) + " but the tensor " +
             shape.DebugString() + " has rank " + std::to_string(shape.rank());
    }
    for (int i = 0; i < rank(); ++i) {
      const Extent& e = extent(i);
      if (e.full()) continue;
      if (e.start < 0 || e.length < 0 || e.start > shape.dim(i) || e.length > shape.dim(i) - e.start) {
        return "extent in dimension " + std::to_string(i) + " of slice " + DebugString() +
               " is out of bounds for shape " + shape.DebugString();
      }
    }
    return {};
  }

  // The shape of the sub-block. Requires: ValidateFor(full).empty().
  TensorShape SliceShape(const TensorShape& full) const {
    std::vector<int64_t> dims(static_cast<size_t>(rank()));
    for (int i = 0; i < rank(); ++i) dims[static_cast<size_t>(i)] = length(i, full);
    return TensorShape(std::move(dims));
  }

  // True when the slice covers all of `full`.
  bool IsFullFor(const TensorShape& full) const {
    for (int i = 0; i < rank(); ++i) {
      if (start(i) != 0 || length(i, full) != full.dim(i)) return false;
    }
    return true;
  }

  // The overlap of two slices of the same tensor, or nullopt if they are disjoint.
  std::optional<TensorSlice> Intersect(const TensorSlice& o, const TensorShape& full) const {
    std::vector<Extent> out(static_cast<size_t>(rank()));
    for (int i = 0; i < rank(); ++i) {
      const int64_t lo = std::max(start(i), o.start(i));
      const int64_t hi = std::min(start(i) + length(i, full), o.start(i) + o.length(i, full));
      if (hi <= lo) return std::nullopt;
      out[static_cast<size_t>(i)] = Extent{lo, hi - lo};
    }
    return TensorSlice(std::move(out));
  }

  std::string DebugString() const {
    std::string s;
    for (int i = 0; i < rank(); ++i) {
      if (i) s += ":";
      const Extent& e = extent(i);
      s += e.full() ? "-" : std::to_string(e.start) + "," + std::to_string(e.length);
    }
    return s;
  }

  bool operator==(const TensorSlice& o) const { return extents_ == o.extents_; }
  bool operator!=(const TensorSlice& o) const { return !(*this == o); }

  // TF's AsProto: an empty Extent for a full dimension, else start (omitted when 0) + length.
  proto::SliceProto ToProto() const {
    proto::SliceProto p;
    for (const Extent& e : extents_) {
      proto::ExtentProto x;
      if (!e.full()) {
        x.start = e.start;
        x.length = e.length;
      }
      p.extents.push_back(x);
    }
    return p;
  }
  static TensorSlice FromProto(const proto::SliceProto& p) {
    std::vector<Extent> extents;
    for (const proto::ExtentProto& x : p.extents) {
      extents.push_back(x.length ? Extent{x.start, *x.length} : Extent{});
    }
    return TensorSlice(std::move(extents));
  }

 private:
  static Extent ParseExtent(const std::string& part, const std::string& text) {
    if (part == "-") return Extent{};
    const size_t comma = part.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      size_t used_a = 0, used_b = 0;
      const std::string a = part.substr(0, comma), b = part.substr(comma + 1);
      Extent e{std::stoll(a, &used_a), std::stoll(b, &used_b)};
      if (used_a != a.size() || used_b != b.size() || e.start < 0 || e.length < 0) {
        throw std::invalid_argument("junk");
      }
      return e;
    } catch (const std::exception&) {
      throw ArgumentError("bad tensor slice '" + text + "': extent '" + part +
                          "' is neither '-' nor 'start,length' with non-negative integers");
    }
  }

  std::vector<Extent> extents_;
};

}  // namespace warmstart::bundle
