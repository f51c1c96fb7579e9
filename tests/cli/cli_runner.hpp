// Running the built `warmstart` binary from tests: stdout, stderr and exit code captured.
// Shared by the CLI tests (inspect, diff, convert/rename/average).
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/realdata.hpp"

namespace warmstart::test::cli {

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::filesystem::path CliPath() { return std::filesystem::path(WARMSTART_BINARY_DIR) / "warmstart"; }

// True when the CLI was built; otherwise WARNs (the test then passes).
inline bool RequireCli() {
  std::error_code ec;
  if (std::filesystem::is_regular_file(CliPath(), ec)) return true;
  WARN("the warmstart CLI is not built (" << CliPath().string() << "); skipping");
  return false;
}

// Runs `program args...` with stdin closed, capturing stdout, stderr and the exit code.
inline Run RunProgram(const std::filesystem::path& program, const std::vector<std::string>& args) {
  TempDir capture;
  std::string command = ShellQuote(program.string());
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += " >" + ShellQuote((capture / "out").string()) + " 2>" + ShellQuote((capture / "err").string()) +
             " </dev/null";
  const int status = std::system(command.c_str());
  Run r;
  r.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(capture / "out");
  r.err = ReadFile(capture / "err");
  return r;
}

// Runs `warmstart args...` (RunProgram of CliPath()).
inline Run RunCli(const std::vector<std::string>& args) { return RunProgram(CliPath(), args); }

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

inline bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// An error run: the contract is exactly one stderr line "warmstart: error: ...".
inline void RequireOneErrorLine(const Run& r, const std::string& contains) {
  INFO("stderr: " << r.err);
  const std::vector<std::string> lines = Lines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(StartsWith(lines[0], "warmstart: error: "));
  CHECK(lines[0].find(contains) != std::string::npos);
  CHECK(r.err.back() == '\n');
}

}  // namespace warmstart::test::cli
