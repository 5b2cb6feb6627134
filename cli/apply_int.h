/* cli/apply_int.h - shared by the files of `tspool apply` inside cli/: the desired-state
 * document (loaded with the line of every value, validated against the shipped JSON Schema)
 * and the pure comparisons the plan is made of.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_APPLY_INT_H
#define TSPOOL_APPLY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"

/* A loaded document: the tree and, per JSON pointer ("/hypertables/0/name"), its line. */
struct tsp_apply_doc {
    json_t *root;  /* owned */
    json_t *lines; /* owned: pointer -> line (integer, 1-based) */
};

/* Read `path` as YAML 1.1 (JSON is accepted as it is YAML). Errors: TSP_IO (cannot read),
 * TSP_INVALID with "path: line N, column M: what" for a syntax error. On TSP_OK release *out
 * with tsp_apply_doc_fini(). Blocks on the file read. */
enum tsp_code tsp_apply_doc_load(const char *path, struct tsp_apply_doc *out,
                                 struct tsp_error *err) TSP_MUSTCHECK;
/* NULL and a zeroed doc are no-ops. */
void tsp_apply_doc_fini(struct tsp_apply_doc *doc);
/* The line of the value at `pointer`, 0 when unknown. Pure. */
long tsp_apply_doc_line(const struct tsp_apply_doc *doc, const char *pointer);
/* Validate against desired-state.schema.json (embedded at build time). The first violation is
 * TSP_INVALID "path:LINE: /pointer: what is wrong" (err->field = the pointer). Pure. */
enum tsp_code tsp_apply_doc_validate(const struct tsp_apply_doc *doc, const char *path,
                                     struct tsp_error *err) TSP_MUSTCHECK;

/* PostgreSQL interval text ("7 days", "1 day 02:00:00", "12 hours", "1 mon") in microseconds,
 * months counted as 30 days as PostgreSQL compares them. False when not understood. Pure. */
bool tsp_apply_interval_us(const char *text, long long *out);
/* True when two values of an interval setting mean the same: integers (or integer text)
 * compare as integers, intervals by tsp_apply_interval_us, anything else as text; null equals
 * only null. Pure. */
bool tsp_apply_same_interval(const json_t *a, const json_t *b);
/* An order_by entry in the service's form: "col", "col DESC", defaults left out, keywords
 * upper case. Writes into out. Pure. */
void tsp_apply_order_item(const char *item, char *out, size_t size);

#endif /* TSPOOL_APPLY_INT_H */
