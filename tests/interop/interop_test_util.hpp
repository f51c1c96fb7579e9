// Shared by the interop tests: whole-file reads and writes, and python3 + numpy as an
// outside reference (the tests that need it WARN and pass when it is absent).
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace warmstart::test::interop {

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void Spit(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline constexpr char kPython[] = "/usr/bin/python3";

// True when /usr/bin/python3 can import numpy; otherwise WARNs (the caller returns).
inline bool RequirePythonNumpy() {
  static const int status = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1");
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  WARN("python3 with numpy is not available (/usr/bin/python3 -c 'import numpy' failed); skipping");
  return false;
}

// Runs `script` with python3 in `dir`; returns its exit code, output in *out.
inline int RunPython(const std::filesystem::path& dir, const std::string& script, std::string* out) {
  Spit(dir / "script.py", script);
  const std::string command = "cd '" + dir.string() + "' && /usr/bin/python3 script.py >out.txt 2>&1";
  const int status = std::system(command.c_str());
  *out = Slurp(dir / "out.txt");
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace warmstart::test::interop
