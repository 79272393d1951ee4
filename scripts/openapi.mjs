// docs/openapi.yaml (the source) -> docs/openapi.json (what GET /openapi.json serves, compiled into
// the admin Worker). `node scripts/openapi.mjs --check` fails when the JSON is not current.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const root = new URL('..', import.meta.url);
const yamlPath = new URL('docs/openapi.yaml', root);
const jsonPath = new URL('docs/openapi.json', root);
const json = `${JSON.stringify(parse(readFileSync(yamlPath, 'utf8')))}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(jsonPath, 'utf8'); } catch { /* missing */ }
  if (current !== json) {
    console.error('[dynauth] docs/openapi.json is not docs/openapi.yaml: run `node scripts/openapi.mjs`');
    process.exit(1);
  }
} else {
  writeFileSync(jsonPath, json);
}
