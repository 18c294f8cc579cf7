// Embeddings of integer-coded categorical columns: the network's first layer. Columns c_0 … c_k−1
// of X (n, n_in) hold codes, c_j's in [0, K_j); each code is replaced by a learned dim-vector.
//   table (Σ_j K_j, dim): column j's rows start at o_j = Σ_(i<j) K_i
//   forward    Y = [X_numeric, table[o_0 + x_c0], …, table[o_k−1 + x_ck−1]]   (n, n_in − k + k·dim)
//              (the unlisted columns in their order, then each embedded column's vector in the
//              order of `columns`)
//   backward   dtable[o_j + x_cj] += dY_block_j for every row (a code seen twice adds twice);
//              dX = [dY_numeric, 0 for the code columns] (Y is piecewise constant in a code)
// As the first layer, dX is never asked for. Parameters: table, initialised N(0, 1) as
// torch.nn.Embedding. Codes are checked at the door (check_input, before fit, forward or
// gradient change anything).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nncore/layers/layer.hpp"

namespace nncore {

template <class T>
class Embedding final : public Layer<T> {
 public:
  // Throws std::invalid_argument unless there is at least one column, the columns are distinct
  // and in [0, n_inputs), there is one cardinality (>= 1) per column, 1 <= dim <= 2^24 and the
  // table has at most 2^40 entries (and both widths are in [1, 2^24]).
  Embedding(Index n_inputs, std::vector<Index> columns, std::vector<Index> cardinalities, Index dim)
      : Layer<T>(n_inputs, output_width(n_inputs, columns, cardinalities, dim)),
        columns_(std::move(columns)),
        cardinalities_(std::move(cardinalities)),
        dim_(dim) {
    for (const Index cardinality : cardinalities_) {
      offsets_.push_back(table_rows_);
      table_rows_ += cardinality;
    }
    std::vector<bool> listed(static_cast<size_t>(n_inputs), false);
    for (const Index c : columns_) listed[static_cast<size_t>(c)] = true;
    for (Index c = 0; c < n_inputs; ++c)
      if (!listed[static_cast<size_t>(c)]) numeric_.push_back(c);
  }

  std::string kind() const override { return "Embedding"; }
  const std::vector<Index>& columns() const { return columns_; }
  const std::vector<Index>& cardinalities() const { return cardinalities_; }
  Index dim() const { return dim_; }
  std::vector<ArraySpec> parameters() const override { return {{"table", {table_rows_, dim_}}}; }
  // no products: a copy per output and a scatter-add per embedded entry
  Work work(bool /*propagates*/) const override {
    return {static_cast<double>(this->n_outputs() + embedded() * dim_), 0.0};
  }
  Index part_start(Index at) const override { return at / dim_ * dim_; }  // a row of the table

  // table ~ N(0, 1), whatever the initializer (as torch.nn.Embedding)
  void initialize(T* parameters, Initializer /*initializer*/, Random& random) const override {
    for (Index i = 0; i < table_rows_ * dim_; ++i) parameters[i] = static_cast<T>(random.normal());
  }

  // Throws std::invalid_argument naming the first code (by row and column of X) that is not an
  // integer in [0, K_j).
  void check_input(const ConstMatrixRef<T>& X) const override {
    for (Index j = 0; j < embedded(); ++j)
      for (Index r = 0; r < X.rows(); ++r)
        if (table_row(j, X(r, column(j))) < 0) {
          std::ostringstream message;
          message.precision(std::numeric_limits<T>::max_digits10);
          message << "column " << column(j) << " of X holds " << X(r, column(j)) << " in row " << r
                  << ", not an integer code in [0, " << cardinality(j) << ")";
          throw std::invalid_argument(message.str());
        }
  }

  // Y = [X_numeric, table[o_j + x_cj] for each j]; a code check_input refuses (reachable only
  // when the layer is not first) gives NaN, never a read outside the table.
  void forward(const Slices<T>& slices, const ConstMatrixRef<T>& X, LayerWorkspace<T>& workspace,
               Index first, const Mode& /*mode*/, Random* /*random*/) const override {
    const ConstMatrixMap<T> table(slices.parameters, table_rows_, dim_);
    auto Y = workspace.output.middleRows(first, X.rows());
    for (Index r = 0; r < X.rows(); ++r) {
      for (size_t i = 0; i < numeric_.size(); ++i) Y(r, static_cast<Index>(i)) = X(r, numeric_[i]);
      for (Index j = 0; j < embedded(); ++j) {
        const Index row = table_row(j, X(r, column(j)));
        auto block = Y.row(r).segment(block_start(j), dim_);
        if (row >= 0)
          block = table.row(row);
        else
          block.setConstant(std::numeric_limits<T>::quiet_NaN());
      }
    }
  }

  // dX = [dY_numeric, 0]; nothing to do as the first layer (dX null)
  void propagate(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                 LayerWorkspace<T>& workspace, Index first, const Mode& /*mode*/,
                 bool /*error_at_logits*/, Matrix<T>* dX) const override {
    if (dX == nullptr) return;
    const auto dY = workspace.error.middleRows(first, X.rows());
    auto below = dX->middleRows(first, X.rows());
    below.setZero();
    for (size_t i = 0; i < numeric_.size(); ++i)
      below.col(numeric_[i]) = dY.col(static_cast<Index>(i));
  }

  // dtable[o_j + x_cj] += dY_block_j over all n rows, only the entries in [begin, end)
  void accumulate_gradients(const Slices<T>& /*slices*/, const ConstMatrixRef<T>& X,
                            const LayerWorkspace<T>& workspace, T* gradient, Index begin,
                            Index end) const override {
    std::fill(gradient + begin, gradient + end, T(0));
    const ConstMatrixRef<T> dY = workspace.error.topRows(X.rows());
    for (Index r = 0; r < X.rows(); ++r)
      for (Index j = 0; j < embedded(); ++j) {
        const Index row = table_row(j, X(r, column(j)));
        if (row < 0) continue;
        const Index at = row * dim_, from = std::max(begin, at), to = std::min(end, at + dim_);
        for (Index e = from; e < to; ++e) gradient[e] += dY(r, block_start(j) + e - at);
      }
  }

 private:
  // The output width, n_in − k + k·dim, once the arguments are checked.
  static Index output_width(Index n_inputs, const std::vector<Index>& columns,
                            const std::vector<Index>& cardinalities, Index dim) {
    constexpr Index max_width = Index{1} << 24, max_table = Index{1} << 40;
    const auto fail = [](const std::string& what) {
      throw std::invalid_argument("Embedding: " + what);
    };
    if (columns.empty()) fail("needs at least one column");
    if (cardinalities.size() != columns.size())
      fail("needs one cardinality per column (" + std::to_string(columns.size()) + "), got " +
           std::to_string(cardinalities.size()));
    if (dim < 1 || dim > max_width) fail("dim must be in [1, 2^24], got " + std::to_string(dim));
    if (n_inputs < 1 || n_inputs > max_width)
      fail("n_inputs must be in [1, 2^24], got " + std::to_string(n_inputs));
    Index rows = 0;
    for (size_t j = 0; j < columns.size(); ++j) {
      if (columns[j] < 0 || columns[j] >= n_inputs)
        fail("columns must be in [0, " + std::to_string(n_inputs) + "), got " +
             std::to_string(columns[j]));
      if (cardinalities[j] < 1)
        fail("cardinalities must be at least 1, got " + std::to_string(cardinalities[j]));
      if (cardinalities[j] > max_table / dim - rows)  // rows · dim stays within 2^40
        fail("the table (Σ cardinalities × dim) must have at most 2^40 entries");
      rows += cardinalities[j];
    }
    std::vector<Index> sorted = columns;
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    if (twice != sorted.end())
      fail("columns must be distinct, got " + std::to_string(*twice) + " twice");
    const auto k = static_cast<Index>(columns.size());
    return n_inputs - k + k * dim;  // at most 2^24 + 2^48: no overflow; Layer bounds it
  }

  Index embedded() const { return static_cast<Index>(columns_.size()); }
  Index column(Index j) const { return columns_[static_cast<size_t>(j)]; }
  Index cardinality(Index j) const { return cardinalities_[static_cast<size_t>(j)]; }
  Index block_start(Index j) const { return static_cast<Index>(numeric_.size()) + j * dim_; }
  // o_j + x for a code x of column j: an integer in [0, K_j); −1 for anything else (NaN included)
  // (compared in double, where every code of either dtype and every cardinality is exact)
  Index table_row(Index j, T code) const {
    const auto x = static_cast<double>(code);
    if (!(x >= 0.0 && x < static_cast<double>(cardinality(j)) && x == std::floor(x))) return -1;
    return offsets_[static_cast<size_t>(j)] + static_cast<Index>(x);
  }

  std::vector<Index> columns_, cardinalities_;
  Index dim_;
  std::vector<Index> offsets_;  // o_j
  std::vector<Index> numeric_;  // the unlisted columns, in order
  Index table_rows_ = 0;        // Σ_j K_j
};

}  // namespace nncore
