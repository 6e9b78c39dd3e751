// Settings for owners and managers: the workspace, users and roles, teams, channels (with the form each
// channel plugin declares), templates, tags, contact fields, closing categories, snippets, workflows (the
// builder lives in workflows.js), API tokens and plugins. Each section is a list with a form to add to it,
// over the same REST API as everything else.

import { get, getAll, post, put, patch, del } from './api.js';
import { h, fill } from './dom.js';
import { t, valueLabel } from './i18n.js';
import { showWorkflows } from './workflows.js';

export const SECTIONS = ['workspace', 'users', 'teams', 'channels', 'templates', 'tags', 'fields', 'closing', 'snippets', 'workflows', 'tokens', 'plugins'];

/** A small form: `fields` are `{name, label, type?, options?, required?, value?}`; `submit(values)` saves. */
function form(fields, submitLabel, submit, extra = {}) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const controls = fields.map((f) => {
    const control = f.options
      ? h('select', { name: f.name, required: f.required }, f.options.map(([value, label]) => h('option', { value, selected: String(f.value ?? '') === String(value) }, label)))
      : f.type === 'checkbox'
        ? h('input', { type: 'checkbox', name: f.name, checked: !!f.value })
        : f.type === 'textarea'
          ? h('textarea', { name: f.name, required: f.required, rows: 3 }, f.value ?? '')
          : h('input', { name: f.name, type: f.type || 'text', required: f.required, value: f.value ?? '', placeholder: f.placeholder, autocomplete: 'off' });
    return h('label', { class: 'field' }, h('span', {}, f.label), f.hint ? h('small', { class: 'muted' }, f.hint) : null, control);
  });
  const el = h(
    'form',
    {
      class: `settings-form ${extra.class || ''}`,
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const values = {};
        for (const f of fields) {
          const input = el.elements[f.name];
          values[f.name] = f.type === 'checkbox' ? input.checked : input.value.trim();
        }
        try {
          await submit(values);
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    controls,
    error,
    h('div', { class: 'composer-actions' }, h('button', { type: 'submit', class: 'primary' }, submitLabel)),
  );
  return el;
}

function list(items, render, remove) {
  if (!items.length) return h('p', { class: 'muted' }, t('settings.none'));
  return h(
    'ul',
    { class: 'settings-list' },
    items.map((item) =>
      h(
        'li',
        {},
        h('div', { class: 'settings-item' }, render(item)),
        remove ? h('button', { class: 'link danger', onclick: () => remove(item) }, t('settings.remove')) : null,
      ),
    ),
  );
}

const ask = (question) => window.confirm(question);

export class Settings {
  constructor(el, { me, directory, onDirectoryChanged }) {
    this.el = el;
    this.me = me;
    this.directory = directory;
    this.onDirectoryChanged = onDirectoryChanged;
  }

  async show(section) {
    this.section = SECTIONS.includes(section) ? section : 'workspace';
    const nav = h(
      'nav',
      { class: 'settings-nav', 'aria-label': t('settings.title') },
      SECTIONS.map((s) => h('a', { href: `#/settings/${s}`, class: s === this.section ? 'current' : '', 'aria-current': s === this.section ? 'page' : null }, t(`settings.${s}`))),
    );
    this.body = h('div', { class: 'settings-body' }, h('p', { class: 'muted' }, t('pane.loading')));
    fill(this.el, nav, this.body);
    // Where the sections are one sideways-scrolling row (phones), the current one is in sight. The row is
    // scrolled by hand: scrollIntoView would scroll the page as well.
    const current = nav.querySelector('a.current');
    if (current && nav.scrollWidth > nav.clientWidth) {
      const link = current.getBoundingClientRect();
      const row = nav.getBoundingClientRect();
      if (link.left < row.left) nav.scrollLeft -= row.left - link.left;
      else if (link.right > row.right) nav.scrollLeft += link.right - row.right;
    }
    try {
      await this[this.section]();
    } catch (e) {
      fill(this.body, h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  }

  refresh() {
    return this.show(this.section);
  }

  put(title, ...children) {
    fill(this.body, h('h2', {}, title), children);
  }

  async workspace() {
    const ws = await get('/workspace');
    const modes = ['optional', 'category_required', 'category_and_summary_required', 'disabled'];
    const access = ['all', 'teams', 'assigned'];
    this.put(
      t('settings.workspace'),
      form(
        [
          { name: 'name', label: t('settings.name'), value: ws.name, required: true },
          { name: 'timezone', label: t('settings.timezone'), value: ws.timezone, required: true },
          { name: 'closing_note_mode', label: t('settings.closing_mode'), value: ws.closing_note_mode, options: modes.map((m) => [m, t(`closing.${m}`)]) },
          { name: 'auto_close_minutes', label: t('settings.auto_close'), type: 'number', value: ws.auto_close_minutes ?? '', hint: t('settings.auto_close_hint') },
          { name: 'agent_access', label: t('settings.agent_access'), value: ws.agent_access, options: access.map((a) => [a, t(`access.${a}`)]) },
        ],
        t('settings.save'),
        async (v) => {
          await patch('/workspace', { ...v, auto_close_minutes: v.auto_close_minutes ? Number(v.auto_close_minutes) : null });
          this.refresh();
        },
      ),
    );
  }

  async users() {
    const users = (await getAll('/users')).items;
    const roles = ['agent', 'manager', 'owner'];
    this.put(
      t('settings.users'),
      list(
        users,
        (u) => [
          h('strong', {}, u.name),
          ' ',
          h('span', { class: 'muted' }, u.email),
          ' ',
          h(
            'select',
            { 'aria-label': t('settings.role'), onchange: async (e) => { await patch(`/users/${u.id}`, { role: e.target.value }).catch((err) => alert(err.message)); this.refresh(); } },
            roles.map((r) => h('option', { value: r, selected: r === u.role }, t(`role.${r}`))),
          ),
        ],
        async (u) => {
          if (!ask(t('settings.confirm_remove', { name: u.name }))) return;
          await del(`/users/${u.id}`).catch((err) => alert(err.message));
          this.refresh();
        },
      ),
      h('h3', {}, t('settings.add_user')),
      form(
        [
          { name: 'name', label: t('settings.name'), required: true },
          { name: 'email', label: t('auth.email'), type: 'email', required: true },
          { name: 'password', label: t('auth.password'), type: 'password', required: true },
          { name: 'role', label: t('settings.role'), options: roles.map((r) => [r, t(`role.${r}`)]) },
        ],
        t('settings.add'),
        async (v) => {
          await post('/users', v);
          await this.onDirectoryChanged();
          this.refresh();
        },
      ),
    );
  }

  async teams() {
    const [teams, users] = await Promise.all([getAll('/teams'), getAll('/users')]);
    const assign = ['off', 'round_robin', 'least_open'];
    this.put(
      t('settings.teams'),
      list(
        teams.items,
        (team) => [
          h('strong', {}, team.name),
          h(
            'div',
            { class: 'members' },
            users.items.map((u) =>
              h(
                'label',
                { class: 'member' },
                h('input', {
                  type: 'checkbox',
                  checked: team.member_ids.includes(u.id),
                  onchange: (e) => (e.target.checked ? put(`/teams/${team.id}/members/${u.id}`) : del(`/teams/${team.id}/members/${u.id}`)).catch((err) => alert(err.message)),
                }),
                ` ${u.name}`,
              ),
            ),
          ),
          h(
            'select',
            { 'aria-label': t('settings.auto_assign'), onchange: (e) => patch(`/teams/${team.id}`, { auto_assign: e.target.value }).catch((err) => alert(err.message)) },
            assign.map((a) => h('option', { value: a, selected: a === team.auto_assign }, t(`auto.${a}`))),
          ),
        ],
        async (team) => {
          if (!ask(t('settings.confirm_remove', { name: team.name }))) return;
          await del(`/teams/${team.id}`);
          await this.onDirectoryChanged();
          this.refresh();
        },
      ),
      h('h3', {}, t('settings.add_team')),
      form([{ name: 'name', label: t('settings.name'), required: true }], t('settings.add'), async (v) => {
        await post('/teams', v);
        await this.onDirectoryChanged();
        this.refresh();
      }),
    );
  }

  async channels() {
    const [channels, plugins] = await Promise.all([getAll('/channels'), get('/plugins').catch(() => [])]);
    const channelPlugins = plugins.filter((p) => p.world === 'channel' && p.status === 'ready');
    const picker = h('select', { class: 'channel-plugin', 'aria-label': t('settings.plugin') }, h('option', { value: '' }, t('settings.pick_plugin')), channelPlugins.map((p) => h('option', { value: p.id }, p.name)));
    const formSlot = h('div');
    picker.addEventListener('change', () => {
      const plugin = channelPlugins.find((p) => p.id === picker.value);
      if (!plugin) return fill(formSlot);
      const config = (plugin.config || []).map((c) => ({ name: `config.${c.name}`, label: c.name, hint: c.description, required: c.required }));
      const secrets = (plugin.secrets || []).map((c) => ({ name: `secret.${c.name}`, label: c.name, hint: c.description, required: c.required, type: 'password' }));
      fill(
        formSlot,
        form([{ name: 'name', label: t('settings.name'), required: true, value: plugin.name }, ...config, ...secrets], t('settings.connect'), async (v) => {
          const body = { name: v.name, plugin_id: plugin.id, config: {}, secrets: {} };
          for (const [k, value] of Object.entries(v)) {
            if (!value) continue;
            if (k.startsWith('config.')) body.config[k.slice(7)] = value;
            if (k.startsWith('secret.')) body.secrets[k.slice(7)] = value;
          }
          await post('/channels', body);
          await this.onDirectoryChanged();
          this.refresh();
        }, { class: 'channel-form' }),
      );
    });
    this.put(
      t('settings.channels'),
      list(
        channels.items,
        (c) => [
          h('strong', {}, c.name),
          ' ',
          h('span', { class: 'muted' }, c.plugin_id),
          c.enabled ? null : h('span', { class: 'badge' }, t('settings.disabled')),
          h('div', { class: 'webhook' }, t('settings.webhook'), ' ', h('code', { dir: 'ltr' }, c.webhook_url || '')),
          c.plugin_id === 'webchat'
            ? h('div', { class: 'webhook' }, t('settings.widget_snippet'), ' ', h('code', { dir: 'ltr' }, `<script src="${location.origin}/widget.js" data-channel="${c.id}" async></script>`))
            : null,
          h(
            'button',
            {
              class: 'link test-connection',
              onclick: async (e) => {
                const button = e.target;
                try {
                  await post(`/channels/${c.id}/connect`);
                  button.textContent = t('settings.connection_ok');
                } catch (err) {
                  button.textContent = `${t('settings.connection_failed')}: ${err.message}`;
                }
              },
            },
            t('settings.test_connection'),
          ),
          ' ',
          h('button', { class: 'link', onclick: async () => { await patch(`/channels/${c.id}`, { enabled: !c.enabled }).catch((err) => alert(err.message)); this.refresh(); } }, c.enabled ? t('settings.disable') : t('settings.enable')),
          ' ',
          h('button', { class: 'link edit-channel', onclick: (e) => this.editChannel(c, channelPlugins.find((p) => p.id === c.plugin_id), e.target) }, t('settings.edit')),
        ],
        async (c) => {
          if (!ask(t('settings.confirm_remove', { name: c.name }))) return;
          await del(`/channels/${c.id}`);
          await this.onDirectoryChanged();
          this.refresh();
        },
      ),
      h('h3', {}, t('settings.add_channel')),
      picker,
      formSlot,
    );
  }

  /** The channel's settings as its plugin declares them; secrets left empty keep their stored value. */
  editChannel(c, plugin, button) {
    const item = button.closest('.settings-item');
    const open = item.querySelector('.channel-edit');
    if (open) return open.remove();
    const config = ((plugin && plugin.config) || []).map((x) => ({ name: `config.${x.name}`, label: x.name, hint: x.description, required: x.required, value: (c.config || {})[x.name] ?? '' }));
    const secrets = ((plugin && plugin.secrets) || []).map((x) => ({ name: `secret.${x.name}`, label: x.name, hint: `${x.description} ${t('settings.secret_kept')}`, type: 'password' }));
    const edit = form([{ name: 'name', label: t('settings.name'), required: true, value: c.name }, ...config, ...secrets], t('settings.save'), async (v) => {
      const body = { name: v.name, config: { ...(c.config || {}) }, secrets: {} };
      for (const [k, value] of Object.entries(v)) {
        if (k.startsWith('config.')) {
          if (value) body.config[k.slice(7)] = value;
          else delete body.config[k.slice(7)];
        }
        if (k.startsWith('secret.') && value) body.secrets[k.slice(7)] = value;
      }
      await patch(`/channels/${c.id}`, body);
      await this.onDirectoryChanged();
      this.refresh();
    }, { class: 'channel-edit' });
    item.append(edit);
  }

  async templates() {
    const [templates, channels] = await Promise.all([getAll('/templates'), getAll('/channels')]);
    const names = new Map(channels.items.map((c) => [c.id, c.name]));
    this.put(
      t('settings.templates'),
      h(
        'div',
        { class: 'sync' },
        channels.items
          .filter((c) => c.plugin_id.startsWith('whatsapp'))
          .map((c) =>
            h('button', { class: 'sync-templates', onclick: async () => { await post(`/channels/${c.id}/templates/sync`).catch((err) => alert(err.message)); this.refresh(); } }, t('settings.sync', { name: c.name })),
          ),
      ),
      list(templates.items, (x) => [h('strong', {}, x.name), ` (${x.language}) `, h('span', { class: 'badge' }, valueLabel('template.status', x.status)), ' ', h('span', { class: 'muted' }, x.channel_id ? names.get(x.channel_id) || '' : t('settings.any_channel'))], async (x) => {
        if (!ask(t('settings.confirm_remove', { name: x.name }))) return;
        await del(`/templates/${x.id}`);
        this.refresh();
      }),
    );
  }

  /** A list of named things with add and remove (tags, closing categories). */
  async named(path, title) {
    const items = (await getAll(path)).items;
    this.put(
      title,
      list(items, (x) => x.name, async (x) => {
        if (!ask(t('settings.confirm_remove', { name: x.name }))) return;
        await del(`${path}/${x.id}`);
        this.refresh();
      }),
      form([{ name: 'name', label: t('settings.name'), required: true }], t('settings.add'), async (v) => {
        await post(path, v);
        this.refresh();
      }, { class: `add-${path.slice(1)}` }),
    );
  }

  tags() {
    return this.named('/tags', t('settings.tags'));
  }

  closing() {
    return this.named('/closing-categories', t('settings.closing'));
  }

  async fields() {
    const items = (await getAll('/contact-fields')).items;
    const types = ['text', 'number', 'date', 'time', 'list', 'checkbox', 'url'];
    this.put(
      t('settings.fields'),
      list(items, (f) => [h('strong', {}, f.label), ` · ${f.key} · ${f.field_type}`, f.options.length ? ` (${f.options.join(', ')})` : ''], async (f) => {
        if (!ask(t('settings.confirm_remove', { name: f.label }))) return;
        await del(`/contact-fields/${f.id}`);
        this.refresh();
      }),
      form(
        [
          { name: 'label', label: t('settings.label'), required: true },
          { name: 'key', label: t('settings.key'), required: true, placeholder: 'plan' },
          { name: 'field_type', label: t('settings.type'), options: types.map((x) => [x, x]) },
          { name: 'options', label: t('settings.options'), hint: t('settings.options_hint') },
        ],
        t('settings.add'),
        async (v) => {
          const options = v.options ? v.options.split(',').map((o) => o.trim()).filter(Boolean) : [];
          await post('/contact-fields', { label: v.label, key: v.key, field_type: v.field_type, options });
          this.refresh();
        },
      ),
    );
  }

  async snippets() {
    const items = (await getAll('/snippets')).items;
    this.put(
      t('settings.snippets'),
      list(items, (s) => [h('strong', {}, `/${s.shortcut}`), ' ', h('span', { class: 'muted', dir: 'auto' }, s.body)], async (s) => {
        await del(`/snippets/${s.id}`);
        this.refresh();
      }),
      form(
        [
          { name: 'shortcut', label: t('settings.shortcut'), required: true },
          { name: 'body', label: t('settings.text'), type: 'textarea', required: true, hint: t('settings.snippet_hint') },
        ],
        t('settings.add'),
        async (v) => {
          await post('/snippets', v);
          this.refresh();
        },
      ),
    );
  }

  async tokens() {
    const items = (await getAll('/tokens')).items;
    const shown = h('div', { class: 'token-shown' });
    this.put(
      t('settings.tokens'),
      list(items, (x) => [h('strong', {}, x.name), ' ', h('code', {}, `${x.prefix}…`), ' ', h('span', { class: 'muted' }, x.last_used_at ? t('settings.last_used', { at: new Date(x.last_used_at).toLocaleString() }) : t('settings.never_used'))], async (x) => {
        if (!ask(t('settings.confirm_remove', { name: x.name }))) return;
        await del(`/tokens/${x.id}`);
        this.refresh();
      }),
      form([{ name: 'name', label: t('settings.name'), required: true }], t('settings.create_token'), async (v) => {
        const created = await post('/tokens', v);
        await this.refresh();
        this.body.append(h('p', { class: 'token-once' }, t('settings.token_once'), ' ', h('code', { class: 'token-secret', dir: 'ltr' }, created.token)));
      }),
      shown,
    );
  }

  async workflows() {
    await showWorkflows(this.body, { directory: this.directory, put: (title, ...children) => this.put(title, ...children) });
  }

  async plugins() {
    const items = await get('/plugins');
    const owner = this.me.user.role === 'owner';
    this.put(
      t('settings.plugins'),
      owner ? h('button', { onclick: async () => { await post('/plugins/reload').catch((err) => alert(err.message)); this.refresh(); } }, t('settings.reload_all')) : null,
      list(items, (p) => [
        h('strong', {}, p.name),
        ` ${p.version} · ${p.world ? valueLabel('plugin.world', p.world) : '?'} · ${valueLabel('plugin.source', p.source)} `,
        h('span', { class: `badge plugin-${p.status}` }, valueLabel('plugin.status', p.status)),
        p.error ? h('div', { class: 'form-error' }, p.error) : null,
        owner ? [' ', h('button', { class: 'link', onclick: async () => { await post(`/plugins/${p.id}/reload`).catch((err) => alert(err.message)); this.refresh(); } }, t('settings.reload'))] : null,
        owner && (p.status !== 'disabled' || p.switched_off)
          ? [
              ' ',
              h(
                'button',
                {
                  class: `link ${p.switched_off ? 'enable-plugin' : 'disable-plugin danger'}`,
                  dataset: { plugin: p.id },
                  onclick: async () => {
                    if (!p.switched_off && !ask(t('settings.confirm_disable', { name: p.name }))) return;
                    await post(`/plugins/${p.id}/${p.switched_off ? 'enable' : 'disable'}`).catch((err) => alert(err.message));
                    this.refresh();
                  },
                },
                p.switched_off ? t('settings.enable') : t('settings.disable'),
              ),
            ]
          : null,
        p.status === 'disabled' && !p.switched_off ? h('span', { class: 'muted' }, ` ${t('settings.disabled_by_config')}`) : null,
      ]),
      h('p', { class: 'muted' }, t('settings.plugins_hint')),
    );
  }
}
