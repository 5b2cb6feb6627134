/* config/config_int.h - declarations shared by load.c, table.c, print.c and
 * dotenv.c (and their unit tests); not part of the public API.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_CONFIG_INT_H
#define TSPOOL_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tspool/config.h"
#include "tspool/error.h"

/* Longest value echoed in an error message; longer ones are cut with "...". */
#define TSP_CONFIG_ECHO_MAX 64
/* Largest *_FILE or .env file read. */
#define TSP_CONFIG_FILE_MAX 65536

/* One KEY=VALUE assignment of a .env file. */
struct tsp_dotenv_entry {
    char *key;
    char *value; /* unquoted and unescaped */
    int line;    /* 1-based line number */
};

/* A parsed .env file. Owned; release with tsp_dotenv_fini(). */
struct tsp_dotenv {
    struct tsp_dotenv_entry *entries;
    size_t count;
};

/* Parse .env text of len bytes. `path` is used only in error messages, which read
 * "path:line: what is wrong" (values are never echoed: they may be secrets). Syntax:
 * KEY=VALUE lines, optional `export ` prefix, blank lines and `#` comment lines, spaces
 * around `=`, unquoted values trimmed and ended by ` #`, single quotes literal, double quotes
 * with \n \r \t \" \\ escapes (other backslashes kept), CRLF line ends, a leading UTF-8 BOM.
 * No multi-line values and no ${VAR} expansion. On TSP_OK *out is filled (caller frees with
 * tsp_dotenv_fini()); on error TSP_INVALID (syntax) or TSP_NO_MEMORY and *out untouched. */
enum tsp_code tsp_dotenv_parse(const char *text, size_t len, const char *path,
                               struct tsp_dotenv *out, struct tsp_error *err) TSP_MUSTCHECK;

/* Read and parse the file at path. TSP_IO when it cannot be read ("path: strerror"). */
enum tsp_code tsp_dotenv_read(const char *path, struct tsp_dotenv *out,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* Free the entries; env may be NULL or zeroed. */
void tsp_dotenv_fini(struct tsp_dotenv *env);

/* Read a whole file (at most TSP_CONFIG_FILE_MAX bytes) into a malloc'd NUL-terminated
 * buffer. Returns 0 and sets *out and *len, or an errno value (EFBIG when too large). */
int tsp_config_read_file(const char *path, char **out, size_t *len);

/* tsp_config_load() with the .env path used when TSPOOL_ENV_FILE is unset given explicitly
 * (tsp_config_load passes "./.env"); tests point it elsewhere. */
enum tsp_code tsp_config_load_with_default_env(struct tsp_config *cfg, char *const *envp,
                                               const char *default_env_file,
                                               struct tsp_error *err) TSP_MUSTCHECK;

/* Copy value into buf for an error message: `"` and `\` escaped, control and non-ASCII
 * bytes as \xNN, cut after TSP_CONFIG_ECHO_MAX bytes with "...". Returns buf. */
const char *tsp_config_echo(const char *value, char *buf, size_t bufsize);

/* Set err to "NAME: invalid value \"<echo>\": <what is allowed>" (the value is not echoed
 * for secrets) and return TSP_INVALID. */
enum tsp_code tsp_config_invalid(struct tsp_error *err, const struct tsp_config_var *var,
                                 const char *value, const char *fmt, ...) TSP_PRINTF(4, 5);

/* Split TSPOOL_LISTEN ("host:port" or "[v6]:port") into a malloc'd host (no brackets) and a
 * port 1..65535. Returns false when the text is not such an address. */
bool tsp_config_parse_listen(const char *text, char **host_out, int *port_out);

/* Number of comma-separated elements of text (1 for text without commas). */
size_t tsp_config_list_count(const char *text);

/* Parse a boolean word (1/0/true/false/yes/no/on/off, any case). */
bool tsp_config_parse_bool(const char *text, bool *out);

/* The table rows (table.c). */
extern const struct tsp_config_var tsp_config_vars[];
extern const size_t tsp_config_nvars;

/* "(unset)" for NULL, "(empty)" for "", else the default text: how defaults are shown in
 * --help and README.md. */
const char *tsp_config_default_text(const struct tsp_config_var *var);

/* The README.md configuration table (header and one row per variable and per *_FILE). */
void tsp_config_print_markdown(FILE *out);

#endif /* TSPOOL_CONFIG_INT_H */
