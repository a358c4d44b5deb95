#include "eddy/version.hpp"

namespace eddy {
const char* version() noexcept { return "0.1.0"; }
}  // namespace eddy
