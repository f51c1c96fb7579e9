// The text-format lexer: every token kind with exact line:column, escapes, numbers, errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "warmstart/config/text_lexer.hpp"

namespace wc = warmstart::config;

namespace {

std::vector<wc::Token> LexAll(const std::string& text) {
  wc::TextLexer lexer(text, "t.config");
  std::vector<wc::Token> out;
  while (lexer.Peek().kind != wc::TokenKind::kEnd) out.push_back(lexer.Next());
  return out;
}

std::string Where(const wc::Token& t) { return t.position.ToString(); }

// The message of the FormatError that lexing `text` throws.
std::string LexError(const std::string& text) {
  try {
    LexAll(text);
  } catch (const warmstart::FormatError& e) {
    return e.what();
  }
  return "no error";
}

std::string Decoded(const std::string& literal) {
  const std::vector<wc::Token> t = LexAll(literal);
  REQUIRE(t.size() == 1);
  REQUIRE(t[0].kind == wc::TokenKind::kString);
  return t[0].value;
}

}  // namespace

TEST_CASE("lexer: identifiers, symbols, comments with positions", "[config][text_lexer]") {
  const std::string text = "# header 'quote\"\nmodel {\n  ssd: <  # trailing \"x\n\t[a.b/c] ; , - >\n}";
  const std::vector<wc::Token> t = LexAll(text);
  std::vector<std::string> texts, where;
  for (const auto& tok : t) {
    texts.push_back(tok.text);
    where.push_back(Where(tok));
  }
  CHECK(texts == std::vector<std::string>{"model", "{", "ssd", ":", "<", "[", "a", ".", "b", "/", "c", "]", ";",
                                          ",", "-", ">", "}"});
  CHECK(where == std::vector<std::string>{"2:1", "2:7", "3:3", "3:6", "3:8", "4:2", "4:3", "4:4", "4:5", "4:6",
                                          "4:7", "4:8", "4:10", "4:12", "4:14", "4:16", "5:1"});
  CHECK(t[0].kind == wc::TokenKind::kIdentifier);
  CHECK(t[1].kind == wc::TokenKind::kSymbol);
  CHECK(t[0].position.offset == 17);
  CHECK(t[0].end == 22);
}

TEST_CASE("lexer: numbers of every form", "[config][text_lexer]") {
  const std::string text = "0 42 0x1F 0X1f 017 1.5 .5 4. 1e-4 1E+10 2e3 1.0f 1f .5F 99999999999999999999999";
  const std::vector<wc::Token> t = LexAll(text);
  REQUIRE(t.size() == 15);
  using K = wc::TokenKind;
  const std::vector<K> kinds = {K::kInteger, K::kInteger, K::kInteger, K::kInteger, K::kInteger,
                                K::kFloat,   K::kFloat,   K::kFloat,   K::kFloat,   K::kFloat,
                                K::kFloat,   K::kFloat,   K::kFloat,   K::kFloat,   K::kInteger};
  for (size_t i = 0; i < t.size(); ++i) CHECK(t[i].kind == kinds[i]);
  CHECK(t[2].text == "0x1F");
  CHECK(t[6].text == ".5");
  CHECK(Where(t[6]) == "1:24");
  CHECK(t[14].text == "99999999999999999999999");
  // Literal values.
  CHECK(wc::detail::ParseIntegerLiteral("0x1F")->magnitude == 31);
  CHECK(wc::detail::ParseIntegerLiteral("017")->magnitude == 15);
  CHECK(wc::detail::ParseIntegerLiteral("-9223372036854775808")->magnitude == 9223372036854775808ull);
  CHECK(wc::detail::ParseIntegerLiteral("18446744073709551616")->overflow);
  CHECK_FALSE(wc::detail::ParseIntegerLiteral("18446744073709551615")->overflow);
  CHECK(*wc::detail::ParseFloatLiteral("1e-4") == 1e-4);
  CHECK(*wc::detail::ParseFloatLiteral(".00003") == 0.00003);
  CHECK(*wc::detail::ParseFloatLiteral("4.") == 4.0);
  CHECK(*wc::detail::ParseFloatLiteral("-1.5f") == -1.5);
  CHECK(*wc::detail::ParseFloatLiteral("1e999") == std::numeric_limits<double>::infinity());
  CHECK(*wc::detail::ParseFloatLiteral("1e-999") == 0.0);
  CHECK(*wc::detail::ParseFloatLiteral("-Infinity") == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(*wc::detail::ParseFloatLiteral("NaN")));
  CHECK_FALSE(wc::detail::ParseFloatLiteral("+1").has_value());
}

TEST_CASE("lexer: strings, quotes and escapes", "[config][text_lexer]") {
  const std::vector<wc::Token> t = LexAll("a: 'it''s' \"x\"\n  \"y#z\"");
  REQUIRE(t.size() == 6);
  CHECK(t[2].value == "it");
  CHECK(t[3].value == "s");
  CHECK(Where(t[3]) == "1:8");
  CHECK(t[4].value == "x");
  CHECK(t[4].text == "\"x\"");
  CHECK(t[5].value == "y#z");
  CHECK(Where(t[5]) == "2:3");
  CHECK(LexAll("\"y#z\" # \"q")[0].value == "y#z");  // '#' in a string is not a comment

  CHECK(Decoded(R"("\a\b\f\n\r\t\v\\\?\'\"")") == "\a\b\f\n\r\t\v\\?'\"");
  CHECK(Decoded(R"('\"')") == "\"");
  CHECK(Decoded(R"("\0\12\101\1011")") == std::string("\0\n" "AA1", 5));
  CHECK(Decoded(R"("\377")") == "\xff");
  CHECK(Decoded(R"("\x41\x4a\xa")") == "AJ\n");
  CHECK(Decoded(R"("\x414")") == "A4");  // at most two hex digits
  CHECK(Decoded(R"("\u00e9")") == "\xc3\xa9");
  CHECK(Decoded(R"("\u20AC")") == "\xe2\x82\xac");
  CHECK(Decoded(R"("\U0001F600")") == "\xf0\x9f\x98\x80");
  CHECK(Decoded(R"("\ud83d\ude00")") == "\xf0\x9f\x98\x80");  // a UTF-16 surrogate pair
  CHECK(Decoded(R"("\u0041")") == "A");
  CHECK(Decoded("''").empty());
}

TEST_CASE("lexer: quoting is CEscape and reads back", "[config][text_lexer]") {
  const std::string all_bytes = [] {
    std::string s;
    for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
    return s;
  }();
  const std::string quoted = wc::detail::QuoteString(all_bytes);
  CHECK(Decoded(quoted) == all_bytes);
  CHECK(wc::detail::QuoteString("a\"b'c\\d\n\r\t\x01\x7f\xc3\xa9") == R"("a\"b\'c\\d\n\r\t\001\177\303\251")");
}

TEST_CASE("lexer: errors name line:column and what was found", "[config][text_lexer]") {
  CHECK(LexError("a: \"abc\nd\"") == "t.config:1:4: unterminated string: no closing \" on this line");
  CHECK(LexError("a: 'abc") == "t.config:1:4: unterminated string: no closing ' before the end of input");
  CHECK(LexError("a: \"\\q\"") == "t.config:1:5: invalid escape sequence '\\q'");
  CHECK(LexError("a: \"\\400\"") == "t.config:1:5: octal escape '\\400' is above \\377");
  CHECK(LexError("a: \"\\xg\"") == "t.config:1:5: escape '\\x' must be followed by one or two hex digits");
  CHECK(LexError("a: \"\\u12\"") == "t.config:1:5: escape '\\u' must be followed by 4 hex digits");
  CHECK(LexError("a: \"\\U00110000\"") == "t.config:1:5: unicode escape above U+10FFFF");
  CHECK(LexError("a: \"\\ud800x\"") ==
        "t.config:1:5: unicode escape is a high surrogate without a following \\u low surrogate");
  CHECK(LexError("a: \"\\udc00\"") == "t.config:1:5: unicode escape is a lone low surrogate");
  CHECK(LexError("\n  x: 0x") == "t.config:2:6: '0x' must be followed by hex digits");
  CHECK(LexError("x: 08") == "t.config:1:5: a number starting with '0' is octal, and '8' is not an octal digit");
  CHECK(LexError("x: 1e+") == "t.config:1:7: exponent 'e' must be followed by digits");
  CHECK(LexError("x: 12abc") == "t.config:1:6: unexpected character 'a' right after the number '12'");
  CHECK(LexError("x: 1.2.3") == "t.config:1:7: unexpected character '.' right after the number '1.2'");
  CHECK(LexError("x: @") == "t.config:1:4: unexpected character '@'");
  CHECK(LexError("x: \x01") == "t.config:1:4: unexpected character 0x01");
  CHECK(LexError("x: \"\\") == "t.config:1:5: backslash at the end of a line inside a string");
}
