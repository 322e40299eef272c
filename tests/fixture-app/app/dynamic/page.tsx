import { APP_VERSION } from '../version';

export const dynamic = 'force-dynamic';

export default function DynamicPage() {
  return (
    <main>
      <p id="version">{APP_VERSION}</p>
      <p id="time">{new Date().toISOString()}</p>
    </main>
  );
}
