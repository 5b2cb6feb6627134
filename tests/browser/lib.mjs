// lib.mjs - helpers for the dashboard browser test: the PostgreSQL / TimescaleDB test servers
// through scripts/devdb.sh and scripts/tsdb.sh, `tspool serve` as a child process, polling,
// and a tiny step runner that prints "N passed, N failed".
// SPDX-License-Identifier: MIT
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const SOURCE_DIR = process.env.TSPOOL_SOURCE_DIR || path.resolve(import.meta.dirname, "../..");
export const BINARY = process.env.TSPOOL_BINARY || path.join(SOURCE_DIR, "build/tspool");
export const PG_DIR = process.env.TSPOOL_TEST_PGDIR || path.join(SOURCE_DIR, ".tspool/test-pg");
export const ARTIFACTS = process.env.TSPOOL_BROWSER_ARTIFACTS || process.cwd();
export const APP_NAME = "tspool_browser";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Run scripts/devdb.sh with the test server's directory; throws with its stderr on failure. */
export function devdb(...args) {
    const r = spawnSync("bash", [path.join(SOURCE_DIR, "scripts/devdb.sh"), ...args], {
        env: { ...process.env, TSPOOL_DEVDB_DIR: PG_DIR },
        encoding: "utf8",
        timeout: 120000,
    });
    if (r.status !== 0) {
        throw new Error(`devdb.sh ${args.join(" ")} exited ${r.status}: ${r.stderr || r.stdout}`);
    }
    return r.stdout;
}

/* One value (first column of the first row) from the PostgreSQL test server. */
export function pgQuery(sql) {
    return devdb("psql", "-At", "-c", sql).trim();
}

/* "NAME=value" lines of `devdb.sh env` as an object. */
export function pgEnv() {
    const env = {};
    for (const line of devdb("env").split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) {
            env[line.slice(0, i)] = line.slice(i + 1);
        }
    }
    return env;
}

/* scripts/tsdb.sh (the PGlite TimescaleDB server), when the tree has it. */
export function tsdbScript() {
    const script = path.join(SOURCE_DIR, "scripts/tsdb.sh");
    return fs.existsSync(script) ? script : null;
}

export function tsdb(dir, ...args) {
    const r = spawnSync("bash", [tsdbScript(), ...args], {
        env: { ...process.env, TSPOOL_TSDB_DIR: dir },
        encoding: "utf8",
        timeout: 300000,
    });
    if (r.status !== 0) {
        throw new Error(`tsdb.sh ${args.join(" ")} exited ${r.status}: ${r.stderr || r.stdout}`);
    }
    return r.stdout.trim();
}

/* Run SQL on a server given by a libpq DSN. */
export function psqlDsn(dsn, sql) {
    const r = spawnSync("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql], {
        encoding: "utf8",
        timeout: 120000,
    });
    if (r.status !== 0) {
        throw new Error(`psql exited ${r.status}: ${r.stderr}`);
    }
    return r.stdout.trim();
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/* Poll fn until it returns a truthy value; throws `what` with the last value after timeoutMs. */
export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 200) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) {
                return last;
            }
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
        }
        await sleep(everyMs);
    }
}

/* `tspool serve` as a child process on 127.0.0.1:port, its output in ARTIFACTS. */
export class Service {
    constructor(name, port, dbEnv, extra = {}) {
        this.name = name;
        this.port = port;
        this.url = `http://127.0.0.1:${port}`;
        const env = {};
        for (const [k, v] of Object.entries(process.env)) {
            if (!/^(DB_|TSPOOL_|CELERY_)/.test(k)) {
                env[k] = v;
            }
        }
        Object.assign(env, dbEnv, {
            DB_APPLICATION_NAME: APP_NAME,
            // generous: a loaded test machine can take seconds to accept a connection, and a
            // stopped server refuses at once anyway
            DB_CONNECT_TIMEOUT: "10",
            TSPOOL_HEALTH_INTERVAL_MS: "200",
            TSPOOL_SHUTDOWN_DELAY: "0",
            TSPOOL_SHUTDOWN_GRACE: "5",
            TSPOOL_STATS_LOG_INTERVAL: "0",
            TSPOOL_HTTP_THREADS: "16",
            TSPOOL_LOG_LEVEL: "info",
            TSPOOL_LISTEN: `127.0.0.1:${port}`,
        }, extra);
        this.env = env;
        this.logPath = path.join(ARTIFACTS, `browser-${name}.log`);
        this.child = null;
    }

    async start() {
        const out = fs.openSync(this.logPath, "a");
        this.child = spawn(BINARY, ["serve"], { env: this.env, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        this.exited = new Promise((resolve) => this.child.once("exit", (code, sig) =>
            resolve(code !== null ? code : 128 + (os.constants.signals[sig] || 0))));
        await waitFor(`${this.name} /livez`, async () => {
            if (this.child.exitCode !== null) {
                throw new Error(`tspool serve exited ${this.child.exitCode}; see ${this.logPath}`);
            }
            const r = await fetch(`${this.url}/livez`).catch(() => null);
            return r !== null && r.status === 200;
        }, 20000, 100);
    }

    /* SIGTERM (SIGKILL after 15 s); resolves to the exit status (128 + n for a signal). */
    async stop() {
        if (this.child === null) {
            return null;
        }
        if (this.child.exitCode === null && this.child.signalCode === null) {
            this.child.kill("SIGTERM");
        }
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 15000);
        const status = await this.exited;
        clearTimeout(timer);
        return status;
    }

    log() {
        return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
    }
}

/* A tiny runner: named steps, each passes or fails on its own, then one summary line. */
export class Steps {
    constructor() {
        this.passed = 0;
        this.failed = 0;
        this.skipped = 0;
    }

    async run(name, fn) {
        const t0 = Date.now();
        try {
            await fn();
            this.passed++;
            console.log(`ok - ${name} (${Date.now() - t0} ms)`);
            return true;
        } catch (e) {
            this.failed++;
            console.log(`not ok - ${name}\n  ${String(e && e.stack ? e.stack : e).replace(/\n/g, "\n  ")}`);
            return false;
        }
    }

    skip(name, reason) {
        this.skipped++;
        console.log(`skip - ${name}: ${reason}`);
    }

    summary() {
        const skipped = this.skipped > 0 ? `, ${this.skipped} skipped` : "";
        console.log(`${this.passed} passed, ${this.failed} failed${skipped}`);
        return this.failed === 0 ? 0 : 1;
    }
}
