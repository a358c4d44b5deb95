// Fault injection: a test-only hook that makes the Nth call of a chosen kind fail with a
// chosen error, so the tests can walk the runtime's real error paths (tests/fault_test.cpp).
//
// Compiled in only with the CMake option EDDY_FAULT_INJECTION=ON (the ASan and TSan presets).
// Without it EDDY_FAULT(k) is the constant 0 and every call site compiles to nothing.
//
// A call site reads:   if (int e = EDDY_FAULT(recv)) { ...fail as the syscall would, with e... }
// e is a POSIX errno value (std::errc's value); the port turns it into its own native error
// where the port's own error would enter (Win32/WSA codes on IOCP), so the failure takes the
// same path a real one does. Where each kind is injected:
//   socket     net::open_tcp / open_udp / open_local: the socket() call fails (returned to the
//              caller of bind/connect/open as a real socket() failure would be).
//   accept     a connection was accepted but the accept is reported failed: io_uring rewrites
//              the accept CQE's res to -e (closing the accepted fd), epoll the accept4() result,
//              IOCP the AcceptEx completion status. The client sees its connection dropped.
//   submit     the port refuses an operation at submit(): it completes, from the port's next
//              poll, with e (io_uring: as a CQE with -e for that SQE; epoll: as the syscall's
//              result; IOCP: as the overlapped call's immediate failure).
//   recv       a receive (recv/read/recvfrom) finished but is reported failed: the bytes are
//              dropped and the operation completes with e (io_uring: the CQE's res, epoll: the
//              syscall's result, IOCP: the completion status).
//   send       a send/write/sendto fails before anything is sent: io_uring completes it as its
//              CQE would (-e) without preparing the SQE, epoll fails the syscall, IOCP the
//              WSASend/WriteFile call.
//   memory     memory for a request: a stream's write request cannot be allocated
//              (stream::write returns no_memory and queues nothing).
//   pool_job   the thread pool cannot take a job: queue_work's after_work (and a pool-run
//              fs request's callback) gets e, as when the pool cannot start.
//   spawn      the OS call that creates the child (posix_spawn / fork / CreateProcessW) fails.
//   file_open  opening a file fails before anything is created: open() on the pool (POSIX),
//              the io_uring openat (completed with -e without its SQE), CreateFileW (Windows).
//
// Counting: every pass of an armed or unarmed point counts (calls()); arm(k, n, e) makes the
// nth pass from now fail, once. Counters and arming are atomics: the pool threads pass the
// file_open point. arm/disarm from the test's thread while no loop runs, or from a callback.
#pragma once

#include <cstdint>
#include <system_error>

namespace eddy::contract::fault {

enum class kind : std::uint8_t { socket, accept, submit, recv, send, memory, pool_job, spawn, file_open };
inline constexpr int kind_count = 9;

#if defined(EDDY_FAULT_INJECTION)
// Arms kind k: its nth pass from now (1 = the next) returns e instead of 0. Replaces an
// earlier arming of k. Any thread.
void arm(kind k, std::uint32_t nth, std::errc e) noexcept;
// Disarms every kind and zeroes the counters.
void disarm_all() noexcept;
// How many times k's point was passed since the last disarm_all(), and how many faults fired.
std::uint64_t calls(kind k) noexcept;
std::uint64_t fired(kind k) noexcept;
// The hook: 0, or the errno value to fail with.
int hit(kind k) noexcept;

#define EDDY_FAULT(k) (::eddy::contract::fault::hit(::eddy::contract::fault::kind::k))
#else
#define EDDY_FAULT(k) 0
#endif

}  // namespace eddy::contract::fault
