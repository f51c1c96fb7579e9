// TF2 object graph: proto round trips, object paths (escaping, breadth-first, slots),
// reference checks with offsets, and the graph of a real Keras checkpoint.
#include "warmstart/bundle/object_graph.hpp"
#include "warmstart/bundle/checkpoint.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../realdata.hpp"
#include "warmstart/proto/trackable.hpp"

namespace {

using warmstart::ErrorContext;
using warmstart::FormatError;
using warmstart::bundle::ObjectGraph;
using warmstart::bundle::VariableInfo;
using warmstart::core::ByteView;
namespace proto = warmstart::proto;

const std::string kSuffix = "/.ATTRIBUTES/VARIABLE_VALUE";
const std::string kKernel = "model/layer..1.Sdense/kernel";

proto::ObjectReference Child(int32_t id, std::string name) {
  proto::ObjectReference r;
  r.node_id = id;
  r.local_name = std::move(name);
  return r;
}

proto::SerializedTensor Value(std::string path, std::string full_name = "") {
  proto::SerializedTensor t;
  t.name = "VARIABLE_VALUE";
  t.full_name = std::move(full_name);
  t.checkpoint_key = path + kSuffix;
  return t;
}

proto::SlotVariableReference Slot(int32_t variable, std::string name, int32_t slot) {
  proto::SlotVariableReference s;
  s.original_variable_node_id = variable;
  s.slot_name = std::move(name);
  s.slot_variable_node_id = slot;
  return s;
}

// 0 root -> model 1, optimizer 2, save_counter 3; model -> "layer.1/dense" 4 -> kernel 5;
// optimizer -> iter 6, slots m 7 and v 8 of the kernel.
proto::TrackableObjectGraph ExampleGraph() {
  proto::TrackableObjectGraph g;
  g.nodes.resize(9);
  g.nodes[0].children = {Child(1, "model"), Child(2, "optimizer"), Child(3, "save_counter")};
  g.nodes[1].children = {Child(4, "layer.1/dense")};
  g.nodes[2].children = {Child(6, "iter")};
  g.nodes[2].slot_variables = {Slot(5, "m", 7), Slot(5, "v", 8)};
  g.nodes[3].attributes = {Value("save_counter")};
  g.nodes[4].children = {Child(5, "kernel")};
  g.nodes[5].attributes = {Value(kKernel, "dense/kernel")};
  g.nodes[6].attributes = {Value("optimizer/iter")};
  g.nodes[7].attributes = {Value(kKernel + "/.OPTIMIZER_SLOT/optimizer/m")};
  g.nodes[8].attributes = {Value(kKernel + "/.OPTIMIZER_SLOT/optimizer/v")};
  return g;
}

ObjectGraph DecodeGraph(const std::string& bytes, ErrorContext ctx = ErrorContext("graph")) {
  return ObjectGraph::Decode(ByteView(bytes), ctx);
}

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

// The offset at which Decode reports a bad reference: where its serialized bytes start.
uint64_t OffsetOf(const std::string& haystack, const std::string& needle) {
  const size_t pos = haystack.find(needle);
  REQUIRE(pos != std::string::npos);
  REQUIRE(haystack.find(needle, pos + 1) == std::string::npos);
  return pos;
}

void RequireFormatErrorAt(const std::string& bytes, uint64_t offset, const std::string& reason_part,
                          ErrorContext ctx = ErrorContext("graph")) {
  try {
    DecodeGraph(bytes, ctx);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    INFO(e.what());
    REQUIRE(e.context().offset.has_value());
    CHECK(*e.context().offset == offset);
    CHECK(e.reason().find(reason_part) != std::string::npos);
  }
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("EscapeLocalName escapes '.' then '/' like trackable_utils", "[bundle][object_graph]") {
  using warmstart::bundle::EscapeLocalName;
  using warmstart::bundle::UnescapeLocalName;
  CHECK(EscapeLocalName("kernel") == "kernel");
  CHECK(EscapeLocalName("layer.1/dense") == "layer..1.Sdense");
  CHECK(EscapeLocalName("a.S") == "a..S");
  CHECK(EscapeLocalName("/./") == ".S...S");
  CHECK(EscapeLocalName("") == "");
  for (const char* name : {"kernel", "layer.1/dense", "a.S", "/./", "..", "S", ""}) {
    CHECK(UnescapeLocalName(EscapeLocalName(name)) == name);
  }
  CHECK_THROWS_AS(UnescapeLocalName("a.b"), warmstart::ArgumentError);
  CHECK_THROWS_WITH(UnescapeLocalName("tail."), Catch::Contains("position 4"));
}

TEST_CASE("TrackableObjectGraph encoding matches the proto wire format", "[proto][trackable]") {
  proto::TrackableObjectGraph g;
  g.nodes.resize(2);
  g.nodes[0].children = {Child(1, "a")};
  g.nodes[1].attributes = {Value("a")};
  g.nodes[1].attributes[0].optional_restore = true;
  g.nodes[1].slot_variables = {Slot(0, "m", 1)};
  g.nodes[1].registered_saver = proto::RegisteredSaver{"saver", "obj"};
  g.nodes[1].has_checkpoint_values = false;
  const std::string bytes = proto::EncodeTrackableObjectGraph(g);

  // node 0: children {node_id 1, local_name "a"}
  CHECK(bytes.substr(0, 9) == Bytes({0x0a, 0x07, 0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, 'a'}));
  // node 1 ends with slot {2 "m", 3 1}, registered_saver {1 "saver", 2 "obj"}, BoolValue(false) = empty
  const std::string tail = Bytes({0x1a, 0x05, 0x12, 0x01, 'm', 0x18, 0x01, 0x22, 0x0c, 0x0a, 0x05}) + "saver" +
                           Bytes({0x12, 0x03}) + "obj" + Bytes({0x2a, 0x00});
  CHECK(bytes.substr(bytes.size() - tail.size()) == tail);

  const proto::TrackableObjectGraph back = proto::DecodeTrackableObjectGraph(ByteView(bytes), ErrorContext(), 0);
  REQUIRE(back.nodes.size() == 2);
  CHECK(back.nodes[0].children[0].local_name == "a");
  CHECK(back.nodes[0].children[0].offset == uint64_t{4});
  CHECK(back.nodes[1].attributes[0].checkpoint_key == "a" + kSuffix);
  CHECK(back.nodes[1].attributes[0].optional_restore);
  CHECK(back.nodes[1].registered_saver->object_name == "obj");
  CHECK(back.nodes[1].has_checkpoint_values == false);
  CHECK_FALSE(back.nodes[0].has_checkpoint_values.has_value());
  CHECK(proto::EncodeTrackableObjectGraph(back) == bytes);

  const std::string example = proto::EncodeTrackableObjectGraph(ExampleGraph());
  CHECK(proto::EncodeTrackableObjectGraph(proto::DecodeTrackableObjectGraph(ByteView(example), ErrorContext(), 0)) ==
        example);
}

TEST_CASE("TrackableObjectGraph decoding skips unknown fields and rejects wrong wire types", "[proto][trackable]") {
  // One node: unknown varint field 9, child {node_id 0, unknown string field 7, local_name "x"}.
  const std::string node = Bytes({0x48, 0x05, 0x0a, 0x07, 0x3a, 0x02, 'z', 'z', 0x12, 0x01, 'x'});
  const std::string graph = Bytes({0x0a, static_cast<int>(node.size())}) + node + Bytes({0x10, 0x01});
  const proto::TrackableObjectGraph g = proto::DecodeTrackableObjectGraph(ByteView(graph), ErrorContext(), 0);
  REQUIRE(g.nodes.size() == 1);
  REQUIRE(g.nodes[0].children.size() == 1);
  CHECK(g.nodes[0].children[0].local_name == "x");

  // children (field 1) as a varint: wire type 0, expected 2; the tag sits at offset 2.
  const std::string bad = Bytes({0x0a, 0x02, 0x08, 0x01});
  try {
    proto::DecodeTrackableObjectGraph(ByteView(bad), ErrorContext("g.bin"), 0);
    FAIL("expected a FormatError");
  } catch (const FormatError& e) {
    CHECK(e.context().offset == uint64_t{2});
    CHECK(std::string(e.what()) == "g.bin: offset 2: TrackableObject: field 1 has wire type 0, expected 2");
  }
  // A length running past the end.
  CHECK_THROWS_WITH(proto::DecodeTrackableObjectGraph(ByteView(Bytes({0x0a, 0x05, 0x08})), ErrorContext(), 0),
                    Catch::Contains("truncated"));
}

TEST_CASE("ObjectGraph computes escaped object paths and slot variables", "[bundle][object_graph]") {
  const ObjectGraph graph = DecodeGraph(proto::EncodeTrackableObjectGraph(ExampleGraph()));
  CHECK(graph.num_nodes() == 9);
  CHECK(*graph.NodePath(0) == "");
  CHECK(*graph.NodePath(4) == "model/layer..1.Sdense");
  CHECK(graph.NodePath(9) == nullptr);
  CHECK(graph.proto().nodes[1].children[0].local_name == "layer.1/dense");

  const std::vector<VariableInfo>& vars = graph.variables();
  REQUIRE(vars.size() == 5);
  for (size_t i = 1; i < vars.size(); ++i) CHECK(vars[i - 1].checkpoint_key < vars[i].checkpoint_key);
  for (const VariableInfo& v : vars) {
    INFO(v.checkpoint_key);
    CHECK(v.object_path + kSuffix == v.checkpoint_key);
    CHECK(v.attribute == "VARIABLE_VALUE");
  }

  const VariableInfo* kernel = graph.FindByKey(kKernel + kSuffix);
  REQUIRE(kernel != nullptr);
  CHECK(kernel->node_id == 5);
  CHECK(kernel->full_name == "dense/kernel");
  CHECK_FALSE(kernel->is_slot);

  const VariableInfo* m = graph.FindByKey(kKernel + "/.OPTIMIZER_SLOT/optimizer/m" + kSuffix);
  REQUIRE(m != nullptr);
  CHECK(m->node_id == 7);
  CHECK(m->is_slot);
  CHECK(m->slot_name == "m");
  CHECK(m->original_variable_path == kKernel);
  CHECK(m->optimizer_path == "optimizer");
  const VariableInfo* v = graph.FindByKey(kKernel + "/.OPTIMIZER_SLOT/optimizer/v" + kSuffix);
  REQUIRE(v != nullptr);
  CHECK(v->slot_name == "v");

  CHECK(graph.FindByKey("save_counter" + kSuffix)->object_path == "save_counter");
  CHECK(graph.FindByKey("optimizer/iter" + kSuffix)->object_path == "optimizer/iter");
  CHECK(graph.FindByKey("model/layer.1/dense/kernel" + kSuffix) == nullptr);
  CHECK(graph.FindByKey("") == nullptr);
}

TEST_CASE("ObjectGraph takes the first breadth-first path and escapes slot names", "[bundle][object_graph]") {
  // root -> a 1 -> b 3, and root -> c 3: depth-first would say "a/b", breadth-first says "c".
  proto::TrackableObjectGraph g;
  g.nodes.resize(5);
  g.nodes[0].children = {Child(1, "a"), Child(3, "c"), Child(2, "opt")};
  g.nodes[1].children = {Child(3, "b"), Child(2, "opt_again")};
  g.nodes[2].slot_variables = {Slot(3, "my/slot", 4), Slot(1, "dup", 4)};
  g.nodes[3].attributes = {Value("c")};
  g.nodes[4].attributes = {Value("c/.OPTIMIZER_SLOT/opt/my.Sslot")};
  const ObjectGraph graph = DecodeGraph(proto::EncodeTrackableObjectGraph(g));
  CHECK(*graph.NodePath(3) == "c");
  CHECK(*graph.NodePath(2) == "opt");
  const VariableInfo* slot = graph.FindByKey("c/.OPTIMIZER_SLOT/opt/my.Sslot" + kSuffix);
  REQUIRE(slot != nullptr);
  CHECK(slot->object_path == "c/.OPTIMIZER_SLOT/opt/my.Sslot");
  CHECK(slot->slot_name == "my/slot");  // the first listing wins over "dup"
  CHECK(slot->original_variable_path == "c");
}

TEST_CASE("ObjectGraph leaves unreached nodes without a path", "[bundle][object_graph]") {
  proto::TrackableObjectGraph g;
  g.nodes.resize(3);
  g.nodes[2].attributes = {Value("lost")};
  g.nodes[2].slot_variables = {Slot(0, "s", 1)};  // an unreached optimizer names no slot
  const ObjectGraph graph = DecodeGraph(proto::EncodeTrackableObjectGraph(g));
  CHECK(graph.NodePath(2) == nullptr);
  CHECK(graph.NodePath(1) == nullptr);
  REQUIRE(graph.variables().size() == 1);
  CHECK(graph.variables()[0].object_path.empty());
  CHECK(graph.Describe().find("unreached  [node 2]") != std::string::npos);
}

TEST_CASE("ObjectGraph rejects node references out of range, with their offsets", "[bundle][object_graph]") {
  SECTION("child") {
    proto::TrackableObjectGraph g = ExampleGraph();
    g.nodes[4].children.push_back(Child(99, "bogus"));
    const std::string bytes = proto::EncodeTrackableObjectGraph(g);
    const uint64_t at = OffsetOf(bytes, Bytes({0x08, 0x63, 0x12, 0x05}) + "bogus");
    RequireFormatErrorAt(bytes, at, "node 4 child 'bogus' refers to node 99, but the graph has 9 nodes");
    // With ctx.offset set, offsets are absolute.
    RequireFormatErrorAt(bytes, 1000 + at, "refers to node 99", ErrorContext("data", 1000));
  }
  SECTION("negative child") {
    proto::TrackableObjectGraph g = ExampleGraph();
    g.nodes[0].children.push_back(Child(-1, "neg"));
    const std::string bytes = proto::EncodeTrackableObjectGraph(g);
    RequireFormatErrorAt(bytes, OffsetOf(bytes, Bytes({0x08, 0xff})), "child 'neg' refers to node -1");
  }
  SECTION("slot variable") {
    proto::TrackableObjectGraph g = ExampleGraph();
    g.nodes[2].slot_variables.push_back(Slot(5, "zz", 42));
    const std::string bytes = proto::EncodeTrackableObjectGraph(g);
    const uint64_t at = OffsetOf(bytes, Bytes({0x08, 0x05, 0x12, 0x02, 'z', 'z', 0x18, 0x2a}));
    RequireFormatErrorAt(bytes, at, "node 2 slot 'zz' slot variable refers to node 42");
  }
  SECTION("original variable") {
    proto::TrackableObjectGraph g = ExampleGraph();
    g.nodes[2].slot_variables.push_back(Slot(9, "zz", 7));
    const std::string bytes = proto::EncodeTrackableObjectGraph(g);
    const uint64_t at = OffsetOf(bytes, Bytes({0x08, 0x09, 0x12, 0x02, 'z', 'z', 0x18, 0x07}));
    RequireFormatErrorAt(bytes, at, "node 2 slot 'zz' original variable refers to node 9");
  }
}

TEST_CASE("ObjectGraph rejects an empty graph and duplicate checkpoint keys", "[bundle][object_graph]") {
  RequireFormatErrorAt("", 0, "no nodes");
  RequireFormatErrorAt("", 7, "no nodes", ErrorContext("data", 7));

  proto::TrackableObjectGraph g = ExampleGraph();
  g.nodes[6].attributes[0].checkpoint_key = "save_counter" + kSuffix;
  const std::string bytes = proto::EncodeTrackableObjectGraph(g);
  // The later node in key order (stable: node 6 after node 3) is reported, at its SerializedTensor.
  proto::SerializedTensor dup = g.nodes[6].attributes[0];
  std::string dup_bytes;
  proto::EncodeSerializedTensor(dup, &dup_bytes);
  const size_t first = bytes.find(dup_bytes);
  const uint64_t at = bytes.find(dup_bytes, first + 1);
  RequireFormatErrorAt(bytes, at, "checkpoint_key 'save_counter/.ATTRIBUTES/VARIABLE_VALUE' of node 6 is already "
                                  "used by node 3");
}

TEST_CASE("ObjectGraph::Describe draws the path tree with attributes", "[bundle][object_graph]") {
  const ObjectGraph graph = DecodeGraph(proto::EncodeTrackableObjectGraph(ExampleGraph()));
  const std::string text = graph.Describe();
  INFO(text);
  CHECK(text.find("object graph: 9 nodes, 5 saved tensors (2 of optimizer slots)\n(root)  [node 0]\n") == 0);
  CHECK(text.find("\n      " + kKernel + "  [node 5]\n          @VARIABLE_VALUE = " + kKernel + kSuffix +
                  "  (full name dense/kernel)\n") != std::string::npos);
  CHECK(text.find("\n        " + kKernel + "/.OPTIMIZER_SLOT/optimizer/m  [node 7, slot 'm' of optimizer node 2]\n") !=
        std::string::npos);
  CHECK(text.find("unreached") == std::string::npos);
}

TEST_CASE("ObjectGraph of a real Keras save_weights checkpoint", "[bundle][object_graph][realdata]") {
  std::filesystem::path dir;
  if (!warmstart::test::RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &dir)) return;
  const std::filesystem::path shard = dir / "model.ckpt.data-00000-of-00002";
  const std::string data = ReadFile(shard);

  // Shard 0 holds only _CHECKPOINTABLE_OBJECT_GRAPH: varint64 len || fixed32 masked crc || bytes (spec 6.3).
  const ErrorContext ctx(shard.string());
  warmstart::core::Cursor in(ByteView(data), ctx);
  const uint64_t len = in.ReadVarint64("string length");
  const uint64_t header = in.position() + 4;
  if (header + len != data.size()) {
    WARN("shard 0 is not a single string scalar (" << data.size() << " bytes, length varint says " << len
                                                   << "); skipping the real-data check");
    return;
  }
  const ObjectGraph graph = ObjectGraph::Decode(ByteView(data).Sub(header, len),
                                                ctx.WithKey(std::string(warmstart::bundle::kObjectGraphKey))
                                                    .WithOffset(header));
  INFO(graph.Describe());
  CHECK(graph.num_nodes() == 22);
  REQUIRE(graph.variables().size() == 17);  // the 18 index entries but the graph itself

  size_t values = 0, slots = 0;
  for (const VariableInfo& v : graph.variables()) {
    INFO(v.checkpoint_key);
    const std::string& key = v.checkpoint_key;
    if (key.size() > kSuffix.size() && key.compare(key.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      ++values;
      CHECK(v.object_path == key.substr(0, key.size() - kSuffix.size()));
    }
    if (v.is_slot) {
      ++slots;
      CHECK(v.object_path == v.original_variable_path + "/.OPTIMIZER_SLOT/" + v.optimizer_path + "/" + v.slot_name);
    }
  }
  CHECK(values == 17);
  CHECK(slots == 8);  // Adam m and v for two kernels and two biases

  const VariableInfo* kernel = graph.FindByKey("layer-1/kernel" + kSuffix);
  REQUIRE(kernel != nullptr);
  CHECK(kernel->full_name == "sequential/dense/kernel");
  const VariableInfo* m = graph.FindByKey("layer-1/kernel/.OPTIMIZER_SLOT/optimizer/m" + kSuffix);
  REQUIRE(m != nullptr);
  CHECK(m->is_slot);
  CHECK(m->slot_name == "m");
  CHECK(m->original_variable_path == "layer-1/kernel");
  CHECK(m->optimizer_path == "optimizer");

  // Corrupt on purpose: the graph opens with node 0 {children {node_id 1, "layer-0"}}; point
  // that reference at node 127, then cut the last byte.
  std::string bad = data;
  REQUIRE(bad.substr(header, 6) == Bytes({0x0a, 0x36, 0x0a, 0x0b, 0x08, 0x01}));
  bad[header + 5] = 0x7f;
  const ErrorContext key_ctx = ctx.WithKey(std::string(warmstart::bundle::kObjectGraphKey));
  CHECK_THROWS_WITH(ObjectGraph::Decode(ByteView(bad).Sub(header, len), key_ctx.WithOffset(header)),
                    shard.string() + ": key '_CHECKPOINTABLE_OBJECT_GRAPH': offset " + std::to_string(header + 4) +
                        ": TrackableObjectGraph: node 0 child 'layer-0' refers to node 127, "
                        "but the graph has 22 nodes");
  CHECK_THROWS_AS(ObjectGraph::Decode(ByteView(data).Sub(header, len - 1), key_ctx.WithOffset(header)), FormatError);
}

TEST_CASE("ReadObjectGraph: from a real TF2 checkpoint, none from a TF1 one", "[bundle][object_graph][realdata]") {
  std::filesystem::path tf2, tf1;
  if (!warmstart::test::RequireRealData("checkpoints/tf2-keras-save-weights-2shards", &tf2)) return;
  if (!warmstart::test::RequireRealData("checkpoints/tf1-saver-adam", &tf1)) return;
  const auto keras = warmstart::bundle::Checkpoint::Open((tf2 / "model.ckpt").string());
  const std::optional<warmstart::bundle::ObjectGraph> graph = warmstart::bundle::ReadObjectGraph(keras);
  REQUIRE(graph);
  // Every listed tensor but the graph itself is an attribute of some node.
  CHECK(graph->variables().size() == keras.entries().size() - 1);
  for (const auto& e : keras.entries()) {
    if (e.name == warmstart::bundle::kObjectGraphKey) continue;
    INFO(e.name);
    CHECK(graph->FindByKey(e.name) != nullptr);
  }
  const auto saver = warmstart::bundle::Checkpoint::Open((tf1 / "model.ckpt").string());
  CHECK_FALSE(warmstart::bundle::ReadObjectGraph(saver).has_value());
}

TEST_CASE("ObjectGraph: a deep chain of nodes is refused instead of building quadratic paths", "[bundle][object_graph]") {
  // Found in review: each node stores its whole path, so a chain of N nodes costs O(N^2).
  warmstart::proto::TrackableObjectGraph g;
  const int n = 20000;
  g.nodes.resize(n);
  for (int i = 0; i + 1 < n; ++i) {
    warmstart::proto::ObjectReference ref;
    ref.node_id = i + 1;
    ref.local_name = "a";
    g.nodes[static_cast<size_t>(i)].children.push_back(ref);
  }
  const std::string bytes = warmstart::proto::EncodeTrackableObjectGraph(g);
  CHECK_THROWS_WITH(warmstart::bundle::ObjectGraph::Decode(warmstart::core::ByteView(bytes), warmstart::ErrorContext("g")),
                    Catch::Contains("object paths grow beyond 64x the serialized graph"));
}
