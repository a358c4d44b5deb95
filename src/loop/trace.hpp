// The loop's trace (loop_options::trace_path, EDDY_TRACE): Chrome trace-event JSON, which
// Perfetto and chrome://tracing load. Events are kept in memory, at most max_events of them
// (the rest are counted and dropped), and written when the loop is destroyed.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/work.hpp"

namespace eddy::detail {

class trace_recorder {
 public:
  trace_recorder(std::string path, std::size_t max_events);
  trace_recorder(const trace_recorder&) = delete;
  trace_recorder& operator=(const trace_recorder&) = delete;
  // Writes the file (errors go to stderr: the loop is going away).
  ~trace_recorder();

  // Loop thread: a phase of one iteration, and a callback over the trace threshold.
  void phase(const char* name, std::uint64_t start_ns, std::uint64_t dur_ns, std::uint32_t callbacks);
  void callback(const slow_callback& s, std::uint64_t start_ns, std::uint64_t dur_ns);
  // Any thread: a thread-pool job that ran on the calling thread.
  void pool_job(work_kind kind, std::uint64_t start_ns, std::uint64_t dur_ns);

  // The JSON text of what was recorded so far (tests; the destructor writes it).
  [[nodiscard]] std::string json();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  struct event {
    std::string name;
    const char* cat = "";
    std::string args;  // a JSON object's members, without braces
    std::uint64_t ts_ns = 0;
    std::uint64_t dur_ns = 0;
    std::uint32_t tid = 0;
  };
  void add(event&& e);
  std::uint32_t thread_id_locked();

  const std::string path_;
  const std::size_t max_events_;
  std::mutex mutex_;
  std::vector<event> events_;
  std::uint64_t dropped_ = 0;
  std::vector<std::pair<std::thread::id, std::uint32_t>> threads_;  // 1: the loop's thread
};

}  // namespace eddy::detail
