// Drives one headless Chromium tab for Browser.Tests.ps1: `node browser-driver.cjs <playwright-core folder> <chromium>`.
// Commands come as JSON lines on stdin, one answer per command as a JSON line on stdout ({ id, ok, ... } or
// { id, ok: false, error }); the first line out is { ready, driverPid, browserPid } so that the test can stop
// the browser by its pid whatever happens to this process. Everything the page does wrong is kept from the
// moment it opens: uncaught errors (pageerror), console errors, requests that failed, answers >= 400.
'use strict';
const path = require('node:path');
const readline = require('node:readline');

const [playwrightFolder, executablePath] = process.argv.slice(2);
const { chromium } = require(path.resolve(playwrightFolder));

const problems = { pageErrors: [], consoleErrors: [], badResponses: [] };
const failed = [];
const documents = [];
let server;
let browser;
let page;

const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');

async function texts(selectors) {
  const result = {};
  for (const selector of selectors ?? []) {
    const element = await page.$(selector);
    result[selector] = element ? (await element.textContent()).trim() : null;
  }
  return result;
}

// A new tab in a new context (no cache, no cookies), and what was kept about the one before is dropped.
async function open({ url, selectors }) {
  if (page) await page.context().close();
  for (const list of [...Object.values(problems), failed, documents]) list.length = 0;
  const context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (error) => problems.pageErrors.push(`${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('requestfailed', (request) =>
    failed.push({ text: `${request.method()} ${request.url()}: ${request.failure()?.errorText}`, aborted: request.failure()?.errorText === 'net::ERR_ABORTED' }));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.badResponses.push(`${response.status()} ${response.url()}`);
  });
  // A document request of the tab itself is a full page load; a client-side navigation makes none.
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) documents.push({ url: request.url(), at: Date.now() });
  });
  await page.goto(url, { waitUntil: 'load' });
  // Hydrated: React has attached the click handler, and the prefetches the page starts are done.
  await page.waitForLoadState('networkidle');
  return { url: page.url(), texts: await texts(selectors) };
}

// Clicks, then waits for the first of `waitFor` to appear (or the URL to reach `path`), and reads `selectors`.
async function click({ selector, waitFor, path: expectedPath, selectors, timeoutMs }) {
  const loadsBefore = documents.length;
  await page.click(selector);
  if (expectedPath) await page.waitForURL((u) => u.pathname === expectedPath, { timeout: timeoutMs });
  if (waitFor?.length) await page.waitForSelector(waitFor.join(', '), { timeout: timeoutMs });
  await page.waitForLoadState('networkidle');
  return { url: page.url(), fullLoads: documents.slice(loadsBefore).map((d) => d.url), texts: await texts(selectors) };
}

async function handle(command) {
  switch (command.op) {
    case 'open': return open(command);
    case 'click': return click(command);
    case 'html': return { html: await page.content() };
    case 'problems': {
      // net::ERR_ABORTED is the page cancelling its own request: Next aborts RSC prefetches it no longer needs (two on
      // every visit of the fixture's home page, with no deploy at all: checked), and a full page load cancels what the
      // old page had in flight. The server's failures are the answers >= 400 (a 404 chunk is also reported aborted),
      // the network's are the other net:: errors (refused, reset, empty response).
      return {
        ...problems,
        failedRequests: failed.filter((f) => !f.aborted).map((f) => f.text),
        cancelled: failed.filter((f) => f.aborted).map((f) => f.text),
        documents: documents.map((d) => d.url),
      };
    }
    case 'close':
      await browser.close();
      await server.close();
      return {};
    default: throw new Error(`unknown op ${command.op}`);
  }
}

(async () => {
  // Root has no user namespace sandbox here; the tab only ever opens the rig's loopback pages.
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  // A browser server, not chromium.launch(): only the server tells the pid of the Chromium it started.
  server = await chromium.launchServer({ executablePath, headless: true, args });
  browser = await chromium.connect(server.wsEndpoint());
  send({ ready: true, driverPid: process.pid, browserPid: server.process().pid, version: browser.version() });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const command = JSON.parse(line);
    try {
      send({ id: command.id, ok: true, ...(await handle(command)) });
    } catch (error) {
      send({ id: command.id, ok: false, error: String(error?.stack ?? error) });
    }
    if (command.op === 'close') break;
  }
  process.exit(0);
})().catch((error) => {
  send({ ready: false, error: String(error?.stack ?? error) });
  process.exit(1);
});
