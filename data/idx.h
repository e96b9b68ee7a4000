/* idx.h — reading IDX files (the MNIST / Fashion-MNIST format), gzipped or not.
 *
 * Defines idx_read_images and idx_read_labels. An IDX file is a big-endian
 * magic (0x00000803: uint8 images N×rows×cols; 0x00000801: uint8 labels N),
 * the dimensions as big-endian u32, then the data. A PATH ending in ".gz" is
 * decompressed by running `gzip -dc PATH` through popen (gzip is an essential
 * Debian package: no zlib dependency); its exit status and every size are
 * checked. Errors are CRATE_EINPUT naming the file and the fix.
 */
#ifndef CRATE_DATA_IDX_H
#define CRATE_DATA_IDX_H

#include <stdint.h>

/* *pixels (free with free()) gets count·rows·cols bytes, image-major. */
int idx_read_images(const char *path, uint8_t **pixels, uint64_t *count, int *rows, int *cols);
/* *labels (free with free()) gets count bytes. */
int idx_read_labels(const char *path, uint8_t **labels, uint64_t *count);

#endif
