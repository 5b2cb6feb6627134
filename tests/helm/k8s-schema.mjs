// k8s-schema.mjs - JSON Schemas of the Kubernetes 1.31 API objects, built offline from the pinned
// npm package cdk8s-plus-31, which ships `cdk8s import k8s@1.31.0` of the 1.31 OpenAPI document:
// its .jsii assembly gives every type's properties (type, required) and lib/imports/k8s.js the
// JSON name of each property and each kind's apiVersion. Objects allow no unknown field
// (kubectl's strict field validation), so a misspelt field fails as a wrong type does.
// SPDX-License-Identifier: MIT
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";

const PKG = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules/cdk8s-plus-31");
const NS = "cdk8s-plus-31.k8s.";
export const KUBE_VERSION = "1.31.0";

function load() {
    const jsii = JSON.parse(fs.readFileSync(path.join(PKG, ".jsii"), "utf8"));
    const js = fs.readFileSync(path.join(PKG, "lib/imports/k8s.js"), "utf8");
    const imported = fs.readFileSync(path.join(PKG, "cdk8s.yaml"), "utf8");
    if (!imported.includes(`k8s@${KUBE_VERSION}`)) {
        throw new Error(`cdk8s-plus-31 does not say it imported k8s@${KUBE_VERSION}`);
    }
    /* JSON names: toJson_<Type> maps each jsii property to its JSON name */
    const jsonNames = new Map();
    for (const m of js.matchAll(/function toJson_(\w+)\(obj\) \{[\s\S]*?const result = \{([\s\S]*?)\n    \};/g)) {
        const names = new Map();
        for (const line of m[2].matchAll(/^\s*'([^']+)': .*?obj\.(\w+)/gm)) {
            names.set(line[2], line[1]);
        }
        jsonNames.set(m[1], names);
    }
    /* kinds: Kube<Name>.GVK = { apiVersion, kind } */
    const kinds = new Map();
    for (const m of js.matchAll(/^(Kube\w+)\.GVK = \{\s*apiVersion: '([^']+)',\s*kind: '([^']+)',\s*\};/gm)) {
        kinds.set(`${m[2]}/${m[3]}`, `${m[1]}Props`);
    }
    const definitions = {};
    const typeSchema = (t) => {
        if (t.primitive) {
            return { string: { type: "string" }, number: { type: "number" }, boolean: { type: "boolean" }, date: { type: "string" } }[t.primitive] || {};
        }
        if (t.collection) {
            const items = typeSchema(t.collection.elementtype);
            return t.collection.kind === "array" ? { type: "array", items } : { type: "object", additionalProperties: items };
        }
        if (t.union) {
            return { anyOf: t.union.types.map(typeSchema) };
        }
        if (t.fqn && t.fqn.startsWith(NS)) {
            const name = t.fqn.slice(NS.length);
            const def = jsii.types[t.fqn];
            if (def.kind === "enum") {
                return { type: "string" };
            }
            if (def.kind === "class") {
                return { type: ["string", "number"] }; // IntOrString, Quantity
            }
            return { $ref: `#/definitions/${name}` };
        }
        return {};
    };
    for (const [fqn, def] of Object.entries(jsii.types)) {
        if (!fqn.startsWith(NS) || def.kind !== "interface") {
            continue;
        }
        const name = fqn.slice(NS.length);
        const names = jsonNames.get(name) || new Map();
        const properties = {};
        const required = [];
        for (const p of def.properties || []) {
            const jsonName = names.get(p.name) || p.name;
            properties[jsonName] = typeSchema(p.type);
            if (!p.optional) {
                required.push(jsonName);
            }
        }
        definitions[name] = { type: "object", properties, additionalProperties: false };
        if (required.length) {
            definitions[name].required = required;
        }
    }
    return { definitions, kinds };
}

let cache = null;
function compiled() {
    if (cache) {
        return cache;
    }
    const { definitions, kinds } = load();
    /* apiVersion and kind are not in the props: allow them at the top level */
    for (const props of kinds.values()) {
        const d = definitions[props];
        if (d) {
            d.properties.apiVersion = { type: "string" };
            d.properties.kind = { type: "string" };
        }
    }
    const ajv = new Ajv({ strict: false, allErrors: false });
    ajv.addSchema({ $id: "k8s", definitions });
    const validators = new Map();
    for (const [key, props] of kinds) {
        const slash = key.lastIndexOf("/");
        const schema = {
            allOf: [
                { $ref: `k8s#/definitions/${props}` },
                {
                    type: "object",
                    required: ["apiVersion", "kind"],
                    properties: { apiVersion: { const: key.slice(0, slash) }, kind: { const: key.slice(slash + 1) } },
                },
            ],
        };
        validators.set(key, schema);
    }
    cache = { ajv, validators, definitions, fns: new Map() };
    return cache;
}

/* The "apiVersion/kind" pairs Kubernetes 1.31 serves. */
export function k8sKinds() {
    return [...compiled().validators.keys()];
}

/* Validates one manifest against the 1.31 schema of its kind; throws with the JSON path and
 * message of the first problem, or when 1.31 has no such kind. */
export function validate131(doc) {
    const { ajv, validators } = compiled();
    const key = `${doc.apiVersion}/${doc.kind}`;
    const schema = validators.get(key);
    if (!schema) {
        throw new Error(`Kubernetes ${KUBE_VERSION} has no ${key}`);
    }
    const v = compiled().fns.get(key) || ajv.compile(schema);
    compiled().fns.set(key, v);
    if (!v(doc)) {
        const e = v.errors[0];
        const where = `${doc.kind}${e.instancePath.replace(/\//g, ".")}`;
        const extra = e.keyword === "additionalProperties" ? `: unknown field ${where}.${e.params.additionalProperty}` : "";
        throw new Error(`${where} ${e.message}${extra}`);
    }
}
