/* teacher.c — see teacher.h. */
#include "src/nn/teacher.h"

#include <string.h>

#include "src/error.h"

int teacher_store_init(param_store *teacher, const param_store *student) {
    param_store_init(teacher);
    teacher->tensors = crate_malloc((size_t)student->count * sizeof *teacher->tensors, "teacher tensor table");
    if (!teacher->tensors) return CRATE_EINTERNAL;
    memcpy(teacher->tensors, student->tensors, (size_t)student->count * sizeof *teacher->tensors);
    teacher->count = teacher->cap = student->count;
    teacher->total = student->total;
    int rc = param_store_alloc_untrained(teacher);
    if (rc == CRATE_OK) memcpy(teacher->data, student->data, student->total * sizeof(float));
    return rc;
}

void teacher_store_ema(param_store *teacher, const param_store *student, float momentum) {
    float *t = teacher->data;
    const float *s = student->data;
    float keep = momentum, take = 1.0f - momentum;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < teacher->total; i++) t[i] = keep * t[i] + take * s[i];
}
