// Compiles against the installed headers only, and exercises something trivial from them.
#if __has_include(<warmstart/warmstart.hpp>)
#include <warmstart/warmstart.hpp>
#endif
#include <warmstart/core/bytes.hpp>
#include <warmstart/error.hpp>

#include <cstdint>
#include <iostream>
#include <string>

int main() {
  std::string bytes;
  warmstart::core::PutFixed32(&bytes, 0x0a0b0c0du);
  const warmstart::core::ByteView view(bytes);
  if (view.size() != 4 || warmstart::core::DecodeFixed32(view.data()) != 0x0a0b0c0du) {
    std::cerr << "fixed32 round trip failed\n";
    return 1;
  }
  try {
    throw warmstart::FormatError(warmstart::ErrorContext("model.ckpt.index", 4), "consumer check");
  } catch (const warmstart::Error& e) {
    std::cout << "warmstart consumer OK: " << e.what() << "\n";
  }
  return 0;
}
