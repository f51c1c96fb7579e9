// The Object Detection API's restore rules, one function per rule of the spec
// (../shared/spec/odapi-finetune-semantics.md, cited by section):
//
//   FineTuneSettings        what train_config and the model section say (§1, §2)
//   Profile                 which training path to emulate (§0: A = tf1-legacy, B = tf1-estimator,
//                           C = tf2) or warmstart's own
//   Tf1RestoreMap           restore_map per meta-architecture and type (§3.2, §3.3)
//   Tf2RestoreRoots         restore_from_objects per meta-architecture and type (§5.5)
//   Tf2ExtractorCheck       which feature extractors exist under TF1 / TF2 (§0)
//   AssignmentMap           tf.train.init_from_checkpoint's assignment-map rules, for custom models
//
// The rules only compute names; plan.hpp decides and explains.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/error.hpp"
#include "warmstart/restore/variables.hpp"

namespace warmstart::restore {

// ---- profiles ----

enum class Profile { kTf1Legacy, kTf1Estimator, kTf2, kWarmstart };

inline const char* ProfileName(Profile p) {
  switch (p) {
    case Profile::kTf1Legacy: return "tf1-legacy";
    case Profile::kTf1Estimator: return "tf1-estimator";
    case Profile::kTf2: return "tf2";
    case Profile::kWarmstart: return "warmstart";
  }
  return "warmstart";
}

// The entry point each profile emulates, for messages.
inline const char* ProfileBinary(Profile p) {
  switch (p) {
    case Profile::kTf1Legacy: return "legacy/train.py";
    case Profile::kTf1Estimator: return "model_main.py";
    case Profile::kTf2: return "model_main_tf2.py";
    case Profile::kWarmstart: return "warmstart";
  }
  return "warmstart";
}

inline Profile ParseProfile(std::string_view name) {
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator, Profile::kTf2, Profile::kWarmstart}) {
    if (name == ProfileName(p)) return p;
  }
  throw ArgumentError("unknown profile '" + std::string(name) +
                      "' (expected tf1-legacy, tf1-estimator, tf2 or warmstart)");
}

// ---- settings ----

enum class OptimizerKind { kNone, kRmsProp, kMomentum, kAdam };

// The fields of pipeline.config the rules read. A trainer without a pipeline.config fills it in
// directly; FromConfig reads it from one (defaults as the protos declare them).
struct FineTuneSettings {
  std::string fine_tune_checkpoint;
  std::string fine_tune_checkpoint_type;  // as written; "" = absent
  bool from_detection_checkpoint = false;
  bool load_all_detection_checkpoint_vars = false;
  config::CheckpointVersion fine_tune_checkpoint_version = config::CheckpointVersion::kV1;
  bool run_fine_tune_checkpoint_dummy_computation = true;
  std::vector<std::string> freeze_variables;
  std::vector<std::string> update_trainable_variables;
  float bias_grad_multiplier = 0;
  float gradient_clipping_by_norm = 0;
  config::MetaArch meta_arch = config::MetaArch::kSsd;
  std::string meta_arch_name = "ssd";
  std::string feature_extractor_type;
  int num_classes = 0;  // the model's, without background (0 = unknown)
  OptimizerKind optimizer = OptimizerKind::kNone;
  bool use_moving_average = false;  // optimizer.use_moving_average (true by default when an optimizer is set)

  // Spec §2: an explicit type wins; otherwise "detection" when from_detection_checkpoint, else
  // "classification".
  std::string ResolvedType() const {
    if (!fine_tune_checkpoint_type.empty()) return fine_tune_checkpoint_type;
    return from_detection_checkpoint ? "detection" : "classification";
  }

  static FineTuneSettings FromConfig(const config::PipelineConfig& cfg) {
    const config::TrainConfig& t = cfg.train();
    FineTuneSettings s;
    s.fine_tune_checkpoint = t.fine_tune_checkpoint;
    s.fine_tune_checkpoint_type = t.fine_tune_checkpoint_type;
    s.from_detection_checkpoint = t.from_detection_checkpoint;
    s.load_all_detection_checkpoint_vars = t.load_all_detection_checkpoint_vars;
    s.fine_tune_checkpoint_version = t.fine_tune_checkpoint_version;
    s.run_fine_tune_checkpoint_dummy_computation = t.run_fine_tune_checkpoint_dummy_computation;
    s.freeze_variables = t.freeze_variables;
    s.update_trainable_variables = t.update_trainable_variables;
    s.bias_grad_multiplier = t.bias_grad_multiplier;
    s.gradient_clipping_by_norm = t.gradient_clipping_by_norm;
    s.meta_arch = cfg.meta_arch();
    s.meta_arch_name = cfg.meta_arch_name();
    s.feature_extractor_type = cfg.feature_extractor_type();
    if (cfg.ssd()) s.num_classes = cfg.ssd()->num_classes;
    if (cfg.faster_rcnn()) s.num_classes = cfg.faster_rcnn()->num_classes;
    if (t.optimizer) {
      switch (t.optimizer->kind) {
        case config::Optimizer::Kind::kRmsProp: s.optimizer = OptimizerKind::kRmsProp; break;
        case config::Optimizer::Kind::kMomentum: s.optimizer = OptimizerKind::kMomentum; break;
        case config::Optimizer::Kind::kAdam: s.optimizer = OptimizerKind::kAdam; break;
        case config::Optimizer::Kind::kNone: s.optimizer = OptimizerKind::kNone; break;
      }
      s.use_moving_average = t.optimizer->use_moving_average;
    }
    return s;
  }
};

// ---- TF1: restore_map (§3.2) and classification name rewriting (§3.3) ----

inline constexpr std::string_view kSsdScope = "FeatureExtractor";
inline constexpr std::string_view kFirstStageScope = "FirstStageFeatureExtractor";
inline constexpr std::string_view kSecondStageScope = "SecondStageFeatureExtractor";

// Python's str.replace(old, new): every occurrence, left to right, non-overlapping.
inline std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// One entry of a restore map: the checkpoint-side key and the graph variable it fills. The
// key views either the variable's own name or a string in the result's storage.
struct RestoreRequest {
  std::string_view key;
  size_t variable = 0;
};

// The graph as the rules see it: every variable's name by index (index order = creation
// order, which decides Python dict collisions) and the indices sorted by name.
struct GraphNames {
  std::vector<std::string_view> names;
  std::vector<size_t> sorted;
};

// The result of building a TF1 restore map, with Python dict semantics: when two variables
// map to one key, the one created later (higher index) wins and the other is `displaced`.
struct Tf1RestoreMapResult {
  std::string error;                     // the exception TF raises ("ValueError: ..."), "" if none
  std::vector<RestoreRequest> requests;  // one per key, sorted by key
  std::vector<std::pair<size_t, std::string>> displaced;  // (variable, key) replaced by a later one
  std::string scope;                     // how the selection reads, for "not requested" reasons
  std::deque<std::string> storage;       // rewritten keys

  std::string_view Own(std::string key) {
    storage.push_back(std::move(key));
    return storage.back();
  }
};

// Sorts requests by key (usually they already are: the names come in sorted order and the
// rewrites keep it) and resolves duplicate keys as a Python dict does.
inline void ResolveDictOrder(std::vector<RestoreRequest>* requests,
                             std::vector<std::pair<size_t, std::string>>* displaced) {
  const auto by_key = [](const RestoreRequest& a, const RestoreRequest& b) {
    return a.key < b.key || (a.key == b.key && a.variable < b.variable);
  };
  if (!std::is_sorted(requests->begin(), requests->end(), by_key)) std::sort(requests->begin(), requests->end(), by_key);
  size_t out = 0;
  for (size_t i = 0; i < requests->size(); ++i) {
    const RestoreRequest& r = (*requests)[i];
    if (i + 1 < requests->size() && (*requests)[i + 1].key == r.key) {
      if ((*requests)[i + 1].variable != r.variable && displaced != nullptr) displaced->emplace_back(r.variable, std::string(r.key));
      continue;  // the later variable (next, higher index) wins
    }
    (*requests)[out++] = r;
  }
  requests->resize(out);
}

namespace detail {

// The classification variants (§3.3), chosen by feature extractor type.
enum class ClassificationVariant { kDefault, kEmaSuffix, kInceptionResnetV2 };

inline ClassificationVariant SsdVariant(const std::string& type) {
  return type == "ssd_pnasnet" ? ClassificationVariant::kEmaSuffix : ClassificationVariant::kDefault;
}

inline ClassificationVariant FasterRcnnVariant(const std::string& type) {
  if (type == "faster_rcnn_nas" || type == "faster_rcnn_pnas") return ClassificationVariant::kEmaSuffix;
  if (type == "faster_rcnn_inception_resnet_v2") return ClassificationVariant::kInceptionResnetV2;
  return ClassificationVariant::kDefault;
}

}  // namespace detail

// `graph` is every global variable of the TF1 graph at the time restore_map runs (model
// variables, and in path A also slots, shadows and global_step). `load_all` is
// load_all_detection_checkpoint_vars. `allow_full` lets the warmstart profile use "full" (TF1
// has no such type: every model variable by its own name).
inline Tf1RestoreMapResult Tf1RestoreMap(const GraphNames& graph, const FineTuneSettings& s, const std::string& type,
                                         bool load_all, bool allow_full = false) {
  Tf1RestoreMapResult r;
  std::vector<RestoreRequest>& out = r.requests;
  const auto same = [&](size_t i) { out.push_back({graph.names[i], i}); };
  const auto rewritten = [&](size_t i, std::string key) {
    if (key == graph.names[i]) return same(i);
    out.push_back({r.Own(std::move(key)), i});
  };
  const auto not_supported = [&] { r.error = "ValueError: Not supported fine_tune_checkpoint_type: " + type; };
  switch (s.meta_arch) {
    case config::MetaArch::kSsd: {
      if (type == "classification") {
        const std::string scope_slash = std::string(kSsdScope) + "/";
        if (detail::SsdVariant(s.feature_extractor_type) == detail::ClassificationVariant::kEmaSuffix) {
          r.scope = "names starting with 'FeatureExtractor' (PNASNet: key + '/ExponentialMovingAverage')";
          for (size_t i : graph.sorted) {
            if (detail::StartsWith(graph.names[i], kSsdScope)) {
              rewritten(i, ReplaceAll(graph.names[i], scope_slash, "") + std::string(kEmaSuffix));
            }
          }
        } else {
          r.scope = "names starting with 'FeatureExtractor/'";
          for (size_t i : graph.sorted) {
            if (detail::StartsWith(graph.names[i], scope_slash)) rewritten(i, ReplaceAll(graph.names[i], scope_slash, ""));
          }
        }
      } else if (type == "detection" || (allow_full && type == "full")) {
        if (load_all || type == "full") {
          r.scope = "every variable";
          for (size_t i : graph.sorted) same(i);
        } else {
          r.scope = "names starting with 'FeatureExtractor'";
          for (size_t i : graph.sorted) {
            if (detail::StartsWith(graph.names[i], kSsdScope)) same(i);
          }
        }
      } else {
        not_supported();
      }
      break;
    }
    case config::MetaArch::kFasterRcnn: {
      if (type != "detection" && type != "classification" && !(allow_full && type == "full")) {
        not_supported();
        break;
      }
      if (type == "classification") {
        const auto variant = detail::FasterRcnnVariant(s.feature_extractor_type);
        r.scope = "names starting with 'FirstStageFeatureExtractor' or 'SecondStageFeatureExtractor'";
        for (size_t i : graph.sorted) {
          const std::string_view n = graph.names[i];
          for (std::string_view scope : {kFirstStageScope, kSecondStageScope}) {
            if (!detail::StartsWith(n, scope)) continue;
            const std::string scope_slash = std::string(scope) + "/";
            std::string key;
            if (variant == detail::ClassificationVariant::kInceptionResnetV2 && scope == kSecondStageScope) {
              key = ReplaceAll(ReplaceAll(n, "SecondStageFeatureExtractor/InceptionResnetV2/Repeat",
                                          "InceptionResnetV2/Repeat_2"),
                               scope_slash, "");
            } else {
              key = ReplaceAll(n, scope_slash, "");
            }
            if (variant == detail::ClassificationVariant::kEmaSuffix) key += kEmaSuffix;
            rewritten(i, std::move(key));
          }
        }
      } else {
        // All global variables plus get_or_create_global_step() (appended: the same variable,
        // so the same key), filtered by re.search on the name with ":0" unless load_all.
        const bool all = load_all || type == "full";
        r.scope = all ? "every variable" : "names containing 'FirstStageFeatureExtractor' or 'SecondStageFeatureExtractor'";
        for (size_t i : graph.sorted) {
          const std::string_view n = graph.names[i];
          if (all || n.find(kFirstStageScope) != std::string_view::npos ||
              n.find(kSecondStageScope) != std::string_view::npos) {
            same(i);
          }
        }
      }
      break;
    }
    case config::MetaArch::kCenterNet:
      r.error = "RuntimeError: CenterNetMetaArch not supported under TF1.x.";
      break;
    default:
      r.error = "ArgumentError: no restore map is known for meta-architecture '" + s.meta_arch_name + "'";
      break;
  }
  if (r.error.empty()) ResolveDictOrder(&r.requests, &r.displaced);
  return r;
}

// ---- TF2: restore_from_objects (§5.5) ----

// A subtree of the model mapped onto a subtree of the checkpoint: model variables whose object
// path starts with `model_prefix` are looked up at `checkpoint_prefix` + the rest.
struct ObjectRoot {
  std::string model_prefix;       // with a trailing '/'
  std::string checkpoint_prefix;  // with a trailing '/'
};

struct Tf2RestoreRootsResult {
  std::string error;
  std::vector<ObjectRoot> roots;
};

// The Keras attribute that holds the classification backbone, as the model's object graph
// names it: SSD and Faster R-CNN Keras extractors set `self.classification_backbone`; CenterNet
// extractors return `self._base_model` from a property.
inline std::string ClassificationBackbonePath(config::MetaArch m) {
  return m == config::MetaArch::kCenterNet ? "model/_feature_extractor/_base_model/"
                                           : "model/_feature_extractor/classification_backbone/";
}

inline Tf2RestoreRootsResult Tf2RestoreRoots(const FineTuneSettings& s, const std::string& type) {
  Tf2RestoreRootsResult r;
  const bool center_net = s.meta_arch == config::MetaArch::kCenterNet;
  if (s.meta_arch != config::MetaArch::kSsd && s.meta_arch != config::MetaArch::kFasterRcnn && !center_net) {
    r.error = "ArgumentError: no restore_from_objects is known for meta-architecture '" + s.meta_arch_name + "'";
    return r;
  }
  if (type == "classification") {
    if (center_net && s.feature_extractor_type.rfind("hourglass", 0) == 0) {
      r.error = "NotImplementedError: Classification backbone not supported for <class "
                "'object_detection.models.center_net_hourglass_feature_extractor.CenterNetHourglassFeatureExtractor'>";
      return r;
    }
    r.roots.push_back({ClassificationBackbonePath(s.meta_arch), "feature_extractor/"});
  } else if (type == "detection") {
    if (s.meta_arch == config::MetaArch::kFasterRcnn) {
      r.roots.push_back({"model/_feature_extractor_for_box_classifier_features/",
                         "model/_feature_extractor_for_box_classifier_features/"});
      r.roots.push_back({"model/_feature_extractor_for_proposal_features/",
                         "model/_feature_extractor_for_proposal_features/"});
    } else {
      r.roots.push_back({"model/_feature_extractor/", "model/_feature_extractor/"});
    }
  } else if (type == "full") {
    r.roots.push_back({"model/", "model/"});
  } else if (center_net && type == "fine_tune") {
    r.error =
        "ValueError: \"fine_tune\" is no longer supported for CenterNet. Please set fine_tune_checkpoint_type to "
        "\"detection\" which has the same functionality. If you are using the ExtremeNet checkpoint, download the "
        "new version from the model zoo.";
  } else if (center_net) {
    r.error = "ValueError: Unknown fine tune checkpoint type " + type;
  } else {
    r.error = "ValueError: Not supported fine_tune_checkpoint_type: " + type;
  }
  return r;
}

// ---- which feature extractors exist under which TensorFlow (§0) ----

// builders/model_builder.py registers slim extractors only under TF1 and Keras ones (and every
// CenterNet one) only under TF2. The Keras SSD and Faster R-CNN types end in "_keras"; that is
// the rule used here. Returns the ValueError text, or "" when the type exists for `tf_version`.
inline std::string FeatureExtractorVersionError(const FineTuneSettings& s, int tf_version) {
  if (s.feature_extractor_type.empty()) return "";
  bool tf2_only = false;
  if (s.meta_arch == config::MetaArch::kCenterNet) {
    tf2_only = true;
  } else if (s.meta_arch == config::MetaArch::kSsd || s.meta_arch == config::MetaArch::kFasterRcnn) {
    tf2_only = detail::EndsWith(s.feature_extractor_type, "_keras");
  } else {
    return "";
  }
  if (tf2_only == (tf_version == 2)) return "";
  return "ValueError: " + s.feature_extractor_type + " is not supported for tf version " + std::to_string(tf_version) +
         ". See `model_builder.py` for features extractors compatible with different versions of Tensorflow";
}

// ---- TF1 training state that path A creates before restoring (§3.1, §3.5) ----

// Slot names per optimizer, in creation order.
inline std::vector<std::string> SlotSuffixes(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::kRmsProp: return {"RMSProp", "RMSProp_1"};
    case OptimizerKind::kMomentum: return {"Momentum"};
    case OptimizerKind::kAdam: return {"Adam", "Adam_1"};
    case OptimizerKind::kNone: return {};
  }
  return {};
}

// ---- tf.train.init_from_checkpoint assignment maps ----

// One `checkpoint_side: model_side` entry. Forms (as init_from_checkpoint reads them):
//   "ckpt/name": "model/name"       one variable
//   "ckpt_scope/": "model_scope/"   every model variable under model_scope/ reads
//                                   ckpt_scope/ + the rest of its name
//   "/": "model_scope/"             every model variable under model_scope/ reads the rest of
//                                   its name from the checkpoint's root
class AssignmentMap {
 public:
  struct Rule {
    std::string checkpoint_side;
    std::string model_side;
    bool scope = false;
    size_t used = 0;
  };

  AssignmentMap() = default;
  explicit AssignmentMap(const std::vector<std::pair<std::string, std::string>>& entries) {
    for (const auto& [ckpt, model] : entries) Add(ckpt, model);
  }
  // The index views the rules' strings: copies rebuild it.
  AssignmentMap(const AssignmentMap& other) : rules_(other.rules_) {}
  AssignmentMap& operator=(const AssignmentMap& other) {
    rules_ = other.rules_;
    index_dirty_ = true;
    return *this;
  }
  AssignmentMap(AssignmentMap&& other) noexcept : rules_(std::move(other.rules_)) {}
  AssignmentMap& operator=(AssignmentMap&& other) noexcept {
    rules_ = std::move(other.rules_);
    index_dirty_ = true;
    return *this;
  }

  void Add(const std::string& checkpoint_side, const std::string& model_side) {
    const std::string where = "assignment map entry '" + checkpoint_side + "': '" + model_side + "'";
    if (checkpoint_side.empty() || model_side.empty()) throw ArgumentError(where + ": both sides must be non-empty");
    Rule r;
    r.scope = checkpoint_side.back() == '/';
    if (r.scope != (model_side.back() == '/')) {
      throw ArgumentError(where + ": a scope (ending in '/') must map to a scope");
    }
    r.checkpoint_side = checkpoint_side == "/" ? "" : checkpoint_side;
    r.model_side = model_side == "/" ? "" : model_side;
    rules_.push_back(std::move(r));
    index_dirty_ = true;  // the views in the index may dangle after the push_back
  }

  bool empty() const { return rules_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }

  // The checkpoint key for a model variable name, or nullopt when no rule covers it. An exact
  // entry wins over a scope, a longer model-side scope over a shorter one. Cost: one hash
  // lookup per '/' of the name, whatever the number of rules.
  std::optional<std::string> KeyFor(const std::string& model_name) {
    if (index_dirty_) Reindex();
    if (auto it = exact_.find(model_name); it != exact_.end()) {
      Rule& r = rules_[it->second];
      ++r.used;
      return r.checkpoint_side;
    }
    for (size_t end = model_name.size(); end > 0; --end) {
      if (model_name[end - 1] != '/') continue;
      if (auto it = scopes_.find(std::string_view(model_name).substr(0, end)); it != scopes_.end()) {
        Rule& r = rules_[it->second];
        ++r.used;
        return r.checkpoint_side + model_name.substr(end);
      }
    }
    if (auto it = scopes_.find(std::string_view()); it != scopes_.end()) {  // a root model side
      Rule& r = rules_[it->second];
      ++r.used;
      return r.checkpoint_side + model_name;
    }
    return std::nullopt;
  }

 private:
  // Later entries for the same model side replace earlier ones, as in a Python dict.
  void Reindex() {
    exact_.clear();
    scopes_.clear();
    for (size_t i = 0; i < rules_.size(); ++i) {
      (rules_[i].scope ? scopes_ : exact_)[rules_[i].model_side] = i;
    }
    index_dirty_ = false;
  }

  std::vector<Rule> rules_;
  std::unordered_map<std::string_view, size_t> exact_, scopes_;  // views of rules_[i].model_side
  bool index_dirty_ = true;
};

}  // namespace warmstart::restore
