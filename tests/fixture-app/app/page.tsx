import { APP_VERSION } from './version';

export default function Home() {
  return (
    <main>
      <h1>Fixture</h1>
      <p id="version">{APP_VERSION}</p>
    </main>
  );
}
