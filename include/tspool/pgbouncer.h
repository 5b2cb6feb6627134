/* pgbouncer.h - the PgBouncer fleet: admin consoles listed in PGBOUNCER_HOSTS (each address of a
 * host name is one instance), a cache of their SHOW results refreshed by a thread of its own,
 * per-database totals, Prometheus series, and commands (PAUSE, RESUME, ...) sent in parallel.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_PGBOUNCER_H
#define TSPOOL_PGBOUNCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/config.h"
#include "tspool/error.h"
#include "tspool/strbuf.h"

/* The SHOW listings the cache keeps, in this order. */
enum tsp_pgb_show {
    TSP_PGB_SHOW_POOLS = 0,
    TSP_PGB_SHOW_STATS,
    TSP_PGB_SHOW_DATABASES,
    TSP_PGB_SHOW_SERVERS,
    TSP_PGB_SHOW_CLIENTS,
    TSP_PGB_SHOW_CONFIG,
    TSP_PGB_SHOW_LISTS,
    TSP_PGB_SHOW_COUNT
};

/* "pools", "stats", ... (lower case, as in the URL). Static string. */
const char *tsp_pgb_show_name(enum tsp_pgb_show show);
/* The listing called name ("pools"), or TSP_PGB_SHOW_COUNT when there is none. Pure. */
enum tsp_pgb_show tsp_pgb_show_find(const char *name);

/* One SHOW result: column names as PgBouncer sends them and the rows as text. */
struct tsp_pgb_table {
    int ncols;
    char **cols;   /* ncols names */
    bool *numeric; /* ncols flags: the column's type is an integer or numeric type */
    int nrows;
    char **cells; /* nrows * ncols values, row-major; NULL for SQL NULL */
};

/* Cell (row, col) of t, or NULL (SQL NULL or out of range). Pure. */
const char *tsp_pgb_table_cell(const struct tsp_pgb_table *t, int row, int col);
/* Index of the column called name, or -1. Pure. */
int tsp_pgb_table_col(const struct tsp_pgb_table *t, const char *name);

enum tsp_pgb_state {
    TSP_PGB_PENDING = 0,   /* not refreshed yet */
    TSP_PGB_UP,            /* the last refresh read every listing */
    TSP_PGB_DOWN,          /* unreachable, timed out, or the console failed */
    TSP_PGB_MISCONFIGURED, /* reachable, but it refused our login (password, admin_users) */
};

/* "pending", "up", "down", "misconfigured". Static string. */
const char *tsp_pgb_state_name(enum tsp_pgb_state state);

#define TSP_PGB_ADDRESS_MAX 80
#define TSP_PGB_ERROR_MAX   256

/* One PgBouncer instance as the last refresh saw it. */
struct tsp_pgb_instance {
    char address[TSP_PGB_ADDRESS_MAX]; /* "10.1.2.3:6432", "[fd00::5]:6432": the label */
    char name[TSP_PGB_ADDRESS_MAX];    /* the PGBOUNCER_HOSTS entry it came from ("pgb:6432") */
    char addr[64];                     /* numeric address; "" when the name did not resolve */
    int port;
    enum tsp_pgb_state state;
    char version[64];              /* "1.18.0", "" until known */
    char error[TSP_PGB_ERROR_MAX]; /* why it is down or misconfigured, "" when up */
    int64_t refreshed_unix_ms;     /* wall clock of the last successful refresh; 0 = never */
    int64_t refreshed_mono_ms;     /* the same on the monotonic clock; 0 = never */
    int64_t duration_ms;           /* how long the last refresh of it took */
    struct tsp_pgb_table show[TSP_PGB_SHOW_COUNT]; /* empty unless state is UP */
};

/* An immutable picture of the fleet; shared by reference between the refresher and readers. */
struct tsp_pgb_snapshot {
    size_t ninstances;
    struct tsp_pgb_instance *instances; /* sorted by address */
    int64_t refreshed_unix_ms;          /* when the refresh that made it ended; 0 = none yet */
    int64_t refreshed_mono_ms;
    char *metrics; /* Prometheus series of this snapshot without the age (pre-rendered) */
    size_t metrics_len;
};

/* Per-database totals across the instances that are up (SHOW POOLS + SHOW STATS). */
struct tsp_pgb_totals {
    char database[128];
    int instances;        /* instances that have this database in SHOW DATABASES */
    long long cl_active;  /* client connections linked to a server */
    long long cl_waiting; /* clients waiting for a server connection */
    long long sv_active;
    long long sv_idle;
    long long sv_used;
    double max_wait_s;         /* the longest wait of a client, over instances and users */
    double avg_query_time_s;   /* mean query time, weighted by each instance's query rate */
    double avg_xact_time_s;    /* mean transaction time, weighted by transaction rate */
    double queries_per_second; /* sum of avg_query_count */
    double xacts_per_second;   /* sum of avg_xact_count */
    bool paused;               /* paused on at least one instance */
    bool disabled;             /* disabled on at least one instance */
};

/* Totals of snap per database, sorted by name, the admin console's "pgbouncer" database left
 * out. *out is malloc'd (free it), *count its length. TSP_NO_MEMORY. Pure. */
enum tsp_code tsp_pgb_totals_compute(const struct tsp_pgb_snapshot *snap,
                                     struct tsp_pgb_totals **out, size_t *count,
                                     struct tsp_error *err) TSP_MUSTCHECK;

/* The databases paused (or disabled, when disabled is true) on inst, from SHOW DATABASES, as
 * pointers into inst's table; at most max are written. Returns how many. Pure. */
size_t tsp_pgb_instance_databases(const struct tsp_pgb_instance *inst, bool disabled,
                                  const char **out, size_t max);

/* One entry of PGBOUNCER_HOSTS. */
struct tsp_pgb_host {
    char host[256]; /* name or address, without IPv6 brackets */
    int port;
};

/* Parse a PGBOUNCER_HOSTS value: "host:port,[v6]:port,...", no spaces, no empty element. ""
 * gives zero hosts. *out is malloc'd (free it; NULL when zero). TSP_INVALID with a detail that
 * names the element at fault. Pure. */
enum tsp_code tsp_pgb_hosts_parse(const char *text, struct tsp_pgb_host **out, size_t *count,
                                  struct tsp_error *err) TSP_MUSTCHECK;

struct tsp_pgb_options {
    const char *hosts;    /* PGBOUNCER_HOSTS; "" = off */
    const char *user;     /* PGBOUNCER_USER */
    const char *password; /* PGBOUNCER_PASS; NULL = none */
    int connect_timeout_s;
    int command_timeout_ms; /* deadline of one console statement */
    int refresh_ms;
};

/* Options from the configuration. Strings are borrowed from cfg. */
void tsp_pgb_options_from_config(const struct tsp_config *cfg, struct tsp_pgb_options *opts);

struct tsp_pgb_fleet; /* opaque */

/* Create the fleet (copies opts). With hosts set it starts the refresher thread, which
 * resolves every host name and reads every console at once, then every refresh_ms. Errors:
 * TSP_INVALID (hosts), TSP_NO_MEMORY, TSP_INTERNAL (thread). Free with tsp_pgb_fleet_free. */
enum tsp_code tsp_pgb_fleet_new(const struct tsp_pgb_options *opts, struct tsp_pgb_fleet **out,
                                struct tsp_error *err) TSP_MUSTCHECK;
/* Stop the refresher (waits for the refresh under way, bounded by its deadlines) and free.
 * NULL is a no-op. Call when no other thread uses the fleet. */
void tsp_pgb_fleet_free(struct tsp_pgb_fleet *fleet);

/* True when PGBOUNCER_HOSTS names at least one console. Thread-safe. */
bool tsp_pgb_fleet_enabled(const struct tsp_pgb_fleet *fleet);

/* The latest snapshot, with a reference the caller releases with tsp_pgb_snapshot_release.
 * Never NULL for a fleet (an empty snapshot before the first refresh); NULL for a NULL fleet.
 * Thread-safe; never blocks on a console. */
const struct tsp_pgb_snapshot *tsp_pgb_snapshot_get(struct tsp_pgb_fleet *fleet);
/* Drop a reference from tsp_pgb_snapshot_get. NULL is a no-op. Thread-safe. */
void tsp_pgb_snapshot_release(const struct tsp_pgb_snapshot *snap);

/* Ask for a refresh now and wait up to wait_ms for one that started after this call to end.
 * Returns true when it ended in time. Thread-safe; blocks up to wait_ms. */
bool tsp_pgb_refresh_now(struct tsp_pgb_fleet *fleet, long wait_ms);

/* Instances of the latest snapshot that are up, and all of them. Thread-safe, non-blocking. */
void tsp_pgb_up_count(struct tsp_pgb_fleet *fleet, size_t *up, size_t *total);

/* Admin console commands. */
enum tsp_pgb_cmd {
    TSP_PGB_CMD_PAUSE = 0,
    TSP_PGB_CMD_RESUME,
    TSP_PGB_CMD_RECONNECT,
    TSP_PGB_CMD_RELOAD,
    TSP_PGB_CMD_DISABLE,
    TSP_PGB_CMD_ENABLE,
    TSP_PGB_CMD_KILL,
    TSP_PGB_CMD_COUNT
};

/* "pause", "resume", ... Static string. */
const char *tsp_pgb_cmd_name(enum tsp_pgb_cmd cmd);

enum tsp_pgb_outcome {
    TSP_PGB_OK = 0,      /* the console answered the command */
    TSP_PGB_PAUSING,     /* PAUSE accepted, server connections not all released by wait_ms */
    TSP_PGB_FAILED,      /* the console refused it (error from PgBouncer) */
    TSP_PGB_UNREACHABLE, /* no connection, login refused, or no answer by the deadline */
};

/* "ok", "pausing", "failed", "unreachable". Static string. */
const char *tsp_pgb_outcome_name(enum tsp_pgb_outcome outcome);

/* One instance's outcome of a command. */
struct tsp_pgb_cmd_result {
    char address[TSP_PGB_ADDRESS_MAX];
    enum tsp_pgb_outcome outcome;
    char detail[TSP_PGB_ERROR_MAX]; /* PgBouncer's answer tag or error, never the password */
    int64_t duration_ms;
};

/* What to send a command to and how long PAUSE may wait. */
struct tsp_pgb_cmd_request {
    enum tsp_pgb_cmd cmd;
    const char *database; /* NULL = every database (PAUSE, RESUME, RECONNECT); required for
                             DISABLE, ENABLE and KILL; must be NULL for RELOAD */
    const char *instance; /* NULL = every instance; else an address or a PGBOUNCER_HOSTS entry */
    long wait_ms;         /* PAUSE: answer when paused or after this long (0 = default 10 s) */
};

/* Send req to every matching instance of the latest snapshot in parallel (a connection of its
 * own each), then refresh the cache. Errors before anything is sent: TSP_INVALID (database
 * name, missing or extra database), TSP_NOT_FOUND (no such instance, or a database no instance
 * knows), TSP_CONFLICT (no PGBOUNCER_HOSTS), TSP_NO_MEMORY. On TSP_OK *out (malloc'd, free it)
 * holds one result per instance, each with its own outcome: one failed instance does not stop
 * the others. Blocks up to the connect timeout plus the command timeout (or wait_ms for
 * PAUSE). Thread-safe. */
enum tsp_code tsp_pgb_command(struct tsp_pgb_fleet *fleet, const struct tsp_pgb_cmd_request *req,
                              struct tsp_pgb_cmd_result **out, size_t *count,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* True when name is a database name PgBouncer accepts in a command: 1..63 bytes of letters,
 * digits, '_', '-', '.'. Pure. */
bool tsp_pgb_database_valid(const char *name);

/* Render snap as Prometheus text (families tspool_pgbouncer_*, HELP and TYPE first, labels
 * instance and database) into a malloc'd buffer; the refresh age series need the clock and are
 * written by tsp_pgb_metrics_age. TSP_NO_MEMORY. Pure. */
enum tsp_code tsp_pgb_metrics_render(const struct tsp_pgb_snapshot *snap, char **out, size_t *len,
                                     struct tsp_error *err) TSP_MUSTCHECK;
/* tspool_pgbouncer_refresh_age_seconds{instance} of snap at now_mono_ms (tsp_clock_mono_ms),
 * appended to out. TSP_NO_MEMORY when the builder failed. Pure. */
enum tsp_code tsp_pgb_metrics_age(const struct tsp_pgb_snapshot *snap, int64_t now_mono_ms,
                                  struct tsp_strbuf *out, struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_PGBOUNCER_H */
