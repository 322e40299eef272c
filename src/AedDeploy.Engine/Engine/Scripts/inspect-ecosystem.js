// Reads an app's definition from a PM2 ecosystem file as PM2 does (require):
// `node - <folder> <file> <app> [<commit>]`. With a commit, the file as that commit of the folder's git
// checkout has it (an InPlace deploy's previous version). Prints { found, envKeys, waitReady, listenTimeout,
// nodeArgs, cwd } on fd 3. Only env key names are written, never values: they hold secrets. Exit 2
// (ScriptExitCodes.InspectEcosystem.Unloadable) when the file cannot be loaded.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

// The answer goes to fd 3, which the command makes its stdout; anything else printed reaches stderr and
// the log, never the answer (RemoteScripts).
const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };

const [folder, file, name, commit] = process.argv.slice(2);
let config;
let copy;
try {
  process.chdir(folder);
  let source = path.resolve(folder, file);
  if (commit) {
    // Beside the original, so that whatever it requires resolves the same way; removed at once.
    copy = path.join(folder, `.aeddeploy-${process.pid}-${file}`);
    fs.writeFileSync(copy, execFileSync('git', ['show', `${commit}:./${file}`], { stdio: ['ignore', 'pipe', 'pipe'] }), { mode: 0o600 });
    source = copy;
  }
  config = require(source);
} catch (e) {
  process.stderr.write(`${file}${commit ? ` at ${commit}` : ''}: ${String(e.message).split('\n')[0]}\n`);
  process.exitCode = 2;
} finally {
  if (copy) fs.rmSync(copy, { force: true });
}
if (process.exitCode === 2) process.exit(2);
const apps = Array.isArray(config.apps) ? config.apps : [config.apps || config];
const app = apps.find((a) => a && a.name === name);
const args = app ? [].concat(app.node_args || app.nodeArgs || app.interpreter_args || []).flatMap((a) => String(a).split(' ')) : [];
answer(JSON.stringify({
  found: Boolean(app),
  envKeys: app ? Object.keys(app.env || {}) : [],
  waitReady: Boolean(app && (app.wait_ready || app.waitReady)),
  listenTimeout: app ? Number(app.listen_timeout || app.listenTimeout || 3000) : 0,
  nodeArgs: args,
  cwd: app && app.cwd ? String(app.cwd) : '',
}));
