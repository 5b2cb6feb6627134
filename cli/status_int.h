/* status_int.h - the table printers of `tspool status`, shared inside cli/ only.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_CLI_STATUS_INT_H
#define TSPOOL_CLI_STATUS_INT_H

#include <jansson.h>
#include <stdio.h>

/* GET /pgbouncer (doc, borrowed) as tables on out: the instances (address, state, version,
 * paused and disabled databases, refresh age, error) and the per-database totals. */
void tsp_cli_print_pgbouncer(FILE *out, const char *url, const json_t *doc);

#endif /* TSPOOL_CLI_STATUS_INT_H */
