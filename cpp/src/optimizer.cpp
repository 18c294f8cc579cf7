#include "nncore/optimizer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "finite.hpp"
#include "hyperparameter_checks.hpp"
#include "nncore/parallel.hpp"

namespace nncore {

namespace {

// torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing by it.
constexpr double kClipNormEpsilon = 1e-6;

// max_i |s_i| of the first `count` state vectors of the layout in a step, taken piece by piece
// (each range's own maxima, so that the ranges can run on several threads).
template <class T>
class Largest {
 public:
  Largest(size_t count, const std::vector<StateVectorSpec>& layout,
          std::map<std::string, Vector<T>>& vectors)
      : count_(count) {
    for (size_t s = 0; s < count_; ++s) vectors_[s] = &vectors.at(layout[s].name);
  }
  // Range `range` starts (before its first take).
  void begin(int range) { std::fill_n(largest_[static_cast<size_t>(range)].begin(), count_, 0.0); }
  // The entries [start, start + size) of each vector, in range `range`.
  void take(int range, Index start, Index size) {
    for (size_t s = 0; s < count_; ++s) {
      const T top = vectors_[s]->segment(start, size).cwiseAbs().maxCoeff();
      double& kept = largest_[static_cast<size_t>(range)][s];
      kept = std::max(kept, static_cast<double>(top));
    }
  }
  // The maxima over ranges 0..ranges−1 into into[0..count−1].
  void keep(int ranges, std::vector<double>& into) const {
    for (size_t s = 0; s < count_; ++s) {
      into[s] = 0.0;
      for (int i = 0; i < ranges; ++i)
        into[s] = std::max(into[s], largest_[static_cast<size_t>(i)][s]);
    }
  }

 private:
  size_t count_;
  std::array<Vector<T>*, kMaxStateVectors> vectors_{};
  std::array<std::array<double, kMaxStateVectors>, kMaxRanges> largest_;
};

}  // namespace

template <class T>
Optimizer<T>::Optimizer(const OptimizerOptions& options, WeightDecay weight_decay_kind,
                        std::vector<StateVectorSpec> layout)
    : options_(options), weight_decay_kind_(weight_decay_kind), layout_(std::move(layout)) {
  checks::at_least(options.learning_rate, "learning_rate", 0.0);
  checks::at_least(options.weight_decay, "weight_decay", 0.0);
  checks::positive_or_none(options.clip_norm, "clip_norm");
  checks::positive_or_none(options.clip_value, "clip_value");
  if (layout_.size() > kMaxStateVectors)
    throw std::logic_error("an update rule may keep at most kMaxStateVectors state vectors");
  set_initial_largest();
}

template <class T>
void Optimizer<T>::set_learning_rate(double learning_rate) {
  checks::at_least(learning_rate, "learning_rate", 0.0);
  options_.learning_rate = learning_rate;
}

template <class T>
void Optimizer<T>::step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients, int ranges) {
  run_step(parameters, gradients, nullptr, ranges);
}

template <class T>
bool Optimizer<T>::checked_step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients,
                                VectorRef<T> previous, int ranges) {
  if (previous.size() != parameters.size())
    throw std::invalid_argument("checked_step: previous must have the parameters' length");
  return run_step(parameters, gradients, &previous, ranges);
}

template <class T>
double Optimizer<T>::step_bound(double) const {
  return std::numeric_limits<double>::infinity();
}

template <class T>
bool Optimizer<T>::run_step(VectorRef<T> parameters, const ConstVectorRef<T>& gradients,
                            VectorRef<T>* previous, int ranges) {
  const Index n = parameters.size();
  if (gradients.size() != n)
    throw std::invalid_argument("parameters and gradients differ in length (" + std::to_string(n) +
                                " and " + std::to_string(gradients.size()) + ")");
  if (size_ >= 0 && size_ != n)
    throw std::invalid_argument("this " + name() + " optimizer's state is for " +
                                std::to_string(size_) + " parameters, got " + std::to_string(n) +
                                "; reset() it to use it with another model");
  const bool fresh = size_ < 0;
  if (fresh) {
    for (const StateVectorSpec& entry : layout_)
      vectors_[entry.name] = Vector<T>::Constant(n, static_cast<T>(entry.initial_value));
    scratch_.resize(n);
    size_ = n;
    tracked_ = tracks_state_largest() ? layout_.size() : 0;
  }
  // A checked step keeps the state from before it too, piece by piece while in cache.
  std::vector<std::pair<Vector<T>*, Vector<T>*>> state;  // (vector, its copy from before)
  if (previous != nullptr) {
    for (const StateVectorSpec& entry : layout_) {
      Vector<T>& kept = previous_vectors_[entry.name];
      kept.resize(n);
      state.emplace_back(&vectors_[entry.name], &kept);
    }
  }
  ++step_;
  const ConstVectorRef<T> g = preprocesses() ? preprocess(parameters, gradients) : gradients;
  const bool decoupled_decay =
      weight_decay_kind_ == WeightDecay::decoupled && options_.weight_decay != 0.0;
  const T decay = static_cast<T>(1.0 - options_.learning_rate * options_.weight_decay);
  const int k = ranges > 0 ? std::min(ranges, kMaxRanges) : range_count(n);
  if (previous == nullptr && k == 1 && n <= kCachePiece) {  // one piece, unchecked: the loop's
    if (decoupled_decay) parameters *= decay;               // work without its set-up
    update(parameters, g, 0);
    if (tracked_ > 0) take_state_largest();
    return true;
  }
  Largest<T> largest(tracked_, layout_, vectors_);
  bool finite[kMaxRanges];
  parallel_ranges(n, k, [&](int i, Index begin, Index end) {
    bool ok = true;
    largest.begin(i);
    for (Index start = begin; start < end; start += kCachePiece) {
      const Index size = std::min(kCachePiece, end - start);
      auto theta = parameters.segment(start, size);
      if (previous != nullptr) {
        previous->segment(start, size) = theta;
        for (const auto& [vector, kept] : state)
          kept->segment(start, size) = vector->segment(start, size);
      }
      if (decoupled_decay) theta *= decay;  // θ ← (1 − η·λ)·θ
      update(theta, g.segment(start, size), start);
      largest.take(i, start, size);
      if (previous == nullptr || !ok) continue;
      ok = all_finite(theta);
      for (const auto& [vector, kept] : state) ok = ok && all_finite(vector->segment(start, size));
    }
    finite[i] = ok;
  });
  if (std::all_of(finite, finite + k, [](bool f) { return f; })) {
    largest.keep(k, state_largest_);
    return true;
  }
  // Refused: the state is as before the step (θ is in `previous`, for the caller to put back).
  --step_;
  if (fresh) {
    const std::int64_t step = step_;
    reset();
    step_ = step;
  } else {
    for (const auto& [vector, kept] : state) vector->swap(*kept);
  }
  return false;
}

template <class T>
ConstVectorRef<T> Optimizer<T>::preprocess(VectorRef<T> parameters,
                                           const ConstVectorRef<T>& gradients) {
  scratch_ = gradients;
  if (options_.clip_norm) {
    // g ← g·min(1, c / (‖g‖₂ + 1e-6)); the norm is accumulated in double for both dtypes.
    const double norm = std::sqrt(scratch_.template cast<double>().squaredNorm());
    const double coefficient = *options_.clip_norm / (norm + kClipNormEpsilon);
    if (coefficient < 1.0) scratch_ *= static_cast<T>(coefficient);
  }
  if (options_.clip_value) {
    const T c = static_cast<T>(*options_.clip_value);  // g ← clamp(g, −c, c)
    scratch_ = scratch_.cwiseMax(-c).cwiseMin(c);
  }
  if (coupled_decay())
    scratch_.noalias() += static_cast<T>(options_.weight_decay) * parameters;  // g ← g + λ·θ
  return scratch_;
}

template <class T>
std::vector<std::string> Optimizer<T>::state_names() const {
  std::vector<std::string> names;
  for (const StateVectorSpec& entry : layout_) names.push_back(entry.name);
  return names;
}

template <class T>
OptimizerState<T> Optimizer<T>::state() const {
  return OptimizerState<T>{step_, vectors_};
}

template <class T>
void Optimizer<T>::set_state(const OptimizerState<T>& state) {
  if (state.step < 0)
    throw std::invalid_argument("state step must be >= 0, got " + std::to_string(state.step));
  if (state.vectors.empty()) {
    if (state.step > 0 && !layout_.empty())
      throw std::invalid_argument("a " + name() + " state after " + std::to_string(state.step) +
                                  " steps needs its vectors");
    reset();
    step_ = state.step;
    return;
  }
  if (state.vectors.size() != layout_.size())
    throw std::invalid_argument("a " + name() + " state has " + std::to_string(layout_.size()) +
                                " vectors, got " + std::to_string(state.vectors.size()));
  const Index n = state.vectors.begin()->second.size();
  for (const StateVectorSpec& entry : layout_) {
    const auto found = state.vectors.find(entry.name);
    if (found == state.vectors.end())
      throw std::invalid_argument("a " + name() + " state needs the vector '" + entry.name + "'");
    if (found->second.size() != n || n < 1)
      throw std::invalid_argument("the state vectors must all have one length >= 1");
    if (!found->second.allFinite())
      throw std::invalid_argument("state vector '" + entry.name + "' is not finite");
    if (entry.non_negative && (found->second.array() < T(0)).any())
      throw std::invalid_argument("state vector '" + entry.name +
                                  "' has a negative entry (it holds squares)");
  }
  std::map<std::string, Vector<T>> vectors = state.vectors;  // copies first: a failed
  Vector<T> scratch(n);                                      // allocation changes nothing
  vectors_.swap(vectors);
  scratch_.swap(scratch);
  size_ = n;
  step_ = state.step;
  tracked_ = tracks_state_largest() ? layout_.size() : 0;
  take_state_largest();
}

template <class T>
void Optimizer<T>::reset() {
  step_ = 0;
  size_ = -1;
  vectors_.clear();
  previous_vectors_.clear();
  scratch_.resize(0);
  set_initial_largest();
}

template <class T>
void Optimizer<T>::set_initial_largest() {
  state_largest_.clear();
  for (const StateVectorSpec& entry : layout_)
    state_largest_.push_back(std::abs(entry.initial_value));
}

template <class T>
void Optimizer<T>::take_state_largest() {
  for (size_t s = 0; s < tracked_; ++s)
    state_largest_[s] = static_cast<double>(vectors_.at(layout_[s].name).cwiseAbs().maxCoeff());
}

template <class T>
double Optimizer<T>::state_largest(const std::string& name) const {
  if (!tracks_state_largest()) return std::numeric_limits<double>::infinity();
  for (size_t s = 0; s < layout_.size(); ++s)
    if (layout_[s].name == name) return state_largest_[s];
  throw std::invalid_argument("no state vector '" + name + "'");
}

template <class T>
VectorRef<T> Optimizer<T>::state_vector(const std::string& name, Index offset, Index size) {
  return vectors_.at(name).segment(offset, size);
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace nncore
