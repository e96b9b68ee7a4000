/* lbfgs.h — limited-memory BFGS for smooth full-batch objectives over one
 * float vector (Nocedal & Wright, Numerical Optimization, Alg. 7.4 and 7.5).
 *
 * Defines lbfgs_fn (the objective), lbfgs_config, lbfgs_result and
 * lbfgs_minimize. Used by the linear probe (src/eval/linear_probe.c); nothing
 * here knows what is being minimized.
 *
 * Notation: x (D) the point, f(x) the objective, g = ∇f(x), and m the history
 * (cfg->history). Each iteration:
 *
 *   1. direction: d = −H g by the two-loop recursion over the m newest pairs
 *        s_j = x_{j+1} − x_j,  y_j = g_{j+1} − g_j,  ρ_j = 1 / s_jᵀy_j,
 *      with the initial approximation H₀ = (sᵀy / yᵀy) I of the newest pair.
 *      If gᵀd is not negative (not a descent direction) the history is
 *      dropped and d = −g.
 *   2. line search: backtracking on the Armijo condition
 *        f(x + t d) <= f(x) + 1e-4 · t · gᵀd,
 *      starting from t = 1 (t = min(1, 1/‖g‖), a step of length 1, when no
 *      pair is known), and shrinking t to the minimum of the quadratic through
 *      f(x), gᵀd and f(x + t d), kept within [0.1 t, 0.5 t]; at most 40 trials.
 *      A non-finite f(x + t d) counts as a failed trial (t ← 0.1 t). If the
 *      search fails the history is dropped and the iteration is retried once
 *      along −g; failing along −g too ends the run (the float noise floor).
 *   3. update: the new pair is kept only if its curvature is clearly positive,
 *      sᵀy > 1e-10 · yᵀy and sᵀy > 0 (this keeps H positive definite without
 *      a Wolfe line search); once m pairs are kept the oldest is replaced.
 *
 * Stopping rule, checked in this order:
 *   converged      max_i |g_i| <= grad_tol before an iteration, or the accepted
 *                  step decreased f by <= ftol · max(|f|, 1) (f after the step);
 *   not converged  max_iter iterations, or a line search failed along −g.
 *
 * Arithmetic: x, g, d and the pairs are float; inner products and the line
 * search's scalars are double, summed in index order, so a run is
 * deterministic if fn is. Memory: (2m + 4)·D floats and 2m doubles.
 */
#ifndef CRATE_LBFGS_H
#define CRATE_LBFGS_H

#include <stddef.h>

/* Returns f(x) and writes grad (D) = ∇f(x); ctx is the caller's. A
 * non-finite return means x is outside where f is defined (or overflowed). */
typedef double (*lbfgs_fn)(const float *x, float *grad, void *ctx);

typedef struct {
    int max_iter;   /* iterations (each one or more evaluations of fn) */
    int history;    /* m: correction pairs kept (< 1 is taken as 1) */
    float grad_tol; /* stop when max |∂f/∂x| <= grad_tol */
    double ftol;    /* or when the relative decrease of f in one step <= ftol */
} lbfgs_config;

typedef struct {
    double f;       /* f at the returned x */
    int iterations; /* accepted steps */
    int converged;  /* 1 if it stopped on grad_tol or ftol, 0 otherwise */
} lbfgs_result;

/* Minimizes fn over x (D floats, the start, updated in place to the last
 * accepted point). CRATE_OK, or CRATE_EINPUT if f is not finite at the start
 * (x untouched), or CRATE_EINTERNAL if the state cannot be allocated. */
int lbfgs_minimize(float *x, size_t D, lbfgs_fn fn, void *ctx, const lbfgs_config *cfg, lbfgs_result *res);

#endif
