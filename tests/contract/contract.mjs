// contract.mjs - the OpenAPI contract test: starts the built `tspool serve` against the
// PostgreSQL 15 test server (and the TimescaleDB test server for the TimescaleDB operations),
// walks every path and method of openapi.yaml, calls each with valid input and with invalid
// input for every request body and parameter, and checks status, content type, headers and
// body against the spec with ajv (JSON Schema 2020-12). Fails on any undocumented status,
// content type, header or body, on invalid input that is accepted, and on an operation that
// was never exercised; prints the coverage of operations and documented status codes.
// SPDX-License-Identifier: MIT
// TSPOOL_TEST_TSDB=native runs only the TimescaleDB operations, against the native server
// (PostgreSQL 15 + TimescaleDB 2.28 with its job scheduler) or TSPOOL_TEST_TSDB_DSN.
// env: TSPOOL_BINARY (the built tspool), TSPOOL_TEST_PGDIR, TSPOOL_TEST_TSDBDIR, TSPOOL_TEST_PGBDIR,
// TSPOOL_TEST_TSDB, TSPOOL_TEST_TSDB_NATIVEDIR, TSPOOL_TEST_TSDB_DSN
import fs from "node:fs";
import { deref, loadSpec, lockCatalog, METHODS, operations, parameters, pgbouncerEnv, pgEnv, psqlCommand, psqlFile, psqlValue, rawRequest, replicaEnv, request, Schemas, Service, SPEC_PATH, sleep, sleeperSession, tsdbEnv, tsdbServer } from "./lib.mjs";

const BINARY = process.env.TSPOOL_BINARY;
const ADMIN = "contract-admin-token";
const READ = "contract-read-token";
const TSDB_TAGS = new Set(["timescaledb", "hypertables", "aggregates", "jobs"]);
// headers whose presence means something; sent without being documented they are a mismatch
const SEMANTIC_HEADERS = ["retry-after", "allow", "www-authenticate", "location", "content-security-policy", "etag"];

const spec = loadSpec();
const schemas = new Schemas(spec);
const ops = operations(spec);
const byId = new Map(ops.map((o) => [o.id, o]));
let passed = 0;
let failed = 0;
let seq = 0;
const called = new Map(ops.map((o) => [o.id, 0]));
const seen = new Map(ops.map((o) => [o.id, new Set()]));

function pass(name) {
    passed++;
    if (process.env.TSPOOL_CONTRACT_VERBOSE) {
        console.log(`ok ${name}`);
    }
}

function fail(name, why) {
    failed++;
    console.log(`FAIL ${name}: ${why}`);
}

const norm = (ct) => ct.toLowerCase().replace(/\s+/g, "");
const isTsdb = (o) => (o.op.tags || []).some((t) => TSDB_TAGS.has(t));

/* The documented response for a status: exact code, then "4XX"-style range, then default. */
function documented(o, status) {
    const r = o.op.responses || {};
    const key = [String(status), `${String(status)[0]}XX`, "default"].find((k) => r[k] !== undefined);
    return key === undefined ? null : deref(spec, r[key]);
}

/* Check one response against the spec; returns the list of mismatches. */
function mismatches(o, res, { sentId } = {}) {
    const out = [];
    const doc = documented(o, res.status);
    if (!doc) {
        return [`status ${res.status} is not documented (documented: ${Object.keys(o.op.responses).join(", ")}); body: ${res.text.slice(0, 300)}`];
    }
    // headers
    const dh = Object.fromEntries(Object.entries(doc.headers || {}).map(([k, v]) => [k.toLowerCase(), deref(spec, v)]));
    for (const [name, h] of Object.entries(dh)) {
        const v = res.headers[name];
        if (v === undefined) {
            if (h.required) {
                out.push(`required header ${name} is missing`);
            }
            continue;
        }
        const value = h.schema && (h.schema.type === "integer" || h.schema.type === "number") && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
        const err = h.schema ? schemas.check(h.schema, value) : "";
        if (err) {
            out.push(`header ${name}: ${JSON.stringify(v)}: ${err}`);
        }
    }
    for (const name of SEMANTIC_HEADERS) {
        if (res.headers[name] !== undefined && !dh[name]) {
            out.push(`header ${name} is sent but not documented for ${res.status}`);
        }
    }
    if (sentId && res.headers["x-request-id"] !== sentId) {
        out.push(`X-Request-Id ${JSON.stringify(res.headers["x-request-id"])} does not echo ${sentId}`);
    }
    // content type and body
    const content = doc.content || {};
    if (Object.keys(content).length === 0) {
        if (res.text.length > 0) {
            out.push(`a body (${res.contentType}) where none is documented`);
        }
        return out;
    }
    const key = Object.keys(content).find((k) => norm(k) === norm(res.contentType));
    if (key === undefined) {
        out.push(`content type ${JSON.stringify(res.contentType)} is not documented for ${res.status} (documented: ${Object.keys(content).join(", ")})`);
        return out;
    }
    const schema = content[key].schema;
    let body = res.text;
    if (/[/+]json$/.test(key.split(";")[0])) {
        try {
            body = JSON.parse(res.text);
        } catch (e) {
            out.push(`body is not JSON: ${e.message}`);
            return out;
        }
    }
    const err = schema ? schemas.check(schema, body) : "";
    if (err) {
        out.push(`body: ${err}; got ${res.text.slice(0, 400)}`);
    }
    const extra = schema ? schemas.extraFields(schema, body) : [];
    if (extra.length) {
        out.push(`undocumented members: ${extra.join(", ")}`);
    }
    if (key === "application/problem+json" && body && typeof body === "object") {
        if (body.status !== res.status) {
            out.push(`problem status ${body.status} differs from the HTTP status ${res.status}`);
        }
        if (body.request_id !== undefined && body.request_id !== res.headers["x-request-id"]) {
            out.push(`problem request_id ${body.request_id} differs from X-Request-Id ${res.headers["x-request-id"]}`);
        }
    }
    return out;
}

/* Concrete path for an operation: {name} replaced by the given or the first valid value. */
function validParamValue(p) {
    const s = deref(spec, p.schema || {});
    if (p.example !== undefined) {
        return p.example;
    }
    if (p.examples) {
        return deref(spec, Object.values(p.examples)[0]).value;
    }
    if (s.enum) {
        return s.enum.find((v) => v !== "") ?? s.enum[0];
    }
    if (s.example !== undefined) {
        return s.example;
    }
    if (s.examples) {
        return s.examples[0];
    }
    if (s.default !== undefined) {
        return s.default;
    }
    return undefined;
}

function buildPath(o, values = {}) {
    const params = parameters(spec, o).filter((p) => p.in === "path");
    let p = o.path;
    for (const prm of params) {
        let v = values[prm.name];
        if (v === undefined) {
            v = validParamValue(prm);
        }
        if (v === undefined) {
            throw new Error(`${o.id}: no valid value for path parameter '${prm.name}': give it an example or an enum in openapi.yaml`);
        }
        p = p.replace(`{${prm.name}}`, encodeURIComponent(String(v)));
    }
    return p;
}

function authHeader(token) {
    return token ? { Authorization: `Bearer ${token}` } : {};
}

/* Call an operation and check the answer. expect: a status, a list, "2xx", or "4xx". */
async function call(svc, o, name, { query = "", values, token = ADMIN, headers = {}, body, expect, path } = {}) {
    const id = `ct-${++seq}`;
    const p = (path ?? buildPath(o, values)) + (query ? `?${query}` : "");
    const full = `${o.id} ${o.method} ${p} [${name}]`;
    let res;
    try {
        res = await request(svc.url, o.method, p, { headers: { "X-Request-Id": id, ...authHeader(token), ...headers }, body });
    } catch (e) {
        fail(full, `request failed: ${e.message}`);
        return null;
    }
    called.set(o.id, called.get(o.id) + 1);
    const problems = mismatches(o, res, { sentId: id });
    if (expect !== undefined) {
        const ok = Array.isArray(expect)
            ? expect.includes(res.status)
            : typeof expect === "string"
              ? String(res.status)[0] === expect[0]
              : res.status === expect;
        if (!ok) {
            problems.unshift(`expected ${JSON.stringify(expect)}, got ${res.status}: ${res.text.slice(0, 300)}`);
        }
    }
    if (documented(o, res.status)) {
        seen.get(o.id).add(String(res.status));
    }
    if (problems.length) {
        fail(full, problems.join("; "));
    } else {
        pass(full);
    }
    return res;
}

/* Statuses an invalid input may get: the documented 4xx among `wanted`. A wanted status that
 * is not documented is reported at once: the spec does not say what invalid input gets. */
function invalidExpect(o, name, wanted) {
    const docd = wanted.filter((s) => (o.op.responses || {})[String(s)] !== undefined);
    if (docd.length === 0) {
        fail(`${o.id} [${name}]`, `invalid input must be answered with one of ${wanted.join("/")}, and none of them is documented`);
    }
    return docd.length ? docd : wanted;
}

/* Invalid values for a schema: [label, value]. */
function invalidValues(s) {
    s = deref(spec, s || {});
    const out = [];
    const t = Array.isArray(s.type) ? s.type : [s.type];
    if (t.includes("integer") || t.includes("number")) {
        out.push(["a string", "12"], ["a boolean", true]);
        if (t.includes("integer")) {
            out.push(["a fraction", 1.5]);
        }
        if (s.minimum !== undefined) {
            out.push(["below minimum", s.minimum - 1]);
        }
        if (s.maximum !== undefined) {
            out.push(["above maximum", s.maximum + 1]);
        }
    } else if (t.includes("string")) {
        out.push(["a number", 12]);
        if (s.enum) {
            out.push(["not in the enum", "no-such-value"]);
        }
        if (s.minLength !== undefined && s.minLength > 0) {
            out.push(["too short", ""]);
        }
        if (s.maxLength !== undefined) {
            out.push(["too long", "x".repeat(s.maxLength + 1)]);
        }
    } else if (t.includes("boolean")) {
        out.push(["a string", "true"], ["a number", 1]);
    } else if (t.includes("array")) {
        out.push(["a string", "x"]);
        if (s.minItems) {
            out.push(["too few items", []]);
        }
        if (s.items) {
            for (const [label, v] of invalidValues(s.items).slice(0, 1)) {
                out.push([`an item ${label}`, [v]]);
            }
        }
    } else if (t.includes("object")) {
        out.push(["a string", "x"]);
    }
    if (t.includes("null")) {
        return out.filter(([, v]) => v !== null);
    }
    return out;
}

function bodyOf(o) {
    const rb = deref(spec, o.op.requestBody);
    if (!rb) {
        return null;
    }
    const [type, media] = Object.entries(rb.content || {})[0] || [];
    const schema = deref(spec, media?.schema || {});
    let example = media?.example;
    if (example === undefined && media?.examples) {
        example = deref(spec, Object.values(media.examples)[0]).value;
    }
    if (example === undefined) {
        example = schema.example;
    }
    return { required: rb.required === true, type, schema, example };
}

/* Every case of one operation on one running service. */
async function exercise(svc, o, { values } = {}) {
    const params = parameters(spec, o);
    const body = bodyOf(o);
    const security = o.op.security ?? spec.security ?? [];
    const open = security.some((s) => Object.keys(s).length === 0);
    const send = body ? { headers: { "Content-Type": body.type }, body: JSON.stringify(body.example) } : {};
    if (body && body.example === undefined) {
        fail(`${o.id} [valid body]`, "the request body has no example in openapi.yaml, so there is no known valid input");
        return;
    }

    // valid: as documented, then each enum value of each query parameter and path parameter
    await call(svc, o, "valid", { values, ...send, expect: "2xx" });
    for (const p of params) {
        const s = deref(spec, p.schema || {});
        const choices = s.enum || (s.items && deref(spec, s.items).enum) || [];
        for (const v of choices) {
            if (p.in === "query") {
                const q = v === "" ? encodeURIComponent(p.name) : `${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`;
                await call(svc, o, `valid ${p.name}=${JSON.stringify(v)}`, { values, query: q, ...send, expect: "2xx" });
            } else if (p.in === "path") {
                await call(svc, o, `valid ${p.name}=${v}`, { values: { ...values, [p.name]: v }, ...send, expect: "2xx" });
            }
        }
        if (p.in === "query" && s.type === "array") {
            await call(svc, o, `valid repeated ${p.name}`, { values, query: `${p.name}=a&${p.name}=b`, ...send, expect: "2xx" });
        }
    }

    // invalid parameters
    for (const p of params) {
        const s = deref(spec, p.schema || {});
        if (p.in === "query" && s.type !== "array") {
            // a query string carries text: only the string-valued invalid inputs apply
            const numeric = s.type === "integer" || s.type === "number";
            for (const [label, value] of invalidValues(s)) {
                // a number in a query string is text: out-of-range numbers are sent as text,
                // and "a string" of digits is a valid number there
                if (numeric && label === "a string") {
                    continue;
                }
                const v = numeric && typeof value === "number" ? String(value) : value;
                if (typeof v !== "string") {
                    continue;
                }
                await call(svc, o, `invalid ${p.name}: ${label}`, { values, query: `${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`, ...send, expect: invalidExpect(o, `invalid ${p.name}`, [400]) });
            }
            if (s.type === "integer" || s.type === "number") {
                await call(svc, o, `invalid ${p.name}: not a number`, { values, query: `${encodeURIComponent(p.name)}=abc`, ...send, expect: invalidExpect(o, `invalid ${p.name}`, [400]) });
            }
        } else if (p.in === "path" && (s.enum || s.pattern || s.type === "integer")) {
            const bad = s.type === "integer" ? "not-a-number" : "no-such-name";
            await call(svc, o, `invalid ${p.name}`, { values: { ...values, [p.name]: bad }, ...send, expect: invalidExpect(o, `invalid ${p.name}`, [400, 404]) });
        }
    }

    // invalid bodies
    if (body) {
        const bad400 = invalidExpect(o, "invalid body", [400]);
        const json = (v) => ({ headers: { "Content-Type": body.type }, body: JSON.stringify(v) });
        await call(svc, o, "body: malformed JSON", { values, headers: { "Content-Type": body.type }, body: "{\"size\": ", expect: bad400 });
        await call(svc, o, "body: not an object", { values, ...json([body.example]), expect: bad400 });
        if (body.required) {
            await call(svc, o, "body: missing", { values, headers: { "Content-Type": body.type }, expect: bad400 });
        }
        if ((body.schema.minProperties || 0) > 0 || (body.schema.required || []).length > 0) {
            await call(svc, o, "body: empty object", { values, ...json({}), expect: bad400 });
        }
        if (body.schema.additionalProperties === false) {
            await call(svc, o, "body: unknown member", { values, ...json({ ...body.example, no_such_member: 1 }), expect: bad400 });
        }
        for (const r of body.schema.required || []) {
            const v = { ...body.example };
            delete v[r];
            await call(svc, o, `body: without required ${r}`, { values, ...json(v), expect: bad400 });
        }
        for (const [prop, ps] of Object.entries(body.schema.properties || {})) {
            for (const [label, v] of invalidValues(ps)) {
                await call(svc, o, `body: ${prop} ${label}`, { values, ...json({ ...body.example, [prop]: v }), expect: bad400 });
            }
        }
        await call(svc, o, "body: not JSON media type", { values, headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body.example), expect: invalidExpect(o, "wrong media type", [415]) });
        await call(svc, o, "body: over 64 KiB", { values, headers: { "Content-Type": body.type }, body: JSON.stringify({ pad: "x".repeat(70 * 1024) }), expect: invalidExpect(o, "too large", [413]) });
    }

    // authorization
    if (!open) {
        await call(svc, o, "no token", { values, token: "", ...send, expect: invalidExpect(o, "no token", [401]) });
        await call(svc, o, "unknown token", { values, token: "not-a-token", ...send, expect: invalidExpect(o, "unknown token", [401]) });
        if ((o.op.responses || {})["403"] !== undefined) {
            await call(svc, o, "read token on an admin operation", { values, token: READ, ...send, expect: 403 });
        }
    } else if (o.op.security === undefined || o.op.security.some((s) => s.bearer)) {
        // reads are open while no read token is configured; this service has one. Probes and
        // /metrics stay open (TSPOOL_PUBLIC_PROBES / TSPOOL_PUBLIC_METRICS, see info.description).
        const publicByDefault = o.op.tags?.includes("probes") || o.id === "getMetrics";
        if (svc.readToken && (o.op.responses || {})["401"] !== undefined && !publicByDefault) {
            await call(svc, o, "no token (read token configured)", { values, token: "", ...send, expect: 401 });
            await call(svc, o, "read token", { values, token: READ, ...send, expect: "2xx" });
        }
    }
}

/* Methods a path does not document answer 405 with Allow naming exactly the documented ones. */
async function methodNotAllowed(svc) {
    for (const [p, item] of Object.entries(spec.paths)) {
        const o = ops.find((x) => x.path === p);
        const concrete = buildPath(o);
        const allowed = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
        for (const m of METHODS.map((x) => x.toUpperCase()).filter((x) => !allowed.includes(x))) {
            const name = `405 ${m} ${concrete}`;
            const res = await request(svc.url, m, concrete, { headers: authHeader(ADMIN) });
            const why = [];
            if (res.status !== 405) {
                why.push(`expected 405, got ${res.status}: ${res.text.slice(0, 200)}`);
            }
            const allow = (res.headers.allow || "").split(",").map((x) => x.trim()).filter(Boolean).sort();
            if (allow.join(",") !== [...allowed].sort().join(",")) {
                why.push(`Allow ${JSON.stringify(res.headers.allow)} but openapi.yaml documents ${allowed.join(", ")}`);
            }
            if (norm(res.contentType) !== "application/problem+json") {
                why.push(`content type ${res.contentType}`);
            } else {
                const err = schemas.check(spec.components.schemas.Problem, JSON.parse(res.text));
                if (err) {
                    why.push(err);
                }
            }
            why.length ? fail(name, why.join("; ")) : pass(name);
        }
    }
}

/* Operations documenting the Unparsable response get a request CivetWeb cannot parse. */
async function unparsable(svc) {
    for (const o of ops) {
        if ((o.op.responses?.["400"] || {}).$ref !== "#/components/responses/Unparsable") {
            continue;
        }
        const p = buildPath(o);
        const raw = `${o.method} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${"a".repeat(20000)}\r\n\r\n`;
        const name = `${o.id} ${o.method} ${p} [oversized header]`;
        try {
            const res = await rawRequest(svc.port, raw);
            called.set(o.id, called.get(o.id) + 1);
            const why = mismatches(o, res);
            if (res.status !== 400) {
                why.unshift(`expected 400, got ${res.status}`);
            } else {
                seen.get(o.id).add("400");
            }
            why.length ? fail(name, why.join("; ")) : pass(name);
        } catch (e) {
            fail(name, e.message);
        }
    }
}

/* Checks beyond the schemas: the served spec is this file, a sane request id is echoed and an
 * insane one replaced. */
async function specifics(svc) {
    const served = await request(svc.url, "GET", "/openapi.yaml");
    served.text === fs.readFileSync(SPEC_PATH, "utf8") ? pass("GET /openapi.yaml is openapi.yaml") : fail("GET /openapi.yaml", "the served document differs from openapi.yaml (rebuild?)");
    const bad = await request(svc.url, "GET", "/livez", { headers: { "X-Request-Id": "not sane!" } });
    const id = bad.headers["x-request-id"] || "";
    /^[A-Za-z0-9._-]{1,64}$/.test(id) && id !== "not sane!" ? pass("insane X-Request-Id replaced") : fail("insane X-Request-Id", `got ${JSON.stringify(id)}`);
}

function tokens(extra = {}) {
    return { TSPOOL_ADMIN_TOKEN: ADMIN, TSPOOL_READ_TOKEN: READ, ...extra };
}

/* Run fn against a service started with env. It is used once /startupz passes (the first
 * database check is done), or, for a database that cannot be reached, once /livez does. */
async function withService(name, env, fn, waitPath = "/startupz") {
    const svc = new Service(BINARY, env);
    svc.readToken = env.TSPOOL_READ_TOKEN;
    const paths = Array.isArray(waitPath) ? waitPath : [waitPath];
    try {
        await svc.start(paths[0], authHeader(READ));
        // then each further path (e.g. the replica in rotation) in turn
        for (const p of paths.slice(1)) {
            const end = Date.now() + 30000;
            while ((await request(svc.url, "GET", p, { headers: authHeader(READ) })).status !== 200) {
                if (Date.now() > end) {
                    throw new Error(`${p} did not pass within 30 s:\n${svc.output}`);
                }
                await new Promise((r) => setTimeout(r, 100));
            }
        }
    } catch (e) {
        fail(`${name}: start`, e.message);
        return;
    }
    try {
        await fn(svc);
    } finally {
        const code = await svc.stop();
        code === 0 ? pass(`${name}: exits 0 after SIGTERM`) : fail(`${name}: exit`, `status ${code}; output:\n${svc.output.slice(-3000)}`);
    }
}

// the activity operations: a role of another application whose sessions may be signalled
const APP_ROLE = "tspool_contract_app";
const APP_PASSWORD = "tspool-contract-app-password";
const SIGNAL_OPS = new Set(["cancelSession", "terminateSession"]);

function activitySetup(pg) {
    psqlCommand(pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    psqlCommand(pg, `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${APP_PASSWORD}'; END IF; END$$`);
}

/* The sampler answers 503 until its first sample and snapshot: wait for both. */
async function activityReady(svc) {
    const end = Date.now() + 10000;
    for (const p of ["/server/activity", "/server/statements"]) {
        let res;
        do {
            res = await request(svc.url, "GET", p, { headers: authHeader(ADMIN) });
            if (res.status !== 503) {
                break;
            }
            await new Promise((r) => setTimeout(r, 100));
        } while (Date.now() < end);
        res.status === 200 ? pass(`${p} ready`) : fail(`${p} ready`, `status ${res.status}: ${res.text.slice(0, 300)}`);
    }
}

/* Order matters for the stateful pool operations: pause is followed by its checks and resume. */
function ordered(list) {
    const rank = (o) => (o.method === "GET" ? 0 : o.id === "pausePool" ? 2 : o.id === "resumePool" ? 3 : 1);
    return [...list].sort((a, b) => rank(a) - rank(b));
}

async function main() {
    if (!BINARY || !fs.existsSync(BINARY)) {
        console.log(`FAIL setup: TSPOOL_BINARY (${BINARY}) is not the built tspool`);
        console.log("0 passed, 1 failed");
        process.exit(1);
    }
    const started = Date.now();
    const pgOps = ops.filter((o) => !isTsdb(o));
    const tsOps = ops.filter(isTsdb);
    const server = tsdbServer();
    const nativeRun = server === "native" || server === "dsn";
    // the operations this run must cover: all on the PGlite run, the TimescaleDB ones natively
    let covered = nativeRun ? tsOps : ops;
    if (!nativeRun) {
        await postgresPhases(pgOps, tsOps);
    }

    // 5. the TimescaleDB operations against the TimescaleDB test server
    if (tsOps.length > 0) {
        const ts = tsdbEnv();
        if (ts.skip) {
            console.log(`SKIP: ${ts.skip}`);
            covered = covered.filter((o) => !isTsdb(o));
        } else if (!ts.env) {
            fail("tsdb", `the TimescaleDB test server is needed for ${tsOps.length} operations: ${ts.why}`);
        } else {
            console.log(`TimescaleDB test server: ${server}`);
            // PGlite serves one connection at a time: the fixture is in place before tspool connects
            psqlFile(ts.env, new URL("./tsdb-fixture.sql", import.meta.url).pathname);
            const limits = server === "pglite" ? { DB_MAX_CONNS: "1", DB_MAX_OVERFLOW: "0" } : {};
            if (server !== "pglite") {
                await fixtureJobsRan(ts.env);
            }
            await withService("tsdb", { ...ts.env, ...tokens(), TSPOOL_HTTP_THREADS: "4", ...limits }, async (svc) => {
                for (const o of ordered(tsOps)) {
                    await exercise(svc, o);
                }
            });
        }
    }

    // coverage
    let never = 0;
    let docCodes = 0;
    let seenCodes = 0;
    console.log("coverage (operation: calls, documented statuses seen):");
    for (const o of covered) {
        const codes = Object.keys(o.op.responses || {});
        const got = codes.filter((c) => seen.get(o.id).has(c));
        docCodes += codes.length;
        seenCodes += got.length;
        const missing = codes.filter((c) => !got.includes(c));
        console.log(`  ${o.id.padEnd(20)} ${String(called.get(o.id)).padStart(4)} calls  ${got.join(",") || "-"}${missing.length ? `  (not seen: ${missing.join(",")})` : ""}`);
        if (called.get(o.id) === 0) {
            never++;
            fail(o.id, "documented but never exercised");
        } else if (!got.some((c) => c.startsWith("2"))) {
            never++;
            fail(o.id, "documented but never answered with a 2xx");
        }
    }
    console.log(`coverage: ${covered.length - never}/${covered.length} operations exercised, ${seenCodes}/${docCodes} documented status codes seen`);
    console.log(`contract: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

/* A server with a job scheduler runs the fixture's policies as soon as they exist: wait for
 * those first runs, so that they do not race the operations under test. */
async function fixtureJobsRan(env) {
    const pending = `SELECT count(*) FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        WHERE j.scheduled AND (j.hypertable_name = 'metrics' OR j.hypertable_name IN
            (SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates
             WHERE view_name = 'metrics_hourly'))
        AND (coalesce(s.total_runs, 0) = 0 OR s.job_status = 'Running')`;
    const end = Date.now() + 60000;
    while (psqlValue(env, pending) !== "0") {
        if (Date.now() > end) {
            fail("tsdb fixture", "the scheduler did not run the fixture's policies within 60 s");
            return;
        }
        await sleep(200);
    }
}

/* Phases 1-4: every other operation against PostgreSQL 15 (and PgBouncer), where the
 * TimescaleDB ones answer 409. */
async function postgresPhases(pgOps, tsOps) {
    // the PgBouncer operations read and command the two instances of scripts/pgbouncer.sh
    const pg = { ...pgEnv(), ...pgbouncerEnv(), PGBOUNCER_REFRESH_MS: "300", PGBOUNCER_CONNECT_TIMEOUT: "2" };
    // DB_READ_HOSTS / DB_READ_PORT of the streaming replica of the test server (scripts/replica.sh)
    const replica = replicaEnv();

    activitySetup(pg);

    // 1. PostgreSQL 15 and its streaming replica (the read pool), both tokens configured,
    //    probes and metrics public; used once the replica is in the read rotation
    await withService("pg", { ...pg, ...replica, ...tokens() }, async (svc) => {
        await activityReady(svc);
        for (const o of ordered(pgOps)) {
            if (SIGNAL_OPS.has(o.id)) {
                // a session of another application to cancel or terminate
                const s = await sleeperSession(pg, APP_ROLE, APP_PASSWORD, `contract_${o.id}`);
                try {
                    await exercise(svc, o, { values: { pid: s.pid } });
                    await call(svc, o, "unknown pid", { values: { pid: 2147483000 }, expect: 404 });
                    const su = await sleeperSession(pg, pg.DB_USER, pg.DB_PASS, `contract_su_${o.id}`);
                    await call(svc, o, "a superuser session without force", { values: { pid: su.pid }, expect: 409 });
                    await su.stop();
                } finally {
                    await s.stop();
                }
                continue;
            }
            await exercise(svc, o);
            if (o.id === "pausePool") {
                // while paused: readiness fails, a borrow waits its timeout and is refused
                await call(svc, byId.get("resizePool"), "short timeout", { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ timeout_ms: 300 }), expect: 200 });
                await call(svc, byId.get("pausePool"), "pause again", { expect: 200 });
                for (const id of ["getReadyz", "getHealthz"]) {
                    await call(svc, byId.get(id), "paused", { expect: 503 });
                    await call(svc, byId.get(id), "paused, verbose", { query: "verbose", expect: 503 });
                }
                await call(svc, byId.get("getReadyzCheck"), "paused", { values: { check: "pool" }, expect: 503 });
                await call(svc, byId.get("getHealthzCheck"), "paused", { values: { check: "pool" }, expect: 503 });
                await call(svc, byId.get("pingPool"), "paused", { expect: 503 });
            }
        }
        // a pool check excluded while paused passes again
        await call(svc, byId.get("resizePool"), "restore", { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ size: 20, max_overflow: 10, timeout_ms: 30000 }), expect: 200 });
        for (const o of tsOps) {
            // plain PostgreSQL has no TimescaleDB: the operations answer 409 problem documents
            await call(svc, o, "no TimescaleDB", { expect: invalidExpect(o, "no TimescaleDB", [409]) });
        }
        await methodNotAllowed(svc);
        await unparsable(svc);
        await specifics(svc);
        // leave the shared PgBouncer test instances as they were: paused and killed databases resumed
        for (const database of ["appdb", "spare"]) {
            await call(svc, byId.get("resumePgbouncer"), `restore ${database}`, { headers: { "Content-Type": "application/json" }, body: JSON.stringify({ database }), expect: "2xx" });
        }
    }, ["/startupz", "/readyz/replica"]);

    // 2. probes and metrics behind the read token
    await withService("pg-private", { ...pg, ...replica, ...tokens({ TSPOOL_PUBLIC_PROBES: "false", TSPOOL_PUBLIC_METRICS: "false" }) }, async (svc) => {
        await activityReady(svc);
        for (const o of pgOps.filter((x) => x.method === "GET")) {
            const open = (o.op.security || []).length === 1 && Object.keys(o.op.security[0]).length === 0;
            await call(svc, o, "private, no token", { token: "", expect: open ? "2xx" : 401 });
            await call(svc, o, "private, read token", { token: READ, expect: o.op.responses["403"] ? 403 : "2xx" });
        }
    }, ["/startupz", "/readyz/replica"]);

    // 3. the database cannot be reached: readiness, startup and ping fail as documented
    await withService("pg-down", { ...pg, DB_PORT: "1", DB_CONNECT_TIMEOUT: "1", ...tokens() }, async (svc) => {
        for (const o of pgOps.filter((x) => x.method === "GET")) {
            await call(svc, o, "database down");
        }
        await call(svc, byId.get("getPoolStatus"), "database down, detailed", { query: "detailed=true", expect: 200 });
    }, "/livez");

    // 4. a statement that runs into DB_STATEMENT_TIMEOUT_MS: the ping waits on a locked catalog
    await withService("pg-timeout", { ...pg, ...tokens(), DB_STATEMENT_TIMEOUT_MS: "300" }, async (svc) => {
        const lock = await lockCatalog(pg, 3);
        await call(svc, byId.get("pingPool"), "statement timeout", { expect: 504 });
        await lock.done;
        await call(svc, byId.get("pingPool"), "after the statement timeout", { expect: 200 });
    });

    // 4b. the activity sampler and the statement snapshots off: 409 naming the variable
    await withService("pg-activity-off", { ...pg, ...tokens(), TSPOOL_ACTIVITY_INTERVAL_MS: "0", TSPOOL_STATEMENTS_INTERVAL_MS: "0" }, async (svc) => {
        await call(svc, byId.get("getServerActivity"), "sampler off", { expect: 409 });
        await call(svc, byId.get("getServerStatements"), "snapshots off", { expect: 409 });
    });
}

main().catch((e) => {
    console.log(`FAIL contract: ${e.stack || e}`);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
});
