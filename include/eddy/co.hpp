// eddy::co: awaitable forms of eddy's asynchronous operations, for eddy::task (task.hpp).
//
// Every operation comes in two forms:
//   co_await co::sleep(loop, 10ms);                 // throws std::system_error on failure
//   auto r = co_await co::sleep(loop, 10ms, co::nothrow);  // eddy::result<T>: r.error, r.value
// The error code is the one the callback form reports (eddy::errc). An exception thrown by
// the function given to co::queue_work reaches the awaiter as itself, in both forms.
// Operations: sleep (on a timer of its own or a kept one), yield, signal, queue_work; lookup,
// reverse_lookup, resolve (dns::resolver, every record type); tcp and pipe connect, read,
// write, shutdown, basic_acceptor (acceptor for tcp, pipe_acceptor); udp send and receive;
// run_process; every fs callback form (open, read, write, close, stat, mkdir, scandir, ...).
//
// They are built on the callback API only, and cost no more allocations than it does (a
// test counts them). The awaiter lives in the awaiting coroutine's frame. sleep, yield,
// signal, accept, read and receive register a callback that holds the awaiter's address:
// those operations stop synchronously when the awaiter goes. The others (connect, write,
// shutdown, send, queue_work, DNS, fs, run_process) complete through a cell shared with
// their callback, because the callback may outlive the awaiter (a write completes after its
// task was destroyed, a pool job finishes). Cells are recycled: each thread keeps a pool per
// result type, a cell has two shares (awaiter, callback) and returns to the pool when both
// let go, so a warm loop allocates none; the callback holds a plain pointer (the callback
// API runs those callbacks exactly once, with operation_canceled when their handle closes),
// which keeps std::function within its small buffer. Where the callback API may drop a
// callback unrun (a process closed before it exits, a resolver destroyed with queries in
// flight) the callback's share is a counted holder instead (one allocation, inside
// std::function). sleep(loop, d) creates a timer handle per sleep; sleep(timer, d) on a kept
// timer allocates nothing.
//
// Lifetimes: the awaiter is the operation. Destroying a task suspended in one (destroying
// the task, losing a when_any, timing out) cancels it first: timers and signal handles the
// awaiter owns are closed, a kept timer stopped, reads and receives stopped, queued pool
// work and fs requests cancelled when they have not started, and the callback of anything
// still in flight finds no awaiter and only gives its cell back. Borrowed things (streams,
// sockets, buffers, the acceptor, the resolver) must outlive the task or the operation: a
// buffer given to read, receive or write stays borrowed until that operation's callback
// would have run (close the handle to end it), as in the callback form. Views given as
// arguments (paths, names, buffer lists) are read when the operation starts, at co_await.
// timeout and with_cancellation accept a task or any of these awaitables (moved into a task).
// Threads: loop thread only; the task resumes on the loop thread.
//
// This header includes all of eddy::co; the parts, by concern (each states its own
// ownership and thread rules):
//   eddy/co/core.hpp         eddy::result, co::nothrow
//   eddy/co/timer.hpp        sleep, yield
//   eddy/co/signal.hpp       signal
//   eddy/co/work.hpp         queue_work
//   eddy/co/dns.hpp          lookup, reverse_lookup, resolve
//   eddy/co/stream.hpp       read, write, shutdown, connect, basic_acceptor (tcp, pipe)
//   eddy/co/udp.hpp          receive, send
//   eddy/co/process.hpp      run_process
//   eddy/co/fs.hpp           every fs operation
//   eddy/co/combinators.hpp  when_all, when_any, timeout, cancellation, with_cancellation
//   eddy/co/detail/          the machinery: outcomes, cells and their pools, the awaiter
//                            bases, the join state of the combinators (not user API)
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "eddy/co/combinators.hpp"
#include "eddy/co/core.hpp"
#include "eddy/co/dns.hpp"
#include "eddy/co/fs.hpp"
#include "eddy/co/process.hpp"
#include "eddy/co/signal.hpp"
#include "eddy/co/stream.hpp"
#include "eddy/co/timer.hpp"
#include "eddy/co/udp.hpp"
#include "eddy/co/work.hpp"
