// docs/openapi.yaml (the source) -> docs/openapi.json (what GET /openapi.json serves, compiled into
// the admin Worker). `node scripts/openapi.mjs --check` fails when the JSON is not current, or
// when the spec's `ErrorCode` enum is not the code's (src/values/codes.rs: the same codes, in
// the same order).
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const root = new URL('..', import.meta.url);
const yamlPath = new URL('docs/openapi.yaml', root);
const jsonPath = new URL('docs/openapi.json', root);
const spec = parse(readFileSync(yamlPath, 'utf8'));
const json = `${JSON.stringify(spec)}\n`;

// The codes `ErrorCode::as_str` answers, in declaration order.
const rust = readFileSync(new URL('src/values/codes.rs', root), 'utf8');
const asStr = rust.slice(rust.indexOf('pub const fn as_str'));
const codes = [...asStr.slice(0, asStr.indexOf('\n    }\n')).matchAll(/=> "([a-z_]+)"/g)].map((m) => m[1]);
const documented = spec.components?.schemas?.ErrorCode?.enum ?? [];
if (codes.length === 0 || codes.join() !== documented.join()) {
  const missing = codes.filter((c) => !documented.includes(c));
  const extra = documented.filter((c) => !codes.includes(c));
  console.error(`[dynauth] docs/openapi.yaml's ErrorCode is not src/values/codes.rs's ErrorCode: missing ${missing.join(', ') || 'none'}; not in the code ${extra.join(', ') || 'none'}${missing.length || extra.length ? '' : '; the order differs'}`);
  process.exit(1);
}
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
