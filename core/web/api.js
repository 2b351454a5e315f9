// Every call to the server: /api/v1 with the official's token. A 401 anywhere ends the session
// with a clear message (the token was revoked) instead of a blank page.
let token = '';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.status = status;
    this.code = code || '';
  }
}

export function setToken(t) { token = t || ''; }
export function hasToken() { return token !== ''; }
export function whenUnauthorized(fn) { onUnauthorized = fn; }

async function request(method, path, body, { raw = false, contentType = 'application/json', quiet401 = false } = {}) {
  const headers = { Authorization: 'Bearer ' + token };
  let payload;
  if (body !== undefined && body !== null) {
    headers['Content-Type'] = contentType;
    payload = contentType === 'application/json' ? JSON.stringify(body) : body;
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', e && e.message ? e.message : String(e));
  }
  if (raw && res.ok) return res;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code, err.message || text.slice(0, 200));
    if (data) e.data = data;
    if (res.status === 401 && !quiet401) onUnauthorized(e);
    throw e;
  }
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
  raw: request,
};

// A CSV (or any file) behind the token: fetched, then saved through a local blob: URL.
export async function download(path, filename) {
  const res = await request('GET', path, undefined, { raw: true });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}
