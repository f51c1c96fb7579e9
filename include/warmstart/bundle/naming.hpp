// File names of a bundle (tensorflow/core/util/tensor_bundle/naming.cc).
//
//   PREFIX.index                       the metadata table
//   PREFIX.data-SSSSS-of-NNNNN         shard SSSSS of NNNNN, both printed %05d
#pragma once

#include <cstdio>
#include <string>

namespace warmstart::bundle {

inline std::string MetaFilename(const std::string& prefix) { return prefix + ".index"; }

inline std::string DataFilename(const std::string& prefix, int shard_id, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), ".data-%05d-of-%05d", shard_id, num_shards);
  return prefix + buf;
}

}  // namespace warmstart::bundle
