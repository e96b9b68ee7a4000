/* cli.c — see cli.h. */
#include "src/config/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "src/error.h"

int cli_int(const char *option, const char *value, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long n = value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || *end || errno || n < lo || n > hi || n < INT_MIN || n > INT_MAX)
        return crate_fail(CRATE_EINPUT, "option %s needs a whole number from %ld to %ld, not '%s'", option, lo, hi,
                          value ? value : "(nothing)");
    *out = (int)n;
    return CRATE_OK;
}
