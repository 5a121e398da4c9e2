// DOM helpers. Text is always set as text, never parsed as HTML: names,
// labels and messages come from the fleet and from BMCs, and are not trusted.

// h builds an element: h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child).
// Attributes that are null, undefined or false are left out; children that
// are strings or numbers become text nodes; arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  put(el, children);
  return el;
}

// put appends children to el (see h).
export function put(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// fill replaces el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  return put(el, children);
}

// link is an anchor to a route of the console.
export function link(route, text) {
  return h('a', {href: '#' + route}, text);
}

// serverLink and jobLink name what they link to.
export const serverLink = (id) => id && id !== '_' ? link('/servers/' + encodeURIComponent(id), id) : '';
export const jobLink = (id) => id ? link('/jobs/' + encodeURIComponent(id), id) : '';

// badge shows a state (of a server, a job, power or a batch) in its colour.
export function badge(state, kind = 'state') {
  const s = String(state || 'unknown');
  return h('span', {class: `badge ${kind}-${s.replace(/[^a-z_-]/g, '')}`}, s);
}

// ago says how long ago an RFC 3339 time was, with the time itself as a title.
export function ago(iso) {
  if (!iso || iso.startsWith('0001-')) return '';
  const t = new Date(iso);
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  let text;
  if (s < 5) text = 'just now';
  else if (s < 90) text = `${s}s ago`;
  else if (s < 5400) text = `${Math.round(s / 60)}m ago`;
  else if (s < 129600) text = `${Math.round(s / 3600)}h ago`;
  else text = `${Math.round(s / 86400)}d ago`;
  return h('time', {datetime: iso, title: t.toLocaleString()}, text);
}

// clock is an RFC 3339 time as hours, minutes, seconds and milliseconds.
export function clock(iso) {
  const t = new Date(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
}

// bytes is a size in bytes, in binary units.
export function bytes(n) {
  if (!n) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

// count writes a number with thousands separators.
export const count = (n) => Number(n || 0).toLocaleString('en');

// table builds a table from column heads and rows of cells; empty says
// what an empty table means.
export function table(heads, rows, empty = 'Nothing here.') {
  if (rows.length === 0) return h('p', {class: 'empty'}, empty);
  return h('table', {class: 'grid'},
    h('thead', null, h('tr', null, heads.map((c) => h('th', null, c)))),
    h('tbody', null, rows));
}

// pairs is a definition list of [term, value] pairs; empty values are left out.
export function pairs(items) {
  return h('dl', {class: 'pairs'}, items.filter(([, v]) => v !== '' && v !== null && v !== undefined)
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// labels shows a server's labels as chips; onPick, when given, makes each a button.
export function labels(map, onPick) {
  return Object.keys(map || {}).sort().map((k) => {
    const text = `${k}=${map[k]}`;
    return onPick
      ? h('button', {type: 'button', class: 'chip', title: 'Filter by ' + text, onclick: () => onPick(text)}, text)
      : h('span', {class: 'chip'}, text);
  });
}

// debounce calls fn at most once per wait, after the last call.
export function debounce(fn, wait) {
  let timer = null;
  const d = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };
  d.cancel = () => clearTimeout(timer);
  return d;
}

// throttle calls fn on the first call, then at most once per wait, with
// the latest arguments, so that a burst ends with a call.
export function throttle(fn, wait) {
  let timer = null, pending = null;
  const fire = () => {
    timer = null;
    if (pending) { const args = pending; pending = null; fn(...args); timer = setTimeout(fire, wait); }
  };
  const t = (...args) => { pending = args; if (!timer) fire(); };
  t.cancel = () => { clearTimeout(timer); timer = null; pending = null; };
  return t;
}
