'use client';

import { useState } from 'react';
import { APP_VERSION } from './version';

// The page's own client chunk: it holds version.ts (so its content changes with every version, and the
// prober finds it by the marker) and loads the lazy chunk on a click, as a tab open across a deploy does.
export function VersionPanel() {
  const [lazy, setLazy] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const load = () =>
    import('./lazy/message').then(
      (module) => setLazy(module.lazyMessage),
      (error: unknown) => setFailure(String(error)),
    );
  return (
    <section>
      <p id="client-version">{`client chunk of version ${APP_VERSION}`}</p>
      <button id="load-lazy" type="button" onClick={load}>
        Load the lazy chunk
      </button>
      {lazy !== null && <p id="lazy-message">{lazy}</p>}
      {failure !== null && <p id="lazy-failure">{failure}</p>}
    </section>
  );
}
