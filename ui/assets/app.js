// The console: signs in with the token of the link (or one pasted), learns
// the token's role, and routes #/... to its pages. Each page draws into
// <main>, and returns what stops its stream and timers when it is left.

import {api, ApiError, session, takeTokenFromFragment} from './lib/api.js';
import {h, fill} from './lib/dom.js';
import {onStatus} from './lib/live.js';
import {startHealth} from './health.js';
import * as fleet from './pages/fleet.js';
import * as server from './pages/server.js';
import * as jobList from './pages/jobs.js';
import * as job from './pages/job.js';
import * as deployList from './pages/deploys.js';
import * as deploy from './pages/deploy.js';

const routes = [
  [/^\/(?:servers)?$/, fleet, 'servers'],
  [/^\/servers\/([^/]+)$/, server, 'servers'],
  [/^\/jobs$/, jobList, 'jobs'],
  [/^\/jobs\/([^/]+)$/, job, 'jobs'],
  [/^\/deploys$/, deployList, 'deploys'],
  [/^\/deploys\/([^/]+)$/, deploy, 'deploys'],
];

const ranks = {viewer: 1, operator: 2, admin: 3};
const main = document.getElementById('main');
let leave = () => {};
let stopHealth = () => {};
let unlisten = () => {};

// route draws the page of the address's fragment: #/path?query.
function route(ctx) {
  leave();
  leave = () => {};
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search] = raw.split('?', 2);
  const query = new URLSearchParams(search || '');
  for (const [re, page, section] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('current', a.dataset.section === section);
    main.replaceChildren();
    const param = m[1] ? decodeURIComponent(m[1]) : '';
    leave = page.render(main, {param, query, ctx}) || (() => {});
    return;
  }
  fill(main, h('section', {class: 'page'}, h('h1', null, 'Not found'), h('p', null, 'No page at ', raw, '. '), h('a', {href: '#/'}, 'The fleet')));
}

// signIn asks for a token when there is none, or the API refused it.
function signIn(message) {
  leave();
  stopHealth();
  document.getElementById('nav').hidden = true;
  fill(document.getElementById('who'));
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'off', required: true, size: 48, 'aria-label': 'API token'});
  const form = h('form', {class: 'signin', onsubmit: (e) => {
    e.preventDefault();
    session.set(input.value.trim());
    start();
  }}, h('label', null, 'API token ', input), ' ', h('button', {type: 'submit'}, 'Sign in'));
  fill(main, h('section', {class: 'page signin-page'},
    h('h1', null, 'Sign in'),
    message ? h('p', {class: 'notice bad'}, message) : null,
    h('p', null, 'Open the console with the link that ', h('code', null, 'tinman dev'), ' prints, or paste a bearer token. ',
      'It is kept in this tab only, and sent to the API in a header.'),
    form));
  input.focus();
}

// shell shows the navigation, the token's role and a way to sign out.
function shell(me) {
  document.getElementById('nav').hidden = false;
  const dot = h('span', {class: 'live off', title: 'event stream'}, 'live');
  unlisten();
  unlisten = onStatus((s, detail) => { dot.className = 'live ' + s; dot.title = detail ? `event stream ${s}: ${detail}` : `event stream ${s}`; });
  fill(document.getElementById('who'), dot, ' ',
    h('span', {class: 'role', 'data-role': me.role, title: me.name}, me.role), ' ',
    h('button', {type: 'button', class: 'link', onclick: () => { session.clear(); signIn('Signed out.'); }}, 'Sign out'));
}

// start signs in with the token of this tab, then shows the page asked for.
async function start() {
  takeTokenFromFragment();
  stopHealth();
  if (!session.token()) return signIn();
  let me;
  try {
    me = await api('v1/whoami');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      session.clear();
      return signIn('The API refused that token.');
    }
    fill(main, h('p', {class: 'notice bad'}, 'The API cannot be reached: ', e.message));
    return;
  }
  const ctx = {role: me.role, can: (role) => (ranks[me.role] || 0) >= ranks[role]};
  shell(me);
  stopHealth = startHealth(document.getElementById('health'));
  // Another link's token signs in anew: its role may differ.
  window.onhashchange = () => (takeTokenFromFragment() ? start() : route(ctx));
  route(ctx);
}

window.addEventListener('tinman:unauthorized', () => { session.clear(); signIn('The API no longer accepts the token: sign in again.'); });
start();
