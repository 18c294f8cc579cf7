// Products of a dense layer for a few rows of a batch (a batch split into blocks of rows),
// computed from the row-major operands as they are, without packing them.
//
// Eigen's general product packs both operands into blocks before it multiplies and zeroes the
// destination before it accumulates. For 16 rows of a batch against a 128 × 128 W, packing W costs
// about as much as the product itself, and it happens at every product. Here a tile of C of
// kRows rows by kPackets SIMD packets stays in registers while the depth runs: at each step p, the
// packets of row p of B are loaded once and each A(i, p) of the tile is broadcast against them.
// The tile is then written once. B is read in place (nothing is packed), and A through a
// strided view, so A may be a transpose. Sums run over the depth in order.
//
//   multiply:            C = A·B + 1·bᵀ (the bias row b, when given, starts every row's sum)
//   multiply_transposed: C = A·Bᵀ, computed as Cᵀ = B·Aᵀ (A, a few rows, is transposed into a
//                        scratch buffer; the tile is written back transposed)
//
// Columns that do not fill a packet are computed on a zero-padded copy of those columns of B.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "nncore/parallel.hpp"
#include "nncore/types.hpp"

namespace nncore::tiled {

// Element (i, p) of a matrix at data[i·row_stride + p·col_stride]: a row-major matrix
// (col_stride 1) or the transpose of one (row_stride 1).
template <class T>
struct View {
  const T* data;
  Index row_stride, col_stride;
  T operator()(Index i, Index p) const { return data[i * row_stride + p * col_stride]; }
};

namespace detail {

namespace ei = Eigen::internal;
template <class T>
using Packet = typename ei::packet_traits<T>::type;
template <class T>
inline constexpr int kPacket = ei::unpacket_traits<Packet<T>>::size;

// The tile: 6 rows by 2 packets (6 × 16 floats with AVX2) keeps 12 accumulators, 2 packets of B
// and one broadcast in 15 of AVX2's 16 vector registers (AVX-512 has 32). It measured fastest of
// 4×3, 6×2, 4×2, 3×4 and 8×1 on the S network's products.
inline constexpr int kRows = 6;
inline constexpr int kPackets = 2;

// Scratch memory of this thread, at least `size` entries, reused by the next call (allocated
// only when a larger size is first asked for).
template <class T>
T* scratch(size_t size, int which) {
  thread_local std::vector<T> buffers[2];
  std::vector<T>& buffer = buffers[which];
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

// c[r, :] = bias + Σ_p A(i0 + r, p)·B[p, :] for r < R, over W packets of columns; c has row
// stride ldc, B row stride ldb; bias (W packets) may be null.
template <class T, int R, int W>
void tile(Index depth, const View<T>& A, Index i0, const T* B, Index ldb, const T* bias, T* c,
          Index ldc) {
  using P = Packet<T>;
  constexpr int N = kPacket<T>;
  P acc[R][W];
  for (int w = 0; w < W; ++w) {
    const P start = bias != nullptr ? ei::ploadu<P>(bias + w * N) : ei::pset1<P>(T(0));
    for (int r = 0; r < R; ++r) acc[r][w] = start;
  }
  for (Index p = 0; p < depth; ++p) {
    P b[W];
    for (int w = 0; w < W; ++w) b[w] = ei::ploadu<P>(B + p * ldb + w * N);
    for (int r = 0; r < R; ++r) {
      const P a = ei::pset1<P>(A(i0 + r, p));
      for (int w = 0; w < W; ++w) acc[r][w] = ei::pmadd(a, b[w], acc[r][w]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w) ei::pstoreu(c + r * ldc + w * N, acc[r][w]);
}

// A tile of R rows (any R ≤ kRows) by W packets.
template <class T, int W>
void tile_rows(Index R, Index depth, const View<T>& A, Index i0, const T* B, Index ldb,
               const T* bias, T* c, Index ldc) {
  switch (R) {
    case 6: return tile<T, 6, W>(depth, A, i0, B, ldb, bias, c, ldc);
    case 5: return tile<T, 5, W>(depth, A, i0, B, ldb, bias, c, ldc);
    case 4: return tile<T, 4, W>(depth, A, i0, B, ldb, bias, c, ldc);
    case 3: return tile<T, 3, W>(depth, A, i0, B, ldb, bias, c, ldc);
    case 2: return tile<T, 2, W>(depth, A, i0, B, ldb, bias, c, ldc);
    case 1: return tile<T, 1, W>(depth, A, i0, B, ldb, bias, c, ldc);
    default: return;
  }
}

// Where a tile's result goes: C(i, j) at data[i·row_stride + j·col_stride]. A full-width tile
// whose rows are contiguous in C is written there directly; otherwise (the transposed product, the
// last partial columns) it is computed into `staged` and copied.
template <class T>
struct Out {
  T* data;
  Index row_stride, col_stride;
};

// C[:, j0 .. j0 + cols) for all m rows, cols ≤ W·N, from B's columns starting at b0 (row
// stride ldb: the full width W·N is read) and bias (W·N entries from its column j0, or null).
template <class T, int W>
void strip(Index m, Index depth, const View<T>& A, const T* b0, Index ldb, const T* bias,
           const Out<T>& C, Index j0, Index cols) {
  constexpr Index width = W * kPacket<T>;
  const bool direct = C.col_stride == 1 && cols == width;
  T staged[kRows * width];
  for (Index i = 0; i < m; i += kRows) {
    const Index R = std::min<Index>(kRows, m - i);
    if (direct) {
      tile_rows<T, W>(R, depth, A, i, b0, ldb, bias, C.data + i * C.row_stride + j0, C.row_stride);
      continue;
    }
    tile_rows<T, W>(R, depth, A, i, b0, ldb, bias, staged, width);
    for (Index r = 0; r < R; ++r)
      for (Index j = 0; j < cols; ++j)
        C.data[(i + r) * C.row_stride + (j0 + j) * C.col_stride] = staged[r * width + j];
  }
}

// C (m × n) = A (m × depth)·B (depth × n) + 1·biasᵀ, B row-major with row stride ldb.
template <class T>
void product(Index m, Index n, Index depth, const View<T>& A, const T* B, Index ldb, const T* bias,
             const Out<T>& C) {
  constexpr Index N = kPacket<T>, width = kPackets * N;
  Index j = 0;
  for (; j + width <= n; j += width)
    strip<T, kPackets>(m, depth, A, B + j, ldb, bias ? bias + j : nullptr, C, j, width);
  for (; j + N <= n; j += N)
    strip<T, 1>(m, depth, A, B + j, ldb, bias ? bias + j : nullptr, C, j, N);
  if (j == n) return;
  // The last n − j < N columns: a zero-padded copy of them (and of the bias), one packet wide.
  const Index cols = n - j;
  T* padded = scratch<T>(static_cast<size_t>(depth * N), 0);
  for (Index p = 0; p < depth; ++p)
    for (Index t = 0; t < N; ++t) padded[p * N + t] = t < cols ? B[p * ldb + j + t] : T(0);
  T bias_padded[N];
  for (Index t = 0; t < N; ++t) bias_padded[t] = bias != nullptr && t < cols ? bias[j + t] : T(0);
  strip<T, 1>(m, depth, A, padded, N, bias ? bias_padded : nullptr, C, j, cols);
}

}  // namespace detail

// Columns of the tile: forward products narrower than this (float: an output layer of 10) stay
// on Eigen, where they measured faster for a few rows (0.8× at 16 rows). dW has no such limit (a
// 10-wide dW measured 1.1–1.6×), nor does float64's 8-wide tile (a 10-wide forward: 1.3–1.7×).
template <class T>
inline constexpr Index kTileWidth = detail::kPackets * detail::kPacket<T>;

// Depth below which multiply_transposed stays on Eigen: at depth 10 (dL/dA_prev of an output
// layer of 10) it measured 0.6–0.8× Eigen's product in float and 0.8–0.9× in double (each tile
// then does little work per transposed store); at 128, 1.1–1.35×.
inline constexpr Index kMinTransposedDepth = 16;

// Whether a (rows × depth)·(depth × cols) product is for these kernels: one too small to be
// threaded (below kMinParallelWork; larger ones go to the BLAS or are split on the pool), in an
// x86-64 build with AVX2 and FMA (kEnabled; the x86-64-v3 and v4 variants). Measured against
// Eigen 3.4 on the S network's products (16 and 32 rows, one thread): forward 1.3–1.6×, dW
// 1.1–1.5×, dA 1.1–1.3× in float, 1.1–1.5× in double. Without FMA (x86-64-v2) they measured
// 0.65–1.16×, so such builds keep Eigen, as do other architectures (not measured).
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
inline constexpr bool kEnabled = true;
#else
inline constexpr bool kEnabled = false;
#endif
inline bool suits(Index rows, Index depth, Index cols) {
  return kEnabled &&
         static_cast<double>(rows) * static_cast<double>(depth) * static_cast<double>(cols) <
             kMinParallelWork;
}

// C (m × n) = A (m × depth)·B (depth × n), plus the row `bias` (n entries) on every row when it is
// not null. B and C row-major with row strides ldb and ldc.
template <class T>
void multiply(Index m, Index n, Index depth, const View<T>& A, const T* B, Index ldb, const T* bias,
              T* C, Index ldc) {
  detail::product<T>(m, n, depth, A, B, ldb, bias, detail::Out<T>{C, ldc, 1});
}

// C (m × k) = A (m × n)·Bᵀ with B (k × n); all row-major with row strides lda, ldb, ldc. Computed
// as Cᵀ = B·Aᵀ: A is copied transposed (n × m) into scratch memory, so m should be small.
template <class T>
void multiply_transposed(Index m, Index k, Index n, const T* A, Index lda, const T* B, Index ldb,
                         T* C, Index ldc) {
  T* At = detail::scratch<T>(static_cast<size_t>(n * m), 1);
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) At[j * m + i] = A[i * lda + j];
  detail::product<T>(k, m, n, View<T>{B, ldb, 1}, At, m, nullptr, detail::Out<T>{C, 1, ldc});
}

}  // namespace nncore::tiled
