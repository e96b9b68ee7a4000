/* dispatch.h — run-time CPU dispatch for crate's own hot loops.
 *
 * Defines: KERNEL_DISPATCH, put before the definition of a kernel (a whole
 * pass over a tensor: layernorm_forward, attention_backward, ...) whose inner
 * loops vectorize. With GCC's function multiversioning it compiles the
 * function three times, for the x86-64 baseline (SSE2), x86-64-v3 (AVX2,
 * FMA; Haswell and later) and x86-64-v4 (AVX-512), and the dynamic loader
 * picks one per process through an ifunc resolver that asks the CPU (cpuid,
 * once). So the portable default build (CRATE_NATIVE=OFF, no -march) still
 * runs these loops with the vectors of the node it lands on. The GEMMs need
 * none of this: OpenBLAS dispatches on the CPU itself.
 *
 * Dispatch a whole pass, not a per-row helper: a call goes through the
 * resolver's pointer and is never inlined. Helpers the pass calls per row
 * are KERNEL_INLINE, so every clone inlines them compiled for its target; an
 * OpenMP loop in the pass is cloned with it (GCC outlines the loop body first
 * and dispatches that the same way). Measured on configs (a) and (b) of
 * crate-bench, dispatching the per-row helpers themselves cost 20% of (a)'s
 * step against -march=native; dispatching the passes costs a few percent.
 *
 * Numerics: the v3 and v4 clones may contract a·b + c into one FMA (one
 * rounding instead of two), as a -march=native build does; no reduction is
 * reassociated. Runs agree bit for bit on one kind of CPU; a job whose ranks
 * land on different CPU types agrees to float rounding (DESIGN §5's 1e-4).
 *
 * It expands to nothing when
 *   - CRATE_NATIVE is defined (-DCRATE_NATIVE=ON: everything is already
 *     compiled for this CPU with -march=native);
 *   - the target is not x86-64 Linux with glibc (ifunc is an ELF/glibc
 *     feature), or the compiler lacks target_clones;
 *   - the compiler is clang (the fuzzing build, tests/fuzz/): clang 14 names
 *     the clones and their resolver differently from GCC and wants the
 *     attribute on every declaration, so callers in other files would not
 *     link; that build runs the baseline loops.
 * Sanitizer builds keep it: ASan and UBSan run the resolvers fine (checked
 * with GCC 12, -fsanitize=address,undefined).
 */
#ifndef CRATE_KERNELS_DISPATCH_H
#define CRATE_KERNELS_DISPATCH_H

#if !defined(CRATE_NATIVE) && !defined(__clang__) && defined(__x86_64__) && defined(__gnu_linux__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define KERNEL_DISPATCH __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#endif
#endif

#ifndef KERNEL_DISPATCH
#define KERNEL_DISPATCH
#endif

/* A per-row helper of a dispatched kernel: always inlined, so each clone of
 * the kernel gets it compiled for its own target (a separate function would
 * stay baseline code, or pay the resolver's indirect call per row). */
#define KERNEL_INLINE static inline __attribute__((always_inline))

#endif
