// Update rules. An optimizer sees only the flat parameter vector θ and the flat gradient vector
// g = dL/dθ of the same layout, so a new rule never touches a layer. The rules themselves are in
// sgd.hpp, adam.hpp (Adam, AdamW), rmsprop.hpp and adagrad.hpp; this file holds what they share.
//
// Every step(θ, g) is, in this order (t counts step calls, one per update of the whole vector):
//   1. t ← t + 1
//   2. clip by global norm (clip_norm = c):  g ← g·min(1, c / (‖g‖₂ + 1e-6))
//      (exactly torch.nn.utils.clip_grad_norm_, including its 1e-6)
//   3. clip by value (clip_value = c):       g ← clamp(g, −c, c) (torch.nn.utils.clip_grad_value_)
//   4. weight decay λ, coupled (L2):          g ← g + λ·θ
//                   or decoupled (AdamW):    θ ← θ − η·λ·θ  = θ·(1 − η·λ)
//   5. the rule's own update of θ from g (and its state).
// Steps 2–4 write into a scratch vector owned by the optimizer: the caller's g is never changed.
//
// State (moment vectors, the step counter t) belongs to the optimizer. The vectors are created on
// the first step, sized from its gradient; a later step with another length throws
// std::invalid_argument until reset(). state()/set_state() copy it out and in as named flat vectors
// (the names are PyTorch's state keys) plus t.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nncore/types.hpp"

namespace nncore {

// Hyper-parameters every rule has. Each rule's options struct derives from this one and sets its
// own default learning rate (and AdamW its own default weight decay).
struct OptimizerOptions {
  double learning_rate = 0.01;       // η ≥ 0
  double weight_decay = 0.0;         // λ ≥ 0
  std::optional<double> clip_norm;   // c > 0, or none
  std::optional<double> clip_value;  // c > 0, or none
};

// How λ enters the update: added to the gradient (L2, PyTorch's `weight_decay` of SGD, Adam,
// RMSprop and Adagrad) or applied to θ directly (AdamW's decoupled decay).
enum class WeightDecay { coupled, decoupled };

// One of a rule's state vectors: its name, the value it is filled with when created, and whether
// its entries are never negative (a mean or sum of squares: set_state refuses negative ones).
struct StateVectorSpec {
  std::string name;
  double initial_value = 0.0;
  bool non_negative = false;
};

// A copy of an optimizer's state: the step counter and its named flat vectors, each as long as θ.
// Before the first step (and after reset) `vectors` is empty.
template <class T>
struct OptimizerState {
  std::int64_t step = 0;
  std::map<std::string, Vector<T>> vectors;
};

// The most state vectors a rule keeps (RMSprop's three).
inline constexpr size_t kMaxStateVectors = 4;

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // One update of θ (in place) from g; both have the same length. Throws std::invalid_argument,
  // leaving θ and the state unchanged, when the lengths differ or differ from the state's.
  // `ranges` (here and in checked_step): how many ranges of entries the update is split into on
  // the pool (parallel_ranges, at most kMaxRanges); 0 leaves it to range_count. fit asks for one
  // per block of a batch split into blocks of rows, whose threads are then at hand.
  void step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, int ranges = 0);
  // The same step, which also keeps θ's value from before it in `previous` (θ's length) and
  // returns whether every entry of the new θ and of the new state is finite. If not, the step is
  // refused: the state (t included) is as before it, and the caller may restore θ from
  // `previous`. Each piece of θ and of the state is copied, updated and checked while it is in
  // cache: one pass over memory where a copy, a step and a check would take three.
  bool checked_step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients,
                    VectorRef<T> previous, int ranges = 0);
  // An upper bound on |Δθ_i|, the change of any entry, in the next step when every |g_i| is at
  // most max_abs_gradient, given only when that step also keeps the rule's state finite; +∞ when
  // the rule has no cheap bound. With such a bound, a caller that knows max_i |θ_i| can tell that
  // a step cannot overflow before taking it.
  virtual double step_bound(double max_abs_gradient) const;
  // The terms of such bounds: 1 + 4u (u = T's epsilon), the slack one step's formula allows for
  // its two or three roundings; and half the largest T, below which an entry and its bound
  // together cannot overflow.
  static constexpr double kRoundingSlack =
      1.0 + 4.0 * static_cast<double>(std::numeric_limits<T>::epsilon());
  static constexpr double kSafeMagnitude = 0.5 * static_cast<double>(std::numeric_limits<T>::max());
  virtual std::string name() const = 0;

  double learning_rate() const { return options_.learning_rate; }
  // Schedules change η between steps; throws std::invalid_argument unless finite and ≥ 0.
  void set_learning_rate(double learning_rate);
  double weight_decay() const { return options_.weight_decay; }
  WeightDecay weight_decay_kind() const { return weight_decay_kind_; }
  std::optional<double> clip_norm() const { return options_.clip_norm; }
  std::optional<double> clip_value() const { return options_.clip_value; }

  // Number of step calls since construction, reset or the last set_state (plus its `step`).
  std::int64_t step_count() const { return step_; }
  // The length of θ the state is for (fixed by the first step or set_state; a step with another
  // length throws), or −1 before it is fixed.
  Index parameter_count() const { return size_; }
  // The names of this rule's state vectors, in the order of its documentation.
  std::vector<std::string> state_names() const;
  OptimizerState<T> state() const;
  // Replaces the whole state. Accepted: no vectors (a fresh state, allowed with step > 0 only for
  // rules that keep no vectors), or exactly state_names(), all of one length ≥ 1 and finite, and
  // those of squares (Adam's exp_avg_sq, say) ≥ 0.
  // Throws std::invalid_argument otherwise, leaving the state unchanged.
  void set_state(const OptimizerState<T>& state);
  // Back to the state before the first step (t = 0, no vectors, no fixed length).
  void reset();

 protected:
  Optimizer(const OptimizerOptions& options, WeightDecay weight_decay_kind,
            std::vector<StateVectorSpec> layout);

  // Step 5 on the preprocessed gradient, for the entries [offset, offset + parameters.size()) of
  // the whole vector: step runs it on ranges of entries across threads (nncore/parallel.hpp), so
  // every entry's update must depend on that entry alone. step_count() already counts this step.
  virtual void update(VectorRef<T> parameters, const ConstVectorRef<T>& gradients,
                      Index offset) = 0;
  // Entries [offset, offset + size) of a state vector, by its name in the layout (created by the
  // time update runs).
  VectorRef<T> state_vector(const std::string& name, Index offset, Index size);
  // Whether the rule's step_bound needs state_largest: then every step also takes max_i |s_i| of
  // each state vector s, piece by piece while it is in cache.
  virtual bool tracks_state_largest() const { return false; }
  // max_i |s_i| of the state vector `name` as it is now (its initial value before the first
  // step), exact; +∞ unless tracks_state_largest().
  double state_largest(const std::string& name) const;
  // `bound` when it is below kSafeMagnitude, else +∞ (no bound: the step is checked).
  static double safe_or_none(double bound) {
    return bound <= kSafeMagnitude ? bound : std::numeric_limits<double>::infinity();
  }

 private:
  // step and checked_step (previous: nullptr for step); returns whether θ is finite, or true
  // when not checking.
  bool run_step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, VectorRef<T>* previous,
                int ranges);
  // Steps 2–4 when preprocesses(): a view of scratch_ (run_step takes g itself otherwise).
  ConstVectorRef<T> preprocess(VectorRef<T> parameters, const ConstVectorRef<T>& gradients);
  // Whether weight decay is added to the gradient (g ← g + λ·θ, step 4).
  bool coupled_decay() const {
    return weight_decay_kind_ == WeightDecay::coupled && options_.weight_decay != 0.0;
  }
  // Whether preprocess changes g: clipping, or coupled weight decay.
  bool preprocesses() const { return options_.clip_norm || options_.clip_value || coupled_decay(); }
  // state_largest_ for the state a fresh step starts from: each vector's |initial value|.
  void set_initial_largest();
  // state_largest_ of the tracked vectors, from the whole vectors.
  void take_state_largest();

  OptimizerOptions options_;
  WeightDecay weight_decay_kind_;
  std::vector<StateVectorSpec> layout_;
  std::int64_t step_ = 0;
  Index size_ = -1;                           // length of θ the state is for; −1: not yet fixed
  std::map<std::string, Vector<T>> vectors_;  // empty until the first step
  std::map<std::string, Vector<T>> previous_vectors_;  // their values before a checked step
  Vector<T> scratch_;                                  // (size_) the preprocessed gradient
  std::vector<double> state_largest_;  // max |s_i| of each layout vector (tracks_state_largest)
  size_t tracked_ = 0;  // the vectors a step takes max |s_i| of: all or none, set with the vectors
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace nncore
