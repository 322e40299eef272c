/** @type {import('next').NextConfig} */
const nextConfig = {
  // A type error must fail `next build`, as it would on a real project.
  typescript: { ignoreBuildErrors: false },
};

export default nextConfig;
