// The worker pool behind parallel_for (see nncore/parallel.hpp).
//
// One job at a time. The caller publishes (task, n_tasks) under the mutex with a new generation
// number and wakes the workers; every participant takes task indices from a shared counter; the
// caller waits until every task has finished, closes the job (under the mutex, so that no worker
// joins it late) and waits for the workers that joined to leave it. Workers spin for a short while
// after a job (during training the next product follows within microseconds), then sleep.
// After fork() the child has no workers: the pool notices the new process id and starts fresh ones.
#include "nncore/parallel.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace nncore {
namespace {

constexpr auto kSpinTime = std::chrono::microseconds(100);
// The first part of every wait (for a job, or for a job's other tasks) spins on the CPU's pause
// hint rather than yielding to the scheduler: a yield is a system call, and the next job of a
// training batch follows within microseconds.
constexpr auto kPauseTime = std::chrono::microseconds(20);

// A hint to the CPU that this thread is spinning (lets the other hyper-thread run, saves power).
inline void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waits until done() or, if `limit` is given, until it has passed: on the pause hint for
// kPauseTime, then yielding (a thread that waits for one on the same CPU lets it run).
template <class Done>
void spin_until(const Done& done, std::chrono::steady_clock::duration limit =
                                      std::chrono::steady_clock::duration::max()) {
  const auto start = std::chrono::steady_clock::now();
  for (auto now = start; !done() && now - start < limit; now = std::chrono::steady_clock::now()) {
    if (now - start < kPauseTime)
      pause();
    else
      std::this_thread::yield();
  }
}

thread_local bool running_task = false;     // see in_parallel_task
thread_local bool in_turn = false;          // see InTurn
std::atomic<std::int64_t> jobs_on_pool{0};  // see pool_jobs

// Runs task(i) with running_task set (tasks may themselves start parallel work: it stays inline),
// cleared again even if the task throws.
void run_task(TaskRef task, int i) {
  struct Flag {
    Flag() { running_task = true; }
    ~Flag() { running_task = false; }
  } flag;
  task(i);
}

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs the job and returns true, or returns false at once if another caller holds the pool.
  bool try_run(int n_tasks, TaskRef task) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      next_.store(0);
      finished_.store(0);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    take_tasks(task, n_tasks);
    spin_until([&] { return finished_.load(std::memory_order_acquire) >= n_tasks; });
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = nullptr;  // closed: no worker joins from now on
    }
    spin_until([&] { return active_.load(std::memory_order_acquire) == 0; });
    return true;
  }

 private:
  void take_tasks(TaskRef task, int n_tasks) {
    for (int i = next_.fetch_add(1); i < n_tasks; i = next_.fetch_add(1)) {
      run_task(task, i);
      finished_.fetch_add(1, std::memory_order_release);
    }
  }

  void work() {
    unsigned seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kSpinTime);
      const TaskRef* task = nullptr;
      int n_tasks = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stopping_) return;
        if (task_ != nullptr) {
          task = task_;
          n_tasks = n_tasks_;
          active_.fetch_add(1);
        }
      }
      if (task != nullptr) {
        take_tasks(*task, n_tasks);
        active_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_;   // held by the caller of the current job
  std::mutex mutex_;  // guards the job description and sleeping
  std::condition_variable wake_;
  std::atomic<unsigned> generation_{0};
  bool stopping_ = false;
  const TaskRef* task_ = nullptr;
  int n_tasks_ = 0;
  std::atomic<int> next_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> active_{0};  // workers inside the current job
};

std::atomic<int> requested_threads{1};
std::mutex pool_mutex;  // guards the pool pointer and its process id
// Never destroyed: at exit the workers may belong to a parent process (after fork), and joining
// them then would hang; the operating system ends them with the process.
std::shared_ptr<Pool>& pool = *new std::shared_ptr<Pool>;
pid_t pool_pid = 0;

std::shared_ptr<Pool> current_pool() {
  if (requested_threads.load() <= 1) return nullptr;
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (pool != nullptr && pool_pid != getpid()) {
    // Forked: the parent's workers do not exist here, so the pool must never be joined.
    new std::shared_ptr<Pool>(std::move(pool));  // deliberately leaked
  }
  if (pool == nullptr) {
    pool = std::make_shared<Pool>(requested_threads.load() - 1);
    pool_pid = getpid();
  }
  return pool;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("the number of threads must be >= 1");
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (n == requested_threads.load()) return;
  requested_threads.store(n);
  if (pool != nullptr && pool_pid != getpid()) new std::shared_ptr<Pool>(std::move(pool));
  pool = nullptr;  // the old pool ends when its last job does
}

int num_threads() { return requested_threads.load(); }

bool in_parallel_task() { return running_task; }

std::int64_t pool_jobs() { return jobs_on_pool.load(std::memory_order_relaxed); }

InTurn::InTurn() : before_(std::exchange(in_turn, true)) {}
InTurn::~InTurn() { in_turn = before_; }

void run_on_pool(int n_tasks, TaskRef task) {
  if (running_task) {  // nested: stays on this thread (this thread may hold the pool)
    for (int i = 0; i < n_tasks; ++i) task(i);
    return;
  }
  const std::shared_ptr<Pool> p = n_tasks > 1 && !in_turn ? current_pool() : nullptr;
  if (p != nullptr && p->try_run(n_tasks, task)) {
    jobs_on_pool.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (int i = 0; i < n_tasks; ++i) run_task(task, i);
}

}  // namespace nncore
