// Small DOM helpers: an element builder, clearing, times and text direction. No framework.

/** Builds an element: h('button', {class: 'x', onclick: f}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** `rtl` when the text's first strong character is Arabic or Hebrew, else `ltr`: each bubble reads its own way. */
export function dirOf(text) {
  const m = /[\p{L}]/u.exec(text || '');
  if (!m) return 'auto';
  return /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/u.test(m[0]) ? 'rtl' : 'ltr';
}

export function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** A short time for list rows: the time today, else the date. */
export function shortTime(iso, lang) {
  const d = new Date(iso);
  const now = new Date();
  return sameDay(d, now)
    ? d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString(lang, { day: 'numeric', month: 'short' });
}

export function dayLabel(d, lang) {
  return d.toLocaleDateString(lang, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

export function clock(d, lang) {
  return d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
}

/** A link or media address from content: web and same-server addresses only (never `javascript:` and the like). */
export function safeUrl(url) {
  return /^(https?:\/\/|\/(?!\/))/i.test(url || '') ? url : '#';
}

/** A modal form: `submit(form)` saves and the dialog closes; an error it throws shows in the dialog. Cancel
 *  closes without saving. Returns the dialog (already open). */
export function modal({ class: cls, title, body, cancel, action, actionClass, submit }) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const dialog = h(
    'dialog',
    { class: cls },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (e) => {
          if (e.submitter && e.submitter.value === 'cancel') return;
          e.preventDefault();
          error.textContent = '';
          try {
            await submit(e.target);
            dialog.close();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      h('h3', {}, title),
      body,
      error,
      h(
        'div',
        { class: 'composer-actions' },
        h('button', { value: 'cancel', formnovalidate: true }, cancel),
        h('button', { type: 'submit', class: `primary ${actionClass}` }, action),
      ),
    ),
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
