// Fuzz target: the `checkpoint` state file parser (bundle/checkpoint_state.hpp).
//
// Input: the text of a state file. Checks, beyond "no crash": what parses is written
// back by FormatCheckpointState and parses again to the same paths and timestamps
// (NaN matches NaN; unknown fields are not written back), and formatting is stable.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/error.hpp"

namespace {

using warmstart::bundle::CheckpointState;

[[noreturn]] void Bug(const char* what) {
  std::fprintf(stderr, "checkpoint_state_fuzz: %s\n", what);
  __builtin_trap();
}

bool SameDouble(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;  // -0.0 and 0.0 differ, as on the wire
}

bool SameState(const CheckpointState& a, const CheckpointState& b) {
  if (a.model_checkpoint_path != b.model_checkpoint_path) return false;
  if (a.all_model_checkpoint_paths != b.all_model_checkpoint_paths) return false;
  if (a.all_model_checkpoint_timestamps.size() != b.all_model_checkpoint_timestamps.size()) return false;
  for (size_t i = 0; i < a.all_model_checkpoint_timestamps.size(); ++i) {
    if (!SameDouble(a.all_model_checkpoint_timestamps[i], b.all_model_checkpoint_timestamps[i])) return false;
  }
  return SameDouble(a.last_preserved_timestamp, b.last_preserved_timestamp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckpointState state;
  try {
    state = warmstart::bundle::ParseCheckpointState(text, "fuzz/checkpoint");
  } catch (const warmstart::FormatError& e) {
    if (!e.context().line || *e.context().line < 1) Bug("error without a line number");
    return 0;
  }
  const std::string formatted = warmstart::bundle::FormatCheckpointState(state);
  CheckpointState again;
  try {
    again = warmstart::bundle::ParseCheckpointState(formatted, "fuzz/formatted");
  } catch (const warmstart::Error& e) {
    std::fprintf(stderr, "%s\n--- formatted:\n%s\n", e.what(), formatted.c_str());
    Bug("formatted state does not parse");
  }
  if (!SameState(state, again)) {
    std::fprintf(stderr, "--- formatted:\n%s\n", formatted.c_str());
    Bug("formatted state parses to different values");
  }
  if (warmstart::bundle::FormatCheckpointState(again) != formatted) Bug("formatting is not stable");
  try {
    (void)warmstart::bundle::ResolveStatePaths(state, "fuzz");
  } catch (const warmstart::FormatError&) {
    if (!state.model_checkpoint_path.empty()) Bug("ResolveStatePaths refused a non-empty path");
  }
  return 0;
}
