// Boots a release on a spare port of 127.0.0.1, with the app's environment from its ecosystem file, and
// probes it, before any live worker is touched:
//   node - <release> <ecosystem file> <app> <probe path> <timeout ms> <expected status>
// Writes { passed, status, port, ms, detail, output } on fd 3 and exits 0 when the release answered as
// expected; output is the end of what the release printed (its thrown error, for one).
// A release that exits at boot, or keeps answering something else, fails; the process group is ended.
const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');

// The answer goes to fd 3, which the command makes its stdout; anything else printed reaches stderr and
// the log, never the answer (RemoteScripts).
const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };

// The end of the release's output that the report carries, as AppOutputText bounds it in C#.
const OUTPUT_LINES = 50;
const OUTPUT_CHARS = 4000;

const [release, file, name, probePath, timeoutText, expectedText] = process.argv.slice(2);
const timeout = Number(timeoutText);
const expected = Number(expectedText);
const started = Date.now();
const report = (passed, fields) => {
  answer(JSON.stringify({ passed, ms: Date.now() - started, ...fields }));
  process.exit(passed ? 0 : 1);
};

let app;
try {
  process.chdir(release);
  const config = require(path.resolve(release, file));
  app = (Array.isArray(config.apps) ? config.apps : [config.apps || config]).find((a) => a && a.name === name);
} catch (e) {
  report(false, { status: 0, detail: `${file} cannot be loaded: ${String(e.message).split('\n')[0]}`, output: String(e.stack || e).slice(-OUTPUT_CHARS) });
}
if (!app) report(false, { status: 0, detail: `${file} defines no app named ${name}`, output: '' });

// The release runs on a port and an address of its own: any port argument of the app is left out (PORT
// is set), and any hostname argument names the boot test's address instead, because a fleet host binds
// 0.0.0.0 or its private address, where the live workers already listen or the probe does not reach.
const HOST = '127.0.0.1';
const words = Array.isArray(app.args) ? app.args.map(String) : String(app.args || '').split(/\s+/).filter(Boolean);
const args = [];
for (let i = 0; i < words.length; i++) {
  if (words[i] === '-p' || words[i] === '--port') { i++; continue; }
  if (/^(-p\d+|--port=)/.test(words[i])) continue;
  if (words[i] === '-H' || words[i] === '--hostname') { args.push(words[i], HOST); i++; continue; }
  if (words[i].startsWith('--hostname=')) { args.push(`--hostname=${HOST}`); continue; }
  if (/^-H./.test(words[i])) { args.push(`-H${HOST}`); continue; }
  args.push(words[i]);
}

const server = net.createServer();
server.listen(0, HOST, () => {
  const { port } = server.address();
  server.close(() => boot(port));
});

function boot(port) {
  const env = { ...process.env, ...(app.env || {}), PORT: String(port), NODE_ENV: 'production' };
  const child = spawn(process.execPath, [path.resolve(release, app.script), ...args], {
    cwd: release, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let output = '';
  const keep = (data) => { output = (output + data).slice(-OUTPUT_CHARS); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => { exited = signal ? `signal ${signal}` : `exit code ${code}`; });

  let wrongAnswers = 0;
  let lastStatus = 0;
  const finish = (passed, detail) => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      report(passed, { status: lastStatus, port, detail, output: output.split('\n').slice(-OUTPUT_LINES).join('\n') });
    }, exited ? 0 : 1500);
  };
  const again = () => setTimeout(probe, 200);
  const probe = () => {
    if (exited) return finish(false, `the release exited at boot (${exited})`);
    if (Date.now() - started > timeout) {
      return finish(false, lastStatus ? `it answered HTTP ${lastStatus}, not ${expected}` : `no answer within ${timeout / 1000} s`);
    }
    http.get({ host: HOST, port, path: probePath, timeout: 5000, agent: false }, (res) => {
      res.resume();
      lastStatus = res.statusCode;
      if (res.statusCode === expected) return finish(true, `HTTP ${res.statusCode} from ${probePath}`);
      // A server that is up and keeps answering the wrong status will not get better.
      if (++wrongAnswers >= 5) return finish(false, `it answered HTTP ${res.statusCode} from ${probePath}, not ${expected}`);
      again();
    }).on('timeout', function () { this.destroy(); }).on('error', again);
  };
  probe();
}
