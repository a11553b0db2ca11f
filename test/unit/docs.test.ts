/**
 * The README and docs/ are the reference a newcomer starts from, so they are checked like code: the
 * README stays a short landing page, every relative link and anchor resolves, docs/api.md matches the
 * route table the web actually mounts, and nothing refers to a work item by its number (those numbers
 * mean nothing to a reader outside the tracker). Markdown is read with small regexes rather than a
 * parser: the docs use only plain links, headings and pipe tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const README = path.join(REPO, 'README.md');
const DOCS = path.join(REPO, 'docs');
const README_MAX_BYTES = 8192;

const read = (file: string) => fs.readFileSync(file, 'utf8');
const rel = (file: string) => path.relative(REPO, file);

/** The markdown files whose links must resolve: the README, everything in docs/, and image/README.md (a pointer into docs/). */
function markdownFiles(): string[] {
  const docs = fs.readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS, f));
  return [README, ...docs, path.join(REPO, 'image/README.md')].filter((f) => fs.existsSync(f));
}

/** Fenced blocks and inline code spans hold examples, not links: blank them out, keeping line structure. */
function withoutCode(md: string): string {
  let fenced = false;
  return md.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) { fenced = !fenced; return ''; }
    if (fenced) return '';
    return line.replace(/`+[^`]*`+/g, ' ');
  }).join('\n');
}

/** GitHub's heading anchor: inline markup dropped, lowercase, punctuation other than "-" and "_" removed, spaces → "-". */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file offers; repeated headings get -1, -2 … as on GitHub. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of read(file).split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) { fenced = !fenced; continue; }
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link { file: string; line: number; target: string }

/** Inline links and images `[text](target "title")`, and reference definitions `[id]: target`. */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  withoutCode(read(file)).split('\n').forEach((text, i) => {
    for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g)) links.push({ file, line: i + 1, target: m[1]! });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text);
    if (def) links.push({ file, line: i + 1, target: def[1]! });
  });
  return links;
}

/** Why a link does not resolve, or null. External URLs are not fetched: only paths inside `root` and anchors are checked. */
function brokenReason(link: Link, anchorCache: Map<string, Set<string>>, root = REPO): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return null;
  const hash = link.target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const target = pathPart ? path.resolve(path.dirname(link.file), pathPart) : link.file;
  if (!target.startsWith(root + path.sep) && target !== root) return 'points outside the repository';
  if (!fs.existsSync(target)) return `${rel(target)} does not exist`;
  if (anchor === undefined) return null;
  if (!target.endsWith('.md')) return `anchor #${anchor} into a file that is not markdown`;
  if (!anchorCache.has(target)) anchorCache.set(target, anchorsOf(target));
  return anchorCache.get(target)!.has(anchor) ? null : `no heading with anchor #${anchor} in ${rel(target)}`;
}

/** Cells of a pipe-table row; `\|` inside a cell is a literal pipe, not a column break. */
function cells(row: string): string[] {
  return row.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim());
}

const plain = (cell: string) => cell.replace(/`/g, '').replace(/\\\|/g, '|').trim();

interface DocRoute { method: string; path: string; permission: string; line: number }

/** Rows of every table in docs/api.md whose header starts with exactly `| method | path | permission |`. */
function documentedRoutes(md: string): DocRoute[] {
  const lines = md.split('\n');
  const rows: DocRoute[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = lines[i]!.trim().startsWith('|') ? cells(lines[i]!) : [];
    if (head.slice(0, 3).join(' ') !== 'method path permission') continue;
    for (let j = i + 2; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      const [method = '', route = '', permission = ''] = cells(lines[j]!).map(plain);
      rows.push({ method: method.toUpperCase(), path: route, permission, line: j + 1 });
    }
  }
  return rows;
}

test('README is a landing page of at most 8 KB with the Raspberry Pi Imager steps and both developer commands', () => {
  const bytes = fs.statSync(README).size;
  assert.ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes; move reference material into docs/ to stay within ${README_MAX_BYTES}`);
  const md = read(README);
  const imager = /^##\s+.*Raspberry Pi Imager.*$/m.exec(md);
  assert.ok(imager, 'README.md needs a section about flashing with Raspberry Pi Imager');
  const section = md.slice(imager.index).split(/\n## /)[0]!;
  const steps = section.match(/^\d+\.\s/gm) ?? [];
  assert.ok(steps.length >= 3, `the Imager section should walk through numbered steps, found ${steps.length}`);
  for (const must of ['Use custom', 'printbox-arm64.img.xz', 'printbox.txt', 'OS customisation']) {
    assert.ok(section.includes(must), `the Imager steps should mention ${must}`);
  }
  for (const cmd of ['`npm start`', '`npm test`']) assert.ok(md.includes(cmd), `README.md should show ${cmd}`);
});

test('every relative link and image in README.md and docs/ points to an existing file and heading', () => {
  const files = markdownFiles();
  assert.ok(files.some((f) => f.startsWith(DOCS + path.sep)), 'docs/ should hold markdown files');
  const anchorCache = new Map<string, Set<string>>();
  const links = files.flatMap(linksOf);
  assert.ok(links.length > 20, `expected the docs to link to each other, found ${links.length} links`);
  const broken = links.flatMap((l) => {
    const why = brokenReason(l, anchorCache);
    return why ? [`${rel(l.file)}:${l.line} (${l.target}): ${why}`] : [];
  });
  assert.deepEqual(broken, []);
});

test('heading anchors follow GitHub: punctuation dropped, spaces become dashes, repeats numbered', () => {
  assert.equal(slug('First boot (printbox.txt)'), 'first-boot-printboxtxt');
  assert.equal(slug('Jobs: pause, resume and resets'), 'jobs-pause-resume-and-resets');
  assert.equal(slug('The `printbox` command'), 'the-printbox-command');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-docs-'));
  try {
    const file = path.join(tmp, 'a.md');
    fs.writeFileSync(file, '# Notes\n## Notes\n```\n# not a heading\n```\n');
    assert.deepEqual([...anchorsOf(file)], ['notes', 'notes-1']);
    const page = path.join(tmp, 'b.md');
    fs.writeFileSync(page, '[ok](a.md#notes-1) [gone](a.md#missing) [nofile](c.md) `[code](nowhere.md)`\n');
    const reasons = linksOf(page).map((l) => brokenReason(l, new Map(), tmp));
    assert.deepEqual(reasons, [null, `no heading with anchor #missing in ${rel(file)}`, `${rel(path.join(tmp, 'c.md'))} does not exist`]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('docs/api.md lists exactly the routes of the web route tables, with the same method and permission', async () => {
  // The table modules are imported, not an app started: each entry carries method, path and access.
  // Three tables: PrintBox's own under /api, the OctoPrint-compatible one under /octoprint, the camera streams.
  const { routes } = await import('../../services/web/routes/index.ts');
  const { octoprintRoutes } = await import('../../services/web/octoprint/index.ts');
  const { cameraStreamRoutes } = await import('../../services/web/camera/routes.ts');
  const tables = [['/api', routes], ['/octoprint', octoprintRoutes], ['/camera', cameraStreamRoutes]] as const;
  const code = new Map<string, string>(tables.flatMap(([prefix, table]) => table.map((r) => [`${r.method.toUpperCase()} ${prefix}${r.path}`, String(r.access)] as const)));
  assert.ok(routes.length > 10 && octoprintRoutes.length > 10, 'a route table looks empty');

  const docs = documentedRoutes(read(path.join(DOCS, 'api.md')));
  assert.ok(docs.length > 0, 'docs/api.md has no `| method | path | permission |` tables');
  const documented = new Map<string, string>();
  const problems: string[] = [];
  for (const d of docs) {
    if (!/^\/(api|octoprint|camera)\//.test(d.path)) { problems.push(`docs/api.md:${d.line}: ${d.path} should be a full /api/…, /octoprint/… or /camera/… path`); continue; }
    const key = `${d.method} ${d.path}`;
    if (documented.has(key)) problems.push(`docs/api.md:${d.line}: ${key} is listed twice`);
    documented.set(key, d.permission);
  }
  for (const [key, access] of code) {
    const perm = documented.get(key);
    if (perm === undefined) problems.push(`missing from docs/api.md: ${key} (${access})`);
    else if (perm !== access) problems.push(`docs/api.md says ${key} needs ${perm}; the route table says ${access}`);
  }
  for (const key of documented.keys()) {
    if (!code.has(key)) problems.push(`docs/api.md lists ${key}, which the web does not serve`);
  }
  assert.deepEqual(problems, []);
});

// Built from pieces so this file does not match its own pattern.
const WORK_ITEM = new RegExp(String.raw`\bissue` + String.raw`[ -]?#?[0-9]`, 'i');
const SCANNED = ['README.md', 'docs', 'services', 'web/src', 'test', 'scripts', 'image', 'systemd', 'bench', '.ci'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'cache']);

function textFiles(entry: string): string[] {
  const full = path.join(REPO, entry);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [full];
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((d) => {
    if (d.isDirectory()) return SKIP_DIRS.has(d.name) || d.name.startsWith('.') ? [] : textFiles(path.join(entry, d.name));
    return d.isFile() ? [path.join(full, d.name)] : [];
  });
}

test('no doc, code, test or script refers to a work item by number', () => {
  const files = SCANNED.flatMap(textFiles);
  assert.ok(files.length > 50, `expected to scan the repository, found ${files.length} files`);
  const hits: string[] = [];
  for (const file of files) {
    const buf = fs.readFileSync(file);
    if (buf.subarray(0, 8000).includes(0)) continue; // binary (images)
    buf.toString('utf8').split('\n').forEach((line, i) => {
      if (WORK_ITEM.test(line)) hits.push(`${rel(file)}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(hits, [], 'say what the code does, not which work item added it');
});
