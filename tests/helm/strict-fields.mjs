// strict-fields.mjs - unknown-field check for rendered manifests, like kubectl's strict field
// validation: the JSON-schema validators of kubernetes-models accept unknown keys, so a misspelt
// field (readinesProbe) would pass them and be dropped by the API server. The property lists come
// from the type declarations (.d.ts) the same packages ship, generated from the same OpenAPI.
// SPDX-License-Identifier: MIT
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const NODE_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules");

/* Parses a .d.ts file into {imports: name -> file, root: type of its first exported interface}. */
const files = new Map();
function loadFile(file) {
    if (files.has(file)) {
        return files.get(file);
    }
    const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{([^}]*)\} from "([^"]+)";$/gm)) {
        const spec = m[2];
        const target = spec.startsWith(".") ? path.resolve(path.dirname(file), spec + ".d.ts") : path.join(NODE_MODULES, spec + ".d.ts");
        for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
            imports.set(name, target);
        }
    }
    const entry = { file, imports, root: null };
    files.set(file, entry);
    const m = text.match(/^export interface I\w+(?: extends [\w, ]+)? \{/m);
    if (m) {
        const p = new Parser(text, m.index + m[0].length - 1, entry);
        entry.root = p.type();
    } else {
        entry.root = { kind: "leaf" };
    }
    return entry;
}

class Parser {
    constructor(text, pos, entry) {
        this.s = text;
        this.i = pos;
        this.entry = entry;
    }
    ws() {
        while (this.i < this.s.length && /\s/.test(this.s[this.i])) {
            this.i++;
        }
    }
    peek(str) {
        this.ws();
        return this.s.startsWith(str, this.i);
    }
    eat(str) {
        if (!this.peek(str)) {
            throw new Error(`${this.entry.file}: expected ${str} at ${this.s.slice(this.i, this.i + 40)}`);
        }
        this.i += str.length;
    }
    type() {
        const types = [this.primary()];
        while (this.peek("|")) {
            this.eat("|");
            types.push(this.primary());
        }
        return types.length === 1 ? types[0] : { kind: "union", types };
    }
    primary() {
        this.ws();
        if (this.peek("{")) {
            return this.object();
        }
        if (this.peek("Array<")) {
            this.eat("Array<");
            const of = this.type();
            this.eat(">");
            return { kind: "array", of };
        }
        if (this.peek('"')) {
            const end = this.s.indexOf('"', this.i + 1);
            this.i = end + 1;
            return { kind: "leaf" };
        }
        const m = this.s.slice(this.i).match(/^[\w$.-]+/);
        if (!m) {
            throw new Error(`${this.entry.file}: cannot parse type at ${this.s.slice(this.i, this.i + 40)}`);
        }
        this.i += m[0].length;
        let name = m[0];
        if (this.peek("[")) {
            // IServiceMonitor["spec"]: an indexed access, only used in class declarations
            this.eat("[");
            this.i = this.s.indexOf("]", this.i) + 1;
            return { kind: "leaf" };
        }
        if (this.entry.imports.has(name) && name !== "ModelData" && name !== "Model" && name !== "TypeMeta") {
            return { kind: "ref", file: this.entry.imports.get(name) };
        }
        return { kind: "leaf" };
    }
    object() {
        this.eat("{");
        const props = new Map();
        let index = null;
        while (!this.peek("}")) {
            if (this.peek("[")) {
                this.i = this.s.indexOf("]", this.i) + 1;
                this.eat(":");
                index = this.type();
            } else {
                this.ws();
                const m = this.s.slice(this.i).match(/^"([^"]+)"\??:/);
                if (!m) {
                    throw new Error(`${this.entry.file}: cannot parse member at ${this.s.slice(this.i, this.i + 40)}`);
                }
                this.i += m[0].length;
                props.set(m[1], this.type());
            }
            this.eat(";");
        }
        this.eat("}");
        return { kind: "obj", props, index };
    }
}

function check(value, type, where, problems) {
    if (value === null || value === undefined) {
        return;
    }
    switch (type.kind) {
        case "ref":
            check(value, loadFile(type.file).root, where, problems);
            return;
        case "array":
            if (Array.isArray(value)) {
                value.forEach((v, i) => check(v, type.of, `${where}[${i}]`, problems));
            }
            return;
        case "union": {
            const objectish = type.types.find((t) => t.kind !== "leaf");
            if (objectish && typeof value === "object") {
                check(value, objectish, where, problems);
            }
            return;
        }
        case "obj":
            if (typeof value !== "object" || Array.isArray(value)) {
                return;
            }
            for (const [k, v] of Object.entries(value)) {
                if (type.props.has(k)) {
                    check(v, type.props.get(k), `${where}.${k}`, problems);
                } else if (type.index) {
                    check(v, type.index, `${where}.${k}`, problems);
                } else {
                    problems.push(`${where}.${k}`);
                }
            }
            return;
        default:
            return;
    }
}

/* Returns the paths of fields the type declarations of `module` (a kubernetes-models module
 * specifier such as "kubernetes-models/apps/v1/Deployment") do not know. */
export function unknownFields(doc, module) {
    const problems = [];
    check(doc, loadFile(path.join(NODE_MODULES, module + ".d.ts")).root, doc.kind, problems);
    return problems;
}
