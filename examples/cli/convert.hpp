// Commands that write checkpoints (docs/cli.md):
//
//   warmstart convert SRC DST [--shards N]               rewrite as a V2 bundle, in name order
//   warmstart rename SRC DST --map OLD=NEW... [--regex PAT=REPL...]
//                                                         rename variables (init_from_checkpoint rules)
//   warmstart average DST SRC...                          element-wise average of float tensors
//
// Every input is whatever bundle::Checkpoint::Open accepts; every output is written with
// bundle::BundleWriter, tensors added in name order, partitioned tensors assembled into whole
// tensors. Exit 0 ok, 1 bad input (or a refused rename), 2 usage error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <warmstart/bundle/checkpoint.hpp>
#include <warmstart/bundle/writer.hpp>

#include "cli_common.hpp"
#include "inspect.hpp"

namespace warmstart::cli {

namespace convert {

using bundle::BundleWriter;
using bundle::Checkpoint;
using bundle::DataType;
using bundle::Entry;

// Writes the whole tensor `e` of `c` to `w` under `key`: the stored bytes when they can be
// copied as they are (little-endian, not partitioned), else the assembled, decoded values.
inline void CopyTensor(const Checkpoint& c, const Entry& e, const std::string& key, BundleWriter* w) {
  if (e.dtype == DataType::kString) {
    w->AddStrings(key, e.shape, c.ReadStrings(e.name));
    return;
  }
  if (!e.partitioned() && c.endianness() == bundle::Endianness::kLittle && bundle::IsFixedSize(e.dtype)) {
    w->Add(key, e.dtype, e.shape, c.RawBytes(e));
    return;
  }
  const bool read = inspect::VisitValues(c, e, [&](const auto& values) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no data()
      std::vector<uint8_t> bytes(values.size());
      for (size_t i = 0; i < values.size(); ++i) bytes[i] = values[i] ? 1 : 0;
      w->Add(key, e.dtype, e.shape, core::ByteView(bytes.data(), bytes.size()));
    } else if constexpr (std::is_same_v<T, std::string>) {
      w->AddStrings(key, e.shape, values);
    } else {
      w->Add(key, e.dtype, e.shape,
             core::ByteView(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(T)));
    }
  });
  if (!read) {
    throw std::runtime_error("cannot copy '" + DisplayName(e.name) + "': warmstart cannot read " +
                             bundle::DataTypeName(e.dtype));
  }
}

inline std::string Normalized(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  return ec ? path : p.lexically_normal().string();
}

// Refuses to write over the checkpoint being read.
inline void RefuseSamePrefix(const std::string& command, const Checkpoint& src, const std::string& dst) {
  if (Normalized(src.prefix()) == Normalized(dst)) {
    throw std::runtime_error(command + ": DST '" + dst + "' is the source checkpoint's own prefix '" + src.prefix() +
                             "'; write to another prefix");
  }
}

inline std::string ShardPrefix(const std::string& temp_dir, int shard, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "part-%05d-of-%05d", shard, num_shards);
  return (std::filesystem::path(temp_dir) / buf).string();
}

// Writes `names` (source name -> destination key, in destination-key order) of `c` to `dst`,
// in one bundle or, num_shards > 1, round-robin over num_shards bundles merged into `dst`.
inline void WriteBundle(const Checkpoint& c, const std::vector<std::pair<std::string, std::string>>& names,
                        const std::string& dst, int num_shards) {
  if (num_shards <= 1) {
    BundleWriter w(dst);
    for (const auto& [from, to] : names) CopyTensor(c, c.Get(from), to, &w);
    w.Finish();
    return;
  }
  const std::string temp_dir = dst + "_temp";
  std::vector<std::string> prefixes;
  std::error_code ec;
  try {
    {
      std::vector<std::unique_ptr<BundleWriter>> writers;
      for (int i = 0; i < num_shards; ++i) {
        prefixes.push_back(ShardPrefix(temp_dir, i, num_shards));
        writers.push_back(std::make_unique<BundleWriter>(prefixes.back()));
      }
      for (size_t i = 0; i < names.size(); ++i) {
        CopyTensor(c, c.Get(names[i].first), names[i].second, writers[i % writers.size()].get());
      }
      for (auto& w : writers) w->Finish();
    }
    bundle::MergeBundles(prefixes, dst);
  } catch (...) {
    std::filesystem::remove_all(temp_dir, ec);  // the shards written so far
    throw;
  }
  std::filesystem::remove_all(temp_dir, ec);
}

// ---- rename ----

struct Rule {
  enum Kind { kExact, kScope, kRoot } kind = kExact;
  std::string old_name;  // the --map OLD as given
  std::string new_name;
  bool matched = false;
};

inline std::pair<std::string, std::string> SplitAssignment(const std::string& flag, const std::string& kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string::npos) {
    throw UsageError("rename: " + flag + " '" + kv + "': expected " + (flag == "--map" ? "OLD=NEW" : "PAT=REPL"));
  }
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

inline std::vector<Rule> ParseRules(const std::vector<std::string>& maps) {
  std::vector<Rule> rules;
  for (const std::string& kv : maps) {
    Rule r;
    std::tie(r.old_name, r.new_name) = SplitAssignment("--map", kv);
    if (r.old_name.empty()) throw UsageError("rename: --map '" + kv + "': OLD is empty");
    if (r.old_name == "/") {
      r.kind = Rule::kRoot;
    } else if (r.old_name.back() == '/') {
      r.kind = Rule::kScope;
    }
    if (r.kind != Rule::kExact && (r.new_name.empty() || r.new_name.back() != '/')) {
      throw UsageError("rename: --map '" + kv + "': OLD is a scope (ends in '/'), so NEW must end in '/' too");
    }
    if (r.kind == Rule::kExact && r.new_name.empty()) throw UsageError("rename: --map '" + kv + "': NEW is empty");
    if (r.kind != Rule::kExact && r.new_name == "/") r.new_name.clear();  // OLD/=/ moves the scope to the root
    rules.push_back(std::move(r));
  }
  return rules;
}

inline bool Matches(const Rule& r, const std::string& name) {
  switch (r.kind) {
    case Rule::kExact: return name == r.old_name;
    case Rule::kScope: return name.compare(0, r.old_name.size(), r.old_name) == 0;
    case Rule::kRoot: return true;
  }
  return false;
}

// An exact rule wins over a scope, a longer scope over a shorter one, a scope over the root.
inline const Rule* BestRule(const std::vector<Rule>& rules, const std::string& name) {
  const Rule* best = nullptr;
  const auto rank = [](const Rule& r) -> size_t {
    return r.kind == Rule::kExact ? SIZE_MAX : r.kind == Rule::kScope ? r.old_name.size() : 0;
  };
  for (const Rule& r : rules) {
    if (Matches(r, name) && (best == nullptr || rank(r) > rank(*best))) best = &r;
  }
  return best;
}

inline std::string ApplyRule(const Rule& r, const std::string& name) {
  switch (r.kind) {
    case Rule::kExact: return r.new_name;
    case Rule::kScope: return r.new_name + name.substr(r.old_name.size());
    case Rule::kRoot: return r.new_name + name;
  }
  return name;
}

struct RegexRule {
  std::string text;
  std::regex pattern;
  std::string replacement;
};

inline std::vector<RegexRule> ParseRegexes(const std::vector<std::string>& regexes) {
  std::vector<RegexRule> out;
  for (const std::string& kv : regexes) {
    auto [pat, repl] = SplitAssignment("--regex", kv);
    try {
      out.push_back({kv, std::regex(pat, std::regex::ECMAScript), repl});
    } catch (const std::regex_error& e) {
      throw UsageError("rename: --regex '" + kv + "': invalid regular expression: " + e.what());
    }
  }
  return out;
}

// source name -> new name, sorted by new name. Throws on an unmatched --map and on collisions.
inline std::vector<std::pair<std::string, std::string>> PlanRename(const Checkpoint& c, std::vector<Rule> rules,
                                                                   const std::vector<RegexRule>& regexes,
                                                                   std::ostream& err) {
  std::map<std::string, std::string> by_new;  // new name -> source name
  std::vector<bool> regex_used(regexes.size(), false);
  for (const Entry& e : c.entries()) {
    for (Rule& r : rules) r.matched = r.matched || Matches(r, e.name);
    std::string name = e.name;
    if (const Rule* r = BestRule(rules, name)) name = ApplyRule(*r, name);
    for (size_t i = 0; i < regexes.size(); ++i) {
      std::string replaced = std::regex_replace(name, regexes[i].pattern, regexes[i].replacement);
      if (replaced != name) regex_used[i] = true;
      name = std::move(replaced);
    }
    if (name.empty()) throw std::runtime_error("rename: '" + DisplayName(e.name) + "' would get an empty name");
    auto [it, inserted] = by_new.emplace(name, e.name);
    if (!inserted) {
      const std::string& other = it->second;
      const auto describe = [&](const std::string& src) {
        return "'" + DisplayName(src) + "'" + (src == name ? " (not renamed)" : "");
      };
      throw std::runtime_error("rename: " + describe(other) + " and " + describe(e.name) + " would both be named '" +
                               DisplayName(name) + "'");
    }
  }
  for (const Rule& r : rules) {
    if (!r.matched) {
      throw std::runtime_error("rename: --map '" + r.old_name + "=" + r.new_name +
                               "' matches no tensor of the checkpoint" +
                               (r.kind == Rule::kScope ? " (no name starts with '" + r.old_name + "')" : ""));
    }
  }
  for (size_t i = 0; i < regexes.size(); ++i) {
    if (!regex_used[i]) err << "note: --regex '" << OneLine(regexes[i].text) << "' changed no name\n";
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [to, from] : by_new) out.emplace_back(from, to);
  return out;
}

// ---- average ----

inline bool IsAveraged(DataType t) {
  return t == DataType::kFloat || t == DataType::kDouble || t == DataType::kHalf || t == DataType::kBfloat16;
}

inline std::string Signature(const Entry& e) { return bundle::DataTypeName(e.dtype) + " " + e.shape.DebugString(); }

// Throws naming the first (in name order) difference between the variable sets of a and b.
inline void RequireSameVariables(const Checkpoint& a, const std::string& path_a, const Checkpoint& b,
                                 const std::string& path_b) {
  const std::vector<Entry>& ea = a.entries();
  const std::vector<Entry>& eb = b.entries();
  size_t i = 0, j = 0;
  const auto fail = [](const std::string& what) { throw std::runtime_error("average: " + what); };
  while (i < ea.size() || j < eb.size()) {
    if (j == eb.size() || (i < ea.size() && ea[i].name < eb[j].name)) {
      fail("'" + DisplayName(ea[i].name) + "' is in '" + path_a + "' but not in '" + path_b + "'");
    } else if (i == ea.size() || eb[j].name < ea[i].name) {
      fail("'" + DisplayName(eb[j].name) + "' is in '" + path_b + "' but not in '" + path_a + "'");
    }
    if (ea[i].dtype != eb[j].dtype || ea[i].shape.dims() != eb[j].shape.dims()) {
      fail("'" + DisplayName(ea[i].name) + "' is " + Signature(ea[i]) + " in '" + path_a + "' but " +
           Signature(eb[j]) + " in '" + path_b + "'");
    }
    ++i;
    ++j;
  }
}

template <class T>
void AddAverage(const std::string& key, const bundle::TensorShape& shape, const std::vector<double>& mean,
                BundleWriter* w) {
  std::vector<T> values(mean.size());
  for (size_t i = 0; i < mean.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      values[i] = static_cast<T>(mean[i]);
    } else {  // Eigen::half, Eigen::bfloat16: rounded to nearest even from float
      values[i] = T(static_cast<float>(mean[i]));
    }
  }
  w->Add(key, values, shape);
}

inline void WriteAverage(const std::vector<const Checkpoint*>& sources, const std::string& dst) {
  const Checkpoint& last = *sources.back();
  BundleWriter w(dst);
  for (const Entry& e : last.entries()) {
    if (!IsAveraged(e.dtype)) {
      CopyTensor(last, e, e.name, &w);
      continue;
    }
    std::vector<double> sum;
    for (const Checkpoint* c : sources) {
      const std::vector<double> v = c->ReadAs<double>(e.name);
      if (sum.empty()) {
        sum = v;
      } else {
        for (size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
      }
    }
    const double n = static_cast<double>(sources.size());
    for (double& x : sum) x /= n;
    switch (e.dtype) {
      case DataType::kFloat: AddAverage<float>(e.name, e.shape, sum, &w); break;
      case DataType::kDouble: AddAverage<double>(e.name, e.shape, sum, &w); break;
      case DataType::kHalf: AddAverage<Eigen::half>(e.name, e.shape, sum, &w); break;
      default: AddAverage<Eigen::bfloat16>(e.name, e.shape, sum, &w); break;
    }
  }
  w.Finish();
}

}  // namespace convert

// ---- convert ----

struct ConvertOptions {
  std::vector<std::string> paths;  // SRC DST
  int shards = 1;
};

inline int RunConvert(const ConvertOptions& o, std::ostream& err) {
  if (o.paths.size() != 2) throw UsageError("convert: expected SRC and DST: warmstart convert SRC DST [--shards N]");
  if (o.shards < 1) throw UsageError("convert: --shards must be at least 1");
  const bundle::Checkpoint src = bundle::Checkpoint::Open(o.paths[0]);
  PrintDiagnostics(src, err);
  err.flush();
  convert::RefuseSamePrefix("convert", src, o.paths[1]);
  std::vector<std::pair<std::string, std::string>> names;
  for (const bundle::Entry& e : src.entries()) names.emplace_back(e.name, e.name);  // entries are in name order
  convert::WriteBundle(src, names, o.paths[1], o.shards);
  return kExitOk;
}

class ConvertCommand {
 public:
  explicit ConvertCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("convert", "Rewrite a checkpoint (V1 or V2) as a V2 bundle in name order");
    app_->footer("Exit codes: 0 ok, 1 invalid or corrupt input, 2 usage error. See docs/cli.md.");
    app_->add_option("paths", options_.paths, "SRC (anything inspect opens) and the prefix DST to write")
        ->type_name("SRC DST");
    app_->add_option("--shards", options_.shards, "Write N shards (round-robin in name order) and merge them")
        ->type_name("N");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream&, std::ostream& err) { return RunConvert(options_, err); }

 private:
  CLI::App* app_ = nullptr;
  ConvertOptions options_;
};

// ---- rename ----

struct RenameOptions {
  std::vector<std::string> paths;  // SRC DST
  std::vector<std::string> maps;     // OLD=NEW
  std::vector<std::string> regexes;  // PAT=REPL
};

inline int RunRename(const RenameOptions& o, std::ostream& err) {
  if (o.paths.size() != 2) {
    throw UsageError("rename: expected SRC and DST: warmstart rename SRC DST --map OLD=NEW... [--regex PAT=REPL...]");
  }
  if (o.maps.empty() && o.regexes.empty()) throw UsageError("rename: give at least one --map or --regex");
  const std::vector<convert::Rule> rules = convert::ParseRules(o.maps);
  const std::vector<convert::RegexRule> regexes = convert::ParseRegexes(o.regexes);
  const bundle::Checkpoint src = bundle::Checkpoint::Open(o.paths[0]);
  PrintDiagnostics(src, err);
  convert::RefuseSamePrefix("rename", src, o.paths[1]);
  const auto names = convert::PlanRename(src, rules, regexes, err);
  err.flush();
  convert::WriteBundle(src, names, o.paths[1], 1);
  return kExitOk;
}

class RenameCommand {
 public:
  explicit RenameCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("rename", "Rename variables (tf.train.init_from_checkpoint assignment-map rules)");
    app_->footer("Exit codes: 0 ok, 1 invalid input, collision or unmatched --map, 2 usage error. See docs/cli.md.");
    app_->add_option("paths", options_.paths, "SRC (anything inspect opens) and the prefix DST to write")
        ->type_name("SRC DST");
    app_->add_option("--map", options_.maps, "OLD=NEW: an exact name, a scope 'old/=new/', or the root '/=new/'")
        ->type_name("OLD=NEW")
        ->allow_extra_args(false);
    app_->add_option("--regex", options_.regexes, "PAT=REPL: std::regex_replace (ECMAScript) on every name")
        ->type_name("PAT=REPL")
        ->allow_extra_args(false);
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream&, std::ostream& err) { return RunRename(options_, err); }

 private:
  CLI::App* app_ = nullptr;
  RenameOptions options_;
};

// ---- average ----

struct AverageOptions {
  std::vector<std::string> paths;  // DST SRC...
};

inline int RunAverage(const AverageOptions& o, std::ostream& err) {
  if (o.paths.size() < 3) throw UsageError("average: expected DST and at least two sources: warmstart average DST SRC...");
  const std::string& dst = o.paths[0];
  std::vector<bundle::Checkpoint> sources;
  sources.reserve(o.paths.size() - 1);
  for (size_t i = 1; i < o.paths.size(); ++i) {
    sources.push_back(bundle::Checkpoint::Open(o.paths[i]));
    PrintDiagnostics(sources.back(), err);
    convert::RefuseSamePrefix("average", sources.back(), dst);
  }
  err.flush();
  std::vector<const bundle::Checkpoint*> pointers;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (i > 0) convert::RequireSameVariables(sources[0], o.paths[1], sources[i], o.paths[i + 1]);
    pointers.push_back(&sources[i]);
  }
  convert::WriteAverage(pointers, dst);
  return kExitOk;
}

class AverageCommand {
 public:
  explicit AverageCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("average", "Average the float tensors of several checkpoints element-wise");
    app_->footer("Exit codes: 0 ok, 1 invalid input or different variable sets, 2 usage error. See docs/cli.md.");
    app_->add_option("paths", options_.paths, "The prefix DST to write, then two or more checkpoints")
        ->type_name("DST SRC...");
  }

  bool selected() const { return app_->parsed(); }
  int Run(std::ostream&, std::ostream& err) { return RunAverage(options_, err); }

 private:
  CLI::App* app_ = nullptr;
  AverageOptions options_;
};

}  // namespace warmstart::cli
