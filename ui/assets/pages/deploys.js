// Deploys: the rolling deploys, newest first, with their progress; the
// deploys' own events (those about no single server) reload the list.

import {api} from '../lib/api.js';
import {h, fill, badge, ago, link, table} from '../lib/dom.js';
import {follow, refresher} from '../lib/live.js';

// bar is a progress bar of parts: [[class, count, title], ...]; each part
// takes its share of the width (set through the CSSOM, which the page's
// Content-Security-Policy allows where it forbids inline styles).
export function bar(parts) {
  const total = parts.reduce((n, [, c]) => n + c, 0);
  const el = h('div', {class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total,
    'aria-valuenow': parts.filter(([cls]) => cls === 'ok' || cls === 'bad').reduce((n, [, c]) => n + c, 0)});
  for (const [cls, c, title] of parts) {
    if (!c) continue;
    const seg = h('span', {class: 'seg ' + cls, title: `${c} ${title}`});
    seg.style.flexGrow = String(c);
    el.append(seg);
  }
  return el;
}

// planProgress is the bar of a deploy's plan, as its job's result keeps it.
function planProgress(j) {
  const r = j.result;
  if (!r || !r.batches) return h('span', {class: 'empty'}, 'no plan yet');
  const total = r.servers || 0, ok = r.succeeded || 0, bad = r.failed || 0;
  return h('div', {class: 'progress'}, bar([['ok', ok, 'succeeded'], ['bad', bad, 'failed'], ['todo', total - ok - bad, 'to do']]),
    h('span', {class: 'count'}, `${ok + bad}/${total} · batch ${Math.min(r.current + 1, r.batches)} of ${r.batches}`));
}

export function render(main) {
  const section = h('section', {class: 'page deploys', 'data-page': 'deploys'});
  const box = h('div');
  section.append(h('h1', null, 'Deploys'), box);
  main.append(section);
  const reload = refresher(async () => {
    const list = await api('v1/jobs', {query: {type: 'deploy', limit: 100}});
    fill(box, table(['Deploy', 'Image', 'State', 'Progress', 'Requested by', 'Updated', 'Detail'],
      list.jobs.map((j) => h('tr', {'data-job': j.id},
        h('td', {class: 'mono'}, link('/deploys/' + encodeURIComponent(j.id), j.id)),
        h('td', null, j.params?.image || ''),
        h('td', null, badge(j.state)),
        h('td', null, planProgress(j)),
        h('td', null, j.requested_by || ''),
        h('td', null, ago(j.updated_at)),
        h('td', {class: 'detail'}, j.error ? `${j.error.code}: ${j.error.message}` : j.waiting_for ? `waiting for ${j.waiting_for}` : ''))),
      'No deploy yet: tinman deploy, POST /v1/jobs or a webhook starts one.'));
    section.dataset.state = 'ready';
  }, 1000);
  reload.now();
  const stop = follow({server: '_'}, () => reload.poke());
  return () => { stop(); reload.stop(); };
}
