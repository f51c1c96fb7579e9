// PyRegex against Python 3.11's `re`: every construct with answers taken from python3, every
// error with Python's message and position, the spec's match-versus-search table (§4.3),
// the DFA against its uncached twin, and a differential run of a few thousand random
// patterns and subjects through /usr/bin/python3 itself.
#include "warmstart/restore/pyregex.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>  // getpid: a private temporary directory

namespace {

using warmstart::ArgumentError;
using warmstart::restore::PatternError;
using warmstart::restore::PyMatchMode;
using warmstart::restore::PyRegex;
using warmstart::restore::PyRegexSet;
namespace detail = warmstart::restore::detail;

struct Case {
  const char* pattern;
  const char* subject;
  bool match, search, fullmatch;
};

// Python's message (str(re.error)) for patterns it rejects.
struct ErrorCase {
  const char* pattern;
  const char* message;
};

std::string Describe(const std::string& pattern, const std::string& subject) {
  return "pattern " + detail::PrintablePattern(pattern) + " subject " + detail::PrintablePattern(subject);
}

void RequireAnswers(const Case& c) {
  INFO(Describe(c.pattern, c.subject));
  const PyRegex re = PyRegex::Compile(c.pattern);
  CHECK(re.Matches(c.subject, PyMatchMode::kMatch) == c.match);
  CHECK(re.Matches(c.subject, PyMatchMode::kSearch) == c.search);
  CHECK(re.Matches(c.subject, PyMatchMode::kFullMatch) == c.fullmatch);
}

std::string CompileError(const std::string& pattern) {
  try {
    PyRegex::Compile(pattern);
  } catch (const PatternError& e) {
    return e.python_message();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("pyregex: every construct answers as python3 does", "[restore][pyregex]") {
  // Generated once with python3 3.11: bool(re.match), bool(re.search), bool(re.fullmatch).
  static const Case kCases[] = {
      {"abc", "abc", true, true, true},
      {"abc", "xabc", false, true, false},
      {"abc", "ab", false, false, false},
      {"a.c", "abc", true, true, true},
      {"a.c", "a\x0a""c", false, false, false},
      {"(?s)a.c", "a\x0a""c", true, true, true},
      {"a.c", "a\xc3\xa9""c", true, true, true},
      {"a.c", "a\xf0\x9f\x98\x80""c", true, true, true},
      {"\\d+", "x42", false, true, false},
      {"\\D", "4", false, false, false},
      {"\\w+$", "conv_1", true, true, true},
      {"\\W", "a/b", false, true, false},
      {"\\s", "a b", false, true, false},
      {"\\S", "  ", false, false, false},
      {"a\\nb", "a\x0a""b", true, true, true},
      {"\\t", "\x09""", true, true, true},
      {"\\r\\f\\v\\a", "\x0d""\x0c""\x0b""\x07""", true, true, true},
      {"\\\\", "a\\b", false, true, false},
      {"\\x41", "A", true, true, true},
      {"\\u00e9", "\xc3\xa9""", true, true, true},
      {"\\U0001F600", "\xf0\x9f\x98\x80""", true, true, true},
      {"\\012", "\x0a""", true, true, true},
      {"\\101", "A", true, true, true},
      {"\\.", "a.b", false, true, false},
      {"\\.", "ab", false, false, false},
      {"\\/\\-\\:", "/-:", true, true, true},
      {"^a", "ba", false, false, false},
      {"^a", "ab", true, true, false},
      {"a$", "a\x0a""", true, true, false},
      {"a$", "a\x0a""\x0a""", false, false, false},
      {"a$\\n", "a\x0a""", true, true, true},
      {"a\\Z", "a\x0a""", false, false, false},
      {"\\Aa", "ba", false, false, false},
      {"(?m)^b", "a\x0a""b", false, true, false},
      {"(?m)a$", "a\x0a""b", true, true, false},
      {"$", "abc", false, true, false},
      {"^$", "", true, true, true},
      {"(?m)^$", "a\x0a""", false, true, false},
      {"\\bfoo\\b", "a foo b", false, true, false},
      {"\\bfoo\\b", "afoo", false, false, false},
      {"\\Bfoo", "afoo", false, true, false},
      {"\\B", "", false, false, false},
      {"\\b", "", false, false, false},
      {"\\b", "a", true, true, false},
      {"\\b\\u00e9", "\xc3\xa9""t\xc3\xa9""", true, true, false},
      {"(?a)\\b\\u00e9", "\xc3\xa9""", false, false, false},
      {"[abc]", "xbx", false, true, false},
      {"[^abc]", "abc", false, false, false},
      {"[a-c]+", "cab", true, true, true},
      {"[]a]", "]", true, true, true},
      {"[^]a]", "]", false, false, false},
      {"[a-]", "-", true, true, true},
      {"[-a]", "-", true, true, true},
      {"[a\\-z]", "-", true, true, true},
      {"[\\d_]", "_", true, true, true},
      {"[\\w.]+", "a.b", true, true, true},
      {"[^\\W\\d]", "5", false, false, false},
      {"[\\b]", "\x08""", true, true, true},
      {"[\\x41-\\x43]", "B", true, true, true},
      {"[\\]]", "]", true, true, true},
      {"[\\\\]", "\\", true, true, true},
      {"[a-c-e]", "-", true, true, true},
      {"[.]", "x", false, false, false},
      {"[*+?{}()|^$]", "$", true, true, true},
      {"a*", "b", true, true, false},
      {"a+", "b", false, false, false},
      {"a?b", "b", true, true, true},
      {"a{2}", "aa", true, true, true},
      {"a{2}", "a", false, false, false},
      {"a{2,}", "aaa", true, true, true},
      {"a{1,2}b", "aaab", false, true, false},
      {"a{,2}b", "aab", true, true, true},
      {"a{,2}b", "aaab", false, true, false},
      {"a{}", "a{}", true, true, true},
      {"a{x}", "a{x}", true, true, true},
      {"a{1,x}", "a{1,x}", true, true, true},
      {"a{,}", "aaa", true, true, true},
      {"a*?b", "aab", true, true, true},
      {"a+?", "a", true, true, true},
      {"a??b", "ab", true, true, true},
      {"a{1,2}?b", "ab", true, true, true},
      {"x{0}", "x", true, true, false},
      {"(?:ab){2,3}$", "ababab", true, true, true},
      {"{", "{", true, true, true},
      {"a{ 2}", "a{ 2}", true, true, true},
      {"(a|b)c", "bc", true, true, true},
      {"(?:a|b)c", "ac", true, true, true},
      {"(?P<first>a)b", "ab", true, true, true},
      {"a|", "x", true, true, false},
      {"|a", "x", true, true, false},
      {"a||b", "c", true, true, false},
      {"", "anything", true, true, false},
      {"()", "", true, true, true},
      {"(a*)*b", "aab", true, true, true},
      {"(a|ab)(c|bcd)(d*)$", "abcd", true, true, true},
      {"(?#comment)a", "a", true, true, true},
      {"(?i)abc", "ABC", true, true, true},
      {"(?i)[a-z]+", "ABC", true, true, true},
      {"(?i:a)b", "Ab", true, true, true},
      {"(?i:a)b", "AB", false, false, false},
      {"(?i)a(?-i:b)", "AB", false, false, false},
      {"(?i)a(?-i:b)", "Ab", true, true, true},
      {"(?i)\\u00e9", "\xc3\x89""", true, true, true},
      {"(?i)\\u03c3", "\xcf\x82""", true, true, true},
      {"(?i)\\u03a3", "\xcf\x82""", true, true, true},
      {"(?i)k", "\xe2\x84\xaa""", true, true, true},
      {"(?ai)k", "\xe2\x84\xaa""", false, false, false},
      {"(?i)s", "\xc5\xbf""", true, true, true},
      {"(?i)i", "\xc4\xb1""", true, true, true},
      {"(?i)i", "\xc4\xb0""", true, true, true},
      {"(?i)\\u00ff", "\xc5\xb8""", true, true, true},
      {"(?i)\\u044f", "\xd0\xaf""", true, true, true},
      {"(?i)[^a]", "A", false, false, false},
      {"(?i)[\\W]", "\xe2\x84\xaa""", false, false, false},
      {"(?a)\\w", "\xc3\xa9""", false, false, false},
      {"\\w", "\xc3\xa9""", true, true, true},
      {"(?a:\\w)\\w", "a\xc3\xa9""", true, true, true},
      {"(?u)\\w", "\xc3\xa9""", true, true, true},
      {"(?x) a b # comment", "ab", true, true, true},
      {"(?x)a\\ b", "a b", true, true, true},
      {"(?x)[ ]", "  ", true, true, false},
      {"(?x)a #c", " a", false, true, false},
      {"(?x: a )b", "ab", true, true, true},
      {"(?s:.)", "\x0a""", true, true, true},
      {"(?m:^)b", "a\x0a""b", false, true, false},
      {"(?im)^B", "a\x0a""b", false, true, false},
      {"\\d", "\xd9\xa3""", true, true, true},
      {"(?a)\\d", "\xd9\xa3""", false, false, false},
      {"\\s", "\xc2\xa0""", true, true, true},
      {"\\s", "\x1c""", true, true, true},
      {"(?a)\\s", "\x1c""", false, false, false},
      {"\\w", "\xc2\xb2""", true, true, true},
      {"\\d", "\xc2\xb2""", false, false, false},
      {"\\w", "\xe4\xb8\xad""", true, true, true},
      {"\\w", "\xf0\x9f\x98\x80""", false, false, false},
      {"\\w", "\xcc\x81""", false, false, false},
  };
  for (const Case& c : kCases) RequireAnswers(c);
  // A NUL in the subject (not expressible in the table's C strings).
  CHECK(PyRegex::Compile("\\0").Matches(std::string(1, '\0'), PyMatchMode::kFullMatch));
  CHECK(PyRegex::Compile("a\\x00b").Matches(std::string("a\0b", 3), PyMatchMode::kFullMatch));
}

TEST_CASE("pyregex: spec table 4.3, re.match on op names versus re.search on name:0", "[restore][pyregex]") {
  const std::vector<std::string> ops = {
      "FeatureExtractor/MobilenetV1/Conv2d_0/weights",
      "FeatureExtractor/MobilenetV1/Conv2d_0/BatchNorm/gamma",
      "FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights",
      "FeatureExtractor/MobilenetV1/Conv2d_12_pointwise/weights",
      "FeatureExtractor/MobilenetV1/Conv2d_13_pointwise_1_Conv2d_2_1x1_256/weights",
      "BoxPredictor_0/ClassPredictor/biases",
      "BoxPredictor_0/BoxEncodingPredictor/weights",
  };
  // Path A: re.match(p, op_name). Path B: re.search(p, op_name + ":0").
  const auto a = [&](const std::string& p) {
    const PyRegex re = PyRegex::Compile(p);
    std::vector<bool> out;
    for (const auto& n : ops) out.push_back(re.Matches(n, PyMatchMode::kMatch));
    return out;
  };
  const auto b = [&](const std::string& p) {
    const PyRegex re = PyRegex::Compile(p);
    std::vector<bool> out;
    for (const auto& n : ops) out.push_back(re.Matches(n + ":0", PyMatchMode::kSearch));
    return out;
  };
  using V = std::vector<bool>;
  CHECK(a("FeatureExtractor") == V{true, true, true, true, true, false, false});
  CHECK(b("FeatureExtractor") == a("FeatureExtractor"));
  CHECK(a("MobilenetV1") == V{false, false, false, false, false, false, false});
  CHECK(b("MobilenetV1") == V{true, true, true, true, true, false, false});
  CHECK(a(".*BoxPredictor.*") == V{false, false, false, false, false, true, true});
  CHECK(b(".*BoxPredictor.*") == a(".*BoxPredictor.*"));
  CHECK(a("weights") == V{false, false, false, false, false, false, false});
  CHECK(b("weights") == V{true, false, true, true, true, false, true});
  CHECK(a("BoxPredictor_0/ClassPredictor/biases$") == V{false, false, false, false, false, true, false});
  CHECK(b("BoxPredictor_0/ClassPredictor/biases$") == V{false, false, false, false, false, false, false});
  CHECK(a("FeatureExtractor/MobilenetV1/Conv2d_1[0-3]") == V{false, false, false, true, true, false, false});
  CHECK(b("FeatureExtractor/MobilenetV1/Conv2d_1[0-3]") == a("FeatureExtractor/MobilenetV1/Conv2d_1[0-3]"));
  // The empty pattern matches everything (path A drops it before matching).
  CHECK(b("") == V(ops.size(), true));
  CHECK(a("") == V(ops.size(), true));
}

TEST_CASE("pyregex: patterns python3 rejects, with its message and position", "[restore][pyregex]") {
  static const ErrorCase kErrors[] = {
      {"Conv2d_1[3-0]", "bad character range 3-0 at position 9"},
      {"a**", "multiple repeat at position 2"},
      {"*a", "nothing to repeat at position 0"},
      {"a{2}{3}", "multiple repeat at position 4"},
      {"^*", "nothing to repeat at position 1"},
      {"\\b+", "nothing to repeat at position 2"},
      {"(a", "missing ), unterminated subpattern at position 0"},
      {"a)", "unbalanced parenthesis at position 1"},
      {"[abc", "unterminated character set at position 0"},
      {"[a", "unterminated character set at position 0"},
      {"\\q", "bad escape \\q at position 0"},
      {"\\", "bad escape (end of pattern) at position 0"},
      {"a\\", "bad escape (end of pattern) at position 1"},
      {"\\1", "invalid group reference 1 at position 1"},
      {"(a)\\2", "invalid group reference 2 at position 4"},
      {"(a\\1)", "cannot refer to an open group at position 2"},
      {"(?P<1a>x)", "bad character in group name '1a' at position 4"},
      {"(?P<a>x)(?P<a>y)", "redefinition of group name 'a' as group 2; was group 1 at position 12"},
      {"(?P=b)", "unknown group name 'b' at position 4"},
      {"(?P<a>x(?P=a))", "cannot refer to an open group at position 11"},
      {"(?Px)", "unknown extension ?Px at position 1"},
      {"(?<x)", "unknown extension ?<x at position 1"},
      {"(?z)", "unknown extension ?z at position 1"},
      {"a(?i)", "global flags not at the start of the expression at position 1"},
      {"(?i", "missing -, : or ) at position 3"},
      {"(?i-", "missing flag at position 4"},
      {"(?-i)", "missing : at position 4"},
      {"(?i-i:a)", "bad inline flags: flag turned on and off at position 5"},
      {"(?a-a:x)", "bad inline flags: cannot turn off flags 'a', 'u' and 'L' at position 5"},
      {"(?L)", "bad inline flags: cannot use 'L' flag with a str pattern at position 3"},
      {"(?au)", "bad inline flags: flags 'a', 'u' and 'L' are incompatible at position 4"},
      {"(?a)(?u)", "ASCII and UNICODE flags are incompatible"},
      {"(?i-:a)", "missing flag at position 4"},
      {"[\\d-z]", "bad character range \\d-z at position 1"},
      {"[a-\\d]", "bad character range a-\\d at position 1"},
      {"[z-a]", "bad character range z-a at position 1"},
      {"\\x4", "incomplete escape \\x4 at position 0"},
      {"\\u12", "incomplete escape \\u12 at position 0"},
      {"\\U0011FFFF", "bad escape \\U0011FFFF at position 0"},
      {"\\777", "octal escape value \\777 outside of range 0-0o377 at position 0"},
      {"[\\777]", "octal escape value \\777 outside of range 0-0o377 at position 1"},
      {"[\\8]", "bad escape \\8 at position 1"},
      {"[\\A]", "bad escape \\A at position 1"},
      {"\\N", "missing { at position 2"},
      {"\\N{", "missing character name at position 3"},
      {"a{3,2}", "min repeat greater than max repeat at position 2"},
      {"a{4294967295}", "the repetition number is too large"},
      {"(?#abc", "missing ), unterminated comment at position 0"},
      {"(?(a)b)", "unknown group name 'a' at position 3"},
      {"(?(0)b)", "bad group number at position 3"},
      {"(?(1)a|b|c)", "conditional backref with more than two branches at position 8"},
      {"[\\x5a-\\x41]", "bad character range \\x-\\x at position 5"},
      {"(?P<a", "missing >, unterminated name at position 4"},
      {"(?P<>a)", "missing group name at position 4"},
      {"(?P", "unexpected end of pattern at position 3"},
      {"(?", "unexpected end of pattern at position 2"},
      {"a{1,2}{3}", "multiple repeat at position 6"},
      {"((a)", "missing ), unterminated subpattern at position 0"},
      {"a\x0a""b)", "unbalanced parenthesis at position 3 (line 2, column 2)"},
  };
  for (const ErrorCase& e : kErrors) {
    INFO("pattern " << detail::PrintablePattern(e.pattern));
    CHECK(CompileError(e.pattern) == e.message);
  }
  // what() names the pattern; the error is an ArgumentError with the position.
  try {
    PyRegex::Compile("Conv2d_1[3-0]");
    FAIL("accepted");
  } catch (const PatternError& e) {
    CHECK(std::string(e.what()) == "pattern 'Conv2d_1[3-0]': bad character range 3-0 at position 9");
    CHECK(e.position() == 9u);
    CHECK_FALSE(e.unsupported());
    CHECK(e.pattern() == "Conv2d_1[3-0]");
  }
  CHECK_THROWS_AS(PyRegex::Compile("a**"), ArgumentError);
  // Not valid UTF-8: refused before parsing.
  CHECK_THROWS_WITH(PyRegex::Compile("a\xff"), Catch::Contains("not valid UTF-8 (byte 1)"));
}

TEST_CASE("pyregex: constructs python3 accepts that we refuse", "[restore][pyregex]") {
  static const ErrorCase kUnsupported[] = {
      {"(a)\\1", "backreferences are not supported at position 3"},
      {"(?P<n>a)(?P=n)", "backreferences are not supported at position 8"},
      {"a(?=b)", "lookahead assertions are not supported at position 1"},
      {"a(?!b)", "lookahead assertions are not supported at position 1"},
      {"(?<=a)b", "lookbehind assertions are not supported at position 0"},
      {"(?<!a)b", "lookbehind assertions are not supported at position 0"},
      {"(a)(?(1)b|c)", "conditional groups are not supported at position 3"},
      {"(?>ab)", "atomic groups are not supported at position 0"},
      {"a*+", "possessive quantifiers are not supported at position 1"},
      {"a++", "possessive quantifiers are not supported at position 1"},
      {"a?+", "possessive quantifiers are not supported at position 1"},
      {"a{1,2}+", "possessive quantifiers are not supported at position 1"},
      {"\\N{EM DASH}", "named Unicode escapes \\N{...} are not supported at position 0"},
      {"[\\N{EM DASH}]", "named Unicode escapes \\N{...} are not supported at position 1"},
      {"(?t)a", "the TEMPLATE flag (?t) is not supported at position 0"},
  };
  for (const ErrorCase& e : kUnsupported) {
    INFO("pattern " << e.pattern);
    try {
      PyRegex::Compile(e.pattern);
      FAIL("accepted");
    } catch (const PatternError& err) {
      CHECK(err.python_message() == e.message);
      CHECK(err.unsupported());
    }
  }
  // Python's own errors win over ours: the parse runs to the end first.
  CHECK(CompileError("(?=a)(") == "missing ), unterminated subpattern at position 5");
  // Lazy quantifiers are fine: for a yes/no answer they equal the greedy ones.
  CHECK_NOTHROW(PyRegex::Compile("a*?b+?c??d{1,2}?"));
  // A counted repeat whose automaton would be too large.
  try {
    PyRegex::Compile("(?:abcdefgh){100000}");
    FAIL("accepted");
  } catch (const PatternError& err) {
    CHECK(err.unsupported());
    CHECK_THAT(err.what(), Catch::Contains("pattern too large"));
  }
}

TEST_CASE("pyregex: PyRegexSet reports the lowest and every matching pattern", "[restore][pyregex]") {
  const std::vector<std::string> patterns = {"weights", ".*BoxPredictor.*", "^FeatureExtractor/", "Conv2d_[0-9]_",
                                             "biases$"};
  const PyRegexSet search(patterns, PyMatchMode::kSearch);
  const PyRegexSet match(patterns, PyMatchMode::kMatch);
  std::vector<int> all;
  CHECK(search.FirstMatch("FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights") == 0);
  search.AllMatches("FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights", &all);
  CHECK(all == std::vector<int>{0, 2, 3});
  CHECK(match.FirstMatch("FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights") == 2);
  match.AllMatches("FeatureExtractor/MobilenetV1/Conv2d_1_depthwise/depthwise_weights", &all);
  CHECK(all == std::vector<int>{2});
  CHECK(search.FirstMatch("BoxPredictor_0/ClassPredictor/biases") == 1);
  search.AllMatches("BoxPredictor_0/ClassPredictor/biases", &all);
  CHECK(all == std::vector<int>{1, 4});
  CHECK(search.FirstMatch("global_step") == -1);
  search.AllMatches("global_step", &all);
  CHECK(all.empty());
  // Mixed modes in one set: re.match for the first two, re.search for the rest; and the same
  // subject read on over ":0".
  const PyRegexSet mixed({"weights", "^Box", "weights", "weights$", "\\d$"},
                         {PyMatchMode::kMatch, PyMatchMode::kMatch, PyMatchMode::kSearch, PyMatchMode::kSearch,
                          PyMatchMode::kSearch});
  std::vector<int> extended;
  mixed.AllMatchesWithSuffix("BoxPredictor_0/weights", ":0", &all, &extended);
  CHECK(all == std::vector<int>{1, 2, 3});
  CHECK(extended == std::vector<int>{1, 2, 4});
  mixed.AllMatchesWithSuffix("weights", ":0", &all, &extended);
  CHECK(all == std::vector<int>{0, 2, 3});
  CHECK(extended == std::vector<int>{0, 2, 4});
  mixed.AllMatchesWithSuffix("x1\n", "x", &all, &extended);  // "$" before a final newline only
  CHECK(all == std::vector<int>{4});
  CHECK(extended.empty());
  CHECK_THROWS_AS(PyRegexSet({"a", "b"}, {PyMatchMode::kFullMatch, PyMatchMode::kSearch}), warmstart::ArgumentError);
  // An empty set matches nothing.
  const PyRegexSet none({}, PyMatchMode::kSearch);
  CHECK(none.FirstMatch("x") == -1);
  // The bad pattern is named with its index.
  try {
    PyRegexSet bad({"ok", "Conv2d_1[3-0]"}, PyMatchMode::kSearch);
    FAIL("accepted");
  } catch (const PatternError& e) {
    CHECK(std::string(e.what()) == "patterns[1] 'Conv2d_1[3-0]': bad character range 3-0 at position 9");
    CHECK(e.index() == 1u);
  }
}

TEST_CASE("pyregex: SearchMayDifferFromMatch on newline-free subjects", "[restore][pyregex]") {
  const auto differs = [](const char* p) { return PyRegex::Compile(p).SearchMayDifferFromMatch(); };
  CHECK(differs("MobilenetV1"));
  CHECK(differs("weights"));
  CHECK(differs("a|^b"));
  CHECK(differs("\\bconv"));
  CHECK_FALSE(differs("^FeatureExtractor/"));
  CHECK_FALSE(differs("\\AFeature"));
  CHECK_FALSE(differs(".*BoxPredictor.*"));
  CHECK_FALSE(differs(".*"));
  CHECK_FALSE(differs(""));
  CHECK_FALSE(differs("^a|^b"));
  CHECK_FALSE(differs("(?s).*x"));
  CHECK_FALSE(differs("(?m)^x"));  // without newlines (?m)^ is ^
  CHECK(differs("(?m)x$|^y"));
}

TEST_CASE("pyregex: subjects that are not valid UTF-8 read as surrogate escapes", "[restore][pyregex]") {
  // Python: b"a\xffb".decode("utf-8", "surrogateescape") == "a\udcffb".
  CHECK(PyRegex::Compile("a.b").Matches("a\xff" "b", PyMatchMode::kFullMatch));
  CHECK(PyRegex::Compile("a\\udcffb").Matches("a\xff" "b", PyMatchMode::kFullMatch));
  CHECK_FALSE(PyRegex::Compile("a\\wb").Matches("a\xff" "b", PyMatchMode::kFullMatch));
  // A truncated sequence is one code point per byte.
  CHECK(PyRegex::Compile("^..$").Matches("\xe4\xb8", PyMatchMode::kMatch));
}

TEST_CASE("pyregex: copies are independent and the cache survives being flushed", "[restore][pyregex]") {
  const PyRegex a = PyRegex::Compile("Conv2d_1[0-3]_pointwise");
  CHECK(a.Matches("x/Conv2d_12_pointwise", PyMatchMode::kSearch));
  const PyRegex b = a;  // NOLINT: a copy starts with an empty cache
  CHECK(b.Matches("x/Conv2d_12_pointwise", PyMatchMode::kSearch));
  CHECK_FALSE(b.Matches("x/Conv2d_14_pointwise", PyMatchMode::kSearch));
  CHECK(b.pattern() == "Conv2d_1[0-3]_pointwise");

  // A tiny budget flushes the DFA cache on almost every step; answers must not change.
  detail::Program program;
  std::map<detail::CodeSet, int32_t> sets;
  detail::AddPattern("(a|b)*a(a|b){6}c", std::nullopt, &program, &sets);
  detail::FinishProgram(&program);
  detail::DfaCache small(detail::Query::kFirst, 4096);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 20);
    for (int j = 0; j < n; ++j) s += "abc"[rng() % 3];
    for (const PyMatchMode mode : {PyMatchMode::kMatch}) {
      INFO(s);
      CHECK(detail::RunDfa(program, mode, small, s).matched ==
            detail::RunNfa(program, mode, detail::Query::kFirst, s));
    }
  }
  CHECK(small.resets > 0);
}

// ---- differential test against python3 ------------------------------------------------

namespace {

// WARMSTART_PYREGEX_SEED and WARMSTART_PYREGEX_CHUNKS override these, to explore.
constexpr uint32_t kDifferentialSeed = 20240611;
constexpr int kChunks = 600;             // chunks of patterns sharing their subjects
constexpr int kPatternsPerChunk = 10;
constexpr int kSubjectsPerChunk = 24;

// Random patterns from a grammar of everything the parser knows, errors included.
class PatternGenerator {
 public:
  explicit PatternGenerator(std::mt19937* rng) : rng_(*rng) {}

  std::string Pattern() {
    group_ = 0;
    static const char* kGlobal[] = {"(?i)", "(?s)", "(?m)", "(?x)", "(?a)", "(?is)", "(?im)", "(?ax)", "(?u)", "(?ix)"};
    std::string p;
    if (R(7) == 0) p += Pick(kGlobal);
    p += Alternation(0);
    if (R(60) == 0) p += Pick(kGlobal);  // misplaced: an error in 3.11
    return p;
  }

 private:
  int R(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  template <size_t N>
  const char* Pick(const char* const (&options)[N]) { return options[R(N)]; }

  std::string Literal() {
    static const char* kPlain[] = {"a", "b", "c", "A", "B", "_", "0", "1", "/", "-", ":", " ", "#", "}", "]",
                                   "\xc3\xa9", "\xce\xa3", "\xcf\x83", "\xcf\x82", "k", "s", "i", "\n"};
    static const char* kEscaped[] = {"\\.", "\\-", "\\\\", "\\/", "\\(", "\\)", "\\*", "\\+", "\\?", "\\{",
                                     "\\}", "\\[", "\\]", "\\|", "\\^", "\\$", "\\n", "\\t", "\\x41", "\\x61",
                                     "\\u00e9", "\\u03a3", "\\U0001F600", "\\0", "\\012", "\\101", "\\ ", "\\#",
                                     "\\:", "\\_"};
    return R(3) == 0 ? Pick(kEscaped) : Pick(kPlain);
  }

  std::string ClassItem() {
    static const char* kSingles[] = {"a", "b", "A", "-", ".", "^", "\xc3\xa9", "_", " ", "\\d", "\\w", "\\s",
                                     "\\W", "\\D", "\\S", "\\b", "\\n", "\\]", "\\\\", "\\-", "\\x41", "[", "|", "&"};
    static const char* kEnds[] = {"a", "c", "z", "A", "Z", "0", "9", "\xc3\xa9", "\\x41", "\\u03a3", "_", "\\d"};
    if (R(3) == 0) return std::string(Pick(kEnds)) + "-" + Pick(kEnds);
    return Pick(kSingles);
  }

  std::string Class() {
    std::string c = "[";
    if (R(4) == 0) c += "^";
    if (R(8) == 0) c += "]";
    const int n = 1 + R(4);
    for (int i = 0; i < n; ++i) c += ClassItem();
    if (R(10) == 0) c += "-";
    if (R(60) != 0) c += "]";
    return c;
  }

  std::string Group(int depth) {
    static const char* kOpen[] = {"(", "(?:", "(?i:", "(?-i:", "(?s:", "(?m:", "(?x:", "(?a:", "(?i-s:", "(?u:", "(?#"};
    std::string open = R(5) == 0 ? "(?P<g" + std::to_string(group_++) + ">" : Pick(kOpen);
    if (open == "(?#") return "(?#note)";
    return open + Alternation(depth + 1) + (R(50) == 0 ? "" : ")");
  }

  std::string Atom(int depth) {
    static const char* kCategories[] = {".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "."};
    static const char* kAnchors[] = {"^", "$", "\\A", "\\Z", "\\b", "\\B"};
    static const char* kBroken[] = {"(", ")", "*", "\\q", "\\1", "{", "(?z)", "[z-a]", "\\", "(?P<1>a)", "\\8",
                                    "(?i", "a{3,2}"};
    const int r = R(100);
    if (r < 45) return Literal();
    if (r < 57) return Class();
    if (r < 67) return Pick(kCategories);
    if (r < 77) return Pick(kAnchors);
    if (r < 95 && depth < 3) return Group(depth);
    if (r < 97) return Pick(kBroken);
    return Literal();
  }

  std::string Quantifier() {
    static const char* kQuantifiers[] = {"*", "+", "?", "{2}", "{1,}", "{0,2}", "{,2}", "{1,3}", "{x}", "{", "{,}", "{}"};
    std::string q = Pick(kQuantifiers);
    if (R(5) == 0) q += "?";
    if (R(40) == 0) q += "*";  // multiple repeat
    return q;
  }

  std::string Sequence(int depth) {
    std::string s;
    const int n = R(5);
    for (int i = 0; i < n; ++i) {
      s += Atom(depth);
      if (R(10) < 3) s += Quantifier();
    }
    return s;
  }

  std::string Alternation(int depth) {
    std::string s = Sequence(depth);
    while (R(4) == 0) s += "|" + Sequence(depth);
    return s;
  }

  std::mt19937& rng_;
  int group_ = 0;
};

// Subjects: short strings over the characters of the patterns and a fixed alphabet with
// the interesting non-ASCII cases (case folding, Unicode \d \w \s, a non-BMP character,
// a combining mark, an invalid byte).
std::vector<std::string> MakeSubjects(const std::vector<std::string>& patterns, std::mt19937* rng) {
  std::vector<std::string> pool = {"a", "b", "c", "A", "B", "C", "_", "0", "1", "/", "-", ":", " ", "\n",
                                   "\xc3\xa9", "\xc3\x89", "\xce\xa3", "\xcf\x83", "\xcf\x82", "\xc4\xb1",
                                   "\xc4\xb0", "\xc5\xbf", "\xe2\x84\xaa", "\xc2\xb5", "\xce\xbc", "\xd9\xa3",
                                   "\xc2\xb2", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xcc\x81", "\xc2\xa0", "\xff",
                                   "k", "K", "s", "S", "i", "I", "x", "y"};
  for (const std::string& p : patterns) {
    for (size_t i = 0; i < p.size();) {
      const size_t start = i;
      detail::NextCodePoint(p, &i);
      const std::string cp = p.substr(start, i - start);
      if (cp != "\\" && cp != "[" && cp != "(" && cp != ")" && cp != "?" && cp != "*") pool.push_back(cp);
    }
  }
  std::vector<std::string> subjects = {""};
  while (subjects.size() < static_cast<size_t>(kSubjectsPerChunk)) {
    // A third extend an earlier subject, for AllMatchesWithSuffix.
    std::string s = (*rng)() % 3 == 0 ? subjects[(*rng)() % subjects.size()] : std::string();
    const int n = static_cast<int>((*rng)() % 13) + (s.empty() ? 0 : 1);
    for (int j = 0; j < n; ++j) s += pool[(*rng)() % pool.size()];
    subjects.push_back(s);
  }
  return subjects;
}

std::string Hex(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "x";
  for (const char c : s) {
    out += kHex[static_cast<unsigned char>(c) >> 4];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

int HexDigit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

std::string Unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

// Reads the chunks; per pattern line prints "E <type> <hex message>" or "K <digits>", a
// hex digit per subject: 8 * quirk + 4 * match + 2 * search + fullmatch.
//
// "search" is re.match tried at every position (pattern.match(s, i) keeps ^ and \b
// looking at the whole string), which is what re.search is documented to do and what we
// implement. "quirk" marks subjects where CPython's re.search itself answers otherwise: its
// start-position prefilter compiles a leading \w \d \s inside a scoped (?a:...) or
// (?u:...) group with the outer flags, so re.search(r"(?a:\W)", "\u0663") is None while
// re.match finds it. We do not copy that bug; the test checks it is the only difference.
constexpr char kOracle[] = R"PY(
import re, sys, warnings
warnings.simplefilter("ignore")
def dec(t):
    return bytes.fromhex(t[1:]).decode("utf-8", "surrogateescape")
out = []
subjects = []
for line in open(sys.argv[1], encoding="ascii"):
    toks = line.split()
    if toks[0] == "S":
        subjects = [dec(t) for t in toks[1:]]
        continue
    try:
        r = re.compile(dec(toks[1]))
    except Exception as e:
        out.append("E %s x%s" % (type(e).__name__, str(e).encode("utf-8", "surrogateescape").hex()))
        continue
    digits = []
    for s in subjects:
        search = any(r.match(s, i) is not None for i in range(len(s) + 1))
        quirk = search != (r.search(s) is not None)
        digits.append("%x" % (8 * quirk + 4 * (r.match(s) is not None) + 2 * search + (r.fullmatch(s) is not None)))
    out.append("K " + "".join(digits))
sys.stdout.write("\n".join(out) + "\n")
)PY";

struct Chunk {
  std::vector<std::string> patterns;
  std::vector<std::string> subjects;
};

}  // namespace

TEST_CASE("pyregex: differential test against python3 on random patterns", "[restore][pyregex][python]") {
  if (std::system("/usr/bin/python3 -c 'import re' >/dev/null 2>&1") != 0) {
    WARN("SKIP: /usr/bin/python3 is not available; the differential test against Python's re did not run");
    return;
  }
  const char* seed_env = std::getenv("WARMSTART_PYREGEX_SEED");
  const char* chunks_env = std::getenv("WARMSTART_PYREGEX_CHUNKS");
  const uint32_t seed = seed_env ? static_cast<uint32_t>(std::stoul(seed_env)) : kDifferentialSeed;
  const size_t num_chunks = chunks_env ? std::stoul(chunks_env) : kChunks;
  std::mt19937 rng(seed);
  PatternGenerator gen(&rng);
  std::vector<Chunk> chunks(num_chunks);
  for (Chunk& c : chunks) {
    for (int i = 0; i < kPatternsPerChunk; ++i) c.patterns.push_back(gen.Pattern());
    c.subjects = MakeSubjects(c.patterns, &rng);
  }

  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("warmstart_pyregex_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream script(dir / "oracle.py");
    script << kOracle;
    std::ofstream in(dir / "cases.txt");
    for (const Chunk& c : chunks) {
      in << "S";
      for (const auto& s : c.subjects) in << " " << Hex(s);
      in << "\n";
      for (const auto& p : c.patterns) in << "P " << Hex(p) << "\n";
    }
  }
  const std::string command = "timeout 300 /usr/bin/python3 '" + (dir / "oracle.py").string() + "' '" +
                              (dir / "cases.txt").string() + "' > '" + (dir / "answers.txt").string() + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream answers(dir / "answers.txt");

  std::vector<std::string> mismatches;
  int accepted = 0, rejected_both = 0, unsupported = 0, questions = 0, quirks = 0, mixed_checks = 0;
  const auto report = [&](const std::string& what) {
    if (mismatches.size() < 25) mismatches.push_back(what);
  };
  for (const Chunk& c : chunks) {
    std::vector<std::string> valid;           // patterns both engines accept
    std::vector<std::string> valid_answers;   // python's digits for each
    for (const std::string& p : c.patterns) {
      std::string line;
      REQUIRE(std::getline(answers, line));
      std::istringstream fields(line);
      std::string kind, a, b;
      fields >> kind >> a >> b;
      std::optional<PatternError> ours;
      std::optional<PyRegex> re;
      try {
        re = PyRegex::Compile(p);
      } catch (const PatternError& e) {
        ours = e;
      }
      const std::string where = "seed " + std::to_string(seed) + ", pattern " +
                                detail::PrintablePattern(p) + ": ";
      if (kind == "E") {
        const std::string message = Unhex(b.substr(1));
        if (!ours) {
          report(where + "python rejects (" + a + ": " + message + "), we accept");
        } else if (!ours->unsupported() && ours->python_message() != message) {
          report(where + "python says '" + message + "', we say '" + ours->python_message() + "'");
        } else {
          ++rejected_both;
        }
        continue;
      }
      if (ours) {
        if (ours->unsupported()) {
          ++unsupported;
        } else {
          report(where + "python accepts, we reject: " + ours->what());
        }
        continue;
      }
      ++accepted;
      for (size_t i = 0; i < c.subjects.size(); ++i) {
        int expected = HexDigit(a[i]);
        if (expected & 8) {
          ++quirks;
          expected &= 7;
          if (p.find("(?a:") == std::string::npos && p.find("(?u:") == std::string::npos) {
            report(where + "re.search differs from re.match at every position on subject " +
                   detail::PrintablePattern(c.subjects[i]) + " without a scoped type flag");
          }
        }
        const int got = 4 * re->Matches(c.subjects[i], PyMatchMode::kMatch) +
                        2 * re->Matches(c.subjects[i], PyMatchMode::kSearch) +
                        re->Matches(c.subjects[i], PyMatchMode::kFullMatch);
        questions += 3;
        if (got != expected) {
          report(where + "subject " + detail::PrintablePattern(c.subjects[i]) + ": python " +
                 std::to_string(expected) + ", we " + std::to_string(got) + " (4 match + 2 search + 1 fullmatch)");
        }
      }
      valid.push_back(p);
      valid_answers.push_back(a);
    }
    // The same patterns as one set per mode: FirstMatch and AllMatches from the answers.
    for (const auto& [mode, bit] : {std::pair{PyMatchMode::kMatch, 4}, std::pair{PyMatchMode::kSearch, 2},
                                    std::pair{PyMatchMode::kFullMatch, 1}}) {
      const PyRegexSet set(valid, mode);
      std::vector<int> all;
      for (size_t i = 0; i < c.subjects.size(); ++i) {
        std::vector<int> expected;
        for (size_t j = 0; j < valid.size(); ++j) {
          if (HexDigit(valid_answers[j][i]) & bit) expected.push_back(static_cast<int>(j));
        }
        set.AllMatches(c.subjects[i], &all);
        const int first = set.FirstMatch(c.subjects[i]);
        if (all != expected || first != (expected.empty() ? -1 : expected[0])) {
          report("seed " + std::to_string(seed) + ": PyRegexSet mode " + std::to_string(bit) +
                 " disagrees on subject " + detail::PrintablePattern(c.subjects[i]));
        }
      }
    }
    // One set of mixed modes, the patterns anchored (re.match) then not (re.search), read
    // over a subject and on over its extension (as the policy engine reads "name", "name:0").
    std::vector<std::string> twice = valid;
    twice.insert(twice.end(), valid.begin(), valid.end());
    std::vector<PyMatchMode> modes(valid.size(), PyMatchMode::kMatch);
    modes.resize(twice.size(), PyMatchMode::kSearch);
    const PyRegexSet mixed(twice, modes);
    const auto expected_mixed = [&](size_t subject) {
      std::vector<int> out;
      for (int half = 0; half < 2; ++half) {
        for (size_t j = 0; j < valid.size(); ++j) {
          if (HexDigit(valid_answers[j][subject]) & (half == 0 ? 4 : 2)) out.push_back(static_cast<int>(half * valid.size() + j));
        }
      }
      return out;
    };
    std::vector<int> plain, extended;
    for (size_t i = 0; i < c.subjects.size(); ++i) {
      for (size_t j = 0; j < c.subjects.size(); ++j) {
        const std::string& a = c.subjects[i];
        const std::string& b = c.subjects[j];
        if (b.size() <= a.size() || b.compare(0, a.size(), a) != 0) continue;
        mixed.AllMatchesWithSuffix(a, std::string_view(b).substr(a.size()), &plain, &extended);
        if (plain != expected_mixed(i) || extended != expected_mixed(j)) {
          report("seed " + std::to_string(seed) + ": mixed-mode PyRegexSet disagrees on subject " +
                 detail::PrintablePattern(a) + " extended to " + detail::PrintablePattern(b));
        }
        ++mixed_checks;
      }
    }
  }
  fs::remove_all(dir);
  for (const std::string& m : mismatches) UNSCOPED_INFO(m);
  WARN("pyregex differential, seed " << seed << ": " << accepted << " patterns accepted by both (" << questions
               << " questions), " << rejected_both << " rejected by both, " << unsupported
               << " accepted by python and refused as unsupported; CPython's re.search prefilter quirk on "
               << quirks << " subjects; " << mixed_checks << " mixed-mode subject/extension pairs");
  CHECK(mismatches.empty());
  CHECK(accepted > static_cast<int>(num_chunks) * kPatternsPerChunk / 2);
  CHECK(rejected_both > static_cast<int>(num_chunks) / 10);
}
