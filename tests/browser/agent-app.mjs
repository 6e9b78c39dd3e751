// Headless-Chromium agent for the web app's end-to-end test. The Rust test spawns
//   node tests/browser/agent-app.mjs --base URL --email E --password P --agent-email E2 --agent-password P2
//     --artifacts DIR
// and talks to it line by line (stdin: commands; stdout: one answer each, or `FAIL <reason>` with exit 1).
// Screenshots of the main screens go to DIR.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { STEP_TIMEOUT_MS, arg, command, exactly, fail, finish, hardTimeout, launch, newPage, onCleanup, say, step } from './driver.mjs';

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
  // The realtime websocket goes through a pass-through route the test can cut, to lose the connection.
  const realtime = { current: null, blocked: false };
  await page.routeWebSocket(/\/api\/v1\/events\/ws/, (ws) => {
    if (realtime.blocked) return ws.close({ code: 4000, reason: 'offline' });
    realtime.current = ws;
    ws.connectToServer();
  });
  const row = (id) => page.locator(`.list li.row[data-id="${id}"]`);

  const logIn = async (p, email, password) => {
    await p.goto(base, { timeout: STEP_TIMEOUT_MS });
    await p.locator('input[name=email]').fill(email);
    await p.locator('input[name=password]').fill(password);
    if (p === page) await shot('login');
    await p.locator('form.auth button[type=submit]').click();
    await p.locator('nav.sidebar').waitFor({ timeout: STEP_TIMEOUT_MS });
  };
  await step('log in', async () => {
    await logIn(page, arg('email'), arg('password'));
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
  // The agent starts the next reply while the receipts arrive: each reloads the conversation, and the
  // composer keeps both the text and the focus, so typing goes on where it was.
  const textarea = page.locator('form.composer textarea');
  await textarea.focus();
  await page.keyboard.type('draft ');
  await command(/^EXPECT_READ$/);
  await step('the tick turns to read', () => outgoing.locator('.tick.read').waitFor({ timeout: LIVE_TIMEOUT_MS }));
  await step('typing goes on through live reloads', async () => {
    await page.keyboard.type('kept');
    const value = await textarea.inputValue();
    if (value !== 'draft kept') throw new Error(`the composer holds ${JSON.stringify(value)} after the live reloads`);
    await textarea.fill('');
  });
  await shot('read');
  say('READ');

  // A snippet picked with `/`, sent as the caption of an attached picture.
  const [, shortcut] = await command(/^SNIPPET_AND_FILE (\S+)$/);
  await step('snippet and file', async () => {
    const box = page.locator('form.composer textarea');
    await box.pressSequentially(`/${shortcut.slice(0, 3)}`);
    await page.locator('.snippet-option', { hasText: exactly(`/${shortcut}`) }).click();
    // A 1×1 PNG.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    await page.locator('form.composer input.file-input').setInputFiles({ name: 'receipt.png', mimeType: 'image/png', buffer: png });
    await page.locator('form.composer .chip.attached', { hasText: 'receipt.png' }).waitFor({ timeout: STEP_TIMEOUT_MS });
    say(`CAPTION ${await box.inputValue()}`);
    await box.press('Enter');
    await page.locator('.timeline .message.outgoing img.media').waitFor({ timeout: STEP_TIMEOUT_MS });
    const loaded = await page.locator('.timeline .message.outgoing img.media').evaluate((img) => img.complete && img.naturalWidth === 1);
    if (!loaded) throw new Error('the sent picture does not load from the server');
  });
  say('SENT_FILE');

  // Assigned to a team, the conversation is in that team's inbox.
  const [, team] = await command(/^TEAM (\d+)$/);
  await step('assign to the team', async () => {
    await page.locator('.pane-head select.assign').selectOption(`team:${team}`);
    await page.locator('.timeline .system.assignment').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator(`.views a[data-view="team:${team}"]`).click();
    await row(first).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.views a[data-view="all"]').click();
    await row(first).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('IN_TEAM');

  // A comment mentioning a teammate, picked from the suggestions, lands in their Mentions.
  const [, teammate] = await command(/^MENTION (.+)$/);
  const note = 'please check the invoice';
  await step('comment with a mention', async () => {
    await page.locator('form.composer .comment-tab').click();
    const box = page.locator('form.composer textarea');
    await box.fill('');
    await box.pressSequentially(`@${teammate.slice(0, 2)}`);
    await page.locator('.mention-option', { hasText: exactly(`@${teammate}`) }).click();
    await box.pressSequentially(note);
    await box.press('Enter');
    await page.locator('.timeline .comment p', { hasText: exactly(`@${teammate} ${note}`) }).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  await shot('comment');
  await step('the teammate sees it under Mentions', async () => {
    const other = await newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    await logIn(other, arg('agent-email'), arg('agent-password'));
    await other.locator('.views a[data-view="mentions"]').click();
    await other.locator(`.list li.row[data-id="${first}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
    await other.screenshot({ path: join(artifacts, 'mentions.png') });
    await other.context().close();
  });
  say('MENTIONED');

  // The contact panel: a field and a tag saved.
  await command(/^CONTACT$/);
  await step('edit the contact', async () => {
    await page.locator('.contact-panel input.contact-lifecycle_stage').fill('customer');
    await page.locator('.contact-panel .save-contact').click();
    await page.locator('.contact-panel .saved').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.contact-panel input.tag-input').fill('vip');
    await page.locator('.contact-panel input.tag-input').press('Enter');
    await page.locator('.contact-panel .tag[data-tag="vip"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    const stage = await page.locator('.contact-panel input.contact-lifecycle_stage').inputValue();
    if (stage !== 'customer') throw new Error(`lifecycle stage shows ${stage}`);
  });
  say('CONTACT_SAVED');

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
  await step('a draft waits for its conversation', async () => {
    const draft = 'Let me check the courier and come back to you';
    await page.locator('.composer textarea').fill(draft);
    await rows.nth(1).locator('button').click();
    await page.locator(`.list li.row.selected:not([data-id="${first}"])`).waitFor({ timeout: STEP_TIMEOUT_MS });
    const other = await page.locator('.composer textarea').inputValue();
    if (other !== '') throw new Error(`another conversation's composer shows "${other}"`);
    await row(first).locator('button').click();
    await page.locator(`.list li.row.selected[data-id="${first}"]`).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction((text) => document.querySelector('.composer textarea')?.value === text, draft, { timeout: STEP_TIMEOUT_MS })
      .catch(async () => { throw new Error(`the draft came back as "${await page.locator('.composer textarea').inputValue()}"`); });
    await page.locator('.composer textarea').fill('');
  });
  say('PINNED');

  // The connection drops: a banner says so; what happened meanwhile shows once it is back.
  await command(/^OFFLINE$/);
  await step('lose the connection', async () => {
    realtime.blocked = true;
    await realtime.current.close({ code: 4000, reason: 'cut by the test' });
    await page.locator('#banner:not([hidden])').waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  await shot('offline');
  say('OFFLINE');
  const [, missed] = await command(/^ONLINE (.+)$/);
  await step('catch up after reconnecting', async () => {
    realtime.blocked = false;
    await page.locator('#banner').waitFor({ state: 'hidden', timeout: LIVE_TIMEOUT_MS });
    await page.locator('.list li.row .preview', { hasText: exactly(missed) }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  });
  say('CAUGHT_UP');

  // Every element of `items` lies within `box` (one pixel of rounding allowed): long names wrap, not spill.
  const inside = async (items, box, where) => {
    for (const item of await items.all()) {
      const b = await item.boundingBox();
      if (b && (b.x < box.x - 1 || b.x + b.width > box.x + box.width + 1)) {
        throw new Error(`"${await item.textContent()}" spills out of ${where} (${b.x}..${b.x + b.width} outside ${box.x}..${box.x + box.width})`);
      }
    }
  };

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
    await inside(page.locator('nav.sidebar .view-name'), sidebar, 'the sidebar');
  });
  await shot('arabic');
  say('RTL');

  // Settings: a tag added through the page, and a channel's webhook URL shown.
  const [, tag] = await command(/^SETTINGS (\S+)$/);
  await step('settings', async () => {
    await page.locator('nav.sidebar a.settings-link').click();
    await page.locator('.settings-nav a[href="#/settings/workspace"].current').waitFor({ timeout: STEP_TIMEOUT_MS });
    // A refusal reads in the user's language: a closing-note mode that needs a category, with none to pick.
    const workspaceForm = page.locator('form.settings-form', { has: page.locator('select[name=closing_note_mode]') });
    await workspaceForm.locator('select[name=closing_note_mode]').selectOption('category_required');
    await workspaceForm.locator('button[type=submit]').click();
    await workspaceForm.locator('.form-error', { hasText: 'قيمة غير مقبولة (closing_note_mode): category_required needs' }).waitFor({ timeout: STEP_TIMEOUT_MS });
    // And so does a server that cannot be reached.
    await page.route('**/api/v1/workspace', (route) => route.abort('connectionfailed'));
    await workspaceForm.locator('button[type=submit]').click();
    await workspaceForm.locator('.form-error', { hasText: 'تعذّر الوصول إلى الخادم' }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.unroute('**/api/v1/workspace');
    await page.locator('.settings-nav a[href="#/settings/teams"]').click();
    const longTeam = page.locator('.settings-list li', { hasText: 'EnterpriseRenewalsTeam' });
    await longTeam.waitFor({ timeout: STEP_TIMEOUT_MS });
    await inside(longTeam.locator('strong, button'), await longTeam.boundingBox(), 'its settings row');
    await page.locator('.settings-nav a[href="#/settings/tags"]').click();
    await page.locator('form.add-tags input[name=name]').fill(tag);
    await page.locator('form.add-tags button[type=submit]').click();
    await page.locator('.settings-list li', { hasText: tag }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.settings-nav a[href="#/settings/plugins"]').click();
    page.once('dialog', (d) => d.accept());
    await page.locator('button.disable-plugin[data-plugin="telegram"]').click();
    await page.locator('button.enable-plugin[data-plugin="telegram"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('button.enable-plugin[data-plugin="telegram"]').click();
    await page.locator('button.disable-plugin[data-plugin="telegram"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.settings-nav a[href="#/settings/channels"]').click();
    await page.locator('.settings-list .webhook code', { hasText: '/webhooks/' }).first().waitFor({ timeout: STEP_TIMEOUT_MS });
    await shot('settings');
    await page.locator('.views a[data-view="all"]').click();
    await page.locator('.list-pane').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await page.locator('.timeline').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  });
  say('SETTINGS_DONE');

  // The workflow builder: steps added, configured (with the variable picker), moved, duplicated and
  // deleted; the server's problem shown on its step; fixed and published; then the run's log.
  const [, workflowName] = await command(/^WORKFLOW (.+)$/);
  await step('build a workflow', async () => {
    await page.locator('nav.sidebar a.settings-link').click();
    await page.locator('.settings-nav a[href="#/settings/workflows"]').click();
    await page.locator('form.new-workflow input[name=name]').fill(workflowName);
    await page.locator('form.new-workflow select[name=trigger]').selectOption('manual');
    await page.locator('form.new-workflow button[type=submit]').click();
    const top = page.locator('.settings-body > .step-list > .add-step');
    await top.waitFor({ timeout: STEP_TIMEOUT_MS });
    const card = (id) => page.locator(`li.step[data-step="${id}"]`);
    await top.locator('select.add-step-type').selectOption('ask_question');
    await top.locator('button.add-step-button').click();
    await card('ask_question-1').locator('select.answer-type').selectOption('multiple_choice');
    await card('ask_question-1').locator('.field-answer-options input').fill('Yes, No');
    await card('ask_question-1').locator('select.save-mode').selectOption('variable');
    await card('ask_question-1').locator('input.save-name').fill('answer');
    await top.locator('select.add-step-type').selectOption('send_message');
    await top.locator('button.add-step-button').click();
    const thanks = card('send_message-1').locator('.field-text textarea');
    await thanks.fill('Thanks ');
    await card('send_message-1').locator('.field-text select.variable-picker').selectOption('$variables.answer');
    if ((await thanks.inputValue()) !== 'Thanks $variables.answer') throw new Error(`the picker wrote ${await thanks.inputValue()}`);
    // Move the message first and back, duplicate it and delete the copy.
    const order = () => page.locator('.settings-body > .step-list > ol > li.step').evaluateAll((els) => els.map((e) => e.dataset.step).join(','));
    await card('send_message-1').locator('button.move-up').click();
    if ((await order()) !== 'send_message-1,ask_question-1') throw new Error(`moved up: ${await order()}`);
    await card('send_message-1').locator('button.move-down').click();
    await card('send_message-1').locator('button.duplicate-step').click();
    await card('send_message-1-copy').waitFor({ timeout: STEP_TIMEOUT_MS });
    await card('send_message-1-copy').locator('button.delete-step').click();
    if ((await order()) !== 'ask_question-1,send_message-1') throw new Error(`after the copy went: ${await order()}`);
    // The question has no text yet: saved, the problem shows on that step.
    await page.locator('button.save-workflow').click();
    await card('ask_question-1').locator('.step-problems li', { hasText: 'steps[0].text' }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await shot('workflow-problem');
    await card('ask_question-1').locator('.field-text textarea').fill('Did we help?');
    await page.locator('button.publish-workflow').click();
    await page.locator('.workflow-head .badge.status-published').waitFor({ timeout: STEP_TIMEOUT_MS });
    await shot('workflow');
  });
  say('PUBLISHED');
  await command(/^RUNS$/);
  await step('see the run and its log', async () => {
    await page.locator('button.show-runs').click();
    await page.locator('li.run[data-status="waiting"] button.open-run').click();
    await page.locator('.run-steps tr[data-step="ask_question-1"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.run-steps').scrollIntoViewIfNeeded();
    await shot('workflow-run');
    await page.locator('.views a[data-view="all"]').click();
    await page.locator('.timeline').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  });
  say('RUN_SEEN');

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

  // A new contact, written to first with a template (nobody's window is open before they write).
  const [, parameter] = await command(/^NEW_CONVERSATION (.+)$/);
  await step('start a conversation with a template', async () => {
    await page.locator('.new-conversation-button').click();
    const dialog = page.locator('dialog.new-conversation');
    await dialog.locator('input.new-first_name').fill('Nadia');
    await dialog.locator('input.new-phone').fill('+971 50 765 4321');
    await dialog.locator('select.new-template').selectOption({ index: 1 });
    await dialog.locator('input.template-param').fill(parameter);
    const preview = await dialog.locator('.template-preview').textContent();
    if (!preview.includes(parameter)) throw new Error(`the preview does not show the variable: ${preview}`);
    await shot('new-conversation');
    await dialog.locator('button.start').click();
    await page.locator('.pane-head h2', { hasText: exactly('Nadia') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.locator('.timeline .message.outgoing .template', { hasText: parameter }).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('STARTED');

  // Outside the window the composer is a template picker: a template with a media header and a URL button.
  const [, mediaUrl, code] = await command(/^TEMPLATE_WITH_MEDIA (\S+) (\S+)$/);
  await step('send a template with a header and a button', async () => {
    const picker = page.locator('form.composer .template-picker');
    await picker.locator('select.template-select').selectOption({ label: 'delivery_photo (en_US)' });
    await picker.locator('input.template-header').fill(mediaUrl);
    await picker.locator('input.template-param').fill('Nadia');
    await picker.locator('input.template-button').fill(code);
    await shot('template-picker');
    await picker.locator('button.send-template').click();
    await page.locator('.timeline .message.outgoing .template', { hasText: 'delivery_photo' }).waitFor({ timeout: STEP_TIMEOUT_MS });
  });
  say('TEMPLATE_SENT');

  // A long history: the newest 200 messages first, earlier ones on demand.
  const [, last] = await command(/^EARLIER (.+)$/);
  await step('load earlier messages', async () => {
    await rows.first().locator('.preview', { hasText: exactly(last) }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await rows.first().locator('button').click();
    await page.locator('.timeline .message.incoming p', { hasText: exactly(last) }).waitFor({ timeout: STEP_TIMEOUT_MS });
    const before = await page.locator('.timeline .message').count();
    if (before !== 200) throw new Error(`${before} messages shown at first, not 200`);
    await page.locator('.timeline .load-earlier').click();
    await page.locator('.timeline .message.incoming p', { hasText: exactly('history 1') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    const after = await page.locator('.timeline .message').count();
    if (after !== 205) throw new Error(`${after} messages after loading earlier ones, not 205`);
    if (await page.locator('.timeline .load-earlier').count()) throw new Error('still offers earlier messages');
  });
  await step('keyboard help and a phone-sized screen', async () => {
    await page.locator('body').press('?');
    await page.locator('dialog.shortcuts').waitFor({ timeout: STEP_TIMEOUT_MS });
    await shot('shortcuts');
    await page.locator('dialog.shortcuts button').click();
    await page.setViewportSize({ width: 390, height: 844 });
    // Nothing of the open conversation lies off the narrow screen (the page never scrolls sideways), and
    // its menu opens on the screen.
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth, null, { timeout: STEP_TIMEOUT_MS })
      .catch(async () => { throw new Error(`the conversation is ${await overflow()} px wider than a phone's screen`); });
    await page.locator('.pane-head .actions .menu summary').click();
    const menu = await page.locator('.pane-head .actions .menu-list').boundingBox();
    if (!menu || menu.x < 0 || menu.x + menu.width > 390) throw new Error(`the conversation's menu opens off the screen: ${JSON.stringify(menu)}`);
    await page.locator('.pane-head .actions .menu summary').click();
    await shot('phone-conversation');
    await page.locator('.pane-head .back').click();
    await page.locator('.list-pane').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    await shot('phone-list');
    // Settings on a phone: the sections are one row scrolled to the current (last) one, and the page
    // still never scrolls sideways.
    await page.locator('nav.sidebar a.settings-link').click();
    await page.locator('.settings-nav a[href="#/settings/plugins"]').click();
    await page.locator('.settings-nav a[href="#/settings/plugins"].current').waitFor({ timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth, null, { timeout: STEP_TIMEOUT_MS })
      .catch(async () => { throw new Error(`the settings are ${await overflow()} px wider than a phone's screen`); });
    const row = await page.locator('.settings-nav').boundingBox();
    const current = await page.locator('.settings-nav a.current').boundingBox();
    if (row.height > 60) throw new Error(`the settings sections take ${row.height} px of a phone's height, not one row`);
    if (current.x < row.x - 1 || current.x + current.width > row.x + row.width + 1) throw new Error('the current section is scrolled out of sight');
    await shot('phone-settings');
    await page.locator('.views a[data-view="all"]').click();
    await page.locator('.list-pane').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
  });
  say('EARLIER_LOADED');

  // An e-mail: its subject over the text, and its HTML only on request, in a sandboxed frame.
  const [, mailText, subject] = await command(/^EXPECT_MAIL ([^|]+)\|(.+)$/);
  await step('an e-mail shows its subject and its formatted version', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await rows.first().locator('.preview', { hasText: exactly(mailText) }).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await rows.first().locator('button').click();
    const mail = page.locator('.timeline .message.incoming .mail').filter({ has: page.locator('.subject', { hasText: exactly(subject) }) });
    await mail.waitFor({ timeout: STEP_TIMEOUT_MS });
    if (await mail.locator('iframe').count()) throw new Error('the HTML shows before it is asked for');
    await mail.locator('button.show-html').click();
    const frame = mail.locator('iframe.mail-html');
    await frame.waitFor({ timeout: STEP_TIMEOUT_MS });
    if ((await frame.getAttribute('sandbox')) !== '') throw new Error('the e-mail frame is not fully sandboxed');
    await mail.frameLocator('iframe.mail-html').locator('b', { hasText: exactly('below') }).waitFor({ timeout: STEP_TIMEOUT_MS });
    await shot('email');
    await mail.locator('button.show-html').click();
    await frame.waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
  });
  say('MAIL_SHOWN');
  clearTimeout(hardTimer);
  await finish(0, 'DONE');
}

main().catch((e) => fail(e?.message || e));
