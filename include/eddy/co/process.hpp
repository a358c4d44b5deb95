// eddy::co processes: co::run_process spawns a child and waits for its exit.
// Ownership: the process handle is borrowed and must stay open until the exit; closing it
// drops the exit callback unrun, so the callback holds its cell share in a cell_hold
// (detail/cell.hpp). options are read at the spawn (at co_await).
// Threads: loop thread only; the task resumes on the loop thread.
#pragma once

#include <cstdint>

#include "eddy/co/core.hpp"
#include "eddy/co/detail/cell.hpp"
#include "eddy/process.hpp"

namespace eddy {
namespace co {

struct exit_status {
  std::int64_t exit_status = 0;
  int term_signal = 0;
};

// Spawns a child with p (an unused process handle) and waits for it to exit. Spawn errors
// (errc::no_such_file, ...) are the operation's error. p must stay open until the exit.
template <bool Throw = true>
auto run_process(process& p, const process_options& options) {
  return detail::make_op<exit_status, Throw>([&p, &options](detail::cell<exit_status>* c) {
    // Closing p drops the exit callback unrun: the callback holds its share.
    return p.spawn(options, [h = detail::cell_hold<exit_status>(c)](std::int64_t status, int sig) {
      h->res.value = {status, sig};
      detail::resume(h.get());
    });
  });
}
inline auto run_process(process& p, const process_options& options, nothrow_t) {
  return run_process<false>(p, options);
}

}  // namespace co
}  // namespace eddy
