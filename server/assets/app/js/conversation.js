// One conversation: header (contact, assignment, pin, close / reopen, export), the timeline (messages with
// delivery ticks, comments, assignments, opening and closing, day separators) and the composer (reply or
// comment with @mentions, the messaging-window countdown, templates once the window is closed).

import { get, getAll, post, put, del, query, upload } from './api.js';
import { h, fill, dirOf, sameDay, dayLabel, clock, safeUrl, modal } from './dom.js';
import { t, lang } from './i18n.js';
import { bodyOf, fillTemplate, templateInputs } from './templates.js';
import { contactPanel } from './contact.js';

const EMOJI = ['😀', '😊', '🙂', '😉', '😂', '🙏', '👍', '👌', '👋', '🎉', '❤️', '✅', '❌', '⏳', '📦', '🚚', '💳', '📞', '📍', '🕒', '⭐', '🔥', '🤝', '😔'];

const TICKS = { pending: '○', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' };

export class ConversationPane {
  constructor(el, { me, directory, onChanged, onOpen }) {
    this.el = el;
    this.me = me;
    this.directory = directory;
    this.onChanged = onChanged;
    this.onOpen = onOpen;
    this.id = null;
    this.mode = 'reply';
    this.typingShown = new Map();
    fill(this.el, h('p', { class: 'placeholder muted' }, t('pane.empty')));
  }

  async open(id) {
    this.id = id;
    this.mode = 'reply';
    // A draft, its attachment and the contact panel belong to their conversation.
    this.textarea = null;
    this.attachment = null;
    this.form = null;
    this.contactEl = null;
    fill(this.el, h('p', { class: 'placeholder muted' }, t('pane.loading')));
    await this.load();
  }

  async load() {
    const id = this.id;
    try {
      const [detail, messages, comments] = await Promise.all([
        get(`/conversations/${id}`),
        get(`/conversations/${id}/messages?limit=200`),
        getAll(`/conversations/${id}/comments`),
      ]);
      if (!this.templates) this.templates = (await getAll('/templates').catch(() => ({ items: [] }))).items;
      if (id !== this.id) return;
      const newest = messages.items.slice().reverse();
      // Earlier pages the agent already loaded stay when the conversation is reloaded by an event.
      const oldestShown = newest.length ? newest[0].id : Infinity;
      const earlier = this.detail && this.detail.id === id ? (this.messages || []).filter((m) => m.id < oldestShown) : [];
      if (!earlier.length) this.olderCursor = messages.next_cursor;
      this.detail = detail;
      this.messages = earlier.concat(newest);
      this.comments = comments.items;
      this.render();
    } catch (e) {
      if (id === this.id) fill(this.el, h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  /** Reloads the open conversation when an event concerns it (the composer's text is kept). */
  onEvent(_event, conversation) {
    if (conversation && conversation === this.id && !this.reloadTimer) {
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = null;
        this.load();
      }, 80);
    }
  }

  onTyping(typing) {
    if (typing.conversation_id !== this.id || !this.typingEl) return;
    if (typing.actor && typing.actor.kind === 'user' && typing.actor.id === this.me.user.id) return;
    this.typingEl.textContent = t('typing', { name: typing.name || t('contact.unknown') });
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => {
      if (this.typingEl) this.typingEl.textContent = '';
    }, 5000);
  }

  /** Keyboard: `e` closes (or reopens) the conversation, `a` goes to the assignee. */
  shortcut(key) {
    if (!this.detail) return false;
    if (key === 'e') {
      if (this.detail.status === 'open') this.closeDialog();
      else this.act(() => post(`/conversations/${this.id}/open`));
      return true;
    }
    if (key === 'a') {
      const select = this.el.querySelector('select.assign');
      if (select) select.focus();
      return !!select;
    }
    return false;
  }

  focusComposer(mode) {
    if (!this.textarea) return false;
    this.setMode(mode);
    this.textarea.focus();
    return true;
  }

  /** Where this user's unsent text for a conversation waits in this browser while they look elsewhere
   *  (another conversation, a reload): written as they type, removed once sent or emptied. */
  draftKey(id) {
    return `sb-draft:${this.me.user.id}:${id}`;
  }

  keepDraft(id = this.id) {
    const text = this.textarea ? this.textarea.value : '';
    try {
      if (text.trim()) localStorage.setItem(this.draftKey(id), JSON.stringify({ text, at: Date.now() }));
      else localStorage.removeItem(this.draftKey(id));
    } catch {
      // Storage full or blocked: the draft lives as long as the composer, as before.
    }
  }

  /** The kept draft of conversation `id`, if it is younger than a week (older ones are dropped). */
  storedDraft(id) {
    try {
      const kept = JSON.parse(localStorage.getItem(this.draftKey(id)) || 'null');
      if (kept && typeof kept.text === 'string' && Date.now() - kept.at < 7 * 24 * 3600 * 1000) return kept.text;
      localStorage.removeItem(this.draftKey(id));
    } catch {
      // Unreadable: nothing kept.
    }
    return '';
  }

  /** What decides the composer's shape: while it stays the same, a live reload keeps the composer as the
   *  agent left it (draft, chosen template and its inputs, attached file). */
  composerKey(d) {
    return `${d.id}|${d.status}|${d.window ? d.window.open : ''}|${this.mode}`;
  }

  render() {
    const d = this.detail;
    const draft = this.textarea ? this.textarea.value : '';
    this.timelineEl = h('ol', { class: 'timeline', 'aria-label': t('timeline.label') });
    this.typingEl = h('p', { class: 'typing muted', 'aria-live': 'polite' });
    // The contact panel is rebuilt only when the contact changed, so unsaved edits survive live reloads.
    const contactKey = `${d.id}|${d.contact.updated_at}`;
    if (!this.contactEl || this.contactKey !== contactKey) {
      this.contactKey = contactKey;
      this.contactEl = contactPanel(d.contact, {
        directory: this.directory,
        current: d.id,
        onOpen: (id) => this.onOpen(id),
        onChanged: () => this.onChanged(),
      });
    }
    const key = this.composerKey(d);
    let composer = this.form;
    if (!composer || this.formKey !== key) {
      composer = this.composer(d);
      this.formKey = key;
      if (this.textarea) this.textarea.value = draft || this.storedDraft(d.id);
    } else {
      // A closed window keeps its note; an open one counts down.
      const note = composer.querySelector('.window');
      if (note && d.window && d.window.open && d.window.seconds_left !== null) note.textContent = t('window.left', { time: duration(d.window.seconds_left) });
    }
    // The composer and the contact panel are kept across live reloads, but moving them into the new pane
    // takes the focus away: give it back, with the caret where it was, so typing goes on undisturbed.
    const focused = this.el.contains(document.activeElement) ? document.activeElement : null;
    const caret = focused && typeof focused.selectionStart === 'number' ? [focused.selectionStart, focused.selectionEnd] : null;
    this.main = h('div', { class: 'pane-main' }, this.header(d), this.timelineEl, this.typingEl, composer);
    fill(this.el, this.main, this.contactEl);
    if (focused && focused.isConnected && document.activeElement !== focused) {
      focused.focus({ preventScroll: true });
      if (caret) focused.setSelectionRange(caret[0], caret[1]);
    }
    this.renderTimeline();
  }

  header(d) {
    const contact = d.contact;
    const name = [contact.first_name, contact.last_name].filter(Boolean).join(' ') || contact.phone || contact.email || t('contact.unknown');
    const assign = h(
      'select',
      { class: 'assign', 'aria-label': t('assign.label'), onchange: (e) => this.assign(e.target.value) },
      h('option', { value: '' }, t('assign.nobody')),
      h(
        'optgroup',
        { label: t('assign.agents') },
        [...this.directory.users.values()].map((u) =>
          h('option', { value: `user:${u.id}`, selected: d.assignee_id === u.id }, u.name),
        ),
      ),
      this.directory.teams.size
        ? h(
            'optgroup',
            { label: t('assign.teams') },
            [...this.directory.teams.values()].map((x) =>
              h('option', { value: `team:${x.id}`, selected: !d.assignee_id && d.team_id === x.id }, x.name),
            ),
          )
        : null,
    );
    const exportLink = (format) =>
      h('a', { href: `/api/v1/conversations/${d.id}/export${query({ format })}`, download: '', class: 'menu-item' }, t(`export.${format}`));
    return h(
      'header',
      { class: 'pane-head' },
      h('button', { class: 'back link', onclick: () => this.el.closest('.app').classList.remove('showing-pane') }, t('pane.back')),
      h(
        'div',
        { class: 'who' },
        h('h2', { dir: 'auto' }, name),
        h('span', { class: 'muted', dir: 'ltr' }, contact.phone || contact.email || ''),
        h('span', { class: `badge status-${d.status}` }, t(`status.${d.status}`)),
      ),
      h(
        'div',
        { class: 'actions' },
        assign,
        h(
          'button',
          { class: 'pin-toggle', 'aria-pressed': d.pinned ? 'true' : 'false', onclick: () => this.togglePin() },
          d.pinned ? t('action.unpin') : t('action.pin'),
        ),
        d.status === 'open'
          ? h('button', { class: 'close-conversation', onclick: () => this.closeDialog() }, t('action.close'))
          : h('button', { class: 'reopen', onclick: () => this.act(() => post(`/conversations/${d.id}/open`)) }, t('action.reopen')),
        h('button', { class: 'contact-toggle', 'aria-label': t('contact.panel'), onclick: () => this.el.classList.toggle('showing-contact') }, '👤'),
        h('details', { class: 'menu' }, h('summary', { 'aria-label': t('action.more') }, '⋮'), h('div', { class: 'menu-list' }, ['json', 'csv', 'text'].map(exportLink))),
      ),
    );
  }

  /** Messages, comments, assignments, opening and closing in time order, with a separator per day. */
  renderTimeline() {
    const d = this.detail;
    const entries = [
      { at: d.opened_at, kind: 'opened' },
      ...this.messages.map((m) => ({ at: m.created_at, kind: 'message', m })),
      ...this.comments.map((c) => ({ at: c.created_at, kind: 'comment', c })),
      ...(d.assignments || []).map((a) => ({ at: a.created_at, kind: 'assignment', a })),
    ];
    if (d.closed_at) entries.push({ at: d.closed_at, kind: 'closed' });
    entries.sort((a, b) => new Date(a.at) - new Date(b.at));
    const items = [];
    let day = null;
    for (const e of entries) {
      const at = new Date(e.at);
      if (!day || !sameDay(day, at)) {
        day = at;
        items.push(h('li', { class: 'day' }, h('span', {}, dayLabel(at, lang()))));
      }
      items.push(this.entry(e, at));
    }
    const earlier = this.olderCursor
      ? h('li', { class: 'earlier' }, h('button', { class: 'link load-earlier', onclick: () => this.loadEarlier() }, t('timeline.earlier')))
      : null;
    fill(this.timelineEl, earlier, items);
    if (!this.keepScroll) this.timelineEl.scrollTop = this.timelineEl.scrollHeight;
    this.keepScroll = false;
  }

  /** The page of messages before the oldest shown. */
  async loadEarlier() {
    const id = this.id;
    const page = await get(`/conversations/${id}/messages${query({ limit: 200, cursor: this.olderCursor })}`);
    if (id !== this.id) return;
    this.messages = page.items.slice().reverse().concat(this.messages);
    this.olderCursor = page.next_cursor;
    this.keepScroll = true;
    this.renderTimeline();
    this.timelineEl.scrollTop = 0;
  }

  userName(id) {
    const u = this.directory.users.get(id);
    return u ? u.name : t('user.unknown');
  }

  entry(e, at) {
    const time = h('time', { datetime: e.at }, clock(at, lang()));
    if (e.kind === 'message') return this.bubble(e.m, time);
    if (e.kind === 'comment') {
      return h(
        'li',
        { class: 'comment', dataset: { id: e.c.id } },
        h('div', { class: 'comment-head' }, h('strong', {}, e.c.author_id == null ? t('comment.by_workflow') : this.userName(e.c.author_id)), ' ', t('comment.wrote'), ' ', time),
        h('p', { dir: dirOf(e.c.body) }, e.c.body),
      );
    }
    let text;
    if (e.kind === 'opened') text = t('timeline.opened');
    else if (e.kind === 'closed') text = t('timeline.closed') + (this.detail.closing_summary ? `: ${this.detail.closing_summary}` : '');
    else {
      const to = e.a.to_user_id ? this.userName(e.a.to_user_id) : e.a.to_team_id ? this.directory.teams.get(e.a.to_team_id)?.name : null;
      text = to ? t('timeline.assigned', { to }) : t('timeline.unassigned');
    }
    return h('li', { class: `system ${e.kind}` }, h('span', {}, text, ' · ', time));
  }

  bubble(m, time) {
    const outgoing = m.direction === 'outgoing';
    const tick = outgoing
      ? h(
          'span',
          {
            class: `tick ${m.status}`,
            title: m.status === 'failed' ? m.failure_reason || t('tick.failed') : t(`tick.${m.status}`),
            'aria-label': m.status === 'failed' ? `${t('tick.failed')}: ${m.failure_reason || ''}` : t(`tick.${m.status}`),
            dataset: { status: m.status },
          },
          TICKS[m.status] || '',
        )
      : null;
    return h(
      'li',
      { class: `message ${outgoing ? 'outgoing' : 'incoming'}`, dataset: { id: m.id, status: m.status } },
      h('div', { class: 'bubble' }, this.content(m.content), h('div', { class: 'meta' }, time, tick)),
    );
  }

  /** An e-mail: its subject over the text, and on request its HTML (already sanitised by the channel's
   * plugin) in a frame sandboxed without scripts or same-origin access, in case anything slipped through. */
  mail(c) {
    const subject = c.subject ? h('p', { class: 'subject', dir: dirOf(c.subject) }, c.subject) : null;
    const body = h('p', { dir: dirOf(c.text) }, c.text);
    if (!c.html) return h('div', { class: 'mail' }, subject, body);
    const holder = h('div', { class: 'mail-html-holder' });
    const toggle = h('button', { type: 'button', class: 'show-html link' }, t('mail.showFormatted'));
    toggle.addEventListener('click', () => {
      const open = holder.firstChild !== null;
      if (open) holder.replaceChildren();
      else holder.append(h('iframe', { class: 'mail-html', sandbox: true, srcdoc: c.html, title: t('mail.formatted'), referrerpolicy: 'no-referrer' }));
      toggle.textContent = t(open ? 'mail.showFormatted' : 'mail.hideFormatted');
    });
    return h('div', { class: 'mail' }, subject, body, toggle, holder);
  }

  content(c) {
    switch (c.type) {
      case 'text':
        return c.subject || c.html ? this.mail(c) : h('p', { dir: dirOf(c.text) }, c.text);
      case 'reply':
        return h('p', { dir: dirOf(c.text) }, c.text);
      case 'media': {
        const caption = c.caption ? h('p', { dir: dirOf(c.caption) }, c.caption) : null;
        if (!c.url) return h('div', {}, h('p', { class: 'muted' }, t('media.pending', { kind: c.kind })), caption);
        const url = safeUrl(c.url);
        const file =
          c.kind === 'image' || c.kind === 'sticker'
            ? h('img', { src: url, alt: c.caption || t('media.image'), loading: 'lazy', class: 'media' })
            : c.kind === 'video'
              ? h('video', { src: url, controls: true, preload: 'metadata', class: 'media' })
              : c.kind === 'audio' || c.kind === 'voice'
                ? h('audio', { src: url, controls: true, preload: 'metadata' })
                : h('a', { href: url, download: c.filename || '', class: 'document' }, `📄 ${c.filename || t('media.document')}`);
        return h('div', {}, file, caption);
      }
      case 'location': {
        const href = `https://www.openstreetmap.org/?mlat=${c.latitude}&mlon=${c.longitude}#map=16/${c.latitude}/${c.longitude}`;
        return h('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'location' }, `📍 ${c.name || c.address || `${c.latitude}, ${c.longitude}`}`);
      }
      case 'template': {
        const tpl = (this.templates || []).find((x) => x.id === c.template_id);
        return h(
          'div',
          { class: 'template' },
          h('p', { class: 'muted' }, t('template.label', { name: tpl ? tpl.name : `#${c.template_id}` })),
          tpl ? h('p', { dir: 'auto' }, fillTemplate(bodyOf(tpl), c.parameters)) : h('p', {}, (c.parameters || []).join(' · ')),
        );
      }
      case 'interactive':
        return h('div', {}, h('p', { dir: dirOf(c.text) }, c.text), h('div', { class: 'buttons' }, c.buttons.map((b) => h('span', { class: 'chip' }, b))));
      case 'list':
        return h('div', {}, h('p', { dir: dirOf(c.text) }, c.text), h('span', { class: 'chip' }, c.button));
      case 'reaction':
        return h('p', { class: 'reaction' }, c.emoji);
      case 'contact_card':
        return h('p', {}, `👤 ${t('content.contact_card')}`);
      default:
        return h('p', { class: 'muted' }, `[${c.type}]`);
    }
  }

  composer(d) {
    if (d.status !== 'open') {
      this.textarea = null;
      this.form = h(
        'form',
        { class: 'composer closed-note', onsubmit: (e) => {
          e.preventDefault();
          this.act(() => post(`/conversations/${d.id}/open`));
        } },
        h('p', { class: 'muted' }, t('composer.closed')),
        h('div', { class: 'composer-actions' }, h('button', { type: 'submit', class: 'primary' }, t('action.reopen'))),
      );
      return this.form;
    }
    const w = d.window;
    const closed = w && !w.open;
    this.form = h('form', { class: `composer ${this.mode}`, onsubmit: (e) => this.submit(e) });
    this.textarea = h('textarea', {
      rows: 3,
      'aria-label': t('composer.label'),
      placeholder: t(this.mode === 'comment' ? 'composer.comment' : 'composer.reply'),
      oninput: () => {
        this.keepDraft();
        this.typing();
        if (this.mode === 'comment') this.suggestMentions();
        else this.suggestSnippets();
      },
      onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.form.requestSubmit();
        }
      },
    });
    this.errorEl = h('p', { class: 'form-error', role: 'alert' });
    this.mentionsEl = h('div', { class: 'mention-options', role: 'listbox', hidden: true });
    const tab = (mode) =>
      h(
        'button',
        { type: 'button', role: 'tab', class: `tab ${mode}-tab`, 'aria-selected': this.mode === mode ? 'true' : 'false', onclick: () => this.setMode(mode) },
        t(`composer.${mode}_tab`),
      );
    const windowNote = w && w.seconds_left !== null && w.seconds_left !== undefined
      ? h('p', { class: `window ${closed ? 'closed' : 'open'}` }, closed ? t('window.closed') : t('window.left', { time: duration(w.seconds_left) }))
      : null;
    const replyClosed = closed && this.mode === 'reply';
    fill(
      this.form,
      h('div', { class: 'tabs', role: 'tablist' }, tab('reply'), tab('comment')),
      windowNote,
      replyClosed ? this.templatePicker() : [this.mentionsEl, this.attachmentEl(), this.textarea, h('div', { class: 'composer-actions' }, this.tools(), this.errorEl, h('button', { type: 'submit', class: 'primary send' }, t(this.mode === 'comment' ? 'composer.add_comment' : 'composer.send')))],
    );
    if (replyClosed) this.form.append(this.errorEl);
    return this.form;
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    const draft = this.textarea ? this.textarea.value : '';
    const old = this.form;
    const form = this.composer(this.detail);
    this.formKey = this.composerKey(this.detail);
    this.main.replaceChild(form, old);
    if (this.textarea) this.textarea.value = draft;
  }

  templatePicker() {
    const channel = this.detail.last_channel_id;
    const usable = (this.templates || []).filter((x) => (!x.channel_id || x.channel_id === channel) && (x.status === 'approved' || !x.channel_id));
    const inputs = h('div', { class: 'template-inputs' });
    this.chosen = null;
    const select = h(
      'select',
      {
        class: 'template-select',
        'aria-label': t('template.pick'),
        onchange: () => {
          this.chosen = templateInputs(inputs, usable.find((x) => x.id === Number(select.value)));
        },
      },
      h('option', { value: '' }, t('template.pick')),
      usable.map((x) => h('option', { value: x.id }, `${x.name} (${x.language})`)),
    );
    return h(
      'div',
      { class: 'template-picker' },
      h('p', { class: 'muted' }, t('template.why')),
      select,
      inputs,
      h('div', { class: 'composer-actions' }, h('button', { type: 'submit', class: 'primary send-template' }, t('template.send'))),
    );
  }

  /** The file chosen to send with the reply, if any, with a way to drop it. */
  attachmentEl() {
    const el = h('div', { class: 'attachment' });
    if (this.attachment && this.mode === 'reply') {
      fill(
        el,
        h('span', { class: 'chip attached' }, `📎 ${this.attachment.name}`),
        h('button', { type: 'button', class: 'link', 'aria-label': t('composer.remove_file'), onclick: () => { this.attachment = null; el.replaceChildren(); } }, '×'),
      );
    }
    return el;
  }

  /** Emoji and (for replies) a file to attach. */
  tools() {
    const picker = h(
      'details',
      { class: 'emoji menu' },
      h('summary', { 'aria-label': t('composer.emoji') }, '🙂'),
      h(
        'div',
        { class: 'menu-list emoji-list' },
        EMOJI.map((e) =>
          h('button', { type: 'button', class: 'link', onclick: (ev) => { this.insert(e); ev.target.closest('details').open = false; } }, e),
        ),
      ),
    );
    if (this.mode !== 'reply') return picker;
    const file = h('input', {
      type: 'file',
      class: 'file-input',
      hidden: true,
      onchange: async () => {
        const chosen = file.files[0];
        if (!chosen) return;
        this.errorEl.textContent = t('composer.uploading');
        try {
          const stored = await upload(chosen);
          this.attachment = { ...stored, name: chosen.name, type: chosen.type };
          this.errorEl.textContent = '';
          this.form.querySelector('.attachment').replaceWith(this.attachmentEl());
        } catch (err) {
          this.errorEl.textContent = err.message;
        }
      },
    });
    return [picker, file, h('button', { type: 'button', class: 'attach', 'aria-label': t('composer.attach'), onclick: () => file.click() }, '📎')];
  }

  insert(text) {
    const box = this.textarea;
    const at = box.selectionStart ?? box.value.length;
    box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
    box.focus();
    box.selectionStart = box.selectionEnd = at + text.length;
  }

  /** Suggestions under the composer: picking one replaces the text from `from` to the caret with `insert`. */
  offer(from, choices) {
    const el = this.mentionsEl;
    el.hidden = !choices.length;
    fill(
      el,
      choices.map((c) =>
        h(
          'button',
          {
            type: 'button',
            class: `mention-option ${c.class || ''}`,
            role: 'option',
            title: c.title,
            onclick: () => {
              const box = this.textarea;
              const rest = box.value.slice(box.selectionStart);
              box.value = `${box.value.slice(0, from)}${c.insert}${rest}`;
              el.hidden = true;
              box.focus();
            },
          },
          c.label,
        ),
      ),
    );
  }

  /** In a reply, `/` and the start of a shortcut offers the workspace's snippets; picking one writes its text. */
  async suggestSnippets() {
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const m = /(?:^|\s)\/([^\s/]{0,30})$/.exec(before);
    if (!m) return this.offer(0, []);
    const found = await get(`/snippets/search${query({ q: m[1], limit: 6 })}`).catch(() => []);
    const from = before.length - m[1].length - 1;
    this.offer(from, found.map((x) => ({ label: `/${x.shortcut}`, insert: x.body, title: x.body, class: 'snippet-option' })));
  }

  /** In a comment, `@` and the start of a name offers the matching teammates; picking one writes `@Name`. */
  suggestMentions() {
    if (this.mode !== 'comment' || !this.mentionsEl) return;
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const m = /(?:^|\s)@([^@\n]{0,30})$/.exec(before);
    if (!m) return this.offer(0, []);
    const wanted = m[1].toLowerCase();
    const users = [...this.directory.users.values()].filter((u) => u.name.toLowerCase().startsWith(wanted)).slice(0, 5);
    this.offer(before.length - m[1].length, users.map((u) => ({ label: `@${u.name}`, insert: `${u.name} ` })));
  }

  typing() {
    if (this.mode !== 'reply') return;
    const now = Date.now();
    if (now - (this.lastTyping || 0) < 3000) return;
    this.lastTyping = now;
    post(`/conversations/${this.id}/typing`).catch(() => {});
  }

  async submit(e) {
    e.preventDefault();
    this.errorEl.textContent = '';
    const id = this.id;
    try {
      if (this.mode === 'comment') {
        const body = this.textarea.value.trim();
        if (!body) return;
        const mentions = [...this.directory.users.values()].filter((u) => body.includes(`@${u.name}`)).map((u) => u.id);
        await post(`/conversations/${id}/comments`, { body, mentions });
        this.textarea.value = '';
        this.keepDraft(id);
      } else if (this.detail.window && !this.detail.window.open) {
        const content = this.chosen && this.chosen.content();
        if (!content) throw new Error(t('template.pick'));
        await post(`/conversations/${id}/messages`, { content });
      } else if (this.attachment) {
        const a = this.attachment;
        const kind = /^image\//.test(a.content_type) ? 'image' : /^video\//.test(a.content_type) ? 'video' : /^audio\//.test(a.content_type) ? 'audio' : 'document';
        const caption = this.textarea.value.trim() || undefined;
        await post(`/conversations/${id}/messages`, { content: { type: 'media', kind, url: a.url, caption, filename: kind === 'document' ? a.name : undefined } });
        this.attachment = null;
        this.textarea.value = '';
        this.keepDraft(id);
      } else {
        const text = this.textarea.value.trim();
        if (!text) return;
        await post(`/conversations/${id}/messages`, { content: { type: 'text', text } });
        this.textarea.value = '';
        this.keepDraft(id);
      }
      this.form = null; // sent: a fresh composer
      await this.load();
      this.onChanged();
    } catch (err) {
      this.errorEl.textContent = err.code === 'window_closed' ? t('window.refused', { message: err.message }) : err.message;
    }
  }

  async act(f) {
    try {
      await f();
      await this.load();
      this.onChanged();
    } catch (err) {
      alert(err.message);
    }
  }

  assign(value) {
    const [kind, id] = value.split(':');
    const body = kind === 'user' ? { user_id: Number(id) } : kind === 'team' ? { team_id: Number(id), user_id: null } : { user_id: null, team_id: null };
    this.act(() => post(`/conversations/${this.id}/assign`, body));
  }

  togglePin() {
    const path = `/conversations/${this.id}/pin`;
    this.act(() => (this.detail.pinned ? del(path) : put(path)));
  }

  /** The closing note, as the workspace asks for it: off, optional, category required, or both required. */
  async closeDialog() {
    const mode = this.me.workspace.closing_note_mode;
    if (mode === 'disabled') return this.act(() => post(`/conversations/${this.id}/close`, {}));
    const categories = (await getAll('/closing-categories').catch(() => ({ items: [] }))).items;
    const needCategory = mode === 'category_required' || mode === 'category_and_summary_required';
    const needSummary = mode === 'category_and_summary_required';
    const category = h(
      'select',
      { name: 'category', required: needCategory, 'aria-label': t('close.category') },
      h('option', { value: '' }, needCategory ? t('close.pick') : t('close.none')),
      categories.map((c) => h('option', { value: c.id }, c.name)),
    );
    const summary = h('textarea', { name: 'summary', rows: 3, required: needSummary, 'aria-label': t('close.summary'), placeholder: t('close.summary') });
    modal({
      class: 'close-dialog',
      title: t('close.title'),
      body: [
        h('label', { class: 'field' }, h('span', {}, t('close.category')), category),
        h('label', { class: 'field' }, h('span', {}, t('close.summary')), summary),
      ],
      cancel: t('action.cancel'),
      action: t('action.close'),
      actionClass: 'confirm-close',
      submit: async () => {
        await post(`/conversations/${this.id}/close`, {
          category_id: category.value ? Number(category.value) : undefined,
          summary: summary.value.trim() || undefined,
        });
        await this.load();
        this.onChanged();
      },
    });
  }
}

function duration(seconds) {
  const h_ = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h_ ? t('duration.hm', { h: h_, m }) : t('duration.m', { m });
}
