// The controller's API as the dashboard calls it: every call carries the token the user signed
// in with (kept in sessionStorage: this tab only, gone when it closes). Tokens never go in URLs.
const kTokenKey = 'autovibe.token';

export const session = {
  token: () => sessionStorage.getItem(kTokenKey) || '',
  signIn: (t) => sessionStorage.setItem(kTokenKey, t),
  signOut: () => sessionStorage.removeItem(kTokenKey),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function authHeaders(token = session.token()) {
  return { Authorization: `Bearer ${token}` };
}

// The error an answer carries ({"error":{"code","message"}}), as an ApiError.
export async function answerError(r) {
  const text = await r.text().catch(() => '');
  let code = `http_${r.status}`;
  let message = text || r.statusText;
  try {
    const e = JSON.parse(text).error;
    if (e) ({ code, message } = e);
  } catch (_) { /* not JSON */ }
  return new ApiError(r.status, code, message);
}

// `method path` with an optional JSON body: the answer's JSON (or text), or an ApiError.
export async function call(method, path, body, token) {
  const headers = authHeaders(token);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `the controller did not answer (${e.message})`);
  }
  if (!r.ok) throw await answerError(r);
  const text = await r.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch (_) {
    return text;
  }
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);
export const enc = encodeURIComponent;
