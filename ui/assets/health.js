// The health strip: the asynq queues, the open breakers and the outbox
// backlog, read from GET /v1/vitals every few seconds.

import {api} from './lib/api.js';
import {h, fill, count, serverLink} from './lib/dom.js';

const every = 5000;

// startHealth keeps el up to date until the returned stop is called. The
// first look waits a moment: the page's own data comes first.
export function startHealth(el) {
  let timer = null, stopped = false;
  fill(el, h('span', {class: 'vital'}, 'Health…'));
  const tick = async () => {
    try {
      draw(el, await api('v1/vitals'));
    } catch (e) {
      fill(el, h('span', {class: 'vital warn'}, 'health unavailable: ', e.message));
    }
    if (!stopped) timer = setTimeout(tick, every);
  };
  timer = setTimeout(tick, 700);
  return () => { stopped = true; clearTimeout(timer); };
}

// draw shows the queues (tasks pending, active, and later: scheduled or
// awaiting a retry, which includes workflows parked between looks; archived
// ones have given up), the open breakers and the outbox backlog.
function draw(el, v) {
  const queues = v.queues.slice().sort((a, b) => a.name.localeCompare(b.name));
  const sum = (f) => queues.reduce((n, q) => n + f(q), 0);
  const pending = sum((q) => q.pending), active = sum((q) => q.active), later = sum((q) => q.scheduled + q.retry), archived = sum((q) => q.archived);
  const title = queues.map((q) => `${q.name}: ${q.pending} pending, ${q.active} active, ${q.scheduled} scheduled, ${q.retry} retry, ${q.archived} archived`).join('\n');
  const open = v.breakers_open.slice().sort();
  fill(el,
    h('span', {class: 'vital' + (archived > 0 ? ' warn' : ''), 'data-vital': 'queues', title: title || 'no queue yet'},
      'Queues ', h('b', null, count(pending)), ' pending · ', h('b', null, count(active)), ' active · ', h('b', null, count(later)), ' later',
      archived > 0 ? [' · ', h('b', null, count(archived)), ' archived'] : ''),
    h('span', {class: 'vital' + (open.length ? ' bad' : ''), 'data-vital': 'breakers', title: open.join(', ') || 'every breaker closed'},
      'Breakers open ', h('b', null, count(open.length)),
      open.length && open.length <= 3 ? [' (', open.flatMap((id, i) => [i ? ', ' : '', serverLink(id)]), ')'] : ''),
    h('span', {class: 'vital' + (v.outbox_backlog > 0 ? ' warn' : ''), 'data-vital': 'outbox',
      title: 'jobs and servers whose events NATS has not acknowledged yet'},
    'Outbox backlog ', h('b', null, count(v.outbox_backlog))));
}
