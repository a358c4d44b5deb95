#include "loop/trace.hpp"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "eddy/os.hpp"
#include "loop_impl.hpp"

namespace eddy::detail {

void trace_deleter::operator()(trace_recorder* t) const noexcept { delete t; }

namespace {

// A JSON string's contents: quotes, backslashes and control characters escaped.
std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

const char* work_kind_name(work_kind k) noexcept {
  switch (k) {
    case work_kind::cpu: return "work (cpu)";
    case work_kind::fast_io: return "work (fast_io)";
    case work_kind::slow_io: return "work (slow_io)";
  }
  return "work";
}

}  // namespace

trace_recorder::trace_recorder(std::string path, std::size_t max_events)
    : path_(std::move(path)), max_events_(max_events) {
  events_.reserve(std::min<std::size_t>(max_events_, 4096));
  std::lock_guard lock(mutex_);
  (void)thread_id_locked();  // the loop's thread, which creates the loop, is thread 1
}

trace_recorder::~trace_recorder() {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  const std::string text = json();
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) std::fprintf(stderr, "eddy: cannot write the trace to %s\n", path_.c_str());
}

std::uint32_t trace_recorder::thread_id_locked() {
  const auto self = std::this_thread::get_id();
  for (const auto& [id, n] : threads_) {
    if (id == self) return n;
  }
  const auto n = static_cast<std::uint32_t>(threads_.size() + 1);
  threads_.emplace_back(self, n);
  return n;
}

void trace_recorder::add(event&& e) {
  std::lock_guard lock(mutex_);
  e.tid = thread_id_locked();
  if (events_.size() >= max_events_) {
    ++dropped_;
    return;
  }
  events_.push_back(std::move(e));
}

void trace_recorder::phase(const char* name, std::uint64_t start_ns, std::uint64_t dur_ns, std::uint32_t callbacks) {
  event e;
  e.name = name;
  e.cat = "phase";
  e.ts_ns = start_ns;
  e.dur_ns = dur_ns;
  e.args = fmt::format("\"callbacks\":{}", callbacks);
  add(std::move(e));
}

void trace_recorder::callback(const slow_callback& s, std::uint64_t start_ns, std::uint64_t dur_ns) {
  event e;
  e.name = std::string(s.handle_type);
  if (!s.handle_name.empty()) e.name += fmt::format(" '{}'", s.handle_name);
  e.cat = "callback";
  e.ts_ns = start_ns;
  e.dur_ns = dur_ns;
  e.args = fmt::format("\"type\":\"{}\",\"name\":\"{}\",\"phase\":\"{}\"", json_escape(s.handle_type),
                       json_escape(s.handle_name), json_escape(s.phase));
  if (s.handle_address != nullptr) e.args += fmt::format(",\"handle\":\"{}\"", s.handle_address);
  add(std::move(e));
}

void trace_recorder::pool_job(work_kind kind, std::uint64_t start_ns, std::uint64_t dur_ns) {
  event e;
  e.name = work_kind_name(kind);
  e.cat = "pool";
  e.ts_ns = start_ns;
  e.dur_ns = dur_ns;
  add(std::move(e));
}

std::string trace_recorder::json() {
  std::lock_guard lock(mutex_);
  const int pid = os::pid();
  std::string out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&] {
    if (!first) out += ",\n";
    first = false;
  };
  for (const auto& [id, n] : threads_) {
    sep();
    const std::string tname = n == 1 ? "eddy loop" : fmt::format("eddy pool thread {}", n - 1);
    out += fmt::format(R"({{"name":"thread_name","ph":"M","pid":{},"tid":{},"args":{{"name":"{}"}}}})", pid, n, tname);
  }
  for (const auto& e : events_) {
    sep();
    // Microseconds with nanosecond digits: the format's unit.
    out += fmt::format(R"({{"name":"{}","cat":"{}","ph":"X","ts":{}.{:03},"dur":{}.{:03},"pid":{},"tid":{},"args":{{{}}}}})",
                       json_escape(e.name), e.cat, e.ts_ns / 1000, e.ts_ns % 1000, e.dur_ns / 1000, e.dur_ns % 1000, pid,
                       e.tid, e.args);
  }
  out += fmt::format("\n],\"otherData\":{{\"producer\":\"eddy\",\"dropped_events\":{}}}}}\n", dropped_);
  return out;
}

void loop_impl::trace_pool_job(work_kind kind, std::uint64_t start_ns) noexcept {
  try {
    trace_->pool_job(kind, start_ns, monotonic_ns() - start_ns);
  } catch (...) {  // out of memory: the trace loses the event
  }
}

}  // namespace eddy::detail
