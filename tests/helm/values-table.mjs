// values-table.mjs - prints the chart's values table, or with --write puts it into
// helm/tspool/README.md between the values-table markers. The readme test fails when they differ.
// SPDX-License-Identifier: MIT
import fs from "node:fs";
import path from "node:path";
import { CHART_DIR, TABLE_BEGIN, TABLE_END, valuesTable } from "./lib.mjs";

const values = fs.readFileSync(path.join(CHART_DIR, "values.yaml"), "utf8");
const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, "values.schema.json"), "utf8"));
const table = valuesTable(values, schema);
if (process.argv[2] === "--write") {
    const file = path.join(CHART_DIR, "README.md");
    const readme = fs.readFileSync(file, "utf8");
    const begin = readme.indexOf(TABLE_BEGIN);
    const end = readme.indexOf(TABLE_END);
    if (begin < 0 || end < begin) {
        console.error(`README.md has no ${TABLE_BEGIN} ... ${TABLE_END} block`);
        process.exit(1);
    }
    fs.writeFileSync(file, readme.slice(0, begin + TABLE_BEGIN.length) + "\n" + table + "\n" + readme.slice(end));
} else {
    console.log(table);
}
