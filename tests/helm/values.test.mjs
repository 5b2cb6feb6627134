// values.test.mjs - values.schema.json against values.yaml, the example values files and a set of
// invalid values files (ajv, and helm's own schema check); the README values table.
// SPDX-License-Identifier: MIT
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import Ajv from "ajv";
import YAML from "yaml";
import { CHART_DIR, TABLE_BEGIN, TABLE_END, VALUES_DIR, coalescedValues, readChartFiles, render, schemaAt, valuesRows, valuesTable } from "./lib.mjs";

const { values, schema, readme } = readChartFiles();
const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validate = ajv.compile(schema);

/* The values Helm would validate: chart defaults coalesced with a values file. */
function coalesced(file) {
    return coalescedValues([file]);
}

const errorsText = (errs) => (errs || []).map((e) => `${e.instancePath} ${e.keyword} ${e.message} ${JSON.stringify(e.params)}`).join("\n");

describe("values.schema.json", () => {
    test("compiles in ajv strict mode as draft-07", () => {
        assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
        assert.equal(typeof validate, "function");
    });

    test("values.yaml is valid", () => {
        const ok = validate(YAML.parse(values));
        assert.ok(ok, errorsText(validate.errors));
    });

    const ciDir = path.join(CHART_DIR, "ci");
    for (const f of fs.readdirSync(ciDir).filter((x) => x.endsWith(".yaml")).sort()) {
        test(`ci/${f} is valid`, () => {
            const ok = validate(coalesced(path.join(ciDir, f)));
            assert.ok(ok, errorsText(validate.errors));
        });
    }

    test("every value in values.yaml is in the schema, and every schema property in values.yaml", () => {
        const data = YAML.parse(values);
        const missing = [];
        const walkValues = (obj, prefix) => {
            for (const [k, v] of Object.entries(obj)) {
                const key = prefix ? `${prefix}.${k}` : k;
                const node = schemaAt(schema, key);
                if (!node) {
                    missing.push(`values.yaml ${key} has no schema`);
                } else if (v && typeof v === "object" && !Array.isArray(v) && node.properties) {
                    walkValues(v, key);
                }
            }
        };
        walkValues(data, "");
        const walkSchema = (node, obj, prefix) => {
            for (const [k, sub] of Object.entries(node.properties || {})) {
                const key = prefix ? `${prefix}.${k}` : k;
                if (!obj || !(k in obj)) {
                    missing.push(`schema ${key} is not in values.yaml`);
                } else {
                    walkSchema(sub, obj[k], key);
                }
            }
        };
        walkSchema(schema, data, "");
        assert.deepEqual(missing, []);
    });

    test("every object the chart owns rejects unknown keys", () => {
        const open = [];
        const walk = (node, key) => {
            if (node.properties) {
                if (node.additionalProperties !== false) {
                    open.push(key);
                }
                for (const [k, sub] of Object.entries(node.properties)) {
                    walk(sub, key ? `${key}.${k}` : k);
                }
            }
        };
        walk(schema, "");
        assert.deepEqual(open, []);
    });

    const invalid = fs.readdirSync(path.join(VALUES_DIR, "invalid")).filter((x) => x.endsWith(".yaml")).sort();
    test("there are invalid values files", () => assert.ok(invalid.length >= 10));
    for (const f of invalid) {
        const file = path.join(VALUES_DIR, "invalid", f);
        const text = fs.readFileSync(file, "utf8");
        const [, where, keyword, detail] = text.match(/^# expect: (\S+) (\S+)(?: (.*))?$/m) || [];
        test(`invalid/${f} fails with ${where} ${keyword}${detail ? " " + detail : ""}`, () => {
            assert.ok(where, "no '# expect: <path> <keyword> [text]' line");
            const ok = validate(coalesced(file));
            assert.equal(ok, false, "accepted by ajv");
            const hit = validate.errors.find(
                (e) => e.instancePath === where && e.keyword === keyword && (!detail || JSON.stringify(e.params).includes(detail) || JSON.stringify(e.data).includes(detail)),
            );
            assert.ok(hit, `no ${where} ${keyword} error among:\n${errorsText(validate.errors)}`);
            // helm refuses it too, before rendering
            const r = render({ values: [file] });
            assert.equal(r.ok, false, "rendered anyway");
            assert.match(r.stderr, /values don't meet the specifications of the schema/);
        });
    }
});

describe("README values table", () => {
    test("matches values.yaml and values.schema.json (regenerate: node tests/helm/values-table.mjs --write)", () => {
        const begin = readme.indexOf(TABLE_BEGIN);
        const end = readme.indexOf(TABLE_END);
        assert.ok(begin >= 0 && end > begin, "README.md has no values-table markers");
        const inReadme = readme.slice(begin + TABLE_BEGIN.length, end).trim();
        assert.equal(inReadme, valuesTable(values, schema));
    });

    test("every value has a description and a schema type", () => {
        for (const r of valuesRows(values)) {
            assert.ok(r.description.length > 5, `${r.key} has no "# --" description`);
            assert.ok(schemaAt(schema, r.key), `${r.key} not in the schema`);
        }
    });
});
