/* whitebox.h — the layer-by-layer measures of CRATE's objective, as the CRATE
 * authors compute them (DESIGN §13; Yu et al. 2023). For one sample of N
 * tokens (the cls token counted):
 *
 *   compression  R^c = ½ Σ_k logdet(I_N + p/(N ε²) X_k X_kᵀ)
 *                X_k: head k's (N, p) block of the layer's shared projection
 *                W = LN₁(Z) Uᵀ, every row scaled to unit length. Bounded by
 *                ½·p·ln(1 + 1/ε²)·K (the trace of p/(Nε²) X_k X_kᵀ is p/ε²,
 *                spread over at most p eigenvalues; logdet is concave).
 *   sparsity     #{z_ij ≠ 0} / (N d)   of the ISTA output Z
 *   coding rate  R(Z) = ½ logdet(I_d + d/(N ε²) ZᵀZ)
 *
 * Each logdet is taken on the smaller side, logdet(I_N + c A Aᵀ) =
 * logdet(I_m + c Aᵀ A) for A (N, m) (Sylvester), by Cholesky in double.
 * ε² = 0.01 in the paper (WHITEBOX_EPS2).
 */
#ifndef CRATE_WHITEBOX_H
#define CRATE_WHITEBOX_H

#include <stddef.h>

#define WHITEBOX_EPS2 0.01

/* w (N, K·p) row-major, heads side by side → R^c of this sample. */
double whitebox_compression(const float *w, int N, int K, int p, double eps2);
/* The bound ½·p·ln(1 + 1/ε²)·K. */
double whitebox_compression_bound(int K, int p, double eps2);
/* Fraction of the n floats of z that are not zero. */
double whitebox_sparsity(const float *z, size_t n);
/* z (N, d) row-major → R(Z). */
double whitebox_coding_rate(const float *z, int N, int d, double eps2);

#endif
