// The crate's dependency rule, checked file by file, tests included (lib.rs states the rule):
// every path a file names (`crate::`, `super::`, `self::`, a child module's name; in `use` trees
// and in code, in its `#[cfg(test)]` tests too) is resolved to the file that defines the item,
// following re-exports (`pub use`). Each file may use files of its own layer or lower ones, never
// a higher one, and the files' graph has no cycle, inside a folder either (a folder's `mod.rs`
// may use its files; its files then reach each other directly or through its re-exports).
// Prints the layering and exits 1 naming each violation and cycle. `npm test` runs it.
//
//   node scripts/layers.mjs           check
//   node scripts/layers.mjs --graph   also print every file's dependencies
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = new URL('../src/', import.meta.url).pathname;

// Lowest first; a module belongs to the layer of its longest listed prefix.
const LAYERS = [
  ['platform', 'testing', 'testing::fakes'], // the ground: service traits, crypto, cache, driver; fakes of them
  ['values'],
  ['dynamo'],
  ['table'],
  ['domain'],
  ['app'],
  ['api'],
  ['host'],
  ['bin'],
];

function layerOf(module) {
  let best = null;
  for (const [i, members] of LAYERS.entries()) {
    for (const m of members) {
      if ((module === m || module.startsWith(`${m}::`)) && (!best || m.length > best.len)) best = { i, len: m.length };
    }
  }
  if (!best) throw new Error(`no layer for ${module}: add it to scripts/layers.mjs`);
  return best.i;
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith('.rs') ? [path] : [];
  });
}

/** `api/oauth/mod.rs` -> `api::oauth`, `bin/dynauth.rs` -> `bin`, `lib.rs` -> ``. */
function moduleOf(file) {
  const rel = relative(SRC, file).replace(/\.rs$/, '');
  if (rel === 'lib') return '';
  if (rel.startsWith('bin/')) return 'bin';
  return rel.split('/').filter((p) => p !== 'mod').join('::');
}

/** Code without comments and string literals (their text is not a dependency). */
function code(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/r#*"[\s\S]*?"#*/g, '""')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/'(?:[^'\\\n]|\\.)'/g, "' '")
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, ''))
    .join('\n');
}

// ---- the module tree: each file's child modules, items and re-exports ----
const modules = new Map(); // module path -> { file, text, tests, children:Set, items:Set, reexports:Map }
for (const file of files(SRC)) {
  const module = moduleOf(file);
  const raw = readFileSync(file, 'utf8');
  const all = code(raw);
  const at = all.search(/#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod tests\b/);
  const body = at >= 0 ? all.slice(0, at) : all;
  const tests = at >= 0 ? all.slice(at) : '';
  const entry = { file, module, body, tests, children: new Set(), items: new Set(), reexports: new Map() };
  for (const m of body.matchAll(/^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_0-9]+)\s*;/gm)) entry.children.add(m[1]);
  for (const m of body.matchAll(/\b(?:fn|struct|enum|type|trait|const|static|union)\s+([A-Za-z_][A-Za-z_0-9]*)/g)) entry.items.add(m[1]);
  for (const m of body.matchAll(/macro_rules!\s+([a-z_0-9]+)/g)) entry.items.add(m[1]);
  modules.set(module, entry);
}
// Re-exports, once every module is known.
for (const entry of modules.values()) {
  for (const m of entry.body.matchAll(/\bpub(?:\([^)]*\))?\s+use\s+([^;]+);/g)) {
    for (const path of expand(m[1].replace(/\s+/g, ''))) {
      const parts = path.split('::');
      let name = parts[parts.length - 1];
      const as = name.match(/^(.*)as(.+)$/);
      if (as && /^[A-Za-z_]/.test(as[2])) {
        parts[parts.length - 1] = as[1];
        name = as[2];
      }
      if (name === '*' || name === 'self') continue;
      entry.reexports.set(name, parts);
    }
  }
}

/** A use tree `a::{b, c::{d, e}}` as its paths `a::b`, `a::c::d`, `a::c::e`. */
function expand(tree) {
  const open = tree.indexOf('{');
  if (open < 0) return [tree];
  const prefix = tree.slice(0, open);
  const inner = tree.slice(open + 1, tree.lastIndexOf('}'));
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i += 1) {
    if (inner[i] === '{') depth += 1;
    if (inner[i] === '}') depth -= 1;
    if (inner[i] === ',' && depth === 0) {
      parts.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(inner.slice(start));
  return parts.filter(Boolean).flatMap((p) => expand(p).map((x) => (x === 'self' ? prefix.replace(/::$/, '') : prefix + x)));
}

/** The module `segments` (absolute, from the crate root) name, following re-exports. */
function resolve(segments, seen = new Set()) {
  let current = '';
  for (let i = 0; i < segments.length; i += 1) {
    const seg = segments[i];
    const here = modules.get(current);
    const child = current ? `${current}::${seg}` : seg;
    if (modules.has(child) && (!here || here.children.has(seg))) {
      current = child;
      continue;
    }
    const target = here?.reexports.get(seg);
    if (target && !seen.has(`${current}::${seg}`)) {
      seen.add(`${current}::${seg}`);
      const absolute = absolutePath(target, current);
      if (absolute) return resolve([...absolute, ...segments.slice(i + 1)], seen);
    }
    return current; // an item of `current`
  }
  return current;
}

/** A path as written in module `from` (`crate::`, `super::`, `self::`, a child's name), made absolute. */
function absolutePath(parts, from, { inTests = false } = {}) {
  const parent = (m) => m.split('::').slice(0, -1).join('::');
  const p = [...parts];
  let base;
  if (p[0] === 'crate' || p[0] === 'dynauth') {
    base = '';
    p.shift();
  } else if (p[0] === 'self') {
    base = from;
    p.shift();
  } else if (p[0] === 'super') {
    // In a file's tests, `super` is the file itself.
    base = inTests ? from : parent(from);
    p.shift();
    while (p[0] === 'super') {
      base = parent(base);
      p.shift();
    }
  } else if (modules.get(from)?.children.has(p[0])) {
    base = from;
  } else {
    return null; // std, a dependency, or a local name
  }
  return [...(base ? base.split('::') : []), ...p];
}

// ---- the files' graph ----
const PATH = /(?<![A-Za-z_0-9:])((?:crate|dynauth|super|self|[a-z_][a-z_0-9]*)(?:::(?:[A-Za-z_][A-Za-z_0-9]*|\{[^;]*?\}))+)/g;
const graph = new Map(); // module -> Map(target module -> 'code' | 'tests')
for (const entry of modules.values()) {
  if (entry.module === '') continue;
  const uses = new Map();
  const scan = (text, inTests) => {
    for (const m of text.matchAll(PATH)) {
      for (const path of expand(m[1].replace(/\s+/g, ''))) {
        const parts = path.split('::').filter(Boolean).map((s) => s.replace(/as.*$/, (x) => x)); // keep names
        const absolute = absolutePath(parts, entry.module, { inTests });
        if (!absolute) continue;
        const target = resolve(absolute);
        if (target && target !== entry.module && modules.has(target) && !uses.has(target)) {
          uses.set(target, inTests ? 'tests' : 'code');
        }
      }
    }
  };
  // A re-export only names an item for the files that use it (they are resolved through it).
  scan(entry.body.replace(/\bpub(?:\([^)]*\))?\s+use\s+[^;]+;/g, ''), false);
  scan(entry.tests, true);
  graph.set(entry.module, uses);
}

const problems = [];
// The rim only parses, calls one use case and renders: no table access of its own.
const RIM_REACH = /\bctx\.(store|regions|caches|connect|webhook)\b|\.store\.db\b/;
for (const entry of modules.values()) {
  if (!(entry.module === 'api' || entry.module.startsWith('api::'))) continue;
  const reach = entry.body.match(RIM_REACH);
  if (reach) problems.push(`${entry.module} reaches past the use cases (${reach[0]}): the rim calls src/app/`);
  for (const to of graph.get(entry.module)?.keys() ?? []) {
    if (to === 'dynamo' || to.startsWith('dynamo::') || ['table::store', 'table::keys', 'table::cursor'].includes(to)) {
      if (graph.get(entry.module).get(to) === 'code') problems.push(`${entry.module} uses ${to}: the rim holds no DynamoDB call`);
    }
  }
}
for (const [from, uses] of graph) {
  for (const [to, where] of uses) {
    if (layerOf(to) > layerOf(from)) {
      problems.push(`${from} uses ${to}${where === 'tests' ? ' (in its tests)' : ''}, a layer above it`);
    }
  }
}

// Cycles: strongly connected components of more than one file (Tarjan).
let index = 0;
const stack = [];
const info = new Map();
function connect(v) {
  info.set(v, { index, low: index, on: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v)?.keys() ?? []) {
    if (!graph.has(w)) continue;
    if (!info.has(w)) {
      connect(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).on) {
      info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).on = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) {
      const members = new Set(component);
      const edges = component.flatMap((a) => [...graph.get(a).keys()].filter((b) => members.has(b)).map((b) => `${a} -> ${b}`));
      problems.push(`import cycle: ${edges.join(', ')}`);
    }
  }
}
for (const v of graph.keys()) if (!info.has(v)) connect(v);

const edges = [...graph.values()].reduce((n, uses) => n + uses.size, 0);
if (process.argv.includes('--graph')) {
  for (const [from, uses] of [...graph].sort()) console.log(`${from} (layer ${layerOf(from)}): ${[...uses.keys()].sort().join(', ')}`);
}
LAYERS.forEach((members, i) => {
  const here = [...graph.keys()].filter((m) => layerOf(m) === i).length;
  console.log(`  ${i}  ${members.join(', ')}  (${here} files)`);
});
if (problems.length) {
  for (const p of problems) console.error(`layers: ${p}`);
  process.exit(1);
}
console.log(`layers: ${graph.size} files, ${edges} dependencies (tests included), every one pointing down or across, no import cycle`);
