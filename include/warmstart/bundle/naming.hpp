// File names of a bundle (tensorflow/core/util/tensor_bundle/naming.cc).
//
//   PREFIX.index                       the metadata table
//   PREFIX.data-SSSSS-of-NNNNN         shard SSSSS of NNNNN, both printed %05d
//
// Ours, not TensorFlow's: while a writer replaces an existing bundle it keeps the old one,
// complete, under PREFIX.previous.tempstate<R> (see writer.hpp). The ".tempstate" in the
// name makes every reader treat it as debris, as TF does with its temporary files.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace warmstart::bundle {

inline std::string MetaFilename(const std::string& prefix) { return prefix + ".index"; }

inline std::string DataFilename(const std::string& prefix, int shard_id, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), ".data-%05d-of-%05d", shard_id, num_shards);
  return prefix + buf;
}

namespace detail {

inline bool AllDigits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// Files in the directory of `prefix` whose name is the prefix's base name followed by
// `.data-<digits>-of-<digits>`: every data file a bundle of that prefix may own, whatever
// its shard count. Sorted; empty when the directory cannot be listed.
inline std::vector<std::string> DataFilesOf(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path p(prefix);
  const std::string base = p.filename().string() + ".data-";
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, base.size(), base) != 0) continue;
    const size_t of = name.find("-of-", base.size());
    if (of == std::string::npos || !AllDigits(name, base.size(), of) || !AllDigits(name, of + 4, name.size())) continue;
    // Spelled from the caller's own prefix ("d//m" stays "d//m..."), so that names compare
    // equal to DataFilename(prefix, ...) and prefix-relative arithmetic stays right.
    out.push_back(prefix + name.substr(base.size() - std::strlen(".data-")));
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline const char* PreviousTag() { return ".previous.tempstate"; }

}  // namespace detail

// Complete bundles an interrupted overwrite of `prefix` preserved (PREFIX.previous.tempstate<R>
// with its index present), newest first by modification time of the index. Normally empty:
// a finished overwrite removes them.
inline std::vector<std::string> PreservedPreviousBundles(const std::string& prefix) {
  namespace fs = std::filesystem;
  const fs::path p(prefix);
  const std::string head = p.filename().string() + detail::PreviousTag();
  const std::string tail = ".index";
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - tail.size(), tail.size(), tail) != 0 ||
        !detail::AllDigits(name, head.size(), name.size() - tail.size())) {
      continue;
    }
    std::error_code tec;
    const fs::file_time_type t = fs::last_write_time(it->path(), tec);
    const size_t base_length = head.size() - std::strlen(detail::PreviousTag());  // the prefix's file name
    found.emplace_back(t, prefix + name.substr(base_length, name.size() - tail.size() - base_length));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace warmstart::bundle
