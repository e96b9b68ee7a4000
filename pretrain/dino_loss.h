/* dino_loss.h — DINO's self-distillation loss of one sample's views and its
 * collapse monitors (Caron et al. 2021, Algorithm 1).
 *
 * For a sample with G global and L local views, the teacher's logits t_i
 * (i < G, global views only) and the student's s_v (v < G + L, globals
 * first) give
 *   p_i = softmax((t_i − c) / τ_t)      centered (c: the center) and sharpened
 *   q_v = softmax(s_v / τ_s)
 *   loss = Σ_{i<G} Σ_{v≠i} H(p_i, q_v),  H(p, q) = −Σ_k p_k log q_k
 * over n_pairs = G·(G+L) − G (view pairs of different views), and
 *   ∂loss/∂s_v = (n_v q_v − Σ_{i<G, i≠v} p_i) / τ_s,  n_v = #{i < G: i ≠ v}
 * (p is a constant: the teacher gets no gradient). Log-softmaxes are taken
 * with the max subtracted, in double accumulation.
 *
 * Monitors of the same sample, summed (the caller divides by its counts):
 *   entropy  Σ_i H(p_i)                   (collapse to uniform: → ln K)
 *   kl       Σ_{pairs} H(p_i, q_v) − H(p_i)  (teacher–student KL; → 0 when either collapses)
 *   max_prob Σ_i max_k p_ik               (collapse to one prototype: → 1)
 */
#ifndef CRATE_DINO_LOSS_H
#define CRATE_DINO_LOSS_H

typedef struct {
    double loss, entropy, kl, max_prob; /* sums as above */
} dino_loss_sums;

/* Pairs of different views one sample scores: G·(G+L) − G. */
static inline int dino_loss_pairs(int G, int L) { return G * (G + L) - G; }

/* p (G, K) ← the teacher distributions of t (G, K) (center c (K), τ_t). */
void dino_teacher_probs(float *p, const float *t, const float *center, int G, int K, float teacher_temp);

/* One sample: p (G, K) teacher distributions, s (G+L, K) student logits →
 * sums added into *out; with ds non-NULL, ds (G+L, K) += scale · ∂loss/∂s.
 * q_scratch: K floats. */
void dino_loss_sample(const float *p, const float *s, int G, int L, int K, float student_temp, float scale,
                      float *ds, dino_loss_sums *out, float *q_scratch);

#endif
