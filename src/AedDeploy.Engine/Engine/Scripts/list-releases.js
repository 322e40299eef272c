// Lists the releases of a Release-layout app: `node - <root>`. Writes a JSON object on fd 3:
// { live, rollbackTarget, releases: [{ id, commit, buildId, record }] } where record is the
// release's .aeddeploy/releases/<id>.json (or null for a release AedDeploy did not make).
const fs = require('node:fs');
const path = require('node:path');

// The answer goes to fd 3, which the command makes its stdout; anything else printed reaches stderr and
// the log, never the answer (RemoteScripts).
const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };

const root = process.argv[2];
const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return ''; } };
const readJson = (p) => { try { return JSON.parse(fs.readFileSync(p, 'utf8')); } catch { return null; } };
// The commit of a checkout without running git: a detached HEAD holds it, a branch HEAD points at a ref.
const headCommit = (dir) => {
  const head = read(path.join(dir, '.git/HEAD'));
  if (!head.startsWith('ref: ')) return head;
  const ref = head.slice(5);
  const loose = read(path.join(dir, '.git', ref));
  if (loose) return loose;
  const packed = read(path.join(dir, '.git/packed-refs')).split('\n').find((l) => l.endsWith(' ' + ref));
  return packed ? packed.split(' ')[0] : '';
};

let live = '';
try { live = path.basename(fs.readlinkSync(path.join(root, 'current'))); } catch { /* no live release yet */ }
let ids = [];
try {
  ids = fs.readdirSync(path.join(root, 'releases'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
} catch { /* no releases folder yet */ }
const releases = ids.sort().map((id) => {
  const dir = path.join(root, 'releases', id);
  return { id, commit: headCommit(dir), buildId: read(path.join(dir, '.next/BUILD_ID')), record: readJson(path.join(root, '.aeddeploy/releases', id + '.json')) };
});
answer(JSON.stringify({ live, rollbackTarget: read(path.join(root, '.aeddeploy/rollback-target')), releases }));
