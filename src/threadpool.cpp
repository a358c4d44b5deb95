// The process-wide thread pool. Workers never run user callbacks other than the work
// itself: finished requests go to their loop's completion list and the loop is woken
// through its port (wake_pending_ coalesces the wakes), where process_work() runs the
// after_work callbacks in the poll phase.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/work.hpp"
#include "loop_impl.hpp"

namespace eddy {
namespace detail {

struct work_state {
  enum class stage { queued, running, done, canceled };
  loop_impl* loop = nullptr;
  std::function<void()> work;
  std::function<void(std::error_code)> after;
  work_kind kind = work_kind::cpu;
  stage st = stage::queued;  // guarded by the pool's mutex
  std::exception_ptr error;
  bool failed = false;  // the pool could not take it (bad EDDY_THREADPOOL_SIZE)
};

namespace {

class threadpool {
 public:
  static threadpool& instance() {
    static threadpool pool;
    return pool;
  }

  std::error_code set_size(std::size_t n) {
    if (n < 1 || n > 1024) return make_error_code(errc::invalid_argument);
    std::lock_guard lock(mutex_);
    if (started_) return make_error_code(errc::already_started);
    wanted_ = n;
    return {};
  }

  // False when the pool cannot run (a bad EDDY_THREADPOOL_SIZE): the caller fails the work.
  bool submit(const std::shared_ptr<work_state>& w) {
    std::lock_guard lock(mutex_);
    start_locked();
    if (threads_.empty()) return false;
    (w->kind == work_kind::slow_io ? slow_ : normal_).push_back(w);
    cv_.notify_one();
    return true;
  }

  bool cancel(const std::shared_ptr<work_state>& w) {
    std::lock_guard lock(mutex_);
    if (w->st != work_state::stage::queued) return false;
    auto& q = w->kind == work_kind::slow_io ? slow_ : normal_;
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (*it == w) {
        q.erase(it);
        break;
      }
    }
    w->st = work_state::stage::canceled;
    return true;
  }

  threadpool_metrics stats() {
    std::lock_guard lock(mutex_);
    return {threads_.size(), normal_.size() + slow_.size(), busy_, slow_running_};
  }

  ~threadpool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  threadpool() = default;

  void start_locked() {
    if (started_) return;
    started_ = true;
    std::size_t n = wanted_;
    if (n == 0) {
      n = 4;
      if (const char* env = std::getenv("EDDY_THREADPOOL_SIZE"); env != nullptr && *env != '\0') {
        char* end = nullptr;
        const unsigned long v = std::strtoul(env, &end, 10);
        if (end != env && *end == '\0' && v >= 1 && v <= 1024) {
          n = v;
        } else {
          // A clear error, not a silent default: every queue_work fails with
          // errc::invalid_argument, and this says why, once.
          std::fprintf(stderr, "eddy: EDDY_THREADPOOL_SIZE=%s is not a number from 1 to 1024; the thread pool will not run\n",
                       env);
          return;
        }
      }
    }
    slow_limit_ = n / 2 > 0 ? n / 2 : 1;
    threads_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  }

  // The next request a worker may take: normal work first-come, slow I/O while fewer than
  // half the threads run it.
  std::shared_ptr<work_state> take_locked() {
    const bool slow_ok = !slow_.empty() && slow_running_ < slow_limit_;
    if (!normal_.empty() && (!slow_ok || normal_first_)) {
      normal_first_ = false;  // alternate so neither queue waits behind the other forever
      auto w = std::move(normal_.front());
      normal_.pop_front();
      return w;
    }
    if (slow_ok) {
      normal_first_ = true;
      auto w = std::move(slow_.front());
      slow_.pop_front();
      ++slow_running_;
      return w;
    }
    if (!normal_.empty()) {
      auto w = std::move(normal_.front());
      normal_.pop_front();
      return w;
    }
    return nullptr;
  }

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      std::shared_ptr<work_state> w;
      cv_.wait(lock, [&] { return stopping_ || (w = take_locked()) != nullptr; });
      if (!w) return;  // stopping
      w->st = work_state::stage::running;
      ++busy_;
      lock.unlock();
      try {
        w->work();
      } catch (...) {
        w->error = std::current_exception();
      }
      w->work = nullptr;  // release what it captured on the pool thread, as it ran there
      lock.lock();
      --busy_;
      if (w->kind == work_kind::slow_io) {
        --slow_running_;
        cv_.notify_one();  // a waiting slow request may go now
      }
      w->st = work_state::stage::done;
      loop_impl* l = w->loop;
      lock.unlock();
      l->post_work_done(std::move(w));
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<work_state>> normal_, slow_;
  std::vector<std::thread> threads_;
  std::size_t wanted_ = 0;
  std::size_t slow_limit_ = 1;
  std::size_t slow_running_ = 0;
  std::size_t busy_ = 0;
  bool normal_first_ = true;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace

void loop_impl::post_work_done(std::shared_ptr<work_state> w) {
  // Wake while holding the lock: the loop drains the list under the same lock, so by the
  // time it can see this completion (and maybe close itself and its port), the wake has
  // finished touching the port.
  std::lock_guard lock(work_mutex_);
  work_done_.push_back(std::move(w));
  if (!wake_pending_.exchange(true, std::memory_order_seq_cst)) wake();
}

void loop_impl::process_work() {
  std::vector<std::shared_ptr<work_state>> done;
  {
    std::lock_guard lock(work_mutex_);
    if (work_done_.empty()) return;
    done.swap(work_done_);
  }
  for (auto& w : done) {
    --active_reqs_;
    ++metrics_.events;
    std::error_code ec;
    if (w->st == work_state::stage::canceled) ec = make_error_code(errc::operation_canceled);
    if (w->failed) ec = make_error_code(errc::invalid_argument);
    if (w->error) {
      report_exception(w->error);
      ec = make_error_code(errc::unknown);
    }
    auto after = std::move(w->after);
    if (after) invoke([&] { after(ec); });
  }
}

}  // namespace detail

work_request queue_work(eddy::loop& loop, std::function<void()> work, std::function<void(std::error_code)> after_work,
                        work_kind kind) {
  auto w = std::make_shared<detail::work_state>();
  w->loop = &loop.impl();
  w->work = std::move(work);
  w->after = std::move(after_work);
  w->kind = kind;
  ++loop.impl().active_reqs_;  // pending work keeps the loop alive
  if (!detail::threadpool::instance().submit(w)) {
    // No pool (bad EDDY_THREADPOOL_SIZE): the work never runs; after_work reports it from
    // the loop, like any completion.
    w->work = nullptr;
    w->failed = true;
    loop.impl().post_work_done(w);
  }
  return work_request(std::move(w));
}

bool work_request::cancel() noexcept {
  if (!state_) return false;
  if (!detail::threadpool::instance().cancel(state_)) return false;
  // It never ran: its after_work reports the cancellation from the loop, never from here.
  state_->work = nullptr;
  state_->loop->post_work_done(state_);
  return true;
}

std::error_code set_threadpool_size(std::size_t threads) { return detail::threadpool::instance().set_size(threads); }

threadpool_metrics threadpool_stats() noexcept {
  try {
    return detail::threadpool::instance().stats();
  } catch (...) {
    return {};
  }
}

}  // namespace eddy
