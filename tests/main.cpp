// The one main() of warmstart_tests; the test cases live in tests/<folder>/<name>_test.cpp.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
