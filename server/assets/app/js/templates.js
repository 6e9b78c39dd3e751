// Message templates as the composer and the new-conversation dialog use them: the inputs a template asks
// for (body `{{n}}` variables, a media or text header, button variables), a live preview, and the message
// content the API takes.

import { h, fill } from './dom.js';
import { t } from './i18n.js';

function component(tpl, kind) {
  return (tpl.components || []).find((c) => (c.type || '').toUpperCase() === kind);
}

/** The number of distinct `{{n}}` variables in a text. */
function variables(text) {
  return new Set([...(text || '').matchAll(/\{\{\s*(\d+)\s*\}\}/g)].map((m) => m[1])).size;
}

/** The text of a template's BODY component ('' when it has none). */
export function bodyOf(tpl) {
  const body = component(tpl, 'BODY');
  return body ? body.text || '' : '';
}

/** The body with `{{n}}` replaced by the n-th parameter (left as it is while not given). */
export function fillTemplate(body, parameters) {
  return body.replace(/\{\{(\d+)\}\}/g, (m, n) => (parameters && parameters[n - 1] ? parameters[n - 1] : m));
}

/** Fills `el` with the inputs `tpl` needs and a preview; returns `content()` building the message. */
export function templateInputs(el, tpl) {
  if (!tpl) {
    fill(el);
    return { content: () => null };
  }
  const body = bodyOf(tpl);
  const header = component(tpl, 'HEADER');
  const format = header ? (header.format || 'TEXT').toUpperCase() : null;
  const buttons = (component(tpl, 'BUTTONS') || {}).buttons || [];
  const preview = h('div', { class: 'template-preview', dir: 'auto' });
  const update = () => render();
  const input = (cls, label, extra = {}) => h('input', { class: cls, required: true, 'aria-label': label, placeholder: label, oninput: update, ...extra });

  const bodyInputs = Array.from({ length: variables(body) }, (_, i) => input('template-param', t('template.variable', { n: i + 1 })));
  let headerInput = null;
  if (format === 'IMAGE' || format === 'VIDEO' || format === 'DOCUMENT') {
    headerInput = input('template-header', t('template.header_url', { kind: format.toLowerCase() }), { type: 'url', dir: 'ltr' });
  } else if (format === 'TEXT' && variables(header.text) > 0) {
    headerInput = input('template-header', t('template.header_text'));
  }
  const buttonInputs = buttons
    .map((b, index) => ({ b, index }))
    .filter(({ b }) => (b.type || '').toUpperCase() === 'COPY_CODE' || ((b.type || '').toUpperCase() === 'URL' && variables(b.url) > 0))
    .map(({ b, index }) => ({ index, el: input('template-button', t('template.button', { name: b.text || index + 1 })) }));

  function render() {
    const parameters = bodyInputs.map((i) => i.value);
    fill(
      preview,
      format === 'TEXT' ? h('strong', {}, fillTemplate(header.text || '', headerInput ? [headerInput.value] : [])) : null,
      format && format !== 'TEXT' ? h('p', { class: 'muted' }, `[${format.toLowerCase()}${headerInput && headerInput.value ? `: ${headerInput.value}` : ''}]`) : null,
      h('p', {}, fillTemplate(body, parameters)),
      buttons.length ? h('div', { class: 'buttons' }, buttons.map((b) => h('span', { class: 'chip' }, b.text || ''))) : null,
    );
  }
  fill(el, h('div', { class: 'template-params' }, headerInput, bodyInputs, buttonInputs.map((b) => b.el)), preview);
  render();
  return {
    content() {
      const content = { type: 'template', template_id: tpl.id, parameters: bodyInputs.map((i) => i.value) };
      if (headerInput) {
        content.header = format === 'TEXT' ? { type: 'text', text: headerInput.value } : { type: format.toLowerCase(), url: headerInput.value };
      }
      if (buttonInputs.length) content.buttons = buttonInputs.map((b) => ({ index: b.index, parameter: b.el.value }));
      return content;
    },
  };
}
