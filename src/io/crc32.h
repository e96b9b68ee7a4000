/* crc32.h — CRC-32 (IEEE 802.3, the zlib/gzip/PNG polynomial 0xEDB88320).
 *
 * Defines crc32_update, the checksum of every shard header, block and index
 * (data/shard.h) and of checkpoint shards (src/ckpt/shard.h). The value matches zlib's crc32(), so a file can be checked
 * with any standard tool: crc32_update(0, "123456789", 9) == 0xCBF43926.
 */
#ifndef CRATE_CRC32_H
#define CRATE_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of the bytes seen so far (start from 0) extended by data[0, n).
 * Chaining holds: update(update(0, a), b) == update(0, a‖b). Thread-safe. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t n);

#endif
