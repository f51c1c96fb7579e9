// The object graph of a TF2 checkpoint: which object owns which saved tensor.
//
// Source: the DT_STRING scalar `_CHECKPOINTABLE_OBJECT_GRAPH`, whose single element is a
// serialized TrackableObjectGraph (proto/trackable.hpp; spec section 8). Node 0 is the
// root. Mirrors tensorflow/python/checkpoint/graph_view.py + trackable_utils.py:
//
//   object path    local_names of the edges from the root, each escaped, joined by '/';
//                  breadth-first from node 0 over `children` in order, first path found wins
//   escaping       '.' -> "..", then '/' -> ".S" (so "/.ATTRIBUTES/" cannot occur in a name)
//   attribute key  <object path>/.ATTRIBUTES/<escaped attribute name>
//   slot variable  <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<escaped slot name>,
//                  where the optimizer is the node listing it in `slot_variables`; like TF,
//                  the variable and the optimizer must have breadth-first paths
//
// e.g. model.layer["layer.1/dense"].kernel saved by an Adam optimizer:
//   model/layer..1.Sdense/kernel/.ATTRIBUTES/VARIABLE_VALUE
//   model/layer..1.Sdense/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE
//
// Decode checks every node id (children and slot references) against the node count;
// a node nothing reaches keeps an empty path (TF never writes one).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/bundle/reader.hpp"
#include "warmstart/bundle/tensor_data.hpp"
#include "warmstart/core/bytes.hpp"
#include "warmstart/error.hpp"
#include "warmstart/proto/trackable.hpp"

namespace warmstart::bundle {

inline constexpr std::string_view kObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";
inline constexpr std::string_view kObjectAttributesName = ".ATTRIBUTES";
inline constexpr std::string_view kOptimizerSlotsName = ".OPTIMIZER_SLOT";
inline constexpr std::string_view kVariableValueName = "VARIABLE_VALUE";

// trackable_utils.escape_local_name: '.' -> "..", then '/' -> ".S".
inline std::string EscapeLocalName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '.') {
      out += "..";
    } else if (c == '/') {
      out += ".S";
    } else {
      out += c;
    }
  }
  return out;
}

// The inverse; a '.' not followed by '.' or 'S' was never produced by escaping.
inline std::string UnescapeLocalName(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '.') {
      out += escaped[i];
      continue;
    }
    const char next = i + 1 < escaped.size() ? escaped[i + 1] : '\0';
    if (next != '.' && next != 'S') {
      throw ArgumentError("invalid escaped local name '" + std::string(escaped) + "': '.' at position " +
                          std::to_string(i) + " is not followed by '.' or 'S'");
    }
    out += next == '.' ? '.' : '/';
    ++i;
  }
  return out;
}

// One saved tensor of the graph: an attribute of a node.
struct VariableInfo {
  std::string checkpoint_key;  // the bundle key
  std::string object_path;     // path of the owning node; empty for the root or an unreached node
  std::string attribute;       // e.g. VARIABLE_VALUE
  std::string full_name;       // TF1-style original name, may be empty
  int node_id = 0;
  bool is_slot = false;        // the node is an optimizer slot variable
  std::string slot_name;       // "m", "v", ... (unescaped)
  std::string original_variable_path;
  std::string optimizer_path;
  bool optional_restore = false;
};

namespace detail {

// Where a node sits in the path tree.
struct NodePlace {
  bool reached = false;
  std::string path;
  int parent = -1;    // breadth-first parent, or the original variable of a slot
  std::string label;  // escaped local name, or ".OPTIMIZER_SLOT/<optimizer path>/<slot>"
  bool is_slot = false;
  std::string slot_name;
  int original_variable = -1;
  int optimizer = -1;
};

inline std::string JoinPath(const std::string& parent, const std::string& escaped_name) {
  return parent.empty() ? escaped_name : parent + "/" + escaped_name;
}

// `offset` is where Decode found the reference (absent for a graph built in memory).
[[noreturn]] inline void FailReference(const ErrorContext& ctx, const std::optional<uint64_t>& offset,
                                       const std::string& what, int32_t id, size_t num_nodes) {
  ErrorContext c = ctx;
  c.offset = offset;
  throw FormatError(c, "TrackableObjectGraph: " + what + " refers to node " + std::to_string(id) +
                           ", but the graph has " + std::to_string(num_nodes) + " nodes");
}

inline bool InRange(int32_t id, size_t num_nodes) {
  return id >= 0 && static_cast<size_t>(id) < num_nodes;
}

inline void CheckReferences(const proto::TrackableObjectGraph& g, const ErrorContext& ctx) {
  const size_t n = g.nodes.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string node = "node " + std::to_string(i);
    for (const proto::ObjectReference& c : g.nodes[i].children) {
      if (!InRange(c.node_id, n)) FailReference(ctx, c.offset, node + " child '" + c.local_name + "'", c.node_id, n);
    }
    for (const proto::SlotVariableReference& s : g.nodes[i].slot_variables) {
      const std::string slot = node + " slot '" + s.slot_name + "'";
      if (!InRange(s.original_variable_node_id, n)) {
        FailReference(ctx, s.offset, slot + " original variable", s.original_variable_node_id, n);
      }
      if (!InRange(s.slot_variable_node_id, n)) {
        FailReference(ctx, s.offset, slot + " slot variable", s.slot_variable_node_id, n);
      }
    }
  }
}

// Paths repeat their parents' paths, so a deep chain of nodes would cost quadratic
// memory; real graphs stay far below this many path bytes per serialized byte.
inline void ChargePath(const std::string& path, uint64_t* budget, const ErrorContext& ctx) {
  if (path.size() > *budget) {
    throw FormatError(ctx, "object paths grow beyond 64x the serialized graph: a hostile or broken object graph");
  }
  *budget -= path.size();
}

// Breadth-first from node 0; returns the visiting order.
// Requires: CheckReferences passed and the graph has a node 0.
inline std::vector<int> BreadthFirstPaths(const proto::TrackableObjectGraph& g, std::vector<NodePlace>* places,
                                          uint64_t* budget, const ErrorContext& ctx) {
  std::vector<int> order;
  std::deque<int> queue{0};
  (*places)[0].reached = true;
  while (!queue.empty()) {
    const int id = queue.front();
    queue.pop_front();
    order.push_back(id);
    for (const proto::ObjectReference& c : g.nodes[id].children) {
      NodePlace& child = (*places)[c.node_id];
      if (child.reached) continue;
      child.reached = true;
      child.parent = id;
      child.label = EscapeLocalName(c.local_name);
      child.path = JoinPath((*places)[id].path, child.label);
      ChargePath(child.path, budget, ctx);
      queue.push_back(c.node_id);
    }
  }
  return order;
}

// Slot variables of the optimizers in breadth-first order; the first listing of a slot
// node wins. A slot node that already has a breadth-first path keeps it.
inline void AssignSlotPaths(const proto::TrackableObjectGraph& g, const std::vector<int>& bfs_order,
                            std::vector<NodePlace>* places, uint64_t* budget, const ErrorContext& ctx) {
  std::vector<bool> breadth_first(places->size());
  for (int id : bfs_order) breadth_first[id] = true;
  for (int optimizer : bfs_order) {
    for (const proto::SlotVariableReference& s : g.nodes[optimizer].slot_variables) {
      NodePlace& slot = (*places)[s.slot_variable_node_id];
      const NodePlace& variable = (*places)[s.original_variable_node_id];
      if (slot.is_slot || !breadth_first[s.original_variable_node_id]) continue;
      slot.is_slot = true;
      slot.slot_name = s.slot_name;
      slot.original_variable = s.original_variable_node_id;
      slot.optimizer = optimizer;
      if (slot.reached) continue;
      slot.reached = true;
      slot.parent = s.original_variable_node_id;
      slot.label = std::string(kOptimizerSlotsName) + "/" + (*places)[optimizer].path + "/" +
                   EscapeLocalName(s.slot_name);
      slot.path = JoinPath(variable.path, slot.label);
      ChargePath(slot.path, budget, ctx);
      ChargePath(slot.label, budget, ctx);
    }
  }
}

inline VariableInfo MakeVariableInfo(const proto::SerializedTensor& a, int node_id,
                                     const std::vector<NodePlace>& places) {
  const NodePlace& p = places[node_id];
  VariableInfo v;
  v.checkpoint_key = a.checkpoint_key;
  v.object_path = p.path;
  v.attribute = a.name;
  v.full_name = a.full_name;
  v.node_id = node_id;
  v.optional_restore = a.optional_restore;
  v.is_slot = p.is_slot;
  if (p.is_slot) {
    v.slot_name = p.slot_name;
    v.original_variable_path = places[p.original_variable].path;
    v.optimizer_path = places[p.optimizer].path;
  }
  return v;
}

// One VariableInfo per attribute, ordered by checkpoint_key; a key saved twice is corrupt
// (SaveV2 would have refused the duplicate tensor name).
inline std::vector<VariableInfo> CollectVariables(const proto::TrackableObjectGraph& g,
                                                  const std::vector<NodePlace>& places,
                                                  const ErrorContext& ctx) {
  std::vector<std::pair<VariableInfo, std::optional<uint64_t>>> all;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const proto::SerializedTensor& a : g.nodes[i].attributes) {
      all.emplace_back(MakeVariableInfo(a, static_cast<int>(i), places), a.offset);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return x.first.checkpoint_key < y.first.checkpoint_key;
  });
  std::vector<VariableInfo> out;
  for (auto& [v, offset] : all) {
    if (!out.empty() && out.back().checkpoint_key == v.checkpoint_key) {
      ErrorContext c = ctx;
      c.offset = offset;
      throw FormatError(c, "TrackableObjectGraph: checkpoint_key '" + v.checkpoint_key + "' of node " +
                               std::to_string(v.node_id) + " is already used by node " +
                               std::to_string(out.back().node_id));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace detail

class ObjectGraph {
 public:
  // `serialized` is the string element of `_CHECKPOINTABLE_OBJECT_GRAPH`. ctx names the file
  // and key; when ctx.offset is set it is the absolute offset of serialized[0], and error
  // offsets are absolute too (otherwise they count from serialized[0]).
  static ObjectGraph Decode(core::ByteView serialized, const ErrorContext& ctx) {
    const uint64_t base = ctx.offset.value_or(0);
    ObjectGraph graph;
    graph.proto_ = proto::DecodeTrackableObjectGraph(serialized, ctx, base);
    if (graph.proto_.nodes.empty()) {
      throw FormatError(ctx.WithOffset(base), "TrackableObjectGraph has no nodes (node 0 must be the root)");
    }
    detail::CheckReferences(graph.proto_, ctx);
    graph.places_.resize(graph.proto_.nodes.size());
    uint64_t budget = 64 * static_cast<uint64_t>(serialized.size()) + (1u << 20);
    const std::vector<int> order = detail::BreadthFirstPaths(graph.proto_, &graph.places_, &budget, ctx.WithOffset(base));
    detail::AssignSlotPaths(graph.proto_, order, &graph.places_, &budget, ctx.WithOffset(base));
    graph.variables_ = detail::CollectVariables(graph.proto_, graph.places_, ctx);
    return graph;
  }

  // Every attribute of every node, ordered by checkpoint_key.
  const std::vector<VariableInfo>& variables() const { return variables_; }

  const VariableInfo* FindByKey(std::string_view key) const {
    auto it = std::lower_bound(variables_.begin(), variables_.end(), key,
                               [](const VariableInfo& v, std::string_view k) { return v.checkpoint_key < k; });
    return it != variables_.end() && it->checkpoint_key == key ? &*it : nullptr;
  }

  // The object path of a node; nullptr when the id is out of range or nothing reaches the node.
  // The root's path is "".
  const std::string* NodePath(int node_id) const {
    if (!detail::InRange(node_id, places_.size()) || !places_[node_id].reached) return nullptr;
    return &places_[node_id].path;
  }

  const proto::TrackableObjectGraph& proto() const { return proto_; }
  size_t num_nodes() const { return proto_.nodes.size(); }

  // A tree of the object paths, two spaces per level, each node followed by its attributes;
  // slot variables sit under their original variable. Unreached nodes are listed last.
  std::string Describe() const {
    std::string out = Summary();
    const std::vector<std::vector<int>> kids = DisplayChildren();
    std::vector<std::pair<int, int>> stack{{0, 0}};  // (node, depth), explicit: graphs may be deep
    while (!stack.empty()) {
      const auto [id, depth] = stack.back();
      stack.pop_back();
      DescribeNode(id, depth, &out);
      for (auto it = kids[id].rbegin(); it != kids[id].rend(); ++it) stack.emplace_back(*it, depth + 1);
    }
    DescribeUnreached(&out);
    return out;
  }

 private:
  ObjectGraph() = default;

  std::string Summary() const {
    size_t slots = 0;
    for (const VariableInfo& v : variables_) slots += v.is_slot ? 1 : 0;
    return "object graph: " + std::to_string(num_nodes()) + " nodes, " + std::to_string(variables_.size()) +
           " saved tensors (" + std::to_string(slots) + " of optimizer slots)\n";
  }

  std::vector<std::vector<int>> DisplayChildren() const {
    std::vector<std::vector<int>> kids(places_.size());
    for (size_t i = 0; i < places_.size(); ++i) {
      if (places_[i].reached && places_[i].parent >= 0) kids[places_[i].parent].push_back(static_cast<int>(i));
    }
    return kids;  // node order; the paths say how each was reached
  }

  void DescribeNode(int id, int depth, std::string* out) const {
    const detail::NodePlace& p = places_[id];
    const std::string indent(2 * static_cast<size_t>(std::min(depth, 32)), ' ');  // deep graphs: flat past 32
    *out += indent + (id == 0 ? std::string("(root)") : p.path) + "  [node " + std::to_string(id);
    if (p.is_slot) *out += ", slot '" + p.slot_name + "' of optimizer node " + std::to_string(p.optimizer);
    if (const auto& saver = proto_.nodes[id].registered_saver) *out += ", registered saver '" + saver->name + "'";
    *out += "]\n";
    DescribeAttributes(id, indent + "    ", out);
  }

  void DescribeAttributes(int id, const std::string& indent, std::string* out) const {
    for (const proto::SerializedTensor& a : proto_.nodes[id].attributes) {
      *out += indent + "@" + a.name + " = " + a.checkpoint_key;
      if (!a.full_name.empty()) *out += "  (full name " + a.full_name + ")";
      if (a.optional_restore) *out += "  (optional)";
      *out += "\n";
    }
  }

  void DescribeUnreached(std::string* out) const {
    for (size_t i = 0; i < places_.size(); ++i) {
      if (places_[i].reached) continue;
      *out += "unreached  [node " + std::to_string(i) + "]\n";
      DescribeAttributes(static_cast<int>(i), "    ", out);
    }
  }

  proto::TrackableObjectGraph proto_;
  std::vector<detail::NodePlace> places_;
  std::vector<VariableInfo> variables_;
};

// Reads and decodes the `_CHECKPOINTABLE_OBJECT_GRAPH` tensor of a TF2 checkpoint
// (crc verified); nullopt for a TF1 name-based checkpoint, which has none. Decoding
// errors carry their absolute offset in the data file.
template <class Fs>
std::optional<ObjectGraph> ReadObjectGraph(const BundleReader<Fs>& reader) {
  const Entry* e = reader.Find(kObjectGraphKey);
  if (e == nullptr) return std::nullopt;
  const core::ByteView payload = reader.RawBytes(*e);
  const ErrorContext at = ErrorContext(reader.data_path(e->shard_id)).WithKey(e->name);
  if (e->dtype != DataType::kString || e->shape.num_elements() != 1) {
    throw FormatError(at, "the object graph should be a scalar DT_STRING, found " + DataTypeName(e->dtype) + " " +
                              e->shape.DebugString());
  }
  const StringTensor s = DecodeStringTensor(payload, 1, reader.endianness() == Endianness::kBig, at,
                                            static_cast<uint64_t>(e->offset));
  const uint64_t offset = static_cast<uint64_t>(e->offset) + static_cast<uint64_t>(s.elements[0].data() - payload.data());
  return ObjectGraph::Decode(s.elements[0], at.WithOffset(offset));
}

}  // namespace warmstart::bundle
