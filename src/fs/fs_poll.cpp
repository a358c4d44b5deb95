// fs_poll: a repeating timer (the handle is a timer_impl of type fs_poll, so it sits in the
// loop's timer heap itself) whose ticks issue fs::stat requests. The handle stays busy while
// a stat is out, so its state outlives the request even when it is closed meanwhile.
#include "eddy/fs_poll.hpp"

#include "eddy/loop.hpp"
#include "loop/loop_impl.hpp"

namespace eddy {
namespace detail {
namespace {

// What counts as a change: everything stat reports except the access time.
bool same(const fs::stat_info& a, const fs::stat_info& b) noexcept {
  fs::stat_info x = a, y = b;
  x.atime_ns = y.atime_ns = 0;
  return x == y;
}

}  // namespace

class fs_poll_impl final : public timer_impl {
 public:
  explicit fs_poll_impl(loop_impl& loop) noexcept : timer_impl(loop, handle_type::fs_poll) {
    cb.set([this] { tick(); });
  }

  void on_close() noexcept override {
    stop();
    timer_impl::on_close();
  }
  [[nodiscard]] bool busy() const noexcept override { return in_flight_ > 0; }

  void start(std::string path, std::uint64_t interval_ns, fs_poll::callback fn) {
    stop();
    path_ = std::move(path);
    on_change_ = std::move(fn);
    have_prev_ = false;
    last_error_ = {};
    ++generation_;
    repeat = interval_ns;
    loop_.timer_start(*this, interval_ns);
    tick();  // the baseline, at once
  }

  void stop() noexcept {
    loop_.timer_stop(*this);
    ++generation_;  // a stat still out is ignored when it completes
    request_.cancel();
    path_.clear();
  }

  std::string path_;

 private:
  void tick() {
    if (in_flight_ > 0 && generation_ == request_generation_) return;  // the last stat is still out
    ++in_flight_;
    request_generation_ = generation_;
    request_ = fs::stat(loop_.owner_, path_, [this, gen = generation_](const fs::error& err, const fs::stat_info& st) {
      --in_flight_;
      if (closing_) {
        if (in_flight_ == 0) queue_for_close();
        return;
      }
      if (gen == generation_) result(err, st);
    });
  }

  void result(const fs::error& err, const fs::stat_info& st) {
    const fs::stat_info none{};
    if (err) {
      if (err.code() == last_error_) return;  // reported already
      last_error_ = err.code();
      const fs::stat_info prev = have_prev_ ? prev_ : none;
      have_prev_ = false;
      report(err, prev, none);
      return;
    }
    const bool had_error = static_cast<bool>(last_error_);
    last_error_ = {};
    if (!have_prev_) {
      have_prev_ = true;
      prev_ = st;
      if (had_error) report(fs::error{}, none, st);  // (re)appeared
      return;
    }
    if (same(prev_, st)) return;
    const fs::stat_info prev = prev_;
    prev_ = st;
    report(fs::error{}, prev, st);
  }

  // The callback may restart the poll with a new callback (start() from inside it): it runs
  // from a local, so that start() does not destroy it while it runs.
  void report(const fs::error& err, const fs::stat_info& prev, const fs::stat_info& curr) {
    fs_poll::callback fn = std::move(on_change_);
    on_change_ = nullptr;
    loop_.invoke(this, [&] { fn(err, prev, curr); });
    if (!on_change_) on_change_ = std::move(fn);
  }

  fs_poll::callback on_change_;
  fs::request request_;
  fs::stat_info prev_{};
  bool have_prev_ = false;
  std::error_code last_error_;
  std::uint64_t generation_ = 0, request_generation_ = 0;
  int in_flight_ = 0;
};

}  // namespace detail

namespace {
detail::fs_poll_impl* as_poll(detail::handle_base* h) noexcept { return static_cast<detail::fs_poll_impl*>(h); }
}  // namespace

fs_poll::fs_poll(eddy::loop& owner) : handle(owner, new detail::fs_poll_impl(owner.impl()), handle_type::fs_poll) {}

std::error_code fs_poll::start(std::string_view path, std::chrono::milliseconds interval, callback on_change) {
  auto* p = as_poll(impl_);
  if (p == nullptr || p->closing_) return make_error_code(errc::closed);
  if (path.empty() || interval.count() < 1 || !on_change) return make_error_code(errc::invalid_argument);
  p->start(std::string(path), static_cast<std::uint64_t>(std::chrono::nanoseconds(interval).count()),
           std::move(on_change));
  return {};
}

void fs_poll::stop() noexcept {
  if (auto* p = as_poll(impl_)) p->stop();
}

std::string fs_poll::path() const {
  auto* p = as_poll(impl_);
  return p == nullptr ? std::string() : p->path_;
}

}  // namespace eddy
