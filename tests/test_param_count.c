/* test_param_count.c — pins the architecture: a classification-shaped CRATE
 * (patch 16, 224×224×3, learned positions, head = the encoder's final
 * LayerNorm + Linear(d, 1000) on the cls token) must have exactly the
 * parameter counts of the CRATE paper's models T/S/B/L, and CRATE-GPT-Base
 * (V 50304, T 1024, d 768, 12 heads, 12 layers, tied head, no final
 * LayerNorm) exactly 60,699,648, and the CRATE-α-B/16 classifier 72,328,936
 * (DESIGN §2). */
#include "encoders/image_encoder.h"
#include "encoders/text_encoder.h"
#include "src/error.h"
#include "tests/check.h"

static size_t count_classifier(int d, int heads, int depth, block_kind kind) {
    const int alpha = kind == BLOCK_CRATE_ALPHA;
    param_store ps;
    arena a;
    param_store_init(&ps);
    arena_init(&a);
    image_encoder enc;
    image_encoder_config cfg = {
        .embed = {.C = 3, .H = 224, .W = 224, .patch = 16, .d = d, .pos_learned = 1, .with_mask_token = 0,
                  .linear_only = alpha},
        .block = {.d = d, .heads = heads, .head_dim = d / heads, .causal = 0, .eta = 0.1f, .lambda = 0.1f,
                  .kind = kind, .expand = 4},
        .depth = depth,
    };
    int rc = image_encoder_declare(&enc, &ps, &a, "encoder", &cfg);
    linear_layer head;
    if (rc == CRATE_OK) rc = linear_layer_declare(&head, &ps, "head", d, 1000, 1);
    CHECK(rc == CRATE_OK, "declare failed: %s", crate_errmsg());
    size_t n = param_store_count(&ps);
    image_encoder_destroy(&enc);
    arena_free(&a);
    param_store_free(&ps);
    return n;
}

static size_t count_gpt_base(void) {
    param_store ps;
    param_store_init(&ps);
    text_encoder enc;
    text_encoder_config cfg = {
        .vocab = 50304, .context = 1024, .depth = 12,
        .block = {.d = 768, .heads = 12, .head_dim = 64, .causal = 1, .eta = 0.1f, .lambda = 0.1f,
                  .skip_final_norm = 1},
    };
    int rc = text_encoder_declare(&enc, &ps, "text", &cfg);
    CHECK(rc == CRATE_OK, "declare failed: %s", crate_errmsg());
    size_t n = param_store_count(&ps);
    text_encoder_destroy(&enc);
    param_store_free(&ps);
    return n;
}

int main(void) {
    size_t gpt = count_gpt_base();
    printf("CRATE-GPT-Base (V=50304, T=1024, d=768, heads=12, depth=12, tied, no final LN): %zu parameters\n", gpt);
    CHECK(gpt == 60699648, "CRATE-GPT-Base has %zu parameters, expected 60699648", gpt);
    static const struct {
        const char *name;
        int d, heads, depth;
        size_t expected;
    } sizes[] = {
        {"CRATE-T", 384, 6, 12, 6090856},
        {"CRATE-S", 576, 12, 12, 13116328},
        {"CRATE-B", 768, 12, 12, 22796008},
        {"CRATE-L", 1024, 16, 24, 77641192},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = count_classifier(sizes[i].d, sizes[i].heads, sizes[i].depth, BLOCK_CRATE);
        printf("%s (d=%d, heads=%d, depth=%d): %zu parameters\n", sizes[i].name, sizes[i].d, sizes[i].heads,
               sizes[i].depth, n);
        CHECK(n == sizes[i].expected, "%s has %zu parameters, expected %zu", sizes[i].name, n, sizes[i].expected);
    }
    /* CRATE-α-B/16: the patch embedding a Linear with bias (no LNs), O without
     * bias, D and D₁ of d×4d: per layer 10d² + 4d. */
    size_t alpha = count_classifier(768, 12, 12, BLOCK_CRATE_ALPHA);
    printf("CRATE-alpha-B/16 (d=768, heads=12, depth=12, expand 4, linear patch embedding): %zu parameters\n", alpha);
    CHECK(alpha == 72328936, "CRATE-alpha-B/16 has %zu parameters, expected 72328936", alpha);
    return check_finish();
}
