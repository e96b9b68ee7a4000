/* lbfgs.c — L-BFGS with a backtracking Armijo line search (see lbfgs.h for
 * the algorithm and the stopping rule).
 *
 * Design. The objectives this serves (the linear probe's logistic regression)
 * are convex and cost one pass over the data per evaluation, so the line
 * search asks only for sufficient decrease and spends few evaluations: a
 * pair with poor curvature is skipped instead of paying for a Wolfe search to
 * avoid it. The pairs live in one ring of history rows, oldest at `head`, so
 * adding a pair never moves memory. Everything is in a fixed order, with no
 * threads of its own: the same fn gives the same bits on every run.
 */
#include "src/optim/lbfgs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/error.h"

static double dot(const float *a, const float *b, size_t D) {
    double s = 0.0;
    for (size_t k = 0; k < D; k++) s += (double)a[k] * b[k];
    return s;
}

static double max_abs(const float *a, size_t D) {
    double m = 0.0;
    for (size_t k = 0; k < D; k++) m = fmax(m, fabs(a[k]));
    return m;
}

/* d = −H g by the two-loop recursion over the `count` newest pairs (s_j, y_j),
 * stored in a ring of `cap` rows starting at `head` (the oldest), with the
 * initial Hessian approximation H₀ = (sᵀy / yᵀy) I of the newest pair. */
static void lbfgs_direction(float *d, const float *g, size_t D, const float *S, const float *Y,
                            const double *rho, double *alpha, int head, int count, int cap) {
    for (size_t k = 0; k < D; k++) d[k] = -g[k];
    for (int j = count - 1; j >= 0; j--) {
        int r = (head + j) % cap;
        const float *s = S + (size_t)r * D, *y = Y + (size_t)r * D;
        alpha[r] = rho[r] * dot(s, d, D);
        for (size_t k = 0; k < D; k++) d[k] -= (float)alpha[r] * y[k];
    }
    if (count > 0) {
        int r = (head + count - 1) % cap;
        const float *y = Y + (size_t)r * D;
        float gamma = (float)(1.0 / (rho[r] * dot(y, y, D)));
        for (size_t k = 0; k < D; k++) d[k] *= gamma;
    }
    for (int j = 0; j < count; j++) {
        int r = (head + j) % cap;
        const float *s = S + (size_t)r * D, *y = Y + (size_t)r * D;
        double beta = rho[r] * dot(y, d, D);
        for (size_t k = 0; k < D; k++) d[k] += (float)(alpha[r] - beta) * s[k];
    }
}

/* The iterations of lbfgs.h: direction, line search, pair update, stopping
 * test. One allocation holds the ring of pairs S, Y (history rows of D) and
 * the vectors g, d, xn (the trial point) and gn (its gradient). */
int lbfgs_minimize(float *x, size_t D, lbfgs_fn fn, void *ctx, const lbfgs_config *cfg, lbfgs_result *res) {
    int cap = cfg->history > 0 ? cfg->history : 1;
    size_t bytes = ((size_t)(2 * cap) + 4) * D * sizeof(float);
    float *buf = crate_aligned_zalloc(bytes, "L-BFGS state");
    double *rho = crate_calloc((size_t)cap * 2, sizeof *rho, "L-BFGS scalars");
    if (!buf || !rho) {
        free(buf);
        free(rho);
        return CRATE_EINTERNAL;
    }
    float *S = buf, *Y = S + (size_t)cap * D, *g = Y + (size_t)cap * D, *d = g + D, *xn = d + D, *gn = xn + D;
    double *alpha = rho + cap;
    int head = 0, count = 0;

    double f = fn(x, g, ctx);
    if (!isfinite(f)) {
        free(buf);
        free(rho);
        return crate_fail(CRATE_EINPUT, "the objective is %g at the starting point: does its input hold NaN or Inf?",
                          f);
    }
    res->converged = 0;
    int it = 0;
    for (; it < cfg->max_iter; it++) {
        if (max_abs(g, D) <= cfg->grad_tol) {
            res->converged = 1;
            break;
        }
        lbfgs_direction(d, g, D, S, Y, rho, alpha, head, count, cap);
        double gd = dot(g, d, D);
        if (!(gd < 0.0)) { /* not a descent direction: restart from −g */
            count = 0;
            for (size_t k = 0; k < D; k++) d[k] = -g[k];
            gd = -dot(g, g, D);
        }
        /* With no curvature known, scale the first step to length 1. */
        double t = count ? 1.0 : fmin(1.0, 1.0 / sqrt(-gd));
        double fn_val = f;
        int accepted = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t k = 0; k < D; k++) xn[k] = x[k] + (float)t * d[k];
            fn_val = fn(xn, gn, ctx);
            if (isfinite(fn_val) && fn_val <= f + 1e-4 * t * gd) {
                accepted = 1;
                break;
            }
            /* Minimum of the quadratic through f, gᵀd and fn_val, kept within [0.1t, 0.5t]. */
            double tq = isfinite(fn_val) ? -gd * t * t / (2.0 * (fn_val - f - gd * t)) : 0.1 * t;
            t = fmin(fmax(tq, 0.1 * t), 0.5 * t);
        }
        if (!accepted) {
            if (count == 0) break; /* no descent even along −g: at the float noise floor */
            count = 0;
            it--; /* the retry along −g is part of this iteration */
            continue;
        }
        /* The pair s = xn − x, y = gn − g goes into the ring slot after the
         * newest (the oldest once full) only if its curvature is usable. */
        double sy = 0.0, yy = 0.0;
        for (size_t k = 0; k < D; k++) {
            double sk = (double)xn[k] - x[k], yk = (double)gn[k] - g[k];
            sy += sk * yk;
            yy += yk * yk;
        }
        if (sy > 1e-10 * yy && sy > 0.0) {
            int slot = (head + count) % cap;
            float *s = S + (size_t)slot * D, *y = Y + (size_t)slot * D;
            for (size_t k = 0; k < D; k++) {
                s[k] = xn[k] - x[k];
                y[k] = gn[k] - g[k];
            }
            rho[slot] = 1.0 / sy;
            if (count < cap) count++;
            else head = (head + 1) % cap;
        }
        double decrease = f - fn_val;
        memcpy(x, xn, D * sizeof *x);
        memcpy(g, gn, D * sizeof *g);
        f = fn_val;
        if (decrease <= cfg->ftol * fmax(fabs(f), 1.0)) {
            res->converged = 1;
            it++;
            break;
        }
    }
    res->f = f;
    res->iterations = it;
    free(buf);
    free(rho);
    return CRATE_OK;
}
