// The one way eddy includes the Windows headers: lean, without the min/max macros, and
// with winsock2.h before windows.h (which would otherwise pull in the old winsock.h).
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
