// "New conversation": pick a contact (search) or add one, pick a channel, send the first message — a
// template with its variables, since a contact who has not written has no open messaging window.

import { get, getAll, post, query } from './api.js';
import { h, fill, modal } from './dom.js';
import { t } from './i18n.js';
import { templateInputs } from './templates.js';

/** Opens the dialog; `onStarted(conversationId)` runs once the conversation exists. */
export async function newConversation(directory, onStarted) {
  const templates = (await getAll('/templates').catch(() => ({ items: [] }))).items;
  let picked = null; // an existing contact

  const search = h('input', { type: 'search', class: 'contact-search', placeholder: t('new.search'), 'aria-label': t('new.search') });
  const matches = h('div', { class: 'contact-matches', role: 'listbox' });
  const chosen = h('p', { class: 'contact-chosen' });
  const field = (name, label, type = 'text') =>
    h('label', { class: 'field' }, h('span', {}, label), h('input', { name, type, class: `new-${name}` }));
  const fresh = h(
    'fieldset',
    { class: 'new-contact' },
    h('legend', {}, t('new.add_contact')),
    field('first_name', t('contact.first_name')),
    field('last_name', t('contact.last_name')),
    field('phone', t('contact.phone'), 'tel'),
    field('email', t('contact.email'), 'email'),
  );
  const channels = [...directory.channels.values()].filter((c) => c.enabled !== false && c.plugin_id !== 'webchat');
  const channel = h(
    'select',
    { name: 'channel', class: 'new-channel', required: true, 'aria-label': t('new.channel'), onchange: () => listTemplates() },
    channels.map((c) => h('option', { value: c.id }, c.name)),
  );
  const template = h('select', { name: 'template', class: 'new-template', required: true, 'aria-label': t('template.pick'), onchange: () => renderParams() });
  const inputs = h('div', { class: 'template-inputs' });
  let filled = null; // the chosen template's inputs

  function listTemplates() {
    const id = Number(channel.value);
    const usable = templates.filter((x) => x.channel_id === id && x.status === 'approved');
    fill(template, h('option', { value: '' }, t('template.pick')), usable.map((x) => h('option', { value: x.id }, `${x.name} (${x.language})`)));
    renderParams();
  }

  function renderParams() {
    filled = templateInputs(inputs, templates.find((x) => x.id === Number(template.value)));
  }

  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = search.value.trim();
      if (!q) return fill(matches);
      const found = await get(`/contacts${query({ q, limit: 8 })}`).catch(() => ({ items: [] }));
      fill(
        matches,
        found.items.map((c) =>
          h(
            'button',
            {
              type: 'button',
              class: 'result contact-match',
              onclick: () => {
                picked = c;
                chosen.textContent = t('new.to', { name: [c.first_name, c.last_name].filter(Boolean).join(' ') || c.phone || c.email });
                fresh.disabled = true;
                fill(matches);
              },
            },
            [c.first_name, c.last_name].filter(Boolean).join(' ') || c.email || c.phone,
            c.phone ? h('span', { class: 'muted', dir: 'ltr' }, ` ${c.phone}`) : null,
          ),
        ),
      );
    }, 200);
  });

  modal({
    class: 'new-conversation',
    title: t('new.title'),
    body: [
      search,
      matches,
      chosen,
      fresh,
      h('label', { class: 'field' }, h('span', {}, t('new.channel')), channel),
      h('label', { class: 'field' }, h('span', {}, t('template.pick')), template),
      inputs,
    ],
    cancel: t('action.cancel'),
    action: t('template.send'),
    actionClass: 'start',
    submit: async (form) => {
      const v = Object.fromEntries(new FormData(form));
      const contact = picked
        ? { contact_id: picked.id }
        : { contact: Object.fromEntries(['first_name', 'last_name', 'phone', 'email'].filter((k) => v[k]).map((k) => [k, v[k]])) };
      const content = filled && filled.content();
      if (!content) throw new Error(t('template.pick'));
      const started = await post('/conversations/start', { ...contact, channel_id: Number(channel.value), content });
      onStarted(started.conversation.id);
    },
  });
  listTemplates();
  search.focus();
}
