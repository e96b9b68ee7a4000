/* cli.h — command-line values of the tools' options, checked strictly: a
 * whole number written in full (no sign unless lo < 0, no trailing text),
 * inside [lo, hi]; the message names the option and the range. */
#ifndef CRATE_CLI_H
#define CRATE_CLI_H

int cli_int(const char *option, const char *value, long lo, long hi, int *out);

#endif
