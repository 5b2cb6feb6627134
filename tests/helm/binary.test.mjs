// binary.test.mjs - the chart against the built tspool binary: every variable the chart sets is
// accepted by `tspool config`, every variable tspool knows is covered by the chart, and `tspool serve`
// started with the chart's settings answers the probe paths, /pool/status and every metric the
// dashboard queries, and exits within terminationGracePeriodSeconds on SIGTERM.
// SPDX-License-Identifier: MIT
//
// Needs TSPOOL_BINARY (set by ctest). Uses the test PostgreSQL of `make test` when
// TSPOOL_TEST_PGDIR is set (scripts/devdb.sh env), else a closed port (readiness then stays 503).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { CHART_DIR, SOURCE_DIR, findDoc, readChartFiles, render, schemaAt, valuesRows } from "./lib.mjs";

const BINARY = process.env.TSPOOL_BINARY || "";
const skip = BINARY ? false : "TSPOOL_BINARY is not set (ctest sets it to the built tspool)";
const CI_DIR = path.join(CHART_DIR, "ci");
const KUBE_FOR = { "full-values.yaml": "v1.30.0" };

/* Variables tspool knows that the chart deliberately does not set, with the reason. */
const NOT_SET_BY_CHART = {
    CELERY_WORKER_RUNNING: "pool.mode=direct selects the same non-pooled mode",
    TSPOOL_ENV_FILE: "the image has no .env file; everything comes from the ConfigMap",
    DB_SSLROOTCERT: "a CA file must be mounted first; set it with extraEnv next to that volume",
    TSPOOL_TLS_CERT_FILE: "HTTPS in the pod needs a mounted certificate; set it with extraEnv",
    TSPOOL_TLS_KEY_FILE: "HTTPS in the pod needs a mounted key; set it with extraEnv",
    TSPOOL_TLS_MIN_VERSION: "only matters with TSPOOL_TLS_CERT_FILE; the default 1.2 applies",
};

/* The environment a pod of this rendering gets: ConfigMap data, and *_FILE paths to real files. */
function podEnv(docs, dir) {
    const env = { ...findDoc(docs, "ConfigMap", "tspool").data };
    const c = findDoc(docs, "Deployment").spec.template.spec.containers[0];
    for (const e of c.env || []) {
        const file = path.join(dir, path.basename(e.value));
        fs.writeFileSync(file, `value-of-${path.basename(e.value)}\n`);
        env[e.name] = file;
    }
    return env;
}

function baseEnv() {
    const env = { PATH: process.env.PATH || "/usr/bin:/bin" };
    for (const k of ["ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"]) {
        if (process.env[k]) {
            env[k] = process.env[k];
        }
    }
    return env;
}

function configJson(env, cwd) {
    const res = spawnSync(BINARY, ["config", "--json"], { env: { ...baseEnv(), ...env }, cwd, encoding: "utf8" });
    return res;
}

describe("chart settings against `tspool config`", { skip }, () => {
    const cases = [["default values", {}], ...fs.readdirSync(CI_DIR).filter((f) => f.endsWith(".yaml")).sort().map((f) => [f, { values: [path.join(CI_DIR, f)], kubeVersion: KUBE_FOR[f] }])];
    for (const [name, opts] of cases) {
        test(`${name}: tspool accepts every value and reports it from the environment or the file`, () => {
            const r = render(opts);
            assert.ok(r.ok, r.stderr);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-chart-env-"));
            const env = podEnv(r.docs, dir);
            const res = configJson(env, dir);
            assert.equal(res.status, 0, `tspool config rejected the chart's settings:\n${res.stderr}${res.stdout}`);
            const vars = Object.fromEntries(JSON.parse(res.stdout).variables.map((v) => [v.name, v]));
            for (const [k, v] of Object.entries(env)) {
                if (k.endsWith("_FILE")) {
                    const base = k.slice(0, -5);
                    assert.ok(vars[base], `${k}: tspool knows no ${base}`);
                    assert.equal(vars[base].secret, true, `${base} is mounted from the Secret but is not a secret`);
                    assert.equal(vars[base].source, "file", `${base} not read from ${k}`);
                    continue;
                }
                assert.ok(vars[k], `the ConfigMap sets ${k}, which tspool does not know`);
                assert.equal(vars[k].source, "environment", `${k} source`);
                assert.equal(String(vars[k].value), v, `${k} value`);
            }
        });
    }

    test("every variable tspool knows is set by the chart, mounted from the Secret, or excluded with a reason", () => {
        const r = render({ values: [path.join(CI_DIR, "full-values.yaml")], kubeVersion: "v1.30.0" });
        assert.ok(r.ok, r.stderr);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-chart-env-"));
        const env = podEnv(r.docs, dir);
        const covered = new Set(Object.keys(env).map((k) => (k.endsWith("_FILE") ? k.slice(0, -5) : k)));
        const res = configJson({}, dir);
        assert.equal(res.status, 0, res.stderr);
        const missing = JSON.parse(res.stdout)
            .variables.map((v) => v.name)
            .filter((n) => !covered.has(n) && !(n in NOT_SET_BY_CHART));
        assert.deepEqual(missing, [], "add these to values.yaml and the ConfigMap, or to NOT_SET_BY_CHART");
    });
});

describe("values.schema.json bounds against the service's validators", { skip }, () => {
    test("every integer or enum value the chart maps to a variable allows only what tspool accepts", () => {
        const { values, schema } = readChartFiles();
        // `tspool config --help` ends each variable's line with its accepted values: (lo..hi) or (a|b|c)
        const help = spawnSync(BINARY, ["config", "--help"], { env: baseEnv(), encoding: "utf8" });
        assert.equal(help.status, 0, help.stderr);
        const vars = {};
        for (const line of help.stdout.split("\n")) {
            const m = line.match(/^([A-Z][A-Z0-9_]+)\s+\S+\s+.*\(([^()]+)\)\s*$/);
            if (m) {
                vars[m[1]] = m[2];
            }
        }
        assert.ok(Object.keys(vars).length >= 20, `could not read the accepted values from tspool config --help:\n${help.stdout}`);
        const problems = [];
        let checked = 0;
        for (const row of valuesRows(values)) {
            // the description names the variable: "... `DB_MAX_CONNS`."
            const names = [...row.description.matchAll(/`((?:DB|TSPOOL|CELERY)_[A-Z0-9_]+)`/g)].map((m) => m[1]);
            const node = schemaAt(schema, row.key);
            for (const name of names.filter((n) => vars[n])) {
                const range = vars[name].match(/^(-?\d+)\.\.(-?\d+)$/);
                const allowed = vars[name].match(/^([a-z-]+(?:\|[a-z-]+)+)$/);
                const types = [].concat(node.type || []);
                if (range && types.includes("integer") && name !== "TSPOOL_SHUTDOWN_DELAY") {
                    checked++;
                    const [lo, hi] = [Number(range[1]), Number(range[2])];
                    if (node.minimum === undefined || node.minimum < lo || node.maximum === undefined || node.maximum > hi) {
                        problems.push(`${row.key} allows ${node.minimum}..${node.maximum}, ${name} accepts ${lo}..${hi}`);
                    }
                }
                if (allowed && node.enum) {
                    checked++;
                    const accepted = allowed[1].split("|");
                    const extra = node.enum.filter((v) => v !== null && !accepted.includes(v));
                    if (extra.length) {
                        problems.push(`${row.key} allows ${extra.join(", ")}, which ${name} rejects`);
                    }
                }
            }
        }
        // TSPOOL_SHUTDOWN_DELAY gets shutdown.delaySeconds, or 0 with the preStop sleep: same bounds
        const delay = (vars.TSPOOL_SHUTDOWN_DELAY || "").match(/^(\d+)\.\.(\d+)$/);
        assert.ok(delay, "TSPOOL_SHUTDOWN_DELAY help names its range");
        assert.ok(schema.properties.shutdown.properties.delaySeconds.maximum <= Number(delay[2]));
        assert.ok(checked >= 20, `only ${checked} values were checked against the service`);
        assert.deepEqual(problems, []);
    });
});

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function devdbEnv() {
    const pgdir = process.env.TSPOOL_TEST_PGDIR;
    if (!pgdir) {
        return null;
    }
    const res = spawnSync(path.join(SOURCE_DIR, "scripts/devdb.sh"), ["env"], { env: { ...process.env, TSPOOL_DEVDB_DIR: pgdir }, encoding: "utf8" });
    if (res.status !== 0) {
        return null;
    }
    return Object.fromEntries(res.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

async function get(base, p) {
    try {
        const res = await fetch(base + p, { signal: AbortSignal.timeout(3000) });
        return { status: res.status, text: await res.text() };
    } catch {
        return { status: 0, text: "" };
    }
}

async function waitFor(fn, ms) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v || Date.now() > end) {
            return v;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
}

/* The serve test needs the HTTP service; a binary built before it exists says "unknown command". */
function serveSkip() {
    if (skip) {
        return skip;
    }
    // an invalid listen address makes a serve that ignores --help stop at once instead of serving
    const env = { ...baseEnv(), TSPOOL_LISTEN: "not-an-address" };
    const help = spawnSync(BINARY, ["serve", "--help"], { env, encoding: "utf8", timeout: 5000 });
    return /unknown command 'serve'/.test(help.stdout + help.stderr) ? "this tspool has no serve command yet" : false;
}

describe("`tspool serve` with the chart's settings", { skip: serveSkip() }, () => {
    test("answers the probe paths, /pool/status and the dashboard's metrics; drains within terminationGracePeriodSeconds", async () => {
        const values = { shutdown: { delaySeconds: 2, graceSeconds: 2, extraGraceSeconds: 10 } };
        const r = render({ values: [values] });
        assert.ok(r.ok, r.stderr);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-chart-serve-"));
        const env = podEnv(r.docs, dir);
        const db = devdbEnv();
        const port = await freePort();
        Object.assign(env, { TSPOOL_LISTEN: `127.0.0.1:${port}`, DB_CONNECT_TIMEOUT: "1" });
        if (db) {
            Object.assign(env, db);
        } else {
            Object.assign(env, { DB_HOST: "127.0.0.1", DB_PORT: String(await freePort()) });
        }
        const dep = findDoc(r.docs, "Deployment").spec.template.spec;
        const c = dep.containers[0];
        const proc = spawn(BINARY, ["serve"], { env: { ...baseEnv(), ...env }, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
        let log = "";
        proc.stdout.on("data", (d) => (log += d));
        proc.stderr.on("data", (d) => (log += d));
        const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })));
        const base = `http://127.0.0.1:${port}`;
        try {
            const live = await waitFor(async () => proc.exitCode !== null || (await get(base, c.livenessProbe.httpGet.path)).status === 200, 15000);
            assert.equal(proc.exitCode, null, `tspool serve exited with ${proc.exitCode}:\n${log}`);
            assert.ok(live, `${c.livenessProbe.httpGet.path} never answered 200 (liveness must not need the database):\n${log}`);
            for (const probe of [c.startupProbe, c.readinessProbe]) {
                const want = db ? [200] : [503];
                const ok = await waitFor(async () => want.includes((await get(base, probe.httpGet.path)).status), 15000);
                assert.ok(ok, `${probe.httpGet.path} did not answer ${want} (database ${db ? "up" : "down"})`);
            }
            const status = await get(base, "/pool/status");
            assert.equal(status.status, 200, `/pool/status (the helm test reads it): ${status.text}`);
            const metrics = await get(base, "/metrics");
            assert.equal(metrics.status, 200);
            const dash = fs.readFileSync(path.join(CHART_DIR, "dashboards/tspool.json"), "utf8");
            // families printed only once a labelled sample exists
            const onlyWithSamples = new Set(["tspool_pool_slow_operations_by_label_total"]);
            const families = [...new Set(dash.match(/tspool_[a-z_]+/g))].map((n) => n.replace(/_(bucket|sum|count)$/, ""));
            // the TimescaleDB snapshot's families exist only on a database with the extension (this
            // one is plain PostgreSQL): alerts.test.mjs ties them to service/timescale/snapshot.c
            // and test_ts_watch scrapes them from a TimescaleDB server
            for (const f of families) {
                if (!onlyWithSamples.has(f) && !f.startsWith("tspool_timescaledb_")) {
                    assert.match(metrics.text, new RegExp(`^# TYPE ${f} `, "m"), `the dashboard queries ${f}, which /metrics does not export`);
                }
            }
            const t0 = Date.now();
            proc.kill("SIGTERM");
            // readiness turns off at once (well within the 2 s TSPOOL_SHUTDOWN_DELAY)
            const off = await waitFor(async () => (await get(base, c.readinessProbe.httpGet.path)).status !== 200, 1000);
            assert.ok(off, "readiness still 200 one second after SIGTERM");
            const ex = await Promise.race([exited, new Promise((res) => setTimeout(() => res(null), dep.terminationGracePeriodSeconds * 1000))]);
            assert.ok(ex, `not exited within terminationGracePeriodSeconds (${dep.terminationGracePeriodSeconds} s):\n${log}`);
            assert.equal(ex.code, 0, `exit status after SIGTERM:\n${log}`);
            assert.ok(ex.at - t0 >= 1900, "exited before TSPOOL_SHUTDOWN_DELAY (2 s) passed");
        } finally {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill("SIGKILL");
            }
        }
    });
});
