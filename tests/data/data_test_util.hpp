// Helpers shared by the tests of data/: whole-file bytes in and out, and the exception a call
// throws (to check its type and its message together).
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

namespace warmstart::test::data {

inline std::string ReadBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// The exception of type E that f() throws; fails the test when it throws none.
template <class E, class F>
E Thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  FAIL("no exception of the expected type");
  throw std::logic_error("unreachable");
}

}  // namespace warmstart::test::data
