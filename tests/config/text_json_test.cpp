// Text-format trees to JSON and back.
#include <catch2/catch.hpp>

#include <string>

#include "warmstart/config/text_json.hpp"

namespace wc = warmstart::config;

TEST_CASE("text json: a tree as JSON", "[config][text_json]") {
  const wc::Message m = wc::ParseText(
      "model { ssd { num_classes: 90 activation: RELU_6 type: 'x' scales: [0.25, 1e-4] flag: False } }\n"
      "big: 123456789012345678901 neg: -9223372036854775808 u: 18446744073709551615 inf: -inf h: 0x10\n"
      "opt { a: 1 } opt { a: 2 } one { }\n");
  const nlohmann::ordered_json j = wc::ToJson(m);
  CHECK(j.dump() ==
        R"({"model":{"ssd":{"num_classes":90,"activation":"RELU_6","type":"x","scales":[0.25,0.0001],"flag":false}},)"
        R"("big":"123456789012345678901","neg":-9223372036854775808,"u":18446744073709551615,"inf":"-inf","h":16,)"
        R"("opt":[{"a":1},{"a":2}],"one":{}})");

  wc::JsonHints hints;
  hints.repeated = {"ssd.num_classes", "one"};
  const nlohmann::ordered_json h = wc::ToJson(m, hints);
  CHECK(h["model"]["ssd"]["num_classes"].dump() == "[90]");
  CHECK(h["one"].dump() == "[{}]");
}

TEST_CASE("text json: back from JSON, with and without hints", "[config][text_json]") {
  const wc::Message m = wc::ParseText(
      "model { ssd { num_classes: 90 activation: RELU_6 path: 'PATH_TO_BE_CONFIGURED' scales: [0.25, 1e-4] } }\n"
      "x: 1 x: 2 n: -3 u: 18446744073709551615 f: False d: 1.5");
  const wc::JsonHints hints = wc::HintsFrom(m);
  CHECK(hints.enums == std::set<std::string>{"model.ssd.activation"});
  CHECK(hints.repeated == std::set<std::string>{"model.ssd.scales", "x"});
  CHECK(wc::FromJson(wc::ToJson(m, hints), hints) == m);

  const wc::Message plain = wc::FromJson(wc::ToJson(m));
  CHECK(plain.Find("model.ssd.activation")->kind() == wc::ValueKind::kString);  // no hint: a string
  CHECK(plain.Find("model.ssd.path")->AsString() == "PATH_TO_BE_CONFIGURED");

  wc::JsonHints by_name;
  by_name.enums = {"activation"};
  CHECK(wc::FromJson(wc::ToJson(m), by_name).Find("model.ssd.activation")->AsEnum() == "RELU_6");
  CHECK(wc::PrintText(wc::FromJson(nlohmann::ordered_json::parse(R"({"a": [1, {"b": "x"}], "c": 2.5})"))) ==
        "a: 1\na {\n  b: \"x\"\n}\nc: 2.5\n");
}

TEST_CASE("text json: JSON with no text-format form is refused", "[config][text_json]") {
  auto error = [](const char* json) -> std::string {
    try {
      wc::FromJson(nlohmann::ordered_json::parse(json), {}, "in.json");
    } catch (const warmstart::FormatError& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error("[1]") == "in.json: key '(root)': expected an object for a message, found array");
  CHECK(error(R"({"a": null})") == "in.json: key 'a': a field value cannot be JSON null");
  CHECK(error(R"({"a": {"b": [[1]]}})") == "in.json: key 'a.b': arrays of arrays have no text-format form");
  CHECK(error(R"({"a b": 1})") == "in.json: key 'a b': 'a b' is not a field name");
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 200; ++i) deep += "}";
  CHECK(error(deep.c_str()).find("messages nest deeper than 100 levels") != std::string::npos);
}
