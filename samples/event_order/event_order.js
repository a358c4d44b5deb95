// The same scenario as event_order.cpp, in Node.js. `node event_order.js` must print exactly
// what the eddy sample prints (tests/CMakeLists.txt compares the two).
//
// The main program schedules a timer, an immediate, a next tick and a microtask; each of
// those schedules one more of all four, which only print. Labels read as a path through the
// tree: "timer>immediate" is the immediate scheduled by the top-level timer.
'use strict';

// Simulated work so every timer is due at the next timers phase. Without it, a 1 ms timer
// against an immediate from the main module is a race in Node (it depends on how long the
// process took to reach the loop); after 3 ms of work every timer scheduled so far is due.
function simulatedWork() {
  const end = process.hrtime.bigint() + 3000000n;
  while (process.hrtime.bigint() < end) {
    // spin
  }
}

function say(line) {
  process.stdout.write(line + '\n');
}

// Schedules one of each kind; `parent` is the label prefix, `depth` how many levels remain.
function scheduleAll(parent, depth) {
  const label = (kind) => (parent === '' ? kind : parent + '>' + kind);
  const make = (kind) => () => {
    say(label(kind));
    if (depth > 1) scheduleAll(label(kind), depth - 1);
  };
  setTimeout(make('timer'), 0);
  simulatedWork();
  setImmediate(make('immediate'));
  process.nextTick(make('tick'));
  queueMicrotask(make('microtask'));
}

say('main start');
scheduleAll('', 2);
say('main end');
