// Preloaded into each PM2 cluster worker (`node -r`), for reloads that fail no request:
// 1. Sends PM2 `ready` once THIS worker has answered a request with a status below 500, instead of PM2
//    waiting the full listen_timeout. In cluster mode the port is shared, so a probe may land on another
//    (old) worker: each probe carries this pid and only a response produced by this very process counts.
//    The probe goes to the address the app bound (a fleet host's own), or loopback when it bound them all.
// 2. Lingers a moment before a stopping worker exits. PM2 stops an old worker with SIGINT; the app closes
//    its server (Next.js does) and exits, but the cluster primary may have handed it a connection just
//    before: a worker that exits before answering that hand-off leaves the connection open in the primary
//    with nobody to serve it, and the client times out (measured: one request in a few thousand during a
//    reload). Alive, the worker refuses it and the primary passes it to another worker.
// 3. Adds an X-Build-Id header to every response (pages, API routes, static files): the BUILD_ID of the build
//    this worker loaded, so a health check can tell which build answered. It is read once, when the server
//    starts listening (PM2 changes into the app's cwd only after preloads ran), and kept: an InPlace build
//    rewrites .next under a running worker, which goes on serving what it loaded. The id is no secret: every
//    page already carries it (Next.js 16 in its inline RSC payload, "b":"<id>"; earlier versions in asset URLs).
const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const LINGER_MS = 500;

if (cluster.isWorker) {
  const exit = process.exit;
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.prependListener(signal, () => {
      stopping = true;
      // No one else handles the signal: end the worker as Node would have, after the moment.
      if (process.listenerCount(signal) === 1) process.exit(128 + os.constants.signals[signal]);
    });
  }
  process.exit = function (code) {
    if (!stopping) return exit.call(process, code);
    setTimeout(() => exit.call(process, code), LINGER_MS);
    return undefined;
  };
}

let buildId;
const ownBuildId = () => {
  if (buildId === undefined) {
    try {
      buildId = fs.readFileSync(path.join(process.cwd(), '.next', 'BUILD_ID'), 'utf8').trim();
    } catch {
      buildId = '';
    }
  }
  return buildId;
};
// Where the app listens, for the ready probe: the address it bound (a fleet host binds its own, not 127.0.0.1),
// or loopback when it bound every address. Taken from the server on PORT, once it listens.
let probeHost = '127.0.0.1';
const rememberAddress = (server) => {
  const bound = server.address();
  if (bound && typeof bound === 'object' && String(bound.port) === String(process.env.PORT)) {
    probeHost = bound.address === '0.0.0.0' || bound.address === '::' ? '127.0.0.1' : bound.address;
  }
};
const emitWithBuildId = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'listening') {
    ownBuildId();
    rememberAddress(this);
  }
  else if (event === 'request' && ownBuildId() && !res.headersSent) res.setHeader('X-Build-Id', buildId);
  return emitWithBuildId.apply(this, arguments);
};

if (process.send) {
  const token = String(process.pid);
  const deadline = Date.now() + 60_000;
  let ready = false;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, req, res) {
    if (!ready && event === 'request' && req.headers['x-ready-probe'] === token) {
      res.once('finish', () => {
        if (!ready && res.statusCode < 500) {
          ready = true;
          process.send('ready');
        }
      });
    }
    return emit.apply(this, arguments);
  };
  const probeLater = () => {
    if (!ready && Date.now() < deadline) setTimeout(probe, 100).unref();
  };
  // agent: false opens a new connection each time, so the cluster master spreads probes over workers.
  // PORT is read late: PM2 copies the app env into process.env only after preloads ran.
  const probe = () => {
    if (!process.env.PORT) return probeLater();
    http
      .get({ host: probeHost, port: process.env.PORT, path: '/', agent: false, timeout: 5000, headers: { 'x-ready-probe': token } }, (res) => {
        res.resume();
        res.on('end', probeLater);
      })
      .on('timeout', function () {
        this.destroy();
      })
      .on('error', probeLater);
  };
  probeLater();
}
