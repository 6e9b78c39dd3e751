// What every browser driver shares: arguments, Chromium launched as CI runs it, stdin read line by line
// as commands from the Rust test, one final stdout line (`FAIL <reason>` with exit 1 on any error), a hard
// timeout, and page errors copied to stderr.
import readline from 'node:readline';
import { chromium } from 'playwright-core';

export const STEP_TIMEOUT_MS = 15_000;

export function arg(name) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

let browser = null;
let finished = false;
const cleanups = [];

/** Runs `fn` when the driver ends (before the browser closes). */
export function onCleanup(fn) {
  cleanups.push(fn);
}

async function cleanup() {
  for (const fn of cleanups) await Promise.resolve().then(fn).catch(() => {});
  // Never let a hung browser keep the test waiting: give close() a few seconds, then exit regardless
  // (playwright kills the browser process it launched when node exits).
  await Promise.race([browser?.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}

export async function finish(code, line) {
  if (finished) return;
  finished = true;
  if (line) process.stdout.write(line + '\n');
  await cleanup();
  process.exit(code);
}

export const fail = (reason) => finish(1, 'FAIL ' + String(reason).replace(/\s+/g, ' ').trim());

/** Fails the driver after `ms` whatever it is doing; returns the timer so the end can clear it. */
export function hardTimeout(ms) {
  const timer = setTimeout(() => fail(`hard timeout after ${ms / 1000}s`), ms);
  process.on('SIGTERM', () => fail('terminated'));
  process.on('SIGINT', () => fail('interrupted'));
  process.on('unhandledRejection', (e) => fail(e?.message || e));
  return timer;
}

/** One line to the Rust test. */
export const say = (line) => process.stdout.write(line + '\n');

// stdin as an async queue of lines, so each step can wait for the next command.
const lines = [];
const waiters = [];
let stdinClosed = false;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => (waiters.length ? waiters.shift().resolve(l) : lines.push(l)));
rl.on('close', () => {
  stdinClosed = true;
  for (const w of waiters.splice(0)) w.reject(new Error('stdin closed'));
});
export function nextLine() {
  if (lines.length) return Promise.resolve(lines.shift());
  if (stdinClosed) return Promise.reject(new Error('stdin closed'));
  return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
}

/** The next command, which must match `pattern`; returns its match. */
export async function command(pattern) {
  const line = (await nextLine()).trim();
  const m = pattern.exec(line);
  if (!m) throw new Error(`unexpected command: ${line} (wanted ${pattern})`);
  return m;
}

/** A regular expression matching exactly `text`. */
export const exactly = (text) => new RegExp('^' + text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$');

/** Runs one step; its error names the step (and what `explain(page)` adds, if given). */
export async function step(what, fn, explain) {
  try {
    return await fn();
  } catch (e) {
    const more = explain ? await explain().catch(() => '') : '';
    throw new Error(`${what}: ${e.message.split('\n')[0]}${more}`);
  }
}

/** Another page in a fresh browser context (its own cookies: another user). */
export async function newPage(options = {}) {
  const context = await browser.newContext(options);
  return watch(await context.newPage());
}

function watch(page) {
  page.on('console', (m) => {
    if (m.type() === 'error') process.stderr.write(`[console.error] ${m.text()}\n`);
  });
  page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText;
    if (why !== 'net::ERR_ABORTED') process.stderr.write(`[requestfailed] ${r.method()} ${r.url()} ${why}\n`); // aborted = reload
  });
  return page;
}

/** Headless Chromium with the flags CI uses, and a page whose errors go to stderr. */
export async function launch(options = {}) {
  browser = await step('launch chromium', () =>
    chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: STEP_TIMEOUT_MS,
    }),
  );
  return watch(await browser.newPage(options));
}
