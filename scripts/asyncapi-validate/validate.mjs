// Validates AsyncAPI documents with the official parser (@asyncapi/parser): its schema
// validation and its rules. Usage: node validate.mjs FILE...; exit code 1 when any document has
// an error (severity 0), 2 on bad usage. Warnings and hints are printed, not fatal.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}
const parser = new Parser();
let failed = false;
for (const file of files) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics) {
    const level = ['error', 'warning', 'info', 'hint'][d.severity] ?? 'note';
    console.log(`${file}: ${level}: ${d.code}: ${d.message} at /${d.path.join('/')}`);
  }
  if (!document || errors.length > 0) {
    failed = true;
    console.log(`${file}: INVALID (${errors.length} errors)`);
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}`);
  }
}
process.exit(failed ? 1 : 0);
