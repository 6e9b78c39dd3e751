// First-run setup and login pages.

import { post } from './api.js';
import { h, fill } from './dom.js';
import { t, languageSwitch } from './i18n.js';

function field(name, label, type = 'text', extra = {}) {
  return h('label', { class: 'field' }, h('span', {}, label), h('input', { name, type, required: true, ...extra }));
}

function form(title, intro, fields, submit, onSubmit) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, submit);
  const el = h(
    'form',
    {
      class: 'card auth',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        button.disabled = true;
        try {
          await onSubmit(Object.fromEntries(new FormData(el)));
        } catch (err) {
          error.textContent = err.message;
          button.disabled = false;
        }
      },
    },
    h('h1', {}, title),
    intro && h('p', { class: 'muted' }, intro),
    fields,
    error,
    button,
    languageSwitch(),
  );
  return el;
}

/** The first-run page: creates the organisation, workspace and owner, and logs the owner in. */
export function showSetup(root, done) {
  const f = form(
    t('setup.title'),
    t('setup.intro'),
    [
      field('workspace', t('setup.workspace'), 'text', { autocomplete: 'organization' }),
      field('name', t('setup.name'), 'text', { autocomplete: 'name' }),
      field('email', t('auth.email'), 'email', { autocomplete: 'email' }),
      field('password', t('auth.password'), 'password', { autocomplete: 'new-password', minlength: 8 }),
    ],
    t('setup.submit'),
    async (v) => {
      await post('/setup', { workspace: v.workspace, name: v.name || undefined, email: v.email, password: v.password });
      done();
    },
  );
  fill(root, h('div', { class: 'auth-page' }, f));
  f.querySelector('input').focus();
}

export function showLogin(root, done) {
  const f = form(
    t('login.title'),
    null,
    [
      field('email', t('auth.email'), 'email', { autocomplete: 'username' }),
      field('password', t('auth.password'), 'password', { autocomplete: 'current-password' }),
    ],
    t('login.submit'),
    async (v) => {
      await post('/auth/login', { email: v.email, password: v.password });
      done();
    },
  );
  fill(root, h('div', { class: 'auth-page' }, f));
  f.querySelector('input').focus();
}
