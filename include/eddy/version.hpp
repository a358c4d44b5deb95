#pragma once

#include "eddy/export.hpp"

#define EDDY_VERSION_MAJOR 0
#define EDDY_VERSION_MINOR 1
#define EDDY_VERSION_PATCH 0

namespace eddy {
// The version of the library actually linked ("0.1.0").
EDDY_API const char* version() noexcept;
}  // namespace eddy
