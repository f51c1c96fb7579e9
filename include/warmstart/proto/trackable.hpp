// The TF2 object graph saved beside the variables of an object-based checkpoint
// (tensorflow/core/protobuf/trackable_object_graph.proto; spec section 8).
//
//   TrackableObjectGraph   1 nodes repeated TrackableObject          (node 0 is the root)
//   TrackableObject        1 children repeated ObjectReference
//                          2 attributes repeated SerializedTensor
//                          3 slot_variables repeated SlotVariableReference
//                          4 registered_saver RegisteredSaver
//                          5 has_checkpoint_values google.protobuf.BoolValue {1 value bool}
//   ObjectReference        1 node_id int32 | 2 local_name string
//   SerializedTensor       1 name string | 2 full_name string | 3 checkpoint_key string
//                          | 4 optional_restore bool
//   SlotVariableReference  1 original_variable_node_id int32 | 2 slot_name string
//                          | 3 slot_variable_node_id int32
//   RegisteredSaver        1 name string | 2 object_name string
//
// The graph is the single element of the DT_STRING scalar `_CHECKPOINTABLE_OBJECT_GRAPH`.
// These structs hold raw wire values; bundle/object_graph.hpp checks node ids and
// computes object paths. Decode records in `offset` where a reference message starts
// so that later checks can point at it; Encode ignores `offset`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "warmstart/proto/wire.hpp"

namespace warmstart::proto {

struct ObjectReference {
  int32_t node_id = 0;
  std::string local_name;
  std::optional<uint64_t> offset;  // absolute offset of the message bytes, set by Decode
};

struct SerializedTensor {
  std::string name;            // attribute name, "VARIABLE_VALUE" for variables
  std::string full_name;       // TF1-style variable name, may be empty
  std::string checkpoint_key;  // the bundle key of the saved tensor
  bool optional_restore = false;
  std::optional<uint64_t> offset;
};

struct SlotVariableReference {
  int32_t original_variable_node_id = 0;
  std::string slot_name;
  int32_t slot_variable_node_id = 0;
  std::optional<uint64_t> offset;
};

struct RegisteredSaver {
  std::string name;
  std::string object_name;
};

struct TrackableObject {
  std::vector<ObjectReference> children;
  std::vector<SerializedTensor> attributes;
  std::vector<SlotVariableReference> slot_variables;
  std::optional<RegisteredSaver> registered_saver;
  std::optional<bool> has_checkpoint_values;  // absent = no BoolValue message
  std::optional<uint64_t> offset;
};

struct TrackableObjectGraph {
  std::vector<TrackableObject> nodes;
};

// ---- ObjectReference ----

inline ObjectReference DecodeObjectReference(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  ObjectReference ref;
  ref.offset = base;
  MessageReader r(bytes, ctx, base, "TrackableObject.ObjectReference");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) ref.node_id = r.Int32(f);
    if (f.number == 2) ref.local_name = r.String(f);
  }
  return ref;
}

inline void EncodeObjectReference(const ObjectReference& ref, std::string* out) {
  if (ref.node_id != 0) PutInt64Field(out, 1, ref.node_id);
  if (!ref.local_name.empty()) PutBytesField(out, 2, ref.local_name);
}

// ---- SerializedTensor ----

inline SerializedTensor DecodeSerializedTensor(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  SerializedTensor t;
  t.offset = base;
  MessageReader r(bytes, ctx, base, "TrackableObject.SerializedTensor");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: t.name = r.String(f); break;
      case 2: t.full_name = r.String(f); break;
      case 3: t.checkpoint_key = r.String(f); break;
      case 4: t.optional_restore = r.Bool(f); break;
      default: break;
    }
  }
  return t;
}

inline void EncodeSerializedTensor(const SerializedTensor& t, std::string* out) {
  if (!t.name.empty()) PutBytesField(out, 1, t.name);
  if (!t.full_name.empty()) PutBytesField(out, 2, t.full_name);
  if (!t.checkpoint_key.empty()) PutBytesField(out, 3, t.checkpoint_key);
  if (t.optional_restore) PutVarintField(out, 4, 1);
}

// ---- SlotVariableReference ----

inline SlotVariableReference DecodeSlotVariableReference(ByteView bytes, const ErrorContext& ctx,
                                                         uint64_t base) {
  SlotVariableReference s;
  s.offset = base;
  MessageReader r(bytes, ctx, base, "TrackableObject.SlotVariableReference");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: s.original_variable_node_id = r.Int32(f); break;
      case 2: s.slot_name = r.String(f); break;
      case 3: s.slot_variable_node_id = r.Int32(f); break;
      default: break;
    }
  }
  return s;
}

inline void EncodeSlotVariableReference(const SlotVariableReference& s, std::string* out) {
  if (s.original_variable_node_id != 0) PutInt64Field(out, 1, s.original_variable_node_id);
  if (!s.slot_name.empty()) PutBytesField(out, 2, s.slot_name);
  if (s.slot_variable_node_id != 0) PutInt64Field(out, 3, s.slot_variable_node_id);
}

// ---- RegisteredSaver ----

inline RegisteredSaver DecodeRegisteredSaver(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  RegisteredSaver s;
  MessageReader r(bytes, ctx, base, "RegisteredSaver");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) s.name = r.String(f);
    if (f.number == 2) s.object_name = r.String(f);
  }
  return s;
}

inline void EncodeRegisteredSaver(const RegisteredSaver& s, std::string* out) {
  if (!s.name.empty()) PutBytesField(out, 1, s.name);
  if (!s.object_name.empty()) PutBytesField(out, 2, s.object_name);
}

// ---- google.protobuf.BoolValue ----

inline bool DecodeBoolValue(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  bool value = false;
  MessageReader r(bytes, ctx, base, "google.protobuf.BoolValue");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) value = r.Bool(f);
  }
  return value;
}

inline void EncodeBoolValue(bool value, std::string* out) {
  if (value) PutVarintField(out, 1, 1);
}

// ---- TrackableObject ----

inline TrackableObject DecodeTrackableObject(ByteView bytes, const ErrorContext& ctx, uint64_t base) {
  TrackableObject o;
  o.offset = base;
  MessageReader r(bytes, ctx, base, "TrackableObject");
  Field f;
  while (r.Next(&f)) {
    switch (f.number) {
      case 1: o.children.push_back(DecodeObjectReference(r.Bytes(f), ctx, r.PayloadOffset(f))); break;
      case 2: o.attributes.push_back(DecodeSerializedTensor(r.Bytes(f), ctx, r.PayloadOffset(f))); break;
      case 3:
        o.slot_variables.push_back(DecodeSlotVariableReference(r.Bytes(f), ctx, r.PayloadOffset(f)));
        break;
      case 4: o.registered_saver = DecodeRegisteredSaver(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      case 5: o.has_checkpoint_values = DecodeBoolValue(r.Bytes(f), ctx, r.PayloadOffset(f)); break;
      default: break;
    }
  }
  return o;
}

inline void EncodeTrackableObject(const TrackableObject& o, std::string* out) {
  std::string sub;
  for (const ObjectReference& c : o.children) {
    sub.clear();
    EncodeObjectReference(c, &sub);
    PutBytesField(out, 1, sub);
  }
  for (const SerializedTensor& a : o.attributes) {
    sub.clear();
    EncodeSerializedTensor(a, &sub);
    PutBytesField(out, 2, sub);
  }
  for (const SlotVariableReference& s : o.slot_variables) {
    sub.clear();
    EncodeSlotVariableReference(s, &sub);
    PutBytesField(out, 3, sub);
  }
  if (o.registered_saver) {
    sub.clear();
    EncodeRegisteredSaver(*o.registered_saver, &sub);
    PutBytesField(out, 4, sub);
  }
  if (o.has_checkpoint_values) {
    sub.clear();
    EncodeBoolValue(*o.has_checkpoint_values, &sub);
    PutBytesField(out, 5, sub);
  }
}

// ---- TrackableObjectGraph ----

inline TrackableObjectGraph DecodeTrackableObjectGraph(ByteView bytes, const ErrorContext& ctx,
                                                       uint64_t base) {
  TrackableObjectGraph g;
  MessageReader r(bytes, ctx, base, "TrackableObjectGraph");
  Field f;
  while (r.Next(&f)) {
    if (f.number == 1) g.nodes.push_back(DecodeTrackableObject(r.Bytes(f), ctx, r.PayloadOffset(f)));
  }
  return g;
}

inline std::string EncodeTrackableObjectGraph(const TrackableObjectGraph& g) {
  std::string out, node;
  for (const TrackableObject& o : g.nodes) {
    node.clear();
    EncodeTrackableObject(o, &node);
    PutBytesField(&out, 1, node);
  }
  return out;
}

}  // namespace warmstart::proto
