// What the fuzz harnesses share: a check that stays on in release builds (assert would not)
// and aborts, which libFuzzer reports as a crash with its input saved.
#pragma once

#include <cstdio>
#include <cstdlib>

#define EDDY_FUZZ_CHECK(cond)                                                             \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)
