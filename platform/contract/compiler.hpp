// What differs between the compilers that build eddy (GCC, clang, Microsoft's cl) and their C
// runtimes, in one place: the library's sources ask these macros and functions and never test
// __GNUC__, __clang__ or _MSC_VER themselves. The public headers' one compiler difference,
// symbol visibility, is in include/eddy/export.hpp (public headers cannot include this file).
//
// Thread rules: none; every function here is a plain instruction or a query of the processor.
#pragma once

#include <cstdint>

// EDDY_COMPILER_MSVC: Microsoft's cl (not clang-cl, which speaks GCC's dialect as well).
#if defined(_MSC_VER) && !defined(__clang__)
#define EDDY_COMPILER_MSVC 1
#else
#define EDDY_COMPILER_MSVC 0
#endif

// EDDY_CRT_MSVC: the program links Microsoft's C runtime headers as cl and clang-cl see them,
// whose checked functions (_get_osfhandle of a bad descriptor) call the invalid-parameter
// handler, which ends the process unless a thread installs its own
// (_set_thread_local_invalid_parameter_handler).
#if defined(_MSC_VER)
#define EDDY_CRT_MSVC 1
#else
#define EDDY_CRT_MSVC 0
#endif

// EDDY_HAVE_TSC: x86-64, where the time-stamp counter and CPUID are there to read.
#if defined(__x86_64__) || defined(_M_X64)
#define EDDY_HAVE_TSC 1
#if EDDY_COMPILER_MSVC
#include <intrin.h>
#else
#include <cpuid.h>
#include <x86intrin.h>
#endif
#else
#define EDDY_HAVE_TSC 0
#endif

namespace eddy::contract::compiler {

#if EDDY_HAVE_TSC
// The time-stamp counter (RDTSC).
inline std::uint64_t read_tsc() noexcept { return __rdtsc(); }

// CPUID leaf (sub-leaf 0) into eax, ebx, ecx, edx; false when the processor does not have the
// leaf (its range's maximum, CPUID leaf & 0x80000000, is below it).
inline bool cpuid(std::uint32_t leaf, std::uint32_t regs[4]) noexcept {
#if EDDY_COMPILER_MSVC
  int r[4] = {};
  __cpuid(r, static_cast<int>(leaf & 0x80000000u));
  if (static_cast<std::uint32_t>(r[0]) < leaf) return false;
  __cpuid(r, static_cast<int>(leaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<std::uint32_t>(r[i]);
  return true;
#else
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(leaf, &a, &b, &c, &d) == 0) return false;
  regs[0] = a;
  regs[1] = b;
  regs[2] = c;
  regs[3] = d;
  return true;
#endif
}
#endif

}  // namespace eddy::contract::compiler
