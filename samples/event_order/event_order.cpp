// event_order: which callback runs when. The main program schedules a timer, an immediate,
// a next tick and a microtask; each of those schedules one more of all four, which only
// print. The output is byte-identical to `node event_order.js` (the test
// sample_event_order_matches_node checks it on every port).
//
// Labels read as a path through the tree: "timer>immediate" is the immediate scheduled by
// the top-level timer. The order follows Node's rules, which eddy implements:
// - after every callback: all next ticks, then all microtasks, again until both are empty;
//   what the main program queued runs the same way before the loop's first iteration;
// - one iteration: due timers, ..., poll, then the check phase runs the immediates queued
//   before it (immediates queued during the check phase wait for the next iteration);
// - a timer started in the timers phase is not due until a later iteration.
//
// Usage: event_order            (port from EDDY_BACKEND, else the platform's default)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "eddy/eddy.hpp"

namespace {

using namespace std::chrono_literals;

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  // One flush per line: the output is read through a pipe (and through Wine on Windows).
  std::fflush(stdout);
}

// Simulated work so every timer is due at the next timers phase. The Node program does the
// same: there a 1 ms timer against an immediate from the main module is a race that depends
// on how long the process took to reach the loop; after 3 ms of work every timer scheduled
// so far is due when the loop next looks.
void simulated_work() {
  const std::uint64_t end = eddy::loop::hrtime() + 3'000'000;
  while (eddy::loop::hrtime() < end) {
    // spin
  }
}

class scenario {
 public:
  explicit scenario(eddy::loop& l) : loop_(l) {}

  // Schedules one of each kind; `parent` is the label prefix, `depth` how many levels remain.
  void schedule_all(const std::string& parent, int depth) {
    auto label = [&](const char* kind) { return parent.empty() ? std::string(kind) : parent + ">" + kind; };

    // Node's setTimeout(fn, 0) is a 1 ms timer; use the same timeout.
    auto& t = *timers_.emplace_back(std::make_unique<eddy::timer>(loop_));
    t.start(1ms, [this, &t, name = label("timer"), depth] {
      t.close();  // a one-shot timer; the object is released with the scenario
      visit(name, depth);
    });
    simulated_work();
    loop_.set_immediate([this, name = label("immediate"), depth] { visit(name, depth); });
    loop_.next_tick([this, name = label("tick"), depth] { visit(name, depth); });
    loop_.queue_microtask([this, name = label("microtask"), depth] { visit(name, depth); });
  }

 private:
  void visit(const std::string& name, int depth) {
    say(name);
    if (depth > 1) schedule_all(name, depth - 1);
  }

  eddy::loop& loop_;
  // Timer objects must outlive their callbacks; closed timers stay here until the end.
  std::vector<std::unique_ptr<eddy::timer>> timers_;
};

}  // namespace

int main() {
  try {
    eddy::loop loop;  // honours EDDY_BACKEND
    {
      scenario s(loop);
      say("main start");
      s.schedule_all("", 2);
      say("main end");
      loop.run();
    }
    if (std::error_code ec = loop.close()) {
      std::fprintf(stderr, "event_order: loop.close: %s\n", ec.message().c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "event_order: %s\n", e.what());
    return 1;
  }
  return 0;
}
