// A job: its record and its events, from its first one and then live;
// operators can cancel it while it has not ended.

import {api, found} from '../lib/api.js';
import {h, fill, badge, ago, pairs, serverLink, link} from '../lib/dom.js';
import {follow, refresher} from '../lib/live.js';
import {EventLog} from '../lib/eventlog.js';
import {cancelable, cancelButton} from '../lib/actions.js';
import {summary} from './jobs.js';

const json = (v) => v && Object.keys(v).length ? h('pre', {class: 'json'}, JSON.stringify(v, null, 2)) : '';

function record(j) {
  return pairs([
    ['Type', j.type],
    ['Server', serverLink(j.server)],
    ['State', badge(j.state)],
    ['Attempt', j.attempt ? `${j.attempt} of ${j.max_attempts}` : ''],
    ['Summary', summary(j)],
    ['Deploy', j.type === 'deploy' ? link('/deploys/' + encodeURIComponent(j.id), 'its batches') : ''],
    ['Requested by', j.requested_by],
    ['Priority', j.priority],
    ['Params', json(j.params)],
    ['Result', j.type === 'deploy' ? '' : json(j.result)],
    ['Created', ago(j.created_at)],
    ['Updated', ago(j.updated_at)],
  ]);
}

// since is how far back the job's events go: from a minute before it was made.
function since(j) {
  const age = Date.now() - new Date(j.created_at).getTime();
  return `${Math.max(60, Math.ceil(age / 1000) + 60)}s`;
}

export function render(main, {param: id, ctx}) {
  const section = h('section', {class: 'page job', 'data-page': 'job'});
  const title = h('h1', null, id);
  const actions = h('div', {class: 'actions'});
  const rec = h('div');
  const log = new EventLog({newestFirst: false, showServer: true, showJob: false});
  section.append(title, actions, rec, h('h2', null, 'Events'), log.el);
  main.append(section);

  let stop = null, left = false;
  const reload = refresher(async () => {
    const j = await found(`v1/jobs/${encodeURIComponent(id)}`);
    if (left) return;
    if (!j) {
      fill(title, id, ' ', h('small', null, 'is not a job this API knows'));
      return;
    }
    fill(title, h('span', {class: 'mono'}, id), ' ', badge(j.state));
    fill(actions, ctx.can('operator') && cancelable(j) ? cancelButton(j.id, () => reload.now()) : '');
    fill(rec, record(j));
    section.dataset.state = 'ready';
    stop ??= follow({job: id, since: since(j)}, (ev) => { log.add(ev); reload.poke(); });
  }, 500);
  reload.now();
  return () => { left = true; stop?.(); reload.stop(); };
}
