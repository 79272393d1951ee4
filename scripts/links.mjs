// Every relative link in README.md, CHANGELOG.md and docs/*.md resolves: the file (or folder)
// exists, and an anchor names a heading of the page it points to (GitHub's slugs). Every test
// the docs cite as `src/<file>.rs::<name>` (the security table's proofs) is a function of that
// file. `npm test` runs it; exits 1 listing each broken link.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const pages = ['README.md', 'CHANGELOG.md', 'clients/js/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to dashes. */
const slug = (heading) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');

/** The text outside code fences and inline code. */
function prose(text) {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  }).join('\n').replace(/`[^`\n]*`/g, '');
}

const anchors = new Map();
function anchorsOf(file) {
  if (!anchors.has(file)) {
    const seen = new Set();
    for (const m of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) seen.add(slug(m[1]));
    anchors.set(file, seen);
  }
  return anchors.get(file);
}

const broken = [];
let checked = 0;
for (const page of pages) {
  const file = join(ROOT, page);
  for (const m of prose(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
    checked += 1;
    const [path, anchor] = target.split('#');
    const dest = path === '' ? file : resolve(dirname(file), path);
    if (!existsSync(dest)) {
      broken.push(`${page}: ${target}: no such file ${relative(ROOT, dest)}`);
      continue;
    }
    if (anchor && dest.endsWith('.md') && !anchorsOf(dest).has(anchor)) {
      broken.push(`${page}: ${target}: ${relative(ROOT, dest)} has no heading #${anchor}`);
    }
  }
}
// Tests cited by name (CHANGELOG.md is history: its names may be gone).
for (const page of pages.filter((p) => p !== 'CHANGELOG.md')) {
  for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/\b((?:src|tests)\/[\w/]+\.rs)::([a-z_0-9]+)/g)) {
    checked += 1;
    const [, path, name] = m;
    const file = join(ROOT, path);
    if (!existsSync(file)) broken.push(`${page}: ${path}::${name}: no such file ${path}`);
    else if (!new RegExp(`\\bfn ${name}\\b`).test(readFileSync(file, 'utf8'))) broken.push(`${page}: ${path}::${name}: no such function in ${path}`);
  }
}
if (broken.length) {
  for (const b of broken) console.error(`links: ${b}`);
  process.exit(1);
}
console.log(`links: ${checked} relative links in ${pages.length} pages, every one resolves`);
