// Data-parallel training: K processes ("ranks") each run fit on their own rows of the training
// data, with the same network, optimizer state and options, and fit asks the ranks, through this
// hook, for what they must share:
//   - between backward and step, the gradient g = Σ_r g_r, where rank r's part of the step's
//     global batch B = ∪_r B_r gives g_r = Σ_{i∈B_r} w_i ∇ℓ_i / Σ_{i∈B} w_i; g is then the gradient
//     of the weighted mean loss over B (one process's gradient for that batch), and every rank
//     takes the same step;
//   - the numbers the loop's decisions rest on: the number of batches of an epoch (the most any
//     rank has), the weight Σ_{i∈B} w_i of every global batch, the epoch's loss and metric sums,
//     so that every rank records the same epoch and takes the same stop decisions;
//   - what failed: a rank whose batch fails (an exception, a non-finite loss) sends a non-finite
//     gradient, so every rank sees the failure after the same sum and raises the same error.
// Every call is collective: every rank makes the same calls in the same order (so every rank
// passes validation data, with no rows where it has none, or none does). A rank with fewer rows
// contributes a zero gradient with zero weight to the batches it has no rows for.
#pragma once

#include <exception>

#include "nncore/types.hpp"

namespace nncore {

class Reduction {
 public:
  virtual ~Reduction() = default;

  // values ← Σ over the ranks of values, in place (the gradient, or a few sums in double).
  virtual void sum(Eigen::Ref<Eigen::VectorXf> values) = 0;
  virtual void sum(Eigen::Ref<Eigen::VectorXd> values) = 0;
  // max over the ranks of value.
  virtual Index max(Index value) = 0;
  // Rethrows, on every rank, the failure of the lowest-numbered rank that failed, or returns when
  // none did. failure: this rank's, or nullptr.
  virtual void agree(std::exception_ptr failure) = 0;
};

}  // namespace nncore
