// The ArgMax matcher: each anchor (column) takes the groundtruth box (row) it
// overlaps most, subject to thresholds.
//
// Mirrors research/object_detection/matchers/argmax_matcher.py and the
// match-result convention of core/matcher.py:
//   result[j] >= 0   anchor j matched to groundtruth row result[j]
//   result[j] == -1  unmatched (negative: background target, weight 1)
//   result[j] == -2  ignored   (no loss at all)
// Similarity is [M, N]: M groundtruth rows, N anchor columns (IoU for SSD).
//
// For an anchor whose best similarity is v (ties: lowest row):
//   v >= matched_threshold                -> matched
//   unmatched_threshold <= v < matched    -> ignored  (-1 instead when
//                                            negatives_lower_than_unmatched=false)
//   v < unmatched_threshold               -> unmatched (-2 instead when false)
// force_match_for_each_row then gives each valid row its best anchor (ties:
// lowest column) regardless of thresholds; if two rows pick the same anchor,
// the lower row wins.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "warmstart/error.hpp"
#include "warmstart/ssd/box_ops.hpp"

namespace warmstart::ssd {

constexpr int kUnmatched = -1;
constexpr int kIgnored = -2;

struct ArgMaxMatcherOptions {
  // nullopt (TF's None, config ignore_thresholds: true): every anchor matches
  // its argmax row; then unmatched_threshold must be nullopt too.
  std::optional<double> matched_threshold = 0.5;
  std::optional<double> unmatched_threshold = 0.5;  // nullopt = matched_threshold
  bool negatives_lower_than_unmatched = true;
  bool force_match_for_each_row = false;
};

class ArgMaxMatcher {
 public:
  explicit ArgMaxMatcher(ArgMaxMatcherOptions o = {}) : o_(o) {
    if (!o_.matched_threshold) {
      if (o_.unmatched_threshold) {
        throw ArgumentError("ArgMaxMatcher: unmatched_threshold needs a matched_threshold");
      }
      return;
    }
    if (!o_.unmatched_threshold) o_.unmatched_threshold = o_.matched_threshold;
    if (*o_.unmatched_threshold > *o_.matched_threshold) {
      throw ArgumentError("ArgMaxMatcher: unmatched_threshold " + std::to_string(*o_.unmatched_threshold) +
                          " exceeds matched_threshold " + std::to_string(*o_.matched_threshold));
    }
    if (!o_.negatives_lower_than_unmatched && *o_.unmatched_threshold == *o_.matched_threshold) {
      throw ArgumentError(
          "ArgMaxMatcher: with negatives between the thresholds they cannot be equal");
    }
  }

  const ArgMaxMatcherOptions& options() const { return o_; }

  // similarity [M, N] -> [N] match results. valid_rows (size M, optional):
  // rows that may be force-matched (TF: groundtruth weight > 0).
  template <typename T>
  std::vector<int> Match(const Matrix<T>& similarity, const std::vector<bool>* valid_rows = nullptr) const {
    const Eigen::Index m = similarity.rows(), n = similarity.cols();
    if (valid_rows && static_cast<Eigen::Index>(valid_rows->size()) != m) {
      throw ArgumentError("ArgMaxMatcher: valid_rows has " + std::to_string(valid_rows->size()) +
                          " entries for " + std::to_string(m) + " rows");
    }
    std::vector<int> matches(static_cast<size_t>(n), kUnmatched);
    if (m == 0) return matches;
    for (Eigen::Index j = 0; j < n; ++j) matches[j] = ThresholdColumn(similarity, j);
    if (o_.force_match_for_each_row) ForceMatchRows(similarity, valid_rows, matches);
    return matches;
  }

 private:
  template <typename T>
  int ThresholdColumn(const Matrix<T>& s, Eigen::Index j) const {
    Eigen::Index best = 0;
    for (Eigen::Index i = 1; i < s.rows(); ++i) {
      if (s(i, j) > s(best, j)) best = i;
    }
    if (!o_.matched_threshold) return static_cast<int>(best);
    const T v = s(best, j);
    const T matched = static_cast<T>(*o_.matched_threshold);
    const T unmatched = static_cast<T>(*o_.unmatched_threshold);
    const bool below = unmatched > v;
    const bool between = v >= unmatched && matched > v;
    if (below) return o_.negatives_lower_than_unmatched ? kUnmatched : kIgnored;
    if (between) return o_.negatives_lower_than_unmatched ? kIgnored : kUnmatched;
    return static_cast<int>(best);
  }

  // Rows are visited high to low so the lowest row claiming a column wins.
  template <typename T>
  static void ForceMatchRows(const Matrix<T>& s, const std::vector<bool>* valid_rows,
                             std::vector<int>& matches) {
    for (Eigen::Index i = s.rows() - 1; i >= 0; --i) {
      if (valid_rows && !(*valid_rows)[i]) continue;
      Eigen::Index best = 0;
      for (Eigen::Index j = 1; j < s.cols(); ++j) {
        if (s(i, j) > s(i, best)) best = j;
      }
      if (s.cols() > 0) matches[best] = static_cast<int>(i);
    }
  }

  ArgMaxMatcherOptions o_;
};

// Counts over a match result (Match.num_matched_columns etc.).
inline int NumMatched(const std::vector<int>& match) {
  int n = 0;
  for (int v : match) n += v >= 0;
  return n;
}
inline int NumUnmatched(const std::vector<int>& match) {
  int n = 0;
  for (int v : match) n += v == kUnmatched;
  return n;
}
inline int NumIgnored(const std::vector<int>& match) {
  int n = 0;
  for (int v : match) n += v == kIgnored;
  return n;
}

}  // namespace warmstart::ssd
