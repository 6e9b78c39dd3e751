// Switchboard website chat widget: a dependency-free script served at GET /widget.js and embedded with
// <script src="https://SERVER/widget.js" data-channel="ID" async></script>. It talks to /widget/{channel}/*.
(() => {
  'use strict';

  // document.currentScript is only set while this file runs at top level, so capture it before anything async.
  const script = document.currentScript;
  if (!script || window.SwitchboardWidget) return; // not a classic <script>, or embedded twice
  const base = script.src.replace(/\/widget\.js(?:[?#].*)?$/, '');
  const channel = (script.getAttribute('data-channel') || '').trim();
  if (!channel) { console.error('Switchboard widget: missing data-channel'); return; }
  const api = base + '/widget/' + encodeURIComponent(channel);

  // The visitor's language: the tag's data-lang, else the page's own, else the browser's; English otherwise.
  // The admin's title and greeting are shown as written; everything else the widget says is from here.
  const STRINGS = {
    en: {
      dir: 'ltr', title: 'Chat with us', greeting: 'Hi! How can we help?', open: 'Open chat: {title}',
      close: 'Close chat', prechat: 'Before we start, how can we reach you?', name: 'Your name',
      email: 'Your email', start: 'Start chat', skip: 'Skip', placeholder: 'Write a message\u2026',
      message: 'Message', send: 'Send', typingName: '{name} is typing\u2026', typing: 'Typing\u2026',
      attachment: 'Attachment', needBoth: 'Please enter your name and email.',
      tooMany: 'Too many messages, wait a moment', tooLong: 'The message is too long.',
      offline: 'Could not reach the chat server. Check your connection and try again.', failed: '{detail}',
    },
    ar: {
      dir: 'rtl', title: 'تحدّث معنا', greeting: 'مرحبًا! كيف نساعدك؟', open: 'افتح المحادثة: {title}',
      close: 'أغلق المحادثة', prechat: 'قبل أن نبدأ، كيف نتواصل معك؟', name: 'اسمك',
      email: 'بريدك الإلكتروني', start: 'ابدأ المحادثة', skip: 'تخطَّ', placeholder: 'اكتب رسالة\u2026',
      message: 'الرسالة', send: 'إرسال', typingName: '{name} يكتب\u2026', typing: 'يكتب\u2026',
      attachment: 'مرفق', needBoth: 'اكتب اسمك وبريدك الإلكتروني من فضلك.',
      tooMany: 'رسائل كثيرة، انتظر قليلًا', tooLong: 'الرسالة أطول من المسموح.',
      offline: 'تعذّر الوصول إلى خادم المحادثة. تحقّق من اتصالك وحاول مجددًا.', failed: 'لم تُرسل الرسالة ({detail})',
    },
  };
  const wantedLang = script.getAttribute('data-lang') || document.documentElement.lang || navigator.language || 'en';
  const lang = STRINGS[wantedLang.slice(0, 2).toLowerCase()] ? wantedLang.slice(0, 2).toLowerCase() : 'en';
  const say = (key, vars) => STRINGS[lang][key].replace(/\{(\w+)\}/g, (m, k) => (vars && vars[k] != null ? vars[k] : m));

  // localStorage can throw (privacy modes, blocked storage); the widget then simply forgets across reloads.
  const KEY = 'switchboard-widget-' + channel;
  const memory = {};
  const store = {
    get(k) { try { return localStorage.getItem(k); } catch { return memory[k] ?? null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch { memory[k] = v; } },
    del(k) { try { localStorage.removeItem(k); } catch { delete memory[k]; } },
  };
  const readJson = (k) => { try { return JSON.parse(store.get(k)); } catch { return null; } };

  let token = store.get(KEY);
  let session = null, sessionPromise = null;
  let config = null, ui = null, isOpen = false, wantOpen = false;
  let lastId = 0; // highest server message id we have: the resume point for the stream and polling
  let seenId = Number(store.get(KEY + '-seen')) || 0; // highest id the visitor has had on screen
  let profile = readJson(KEY + '-profile'); // pre-chat answers: {name, email, sent} or {skipped: true}
  const rendered = new Map(); // server id -> element
  const pending = new Map(); // client_id -> {el, text}

  class ApiError extends Error {
    constructor(status, code, message, field) { super(message); this.status = status; this.code = code; this.field = field; }
  }

  async function request(method, path, body, bearer) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer) headers.authorization = 'Bearer ' + bearer;
    const res = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await res.json(); } catch { /* empty or non-JSON body */ }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code, err.message || 'HTTP ' + res.status, err.field);
    }
    return data;
  }

  // One session request at a time: the server may hand back a different token than the one we sent.
  function ensureSession() {
    if (!sessionPromise) {
      sessionPromise = request('POST', '/session', { token: token || null }).then((s) => {
        session = s; token = s.token; store.set(KEY, token);
        return s;
      }, (e) => { sessionPromise = null; throw e; });
    }
    return sessionPromise;
  }

  // The token was refused: the visitor is a new one now, so what is on screen belongs to someone else.
  async function resetSession() {
    const live = stopLive();
    token = null; session = null; sessionPromise = null; store.del(KEY);
    for (const el of rendered.values()) el.remove();
    rendered.clear(); lastId = 0; seenId = 0; store.del(KEY + '-seen');
    await ensureSession();
    if (live) startLive();
  }

  // Bearer request that survives one expired/revoked token by starting a new session and retrying once.
  async function authed(method, path, body) {
    await ensureSession();
    for (let attempt = 0; ; attempt++) {
      const used = token;
      try {
        return await request(method, path, body, used);
      } catch (e) {
        if (attempt > 0 || e.code !== 'visitor_token_invalid') throw e;
        if (token === used) await resetSession(); else await ensureSession(); // someone else already renewed
      }
    }
  }

  let fetching = null;
  function fetchNew() { // shared by the first history load, stream recovery and polling
    if (!fetching) {
      fetching = authed('GET', '/messages?after=' + lastId)
        .then((r) => { for (const m of (r && r.messages) || []) addMessage(m); })
        .finally(() => { fetching = null; });
    }
    return fetching;
  }

  // Realtime. EventSource would reconnect by itself but with the URL's stale `after`, so we close it on error
  // and reopen from the newest id we have, after catching up over REST (which also renews a dead token).
  let source = null, retryTimer = null, pollTimer = null, backoff = 1000, live = false;
  function startLive() {
    live = true;
    if (source || retryTimer || pollTimer || !token) return;
    if (typeof EventSource !== 'function') {
      pollTimer = setInterval(() => fetchNew().catch(() => {}), 3000);
      return;
    }
    const es = (source = new EventSource(api + '/stream?token=' + encodeURIComponent(token) + '&after=' + lastId));
    es.addEventListener('open', () => { backoff = 1000; });
    es.addEventListener('message', (e) => {
      try { addMessage(JSON.parse(e.data)); showTyping(null); } catch { /* ignore bad frame */ }
    });
    es.addEventListener('typing', (e) => { try { showTyping(JSON.parse(e.data)); } catch { /* ignore bad frame */ } });
    es.addEventListener('error', () => {
      es.close();
      if (source !== es) return;
      source = null;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        fetchNew().catch(() => {}).finally(() => { if (live) startLive(); });
      }, backoff + Math.random() * 500);
      backoff = Math.min(backoff * 2, 30000);
    });
  }
  function stopLive() {
    const was = live;
    live = false;
    if (source) { source.close(); source = null; }
    clearTimeout(retryTimer); retryTimer = null;
    clearInterval(pollTimer); pollTimer = null;
    return was;
  }

  // ---------- rendering ----------

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    .root { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; }
    button { font: inherit; cursor: pointer; }
    .bubble { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border: 0; border-radius: 50%; background: var(--sb-color); color: var(--sb-on);
      box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; }
    .rtl .bubble { right: auto; left: 20px; }
    .bubble svg { width: 28px; height: 28px; fill: currentColor; }
    .dot { position: absolute; top: 2px; right: 2px; width: 14px; height: 14px; border-radius: 50%;
      background: #ef4444; border: 2px solid #fff; }
    .panel { position: fixed; bottom: 88px; right: 20px; z-index: 2147483001; width: 360px;
      height: min(560px, calc(100vh - 108px)); display: flex; flex-direction: column; background: #fff;
      border-radius: 12px; box-shadow: 0 10px 40px rgba(0,0,0,.25); overflow: hidden; }
    .rtl .panel { right: auto; left: 20px; }
    @media (max-width: 480px) { .panel, .rtl .panel { inset: 0; width: auto; height: auto; border-radius: 0; } }
    header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--sb-color);
      color: var(--sb-on); }
    header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }
    .close { border: 0; background: transparent; color: inherit; font-size: 22px; line-height: 1; padding: 2px 6px; }
    .list { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; }
    .greeting, .msg { max-width: 80%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .greeting, .msg.out { align-self: flex-start; background: #f1f3f5; }
    .msg.in { align-self: flex-end; background: var(--sb-color); color: var(--sb-on); }
    .msg.pending { opacity: .6; }
    .msg img { display: block; max-width: 100%; border-radius: 8px; margin-bottom: 4px; }
    .msg a { color: inherit; }
    .meta { font-size: 11px; opacity: .7; }
    .typing { margin: 0; padding: 0 12px 4px; font-size: 12px; opacity: .7; font-style: italic; }
    .error { margin: 0 12px 8px; color: #b91c1c; font-size: 13px; }
    form, .composer { border-top: 1px solid #e5e7eb; padding: 10px 12px; }
    form { display: grid; gap: 8px; }
    form p { margin: 0; }
    input, textarea { font: inherit; font-size: 16px; color: inherit; padding: 8px 10px; border: 1px solid #d1d5db;
      border-radius: 8px; width: 100%; background: #fff; }
    .composer, .row { display: flex; gap: 8px; align-items: flex-end; }
    textarea { resize: none; max-height: 120px; }
    .primary { border: 0; border-radius: 8px; padding: 8px 14px; background: var(--sb-color); color: var(--sb-on); }
    .secondary { border: 1px solid #d1d5db; border-radius: 8px; padding: 8px 14px; background: #fff; color: inherit; }
  `;
  const ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z"/></svg>';

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (v !== false && v != null) el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c != null) el.append(c); // strings become text nodes, never markup
    return el;
  }

  // Text colour on the brand colour: dark for light brands, white otherwise.
  function onColor(hex) {
    let x = hex.slice(1);
    if (x.length <= 4) x = [...x].map((c) => c + c).join('');
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(x.slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b > 170 ? '#111827' : '#ffffff';
  }

  function mount() {
    const color = /^#[0-9a-f]{3}(?:[0-9a-f]{3})?$/i.test(config.color || '') ? config.color : '#2563eb';
    const host = h('switchboard-widget');
    host.style.setProperty('--sb-color', color);
    host.style.setProperty('--sb-on', onColor(color));
    const shadow = host.attachShadow({ mode: 'open' });
    // Arabic reads right to left; so does a right-to-left page whose tag does not name a language.
    const rtl = STRINGS[lang].dir === 'rtl' || (document.dir === 'rtl' && !script.hasAttribute('data-lang'));
    const title = config.title || say('title');

    const dot = h('span', { class: 'dot', hidden: true });
    const bubble = h('button', { class: 'bubble', type: 'button', 'data-sb': 'bubble', 'aria-label': say('open', { title }),
      onclick: () => (isOpen ? close() : open()) }, dot);
    bubble.insertAdjacentHTML('afterbegin', ICON); // static markup of our own, no server data

    const list = h('div', { class: 'list', role: 'log', 'aria-live': 'polite' });
    list.append(h('div', { class: 'greeting' }, config.greeting || say('greeting')));
    const error = h('p', { class: 'error', 'data-sb': 'error', role: 'alert', hidden: true });
    const typing = h('p', { class: 'typing', 'data-sb': 'typing', 'aria-live': 'polite', hidden: true });

    const name = h('input', { type: 'text', autocomplete: 'name', placeholder: say('name'), 'data-sb': 'prechat-name' });
    const email = h('input', { type: 'email', autocomplete: 'email', placeholder: say('email'), 'data-sb': 'prechat-email' });
    const skip = h('button', { type: 'button', class: 'secondary', 'data-sb': 'prechat-skip', onclick: () => finishPrechat(null) }, say('skip'));
    const prechat = h('form', { hidden: true, onsubmit: (e) => { e.preventDefault(); submitPrechat(); } },
      h('p', null, say('prechat')), name, email,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary', 'data-sb': 'prechat-submit' }, say('start')), skip));

    const input = h('textarea', { rows: 1, placeholder: say('placeholder'), 'aria-label': say('message'), 'data-sb': 'input' });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    });
    input.addEventListener('input', () => {
      input.style.height = 'auto'; input.style.height = input.scrollHeight + 'px';
      reportTyping();
    });
    const composer = h('div', { class: 'composer' }, input,
      h('button', { type: 'button', class: 'primary', 'data-sb': 'send', onclick: () => send() }, say('send')));

    const panel = h('div', { class: 'panel', role: 'dialog', 'aria-label': title, 'data-sb': 'panel', hidden: true },
      h('header', null, h('h2', null, title),
        h('button', { type: 'button', class: 'close', 'aria-label': say('close'), onclick: () => close() }, '\u00d7')),
      list, typing, error, prechat, composer);
    panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });

    shadow.append(h('style', null, CSS), h('div', { class: 'root' + (rtl ? ' rtl' : ''), dir: rtl ? 'rtl' : 'ltr', lang }, bubble, panel));
    document.body.append(host);
    ui = { bubble, dot, panel, list, typing, error, prechat, name, email, skip, composer, input };
  }

  // Typing indicators: the agent's shown for a few seconds after each report; ours sent at most every 3 s,
  // and only once there is a conversation (after the first message).
  let typingTimer = null;
  function showTyping(t) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !t;
    ui.typing.textContent = t ? (t.name ? say('typingName', { name: t.name }) : say('typing')) : '';
    if (t) typingTimer = setTimeout(() => showTyping(null), 5000);
  }
  let typingSent = 0;
  function reportTyping() {
    if (!token || lastId === 0 || Date.now() - typingSent < 3000) return;
    typingSent = Date.now();
    request('POST', '/typing', undefined, token).catch(() => { /* an indicator is not worth an error */ });
  }

  function showError(text) {
    ui.error.textContent = text || '';
    ui.error.hidden = !text;
  }

  function messageError(e) {
    if (e.code === 'rate_limited' || e.status === 429) return say('tooMany');
    if (e.code === 'prechat_required') return say('needBoth');
    if (e.code === 'payload_too_large' || (e.code === 'validation_failed' && e.field === 'text')) return say('tooLong');
    if (e instanceof ApiError) return say('failed', { detail: e.message });
    return say('offline');
  }

  // Only http(s) links and images, resolved against the server: a javascript: URL must never become a link.
  function safeUrl(url) {
    try {
      const u = new URL(url, base + '/');
      return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
    } catch { return null; }
  }

  function fillMessage(el, m) {
    el.replaceChildren();
    el.className = 'msg ' + (m.direction === 'incoming' ? 'in' : 'out');
    el.dataset.direction = m.direction === 'incoming' ? 'incoming' : 'outgoing';
    if (m.id != null) el.dataset.id = String(m.id);
    if (m.direction !== 'incoming' && m.sender_name) el.append(h('div', { class: 'meta' }, m.sender_name));
    if (m.media) {
      const url = safeUrl(m.media.url);
      const label = m.media.caption || say('attachment');
      const link = (child) => h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, child);
      if (!url) el.append(h('div', null, label)); // unusable URL: say there was something, link nothing
      else if (/^image\//.test(m.media.mime_type || '')) {
        el.append(link(h('img', { src: url, alt: label, loading: 'lazy' })));
        if (m.media.caption && m.media.caption !== m.text) el.append(h('div', null, m.media.caption));
      } else el.append(link(label));
    }
    if (m.text) el.append(h('div', { 'data-sb': 'text' }, m.text));
    const when = m.created_at ? new Date(m.created_at) : null;
    if (when && !isNaN(when)) el.append(h('div', { class: 'meta' }, when.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' })));
  }

  // Keep the list ordered by server id, with not-yet-confirmed messages after every confirmed one.
  function place(el, id) {
    const after = [...ui.list.querySelectorAll('[data-sb="message"]')].find(
      (o) => o !== el && (o.dataset.id ? Number(o.dataset.id) > id : true));
    ui.list.insertBefore(el, after || null);
  }

  // `own` is the optimistic element of a message we just POSTed. Only the history and the stream are gap-free
  // (ascending, nothing skipped), so only they move `lastId`; a POST reply must not, or a reconnect could skip
  // an agent message that was still in flight.
  function addMessage(m, own) {
    if (!m || typeof m.id !== 'number') return;
    if (!own) lastId = Math.max(lastId, m.id);
    if (rendered.has(m.id)) { if (own) own.remove(); return; } // de-duplicate stream/history/POST replies
    let el = own;
    if (!el && m.direction === 'incoming') {
      // The stream can deliver our own message before its POST answers: adopt the optimistic copy.
      for (const [cid, p] of pending) if (p.text === m.text) { el = p.el; pending.delete(cid); break; }
    }
    el = el || h('div', { 'data-sb': 'message' });
    fillMessage(el, m);
    rendered.set(m.id, el);
    place(el, m.id);
    if (isOpen && !document.hidden) markSeen();
    else if (m.direction === 'outgoing' && m.id > seenId) ui.dot.hidden = false;
    scrollDown();
  }

  document.addEventListener('visibilitychange', () => { if (isOpen && !document.hidden) markSeen(); });
  function markSeen() {
    ui.dot.hidden = true;
    if (lastId > seenId) { seenId = lastId; store.set(KEY + '-seen', String(seenId)); }
  }

  function scrollDown() { if (isOpen) ui.list.scrollTop = ui.list.scrollHeight; }

  // ---------- pre-chat form and sending ----------

  function needsPrechat() {
    if (!config || !session || profile) return false;
    if (config.prechat === 'required') return !(session.name && session.email);
    if (config.prechat === 'optional') return !(session.name || session.email);
    return false;
  }

  function showComposer() {
    const form = needsPrechat();
    if (form) { ui.name.value ||= session.name || ''; ui.email.value ||= session.email || ''; }
    const required = config.prechat === 'required';
    ui.name.required = ui.email.required = required;
    ui.skip.hidden = required;
    ui.prechat.hidden = !form;
    ui.composer.hidden = form;
    (form ? ui.name : ui.input).focus();
  }

  function submitPrechat() {
    const name = ui.name.value.trim(), email = ui.email.value.trim();
    if (!ui.prechat.reportValidity()) return;
    if (config.prechat === 'required' && (!name || !email)) return showError(say('needBoth'));
    showError('');
    finishPrechat({ name, email });
  }

  function finishPrechat(values) {
    profile = values && (values.name || values.email) ? { ...values, sent: false } : { skipped: true };
    store.set(KEY + '-profile', JSON.stringify(profile));
    showComposer();
  }

  async function send() {
    const text = ui.input.value.trim();
    if (!text) return;
    ui.input.value = '';
    ui.input.style.height = 'auto';
    showError('');
    const clientId = crypto.randomUUID();
    const body = { client_id: clientId, text };
    if (profile && profile.sent === false) {
      if (profile.name) body.name = profile.name;
      if (profile.email) body.email = profile.email;
    }
    const el = h('div', { 'data-sb': 'message', class: 'msg in pending', 'data-direction': 'incoming' }, h('div', { 'data-sb': 'text' }, text));
    pending.set(clientId, { el, text });
    ui.list.append(el);
    scrollDown();
    try {
      // The same client_id on the retry lets the server drop a duplicate if the first attempt got through.
      const m = await authed('POST', '/messages', body);
      if (body.name || body.email) {
        profile.sent = true;
        store.set(KEY + '-profile', JSON.stringify(profile));
      }
      if (pending.delete(clientId)) addMessage(m, el); // else a stream event already adopted it
      startLive();
    } catch (e) {
      pending.delete(clientId);
      el.remove();
      if (!ui.input.value) ui.input.value = text; // give the text back so it can be sent again
      showError(messageError(e));
    }
  }

  // ---------- open / close ----------

  let opening = null;
  function open() {
    if (!ui) { wantOpen = true; return; }
    isOpen = true;
    ui.panel.hidden = false;
    ui.bubble.setAttribute('aria-expanded', 'true');
    markSeen();
    scrollDown();
    opening ||= (async () => {
      await ensureSession();
      await fetchNew();
      startLive();
    })().catch((e) => { opening = null; showError(messageError(e)); });
    if (session) showComposer(); else { ui.prechat.hidden = ui.composer.hidden = true; opening.then(() => session && isOpen && showComposer()); }
  }

  function close() {
    wantOpen = false;
    if (!ui || !isOpen) return; // never move the page's focus when nothing was open
    isOpen = false;
    ui.panel.hidden = true;
    ui.bubble.setAttribute('aria-expanded', 'false');
    ui.bubble.focus();
  }

  window.SwitchboardWidget = { open, close };

  async function start() {
    try {
      config = await request('GET', '/config');
    } catch (e) {
      console.error('Switchboard widget: channel ' + channel + ' is not available:', e.message);
      return;
    }
    mount();
    if (wantOpen) open();
    else if (token) {
      // Returning visitor: fetch history in the background to light the unread dot, and stay live for replies.
      // New visitors get a session only when they open the chat, so page views alone create nothing server-side.
      ensureSession().then(fetchNew).then(startLive).catch(() => {});
    }
  }

  // An async script can run before <body> exists.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
})();
