// Reads an app's definition from a PM2 ecosystem file as PM2 does (require):
// `node - <folder> <file> <app>`. Prints { found, envKeys, waitReady, listenTimeout, nodeArgs, cwd }.
// Only env key names are printed, never values: they hold secrets. Exit 2 when the file cannot be loaded.
const path = require('node:path');

const [folder, file, name] = process.argv.slice(2);
let config;
try {
  process.chdir(folder);
  config = require(path.resolve(folder, file));
} catch (e) {
  process.stderr.write(`${file}: ${e.message.split('\n')[0]}\n`);
  process.exit(2);
}
const apps = Array.isArray(config.apps) ? config.apps : [config.apps || config];
const app = apps.find((a) => a && a.name === name);
const args = app ? [].concat(app.node_args || app.nodeArgs || app.interpreter_args || []).flatMap((a) => String(a).split(' ')) : [];
process.stdout.write(JSON.stringify({
  found: Boolean(app),
  envKeys: app ? Object.keys(app.env || {}) : [],
  waitReady: Boolean(app && (app.wait_ready || app.waitReady)),
  listenTimeout: app ? Number(app.listen_timeout || app.listenTimeout || 3000) : 0,
  nodeArgs: args,
  cwd: app && app.cwd ? String(app.cwd) : '',
}) + '\n');
