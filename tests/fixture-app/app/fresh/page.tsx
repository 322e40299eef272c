import { APP_VERSION } from '../version';

// Never requested before a deploy: proves a route the new build has not loaded yet still answers.
export const dynamic = 'force-dynamic';

export default function FreshPage() {
  return (
    <main>
      <p id="version">{APP_VERSION}</p>
      <p id="time">{new Date().toISOString()}</p>
    </main>
  );
}
