// Jobs: the newest jobs, filtered by state, type and server, reloaded as
// job events arrive (at most every second); operators can cancel.

import {api} from '../lib/api.js';
import {h, fill, badge, ago, link, serverLink, table} from '../lib/dom.js';
import {follow, refresher} from '../lib/live.js';
import {cancelable, cancelButton} from '../lib/actions.js';

const states = ['queued', 'running', 'retrying', 'succeeded', 'failed', 'canceled'];
const types = ['power', 'boot-device', 'inspect', 'provision', 'deprovision', 'bmc-reset', 'deploy'];

// jobLink links a job to its page, and a deploy to its batches too.
function jobCell(j) {
  const a = link('/jobs/' + encodeURIComponent(j.id), j.id);
  return j.type === 'deploy' ? [a, ' ', h('a', {href: '#/deploys/' + encodeURIComponent(j.id), class: 'aside'}, 'batches')] : a;
}

// summary says in a few words where a job is: its error, what it waits
// for, its result.
export function summary(j) {
  if (j.error) return `${j.error.code}: ${j.error.message}`;
  if (j.waiting_for) return `waiting for ${j.waiting_for}`;
  const r = j.result;
  if (!r) return j.checkpoint ? `after ${j.checkpoint}` : '';
  if (r.power_state) return `power ${r.power_state}`;
  if (j.type === 'deploy' && r.batches) {
    const n = (c, one, many) => `${c} ${c === 1 ? one : many}`;
    return `${n(r.servers, 'server', 'servers')} in ${n(r.batches, 'batch', 'batches')}: ${r.succeeded || 0} succeeded, ${r.failed || 0} failed`;
  }
  if (r.state) return `server ${r.state}`;
  if (r.device) return `boot ${r.device}${r.persistent ? ' (persistent)' : ''}`;
  if (r.vendor || r.model) return `${r.vendor || ''} ${r.model || ''}`.trim();
  return '';
}

// jobHeads and jobRow draw a table of jobs; opts.server shows the server
// column, opts.cancel (called after a cancel) the cancel buttons.
export const jobHeads = (opts) => ['Job', 'Type', opts.server ? 'Server' : null, 'State', 'Attempt', 'Requested by', 'Updated', 'Detail',
  opts.cancel ? '' : null].filter((c) => c !== null);

export function jobRow(j, opts) {
  return h('tr', {'data-job': j.id},
    h('td', {class: 'mono'}, jobCell(j)),
    h('td', null, j.type),
    opts.server ? h('td', null, serverLink(j.server)) : null,
    h('td', null, badge(j.state)),
    h('td', null, j.attempt ? `${j.attempt}/${j.max_attempts}` : ''),
    h('td', null, j.requested_by || ''),
    h('td', null, ago(j.updated_at)),
    h('td', {class: 'detail'}, summary(j)),
    opts.cancel ? h('td', null, cancelable(j) ? cancelButton(j.id, opts.cancel) : '') : null);
}

export function render(main, {query, ctx}) {
  const f = {state: query.get('state') || '', type: query.get('type') || '', server: query.get('server') || '', limit: 100};
  const section = h('section', {class: 'page jobs', 'data-page': 'jobs'});
  const box = h('div');
  const error = h('p', {class: 'notice bad', hidden: true});
  const change = (k, v) => {
    f[k] = v;
    const q = new URLSearchParams(Object.entries(f).filter(([k2, v2]) => v2 !== '' && k2 !== 'limit'));
    history.replaceState(null, '', '#/jobs' + (q.toString() ? '?' + q : ''));
    reload.now();
  };
  const pick = (name, values) => h('select', {name, 'aria-label': name, onchange: (e) => change(name, e.target.value)},
    ['', ...values].map((v) => h('option', {value: v, selected: v === f[name]}, v || 'any')));
  section.append(h('h1', null, 'Jobs'),
    h('form', {class: 'filters', onsubmit: (e) => e.preventDefault()},
      h('label', null, 'State ', pick('state', states)),
      h('label', null, 'Type ', pick('type', types)),
      h('label', null, 'Server ', h('input', {type: 'text', name: 'server', value: f.server, placeholder: 'sim-01', 'aria-label': 'server',
        onchange: (e) => change('server', e.target.value.trim())}))),
    error, box);
  main.append(section);

  const opts = {server: true, cancel: ctx.can('operator') ? () => reload.now() : null};
  const reload = refresher(async () => {
    try {
      const list = await api('v1/jobs', {query: f});
      fill(box, table(jobHeads(opts), list.jobs.map((j) => jobRow(j, opts)), 'No job matches.'));
      error.hidden = true;
      section.dataset.state = 'ready';
    } catch (e) {
      fill(error, 'The jobs cannot be read: ', e.message);
      error.hidden = false;
    }
  }, 1000);
  reload.now();
  const stop = follow({type: 'job'}, () => reload.poke());
  return () => { stop(); reload.stop(); };
}
