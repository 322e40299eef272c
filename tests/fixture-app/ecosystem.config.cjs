// PM2 definition of the fixture app. Server-specific values live in the untracked `.env` beside
// this file (possibly a symlink to a shared one), so one commit serves every layout and port.
const fs = require('node:fs');
const path = require('node:path');

function readDotEnv(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const env = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) env[match[1]] = match[2];
  }
  return env;
}

const dotEnv = readDotEnv(path.join(__dirname, '.env'));

module.exports = {
  apps: [
    {
      name: 'fixture',
      script: 'node_modules/next/dist/bin/next',
      // The host's own address (a fleet rig host's 127.0.0.N), loopback by default: nginx is the one public entry point.
      args: `start --hostname ${dotEnv.APP_HOST || '127.0.0.1'}`,
      // __dirname is the resolved release; APP_CWD keeps the `current` symlink path so reloads follow it.
      cwd: dotEnv.APP_CWD || __dirname,
      exec_mode: 'cluster',
      instances: 2,
      wait_ready: true,
      listen_timeout: 10000,
      kill_timeout: 3000,
      ...(dotEnv.READY_PRELOAD ? { node_args: ['-r', dotEnv.READY_PRELOAD] } : {}),
      env: {
        FEATURE_FLAG: 'on',
        ...dotEnv,
        NODE_ENV: 'production',
      },
    },
  ],
};
