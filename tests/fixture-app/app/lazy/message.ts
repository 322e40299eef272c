// Loaded only by import() on a click. Publish-AedFixtureVersion rewrites this literal with app/version.ts:
// the lazy chunk needs a copy of its own, since an import of version.ts would be served by the page's chunk.
const APP_VERSION = '1';

export const lazyMessage = `lazy chunk of version ${APP_VERSION}`;
