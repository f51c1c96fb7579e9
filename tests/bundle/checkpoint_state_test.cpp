#include "warmstart/bundle/checkpoint_state.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace warmstart::bundle;

const char kSpecExample[] =
    "model_checkpoint_path: \"ckpt-4\"\n"
    "all_model_checkpoint_paths: \"ckpt-1\"\n"
    "all_model_checkpoint_paths: \"ckpt-4\"\n"
    "all_model_checkpoint_timestamps: 1614096307.290289\n"
    "all_model_checkpoint_timestamps: 1614101458.15835\n"
    "last_preserved_timestamp: 1614096304.0404563\n";

// The message of the FormatError that parsing `text` throws, or "no error".
std::string ParseError(const std::string& text, const std::string& file = "checkpoint") {
  try {
    ParseCheckpointState(text, file);
  } catch (const warmstart::FormatError& e) {
    return e.what();
  }
  return "no error";
}

std::string PathOf(const std::string& text) { return ParseCheckpointState(text, "t").model_checkpoint_path; }

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("checkpoint state: the spec example parses", "[bundle][checkpoint_state]") {
  const CheckpointState s = ParseCheckpointState(kSpecExample, "checkpoint");
  CHECK(s.model_checkpoint_path == "ckpt-4");
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"ckpt-1", "ckpt-4"});
  CHECK(s.all_model_checkpoint_timestamps == std::vector<double>{1614096307.290289, 1614101458.15835});
  CHECK(s.last_preserved_timestamp == 1614096304.0404563);
  CHECK(s.unknown_fields.empty());
}

TEST_CASE("checkpoint state: the spec example formats byte for byte", "[bundle][checkpoint_state]") {
  CheckpointState s;
  s.model_checkpoint_path = "ckpt-4";
  s.all_model_checkpoint_paths = {"ckpt-1", "ckpt-4"};
  s.all_model_checkpoint_timestamps = {1614096307.290289, 1614101458.15835};
  s.last_preserved_timestamp = 1614096304.0404563;
  CHECK(FormatCheckpointState(s) == kSpecExample);
}

TEST_CASE("checkpoint state: proto3 zeros are left out", "[bundle][checkpoint_state]") {
  CheckpointState s;
  CHECK(FormatCheckpointState(s).empty());
  s.model_checkpoint_path = "model.ckpt";
  s.all_model_checkpoint_paths = {"model.ckpt"};
  CHECK(FormatCheckpointState(s) ==
        "model_checkpoint_path: \"model.ckpt\"\nall_model_checkpoint_paths: \"model.ckpt\"\n");
  s.all_model_checkpoint_paths = {"", "b"};  // repeated elements are written even when empty
  CHECK(FormatCheckpointState(s) ==
        "model_checkpoint_path: \"model.ckpt\"\nall_model_checkpoint_paths: \"\"\nall_model_checkpoint_paths: \"b\"\n");
}

TEST_CASE("checkpoint state: doubles print like Python's repr", "[bundle][checkpoint_state]") {
  using warmstart::bundle::detail::checkpoint_state::FormatDouble;
  // Expected strings are Python 3's repr() of the same values.
  const std::vector<std::pair<double, const char*>> cases = {
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1614096304.0, "1614096304.0"},
      {1614096307.290289, "1614096307.290289"},
      {1614096304.0404563, "1614096304.0404563"},
      {100.0, "100.0"},
      {0.1, "0.1"},
      {1.0 / 3, "0.3333333333333333"},
      {-2.5, "-2.5"},
      {4.35, "4.35"},
      {0.001, "0.001"},
      {0.0001, "0.0001"},
      {0.5e-4, "5e-05"},
      {1e-5, "1e-05"},
      {-1e-300, "-1e-300"},
      {1234567890123456.0, "1234567890123456.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {9007199254740993.0, "9007199254740992.0"},
      {1e16, "1e+16"},
      {1.1e16, "1.1e+16"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {1e22, "1e+22"},
      {1e23, "1e+23"},
      {1.5e300, "1.5e+300"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {5e-324, "5e-324"},
      {1.5e-323, "1.5e-323"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (const auto& [v, expected] : cases) {
    INFO("expected " << expected);
    CHECK(FormatDouble(v) == expected);
  }
  // Powers of two where the nearest 16-digit decimal does not read back but the one
  // above it does (the gap below a power of two is half the gap above).
  const std::vector<std::pair<uint64_t, const char*>> by_bits = {
      {0x2910000000000000, "6.653062250012736e-111"},
      {0x4ab0000000000000, "5.986310706507379e+51"},
      {0x0100000000000000, "7.291122019556398e-304"},
  };
  for (const auto& [bits, expected] : by_bits) {
    double v = 0;
    std::memcpy(&v, &bits, sizeof v);
    INFO("expected " << expected);
    CHECK(FormatDouble(v) == expected);
    CHECK(std::stod(expected) == v);
  }
}

TEST_CASE("checkpoint state: formatted doubles read back exactly", "[bundle][checkpoint_state]") {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; ++i) {
    uint64_t bits = rng();
    double v = 0;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    if (i % 2 == 0) v = 1.5e9 + static_cast<double>(rng() % 100000000) / 1e7;  // timestamp-like
    CheckpointState s;
    s.model_checkpoint_path = "p";
    s.last_preserved_timestamp = v;
    s.all_model_checkpoint_timestamps = {v, -v};
    const std::string text = FormatCheckpointState(s);
    INFO(text);
    const CheckpointState back = ParseCheckpointState(text, "t");
    REQUIRE(back == s);
  }
}

TEST_CASE("checkpoint state: number syntax", "[bundle][checkpoint_state]") {
  auto ts = [](const std::string& number) {
    return ParseCheckpointState("last_preserved_timestamp: " + number, "t").last_preserved_timestamp;
  };
  CHECK(ts("12") == 12.0);
  CHECK(ts("+2") == 2.0);
  CHECK(ts("-.5") == -0.5);
  CHECK(ts("5.") == 5.0);
  CHECK(ts("1e5") == 1e5);
  CHECK(ts("1.5E-3") == 1.5e-3);
  CHECK(ts("2.5f") == 2.5);
  CHECK(ts("1614096307.290289") == 1614096307.290289);
  CHECK(ts("1e400") == std::numeric_limits<double>::infinity());
  CHECK(ts("-1e400") == -std::numeric_limits<double>::infinity());
  CHECK(ts("1e-400") == 0.0);
  CHECK(ts("4.9e-324") == 5e-324);
  CHECK(ts("inf") == std::numeric_limits<double>::infinity());
  CHECK(ts("-Infinity") == -std::numeric_limits<double>::infinity());
  CHECK(ts("INFf") == std::numeric_limits<double>::infinity());
  CHECK(std::isnan(ts("nan")));
  CHECK(std::isnan(ts("NaN")));
  for (const char* bad : {"abc", "1.2.3", "0x10", "1e", "--1", "+", ".", "e5", "1ee5", "infinit", "1f5"}) {
    INFO(bad);
    CHECK(ParseError(std::string("last_preserved_timestamp: ") + bad) ==
          std::string("checkpoint:1:27: expected a number for field 'last_preserved_timestamp', found '") + bad + "'");
  }
}

TEST_CASE("checkpoint state: string escapes", "[bundle][checkpoint_state]") {
  CHECK(PathOf(R"(model_checkpoint_path: "\303\251")") == "\xc3\xa9");
  CHECK(PathOf(R"(model_checkpoint_path: "a\"b\\c\'d")") == "a\"b\\c'd");
  CHECK(PathOf(R"(model_checkpoint_path: "\n\r\t\a\b\f\v\?")") == "\n\r\t\a\b\f\v?");
  CHECK(PathOf(R"(model_checkpoint_path: "\0\12\101\1012")") == std::string("\0\n\x41\x41", 4) + "2");
  CHECK(PathOf(R"(model_checkpoint_path: "\x41\x4\xfFz\x4g")") == "A\x04\xffz\x04g");
  CHECK(PathOf(R"(model_checkpoint_path: "\377")") == "\xff");
  CHECK(PathOf("model_checkpoint_path: \"raw \xc3\xa9 bytes\"") == "raw \xc3\xa9 bytes");
}

TEST_CASE("checkpoint state: strings format with text_format's escapes", "[bundle][checkpoint_state]") {
  CheckpointState s;
  s.model_checkpoint_path = std::string("a\"b\\c'd\ne\rf\tg\x01\x7f\xc3\xa9 \0~", 20);
  CHECK(FormatCheckpointState(s) ==
        "model_checkpoint_path: \"a\\\"b\\\\c\\'d\\ne\\rf\\tg\\001\\177\\303\\251 \\000~\"\n");
}

TEST_CASE("checkpoint state: random byte strings survive format then parse", "[bundle][checkpoint_state]") {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    CheckpointState s;
    s.model_checkpoint_path.resize(1 + rng() % 30);
    for (char& c : s.model_checkpoint_path) c = static_cast<char>(rng());
    for (int k = static_cast<int>(rng() % 3); k > 0; --k) {
      std::string p(rng() % 10, ' ');
      for (char& c : p) c = static_cast<char>(rng() % 4 == 0 ? "\"'\\\n"[rng() % 4] : rng());
      s.all_model_checkpoint_paths.push_back(p);
    }
    const std::string text = FormatCheckpointState(s);
    REQUIRE(std::all_of(text.begin(), text.end(), [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7f); }));
    REQUIRE(ParseCheckpointState(text, "t") == s);
  }
}

TEST_CASE("checkpoint state: Merge's leniencies", "[bundle][checkpoint_state]") {
  const std::string text =
      "# written by hand\n"
      "  last_preserved_timestamp:2.5 ;all_model_checkpoint_paths : 'a' \"b\"  # concatenated\n"
      "model_checkpoint_path: \"first\"\r\n"
      "all_model_checkpoint_timestamps: [1, 2.5e1,\n 3]\n"
      "all_model_checkpoint_paths: []\n"
      "all_model_checkpoint_paths: [ 'c', \"d\" 'e' ],\n"
      "model_checkpoint_path: 'last wins'\n"
      "all_model_checkpoint_timestamps: 4";
  const CheckpointState s = ParseCheckpointState(text, "t");
  CHECK(s.model_checkpoint_path == "last wins");
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"ab", "c", "de"});
  CHECK(s.all_model_checkpoint_timestamps == std::vector<double>{1, 25, 3, 4});
  CHECK(s.last_preserved_timestamp == 2.5);
  CHECK(s.unknown_fields.empty());
  CHECK(ParseCheckpointState("", "t") == CheckpointState{});
  CHECK(ParseCheckpointState("  # only a comment", "t") == CheckpointState{});
}

TEST_CASE("checkpoint state: unknown fields are recorded and skipped", "[bundle][checkpoint_state]") {
  const std::string text =
      "future_field: 17\n"
      "model_checkpoint_path: \"ckpt-2\"\n"
      "nested { a: 1 b { c: 'x' \"y\" } d: [1, 2] e < f: -inf > }\n"
      "future_field: \"again\"\n"
      "list_field: [ 'a', { g: 1 }, 3 ]\n"
      "colon_message: < h: 1; i: 2, >\n"
      "all_model_checkpoint_paths: \"ckpt-2\"\n"
      "enum_like: SOME_VALUE\n";
  const CheckpointState s = ParseCheckpointState(text, "t");
  CHECK(s.model_checkpoint_path == "ckpt-2");
  CHECK(s.all_model_checkpoint_paths == std::vector<std::string>{"ckpt-2"});
  CHECK(s.unknown_fields ==
        std::vector<std::string>{"future_field", "nested", "list_field", "colon_message", "enum_like"});
  // Not written back.
  CHECK(FormatCheckpointState(s) == "model_checkpoint_path: \"ckpt-2\"\nall_model_checkpoint_paths: \"ckpt-2\"\n");
}

TEST_CASE("checkpoint state: errors name file:line:column and what was expected", "[bundle][checkpoint_state]") {
  const std::string first = "model_checkpoint_path: \"ckpt-4\"\n";
  SECTION("unterminated string") {
    CHECK(ParseError(first + "all_model_checkpoint_paths: \"ckpt-1\n", "dir/checkpoint") ==
          "dir/checkpoint:2:29: unterminated string: no closing \" on this line");
    CHECK(ParseError("model_checkpoint_path: 'abc") == "checkpoint:1:24: unterminated string: no closing ' on this line");
    CHECK(ParseError("model_checkpoint_path: \"abc\\") == "checkpoint:1:24: unterminated string: no closing \" on this line");
  }
  SECTION("missing colon") {
    CHECK(ParseError(first + "model_checkpoint_path \"x\"") ==
          "checkpoint:2:23: expected ':' after field name 'model_checkpoint_path', found a string");
    CHECK(ParseError("last_preserved_timestamp 5") ==
          "checkpoint:1:26: expected ':' after field name 'last_preserved_timestamp', found '5'");
    CHECK(ParseError("model_checkpoint_path") ==
          "checkpoint:1:22: expected ':' after field name 'model_checkpoint_path', found end of input");
  }
  SECTION("bad number") {
    CHECK(ParseError(first + "\tlast_preserved_timestamp: 12abc\n") ==
          "checkpoint:2:28: expected a number for field 'last_preserved_timestamp', found '12abc'");
    CHECK(ParseError("all_model_checkpoint_timestamps: \"1\"") ==
          "checkpoint:1:34: expected a number for field 'all_model_checkpoint_timestamps', found a string");
  }
  SECTION("bad escape") {
    CHECK(ParseError(first + "model_checkpoint_path: \"a\\qb\"") ==
          "checkpoint:2:26: invalid escape sequence in string: '\\q'");
    CHECK(ParseError("model_checkpoint_path: \"a\\xg\"") ==
          "checkpoint:1:26: invalid escape sequence '\\x' in string: no hex digit follows");
    CHECK(ParseError("model_checkpoint_path: \"\\400\"") == "checkpoint:1:25: octal escape '\\400' is above \\377");
    CHECK(ParseError("model_checkpoint_path: \"\\\x01\"") ==
          "checkpoint:1:25: invalid escape sequence in string: backslash followed by 0x01");
  }
  SECTION("other mistakes") {
    CHECK(ParseError("model_checkpoint_path: 5") ==
          "checkpoint:1:24: expected a string for field 'model_checkpoint_path', found '5'");
    CHECK(ParseError("5: \"x\"") == "checkpoint:1:1: expected a field name, found '5'");
    CHECK(ParseError("}") == "checkpoint:1:1: expected a field name, found '}'");
    CHECK(ParseError(first + "  @") == "checkpoint:2:3: unexpected character '@'");
    CHECK(ParseError("model_checkpoint_path: \"a\" \x01") == "checkpoint:1:28: unexpected character 0x01");
    CHECK(ParseError("all_model_checkpoint_paths: [\"a\" \"b\"") ==
          "checkpoint:1:37: expected ',' or ']' in the list of 'all_model_checkpoint_paths', found end of input");
    CHECK(ParseError("all_model_checkpoint_paths: [\"a\",]") ==
          "checkpoint:1:34: expected a string for field 'all_model_checkpoint_paths', found ']'");
    CHECK(ParseError("unknown {\n a: 1\n") ==
          "checkpoint:3:1: expected '}' to close the value of 'unknown' opened at 1:9, found end of input");
    CHECK(ParseError("unknown < a: 1 }") == "checkpoint:1:16: expected a field name, found '}'");
    CHECK(ParseError("unknown 5") == "checkpoint:1:9: expected ':' or '{' after field name 'unknown', found '5'");
    CHECK(ParseError("unknown: :") == "checkpoint:1:10: expected a value for field 'unknown', found ':'");
    CHECK(ParseError("x", "") == "1:2: expected ':' or '{' after field name 'x', found end of input");
  }
  SECTION("deep nesting is an error, not a stack overflow") {
    std::string deep;
    for (int i = 0; i < 100000; ++i) deep += "a {";
    const std::string message = ParseError(deep);
    CHECK(message == "checkpoint:1:303: messages nested more than 100 deep");
  }
  SECTION("the error carries file, line and column in its context") {
    try {
      ParseCheckpointState("model_checkpoint_path: 5", "checkpoint");
      FAIL("no error");
    } catch (const warmstart::FormatError& e) {
      CHECK(e.context().file == "checkpoint");
      CHECK(e.context().line == 1);
      CHECK(e.context().column == 24);
      CHECK(e.reason() == "expected a string for field 'model_checkpoint_path', found '5'");
    }
  }
}

TEST_CASE("checkpoint state: paths resolve like os.path.join", "[bundle][checkpoint_state]") {
  CheckpointState s;
  s.model_checkpoint_path = "ckpt-4";
  s.all_model_checkpoint_paths = {"/abs/ckpt-1", "sub/ckpt-4"};
  ResolvedState r = ResolveStatePaths(s, "/train");
  CHECK(r.model_checkpoint_path == "/train/ckpt-4");
  CHECK(r.all_model_checkpoint_paths == std::vector<std::string>{"/abs/ckpt-1", "/train/sub/ckpt-4"});
  CHECK(ResolveStatePaths(s, "/train/").model_checkpoint_path == "/train/ckpt-4");
  CHECK(ResolveStatePaths(s, "rel").model_checkpoint_path == "rel/ckpt-4");
  CHECK(ResolveStatePaths(s, "").model_checkpoint_path == "ckpt-4");
  s.model_checkpoint_path = "/Volumes/x/model.ckpt-8000";
  CHECK(ResolveStatePaths(s, "/train").model_checkpoint_path == "/Volumes/x/model.ckpt-8000");
}

TEST_CASE("checkpoint state: an empty model_checkpoint_path is an error", "[bundle][checkpoint_state]") {
  const CheckpointState s = ParseCheckpointState("all_model_checkpoint_paths: \"ckpt-1\"\n", "checkpoint");
  CHECK_THROWS_WITH(ResolveStatePaths(s, "/train"),
                    "/train/checkpoint: invalid checkpoint state: model_checkpoint_path is empty");
  CHECK_THROWS_AS(ResolveStatePaths(CheckpointState{}, "/train/"), warmstart::FormatError);
}

TEST_CASE("checkpoint state: real checkpoint files", "[bundle][checkpoint_state][realdata]") {
  const char* env = std::getenv("WARMSTART_REALDATA");
  const std::filesystem::path root =
      std::filesystem::path(env != nullptr && *env != '\0' ? env : "/work/shared/realdata") / "checkpoints";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    WARN("real data not found at " << root.string() << "; skipping");
    return;
  }
  int files = 0, with_timestamps = 0, absolute = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().filename() != "checkpoint") continue;
    ++files;
    const std::string text = ReadFile(entry.path());
    INFO(entry.path().string());
    const CheckpointState s = ParseCheckpointState(text, entry.path().string());
    CHECK_FALSE(s.model_checkpoint_path.empty());
    CHECK(s.unknown_fields.empty());
    REQUIRE_FALSE(s.all_model_checkpoint_paths.empty());
    CHECK(s.all_model_checkpoint_paths.back() == s.model_checkpoint_path);
    const std::string formatted = FormatCheckpointState(s);
    CHECK(ParseCheckpointState(formatted, "formatted") == s);
    CHECK(formatted == text);  // Python wrote these: byte-identical output
    if (!s.all_model_checkpoint_timestamps.empty()) ++with_timestamps;
    if (s.model_checkpoint_path[0] == '/') {
      ++absolute;
      const std::string dir = entry.path().parent_path().string();
      CHECK(ResolveStatePaths(s, dir).model_checkpoint_path == s.model_checkpoint_path);
    }
  }
  CHECK(files >= 12);
  CHECK(with_timestamps >= 2);
  CHECK(absolute >= 1);
}
