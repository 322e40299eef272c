// Ends an app's workers that PM2's daemon still runs but no longer lists:
// `node - <app> <listed pid>...`. A worker is the app's when the daemon is its parent and the environment
// PM2 started it with names the app (cluster mode: the pm2_env JSON; fork mode: name and pm_id).
// Such a worker gets a moment to exit on its own (PM2 may be ending it), then TERM, then KILL.
// Writes one line per worker ended on fd 3.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// The answer goes to fd 3, which the command makes its stdout; anything else printed reaches stderr and
// the log, never the answer (RemoteScripts).
const answer = (text) => { const b = Buffer.from(text + '\n'); for (let o = 0; o < b.length;) o += fs.writeSync(3, b, o); };

const [app, ...listedPids] = process.argv.slice(2);
const listed = new Set(listedPids);
const home = process.env.PM2_HOME || path.join(os.homedir(), '.pm2');
let daemon;
try {
  daemon = fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8').trim();
} catch {
  process.exit(0); // no daemon, no strays
}

function isAppWorker(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] !== daemon) return false;
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const pm2Env = env.find((v) => v.startsWith('pm2_env='));
  if (pm2Env) return JSON.parse(pm2Env.slice('pm2_env='.length)).name === app;
  return env.includes(`name=${app}`) && env.some((v) => v.startsWith('pm_id='));
}

function strays() {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || listed.has(entry)) continue;
    try {
      if (isAppWorker(entry)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitGone(pids, ms) {
  for (let waited = 0; waited < ms && pids.some(alive); waited += 100) await sleep(100);
  return pids.filter(alive);
}

(async () => {
  let left = await waitGone(strays(), 2000);
  if (left.length === 0) return;
  for (const pid of left) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
  const terminated = left;
  left = await waitGone(left, 5000);
  for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const pid of terminated) {
    answer(`stray worker ${pid} of ${app} ended${left.includes(pid) ? ' (KILL)' : ''}`);
  }
})();
