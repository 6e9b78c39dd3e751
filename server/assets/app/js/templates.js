// Message templates as the composer and the new-conversation dialog show them: the body text and its
// `{{n}}` variables filled in.

/** The text of a template's BODY component ('' when it has none). */
export function bodyOf(tpl) {
  const body = (tpl.components || []).find((c) => (c.type || '').toLowerCase() === 'body');
  return body ? body.text || '' : '';
}

/** The body with `{{n}}` replaced by the n-th parameter (left as it is while not given). */
export function fillTemplate(body, parameters) {
  return body.replace(/\{\{(\d+)\}\}/g, (m, n) => (parameters && parameters[n - 1] !== undefined ? parameters[n - 1] : m));
}
