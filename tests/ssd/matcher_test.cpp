// ArgMax matcher: thresholds at their edges, both negative conventions,
// force_match_for_each_row with its tie rules, no groundtruth, bad options.
#include "warmstart/ssd/matcher.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace {

using namespace warmstart::ssd;

// 3 groundtruth rows x 6 anchor columns.
Matrix<double> Similarity() {
  Matrix<double> s(3, 6);
  s << 0.7, 0.5, 0.3, 0.1, 0.0, 0.40,
       0.6, 0.55, 0.45, 0.2, 0.0, 0.39,
       0.0, 0.0, 0.0, 0.3, 0.0, 0.0;
  return s;
}

ArgMaxMatcherOptions Thresholds(double matched, double unmatched) {
  ArgMaxMatcherOptions o;
  o.matched_threshold = matched;
  o.unmatched_threshold = unmatched;
  return o;
}

}  // namespace

TEST_CASE("matcher: thresholds, negatives below", "[ssd][matcher]") {
  const ArgMaxMatcher m(Thresholds(0.5, 0.4));
  // col0 0.7 -> row0; col1 0.55 -> row1; col2 0.45 ignored; col3 0.3 unmatched;
  // col4 all zero -> unmatched; col5 exactly 0.40 = unmatched threshold -> ignored.
  REQUIRE(m.Match(Similarity()) == std::vector<int>{0, 1, kIgnored, kUnmatched, kUnmatched, kIgnored});
}

TEST_CASE("matcher: a value equal to matched_threshold matches", "[ssd][matcher]") {
  Matrix<double> s(1, 2);
  s << 0.5, 0.4999;
  REQUIRE(ArgMaxMatcher(Thresholds(0.5, 0.5)).Match(s) == std::vector<int>{0, kUnmatched});
}

TEST_CASE("matcher: negatives between the thresholds", "[ssd][matcher]") {
  ArgMaxMatcherOptions o = Thresholds(0.5, 0.4);
  o.negatives_lower_than_unmatched = false;
  REQUIRE(ArgMaxMatcher(o).Match(Similarity()) ==
          std::vector<int>{0, 1, kUnmatched, kIgnored, kIgnored, kUnmatched});
}

TEST_CASE("matcher: force match for each row", "[ssd][matcher]") {
  ArgMaxMatcherOptions o = Thresholds(0.5, 0.4);
  o.force_match_for_each_row = true;
  // Rows 0 and 1 both pick col0: the lower row keeps it. Row 2 forces col3.
  REQUIRE(ArgMaxMatcher(o).Match(Similarity()) == std::vector<int>{0, 1, kIgnored, 2, kUnmatched, kIgnored});
  SECTION("an all-zero row forces column 0 (argmax tie), unless invalid") {
    Matrix<double> s(2, 3);
    s << 0.0, 0.0, 0.9,
         0.0, 0.0, 0.0;
    REQUIRE(ArgMaxMatcher(o).Match(s) == std::vector<int>{1, kUnmatched, 0});
    const std::vector<bool> valid = {true, false};
    REQUIRE(ArgMaxMatcher(o).Match(s, &valid) == std::vector<int>{kUnmatched, kUnmatched, 0});
  }
}

TEST_CASE("matcher: no thresholds, no groundtruth", "[ssd][matcher]") {
  ArgMaxMatcherOptions o;
  o.matched_threshold.reset();
  o.unmatched_threshold.reset();
  REQUIRE(ArgMaxMatcher(o).Match(Similarity()) == std::vector<int>{0, 1, 1, 2, 0, 0});
  REQUIRE(ArgMaxMatcher().Match(Matrix<double>(0, 4)) == std::vector<int>(4, kUnmatched));
}

TEST_CASE("matcher: float thresholds compare in float", "[ssd][matcher]") {
  Matrix<float> s(1, 1);
  s << 0.5f;
  REQUIRE(ArgMaxMatcher(Thresholds(0.5, 0.5)).Match(s) == std::vector<int>{0});
}

TEST_CASE("matcher: invalid options", "[ssd][matcher]") {
  REQUIRE_THROWS_AS(ArgMaxMatcher(Thresholds(0.4, 0.5)), warmstart::ArgumentError);
  ArgMaxMatcherOptions equal = Thresholds(0.5, 0.5);
  equal.negatives_lower_than_unmatched = false;
  REQUIRE_THROWS_AS(ArgMaxMatcher(equal), warmstart::ArgumentError);
  ArgMaxMatcherOptions none;
  none.matched_threshold.reset();
  REQUIRE_THROWS_AS(ArgMaxMatcher(none), warmstart::ArgumentError);
  ArgMaxMatcherOptions defaulted;
  defaulted.unmatched_threshold.reset();
  REQUIRE(*ArgMaxMatcher(defaulted).options().unmatched_threshold == 0.5);
  const std::vector<bool> wrong = {true};
  REQUIRE_THROWS_AS(ArgMaxMatcher().Match(Similarity(), &wrong), warmstart::ArgumentError);
}
