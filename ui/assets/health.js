// The health strip: the asynq queues, the open breakers and the outbox
// backlog, read from GET /v1/vitals every few seconds.

import {api} from './lib/api.js';
import {h, fill, count, serverLink} from './lib/dom.js';

const every = 5000;

// startHealth keeps el up to date until the returned stop is called.
export function startHealth(el) {
  let timer = null, stopped = false;
  const tick = async () => {
    try {
      draw(el, await api('v1/vitals'));
    } catch (e) {
      fill(el, h('span', {class: 'vital warn'}, 'health unavailable: ', e.message));
    }
    if (!stopped) timer = setTimeout(tick, every);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

function draw(el, v) {
  const queues = v.queues.slice().sort((a, b) => a.name.localeCompare(b.name));
  const waiting = queues.reduce((n, q) => n + q.pending + q.scheduled + q.retry, 0);
  const retry = queues.reduce((n, q) => n + q.retry, 0);
  const active = queues.reduce((n, q) => n + q.active, 0);
  const title = queues.map((q) => `${q.name}: ${q.pending} pending, ${q.active} active, ${q.scheduled} scheduled, ${q.retry} retry, ${q.archived} archived`).join('\n');
  const open = v.breakers_open.slice().sort();
  fill(el,
    h('span', {class: 'vital' + (retry > 0 ? ' warn' : ''), 'data-vital': 'queues', title: title || 'no queue yet'},
      'Queues ', h('b', null, count(waiting)), ' waiting · ', h('b', null, count(active)), ' active',
      retry > 0 ? [' · ', h('b', null, count(retry)), ' retrying'] : ''),
    h('span', {class: 'vital' + (open.length ? ' bad' : ''), 'data-vital': 'breakers', title: open.join(', ') || 'every breaker closed'},
      'Breakers open ', h('b', null, count(open.length)),
      open.length && open.length <= 3 ? [' (', open.flatMap((id, i) => [i ? ', ' : '', serverLink(id)]), ')'] : ''),
    h('span', {class: 'vital' + (v.outbox_backlog > 0 ? ' warn' : ''), 'data-vital': 'outbox',
      title: 'jobs and servers whose events NATS has not acknowledged yet'},
    'Outbox backlog ', h('b', null, count(v.outbox_backlog))));
}
