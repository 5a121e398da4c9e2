// The fleet: every server with its state, power, maintenance, site and
// labels, filtered (by site, state, power, maintenance, labels and text) and
// paged by the API (GET /v1/fleet), so that a fleet of any size costs the
// browser one page; the counts by state follow (GET
// /v1/fleet/counts), which read every record. Lifecycle changes and ended
// jobs reload the page (at most every 1.5 s), and so does every half minute.

import {api} from '../lib/api.js';
import {h, fill, badge, ago, count, labels, serverLink, debounce} from '../lib/dom.js';
import {follow, refresher, ends} from '../lib/live.js';

const states = ['enrolled', 'inspecting', 'available', 'provisioning', 'active', 'deprovisioning', 'error'];
const sizes = [50, 100, 250, 500, 1000];

// filters reads the page's filters from the address's query.
function filters(query) {
  const f = {site: '', state: '', power: '', maintenance: '', selector: '', q: '', offset: 0, limit: 100};
  for (const k of Object.keys(f)) {
    const v = query.get(k);
    if (v === null) continue;
    f[k] = typeof f[k] === 'number' ? Math.max(0, Number(v) || 0) : v;
  }
  if (!sizes.includes(f.limit)) f.limit = 100;
  return f;
}

// remember writes the filters into the address, so that a reload or a
// shared link shows the same page.
function remember(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v !== '' && !(k === 'offset' && v === 0) && !(k === 'limit' && v === 100)) q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(null, '', '#/servers' + (s ? '?' + s : ''));
}

function select(name, value, options, onchange) {
  return h('select', {name, 'aria-label': name, onchange: (e) => onchange(e.target.value)},
    options.map(([v, text]) => h('option', {value: v, selected: v === value}, text)));
}

export function render(main, {query}) {
  const f = filters(query);
  const section = h('section', {class: 'page fleet', 'data-page': 'fleet'});
  const title = h('h1', null, 'Fleet');
  const chips = h('div', {class: 'chips states'});
  const grid = h('div', {class: 'grid-wrap'});
  const pager = h('div', {class: 'pager'});
  const error = h('p', {class: 'notice bad', hidden: true});
  let first = true;

  const change = (k, v) => {
    f[k] = v;
    f.offset = 0;
    remember(f);
    reload.now();
  };
  const text = h('input', {type: 'search', name: 'q', value: f.q, placeholder: 'id, label, address, reason…', 'aria-label': 'text',
    oninput: debounce((e) => change('q', e.target.value.trim()), 250)});
  const site = h('input', {type: 'text', name: 'site', value: f.site, placeholder: 'default', size: 10, 'aria-label': 'site',
    onchange: (e) => change('site', e.target.value.trim())});
  const selector = h('input', {type: 'text', name: 'selector', value: f.selector, placeholder: 'rack=r1,role=db', 'aria-label': 'selector',
    onchange: (e) => change('selector', e.target.value.trim())});
  const stateSelect = select('state', f.state, [['', 'any state'], ...states.map((s) => [s, s])], (v) => change('state', v));
  const form = h('form', {class: 'filters', onsubmit: (e) => e.preventDefault()},
    h('label', null, 'Site ', site),
    h('label', null, 'State ', stateSelect),
    h('label', null, 'Power ', select('power', f.power, [['', 'any'], ['on', 'on'], ['off', 'off'], ['unknown', 'unknown']], (v) => change('power', v))),
    h('label', null, 'Maintenance ', select('maintenance', f.maintenance, [['', 'any'], ['true', 'yes'], ['false', 'no']], (v) => change('maintenance', v))),
    h('label', null, 'Labels ', selector),
    h('label', null, 'Search ', text),
    h('label', null, 'Per page ', select('limit', String(f.limit), sizes.map((n) => [String(n), String(n)]), (v) => change('limit', Number(v)))));
  section.append(title, form, chips, error, grid, pager);
  main.append(section);

  const pickLabel = (kv) => {
    const terms = f.selector ? f.selector.split(',') : [];
    const key = kv.split('=')[0];
    const kept = terms.filter((t) => t.split('=')[0] !== key);
    selector.value = [...kept, kv].join(',');
    change('selector', selector.value);
  };

  const drawCounts = (counts) => {
    fill(chips,
      h('button', {type: 'button', class: 'chip' + (f.state === '' ? ' on' : ''), onclick: () => { stateSelect.value = ''; change('state', ''); }}, `all ${count(counts.matched)}`),
      states.filter((s) => counts.states[s]).map((s) => h('button', {type: 'button', class: `chip state-${s}` + (f.state === s ? ' on' : ''),
        onclick: () => { stateSelect.value = s; change('state', s); }}, `${s} ${count(counts.states[s])}`)));
  };

  const draw = (page) => {
    fill(title, 'Fleet ', h('small', {'data-count': page.matched}, `${count(page.matched)} server${page.matched === 1 ? '' : 's'}`));
    const rows = page.servers.map((s) => h('tr', {'data-server': s.id},
      h('td', {class: 'mono'}, serverLink(s.id)),
      h('td', null, badge(s.state)),
      h('td', null, badge(s.power_state, 'power')),
      h('td', null, s.maintenance ? h('span', {class: 'maint', title: `set by ${s.maintenance.set_by}`}, s.maintenance.reason || 'yes') : ''),
      h('td', null, h('button', {type: 'button', class: 'link', title: 'Filter by this site',
        onclick: () => { site.value = s.site || 'default'; change('site', site.value); }}, s.site || 'default')),
      h('td', {class: 'labels'}, labels(s.labels, pickLabel)),
      h('td', {class: 'detail'}, s.last_error ? s.last_error.reason : ''),
      h('td', null, ago(s.updated_at))));
    fill(grid, rows.length === 0
      ? h('p', {class: 'empty'}, page.matched === 0 ? 'No server matches these filters.' : 'Past the last page.')
      : h('table', {class: 'grid fleet-table'},
        h('thead', null, h('tr', null, ['Server', 'State', 'Power', 'Maintenance', 'Site', 'Labels', 'Last error', 'Updated'].map((c) => h('th', null, c)))),
        h('tbody', null, rows)));
    const from = page.matched ? page.offset + 1 : 0, to = page.offset + page.servers.length;
    fill(pager,
      h('button', {type: 'button', disabled: f.offset === 0, onclick: () => { f.offset = Math.max(0, f.offset - f.limit); remember(f); reload.now(); }}, '‹ Previous'),
      h('span', null, `${count(from)}–${count(to)} of ${count(page.matched)}`),
      h('button', {type: 'button', disabled: to >= page.matched, onclick: () => { f.offset += f.limit; remember(f); reload.now(); }}, 'Next ›'));
    if (first) {
      first = false;
      performance.mark('fleet-drawn');
    }
    section.dataset.state = 'ready';
  };

  const reload = refresher(async () => {
    try {
      draw(await api('v1/fleet', {query: f}));
      drawCounts(await api('v1/fleet/counts', {query: {site: f.site, power: f.power, maintenance: f.maintenance, selector: f.selector, q: f.q}}));
      error.hidden = true;
    } catch (e) {
      fill(error, 'The fleet cannot be read: ', e.message);
      error.hidden = false;
    }
  }, 1500);
  reload.now();
  const stop = follow({}, (ev) => {
    if (ev.type === 'tinman.server.state_changed' || ends(ev)) reload.poke();
  });
  const timer = setInterval(reload.poke, 30000); // what no event announces: a breaker's maintenance
  return () => { stop(); reload.stop(); clearInterval(timer); };
}
