// The API client: JSON in and out, the session's CSRF token on every change, errors as ApiError.

import { apiErrorText } from './i18n.js';

/** A refused call. `message` is what to show the user, in their language; `detail` is the server's own words. */
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    const code = err.code || 'http_error';
    const detail = err.message || `HTTP ${status}`;
    super(apiErrorText(code, detail, err.field));
    this.status = status;
    this.code = code;
    this.field = err.field;
    this.detail = detail;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)sb_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

/** `fetch`, with a failure to reach the server (offline, DNS, a dropped connection) as an ApiError too. */
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: `could not reach the server (${e.message}); check the connection and try again` } });
  }
}

/** Calls the API; `path` is under /api/v1. Resolves to the JSON body (null for 204). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await send(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Uploads a file (`POST /media`, multipart); resolves to `{sha256, content_type, size, url}`. */
export async function upload(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  const res = await send('/api/v1/media', { method: 'POST', headers: { 'X-CSRF-Token': csrf() }, body: form, credentials: 'same-origin' });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/** Pages read by [`getAll`] at most: 100 × 200 items. */
const MAX_PAGES = 100;

/**
 * Every item of a paged list (`{items, next_cursor}`), page after page, as `{items}`: a workspace's
 * users, teams, tags or templates can be more than one page holds.
 */
export async function getAll(path) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const got = await get(path + query({ limit: 200, cursor }).replace('?', path.includes('?') ? '&' : '?'));
    items.push(...got.items);
    cursor = got.next_cursor;
    if (!cursor) break;
  }
  return { items };
}

/** `?a=1&b=x` from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
