// Says what a release's build is, so that a fleet can prove every host runs the same one:
//   node - <release> <ecosystem file> <app name>
// Answers one JSON line on fd 3 (see RemoteScripts):
//   { buildId, staticHash, serverHash, keyHash, keySource, actions, fingerprint }
// BUILD_ID alone proves nothing (with a deployment id it is a constant, docs/design/fleet.md §3.1), so the build is
// named by hashes of what the browser loads (staticHash: every file under .next/static), of what routes requests
// and finds Server Actions on the server (serverHash: the manifests, required-server-files.json, preview-props.json:
// draft mode's keys must match too), and of the Server Actions key in effect: Next takes
// NEXT_SERVER_ACTIONS_ENCRYPTION_KEY from the environment before the one built into the manifest, so a host whose
// env sets another key cannot decrypt what the others encrypted. Each hash is the sha256 of the LC_ALL=C sorted
// "<sha256>  <path>\n" lines of its files (paths relative to the release), as
//   find .next/static -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort | sha256sum
// gives. Run it before CarryStatic, which adds earlier releases' files to .next/static.
// The key is secret: only its hash leaves this script, never the key, nor any text that could hold it (a parse
// error of the manifest quotes the manifest, so it is never printed).
// keySource: env (the app's env in the ecosystem file, env_production over env), dotenv (the release's
// .env.production.local, .env.local, .env.production, .env, in Next's order), manifest (encryptionKey of
// .next/server/server-reference-manifest.json) or none (keyHash is then the hash of ''). actions: the number of
// Server Actions in that manifest (node + edge). fingerprint: sha256 of buildId, staticHash, serverHash and keyHash,
// one per line.
// Exit 2 (ScriptExitCodes.IdentifyBuild.Unidentifiable): no .next/BUILD_ID, a server-reference-manifest.json that is
// not JSON, or an ecosystem file that cannot be loaded or defines no app of that name.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };
const fail = (message) => { process.stderr.write(`${message}\n`); process.exit(2); };
const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const KEY = 'NEXT_SERVER_ACTIONS_ENCRYPTION_KEY';

const [folder, file, name] = process.argv.slice(2);
// Absolute: the ecosystem file is loaded from inside the release (chdir), as PM2 loads it.
const release = path.resolve(folder);
const next = path.join(release, '.next');
const relative = (full) => path.relative(release, full).split(path.sep).join('/');

// Regular files only, as `find -type f`: a link is not part of the build.
function walk(folder, keep) {
  const found = [];
  const visit = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.isFile() && keep(entry.name, full)) found.push(full);
    }
  };
  visit(folder);
  return found;
}

function filesIn(dir, keep) {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && keep(entry.name)).map((entry) => path.join(dir, entry.name));
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  }
}

// Sorted by bytes, as LC_ALL=C sort does; JavaScript's own order compares UTF-16 units.
function hashOf(files) {
  const lines = [...new Set(files)].map((full) => Buffer.from(`${sha256(fs.readFileSync(full))}  ${relative(full)}\n`));
  lines.sort(Buffer.compare);
  return sha256(Buffer.concat(lines));
}

function isFile(full) {
  return fs.lstatSync(full, { throwIfNoEntry: false })?.isFile() === true;
}

// KEY=VALUE lines, optionally after `export`, quotes stripped: enough for a key, which is base64.
function dotenvValue(full) {
  let text;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.code === 'EISDIR') return undefined;
    throw error;
  }
  let value;
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || match[1] !== KEY) continue;
    const raw = match[2];
    const quoted = /^(['"`])([\s\S]*)\1$/.exec(raw);
    value = quoted ? quoted[2] : raw.replace(/\s+#.*$/, '');
  }
  return value;
}

let buildId;
try {
  buildId = fs.readFileSync(path.join(next, 'BUILD_ID'), 'utf8').trim();
} catch {
  fail(`${path.join(next, 'BUILD_ID')} is missing: the release has not been built.`);
}

let app;
try {
  process.chdir(release);
  const config = require(path.resolve(release, file));
  app = (Array.isArray(config.apps) ? config.apps : [config.apps || config]).find((a) => a && a.name === name);
} catch (e) {
  fail(`${file} cannot be loaded: ${String(e.message).split('\n')[0]}`);
}
if (!app) fail(`${file} defines no app named ${name}.`);

let manifest = {};
const manifestPath = path.join(next, 'server', 'server-reference-manifest.json');
if (isFile(manifestPath)) {
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) || {};
  } catch {
    fail(`${manifestPath} is not JSON: the build is damaged.`);
  }
}

const env = { ...(app.env || {}), ...(app.env_production || {}) };
let key = '';
let keySource = 'none';
if (env[KEY]) {
  key = String(env[KEY]);
  keySource = 'env';
} else {
  for (const dotenv of ['.env.production.local', '.env.local', '.env.production', '.env']) {
    const value = dotenvValue(path.join(release, dotenv));
    if (value) {
      key = value;
      keySource = 'dotenv';
      break;
    }
  }
  if (keySource === 'none' && manifest.encryptionKey) {
    key = String(manifest.encryptionKey);
    keySource = 'manifest';
  }
}
const keyHash = sha256(key);

const count = (table) => (table && typeof table === 'object' ? Object.keys(table).length : 0);
const actions = count(manifest.node) + count(manifest.edge);

const staticHash = hashOf(walk(path.join(next, 'static'), () => true));
const server = path.join(next, 'server');
const serverHash = hashOf([
  ...filesIn(next, (n) => n.includes('manifest') && n.endsWith('.json')),
  ...filesIn(server, (n) => n.includes('manifest') && (n.endsWith('.json') || n.endsWith('.js'))),
  ...walk(path.join(server, 'app'), (n) => n.endsWith('_client-reference-manifest.js')),
  ...[path.join(next, 'required-server-files.json'), path.join(server, 'preview-props.json')].filter(isFile),
]);
const fingerprint = sha256(`${buildId}\n${staticHash}\n${serverHash}\n${keyHash}`);
answer(JSON.stringify({ buildId, staticHash, serverHash, keyHash, keySource, actions, fingerprint }));
