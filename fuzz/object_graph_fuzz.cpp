// Fuzz target: the TF2 object graph (proto/trackable.hpp TrackableObjectGraph decoding,
// bundle/object_graph.hpp ObjectGraph: reference checks, breadth-first object paths,
// slot-variable paths, Describe).
//
// Input: a serialized TrackableObjectGraph, i.e. the element of the
// `_CHECKPOINTABLE_OBJECT_GRAPH` string tensor. Checks, beyond "no crash": decode,
// encode and decode again gives the same encoding; variables are sorted by key and
// FindByKey finds each; error offsets lie inside the input.
#include <cstdint>
#include <cstdio>
#include <string>

#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/trackable.hpp"

namespace {

using warmstart::core::ByteView;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "object_graph_fuzz: %s\n", what);
  __builtin_trap();
}

constexpr uint64_t kBase = 1000;  // as if the graph sat at this offset of a data file

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView bytes(data, size);
  const warmstart::ErrorContext ctx = warmstart::ErrorContext("fuzz.data").WithKey("_CHECKPOINTABLE_OBJECT_GRAPH");
  try {
    const auto g = warmstart::proto::DecodeTrackableObjectGraph(bytes, ctx, kBase);
    const std::string once = warmstart::proto::EncodeTrackableObjectGraph(g);
    const auto g2 = warmstart::proto::DecodeTrackableObjectGraph(ByteView(once.data(), once.size()), ctx, 0);
    if (warmstart::proto::EncodeTrackableObjectGraph(g2) != once) Bug("encode(decode(encode(g))) != encode(g)");
  } catch (const warmstart::FormatError& e) {
    const auto off = e.context().offset;
    if (off && (*off < kBase || *off > kBase + size)) Bug("error offset outside the input");
  }
  try {
    const auto graph = warmstart::bundle::ObjectGraph::Decode(bytes, ctx.WithOffset(kBase));
    const auto& vars = graph.variables();
    for (size_t i = 0; i < vars.size(); ++i) {
      if (i > 0 && vars[i].checkpoint_key < vars[i - 1].checkpoint_key) Bug("variables not sorted by key");
      if (graph.FindByKey(vars[i].checkpoint_key) == nullptr) Bug("FindByKey misses a variable");
    }
    for (int id = -1; id <= static_cast<int>(graph.num_nodes()); ++id) (void)graph.NodePath(id);
    (void)graph.Describe();
  } catch (const warmstart::FormatError& e) {
    const auto off = e.context().offset;
    if (off && (*off < kBase || *off > kBase + size)) Bug("error offset outside the input");
  }
  return 0;
}
