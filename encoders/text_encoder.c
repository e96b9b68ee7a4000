/* text_encoder.c — see text_encoder.h. */
#include "encoders/text_encoder.h"

#include <math.h>
#include <string.h>

#include "encoders/encoder_block.h"
#include "src/error.h"
#include "src/kernels/kernels.h"

/* GPT-2 init of the layers: U ~ N(0, 0.02²), O ~ N(0, (0.02/√(2L))²); CRATE-α's
 * D as U and D₁ as O. */
static void init_like_gpt2(text_encoder *e, param_store *ps) {
    float out_std = TEXT_INIT_STD / sqrtf(2.0f * (float)(e->stack.depth > 0 ? e->stack.depth : 1));
    for (int i = 0; i < e->stack.depth; i++) {
        const encoder_block *b = block_stack_at(&e->stack, i);
        param_store_set_normal_init(ps, b->mssa.proj_u.weight, TEXT_INIT_STD);
        param_store_set_normal_init(ps, b->mssa.proj_o.weight, out_std);
        if (b->kind == BLOCK_CRATE_ALPHA) { /* D reads the stream like U; D₁ writes to it like O */
            param_store_set_normal_init(ps, b->alpha.dict, TEXT_INIT_STD);
            param_store_set_normal_init(ps, b->alpha.out_dict, out_std);
        }
    }
}

int text_encoder_declare(text_encoder *e, param_store *ps, const char *prefix, const text_encoder_config *cfg) {
    memset(e, 0, sizeof *e);
    e->V = cfg->vocab;
    e->T_max = cfg->context;
    e->d = cfg->block.d;
    char buf[PARAM_NAME_MAX];
    e->wte = param_store_add2(ps, layer_name(buf, prefix, "wte"), e->V, e->d, PARAM_EMBEDDING);
    e->wpe = param_store_add2(ps, layer_name(buf, prefix, "wpe"), e->T_max, e->d, PARAM_EMBEDDING);
    if (e->wte < 0 || e->wpe < 0) return CRATE_EINTERNAL;
    param_store_set_normal_init(ps, e->wte, TEXT_INIT_STD);
    param_store_set_normal_init(ps, e->wpe, TEXT_INIT_STD);
    int rc = encoder_stack_declare(&e->stack, ps, layer_name(buf, prefix, "layers"), cfg->depth, &cfg->block);
    if (rc == CRATE_OK) init_like_gpt2(e, ps);
    return rc;
}

int text_encoder_alloc(text_encoder *e, arena *a, int B, int T) {
    e->tokens = arena_floats(a, (size_t)B * T * e->d);
    if (!e->tokens) return CRATE_EINTERNAL;
    return block_stack_alloc(&e->stack, a, B, T);
}

void text_encoder_destroy(text_encoder *e) { block_stack_destroy(&e->stack); }

void text_encoder_forward(text_encoder *e, const param_store *ps, const int32_t *ids, int B, int T) {
    embedding_forward(e->tokens, ids, param_data(ps, e->wte), param_data(ps, e->wpe), B, T, e->d);
    block_stack_forward(&e->stack, ps, e->tokens, B, T);
}

const float *text_encoder_output(const text_encoder *e) { return block_stack_output(&e->stack, e->tokens); }

size_t text_encoder_scratch_floats(const text_encoder *e, int B, int T) {
    return (size_t)B * T * e->d + block_stack_scratch_floats(&e->stack, B, T);
}

void text_encoder_backward(text_encoder *e, param_store *ps, const float *dout, const int32_t *ids, int B, int T,
                           float *scratch) {
    size_t n = (size_t)B * T * e->d;
    float *dtokens = scratch, *inner = scratch + n;
    memset(dtokens, 0, n * sizeof(float));
    block_stack_backward(&e->stack, ps, dtokens, dout, e->tokens, inner, B, T);
    embedding_backward(param_grad(ps, e->wte), param_grad(ps, e->wpe), dtokens, ids, B, T, e->d);
    param_store_grads_final_from(ps, e->wte); /* wte and wpe come first: now everything is final */
}

double text_encoder_flops(const text_encoder *e, int B, int T) { return block_stack_flops(&e->stack, B, T); }
