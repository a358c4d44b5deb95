// EDDY_API marks the public API. Shared builds hide every other symbol (hidden visibility
// on ELF, no dllexport on Windows), so the .so and the DLL export exactly this API.
// Static builds define EDDY_STATIC (carried by the eddy::eddy target's usage requirements).
#pragma once

#if defined(EDDY_STATIC)
#define EDDY_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#if defined(EDDY_BUILDING)
#define EDDY_API __declspec(dllexport)
#else
#define EDDY_API __declspec(dllimport)
#endif
#else
#define EDDY_API __attribute__((visibility("default")))
#endif
