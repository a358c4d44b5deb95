// Everything in eddy's public API.
#pragma once

#include "eddy/address.hpp"
#include "eddy/async.hpp"
#include "eddy/dns.hpp"
#include "eddy/error.hpp"
#include "eddy/handle.hpp"
#include "eddy/idle.hpp"
#include "eddy/loop.hpp"
#include "eddy/pipe.hpp"
#include "eddy/signal.hpp"
#include "eddy/stream.hpp"
#include "eddy/tcp.hpp"
#include "eddy/timer.hpp"
#include "eddy/tty.hpp"
#include "eddy/udp.hpp"
#include "eddy/version.hpp"
#include "eddy/work.hpp"
