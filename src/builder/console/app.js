// The Dokkaa web console, served by every dokkaa-builder and compiled into it.
// Plain modern JavaScript: no framework, no build step, nothing fetched from
// elsewhere than the builder it came from.
//
// How it works: a view loads its data from /api/v1 and renders HTML text (html``
// escapes every value); paint() morphs the page into that text, so that focus,
// typed input, scroll positions and the streamed log text survive a refresh.
// Buttons and forms name their action in data-click / data-submit / data-input,
// handled by the current view. Views refresh from the /api/v1/events stream
// (debounced), never by polling.

const API = '/api/v1';
const $ = (sel) => document.querySelector(sel);
const enc = encodeURIComponent;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---- HTML text, every value escaped ----

class Raw { constructor(s) { this.s = s; } }
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const show = (v) => v == null || v === false ? '' : v instanceof Raw ? v.s
  : Array.isArray(v) ? v.map(show).join('') : esc(v);
const html = (strs, ...vals) => new Raw(strs.reduce((out, s, i) => out + show(vals[i - 1]) + s));

// ---- the API ----

const auth = { token: localStorage.getItem('dokkaa.token') || '', role: '', canWrite: false, error: '' };

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

const authHeaders = (h = {}) => (auth.token ? { ...h, Authorization: `Bearer ${auth.token}` } : h);

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(API + path, {
      method, cache: 'no-store',
      headers: authHeaders(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'unavailable', `cannot reach the builder (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: the text is the message */ }
  if (!res.ok) {
    throw new ApiError(res.status, data?.code || 'http',
      data?.error || text.trim() || `${res.status} ${res.statusText}`);
  }
  return data;
}

// An error as the operator should read it: what the server said, and what to do
// about a missing or read-only token.
function why(e) {
  if (e.status === 401) return `${e.message} (${auth.token ? 'check' : 'enter'} the token at the top right)`;
  if (e.status === 403) return `${e.message} (this token is read-only: changes need an admin token)`;
  return e.message;
}

const path = (app, name, rest = '') => `/apps/${enc(app)}${name == null ? '' : `/${enc(name)}`}${rest}`;

// ---- small formatters ----

function age(sec) {
  if (sec == null || sec < 0) return '';
  sec = Math.floor(sec);
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ${sec % 60}s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
  return `${Math.floor(sec / 86400)}d ${Math.floor((sec % 86400) / 3600)}h`;
}
const gib = (n) => (n ? `${(n / 2 ** 30).toFixed(1)} GiB` : '');
const clock = (t) => new Date(t).toTimeString().slice(0, 8);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The colour of a state: ok (running), warn (on its way), bad (failed), off.
function tone(state) {
  if (state === 'running') return 'ok';
  if (['failed', 'invalid', 'exited', 'dead', 'unknown'].includes(state)) return 'bad';
  if (['removing', 'paused', 'stopped'].includes(state)) return 'off';
  return 'warn'; // pending, created, restarting, ...
}
const pill = (text, t = tone(text), title = '') => html`<span class="pill ${t}" title="${title}">${text}</span>`;

// Rollouts (a manifest change is a new revision, rolled out in batches) and health.
const OUTCOME = { rolling: 'warn', 'rolled-out': 'ok', 'rolled-back': 'bad', paused: 'warn', failed: 'bad', superseded: 'off' };
const HEALTH = { healthy: 'ok', starting: 'warn', unhealthy: 'bad' };
// A rollout that is under way or stopped short, in a line; nothing once it rolled out.
function rolloutLine(r, app, name) {
  if (!r || !['rolling', 'rolled-back', 'paused', 'failed'].includes(r.state)) return '';
  return html`<div class="rollout">${pill(r.state, OUTCOME[r.state])} <span>revision ${r.revision} ${r.state === 'rolling'
    ? `rolling out${r.rollback ? ' (automatic rollback)' : ''}: ${r.updated}/${r.total} updated, ${r.failed} failed`
    : `${r.state.replace('-', ' ')}${r.reason ? `: ${r.reason}` : ''}`}</span>
    ${app ? html` <a href="#/apps/${enc(app)}/${enc(name)}/history">History</a>` : ''}</div>`;
}

// A manifest's health from its summary and instances: [tone, words].
function health(m, insts) {
  if (m.error) return ['bad', 'invalid'];
  if (insts.some((i) => tone(i.state) === 'bad')) return ['bad', 'failing'];
  if (m.desired === 0) return ['off', 'scaled to 0'];
  if (m.running >= m.desired) return ['ok', 'healthy'];
  return ['warn', m.running ? 'degraded' : 'starting'];
}
const worst = (tones) => ['bad', 'warn', 'ok', 'off'].find((t) => tones.includes(t)) || 'off';

// One square per instance, linking to its logs.
const dots = (insts) => insts.map((i) => html`<a class="dot ${tone(i.state)}"
  href="#/apps/${enc(i.app)}/${enc(i.name)}/${i.instance}/logs"
  title="${i.app}/${i.name}/${i.instance}: ${i.state}${i.host ? ` on ${i.host}` : ''}${i.error ? ` (${i.error})` : ''}"></a>`);

// DNS label without "--", as the API wants app and manifest names.
function badName(s) {
  if (!s) return 'required';
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s) || s.includes('--')) {
    return 'a-z, 0-9 and "-" only, at most 63, starting and ending with a letter or digit, no "--"';
  }
  return '';
}

const writeNote = () => (auth.canWrite ? '' : html`<p class="note">Read-only${auth.role ? ` (${auth.role})` : ''}:
  to create, scale or delete, enter an admin token at the top right.</p>`);
// Attributes of a control that changes things: disabled, and saying why, without a token.
const writeAttrs = () => new Raw(auth.canWrite ? '' : ' disabled title="Needs an admin token (top right)"');

// ---- the views ----
// A view: {key, title, load(), render(), wants(event), on: {actions}, stop(), update(next)}.

function AppsView() {
  return {
    key: 'apps', title: 'Apps',
    async load() {
      const [a, i] = await Promise.all([api('GET', '/apps'), api('GET', '/instances')]);
      this.apps = a.apps;
      this.insts = i.instances;
    },
    wants: (ev) => !!ev.app,
    render() {
      const of = (m) => this.insts.filter((i) => i.app === m.app && i.name === m.name);
      const rows = this.apps.map((a) => {
        const hs = a.manifests.map((m) => health(m, of(m)));
        const want = a.manifests.reduce((n, m) => n + m.desired, 0);
        const run = a.manifests.reduce((n, m) => n + m.running, 0);
        const t = worst(hs.map((h) => h[0]));
        return html`<tbody class="app" data-key="${a.app}">
          <tr class="group"><th colspan="3"><a href="#/apps/${enc(a.app)}">${a.app}</a>
            <span class="muted">${plural(a.manifests.length, 'manifest')}</span></th>
            <td class="num">${run}/${want}</td><td></td>
            <td>${pill(t === 'ok' ? 'healthy' : t === 'off' ? 'idle' : hs.find((h) => h[0] === t)[1], t)}</td></tr>
          ${a.manifests.map((m, k) => html`<tr>
            <td class="indent"><a href="#/apps/${enc(a.app)}" class="mono">${m.name}</a></td>
            <td class="mono">${m.manifest?.image}</td>
            <td class="mono muted">${Object.keys(m.manifest?.services || {}).join(', ')}</td>
            <td class="num">${m.running}/${m.desired}</td>
            <td class="dots">${dots(of(m))}</td>
            <td>${pill(hs[k][1], hs[k][0], m.error || '')}</td></tr>`)}
        </tbody>`;
      });
      return html`<div class="bar"><h1>Apps <span class="muted">${this.apps.length}</span></h1>
        <a class="btn primary" href="#/new">New manifest</a></div>
        ${this.apps.length ? html`<table class="grid apps">
          <thead><tr><th>App / manifest</th><th>Image</th><th>Services</th><th class="num">Running</th>
          <th>Instances</th><th>Health</th></tr></thead>${rows}</table>`
        : html`<p class="empty">No apps yet. <a href="#/new">Create a manifest</a> to run one.</p>`}`;
    },
  };
}

function AppView(app) {
  return {
    key: `app:${app}`, title: app, app, ticks: true, errs: {}, logs: null,
    async load() {
      const [a, i] = await Promise.all([api('GET', path(app)), api('GET', `/instances?app=${enc(app)}`)]);
      // Each manifest's rollout (null where the builder has none to say)
      const ro = await Promise.all(a.manifests.map((m) => api('GET', path(app, m.name, '/revisions'))
        .then((h) => h.rollout, () => null)));
      this.manifests = a.manifests;
      this.insts = i.instances;
      this.rollouts = Object.fromEntries(a.manifests.map((m, k) => [m.name, ro[k]]));
      this.at = Date.now();
    },
    wants: (ev) => ev.app === app,
    // Same app, other logs: keep the view, switch the stream.
    update(next) { this.follow(next.target); },
    stop() { this.follow(null); },
    follow(target) {
      if (this.logs?.target === target) return;
      this.logs?.ctl.abort();
      this.logs = target && { target, ctl: new AbortController(), state: 'connecting', error: '' };
      if (this.logs) streamLogs(this, this.logs);
      if (this.manifests) paint();
      if (this.logs) $('section.logs')?.scrollIntoView({ block: 'nearest' });
    },
    render() {
      const ago = (Date.now() - this.at) / 1000;
      const err = (k) => this.errs[k] && html`<div class="err" role="alert">${this.errs[k]}</div>`;
      const sub = (l, n) => l && html`<tr class="sub" data-key="rollout:${n}"><td colspan="6">${l}</td></tr>`;
      // (the scale field's writeAttrs() comes before its own title: of two, the first counts)
      const manifests = this.manifests.map((m) => html`<tr data-key="${m.name}">
        <td><span class="mono strong">${m.name}</span>${m.error ? html`<div class="err">${m.error}</div>` : ''}</td>
        <td class="mono">${m.manifest?.image}</td>
        <td class="mono muted">${Object.entries(m.manifest?.services || {})
          .map(([s, p]) => `${s}:${p?.port ?? p}`).join(' ')}${m.manifest?.links?.length ? ` → ${m.manifest.links.join(' ')}` : ''}</td>
        <td><form class="scale" data-submit="scale" data-name="${m.name}">
          <button type="button" data-click="step" data-name="${m.name}" data-d="-1"
            aria-label="Scale ${m.name} down"${writeAttrs()}>−</button><input name="scale" type="number"
            min="0" max="1000" value="${m.manifest?.scale ?? 1}" aria-label="Scale of ${m.name}"${writeAttrs()}
            title="Type a scale and press Enter"><button type="button" data-click="step"
            data-name="${m.name}" data-d="1" aria-label="Scale ${m.name} up"${writeAttrs()}>+</button>
        </form>${err(`scale:${m.name}`)}</td>
        <td class="num">${m.running}/${m.desired}</td>
        <td class="actions"><a class="btn" href="#/apps/${enc(app)}/${enc(m.name)}/history">History</a>
          <a class="btn" href="#/apps/${enc(app)}/${enc(m.name)}/edit">Edit</a>
          <button data-click="delete" data-name="${m.name}"${writeAttrs()}>Delete</button>${err(`delete:${m.name}`)}</td>
      </tr>${sub(rolloutLine(this.rollouts[m.name], app, m.name), m.name)}`);
      const sel = this.logs?.target;
      const insts = this.insts.map((i) => {
        const id = `${i.name}/${i.instance}`;
        const cur = this.rollouts[i.name]?.hash;
        return html`<tr data-key="${id}" class="${sel === id ? 'selected' : ''}">
          <td class="mono">${id}</td>
          <td>${pill(i.state)}</td>
          <td class="mono">${i.host ?? '—'}</td>
          <td>${i.health && pill(i.health, HEALTH[i.health] || 'off', 'its health check')}</td>
          <td class="mono" title="${i.hash}">${i.hash?.slice(0, 8) ?? '—'}${cur && i.hash && i.hash !== cur
            ? html` ${pill('old', 'off', `not the current revision (${cur.slice(0, 8)})`)}` : ''}${i.container?.endsWith('.next')
            ? html` ${pill('next', 'info', 'the new container of a start-first rollout')}` : ''}</td>
          <td class="num">${age(i.age_seconds == null ? null : i.age_seconds + ago)}</td>
          <td class="err-cell">${i.error}</td>
          <td class="mono muted">${i.container}</td>
          <td class="actions"><a class="btn" href="#/apps/${enc(app)}/${enc(i.name)}/${i.instance}/logs">Logs</a></td>
        </tr>`;
      });
      return html`<div class="bar"><h1><a href="#/apps">Apps</a> / ${app}</h1>
        <a class="btn" href="#/new/${enc(app)}">Add manifest</a>
        <button class="danger" data-click="delete-app"${writeAttrs()}>Delete app</button></div>
        ${err('app')}${writeNote()}
        <h2>Manifests</h2>
        <table class="grid"><thead><tr><th>Name</th><th>Image</th><th>Services → links</th><th>Scale</th>
          <th class="num">Running</th><th></th></tr></thead><tbody>${manifests}</tbody></table>
        <h2>Instances <span class="muted">${this.insts.length}</span></h2>
        ${this.insts.length ? html`<table class="grid instances"><thead><tr><th>Instance</th><th>State</th>
          <th>Host</th><th>Health</th><th>Revision</th><th class="num">Age</th><th>Error</th><th>Container</th><th></th></tr></thead>
          <tbody>${insts}</tbody></table>` : html`<p class="empty">No instances: every manifest is scaled to 0.</p>`}
        ${this.logs ? logPanel(app, this.logs) : ''}`;
    },
    on: {
      step(d, el) {
        const input = el.form.elements.scale;
        const n = Math.max(0, (parseInt(input.value, 10) || 0) + Number(d.d));
        input.value = n;
        this.scale(d.name, n);
      },
      scale(d, form) {
        const v = form.elements.scale.value.trim();
        if (!/^\d+$/.test(v)) { this.errs[`scale:${d.name}`] = 'a whole number, 0..1000'; paint(); return; }
        this.scale(d.name, Number(v));
      },
      async delete(d) {
        if (!confirm(`Delete the manifest ${app}/${d.name}? Its containers are stopped and removed.`)) return;
        try {
          await api('DELETE', path(app, d.name));
          toast(`Deleted ${app}/${d.name}`);
          if (this.manifests.length === 1) location.hash = '#/apps';
          else refresh();
        } catch (e) { this.errs[`delete:${d.name}`] = why(e); paint(); }
      },
      async 'delete-app'() {
        const names = this.manifests.map((m) => m.name).join(', ');
        if (!confirm(`Delete the app ${app} and its manifests (${names})? Their containers are stopped and removed.`)) return;
        try {
          await api('DELETE', path(app));
          toast(`Deleted app ${app}`);
          location.hash = '#/apps';
        } catch (e) { this.errs.app = why(e); paint(); }
      },
      'logs-clear'() { const pre = $('#logs'); if (pre) pre.textContent = ''; },
      'logs-again'() {
        const t = this.logs?.target;
        this.on['logs-clear']();
        this.logs = null;
        this.follow(t);
      },
    },
    async scale(name, n) {
      delete this.errs[`scale:${name}`];
      try {
        await api('PUT', path(app, name, '/scale'), { scale: n });
        toast(`Scaled ${app}/${name} to ${n}`);
      } catch (e) { this.errs[`scale:${name}`] = why(e); }
      refresh();
    },
  };
}

function logPanel(app, l) {
  const words = { connecting: 'connecting…', following: 'following', ended: 'the stream ended', failed: 'failed' };
  return html`<section class="logs" aria-label="Logs">
    <div class="bar"><h2>Logs <span class="mono">${app}/${l.target}</span></h2>
      <span class="pill ${l.state === 'following' ? 'ok' : l.state === 'failed' ? 'bad' : 'off'}">${words[l.state]}</span>
      ${l.error ? html`<span class="err" role="alert">${l.error}</span>` : ''}
      <span class="grow"></span>
      ${l.state === 'ended' || l.state === 'failed' ? html`<button data-click="logs-again">Reconnect</button>` : ''}
      <button data-click="logs-clear">Clear</button>
      <a class="btn" href="#/apps/${enc(app)}">Close</a></div>
    <pre id="logs" data-keep data-key="${l.target}" tabindex="0"></pre></section>`;
}

// Follow an instance's output into the view's log panel until l.ctl is aborted.
async function streamLogs(view, l) {
  const [name, i] = l.target.split('/');
  const set = (state, error = '') => { if (view.logs === l) { Object.assign(l, { state, error }); paint(); } };
  try {
    const res = await fetch(`${API}${path(view.app, name, `/instances/${i}/logs?follow=1&tail=200`)}`,
      { headers: authHeaders(), signal: l.ctl.signal, cache: 'no-store' });
    if (!res.ok) {
      const t = await res.text();
      let m = t;
      try { m = JSON.parse(t).error; } catch { /* text */ }
      throw new ApiError(res.status, '', m || res.statusText);
    }
    set('following');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const pre = $('#logs');
      if (!pre) continue;
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(value);
      while (pre.childNodes.length > 2000) pre.firstChild.remove(); // keep the page light
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    set('ended');
  } catch (e) {
    if (!l.ctl.signal.aborted) set('failed', why(e));
  }
}

function HostsView() {
  return {
    key: 'hosts', title: 'Hosts',
    async load() {
      const [h, i] = await Promise.all([api('GET', '/hosts'), api('GET', '/instances')]);
      this.hosts = h.hosts;
      this.insts = i.instances;
    },
    wants: (ev) => ['host', 'cluster', 'status', 'instance'].includes(ev.kind),
    render() {
      const max = Math.max(1, ...this.hosts.map((h) => h.instances));
      const rows = this.hosts.map((h) => {
        const mine = this.insts.filter((i) => i.host === h.id);
        return html`<tr data-key="${h.id}">
          <td><span class="mono strong">${h.id}</span>
            ${h.leader ? html` <span class="pill info" title="This host's conductor is the elected scheduler">scheduler</span>` : ''}</td>
          <td class="mono">${h.addr}</td>
          <td class="num">${h.cpus}</td><td class="num">${gib(h.memory)}</td>
          <td class="num">${h.running}/${h.instances}</td>
          <td><div class="load" title="${h.running} running of ${h.instances} placed">
            <span style="width:${(100 * h.instances) / max}%"><i style="width:${h.instances ? (100 * h.running) / h.instances : 0}%"></i></span></div></td>
          <td class="chips">${mine.slice(0, 24).map((i) => html`<a class="chip ${tone(i.state)}"
            href="#/apps/${enc(i.app)}/${enc(i.name)}/${i.instance}/logs" title="${i.state}">${i.app}/${i.name}/${i.instance}</a>`)}
            ${mine.length > 24 ? html`<span class="muted">+${mine.length - 24}</span>` : ''}</td>
          <td class="mono muted">${h.version}${Object.entries(h.labels || {}).map(([k, v]) => ` ${k}=${v}`).join('')}</td>
        </tr>`;
      });
      return html`<div class="bar"><h1>Hosts <span class="muted">${this.hosts.length}</span></h1></div>
        ${this.hosts.length ? html`<table class="grid hosts"><thead><tr><th>Host</th><th>Address</th><th class="num">CPUs</th>
          <th class="num">Memory</th><th class="num">Running</th><th>Load</th><th>Instances</th><th>Version, labels</th></tr></thead>
          <tbody>${rows}</tbody></table>` : html`<p class="empty">No live hosts: no conductor has registered.</p>`}`;
    },
  };
}

function EventsView() {
  return {
    key: 'events', title: 'Events', filter: '',
    wants: () => true,
    render() {
      const f = this.filter.toLowerCase();
      const shown = feed.list.filter((e) => !f || `${e.type} ${e.kind} ${e.key} ${e.value}`.toLowerCase().includes(f))
        .slice(-300).reverse();
      const rows = shown.map((e) => html`<tr data-key="${e.seq}" class="${e.type === 'resync' ? 'resync' : ''}">
        <td class="mono muted">${clock(e.at)}</td>
        <td class="num mono">${e.revision}</td>
        <td>${pill(e.type, e.type === 'delete' ? 'bad' : e.type === 'put' ? 'ok' : 'info')}</td>
        <td>${e.kind}</td>
        <td class="mono">${e.app ? html`<a href="#/apps/${enc(e.app)}">${e.key}</a>` : e.key}</td>
        <td class="mono muted value" title="${e.value}">${e.value}</td></tr>`);
      return html`<div class="bar"><h1>Events <span class="muted">${feed.list.length}</span></h1>
        <input type="search" placeholder="Filter" aria-label="Filter events" data-input="filter" value="${this.filter}">
        <button data-click="clear">Clear</button></div>
        <p class="muted small">Every change of a manifest, placement, status, host, service or link since this page
          opened, newest first, as the builder's event stream reports it.</p>
        ${shown.length ? html`<table class="grid events"><thead><tr><th>Time</th><th class="num">Revision</th><th>Type</th>
          <th>Kind</th><th>Key</th><th>Value</th></tr></thead><tbody>${rows}</tbody></table>`
        : html`<p class="empty">${feed.list.length ? 'No event matches the filter.' : 'No changes yet: they appear here as they happen.'}</p>`}`;
    },
    on: {
      filter(d, el) { this.filter = el.value; paint(); },
      clear() { feed.list.length = 0; paint(); },
    },
  };
}

// A manifest's kept revisions, newest first; an admin may write one back.
function HistoryView(app, name) {
  return {
    key: `history:${app}/${name}`, title: `History of ${app}/${name}`, said: null,
    async load() { this.h = await api('GET', path(app, name, '/revisions')); },
    wants: (ev) => ev.app === app && ev.name === name,
    render() {
      const s = this.said;
      const rows = this.h.revisions.map((r) => html`<tr data-key="${r.revision}" class="${r.current ? 'selected' : ''}">
        <td class="num">${r.revision}</td>
        <td>${pill(r.outcome, OUTCOME[r.outcome] || 'off')}${r.current ? html` ${pill('current', 'info')}` : ''}</td>
        <td>${r.by}</td>
        <td class="mono muted">${r.at?.replace('T', ' ')}</td>
        <td class="err-cell">${r.reason}</td>
        <td class="mono" title="${typeof r.manifest === 'string' ? r.manifest : JSON.stringify(r.manifest, null, 1)}"
          >${r.hash.slice(0, 8)} <span class="muted">${r.manifest?.image}</span></td>
        <td class="actions">${auth.canWrite && !r.current
          ? html`<button data-click="rollback" data-r="${r.revision}">Roll back to this</button>` : ''}</td></tr>`);
      return html`<div class="bar"><h1><a href="#/apps">Apps</a> / <a href="#/apps/${enc(app)}">${app}</a> / ${name} / History</h1>
        ${auth.canWrite ? html`<button class="danger" data-click="rollback"
          title="Write back the newest revision that rolled out healthy">Rollback</button>` : ''}</div>
        ${rolloutLine(this.h.rollout)}
        ${s && html`<p class="${s[0]}" role="${s[0] === 'ok' ? 'status' : 'alert'}" id="said">${s[1]}</p>`}
        ${this.h.revisions.length ? html`<table class="grid revisions"><thead><tr><th class="num">Revision</th><th>Outcome</th>
          <th>By</th><th>At</th><th>Reason</th><th>Manifest</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
        : html`<p class="empty">No revisions recorded yet.</p>`}`;
    },
    on: {
      async rollback(d) {
        const to = d.r ? `revision ${d.r}` : 'the last revision that rolled out healthy';
        if (!confirm(`Roll ${app}/${name} back to ${to}? It rolls out as a new revision.`)) return;
        try {
          const a = await api('POST', path(app, name, '/rollback'), d.r ? { revision: Number(d.r) } : {});
          this.said = ['ok', `Rolling back to revision ${a.revision} (${a.hash.slice(0, 8)}): the builder wrote it back; its rollout follows.`];
        } catch (e) { this.said = ['err', why(e)]; }
        refresh();
      },
    },
  };
}

const EXAMPLES = {
  nginx: { image: 'dockerfile/nginx', scale: 1, services: { nginx: 80 } },
  worker: {
    image: 'dockerfile/ubuntu', scale: 1, links: ['nginx'],
    command: ['/bin/bash', '-c', 'while true; do curl -s http://$SERVICE_NGINX_ADDR:$SERVICE_NGINX_PORT | head -4; sleep 2; done'],
  },
};

// New (name == null) or edit a manifest.
function EditView(app = '', name = null) {
  const creating = name == null;
  return {
    key: `edit:${app}/${name}`, title: creating ? 'New manifest' : `Edit ${app}/${name}`,
    app, name: name || '', text: '', errs: {}, ok: '', stale: 0, rev: 0, seq: 0, timer: 0,
    async load() {
      if (this.loaded && !this.force) return; // never over what is being typed
      this.force = false;
      if (creating) {
        if (!this.text) this.text = JSON.stringify(EXAMPLES.nginx, null, 2);
        return;
      }
      const m = await api('GET', path(app, name));
      this.text = m.manifest ? JSON.stringify(m.manifest, null, 2) : '';
      this.rev = m.revision;
      this.stale = 0;
      if (m.error) this.errs.manifest = `stored manifest: ${m.error}`;
    },
    // Someone else changed what is being edited: say so, keep what was typed.
    wants(ev) {
      if (!creating && ev.kind === 'manifest' && ev.app === app && ev.name === name && ev.revision > this.rev) {
        this.stale = ev.revision;
        paint();
      }
      return false;
    },
    stop() { clearTimeout(this.timer); },
    render() {
      const err = (k) => this.errs[k] && html`<div class="err" role="alert" id="err-${k}">${this.errs[k]}</div>`;
      const bad = (k) => new Raw(this.errs[k] ? `aria-invalid="true" aria-describedby="err-${k}"` : '');
      return html`<div class="bar"><h1><a href="#/apps">Apps</a> / ${creating ? 'New manifest'
        : html`<a href="#/apps/${enc(app)}">${app}</a> / ${name}`}</h1></div>
        ${writeNote()}
        ${this.stale ? html`<p class="note">This manifest changed on the server (revision ${this.stale}) since it was
          opened here. <button data-click="reload">Reload it</button> (what you typed is lost), or save to replace it.</p>` : ''}
        <div class="editor">
        <form data-submit="save" novalidate>
          <div class="fields">
            <label>App<input name="app" value="${this.app}" data-input="field" spellcheck="false"
              ${creating ? '' : new Raw('readonly')} placeholder="e.g. dummy" ${bad('app')}>${err('app')}</label>
            <label>Name<input name="name" value="${this.name}" data-input="field" spellcheck="false"
              ${creating ? '' : new Raw('readonly')} placeholder="e.g. nginx" ${bad('name')}>${err('name')}</label>
          </div>
          <label for="manifest">Manifest <span class="muted">(JSON${this.rev ? `, revision ${this.rev}` : ''})</span></label>
          <textarea id="manifest" name="manifest" rows="16" spellcheck="false" data-input="text"
            ${bad('manifest')}>${this.text}</textarea>
          ${err('manifest')}${this.ok && !this.errs.manifest ? html`<div class="ok" role="status">${this.ok}</div>` : ''}
          <div class="actions">
            <button type="button" data-click="validate"${writeAttrs()}>Validate</button>
            <button class="primary"${writeAttrs()}>${creating ? 'Create' : 'Save'}</button>
            <a class="btn" href="${creating ? (app ? `#/apps/${enc(app)}` : '#/apps') : `#/apps/${enc(app)}`}">Cancel</a>
            ${err('form')}
          </div>
        </form>
        <aside class="help">
          <h3>Fields</h3>
          <dl>
            <dt>image</dt><dd>string, required: a Docker image</dd>
            <dt>scale</dt><dd>integer 0..1000, default 1</dd>
            <dt>command</dt><dd>array of strings, instead of the image's</dd>
            <dt>services</dt><dd>name → container port, announced while it runs</dd>
            <dt>links</dt><dd>services of the same app it uses: <code>SERVICE_&lt;NAME&gt;_ADDR</code>, <code>_PORT</code></dd>
            <dt>env</dt><dd>NAME → string</dd>
          </dl>
          <p>Examples: ${Object.keys(EXAMPLES).map((k, i) => html`${i ? ' · ' : ''}<button type="button" class="link"
            data-click="example" data-k="${k}">${k}</button>`)}</p>
          <p class="muted">Names are DNS labels without "--". Validate checks with the builder (a dry run) and stores nothing.</p>
        </aside></div>`;
    },
    on: {
      field(d, el) { this[el.name] = el.value.trim(); delete this.errs[el.name]; this.ok = ''; paint(); },
      text(d, el) {
        this.text = el.value;
        this.ok = '';
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.check(auth.canWrite && !badName(this.app) && !badName(this.name)), 500);
      },
      example(d) { this.text = JSON.stringify(EXAMPLES[d.k], null, 2); this.check(false); },
      validate() { this.check(true); },
      save() { this.save(); },
      reload() { this.force = true; this.errs = {}; refresh(); },
    },
    // Check locally (names, JSON); with server, also ask the builder (a dry run).
    // true when nothing is wrong.
    async check(server, names = server) {
      const seq = ++this.seq;
      this.errs = {};
      this.ok = '';
      if (names) {
        for (const k of ['app', 'name']) if (badName(this[k])) this.errs[k] = `${k}: ${badName(this[k])}`;
      }
      try {
        const v = JSON.parse(this.text);
        if (!v || typeof v !== 'object' || Array.isArray(v)) this.errs.manifest = 'a manifest is a JSON object: {"image": ...}';
      } catch (e) {
        this.errs.manifest = `not JSON: ${e.message}`;
      }
      if (server && !Object.keys(this.errs).length) {
        try {
          await api('PUT', path(this.app, this.name, '?dry_run=1'), this.text);
          if (seq === this.seq) this.ok = 'Valid.';
        } catch (e) {
          if (seq === this.seq) this.errs[e.status === 400 || e.status === 413 ? 'manifest' : 'form'] = why(e);
        }
      }
      if (seq === this.seq) paint();
      return seq === this.seq && !Object.keys(this.errs).length;
    },
    async save() {
      if (!(await this.check(false, true))) return;
      const seq = ++this.seq;
      try {
        if (creating) {
          // PUT replaces: say so rather than overwrite what exists by surprise.
          const exists = await api('GET', path(this.app, this.name)).then(() => true, (e) => {
            if (e.status === 404) return false;
            throw e;
          });
          if (exists) {
            this.errs.name = `name: ${this.app}/${this.name} exists already; edit it instead`;
            paint();
            return;
          }
        }
        await api('PUT', path(this.app, this.name), this.text);
        toast(`${creating ? 'Created' : 'Saved'} ${this.app}/${this.name}`);
        location.hash = `#/apps/${enc(this.app)}`;
      } catch (e) {
        if (seq !== this.seq) return;
        if (e.status === 400 || e.status === 413) this.errs.manifest = `${why(e)} (nothing was stored)`;
        else this.errs.form = why(e);
        paint();
      }
    },
  };
}

const ROUTES = [
  [/^#\/apps\/([^/]+)\/([^/]+)\/edit$/, (a, n) => EditView(a, n)],
  [/^#\/apps\/([^/]+)\/([^/]+)\/history$/, HistoryView],
  [/^#\/apps\/([^/]+)\/([^/]+)\/(\d+)\/logs$/, (a, n, i) => Object.assign(AppView(a), { target: `${n}/${i}` })],
  [/^#\/apps\/([^/]+)$/, (a) => AppView(a)],
  [/^#\/apps$/, AppsView],
  [/^#\/hosts$/, HostsView],
  [/^#\/events$/, EventsView],
  [/^#\/new(?:\/([^/]+))?$/, (a) => EditView(a)],
];

// ---- painting: morph the live DOM into freshly rendered text ----

const main = $('#view');

function morph(from, to) {
  if (from.nodeType !== 1) {
    if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
    return;
  }
  for (const a of [...from.attributes]) if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
  for (const a of to.attributes) if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
  if (to.hasAttribute('data-keep')) return; // filled by a stream, not by render()
  morphChildren(from, to);
  // What the user is typing stays; anything else shows the data.
  if (/^(INPUT|TEXTAREA|SELECT)$/.test(from.tagName) && from !== document.activeElement && from.value !== to.value) {
    from.value = to.value;
  }
}

function morphChildren(from, to) {
  const a = [...from.childNodes];
  const b = [...to.childNodes];
  b.forEach((y, k) => {
    const x = a[k];
    if (!x) from.append(y);
    else if (x.nodeName !== y.nodeName || x.nodeType !== y.nodeType
      || (x.nodeType === 1 && x.getAttribute('data-key') !== y.getAttribute('data-key'))) x.replaceWith(y);
    else morph(x, y);
  });
  for (let k = a.length - 1; k >= b.length; k--) a[k].remove();
}

function paint() {
  if (!view) return;
  const t = document.createElement('template');
  const e = view.error;
  t.innerHTML = show(html`${e ? html`<div class="banner" role="alert">${why(e)}</div>` : ''}${view.loaded ? view.render()
    : e ? html`<a href="#/apps">← Apps</a>` : ''}`);
  morphChildren(main, t.content);
}

// ---- routing and refreshing ----

let view = null;
let loading = null; // the refresh running, if one is
let again = false;

function navigate() {
  const hash = location.hash || '#/apps';
  let next = null;
  for (const [re, make] of ROUTES) {
    const m = hash.match(re);
    if (m) { next = make(...m.slice(1).map((s) => s && decodeURIComponent(s))); break; }
  }
  if (!next) { location.replace('#/apps'); return; }
  const section = /^#\/(hosts|events)/.exec(hash)?.[0] || '#/apps';
  for (const a of $('#nav').children) {
    if (a.getAttribute('href') === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (view?.key === next.key && view.update) { view.update(next); return; }
  view?.stop?.();
  view = next;
  document.title = `${view.title} · Dokkaa`;
  main.replaceChildren();
  const v = view;
  refresh().then(() => v === view && v.target && v.follow(v.target));
  window.scrollTo(0, 0);
}

// Load the current view's data and paint it. A call while a load runs makes one
// more, and its promise ends with that one.
function refresh() {
  if (loading) { again = true; return loading; }
  main.setAttribute('aria-busy', 'true');
  loading = (async () => {
    do {
      again = false;
      const v = view;
      try {
        await v.load?.();
        v.loaded = true;
        v.error = null;
      } catch (e) {
        v.error = e;
      }
      if (v === view) paint();
    } while (again);
    loading = null;
    main.setAttribute('aria-busy', 'false');
  })();
  return loading;
}

let pending = 0;
function schedule(ms = 250) {
  if (!pending) pending = setTimeout(() => { pending = 0; refresh(); }, ms);
}

// Actions, delegated to the current view.
function act(kind, e) {
  const el = e.target.closest(`[data-${kind}]`);
  const f = el && view?.on?.[el.dataset[kind]];
  if (!f || el.disabled) return;
  if (kind !== 'input') e.preventDefault();
  f.call(view, el.dataset, el, e);
}
document.addEventListener('click', (e) => act('click', e));
document.addEventListener('submit', (e) => act('submit', e));
document.addEventListener('input', (e) => act('input', e));

setInterval(() => { if (view?.ticks && view.loaded && !document.hidden) paint(); }, 1000);

let toastTimer = 0;
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.className = 'shown';
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = ''; }, 4000);
}

// ---- who am I ----

async function whoami() {
  try {
    const w = await api('GET', '/whoami');
    Object.assign(auth, { role: w.role, canWrite: !!w.can_write, error: '' });
  } catch (e) {
    Object.assign(auth, { role: '', canWrite: false, error: e.status === 401 ? 'token refused' : 'builder unreachable', why: e.message });
  }
  const r = $('#role');
  r.textContent = auth.role || 'unknown';
  r.className = `role ${auth.canWrite ? 'ok' : auth.role === 'read-only' ? 'info' : 'off'}`;
  r.title = auth.canWrite ? 'This token may change the cluster'
    : 'Read-only: changes need an admin token';
  $('#auth-error').textContent = auth.error;
  $('#auth-error').title = auth.why || '';
  $('#token').value = auth.token;
  if (view?.loaded) paint();
}

$('#auth').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken($('#token').value.trim());
});
$('#forget').addEventListener('click', () => setToken(''));

async function setToken(t) {
  auth.token = t;
  if (t) localStorage.setItem('dokkaa.token', t);
  else localStorage.removeItem('dokkaa.token');
  await whoami();
  feed.restart();
  refresh();
}

// ---- the event feed: SSE read with fetch, so that it carries the token ----

const feed = {
  list: [], // the recent events, oldest first
  seq: 0,
  lastId: '',
  ctl: null,
  restart() { this.lastId = ''; this.ctl?.abort(); },
};

function setLive(state, text = state) {
  const l = $('#live');
  l.className = `live ${state}`;
  l.textContent = text;
}

async function runFeed() {
  for (let delay = 1000, first = true; ; first = false) {
    const ctl = (feed.ctl = new AbortController());
    setLive('connecting', 'connecting');
    try {
      const res = await fetch(`${API}/events`, {
        headers: authHeaders(feed.lastId ? { 'Last-Event-ID': feed.lastId } : {}),
        signal: ctl.signal, cache: 'no-store',
      });
      if (!res.ok) throw new ApiError(res.status, '', `${res.status} ${res.statusText}`);
      setLive('on', 'live');
      delay = 1000;
      if (!first) schedule(0); // changes may have been missed while away
      await readEvents(res.body, onEvent);
    } catch (e) {
      if (ctl.signal.aborted) continue; // a new token: reconnect at once
      setLive('off', e.status === 401 ? 'needs a token' : 'offline');
    }
    if (!ctl.signal.aborted) {
      setLive('off', `offline, retrying in ${delay / 1000}s`);
      await sleep(delay);
      delay = Math.min(delay * 2, 16000);
    }
  }
}

// Parse text/event-stream from a response body; on({id, event, data}) per event.
async function readEvents(body, on) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let data = [];
  let event = '';
  let id = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (let line of lines) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length || event) on({ id, event: event || 'message', data: data.join('\n') });
        data = [];
        event = '';
        continue;
      }
      if (line[0] === ':') continue; // a keep-alive
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const v = c < 0 ? '' : line.slice(c + (line[c + 1] === ' ' ? 2 : 1));
      if (field === 'data') data.push(v);
      else if (field === 'event') event = v;
      else if (field === 'id') id = v;
    }
  }
}

function onEvent(m) {
  if (m.id) feed.lastId = m.id;
  let d;
  if (m.event === 'resync') {
    d = { type: 'resync', kind: 'all', key: 'the builder re-read the cluster: views reloaded', value: '' };
  } else {
    try { d = JSON.parse(m.data); } catch { return; }
    d.value = d.value == null || typeof d.value === 'string' ? d.value ?? '' : JSON.stringify(d.value);
  }
  d.at = Date.now();
  d.seq = ++feed.seq;
  feed.list.push(d);
  if (feed.list.length > 1000) feed.list.splice(0, feed.list.length - 1000);
  if (d.type === 'resync' || view?.wants?.(d)) schedule(view?.key === 'events' ? 100 : 250);
}

// ---- start ----

runFeed();
await whoami(); // before the first paint, so that write controls do not flicker
window.addEventListener('hashchange', navigate);
navigate();
