/** @type {import('next').NextConfig} */
const settings = {
  // A type error must fail `next build`, as it would on a real project.
  typescript: { ignoreBuildErrors: false },
};

// FIXTURE_CRASH_AT_BOOT=1 in one host's shared/.env fails that host's boot test only (Fleet.Tests.ps1): the boot
// test starts `next start` outside PM2 (no pm_id), while the host's PM2 workers, which have a pm_id, never throw.
function nextConfig(phase) {
  if (phase === 'phase-production-server' && process.env.FIXTURE_CRASH_AT_BOOT === '1' && process.env.pm_id === undefined) {
    throw new Error('fixture FIXTURE_CRASH_AT_BOOT: refusing to start outside PM2');
  }
  return settings;
}

export default nextConfig;
