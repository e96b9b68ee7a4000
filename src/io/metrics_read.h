/* metrics_read.h — reads a run's metrics.jsonl (src/io/metrics.h wrote it)
 * back as a table for crate-plot: one row per line, one column per key seen
 * in any line (training lines and eval lines have different keys), NaN where
 * a line lacks a key. Each line must be a flat JSON object of numbers (and
 * strings or booleans, which are skipped); anything else is an error naming
 * the file and line.
 */
#ifndef CRATE_IO_METRICS_READ_H
#define CRATE_IO_METRICS_READ_H

#define METRICS_KEY_MAX 64
#define METRICS_COLUMNS_MAX 128

typedef struct {
    int rows, columns;
    char key[METRICS_COLUMNS_MAX][METRICS_KEY_MAX];
    double *value; /* rows × columns, row-major, owned */
} metrics_table;

int metrics_table_read(const char *path, metrics_table *t);
/* The column of key, or -1. */
int metrics_table_column(const metrics_table *t, const char *key);
void metrics_table_free(metrics_table *t);

#endif
