/* params.h — the flat parameter store (DESIGN §4).
 *
 * Every trainable tensor of a model lives in ONE contiguous float buffer and
 * its gradient at the same offset of a second buffer. A table of named tensors
 * (name, shape, offset, flags) describes the layout. Models are built in two
 * phases: declare every tensor (param_store_add, which returns a stable id),
 * then param_store_alloc once; afterwards param_data/param_grad give pointers.
 * Allreduce, optimizer-state sharding and checkpoints then work on ranges of
 * one buffer without knowing the model.
 */
#ifndef CRATE_PARAMS_H
#define CRATE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAM_NAME_MAX 64
#define PARAM_MAX_DIMS 4

/* Flags: whether AdamW decays the tensor, and how param_store_initialize
 * fills it. The usual combinations have names. */
enum param_flags {
    PARAM_DECAY = 1u, /* AdamW applies weight decay (matrices); not LN, biases, tokens, positions */
    PARAM_INIT_ZERO = 0u << 4,
    PARAM_INIT_ONE = 1u << 4,
    PARAM_INIT_XAVIER = 2u << 4, /* U(±√(6/(fan_in+fan_out))), fan_out = shape[0] */
    PARAM_INIT_NORMAL = 3u << 4, /* N(0, init_std²) truncated at ±2 std */
    PARAM_INIT_MASK = 0xfu << 4,

    PARAM_MATRIX = PARAM_DECAY | PARAM_INIT_XAVIER,
    PARAM_BIAS = PARAM_INIT_ZERO,
    PARAM_GAIN = PARAM_INIT_ONE,      /* LayerNorm γ */
    PARAM_EMBEDDING = PARAM_INIT_NORMAL, /* cls/mask tokens, learned positions */
};

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t offset; /* in floats, from the start of the buffer; 16-float aligned */
    size_t numel;
    unsigned flags;
    float init_std; /* PARAM_INIT_NORMAL: this tensor's std (0: the store-wide one) */
} param_tensor;

/* Called during backward with an offset x: every gradient in [x, total) is
 * final for this backward pass (see param_store_grads_final_from). */
typedef void (*param_grads_final_fn)(void *ctx, size_t first_final);

typedef struct {
    param_tensor *tensors;
    int count, cap;
    size_t total;  /* floats in the buffer, including alignment padding */
    float *data;   /* NULL until param_store_alloc */
    float *grad;   /* NULL for an untrained store (teacher, buffers) */
    param_grads_final_fn on_final; /* NULL: nobody listens */
    void *on_final_ctx;
} param_store;

void param_store_init(param_store *ps);
void param_store_free(param_store *ps);

/* Declares a tensor; returns its id (>= 0) or -1 with crate_fail set
 * (duplicate name, called after alloc, out of memory). */
int param_store_add(param_store *ps, const char *name, int ndim, const int64_t *shape, unsigned flags);
int param_store_add1(param_store *ps, const char *name, int64_t n, unsigned flags);
int param_store_add2(param_store *ps, const char *name, int64_t rows, int64_t cols, unsigned flags);

/* Makes tensor id initialise as N(0, std²) truncated at ±2 std, keeping its
 * decay flag: the GPT-style init of text models (DESIGN §2). */
void param_store_set_normal_init(param_store *ps, int id, float std);

/* Rounds the buffer length up to a multiple of `multiple` floats, so that W
 * ranks can each own an equal range (ZeRO-1); the extra floats belong to no
 * tensor and stay zero. Call before param_store_alloc. */
void param_store_pad_to(param_store *ps, size_t multiple);

/* Allocates data and grad (64-byte aligned, zeroed). */
int param_store_alloc(param_store *ps);
/* Allocates data only (grad stays NULL): a store that is saved but never
 * trained, such as non-trained buffers. */
int param_store_alloc_untrained(param_store *ps);

static inline float *param_data(const param_store *ps, int id) { return ps->data + ps->tensors[id].offset; }
static inline float *param_grad(const param_store *ps, int id) { return ps->grad + ps->tensors[id].offset; }

/* Id of the tensor with this name, or -1. */
int param_store_find(const param_store *ps, const char *name);
/* Copies every tensor of dst from the tensor of src with its name. Returns
 * −1 when all were copied, else the id in dst of the first tensor src lacks
 * (*lacking = 1) or holds in another shape (*lacking = 0); the tensors
 * before it are copied. */
int param_store_copy_by_name(param_store *dst, const param_store *src, int *lacking);

/* Sum of numel over tensors (the model's parameter count, without padding). */
size_t param_store_count(const param_store *ps);

void param_store_zero_grad(param_store *ps);

/* Backward passes run the model in reverse declaration order, so the gradient
 * buffer becomes final from its end towards its start. A model calls this
 * once the gradients of tensor `id` and of every tensor declared after it are
 * complete for the current backward pass; a listener (the bucketed gradient
 * allreduce, src/dist/grad_sync.h) can then start communicating that tail. */
static inline void param_store_grads_final_from(param_store *ps, int id) {
    if (ps->on_final) ps->on_final(ps->on_final_ctx, ps->tensors[id].offset);
}

#endif
