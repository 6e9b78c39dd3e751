// Headless-Chromium agent for the web app's end-to-end test. The Rust test spawns
//   node tests/browser/agent-app.mjs --base URL --email E --password P --artifacts DIR
// and talks to it line by line (stdin: commands; stdout: one answer each, or `FAIL <reason>` with exit 1).
// Screenshots of the main screens go to DIR.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { STEP_TIMEOUT_MS, arg, command, exactly, fail, finish, hardTimeout, launch, onCleanup, say, step } from './driver.mjs';

const LIVE_TIMEOUT_MS = 20_000;
const base = (arg('base') || '').replace(/\/+$/, '');
const artifacts = arg('artifacts');
const hardTimer = hardTimeout(120_000);

async function main() {
  if (!/^https?:\/\//.test(base) || !artifacts) throw new Error('usage: agent-app.mjs --base URL --email E --password P --artifacts DIR');
  mkdirSync(artifacts, { recursive: true });
  const page = await launch({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`) });
  // The screen as the driver ends, whatever happened: what a failure looked like.
  onCleanup(() => shot('last'));
  const rows = page.locator('.list li.row');
  const row = (id) => page.locator(`.list li.row[data-id="${id}"]`);

  await step('login page', () => page.goto(base, { timeout: STEP_TIMEOUT_MS }));
  await step('log in', async () => {
    await page.locator('input[name=email]').fill(arg('email'));
    await page.locator('input[name=password]').fill(arg('password'));
    await shot('login');
    await page.locator('form.auth button[type=submit]').click();
    await page.locator('nav.sidebar').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.list .empty').waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('LOGGED_IN');

  // A WhatsApp message arrives while the inbox is open: it shows up without a reload.
  const [, inbound] = await command(/^EXPECT_INBOUND (.+)$/);
  const first = await step('the new conversation appears live', async () => {
    await rows.first().locator('.preview', { hasText: exactly(inbound) }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.locator('.views a[data-view="all"] .count', { hasText: exactly('1') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    return Number(await rows.first().getAttribute('data-id'));
  });
  await step('open it', async () => {
    await row(first).locator('button').click();
    await page.locator('.timeline .message.incoming p', { hasText: exactly(inbound) }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.window.open').waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  await shot('conversation');
  say(`SEEN_INBOUND ${first}`);

  // The agent replies; the message shows at once, then its ticks follow the provider's receipts.
  const [, reply] = await command(/^REPLY (.+)$/);
  const outgoing = page.locator('.timeline .message.outgoing').filter({ has: page.locator('p', { hasText: exactly(reply) }) });
  await step('reply', async () => {
    await page.locator('form.composer textarea').fill(reply);
    await page.locator('form.composer textarea').press('Enter');
    await outgoing.waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('REPLIED');
  await command(/^EXPECT_READ$/);
  await step('the tick turns to read', () => outgoing.locator('.tick.read').waitFor({ timeout: LIVE_TIMEOUT_MS }));
  await shot('read');
  say('READ');

  // A second contact writes: their conversation is on top; pinning the first puts it back on top.
  const [, second] = await command(/^PIN_OLDER (.+)$/);
  await step('the second conversation arrives on top', () =>
    rows.first().locator('.preview', { hasText: exactly(second) }).waitFor({ timeout: LIVE_TIMEOUT_MS }));
  await step('pin the older one', async () => {
    await row(first).locator('button').click();
    await page.locator('.pane-head .pin-toggle[aria-pressed="false"]').click();
    await page.locator('.pane-head .pin-toggle[aria-pressed="true"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator(`.list li.row.pinned[data-id="${first}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
    const top = Number(await rows.first().getAttribute('data-id'));
    if (top !== first) throw new Error(`the pinned conversation is not first (first row is ${top})`);
  });
  await shot('pinned');
  say('PINNED');

  // Arabic: the whole layout mirrors (the sidebar moves to the right) and the strings change.
  await command(/^ARABIC$/);
  await step('switch to Arabic', async () => {
    await page.locator('nav.sidebar select.language-select').selectOption('ar');
    await page.locator('html[dir="rtl"][lang="ar"]').waitFor({ state: 'attached', timeout: STEP_TIMEOUT_MS });
    await page.locator('.views a[data-view="all"] .view-name', { hasText: exactly('الكل') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.timeline .message.incoming').first().waitFor({ timeout: STEP_TIMEOUT_MS });
    const sidebar = await page.locator('nav.sidebar').boundingBox();
    const list = await page.locator('.list-pane').boundingBox();
    if (!(sidebar.x > list.x)) throw new Error(`the sidebar did not move right (sidebar x ${sidebar.x}, list x ${list.x})`);
  });
  await shot('arabic');
  say('RTL');

  // Close with a closing note, then find the closed conversation again through quick search.
  const [, name] = await command(/^CLOSE_AND_FIND (.+)$/);
  await step('close with a note', async () => {
    await page.locator('.pane-head .close-conversation').click();
    await page.locator('dialog.close-dialog textarea').fill('Order shipped, customer informed');
    await page.locator('dialog.close-dialog .confirm-close').click();
    await page.locator('.pane-head .badge.status-closed').waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  await step('it leaves the open list', () => row(first).waitFor({ state: 'detached', timeout: LIVE_TIMEOUT_MS }));
  await step('quick search finds it', async () => {
    await page.locator('input.search').fill(name);
    const hit = page.locator('.search-results button.result', { hasText: name }).first();
    await hit.waitFor({ timeout: LIVE_TIMEOUT_MS });
    await shot('search');
    await hit.click();
    await page.locator('.pane-head .badge.status-closed').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.timeline .system.closed').waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('FOUND_CLOSED');
  clearTimeout(hardTimer);
  await finish(0, 'DONE');
}

main().catch((e) => fail(e?.message || e));
