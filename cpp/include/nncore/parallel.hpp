// Threads of the core. One process-wide pool of workers splits a large product of a dense layer
// into blocks of output columns, C[:, block] = A · B[:, block] (every block an independent GEMM),
// a training batch of small products into blocks of rows (row_blocks), and long passes over the
// parameters into ranges. The blocks depend only on the thread setting and the shapes (never on
// which thread runs them), so a given setting repeats bit for bit; different settings agree to
// rounding (sums run in another order). Small work is not split: the hand-off would cost more
// than the work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "nncore/blas.hpp"
#include "nncore/types.hpp"

namespace nncore {

// Threads used by the core (the calling thread included); 1 turns the pool off. n >= 1.
void set_num_threads(int n);
int num_threads();

// A non-owning reference to a callable task(i) (no allocation, unlike std::function).
struct TaskRef {
  const void* callable;
  void (*call)(const void* callable, int i);
  void operator()(int i) const { call(callable, i); }
};

// Runs tasks 0..n_tasks−1 on the pool and the calling thread; see parallel_for.
void run_on_pool(int n_tasks, TaskRef task);
// Jobs that ran on the pool so far, in this process (for tests).
std::int64_t pool_jobs();

// While an InTurn lives, parallel_for on this thread runs its tasks one after another on it, as
// it does when the pool is busy: the same tasks (decided as before, and running with
// in_parallel_task() true, as on the pool), so the same results, without the hand-offs between
// threads. For when the other threads would only slow the work down (see fit's Pace).
class InTurn {
 public:
  InTurn();
  ~InTurn();
  InTurn(const InTurn&) = delete;
  InTurn& operator=(const InTurn&) = delete;

 private:
  bool before_;
};

// Whether the calling thread is running a task of parallel_for with more than one task (on the
// pool or on the calling thread; a single task runs as a plain call). Work started from inside a
// task stays on that thread: parallel_for runs its tasks one after another, and column_blocks and
// range_count return 1.
bool in_parallel_task();

// Runs task(i) for every i in [0, n_tasks), on the pool and the calling thread, and returns when
// all are done. Tasks must not throw. If the pool is busy (another thread's product), the tasks
// run one after another on the calling thread: concurrent callers never wait for each other.
// Called from inside a task, the tasks run one after another on that thread.
template <class Task>
void parallel_for(int n_tasks, const Task& task) {
  if (n_tasks == 1) return task(0);
  run_on_pool(n_tasks,
              TaskRef{&task, [](const void* f, int i) { (*static_cast<const Task*>(f))(i); }});
}

// Multiply-adds below which a product stays on one thread: at 2^18 the S network (64-128-128-10,
// batch 32) ran from 13% faster to 21% slower with 2 threads on the shared 2-core machine, so its
// products (at most 2^19) stay single; M's large ones (8-26 million) are split.
inline constexpr double kMinParallelWork = 1 << 20;

// Elements below which a pass over a vector (the parameters, the gradient) stays on one thread:
// such a pass is bound by memory bandwidth, so only vectors well beyond the caches (4 MB of
// float) are split; M's 270 thousand parameters are not, L's 8.4 million are.
inline constexpr Index kMinParallelElements = 1 << 20;

// How many column blocks to split an (rows × depth) · (depth × cols) product into.
inline int column_blocks(Index rows, Index depth, Index cols) {
  const int threads = in_parallel_task() ? 1 : num_threads();
  if (threads <= 1) return 1;
  const double work =
      static_cast<double>(rows) * static_cast<double>(depth) * static_cast<double>(cols);
  if (work < kMinParallelWork || cols < 32) return 1;
  return static_cast<int>(std::min<Index>(threads, cols / 16));
}

// The columns [begin, end) of block i out of k over `cols`, in multiples of 16 (whole SIMD
// packets).
inline std::pair<Index, Index> block_range(Index cols, int i, int k) {
  const Index step = ((cols + k - 1) / k + 15) / 16 * 16;
  const Index begin = std::min<Index>(cols, step * i);
  return {begin, std::min<Index>(cols, begin + step)};
}

// Rows below which a block of a split training batch would not pay for its hand-offs and the
// traffic between the cores: at 8 (a batch of 16 on 2 threads) the S network trained 200k
// samples/s at 2 threads against 228–291k at 1 (measured when each block still added a gradient
// share of its own).
inline constexpr Index kMinBlockRows = 16;

// How many blocks of rows fit splits a training batch of `rows` rows into, each block's forward
// pass and backward propagation of errors on a thread of its own, then the gradient in as many
// parts (data parallelism inside the batch; training.cpp). This is for
// batches of small products: the batch (`work_per_row` multiply-adds per row) has at least
// kMinParallelWork multiply-adds but none of its products does (`widest_per_row`, the largest
// product's per row); larger products are split (or threaded by the BLAS) themselves, which
// measured 6–8% faster on the M and L networks than blocks of rows. One block per thread, each
// of at least kMinBlockRows rows; 1 means no split.
inline int row_blocks(Index rows, double work_per_row, double widest_per_row, int threads) {
  const auto n = static_cast<double>(rows);
  if (threads <= 1 || n * work_per_row < kMinParallelWork || n * widest_per_row >= kMinParallelWork)
    return 1;
  return static_cast<int>(std::max<Index>(1, std::min<Index>(threads, rows / kMinBlockRows)));
}

// The rows [begin, end) of block i out of k over `rows`, as even as possible.
inline std::pair<Index, Index> row_range(Index rows, int i, int k) {
  return {rows * i / k, rows * (i + 1) / k};
}

// Entries a pass over a long vector handles at a time when it does several things to each piece
// (copy, update and check; add, square and compare): 16 KB of float (32 KB of double) per
// vector, so the pieces stay in cache between them.
inline constexpr Index kCachePiece = 4096;

// How many ranges parallel_ranges splits n elements into: one per thread, at most kMaxRanges.
// One while a BLAS is registered (nncore/blas.hpp): a network with this many parameters then
// multiplies on it, and its workers hold the other cores for a while after each product, so the
// pool would compete with them (on L in float64, split passes trained 7% slower; float32 no
// faster).
inline constexpr int kMaxRanges = 64;
inline int range_count(Index n) {
  if (n < kMinParallelElements || in_parallel_task() || blas() != nullptr) return 1;
  return std::min(num_threads(), kMaxRanges);
}

// Runs task(i, begin, end) for the k ranges i = 0..k−1 that split [0, n) into contiguous
// pieces, on the pool; k (at most kMaxRanges) is taken once by the caller, usually range_count(n).
// The ranges depend only on n and k.
template <class Task>
void parallel_ranges(Index n, int k, const Task& task) {
  if (k == 1) return task(0, Index{0}, n);
  parallel_for(k, [&](int i) {
    const auto [begin, end] = block_range(n, i, k);
    task(i, begin, end);
  });
}

}  // namespace nncore
