/* config_path.c — config_path_resolve (see config_path.h).
 *
 * The lookup only ever applies to a bare name that is not a file in the
 * working folder, so every path a user or a script spells out keeps meaning
 * exactly what it did; a name is tried in the install first, so an installed
 * tool prefers the configs installed with it over those of the tree it was
 * built from (which may have moved on, or be gone).
 */
#include "src/config/config_path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/error.h"

/* From CMakeLists.txt; the fallback is the GNUInstallDirs default layout. */
#ifndef CRATE_INSTALL_CONFIG_REL
#define CRATE_INSTALL_CONFIG_REL "../share/crate/configs"
#endif

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_yaml_suffix(const char *name) {
    size_t n = strlen(name);
    return (n >= 5 && strcmp(name + n - 5, ".yaml") == 0) || (n >= 4 && strcmp(name + n - 4, ".yml") == 0);
}

/* Copies s into out (cap bytes); 0 if it does not fit. */
static int copy_fits(char *out, size_t cap, const char *s) {
    int len = snprintf(out, cap, "%s", s);
    return len >= 0 && (size_t)len < cap;
}

/* The installed configs folder, <folder of the executable>/CRATE_INSTALL_CONFIG_REL
 * (canonical when it exists, so messages and the printed config name a plain
 * path); 0 if the executable cannot be located. */
static int installed_configs(char *dir, size_t cap) {
    char exe[PATH_MAX], joined[PATH_MAX], canon[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = '\0';
    int len = snprintf(joined, sizeof joined, "%s/%s", exe, CRATE_INSTALL_CONFIG_REL);
    if (len < 0 || (size_t)len >= sizeof joined) return 0;
    return copy_fits(dir, cap, realpath(joined, canon) ? canon : joined);
}

/* dir/name, then dir/name.yaml (unless name already ends in .yaml or .yml):
 * the first regular file goes to out. 1 found, 0 not, -1 found but longer
 * than cap. out is untouched unless found. */
static int find_in(const char *dir, const char *name, char *out, size_t cap) {
    char path[PATH_MAX];
    for (int with_suffix = 0; with_suffix <= !has_yaml_suffix(name); with_suffix++) {
        int len = snprintf(path, sizeof path, "%s/%s%s", dir, name, with_suffix ? ".yaml" : "");
        if (len < 0 || (size_t)len >= sizeof path || !is_file(path)) continue;
        return copy_fits(out, cap, path) ? 1 : -1;
    }
    return 0;
}

int config_path_resolve(const char *arg, char *out, size_t cap) {
    if (!copy_fits(out, cap, arg))
        return crate_fail(CRATE_EINPUT, "config path '%.200s...' is longer than %zu bytes", arg, cap - 1);
    struct stat st;
    if (!arg[0] || strchr(arg, '/') || (stat(arg, &st) == 0 && !S_ISDIR(st.st_mode))) return CRATE_OK;

    char installed[PATH_MAX] = "";
    const char *dirs[2] = {NULL, NULL};
    if (installed_configs(installed, sizeof installed)) dirs[0] = installed;
#ifdef CRATE_SOURCE_CONFIGS
    dirs[1] = CRATE_SOURCE_CONFIGS;
#endif
    for (int i = 0; i < 2; i++) {
        int found = dirs[i] ? find_in(dirs[i], arg, out, cap) : 0;
        if (found > 0) return CRATE_OK;
        if (found < 0) return crate_fail(CRATE_EINPUT, "config '%s' found in %s, but its path is longer than %zu bytes",
                                         arg, dirs[i], cap - 1);
    }

    char names[2 * NAME_MAX + 16];
    if (has_yaml_suffix(arg)) snprintf(names, sizeof names, "%s", arg);
    else snprintf(names, sizeof names, "%s or %s.yaml", arg, arg);
    return crate_fail(CRATE_EINPUT,
                      "cannot read config '%s': no such file in the current folder, and no %s in %s (the installed "
                      "configs) or %s (the source tree's configs): give a path, or one of the names in those folders",
                      arg, names, dirs[0] ? dirs[0] : "<folder of the executable>/" CRATE_INSTALL_CONFIG_REL,
                      dirs[1] ? dirs[1] : "<none: not built with CRATE_SOURCE_CONFIGS>");
}
