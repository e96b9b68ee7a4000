/* embedding.c — the token + learned-position embedding of kernels.h (the
 * input layer of CRATE-GPT and CRATE-BERT, DESIGN §2), for B sequences of T
 * tokens with ids (B·T) in [0,V):
 *
 *   out[b,t] = wte[ids[b,t]] + wpe[t]               wte (V,C), wpe (T_max ≥ T, C)
 *   dwte[v] += Σ_{(b,t): ids[b,t] = v} dout[b,t]    dwpe[t] += Σ_b dout[b,t]
 *
 * The backward is a scatter-add: several rows of dout land on the same row
 * of dwte (a repeated token), so splitting ROWS over threads would need
 * atomics or per-thread copies of dwte, and either way the order in which a
 * row of dwte collects its terms would follow the thread schedule. Instead
 * the threads split the CHANNELS: each owns a contiguous range of columns
 * (cut at cache-line multiples so no two threads write one line) and walks
 * all B·T rows in order. Every element of dwte and dwpe is then summed by one
 * thread in row order (b,t) = (0,0), (0,1), …, whatever the thread count, so
 * the result is bitwise the same on 1 or n threads. Each thread still reads
 * only its own columns of dout, so the memory traffic is one pass.
 *
 * ids outside [0,V) are a caller bug (V is not even passed): the data layer
 * checks every id against the vocabulary when it reads a shard.
 */
#include "src/kernels/kernels.h"

#include <omp.h>
#include <string.h>

/* Channel ranges are multiples of 16 floats (one 64-byte cache line). */
#define EMBEDDING_CHANNEL_ALIGN 16

void embedding_forward(float *out, const int32_t *ids, const float *wte, const float *wpe,
                       int B, int T, int C) {
    const int BT = B * T;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < BT; r++) {
        float *o = out + (size_t)r * C;
        const float *tok = wte + (size_t)ids[r] * C;
        if (wpe) {
            const float *pos = wpe + (size_t)(r % T) * C;
            for (int c = 0; c < C; c++) o[c] = tok[c] + pos[c];
        } else {
            memcpy(o, tok, (size_t)C * sizeof *o);
        }
    }
}

void embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                        int B, int T, int C) {
    if (!dwte && !dwpe) return;
    const int BT = B * T;
    const int lines = (C + EMBEDDING_CHANNEL_ALIGN - 1) / EMBEDDING_CHANNEL_ALIGN;
#pragma omp parallel
    {
        const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        int c0 = (int)((long)lines * tid / nth) * EMBEDDING_CHANNEL_ALIGN;
        int c1 = (int)((long)lines * (tid + 1) / nth) * EMBEDDING_CHANNEL_ALIGN;
        c1 = c1 < C ? c1 : C;
        for (int r = 0; r < BT && c0 < c1; r++) {
            const float *d = dout + (size_t)r * C;
            if (dwte) {
                float *g = dwte + (size_t)ids[r] * C;
                for (int c = c0; c < c1; c++) g[c] += d[c];
            }
            if (dwpe) {
                float *g = dwpe + (size_t)(r % T) * C;
                for (int c = c0; c < c1; c++) g[c] += d[c];
            }
        }
    }
}
