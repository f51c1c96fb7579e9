// The fine-tune policy engine: model variables + checkpoint listing + train_config in, a
// RestorePlan out. Pure: nothing is read from tensors and nothing is written.
//
//   auto plan = restore::MakePlan(model_vars, &listing, restore::FineTuneSettings::FromConfig(cfg),
//                                 {restore::Profile::kWarmstart});
//   if (!plan.ok()) std::cerr << plan.error << "\n";
//   std::cout << plan.Summary();            // or plan.ToJson()
//
// A plan says, for every variable, whether it is restored and from which key (or why not),
// whether it is trained (or which pattern froze it), and with which gradient multiplier. It
// carries the log lines the emulated TensorFlow path prints, word for word and in its order,
// the exception that path would raise (`error`), and diagnostics no TensorFlow path gives.
//
// The profiles and the spec sections they follow (../shared/spec/odapi-finetune-semantics.md):
//   tf1-legacy     path A, legacy/train.py: §3.1 (A), §3.2-3.5, §4.2-4.4
//   tf1-estimator  path B, model_main.py:   §3.1 (B), §3.2-3.4, §3.6, §4.1, §4.3, §4.4
//   tf2            path C, model_main_tf2.py: §5
//   warmstart      ours: docs/profiles/*.md list every difference
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "warmstart/core/string_sort.hpp"
#include "warmstart/error.hpp"
#include "warmstart/restore/pyregex.hpp"
#include "warmstart/restore/rules.hpp"
#include "warmstart/restore/variables.hpp"

namespace warmstart::restore {

enum class Action { kRestore, kMissing, kShapeMismatch, kDtypeMismatch, kNotRequested, kError };

inline const char* ActionName(Action a) {
  switch (a) {
    case Action::kRestore: return "restore";
    case Action::kMissing: return "missing";
    case Action::kShapeMismatch: return "shape_mismatch";
    case Action::kDtypeMismatch: return "dtype_mismatch";
    case Action::kNotRequested: return "not_requested";
    case Action::kError: return "error";
  }
  return "error";
}

struct PlannedVariable {
  ModelVariable variable;
  Action action = Action::kNotRequested;
  std::string checkpoint_key;  // the key requested (restore, missing, mismatches, error); "" if not requested
  bool in_checkpoint = false;  // checkpoint_key names a tensor of the checkpoint
  DataType checkpoint_dtype = DataType::kInvalid;
  Shape checkpoint_shape;
  std::string reason;          // why it is not restored, or what fails
  bool trainable = false;      // receives gradient updates in this profile
  std::optional<std::string> frozen_by;  // the freeze pattern that removed it (may be "": re.search matches it)
  bool excluded_by_update = false;  // update_trainable_variables is set and matches it not
  double gradient_multiplier = 1.0;

  const std::string& name() const { return variable.name; }
};

struct Diagnostic {
  enum class Level { kError, kWarning, kNote };
  Level level = Level::kNote;
  std::string code;  // stable identifier, e.g. "pattern_matches_nothing"
  std::string message;

  static const char* LevelName(Level l) {
    return l == Level::kError ? "error" : l == Level::kWarning ? "warning" : "note";
  }
};

struct PlanOptions {
  Profile profile = Profile::kWarmstart;
  // tf1-estimator: model_lib.py's load_pretrained. True emulates the binaries before 2020-07;
  // false today's stock model_main.py, which never restores (§3.6).
  bool load_pretrained = true;
  // tf2: model_dir, compared with the checkpoint's directory (§5.4 step 2). Empty: not checked.
  std::string model_dir;
  // tf1-legacy: add the optimizer slots, EMA shadows, Adam powers and global_step that path A
  // creates before it restores, so the plan and the log show them as TF does (§3.5).
  bool synthesize_training_state = true;
  // warmstart: restore `<key>/ExponentialMovingAverage` in place of `<key>` when the checkpoint
  // has the shadow (with the same shape and dtype).
  bool use_ema_values = false;
  // init_from_checkpoint-style entries (checkpoint side -> model side), applied on top of the
  // profile's own map.
  std::vector<std::pair<std::string, std::string>> assignment_map;
  // Why no listing was passed although fine_tune_checkpoint is set (e.g. the file could not be
  // opened). The plan fails with it only when the emulated path gets to read the checkpoint.
  std::string checkpoint_error;
};

struct GradientClipping {
  std::string mode = "none";  // "none", "per_tensor" (path A), "global_norm" (B, C, warmstart)
  float norm = 0;
};

class RestorePlan {
 public:
  Profile profile = Profile::kWarmstart;
  std::string checkpoint_type;       // resolved (§2)
  std::string checkpoint_type_origin;  // "explicit", "from_detection_checkpoint", "default"
  std::string checkpoint;            // fine_tune_checkpoint (or the listing's path)
  std::string matching = "none";     // "name" (TF1 names), "object" (TF2 object paths), "none"
  std::vector<PlannedVariable> variables;
  std::vector<std::string> unused_checkpoint_keys;
  std::vector<std::string> log;      // what the emulated TF path logs, in its order
  std::vector<Diagnostic> diagnostics;
  std::string error;                 // the exception the emulated path raises; "" when it runs
  // "tensorflow" when the emulated path raises `error`; "warmstart" when warmstart cannot make
  // the plan (a pattern construct it cannot evaluate, a checkpoint it cannot open, inputs that
  // cannot be matched) or, in the warmstart profile, refuses it.
  std::string error_source;
  GradientClipping clipping;

  bool ok() const { return error.empty(); }

  const PlannedVariable* Find(std::string_view name) const {
    for (const PlannedVariable& v : variables) {
      if (v.variable.name == name) return &v;
    }
    return nullptr;
  }

  struct Counts {
    size_t model_variables = 0, restored = 0, missing = 0, shape_mismatch = 0, dtype_mismatch = 0,
           not_requested = 0, errors = 0, trainable = 0, frozen = 0, training_state = 0;
    int64_t model_parameters = 0, restored_parameters = 0;
  };
  Counts counts() const {
    Counts c;
    for (const PlannedVariable& v : variables) {
      if (v.variable.kind != VariableKind::kModel) {
        ++c.training_state;
        continue;
      }
      ++c.model_variables;
      const int64_t n = NumElements(v.variable.shape);
      c.model_parameters += n;
      switch (v.action) {
        case Action::kRestore: ++c.restored; c.restored_parameters += n; break;
        case Action::kMissing: ++c.missing; break;
        case Action::kShapeMismatch: ++c.shape_mismatch; break;
        case Action::kDtypeMismatch: ++c.dtype_mismatch; break;
        case Action::kNotRequested: ++c.not_requested; break;
        case Action::kError: ++c.errors; break;
      }
      if (v.trainable) ++c.trainable;
      if (v.frozen_by || v.excluded_by_update) ++c.frozen;
    }
    return c;
  }

  nlohmann::json ToJson() const;
  std::string Summary() const;

  void Add(Diagnostic::Level level, std::string code, std::string message) {
    diagnostics.push_back({level, std::move(code), std::move(message)});
  }
  // The first failure wins: TF stops at its first exception.
  void Fail(std::string text, const char* source = "tensorflow") {
    if (!error.empty()) return;
    error = std::move(text);
    error_source = source;
  }
  void Log(std::string line) {
    if (error.empty()) log.push_back(std::move(line));
  }
};

namespace detail {

// TF's DataTypeString: "float", "double", "int64", ... (the enum name, lower case, no DT_).
inline std::string TfDtypeString(DataType t) {
  std::string s = bundle::DataTypeName(t);
  if (s.rfind("DT_", 0) == 0) s = s.substr(3);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Python's repr of a TensorShape: (1, 1, 512, 546), (5,), ().
inline std::string PyTuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

// Python's "%f".
inline std::string PercentF(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%f", v);
  return buf;
}

inline std::string Quoted(const std::string& s) { return "'" + s + "'"; }

inline std::string WithCommas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > (s[0] == '-' ? 1 : 0); i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

inline std::string Percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "0.0%";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

// The literal text a pattern starts with (for "closest names"): up to the first character
// that is special in a Python regex, after a leading ^ or \A.
inline std::string LiteralPrefix(const std::string& pattern) {
  size_t i = 0;
  if (pattern.compare(0, 1, "^") == 0) i = 1;
  if (pattern.compare(0, 2, "\\A") == 0) i = 2;
  std::string out;
  for (; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (std::string_view(".^$*+?{}[]\\|()").find(c) != std::string_view::npos) {
      // A quantifier applies to the character before it: drop that one too.
      if ((c == '*' || c == '?' || c == '{') && !out.empty()) out.pop_back();
      break;
    }
    out += c;
  }
  return out;
}

// Up to `n` subjects sharing the longest prefix with `literal` (ties: first in model order).
// `absent`: the caller knows no subject contains `literal` (a literal pattern re.search found
// nowhere), so the search for it inside each name is skipped.
inline std::vector<std::string> ClosestNames(const std::string& literal, const std::vector<const std::string*>& subjects,
                                             size_t n, bool absent = false) {
  std::vector<std::pair<size_t, size_t>> best;  // (common prefix, index)
  for (size_t i = 0; i < subjects.size(); ++i) {
    const std::string& s = *subjects[i];
    size_t k = 0;
    while (k < literal.size() && k < s.size() && literal[k] == s[k]) ++k;
    // Also credit a literal found later in the name (re.search finds it anywhere).
    if (!absent && k < literal.size() && literal.size() >= 3 && s.find(literal) != std::string::npos) k = literal.size();
    if (k == 0) continue;
    if (best.size() < n || k > best.back().first) {
      best.emplace_back(k, i);
      std::stable_sort(best.begin(), best.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      if (best.size() > n) best.pop_back();
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, i] : best) out.push_back(*subjects[i]);
  return out;
}

// How one pattern list is matched.
enum class PatternSemantics {
  kMatchOpName,    // path A: re.match(p, var.op.name), empty patterns dropped
  kSearchTensorName,  // path B: re.search(p, var.name) where var.name ends in ":0"
  kSearchName,     // warmstart: re.search(p, name), empty patterns dropped
};

inline const char* SemanticsDescription(PatternSemantics s) {
  switch (s) {
    case PatternSemantics::kMatchOpName: return "re.match on the op name";
    case PatternSemantics::kSearchTensorName: return "re.search on the name with ':0'";
    case PatternSemantics::kSearchName: return "re.search on the name";
  }
  return "";
}

// One pattern list (freeze or update) under the three semantics at once. The set holds the
// patterns twice, anchored (re.match) then unanchored (re.search), reads the subject once for
// the name and goes on over ":0" for TF's tensor name. Empty patterns count only where path B
// keeps them (re.search on "name:0"); patterns that do not compile are left out (`skip`).
class PatternList {
 public:
  PatternList() = default;
  PatternList(const std::vector<std::string>& patterns, const std::vector<size_t>& skip) {
    std::vector<std::string> kept;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (std::find(skip.begin(), skip.end(), i) != skip.end()) continue;
      kept.push_back(patterns[i]);
      original_.push_back(static_cast<int>(i));
      is_empty_.push_back(patterns[i].empty());
      any_non_empty_ |= !patterns[i].empty();
    }
    if (kept.empty()) return;
    std::vector<PyMatchMode> modes(kept.size(), PyMatchMode::kMatch);
    modes.resize(2 * kept.size(), PyMatchMode::kSearch);
    std::vector<std::string> twice = kept;
    twice.insert(twice.end(), kept.begin(), kept.end());
    set_.emplace(twice, modes);
  }

  // No pattern applies under semantics k.
  bool empty(PatternSemantics k) const {
    return k == PatternSemantics::kSearchTensorName ? original_.empty() : !any_non_empty_;
  }

  // hits[k]: the matching pattern indexes (original numbering, ascending) under semantics k.
  void Matches(const std::string& subject, std::vector<int> hits[3]) const {
    for (int k = 0; k < 3; ++k) hits[k].clear();
    if (!set_) return;
    const size_t n = original_.size();
    set_->AllMatchesWithSuffix(subject, ":0", &plain_, &extended_);
    for (const int h : plain_) {
      const size_t j = static_cast<size_t>(h) % n;
      if (is_empty_[j]) continue;
      hits[static_cast<size_t>(h) < n ? static_cast<int>(PatternSemantics::kMatchOpName)
                                      : static_cast<int>(PatternSemantics::kSearchName)]
          .push_back(original_[j]);
    }
    for (const int h : extended_) {
      if (static_cast<size_t>(h) >= n) hits[static_cast<int>(PatternSemantics::kSearchTensorName)].push_back(original_[h - n]);
    }
  }

 private:
  std::vector<int> original_;
  std::vector<bool> is_empty_;
  bool any_non_empty_ = false;
  std::optional<PyRegexSet> set_;
  mutable std::vector<int> plain_, extended_;
};

// Everything the three pattern semantics say about one list over the trainable variables.
struct PatternEvaluation {
  // per variable (index into the plan), the first matching pattern per semantics; -1 = none
  std::vector<int> first[3];
  std::vector<size_t> count[3];  // per pattern, matches per semantics
  std::vector<size_t> differ;    // per pattern, variables on which the three semantics disagree
};

inline std::string DescribeTypeOrigin(const FineTuneSettings& s) {
  if (!s.fine_tune_checkpoint_type.empty()) return "explicit";
  return s.from_detection_checkpoint ? "from_detection_checkpoint" : "default";
}

}  // namespace detail

// ---- the engine ----

class Planner {
 public:
  Planner(std::vector<ModelVariable> model, const CheckpointListing* ckpt, const FineTuneSettings& s,
          const PlanOptions& o)
      : ckpt_(ckpt), s_(s), o_(o), assignment_(o.assignment_map) {
    plan_.profile = o.profile;
    plan_.checkpoint_type = s.ResolvedType();
    plan_.checkpoint_type_origin = detail::DescribeTypeOrigin(s);
    plan_.checkpoint = !s.fine_tune_checkpoint.empty() ? s.fine_tune_checkpoint : ckpt ? ckpt->path() : "";
    plan_.variables.reserve(model.size());
    for (ModelVariable& v : model) {
      if (v.name.empty()) throw ArgumentError("a model variable has an empty name");
      if (v.kind != VariableKind::kModel) {
        throw ArgumentError("model variable '" + v.name + "' is marked as training state; pass model variables only");
      }
      plan_.variables.emplace_back();
      plan_.variables.back().variable = std::move(v);
    }
    num_model_ = plan_.variables.size();
    // Sorted once: duplicates show up as neighbours, and the TF1 restore maps walk the names in
    // this order so that their keys come out (almost always) sorted, as TF iterates them.
    {
      std::vector<std::string_view> names(num_model_);
      for (size_t i = 0; i < num_model_; ++i) names[i] = plan_.variables[i].variable.name;
      sorted_model_ = core::SortedOrder(names);
    }
    for (size_t k = 1; k < num_model_; ++k) {
      const std::string& name = plan_.variables[sorted_model_[k]].variable.name;
      if (name == plan_.variables[sorted_model_[k - 1]].variable.name) {
        throw ArgumentError("model variable '" + name + "' is listed twice");
      }
    }
    if (ckpt_ != nullptr) used_.assign(ckpt_->size(), 0);
    for (const PlannedVariable& p : plan_.variables) {
      if (!p.variable.object_path.empty()) ++num_with_paths_;
    }
  }

  RestorePlan Run() {
    CompilePatterns();
    EvaluatePatterns();
    switch (o_.profile) {
      case Profile::kTf1Legacy: RunTf1Legacy(); break;
      case Profile::kTf1Estimator: RunTf1Estimator(); break;
      case Profile::kTf2: RunTf2(); break;
      case Profile::kWarmstart: RunWarmstart(); break;
    }
    Finish();
    return std::move(plan_);
  }

 private:
  using Level = Diagnostic::Level;

  // ---- patterns ----

  // Compiles both lists. A pattern that does not compile fails the plan only where the
  // emulated path reads its field (PatternFailure), in that path's order; the lists then keep
  // only the patterns that compile.
  void CompilePatterns() {
    const struct {
      const std::vector<std::string>* list;
      const char* field;
      std::string* failure;
    } lists[] = {{&s_.freeze_variables, "freeze_variables", &freeze_failure_},
                 {&s_.update_trainable_variables, "update_trainable_variables", &update_failure_}};
    for (const auto& l : lists) {
      for (size_t i = 0; i < l.list->size(); ++i) {
        try {
          (void)PyRegex::Compile((*l.list)[i]);
        } catch (const PatternError& e) {
          const std::string where = std::string(l.field) + "[" + std::to_string(i) + "] '" + (*l.list)[i] + "'";
          if (l.failure->empty()) {
            *l.failure = e.unsupported()
                             ? "warmstart cannot evaluate " + where + ": " + e.python_message() +
                                   " (Python accepts it; warmstart's matcher is a finite automaton)"
                             : "re.error: " + e.python_message() + " (" + where + ")";
            failure_unsupported_[l.failure == &freeze_failure_ ? 0 : 1] = e.unsupported();
          }
          bad_[l.failure == &freeze_failure_ ? 0 : 1].push_back(i);
        }
      }
    }
    freeze_ = detail::PatternList(s_.freeze_variables, bad_[0]);
    update_ = detail::PatternList(s_.update_trainable_variables, bad_[1]);
  }

  // Fails the plan when `field` has a pattern that does not compile; true if so.
  bool PatternFailure(bool freeze) {
    const std::string& f = freeze ? freeze_failure_ : update_failure_;
    if (f.empty()) return false;
    const std::string field = freeze ? "freeze_variables" : "update_trainable_variables";
    plan_.Add(Level::kError, "bad_pattern", f);
    plan_.Fail(f, failure_unsupported_[freeze ? 0 : 1] ? "warmstart" : "tensorflow");
    return true;
  }

  // One pass over the trainable model variables (the only ones the TF filters see:
  // grads_and_vars in A, tf.trainable_variables() in B), all three semantics at once, so a
  // pattern whose verdict differs between them is found per variable.
  void EvaluatePatterns() {
    std::vector<int> hits[3];
    for (detail::PatternEvaluation* e : {&freeze_eval_, &update_eval_}) {
      const std::vector<std::string>& list = e == &freeze_eval_ ? s_.freeze_variables : s_.update_trainable_variables;
      const detail::PatternList& patterns = e == &freeze_eval_ ? freeze_ : update_;
      e->differ.assign(list.size(), 0);
      for (int k = 0; k < 3; ++k) {
        e->first[k].assign(num_model_, -1);
        e->count[k].assign(list.size(), 0);
      }
      if (list.empty()) continue;
      std::vector<uint8_t> in(list.size());
      for (size_t i = 0; i < num_model_; ++i) {
        const ModelVariable& v = plan_.variables[i].variable;
        if (!v.trainable) continue;
        std::fill(in.begin(), in.end(), 0);
        patterns.Matches(v.pattern_subject(), hits);
        for (int k = 0; k < 3; ++k) {
          if (hits[k].empty()) continue;
          e->first[k][i] = hits[k].front();
          for (int h : hits[k]) {
            ++e->count[k][static_cast<size_t>(h)];
            in[static_cast<size_t>(h)] |= static_cast<uint8_t>(1u << k);
          }
        }
        for (size_t j = 0; j < in.size(); ++j) e->differ[j] += in[j] != 0 && in[j] != 7;
      }
    }
  }

  // Which of the three semantics a profile uses (index into PatternEvaluation).
  static int SemanticsIndex(Profile p) {
    return p == Profile::kTf1Legacy ? 0 : p == Profile::kTf1Estimator ? 1 : 2;
  }

  // Applies update (include) then freeze (exclude) for the given semantics; returns how many
  // stay trainable.
  size_t ApplyTrainability(int k, bool use_update, bool use_freeze) {
    size_t trainable = 0;
    for (size_t i = 0; i < num_model_; ++i) {
      PlannedVariable& p = plan_.variables[i];
      p.trainable = p.variable.trainable;
      if (!p.trainable) continue;
      if (use_update && !update_.empty(static_cast<detail::PatternSemantics>(k)) && update_eval_.first[k][i] < 0) {
        p.excluded_by_update = true;
        p.trainable = false;
        continue;
      }
      if (use_freeze && freeze_eval_.first[k][i] >= 0) {
        p.frozen_by = s_.freeze_variables[static_cast<size_t>(freeze_eval_.first[k][i])];
        p.trainable = false;
        continue;
      }
      ++trainable;
    }
    return trainable;
  }

  // bias_grad_multiplier: re.match('.*/biases', op name), i.e. "/biases" anywhere (§4.2).
  void ApplyBiasMultiplier(bool log) {
    if (s_.bias_grad_multiplier == 0) return;
    for (size_t i = 0; i < num_model_; ++i) {
      PlannedVariable& p = plan_.variables[i];
      if (!p.variable.trainable) continue;
      if (p.variable.pattern_subject().find("/biases") == std::string::npos) continue;
      p.gradient_multiplier = s_.bias_grad_multiplier;
      if (log) {
        plan_.Log("Applying multiplier " + detail::PercentF(s_.bias_grad_multiplier) + " to variable [" +
                  p.variable.name + "]");
      }
    }
  }

  // ---- graph variables of path A ----

  void AddTrainingState() {
    bool has_global_step = false;
    for (size_t i = 0; i < num_model_; ++i) has_global_step |= plan_.variables[i].variable.name == "global_step";
    std::vector<PlannedVariable> extra;
    const std::vector<std::string> slots = SlotSuffixes(s_.optimizer);
    for (size_t i = 0; i < num_model_; ++i) {
      const PlannedVariable& p = plan_.variables[i];
      if (!p.trainable) continue;  // frozen variables get no slots and no shadow
      for (const std::string& slot : slots) {
        extra.push_back(Synthetic(p.variable.name + "/" + slot, p.variable.dtype, p.variable.shape,
                                  VariableKind::kOptimizerSlot));
      }
      if (s_.use_moving_average) {
        extra.push_back(Synthetic(p.variable.name + std::string(kEmaSuffix), p.variable.dtype, p.variable.shape,
                                  VariableKind::kEmaShadow));
      }
    }
    if (s_.optimizer == OptimizerKind::kAdam) {
      extra.push_back(Synthetic("beta1_power", DataType::kFloat, {}, VariableKind::kOptimizerState));
      extra.push_back(Synthetic("beta2_power", DataType::kFloat, {}, VariableKind::kOptimizerState));
    }
    if (!has_global_step) extra.push_back(Synthetic("global_step", DataType::kInt64, {}, VariableKind::kGlobalStep));
    for (PlannedVariable& p : extra) plan_.variables.push_back(std::move(p));
  }

  void AddGlobalStep() {
    for (size_t i = 0; i < num_model_; ++i) {
      if (plan_.variables[i].variable.name == "global_step") return;
    }
    plan_.variables.push_back(Synthetic("global_step", DataType::kInt64, {}, VariableKind::kGlobalStep));
  }

  static PlannedVariable Synthetic(std::string name, DataType dtype, Shape shape, VariableKind kind) {
    PlannedVariable p;
    p.variable.name = std::move(name);
    p.variable.dtype = dtype;
    p.variable.shape = std::move(shape);
    p.variable.trainable = false;
    p.variable.kind = kind;
    p.reason = "created by the training loop";
    return p;
  }

  // Views of every graph variable's name (the model's plus, in path A, the training state),
  // and their order by name. Valid while plan_.variables does not grow.
  GraphNames Graph(bool model_only = false) const {
    GraphNames g;
    const size_t n = model_only ? num_model_ : plan_.variables.size();
    g.names.reserve(n);
    for (size_t i = 0; i < n; ++i) g.names.push_back(plan_.variables[i].variable.name);
    g.sorted = sorted_model_;
    if (n > num_model_) {
      std::vector<size_t> extra;
      for (size_t i = num_model_; i < n; ++i) extra.push_back(i);
      std::sort(extra.begin(), extra.end(), [&](size_t a, size_t b) { return g.names[a] < g.names[b]; });
      std::vector<size_t> merged;
      merged.reserve(n);
      std::merge(g.sorted.begin(), g.sorted.end(), extra.begin(), extra.end(), std::back_inserter(merged),
                 [&](size_t a, size_t b) { return g.names[a] < g.names[b]; });
      g.sorted = std::move(merged);
    }
    return g;
  }

  // ---- TF1 restore: restore_map + get_variables_available_in_checkpoint (§3.2-3.4) ----

  enum class Tf1Mode { kTensorFlow, kWarmstart };

  // Returns false when restore_map raised (plan_.error set).
  bool RestoreTf1(const std::string& type, bool load_all, Tf1Mode mode) {
    plan_.matching = "name";
    const bool allow_full = mode == Tf1Mode::kWarmstart;
    Tf1RestoreMapResult map = Tf1RestoreMap(Graph(), s_, type, load_all, allow_full);
    if (!map.error.empty()) {
      plan_.Add(Level::kError, "restore_map", map.error);
      plan_.Fail(map.error);
      for (PlannedVariable& p : plan_.variables) {
        if (p.reason.empty() || p.variable.kind == VariableKind::kModel) p.reason = "restore_map raised: " + map.error;
      }
      return false;
    }
    if (ApplyAssignmentMap(&map.requests)) ResolveDictOrder(&map.requests, &map.displaced);
    std::vector<bool> requested(plan_.variables.size(), false);
    for (const RestoreRequest& r : map.requests) requested[r.variable] = true;
    for (size_t i = 0; i < plan_.variables.size(); ++i) {
      PlannedVariable& p = plan_.variables[i];
      if (requested[i]) continue;
      p.reason = std::string(p.variable.kind != VariableKind::kModel ? "created by the training loop; " : "") +
                 "outside the restore map (" + map.scope + ")";
    }
    for (const auto& [var, key] : map.displaced) {
      if (requested[var]) continue;
      plan_.variables[var].reason = "its key '" + key + "' was taken by a later variable (Python dict assignment)";
      plan_.Add(Level::kWarning, "duplicate_key",
                "'" + plan_.variables[var].variable.name + "' and a later variable both map to checkpoint key '" + key +
                    "'; the restore map keeps the later one");
    }
    FilterAvailable(&map.requests, mode);
    return true;
  }

  // Returns whether any key changed (the requests then need sorting again).
  bool ApplyAssignmentMap(std::vector<RestoreRequest>* requests) {
    if (assignment_.empty()) return false;
    std::unordered_map<size_t, size_t> by_var;
    for (size_t i = 0; i < requests->size(); ++i) by_var[(*requests)[i].variable] = i;
    bool changed = false;
    for (size_t i = 0; i < num_model_; ++i) {
      std::optional<std::string> key = assignment_.KeyFor(plan_.variables[i].variable.name);
      if (!key) continue;
      key_storage_.push_back(std::move(*key));
      const std::string_view view = key_storage_.back();
      auto it = by_var.find(i);
      if (it != by_var.end()) {
        (*requests)[it->second].key = view;
      } else {
        requests->push_back({view, i});
      }
      changed = true;
    }
    return changed;
  }

  // The checkpoint tensor of each request, by one merge of two sorted lists (the requests by
  // key, the listing by key) rather than a hash lookup per variable.
  std::vector<const CheckpointTensor*> Lookup(const std::vector<RestoreRequest>& requests) const {
    std::vector<const CheckpointTensor*> found(requests.size(), nullptr);
    const std::vector<CheckpointTensor>& tensors = ckpt_->tensors();
    size_t j = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      const std::string_view key = requests[i].key;
      while (j < tensors.size() && std::string_view(tensors[j].key) < key) ++j;
      if (j == tensors.size()) break;
      if (tensors[j].key == key) found[i] = &tensors[j];
    }
    return found;
  }

  void MarkUsed(const CheckpointTensor* t) { used_[ckpt_->IndexOf(t)] = 1; }

  // get_variables_available_in_checkpoint with include_global_step=False, in sorted key order.
  void FilterAvailable(std::vector<RestoreRequest>* requests, Tf1Mode mode) {
    const std::vector<const CheckpointTensor*> found = Lookup(*requests);
    std::vector<std::string> dtype_errors;
    for (size_t k = 0; k < requests->size(); ++k) {
      const RestoreRequest& r = (*requests)[k];
      PlannedVariable& p = plan_.variables[r.variable];
      p.checkpoint_key = std::string(r.key);
      p.reason.clear();
      const bool global_step = r.key == "global_step";
      const CheckpointTensor* t = global_step ? nullptr : found[k];
      if (t == nullptr) {
        p.action = Action::kMissing;
        p.reason = global_step && found[k] != nullptr
                       ? "global_step is dropped from the checkpoint's listing (include_global_step=False)"
                       : "not in the checkpoint";
        plan_.Log("Variable [" + p.checkpoint_key + "] is not available in checkpoint");
        continue;
      }
      Record(&p, t);
      if (t->shape != p.variable.shape) {
        p.action = Action::kShapeMismatch;
        p.reason = ShapesVersus(p);
        plan_.Log("Variable [" + p.checkpoint_key +
                  "] is available in checkpoint, but has an incompatible shape with model variable. Checkpoint shape: [" +
                  ShapeList(t->shape) + "], model variable shape: [" + ShapeList(p.variable.shape) +
                  "]. This variable will not be initialized from the checkpoint.");
        continue;
      }
      if (!DtypesAgree(&p, mode == Tf1Mode::kWarmstart,
                       "; get_variables_available_in_checkpoint does not compare dtypes, so the restore op fails",
                       &dtype_errors)) {
        continue;
      }
      p.action = Action::kRestore;
      MarkUsed(t);
      if (mode == Tf1Mode::kWarmstart && o_.use_ema_values) UseEmaValue(&p);
    }
    if (!dtype_errors.empty()) deferred_errors_.push_back("InvalidArgumentError: " + Join(dtype_errors, "\n"));
  }

  // What the checkpoint holds under the requested key.
  static void Record(PlannedVariable* p, const CheckpointTensor* t) {
    p->in_checkpoint = true;
    p->checkpoint_dtype = t->dtype;
    p->checkpoint_shape = t->shape;
  }

  static std::string ShapesVersus(const PlannedVariable& p) {
    return "checkpoint shape " + ShapeList(p.checkpoint_shape) + ", model shape " + ShapeList(p.variable.shape);
  }

  // After Record and an equal shape: a dtype that differs is skipped (warmstart), or an `error`
  // whose restore-op message joins `tf_errors` (TF compares no dtypes before restoring).
  static bool DtypesAgree(PlannedVariable* p, bool skip, const char* tf_consequence,
                          std::vector<std::string>* tf_errors) {
    if (p->checkpoint_dtype == p->variable.dtype) return true;
    const std::string ckpt = bundle::DataTypeName(p->checkpoint_dtype), model = bundle::DataTypeName(p->variable.dtype);
    if (skip) {
      p->action = Action::kDtypeMismatch;
      p->reason = "checkpoint dtype " + ckpt + ", model dtype " + model;
    } else {
      p->action = Action::kError;
      p->reason = "dtypes differ (checkpoint " + ckpt + ", model " + model + ")" + tf_consequence;
      tf_errors->push_back("tensor_name = " + p->checkpoint_key + "; expected dtype " +
                           detail::TfDtypeString(p->variable.dtype) + " does not equal original dtype " +
                           detail::TfDtypeString(p->checkpoint_dtype));
    }
    return false;
  }

  void UseEmaValue(PlannedVariable* p) {
    const std::string shadow = p->checkpoint_key + std::string(kEmaSuffix);
    const CheckpointTensor* t = ckpt_->Find(shadow);
    if (t != nullptr && t->shape == p->variable.shape && t->dtype == p->variable.dtype) {
      used_[ckpt_->IndexOf(ckpt_->Find(p->checkpoint_key))] = 0;
      MarkUsed(t);
      p->checkpoint_key = shadow;
      ++ema_used_;
    }
  }

  // ---- TF2 object matching (§5.2 step 6, §5.5) ----

  enum class ObjectMode { kTensorFlow, kWarmstart };

  void RestoreObjects(const std::vector<ObjectRoot>& roots, ObjectMode mode) {
    plan_.matching = "object";
    std::vector<std::string> unmatched;
    std::string first_shape_error;
    std::vector<std::string> dtype_errors;
    std::string scope;
    for (const ObjectRoot& r : roots) scope += (scope.empty() ? "" : ", ") + r.model_prefix;
    // The key of each variable under a restored subtree: its path with the subtree's model
    // prefix swapped for the checkpoint's, plus the attribute suffix. Most keys equal the
    // variable's own name (a TF2 model's names are its checkpoint keys): view it then.
    std::vector<RestoreRequest> requests;
    std::string scratch;
    for (size_t i : sorted_model_) {
      PlannedVariable& p = plan_.variables[i];
      if (!assignment_.empty()) {
        if (std::optional<std::string> key = assignment_.KeyFor(p.variable.name)) {
          key_storage_.push_back(std::move(*key));
          requests.push_back({key_storage_.back(), i});
          continue;
        }
      }
      const std::string& path = p.variable.object_path;
      const ObjectRoot* root = nullptr;
      for (const ObjectRoot& r : roots) {
        if (!path.empty() && detail::StartsWith(path, r.model_prefix)) {
          root = &r;
          break;
        }
      }
      if (root == nullptr) {
        p.reason = path.empty() ? "no object path, so no TF2 restore can reach it"
                                : "outside the restored objects (" + scope + ")";
        continue;
      }
      scratch.assign(root->checkpoint_prefix);
      scratch.append(path, root->model_prefix.size(), std::string::npos);
      scratch.append(kTf2ValueSuffix);
      if (scratch == p.variable.name) {
        requests.push_back({p.variable.name, i});
      } else {
        key_storage_.push_back(scratch);
        requests.push_back({key_storage_.back(), i});
      }
    }
    ResolveDictOrder(&requests, nullptr);
    const std::vector<const CheckpointTensor*> found = Lookup(requests);
    for (size_t k = 0; k < requests.size(); ++k) {
      PlannedVariable& p = plan_.variables[requests[k].variable];
      p.checkpoint_key = std::string(requests[k].key);
      const CheckpointTensor* t = found[k];
      if (t == nullptr) {
        p.action = Action::kMissing;
        p.reason = "no value at this object path in the checkpoint";
        unmatched.push_back(p.variable.object_path.empty() ? p.variable.name : p.variable.object_path);
        continue;
      }
      Record(&p, t);
      if (t->shape != p.variable.shape) {
        if (mode == ObjectMode::kWarmstart) {
          p.action = Action::kShapeMismatch;
          p.reason = ShapesVersus(p);
        } else {
          p.action = Action::kError;
          p.reason = "shapes differ (checkpoint " + ShapeList(t->shape) + ", model " + ShapeList(p.variable.shape) +
                     "): a TF2 restore raises instead of skipping";
          if (first_shape_error.empty()) {
            first_shape_error = "ValueError: Received incompatible tensor with shape " + detail::PyTuple(t->shape) +
                                " when attempting to restore variable with shape " + detail::PyTuple(p.variable.shape) +
                                " and name " + (p.variable.object_path.empty() ? p.variable.name : p.variable.object_path) +
                                ".";
          }
        }
        continue;
      }
      if (!DtypesAgree(&p, mode == ObjectMode::kWarmstart, ": the restore op fails", &dtype_errors)) continue;
      p.action = Action::kRestore;
      MarkUsed(t);
    }
    if (mode == ObjectMode::kWarmstart) return;
    if (!first_shape_error.empty()) plan_.Fail(first_shape_error);
    if (!dtype_errors.empty()) plan_.Fail("InvalidArgumentError: " + Join(dtype_errors, "\n"));
    if (!unmatched.empty()) {
      const bool asserted = s_.run_fine_tune_checkpoint_dummy_computation || s_.use_moving_average;
      if (asserted) {
        const size_t shown = std::min<size_t>(10, unmatched.size());
        std::string list;
        for (size_t i = 0; i < shown; ++i) list += (i ? ", " : "") + unmatched[i];
        plan_.Fail("AssertionError: Found " + std::to_string(unmatched.size()) +
                   " Python objects that were not bound to checkpointed values, likely due to changes in the Python "
                   "program. Showing " + std::to_string(shown) + " of " + std::to_string(unmatched.size()) +
                   " unmatched objects: [" + list + "]");
        plan_.Add(Level::kNote, "tf2_assertion_approximation",
                  "TensorFlow lists unmatched Python objects (layers as well as variables) by their repr; the plan lists "
                  "the unmatched variables by object path");
      } else {
        plan_.Add(Level::kWarning, "deferred_restore",
                  std::to_string(unmatched.size()) +
                      " variables have no value in the checkpoint, and TensorFlow does not say so: with "
                      "run_fine_tune_checkpoint_dummy_computation false and no moving average the model is not built "
                      "when assert_existing_objects_matched runs, so it checks nothing");
      }
    }
  }

  // ---- the profiles ----

  // TF stops at its first exception: when one came before the restore step, nothing is
  // restored, and every variable says why.
  bool NotReached() {
    if (plan_.ok()) return false;
    NoCheckpoint("the restore is not reached: " + plan_.error);
    return true;
  }

  void NoCheckpoint(const std::string& why) {
    for (size_t i = 0; i < plan_.variables.size(); ++i) {
      if (plan_.variables[i].reason.empty() || plan_.variables[i].variable.kind == VariableKind::kModel) {
        plan_.variables[i].reason = why;
      }
    }
  }

  // The path reads the checkpoint now: without a listing the plan fails with why there is none.
  bool RequireListing() {
    if (ckpt_ != nullptr) return true;
    const std::string why = !o_.checkpoint_error.empty()
                                ? o_.checkpoint_error
                                : "fine_tune_checkpoint is '" + s_.fine_tune_checkpoint + "' but no checkpoint listing was given";
    plan_.Add(Level::kError, "checkpoint_unreadable", why);
    plan_.Fail(why, "warmstart");
    NoCheckpoint("the checkpoint cannot be read");
    return false;
  }

  void RunTf1Legacy() {
    plan_.clipping = Clipping("per_tensor");
    const std::string v = FeatureExtractorVersionError(s_, 1);
    if (!v.empty()) plan_.Fail(v);
    ApplyBiasMultiplier(/*log=*/true);
    if (plan_.ok()) PatternFailure(/*freeze=*/true);
    const size_t trainable = ApplyTrainability(0, /*use_update=*/false, /*use_freeze=*/true);
    for (size_t i = 0; i < num_model_; ++i) {
      if (plan_.variables[i].frozen_by) plan_.Log("Freezing variable [" + plan_.variables[i].variable.name + "]");
    }
    EmptyPatternNotes();
    if (trainable == 0) plan_.Fail("ValueError: No variables provided.");
    IgnoredField(!s_.update_trainable_variables.empty(), "update_trainable_variables");
    if (o_.synthesize_training_state) AddTrainingState();
    if (s_.fine_tune_checkpoint.empty()) {
      NoCheckpoint("fine_tune_checkpoint is empty: nothing is restored");
      plan_.Add(Level::kNote, "no_checkpoint", "fine_tune_checkpoint is empty: every variable starts from its initializer");
      return;
    }
    if (NotReached() || !RequireListing()) return;
    if (!RestoreTf1(plan_.checkpoint_type, s_.load_all_detection_checkpoint_vars, Tf1Mode::kTensorFlow)) return;
    FlushDeferredErrors();
    if (CountAvailable() == 0) {
      plan_.Add(Level::kError, "nothing_restored",
                "no variable of the restore map is available in the checkpoint, so tf.train.Saver gets an empty list");
      plan_.Fail("ValueError: No variables to save");
    }
  }

  void RunTf1Estimator() {
    plan_.clipping = Clipping("global_norm");
    const std::string v = FeatureExtractorVersionError(s_, 1);
    if (!v.empty()) plan_.Fail(v);
    AddGlobalStep();
    const size_t trainable = ApplyTrainability(1, /*use_update=*/true, /*use_freeze=*/true);
    IgnoredField(s_.bias_grad_multiplier != 0, "bias_grad_multiplier");
    EmptyPatternNotes();
    if (o_.load_pretrained) {
      // The binaries that passed hparams logged these while merging the config (§3.6).
      plan_.Log("Maybe overwriting load_pretrained: True");
      plan_.Log("Ignoring config override key: load_pretrained");
    }
    if (s_.fine_tune_checkpoint.empty()) {
      NoCheckpoint("fine_tune_checkpoint is empty: nothing is restored");
      plan_.Add(Level::kNote, "no_checkpoint", "fine_tune_checkpoint is empty: every variable starts from its initializer");
    } else if (!o_.load_pretrained) {
      // The type resolution runs only where the restore does (§2): the plan keeps the value as written.
      plan_.checkpoint_type = s_.fine_tune_checkpoint_type;
      plan_.checkpoint_type_origin = "unresolved";
      NoCheckpoint("model_main.py passes no hparams, so load_pretrained is false and fine_tune_checkpoint is ignored");
      plan_.Add(Level::kWarning, "load_pretrained_false",
                "model_main.py (stock, since 2020-07) ignores fine_tune_checkpoint: create_model_fn gets no hparams, so "
                "load_pretrained is false and training starts from scratch, silently (tensorflow/models#9284); "
                "nothing is restored");
    } else {
      if (!NotReached() && RequireListing() &&
          RestoreTf1(plan_.checkpoint_type, s_.load_all_detection_checkpoint_vars, Tf1Mode::kTensorFlow)) {
        if (CountRestored(false) == 0) {
          plan_.Add(Level::kWarning, "nothing_restored",
                    "nothing is restored and model_main.py does not say so: init_from_checkpoint gets an empty map");
        }
      }
    }
    if (plan_.ok() && (PatternFailure(/*freeze=*/false) || PatternFailure(/*freeze=*/true))) return;
    if (trainable == 0) {
      plan_.Add(Level::kError, "nothing_to_train", NothingToTrainReason());
      plan_.Fail("ValueError: No variables to optimize.");
    }
    FlushDeferredErrors();  // dtype mismatches fail at session start, after the graph is built
  }

  void RunTf2() {
    plan_.clipping = Clipping("global_norm");
    if (s_.load_all_detection_checkpoint_vars) {
      plan_.Fail("ValueError: train_pb2.load_all_detection_checkpoint_vars unsupported in TF2");
    }
    const std::string v = FeatureExtractorVersionError(s_, 2);
    if (!v.empty()) plan_.Fail(v);
    for (size_t i = 0; i < num_model_; ++i) plan_.variables[i].trainable = plan_.variables[i].variable.trainable;
    IgnoredField(!s_.freeze_variables.empty(), "freeze_variables");
    IgnoredField(!s_.update_trainable_variables.empty(), "update_trainable_variables");
    IgnoredField(s_.bias_grad_multiplier != 0, "bias_grad_multiplier");
    if (s_.fine_tune_checkpoint.empty()) {
      NoCheckpoint("fine_tune_checkpoint is empty: nothing is restored");
      plan_.Add(Level::kNote, "no_checkpoint", "fine_tune_checkpoint is empty: every variable starts from its initializer");
      return;
    }
    if (NotReached() || !RequireListing()) return;
    // ensure_checkpoint_supported (§5.4)
    if (plan_.checkpoint_type == "detection") {
      for (const CheckpointTensor& t : ckpt_->tensors()) {
        if (detail::StartsWith(t.key, "feature_extractor")) {
          plan_.Log("Found variable name - " + t.key + " with prefix feature_extractor");
          plan_.Fail(
              "RuntimeError: The checkpoint type 'detection' is not supported when it contains variable\n"
              "names with 'feature_extractor'. Please download the new checkpoint file\nfrom model zoo.\n");
          break;
        }
      }
    }
    if (!o_.model_dir.empty()) {
      namespace fs = std::filesystem;
      std::error_code ec;
      // Python's abspath(dirname("ckpt-0")) is the current directory.
      fs::path parent = fs::path(s_.fine_tune_checkpoint).parent_path();
      if (parent.empty()) parent = ".";
      const fs::path ckpt_dir = fs::absolute(parent, ec).lexically_normal();
      const fs::path model_dir = fs::absolute(fs::path(o_.model_dir), ec).lexically_normal();
      const auto strip = [](std::string p) {
        while (p.size() > 1 && p.back() == '/') p.pop_back();
        return p;
      };
      if (strip(ckpt_dir.string()) == strip(model_dir.string())) {
        plan_.Fail("RuntimeError: Checkpoint dir (" + strip(ckpt_dir.string()) + ") and model_dir (" +
                   strip(model_dir.string()) + ") cannot be same. Please set model_dir to a different path.");
      }
    }
    if (!ckpt_->object_based()) {
      plan_.Add(plan_.ok() ? Level::kError : Level::kWarning, "not_object_based",
                "model_main_tf2.py restores object-based (TF2) checkpoints only; this one has TF1 names (no "
                "_CHECKPOINTABLE_OBJECT_GRAPH)");
      plan_.Fail("OSError: Checkpoint is expected to be an object-based checkpoint.");
    }
    if (s_.fine_tune_checkpoint_version == config::CheckpointVersion::kV1) {
      plan_.Add(plan_.ok() ? Level::kError : Level::kWarning, "checkpoint_version",
                "fine_tune_checkpoint_version defaults to V1, which model_main_tf2.py refuses: set "
                "fine_tune_checkpoint_version: V2");
      plan_.Fail("ValueError: Checkpoint version should be V2");
    }
    if (NotReached()) return;
    Tf2RestoreRootsResult roots = Tf2RestoreRoots(s_, plan_.checkpoint_type);
    if (!roots.error.empty()) {
      plan_.Fail(roots.error);
      NoCheckpoint("restore_from_objects raised: " + roots.error);
      return;
    }
    if (num_with_paths_ == 0 && num_model_ > 0 && assignment_.empty()) {
      const std::string why =
          "the tf2 profile matches variables by object path, and these model variables have none (TF1 names); "
          "give ModelVariable::object_path, or use a TF1 profile";
      plan_.Add(Level::kError, "no_object_paths", why);
      plan_.Fail("warmstart: " + why, "warmstart");
      NoCheckpoint("no object path, so no TF2 restore can reach it");
      return;
    }
    RestoreObjects(roots.roots, ObjectMode::kTensorFlow);
  }

  void RunWarmstart() {
    plan_.clipping = Clipping("global_norm");
    if (PatternFailure(/*freeze=*/true) || PatternFailure(/*freeze=*/false)) return;
    ApplyBiasMultiplier(/*log=*/false);
    const size_t trainable = ApplyTrainability(2, /*use_update=*/true, /*use_freeze=*/true);
    EmptyPatternNotes();
    if (s_.bias_grad_multiplier != 0 &&
        std::none_of(plan_.variables.begin(), plan_.variables.begin() + static_cast<std::ptrdiff_t>(num_model_),
                     [](const PlannedVariable& p) { return p.gradient_multiplier != 1.0; })) {
      plan_.Add(Level::kWarning, "bias_multiplier_unused",
                "bias_grad_multiplier applies to names containing '/biases' (TF1 slim); no trainable variable has one "
                "(Keras names its biases 'bias')");
    }
    if (trainable == 0 && num_model_ > 0) {
      plan_.Add(Level::kError, "nothing_to_train", NothingToTrainReason());
      plan_.Fail("warmstart: nothing left to train: " + NothingToTrainReason(), "warmstart");
    }
    if (s_.fine_tune_checkpoint.empty()) {
      NoCheckpoint("fine_tune_checkpoint is empty: nothing is restored");
      plan_.Add(Level::kNote, "no_checkpoint", "fine_tune_checkpoint is empty: every variable starts from its initializer");
      return;
    }
    if (!RequireListing()) return;
    std::string type = plan_.checkpoint_type;
    if (type == "fine_tune") {
      plan_.Add(Level::kWarning, "fine_tune_type",
                "fine_tune_checkpoint_type \"fine_tune\" was CenterNet's old name for \"detection\"; warmstart reads it "
                "as \"detection\" (model_main_tf2.py refuses it)");
      type = "detection";
    }
    // load_all_detection_checkpoint_vars means "detection, every variable": as TF1 it is ignored
    // for classification; warmstart reads it as "full" for the model's own variables.
    bool load_all = s_.load_all_detection_checkpoint_vars;
    if (load_all && type == "classification") {
      plan_.Add(Level::kNote, "load_all",
                "load_all_detection_checkpoint_vars is ignored for fine_tune_checkpoint_type \"classification\", as in TF1");
      load_all = false;
    } else if (load_all) {
      plan_.Add(Level::kNote, "load_all",
                "load_all_detection_checkpoint_vars: every model variable is requested under its own name or path (as "
                "type \"full\"); warmstart never restores optimizer slots, moving averages or global_step");
      type = "full";
    }
    if (ckpt_->object_based()) {
      if (num_with_paths_ == 0 && num_model_ > 0 && assignment_.empty()) {
        plan_.Add(Level::kError, "no_object_paths",
                  "the checkpoint is object-based (TF2) and the model's variables have TF1 names without object paths; "
                  "give object paths or an assignment map");
        plan_.Fail("warmstart: cannot match TF1 variable names against an object-based checkpoint", "warmstart");
        NoCheckpoint("the checkpoint is object-based and the variable has no object path");
        return;
      }
      Tf2RestoreRootsResult roots = Tf2RestoreRoots(s_, type);
      if (!roots.error.empty()) {
        plan_.Fail(roots.error);
        NoCheckpoint("no restore roots: " + roots.error);
        return;
      }
      RestoreObjects(roots.roots, ObjectMode::kWarmstart);
      if (o_.use_ema_values) {
        plan_.Add(Level::kNote, "ema_values", "use_ema_values applies to TF1 names only; object-based checkpoints keep EMA in optimizer slots");
      }
    } else {
      if (num_with_paths_ == num_model_ && num_model_ > 0 && assignment_.empty()) {
        plan_.Add(Level::kWarning, "object_paths_vs_names",
                  "the model's variables are object-based (TF2) and the checkpoint has TF1 names: names will not match "
                  "without an assignment map");
      }
      if (!RestoreTf1(type, /*load_all=*/false, Tf1Mode::kWarmstart)) return;
    }
    if (CountRestored(true) == 0 && num_model_ > 0) {
      plan_.Add(Level::kError, "nothing_restored", "nothing would be restored from " + plan_.checkpoint);
      plan_.Fail("warmstart: nothing would be restored from " + plan_.checkpoint +
                     " (TensorFlow would go on silently or fail later; see the diagnostics)",
                 "warmstart");
    }
  }

  // ---- helpers ----

  GradientClipping Clipping(const std::string& mode) const {
    GradientClipping c;
    if (s_.gradient_clipping_by_norm > 0) {
      c.mode = mode;
      c.norm = s_.gradient_clipping_by_norm;
    }
    return c;
  }

  void IgnoredField(bool set, const std::string& field) {
    if (!set) return;
    std::string why;
    if (o_.profile == Profile::kTf2) {
      why = "model_main_tf2.py reads none of freeze_variables, update_trainable_variables and bias_grad_multiplier "
            "(tensorflow/models#9548, #10167); every trainable variable of the model is trained";
    } else if (field == "update_trainable_variables") {
      why = "legacy/train.py ignores update_trainable_variables";
    } else {
      why = "model_main.py ignores bias_grad_multiplier";
    }
    plan_.Add(Level::kWarning, "ignored_field", field + " is set, but " + why);
  }

  // An empty pattern: B's re.search matches every variable, A and warmstart drop it.
  void EmptyPatternNotes() {
    const bool reads_update = o_.profile != Profile::kTf1Legacy;
    for (const auto& [list, field, read] :
         {std::tuple<const std::vector<std::string>*, const char*, bool>{&s_.freeze_variables, "freeze_variables", true},
          {&s_.update_trainable_variables, "update_trainable_variables", reads_update}}) {
      if (!read || std::find(list->begin(), list->end(), std::string()) == list->end()) continue;
      const std::string effect = o_.profile == Profile::kTf1Estimator
                                     ? (std::string(field) == "freeze_variables" ? "it freezes every variable"
                                                                                 : "it selects every variable")
                                     : "it is dropped";
      plan_.Add(Level::kWarning, "empty_pattern",
                std::string(field) + " has an empty pattern; here " + effect +
                    " (model_main.py's re.search matches it against every name, legacy/train.py and warmstart drop "
                    "it)");
    }
  }

  std::string NothingToTrainReason() const {
    size_t declared = 0;
    for (size_t i = 0; i < num_model_; ++i) declared += plan_.variables[i].variable.trainable;
    if (declared == 0) return "the model declares no trainable variable";
    return "update_trainable_variables / freeze_variables exclude all " + std::to_string(declared) +
           " trainable variables";
  }

  // What get_variables_available_in_checkpoint returns: every requested key present with the
  // same shape (dtype is not compared, so dtype mismatches count).
  size_t CountAvailable() const {
    size_t n = 0;
    for (const PlannedVariable& p : plan_.variables) {
      n += p.action == Action::kRestore || (p.action == Action::kError && p.in_checkpoint &&
                                            p.checkpoint_shape == p.variable.shape);
    }
    return n;
  }

  size_t CountRestored(bool model_only) const {
    size_t n = 0;
    for (const PlannedVariable& p : plan_.variables) {
      if (p.action == Action::kRestore && (!model_only || p.variable.kind == VariableKind::kModel)) ++n;
    }
    return n;
  }

  void FlushDeferredErrors() {
    for (std::string& e : deferred_errors_) plan_.Fail(std::move(e));
    deferred_errors_.clear();
  }

  static std::string Join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
  }

  // ---- diagnostics that no TensorFlow path gives ----

  void Finish() {
    FlushDeferredErrors();
    UnusedKeys();
    PatternDiagnostics();
    AssignmentDiagnostics();
    if (ckpt_ != nullptr && !s_.fine_tune_checkpoint.empty()) {
      CoverageDiagnostics();
      TypeDiagnostics();
      NumClassesDiagnostics();
      TrainingStateDiagnostics();
    }
    if (o_.use_ema_values && o_.profile == Profile::kWarmstart && plan_.matching == "name") {
      plan_.Add(Level::kNote, "ema_values",
                std::to_string(ema_used_) + " variables restored from their /ExponentialMovingAverage shadows");
    }
    if (!plan_.error.empty()) {
      // First in the list: the one failure that decides the run.
      const std::string who = plan_.error_source == "tensorflow" ? std::string(ProfileBinary(o_.profile)) + " fails: "
                                                                 : "the plan fails: ";
      plan_.diagnostics.insert(plan_.diagnostics.begin(), Diagnostic{Level::kError, "plan_error", who + plan_.error});
    }
  }

  void UnusedKeys() {
    if (ckpt_ == nullptr) return;
    for (size_t i = 0; i < ckpt_->size(); ++i) {
      const CheckpointTensor& t = ckpt_->tensors()[i];
      if (!used_[i] && t.key != bundle::kObjectGraphKey) plan_.unused_checkpoint_keys.push_back(t.key);
    }
  }

  void PatternDiagnostics() {
    std::vector<const std::string*> subjects;
    for (size_t i = 0; i < num_model_; ++i) {
      if (plan_.variables[i].variable.trainable) subjects.push_back(&plan_.variables[i].variable.pattern_subject());
    }
    const int own = SemanticsIndex(o_.profile);
    for (const detail::PatternEvaluation* e : {&freeze_eval_, &update_eval_}) {
      const bool is_freeze = e == &freeze_eval_;
      const std::vector<std::string>& list = is_freeze ? s_.freeze_variables : s_.update_trainable_variables;
      const char* field = is_freeze ? "freeze_variables" : "update_trainable_variables";
      const bool read = o_.profile != Profile::kTf2 && !(o_.profile == Profile::kTf1Legacy && !is_freeze);
      for (size_t j = 0; j < list.size(); ++j) {
        const std::string& pat = list[j];
        if (pat.empty()) continue;
        const size_t a = e->count[0][j], b = e->count[1][j], w = e->count[2][j];
        if (read && e->count[own][j] == 0) {
          std::string msg = std::string(field) + " pattern '" + pat + "' matches no trainable variable (" +
                            detail::SemanticsDescription(static_cast<detail::PatternSemantics>(own)) + ")";
          const std::string literal = detail::LiteralPrefix(pat);
          // A pattern that is all literal and that re.search on the name finds nowhere: no
          // name contains it.
          const bool absent = literal == pat && e->count[static_cast<int>(detail::PatternSemantics::kSearchName)][j] == 0;
          const std::vector<std::string> close = detail::ClosestNames(literal, subjects, 3, absent);
          if (!close.empty()) {
            msg += "; closest names: ";
            for (size_t k = 0; k < close.size(); ++k) msg += (k ? ", " : "") + close[k];
          }
          plan_.Add(Level::kWarning, "pattern_matches_nothing", msg);
        }
        if (e->differ[j] > 0 && o_.profile != Profile::kTf2) {
          plan_.Add(Level::kWarning, "pattern_semantics_differ",
                    std::string(field) + " pattern '" + pat + "' matches " + std::to_string(a) +
                        " variables in legacy/train.py (re.match on the op name), " + std::to_string(b) +
                        " in model_main.py (re.search on the name with ':0'), " + std::to_string(w) +
                        " in warmstart (re.search on the name)");
        }
      }
    }
  }

  void AssignmentDiagnostics() {
    for (const AssignmentMap::Rule& r : assignment_.rules()) {
      if (r.used == 0) {
        plan_.Add(Level::kWarning, "assignment_unused",
                  "assignment map entry '" + (r.checkpoint_side.empty() ? std::string("/") : r.checkpoint_side) +
                      "': '" + r.model_side + "' covers no model variable");
      }
    }
    if (!assignment_.empty() && o_.profile != Profile::kWarmstart) {
      plan_.Add(Level::kNote, "assignment_map",
                "the assignment map is applied on top of " + std::string(ProfileBinary(o_.profile)) +
                    "'s restore map; TensorFlow's Object Detection API has no such option");
    }
  }

  void CoverageDiagnostics() {
    const RestorePlan::Counts c = plan_.counts();
    if (c.model_variables == 0) return;
    size_t requested = 0;
    for (size_t i = 0; i < num_model_; ++i) requested += plan_.variables[i].action != Action::kNotRequested;
    plan_.Add(Level::kNote, "coverage",
              "restored " + std::to_string(c.restored) + " of " + std::to_string(c.model_variables) +
                  " model variables (" + detail::Percent(static_cast<int64_t>(c.restored), static_cast<int64_t>(c.model_variables)) +
                  "), " + detail::WithCommas(c.restored_parameters) + " of " + detail::WithCommas(c.model_parameters) +
                  " parameters (" + detail::Percent(c.restored_parameters, c.model_parameters) + "); " +
                  std::to_string(requested) + " requested");
    std::vector<const PlannedVariable*> mismatched;
    for (size_t i = 0; i < num_model_; ++i) {
      if (plan_.variables[i].action == Action::kShapeMismatch) mismatched.push_back(&plan_.variables[i]);
    }
    if (!mismatched.empty()) {
      std::string msg = std::to_string(mismatched.size()) +
                        " requested variables have another shape in the checkpoint and start from their initializers";
      for (size_t k = 0; k < mismatched.size() && k < 3; ++k) {
        const PlannedVariable& p = *mismatched[k];
        msg += (k ? "; " : ": ") + p.variable.name + " (checkpoint " + ShapeList(p.checkpoint_shape) + ", model " +
               ShapeList(p.variable.shape) + ")";
      }
      if (mismatched.size() > 3) msg += "; ...";
      plan_.Add(Level::kWarning, "shape_mismatch", msg);
    }
    if (requested > 0 && c.restored * 2 < requested) {
      plan_.Add(Level::kWarning, "low_coverage",
                "only " + std::to_string(c.restored) + " of the " + std::to_string(requested) +
                    " requested model variables are restored: the checkpoint does not fit this model or this "
                    "fine_tune_checkpoint_type");
    } else if (c.model_parameters > 0 && c.restored_parameters * 10 < c.model_parameters && c.restored > 0) {
      plan_.Add(Level::kWarning, "low_coverage",
                "the restore brings back only " + detail::Percent(c.restored_parameters, c.model_parameters) +
                    " of the model's parameters");
    }
  }

  // How many model variables a type would restore (name or object matching, shape and dtype
  // equal), without logging.
  size_t WouldRestore(const std::string& type) const {
    if (ckpt_ == nullptr) return 0;
    size_t n = 0;
    const auto fits = [&](std::string_view key, const ModelVariable& v) {
      const CheckpointTensor* t = ckpt_->Find(key);
      return t != nullptr && t->shape == v.shape && t->dtype == v.dtype && key != "global_step";
    };
    if (ckpt_->object_based()) {
      const Tf2RestoreRootsResult roots = Tf2RestoreRoots(s_, type);
      if (!roots.error.empty()) return 0;
      std::string key;
      for (size_t i = 0; i < num_model_; ++i) {
        const ModelVariable& v = plan_.variables[i].variable;
        for (const ObjectRoot& r : roots.roots) {
          if (!v.object_path.empty() && detail::StartsWith(v.object_path, r.model_prefix)) {
            key.assign(r.checkpoint_prefix);
            key.append(v.object_path, r.model_prefix.size(), std::string::npos);
            key.append(kTf2ValueSuffix);
            n += fits(key, v);
            break;
          }
        }
      }
    } else {
      const Tf1RestoreMapResult map = Tf1RestoreMap(Graph(/*model_only=*/true), s_, type, false, /*allow_full=*/true);
      if (!map.error.empty()) return 0;
      for (const RestoreRequest& r : map.requests) n += fits(r.key, plan_.variables[r.variable].variable);
    }
    return n;
  }

  void TypeDiagnostics() {
    const std::string& type = plan_.checkpoint_type;
    if (type != "classification" && type != "detection") return;
    const std::string other = type == "classification" ? "detection" : "classification";
    // Only worth a second look (and a second pass over every variable) when this type restores
    // less than half of the model.
    size_t now = 0;
    for (size_t i = 0; i < num_model_; ++i) now += plan_.variables[i].action == Action::kRestore;
    if (now * 2 >= num_model_) return;
    const size_t alt = WouldRestore(other);
    if (alt > now && alt >= 2 * now + 1) {
      std::string msg = "this looks like a " + other + " checkpoint: fine_tune_checkpoint_type \"" + type +
                        "\" restores " + std::to_string(now) + " variables, \"" + other + "\" would restore " +
                        std::to_string(alt) + ". Set fine_tune_checkpoint_type: \"" + other + "\"";
      if (plan_.checkpoint_type_origin == "default") {
        msg += " (the type defaulted to \"classification\" because neither fine_tune_checkpoint_type nor "
               "from_detection_checkpoint is set)";
      }
      plan_.Add(Level::kWarning, "checkpoint_type_mismatch", msg);
    }
  }

  // A changed num_classes shows in the class predictors: same rank, different last dimension.
  // With the model's num_classes known, the last dimension is anchors x (classes + 1), which
  // gives the checkpoint's class count too. One note per distinct change.
  void NumClassesDiagnostics() {
    std::vector<std::string> seen;
    for (size_t i = 0; i < num_model_; ++i) {
      const ModelVariable& v = plan_.variables[i].variable;
      if (v.name.find("ClassPredictor") == std::string::npos &&
          v.name.find("class_predictions_with_background") == std::string::npos) {
        continue;
      }
      const CheckpointTensor* t = ckpt_->Find(v.name);
      if (t == nullptr || t->shape.size() != v.shape.size() || v.shape.empty() || t->shape == v.shape) continue;
      bool only_last = true;
      for (size_t d = 0; d + 1 < v.shape.size(); ++d) only_last &= t->shape[d] == v.shape[d];
      if (!only_last) continue;
      const int64_t model_out = v.shape.back(), ckpt_out = t->shape.back();
      std::string what;
      const int64_t per_anchor = s_.num_classes > 0 ? s_.num_classes + 1 : 0;
      if (per_anchor > 0 && model_out % per_anchor == 0 && model_out > 0 && ckpt_out % (model_out / per_anchor) == 0) {
        const int64_t anchors = model_out / per_anchor;
        const int64_t ckpt_classes = ckpt_out / anchors - 1;
        what = "num_classes changed from " + std::to_string(ckpt_classes) + " (checkpoint) to " +
               std::to_string(s_.num_classes) + " (model)";
        if (std::find(seen.begin(), seen.end(), what) != seen.end()) continue;
        seen.push_back(what);
        what += ": '" + v.name + "' has " + std::to_string(ckpt_out) + " = " + std::to_string(anchors) + " x " +
                std::to_string(ckpt_classes + 1) + " outputs in the checkpoint, " + std::to_string(model_out) + " = " +
                std::to_string(anchors) + " x " + std::to_string(per_anchor) + " in the model (classes + background per anchor)";
      } else {
        what = "the class predictors differ in size";
        const std::string key = what + std::to_string(ckpt_out) + "/" + std::to_string(model_out);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(key);
        what += ": '" + v.name + "' has " + std::to_string(ckpt_out) + " outputs in the checkpoint, " +
                std::to_string(model_out) + " in the model; num_classes changed";
      }
      const PlannedVariable& p = plan_.variables[i];
      const std::string fate = !plan_.ok() ? "(the run fails before this matters)"
                               : p.action == Action::kNotRequested
                                   ? "the class heads are outside the restore scope and start fresh, as intended"
                                   : p.action == Action::kError ? "restoring them fails: use fine_tune_checkpoint_type \"detection\""
                                                                : "they are not restored and start fresh";
      plan_.Add(Level::kNote, "num_classes_changed", what + "; " + fate);
    }
  }

  void TrainingStateDiagnostics() {
    size_t slots = 0, ema = 0, step = 0, state = 0;
    for (const CheckpointTensor& t : ckpt_->tensors()) {
      switch (t.kind) {
        case VariableKind::kOptimizerSlot: ++slots; break;
        case VariableKind::kEmaShadow: ++ema; break;
        case VariableKind::kGlobalStep: ++step; break;
        case VariableKind::kOptimizerState: state += t.key != bundle::kObjectGraphKey; break;
        case VariableKind::kModel: break;
      }
    }
    if (slots + ema + step + state == 0) return;
    size_t restored = 0;
    for (size_t i = 0; i < ckpt_->size(); ++i) restored += used_[i] && ckpt_->tensors()[i].kind != VariableKind::kModel;
    plan_.Add(Level::kNote, "training_state",
              "the checkpoint holds training state: " + std::to_string(slots) + " optimizer slots, " +
                  std::to_string(ema) + " moving-average shadows, " + std::to_string(step + state) +
                  " step/optimizer variables; " + std::to_string(restored) + " of them restored" +
                  (ema > 0 && o_.profile == Profile::kWarmstart && !o_.use_ema_values
                       ? " (use_ema_values restores the shadows' values in place of the raw ones)"
                       : ""));
  }

  const CheckpointListing* ckpt_;
  FineTuneSettings s_;
  PlanOptions o_;
  AssignmentMap assignment_;
  RestorePlan plan_;
  size_t num_model_ = 0;
  size_t num_with_paths_ = 0;
  size_t ema_used_ = 0;
  detail::PatternList freeze_, update_;
  std::string freeze_failure_, update_failure_;
  std::vector<size_t> bad_[2];
  bool failure_unsupported_[2] = {false, false};
  detail::PatternEvaluation freeze_eval_, update_eval_;
  std::vector<std::string> deferred_errors_;
  std::vector<size_t> sorted_model_;      // model variable indices by name
  std::vector<uint8_t> used_;             // per checkpoint tensor: restored into some variable
  std::deque<std::string> key_storage_;  // keys that are not a variable's own name
};

// `ckpt` may be null only when settings.fine_tune_checkpoint is empty. The plan keeps a copy of
// every model variable; pass the list by std::move when it is not needed afterwards.
inline RestorePlan MakePlan(std::vector<ModelVariable> model, const CheckpointListing* ckpt,
                            const FineTuneSettings& settings, const PlanOptions& options = {}) {
  return Planner(std::move(model), ckpt, settings, options).Run();
}

// ---- output ----

inline nlohmann::json RestorePlan::ToJson() const {
  using nlohmann::json;
  json j;
  j["profile"] = ProfileName(profile);
  j["checkpoint_type"] = checkpoint_type;
  j["checkpoint_type_origin"] = checkpoint_type_origin;
  j["checkpoint"] = checkpoint;
  j["matching"] = matching;
  json vars = json::array();
  for (const PlannedVariable& p : variables) {
    json v;
    v["name"] = p.variable.name;
    v["dtype"] = bundle::DataTypeName(p.variable.dtype);
    v["shape"] = p.variable.shape;
    v["kind"] = VariableKindName(p.variable.kind);
    if (!p.variable.object_path.empty()) v["object_path"] = p.variable.object_path;
    v["action"] = ActionName(p.action);
    v["checkpoint_key"] = p.checkpoint_key.empty() ? json(nullptr) : json(p.checkpoint_key);
    v["checkpoint_shape"] = p.in_checkpoint ? json(p.checkpoint_shape) : json(nullptr);
    v["checkpoint_dtype"] = p.in_checkpoint ? json(bundle::DataTypeName(p.checkpoint_dtype)) : json(nullptr);
    v["reason"] = p.reason;
    v["trainable"] = p.trainable;
    v["frozen_by"] = p.frozen_by ? json(*p.frozen_by) : json(nullptr);
    v["excluded_by_update"] = p.excluded_by_update;
    v["gradient_multiplier"] = p.gradient_multiplier;
    vars.push_back(std::move(v));
  }
  j["variables"] = std::move(vars);
  j["unused_checkpoint_keys"] = unused_checkpoint_keys;
  j["log"] = log;
  json diags = json::array();
  for (const Diagnostic& d : diagnostics) {
    diags.push_back({{"level", Diagnostic::LevelName(d.level)}, {"code", d.code}, {"message", d.message}});
  }
  j["diagnostics"] = std::move(diags);
  j["error"] = error.empty() ? json(nullptr) : json(error);
  j["error_source"] = error.empty() ? json(nullptr) : json(error_source);
  j["gradient_clipping"] = {{"mode", clipping.mode}, {"norm", clipping.norm}};
  const Counts c = counts();
  j["summary"] = {{"model_variables", c.model_variables}, {"restored", c.restored},
                  {"missing", c.missing},                 {"shape_mismatch", c.shape_mismatch},
                  {"dtype_mismatch", c.dtype_mismatch},   {"not_requested", c.not_requested},
                  {"errors", c.errors},                   {"trainable", c.trainable},
                  {"frozen", c.frozen},                   {"model_parameters", c.model_parameters},
                  {"restored_parameters", c.restored_parameters}};
  return j;
}

inline std::string RestorePlan::Summary() const {
  const Counts c = counts();
  std::string out = "profile " + std::string(ProfileName(profile)) + " (" + ProfileBinary(profile) +
                    "), fine_tune_checkpoint_type \"" + checkpoint_type + "\" (" + checkpoint_type_origin + ")\n";
  out += "checkpoint " + (checkpoint.empty() ? std::string("(none)") : checkpoint) + ", matching by " + matching + "\n";
  const auto row = [&](const char* label, size_t n) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "  %-16s %8zu\n", label, n);
    out += buf;
  };
  row("restore", c.restored);
  row("missing", c.missing);
  row("shape mismatch", c.shape_mismatch);
  row("dtype mismatch", c.dtype_mismatch);
  row("not requested", c.not_requested);
  row("error", c.errors);
  out += "  model variables  " + std::to_string(c.model_variables) + ", parameters restored " +
         detail::WithCommas(c.restored_parameters) + " of " + detail::WithCommas(c.model_parameters) + " (" +
         detail::Percent(c.restored_parameters, c.model_parameters) + ")\n";
  out += "  trainable " + std::to_string(c.trainable) + ", frozen by patterns " + std::to_string(c.frozen) + "\n";
  if (c.training_state > 0) out += "  training state created by the loop: " + std::to_string(c.training_state) + "\n";
  if (clipping.mode != "none") out += "  gradient clipping: " + clipping.mode + " " + detail::PercentF(clipping.norm) + "\n";
  for (const Diagnostic& d : diagnostics) out += std::string(Diagnostic::LevelName(d.level)) + ": " + d.message + "\n";
  if (!error.empty()) out += "fails: " + error + "\n";
  return out;
}

}  // namespace warmstart::restore
