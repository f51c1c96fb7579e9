// The policy engine, rule by rule (../shared/spec/odapi-finetune-semantics.md §2-§5).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "warmstart/restore/plan.hpp"

namespace {

using namespace warmstart::restore;
using warmstart::bundle::DataType;

ModelVariable V(std::string name, Shape shape = {3}, bool trainable = true, DataType dtype = DataType::kFloat) {
  ModelVariable v;
  v.name = std::move(name);
  v.shape = std::move(shape);
  v.trainable = trainable;
  v.dtype = dtype;
  return v;
}

ModelVariable O(std::string path, Shape shape = {3}, bool trainable = true) {
  ModelVariable v = V(path + "/.ATTRIBUTES/VARIABLE_VALUE", std::move(shape), trainable);
  v.object_path = std::move(path);
  return v;
}

CheckpointTensor T(std::string key, Shape shape = {3}, DataType dtype = DataType::kFloat) {
  return {std::move(key), dtype, std::move(shape), VariableKind::kModel};
}

CheckpointListing L(std::vector<CheckpointTensor> t) { return CheckpointListing("ckpt/model.ckpt", std::move(t)); }

FineTuneSettings Ssd(std::string type = "detection") {
  FineTuneSettings s;
  s.fine_tune_checkpoint = "ckpt/model.ckpt";
  s.fine_tune_checkpoint_type = std::move(type);
  s.meta_arch = warmstart::config::MetaArch::kSsd;
  s.meta_arch_name = "ssd";
  s.feature_extractor_type = "ssd_mobilenet_v1";
  return s;
}

FineTuneSettings FasterRcnn(std::string type = "detection") {
  FineTuneSettings s = Ssd(std::move(type));
  s.meta_arch = warmstart::config::MetaArch::kFasterRcnn;
  s.meta_arch_name = "faster_rcnn";
  s.feature_extractor_type = "faster_rcnn_resnet101";
  return s;
}

PlanOptions P(Profile p) {
  PlanOptions o;
  o.profile = p;
  return o;
}

const PlannedVariable& Get(const RestorePlan& plan, const std::string& name) {
  const PlannedVariable* v = plan.Find(name);
  INFO("variable " << name);
  REQUIRE(v != nullptr);
  return *v;
}

bool HasDiagnostic(const RestorePlan& plan, const std::string& code, const std::string& needle = "") {
  return std::any_of(plan.diagnostics.begin(), plan.diagnostics.end(), [&](const Diagnostic& d) {
    return d.code == code && d.message.find(needle) != std::string::npos;
  });
}

std::vector<std::string> Restored(const RestorePlan& plan) {
  std::vector<std::string> out;
  for (const PlannedVariable& v : plan.variables) {
    if (v.action == Action::kRestore) out.push_back(v.variable.name);
  }
  return out;
}

}  // namespace

TEST_CASE("type resolution: explicit wins, else from_detection_checkpoint, else classification (spec 2)") {
  FineTuneSettings s;
  CHECK(s.ResolvedType() == "classification");
  s.from_detection_checkpoint = true;
  CHECK(s.ResolvedType() == "detection");
  s.fine_tune_checkpoint_type = "classification";
  CHECK(s.ResolvedType() == "classification");  // contradicts the flag, still wins
  s.fine_tune_checkpoint_type = "full";
  CHECK(s.ResolvedType() == "full");
}

TEST_CASE("SSD detection: prefix test without a slash, heads and global_step not requested (spec 3.2)") {
  const std::vector<ModelVariable> model = {V("FeatureExtractor/MobilenetV1/Conv2d_0/weights"),
                                            V("FeatureExtractorX/extra"), V("BoxPredictor_0/ClassPredictor/biases")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/MobilenetV1/Conv2d_0/weights"), T("FeatureExtractorX/extra"),
                                    T("BoxPredictor_0/ClassPredictor/biases"), T("global_step", {}, DataType::kInt64)});
  for (Profile p : {Profile::kTf1Estimator, Profile::kWarmstart}) {
    const RestorePlan plan = MakePlan(model, &ckpt, Ssd(), P(p));
    CHECK(plan.ok());
    CHECK(Get(plan, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").action == Action::kRestore);
    CHECK(Get(plan, "FeatureExtractorX/extra").action == Action::kRestore);
    CHECK(Get(plan, "BoxPredictor_0/ClassPredictor/biases").action == Action::kNotRequested);
    CHECK(Get(plan, "BoxPredictor_0/ClassPredictor/biases").reason.find("FeatureExtractor") != std::string::npos);
  }
  const RestorePlan b = MakePlan(model, &ckpt, Ssd(), P(Profile::kTf1Estimator));
  CHECK(Get(b, "global_step").action == Action::kNotRequested);
  CHECK(Get(b, "global_step").variable.kind == VariableKind::kGlobalStep);
  // The binaries that passed hparams (load_pretrained true) logged two lines first (spec 3.6).
  CHECK(b.log == std::vector<std::string>{"Maybe overwriting load_pretrained: True",
                                          "Ignoring config override key: load_pretrained"});
  CHECK(b.unused_checkpoint_keys == std::vector<std::string>{"BoxPredictor_0/ClassPredictor/biases", "global_step"});
}

TEST_CASE("SSD classification: every 'FeatureExtractor/' removed, selection needs the slash (spec 3.3)") {
  const std::vector<ModelVariable> model = {V("FeatureExtractor/MobilenetV1/Conv2d_0/weights"),
                                            V("FeatureExtractor/MobilenetV1/FeatureExtractor/odd"),
                                            V("FeatureExtractorX/extra"), V("BoxPredictor_0/BoxEncodingPredictor/biases")};
  const CheckpointListing ckpt = L({T("MobilenetV1/Conv2d_0/weights"), T("MobilenetV1/odd")});
  const RestorePlan plan = MakePlan(model, &ckpt, Ssd("classification"), P(Profile::kTf1Estimator));
  CHECK(Get(plan, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").checkpoint_key == "MobilenetV1/Conv2d_0/weights");
  CHECK(Get(plan, "FeatureExtractor/MobilenetV1/Conv2d_0/weights").action == Action::kRestore);
  CHECK(Get(plan, "FeatureExtractor/MobilenetV1/FeatureExtractor/odd").checkpoint_key == "MobilenetV1/odd");
  CHECK(Get(plan, "FeatureExtractorX/extra").action == Action::kNotRequested);
  CHECK(Get(plan, "BoxPredictor_0/BoxEncodingPredictor/biases").action == Action::kNotRequested);

  FineTuneSettings pnas = Ssd("classification");
  pnas.feature_extractor_type = "ssd_pnasnet";
  const CheckpointListing ema = L({T("cell_0/weights/ExponentialMovingAverage"), T("X/ExponentialMovingAverage")});
  const RestorePlan p = MakePlan({V("FeatureExtractor/cell_0/weights"), V("FeatureExtractorX")}, &ema, pnas,
                                 P(Profile::kTf1Estimator));
  CHECK(Get(p, "FeatureExtractor/cell_0/weights").checkpoint_key == "cell_0/weights/ExponentialMovingAverage");
  CHECK(Get(p, "FeatureExtractor/cell_0/weights").action == Action::kRestore);
  // PNASNet selects without the slash: "FeatureExtractorX" is requested as is + the suffix.
  CHECK(Get(p, "FeatureExtractorX").checkpoint_key == "FeatureExtractorX/ExponentialMovingAverage");
}

TEST_CASE("SSD: 'full' and unknown types are ValueErrors in TF1, 'full' restores everything in warmstart") {
  const std::vector<ModelVariable> model = {V("FeatureExtractor/a"), V("BoxPredictor_0/b")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/a"), T("BoxPredictor_0/b")});
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator}) {
    const RestorePlan plan = MakePlan(model, &ckpt, Ssd("full"), P(p));
    CHECK(plan.error == "ValueError: Not supported fine_tune_checkpoint_type: full");
    CHECK(Restored(plan).empty());
  }
  const RestorePlan w = MakePlan(model, &ckpt, Ssd("full"), P(Profile::kWarmstart));
  CHECK(w.ok());
  CHECK(Restored(w) == std::vector<std::string>{"FeatureExtractor/a", "BoxPredictor_0/b"});
  CHECK(MakePlan(model, &ckpt, Ssd("segmentation"), P(Profile::kWarmstart)).error ==
        "ValueError: Not supported fine_tune_checkpoint_type: segmentation");
}

TEST_CASE("path A creates slots, shadows and global_step before restoring: load_all requests them (spec 3.2, 3.5)") {
  FineTuneSettings s = Ssd("detection");
  s.load_all_detection_checkpoint_vars = true;
  s.optimizer = OptimizerKind::kRmsProp;
  s.use_moving_average = true;
  const std::vector<ModelVariable> model = {V("FeatureExtractor/w"), V("FeatureExtractor/BatchNorm/moving_mean", {3}, false),
                                            V("BoxPredictor_0/ClassPredictor/biases")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/w"), T("FeatureExtractor/BatchNorm/moving_mean"),
                                    T("BoxPredictor_0/ClassPredictor/biases", {6}), T("global_step", {}, DataType::kInt64)});
  const RestorePlan plan = MakePlan(model, &ckpt, s, P(Profile::kTf1Legacy));
  CHECK(plan.ok());
  // Slots and shadows only for trained variables; the frozen-by-nature moving_mean has none.
  CHECK(plan.Find("FeatureExtractor/w/RMSProp") != nullptr);
  CHECK(plan.Find("FeatureExtractor/w/RMSProp_1") != nullptr);
  CHECK(plan.Find("FeatureExtractor/w/ExponentialMovingAverage") != nullptr);
  CHECK(plan.Find("FeatureExtractor/BatchNorm/moving_mean/RMSProp") == nullptr);
  // Sorted by key; global_step is dropped from the checkpoint's listing, so it is "missing".
  const std::vector<std::string> expected = {
      "Variable [BoxPredictor_0/ClassPredictor/biases] is available in checkpoint, but has an incompatible shape with "
      "model variable. Checkpoint shape: [[6]], model variable shape: [[3]]. This variable will not be initialized "
      "from the checkpoint.",
      "Variable [BoxPredictor_0/ClassPredictor/biases/ExponentialMovingAverage] is not available in checkpoint",
      "Variable [BoxPredictor_0/ClassPredictor/biases/RMSProp] is not available in checkpoint",
      "Variable [BoxPredictor_0/ClassPredictor/biases/RMSProp_1] is not available in checkpoint",
      "Variable [FeatureExtractor/w/ExponentialMovingAverage] is not available in checkpoint",
      "Variable [FeatureExtractor/w/RMSProp] is not available in checkpoint",
      "Variable [FeatureExtractor/w/RMSProp_1] is not available in checkpoint",
      "Variable [global_step] is not available in checkpoint",
  };
  CHECK(plan.log == expected);
  CHECK(Get(plan, "global_step").action == Action::kMissing);
  CHECK(Get(plan, "global_step").reason.find("include_global_step=False") != std::string::npos);
  CHECK(Get(plan, "BoxPredictor_0/ClassPredictor/biases").action == Action::kShapeMismatch);
  CHECK(Get(plan, "FeatureExtractor/w").action == Action::kRestore);

  // Without load_all only the FeatureExtractor prefix passes, slots of those variables included.
  s.load_all_detection_checkpoint_vars = false;
  const RestorePlan a = MakePlan(model, &ckpt, s, P(Profile::kTf1Legacy));
  CHECK(a.log == std::vector<std::string>{
                     "Variable [FeatureExtractor/w/ExponentialMovingAverage] is not available in checkpoint",
                     "Variable [FeatureExtractor/w/RMSProp] is not available in checkpoint",
                     "Variable [FeatureExtractor/w/RMSProp_1] is not available in checkpoint"});
}

TEST_CASE("Adam in path A: slots Adam, Adam_1 and beta1_power / beta2_power") {
  FineTuneSettings s = Ssd("detection");
  s.load_all_detection_checkpoint_vars = true;
  s.optimizer = OptimizerKind::kAdam;
  const CheckpointListing ckpt = L({T("FeatureExtractor/w"), T("beta1_power", {})});
  const RestorePlan plan = MakePlan({V("FeatureExtractor/w")}, &ckpt, s, P(Profile::kTf1Legacy));
  CHECK(Get(plan, "FeatureExtractor/w/Adam_1").variable.kind == VariableKind::kOptimizerSlot);
  CHECK(Get(plan, "beta1_power").action == Action::kRestore);
  CHECK(Get(plan, "beta2_power").action == Action::kMissing);
  CHECK(plan.Find("FeatureExtractor/w/ExponentialMovingAverage") == nullptr);  // no EMA unless asked
}

TEST_CASE("shape warnings: double brackets, scalar as [[]] (spec 3.4)") {
  const std::vector<ModelVariable> model = {V("FeatureExtractor/s", {}), V("FeatureExtractor/w", {1, 1, 512, 12})};
  const CheckpointListing ckpt = L({T("FeatureExtractor/s", {1}), T("FeatureExtractor/w", {1, 1, 512, 546})});
  const RestorePlan plan = MakePlan(model, &ckpt, Ssd(), P(Profile::kTf1Legacy));
  REQUIRE(plan.log.size() == 2);
  CHECK(plan.log[0] ==
        "Variable [FeatureExtractor/s] is available in checkpoint, but has an incompatible shape with model variable. "
        "Checkpoint shape: [[1]], model variable shape: [[]]. This variable will not be initialized from the checkpoint.");
  CHECK(plan.log[1].find("Checkpoint shape: [[1, 1, 512, 546]], model variable shape: [[1, 1, 512, 12]].") !=
        std::string::npos);
  CHECK(Get(plan, "FeatureExtractor/w").checkpoint_shape == Shape{1, 1, 512, 546});
}

TEST_CASE("dtype is not compared by TF1: the restore op fails, warmstart skips (spec 3.4)") {
  const std::vector<ModelVariable> model = {V("FeatureExtractor/w"), V("FeatureExtractor/d")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/w"), T("FeatureExtractor/d", {3}, DataType::kDouble)});
  for (Profile p : {Profile::kTf1Legacy, Profile::kTf1Estimator}) {
    const RestorePlan plan = MakePlan(model, &ckpt, Ssd(), P(p));
    CHECK(Get(plan, "FeatureExtractor/d").action == Action::kError);
    CHECK(plan.error ==
          "InvalidArgumentError: tensor_name = FeatureExtractor/d; expected dtype float does not equal original dtype "
          "double");
    CHECK(std::none_of(plan.log.begin(), plan.log.end(), [](const std::string& l) {
      return l.rfind("Variable [", 0) == 0;  // the shape filter passes it silently
    }));
  }
  const RestorePlan w = MakePlan(model, &ckpt, Ssd(), P(Profile::kWarmstart));
  CHECK(w.ok());
  CHECK(Get(w, "FeatureExtractor/d").action == Action::kDtypeMismatch);
  CHECK(Get(w, "FeatureExtractor/w").action == Action::kRestore);
}

TEST_CASE("Faster R-CNN detection: re.search anywhere, heads not restored, slots pass in path A (spec 3.2)") {
  FineTuneSettings s = FasterRcnn("detection");
  s.optimizer = OptimizerKind::kMomentum;
  s.use_moving_average = false;
  const std::vector<ModelVariable> model = {V("FirstStageFeatureExtractor/resnet_v1_101/conv1/weights"),
                                            V("SecondStageFeatureExtractor/resnet_v1_101/block4/w"),
                                            V("Conv/weights"), V("FirstStageBoxPredictor/BoxEncodingPredictor/weights"),
                                            V("SecondStageBoxPredictor/ClassPredictor/weights")};
  const CheckpointListing ckpt = L({T("FirstStageFeatureExtractor/resnet_v1_101/conv1/weights"),
                                    T("SecondStageFeatureExtractor/resnet_v1_101/block4/w"), T("Conv/weights")});
  const RestorePlan a = MakePlan(model, &ckpt, s, P(Profile::kTf1Legacy));
  CHECK(Restored(a) == std::vector<std::string>{"FirstStageFeatureExtractor/resnet_v1_101/conv1/weights",
                                                "SecondStageFeatureExtractor/resnet_v1_101/block4/w"});
  CHECK(Get(a, "Conv/weights").action == Action::kNotRequested);
  CHECK(Get(a, "FirstStageFeatureExtractor/resnet_v1_101/conv1/weights/Momentum").action == Action::kMissing);
  CHECK(Get(a, "Conv/weights/Momentum").action == Action::kNotRequested);
  // load_all: everything, global_step too (appended; missing because dropped).
  s.load_all_detection_checkpoint_vars = true;
  const RestorePlan b = MakePlan(model, &ckpt, s, P(Profile::kTf1Estimator));
  CHECK(Get(b, "Conv/weights").action == Action::kRestore);
  CHECK(Get(b, "global_step").action == Action::kMissing);
}

TEST_CASE("Faster R-CNN classification: scopes removed, Inception-ResNet-v2 Repeat_2, NAS EMA suffix (spec 3.3)") {
  const std::vector<ModelVariable> model = {V("FirstStageFeatureExtractor/InceptionResnetV2/Conv2d_1a_3x3/weights"),
                                            V("SecondStageFeatureExtractor/InceptionResnetV2/Repeat/block8_1/w"),
                                            V("SecondStageFeatureExtractor/resnet_v1_101/block4/w")};
  const CheckpointListing none = L({});
  FineTuneSettings s = FasterRcnn("classification");
  RestorePlan plan = MakePlan(model, &none, s, P(Profile::kTf1Estimator));
  CHECK(Get(plan, "SecondStageFeatureExtractor/InceptionResnetV2/Repeat/block8_1/w").checkpoint_key ==
        "InceptionResnetV2/Repeat/block8_1/w");
  s.feature_extractor_type = "faster_rcnn_inception_resnet_v2";
  plan = MakePlan(model, &none, s, P(Profile::kTf1Estimator));
  CHECK(Get(plan, "FirstStageFeatureExtractor/InceptionResnetV2/Conv2d_1a_3x3/weights").checkpoint_key ==
        "InceptionResnetV2/Conv2d_1a_3x3/weights");
  CHECK(Get(plan, "SecondStageFeatureExtractor/InceptionResnetV2/Repeat/block8_1/w").checkpoint_key ==
        "InceptionResnetV2/Repeat_2/block8_1/w");
  s.feature_extractor_type = "faster_rcnn_nas";
  plan = MakePlan(model, &none, s, P(Profile::kTf1Estimator));
  CHECK(Get(plan, "SecondStageFeatureExtractor/resnet_v1_101/block4/w").checkpoint_key ==
        "resnet_v1_101/block4/w/ExponentialMovingAverage");
  CHECK(MakePlan(model, &none, FasterRcnn("full"), P(Profile::kTf1Estimator)).error ==
        "ValueError: Not supported fine_tune_checkpoint_type: full");
}

TEST_CASE("CenterNet has no TF1 restore_map") {
  FineTuneSettings s = Ssd("detection");
  s.meta_arch = warmstart::config::MetaArch::kCenterNet;
  s.feature_extractor_type = "";
  const CheckpointListing ckpt = L({T("a")});
  const RestorePlan plan = MakePlan({V("a")}, &ckpt, s, P(Profile::kTf1Estimator));
  CHECK(plan.error == "RuntimeError: CenterNetMetaArch not supported under TF1.x.");
}

TEST_CASE("the same pattern in A and B (spec 4.3 table)") {
  const std::vector<ModelVariable> model = {
      V("FeatureExtractor/MobilenetV1/Conv2d_0/weights"),
      V("FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights"),
      V("FeatureExtractor/MobilenetV1/Conv2d_10_pointwise/weights"),
      V("FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/weights"),
      V("BoxPredictor_0/ClassPredictor/biases"),
      V("BoxPredictor_0/ClassPredictor/weights"),
  };
  const CheckpointListing ckpt = L({});
  const auto frozen = [&](Profile p, const std::string& pattern) {
    FineTuneSettings s = Ssd();
    s.fine_tune_checkpoint.clear();
    s.freeze_variables = {pattern};
    const RestorePlan plan = MakePlan(model, &ckpt, s, P(p));
    std::vector<std::string> out;
    for (const PlannedVariable& v : plan.variables) {
      if (v.frozen_by) out.push_back(v.variable.name);
    }
    return out.size();
  };
  CHECK(frozen(Profile::kTf1Legacy, "FeatureExtractor") == 4);
  CHECK(frozen(Profile::kTf1Estimator, "FeatureExtractor") == 4);
  CHECK(frozen(Profile::kTf1Legacy, "MobilenetV1") == 0);
  CHECK(frozen(Profile::kTf1Estimator, "MobilenetV1") == 4);
  CHECK(frozen(Profile::kTf1Legacy, ".*BoxPredictor.*") == 2);
  CHECK(frozen(Profile::kTf1Estimator, ".*BoxPredictor.*") == 2);
  CHECK(frozen(Profile::kTf1Legacy, "weights") == 0);
  CHECK(frozen(Profile::kTf1Estimator, "weights") == 5);
  CHECK(frozen(Profile::kTf1Legacy, "BoxPredictor_0/ClassPredictor/biases$") == 1);
  CHECK(frozen(Profile::kTf1Estimator, "BoxPredictor_0/ClassPredictor/biases$") == 0);
  CHECK(frozen(Profile::kTf1Legacy, "FeatureExtractor/MobilenetV1/Conv2d_1[0-3]") == 2);
  CHECK(frozen(Profile::kTf1Estimator, "FeatureExtractor/MobilenetV1/Conv2d_1[0-3]") == 2);
  // "" is dropped by A; B's re.search matches everything, which leaves nothing to train.
  CHECK(frozen(Profile::kTf1Legacy, "") == 0);
  CHECK(frozen(Profile::kTf1Estimator, "") == 6);
  // warmstart: re.search on the name without ":0"
  CHECK(frozen(Profile::kWarmstart, "MobilenetV1") == 4);
  CHECK(frozen(Profile::kWarmstart, "BoxPredictor_0/ClassPredictor/biases$") == 1);
  CHECK(frozen(Profile::kWarmstart, "") == 0);
  CHECK(frozen(Profile::kTf2, "FeatureExtractor") == 0);  // TF2 ignores the field
}

TEST_CASE("path A logs multipliers, then freezes, then the restore, freezing everything fails") {
  FineTuneSettings s = Ssd();
  s.bias_grad_multiplier = 2.0f;
  s.freeze_variables = {"FeatureExtractor"};
  s.update_trainable_variables = {"BoxPredictor"};
  const std::vector<ModelVariable> model = {V("FeatureExtractor/Conv/biases"), V("FeatureExtractor/Conv/weights"),
                                            V("BoxPredictor_0/ClassPredictor/biases"),
                                            V("FeatureExtractor/Conv/BatchNorm/moving_mean", {3}, false)};
  const CheckpointListing ckpt = L({T("FeatureExtractor/Conv/biases"), T("FeatureExtractor/Conv/weights"),
                                    T("FeatureExtractor/Conv/BatchNorm/moving_mean")});
  PlanOptions o = P(Profile::kTf1Legacy);
  o.synthesize_training_state = false;
  const RestorePlan plan = MakePlan(model, &ckpt, s, o);
  CHECK(plan.ok());
  CHECK(plan.log == std::vector<std::string>{"Applying multiplier 2.000000 to variable [FeatureExtractor/Conv/biases]",
                                             "Applying multiplier 2.000000 to variable [BoxPredictor_0/ClassPredictor/biases]",
                                             "Freezing variable [FeatureExtractor/Conv/biases]",
                                             "Freezing variable [FeatureExtractor/Conv/weights]"});
  CHECK(Get(plan, "FeatureExtractor/Conv/weights").frozen_by.value_or("-") == "FeatureExtractor");
  CHECK(Get(plan, "BoxPredictor_0/ClassPredictor/biases").gradient_multiplier == 2.0);
  CHECK(Get(plan, "BoxPredictor_0/ClassPredictor/biases").trainable);
  CHECK_FALSE(Get(plan, "FeatureExtractor/Conv/BatchNorm/moving_mean").trainable);
  CHECK(HasDiagnostic(plan, "ignored_field", "update_trainable_variables"));
  CHECK(plan.clipping.mode == "none");

  s.freeze_variables = {".*"};
  const RestorePlan all = MakePlan(model, &ckpt, s, o);
  CHECK(all.error == "ValueError: No variables provided.");
  // TF stops at the exception: nothing after it is logged.
  CHECK(std::none_of(all.log.begin(), all.log.end(),
                     [](const std::string& l) { return l.find("not available") != std::string::npos; }));
}

TEST_CASE("path B: include then exclude, nothing left is 'No variables to optimize.', bias multiplier ignored") {
  FineTuneSettings s = Ssd();
  s.update_trainable_variables = {"BoxPredictor", "Conv2d_1"};
  s.freeze_variables = {"BoxPredictor_1"};
  s.bias_grad_multiplier = 3;
  s.gradient_clipping_by_norm = 10;
  const std::vector<ModelVariable> model = {V("FeatureExtractor/Conv2d_0/weights"), V("FeatureExtractor/Conv2d_1/weights"),
                                            V("BoxPredictor_0/biases"), V("BoxPredictor_1/biases")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/Conv2d_0/weights"), T("FeatureExtractor/Conv2d_1/weights")});
  const RestorePlan plan = MakePlan(model, &ckpt, s, P(Profile::kTf1Estimator));
  CHECK(plan.ok());
  CHECK(Get(plan, "FeatureExtractor/Conv2d_0/weights").excluded_by_update);
  CHECK_FALSE(Get(plan, "FeatureExtractor/Conv2d_0/weights").trainable);
  CHECK(Get(plan, "FeatureExtractor/Conv2d_1/weights").trainable);
  CHECK(Get(plan, "BoxPredictor_0/biases").trainable);
  CHECK(Get(plan, "BoxPredictor_0/biases").gradient_multiplier == 1.0);
  CHECK(Get(plan, "BoxPredictor_1/biases").frozen_by.value_or("-") == "BoxPredictor_1");
  CHECK(HasDiagnostic(plan, "ignored_field", "bias_grad_multiplier"));
  CHECK(plan.clipping.mode == "global_norm");
  CHECK(plan.clipping.norm == 10.0f);

  s.freeze_variables = {""};
  const RestorePlan none = MakePlan(model, &ckpt, s, P(Profile::kTf1Estimator));
  CHECK(none.error == "ValueError: No variables to optimize.");
}

TEST_CASE("path B with today's model_main.py (load_pretrained false) restores nothing, and says so (spec 3.6)") {
  const CheckpointListing ckpt = L({T("FeatureExtractor/w")});
  PlanOptions o = P(Profile::kTf1Estimator);
  o.load_pretrained = false;
  const RestorePlan plan = MakePlan({V("FeatureExtractor/w")}, &ckpt, Ssd(), o);
  CHECK(plan.ok());
  CHECK(Restored(plan).empty());
  CHECK(HasDiagnostic(plan, "load_pretrained_false"));
  CHECK(Get(plan, "FeatureExtractor/w").reason.find("load_pretrained") != std::string::npos);
}

TEST_CASE("path A with nothing available: 'No variables to save' (spec 3.1)") {
  const CheckpointListing ckpt = L({T("MobilenetV1/Conv2d_0/weights")});
  PlanOptions o = P(Profile::kTf1Legacy);
  o.synthesize_training_state = false;
  // A detection checkpoint read as classification: every rewritten name misses.
  const RestorePlan plan = MakePlan({V("FeatureExtractor/MobilenetV1/Conv2d_0/weights", {4})}, &ckpt,
                                    Ssd("classification"), o);
  CHECK(plan.error == "ValueError: No variables to save");
  CHECK(plan.log == std::vector<std::string>{
                        "Variable [MobilenetV1/Conv2d_0/weights] is available in checkpoint, but has an incompatible "
                        "shape with model variable. Checkpoint shape: [[3]], model variable shape: [[4]]. This "
                        "variable will not be initialized from the checkpoint."});
}

TEST_CASE("TF2 checks in order: load_all, object-based, version V1, restore roots (spec 5.1, 5.2)") {
  const std::vector<ModelVariable> model = {O("model/_feature_extractor/conv/kernel")};
  const CheckpointListing tf1 = L({T("FeatureExtractor/w")});
  FineTuneSettings s = Ssd("detection");
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  s.load_all_detection_checkpoint_vars = true;
  s.fine_tune_checkpoint.clear();  // raised even without a checkpoint
  CHECK(MakePlan(model, nullptr, s, P(Profile::kTf2)).error ==
        "ValueError: train_pb2.load_all_detection_checkpoint_vars unsupported in TF2");
  s.load_all_detection_checkpoint_vars = false;
  s.fine_tune_checkpoint = "ckpt/model.ckpt";
  CHECK(MakePlan(model, &tf1, s, P(Profile::kTf2)).error ==
        "OSError: Checkpoint is expected to be an object-based checkpoint.");
  const CheckpointListing tf2 = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString),
                                   T("model/_feature_extractor/conv/kernel/.ATTRIBUTES/VARIABLE_VALUE")});
  CHECK(MakePlan(model, &tf2, s, P(Profile::kTf2)).error == "ValueError: Checkpoint version should be V2");
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kV2;
  const RestorePlan ok = MakePlan(model, &tf2, s, P(Profile::kTf2));
  CHECK(ok.ok());
  CHECK(Restored(ok).size() == 1);
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kUnknown;  // only V1 is refused
  CHECK(MakePlan(model, &tf2, s, P(Profile::kTf2)).ok());
  s.fine_tune_checkpoint_type = "segmentation";
  CHECK(MakePlan(model, &tf2, s, P(Profile::kTf2)).error == "ValueError: Not supported fine_tune_checkpoint_type: segmentation");
  s.feature_extractor_type = "ssd_mobilenet_v2";
  s.fine_tune_checkpoint_type = "detection";
  CHECK(MakePlan(model, &tf2, s, P(Profile::kTf2)).error ==
        "ValueError: ssd_mobilenet_v2 is not supported for tf version 2. See `model_builder.py` for features "
        "extractors compatible with different versions of Tensorflow");
}

TEST_CASE("TF2 ensure_checkpoint_supported: 'feature_extractor' keys with detection, model_dir (spec 5.4)") {
  FineTuneSettings s = Ssd("detection");
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kV2;
  s.fine_tune_checkpoint = "/data/zoo/ckpt-0";
  const CheckpointListing old = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString),
                                   T("feature_extractor/a/.ATTRIBUTES/VARIABLE_VALUE"),
                                   T("feature_extractor/b/.ATTRIBUTES/VARIABLE_VALUE")});
  const RestorePlan plan = MakePlan({O("model/_feature_extractor/a")}, &old, s, P(Profile::kTf2));
  CHECK(plan.log == std::vector<std::string>{
                        "Found variable name - feature_extractor/a/.ATTRIBUTES/VARIABLE_VALUE with prefix feature_extractor"});
  CHECK(plan.error ==
        "RuntimeError: The checkpoint type 'detection' is not supported when it contains variable\nnames with "
        "'feature_extractor'. Please download the new checkpoint file\nfrom model zoo.\n");
  PlanOptions o = P(Profile::kTf2);
  o.model_dir = "/data/zoo/";
  s.fine_tune_checkpoint_type = "classification";
  CHECK(MakePlan({O("model/_feature_extractor/classification_backbone/a")}, &old, s, o).error ==
        "RuntimeError: Checkpoint dir (/data/zoo) and model_dir (/data/zoo) cannot be same. Please set model_dir to a "
        "different path.");
  o.model_dir = "/data/run";
  const RestorePlan cls = MakePlan({O("model/_feature_extractor/classification_backbone/a")}, &old, s, o);
  CHECK(cls.ok());
  CHECK(Get(cls, "model/_feature_extractor/classification_backbone/a/.ATTRIBUTES/VARIABLE_VALUE").checkpoint_key ==
        "feature_extractor/a/.ATTRIBUTES/VARIABLE_VALUE");
}

TEST_CASE("TF2: a shape mismatch is an error, unmatched variables fail the assertion (spec 5.2)") {
  FineTuneSettings s = Ssd("full");
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kV2;
  const CheckpointListing ckpt = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString),
                                    T("model/_box_predictor/head/kernel/.ATTRIBUTES/VARIABLE_VALUE", {1, 1, 64, 546}),
                                    T("model/_feature_extractor/conv/kernel/.ATTRIBUTES/VARIABLE_VALUE", {3}),
                                    T("step/.ATTRIBUTES/VARIABLE_VALUE", {}, DataType::kInt64)});
  const std::vector<ModelVariable> model = {O("model/_box_predictor/head/kernel", {1, 1, 64, 12}),
                                            O("model/_feature_extractor/conv/kernel"), O("model/_feature_extractor/new/bias")};
  const RestorePlan full = MakePlan(model, &ckpt, s, P(Profile::kTf2));
  CHECK(full.error ==
        "ValueError: Received incompatible tensor with shape (1, 1, 64, 546) when attempting to restore variable with "
        "shape (1, 1, 64, 12) and name model/_box_predictor/head/kernel.");
  CHECK(Get(full, "model/_box_predictor/head/kernel/.ATTRIBUTES/VARIABLE_VALUE").action == Action::kError);

  s.fine_tune_checkpoint_type = "detection";
  const RestorePlan det = MakePlan(model, &ckpt, s, P(Profile::kTf2));
  CHECK(det.error ==
        "AssertionError: Found 1 Python objects that were not bound to checkpointed values, likely due to changes in "
        "the Python program. Showing 1 of 1 unmatched objects: [model/_feature_extractor/new/bias]");
  CHECK(Get(det, "model/_box_predictor/head/kernel/.ATTRIBUTES/VARIABLE_VALUE").action == Action::kNotRequested);
  CHECK(Get(det, "model/_feature_extractor/conv/kernel/.ATTRIBUTES/VARIABLE_VALUE").action == Action::kRestore);
  // Without the dummy computation and without EMA nothing is built, so nothing is asserted.
  s.run_fine_tune_checkpoint_dummy_computation = false;
  const RestorePlan lazy = MakePlan(model, &ckpt, s, P(Profile::kTf2));
  CHECK(lazy.ok());
  CHECK(HasDiagnostic(lazy, "deferred_restore"));
  // warmstart: skip, never fail, for the same inputs
  s.fine_tune_checkpoint_type = "full";
  const RestorePlan w = MakePlan(model, &ckpt, s, P(Profile::kWarmstart));
  CHECK(w.ok());
  CHECK(Get(w, "model/_box_predictor/head/kernel/.ATTRIBUTES/VARIABLE_VALUE").action == Action::kShapeMismatch);
  CHECK(Get(w, "model/_feature_extractor/new/bias/.ATTRIBUTES/VARIABLE_VALUE").action == Action::kMissing);
  CHECK(w.unused_checkpoint_keys == std::vector<std::string>{"model/_box_predictor/head/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                                                             "step/.ATTRIBUTES/VARIABLE_VALUE"});
}

TEST_CASE("TF2 ignores freeze_variables, update_trainable_variables and bias_grad_multiplier (spec 5.6)") {
  FineTuneSettings s = Ssd("detection");
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  s.fine_tune_checkpoint.clear();
  s.freeze_variables = {"feature_extractor"};
  const RestorePlan plan = MakePlan({O("model/_feature_extractor/conv/kernel")}, nullptr, s, P(Profile::kTf2));
  CHECK(Get(plan, "model/_feature_extractor/conv/kernel/.ATTRIBUTES/VARIABLE_VALUE").trainable);
  CHECK(HasDiagnostic(plan, "ignored_field", "#9548"));
  // warmstart applies the pattern to the object path.
  const RestorePlan w = MakePlan({O("model/_feature_extractor/conv/kernel")}, nullptr, s, P(Profile::kWarmstart));
  CHECK(Get(w, "model/_feature_extractor/conv/kernel/.ATTRIBUTES/VARIABLE_VALUE").frozen_by.value_or("-") == "feature_extractor");
  CHECK(w.error == "warmstart: nothing left to train: update_trainable_variables / freeze_variables exclude all 1 "
                   "trainable variables");
  CHECK(w.error_source == "warmstart");
}

TEST_CASE("CenterNet TF2 types: fine_tune refused, unknown types, hourglass classification") {
  FineTuneSettings s = Ssd("fine_tune");
  s.meta_arch = warmstart::config::MetaArch::kCenterNet;
  s.feature_extractor_type = "hourglass_104";
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kV2;
  const CheckpointListing ckpt = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString)});
  const std::vector<ModelVariable> model = {O("model/_feature_extractor/a")};
  CHECK(MakePlan(model, &ckpt, s, P(Profile::kTf2)).error.rfind("ValueError: \"fine_tune\" is no longer supported for CenterNet.", 0) == 0);
  s.fine_tune_checkpoint_type = "other";
  CHECK(MakePlan(model, &ckpt, s, P(Profile::kTf2)).error == "ValueError: Unknown fine tune checkpoint type other");
  s.fine_tune_checkpoint_type = "classification";
  CHECK(MakePlan(model, &ckpt, s, P(Profile::kTf2)).error.rfind("NotImplementedError: Classification backbone not supported for", 0) == 0);
}

TEST_CASE("diagnostics: patterns that match nothing, with the closest names, semantics that differ") {
  FineTuneSettings s = Ssd();
  s.fine_tune_checkpoint.clear();
  s.freeze_variables = {"FeatureExtractor/MobilenetV1/Conv2d_99", "weights"};
  const std::vector<ModelVariable> model = {V("FeatureExtractor/MobilenetV1/Conv2d_0/weights"),
                                            V("FeatureExtractor/MobilenetV1/Conv2d_9/weights"), V("BoxPredictor_0/x")};
  const RestorePlan plan = MakePlan(model, nullptr, s, P(Profile::kWarmstart));
  CHECK(HasDiagnostic(plan, "pattern_matches_nothing",
                      "freeze_variables pattern 'FeatureExtractor/MobilenetV1/Conv2d_99' matches no trainable variable "
                      "(re.search on the name); closest names: FeatureExtractor/MobilenetV1/Conv2d_9/weights"));
  CHECK(HasDiagnostic(plan, "pattern_semantics_differ",
                      "freeze_variables pattern 'weights' matches 0 variables in legacy/train.py (re.match on the op "
                      "name), 2 in model_main.py (re.search on the name with ':0'), 2 in warmstart"));
  CHECK_FALSE(HasDiagnostic(plan, "pattern_semantics_differ", "Conv2d_99"));
}

TEST_CASE("diagnostics: a detection checkpoint read as classification, and the fix") {
  FineTuneSettings s = Ssd("");  // neither field set: the type defaults to classification
  const std::vector<ModelVariable> model = {V("FeatureExtractor/MobilenetV1/a"), V("FeatureExtractor/MobilenetV1/b"),
                                            V("BoxPredictor_0/c")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/MobilenetV1/a"), T("FeatureExtractor/MobilenetV1/b"),
                                    T("BoxPredictor_0/c")});
  const RestorePlan plan = MakePlan(model, &ckpt, s, P(Profile::kTf1Estimator));
  CHECK(plan.checkpoint_type == "classification");
  CHECK(plan.checkpoint_type_origin == "default");
  CHECK(Restored(plan).empty());
  CHECK(HasDiagnostic(plan, "checkpoint_type_mismatch",
                      "this looks like a detection checkpoint: fine_tune_checkpoint_type \"classification\" restores 0 "
                      "variables, \"detection\" would restore 2. Set fine_tune_checkpoint_type: \"detection\" (the type "
                      "defaulted"));
  CHECK(HasDiagnostic(plan, "low_coverage"));
  CHECK(HasDiagnostic(plan, "nothing_restored"));
  // warmstart refuses to go on with nothing restored.
  CHECK(MakePlan(model, &ckpt, s, P(Profile::kWarmstart)).error.rfind("warmstart: nothing would be restored", 0) == 0);
}

TEST_CASE("diagnostics: num_classes from the class predictor shapes") {
  FineTuneSettings s = Ssd();
  s.num_classes = 3;
  const std::vector<ModelVariable> model = {V("FeatureExtractor/a"), V("BoxPredictor_0/ClassPredictor/biases", {12}),
                                            V("BoxPredictor_1/ClassPredictor/biases", {24})};
  const CheckpointListing ckpt = L({T("FeatureExtractor/a"), T("BoxPredictor_0/ClassPredictor/biases", {273}),
                                    T("BoxPredictor_1/ClassPredictor/biases", {546})});
  const RestorePlan plan = MakePlan(model, &ckpt, s, P(Profile::kWarmstart));
  CHECK(HasDiagnostic(plan, "num_classes_changed",
                      "num_classes changed from 90 (checkpoint) to 3 (model): 'BoxPredictor_0/ClassPredictor/biases' has "
                      "273 = 3 x 91 outputs in the checkpoint, 12 = 3 x 4 in the model"));
  CHECK(std::count_if(plan.diagnostics.begin(), plan.diagnostics.end(),
                      [](const Diagnostic& d) { return d.code == "num_classes_changed"; }) == 1);
}

TEST_CASE("assignment map on top, EMA values, training state in the checkpoint") {
  FineTuneSettings s = Ssd("detection");
  const std::vector<ModelVariable> model = {V("FeatureExtractor/w"), V("Head/logits/kernel"), V("Head/logits/bias")};
  const CheckpointListing ckpt = L({T("FeatureExtractor/w"), T("FeatureExtractor/w/ExponentialMovingAverage"),
                                    T("FeatureExtractor/w/RMSProp"), T("Classifier/kernel"), T("Classifier/bias")});
  PlanOptions o = P(Profile::kWarmstart);
  o.assignment_map = {{"Classifier/", "Head/logits/"}, {"nothing/", "Nowhere/"}};
  o.use_ema_values = true;
  const RestorePlan plan = MakePlan(model, &ckpt, s, o);
  CHECK(plan.ok());
  CHECK(Get(plan, "Head/logits/kernel").checkpoint_key == "Classifier/kernel");
  CHECK(Get(plan, "Head/logits/kernel").action == Action::kRestore);
  CHECK(Get(plan, "FeatureExtractor/w").checkpoint_key == "FeatureExtractor/w/ExponentialMovingAverage");
  CHECK(HasDiagnostic(plan, "assignment_unused", "nothing/"));
  CHECK(HasDiagnostic(plan, "training_state", "1 optimizer slots, 1 moving-average shadows"));
  CHECK(HasDiagnostic(plan, "ema_values", "1 variables"));
  CHECK_THROWS_WITH(AssignmentMap(std::vector<std::pair<std::string, std::string>>{{"a/", "b"}}), Catch::Contains("a scope (ending in '/') must map to a scope"));
}

TEST_CASE("model variables from a checkpoint listing: no slots, shadows, steps, trainable inferred") {
  const CheckpointListing ckpt = L({T("FeatureExtractor/w"), T("FeatureExtractor/w/RMSProp"), T("FeatureExtractor/w/RMSProp_1"),
                                    T("FeatureExtractor/w/ExponentialMovingAverage"), T("FeatureExtractor/BatchNorm/moving_mean"),
                                    T("FeatureExtractor/BatchNorm/gamma"), T("global_step", {}, DataType::kInt64),
                                    T("beta1_power", {}), T("Momentum/x")});
  const std::vector<ModelVariable> m = ModelFromCheckpoint(ckpt);
  std::vector<std::string> names;
  for (const ModelVariable& v : m) names.push_back(v.name + (v.trainable ? "+" : "-"));
  CHECK(names == std::vector<std::string>{"FeatureExtractor/BatchNorm/gamma+", "FeatureExtractor/BatchNorm/moving_mean-",
                                          "FeatureExtractor/w+", "Momentum/x+"});
  const CheckpointListing tf2 = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString),
                                   T("model/a/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
                                   T("model/a/kernel/.OPTIMIZER_SLOT/optimizer/momentum/.ATTRIBUTES/VARIABLE_VALUE"),
                                   T("model/a/moving_mean/.ATTRIBUTES/VARIABLE_VALUE"),
                                   T("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", {}, DataType::kInt64),
                                   T("step/.ATTRIBUTES/VARIABLE_VALUE", {}, DataType::kInt64)});
  const std::vector<ModelVariable> k = ModelFromCheckpoint(tf2);
  REQUIRE(k.size() == 2);
  CHECK(k[0].object_path == "model/a/kernel");
  CHECK(k[0].trainable);
  CHECK(k[1].object_path == "model/a/moving_mean");
  CHECK_FALSE(k[1].trainable);
}

TEST_CASE("model variables from JSON: list, {variables}, inspect --json {entries}, errors name the element") {
  const auto vars = ModelFromJson(nlohmann::json::parse(R"([{"name":"a","dtype":"float32","shape":[2,3],"trainable":false},
                                                           {"name":"b","shape":[]}])"));
  REQUIRE(vars.size() == 2);
  CHECK(vars[0].dtype == DataType::kFloat);
  CHECK(vars[0].shape == Shape{2, 3});
  CHECK_FALSE(vars[0].trainable);
  CHECK(vars[1].trainable);
  const auto listing = ModelFromJson(nlohmann::json::parse(
      R"({"prefix":"x","entries":[{"name":"w","dtype":"DT_FLOAT","shape":[1]},{"name":"w/Adam","dtype":"DT_FLOAT","shape":[1]},
          {"name":"global_step","dtype":"DT_INT64","shape":[]}]})"));
  REQUIRE(listing.size() == 1);
  CHECK(listing[0].name == "w");
  CHECK_THROWS_WITH(ModelFromJson(nlohmann::json::parse(R"([{"name":"a","shape":[1]},{"name":"a","shape":[1]}])"), "m.json"),
                    "m.json: variables[1]: variable 'a' is listed twice" ) ;
}

TEST_CASE("bad inputs: duplicate model names throw, bad patterns fail the plan naming the field") {
  CHECK_THROWS_WITH(MakePlan({V("a"), V("a")}, nullptr, FineTuneSettings{}, {}),
                    Catch::Contains("model variable 'a' is listed twice"));
  FineTuneSettings s = Ssd();
  s.fine_tune_checkpoint.clear();
  s.freeze_variables = {"ok", "Conv2d_1[3-0]"};
  const RestorePlan plan = MakePlan({V("a")}, nullptr, s, {});
  CHECK(plan.error == "re.error: bad character range 3-0 at position 9 (freeze_variables[1] 'Conv2d_1[3-0]')");
  CHECK(HasDiagnostic(plan, "bad_pattern", "freeze_variables[1]"));
  // Only where the path reads the field: TF2 reads neither list, path A not update_trainable_variables.
  CHECK(MakePlan({V("a")}, nullptr, s, P(Profile::kTf2)).error.find("re.error") == std::string::npos);
  FineTuneSettings u = s;
  u.freeze_variables.clear();
  u.update_trainable_variables = {"("};
  CHECK(MakePlan({V("a")}, nullptr, u, P(Profile::kTf1Legacy)).ok());
  CHECK(MakePlan({V("a")}, nullptr, u, P(Profile::kTf1Estimator)).error.rfind("re.error: missing ), unterminated subpattern", 0) == 0);
  // A construct Python accepts and warmstart cannot evaluate fails the plan, blamed on warmstart.
  u.update_trainable_variables = {"FeatureExtractor/(?!BoxPredictor)"};
  const RestorePlan look = MakePlan({V("a")}, nullptr, u, P(Profile::kTf1Estimator));
  CHECK(look.error_source == "warmstart");
  CHECK(look.error.rfind("warmstart cannot evaluate update_trainable_variables[0]", 0) == 0);
}

TEST_CASE("the JSON shape of a plan") {
  const CheckpointListing ckpt = L({T("FeatureExtractor/w", {2})});
  const RestorePlan plan = MakePlan({V("FeatureExtractor/w", {3}), V("BoxPredictor/b")}, &ckpt, Ssd(), P(Profile::kTf1Estimator));
  const nlohmann::json j = plan.ToJson();
  for (const char* key : {"profile", "checkpoint_type", "variables", "unused_checkpoint_keys", "log", "diagnostics"}) {
    CHECK(j.contains(key));
  }
  CHECK(j["profile"] == "tf1-estimator");
  const nlohmann::json& v = j["variables"][0];
  CHECK(v["name"] == "FeatureExtractor/w");
  CHECK(v["shape"] == nlohmann::json::array({3}));
  CHECK(v["action"] == "shape_mismatch");
  CHECK(v["checkpoint_key"] == "FeatureExtractor/w");
  CHECK(v["checkpoint_shape"] == nlohmann::json::array({2}));
  CHECK(v["trainable"] == true);
  CHECK(v["frozen_by"].is_null());
  CHECK(j["variables"][1]["checkpoint_key"].is_null());
  CHECK(j["variables"][1]["action"] == "not_requested");
  CHECK(j["diagnostics"][0].contains("level"));
  CHECK(j["diagnostics"][0].contains("message"));
  CHECK(j["unused_checkpoint_keys"] == nlohmann::json::array({"FeatureExtractor/w"}));
}

TEST_CASE("the checkpoint is read only when the path gets to it") {
  FineTuneSettings s = Ssd();
  s.fine_tune_checkpoint = "PATH_TO_BE_CONFIGURED/model.ckpt";
  PlanOptions o = P(Profile::kTf1Estimator);
  o.load_pretrained = false;
  o.checkpoint_error = "PATH_TO_BE_CONFIGURED/model.ckpt: no checkpoint here";
  const RestorePlan stock = MakePlan({V("FeatureExtractor/w")}, nullptr, s, o);
  CHECK(stock.ok());  // today's model_main.py never opens it
  CHECK(stock.checkpoint_type_origin == "unresolved");
  o.load_pretrained = true;
  const RestorePlan old = MakePlan({V("FeatureExtractor/w")}, nullptr, s, o);
  CHECK(old.error == "PATH_TO_BE_CONFIGURED/model.ckpt: no checkpoint here");
  CHECK(old.error_source == "warmstart");
  s.load_all_detection_checkpoint_vars = true;
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  o.profile = Profile::kTf2;
  CHECK(MakePlan({O("model/_feature_extractor/a")}, nullptr, s, o).error ==
        "ValueError: train_pb2.load_all_detection_checkpoint_vars unsupported in TF2");
}

TEST_CASE("tf2 model_dir check with a bare checkpoint file name uses the current directory (spec 5.4)") {
  FineTuneSettings s = Ssd("detection");
  s.feature_extractor_type = "ssd_mobilenet_v2_keras";
  s.fine_tune_checkpoint_version = warmstart::config::CheckpointVersion::kV2;
  s.fine_tune_checkpoint = "ckpt-0";
  const CheckpointListing ckpt = L({T("_CHECKPOINTABLE_OBJECT_GRAPH", {}, DataType::kString)});
  PlanOptions o = P(Profile::kTf2);
  o.model_dir = ".";
  CHECK(MakePlan({O("model/_feature_extractor/a")}, &ckpt, s, o).error.rfind("RuntimeError: Checkpoint dir (", 0) == 0);
}

TEST_CASE("copies of a listing and of an assignment map own their indexes, assignment maps scale") {
  std::optional<CheckpointListing> a = L({T("FeatureExtractor/w"), T("b")});
  const CheckpointListing b = *a;
  a.reset();
  REQUIRE(b.Find("FeatureExtractor/w") != nullptr);
  CHECK(b.Find("FeatureExtractor/w")->key == "FeatureExtractor/w");

  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < 50000; ++i) entries.emplace_back("ckpt/v" + std::to_string(i), "model/v" + std::to_string(i));
  entries.emplace_back("old_scope/", "new_scope/");
  entries.emplace_back("root/", "/");
  AssignmentMap m(entries);
  AssignmentMap copy = m;
  m = AssignmentMap();
  CHECK(copy.KeyFor("model/v49999").value_or("-") == "ckpt/v49999");
  CHECK(copy.KeyFor("new_scope/x/y").value_or("-") == "old_scope/x/y");
  CHECK(copy.KeyFor("elsewhere/z").value_or("-") == "root/elsewhere/z");
}

TEST_CASE("empty patterns are reported in every profile that reads the field, path A's dtype-only restore set") {
  FineTuneSettings s = Ssd();
  s.fine_tune_checkpoint.clear();
  s.freeze_variables = {"BoxPredictor", ""};
  const RestorePlan b = MakePlan({V("FeatureExtractor/w"), V("BoxPredictor/b")}, nullptr, s, P(Profile::kTf1Estimator));
  CHECK(HasDiagnostic(b, "empty_pattern", "freezes every variable"));
  CHECK(b.error == "ValueError: No variables to optimize.");
  const RestorePlan a = MakePlan({V("FeatureExtractor/w"), V("BoxPredictor/b")}, nullptr, s, P(Profile::kTf1Legacy));
  CHECK(HasDiagnostic(a, "empty_pattern", "dropped"));
  CHECK(a.ok());

  FineTuneSettings d = Ssd();
  const CheckpointListing ckpt = L({T("FeatureExtractor/w", {3}, DataType::kDouble)});
  PlanOptions o = P(Profile::kTf1Legacy);
  o.synthesize_training_state = false;
  const RestorePlan dt = MakePlan({V("FeatureExtractor/w")}, &ckpt, d, o);
  CHECK(dt.error.rfind("InvalidArgumentError: tensor_name = FeatureExtractor/w;", 0) == 0);
  CHECK_FALSE(HasDiagnostic(dt, "nothing_restored"));
}

TEST_CASE("negative bias_grad_multiplier applies (the code tests truthiness, spec 4.2), faster_rcnn_pnas EMA keys") {
  FineTuneSettings s = Ssd();
  s.fine_tune_checkpoint.clear();
  s.bias_grad_multiplier = -1.5f;
  PlanOptions o = P(Profile::kTf1Legacy);
  const RestorePlan plan = MakePlan({V("FeatureExtractor/Conv/biases")}, nullptr, s, o);
  CHECK(plan.log.front() == "Applying multiplier -1.500000 to variable [FeatureExtractor/Conv/biases]");
  CHECK(Get(plan, "FeatureExtractor/Conv/biases").gradient_multiplier == -1.5);

  FineTuneSettings f = FasterRcnn("classification");
  f.feature_extractor_type = "faster_rcnn_pnas";
  const CheckpointListing none = L({});
  const RestorePlan p = MakePlan({V("FirstStageFeatureExtractor/cell_0/w")}, &none, f, P(Profile::kTf1Estimator));
  CHECK(Get(p, "FirstStageFeatureExtractor/cell_0/w").checkpoint_key == "cell_0/w/ExponentialMovingAverage");
}
