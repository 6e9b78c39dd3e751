// The contact panel beside a conversation: standard and custom fields (editable), tags, the channels the
// contact is reachable on, and their previous conversations.

import { get, getAll, post, patch, del, query } from './api.js';
import { h, fill, shortTime } from './dom.js';
import { t, lang } from './i18n.js';

const STANDARD = ['first_name', 'last_name', 'phone', 'email', 'lifecycle_stage'];

let definitions = null;

/** The panel for `contact`; `onOpen(conversationId)` opens a previous conversation, `onChanged` refreshes. */
export function contactPanel(contact, { directory, current, onOpen, onChanged }) {
  const panel = h('aside', { class: 'contact-panel', 'aria-label': t('contact.panel') });
  const render = async ({ saved = false } = {}) => {
    if (!definitions) definitions = (await getAll('/contact-fields').catch(() => ({ items: [] }))).items;
    const error = h('p', { class: 'form-error', role: 'alert' });
    const input = (key, value, type = 'text') =>
      h('input', { name: key, type, value: value ?? '', class: `contact-${key}`, dir: type === 'tel' || type === 'email' ? 'ltr' : 'auto' });
    const standard = STANDARD.map((key) =>
      h('label', { class: 'field' }, h('span', {}, t(`contact.${key}`)), input(key, contact[key], key === 'phone' ? 'tel' : key === 'email' ? 'email' : 'text')),
    );
    const custom = definitions.map((d) => {
      const value = contact.custom_fields ? contact.custom_fields[d.key] : undefined;
      const control =
        d.field_type === 'list'
          ? h('select', { name: `custom.${d.key}` }, h('option', { value: '' }, '—'), d.options.map((o) => h('option', { value: o, selected: o === value }, o)))
          : d.field_type === 'checkbox'
            ? h('input', { type: 'checkbox', name: `custom.${d.key}`, checked: value === true })
            : input(`custom.${d.key}`, value, { number: 'number', date: 'date', time: 'time', url: 'url' }[d.field_type] || 'text');
      return h('label', { class: 'field' }, h('span', {}, d.label), control);
    });
    const form = h(
      'form',
      {
        class: 'contact-fields',
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          const data = new FormData(form);
          const change = {};
          for (const key of STANDARD) {
            const v = String(data.get(key) || '').trim();
            if (v !== (contact[key] || '')) change[key] = v || null;
          }
          const fields = {};
          for (const d of definitions) {
            const el = form.elements[`custom.${d.key}`];
            const v = d.field_type === 'checkbox' ? el.checked : d.field_type === 'number' && el.value !== '' ? Number(el.value) : el.value.trim() || null;
            const before = contact.custom_fields ? contact.custom_fields[d.key] ?? null : null;
            if (v !== before && !(d.field_type === 'checkbox' && !v && before === null)) fields[d.key] = v;
          }
          if (Object.keys(fields).length) change.custom_fields = fields;
          if (!Object.keys(change).length) return;
          try {
            contact = await patch(`/contacts/${contact.id}`, change);
            onChanged();
            render({ saved: true });
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      standard,
      custom,
      error,
      h(
        'div',
        { class: 'composer-actions' },
        saved ? h('span', { class: 'saved muted', role: 'status' }, t('contact.saved')) : null,
        h('button', { type: 'submit', class: 'save-contact' }, t('contact.save')),
      ),
    );

    const owner = h(
      'select',
      {
        class: 'contact-assignee',
        'aria-label': t('contact.assignee'),
        onchange: async (e) => {
          try {
            contact = await patch(`/contacts/${contact.id}`, { assignee_id: e.target.value ? Number(e.target.value) : null });
            onChanged();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      h('option', { value: '' }, t('assign.nobody')),
      [...directory.users.values()].map((u) => h('option', { value: u.id, selected: contact.assignee_id === u.id }, u.name)),
    );
    const tagInput = h('input', { class: 'tag-input', placeholder: t('contact.add_tag'), 'aria-label': t('contact.add_tag') });
    const tags = h(
      'div',
      { class: 'tags' },
      (contact.tags || []).map((tag) =>
        h(
          'span',
          { class: 'chip tag', dataset: { tag } },
          tag,
          h(
            'button',
            {
              type: 'button',
              class: 'link remove-tag',
              'aria-label': t('contact.remove_tag', { tag }),
              onclick: async () => {
                await del(`/contacts/${contact.id}/tags/${encodeURIComponent(tag)}`);
                contact = await get(`/contacts/${contact.id}`);
                render();
              },
            },
            '×',
          ),
        ),
      ),
      h(
        'form',
        {
          class: 'add-tag',
          onsubmit: async (e) => {
            e.preventDefault();
            const tag = tagInput.value.trim();
            if (!tag) return;
            try {
              contact = await post(`/contacts/${contact.id}/tags`, { tags: [tag] });
              render();
            } catch (err) {
              error.textContent = err.message;
            }
          },
        },
        tagInput,
      ),
    );

    const reachable = (contact.identities || []).map((i) => {
      const ch = directory.channels.get(i.channel_id);
      return h('li', {}, ch ? ch.name : `#${i.channel_id}`, ' · ', h('span', { class: 'muted', dir: 'ltr' }, i.external_id));
    });

    const previous = await get(`/conversations${query({ contact_id: contact.id, status: 'all', limit: 10 })}`).catch(() => ({ items: [] }));
    const history = previous.items.map((c) =>
      h(
        'li',
        {},
        h(
          'button',
          { class: `link previous${c.id === current ? ' current' : ''}`, disabled: c.id === current, onclick: () => onOpen(c.id) },
          `#${c.id} · ${t(`status.${c.status}`)} · ${shortTime(c.opened_at, lang())}`,
        ),
      ),
    );

    fill(
      panel,
      h('h3', {}, t('contact.panel')),
      form,
      h('h4', {}, t('contact.assignee')),
      owner,
      h('h4', {}, t('contact.tags')),
      tags,
      h('h4', {}, t('contact.channels')),
      reachable.length ? h('ul', { class: 'plain' }, reachable) : h('p', { class: 'muted' }, t('contact.no_channels')),
      h('h4', {}, t('contact.conversations')),
      h('ul', { class: 'plain' }, history),
    );
  };
  render();
  return panel;
}
