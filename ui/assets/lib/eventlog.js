// An event log: the events of a server or a job as they arrive, one row
// each, newest first or oldest first, at most cap rows.

import {h, clock, badge, jobLink, serverLink} from './dom.js';
import {shortType} from './live.js';

// describe says what an event reports, in one line.
export function describe(ev) {
  const d = ev.data || {};
  if (ev.type === 'tinman.server.state_changed') {
    return `${d.previous || '?'} → ${d.state}` + (d.reason ? `: ${d.reason}` : '');
  }
  const parts = [];
  if (d.step) parts.push(d.step);
  if (d.message) parts.push(d.message);
  if (d.reason && !d.error) parts.push(d.reason);
  if (d.error) parts.push(`${d.error.code}: ${d.error.message}`);
  if (d.result && typeof d.result === 'object' && d.result.power_state) parts.push(`power ${d.result.power_state}`);
  if (d.next_attempt_at) parts.push(`next attempt at ${clock(d.next_attempt_at)}`);
  return parts.join(' · ');
}

// EventLog keeps the rows of a log in el.
export class EventLog {
  constructor({newestFirst = true, cap = 300, showServer = false, showJob = true} = {}) {
    this.newestFirst = newestFirst;
    this.cap = cap;
    this.showServer = showServer;
    this.showJob = showJob;
    this.body = h('tbody');
    this.empty = h('p', {class: 'empty'}, 'No events yet: they appear here as they happen.');
    const heads = ['Time', 'Event', showJob ? 'Job' : null, showServer ? 'Server' : null, 'State', 'Attempt', 'Detail'].filter(Boolean);
    this.el = h('div', {class: 'eventlog'}, this.empty,
      h('table', {class: 'grid events', hidden: true}, h('thead', null, h('tr', null, heads.map((c) => h('th', null, c)))), this.body));
  }

  // add shows one event.
  add(ev) {
    const d = ev.data || {};
    const failed = d.error || /failed|rejected|halted/.test(ev.type);
    const row = h('tr', {class: failed ? 'event bad' : 'event', 'data-type': shortType(ev), 'data-job': d.job_id || ''},
      h('td', {class: 'mono'}, clock(ev.time)),
      h('td', null, shortType(ev)),
      this.showJob ? h('td', {class: 'mono'}, jobLink(d.job_id)) : null,
      this.showServer ? h('td', null, serverLink(ev.subject)) : null,
      h('td', null, d.state ? badge(d.state) : ''),
      h('td', null, d.attempt ? `${d.attempt}/${d.max_attempts || '?'}` : ''),
      h('td', {class: 'detail'}, describe(ev)));
    if (this.newestFirst) this.body.prepend(row); else this.body.append(row);
    while (this.body.rows.length > this.cap) {
      (this.newestFirst ? this.body.lastElementChild : this.body.firstElementChild).remove();
    }
    this.empty.hidden = true;
    this.body.parentElement.hidden = false;
  }
}
