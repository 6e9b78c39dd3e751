// Headless-Chromium "website visitor" for the chat widget end-to-end test. The Rust test spawns
//   node tests/browser/widget-visitor.mjs --base http://127.0.0.1:PORT --channel ID
// and talks to it line by line. stdout: `SENT`, `SEEN`, `PERSISTED`, `ARABIC`, or one `FAIL <reason>` (exit 1).
// stdin: `EXPECT <text>` once the agent's reply with that text has been posted. Page errors go to stderr.
import http from 'node:http';
import { STEP_TIMEOUT_MS, arg, command, exactly, fail, finish, hardTimeout, launch, onCleanup, say, step } from './driver.mjs';

const HARD_TIMEOUT_MS = 60_000;
const EXPECT_TIMEOUT_MS = 20_000;
const VISITOR_TEXT = 'Hello from the browser';

const base = (arg('base') || '').replace(/\/+$/, '');
const channel = arg('channel');
const hardTimer = hardTimeout(HARD_TIMEOUT_MS);

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// The visitor page lives on its own origin (another port), so the widget's requests are cross-origin for real.
// `/?ar` is the same shop in Arabic: the widget follows the page's language and direction.
function startPageServer() {
  const page = (htmlAttrs, heading) => `<!doctype html><html${htmlAttrs}><body><h1>${heading}</h1>`
    + `<script src="${escapeHtml(base)}/widget.js" data-channel="${escapeHtml(channel)}" async></script>`
    + '</body></html>';
  const english = page('', 'Shop');
  const arabic = page(' lang="ar" dir="rtl"', 'المتجر');
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?'))) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(req.url === '/?ar' ? arabic : english);
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

async function main() {
  if (!/^https?:\/\//.test(base) || !channel) throw new Error('usage: widget-visitor.mjs --base http://HOST:PORT --channel ID');
  const pageServer = await startPageServer();
  onCleanup(() => pageServer.close());
  const pageUrl = `http://127.0.0.1:${pageServer.address().port}/`;

  const page = await launch();
  const shown = () => widgetError(page);
  await step('load visitor page', () => page.goto(pageUrl, { timeout: STEP_TIMEOUT_MS }), shown);
  const input = await step('open widget', () => openWidget(page), shown);
  await step('send message', async () => {
    await input.fill(VISITOR_TEXT);
    await page.locator('[data-sb="send"]').click();
    await message(page, 'incoming', VISITOR_TEXT, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
  }, shown);
  say('SENT');

  const [, agentText] = await step('read command', () => command(/^EXPECT (.+)$/));
  await step(`wait for agent reply "${agentText}"`, () =>
    message(page, 'outgoing', agentText).waitFor({ timeout: EXPECT_TIMEOUT_MS }), shown);
  say('SEEN');

  await step('reload', () => page.reload({ timeout: STEP_TIMEOUT_MS }), shown);
  await step('reopen widget', () => openWidget(page), shown);
  await step('history after reload', async () => {
    await message(page, 'incoming', VISITOR_TEXT, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await message(page, 'outgoing', agentText, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
  }, shown);
  say('PERSISTED');

  // The same visitor on the Arabic page: the widget speaks Arabic, sits bottom-left, keeps the conversation.
  await step('load the Arabic page', () => page.goto(`${pageUrl}?ar`, { timeout: STEP_TIMEOUT_MS }), shown);
  await step('the bubble is Arabic and on the left', async () => {
    const bubble = page.locator('[data-sb="bubble"]');
    await bubble.waitFor({ timeout: STEP_TIMEOUT_MS });
    const label = await bubble.getAttribute('aria-label');
    if (!label.startsWith('افتح المحادثة')) throw new Error(`bubble label: ${label}`);
    const box = await bubble.boundingBox();
    const width = page.viewportSize().width;
    if (!(box.x < width / 2)) throw new Error(`the bubble is at x ${box.x} of ${width}, not on the left`);
  }, shown);
  const arabicInput = await step('open the Arabic widget', () => openWidget(page), shown);
  await step('Arabic composer and the same history', async () => {
    const placeholder = await arabicInput.getAttribute('placeholder');
    if (placeholder !== 'اكتب رسالة\u2026') throw new Error(`placeholder: ${placeholder}`);
    await page.locator('[data-sb="send"]', { hasText: exactly('إرسال') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('[data-sb="panel"] .greeting', { hasText: exactly('مرحبًا! كيف نساعدك؟') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await message(page, 'outgoing', agentText, { confirmed: true }).waitFor({ timeout: STEP_TIMEOUT_MS });
  }, shown);
  clearTimeout(hardTimer);
  await finish(0, 'ARABIC');
}

main().catch((e) => fail(e?.message || e));
