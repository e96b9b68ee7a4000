/* config.h — the table-driven YAML config engine (DESIGN §8).
 *
 * Implements: config_load (defaults, then one YAML file, then command-line
 * `section.key=value` overrides, then required-key checks) into any struct
 * described by a schema table; config_sources, which remembers where every
 * value came from so later code can name it in its own errors; the resolved
 * config as deterministic YAML (config_emit_yaml, config_to_yaml); --help text
 * (config_print_help).
 *
 * The engine knows no model or objective: a caller owns a struct and a table
 * of config_key rows, one per field, e.g.
 *     { "model", "depth", CONFIG_INT, offsetof(my_config, model.depth), "6",
 *       1, 1000, NULL, "encoder layers" }
 *
 * Values are read the same way from every source (a default's text, a YAML
 * scalar, the text after '=' of an override; quoting in YAML only matters to
 * YAML, so `depth: "6"` is the integer 6):
 *   INT    int64_t  whole decimal numbers, optionally with a non-negative
 *                   exponent: 6, -3, +7, 2e4; never 1.5, 0x10 or 1e-2.
 *   FLOAT  double   anything strtod reads fully and is finite: 1e-4, .5, 3.
 *   BOOL   int      true/false, yes/no, 1/0 (letters in any case) → 1/0.
 *   STRING char[CONFIG_STRING_MAX]  the text as is; longer than
 *                   CONFIG_STRING_MAX-1 bytes is an error, never truncated.
 *   ENUM   int      index of the value in choices ("visible|all": visible=0).
 * INT and FLOAT values must lie in [min, max] (inclusive; always checked, so a
 * schema writes the widest range it accepts).
 *
 * Every error is CRATE_EINPUT (a malformed default in the schema is
 * CRATE_EINTERNAL) and names where the value was (file:line:column, or the
 * override as typed), the key, and what to do.
 */
#ifndef CRATE_CONFIG_H
#define CRATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CONFIG_INT, CONFIG_FLOAT, CONFIG_BOOL, CONFIG_STRING, CONFIG_ENUM } config_type;

#define CONFIG_STRING_MAX 512
#define CONFIG_FILE_MAX (1 << 20) /* bytes: a config is a page of YAML; anything larger is the wrong file */

typedef struct {
    const char *section, *key;  /* "model", "depth" → written model.depth */
    config_type type;           /* field: INT int64_t, FLOAT double, BOOL int,
                                   STRING char[CONFIG_STRING_MAX], ENUM int */
    size_t offset;              /* offsetof the field in the target struct */
    const char *default_value;  /* text, read like any other value; NULL = required */
    double min, max;            /* inclusive range for INT and FLOAT */
    const char *choices;        /* ENUM: "visible|all" */
    const char *help;           /* one line for --help */
} config_key;

/* Where each key's value came from, parallel to the schema:
 * "configs/mae.yaml:12:10" (the value's line and column), "command line" or
 * "default". Free with config_sources_free. */
typedef struct {
    const config_key *schema;
    size_t nkeys;
    char **where;
} config_sources;

/* Fills out (a struct laid out as schema describes) from the defaults, then the
 * YAML file at path (skipped if path is NULL), then overrides[0..noverrides)
 * in order ("model.depth=12"; the value is the text after the first '=', taken
 * literally), and checks that every required key was set. The file is one
 * YAML document whose top level maps section names to mappings of key: value;
 * an empty file or an empty section is allowed. On success *sources is
 * filled and owned by the caller. On failure returns CRATE_EINPUT or
 * CRATE_EINTERNAL with the message recorded, *sources holds nothing to free,
 * and out may be partly written. */
int config_load(const config_key *schema, size_t nkeys, void *out, const char *path,
                int noverrides, char **overrides, config_sources *sources);

/* config_load from YAML text in memory (a checkpoint manifest's config);
 * `name` stands for the file in messages. No overrides. */
int config_load_text(const config_key *schema, size_t nkeys, void *out, const char *text, const char *name,
                     config_sources *sources);

/* Where the value of name ("data.train") came from; "(not a config key)" if
 * name is not in the schema. Valid until config_sources_free. */
const char *config_where(const config_sources *sources, const char *name);

/* Frees what config_load allocated and empties *sources; safe to repeat. */
void config_sources_free(config_sources *sources);

/* Writes cfg as YAML: sections in order of their first key in the schema,
 * keys in schema order, two-space indent; strings double-quoted and escaped,
 * floats in the shortest form that reads back to the same double, bools as
 * true/false, enums by name. The same values always give the same bytes, and
 * loading the text gives the same values. Returns CRATE_OK, or
 * CRATE_EINTERNAL on a write error or an enum index outside its choices. */
int config_emit_yaml(const config_key *schema, size_t nkeys, const void *cfg, FILE *out);

/* The same text in a malloc'd string (free it); NULL with the message recorded
 * on failure. */
char *config_to_yaml(const config_key *schema, size_t nkeys, const void *cfg);

/* Every key grouped by section, as "section.key=PLACEHOLDER", its type with
 * range or choices, its default (or "required"), and its help line. */
void config_print_help(FILE *out, const config_key *schema, size_t nkeys);

#endif
