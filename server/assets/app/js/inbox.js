// The inbox: sidebar of views with live counts, the conversation list (pinned first, unread marks,
// previews, infinite scroll), quick search, and the conversation pane. Realtime events refresh what they touch.

import { get, getAll, post, query } from './api.js';
import { h, fill, shortTime } from './dom.js';
import { t, lang, languageSwitch } from './i18n.js';
import { Realtime } from './realtime.js';
import { ConversationPane } from './conversation.js';
import { newConversation } from './newconversation.js';
import { Settings } from './settings.js';

const PAGE = 30;

/** `#/{view}/{conversation id}`: what is shown survives a reload and the language switch. */
function readHash() {
  const [, view = 'all', id = ''] = location.hash.split('/');
  if (view === 'settings') return { view: 'all', id: null, settings: id || 'workspace' };
  return { view: decodeURIComponent(view) || 'all', id: Number(id) || null };
}

export class Inbox {
  constructor(root, me, reboot) {
    this.root = root;
    this.me = me;
    this.reboot = reboot;
    const { view, id, settings } = readHash();
    this.state = { view, status: 'open', sort: 'newest', items: [], cursor: null, selected: id };
    this.startIn = settings;
    this.directory = { users: new Map(), teams: new Map(), channels: new Map(), inboxes: new Map() };
    this.refreshTimer = null;
  }

  async start() {
    this.render();
    await this.loadDirectory();
    this.pane = new ConversationPane(this.paneEl, {
      me: this.me,
      directory: this.directory,
      onChanged: () => this.scheduleRefresh(),
      onOpen: (id) => this.select(id),
    });
    await Promise.all([this.loadCounts(), this.loadList()]);
    if (this.state.selected) this.select(this.state.selected);
    this.realtime = new Realtime({
      onEvent: (e) => this.onEvent(e),
      onTyping: (typing) => this.pane.onTyping(typing),
      onState: (state, resumed) => this.onConnection(state, resumed),
    });
    this.realtime.start();
    this.keys = (e) => this.onKey(e);
    document.addEventListener('keydown', this.keys);
    this.hashes = () => {
      const { settings } = readHash();
      if (settings) this.showSettings(settings);
    };
    window.addEventListener('hashchange', this.hashes);
    if (this.startIn && this.canManage()) this.showSettings(this.startIn);
  }

  canManage() {
    return this.me.user.role === 'owner' || this.me.user.role === 'manager';
  }

  showSettings(section) {
    if (!this.canManage()) return;
    this.inSettings = true;
    this.root.querySelector('.app').classList.add('in-settings');
    this.settingsEl.hidden = false;
    if (location.hash !== `#/settings/${section}`) location.hash = `#/settings/${section}`;
    this.renderNav(this.counts);
    this.settings.show(section);
  }

  stop() {
    if (this.realtime) this.realtime.stop();
    if (this.keys) document.removeEventListener('keydown', this.keys);
    if (this.hashes) window.removeEventListener('hashchange', this.hashes);
  }

  async loadDirectory() {
    for (const map of Object.values(this.directory)) map.clear();
    const [users, teams, channels, inboxes] = await Promise.all([
      getAll('/users').catch(() => ({ items: [] })),
      getAll('/teams').catch(() => ({ items: [] })),
      getAll('/channels').catch(() => ({ items: [] })),
      get('/inboxes').catch(() => []),
    ]);
    for (const u of users.items) this.directory.users.set(u.id, u);
    for (const x of teams.items) this.directory.teams.set(x.id, x);
    for (const c of channels.items) this.directory.channels.set(c.id, c);
    for (const i of inboxes) this.directory.inboxes.set(i.id, i);
  }

  render() {
    this.navEl = h('nav', { class: 'sidebar', 'aria-label': t('nav.views') });
    this.searchEl = h('input', {
      type: 'search',
      class: 'search',
      placeholder: t('search.placeholder'),
      'aria-label': t('search.placeholder'),
      oninput: () => this.scheduleSearch(),
      onkeydown: (e) => {
        if (e.key === 'Escape') this.closeSearch();
      },
    });
    this.resultsEl = h('div', { class: 'search-results', role: 'listbox', hidden: true });
    this.listEl = h('ul', { class: 'list', role: 'listbox', 'aria-label': t('list.label') });
    this.sentinel = h('li', { class: 'sentinel', 'aria-hidden': 'true' });
    this.paneEl = h('section', { class: 'pane', 'aria-label': t('pane.label') });
    const status = h(
      'select',
      { 'aria-label': t('filter.status'), class: 'status-filter', onchange: (e) => this.setFilter({ status: e.target.value }) },
      ['open', 'closed', 'all'].map((s) => h('option', { value: s, selected: s === this.state.status }, t(`status.${s}`))),
    );
    const sort = h(
      'select',
      { 'aria-label': t('filter.sort'), class: 'sort-filter', onchange: (e) => this.setFilter({ sort: e.target.value }) },
      ['newest', 'oldest'].map((s) => h('option', { value: s, selected: s === this.state.sort }, t(`sort.${s}`))),
    );
    this.listHeader = h('h2', { class: 'list-title' });
    const listPane = h(
      'section',
      { class: 'list-pane', 'aria-label': t('list.label') },
      h(
        'div',
        { class: 'search-box' },
        this.searchEl,
        h('button', { class: 'primary new-conversation-button', title: t('new.title'), 'aria-label': t('new.title'), onclick: () => newConversation(this.directory, (id) => this.select(id)) }, '+'),
        this.resultsEl,
      ),
      h('div', { class: 'list-head' }, this.listHeader, h('div', { class: 'filters' }, status, sort)),
      this.listEl,
    );
    this.settingsEl = h('section', { class: 'settings', hidden: true, 'aria-label': t('settings.title') });
    this.settings = new Settings(this.settingsEl, {
      me: this.me,
      directory: this.directory,
      onDirectoryChanged: async () => {
        await this.loadDirectory();
        this.renderNav(this.counts);
      },
    });
    fill(this.root, h('div', { class: 'app' }, this.navEl, listPane, this.paneEl, this.settingsEl));
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && this.state.cursor && !this.loading) this.loadList(true);
    }).observe(this.sentinel);
    this.renderNav(null);
  }

  views(counts) {
    const v = [
      { id: 'all', label: t('view.all'), count: counts?.all },
      { id: 'mine', label: t('view.mine'), count: counts?.mine },
      { id: 'unassigned', label: t('view.unassigned'), count: counts?.unassigned },
      { id: 'mentions', label: t('view.mentions'), count: counts?.mentions },
    ];
    const teams = [...this.directory.teams.values()].map((team) => ({
      id: `team:${team.id}`,
      label: team.name,
      count: counts?.teams.find((c) => c.team_id === team.id),
    }));
    const inboxes = [...this.directory.inboxes.values()].map((i) => ({
      id: `inbox:${i.id}`,
      label: i.name,
      count: counts?.inboxes.find((c) => c.inbox_id === i.id),
    }));
    return { v, teams, inboxes };
  }

  renderNav(counts) {
    const { v, teams, inboxes } = this.views(counts);
    const item = (x) =>
      h(
        'li',
        {},
        h(
          'a',
          {
            href: `#/${x.id}`,
            class: x.id === this.state.view && !this.inSettings ? 'view current' : 'view',
            'aria-current': x.id === this.state.view && !this.inSettings ? 'page' : null,
            dataset: { view: x.id },
            onclick: (e) => {
              e.preventDefault();
              this.setView(x.id);
            },
          },
          h('span', { class: 'view-name', title: x.label }, x.label),
          x.count && x.count.open > 0 ? h('span', { class: 'count', title: t('count.title', x.count) }, x.count.open) : null,
          x.count && x.count.unread > 0 ? h('span', { class: 'unread-dot', 'aria-label': t('count.unread', x.count) }) : null,
        ),
      );
    const me = this.me.user;
    fill(
      this.navEl,
      h('div', { class: 'brand' }, h('img', { src: '/app/icon.svg', alt: '', width: 28, height: 28 }), this.me.workspace.name),
      h('ul', { class: 'views' }, v.map(item)),
      teams.length ? [h('h3', {}, t('nav.teams')), h('ul', { class: 'views' }, teams.map(item))] : null,
      inboxes.length ? [h('h3', {}, t('nav.inboxes')), h('ul', { class: 'views' }, inboxes.map(item))] : null,
      this.canManage()
        ? h('ul', { class: 'views' }, h('li', {}, h('a', { href: '#/settings/workspace', class: this.inSettings ? 'view current settings-link' : 'view settings-link', dataset: { view: 'settings' } }, h('span', { class: 'view-name' }, t('settings.title')))))
        : null,
      h(
        'div',
        { class: 'me' },
        h('div', { class: 'me-name' }, me.name, h('span', { class: 'muted' }, ` · ${t(`role.${me.role}`)}`)),
        counts && counts.notifications_unread
          ? h('div', { class: 'muted' }, t('notifications.unread', { n: counts.notifications_unread }))
          : null,
        this.me.workspaces.length > 1
          ? h(
              'label',
              { class: 'language' },
              h('span', {}, t('nav.workspace')),
              h(
                'select',
                {
                  class: 'workspace-select',
                  onchange: async (e) => {
                    await post('/auth/workspace', { workspace_id: Number(e.target.value) });
                    location.hash = '';
                    this.reboot();
                  },
                },
                this.me.workspaces.map((m) => h('option', { value: m.workspace.id, selected: m.workspace.id === this.me.workspace.id }, m.workspace.name)),
              ),
            )
          : null,
        languageSwitch(),
        'Notification' in window && Notification.permission === 'default'
          ? h(
              'button',
              { class: 'link notify', onclick: () => Notification.requestPermission().then(() => this.renderNav(this.counts)) },
              t('notify.enable'),
            )
          : null,
        h(
          'button',
          {
            class: 'link logout',
            onclick: async () => {
              await post('/auth/logout');
              // Unsent drafts hold customers' details: they do not outlive the session in this browser.
              try {
                Object.keys(localStorage).filter((k) => k.startsWith('sb-draft:')).forEach((k) => localStorage.removeItem(k));
              } catch {
                // Storage blocked: nothing was kept either.
              }
              location.hash = '';
              this.reboot();
            },
          },
          t('auth.logout'),
        ),
      ),
    );
    const current = [...v, ...teams, ...inboxes].find((x) => x.id === this.state.view);
    this.listHeader.textContent = current ? current.label : this.state.view;
  }

  async loadCounts() {
    try {
      this.counts = await get('/inbox/counts');
      this.renderNav(this.counts);
    } catch {
      /* the list still works; counts come with the next event */
    }
  }

  async loadList(more = false, keep = 0) {
    this.loading = true;
    const s = this.state;
    try {
      const page = await get(
        `/conversations${query({
          view: s.view,
          status: s.status,
          sort: s.sort,
          include: 'summary',
          limit: Math.min(200, Math.max(PAGE, keep)),
          cursor: more ? s.cursor : null,
        })}`,
      );
      s.items = more ? s.items.concat(page.items) : page.items;
      s.cursor = page.next_cursor;
      this.renderList();
    } catch (e) {
      fill(this.listEl, h('li', { class: 'form-error' }, e.message));
    } finally {
      this.loading = false;
    }
  }

  renderList() {
    const s = this.state;
    if (!s.items.length) {
      fill(this.listEl, h('li', { class: 'empty muted' }, t('list.empty')));
      return;
    }
    fill(this.listEl, s.items.map((c) => this.row(c)), this.sentinel);
  }

  row(c) {
    const sum = c.summary || {};
    const last = sum.last_message;
    const assignee = c.assignee_id ? this.directory.users.get(c.assignee_id) : null;
    const team = c.team_id ? this.directory.teams.get(c.team_id) : null;
    const channel = last && last.channel_id ? this.directory.channels.get(last.channel_id) : null;
    const classes = ['row', c.unread && 'unread', c.pinned && 'pinned', c.id === this.state.selected && 'selected', c.status]
      .filter(Boolean)
      .join(' ');
    return h(
      'li',
      { class: classes, role: 'option', 'aria-selected': c.id === this.state.selected ? 'true' : 'false', dataset: { id: c.id } },
      h(
        'button',
        { class: 'row-button', onclick: () => this.select(c.id) },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, (sum.contact_name || '?').trim().charAt(0).toUpperCase()),
        h(
          'span',
          { class: 'row-main' },
          h(
            'span',
            { class: 'row-top' },
            h('span', { class: 'name' }, sum.contact_name || t('contact.unknown')),
            c.pinned ? h('span', { class: 'pin', title: t('action.pinned'), 'aria-label': t('action.pinned') }, '📌') : null,
            h('time', { datetime: c.last_activity_at }, shortTime(c.last_activity_at, lang())),
          ),
          // The text runs in its own direction, so a cut-off preview shows the start of an English message
          // in the Arabic app (and of an Arabic one in the English app), not its end.
          h(
            'span',
            { class: 'preview' },
            last && last.direction === 'outgoing' ? h('span', { class: 'preview-who' }, `${t('preview.you')}: `) : null,
            h('span', { class: 'preview-text', dir: 'auto' }, last ? last.preview : t('preview.none')),
          ),
          h(
            'span',
            { class: 'row-meta muted' },
            channel ? h('span', { class: `channel ch-${channel.plugin_id}` }, channel.name) : null,
            assignee ? h('span', { class: 'assignee' }, assignee.name) : team ? h('span', { class: 'assignee' }, team.name) : null,
            c.status === 'closed' ? h('span', { class: 'badge' }, t('status.closed')) : null,
            c.unread ? h('span', { class: 'sr-only' }, t('list.awaiting')) : null,
          ),
        ),
      ),
    );
  }

  setView(view) {
    if (this.inSettings) {
      this.inSettings = false;
      this.root.querySelector('.app').classList.remove('in-settings');
      this.settingsEl.hidden = true;
    }
    this.state.view = view;
    this.state.cursor = null;
    location.hash = `#/${view}${this.state.selected ? `/${this.state.selected}` : ''}`;
    this.renderNav(this.counts);
    this.loadList();
  }

  setFilter(change) {
    Object.assign(this.state, change, { cursor: null });
    this.loadList();
  }

  select(id) {
    this.state.selected = id;
    location.hash = `#/${this.state.view}/${id}`;
    for (const li of this.listEl.querySelectorAll('li.row')) {
      const on = Number(li.dataset.id) === id;
      li.classList.toggle('selected', on);
      li.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    this.root.querySelector('.app').classList.add('showing-pane');
    this.pane.open(id);
  }

  /** Many events arrive together (a delivery, a reply and its status): one refresh for all of them, and at
   *  least one every 150 ms while they keep coming (a busy inbox must not postpone it forever). */
  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.loadCounts();
      this.loadList(false, this.state.items.length);
    }, 120);
  }

  onEvent(e) {
    const kind = e.kind || '';
    if (!/^(message|conversation|comment|contact)\./.test(kind)) return;
    this.scheduleRefresh();
    const conversation = kind.startsWith('conversation.') ? e.subject_id : e.data && e.data.conversation_id;
    this.pane.onEvent(e, conversation);
    this.notify(e, conversation);
  }

  /** A browser notification, when allowed and the page is not in front: a conversation given to me, a
   *  comment mentioning me, or a new message in a conversation of mine. */
  notify(e, conversation) {
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    if (document.visibilityState === 'visible' && document.hasFocus()) return;
    const me = this.me.user.id;
    const byMe = e.actor && e.actor.kind === 'user' && e.actor.id === me;
    const data = e.data || {};
    let title = null;
    if (e.kind === 'conversation.assigned' && data.to_user_id === me && !byMe) title = t('notify.assigned');
    else if (e.kind === 'comment.created' && (data.mentions || []).includes(me) && !byMe) title = t('notify.mentioned');
    else if (e.kind === 'message.created' && data.direction === 'incoming') {
      const row = this.state.items.find((c) => c.id === conversation);
      if (row && row.assignee_id === me) title = t('notify.message');
    }
    if (!title) return;
    const url = `/#/${this.state.view}/${conversation}`;
    const options = { tag: `conversation-${conversation}`, data: { url }, icon: '/app/icon.svg' };
    navigator.serviceWorker?.ready
      .then((sw) => sw.showNotification(title, options))
      .catch(() => new Notification(title, options));
  }

  onConnection(state, resumed) {
    const banner = document.getElementById('banner');
    if (state === 'lost') {
      banner.textContent = t('realtime.lost');
      banner.hidden = false;
    } else {
      banner.hidden = true;
      if (resumed) this.scheduleRefresh();
    }
  }

  // Quick search: contacts and messages, closed conversations included.
  scheduleSearch() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.search(), 200);
  }

  closeSearch() {
    this.resultsEl.hidden = true;
    this.searchEl.value = '';
  }

  async search() {
    const q = this.searchEl.value.trim();
    if (!q) {
      this.resultsEl.hidden = true;
      return;
    }
    let found;
    try {
      found = await get(`/search${query({ q, limit: 10 })}`);
    } catch (e) {
      fill(this.resultsEl, h('p', { class: 'muted' }, e.code === 'validation_failed' ? t('search.short') : e.message));
      this.resultsEl.hidden = false;
      return;
    }
    const pick = (id) => () => {
      if (!id) return;
      this.closeSearch();
      this.select(id);
    };
    const marked = (hl) => {
      if (!hl) return null;
      const parts = [];
      let at = 0;
      for (const [a, b] of hl.marks) {
        parts.push(hl.text.slice(at, a), h('mark', {}, hl.text.slice(a, b)));
        at = b;
      }
      parts.push(hl.text.slice(at));
      return parts;
    };
    const contacts = (found.contacts || []).map((c) =>
      h(
        'button',
        { class: 'result', role: 'option', disabled: !c.conversation_id, onclick: pick(c.conversation_id) },
        h('span', { class: 'name' }, marked(c.highlights?.name) || c.name),
        c.highlights?.phone ? h('span', { class: 'muted' }, ' ', marked(c.highlights.phone)) : null,
      ),
    );
    const messages = (found.messages || []).map((m) =>
      h(
        'button',
        { class: 'result', role: 'option', onclick: pick(m.conversation_id) },
        h('span', { class: 'name' }, m.contact_name),
        m.conversation_status === 'closed' ? h('span', { class: 'badge' }, t('status.closed')) : null,
        h('span', { class: 'snippet', dir: 'auto' }, marked(m.snippet) || m.snippet?.text || ''),
      ),
    );
    fill(
      this.resultsEl,
      contacts.length ? [h('h4', {}, t('search.contacts')), contacts] : null,
      messages.length ? [h('h4', {}, t('search.messages')), messages] : null,
      !contacts.length && !messages.length ? h('p', { class: 'muted' }, t('search.none')) : null,
    );
    this.resultsEl.hidden = false;
  }

  /** j / k: next / previous conversation; / : search; r: reply; c: comment; a: assign; e: close; ?: help.
   *  Not while typing. */
  onKey(e) {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || '');
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const items = this.state.items;
    const at = items.findIndex((c) => c.id === this.state.selected);
    if (e.key === 'j' || e.key === 'k') {
      const next = items[Math.max(0, Math.min(items.length - 1, at + (e.key === 'j' ? 1 : -1)))];
      if (next) this.select(next.id);
      e.preventDefault();
    } else if (e.key === '/') {
      this.searchEl.focus();
      e.preventDefault();
    } else if (e.key === 'r' || e.key === 'c') {
      if (this.pane.focusComposer(e.key === 'c' ? 'comment' : 'reply')) e.preventDefault();
    } else if (e.key === 'e' || e.key === 'a') {
      if (this.pane.shortcut(e.key)) e.preventDefault();
    } else if (e.key === '?') {
      this.showShortcuts();
      e.preventDefault();
    }
  }

  showShortcuts() {
    const keys = [['j / k', 'keys.next'], ['/', 'keys.search'], ['r', 'keys.reply'], ['c', 'keys.comment'], ['a', 'keys.assign'], ['e', 'keys.close'], ['?', 'keys.help']];
    const dialog = h(
      'dialog',
      { class: 'shortcuts' },
      h('h3', {}, t('keys.title')),
      h('dl', {}, keys.map(([k, label]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, t(label))])),
      h('form', { method: 'dialog' }, h('button', { class: 'primary' }, t('keys.ok'))),
    );
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }
}
