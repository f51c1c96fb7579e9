// kill_writer: saves checkpoints into a directory, step after step, until killed — the
// victim of tests/robustness/kill_test.cpp.
//
//   kill_writer DIR [STEPS]
//
// Each step does what a training loop's save does (ssd::SaveTrainingCheckpoint):
//   DIR/model.ckpt-<step>  through bundle::BundleWriter: "global_step" (int64 scalar) and
//                          kTensors int32 tensors "layer_<i>/kernel" of kElements each
//                          (4 MiB in all), element j = Value(step, i, j);
//   DIR/checkpoint         bundle::UpdateCheckpointState(DIR, prefix, max_to_keep 3).
// It continues after the newest step the state file names (1 without a state file), so
// a restarted writer picks up where the killed one left off. Without STEPS it never stops;
// with STEPS it saves that many and exits 0. Any error: the message on stderr, exit 1.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "warmstart/bundle/checkpoint_manager.hpp"
#include "warmstart/bundle/checkpoint_state.hpp"
#include "warmstart/bundle/writer.hpp"
#include "warmstart/error.hpp"

namespace {

namespace wb = warmstart::bundle;

constexpr int kTensors = 4;
constexpr size_t kElements = 256 * 1024;  // 1 MiB of int32 per tensor
constexpr size_t kMaxToKeep = 3;

// Element j of tensor i at `step`: the kill test checks every element against this.
int32_t Value(int64_t step, int i, size_t j) {
  return static_cast<int32_t>(static_cast<uint32_t>(step) * 2654435761u + static_cast<uint32_t>(i) * 40503u +
                              static_cast<uint32_t>(j));
}

// The step after the newest one the state file names; 1 when there is none.
int64_t NextStep(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "checkpoint").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return 1;
  std::ostringstream text;
  text << in.rdbuf();
  const wb::CheckpointState state = wb::ParseCheckpointState(text.str(), path);
  const std::string name = std::filesystem::path(state.model_checkpoint_path).filename().string();
  const std::string head = "model.ckpt-";
  if (name.compare(0, head.size(), head) != 0) return 1;
  return std::stoll(name.substr(head.size())) + 1;
}

void SaveStep(const std::string& dir, int64_t step) {
  const std::string prefix = (std::filesystem::path(dir) / ("model.ckpt-" + std::to_string(step))).string();
  wb::BundleWriter writer(prefix);
  writer.Add("global_step", std::vector<int64_t>{step}, wb::TensorShape{});
  std::vector<int32_t> values(kElements);
  for (int i = 0; i < kTensors; ++i) {
    for (size_t j = 0; j < kElements; ++j) values[j] = Value(step, i, j);
    writer.Add("layer_" + std::to_string(i) + "/kernel", values, wb::TensorShape{512, 512});
  }
  writer.Finish();
  wb::UpdateCheckpointState(dir, prefix, kMaxToKeep);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: kill_writer DIR [STEPS]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t steps = argc == 3 ? std::atoll(argv[2]) : -1;
  try {
    std::filesystem::create_directories(dir);
    const int64_t first = NextStep(dir);
    for (int64_t step = first; steps < 0 || step < first + steps; ++step) SaveStep(dir, step);
  } catch (const std::exception& e) {
    std::cerr << "kill_writer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
