import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { APP_VERSION } from '../../version';

export const dynamic = 'force-dynamic';

export function GET() {
  // A file ~/.fixture-unhealthy-versions on one host (Fleet.Tests.ps1), a version per line: that version's PM2 workers
  // there (they have a pm_id) that started after the file was written fail health for as long as they run, while the
  // boot test (outside PM2), the workers already running and every other version pass. Like an environment key read at
  // start, but unlike one it does not outlive its scenario: PM2 keeps an environment key through every later reload
  // (--update-env adds keys, it never drops them), which broke the next scenario and a repair.
  if (process.env.pm_id !== undefined && isUnhealthyByHook()) {
    return Response.json(
      { version: APP_VERSION, pid: process.pid, unhealthy: '~/.fixture-unhealthy-versions' },
      { status: 500, headers: { 'Cache-Control': 'no-store', 'X-App-Version': APP_VERSION } },
    );
  }
  // Read at request time so the answer names the build this process is really serving.
  const buildId = readFileSync(join(process.cwd(), '.next', 'BUILD_ID'), 'utf8').trim();
  return Response.json(
    { version: APP_VERSION, buildId, pid: process.pid, featureFlag: process.env.FEATURE_FLAG ?? null },
    { headers: { 'Cache-Control': 'no-store', 'X-App-Version': APP_VERSION } },
  );
}

let unhealthyByHook: boolean | undefined;

function isUnhealthyByHook(): boolean {
  // Decided on this process's first health request, then kept: a worker is healthy or not for its whole life.
  if (unhealthyByHook === undefined) {
    const hook = join(homedir(), '.fixture-unhealthy-versions');
    const startedAtMs = Date.now() - process.uptime() * 1000;
    try {
      unhealthyByHook =
        statSync(hook).mtimeMs < startedAtMs &&
        readFileSync(hook, 'utf8').split('\n').map((line) => line.trim()).includes(APP_VERSION);
    } catch {
      // No hook (or it went while it was read): healthy.
      unhealthyByHook = false;
    }
  }
  return unhealthyByHook;
}
