// Threads for the nn layers: one Context owns an Eigen::ThreadPool and hands out work.
//
// Layers take a `const Context&` in Forward and Backward; nothing is global. A layer splits its
// work into at most num_threads() contiguous ranges with ParallelFor; the calling thread runs
// the last range itself, so a one-thread Context never touches the pool. Results do not depend
// on the thread count except through the order of floating-point sums in reductions (weight
// gradients, batch statistics), which are split per thread and added in thread order.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>

// Only the pool, not ThreadPoolDevice: the device needs EIGEN_USE_THREADS defined before the
// first include of the Tensor module, which other headers (bundle/reader.hpp) may have done.
#include <unsupported/Eigen/CXX11/ThreadPool>

#include "warmstart/error.hpp"

namespace warmstart::nn {

class Context {
 public:
  // num_threads 0 means std::thread::hardware_concurrency().
  explicit Context(int num_threads = 0) { SetNumThreads(num_threads); }

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int num_threads() const { return num_threads_; }

  void SetNumThreads(int num_threads) {
    if (num_threads < 0) {
      throw ArgumentError("Context: thread count must be >= 0 (0 = hardware concurrency), found " +
                          std::to_string(num_threads));
    }
    if (num_threads == 0) num_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    pool_.reset();
    num_threads_ = num_threads;
    // The caller works too: the pool needs one thread fewer.
    if (num_threads > 1) pool_ = std::make_unique<Eigen::ThreadPool>(num_threads - 1);
  }

  // Number of ranges ParallelFor(n, ...) will use: at most one per thread, none empty.
  int Ranges(Eigen::Index n) const {
    return static_cast<int>(std::max<Eigen::Index>(1, std::min<Eigen::Index>(num_threads_, n)));
  }

  // Calls fn(range, begin, end) for Ranges(n) contiguous ranges covering [0, n), in parallel,
  // and returns when all are done. fn must not throw (check arguments before). Range r is the same for the same n and thread count, so
  // per-range partial results combine deterministically.
  void ParallelFor(Eigen::Index n, const std::function<void(int, Eigen::Index, Eigen::Index)>& fn) const {
    if (n <= 0) return;
    const int ranges = Ranges(n);
    auto bounds = [&](int r) { return n * r / ranges; };
    if (ranges == 1) {
      fn(0, 0, n);
      return;
    }
    Eigen::Barrier barrier(static_cast<unsigned>(ranges - 1));
    for (int r = 0; r < ranges - 1; ++r) {
      pool_->Schedule([&, r] {
        fn(r, bounds(r), bounds(r + 1));
        barrier.Notify();
      });
    }
    fn(ranges - 1, bounds(ranges - 1), n);
    barrier.Wait();
  }

 private:
  int num_threads_ = 1;
  std::unique_ptr<Eigen::ThreadPool> pool_;
};

}  // namespace warmstart::nn
