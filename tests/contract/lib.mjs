// lib.mjs - helpers of the contract test: the spec and its JSON Schemas (ajv, 2020-12 dialect),
// the tspool process, the test databases, HTTP requests (one connection each, and raw sockets
// for requests no client library sends).
// SPDX-License-Identifier: MIT
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SPEC_PATH = path.join(ROOT, "openapi.yaml");
export const METHODS = ["get", "put", "post", "delete", "patch"];

export function loadSpec(file = SPEC_PATH) {
    return YAML.parse(fs.readFileSync(file, "utf8"));
}

/* The object a local $ref ("#/components/...") points at. */
export function pointer(doc, ref) {
    if (!ref.startsWith("#/")) {
        throw new Error(`only local references are supported: ${ref}`);
    }
    let node = doc;
    for (const raw of ref.slice(2).split("/")) {
        const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
        node = node?.[key];
        if (node === undefined) {
            throw new Error(`dangling reference ${ref}`);
        }
    }
    return node;
}

export function deref(doc, obj) {
    let seen = 0;
    while (obj && typeof obj === "object" && typeof obj.$ref === "string") {
        obj = pointer(doc, obj.$ref);
        if (++seen > 20) {
            throw new Error("reference cycle");
        }
    }
    return obj;
}

/* Every operation: {id, method, path, op, pathItem}. */
export function operations(spec) {
    const out = [];
    for (const [p, item] of Object.entries(spec.paths || {})) {
        for (const m of METHODS) {
            if (item[m]) {
                out.push({ id: item[m].operationId || `${m.toUpperCase()} ${p}`, method: m.toUpperCase(), path: p, op: item[m], pathItem: item });
            }
        }
    }
    return out;
}

/* Parameters of an operation (path-item ones overridden by operation ones), dereferenced. */
export function parameters(spec, o) {
    const byKey = new Map();
    for (const p of [...(o.pathItem.parameters || []), ...(o.op.parameters || [])]) {
        const d = deref(spec, p);
        byKey.set(`${d.in}:${d.name}`, d);
    }
    return [...byKey.values()];
}

/* Schema validation: component schemas become $defs of one schema resource, so every
 * "#/components/schemas/X" reference resolves. */
export class Schemas {
    constructor(spec) {
        this.ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false, allErrors: true, validateFormats: true });
        addFormats(this.ajv);
        // OpenAPI 3.1 Schema Object keywords that are not JSON Schema
        this.ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs"]);
        this.rootId = "https://tspool.invalid/openapi.json";
        this.ajv.addSchema({ $id: this.rootId, $defs: this.rewrite(spec.components?.schemas || {}, "#") });
        this.cache = new Map();
        this.components = spec.components?.schemas || {};
    }

    rewrite(node, base) {
        if (Array.isArray(node)) {
            return node.map((n) => this.rewrite(n, base));
        }
        if (node && typeof node === "object") {
            const out = {};
            for (const [k, v] of Object.entries(node)) {
                if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")) {
                    out[k] = `${base}/$defs/${v.slice("#/components/schemas/".length)}`;
                } else {
                    out[k] = this.rewrite(v, base);
                }
            }
            return out;
        }
        return node;
    }

    /* Members of objects in value that schema does not name (JSON Schema allows them unless
     * additionalProperties says otherwise; the contract does not): a list of JSON paths. An
     * object schema with additionalProperties or patternProperties documents any member. */
    extraFields(schema, value, where = "body") {
        const branches = this.flatten(schema);
        const out = [];
        if (Array.isArray(value)) {
            const items = branches.map((b) => b.items).filter(Boolean);
            if (items.length) {
                value.forEach((v, i) => out.push(...this.extraFields({ anyOf: items }, v, `${where}[${i}]`)));
            }
            return out;
        }
        if (!value || typeof value !== "object") {
            return out;
        }
        const props = new Map();
        let open = false;
        for (const b of branches) {
            for (const [k, v] of Object.entries(b.properties || {})) {
                props.set(k, [...(props.get(k) || []), v]);
            }
            if ((b.additionalProperties !== undefined && b.additionalProperties !== false) || b.patternProperties) {
                open = true;
            }
        }
        for (const [k, v] of Object.entries(value)) {
            if (props.has(k)) {
                out.push(...this.extraFields({ anyOf: props.get(k) }, v, `${where}.${k}`));
            } else if (!open) {
                out.push(`${where}.${k}`);
            }
        }
        return out;
    }

    /* A schema and every schema it is composed of (allOf, anyOf, oneOf, $ref), flattened. */
    flatten(schema, depth = 0) {
        if (!schema || typeof schema !== "object" || depth > 32) {
            return [];
        }
        if (typeof schema.$ref === "string") {
            const name = schema.$ref.replace("#/components/schemas/", "");
            return this.flatten(this.components[name], depth + 1);
        }
        const out = [schema];
        for (const k of ["allOf", "anyOf", "oneOf"]) {
            for (const sub of schema[k] || []) {
                out.push(...this.flatten(sub, depth + 1));
            }
        }
        return out;
    }

    /* Validate value against schema (a schema object of the spec); returns "" or the errors. */
    check(schema, value) {
        let fn = this.cache.get(schema);
        if (!fn) {
            fn = this.ajv.compile(this.rewrite(schema, this.rootId + "#"));
            this.cache.set(schema, fn);
        }
        if (fn(value)) {
            return "";
        }
        return this.ajv.errorsText(fn.errors, { dataVar: "body" });
    }
}

/* KEY=value lines of `scripts/devdb.sh env` for the PostgreSQL test server (started if needed). */
export function pgEnv() {
    const dir = process.env.TSPOOL_TEST_PGDIR || path.join(ROOT, ".tspool/test-pg");
    const env = { ...process.env, TSPOOL_DEVDB_DIR: dir };
    const script = path.join(ROOT, "scripts/devdb.sh");
    let res = spawnSync(script, ["start"], { env, encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`cannot start the PostgreSQL test server: ${res.stdout}${res.stderr}`);
    }
    res = spawnSync(script, ["env"], { env, encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`devdb.sh env failed: ${res.stderr}`);
    }
    return parseEnvLines(res.stdout);
}

/* DB_READ_HOSTS / DB_READ_PORT for the streaming replica of the PostgreSQL test server
 * (scripts/replica.sh, pg_basebackup -R; started, or rebuilt, when needed). */
export function replicaEnv() {
    const dir = process.env.TSPOOL_TEST_PGDIR || path.join(ROOT, ".tspool/test-pg");
    const env = { ...process.env, TSPOOL_DEVDB_DIR: dir };
    const script = path.join(ROOT, "scripts/replica.sh");
    let res = spawnSync(script, ["start"], { env, encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`cannot start the replica of the PostgreSQL test server: ${res.stdout}${res.stderr}`);
    }
    res = spawnSync(script, ["port"], { env, encoding: "utf8" });
    return { DB_READ_HOSTS: "127.0.0.1", DB_READ_PORT: res.stdout.trim() };
}

/* PGBOUNCER_* for the two PgBouncer test instances of scripts/pgbouncer.sh (started if needed)
 * in front of the PostgreSQL test server. */
export function pgbouncerEnv() {
    const pgdir = process.env.TSPOOL_TEST_PGDIR || path.join(ROOT, ".tspool/test-pg");
    const dir = process.env.TSPOOL_TEST_PGBDIR || path.join(ROOT, ".tspool/test-pgbouncer");
    const script = path.join(ROOT, "scripts/pgbouncer.sh");
    const env = { ...process.env, TSPOOL_DEVDB_DIR: pgdir, TSPOOL_PGBOUNCER_DIR: dir };
    let res = spawnSync(script, ["start"], { env, encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`pgbouncer.sh start failed: ${res.stderr}`);
    }
    res = spawnSync(script, ["env"], { env, encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`pgbouncer.sh env failed: ${res.stderr}`);
    }
    return parseEnvLines(res.stdout);
}

/* Which TimescaleDB test server this run uses: "dsn" (TSPOOL_TEST_TSDB_DSN, used by the native
 * run), "native" (TSPOOL_TEST_TSDB=native: PostgreSQL 15 + TimescaleDB 2.28 of
 * scripts/tsdb-native.sh) or "pglite" (scripts/tsdb.sh), as the C harness chooses. */
export function tsdbServer() {
    const native = process.env.TSPOOL_TEST_TSDB === "native";
    if (process.env.TSPOOL_TEST_TSDB_DSN) {
        return native ? "dsn" : "pglite-replaced";
    }
    return native ? "native" : "pglite";
}

/* DB_* of a libpq connection string, key=value form ('quoted' values allowed) or a
 * postgres:// URI. */
export function dsnEnv(dsn) {
    const kv = {};
    if (/^postgres(ql)?:\/\//.test(dsn)) {
        const u = new URL(dsn);
        Object.assign(kv, { host: u.hostname, port: u.port, dbname: decodeURIComponent(u.pathname.slice(1)), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
        for (const [k, v] of u.searchParams) {
            kv[k] = v;
        }
    } else {
        const re = /(\w+)\s*=\s*('((?:[^'\\]|\\.)*)'|\S+)/g;
        for (const m of dsn.matchAll(re)) {
            kv[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2];
        }
    }
    const env = { DB_HOST: kv.host || "localhost", DB_PORT: kv.port || "5432", DB_NAME: kv.dbname || "postgres", DB_USER: kv.user || "postgres" };
    if (kv.password) {
        env.DB_PASS = kv.password;
    }
    env.DB_SSLMODE = kv.sslmode || "prefer";
    return env;
}

/* DB_* for the TimescaleDB test server of tsdbServer(), started when needed. Returns
 * { env, why, skip }: env null with why (a failure) or skip (one line: the server cannot be had
 * here, the tests skip). */
export function tsdbEnv() {
    const server = tsdbServer();
    if (server === "dsn") {
        return { env: dsnEnv(process.env.TSPOOL_TEST_TSDB_DSN), why: "" };
    }
    if (server === "pglite-replaced") {
        return { env: null, skip: "TSPOOL_TEST_TSDB_DSN is set: the TimescaleDB operations run against it in the native entry (TSPOOL_TEST_TSDB=native), not on PGlite" };
    }
    if (server === "native") {
        const script = path.join(ROOT, "scripts/tsdb-native.sh");
        const dir = process.env.TSPOOL_TEST_TSDB_NATIVEDIR || path.join(ROOT, ".tspool/test-tsdb-native");
        const env = { ...process.env, TSPOOL_TSDB_NATIVE_DIR: dir };
        const avail = spawnSync(script, ["available"], { env, encoding: "utf8" });
        if (avail.status !== 0) {
            return { env: null, skip: (avail.stdout + avail.stderr).trim() || "native TimescaleDB skipped: not available" };
        }
        // a first start builds TimescaleDB: minutes, not seconds
        const res = spawnSync(script, ["start"], { env, encoding: "utf8", timeout: 1800000 });
        if (res.status !== 0) {
            return { env: null, why: `scripts/tsdb-native.sh start failed: ${res.stdout}${res.stderr}` };
        }
        const out = spawnSync(script, ["env"], { env, encoding: "utf8" });
        if (out.status !== 0) {
            return { env: null, why: `scripts/tsdb-native.sh env failed: ${out.stderr}` };
        }
        return { env: parseEnvLines(out.stdout), why: "" };
    }
    const script = path.join(ROOT, "scripts/tsdb.sh");
    if (!fs.existsSync(script)) {
        return { env: null, why: "scripts/tsdb.sh is missing" };
    }
    const dir = process.env.TSPOOL_TEST_TSDBDIR || path.join(ROOT, ".tspool/test-tsdb");
    const env = { ...process.env, TSPOOL_TSDB_DIR: dir };
    const res = spawnSync(script, ["start"], { env, encoding: "utf8", timeout: 300000 });
    if (res.status !== 0) {
        return { env: null, why: `scripts/tsdb.sh start failed: ${res.stdout}${res.stderr}` };
    }
    const port = spawnSync(script, ["port"], { env, encoding: "utf8" }).stdout.trim();
    return {
        env: { DB_HOST: "127.0.0.1", DB_PORT: port, DB_NAME: "postgres", DB_USER: "postgres", DB_PASS: "postgres", DB_SSLMODE: "disable" },
        why: "",
    };
}

/* The first column of the first row of one SQL statement (psql -At), "" for no rows; throws
 * on an error. */
export function psqlValue(env, sql) {
    const res = spawnSync("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], { env: pgClientEnv(env), encoding: "utf8", timeout: 60000 });
    if (res.status !== 0) {
        throw new Error(`psql -c ${sql} failed: ${res.stdout}${res.stderr}`);
    }
    return res.stdout.split("\n")[0].trim();
}

/* Run an SQL file with psql against the server DB_* in env names; throws on any error. */
export function psqlFile(env, file) {
    const res = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", file], {
        env: pgClientEnv(env),
        encoding: "utf8",
        timeout: 120000,
    });
    if (res.status !== 0) {
        throw new Error(`psql -f ${file} failed: ${res.stdout}${res.stderr}`);
    }
}

function pgClientEnv(env) {
    return { ...process.env, PGHOST: env.DB_HOST, PGPORT: env.DB_PORT, PGDATABASE: env.DB_NAME, PGUSER: env.DB_USER, PGPASSWORD: env.DB_PASS, PGSSLMODE: env.DB_SSLMODE || "disable" };
}

/* Hold an ACCESS EXCLUSIVE lock on pg_extension (what the ping reads) for `seconds` from a psql
 * session; resolves once the lock is granted, with a promise for the session's end. */
export async function lockCatalog(env, seconds) {
    const sql = `BEGIN; LOCK TABLE pg_extension IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${seconds}); COMMIT;`;
    const child = spawn("psql", ["-X", "-q", "-c", sql], { env: pgClientEnv(env), stdio: "ignore" });
    const done = new Promise((resolve) => child.on("exit", resolve));
    const probe = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'pg_extension' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    const end = Date.now() + 10000;
    while (Date.now() < end) {
        const res = spawnSync("psql", ["-X", "-Atc", probe], { env: pgClientEnv(env), encoding: "utf8" });
        if (res.stdout.trim() === "1") {
            return { done };
        }
        await sleep(50);
    }
    child.kill();
    throw new Error("the catalog lock was not granted within 10 s");
}

/* Run one SQL command with psql as the server's DB_USER; throws on any error. */
export function psqlCommand(env, sql) {
    const res = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql], { env: pgClientEnv(env), encoding: "utf8", timeout: 60000 });
    if (res.status !== 0) {
        throw new Error(`psql -c ${sql} failed: ${res.stdout}${res.stderr}`);
    }
    return res.stdout.trim();
}

/* A session of application `app` (made unique per call) as the role `user` (password
 * `password`) running SELECT pg_sleep(seconds) in a psql child; resolves once the server shows
 * it active, with its server pid and stop() (terminates the backend: a sleeping backend does
 * not notice that its client went away). */
let sleepers = 0;
export async function sleeperSession(env, user, password, app, seconds = 120) {
    const name = `${app}_${process.pid}_${++sleepers}`;
    const clientEnv = { ...pgClientEnv(env), PGUSER: user, PGPASSWORD: password, PGAPPNAME: name };
    const child = spawn("psql", ["-X", "-q", "-c", `SELECT pg_sleep(${seconds})`], { env: clientEnv, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
        stderr += d;
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const stop = async () => {
        psqlCommand(env, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${name}'`);
        child.kill();
        await exited;
    };
    const probe = `SELECT pid FROM pg_stat_activity WHERE application_name = '${name}' AND state = 'active'`;
    const end = Date.now() + 10000;
    while (Date.now() < end) {
        const pid = psqlCommand(env, probe);
        if (/^\d+$/.test(pid)) {
            return { pid: Number(pid), stop };
        }
        await sleep(50);
    }
    await stop();
    throw new Error(`the session of ${name} did not show up within 10 s: ${stderr}`);
}

export function parseEnvLines(text) {
    const out = {};
    for (const line of text.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) {
            out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        }
    }
    return out;
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* A running `tspool serve`. */
export class Service {
    constructor(binary, env) {
        this.binary = binary;
        this.env = env;
        this.output = "";
    }

    /* Start and wait until GET waitPath (with waitHeaders) answers 200. */
    async start(waitPath = "/livez", waitHeaders = {}) {
        this.port = await freePort();
        this.url = `http://127.0.0.1:${this.port}`;
        const env = { PATH: process.env.PATH || "/usr/bin:/bin" };
        for (const k of ["HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"]) {
            if (process.env[k]) {
                env[k] = process.env[k];
            }
        }
        Object.assign(env, {
            TSPOOL_LISTEN: `127.0.0.1:${this.port}`,
            TSPOOL_LOG_LEVEL: "warn",
            TSPOOL_HEALTH_INTERVAL_MS: "200",
            TSPOOL_SHUTDOWN_DELAY: "0",
            TSPOOL_STATS_LOG_INTERVAL: "0",
            TSPOOL_HTTP_THREADS: "8",
            DB_APPLICATION_NAME: "tspool_contract",
            DB_CONNECT_TIMEOUT: "2",
            ...this.env,
        });
        // an empty working directory: no ./.env is picked up
        this.cwd = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-contract-"));
        this.child = spawn(this.binary, ["serve"], { env, cwd: this.cwd, stdio: ["ignore", "pipe", "pipe"] });
        this.child.stdout.on("data", (d) => (this.output += d));
        this.child.stderr.on("data", (d) => (this.output += d));
        this.exited = new Promise((resolve) => this.child.on("exit", (code, sig) => resolve(sig ? 128 : code)));
        let done = false;
        this.exited.then(() => (done = true));
        const end = Date.now() + 30000;
        while (Date.now() < end && !done) {
            try {
                const res = await request(this.url, "GET", waitPath, { headers: waitHeaders });
                if (res.status === 200) {
                    return;
                }
            } catch {
                /* not listening yet */
            }
            await sleep(100);
        }
        throw new Error(`tspool serve did not come up:\n${this.output}`);
    }

    /* SIGTERM and wait; returns the exit status. */
    async stop() {
        if (!this.child || this.child.exitCode !== null) {
            return this.child ? this.child.exitCode : 0;
        }
        this.child.kill("SIGTERM");
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 20000);
        const code = await this.exited;
        clearTimeout(timer);
        fs.rmSync(this.cwd, { recursive: true, force: true });
        return code;
    }
}

/* One HTTP request on a connection of its own (no keep-alive: no race with the server closing
 * an idle connection); returns {status, headers (lower-case names), text, contentType}. */
export function request(base, method, p, { headers = {}, body } = {}) {
    return new Promise((resolve, reject) => {
        const url = new URL(base + p);
        const h = { Connection: "close", ...headers };
        if (body !== undefined) {
            h["Content-Length"] = Buffer.byteLength(body);
        }
        const req = http.request({ host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers: h, agent: false, timeout: 30000 }, (res) => {
            const chunks = [];
            res.on("data", (d) => chunks.push(d));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                resolve({ status: res.statusCode, headers: res.headers, text, contentType: res.headers["content-type"] || "" });
            });
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${p}: no answer within 30 s`)));
        req.on("error", reject);
        if (body !== undefined) {
            req.write(body);
        }
        req.end();
    });
}

/* A request no client library sends (oversized header): raw bytes, parsed response. */
export function rawRequest(port, bytes) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1");
        const chunks = [];
        sock.setTimeout(10000, () => sock.destroy(new Error("raw request timed out")));
        sock.on("data", (d) => chunks.push(d));
        sock.on("error", reject);
        sock.on("close", () => {
            const all = Buffer.concat(chunks).toString("utf8");
            const sep = all.indexOf("\r\n\r\n");
            const head = all.slice(0, sep).split("\r\n");
            const status = Number((head[0] || "").split(" ")[1]);
            const h = {};
            for (const line of head.slice(1)) {
                const i = line.indexOf(":");
                h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
            }
            resolve({ status, headers: h, text: all.slice(sep + 4), contentType: h["content-type"] || "" });
        });
        sock.write(bytes);
        // the server answers and closes; half-close so it sees the end of the request too
        sock.end();
    });
}
