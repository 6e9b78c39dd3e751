// Start-up: first-run setup, login, or the inbox, depending on what the server says.

import { get } from './api.js';
import { h, fill } from './dom.js';
import { t, initLanguage, adoptLanguage } from './i18n.js';
import { showLogin, showSetup } from './auth.js';
import { Inbox } from './inbox.js';

let inbox = null;

export async function boot() {
  initLanguage();
  const root = document.getElementById('root');
  if (inbox) {
    inbox.stop();
    inbox = null;
  }
  try {
    const setup = await get('/setup');
    if (setup.needed) {
      showSetup(root, boot);
    } else {
      let me = null;
      try {
        me = await get('/auth/me');
      } catch (e) {
        if (e.status !== 401) throw e;
      }
      if (me) {
        adoptLanguage(me.user.language);
        inbox = new Inbox(root, me, boot);
        await inbox.start();
      } else {
        showLogin(root, boot);
      }
    }
  } catch (e) {
    fill(root, h('p', { class: 'form-error', role: 'alert' }, t('error.load', { message: e.message })));
  }
  root.removeAttribute('aria-busy');
}

// Installable, and able to open without a network (sw.js); the app works without it too.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

// The language switch rebuilds the page in the new language.
window.addEventListener('sb-language', () => boot());
boot();
