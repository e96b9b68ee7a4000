/* config_path.h — where a tool finds the CONFIG it was given on the command line.
 *
 * Implements: config_path_resolve, which lets `crate-pretrain mae-tiny` find
 * a shipped config by name from any working folder, installed or not.
 *
 * An argument that names an existing file, or that holds a '/', is a path
 * and is used as typed. A bare name that is not a file here is looked up,
 * as NAME and then NAME.yaml, in
 *   1. <folder of the running executable>/CRATE_INSTALL_CONFIG_REL, the
 *      configs of an install (`cmake --install`: bin/../share/crate/configs);
 *   2. CRATE_SOURCE_CONFIGS, the source tree's configs/ folder the build was
 *      configured from, so a tool run from its build folder finds them too.
 * Both come from CMakeLists.txt as compile definitions. The executable is
 * found through /proc/self/exe, so a symlink to an installed tool still
 * finds the install's configs.
 */
#ifndef CRATE_CONFIG_PATH_H
#define CRATE_CONFIG_PATH_H

#include <stddef.h>

/* Writes the path to open into out (cap bytes): arg itself, or the first
 * match of the lookup above; returns CRATE_OK. A bare name found nowhere
 * returns CRATE_EINPUT with a message that names what was typed and every
 * folder looked in (out then holds arg, which a caller may still open to get
 * the plain "cannot read config" error). A path longer than cap is
 * CRATE_EINPUT too. */
int config_path_resolve(const char *arg, char *out, size_t cap);

#endif
