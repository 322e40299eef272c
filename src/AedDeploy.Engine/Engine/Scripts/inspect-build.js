// Inspects a Next.js build for `next start`, run with node on the server: `node - <folder>`.
// Writes one JSON object on fd 3: { buildId, nextVersion, checks: [{ name, passed, detail }] }.
// BUILD_ID alone proves nothing (next build writes it before static generation ends), so every
// manifest `next start` reads must parse, the files they name must exist, and the build's last
// file (export-marker.json in Next.js 13 to 16) must be there.
const fs = require('node:fs');
const path = require('node:path');

// The answer goes to fd 3, which the command makes its stdout; anything else printed reaches stderr and
// the log, never the answer (RemoteScripts).
const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };

const root = process.argv[2];
const next = path.join(root, '.next');
const checks = [];
const check = (name, passed, detail) => checks.push({ name, passed: Boolean(passed), detail: String(detail) });
const isDir = (p) => { try { return fs.statSync(p).isDirectory(); } catch { return false; } };
const isFile = (p) => { try { const s = fs.statSync(p); return s.isFile() && s.size > 0; } catch { return false; } };
const readJson = (rel) => {
  try { return { value: JSON.parse(fs.readFileSync(path.join(next, rel), 'utf8')) }; }
  catch (e) { return { error: e.code === 'ENOENT' ? 'missing' : `unreadable (${e.message.split('\n')[0]})` }; }
};

let buildId = '';
try { buildId = fs.readFileSync(path.join(next, 'BUILD_ID'), 'utf8').trim(); } catch { /* reported below */ }
check('BUILD_ID', buildId.length > 0, buildId || '.next/BUILD_ID is missing or empty');
check('server', isDir(path.join(next, 'server')), '.next/server');
check('static', isDir(path.join(next, 'static')), '.next/static');

for (const rel of ['build-manifest.json', 'routes-manifest.json', 'prerender-manifest.json', 'required-server-files.json',
  'server/pages-manifest.json', 'server/middleware-manifest.json']) {
  const m = readJson(rel);
  check(rel, !m.error, m.error ? `.next/${rel} is ${m.error}` : `.next/${rel}`);
}

// Every route the app router knows must have its server file.
const appPaths = readJson('server/app-paths-manifest.json');
if (!appPaths.error) {
  const missing = Object.values(appPaths.value).filter((f) => !isFile(path.join(next, 'server', f)));
  check('app routes', missing.length === 0,
    missing.length === 0 ? `${Object.keys(appPaths.value).length} routes` : `missing: ${missing.slice(0, 5).join(', ')}`);
}

// The chunks every page loads must be servable.
const buildManifest = readJson('build-manifest.json');
if (!buildManifest.error) {
  const files = new Set([...(buildManifest.value.rootMainFiles || []), ...(buildManifest.value.polyfillFiles || []),
    ...Object.values(buildManifest.value.pages || {}).flat()]);
  const missing = [...files].filter((f) => !isFile(path.join(next, f)));
  check('static chunks', missing.length === 0, missing.length === 0 ? `${files.size} files` : `missing: ${missing.slice(0, 5).join(', ')}`);
}

check('build finished', isFile(path.join(next, 'export-marker.json')),
  isFile(path.join(next, 'export-marker.json')) ? '.next/export-marker.json' : '.next/export-marker.json is missing: the build did not finish');

let nextVersion = '';
try { nextVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/next/package.json'), 'utf8')).version || ''; } catch { /* reported below */ }
check('node_modules/next', nextVersion.length > 0, nextVersion ? `next ${nextVersion}` : 'node_modules/next is missing: dependencies are not installed');

answer(JSON.stringify({ buildId, nextVersion, checks }));
