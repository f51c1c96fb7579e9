// warmstart-finetune: train an SSD from a pipeline.config, as the Object Detection API's
// model_main.py does: restore (or resume), freeze, train, evaluate, save TF checkpoints.
//
//   warmstart-finetune --config pipeline.config --model_dir DIR [--num_steps N] [--eval]
//
// The whole loop is train::SsdTrainer (include/warmstart/train/ssd_trainer.hpp); this file
// adds the flags, the input pipeline (train/inputs.hpp), progress output, periodic checkpoints
// and the evaluation outputs. docs/finetuning.md is the guide.
//
// Exit codes: 0 done, 1 bad input or a failure while training, 2 usage error, 130 interrupted
// (a checkpoint of the last finished step is written first).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "warmstart/config/pipeline.hpp"
#include "warmstart/data/augment.hpp"
#include "warmstart/image/decode.hpp"
#include "warmstart/image/draw.hpp"
#include "warmstart/restore/rules.hpp"
#include "warmstart/train/inputs.hpp"
#include "warmstart/train/ssd_trainer.hpp"

namespace {

namespace ws = warmstart;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2, kExitInterrupted = 130;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::atomic<bool> g_interrupted{false};
extern "C" void OnSignal(int) { g_interrupted = true; }

struct Flags {
  std::string config;
  std::string model_dir;
  int64_t num_steps = -1;
  bool eval = false;
  std::string profile = "warmstart";
  std::string checkpoint;
  int threads = 0;
  uint64_t seed = 1;
  std::string log_format = "auto";
  int64_t log_every = 10;
  int64_t save_every = 1000;
  int keep = 5;
  int64_t eval_examples = 0;
  int draw = 8;
  int64_t batch_size = 0;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

// Which example of the source is the k-th one the trainer sees: endless sources in order,
// finite ones one shuffled permutation per epoch (train_input_reader.shuffle) or in order.
class ExampleOrder {
 public:
  ExampleOrder(uint64_t size, bool shuffle, uint64_t seed) : size_(size), shuffle_(shuffle), seed_(seed) {}
  uint64_t At(uint64_t k) {
    if (size_ == 0) return k;
    const uint64_t epoch = k / size_, pos = k % size_;
    if (!shuffle_) return pos;
    if (epoch != epoch_ || perm_.empty()) {
      perm_.resize(static_cast<size_t>(size_));
      std::iota(perm_.begin(), perm_.end(), uint64_t{0});
      ws::data::Rng rng(ws::data::Rng::Derive(seed_ ^ 0x5f0e5a1eULL, epoch));
      for (size_t i = perm_.size(); i > 1; --i) std::swap(perm_[i - 1], perm_[rng.UniformInt(static_cast<uint32_t>(i))]);
      epoch_ = epoch;
    }
    return perm_[static_cast<size_t>(pos)];
  }

 private:
  uint64_t size_;
  bool shuffle_;
  uint64_t seed_;
  uint64_t epoch_ = 0;
  std::vector<uint64_t> perm_;
};

// Progress: a one-line bar on a terminal, plain lines otherwise, JSON lines on request.
class Progress {
 public:
  enum class Mode { kBar, kText, kJson };
  Progress(Mode mode, int64_t first_step, int64_t last_step, int64_t every)
      : mode_(mode), first_(first_step), last_(last_step), every_(std::max<int64_t>(every, 1)), start_(Clock::now()) {}

  void Step(const ws::train::StepStats& s) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(s.global_step - first_) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(last_ - s.global_step) / rate : -1;
    const bool due = s.global_step % every_ == 0 || s.global_step == last_;
    if (mode_ == Mode::kBar) {
      const int width = 24;
      const double done = last_ > first_ ? static_cast<double>(s.global_step - first_) / static_cast<double>(last_ - first_) : 1;
      std::string bar(static_cast<size_t>(width), ' ');
      for (int i = 0; i < static_cast<int>(done * width + 0.5) && i < width; ++i) bar[static_cast<size_t>(i)] = '#';
      std::fprintf(stderr, "\r[%s] step %lld/%lld  loss %s  %s steps/s  ETA %s   ", bar.c_str(),
                   static_cast<long long>(s.global_step), static_cast<long long>(last_), Fixed(s.total_loss, 4).c_str(),
                   Fixed(rate, 2).c_str(), Duration(eta).c_str());
      if (s.global_step == last_) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    } else if (due && mode_ == Mode::kText) {
      std::printf("step %lld/%lld: loss %s (localization %s, classification %s, regularization %s), lr %s, %s steps/s, "
                  "ETA %s\n",
                  static_cast<long long>(s.global_step), static_cast<long long>(last_), Fixed(s.total_loss, 4).c_str(),
                  Fixed(s.localization_loss, 4).c_str(), Fixed(s.classification_loss, 4).c_str(),
                  Fixed(s.regularization_loss, 4).c_str(), Fixed(s.learning_rate, 6).c_str(), Fixed(rate, 2).c_str(),
                  Duration(eta).c_str());
      std::fflush(stdout);
    } else if (due && mode_ == Mode::kJson) {
      nlohmann::ordered_json j;
      j["step"] = s.global_step;
      j["num_steps"] = last_;
      j["loss"] = s.total_loss;
      j["localization_loss"] = s.localization_loss;
      j["classification_loss"] = s.classification_loss;
      j["regularization_loss"] = s.regularization_loss;
      j["learning_rate"] = s.learning_rate;
      j["gradient_norm"] = s.gradient_norm;
      j["steps_per_sec"] = rate;
      j["eta_seconds"] = eta;
      std::printf("%s\n", j.dump().c_str());
      std::fflush(stdout);
    }
  }

  double StepsPerSecond(int64_t step) const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    return elapsed > 0 ? static_cast<double>(step - first_) / elapsed : 0;
  }

 private:
  Mode mode_;
  int64_t first_, last_, every_;
  Clock::time_point start_;
};

// model_dir/train_log.jsonl: one line per logged step, appended across resumes; the loss curve.
struct LossPoint {
  int64_t step;
  double loss;
};

std::vector<LossPoint> ReadLossLog(const std::string& path) {
  std::vector<LossPoint> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      out.push_back({j.at("step").get<int64_t>(), j.at("loss").get<double>()});
    } catch (const std::exception&) {
      // A line cut by a crash: skip it.
    }
  }
  // After a restart the steps since the last checkpoint are trained (and logged) again: the
  // last entry of a step wins, in step order.
  std::stable_sort(out.begin(), out.end(), [](const LossPoint& a, const LossPoint& b) { return a.step < b.step; });
  std::vector<LossPoint> unique;
  for (const LossPoint& p : out) {
    if (!unique.empty() && unique.back().step == p.step) {
      unique.back() = p;
    } else {
      unique.push_back(p);
    }
  }
  return unique;
}

ws::image::Image ToImage(const ws::image::FloatImage& f) { return ws::data::ToUint8(f); }

// A grid of up to `count` eval images with their detections (score >= 0.3) drawn.
ws::image::Image DetectionGrid(const std::vector<ws::data::DetectionExample>& examples,
                               const std::vector<ws::ssd::Detections<float>>& dets, int count, int height, int width,
                               const std::vector<std::string>& names) {
  const int n = std::max(1, std::min<int>(count, static_cast<int>(std::min(examples.size(), dets.size()))));
  const int cols = std::min(n, 4), rows = (n + cols - 1) / cols;
  const int scale = std::max(1, 256 / std::max(height, width));
  const int cell_h = height * scale, cell_w = width * scale, gap = 4;
  ws::image::Image grid = ws::image::Image::Zeros(rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap, 3);
  std::fill(grid.pixels.begin(), grid.pixels.end(), uint8_t{255});
  std::vector<std::string> label_names;
  for (size_t i = 1; i < names.size(); ++i) label_names.push_back(names[i]);
  for (int i = 0; i < n && static_cast<size_t>(i) < std::min(examples.size(), dets.size()); ++i) {
    const ws::image::FloatImage resized = ws::image::ResizeBilinear(examples[static_cast<size_t>(i)].image, cell_h, cell_w);
    ws::image::Image cell = ToImage(resized);
    const ws::ssd::Detections<float>& d = dets[static_cast<size_t>(i)];
    std::vector<std::array<float, 4>> boxes;
    std::vector<int32_t> labels;
    std::vector<float> scores;
    for (int k = 0; k < d.num_detections(); ++k) {
      if (d.scores(k) < 0.3f) continue;
      boxes.push_back({d.boxes(k, 0), d.boxes(k, 1), d.boxes(k, 2), d.boxes(k, 3)});
      labels.push_back(d.classes[static_cast<size_t>(k)]);
      scores.push_back(d.scores(k));
    }
    ws::image::DrawDetections(cell, boxes, labels, scores, label_names);
    const int oy = gap + (i / cols) * (cell_h + gap), ox = gap + (i % cols) * (cell_w + gap);
    for (int y = 0; y < cell_h; ++y) {
      for (int x = 0; x < cell_w; ++x) {
        for (int c = 0; c < 3; ++c) grid.at(oy + y, ox + x, c) = cell.at(y, x, c);
      }
    }
  }
  return grid;
}

int Run(const Flags& f) {
  Progress::Mode mode = Progress::Mode::kText;
  if (f.log_format == "json") {
    mode = Progress::Mode::kJson;
  } else if (f.log_format == "auto" && isatty(STDERR_FILENO) && isatty(STDOUT_FILENO)) {
    mode = Progress::Mode::kBar;
  }
  // With --log-format json stdout carries only JSON lines; everything else goes to stderr.
  FILE* info = mode == Progress::Mode::kJson ? stderr : stdout;
  const ws::config::PipelineConfig cfg = ws::config::PipelineConfig::Load(f.config);
  ws::train::TrainerOptions options;
  options.plan.profile = ws::restore::ParseProfile(f.profile);
  options.fine_tune_checkpoint = f.checkpoint;
  options.threads = f.threads;
  options.seed = f.seed;
  options.max_to_keep = static_cast<size_t>(f.keep);
  ws::train::SsdTrainer trainer(cfg, options);

  const int64_t num_steps = f.num_steps >= 0 ? f.num_steps : static_cast<int64_t>(cfg.train().num_steps);
  if (num_steps <= 0) {
    throw UsageError(f.num_steps >= 0 ? "--num_steps must be at least 1"
                                      : f.config + ": train_config.num_steps is 0 (train forever); give --num_steps N");
  }
  const int64_t batch_size = f.batch_size > 0 ? f.batch_size : static_cast<int64_t>(cfg.train().batch_size);
  if (batch_size <= 0) throw UsageError(f.config + ": train_config.batch_size is 0; give --batch_size N");

  ws::train::InputOptions train_input_options;
  train_input_options.image_size = trainer.input_height();
  const std::unique_ptr<ws::train::ExampleSource> train_source =
      ws::train::OpenInput(cfg.train_input(), train_input_options, f.config + ": train_input_reader");

  fs::create_directories(f.model_dir);
  const ws::train::StartReport start = trainer.Start(f.model_dir);
  std::fprintf(info, "warmstart-finetune: %s, %dx%d, %d classes; model_dir %s\n",
              trainer.ssd_options().feature_extractor_type.c_str(), trainer.input_height(), trainer.input_width(),
              trainer.ssd_options().num_classes, f.model_dir.c_str());
  std::fprintf(info, "train input: %s; batch %lld; optimizer %s\n", train_source->Describe().c_str(),
              static_cast<long long>(batch_size), trainer.optimizer().name());
  if (start.kind == ws::train::StartKind::kResumed) {
    std::fprintf(info, "resuming from %s at step %lld (fine_tune_checkpoint ignored, as TF does)\n", start.checkpoint.c_str(),
                static_cast<long long>(start.global_step));
  } else if (start.kind == ws::train::StartKind::kFineTuned) {
    std::fprintf(info, "fine-tuning from %s\n%s", start.checkpoint.c_str(), start.plan.Summary().c_str());
  } else {
    std::fprintf(info, "training from scratch (no fine_tune_checkpoint)\n");
  }
  if (start.kind != ws::train::StartKind::kFineTuned) {
    for (const ws::restore::Diagnostic& d : start.plan.diagnostics) {
      if (d.level == ws::restore::Diagnostic::Level::kNote) continue;
      std::fprintf(info, "%s: %s\n", ws::restore::Diagnostic::LevelName(d.level), d.message.c_str());
    }
  }
  if (cfg.eval().use_moving_averages && trainer.moving_average() == nullptr) {
    std::fprintf(info, "warning: eval_config.use_moving_averages is set but the optimizer keeps no moving averages "
                       "(use_moving_average: false): the variables themselves are evaluated\n");
  }
  std::fprintf(info, "training %zu variables (%lld parameters); %zu frozen\n", start.trained_variables,
              static_cast<long long>(start.trained_parameters), start.frozen_variables);
  std::fflush(info);

  const std::string log_path = (fs::path(f.model_dir) / "train_log.jsonl").string();
  std::ofstream loss_log(log_path, std::ios::app);
  if (!loss_log) throw ws::IoError(ws::ErrorContext(log_path), "cannot open for appending");

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ExampleOrder order(train_source->size(), cfg.train_input().shuffle, f.seed);
  Progress progress(mode, trainer.global_step(), num_steps, f.log_every);
  const ws::data::Augmenter& augmenter = trainer.augmenter();
  const auto train_start = Clock::now();
  const int64_t first_step = trainer.global_step();
  bool interrupted = false;
  while (trainer.global_step() < num_steps) {
    if (g_interrupted) {
      interrupted = true;
      break;
    }
    std::vector<ws::data::FloatDetectionExample> prepared;
    for (int64_t i = 0; i < batch_size; ++i) {
      const uint64_t k = static_cast<uint64_t>(trainer.global_step() * batch_size + i);
      const uint64_t index = order.At(k);
      const ws::data::DetectionExample ex = train_source->Get(index);
      for (const int32_t label : ex.labels) {
        if (label < 1 || label > trainer.ssd_options().num_classes) {
          throw ws::FormatError(ws::ErrorContext(train_source->Name(index)),
                                "label " + std::to_string(label) + " is outside [1, num_classes = " +
                                    std::to_string(trainer.ssd_options().num_classes) + "] of " + f.config);
        }
      }
      ws::data::Rng rng(ws::data::Rng::Derive(f.seed ^ 0xa5a5a5a5ULL, k));
      prepared.push_back(
          ws::train::PrepareExample(ex, &augmenter, &rng, trainer.input_height(), trainer.input_width()));
    }
    const ws::train::StepStats s = trainer.Step(ws::train::MakeBatch(prepared));
    if (!std::isfinite(s.total_loss)) {
      throw std::runtime_error("step " + std::to_string(s.global_step) +
                               ": the loss is not finite (lower the learning rate or add gradient_clipping_by_norm)");
    }
    progress.Step(s);
    if (s.global_step % std::max<int64_t>(f.log_every, 1) == 0 || s.global_step == num_steps) {
      loss_log << nlohmann::json{{"step", s.global_step}, {"loss", s.total_loss}, {"learning_rate", s.learning_rate}}.dump()
               << "\n";
      loss_log.flush();
    }
    if (f.save_every > 0 && s.global_step % f.save_every == 0 && s.global_step != num_steps) {
      trainer.Save(f.model_dir);
    }
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  const double train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
  // A run resumed at (or past) num_steps trains nothing: its checkpoint is already there.
  const std::string saved = trainer.global_step() == first_step
                                ? ws::ssd::TrainingCheckpointPrefix(f.model_dir, trainer.global_step())
                                : trainer.Save(f.model_dir);
  if (mode == Progress::Mode::kBar && interrupted) std::fprintf(stderr, "\n");
  const int64_t trained_steps = trainer.global_step() - first_step;
  if (trained_steps == 0) {
    std::fprintf(info, "0 steps to train: %s is at step %lld (num_steps %lld)\n", saved.c_str(),
                 static_cast<long long>(trainer.global_step()), static_cast<long long>(num_steps));
  } else {
    std::fprintf(info, "saved %s (step %lld); %lld steps in %s s, %s steps/s, %s images/s\n", saved.c_str(),
                 static_cast<long long>(trainer.global_step()), static_cast<long long>(trained_steps),
                 Fixed(train_seconds, 1).c_str(), Fixed(train_seconds > 0 ? trained_steps / train_seconds : 0, 2).c_str(),
                 Fixed(train_seconds > 0 ? trained_steps * batch_size / train_seconds : 0, 1).c_str());
  }
  if (interrupted) {
    std::fprintf(info, "interrupted: resume with the same command\n");
    return kExitInterrupted;
  }

  if (f.eval) {
    if (cfg.eval_inputs().empty()) throw UsageError(f.config + ": --eval needs an eval_input_reader");
    ws::train::InputOptions eval_input_options;
    eval_input_options.image_size = trainer.input_height();
    eval_input_options.default_count = 500;
    const std::unique_ptr<ws::train::ExampleSource> eval_source =
        ws::train::OpenInput(cfg.eval_inputs().front(), eval_input_options, f.config + ": eval_input_reader");
    uint64_t count = eval_source->size();
    const uint64_t limit = f.eval_examples > 0 ? static_cast<uint64_t>(f.eval_examples) : cfg.eval().num_examples;
    if (limit > 0) count = std::min(count, limit);
    const auto eval_start = Clock::now();
    const ws::train::EvalResult r =
        trainer.Evaluate(count, [&](uint64_t i) { return eval_source->Get(i); }, 8, cfg.eval().use_moving_averages,
                         static_cast<size_t>(f.draw));
    const double eval_seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();

    const fs::path eval_dir = fs::path(f.model_dir) / "eval";
    fs::create_directories(eval_dir);
    std::vector<std::string> names = eval_source->ClassNames();
    nlohmann::ordered_json j;
    j["step"] = trainer.global_step();
    j["num_images"] = r.num_images;
    j["DetectionBoxes_Precision/mAP"] = r.metrics.map;
    j["DetectionBoxes_Precision/mAP@.50IOU"] = r.metrics.map50;
    j["DetectionBoxes_Precision/mAP@.75IOU"] = r.metrics.map75;
    j["DetectionBoxes_Recall/AR@100"] = r.metrics.ar100;
    j["per_category"] = nlohmann::ordered_json::array();
    for (const ws::train::CocoCategoryMetrics& c : r.metrics.per_category) {
      nlohmann::ordered_json e;
      e["id"] = c.category;
      e["name"] = c.category >= 1 && static_cast<size_t>(c.category) < names.size() ? names[static_cast<size_t>(c.category)]
                                                                                       : std::string();
      e["num_groundtruth"] = c.num_groundtruth;
      e["AP"] = c.ap;
      e["AP@.50IOU"] = c.ap50;
      j["per_category"].push_back(std::move(e));
    }
    j["eval_seconds"] = eval_seconds;
    j["train_steps_per_sec"] = train_seconds > 0 ? trained_steps / train_seconds : 0;
    const std::string metrics_path = (eval_dir / "metrics.json").string();
    std::ofstream(metrics_path) << j.dump(2) << "\n";

    std::string written = metrics_path;
    if (f.draw > 0) {
      const std::string grid_path = (eval_dir / "detections.png").string();
      ws::image::WritePng(grid_path, DetectionGrid(r.kept, r.detections, f.draw, trainer.input_height(),
                                                   trainer.input_width(), names));
      written += ", " + grid_path;
    }
    const std::vector<LossPoint> points = ReadLossLog(log_path);
    std::vector<float> xs, ys;
    for (const LossPoint& p : points) {
      xs.push_back(static_cast<float>(p.step));
      ys.push_back(static_cast<float>(p.loss));
    }
    ws::image::ChartOptions chart;
    chart.title = "total loss by step";
    const std::string curve_path = (eval_dir / "loss_curve.png").string();
    ws::image::WritePng(curve_path, ws::image::LineChart(ys, xs, chart));
    written += ", " + curve_path;
    std::fprintf(info, "eval on %zu images (%s s%s): mAP@[.5:.95] %s, mAP@0.5 %s, mAP@0.75 %s\n", r.num_images,
                Fixed(eval_seconds, 1).c_str(), r.used_moving_averages ? ", moving averages" : "",
                Fixed(r.metrics.map, 3).c_str(), Fixed(r.metrics.map50, 3).c_str(),
                Fixed(r.metrics.map75, 3).c_str());
    std::fprintf(info, "wrote %s\n", written.c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"warmstart-finetune: fine-tune an SSD from a pipeline.config and write TensorFlow checkpoints",
               "warmstart-finetune"};
  app.add_option("--config,--pipeline_config_path", f.config, "the pipeline.config")->required();
  app.add_option("--model_dir", f.model_dir, "where checkpoints go (and are resumed from)")->required();
  app.add_option("--num_steps", f.num_steps, "train until this global step (default: train_config.num_steps)");
  app.add_flag("--eval", f.eval, "after training, evaluate on eval_input_reader (COCO mAP, PNGs)");
  app.add_option("--profile", f.profile, "restore profile: tf1-legacy, tf1-estimator, tf2 or warmstart")
      ->check(CLI::IsMember({"tf1-legacy", "tf1-estimator", "tf2", "warmstart"}));
  app.add_option("--checkpoint", f.checkpoint, "fine-tune from this checkpoint instead of fine_tune_checkpoint");
  app.add_option("--threads", f.threads, "worker threads (0: all cores)")->check(CLI::Range(0, 256));
  app.add_option("--seed", f.seed, "seed of initializers, example order and augmentation");
  app.add_option("--log-format", f.log_format, "auto (bar on a terminal), text or json")
      ->check(CLI::IsMember({"auto", "text", "json"}));
  app.add_option("--log_every", f.log_every, "log (and record the loss) every N steps")->check(CLI::Range(1, 1 << 30));
  app.add_option("--save_every", f.save_every, "write a checkpoint every N steps (0: only at the end)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--keep", f.keep, "checkpoints kept in model_dir")->check(CLI::Range(1, 1 << 20));
  app.add_option("--eval_examples", f.eval_examples, "evaluate on at most N examples (default: eval_config)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--draw", f.draw, "eval images drawn into eval/detections.png")->check(CLI::Range(0, 64));
  app.add_option("--batch_size", f.batch_size, "override train_config.batch_size")->check(CLI::Range(0, 4096));
  app.footer("Exit codes: 0 done, 1 bad input or training failure, 2 usage, 130 interrupted (checkpoint written). "
             "See docs/finetuning.md.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "warmstart-finetune: error: " << e.what() << "\n";
    return kExitUsage;
  }
  try {
    return Run(f);
  } catch (const UsageError& e) {
    std::cerr << "warmstart-finetune: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "warmstart-finetune: error: " << e.what() << "\n";
    return kExitFailed;
  }
}
