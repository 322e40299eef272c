import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_VERSION } from '../../version';

export const dynamic = 'force-dynamic';

export function GET() {
  // FIXTURE_UNHEALTHY_VERSION=<version> in one host's shared/.env (Fleet.Tests.ps1): that version's PM2 workers there
  // (they have a pm_id) fail health, while its boot test (outside PM2) and every other version pass.
  if (process.env.FIXTURE_UNHEALTHY_VERSION === APP_VERSION && process.env.pm_id !== undefined) {
    return Response.json(
      { version: APP_VERSION, pid: process.pid, unhealthy: 'FIXTURE_UNHEALTHY_VERSION' },
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
