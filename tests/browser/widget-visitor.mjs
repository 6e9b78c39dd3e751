// Headless-Chromium "website visitor" for the chat widget end-to-end test. The Rust test spawns
//   node tests/browser/widget-visitor.mjs --base http://127.0.0.1:PORT --channel ID
// and talks to it line by line. stdout: `SENT`, `SEEN`, `PERSISTED`, or one `FAIL <reason>` (exit 1).
// stdin: `EXPECT <text>` once the agent's reply with that text has been posted. Page errors go to stderr.
import http from 'node:http';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const HARD_TIMEOUT_MS = 60_000;
const EXPECT_TIMEOUT_MS = 20_000;
const STEP_TIMEOUT_MS = 15_000;
const VISITOR_TEXT = 'Hello from the browser';

function arg(name) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const base = (arg('base') || '').replace(/\/+$/, '');
const channel = arg('channel');

let browser = null;
let pageServer = null;
let finished = false;

async function cleanup() {
  // Never let a hung browser keep the test waiting: give close() a few seconds, then exit regardless
  // (playwright kills the browser process it launched when node exits).
  await Promise.race([browser?.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  pageServer?.close();
}

async function finish(code, line) {
  if (finished) return;
  finished = true;
  if (line) process.stdout.write(line + '\n');
  await cleanup();
  process.exit(code);
}
const fail = (reason) => finish(1, 'FAIL ' + String(reason).replace(/\s+/g, ' ').trim());

const hardTimer = setTimeout(() => fail(`hard timeout after ${HARD_TIMEOUT_MS / 1000}s`), HARD_TIMEOUT_MS);
process.on('SIGTERM', () => fail('terminated'));
process.on('SIGINT', () => fail('interrupted'));
process.on('unhandledRejection', (e) => fail(e?.message || e));

// stdin as an async queue of lines, so each step can wait for the next command.
const lines = [];
const waiters = [];
let stdinClosed = false;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => (waiters.length ? waiters.shift().resolve(l) : lines.push(l)));
rl.on('close', () => { stdinClosed = true; for (const w of waiters.splice(0)) w.reject(new Error('stdin closed')); });
function nextLine() {
  if (lines.length) return Promise.resolve(lines.shift());
  if (stdinClosed) return Promise.reject(new Error('stdin closed'));
  return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
}

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const exactly = (text) => new RegExp('^' + text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');

// The visitor page lives on its own origin (another port), so the widget's requests are cross-origin for real.
function startPageServer() {
  const html = '<!doctype html><html><body><h1>Shop</h1>'
    + `<script src="${escapeHtml(base)}/widget.js" data-channel="${escapeHtml(channel)}" async></script>`
    + '</body></html>';
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?'))) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(html);
      } else {
        res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end(); // no favicon 404 noise in the console
      }
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// A message (by direction and exact text) shown in the widget; CSS locators pierce the open shadow root.
function message(page, direction, text, { confirmed = false } = {}) {
  return page
    .locator(`[data-sb="message"][data-direction="${direction}"]${confirmed ? '[data-id]' : ''}`)
    .filter({ has: page.locator('[data-sb="text"]', { hasText: exactly(text) }) })
    .first();
}

// Click the bubble; fill the pre-chat form if this channel asks for one; wait for the composer.
async function openWidget(page) {
  await page.locator('[data-sb="bubble"]').click({ timeout: STEP_TIMEOUT_MS });
  await page.locator('[data-sb="panel"]').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  const input = page.locator('[data-sb="input"]');
  const name = page.locator('[data-sb="prechat-name"]');
  // Whichever of the two shows up; both exist in the DOM, so match on visibility.
  await page.locator('[data-sb="input"]:visible, [data-sb="prechat-name"]:visible').first()
    .waitFor({ timeout: STEP_TIMEOUT_MS });
  if (await name.isVisible()) {
    await name.fill('Vera Visitor');
    await page.locator('[data-sb="prechat-email"]').fill('vera@example.test');
    await page.locator('[data-sb="prechat-submit"]').click();
    await input.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  }
  return input;
}

async function widgetError(page) {
  const el = page.locator('[data-sb="error"]');
  return (await el.isVisible().catch(() => false)) ? ` (widget shows: ${await el.textContent()})` : '';
}

async function step(what, page, fn) {
  try {
    return await fn();
  } catch (e) {
    const shown = page ? await widgetError(page) : '';
    throw new Error(`${what}: ${e.message.split('\n')[0]}${shown}`);
  }
}

async function main() {
  if (!/^https?:\/\//.test(base) || !channel) throw new Error('usage: widget-visitor.mjs --base http://HOST:PORT --channel ID');
  pageServer = await startPageServer();
  const pageUrl = `http://127.0.0.1:${pageServer.address().port}/`;

  browser = await step('launch chromium', null, () => chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: STEP_TIMEOUT_MS,
  }));
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`[console.error] ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText;
    if (why !== 'net::ERR_ABORTED') process.stderr.write(`[requestfailed] ${r.method()} ${r.url()} ${why}\n`); // aborted = reload
  });

  await step('load visitor page', page, () => page.goto(pageUrl, { timeout: STEP_TIMEOUT_MS }));
  const input = await step('open widget', page, () => openWidget(page));
  await step('send message', page, async () => {
    await input.fill(VISITOR_TEXT);
    await page.locator('[data-sb="send"]').click();
    await message(page, 'incoming', VISITOR_TEXT, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  process.stdout.write('SENT\n');

  const line = await step('read command', null, nextLine);
  const m = /^EXPECT (.+)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected command: ${line}`);
  const agentText = m[1];
  await step(`wait for agent reply "${agentText}"`, page, () =>
    message(page, 'outgoing', agentText).waitFor({ timeout: EXPECT_TIMEOUT_MS }));
  process.stdout.write('SEEN\n');

  await step('reload', page, () => page.reload({ timeout: STEP_TIMEOUT_MS }));
  await step('reopen widget', page, () => openWidget(page));
  await step('history after reload', page, async () => {
    await message(page, 'incoming', VISITOR_TEXT, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await message(page, 'outgoing', agentText, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  clearTimeout(hardTimer);
  await finish(0, 'PERSISTED');
}

main().catch((e) => fail(e?.message || e));
