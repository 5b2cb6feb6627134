// generate.mjs - generates src/schema.ts (the types of every path, operation and schema)
// from openapi.yaml with the pinned openapi-typescript. `--check` generates into a temporary
// file and fails when the committed src/schema.ts differs.
// SPDX-License-Identifier: MIT
// usage: node generate.mjs [--check]     (after `npm ci` in this directory)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const spec = path.resolve(here, "../../openapi.yaml");
const target = path.join(here, "src/schema.ts");
const cli = path.join(here, "node_modules/openapi-typescript/bin/cli.js");

function generate(out) {
    const res = spawnSync(process.execPath, [cli, spec, "--output", out], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    if (res.status !== 0) {
        process.stderr.write(res.stdout + res.stderr);
        throw new Error(`openapi-typescript exited ${res.status}`);
    }
}

if (process.argv.includes("--check")) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tspool-client-"));
    let ok = false;
    try {
        generate(path.join(tmp, "schema.ts"));
        const fresh = fs.readFileSync(path.join(tmp, "schema.ts"), "utf8");
        const old = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
        ok = fresh === old;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    if (ok) {
        console.log("ok client types current: clients/typescript/src/schema.ts matches openapi.yaml");
    } else {
        console.log("FAIL client types current: clients/typescript/src/schema.ts is not what openapi.yaml generates; run `make client` and commit it");
    }
    console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
    process.exit(ok ? 0 : 1);
}
generate(target);
console.log(`generate: wrote ${path.relative(process.cwd(), target)}`);
