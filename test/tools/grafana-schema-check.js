// grafana-schema-check.js DASHBOARD.json: checks a dashboard against the
// schema Grafana publishes on npm. @grafana/schema carries it as TypeScript
// types generated from Grafana's CUE kinds (no JSON schema file), so the
// TypeScript compiler is the validator: the JSON, as an object literal, must
// satisfy the raw Dashboard type, with excess-property checks, in strict
// mode. Exit 0 if it does; else 1, with FILE:LINE:COLUMN: message lines.
// Needs typescript and @grafana/schema on NODE_PATH (deploy/dev.sh test).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ts = require('typescript');

const file = process.argv[2];
if (!file) {
    console.error('usage: grafana-schema-check.js DASHBOARD.json');
    process.exit(2);
}
const json = fs.readFileSync(file, 'utf8');
// JSON first: TypeScript would take things JSON does not allow (comments,
// trailing commas, single quotes) as an object literal.
try {
    JSON.parse(json);
} catch (e) {
    console.error(`${file}: not JSON: ${e.message}`);
    process.exit(1);
}
const schemaDir = path.dirname(require.resolve('@grafana/schema/package.json'));
const types = path.join(schemaDir, 'dist/types/raw/dashboard/x/types.gen');

// The generated types declare some fields as TypeScript enums (the
// threshold mode, the cursor sync), which a JSON string or number cannot be
// in TypeScript's eyes; Plain<T> turns each enum into the union of its
// values, the values the JSON form of the schema has, and leaves the rest.
const header = [
    `import type { Dashboard } from ${JSON.stringify(types)};`,
    'type Plain<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T' +
        ' : T extends Array<infer U> ? Array<Plain<U>> : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;',
    'export const dashboard = (',
];
const source = header.join('\n') + '\n' + json + ') satisfies Plain<Dashboard>;\n';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grafana-schema-'));
const tsFile = path.join(dir, 'dashboard.ts');
fs.writeFileSync(tsFile, source);
const program = ts.createProgram([tsFile], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
    skipLibCheck: true,
});
const diags = ts.getPreEmitDiagnostics(program);
fs.rmSync(dir, { recursive: true });
for (const d of diags) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    if (d.file && d.file.fileName === tsFile) {
        const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
        // Line numbers of the JSON file: the header takes the first lines.
        console.error(`${file}:${line + 1 - header.length}:${character + 1}: ${msg}`);
    } else {
        console.error(`${d.file ? d.file.fileName : 'typescript'}: ${msg}`);
    }
}
if (diags.length === 0) {
    const pkg = require('@grafana/schema/package.json');
    const tsv = require('typescript/package.json').version;
    console.log(`${file}: satisfies the Dashboard schema of @grafana/schema ${pkg.version} (typescript ${tsv})`);
}
process.exit(diags.length === 0 ? 0 : 1);
