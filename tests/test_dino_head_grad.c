/* test_dino_head_grad.c — DINO's projection head (pretrain/dino_head.h) on
 * M = 5 rows, d 8 → hidden 12 → hidden 12 → bottleneck 6 → K 10 prototypes,
 * declared after a tensor standing in for the encoder:
 *
 *  - tensor names, shapes and init flags; the FLOP count;
 *  - the logits against a naive double forward of the header's math, for
 *    the student store, for a teacher store with the same layout and other
 *    values, and for M < M_max (the first rows of the full forward, to
 *    rounding);
 *  - finite differences of the probe loss Σ P ⊙ z in every tensor of the
 *    store (the encoder's stays at zero) and in x;
 *  - the invariances of the two normalizations: u rows have unit norm;
 *    scaling a prototype V_k by 3.7, or fc3 (so y) by 3.7, leaves the
 *    logits unchanged, and the analytic gradients see it: ⟨V_k, ∂V_k⟩ = 0
 *    per prototype, ⟨W₃, ∂W₃⟩ + ⟨b₃, ∂b₃⟩ = 0 (Euler: z is homogeneous of
 *    degree 0 in them), and with one row ∂b₃ = ∂y ⟂ u;
 *  - frozen prototypes (train_prototypes = 0) leave V's gradient bit-identical
 *    and every other gradient and ∂x bit-identical to the trained run;
 *  - a second backward doubles every gradient and ∂x (accumulate);
 *  - the grads-final call names the head's first tensor;
 *  - a zero y row (fc3 all zero) gives zero logits and finite gradients.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pretrain/dino_head.h"
#include "src/error.h"
#include "src/nn/teacher.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { D = 8, HID = 12, BOT = 6, K = 10, M = 5 };

typedef struct {
    param_store ps;
    arena arena;
    dino_head head;
    int encoder;            /* the tensor declared before the head */
    float x[M * D], dx[M * D];
    float probe[M * K];     /* P: the loss is Σ P ⊙ z */
    float *scratch;
    int rows;               /* rows of the probe loss (M, or 1) */
    size_t final_from;      /* the last grads-final offset reported, or SIZE_MAX */
} fixture;

static void on_final(void *ctx, size_t first_final) { ((fixture *)ctx)->final_from = first_final; }

static double probe_loss(void *ctx) {
    fixture *f = ctx;
    dino_head_forward(&f->head, &f->ps, f->x, f->rows);
    return gradcheck_probe_dot(f->head.logits, f->probe, (size_t)f->rows * K);
}

/* ps->grad and dx ← the gradients of Σ P ⊙ z over f->rows rows. */
static void probe_backward(fixture *f, int train_prototypes) {
    param_store_zero_grad(&f->ps);
    memset(f->dx, 0, sizeof f->dx);
    dino_head_forward(&f->head, &f->ps, f->x, f->rows);
    dino_head_backward(&f->head, &f->ps, f->dx, f->probe, f->x, f->rows, train_prototypes, f->scratch);
}

static double gelu_d(double a) { return 0.5 * a * (1.0 + erf(a / sqrt(2.0))); }

/* out (OC) = act(W in + b) for one row, in double. */
static void naive_linear(double *out, const double *in, const param_store *ps, const linear_layer *l, int gelu) {
    const float *W = param_data(ps, l->weight), *b = param_data(ps, l->bias);
    for (int o = 0; o < l->OC; o++) {
        double a = b[o];
        for (int c = 0; c < l->C; c++) a += (double)W[o * l->C + c] * in[c];
        out[o] = gelu ? gelu_d(a) : a;
    }
}

/* z (rows, K) of the header's math in double, from the weights of ps. */
static void naive_logits(const dino_head *h, const param_store *ps, const float *x, int rows, double *z) {
    const float *V = param_data(ps, h->prototypes);
    double w_hat[K * BOT];
    for (int k = 0; k < K; k++) {
        double n = 0.0;
        for (int c = 0; c < BOT; c++) n += (double)V[k * BOT + c] * V[k * BOT + c];
        n = sqrt(n);
        for (int c = 0; c < BOT; c++) w_hat[k * BOT + c] = V[k * BOT + c] / n;
    }
    for (int i = 0; i < rows; i++) {
        double in[D], h1[HID], h2[HID], y[BOT], n = 0.0;
        for (int c = 0; c < D; c++) in[c] = x[i * D + c];
        naive_linear(h1, in, ps, &h->fc1, 1);
        naive_linear(h2, h1, ps, &h->fc2, 1);
        naive_linear(y, h2, ps, &h->fc3, 0);
        for (int c = 0; c < BOT; c++) n += y[c] * y[c];
        n = fmax(sqrt(n), 1e-12);
        for (int k = 0; k < K; k++) {
            double zk = 0.0;
            for (int c = 0; c < BOT; c++) zk += y[c] / n * w_hat[k * BOT + c];
            z[i * K + k] = zk;
        }
    }
}

static double max_diff(const float *a, const double *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static double dot_f(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double norm_f(const float *a, size_t n) { return sqrt(dot_f(a, a, n)); }

static void check_layout(fixture *f) {
    const param_store *ps = &f->ps;
    const dino_head *h = &f->head;
    static const char *names[] = {"dino.fc1.weight", "dino.fc1.bias", "dino.fc2.weight", "dino.fc2.bias",
                                  "dino.fc3.weight", "dino.fc3.bias", "dino.prototypes"};
    const int ids[] = {h->fc1.weight, h->fc1.bias, h->fc2.weight, h->fc2.bias, h->fc3.weight, h->fc3.bias,
                       h->prototypes};
    const int64_t rows[] = {HID, HID, HID, HID, BOT, BOT, K}, cols[] = {D, 0, HID, 0, HID, 0, BOT};
    CHECK(ps->count == 8, "%d tensors, want the encoder's and 7", ps->count);
    for (int j = 0; j < 7; j++) {
        const param_tensor *t = &ps->tensors[ids[j]];
        int matrix = cols[j] > 0;
        CHECK(ids[j] == f->encoder + 1 + j && param_store_find(ps, names[j]) == ids[j], "%s: id %d", names[j],
              ids[j]);
        CHECK(t->ndim == (matrix ? 2 : 1) && t->shape[0] == rows[j] && (!matrix || t->shape[1] == cols[j]),
              "%s: shape", names[j]);
        CHECK(t->flags == (matrix ? (unsigned)PARAM_MATRIX : (unsigned)PARAM_BIAS), "%s: flags %#x", names[j],
              t->flags);
    }
    double want = 6.0 * M * (D * HID + HID * HID + HID * BOT + BOT * K);
    CHECK(dino_head_flops(h, M) == want, "flops %g, want %g", dino_head_flops(h, M), want);
}

/* The forward against the double math: student, M < M_max, teacher store. */
static void check_forward(fixture *f) {
    double z[M * K];
    naive_logits(&f->head, &f->ps, f->x, M, z);
    dino_head_forward(&f->head, &f->ps, f->x, M);
    double err = max_diff(f->head.logits, z, M * K);
    printf("forward: max |z − double| %.3g\n", err);
    CHECK(err < 2e-6, "logits differ from the double math by %g", err);
    float full[M * K];
    memcpy(full, f->head.logits, sizeof full);
    dino_head_forward(&f->head, &f->ps, f->x, 3); /* GEMMs of other M may round differently */
    double rows_err = 0.0;
    for (int j = 0; j < 3 * K; j++) rows_err = fmax(rows_err, fabs(f->head.logits[j] - full[j]));
    CHECK(rows_err < 1e-6, "3 rows differ from the first rows of the 5-row forward by %g", rows_err);

    param_store teacher;
    int rc = teacher_store_init(&teacher, &f->ps);
    CHECK(rc == CRATE_OK, "teacher store: %s", crate_errmsg());
    if (rc != CRATE_OK) return;
    for (size_t i = 0; i < teacher.total; i++) teacher.data[i] = 0.8f * teacher.data[i] + 0.05f;
    naive_logits(&f->head, &teacher, f->x, M, z);
    dino_head_forward(&f->head, &teacher, f->x, M);
    err = max_diff(f->head.logits, z, M * K);
    printf("forward (teacher store): max |z − double| %.3g\n", err);
    CHECK(err < 2e-6, "teacher logits differ from the double math by %g", err);
    CHECK(fabs(f->head.logits[0] - full[0]) > 1e-4, "the teacher forward read the student's weights");
    param_store_free(&teacher);
}

static void check_invariances(fixture *f) {
    const dino_head *h = &f->head;
    param_store *ps = &f->ps;
    probe_backward(f, 1);
    double worst = 0.0;
    for (int i = 0; i < M; i++) worst = fmax(worst, fabs(norm_f(h->u + i * BOT, BOT) - 1.0));
    CHECK(worst < 1e-6, "a u row has norm 1 ± %g", worst);
    float z[M * K];
    memcpy(z, h->logits, sizeof z);

    /* weight norm: V_k's scale is invisible, ∂V_k ⟂ V_k */
    float *V = param_data(ps, h->prototypes), *dV = param_grad(ps, h->prototypes);
    double ortho = 0.0;
    for (int k = 0; k < K; k++)
        ortho = fmax(ortho, fabs(dot_f(V + k * BOT, dV + k * BOT, BOT)) /
                                (norm_f(V + k * BOT, BOT) * norm_f(dV + k * BOT, BOT)));
    printf("weight norm: max |cos(V_k, ∂V_k)| %.3g\n", ortho);
    CHECK(ortho < 1e-5, "∂V_k is not orthogonal to V_k: cos %g", ortho);
    float saved[BOT];
    memcpy(saved, V + 3 * BOT, sizeof saved);
    for (int c = 0; c < BOT; c++) V[3 * BOT + c] *= 3.7f;
    dino_head_forward(&f->head, ps, f->x, M);
    double err = 0.0;
    for (int j = 0; j < M * K; j++) err = fmax(err, fabs(h->logits[j] - z[j]));
    CHECK(err < 1e-6, "scaling V_3 by 3.7 changed the logits by %g", err);
    memcpy(V + 3 * BOT, saved, sizeof saved);

    /* L2 norm: z is homogeneous of degree 0 in (W₃, b₃) */
    float *W3 = param_data(ps, h->fc3.weight), *b3 = param_data(ps, h->fc3.bias);
    const float *dW3 = param_grad(ps, h->fc3.weight), *db3 = param_grad(ps, h->fc3.bias);
    double euler = dot_f(W3, dW3, HID * BOT) + dot_f(b3, db3, BOT);
    double scale = norm_f(W3, HID * BOT) * norm_f(dW3, HID * BOT) + norm_f(b3, BOT) * norm_f(db3, BOT);
    printf("L2 norm: <W3, dW3> + <b3, db3> = %.3g (relative %.3g)\n", euler, euler / scale);
    CHECK(fabs(euler) < 1e-5 * scale, "<W3, dW3> + <b3, db3> = %g, not 0", euler);
    float W3s[HID * BOT], b3s[BOT];
    memcpy(W3s, W3, sizeof W3s);
    memcpy(b3s, b3, sizeof b3s);
    for (int j = 0; j < HID * BOT; j++) W3[j] *= 3.7f;
    for (int j = 0; j < BOT; j++) b3[j] *= 3.7f;
    dino_head_forward(&f->head, ps, f->x, M);
    err = 0.0;
    for (int j = 0; j < M * K; j++) err = fmax(err, fabs(h->logits[j] - z[j]));
    CHECK(err < 1e-6, "scaling y by 3.7 changed the logits by %g", err);
    memcpy(W3, W3s, sizeof W3s);
    memcpy(b3, b3s, sizeof b3s);

    /* one row: ∂b₃ is ∂y, tangent to the sphere at u */
    f->rows = 1;
    probe_backward(f, 1);
    double cos = dot_f(db3, h->u, BOT) / (norm_f(db3, BOT) * norm_f(h->u, BOT));
    printf("L2 norm: cos(∂y, u) of one row %.3g\n", cos);
    CHECK(fabs(cos) < 1e-5, "∂y is not orthogonal to u: cos %g", cos);
    f->rows = M;
}

static void check_freeze_and_accumulate(fixture *f) {
    param_store *ps = &f->ps;
    const param_tensor *vt = &ps->tensors[f->head.prototypes];
    size_t total = ps->total;
    float *trained = malloc(total * sizeof(float)), *frozen = malloc(total * sizeof(float));
    float dx_trained[M * D];
    probe_backward(f, 1);
    memcpy(trained, ps->grad, total * sizeof(float));
    memcpy(dx_trained, f->dx, sizeof dx_trained);

    /* frozen: V's gradient keeps whatever it held, the rest is unchanged */
    param_store_zero_grad(ps);
    gradcheck_fill(param_grad(ps, f->head.prototypes), vt->numel, 21, 1.0f);
    float v_before[K * BOT];
    memcpy(v_before, param_grad(ps, f->head.prototypes), sizeof v_before);
    memset(f->dx, 0, sizeof f->dx);
    dino_head_forward(&f->head, ps, f->x, M);
    dino_head_backward(&f->head, ps, f->dx, f->probe, f->x, M, 0, f->scratch);
    memcpy(frozen, ps->grad, total * sizeof(float));
    CHECK(gradcheck_is_equal(v_before, frozen + vt->offset, vt->numel), "frozen prototypes: V's gradient changed");
    CHECK(gradcheck_is_equal(trained, frozen, vt->offset) &&
              gradcheck_is_equal(trained + vt->offset + vt->numel, frozen + vt->offset + vt->numel,
                                 total - vt->offset - vt->numel) &&
              gradcheck_is_equal(dx_trained, f->dx, M * D),
          "frozen prototypes: another gradient or dx differs from the trained run");

    /* accumulate: a second backward (trained) doubles everything */
    probe_backward(f, 1);
    dino_head_backward(&f->head, ps, f->dx, f->probe, f->x, M, 1, f->scratch);
    CHECK(gradcheck_is_doubled(trained, ps->grad, total) && gradcheck_is_doubled(dx_trained, f->dx, M * D),
          "the head's backward does not accumulate");
    free(trained);
    free(frozen);
}

/* fc3 = 0: y = 0 is floored at ε, the logits are 0 and nothing is NaN. */
static void check_zero_row(fixture *f) {
    param_store *ps = &f->ps;
    memset(param_data(ps, f->head.fc3.weight), 0, HID * BOT * sizeof(float));
    memset(param_data(ps, f->head.fc3.bias), 0, BOT * sizeof(float));
    probe_backward(f, 1);
    int zero = 1, finite = 1;
    for (int j = 0; j < M * K; j++) zero &= f->head.logits[j] == 0.0f;
    for (size_t i = 0; i < ps->total; i++) finite &= isfinite(ps->grad[i]);
    for (int j = 0; j < M * D; j++) finite &= isfinite(f->dx[j]);
    CHECK(zero && finite, "y = 0: logits zero %d, gradients finite %d", zero, finite);
}

int main(void) {
    fixture *f = calloc(1, sizeof *f);
    param_store_init(&f->ps);
    arena_init(&f->arena);
    f->encoder = param_store_add2(&f->ps, "encoder.proj", 4, D, PARAM_MATRIX);
    int rc = dino_head_declare(&f->head, &f->ps, "dino", D, HID, BOT, K);
    if (rc == CRATE_OK) rc = param_store_alloc(&f->ps);
    if (rc == CRATE_OK) rc = dino_head_alloc(&f->head, &f->arena, M);
    if (rc == CRATE_OK) {
        f->scratch = arena_floats(&f->arena, dino_head_scratch_floats(&f->head, M));
        rc = f->scratch ? CRATE_OK : CRATE_EINTERNAL;
    }
    CHECK(rc == CRATE_OK, "build: %s", crate_errmsg());
    if (rc != CRATE_OK) return check_finish();
    check_layout(f);

    /* O(1) weights, x and probe; the encoder's tensor is not the head's input */
    gradcheck_fill(f->ps.data, f->ps.total, 5, 0.5f);
    gradcheck_fill(f->x, M * D, 6, 1.0f);
    gradcheck_fill(f->probe, M * K, 7, 1.0f);
    f->rows = M;
    check_forward(f);

    /* finite differences of Σ P ⊙ z: every tensor, then x */
    param_store_zero_grad(&f->ps);
    memset(f->dx, 0, sizeof f->dx);
    f->final_from = SIZE_MAX;
    f->ps.on_final = on_final;
    f->ps.on_final_ctx = f;
    dino_head_forward(&f->head, &f->ps, f->x, M);
    dino_head_backward(&f->head, &f->ps, f->dx, f->probe, f->x, M, 1, f->scratch);
    f->ps.on_final = NULL;
    size_t first = f->ps.tensors[f->head.fc1.weight].offset;
    CHECK(f->final_from == first && first > 0, "grads final from %zu, want %zu", f->final_from, first);
    CHECK(gradcheck_store("dino head", &f->ps, 1.0, probe_loss, f, 0), "a parameter gradient check failed");
    CHECK(gradcheck_tensor("dino head x", f->x, f->dx, M * D, probe_loss, f, 1e-3f, 3e-2, 2e-4, M * D),
          "the x gradient check failed");

    check_invariances(f);
    check_freeze_and_accumulate(f);
    check_zero_row(f);

    arena_free(&f->arena);
    param_store_free(&f->ps);
    free(f);
    return check_finish();
}
