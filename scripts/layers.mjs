// The crate's layers, checked: every `crate::` path a module uses (outside its tests) must point
// to a module of a lower layer, or of its own layer without closing a cycle. Prints the module
// graph's layering and exits 1 naming each violation or cycle. `npm test` runs it.
//
//   node scripts/layers.mjs           check
//   node scripts/layers.mjs --graph   also print every module's dependencies
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = new URL('../src/', import.meta.url).pathname;

// Lowest first. A module is `group::name` (or the group itself for files at its top).
const LAYERS = [
  ['platform::runtime', 'platform::crypto', 'platform::cache', 'platform::driver', 'platform::native'],
  ['values'],
  ['dynamo'],
  ['table'],
  ['domain'],
  ['app'],
  ['api'],
  ['host', 'testing', 'bin'],
];

function layerOf(module) {
  for (const [i, members] of LAYERS.entries()) {
    if (members.some((m) => module === m || module.startsWith(`${m}::`))) return i;
  }
  throw new Error(`no layer for ${module}: add it to scripts/layers.mjs`);
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith('.rs') ? [path] : [];
  });
}

/** The module a file is, at the depth the graph is drawn: `group::name` (`api`, `dynamo` whole). */
function moduleOf(file) {
  const parts = relative(SRC, file).replace(/\.rs$/, '').split('/').filter((p) => p !== 'mod');
  if (parts[0] === 'lib') return 'lib';
  if (parts[0] === 'bin') return 'bin';
  if (['api', 'app', 'dynamo', 'testing'].includes(parts[0])) return parts[0];
  return parts.slice(0, 2).join('::');
}

/** The same depth for a path `crate::a::b::...`. */
function targetOf(path) {
  const parts = path.split('::');
  if (['api', 'app', 'dynamo', 'testing'].includes(parts[0])) return parts[0];
  return parts.slice(0, 2).join('::');
}

const graph = new Map();
for (const file of files(SRC)) {
  const from = moduleOf(file);
  if (from === 'lib') continue;
  let text = readFileSync(file, 'utf8');
  const tests = text.search(/#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod tests/);
  if (tests >= 0) text = text.slice(0, tests);
  // Doc links are not dependencies.
  text = text.split('\n').filter((line) => !line.trimStart().startsWith('//')).join('\n');
  const prefix = from === 'bin' ? 'dynauth' : 'crate';
  const uses = graph.get(from) ?? new Set();
  for (const m of text.matchAll(new RegExp(`\\b${prefix}::([a-z_]+(?:::[a-z_]+)?)`, 'g'))) {
    const to = targetOf(m[1]);
    if (to !== from) uses.add(to);
  }
  graph.set(from, uses);
}

const problems = [];
for (const [from, uses] of graph) {
  for (const to of uses) {
    if (!graph.has(to)) continue; // an item of a group's mod.rs, or a re-export
    if (layerOf(to) > layerOf(from)) problems.push(`${from} uses ${to}, a layer above it`);
  }
}

// Cycles (Tarjan's strongly connected components).
let index = 0;
const stack = [];
const state = new Map();
function visit(v) {
  state.set(v, { index, low: index, on: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!state.has(w)) {
      visit(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).on) {
      state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
    }
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).on = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) problems.push(`import cycle: ${component.sort().join(' <-> ')}`);
  }
}
for (const v of [...graph.keys()].sort()) if (!state.has(v)) visit(v);

if (process.argv.includes('--graph')) {
  for (const [from, uses] of [...graph].sort()) console.log(`${from} -> ${[...uses].filter((u) => graph.has(u)).sort().join(', ')}`);
}
const modules = graph.size;
const edges = [...graph.values()].reduce((n, u) => n + [...u].filter((x) => graph.has(x)).length, 0);
if (problems.length) {
  for (const p of problems) console.error(`layers: ${p}`);
  process.exit(1);
}
console.log(`layers: ${modules} modules, ${edges} dependencies, every one pointing down, no import cycle`);
