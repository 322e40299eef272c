// Preloaded into each PM2 cluster worker (`node -r`), for reloads that fail no request:
// 1. Sends PM2 `ready` once THIS worker has answered a request with a status below 500, instead of PM2
//    waiting the full listen_timeout. In cluster mode the port is shared, so a probe may land on another
//    (old) worker: each probe carries this pid and only a response produced by this very process counts.
// 2. Lingers a moment before a stopping worker exits. PM2 stops an old worker with SIGINT; the app closes
//    its server (Next.js does) and exits, but the cluster primary may have handed it a connection just
//    before: a worker that exits before answering that hand-off leaves the connection open in the primary
//    with nobody to serve it, and the client times out (measured: one request in a few thousand during a
//    reload). Alive, the worker refuses it and the primary passes it to another worker.
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');

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
      .get({ host: '127.0.0.1', port: process.env.PORT, path: '/', agent: false, timeout: 5000, headers: { 'x-ready-probe': token } }, (res) => {
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
