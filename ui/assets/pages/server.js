// A server: its record, its inventory, its jobs and its events as they
// happen; operators also get its power, inspect and maintenance actions.

import {api, found} from '../lib/api.js';
import {h, fill, badge, ago, bytes, labels, pairs, jobLink, table} from '../lib/dom.js';
import {follow, refresher} from '../lib/live.js';
import {EventLog} from '../lib/eventlog.js';
import {actionButton} from '../lib/actions.js';
import {jobRow, jobHeads} from './jobs.js';

// power actions: [action, label, asks for a second click].
const powerActions = [
  ['on', 'Power on', false], ['off', 'Power off', true], ['soft', 'Soft off', true],
  ['cycle', 'Power cycle', true], ['reset', 'Reset', true], ['status', 'Read power', false],
];
const inspectable = ['enrolled', 'available', 'error'];

function inventoryView(inv) {
  if (!inv) return h('p', {class: 'empty'}, 'Not inspected yet: an inspect job reads the hardware from the BMC.');
  const memory = (inv.memory || []).reduce((n, d) => n + (d.size_bytes || 0), 0);
  const cores = (inv.cpus || []).reduce((n, c) => n + (c.cores || 0), 0);
  return h('div', {class: 'inventory'},
    pairs([
      ['Vendor', inv.vendor], ['Model', inv.model], ['Serial', inv.serial],
      ['BIOS', inv.bios_version], ['BMC firmware', inv.bmc_firmware],
      ['CPUs', inv.cpus?.length ? `${inv.cpus.length} × ${inv.cpus[0].model || 'CPU'} (${cores} cores)` : ''],
      ['Memory', memory ? `${bytes(memory)} in ${inv.memory.length} DIMMs` : ''],
      ['NICs', (inv.nics || []).map((n) => `${n.id || 'nic'} ${n.mac || ''}`.trim()).join(', ')],
      ['Drives', (inv.drives || []).map((d) => `${d.model || 'drive'} ${bytes(d.capacity_bytes)}`.trim()).join(', ')],
      ['Inspected', ago(inv.inspected_at)],
    ]));
}

function record(s) {
  return pairs([
    ['State', [badge(s.state), ' since ', ago(s.state_since)]],
    ['Driven by', s.job ? jobLink(s.job) : ''],
    ['Power', badge(s.power_state, 'power')],
    ['Maintenance', s.maintenance ? [s.maintenance.reason, ` (set by ${s.maintenance.set_by}, `, ago(s.maintenance.since), ')'] : ''],
    ['Last error', s.last_error ? [s.last_error.reason, s.last_error.job_id ? [' (job ', jobLink(s.last_error.job_id), ')'] : ''] : ''],
    ['Site', s.site || 'default'],
    ['BMC', `${s.bmc.address} (${s.bmc.provider})`],
    ['Labels', Object.keys(s.labels || {}).length ? labels(s.labels) : ''],
    ['Enrolled', ago(s.created_at)],
    ['Updated', ago(s.updated_at)],
  ]);
}

export function render(main, {param: id, ctx}) {
  const section = h('section', {class: 'page server', 'data-page': 'server'});
  const title = h('h1', null, id);
  const notice = h('p', {class: 'notice', hidden: true});
  const actions = h('div', {class: 'actions'});
  const rec = h('div');
  const inv = h('div');
  const jobsBox = h('div');
  const log = new EventLog({newestFirst: true});
  section.append(title, notice, actions,
    h('div', {class: 'columns'},
      h('div', null, h('h2', null, 'Record'), rec),
      h('div', null, h('h2', null, 'Inventory'), inv)),
    h('h2', null, 'Jobs'), jobsBox,
    h('h2', null, 'Events ', h('small', null, 'the last hour, then live')), log.el);
  main.append(section);

  const say = (text, bad = false) => {
    fill(notice, text);
    notice.className = bad ? 'notice bad' : 'notice';
    notice.hidden = false;
  };
  const submit = async (type, params) => {
    try {
      const res = await api('v1/jobs', {method: 'POST', body: {type, server: id, params}});
      say(['Submitted ', type, params?.action ? ` ${params.action}` : '', ' as job ', jobLink(res.job_id), '.']);
    } catch (e) {
      say(`The ${type} job was refused: ${e.message}`, true);
    }
  };
  const maintain = async (value) => {
    try {
      await api(`v1/servers/${encodeURIComponent(id)}`, {method: 'PATCH', body: {maintenance: value}});
      say(value ? 'Maintenance set.' : 'Maintenance cleared.');
      reload.now();
    } catch (e) {
      say(`Maintenance was not changed: ${e.message}`, true);
    }
  };
  const drawActions = (s) => {
    if (!ctx.can('operator')) return fill(actions);
    const held = !!s.maintenance;
    const reason = h('input', {type: 'text', name: 'reason', placeholder: 'reason', 'aria-label': 'maintenance reason', size: 18});
    fill(actions,
      h('div', {class: 'group'}, h('span', {class: 'group-name'}, 'Power'),
        powerActions.filter(([a]) => !held || a === 'status')
          .map(([a, text, risky]) => actionButton('power-' + a, text, () => submit('power', {action: a}), risky))),
      inspectable.includes(s.state) ? h('div', {class: 'group'}, actionButton('inspect', 'Inspect', () => submit('inspect'))) : null,
      h('div', {class: 'group'}, h('span', {class: 'group-name'}, 'Maintenance'),
        held ? actionButton('maintenance-clear', 'Clear', () => maintain(null))
          : [reason, actionButton('maintenance-set', 'Set', () => maintain({reason: reason.value.trim() || 'set from the console'}))]));
  };

  let state = '';
  const reload = refresher(async () => {
    const srv = await found(`v1/servers/${encodeURIComponent(id)}`);
    if (!srv) {
      fill(title, id, ' ', h('small', null, 'is not enrolled'));
      fill(actions);
      return;
    }
    const [inventory, list] = await Promise.all([
      found(`v1/servers/${encodeURIComponent(id)}/inventory`),
      api('v1/jobs', {query: {server: id, limit: 20}}),
    ]);
    fill(title, id, ' ', badge(srv.state), ' ', badge(srv.power_state, 'power'), srv.maintenance ? h('span', {class: 'badge maint'}, 'maintenance') : '');
    const key = `${srv.state}|${!!srv.maintenance}`;
    if (key !== state) { state = key; drawActions(srv); }
    fill(rec, record(srv));
    fill(inv, inventoryView(inventory));
    const opts = {server: false, cancel: ctx.can('operator') ? () => reload.now() : null};
    fill(jobsBox, table(jobHeads(opts), list.jobs.map((j) => jobRow(j, opts)), 'No job has run on this server.'));
    section.dataset.state = 'ready';
  }, 700);
  reload.now();
  const stop = follow({server: id, since: '1h'}, (ev) => { log.add(ev); reload.poke(); });
  return () => { stop(); reload.stop(); };
}
