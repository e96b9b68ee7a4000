/* dino_loss.c — DINO's self-distillation loss of one sample (see dino_loss.h).
 *
 * Every student view's log-softmax is taken once, log q_vk = s_vk/τ_s − m_v −
 * ln Z_v with m_v = max_k s_vk/τ_s, and scored against each teacher view it
 * is paired with: H(p_i, q_v) = −Σ_k p_ik log q_vk, summed in double from s
 * itself (log q is never rounded to float). The unnormalized exp(s_vk/τ_s −
 * m_v) go to q_scratch on the way, so the gradient costs no second exp.
 * Views without a partner (the one global view of G = 1) are skipped. The
 * KL monitor needs no per-view entropy: each teacher view pairs with the
 * G + L − 1 others, so Σ_pairs H(p_i) = (G + L − 1) Σ_i H(p_i).
 */
#include "pretrain/dino_loss.h"

#include <math.h>
#include <stddef.h>

void dino_teacher_probs(float *p, const float *t, const float *center, int G, int K, float teacher_temp) {
    const double inv_temp = 1.0 / teacher_temp;
    for (int i = 0; i < G; i++) {
        const float *ti = t + (size_t)i * K;
        float *pi = p + (size_t)i * K;
        double m = -INFINITY, z = 0.0;
        for (int k = 0; k < K; k++) m = fmax(m, ((double)ti[k] - center[k]) * inv_temp);
        for (int k = 0; k < K; k++) {
            double e = exp(((double)ti[k] - center[k]) * inv_temp - m);
            pi[k] = (float)e;
            z += e;
        }
        double inv_z = 1.0 / z;
        for (int k = 0; k < K; k++) pi[k] = (float)(pi[k] * inv_z);
    }
}

/* H(p) = −Σ_k p_k ln p_k, with 0 ln 0 = 0. */
static double entropy(const float *p, int K) {
    double h = 0.0;
    for (int k = 0; k < K; k++)
        if (p[k] > 0.0f) h -= (double)p[k] * log((double)p[k]);
    return h;
}

void dino_loss_sample(const float *p, const float *s, int G, int L, int K, float student_temp, float scale,
                      float *ds, dino_loss_sums *out, float *q_scratch) {
    const double inv_temp = 1.0 / student_temp;
    double ent = 0.0, loss = 0.0;
    for (int i = 0; i < G; i++) {
        const float *pi = p + (size_t)i * K;
        float mx = 0.0f;
        for (int k = 0; k < K; k++) mx = pi[k] > mx ? pi[k] : mx;
        ent += entropy(pi, K);
        out->max_prob += mx;
    }
    for (int v = 0; v < G + L; v++) {
        const int n_v = v < G ? G - 1 : G; /* teacher views paired with v: i < G, i ≠ v */
        if (n_v == 0) continue;
        const float *sv = s + (size_t)v * K;
        /* log q_vk = s_vk/τ_s − lse_v, the exps into q_scratch */
        double m = -INFINITY, z = 0.0;
        for (int k = 0; k < K; k++) m = fmax(m, sv[k] * inv_temp);
        for (int k = 0; k < K; k++) {
            double e = exp(sv[k] * inv_temp - m);
            q_scratch[k] = (float)e;
            z += e;
        }
        const double lse = m + log(z);
        for (int i = 0; i < G; i++) {
            if (i == v) continue;
            const float *pi = p + (size_t)i * K;
            double ce = 0.0, mass = 0.0;
            for (int k = 0; k < K; k++) {
                ce -= (double)pi[k] * sv[k];
                mass += pi[k];
            }
            loss += ce * inv_temp + mass * lse; /* −Σ_k p_ik (s_vk/τ_s − lse_v) */
        }
        if (!ds) continue;
        /* ds_v += scale (n_v q_v − Σ_{i≠v} p_i) / τ_s */
        float *dv = ds + (size_t)v * K;
        const double gq = scale * inv_temp * n_v / z, gp = scale * inv_temp;
        for (int k = 0; k < K; k++) {
            double sum_p = 0.0;
            for (int i = 0; i < G; i++)
                if (i != v) sum_p += p[(size_t)i * K + k];
            dv[k] += (float)(gq * q_scratch[k] - gp * sum_p);
        }
    }
    out->loss += loss;
    out->entropy += ent;
    out->kl += loss - (G + L - 1) * ent; /* Σ_pairs H(p_i) = (G + L − 1) Σ_i H(p_i) */
}
