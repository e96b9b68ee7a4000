/* teacher.h — a teacher store (DESIGN §4): a second parameter store with the
 * student's layout (the same tensor table, offsets and padded length) and no
 * gradients, updated as an exponential moving average of the student,
 *
 *   θ_teacher ← m·θ_teacher + (1 − m)·θ_student     (one loop over the flat buffer)
 *
 * Because the layouts are equal, the teacher is saved, resharded and
 * allgathered exactly as the parameters are; it is never trained, so it has
 * no optimizer state. DINO's teacher is one (momentum on a cosine to 1).
 */
#ifndef CRATE_NN_TEACHER_H
#define CRATE_NN_TEACHER_H

#include "src/nn/params.h"

/* teacher ← a copy of student's layout and values (student allocated). */
int teacher_store_init(param_store *teacher, const param_store *student);
/* The EMA step above over every float, padding included (it stays zero). */
void teacher_store_ema(param_store *teacher, const param_store *student, float momentum);

#endif
