/* test_dino_grad.c — finite-difference check of the whole CRATE-DINO student
 * through the objective: patch embedding, cls token and sin-cos positions of
 * two grids (global 8×8 and local 4×4 views, patch 4), the encoder on both
 * activation sets, the cls routing in sample order, the projection head and
 * the loss over pairs of different views against a FIXED teacher (its own
 * weights, a non-zero center): every tensor of the trained store. The loss
 * checked is sum/count as the objective reports it (objective.h), with the
 * head on the cls token and on the mean of the patch tokens; the
 * temperatures are raised (teacher 0.5, student 0.3) so that the loss is
 * smooth at the difference step. Also: the teacher and center stay
 * untouched by forward_backward, and frozen prototypes get no gradient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/multicrop_source.h"
#include "pretrain/objective.h"
#include "src/error.h"
#include "src/nn/teacher.h"
#include "tests/check.h"
#include "tests/gradcheck_store.h"

enum { BATCH = 2, G = 2, L = 2, GS = 8, LS = 4 };

typedef struct {
    objective *obj;
    param_store ps;
    multicrop_batch batch;
    double count;
} fixture;

static double model_loss(void *ctx) {
    fixture *f = ctx;
    objective_loss loss = {0, 0};
    f->obj->ops->forward_backward(f->obj, &f->ps, &f->batch, NULL, &loss);
    f->count = loss.count;
    return loss.sum / loss.count;
}

static void check_model(const char *head_input) {
    char input[64];
    snprintf(input, sizeof input, "dino.head_input=%s", head_input);
    char *overrides[] = {"data.train=unused", "objective.name=dino", "model.dim=8", "model.heads=2", "model.depth=1",
                         "model.patch=4", "dino.global_size=8", "dino.local_size=4", "dino.local_crops=2",
                         "dino.out_dim=6", "dino.hidden_dim=5", "dino.bottleneck_dim=4", "dino.teacher_temp=0.5",
                         "dino.warmup_teacher_temp=0.5", "dino.student_temp=0.3", "dino.freeze_last_layer=2", input};
    train_config cfg;
    config_sources src = {0};
    int rc = train_config_load(&cfg, &src, NULL, (int)(sizeof overrides / sizeof *overrides), overrides);
    CHECK(rc == CRATE_OK, "config: %s", crate_errmsg());
    if (rc != CRATE_OK) return;
    fixture f;
    memset(&f, 0, sizeof f);
    param_store_init(&f.ps);
    data_shape shape = {1, 28, 28};
    rc = dino_objective_create(&f.obj, &cfg, &shape, BATCH, &f.ps);
    if (rc == CRATE_OK) rc = param_store_alloc(&f.ps);
    objective *o = f.obj;
    if (rc == CRATE_OK) rc = teacher_store_init(o->teacher, &f.ps);
    if (rc == CRATE_OK) rc = param_store_alloc_untrained(o->buffers);
    CHECK(rc == CRATE_OK, "build: %s", crate_errmsg());
    if (rc != CRATE_OK) return;
    gradcheck_fill(f.ps.data, f.ps.total, 3, 0.5f);
    for (int id = 0; id < f.ps.count; id++)
        if ((f.ps.tensors[id].flags & PARAM_INIT_MASK) == PARAM_INIT_ONE)
            for (size_t i = 0; i < f.ps.tensors[id].numel; i++) param_data(&f.ps, id)[i] += 1.0f;
    /* The teacher: other weights of the same layout; the center: not zero. */
    for (size_t i = 0; i < f.ps.total; i++) o->teacher->data[i] = f.ps.data[i] * 0.8f + 0.05f * (float)(i % 7 == 0);
    gradcheck_fill(o->buffers->data, o->buffers->total, 5, 0.3f);

    static float global[BATCH * G * GS * GS], local[BATCH * L * LS * LS];
    gradcheck_fill(global, sizeof global / sizeof *global, 7, 1.0f);
    gradcheck_fill(local, sizeof local / sizeof *local, 9, 1.0f);
    f.batch = (multicrop_batch){.n = BATCH, .C = 1, .global_crops = G, .local_crops = L, .global_size = GS,
                                .local_size = LS, .global = global, .local = local};
    size_t bytes = f.ps.total * sizeof(float), buf_bytes = o->buffers->total * sizeof(float);
    float *teacher0 = malloc(bytes), *center0 = malloc(buf_bytes);
    memcpy(teacher0, o->teacher->data, bytes);
    memcpy(center0, o->buffers->data, buf_bytes);

    step_settings settings = {0.04f};
    o->ops->begin_step(o, 5, 10, &settings); /* past freeze_last_layer: the prototypes train */
    param_store_zero_grad(&f.ps);
    model_loss(&f);
    CHECK(f.count == BATCH * (G * (G + L) - G), "count %g: samples x pairs of different views", f.count);
    char label[64];
    snprintf(label, sizeof label, "dino head_input %s", head_input);
    CHECK(gradcheck_store(label, &f.ps, f.count, model_loss, &f, 1), "%s: a gradient check failed", head_input);
    CHECK(gradcheck_store_bf16(label, &f.ps, f.count, model_loss, &f), "%s: the bf16 gradient is off", head_input);
    CHECK(!memcmp(teacher0, o->teacher->data, bytes), "forward_backward changed the teacher");
    CHECK(!memcmp(center0, o->buffers->data, buf_bytes), "forward_backward changed the center");

    int proto = param_store_find(&f.ps, "head.prototypes");
    o->ops->begin_step(o, 1, 10, &settings); /* step 1 < freeze_last_layer = 2 */
    param_store_zero_grad(&f.ps);
    model_loss(&f);
    float big = 0.0f;
    for (size_t i = 0; i < f.ps.tensors[proto].numel; i++) big = fmaxf(big, fabsf(param_grad(&f.ps, proto)[i]));
    CHECK(proto >= 0 && big == 0.0f, "frozen prototypes got a gradient (max %g)", big);
    CHECK(settings.weight_decay > 0.04f && settings.weight_decay < 0.4f, "weight decay %g: on the cosine from "
          "optim.weight_decay 0.05 to dino.weight_decay_end 0.4", settings.weight_decay);
    free(teacher0);
    free(center0);
    objective_destroy(f.obj);
    param_store_free(&f.ps);
    config_sources_free(&src);
}

int main(void) {
    check_model("cls");
    check_model("mean");
    return check_finish();
}
