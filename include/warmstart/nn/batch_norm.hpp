// BatchNorm over the channels of an NHWC tensor, as slim.batch_norm (fused) creates and runs it.
//
// Variables (`scale` and `center` as in the OD API's batch_norm config):
//   <scope>/gamma            [C]  trainable, only when scale (slim's default is scale=false)
//   <scope>/beta             [C]  trainable, only when center
//   <scope>/moving_mean      [C]  state (initialised 0)
//   <scope>/moving_variance  [C]  state (initialised 1)
//
// With R = N*H*W values per channel and, per channel, statistics (mu, var):
//   y = gamma * (x - mu) / sqrt(var + epsilon) + beta
//
// Modes:
//   kTraining   mu, var = batch mean and biased batch variance (divide by R); then
//               moving = moving * decay + batch * (1 - decay), where the variance fed to the
//               moving average is Bessel-corrected (var * R / (R - 1)) as TF's FusedBatchNorm
//               kernel outputs it (docs/nn.md has the source); bessel_correction=false gives
//               the non-fused slim path (nn.moments, biased).
//   kInference  mu, var = moving statistics; no update; Backward refused (nothing cached).
//   kFrozen     as inference for the forward (is_training=False, OD API freeze_batchnorm), but
//               Backward works: dx = dy * gamma / sqrt(var + eps), and gamma / beta still get
//               gradients (they are trainable unless the optimizer freezes them by name).
//
// Forward keeps a pointer to x for Backward: x must stay alive and unchanged until then.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "warmstart/error.hpp"
#include "warmstart/nn/context.hpp"
#include "warmstart/nn/internal.hpp"
#include "warmstart/nn/parameter.hpp"
#include "warmstart/nn/tensor.hpp"

namespace warmstart::nn {

enum class BatchNormMode { kTraining, kInference, kFrozen };

inline const char* BatchNormModeName(BatchNormMode m) {
  switch (m) {
    case BatchNormMode::kTraining: return "training";
    case BatchNormMode::kInference: return "inference";
    case BatchNormMode::kFrozen: return "frozen";
  }
  return "training";
}

struct BatchNormOptions {
  Index channels = 0;
  double epsilon = 0.001;  // slim and the OD API config default
  double decay = 0.999;    // slim default; the OD API config usually says 0.9997
  bool center = true;      // beta
  bool scale = false;      // gamma
  bool bessel_correction = true;  // moving variance from R/(R-1) * batch variance (fused TF)
};

template <class T>
class BatchNorm {
 public:
  using Vector = Eigen::Array<T, Eigen::Dynamic, 1>;

  BatchNorm(const std::string& scope, const BatchNormOptions& options) : options_(options), scope_(scope) {
    if (options.channels < 1) {
      throw ArgumentError("BatchNorm '" + scope + "': channels must be >= 1, found " + std::to_string(options.channels));
    }
    if (!(options.epsilon > 0) || !(options.decay >= 0 && options.decay <= 1)) {
      throw ArgumentError("BatchNorm '" + scope + "': need epsilon > 0 and 0 <= decay <= 1, found epsilon " +
                          std::to_string(options.epsilon) + ", decay " + std::to_string(options.decay));
    }
    const Index c = options.channels;
    if (options.scale) {
      gamma_ = MakeTrainable<T>(scope + "/gamma", {c});
      gamma_.value.setOnes();
    }
    if (options.center) beta_ = MakeTrainable<T>(scope + "/beta", {c});
    moving_mean_ = MakeState<T>(scope + "/moving_mean", {c});
    moving_variance_ = MakeState<T>(scope + "/moving_variance", {c});
    moving_variance_.value.setOnes();
  }

  const BatchNormOptions& options() const { return options_; }
  BatchNormMode mode() const { return mode_; }
  void set_mode(BatchNormMode mode) { mode_ = mode; }

  Parameter<T>* gamma() { return options_.scale ? &gamma_ : nullptr; }
  Parameter<T>* beta() { return options_.center ? &beta_ : nullptr; }
  Parameter<T>& moving_mean() { return moving_mean_; }
  Parameter<T>& moving_variance() { return moving_variance_; }

  // Batch statistics of the last training Forward (biased variance), for tests and reports.
  const Vector& batch_mean() const { return mean_; }
  const Vector& batch_variance() const { return variance_; }

  // TF's variable order within the scope: gamma, beta, moving_mean, moving_variance.
  void CollectParameters(ParameterList<T>& list) {
    if (options_.scale) list.Add(&gamma_);
    if (options_.center) list.Add(&beta_);
    list.Add(&moving_mean_);
    list.Add(&moving_variance_);
  }

  Tensor4<T> Forward(const Context& ctx, const Tensor4<T>& x) {
    const Index c = options_.channels;
    CheckChannels(x, c, What() + ": input");
    const Index rows = x.size() / c;
    if (mode_ == BatchNormMode::kTraining) {
      ComputeBatchStatistics(ctx, x.data(), rows);
      UpdateMovingStatistics(rows);
    } else {
      mean_ = moving_mean_.value;
      variance_ = moving_variance_.value;
    }
    inv_std_ = (variance_ + static_cast<T>(options_.epsilon)).rsqrt();
    const Vector scale = GammaOrOne() * inv_std_;
    const Vector shift = BetaOrZero() - mean_ * scale;
    Tensor4<T> y = detail::NewTensor4<T>(ShapeOf(x));
    // y = x * scale + shift, per channel.
    detail::ParallelForWork(ctx, rows, c, [&](int, Index begin, Index end) {
      detail::RowsAffine<T>(x.data() + begin * c, nullptr, end - begin, scale, nullptr, shift, y.data() + begin * c);
    });
    if (mode_ == BatchNormMode::kInference) {
      input_.Clear();
    } else {
      input_.Save(x);
    }
    forward_mode_ = mode_;
    return y;
  }

  Tensor4<T> Backward(const Context& ctx, const Tensor4<T>& dy) {
    if (forward_mode_ == BatchNormMode::kInference) {
      throw ArgumentError(What() + ": Backward after an inference-mode Forward (use kFrozen to train with "
                                   "moving statistics)");
    }
    const Tensor4<T>& x = input_.Get(What());
    CheckShape(dy, ShapeOf(x), What() + ": dy");
    const Index c = options_.channels, rows = x.size() / c;
    // Per channel: sum(dy) and sum(dy * xhat), xhat = (x - mean) * inv_std.
    const auto sums = SumGradients(ctx, x.data(), dy.data(), rows);
    const Vector& sum_dy = sums.first;
    const Vector& sum_dy_xhat = sums.second;
    if (options_.scale) gamma_.gradient += sum_dy_xhat;
    if (options_.center) beta_.gradient += sum_dy;
    const Vector k = GammaOrOne() * inv_std_;
    Tensor4<T> dx = detail::NewTensor4<T>(ShapeOf(x));
    if (forward_mode_ == BatchNormMode::kFrozen) {
      // Statistics are constants: the normalisation is affine in x.
      const Vector zero = Vector::Zero(c);
      detail::ParallelForWork(ctx, rows, c, [&](int, Index begin, Index end) {
        detail::RowsAffine<T>(dy.data() + begin * c, nullptr, end - begin, k, nullptr, zero, dx.data() + begin * c);
      });
      return dx;
    }
    // Training: dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)), the statistics' own gradient,
    // with xhat = (x - mean) * inv_std expanded: dx = dy * k - x * b + shift, per channel
    // b = k * inv_std * mean(dy * xhat) and shift = mean * b - k * mean(dy).
    const T inv_rows = T(1) / static_cast<T>(rows);
    const Vector b = k * inv_std_ * (sum_dy_xhat * inv_rows);
    const Vector shift = mean_ * b - k * (sum_dy * inv_rows);
    detail::ParallelForWork(ctx, rows, c, [&](int, Index begin, Index end) {
      detail::RowsAffine<T>(dy.data() + begin * c, x.data() + begin * c, end - begin, k, &b, shift,
                            dx.data() + begin * c);
    });
    return dx;
  }

 private:
  std::string What() const { return "BatchNorm '" + scope_ + "'"; }

  Vector GammaOrOne() const { return options_.scale ? Vector(gamma_.value) : Vector::Ones(options_.channels); }
  Vector BetaOrZero() const { return options_.center ? Vector(beta_.value) : Vector::Zero(options_.channels); }

  // Mean and squared deviations per block of rows small enough to stay in cache for its second
  // look (no E[x^2] - E[x]^2 cancellation), blocks merged with Chan et al.'s update: one pass
  // over memory. Per-thread results merge in range order.
  void ComputeBatchStatistics(const Context& ctx, const T* x, Index rows) {
    const Index c = options_.channels;
    std::vector<Moments> partial(detail::WorkRanges(ctx, rows, c));
    detail::ParallelForWork(ctx, rows, c, [&](int r, Index begin, Index end) {
      Moments& m = partial[r];
      m = {0, Vector::Zero(c), Vector::Zero(c)};
      const Index block = StatisticsBlockRows();
      Vector sum(c), dev(c);
      for (Index b = begin; b < end; b += block) {
        const Index n = std::min(block, end - b);
        sum.setZero();
        detail::AddColumnSums<T>(x + b * c, nullptr, nullptr, n, sum);
        const Vector mean = sum / static_cast<T>(n);
        dev.setZero();
        detail::AddColumnSums<T>(x + b * c, nullptr, &mean, n, dev);
        m.Merge({n, mean, dev});
      }
    });
    Moments total{0, Vector::Zero(c), Vector::Zero(c)};
    for (const Moments& m : partial) total.Merge(m);
    mean_ = total.mean;
    variance_ = total.m2 / static_cast<T>(rows);
  }

  // Count, mean and sum of squared deviations of some rows; Merge adds another set of rows.
  struct Moments {
    Index n = 0;
    Vector mean, m2;
    void Merge(const Moments& o) {
      if (o.n == 0) return;
      const Index total = n + o.n;
      const Vector delta = o.mean - mean;
      mean += delta * (static_cast<T>(o.n) / static_cast<T>(total));
      m2 += o.m2 + delta.square() * (static_cast<T>(n) * static_cast<T>(o.n) / static_cast<T>(total));
      n = total;
    }
  };

  // About 32 KiB of rows, between 8 and 256 rows.
  Index StatisticsBlockRows() const {
    return std::clamp<Index>(static_cast<Index>(32768 / sizeof(T)) / options_.channels, 8, 256);
  }

  void UpdateMovingStatistics(Index rows) {
    const T decay = static_cast<T>(options_.decay);
    const T correction =
        options_.bessel_correction && rows > 1 ? static_cast<T>(rows) / static_cast<T>(rows - 1) : T(1);
    moving_mean_.value = moving_mean_.value * decay + mean_ * (T(1) - decay);
    moving_variance_.value = moving_variance_.value * decay + variance_ * (correction * (T(1) - decay));
  }

  std::pair<Vector, Vector> SumGradients(const Context& ctx, const T* x, const T* dy, Index rows) const {
    const Index c = options_.channels;
    std::vector<std::pair<Vector, Vector>> partial(detail::WorkRanges(ctx, rows, c));
    detail::ParallelForWork(ctx, rows, c, [&](int r, Index begin, Index end) {
      Vector s_dy = Vector::Zero(c), s_dy_xhat = Vector::Zero(c), b_dy(c), b_dy_xhat(c);
      // Blocks of rows that stay in cache between the two sums; shorter float summation chains.
      const Index block = StatisticsBlockRows();
      for (Index b = begin; b < end; b += block) {
        const Index n = std::min(block, end - b);
        b_dy.setZero();
        b_dy_xhat.setZero();
        detail::AddColumnSums<T>(dy + b * c, nullptr, nullptr, n, b_dy);
        detail::AddColumnSums<T>(x + b * c, dy + b * c, &mean_, n, b_dy_xhat);
        s_dy += b_dy;
        s_dy_xhat += b_dy_xhat;
      }
      partial[r] = {s_dy, s_dy_xhat * inv_std_};
    });
    std::pair<Vector, Vector> sum{Vector::Zero(c), Vector::Zero(c)};
    for (const auto& p : partial) {
      sum.first += p.first;
      sum.second += p.second;
    }
    return sum;
  }

  BatchNormOptions options_;
  std::string scope_;
  BatchNormMode mode_ = BatchNormMode::kTraining;
  BatchNormMode forward_mode_ = BatchNormMode::kTraining;
  Parameter<T> gamma_, beta_, moving_mean_, moving_variance_;
  Vector mean_, variance_, inv_std_;  // statistics the last Forward used
  detail::InputCache<T> input_;
};

}  // namespace warmstart::nn
