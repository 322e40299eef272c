// Carries earlier releases' static files into a release, as hard links: `node - <releases> <into> <origin>...`.
// Open tabs of an earlier version ask for its hashed chunks after the switch, and `next start` serves only the
// files that were under .next/static when it started, so they must be in place before the release's workers boot.
//
// Each release lists what its .next/static holds and which release each file came from (LIST below: a line
// "<origin id>\t<path>"). A release without that list holds only its own build's files. Only files whose origin
// is one of <origin>... are carried, so a file ages out with the release it came from instead of riding along
// from release to release for ever. A file of the release's own build is never replaced (-n): with a fixed build
// id (deploymentId) two builds share paths such as <build id>/_buildManifest.js, and the new build's must win.
//
// Answers one JSON line on fd 3 (see RemoteScripts): { files, sources, missing, ms }.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };
const LIST = 'aeddeploy-static-origins.tsv';
const [releases, into, ...origins] = process.argv.slice(2);
const started = Date.now();
const staticOf = (id) => path.join(releases, id, '.next', 'static');
const listOf = (id) => path.join(releases, id, '.next', LIST);

function walk(root) {
  const files = [];
  const visit = (relative) => {
    for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) visit(name);
      else if (entry.isFile()) files.push(name);
    }
  };
  visit('');
  return files;
}

// What a release holds, as [origin, path] pairs: its list, or (made before lists existed) its own files.
function holdings(id) {
  let text;
  try {
    text = fs.readFileSync(listOf(id), 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    return walk(staticOf(id)).map((file) => [id, file]);
  }
  return text.split('\n').filter(Boolean).map((line) => {
    const tab = line.indexOf('\t');
    return [line.slice(0, tab), line.slice(tab + 1)];
  });
}

const target = staticOf(into);
if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
  process.stderr.write(`${target} is missing: the release has no build\n`);
  process.exit(3);
}

const held = holdings(into);
const present = new Set(held.map(([, file]) => file));
const wanted = new Set(origins);
let files = 0;
let sources = 0;
const missing = [];
const list = listOf(into);
try {
  for (const id of origins) {
    if (id === into) continue;
    const source = staticOf(id);
    if (!fs.statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
      // Pruned, or never built: what it held is still carried by the releases that carry it.
      missing.push(id);
      continue;
    }
    sources++;
    for (const [origin, file] of holdings(id)) {
      if (!wanted.has(origin) || present.has(file)) continue;
      const destination = path.join(target, file);
      fs.mkdirSync(path.dirname(destination), { recursive: true });
      present.add(file);
      try {
        fs.linkSync(path.join(source, file), destination);
        held.push([origin, file]);
        files++;
      } catch (error) {
        // A file the release's list does not name is its own build's all the same: kept, and listed as such.
        if (error.code !== 'EEXIST') throw error;
        held.push([into, file]);
      }
    }
  }
} finally {
  // Also when a link failed half-way: the list must name every file the folder holds, or the next carry would
  // count the ones linked so far as this release's own. Written aside and renamed, so it is never half-written.
  fs.writeFileSync(`${list}.tmp`, held.map(([origin, file]) => `${origin}\t${file}\n`).join(''));
  fs.renameSync(`${list}.tmp`, list);
}
answer(JSON.stringify({ files, sources, missing, ms: Date.now() - started }));
