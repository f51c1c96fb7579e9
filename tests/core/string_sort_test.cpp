// core/string_sort.hpp: SortedOrder against std::sort of (name, index) pairs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "warmstart/core/string_sort.hpp"

namespace {

std::vector<size_t> Expected(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string_view, size_t>> pairs;
  for (size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], i);
  std::sort(pairs.begin(), pairs.end());
  std::vector<size_t> out;
  for (const auto& p : pairs) out.push_back(p.second);
  return out;
}

std::vector<size_t> Actual(const std::vector<std::string>& names) {
  return warmstart::core::SortedOrder(std::vector<std::string_view>(names.begin(), names.end()));
}

}  // namespace

TEST_CASE("SortedOrder: small cases", "[core][string_sort]") {
  CHECK(Actual({}).empty());
  CHECK(Actual({"a"}) == std::vector<size_t>{0});
  // Prefixes sort first; bytes compare unsigned; an embedded NUL is a byte like any other.
  const std::vector<std::string> names = {"ab", std::string("ab\0", 3), "a", "", "\xff", "ab", "abcdefghij",
                                          "abcdefgh", "abcdefghi", std::string("abcdefgh\0", 9)};
  CHECK(Actual(names) == Expected(names));
}

TEST_CASE("SortedOrder: long shared prefixes, duplicates and groups of every size", "[core][string_sort]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    const size_t n = rng() % (round < 250 ? 120 : 3000);
    std::vector<std::string> names;
    const std::string shared(rng() % 40, 'F');
    for (size_t i = 0; i < n; ++i) {
      std::string s = rng() % 4 ? shared : std::string();
      const size_t len = rng() % 24;
      for (size_t j = 0; j < len; ++j) {
        static const char kAlphabet[] = {'a', 'b', '/', '\0', '\xff', '\x80'};
        s += kAlphabet[rng() % (j < 10 ? 2 : 6)];
      }
      names.push_back(s);
      if (rng() % 5 == 0) names.push_back(s);  // a duplicate: index order among equals
    }
    INFO("round " << round << ", " << names.size() << " names");
    REQUIRE(Actual(names) == Expected(names));
  }
}

TEST_CASE("SortedOrder: TF-like variable names", "[core][string_sort]") {
  std::vector<std::string> names;
  for (size_t i = 0; i < 20000; ++i) {
    names.push_back((i % 10 == 9 ? "BoxPredictor_" + std::to_string(i % 6) + "/ClassPredictor/"
                                 : "FeatureExtractor/MobilenetV1/Conv2d_" + std::to_string(i % 14) + "_pointwise/") +
                    std::to_string(i * 7919 % 20000) + (i % 3 ? "/weights" : "/BatchNorm/gamma"));
  }
  CHECK(Actual(names) == Expected(names));
}
