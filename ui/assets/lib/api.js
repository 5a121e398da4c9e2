// The API client of the console: the token kept in this tab's session
// storage, sent as "Authorization: Bearer"; problems (RFC 9457) as ApiError.

const KEY = 'tinman.token';

// The API is served beside the console: /ui/ -> /v1/..., also behind a
// proxy that mounts both under a prefix.
const base = new URL('../', document.baseURI);

// url is the address of an API path such as "v1/jobs", with query values
// (empty ones left out).
export function url(path, query) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== '' && v !== null && v !== undefined) u.searchParams.set(k, v);
  }
  return u;
}

// session holds the token of this tab. sessionStorage ends with the tab and
// is not shared with other tabs or sites.
export const session = {
  token: () => sessionStorage.getItem(KEY),
  set: (token) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

// takeTokenFromFragment moves a token given as /ui/#token=... into the
// session and takes it off the address (and the history), so that it is
// neither shown nor bookmarked. A fragment never reaches a server. It
// reports whether there was one.
export function takeTokenFromFragment() {
  const m = /^#token=([^&]+)(?:&(.*))?$/.exec(location.hash);
  if (!m) return false;
  session.set(decodeURIComponent(m[1]));
  const rest = m[2] && m[2].startsWith('/') ? m[2] : '/';
  history.replaceState(null, '', location.pathname + location.search + '#' + rest);
  return true;
}

// authorization is the header that carries the token.
export const authorization = () => ({Authorization: 'Bearer ' + session.token()});

// ApiError is an answer other than 2xx: status, and the problem when there is one.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the API answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// unauthorized is announced when the API refuses the token (401): the app
// signs out.
export function announceUnauthorized() {
  window.dispatchEvent(new CustomEvent('tinman:unauthorized'));
}

// api calls the API: GET by default; a body is sent as JSON. It returns the
// decoded answer, or throws an ApiError.
export async function api(path, {method = 'GET', query, body, signal} = {}) {
  const headers = {...authorization(), Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url(path, query), {
    method, headers, signal, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    if (res.status === 401) announceUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data;
}

// found is api, with a 404 answered as null.
export async function found(path, options) {
  try {
    return await api(path, options);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}
