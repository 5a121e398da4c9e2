// A deploy: each batch as a progress bar with each server's provision, its
// state and why it failed, and why the deploy halted. Its events and its
// provisions' events reload it (at most twice a second).

import {found} from '../lib/api.js';
import {h, fill, badge, ago, jobLink, serverLink, pairs, count} from '../lib/dom.js';
import {follow, refresher} from '../lib/live.js';
import {cancelable, cancelButton} from '../lib/actions.js';
import {bar} from './deploys.js';

const running = ['submitted', 'queued', 'running', 'retrying'];

// tally counts a batch's provisions: succeeded, failed, running, pending.
function tally(servers) {
  const t = {ok: 0, bad: 0, run: 0, todo: 0};
  for (const c of servers) {
    if (c.state === 'succeeded') t.ok++;
    else if (running.includes(c.state)) t.run++;
    else if (c.state === 'pending') t.todo++;
    else t.bad++;
  }
  return t;
}

const progress = (t) => bar([['ok', t.ok, 'succeeded'], ['bad', t.bad, 'failed'], ['run', t.run, 'running'], ['todo', t.todo, 'pending']]);

function batchView(b) {
  const t = tally(b.servers);
  return h('div', {class: 'batch', 'data-batch': b.number, 'data-state': b.state, 'data-done': t.ok + t.bad},
    h('div', {class: 'batch-head'},
      h('h3', null, `Batch ${b.number}`), badge(b.state, 'batch'),
      h('span', {class: 'count'}, `${t.ok + t.bad}/${b.servers.length} ended · ${t.ok} succeeded · ${t.bad} failed`)),
    progress(t),
    h('table', {class: 'grid children'}, h('colgroup', null, h('col', {class: 'c-server'}), h('col', {class: 'c-job'}), h('col', {class: 'c-state'}), h('col')), h('tbody', null, b.servers.map((c) => h('tr', {'data-server': c.server, 'data-state': c.state},
      h('td', {class: 'mono'}, serverLink(c.server)),
      h('td', {class: 'mono'}, c.state === 'pending' ? c.job_id : jobLink(c.job_id)),
      h('td', null, badge(c.state)),
      h('td', {class: 'detail'}, c.error ? `${c.error.code}: ${c.error.message}` : ''))))));
}

// plural counts n things: "1 server", "2,500 servers".
const plural = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`;

function overview(v) {
  const all = v.batches.flatMap((b) => b.servers);
  const t = tally(all);
  return [
    v.halt_reason ? h('p', {class: 'notice bad halt', 'data-halt': ''}, h('b', null, v.halted ? 'Halted: ' : 'Stopped: '), v.halt_reason) : null,
    pairs([
      ['Image', v.image],
      ['Servers', all.length ? `${plural(all.length, 'server', 'servers')} in ${plural(v.batches.length, 'batch', 'batches')}` : 'no plan yet'],
      ['Progress', all.length ? [progress(t), ` ${t.ok} succeeded, ${t.bad} failed, ${t.run} running, ${t.todo} pending`] : ''],
      ['Now', v.job.waiting_for ? `waiting for ${v.job.waiting_for}` : ''],
      ['Requested by', v.job.requested_by],
      ['Started', ago(v.job.created_at)],
      ['Updated', ago(v.job.updated_at)],
    ]),
  ];
}

export function render(main, {param: id, ctx}) {
  const section = h('section', {class: 'page deploy', 'data-page': 'deploy'});
  const title = h('h1', null, id);
  const actions = h('div', {class: 'actions'});
  const head = h('div');
  const batches = h('div', {class: 'batches'});
  section.append(title, actions, head, h('h2', null, 'Batches'), batches);
  main.append(section);
  const reload = refresher(async () => {
    const v = await found(`v1/deploys/${encodeURIComponent(id)}`);
    if (!v) {
      fill(title, id, ' ', h('small', null, 'is not a deploy this API knows'));
      return;
    }
    fill(title, 'Deploy ', h('span', {class: 'mono'}, jobLink(id)), ' ', badge(v.job.state));
    fill(actions, ctx.can('operator') && cancelable(v.job) ? cancelButton(id, () => reload.now()) : '');
    fill(head, overview(v));
    fill(batches, v.batches.length ? v.batches.map(batchView) : h('p', {class: 'empty'}, 'The deploy has not made its plan yet.'));
    section.dataset.state = v.job.state;
  }, 500);
  reload.now();
  const mine = (ev) => {
    const job = ev.data?.job_id || '';
    return job === id || job.startsWith(id + '.');
  };
  const stop = follow({}, (ev) => { if (mine(ev)) reload.poke(); });
  // Times pass with no event (ago, a stream that was down): look again now and then.
  const timer = setInterval(reload.poke, 10000);
  return () => { stop(); reload.stop(); clearInterval(timer); };
}
