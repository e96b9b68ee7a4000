/* trainer.c — see trainer.h. One step s (0-based), W ranks, A micro-steps
 * per rank, each micro-batch's loss an objective_loss (sum, count):
 *   g   = Σ_ranks Σ_micro ∇sum(micro-batch) / Σ_ranks Σ_micro count
 *   loss = Σ sum / Σ count                          (the step's logged loss)
 *   g  ← g · min(1, clip / ‖g‖)
 *   θ  ← AdamW(θ, g, lr(s), t = s + 1)            (replicated or ZeRO-1, src/dist/dp_optim.h)
 * The trainer sees batches only through the objective's batch source
 * (data/batch_source.h), opened once at the step it resumes from.
 */
#include "pretrain/trainer.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/batch_source.h"
#include "pretrain/objective.h"
#include "pretrain/stop_signal.h"
#include "pretrain/weight_import.h"
#include "pretrain/whitebox_monitor.h"
#include "src/ckpt/checkpoint.h"
#include "src/dist/dp_optim.h"
#include "src/error.h"
#include "src/io/fs.h"
#include "src/dist/grad_sync.h"
#include "src/io/metrics.h"
#include "src/io/run_lock.h"
#include "src/kernels/gemm.h"
#include "src/optim/optim.h"
#include "src/nn/param_init.h"
#include "src/nn/teacher.h"

struct trainer {
    const train_config *cfg;
    const comm_info *comm;
    batch_source *source;
    objective *obj;
    param_store ps;
    dp_optimizer opt;
    grad_sync sync;
    FILE *metrics;
    int lock_fd; /* rank 0: run.dir's lock (src/io/run_lock.h), -1 elsewhere */
    char run_dir[CONFIG_STRING_MAX], ckpt_dir[CONFIG_STRING_MAX + 8];
    ckpt_options ckpt;
    int64_t first_step; /* steps already done (restored from a checkpoint) */
    double flops_per_step; /* Σ over ranks and micro-steps of the objective's FLOPs */
    int local_batch, micro_batch, micro_steps;
    whitebox_monitor whitebox; /* eval.whitebox, open on rank 0 */
};

int trainer_threads(int64_t requested, const comm_info *comm) {
    if (requested > 0) return (int)requested;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(cores / (comm->local_world > 0 ? comm->local_world : 1));
    return t > 0 ? t : 1;
}

/* Splits schedule.global_batch among the ranks and into micro-batches. */
static int split_batch(trainer *t, const config_sources *src) {
    const train_config *cfg = t->cfg;
    int64_t G = cfg->schedule.global_batch;
    if (G % t->comm->world != 0)
        return crate_fail(CRATE_EINPUT, "%s: schedule.global_batch = %lld does not divide among %d ranks "
                          "(choose a multiple of %d)", config_where(src, "schedule.global_batch"), (long long)G,
                          t->comm->world, t->comm->world);
    t->local_batch = (int)(G / t->comm->world);
    t->micro_batch = cfg->schedule.micro_batch > 0 ? (int)cfg->schedule.micro_batch : t->local_batch;
    if (t->local_batch % t->micro_batch != 0)
        return crate_fail(CRATE_EINPUT, "%s: schedule.micro_batch = %d does not divide the %d samples of each rank "
                          "(global_batch %lld over %d ranks)", config_where(src, "schedule.micro_batch"),
                          t->micro_batch, t->local_batch, (long long)G, t->comm->world);
    t->micro_steps = t->local_batch / t->micro_batch;
    return CRATE_OK;
}

/* The objective's batches for this rank from the resumed step on. */
static int open_source(trainer *t, const config_sources *src) {
    const train_config *cfg = t->cfg;
    batch_source_config bc = {
        .path = cfg->data.train, .seed = (uint64_t)cfg->run.seed, .global_batch = cfg->schedule.global_batch,
        .rank_offset = (int64_t)t->comm->rank * t->local_batch, .local_batch = t->local_batch,
        .first_step = t->first_step, .prefetch = (int)cfg->data.prefetch,
        .cache_bytes = (size_t)cfg->data.cache_mb << 20,
    };
    int rc = t->obj->ops->open_source(t->obj, &bc, &t->source);
    if (rc != CRATE_OK)
        return crate_fail_context(rc, "%s: data.train", config_where(src, "data.train"));
    return CRATE_OK;
}

/* Parameters from init.from on top of the seed's (every rank reads the file,
 * so all start equal); rank 0 says what came from where. */
static int import_weights(trainer *t) {
    weight_import_report rep;
    int rc = weight_import(t->cfg->init.from, &t->ps, t->cfg, &rep);
    if (rc == CRATE_OK && t->comm->rank == 0) {
        printf("init.from: %d tensors from %s (%s names)", rep.loaded, t->cfg->init.from,
               rep.official ? "official CRATE" : "crate");
        if (rep.skipped) printf("; %d in the file are not in this model (%s)", rep.skipped, rep.skipped_names);
        if (rep.kept) printf("; %d keep their random init (%s)", rep.kept, rep.kept_names);
        printf("\n");
    }
    return rc;
}

/* Fresh values of everything a checkpoint would restore: parameters from the
 * seed (and with from_file, init.from's), a teacher equal to them, buffers as
 * declared, zero AdamW moments. */
static int initialize_state(trainer *t, int from_file) {
    uint64_t seed = (uint64_t)t->cfg->run.seed;
    float std = (float)t->cfg->model.init_std;
    param_store_initialize(&t->ps, seed, std);
    int rc = from_file && t->cfg->init.from[0] ? import_weights(t) : CRATE_OK;
    if (t->obj->teacher) memcpy(t->obj->teacher->data, t->ps.data, t->ps.total * sizeof(float));
    if (t->obj->buffers) param_store_initialize(t->obj->buffers, seed, std);
    dp_optimizer_reset(&t->opt);
    return rc;
}

static int build_model(trainer *t, const config_sources *src, objective_factory make) {
    param_store_init(&t->ps);
    int rc = make(&t->obj, t->cfg, t->micro_batch, &t->ps);
    if (rc != CRATE_OK)
        return rc == CRATE_EINPUT ? crate_fail_context(rc, "%s: data.train", config_where(src, "data.train")) : rc;
    param_store_pad_to(&t->ps, (size_t)t->comm->world);
    rc = param_store_alloc(&t->ps);
    if (rc == CRATE_OK && t->obj->teacher) rc = teacher_store_init(t->obj->teacher, &t->ps);
    if (rc == CRATE_OK && t->obj->buffers) {
        param_store_pad_to(t->obj->buffers, (size_t)t->comm->world);
        rc = param_store_alloc_untrained(t->obj->buffers);
    }
    if (rc != CRATE_OK) return rc;
    const train_dist_config *dist = &t->cfg->dist;
    rc = grad_sync_init(&t->sync, &t->ps, t->comm, (int)dist->zero, dist->overlap,
                        (size_t)(dist->bucket_mb * (1 << 20) / sizeof(float)));
    if (rc == CRATE_OK) rc = dp_optimizer_init(&t->opt, &t->ps, t->comm, (int)dist->zero);
    if (rc == CRATE_OK) rc = initialize_state(t, 0);
    if (rc != CRATE_OK) return rc;
    t->flops_per_step = t->obj->ops->flops_per_batch(t->obj) * t->micro_steps * t->comm->world;
    return CRATE_OK;
}

/* Lines of metrics.jsonl for steps up to `keep` (a resumed run rewrites the
 * steps after its checkpoint, so each step appears once). */
static int trim_metrics(const char *path, int64_t keep) {
    char *text;
    size_t len;
    if (keep <= 0 || fs_read_file(path, &text, &len) != CRATE_OK) return CRATE_OK; /* nothing to keep */
    char *end = text;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        long long step = -1;
        if (!nl || sscanf(line, "{\"step\":%lld", &step) != 1 || step > keep) break;
        end = line = nl + 1;
    }
    fs_part kept = {text, (size_t)(end - text)};
    int rc = fs_write_atomic(path, &kept, 1);
    free(text);
    return rc;
}

static int open_metrics(trainer *t) {
    if (t->comm->rank != 0) return CRATE_OK;
    char path[CONFIG_STRING_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->run_dir);
    int rc = trim_metrics(path, t->first_step);
    if (rc != CRATE_OK) return rc;
    t->metrics = fopen(path, t->first_step > 0 ? "a" : "w");
    return t->metrics ? CRATE_OK : crate_fail(CRATE_EINPUT, "run.dir: cannot write '%s'", path);
}

/* The objective's attached files (a tokenizer) go into every checkpoint. */
static ckpt_meta checkpoint_meta(const trainer *t, int64_t step, const char *config) {
    return (ckpt_meta){step, t->cfg->run.seed, t->cfg->schedule.global_batch, config, t->obj->files, t->obj->nfiles};
}

/* The model's state as checkpoint sections (src/ckpt/checkpoint.h). */
static ckpt_state checkpoint_state(trainer *t) {
    return (ckpt_state){&t->ps, &t->opt, t->obj->teacher, t->obj->buffers};
}

/* Restores the newest usable checkpoint (checkpoint.resume); a run with none
 * starts at step 0. Collective. */
static int resume(trainer *t, const config_sources *src) {
    const train_config *cfg = t->cfg;
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/ckpt", t->run_dir);
    t->ckpt = (ckpt_options){t->ckpt_dir, "crate-pretrain", (int)cfg->checkpoint.keep_last, (int)cfg->checkpoint.level};
    ckpt_meta expect = checkpoint_meta(t, 0, NULL);
    ckpt_state state = checkpoint_state(t);
    int64_t step;
    int dirty;
    int rc = checkpoint_resume(&t->ckpt, t->comm, cfg->checkpoint.resume, &state, &expect, &step, &dirty);
    if (rc != CRATE_OK)
        return crate_fail_context(rc, "checkpoint.resume=%s (%s)", cfg->checkpoint.resume,
                                  config_where(src, "checkpoint.resume"));
    /* A fresh start: init.from's weights, or clean ones after a damaged
     * candidate was partly read. Every rank must load the file, or none. */
    if (step < 0 && (dirty || cfg->init.from[0])) rc = comm_agree_message(t->comm, initialize_state(t, 1));
    if (rc != CRATE_OK) return rc;
    if (step > cfg->schedule.steps)
        return crate_fail(CRATE_EINPUT, "%s: the checkpoint is at step %lld, beyond schedule.steps = %lld",
                          config_where(src, "schedule.steps"), (long long)step, (long long)cfg->schedule.steps);
    t->first_step = step > 0 ? step : 0;
    return CRATE_OK;
}

int trainer_setup(trainer **out, const train_config *cfg, const config_sources *src, const comm_info *comm,
                  objective_factory make) {
    trainer *t = crate_calloc(1, sizeof *t, "trainer");
    if (!t) return CRATE_EINTERNAL;
    t->cfg = cfg;
    t->comm = comm;
    t->lock_fd = -1;
    *out = t;
    snprintf(t->run_dir, sizeof t->run_dir, "%s", cfg->run.dir);
    int threads = trainer_threads(cfg->dist.threads_per_rank, comm);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    int rc = gemm_select((gemm_backend)cfg->compute.gemm, (gemm_precision)cfg->compute.precision);
    if (rc != CRATE_OK)
        rc = crate_fail_context(rc, "%s", config_where(src, cfg->compute.precision == GEMM_BF16 ? "compute.precision"
                                                                                                  : "compute.gemm"));
    if (rc == CRATE_OK) rc = split_batch(t, src);
    if (rc == CRATE_OK) rc = build_model(t, src, make);
    if (rc == CRATE_OK) rc = comm_agree_message(comm, whitebox_monitor_open(&t->whitebox, cfg, comm->rank));
    if (rc == CRATE_OK && comm->rank == 0 && (rc = fs_mkdir_p(t->run_dir)) != CRATE_OK)
        rc = crate_fail_context(rc, "%s: run.dir", config_where(src, "run.dir"));
    /* Before anything in the folder is read or changed (resume sets damaged
     * checkpoints aside): one trainer per run.dir. */
    if (rc == CRATE_OK && comm->rank == 0) rc = run_lock_take(t->run_dir, "crate-pretrain", &t->lock_fd);
    /* Resuming is collective: every rank must get there, or none. */
    rc = comm_agree_message(comm, rc);
    if (rc == CRATE_OK) rc = resume(t, src);
    if (rc == CRATE_OK) rc = comm_agree_message(comm, open_source(t, src));
    if (rc == CRATE_OK) rc = open_metrics(t);
    if (rc == CRATE_OK && comm->rank == 0)
        printf("crate-pretrain: %s objective, %zu parameters, %d ranks x %d threads, batch %lld (%d per rank in %d "
               "micro-steps), ZeRO-%d, %llu training samples, GEMMs %s %s (OpenBLAS core %s), starting at step %lld\n",
               t->obj->ops->name, param_store_count(&t->ps), comm->world, threads,
               (long long)cfg->schedule.global_batch, t->local_batch, t->micro_steps, t->opt.zero,
               (unsigned long long)t->source->samples, gemm_backend_name(gemm_current_backend()),
               gemm_precision_name(gemm_current_precision()), openblas_get_corename(), (long long)t->first_step);
    return rc;
}

static void arm_sync(void *ctx) {
    trainer *t = ctx;
    grad_sync_arm(&t->sync, &t->ps);
}

/* Forward and backward over this rank's micro-steps; gradients accumulate
 * locally and only the last micro-step's last backward sends them (its
 * buckets overlap its layers); afterwards ps->grad holds the sum over ranks,
 * *loss the step's (sum, count) over all ranks, and *stop is set on every
 * rank if any rank received a stop signal (one reduction for all three). */
static int accumulate_gradients(trainer *t, const void *batch, objective_loss *loss, int *stop) {
    objective_loss local = {0, 0};
    objective_arm arm = {arm_sync, t, 0};
    for (int m = 0; m < t->micro_steps; m++) {
        const void *micro = batch_source_micro(t->source, batch, m * t->micro_batch, t->micro_batch);
        objective_loss l = {0, 0};
        arm.armed_here = m == t->micro_steps - 1;
        int rc = t->obj->ops->forward_backward(t->obj, &t->ps, micro, &arm, &l);
        if (rc != CRATE_OK) return rc;
        local.sum += l.sum;
        local.count += l.count;
    }
    int rc = grad_sync_finish(&t->sync, &t->ps);
    if (rc != CRATE_OK) return rc;
    double shared[3] = {local.sum, local.count, stop_signal_received() != 0};
    if (t->comm->world > 1) comm_sum_doubles(shared, 3);
    *loss = (objective_loss){shared[0], shared[1]};
    *stop = shared[2] > 0;
    return CRATE_OK;
}

typedef struct {
    double loss_sum, start, window_start;
    int64_t window_steps;
} progress;

static int report(trainer *t, progress *p, int64_t step, double lr, double norm) {
    const train_config *cfg = t->cfg;
    double now = fs_now(), window = now - p->window_start;
    double ms = 1e3 * window / (double)p->window_steps;
    /* The ETA extrapolates this process's own steps: after a resume the
     * steps restored from the checkpoint took no time here. */
    double steps_here = (double)(step + 1 - t->first_step);
    metrics_values extra = {0};
    if (t->obj->ops->step_metrics) t->obj->ops->step_metrics(t->obj, &extra);
    metrics_record r = {
        .step = step + 1, .total_steps = cfg->schedule.steps, .loss = p->loss_sum / (double)p->window_steps,
        .lr = lr, .grad_norm = norm,
        .samples_per_s = (double)cfg->schedule.global_batch * t->source->units_per_sample *
                         (double)p->window_steps / window,
        .ms_per_step = ms, .comm_wait_ms = 1e3 * t->sync.wait_s / (double)p->window_steps,
        .comm_early = t->sync.floats_synced > 0 ? t->sync.floats_early / t->sync.floats_synced : -1.0,
        .gflops = t->flops_per_step / (ms * 1e6), .elapsed_s = now - p->start,
        .eta_s = (double)(cfg->schedule.steps - step - 1) * (now - p->start) / steps_here, .extra = &extra,
    };
    p->loss_sum = 0;
    p->window_steps = 0;
    t->sync.wait_s = 0;
    t->sync.floats_synced = t->sync.floats_early = 0;
    p->window_start = now;
    if (t->comm->rank != 0) return CRATE_OK;
    metrics_print_progress(stdout, &r, t->source->unit);
    return metrics_write_json(t->metrics, &r);
}

/* The objective's evaluation, then (rank 0) eval.whitebox on the weights it
 * evaluates: the teacher if the objective keeps one. */
static int evaluate(trainer *t, int64_t done) {
    double start = fs_now();
    objective_eval ev = {0};
    int rc = t->obj->ops->evaluate(t->obj, &t->ps, t->comm, &ev);
    if (rc == CRATE_OK && t->comm->rank == 0) {
        printf("eval step %lld | %s (%.1f s)\n", (long long)done, ev.summary, fs_now() - start);
        rc = metrics_write_eval(t->metrics, done, &ev.values, fs_now() - start);
        if (rc == CRATE_OK)
            rc = whitebox_monitor_report(&t->whitebox, t->obj->teacher ? t->obj->teacher : &t->ps, done, t->metrics);
    }
    return comm_agree_message(t->comm, rc);
}

static int save(trainer *t, int64_t done) {
    char *config = train_config_yaml(t->cfg);
    if (!config) return CRATE_EINTERNAL;
    ckpt_meta meta = checkpoint_meta(t, done, config);
    double start = fs_now();
    ckpt_state state = checkpoint_state(t);
    int rc = checkpoint_save(&t->ckpt, t->comm, &state, &meta);
    free(config);
    if (rc == CRATE_OK && t->comm->rank == 0)
        printf("crate-pretrain: checkpoint step-%06lld saved in %.2f s\n", (long long)done, fs_now() - start);
    return rc;
}

int trainer_train(trainer *t, int *exit_status) {
    const train_config *cfg = t->cfg;
    adamw_config opt = {(float)cfg->optim.beta1, (float)cfg->optim.beta2, (float)cfg->optim.eps,
                        (float)cfg->optim.weight_decay};
    lr_schedule sched = {(float)cfg->optim.lr, (float)cfg->optim.min_lr, cfg->schedule.warmup_steps,
                         cfg->schedule.steps};
    progress p = {0, fs_now(), fs_now(), 0};
    *exit_status = 0;
    /* A signal during start-up (data, model, resume): nothing trained since
     * the checkpoint it resumed from, so nothing to save; every rank agrees. */
    double signalled = stop_signal_received() != 0;
    if (t->comm->world > 1) comm_sum_doubles(&signalled, 1);
    if (signalled > 0) {
        if (t->comm->rank == 0)
            printf("crate-pretrain: stopped by a signal while starting, before step %lld: nothing new to save; exit "
                   "status %d asks to be requeued, and the same command %s%s\n", (long long)t->first_step + 1,
                   STOP_SIGNAL_EXIT_REQUEUE, t->first_step > 0 ? "resumes from " : "starts the run again",
                   t->first_step > 0 ? t->ckpt_dir : "");
        *exit_status = STOP_SIGNAL_EXIT_REQUEUE;
        return CRATE_OK;
    }
    if (cfg->run.stop_after > 0 && t->first_step >= cfg->run.stop_after && t->first_step < cfg->schedule.steps) {
        if (t->comm->rank == 0)
            printf("crate-pretrain: already at step %lld, where run.stop_after = %lld stops; nothing to do (the "
                   "same command without it resumes from %s)\n", (long long)t->first_step,
                   (long long)cfg->run.stop_after, t->ckpt_dir);
        return CRATE_OK;
    }
    for (int64_t step = t->first_step; step < cfg->schedule.steps; step++) {
        const void *batch;
        int rc = batch_source_next(t->source, &batch);
        if (rc != CRATE_OK) return rc;
        step_settings settings = {(float)cfg->optim.weight_decay};
        if (t->obj->ops->begin_step) t->obj->ops->begin_step(t->obj, step, cfg->schedule.steps, &settings);
        opt.weight_decay = settings.weight_decay;
        param_store_zero_grad(&t->ps);
        objective_loss l;
        double norm;
        int stop;
        rc = accumulate_gradients(t, batch, &l, &stop);
        if (rc != CRATE_OK) return rc;
        if (!(l.count > 0))
            return crate_fail(CRATE_EINTERNAL, "step %lld: the %s objective scored no element in the whole batch",
                              (long long)step + 1, t->obj->ops->name);
        double loss = l.sum / l.count;
        if (!isfinite(loss))
            return crate_fail(CRATE_EINPUT, "step %lld: the loss is %g; lower optim.lr or raise schedule.warmup_steps",
                              (long long)step + 1, loss);
        float lr = lr_schedule_at(&sched, step);
        dp_optimizer_step(&t->opt, &t->ps, (float)(1.0 / l.count), (float)cfg->optim.clip, step + 1, lr, &opt,
                          &norm);
        if (t->obj->ops->after_step && (rc = t->obj->ops->after_step(t->obj, &t->ps, t->comm)) != CRATE_OK)
            return rc;
        p.loss_sum += loss;
        p.window_steps++;
        int64_t done = step + 1;
        int last = done == cfg->schedule.steps, halt = cfg->run.stop_after > 0 && done >= cfg->run.stop_after;
        if (done % cfg->log.every == 0 || last || stop || halt) {
            rc = report(t, &p, step, lr, norm);
            if (rc != CRATE_OK) return rc;
        }
        if (cfg->eval.every > 0 && t->obj->ops->evaluate && (done % cfg->eval.every == 0 || last)) {
            rc = evaluate(t, done);
            if (rc != CRATE_OK) return rc;
        }
        if (last || stop || halt || (cfg->checkpoint.every > 0 && done % cfg->checkpoint.every == 0)) {
            rc = save(t, done);
            if (rc != CRATE_OK) { /* agreed by every rank: one clean message, no abort */
                if (t->comm->rank == 0) fprintf(stderr, "crate-pretrain: %s\n", crate_errmsg());
                *exit_status = rc;
                return CRATE_OK;
            }
        }
        if (stop && !last) {
            if (t->comm->rank == 0)
                printf("crate-pretrain: stopped by a signal after step %lld; exit status %d asks to be requeued, and "
                       "the same command resumes from %s\n", (long long)done, STOP_SIGNAL_EXIT_REQUEUE, t->ckpt_dir);
            *exit_status = STOP_SIGNAL_EXIT_REQUEUE;
            return CRATE_OK;
        }
        if (halt && !last) {
            if (t->comm->rank == 0)
                printf("crate-pretrain: stopped after step %lld as run.stop_after asks; the same command without it "
                       "resumes from %s\n", (long long)done, t->ckpt_dir);
            return CRATE_OK;
        }
    }
    if (t->comm->rank == 0) printf("crate-pretrain: done; final checkpoint in %s\n", t->ckpt_dir);
    return CRATE_OK;
}

void trainer_destroy(trainer *t) {
    if (!t) return;
    batch_source_close(t->source);
    objective_destroy(t->obj);
    whitebox_monitor_close(&t->whitebox);
    param_store_free(&t->ps);
    dp_optimizer_free(&t->opt);
    grad_sync_free(&t->sync);
    if (t->metrics) fclose(t->metrics);
    run_lock_release(t->lock_fd);
    free(t);
}
