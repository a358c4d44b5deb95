// The process-wide thread pool. Workers never run user callbacks other than the work
// itself: finished requests go to their loop's completion list and the loop is woken
// through its port (wake_pending_ coalesces the wakes), where process_work() runs the
// after_work callbacks in the poll phase.
//
// What a job costs, and why (a burst of trivial jobs is the case this is built for):
// - one allocation: work_state holds the work, the callback, the stage and the links, shared
//   by an intrusive reference count between the work_request copies, the pool and the loop;
// - a submit pushes onto a lock-free inbox and signals a worker only when one sleeps, no wake
//   is already on its way and no worker is spinning (a worker that runs dry yields for a while
//   before it sleeps); a worker that takes work while more waits wakes the next sleeper (a
//   cascade). A burst costs a few futex calls, not one per job;
// - a worker takes a batch of jobs per lock when the queue is deep. The jobs of a batch it has
//   not started stay claimable by the other workers, who take them before anything newer
//   (see worker and take_locked), so jobs still start in queue order and a job that blocks
//   never holds the rest of its batch hostage;
// - cancel() is a compare-and-swap on the job's stage, never a search: a worker skips a job
//   it finds cancelled;
// - a completion is one compare-and-swap onto its loop's list; only the one that finds the
//   list empty takes the loop's work mutex and wakes the loop, which drains the whole list.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "eddy/loop.hpp"
#include "eddy/work.hpp"
#include "loop/loop_impl.hpp"
#include "platform/contract/fault.hpp"
#include "platform/contract/process.hpp"

namespace eddy {
namespace detail {

// One queue_work request: the only allocation a request makes. References are held by each
// work_request copy, by the pool (from submit until a worker has run or skipped it; a run job's
// reference then passes to its loop) and by the loop's completion list (until process_work has
// called after_work). The last release deletes it, on whichever thread that is.
struct work_state {
  // queued -> running: a worker, by compare-and-swap, before it runs the work.
  // queued -> canceled: cancel(), by compare-and-swap; a worker then skips the job.
  // done: never queued (the pool could not start).
  enum class stage : std::uint8_t { queued, running, canceled, done };

  work_state* next = nullptr;       // in the pool's queue; guarded by the pool's mutex
  work_state* done_next = nullptr;  // in the loop's completion list (see post_work_done)
  std::atomic<std::uint32_t> refs{1};
  std::atomic<stage> st{stage::queued};
  work_kind kind = work_kind::cpu;
  std::error_code failed;  // why the pool could not take it (bad EDDY_THREADPOOL_SIZE: invalid_argument)
  loop_impl* loop = nullptr;
  std::function<void()> work;                  // run and cleared by the worker that won the stage
  std::function<void(std::error_code)> after;  // loop thread only
  std::exception_ptr error;                    // what work threw; set before the completion is posted
};

namespace {

void add_ref(work_state* w) noexcept { w->refs.fetch_add(1, std::memory_order_relaxed); }

void release(work_state* w) noexcept {
  // acq_rel: whoever deletes sees every other holder's writes (e.g. the loop's moving out of
  // after, when the last release is a worker skipping a cancelled job).
  if (w->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete w;
}

// A FIFO of jobs linked through work_state::next. Guarded by the pool's mutex.
class job_queue {
 public:
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  void push(work_state* w) noexcept {
    w->next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = w;
    tail_ = w;
    ++size_;
  }
  work_state* pop() noexcept {
    work_state* w = head_;
    if (w == nullptr) return nullptr;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    w->next = nullptr;
    --size_;
    return w;
  }

 private:
  work_state* head_ = nullptr;
  work_state* tail_ = nullptr;
  std::size_t size_ = 0;
};

// The most jobs a worker claims per lock of the queue.
constexpr std::size_t max_batch = 32;

// How many times a worker that found nothing yields the CPU, checking for new work, before it
// sleeps. One worker at a time does this (the spinner): a burst of submits then finds a worker
// awake instead of paying a futex wake each time the pool runs dry. Yielding, not busy
// waiting, so a spinner gives way to the loop thread on a machine with few cores.
constexpr int spin_rounds = 100;

// One pool thread and the batch of jobs it took from the queue in one lock (the jobs after the
// one it started at once). A job of the batch is claimed right before it runs, by the owner or
// by any other worker, without the pool's mutex: `state` packs the batch's generation, its size
// and the index of the next job to claim, and a claim is a compare-and-swap that advances the
// index. A claimer reads the slot before its compare-and-swap, which succeeds only if that
// batch generation still had the slot unclaimed, so it never takes a slot being refilled. Only
// the owner refills, under the pool's mutex, once every job was claimed.
struct alignas(64) worker {
  std::array<std::atomic<work_state*>, max_batch> batch{};
  std::atomic<std::uint64_t> state{0};  // generation << 32 | size << 16 | next index
  std::atomic<bool> busy{false};        // running a job (for threadpool_stats); written by the owner
  std::thread thread;

  static std::uint64_t index_of(std::uint64_t s) noexcept { return s & 0xffff; }
  static std::uint64_t size_of(std::uint64_t s) noexcept { return (s >> 16) & 0xffff; }

  work_state* claim() noexcept {
    std::uint64_t s = state.load(std::memory_order_acquire);
    while (index_of(s) < size_of(s)) {
      work_state* j = batch[index_of(s)].load(std::memory_order_relaxed);
      if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return j;
    }
    return nullptr;
  }
  [[nodiscard]] std::size_t unclaimed() const noexcept {
    const std::uint64_t s = state.load(std::memory_order_acquire);
    return index_of(s) < size_of(s) ? size_of(s) - index_of(s) : 0;
  }
  // Owner only, under the pool's mutex, with every job of the last batch claimed.
  template <class Next>
  void refill(std::size_t n, Next&& next) noexcept {
    for (std::size_t i = 0; i < n; ++i) batch[i].store(next(), std::memory_order_relaxed);
    const std::uint64_t generation = (state.load(std::memory_order_relaxed) >> 32) + 1;
    state.store(generation << 32 | static_cast<std::uint64_t>(n) << 16, std::memory_order_release);
  }
};

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

  // Takes over the pool's reference to w. False when the pool cannot run (a bad
  // EDDY_THREADPOOL_SIZE): the caller fails the work and keeps the reference.
  bool submit(work_state* w) {
    if (w->kind != work_kind::slow_io && running_.load(std::memory_order_acquire)) {
      // The common case, without the mutex: onto the inbox, then signal only if a worker
      // sleeps, none spins and no signal is on its way. seq_cst pairs the push and the read
      // of idle_ with a sleeper's increment of idle_ and its last look at the inbox: either
      // the sleeper sees this job, or this sees the sleeper.
      work_state* head = inbox_.load(std::memory_order_relaxed);
      do {
        w->next = head;
      } while (!inbox_.compare_exchange_weak(head, w, std::memory_order_seq_cst, std::memory_order_relaxed));
      if (idle_.load(std::memory_order_seq_cst) == 0 || spinning_.load(std::memory_order_seq_cst)) return true;
      if (waking_.exchange(true, std::memory_order_seq_cst)) return true;
      // A sleeper holds the mutex from its last look at the inbox until it waits: once this
      // gets the mutex, the sleeper is waiting and the signal reaches it.
      { std::lock_guard lock(mutex_); }
      cv_.notify_one();
      return true;
    }
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      start_locked();
      if (workers_.empty()) return false;
      (w->kind == work_kind::slow_io ? slow_ : normal_).push(w);
      update_hint_locked();
      wake = want_wake_locked();
    }
    // Outside the lock, so the woken worker does not block on the mutex at once.
    if (wake) cv_.notify_one();
    return true;
  }

  // cancel() won the job's stage: it stays in its queue or batch until a worker skips it.
  void note_canceled() noexcept { canceled_waiting_.fetch_add(1, std::memory_order_relaxed); }

  threadpool_metrics stats() {
    std::lock_guard lock(mutex_);
    absorb_inbox_locked();
    // Jobs in the queues and unstarted in batches, less the cancelled ones among them; a
    // snapshot, so a job between its claim and its start may be counted in neither.
    std::size_t waiting = normal_.size() + slow_.size();
    std::size_t busy = 0;
    for (const auto& w : workers_) {
      waiting += w->unclaimed();
      busy += w->busy.load(std::memory_order_relaxed) ? 1 : 0;
    }
    const std::size_t canceled = canceled_waiting_.load(std::memory_order_relaxed);
    return {workers_.size(), waiting > canceled ? waiting - canceled : 0, busy, slow_running_};
  }

  ~threadpool() {
    if (contract::process::process_exiting()) {
      // eddy.dll's destructors at process exit (Windows): the workers were already ended
      // with the process, and joining them would wait forever. Nothing is left to run.
      for (auto& w : workers_) w->thread.detach();
      return;
    }
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w->thread.join();
    // Only at process exit, with loops gone or leaked: drop what never ran.
    absorb_inbox_locked();
    for (auto* q : {&normal_, &slow_}) {
      while (work_state* w = q->pop()) release(w);
    }
    for (auto& w : workers_) {
      while (work_state* j = w->claim()) release(j);
    }
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
    workers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<worker>());
    // Started after the vector is complete: a worker looks at the others' batches.
    for (auto& w : workers_) w->thread = std::thread([this, &self = *w] { run(self); });
    running_.store(true, std::memory_order_release);
  }

  // Whether to signal a sleeping worker: one sleeps and no signal is already on its way (the
  // worker that gets it wakes the next if work remains). Marks the signal as sent.
  bool want_wake_locked() noexcept {
    if (idle_.load(std::memory_order_seq_cst) == 0 || spinning_.load(std::memory_order_seq_cst)) return false;
    return !waking_.exchange(true, std::memory_order_seq_cst);
  }

  // Moves what submit() pushed onto the inbox (newest first) to the end of the normal queue,
  // oldest first.
  void absorb_inbox_locked() noexcept {
    work_state* newest = inbox_.exchange(nullptr, std::memory_order_acquire);
    if (newest == nullptr) return;
    work_state* oldest = nullptr;
    while (newest != nullptr) {
      work_state* const older = newest->next;
      newest->next = oldest;
      oldest = newest;
      newest = older;
    }
    while (oldest != nullptr) {
      work_state* const next = oldest->next;
      normal_.push(oldest);
      oldest = next;
    }
    update_hint_locked();
  }

  void update_hint_locked() noexcept { queued_hint_.store(normal_.size() + slow_.size(), std::memory_order_relaxed); }

  // Whether a worker that wakes now would find something: queued work, slow I/O it may start,
  // or unstarted jobs in a batch it could steal.
  bool work_left_locked() const noexcept {
    if (!normal_.empty() || (!slow_.empty() && slow_running_ < slow_limit_)) return true;
    if (inbox_.load(std::memory_order_relaxed) != nullptr) return true;
    return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->unclaimed() > 0; });
  }

  // The next job for `self` to run, or nullptr. First the unstarted jobs of another worker's
  // batch: they were queued before anything still in the queue, and a new batch is taken only
  // when no batch has any left, so jobs start in the order they were queued, as with one job
  // per lock (jobs that wait for later jobs need no more threads than that would). Then normal
  // work, several jobs at once when the queue is deep (the rest go to self's batch), or slow
  // I/O while fewer than half the threads run it (`slow` is set, and the caller gives the slot
  // back).
  work_state* take_locked(worker& self, bool& slow) {
    if (work_state* j = steal(self)) return j;
    absorb_inbox_locked();
    const bool slow_ok = !slow_.empty() && slow_running_ < slow_limit_;
    if (!normal_.empty() && (!slow_ok || normal_first_)) {
      normal_first_ = false;  // alternate so neither queue waits behind the other forever
      const std::size_t n = std::clamp<std::size_t>(normal_.size() / workers_.size(), 1, max_batch);
      work_state* first = normal_.pop();
      self.refill(n - 1, [&] { return normal_.pop(); });
      update_hint_locked();
      return first;
    }
    if (slow_ok) {
      normal_first_ = true;
      ++slow_running_;
      slow = true;
      work_state* w = slow_.pop();
      update_hint_locked();
      return w;
    }
    return nullptr;
  }

  // An unstarted job from another worker's batch, or nullptr. Without the lock.
  work_state* steal(worker& self) noexcept {
    for (auto& w : workers_) {
      if (w.get() == &self || w->unclaimed() == 0) continue;
      if (work_state* j = w->claim()) return j;
    }
    return nullptr;
  }

  // Whether anything may be waiting: queued jobs or unstarted jobs in a batch. Without the lock.
  bool work_waiting() const noexcept {
    if (queued_hint_.load(std::memory_order_relaxed) != 0 || inbox_.load(std::memory_order_relaxed) != nullptr) return true;
    return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->unclaimed() > 0; });
  }

  // Runs w unless it was cancelled, then hands it to its loop with the pool's reference;
  // drops that reference for a cancelled job (cancel() gave its loop one of its own).
  void execute(worker& self, work_state* w) {
    auto expected = work_state::stage::queued;
    if (!w->st.compare_exchange_strong(expected, work_state::stage::running, std::memory_order_acq_rel)) {
      canceled_waiting_.fetch_sub(1, std::memory_order_relaxed);
      release(w);
      return;
    }
    self.busy.store(true, std::memory_order_relaxed);
    const std::uint64_t traced = w->loop->trace_ ? monotonic_ns() : 0;  // EDDY_TRACE: src/loop/trace.cpp
    try {
      w->work();
    } catch (...) {
      w->error = std::current_exception();
    }
    if (traced != 0) w->loop->trace_pool_job(w->kind, traced);
    w->work = nullptr;  // release what it captured on the pool thread, as it ran there
    self.busy.store(false, std::memory_order_relaxed);
    // Posted at once, not held back to batch with the next job's: that job might wait for
    // this one's after_work. The loop's wake is coalesced (wake_pending_) all the same.
    w->loop->post_work_done(w);
  }

  void run(worker& self) {
    std::unique_lock lock(mutex_, std::defer_lock);
    bool after_slow = false;  // the last job this worker ran was slow I/O
    for (;;) {
      bool slow = false;
      // The oldest unstarted jobs first (see take_locked), without the lock if there are any.
      work_state* w = steal(self);
      if (w == nullptr) {
        lock.lock();
        // Back from slow I/O (a lookup takes milliseconds), a worker sleeps at once: spinning
        // would take CPU from the other slow jobs, for a latency nothing beside theirs.
        bool spun = after_slow;
        while (!stopping_ && (w = take_locked(self, slow)) == nullptr) {
          if (!spun && !spinning_.load(std::memory_order_relaxed)) {
            // Be the spinner for a while; submit() does not signal while there is one. The
            // queue is checked again under the lock, so a job pushed meanwhile is not missed.
            spinning_.store(true, std::memory_order_seq_cst);
            lock.unlock();
            for (int i = 0; i < spin_rounds && !work_waiting(); ++i) std::this_thread::yield();
            lock.lock();
            spinning_.store(false, std::memory_order_seq_cst);
            spun = true;
            continue;
          }
          // Announce the sleep, then look at the inbox once more (see submit). A signal marked
          // as on its way may have found no sleeper; clearing the mark costs at most a spare
          // signal, and keeps it from stopping the next submit's.
          idle_.fetch_add(1, std::memory_order_seq_cst);
          waking_.store(false, std::memory_order_seq_cst);
          if (inbox_.load(std::memory_order_seq_cst) == nullptr) cv_.wait(lock);
          idle_.fetch_sub(1, std::memory_order_seq_cst);
          waking_.store(false, std::memory_order_seq_cst);  // whichever sleeper wakes first takes the signal
          spun = false;
        }
        if (w == nullptr) return;  // stopping
        // More work than this worker took, and nobody awake looking for it: wake the next.
        const bool wake = work_left_locked() && want_wake_locked();
        lock.unlock();
        if (wake) cv_.notify_one();
      }

      execute(self, w);
      after_slow = slow;
      if (slow) {
        lock.lock();
        --slow_running_;
        lock.unlock();
      } else {
        while (work_state* j = self.claim()) execute(self, j);
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  job_queue normal_, slow_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::size_t wanted_ = 0;
  std::size_t slow_limit_ = 1;
  std::size_t slow_running_ = 0;
  // Jobs submit() pushed without the mutex, newest first; moved to normal_ under the mutex.
  std::atomic<work_state*> inbox_{nullptr};
  std::atomic<bool> running_{false};  // the workers exist: submit() may use the inbox
  // idle_ and spinning_ change under the mutex and submit() reads them without it; waking_ is
  // set by whoever decides to signal (submit() without the mutex) and cleared by sleepers.
  std::atomic<std::size_t> idle_{0};   // workers waiting on cv_ (or about to)
  std::atomic<bool> waking_{false};    // a signal is on its way to a sleeper
  std::atomic<bool> spinning_{false};  // a worker is spinning (see spin_rounds)
  // normal_.size() + slow_.size(), for the spinner to read without the lock; written under it.
  std::atomic<std::size_t> queued_hint_{0};
  std::atomic<std::size_t> canceled_waiting_{0};  // cancelled jobs no worker has skipped yet
  bool normal_first_ = true;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace

void loop_impl::post_work_done(work_state* w) {
  // Onto a list that is not empty: one compare-and-swap, and nothing of the loop is touched
  // after it. Whoever made the list non-empty did so under work_.mutex (below) and wakes the
  // loop before unlocking, and the loop drains under the same mutex, so the loop cannot see
  // this completion (and maybe close itself and its port) before that wake is done.
  work_state* head = work_.done.load(std::memory_order_relaxed);
  while (head != nullptr) {
    w->done_next = head;
    if (work_.done.compare_exchange_weak(head, w, std::memory_order_release, std::memory_order_relaxed)) return;
  }
  std::lock_guard lock(work_.mutex);
  head = work_.done.load(std::memory_order_relaxed);
  do {
    w->done_next = head;
  } while (!work_.done.compare_exchange_weak(head, w, std::memory_order_release, std::memory_order_relaxed));
  if (head == nullptr && !wake_pending_.exchange(true, std::memory_order_seq_cst)) wake();
}

void loop_impl::process_work() {
  work_state* newest = nullptr;
  {
    std::lock_guard lock(work_.mutex);
    newest = work_.done.exchange(nullptr, std::memory_order_acquire);
  }
  // The list is newest first: reverse it, so after_work callbacks run in completion order.
  work_state* w = nullptr;
  while (newest != nullptr) {
    work_state* const older = newest->done_next;
    newest->done_next = w;
    w = newest;
    newest = older;
  }
  while (w != nullptr) {
    work_state* const next = w->done_next;
    --active_reqs_;
    ++metrics_.events;
    std::error_code ec;
    if (w->st.load(std::memory_order_relaxed) == work_state::stage::canceled) {
      ec = make_error_code(errc::operation_canceled);
    }
    if (w->failed) ec = w->failed;
    if (w->error) {
      report_exception(std::exchange(w->error, nullptr));
      ec = make_error_code(errc::unknown);
    }
    auto after = std::move(w->after);
    release(w);
    if (after) invoke([&] { after(ec); });
    w = next;
  }
}

}  // namespace detail

work_request queue_work(eddy::loop& loop, std::function<void()> work, std::function<void(std::error_code)> after_work,
                        work_kind kind) {
  auto* w = new detail::work_state;
  w->refs.store(2, std::memory_order_relaxed);  // the returned work_request's and the pool's
  w->loop = &loop.impl();
  w->work = std::move(work);
  w->after = std::move(after_work);
  w->kind = kind;
  ++loop.impl().active_reqs_;  // pending work keeps the loop alive
  const int fault = EDDY_FAULT(pool_job);  // fault injection: the pool cannot take the job
  if (fault != 0 || !detail::threadpool::instance().submit(w)) {
    // No pool (bad EDDY_THREADPOOL_SIZE): the work never runs; after_work reports it from
    // the loop, like any completion.
    w->work = nullptr;
    w->failed = fault != 0 ? from_errno(fault) : make_error_code(errc::invalid_argument);
    w->st.store(detail::work_state::stage::done, std::memory_order_relaxed);
    loop.impl().post_work_done(w);
  }
  return work_request(w);
}

work_request::work_request(const work_request& other) noexcept : state_(other.state_) {
  if (state_ != nullptr) detail::add_ref(state_);
}

work_request::~work_request() {
  if (state_ != nullptr) detail::release(state_);
}

bool work_request::cancel() noexcept {
  if (state_ == nullptr) return false;
  auto expected = detail::work_state::stage::queued;
  if (!state_->st.compare_exchange_strong(expected, detail::work_state::stage::canceled, std::memory_order_acq_rel)) {
    return false;
  }
  // It never ran and no worker will run it. Its after_work reports the cancellation from the
  // loop, never from here; the loop's list gets its own reference, as the pool keeps its one
  // until a worker skips the job.
  detail::threadpool::instance().note_canceled();
  state_->work = nullptr;
  detail::add_ref(state_);
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
