// apply-pool.ts - makes a running tspool's pool match a desired configuration kept in a JSON
// file (size, max_overflow, timeout_ms), through the client generated from openapi.yaml. It
// reads GET /pool/status, sends PATCH /pool with only the values that differ, and prints what
// changed; a second run with the same file changes nothing. Exit 0 = in the desired state,
// 1 = an error, 2 = --dry-run found changes to make.
// SPDX-License-Identifier: MIT
//
// usage: node dist/examples/automation/apply-pool.js [--url URL] [--dry-run] desired-pool.json
//   TSPOOL_URL (default http://127.0.0.1:8080), TSPOOL_ADMIN_TOKEN (PATCH /pool needs it)
import fs from "node:fs";
import { createTspoolClient, describeError, type PoolChange, type PoolStatus } from "../../clients/typescript/src/index.js";

const FIELDS = ["size", "max_overflow", "timeout_ms"] as const;
type Field = (typeof FIELDS)[number];

interface Options {
    url: string;
    token?: string;
    dryRun: boolean;
    file: string;
}

function parseArgs(argv: string[]): Options {
    const opts: Options = { url: process.env.TSPOOL_URL || "http://127.0.0.1:8080", token: process.env.TSPOOL_ADMIN_TOKEN, dryRun: false, file: "" };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--url") {
            opts.url = argv[++i] ?? "";
        } else if (a === "--dry-run") {
            opts.dryRun = true;
        } else if (a.startsWith("-")) {
            throw new Error(`unknown option ${a}`);
        } else {
            opts.file = a;
        }
    }
    if (!opts.file) {
        throw new Error("usage: apply-pool [--url URL] [--dry-run] desired-pool.json");
    }
    return opts;
}

/* The desired state: only known fields, each a positive integer (the service validates ranges). */
function readDesired(file: string): PoolChange {
    const doc: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new Error(`${file}: expected an object with ${FIELDS.join(", ")}`);
    }
    const out: PoolChange = {};
    for (const [key, value] of Object.entries(doc)) {
        if (!(FIELDS as readonly string[]).includes(key)) {
            throw new Error(`${file}: unknown field '${key}' (allowed: ${FIELDS.join(", ")})`);
        }
        if (typeof value !== "number" || !Number.isInteger(value)) {
            throw new Error(`${file}: '${key}' must be an integer`);
        }
        out[key as Field] = value;
    }
    return out;
}

function current(status: PoolStatus): Record<Field, number> {
    return { size: status.config.size, max_overflow: status.config.max_overflow, timeout_ms: status.config.timeout_ms };
}

async function main(): Promise<number> {
    const opts = parseArgs(process.argv.slice(2));
    const desired = readDesired(opts.file);
    const client = createTspoolClient({ baseUrl: opts.url, token: opts.token });

    const before = await client.GET("/pool/status");
    if (!before.data) {
        console.error(`GET /pool/status: ${describeError(before.response.status, before.error)}`);
        return 1;
    }
    const have = current(before.data);
    const change: PoolChange = {};
    for (const f of FIELDS) {
        const want = desired[f];
        if (want !== undefined && want !== have[f]) {
            change[f] = want;
            console.log(`${opts.dryRun ? "would change" : "change"} ${f}: ${have[f]} -> ${want}`);
        }
    }
    const n = Object.keys(change).length;
    if (n === 0) {
        console.log(`pool at ${opts.url}: no changes (size ${have.size}, max_overflow ${have.max_overflow}, timeout_ms ${have.timeout_ms})`);
        return 0;
    }
    if (opts.dryRun) {
        console.log(`pool at ${opts.url}: ${n} change(s) to make (dry run)`);
        return 2;
    }
    const after = await client.PATCH("/pool", { body: change });
    if (!after.data) {
        console.error(`PATCH /pool: ${describeError(after.response.status, after.error)}`);
        return 1;
    }
    const now = current(after.data);
    for (const f of Object.keys(change) as Field[]) {
        if (now[f] !== change[f]) {
            console.error(`PATCH /pool: ${f} is ${now[f]} after the change, not ${change[f]}`);
            return 1;
        }
    }
    console.log(`pool at ${opts.url}: ${n} change(s) applied`);
    return 0;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(`apply-pool: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    },
);
