import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_VERSION } from '../../version';

export const dynamic = 'force-dynamic';

export function GET() {
  // Read at request time so the answer names the build this process is really serving.
  const buildId = readFileSync(join(process.cwd(), '.next', 'BUILD_ID'), 'utf8').trim();
  return Response.json(
    { version: APP_VERSION, buildId, pid: process.pid, featureFlag: process.env.FEATURE_FLAG ?? null },
    { headers: { 'Cache-Control': 'no-store', 'X-App-Version': APP_VERSION } },
  );
}
