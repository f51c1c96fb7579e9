// The schema-free text-format tree: parsing, paths, typed reads, printing, edits, errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/realdata.hpp"
#include "warmstart/config/text_format.hpp"

namespace wc = warmstart::config;

namespace {

std::string ParseError(const std::string& text) {
  try {
    wc::ParseText(text, "p.config");
  } catch (const warmstart::FormatError& e) {
    return e.what();
  }
  return "no error";
}

template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const warmstart::Error& e) {
    return e.what();
  }
  return "no error";
}

const char* kSample = R"(# A sample.
model {
  ssd: {
    num_classes: 90  # COCO
    activation: RELU_6,
    type: 'ssd_' "mobilenet"
      "_v1"
    scales: [0.25, .5 , 4.]
    aspect_ratios: 1.0
    aspect_ratios: 2.0
    bias: -4.6
    center: False; scale: t
    iou_similarity {
    }
    big: 123456789012345678
    eps: 1e-4
  }
}
train_config: <
  fine_tune_checkpoint: ""
  data_augmentation_options { random_horizontal_flip { } }
  data_augmentation_options { ssd_random_crop { } }
  [ext.pkg.flag]: 1
  [type.googleapis.com/pkg.Msg] { x: 1 }
>
)";

}  // namespace

TEST_CASE("text format: parse the sample into an ordered tree", "[config][text_format]") {
  const wc::Message root = wc::ParseText(kSample, "s.config");
  REQUIRE(root.size() == 2);
  CHECK(root.fields()[0].name == "model");
  CHECK(root.fields()[0].position.ToString() == "2:1");
  CHECK(root.fields()[1].name == "train_config");

  const wc::Message& ssd = root.Find("model.ssd")->message();
  std::vector<std::string> names;
  for (const wc::Field& f : ssd.fields()) names.push_back(f.name);
  CHECK(names == std::vector<std::string>{"num_classes", "activation", "type", "scales", "scales", "scales",
                                          "aspect_ratios", "aspect_ratios", "bias", "center", "scale",
                                          "iou_similarity", "big", "eps"});
  CHECK(ssd.fields()[3].in_list);
  CHECK_FALSE(ssd.fields()[6].in_list);

  const wc::Value& n = *root.Find("model.ssd.num_classes");
  CHECK(n.kind() == wc::ValueKind::kNumber);
  CHECK(n.AsInt64() == 90);
  CHECK(n.position().ToString() == "4:18");
  CHECK(n.file() == "s.config");
  CHECK(root.Find("model.ssd.activation")->kind() == wc::ValueKind::kIdentifier);
  CHECK(root.Find("model.ssd.activation")->AsEnum() == "RELU_6");
  CHECK(root.Find("model.ssd.type")->AsString() == "ssd_mobilenet_v1");
  CHECK(root.Find("model.ssd.type")->position().ToString() == "6:11");
  CHECK(root.Find("model.ssd.bias")->AsDouble() == -4.6);
  CHECK(root.Find("model.ssd.bias")->text() == "-4.6");
  CHECK(root.Find("model.ssd.center")->kind() == wc::ValueKind::kBool);
  CHECK(root.Find("model.ssd.center")->AsBool() == false);
  CHECK(root.Find("model.ssd.scale")->AsBool() == true);
  CHECK(root.Find("model.ssd.iou_similarity")->message().empty());
  CHECK(root.Find("model.ssd.big")->AsInt64() == 123456789012345678);
  CHECK(root.Find("model.ssd.eps")->text() == "1e-4");
  CHECK(root.Find("train_config.fine_tune_checkpoint")->AsString().empty());
  CHECK(root.Find("train_config.[ext.pkg.flag]")->AsInt64() == 1);
  CHECK(root.Find("train_config.[type.googleapis.com/pkg.Msg].x")->AsInt64() == 1);

  std::vector<double> scales;
  for (const wc::Value* v : root.FindAll("model.ssd.scales")) scales.push_back(v->AsDouble());
  CHECK(scales == std::vector<double>{0.25, 0.5, 4.0});
  CHECK(root.FindAll("train_config.data_augmentation_options").size() == 2);
  CHECK(root.Has("train_config.data_augmentation_options[1].ssd_random_crop"));
  CHECK_FALSE(root.Has("train_config.data_augmentation_options[0].ssd_random_crop"));
  CHECK(root.FindAll("train_config.data_augmentation_options.ssd_random_crop").size() == 1);
  CHECK(root.FindLast("model.ssd.aspect_ratios")->AsDouble() == 2.0);
  CHECK(root.Find("model.ssd.aspect_ratios")->AsDouble() == 1.0);
  CHECK(root.Find("model.nothing") == nullptr);
  CHECK(root.Find("model.ssd.num_classes.deeper") == nullptr);
}

TEST_CASE("text format: canonical printing reads back equal", "[config][text_format]") {
  const wc::Message root = wc::ParseText(kSample);
  const std::string printed = wc::PrintText(root);
  CHECK(wc::ParseText(printed) == root);
  CHECK(wc::PrintText(wc::ParseText(printed)) == printed);
  CHECK(printed.rfind("model {\n  ssd {\n    num_classes: 90\n    activation: RELU_6\n", 0) == 0);
  CHECK(printed.find("    type: \"ssd_mobilenet_v1\"\n") != std::string::npos);
  CHECK(printed.find("    scales: 0.25\n    scales: .5\n    scales: 4.\n") != std::string::npos);
  CHECK(printed.find("    iou_similarity {\n    }\n") != std::string::npos);
  CHECK(printed.find("  [type.googleapis.com/pkg.Msg] {\n    x: 1\n  }\n") != std::string::npos);
  CHECK(wc::PrintText(wc::Message()).empty());

  wc::Message m;
  m.Set("s", wc::Value::String(std::string("a\"\n\0\xff", 5)));
  CHECK(wc::PrintText(m) == "s: \"a\\\"\\n\\000\\377\"\n");
  CHECK(wc::ParseText(wc::PrintText(m)) == m);
}

TEST_CASE("text format: equality compares values, not spellings", "[config][text_format]") {
  CHECK(wc::ParseText("a: 1e-4") == wc::ParseText("a: 0.0001"));
  CHECK(wc::ParseText("a: 0x10") == wc::ParseText("a: 16"));
  CHECK(wc::ParseText("a: -0") == wc::ParseText("a: 0"));
  CHECK(wc::ParseText("a: nan") == wc::ParseText("a: -NaN"));
  CHECK(wc::ParseText("a: False") == wc::ParseText("a: f"));
  CHECK(wc::ParseText("a: [1, 2]") == wc::ParseText("a: 1 a: 2"));
  CHECK(wc::ParseText("a { b: 1 }") == wc::ParseText("a: < b: 1; >"));
  CHECK(wc::ParseText("a: 9223372036854775807") != wc::ParseText("a: 9223372036854775806"));
  CHECK(wc::ParseText("a: 'X'") != wc::ParseText("a: X"));
  CHECK(wc::ParseText("a: 1 b: 2") != wc::ParseText("b: 2 a: 1"));
  CHECK(wc::ParseText("a: 1") != wc::ParseText("a: 1 a: 1"));
}

TEST_CASE("text format: typed reads and their errors", "[config][text_format]") {
  const wc::Message m = wc::ParseText(
      "i: -9223372036854775808\nj: 9223372036854775808\nu: 18446744073709551615\nbig: 18446744073709551616\n"
      "f: 1.5\ns: 'x'\ne: RELU_6\nb: true\none: 1\nneg: -1\ninf: -inf\nh: 0xFFFFFFFFFFFFFFFF\nff: 2.5f\nm {}\n",
      "v.config");
  CHECK(m.Find("i")->AsInt64() == std::numeric_limits<int64_t>::min());
  CHECK(m.Find("u")->AsUInt64() == std::numeric_limits<uint64_t>::max());
  CHECK(m.Find("h")->AsUInt64() == std::numeric_limits<uint64_t>::max());
  CHECK(m.Find("j")->AsUInt64() == 9223372036854775808ull);
  CHECK(m.Find("big")->text() == "18446744073709551616");
  CHECK(m.Find("big")->AsDouble() == 18446744073709551616.0);
  CHECK(m.Find("one")->AsBool());
  CHECK(m.Find("one")->AsDouble() == 1.0);
  CHECK(m.Find("inf")->AsDouble() == -std::numeric_limits<double>::infinity());
  CHECK(m.Find("ff")->AsDouble() == 2.5);
  CHECK(m.Find("inf")->kind() == wc::ValueKind::kNumber);

  CHECK(ErrorOf([&] { m.Find("j")->AsInt64(); }) == "v.config:2:4: integer 9223372036854775808 is out of range for int64");
  CHECK(ErrorOf([&] { m.Find("big")->AsUInt64(); }) ==
        "v.config:4:6: integer 18446744073709551616 is out of range for uint64");
  CHECK(ErrorOf([&] { m.Find("neg")->AsUInt64(); }) == "v.config:10:6: integer -1 is out of range for uint64");
  CHECK(ErrorOf([&] { m.Find("f")->AsInt64(); }) == "v.config:5:4: expected an integer, found number 1.5");
  CHECK(ErrorOf([&] { m.Find("s")->AsInt64(); }) == "v.config:6:4: expected an integer, found string \"x\"");
  CHECK(ErrorOf([&] { m.Find("e")->AsString(); }) == "v.config:7:4: expected a string, found enum RELU_6");
  CHECK(ErrorOf([&] { m.Find("e")->AsBool(); }) ==
        "v.config:7:4: expected a bool (true, false, True, False, t, f, 1 or 0), found enum RELU_6");
  CHECK(ErrorOf([&] { m.Find("neg")->AsBool(); }) ==
        "v.config:10:6: expected a bool (true, false, True, False, t, f, 1 or 0), found number -1");
  CHECK(ErrorOf([&] { m.Find("b")->AsDouble(); }) == "v.config:8:4: expected a number, found bool true");
  CHECK(ErrorOf([&] { m.Find("s")->AsEnum(); }) == "v.config:6:4: expected an enum value (an identifier), found string \"x\"");
  CHECK(ErrorOf([&] { m.Find("s")->AsMessage(); }) == "v.config:6:4: expected a message, found string \"x\"");
  CHECK(ErrorOf([&] { m.Find("m")->AsInt64(); }) == "v.config:14:3: expected an integer, found message");
}

TEST_CASE("text format: values made by code", "[config][text_format]") {
  CHECK(wc::Value::Double(1.0).text() == "1.0");
  CHECK(wc::Value::Double(1e-5).text() == "1e-05");
  CHECK(wc::Value::Double(0.1).text() == "0.1");
  CHECK(wc::Value::Double(-std::numeric_limits<double>::infinity()).text() == "-inf");
  CHECK(wc::Value::Double(std::nan("")).text() == "nan");
  CHECK(wc::Value::Int(-5).AsInt64() == -5);
  CHECK(wc::Value::UInt(18446744073709551615ull).AsUInt64() == 18446744073709551615ull);
  CHECK(wc::Value::Number("- 4.5").text() == "-4.5");
  CHECK(wc::Value::Number("1e-4").AsDouble() == 1e-4);
  CHECK_THROWS_AS(wc::Value::Number("abc"), warmstart::ArgumentError);
  CHECK_THROWS_AS(wc::Value::Number("1 2"), warmstart::ArgumentError);
  CHECK_THROWS_AS(wc::Value::Enum("A-B"), warmstart::ArgumentError);
  CHECK(ErrorOf([] { wc::Value::String("x").AsInt64(); }) == "expected an integer, found string \"x\"");
}

TEST_CASE("text format: Set, Mutable and Add on the tree", "[config][text_format]") {
  wc::Message m = wc::ParseText("a { b: 1 } a { c: 2 } s: 1 s: 2");
  m.Set("a.b", wc::Value::Int(5));  // last `a` has no b: appended there, so Merge reads 5
  CHECK(m.FindAll("a.b").size() == 2);
  CHECK(m.FindLast("a.b")->AsInt64() == 5);
  m.Set("s", wc::Value::Int(3));  // the last occurrence
  CHECK(m.FindAll("s")[0]->AsInt64() == 1);
  CHECK(m.FindAll("s")[1]->AsInt64() == 3);
  m.Set("s[0]", wc::Value::Int(0));
  CHECK(m.Find("s")->AsInt64() == 0);
  m.Set("x.y.z", wc::Value::Enum("V2"));
  CHECK(m.Find("x.y.z")->AsEnum() == "V2");
  m.Mutable("x.w").Add("r", wc::Value::Int(1));
  m.Mutable("x.w").Add("r", wc::Value::Int(2));
  CHECK(m.FindAll("x.w.r").size() == 2);
  m.Set("[p.ext].v", wc::Value::Bool(true));
  CHECK(m.Find("[p.ext].v")->AsBool());

  CHECK(ErrorOf([&] { m.Set("s.t", wc::Value::Int(1)); }) ==
        "field path 's.t': 's' is a number, not a message");
  CHECK(ErrorOf([&] { m.Set("s[7]", wc::Value::Int(1)); }) == "<text>: field path 's[7]': no occurrence [7] of 's'");
  CHECK(ErrorOf([&] { m.Find("a..b"); }) == "bad field path 'a..b': expected a field name at byte 2");
  CHECK(ErrorOf([&] { m.Find("a[x]"); }) == "bad field path 'a[x]': expected an index like [0] at byte 1");
  CHECK(ErrorOf([&] { m.Find(""); }) == "bad field path '': expected a field name at byte 0");
  CHECK(ErrorOf([&] { m.Find("[a.b"); }) == "bad field path '[a.b': no ']' after '['");
}

TEST_CASE("text format: Document writes back only the edits", "[config][text_format]") {
  const std::string text =
      "# keep me\nmodel {\n  ssd {\n    num_classes: 90  # COCO\n    flag: false,\n    sim { }\n"
      "    empty {\n    }\n  }\n}\ntrain_config: {\n  batch_size: 24;\n  fine_tune_checkpoint: 'PATH'\n"
      "  scales: [1, 2, 3]\n}";
  wc::Document doc = wc::Document::Parse(text, "d.config");
  CHECK(doc.Print() == text);

  doc.root().Set("model.ssd.num_classes", wc::Value::Int(3));
  doc.root().Set("train_config.fine_tune_checkpoint", wc::Value::String("ckpt/model.ckpt-0"));
  doc.root().Set("train_config.scales[1]", wc::Value::Double(2.5));
  std::string expected = text;
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = expected.find(from);
    REQUIRE(at != std::string::npos);
    expected.replace(at, from.size(), to);
  };
  replace("num_classes: 90", "num_classes: 3");
  replace("'PATH'", "\"ckpt/model.ckpt-0\"");
  replace("[1, 2, 3]", "[1, 2.5, 3]");
  CHECK(doc.Print() == expected);

  // New fields: after the last sibling (past separators and comments), indented like it.
  doc.root().Set("train_config.fine_tune_checkpoint_type", wc::Value::String("detection"));
  doc.root().Set("model.ssd.flag2", wc::Value::Bool(true));
  doc.root().Set("model.ssd.sim.iou", wc::Value::Double(0.5));
  doc.root().Set("model.ssd.empty.x", wc::Value::Int(1));
  doc.root().Set("eval_config.metrics.name", wc::Value::String("coco"));
  replace("  scales: [1, 2.5, 3]\n", "  scales: [1, 2.5, 3]\n  fine_tune_checkpoint_type: \"detection\"\n");
  replace("    flag: false,\n", "    flag: false,\n");
  replace("    empty {\n    }\n  }\n", "    empty {\n      x: 1\n    }\n    flag2: true\n  }\n");
  replace("    sim { }\n", "    sim {\n      iou: 0.5\n    }\n");
  expected += "\neval_config {\n  metrics {\n    name: \"coco\"\n  }\n}";  // still no final newline
  CHECK(doc.Print() == expected);
  CHECK(wc::ParseText(doc.Print()) == doc.root());

  // A message replaced whole, and a message replaced by a scalar (gains its colon).
  wc::Document d2 = wc::Document::Parse("a {\n  b {\n    c: 1\n  }\n  d { e: 1 }\n}\n");
  d2.root().Set("a.b", wc::Value::Of(wc::ParseText("x: 2 y { z: 3 }")));
  d2.root().Set("a.d", wc::Value::Int(7));
  CHECK(d2.Print() == "a {\n  b {\n    x: 2\n    y {\n      z: 3\n    }\n  }\n  d: 7\n}\n");
  CHECK(wc::ParseText(d2.Print()) == d2.root());

  // Fields added to an empty file, and to a file without a final newline.
  wc::Document empty = wc::Document::Parse("# only a comment");
  empty.root().Set("a.b", wc::Value::Int(1));
  CHECK(empty.Print() == "# only a comment\na {\n  b: 1\n}\n");
  wc::Document one_line = wc::Document::Parse("a { b: 1 }");
  one_line.root().Set("a.c", wc::Value::Int(2));
  CHECK(one_line.Print() == "a { b: 1\n  c: 2 }");
  CHECK(wc::ParseText(one_line.Print()) == one_line.root());
}

TEST_CASE("text format: syntax errors say where, what was expected and what was found", "[config][text_format]") {
  CHECK(ParseError("train_config {\n  batch_size }") ==
        "p.config:2:14: expected ':' or '{' after field name 'batch_size', found '}'");
  CHECK(ParseError("a: }") == "p.config:1:4: expected a value for field 'a', found '}'");
  CHECK(ParseError("model {\n  ssd {\n  }\n") ==
        "p.config:4:1: expected '}' to close message 'model' opened at 1:7, found end of input");
  CHECK(ParseError("a < b: 1 }") == "p.config:1:10: expected a field name or '>', found '}'");
  CHECK(ParseError("}") == "p.config:1:1: expected a field name, found '}'");
  CHECK(ParseError("a: [1, 2") == "p.config:1:9: expected ',' or ']' in the list of field 'a', found end of input");
  CHECK(ParseError("a: [1 2]") == "p.config:1:7: expected ',' or ']' in the list of field 'a', found '2'");
  CHECK(ParseError("a: [1,]") == "p.config:1:7: expected a value for field 'a', found ']'");
  CHECK(ParseError("a: -x") == "p.config:1:5: expected a number after '-' in field 'a', found 'x'");
  CHECK(ParseError("a: - \"s\"") == "p.config:1:6: expected a number after '-' in field 'a', found string \"s\"");
  CHECK(ParseError("[a.b: 1") == "p.config:1:5: expected '.', '/' or ']' in the extension name '[a.b', found ':'");
  CHECK(ParseError("[a.]: 1") == "p.config:1:4: expected an identifier in the extension name '[a.', found ']'");
  CHECK(ParseError("a: 1 2") == "p.config:1:6: expected a field name, found '2'");
  CHECK(ParseError("a:") == "p.config:1:3: expected a value for field 'a', found end of input");
  CHECK(ParseError("a: 1,, b: 2") == "p.config:1:6: expected a field name, found ','");
  CHECK(ParseError("a: \"x\" 'y\nb") == "p.config:1:8: unterminated string: no closing ' on this line");
  CHECK(ParseError("1: 2") == "p.config:1:1: expected a field name, found '1'");
}

TEST_CASE("text format: deep nesting is refused cleanly", "[config][text_format]") {
  auto nested = [](int depth, char open, char close) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += std::string("a ") + open;
    for (int i = 0; i < depth; ++i) s += close;
    return s;
  };
  CHECK_NOTHROW(wc::ParseText(nested(100, '{', '}')));
  CHECK(ParseError(nested(101, '{', '}')) == "p.config:1:303: message 'a' nests deeper than 100 levels");
  CHECK(ParseError(nested(100000, '<', '>')) == "p.config:1:303: message 'a' nests deeper than 100 levels");
  std::string lists;
  for (int i = 0; i < 100000; ++i) lists += "a: [{";
  CHECK(ParseError(lists) == "p.config:1:505: message 'a' nests deeper than 100 levels");
  wc::ParseOptions shallow;
  shallow.max_depth = 2;
  CHECK_NOTHROW(wc::ParseText("a { b { } }", "x", shallow));
  CHECK_THROWS_AS(wc::ParseText("a { b { c { } } }", "x", shallow), warmstart::FormatError);
}

TEST_CASE("text format: odd but valid inputs", "[config][text_format]") {
  CHECK(wc::ParseText("").empty());
  CHECK(wc::ParseText("# nothing\n\n").empty());
  CHECK(wc::ParseText("a: []").empty());
  CHECK(wc::ParseText("a [{ b: 1 }, < b: 2 >]").FindAll("a.b").size() == 2);
  CHECK(wc::ParseText("a: - 5").Find("a")->AsInt64() == -5);
  CHECK(wc::ParseText("a: -.5e1f").Find("a")->AsDouble() == -5.0);
  CHECK(wc::ParseText("a:'x'b:\"y\"").size() == 2);
  CHECK(wc::ParseText("a{b:1;c:2,}").Find("a.c")->AsInt64() == 2);
  CHECK(wc::ParseText("a: 'x' # c\n 'y'").Find("a")->AsString() == "xy");
  CHECK(wc::ParseText("a: True b: t c: F").Find("c")->kind() == wc::ValueKind::kIdentifier);
}

TEST_CASE("text format: Document loads and saves files", "[config][text_format]") {
  warmstart::test::TempDir dir;
  const std::filesystem::path path = dir / "pipeline.config";
  {
    std::ofstream out(path, std::ios::binary);
    out << "model { ssd { num_classes: 90 } }  # tail";
  }
  wc::Document doc = wc::Document::Load(path);
  CHECK(doc.file() == path.string());
  doc.root().Set("model.ssd.num_classes", wc::Value::Int(2));
  doc.Save(path);
  CHECK(wc::Document::Load(path).source() == "model { ssd { num_classes: 2 } }  # tail");
  CHECK(wc::Document::Load(path).root().Find("model.ssd.num_classes")->AsInt64() == 2);
  size_t files = 0;  // no temporary file left beside it
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 1);
  CHECK_THROWS_AS(wc::Document::Load(dir / "missing.config"), warmstart::NotFoundError);
  CHECK_THROWS_AS(wc::Document::Load(dir.path()), warmstart::IoError);
  {
    std::ofstream out(dir / "bad.config", std::ios::binary);
    out << "model {\n  ssd {\n";
  }
  CHECK(ErrorOf([&] { wc::Document::Load(dir / "bad.config"); }) ==
        (dir / "bad.config").string() + ":3:1: expected '}' to close message 'ssd' opened at 2:7, found end of input");
}

TEST_CASE("text format: a missing [i] names the file and the message it is missing from", "[config][text_format]") {
  wc::Document doc = wc::Document::Parse("model {\n  ssd { x: 1 }\n}\nopt: 2\n", "p.config");
  CHECK(ErrorOf([&] { doc.root().Set("opt[1]", wc::Value::Int(3)); }) ==
        "p.config: field path 'opt[1]': no occurrence [1] of 'opt'");
  CHECK(ErrorOf([&] { doc.root().Set("model.ssd.x[2]", wc::Value::Int(3)); }) ==
        "p.config:2:7: field path 'model.ssd.x[2]': no occurrence [2] of 'x'");
  CHECK(ErrorOf([&] { doc.root().Mutable("model[1].ssd"); }) ==
        "p.config: field path 'model[1].ssd': no occurrence [1] of 'model'");
  CHECK(ErrorOf([&] { doc.root().Mutable("model.ssd[3]"); }) ==
        "p.config:1:7: field path 'model.ssd[3]': no occurrence [3] of 'ssd'");
  // In a message the edit created: the document's file, no position.
  CHECK(ErrorOf([&] { doc.root().Set("model.new_one.y[1]", wc::Value::Int(3)); }) ==
        "p.config: field path 'model.new_one.y[1]': no occurrence [1] of 'y'");
  // A nested message taken on its own still knows where it came from.
  wc::Message& ssd = doc.root().Mutable("model.ssd");
  CHECK(ErrorOf([&] { ssd.Set("x[4]", wc::Value::Int(3)); }) == "p.config: field path 'x[4]': no occurrence [4] of 'x'");
  // A tree made by code has no file: the message as before.
  wc::Message made;
  CHECK(ErrorOf([&] { made.Set("a[1]", wc::Value::Int(1)); }) == "field path 'a[1]': no occurrence [1] of 'a'");
}

TEST_CASE("text format: Remove by path, all occurrences or one", "[config][text_format]") {
  wc::Message m = wc::ParseText("a { b: 1 c: 2 } a { b: 3 } s: 1 s: 2 s: 3 t [4, 5, 6]");
  CHECK(m.Remove("a.b") == 2);  // what FindAll("a.b") finds, in every `a`
  CHECK(m.FindAll("a.b").empty());
  CHECK(m.FindAll("a").size() == 2);
  CHECK(m.Remove("s[1]") == 1);
  CHECK(m.FindAll("s").size() == 2);
  CHECK(m.FindAll("s")[1]->AsInt64() == 3);
  CHECK(m.Remove("t[0]") == 1);
  CHECK(m.Find("t")->AsInt64() == 5);
  CHECK(m.Remove("s") == 2);
  CHECK_FALSE(m.Has("s"));
  CHECK(m.Remove("s") == 0);       // nothing there
  CHECK(m.Remove("t[9]") == 0);    // no such occurrence
  CHECK(m.Remove("a.c.d") == 0);   // through a scalar: nothing
  CHECK(m.Remove("a[1]") == 1);
  CHECK(m.Find("a.c")->AsInt64() == 2);
  CHECK(ErrorOf([&] { m.Remove("a..b"); }) == "bad field path 'a..b': expected a field name at byte 2");
  CHECK(m == wc::ParseText("a { c: 2 } t: 5 t: 6"));
}

TEST_CASE("text format: Document prints removals and keeps every other byte", "[config][text_format]") {
  const std::string text =
      "# SSD with MobileNetV2.\n"
      "model {\n"
      "  ssd {\n"
      "    num_classes: 37  # the pets\n"
      "    # Anchors.\n"
      "    anchor_generator {\n"
      "      ssd_anchor_generator {\n"
      "        aspect_ratios: 1.0\n"
      "        aspect_ratios: 2.0\n"
      "        scales: [0.1, 0.2, 0.3, 0.4]\n"
      "      }\n"
      "    }\n"
      "    center: False; scale: t  # one line\n"
      "    iou { x: 1 y: 2 }\n"
      "  }\n"
      "}\n"
      "train_config: {\n"
      "  batch_size: 24\n"
      "  data_augmentation_options {\n"
      "    random_horizontal_flip {\n"
      "    }\n"
      "  }\n"
      "  data_augmentation_options {\n"
      "    ssd_random_crop {\n"
      "    }\n"
      "  }\n"
      "  fine_tune_checkpoint: \"PATH_TO_BE_CONFIGURED/model.ckpt\"\r\n"
      "}";
  wc::Document doc = wc::Document::Parse(text, "pets.config");
  std::string expected = text;
  auto remove = [&](const std::string& from, const std::string& to) {
    const size_t at = expected.find(from);
    REQUIRE(at != std::string::npos);
    expected.replace(at, from.size(), to);
  };
  // A field alone on its line: the line goes, its trailing comment too; the comment above stays.
  CHECK(doc.root().Remove("model.ssd.num_classes") == 1);
  remove("    num_classes: 37  # the pets\n", "");
  CHECK(doc.Print() == expected);
  // One occurrence of a repeated field; list elements, inside and at the end.
  CHECK(doc.root().Remove("model.ssd.anchor_generator.ssd_anchor_generator.aspect_ratios[0]") == 1);
  remove("        aspect_ratios: 1.0\n", "");
  CHECK(doc.root().Remove("model.ssd.anchor_generator.ssd_anchor_generator.scales[1]") == 1);
  CHECK(doc.root().Remove("model.ssd.anchor_generator.ssd_anchor_generator.scales[2]") == 1);  // 0.4 now
  remove("[0.1, 0.2, 0.3, 0.4]", "[0.1, 0.3]");
  CHECK(doc.Print() == expected);
  // Several fields on one line, and in a one-line message.
  CHECK(doc.root().Remove("model.ssd.scale") == 1);
  remove("    center: False; scale: t  # one line\n", "    center: False;  # one line\n");
  CHECK(doc.root().Remove("model.ssd.iou.x") == 1);
  remove("iou { x: 1 y: 2 }", "iou { y: 2 }");
  CHECK(doc.Print() == expected);
  // A whole message over several lines; a field ending in CR LF; the first of two messages.
  CHECK(doc.root().Remove("train_config.data_augmentation_options[0]") == 1);
  remove("  data_augmentation_options {\n    random_horizontal_flip {\n    }\n  }\n", "");
  CHECK(doc.root().Remove("train_config.fine_tune_checkpoint") == 1);
  remove("  fine_tune_checkpoint: \"PATH_TO_BE_CONFIGURED/model.ckpt\"\r\n", "");
  CHECK(doc.Print() == expected);
  CHECK(wc::ParseText(doc.Print()) == doc.root());
  // Removals beside other edits: a value set, a field added after a removed last sibling.
  CHECK(doc.root().Remove("model.ssd.iou.y") == 1);
  doc.root().Set("model.ssd.iou.z", wc::Value::Int(3));
  doc.root().Set("train_config.batch_size", wc::Value::Int(8));
  CHECK(doc.root().Remove("model.ssd.anchor_generator.ssd_anchor_generator.scales") == 2);
  remove("        scales: [0.1, 0.3]\n", "");
  remove("iou { y: 2 }", "iou {\n      z: 3\n    }");
  remove("batch_size: 24", "batch_size: 8");
  CHECK(doc.Print() == expected);
  CHECK(wc::ParseText(doc.Print()) == doc.root());

  // Every field of a one-line message removed, then one added: it gets lines of its own.
  wc::Document one = wc::Document::Parse("a {\n  b { x: 1, y: 2 }\n}\n");
  CHECK(one.root().Remove("a.b.x") + one.root().Remove("a.b.y") == 2);
  CHECK(one.Print() == "a {\n  b { }\n}\n");
  one.root().Set("a.b.z", wc::Value::Int(3));
  CHECK(one.Print() == "a {\n  b {\n    z: 3\n  }\n}\n");
}

TEST_CASE("text format: removing a field from every real config deletes exactly its line", "[config][text_format][realdata]") {
  std::filesystem::path dir;
  if (!warmstart::test::RequireRealData("odapi-configs", &dir)) return;
  int edited = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".config") continue;
    INFO(entry.path().string());
    wc::Document doc = wc::Document::Load(entry.path());
    const wc::Value* v = doc.root().Find("train_config.batch_size");
    if (v == nullptr) continue;
    // The line holding the (first) batch_size, as the file has it.
    const std::string& src = doc.source();
    const size_t begin = src.rfind('\n', v->span().begin) + 1;
    const size_t end = src.find('\n', v->span().end);
    const size_t count = doc.root().FindAll("train_config.batch_size").size();
    REQUIRE(count == 1);
    CHECK(doc.root().Remove("train_config.batch_size") == 1);
    CHECK(doc.Print() == src.substr(0, begin) + src.substr(end + 1));
    ++edited;
  }
  CHECK(edited > 50);
}

TEST_CASE("text format: Save replaces the file whole, keeps its permissions, leaves no temporary", "[config][text_format]") {
  namespace fs = std::filesystem;
  warmstart::test::TempDir dir;
  const fs::path path = dir / "pipeline.config";
  {
    std::ofstream out(path, std::ios::binary);
    out << "model { ssd { num_classes: 90 } }\n";
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  wc::Document doc = wc::Document::Load(path);
  doc.root().Set("model.ssd.num_classes", wc::Value::Int(2));
  doc.Save(path);
  CHECK(wc::Document::Load(path).source() == "model { ssd { num_classes: 2 } }\n");
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir.path())) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(names() == std::vector<std::string>{"pipeline.config"});
  // A new file: created, the directory otherwise unchanged.
  doc.Save(dir / "copy.config");
  CHECK(wc::Document::Load(dir / "copy.config").source() == doc.Print());
  CHECK(names() == std::vector<std::string>{"copy.config", "pipeline.config"});
  // Failures name the file and leave no temporary behind.
  fs::create_directories(dir / "taken" / "inside");
  const std::string taken = (dir / "taken").string();
  const std::string error = ErrorOf([&] { doc.Save(taken); });
  CHECK(error.rfind(taken + ": cannot rename " + taken + ".tmp", 0) == 0);
  CHECK(names() == std::vector<std::string>{"copy.config", "pipeline.config", "taken"});
  const std::string nowhere = (dir / "missing" / "p.config").string();
  CHECK(ErrorOf([&] { doc.Save(nowhere); }).rfind(nowhere + ": cannot create the temporary file " + nowhere + ".tmp", 0) == 0);
}
