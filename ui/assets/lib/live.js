// Live updates: the API's event stream (GET /v1/events, Server-Sent
// Events) read with fetch, so that the token travels in a header and never
// in a URL. EventSource cannot send headers.

import {url, authorization, announceUnauthorized} from './api.js';

// status is the state of the page's stream, shown in the header.
const listeners = new Set();
let current = 'off';
export function onStatus(fn) { listeners.add(fn); fn(current); return () => listeners.delete(fn); }
function setStatus(s, detail) { current = s; for (const fn of listeners) fn(s, detail); }

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
});

// follow streams the events that match query ({server, job, type, since})
// and calls onEvent(cloudEvent) for each, once per event id; after a break it
// resumes after the last event it got (Last-Event-ID). It returns stop.
export function follow(query, onEvent) {
  const ctl = new AbortController();
  const seen = new Set();
  let last = null;
  const deliver = (frame) => {
    if (frame.id) last = frame.id;
    if (frame.event === 'error' || !frame.data) return;
    let ev;
    try { ev = JSON.parse(frame.data); } catch { return; }
    if (seen.has(ev.id)) return;
    seen.add(ev.id);
    onEvent(ev);
  };
  run(query, ctl.signal, () => last, deliver);
  return () => { ctl.abort(); setStatus('off'); };
}

// run keeps one stream open until signal aborts, waiting longer after each
// failure (1 s doubling to 15 s, or the Retry-After of a 429).
async function run(query, signal, lastID, deliver) {
  let delay = 1000;
  while (!signal.aborted) {
    setStatus('connecting');
    try {
      const headers = {...authorization(), Accept: 'text/event-stream'};
      if (lastID()) headers['Last-Event-ID'] = lastID();
      const res = await fetch(url('v1/events', query), {headers, signal, cache: 'no-store', credentials: 'omit'});
      if (res.status === 401) { announceUnauthorized(); return; }
      if (res.ok) {
        await read(res.body, deliver, () => setStatus('live'));
        delay = 1000;
      } else if (res.status === 429) {
        delay = 1000 * (Number(res.headers.get('Retry-After')) || 5);
        setStatus('waiting', 'too many event streams are open with this token');
      } else if (res.status < 500) {
        const p = await res.json().catch(() => null);
        setStatus('failed', p?.detail || `the API answered ${res.status}`);
        return;
      }
    } catch {
      if (signal.aborted) return;
    }
    if (!signal.aborted) setStatus('connecting');
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 15000);
  }
}

// read parses the Server-Sent Events of body until it ends: one frame per
// blank line, its "id", "event" and "data" fields; comments start with ":"
// (the API's first, "stream open", says that no new event will be missed).
async function read(body, deliver, opened) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const frame = parseFrame(buf.slice(0, end));
      buf = buf.slice(end + 2);
      if (frame.comment === 'stream open') opened();
      deliver(frame);
    }
  }
}

// parseFrame reads the fields of one frame.
export function parseFrame(text) {
  const frame = {id: '', event: '', data: '', comment: ''};
  const data = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) { frame.comment = line.slice(1).trim(); continue; }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'id' || field === 'event') frame[field] = value;
  }
  frame.data = data.join('\n');
  return frame;
}

// refresher runs load now and again whenever poke is called, never two at
// once and at most once per wait: a burst of events makes one reload, and
// the last event of a burst is never missed.
export function refresher(load, wait) {
  let running = false, again = false, timer = null, stopped = false;
  const go = async () => {
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    running = true;
    try { await load(); } catch (e) { console.error('reload failed:', e); }
    running = false;
    if (again && !stopped) { again = false; timer = setTimeout(go, wait); }
  };
  return {
    now: go,
    poke: () => { if (!timer && !stopped) timer = setTimeout(go, wait); },
    stop: () => { stopped = true; clearTimeout(timer); },
  };
}

// Event helpers: the short type (job.succeeded), and whether a job event ends its job.
export const shortType = (ev) => String(ev.type || '').replace(/^tinman\./, '');
export const ends = (ev) => /^tinman\.job\.(succeeded|failed|canceled)$/.test(ev.type) || ev.type === 'tinman.request.rejected';
