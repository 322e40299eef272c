import Link from 'next/link';
import { APP_VERSION } from './version';
import { VersionPanel } from './version-panel';

export default function Home() {
  return (
    <main>
      <h1>Fixture</h1>
      <p id="version">{APP_VERSION}</p>
      <VersionPanel />
      <Link id="to-dynamic" href="/dynamic">
        Dynamic page
      </Link>
    </main>
  );
}
