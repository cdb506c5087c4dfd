// Cairn's dashboard. Plain JavaScript without dependencies: it polls the member that served
// it (/v1/cluster, /v1/cluster/members, /health), browses and changes keys through /ui/api/v2/keys
// (writes there need the root role when auth is on) and long-polls a watch. Credentials are a
// token from /v1/auth/login kept in this page's memory only.
'use strict';

const KEYS = '/ui/api/v2/keys';
const POLL_MS = 1000;
const HISTORY = 120; // samples per member: two minutes at POLL_MS
const MAX_EVENTS = 200;

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  user: null,
  // authOn is learnt from the first 401 without credentials.
  authOn: false,
  history: new Map(), // member name -> [{t, status, message}]
  expanded: new Set(['/']),
  selected: null, // the node shown in the detail pane
  watch: null, // AbortController of the running watch
  polling: false,
};

class AuthNeeded extends Error {}

function show(msg, kind) {
  const el = $('msg');
  el.textContent = msg;
  el.className = kind || '';
}

// api sends a request with the token, if any. A 401 without a token, or with one the server
// calls expired, means signing in; any other 401 is a refusal to show.
async function api(method, url, body, signal) {
  const headers = {};
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  if (body !== undefined && body !== null) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(url, { method, headers, body: body || undefined, signal, cache: 'no-store', credentials: 'omit' });
  if (res.status === 401) {
    const www = res.headers.get('WWW-Authenticate') || '';
    if (!state.token || www.includes('invalid_token')) {
      state.authOn = true;
      state.token = null;
      needLogin(state.user ? 'Your session expired: sign in again.' : '');
      throw new AuthNeeded('authentication required');
    }
  }
  return res;
}

async function getJSON(url, signal) {
  const res = await api('GET', url, null, signal);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(describeError(res, body));
  return body;
}

function describeError(res, body) {
  if (body && body.message) {
    let s = body.message;
    if (body.cause) s += ' (' + body.cause + ')';
    if (body.errorCode) s = body.errorCode + ': ' + s;
    return s;
  }
  if (body && body.error) return body.error;
  return res.status + ' ' + res.statusText;
}

// keyURL encodes each segment of a key below the dashboard's keys route. A trailing slash is
// kept: a grant on "/dir/*" covers "/dir/" but not "/dir".
function keyURL(key) {
  const segs = key.split('/').filter((s) => s !== '').map(encodeURIComponent);
  const slash = segs.length > 0 && key.endsWith('/') ? '/' : '';
  return KEYS + '/' + segs.join('/') + slash;
}

function normKey(key) {
  key = key.trim();
  if (!key.startsWith('/')) key = '/' + key;
  return key;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- sign in ----

function needLogin(why) {
  $('main').hidden = true;
  $('login-panel').hidden = false;
  $('login-error').textContent = why || '';
  $('user').textContent = '';
  $('logout').hidden = true;
  $('self-health').textContent = 'sign-in needed';
  $('self-health').className = 'badge';
  stopWatch();
  $('login-user').focus();
}

async function login(ev) {
  ev.preventDefault();
  const req = {
    user: $('login-user').value,
    password: $('login-password').value,
    mode: $('login-external').checked ? 'external' : 'native',
  };
  $('login-error').textContent = '';
  let res, body;
  try {
    res = await fetch('/v1/auth/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req),
      cache: 'no-store', credentials: 'omit',
    });
    body = await res.json().catch(() => null);
  } catch (e) {
    $('login-error').textContent = 'The member does not answer: ' + e.message;
    return;
  }
  if (!res.ok || !body) {
    $('login-error').textContent = 'Sign-in refused: ' + describeError(res, body);
    return;
  }
  state.token = body.token || null;
  state.user = body.user;
  $('login-password').value = '';
  started();
}

function logout() {
  state.token = null;
  state.user = null;
  needLogin('');
}

// started shows the dashboard once the member lets this page in.
function started() {
  $('login-panel').hidden = true;
  $('main').hidden = false;
  $('user').textContent = state.user ? 'signed in as ' + state.user : '';
  $('logout').hidden = !state.token;
  show('', '');
  pollCluster();
  loadTree();
}

// ---- cluster ----

function record(name, status, message) {
  let h = state.history.get(name);
  if (!h) {
    h = [];
    state.history.set(name, h);
  }
  h.push({ t: new Date(), status, message });
  if (h.length > HISTORY) h.shift();
}

async function pollCluster() {
  if (state.polling) return;
  state.polling = true;
  try {
    while (!$('main').hidden) {
      await pollOnce();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    state.polling = false;
  }
}

async function pollOnce() {
  const health = $('self-health');
  try {
    const hres = await fetch('/health', { cache: 'no-store', credentials: 'omit' });
    const hb = await hres.json().catch(() => ({}));
    const ok = hres.ok && hb.health === 'true';
    health.textContent = ok ? 'healthy' : 'unhealthy';
    health.className = 'badge ' + (ok ? 'ok' : 'bad');
  } catch (e) {
    health.textContent = 'not answering';
    health.className = 'badge bad';
    for (const name of state.history.keys()) record(name, 'down', 'the member serving this page does not answer');
    renderHistories();
    return;
  }
  try {
    const [info, members] = await Promise.all([getJSON('/v1/cluster'), getJSON('/v1/cluster/members')]);
    renderCluster(info, members);
  } catch (e) {
    if (!(e instanceof AuthNeeded)) show('Cluster view: ' + e.message, 'error');
  }
}

function renderCluster(info, members) {
  $('cluster-name').textContent = (info.cluster_name ? info.cluster_name + ' · ' : '') + 'cluster ' + info.cluster_id;
  $('served-by').textContent = 'served by ' + info.server_name;
  // The generation is a 64-bit hash that JavaScript numbers cannot hold exactly: not shown.
  $('cluster-summary').textContent = 'Leader: ' + (info.leader || 'none') + ' · applied index on ' +
    info.server_name + ': ' + info.applied_index;
  $('cluster-summary').dataset.leader = info.leader || '';
  const tbody = $('members').tBodies[0];
  const rows = [];
  for (const m of members.members || []) {
    record(m.server_name || m.id, m.status, m.message);
    const tr = el('tr');
    tr.dataset.member = m.server_name || m.id;
    tr.dataset.status = m.status;
    const roles = m.roles || [];
    if (roles.includes('database-leader')) tr.classList.add('leader');
    tr.append(el('td', 'name', m.server_name || '(unnamed)'), el('td', 'id', m.id),
      el('td', 'roles', roles.join(', ')));
    const st = el('td', 'status status-' + m.status, m.status);
    st.title = m.message || '';
    tr.append(st, el('td', 'rack', m.failure_domain ? String(m.failure_domain) : '—'),
      el('td', 'applied', m.applied_index ? String(m.applied_index) : '—'));
    const url = el('td', 'url');
    if (m.url) {
      const a = el('a', '', m.url);
      a.href = m.url.replace(/\/$/, '') + '/ui/';
      a.title = 'this member\'s dashboard';
      url.append(a);
    }
    tr.append(url, el('td', 'alternate', (m.alternate_urls || []).join(', ') || '—'));
    const hist = el('td');
    hist.append(el('div', 'history'));
    tr.append(hist);
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
  renderHistories();
}

function renderHistories() {
  for (const tr of $('members').tBodies[0].rows) {
    const box = tr.querySelector('.history');
    const h = state.history.get(tr.dataset.member) || [];
    box.replaceChildren(...h.map((s) => {
      const sp = el('span', 'h-' + s.status);
      sp.title = s.t.toLocaleTimeString() + ' ' + s.status + (s.message ? ': ' + s.message : '');
      return sp;
    }));
  }
}

// ---- keys ----

async function fetchNode(key) {
  const res = await api('GET', keyURL(key) + '?sorted=true');
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(describeError(res, body));
  return body.node;
}

async function loadTree() {
  const root = $('tree');
  try {
    const node = await fetchNode('/');
    root.replaceChildren(await renderDir({ key: '/', dir: true, nodes: node.nodes || [] }, true));
  } catch (e) {
    if (e instanceof AuthNeeded) return;
    // A user may read below the root without reading the root itself: say so where the tree
    // would be, and let the key fields below reach what the user may read.
    root.replaceChildren(el('li', 'error', 'Cannot list /: ' + e.message));
  }
}

function baseName(key) {
  if (key === '/') return '/';
  return key.substring(key.lastIndexOf('/') + 1);
}

// renderDir builds a directory's item; an expanded one lists its children, loaded again so the
// tree shows the store as it is now.
async function renderDir(node, loaded) {
  const li = el('li', 'dir');
  li.dataset.key = node.key;
  const name = el('span', 'name', baseName(node.key));
  name.addEventListener('click', () => toggleDir(li));
  li.append(name);
  if (state.expanded.has(node.key)) {
    let children = node.nodes;
    if (!loaded) {
      try {
        children = (await fetchNode(node.key)).nodes || [];
      } catch (e) {
        state.expanded.delete(node.key);
        children = null;
      }
    }
    if (children) {
      li.classList.add('open');
      const ul = el('ul');
      for (const c of children) ul.append(c.dir ? await renderDir(c, false) : renderKey(c));
      li.append(ul);
    }
  }
  if (state.selected && state.selected.key === node.key) li.classList.add('selected');
  return li;
}

function renderKey(node) {
  const li = el('li', 'key');
  li.dataset.key = node.key;
  const name = el('span', 'name', baseName(node.key));
  name.addEventListener('click', () => select(node.key));
  li.append(name);
  if (state.selected && state.selected.key === node.key) li.classList.add('selected');
  return li;
}

async function toggleDir(li) {
  const key = li.dataset.key;
  if (state.expanded.has(key) && key !== '/') state.expanded.delete(key);
  else state.expanded.add(key);
  await select(key);
  await loadTree();
}

async function select(key) {
  try {
    const node = await fetchNode(key);
    state.selected = node.key ? node : Object.assign({ key: '/' }, node);
    renderDetail();
    markSelected();
  } catch (e) {
    if (!(e instanceof AuthNeeded)) show(key + ': ' + e.message, 'error');
  }
}

function markSelected() {
  for (const li of $('tree').querySelectorAll('li')) {
    li.classList.toggle('selected', !!state.selected && li.dataset.key === state.selected.key);
  }
}

function renderDetail() {
  const n = state.selected;
  $('detail').hidden = !n;
  if (!n) return;
  $('detail-key').textContent = n.key;
  $('detail-type').textContent = n.dir ? 'directory' : 'key';
  $('detail-created').textContent = n.createdIndex !== undefined ? String(n.createdIndex) : '—';
  $('detail-modified').textContent = n.modifiedIndex !== undefined ? String(n.modifiedIndex) : '—';
  $('detail-ttl-left').textContent = n.ttl ? n.ttl + ' s left' : 'none';
  $('detail-expiration').textContent = n.expiration || '—';
  $('detail-edit').hidden = !!n.dir;
  // A directory's children, so that a user who cannot list the root can still move around.
  $('detail-children').replaceChildren(...(n.dir ? n.nodes || [] : []).map((c) => {
    const li = el('li', c.dir ? 'dir' : 'key');
    li.dataset.key = c.key;
    const name = el('span', 'name', baseName(c.key));
    name.addEventListener('click', () => select(c.key));
    li.append(name);
    return li;
  }));
  $('detail-value').value = n.dir ? '' : n.value;
  $('detail-ttl').value = n.ttl ? String(n.ttl) : '';
  $('detail-delete').hidden = n.key === '/';
  $('detail-delete-confirm').hidden = true;
}

function ttlParam(params, text) {
  const t = text.trim();
  if (t === '') return true;
  if (!/^[0-9]+$/.test(t)) {
    show('TTL must be a whole number of seconds', 'error');
    return false;
  }
  params.set('ttl', t);
  return true;
}

// write sends a change; a refusal is shown as the server words it.
async function write(method, key, params) {
  try {
    const res = await api(method, keyURL(key), method === 'DELETE' ? null : params.toString(),
      undefined);
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      let msg = describeError(res, body);
      if (res.status === 401) msg += ' — changes made on this page need the root role';
      show(key + ': ' + msg, 'error');
      return null;
    }
    return body;
  } catch (e) {
    if (!(e instanceof AuthNeeded)) show(key + ': ' + e.message, 'error');
    return null;
  }
}

async function save() {
  const n = state.selected;
  const params = new URLSearchParams();
  params.set('value', $('detail-value').value);
  // Compare-and-swap on the index shown: a change made elsewhere since is not overwritten.
  params.set('prevIndex', String(n.modifiedIndex));
  if (!ttlParam(params, $('detail-ttl').value)) return;
  const body = await write('PUT', n.key, params);
  if (body) {
    show('Saved ' + n.key + ' at index ' + body.node.modifiedIndex, 'info');
    await select(n.key);
    await loadTree();
  }
}

async function remove() {
  const n = state.selected;
  const q = new URLSearchParams();
  if (n.dir) {
    q.set('dir', 'true');
    q.set('recursive', 'true');
  } else {
    q.set('prevIndex', String(n.modifiedIndex));
  }
  try {
    const res = await api('DELETE', keyURL(n.key) + '?' + q.toString());
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      let msg = describeError(res, body);
      if (res.status === 401) msg += ' — changes made on this page need the root role';
      show(n.key + ': ' + msg, 'error');
      return;
    }
    show('Deleted ' + n.key, 'info');
    state.selected = null;
    renderDetail();
    await loadTree();
  } catch (e) {
    if (!(e instanceof AuthNeeded)) show(n.key + ': ' + e.message, 'error');
  }
}

async function create(ev) {
  ev.preventDefault();
  const key = normKey($('create-key').value);
  const params = new URLSearchParams();
  params.set('prevExist', 'false');
  if ($('create-dir').checked) params.set('dir', 'true');
  else params.set('value', $('create-value').value);
  if (!ttlParam(params, $('create-ttl').value)) return;
  const body = await write('PUT', key, params);
  if (body) {
    show('Created ' + body.node.key + ' at index ' + body.node.modifiedIndex, 'info');
    // Open the directories down to the new node so it shows in the tree.
    const segs = body.node.key.split('/').filter((s) => s);
    for (let i = 1; i < segs.length; i++) state.expanded.add('/' + segs.slice(0, i).join('/'));
    await select(body.node.key);
    await loadTree();
  }
}

// ---- watch ----

function stopWatch() {
  if (state.watch) state.watch.abort();
  state.watch = null;
  $('watch-start').disabled = false;
  $('watch-stop').disabled = true;
}

function addEvent(ev) {
  const li = el('li');
  const n = ev.node || {};
  li.dataset.action = ev.action;
  li.dataset.key = n.key || '';
  li.append(el('span', 'time', new Date().toLocaleTimeString() + ' '), el('span', 'action', ev.action + ' '),
    el('span', 'key', (n.key || '') + ' '));
  if (n.value !== undefined) li.append(el('span', 'value', '= ' + n.value + ' '));
  if (n.dir) li.append(el('span', 'value', '(directory) '));
  li.append(el('span', 'index', '@' + n.modifiedIndex));
  const list = $('watch-events');
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// WatchRefused is an answer that asking again would not change (a bad key, no permission);
// anything else (a lost connection, an election) is retried.
class WatchRefused extends Error {}

function watchError(res, body) {
  const msg = describeError(res, body || {});
  return res.status >= 400 && res.status < 500 ? new WatchRefused(msg) : new Error(msg);
}

function indexOf(res, body) {
  const h = Number(res.headers.get('X-Etcd-Index'));
  if (Number.isFinite(h) && h > 0) return h;
  return body && body.index ? Number(body.index) : 0;
}

async function startWatch(ev) {
  ev.preventDefault();
  stopWatch();
  const key = normKey($('watch-key').value);
  const recursive = $('watch-recursive').checked;
  const ctl = new AbortController();
  state.watch = ctl;
  $('watch-start').disabled = true;
  $('watch-stop').disabled = false;
  $('watch-events').replaceChildren();
  const stateEl = $('watch-state');
  let next = 0;
  let failures = 0;
  while (!ctl.signal.aborted) {
    try {
      if (next === 0) {
        // Start after the store's current index: a key that does not exist yet still answers it.
        const res = await api('GET', keyURL(key), null, ctl.signal);
        const body = await res.json().catch(() => null);
        if (!res.ok && res.status !== 404) throw watchError(res, body);
        next = indexOf(res, body) + 1;
        stateEl.textContent = 'watching ' + key + (recursive ? ' and below' : '') + ' from index ' + next;
        stateEl.dataset.state = 'watching';
      }
      const url = keyURL(key) + '?wait=true&waitIndex=' + next + (recursive ? '&recursive=true' : '');
      const res = await api('GET', url, null, ctl.signal);
      const body = await res.json().catch(() => null);
      if (body && body.errorCode === 401) {
        // The index fell out of the event history: start again from the current index.
        stateEl.textContent = 'missed events (history cleared); watching again';
        next = 0;
        continue;
      }
      if (!res.ok || !body) throw watchError(res, body);
      addEvent(body);
      next = body.node.modifiedIndex + 1;
      failures = 0;
    } catch (e) {
      if (ctl.signal.aborted || e instanceof AuthNeeded) break;
      if (e instanceof WatchRefused) {
        stateEl.textContent = 'watch refused: ' + e.message;
        stateEl.dataset.state = 'refused';
        break;
      }
      failures++;
      stateEl.textContent = 'watch interrupted (' + e.message + '); retrying';
      stateEl.dataset.state = 'retrying';
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(failures, 5))));
    }
  }
  if (state.watch === ctl) stopWatch();
  // A newer watch owns the state line; only a watch that ended on its own reports stopping.
  if (state.watch === null && stateEl.dataset.state !== 'refused') {
    stateEl.textContent = 'stopped';
    stateEl.dataset.state = 'stopped';
  }
}

// ---- start ----

async function boot() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('tree-refresh').addEventListener('click', loadTree);
  $('open-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    select(normKey($('open-key').value));
  });
  $('detail-save').addEventListener('click', save);
  $('detail-delete').addEventListener('click', () => { $('detail-delete-confirm').hidden = false; });
  $('detail-delete-confirm').addEventListener('click', remove);
  $('create-form').addEventListener('submit', create);
  $('watch-form').addEventListener('submit', startWatch);
  $('watch-stop').addEventListener('click', stopWatch);
  // The cluster view needs a signed-in user once auth is on: its answer tells whether to ask.
  try {
    await getJSON('/v1/cluster');
    started();
  } catch (e) {
    if (!(e instanceof AuthNeeded)) {
      show('Cluster view: ' + e.message, 'error');
      started();
    }
  }
}

document.addEventListener('DOMContentLoaded', boot);
