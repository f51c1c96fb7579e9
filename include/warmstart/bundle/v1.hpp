// The V1 checkpoint format (TF1 Saver write_version=V1; tensorflow/core/util/
// tensor_slice_writer.cc, tensor_slice_reader.cc, saved_tensor_slice.proto): one sstable.
//
//   key ""                          SavedTensorSlices { meta: one SavedSliceMeta per tensor
//                                                       (name, shape, type, its slices) }
//   key EncodeTensorNameSlice(n, s) SavedTensorSlices { data: SavedSlice { name, slice,
//                                                       data: TensorProto (typed *_val fields) } }
//
// OpenV1 converts the file at open into the entries a V2 bundle would have (plain
// entries for tensors stored as one full slice; a partitioned entry plus slice entries
// otherwise), over one in-memory shard holding the V2 payload bytes, with checksums we
// compute. The rest of BundleReader then works unchanged. V1 files are small and old;
// the conversion is bounded to guard against hostile element counts.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/bundle/reader.hpp"
#include "warmstart/proto/saved_slices.hpp"

namespace warmstart::bundle {

namespace detail {

struct V1Tensor {
  DataType dtype = DataType::kInvalid;
  TensorShape shape;
  std::vector<TensorSlice> slices;
  std::set<std::string> slice_keys;  // EncodeTensorNameSlice of each listed slice
  uint64_t meta_offset = 0;
};

inline std::map<std::string, V1Tensor> ReadV1Meta(core::ByteView value, uint64_t offset, const ErrorContext& ctx) {
  proto::SavedTensorSlices sts;
  try {
    sts = proto::DecodeSavedTensorSlices(value, ctx, offset);
  } catch (const FormatError& e) {
    throw FormatError(e.context(), e.reason() + " (not a V1 checkpoint; a V2 bundle is opened by its prefix or "
                                                ".index file)");
  }
  if (!sts.meta) {
    throw FormatError(ctx.WithKey("").WithOffset(offset),
                      "not a V1 checkpoint: the first entry holds no SavedTensorSliceMeta");
  }
  std::map<std::string, V1Tensor> tensors;
  for (const proto::SavedSliceMeta& m : sts.meta->tensor) {
    V1Tensor t;
    t.dtype = static_cast<DataType>(m.type);
    t.shape = TensorShape(m.shape.dims);
    t.meta_offset = offset;
    const ErrorContext at = ctx.WithKey(m.name).WithOffset(offset);
    std::string why = t.shape.Validate();
    if (!why.empty()) throw FormatError(at, why);
    if (!IsFixedSize(t.dtype) && t.dtype != DataType::kString) {
      throw FormatError(at, "V1 tensor has dtype " + DataTypeName(t.dtype) + ", which warmstart cannot read");
    }
    for (const proto::SliceProto& sp : m.slice) {
      t.slices.push_back(TensorSlice::FromProto(sp));
      why = t.slices.back().ValidateFor(t.shape);
      if (!why.empty()) throw FormatError(at, why);
      t.slice_keys.insert(EncodeTensorNameSlice(m.name, t.slices.back()));
    }
    if (!tensors.emplace(m.name, std::move(t)).second) throw FormatError(at, "tensor listed twice in the V1 meta");
  }
  return tensors;
}

// Appends one slice's values as V2 payload bytes to *data; returns its entry.
inline Entry ConvertV1Slice(const std::string& name, const V1Tensor& t, const TensorSlice& slice,
                            const proto::TensorProto& values, uint64_t offset, const ErrorContext& ctx,
                            uint64_t budget, std::string* data) {
  Entry e;
  e.dtype = t.dtype;
  e.shape = slice.SliceShape(t.shape);
  e.index_offset = offset;
  e.offset = static_cast<int64_t>(data->size());
  const int64_t n = e.shape.num_elements();
  const ErrorContext at = ctx.WithKey(name).WithOffset(offset);
  uint32_t crc;
  if (t.dtype == DataType::kString) {
    // Charge the expansion before building anything: one string_val may stand for n copies.
    uint64_t bytes = values.tensor_content.size();
    if (values.tensor_content.empty()) {
      for (const std::string& v : values.string_val) bytes += 1 + v.size();
      if (values.string_val.size() == 1) bytes = static_cast<uint64_t>(n) * (1 + values.string_val[0].size());
    }
    if (bytes > budget) {
      throw FormatError(at, "V1 string tensor " + t.shape.DebugString() + " would expand to " + std::to_string(bytes) +
                                " bytes, more than this file can plausibly hold");
    }
    const std::vector<std::string> strings = proto::TensorProtoStrings(values, n, at);
    std::vector<std::string_view> views(strings.begin(), strings.end());
    crc = EncodeStringTensor(views, data);
  } else {
    const uint64_t bytes = static_cast<uint64_t>(n) * static_cast<uint64_t>(DataTypeSize(t.dtype));
    if (bytes > budget) {
      throw FormatError(at, "V1 tensor " + t.shape.DebugString() + " would expand to " + std::to_string(bytes) +
                                " bytes, more than this " + "file can plausibly hold");
    }
    const std::string raw = proto::TensorProtoToBytes(values, static_cast<int32_t>(t.dtype), n, at);
    data->append(raw);
    crc = core::crc32c::Mask(core::crc32c::Value(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  }
  e.size = static_cast<int64_t>(data->size()) - e.offset;
  e.masked_crc32c = crc;
  return e;
}

}  // namespace detail

// Opens a single-file V1 checkpoint.
template <class Fs>
BundleReader<Fs> OpenV1(const std::string& path, Fs fs = Fs()) {
  auto table = sstable::Table<typename Fs::File>::Open(fs.Open(path));
  const ErrorContext& ctx = table.context();
  const uint64_t budget = std::max<uint64_t>(256ull << 20, 64 * table.file().bytes().size());
  std::map<std::string, detail::V1Tensor> tensors;
  std::vector<Entry> entries;
  std::map<std::string, size_t> slices_seen;  // tensor name -> data entries found (each a listed slice)
  std::string data;
  bool first = true;
  table.ForEach([&](const std::string& key, core::ByteView value, uint64_t offset) {
    if (first) {
      if (!key.empty()) throw FormatError(ctx.WithKey(key).WithOffset(offset), "not a V1 checkpoint: no meta entry");
      tensors = detail::ReadV1Meta(value, offset, ctx);
      first = false;
      return;
    }
    const auto decoded = DecodeTensorNameSlice(key);
    if (!decoded) throw FormatError(ctx.WithKey(key).WithOffset(offset), "V1 key is not a tensor slice key");
    const auto& [name, slice] = *decoded;
    auto it = tensors.find(name);
    if (it == tensors.end()) throw FormatError(ctx.WithKey(name).WithOffset(offset), "V1 data for a tensor the meta does not list");
    const proto::SavedTensorSlices sts = proto::DecodeSavedTensorSlices(value, ctx.WithKey(name), offset);
    if (!sts.data) throw FormatError(ctx.WithKey(name).WithOffset(offset), "V1 data entry holds no SavedSlice");
    const detail::V1Tensor& t = it->second;
    if (t.slice_keys.count(EncodeTensorNameSlice(name, slice)) == 0) {
      throw FormatError(ctx.WithKey(name).WithOffset(offset),
                        "V1 data for slice " + slice.DebugString() + ", which the meta does not list for this tensor");
    }
    Entry e = detail::ConvertV1Slice(name, t, slice, sts.data->data, offset, ctx, budget - std::min(budget, data.size()), &data);
    const bool plain = t.slices.size() == 1 && t.slices[0].IsFullFor(t.shape) && slice.IsFullFor(t.shape);
    e.name = plain ? name : key;
    entries.push_back(std::move(e));
    ++slices_seen[name];
  });
  if (first) throw FormatError(ctx, "not a V1 checkpoint: the table is empty");
  for (const auto& [name, t] : tensors) {
    if (slices_seen[name] != t.slices.size()) {  // data keys are unique and each is a listed slice
      throw FormatError(ctx.WithKey(name).WithOffset(t.meta_offset),
                        "V1 tensor has data for " + std::to_string(slices_seen[name]) + " of the " +
                            std::to_string(t.slices.size()) + " slices its meta lists");
    }
    const bool plain = t.slices.size() == 1 && t.slices[0].IsFullFor(t.shape);
    if (plain) continue;
    Entry full;
    full.name = name;
    full.dtype = t.dtype;
    full.shape = t.shape;
    full.slices = t.slices;
    full.index_offset = t.meta_offset;
    entries.push_back(std::move(full));
  }
  return BundleReader<Fs>::FromMemory(path, Format::kV1, std::move(entries), std::move(data), std::move(fs));
}

}  // namespace warmstart::bundle
