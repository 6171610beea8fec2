#!/usr/bin/env node
// tests/console/console.test.mjs - the web console, end to end, in headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core), against a running cluster:
// first load under 100 KB, token, create an app, scale it, see its instances run,
// read logs (also of an instance on the other host than the builder's), a bad
// manifest's inline error with nothing stored, the live event feed, hosts, delete.
//
//   DOKKAA_API=http://10.88.0.11:4001 DOKKAA_TOKEN=dk_... node console.test.mjs
//
// DOKKAA_ARTIFACTS: where the screenshots go (default build/artifacts/console/);
// DOKKAA_WAIT: seconds to wait for containers to converge (default 90);
// CHROMIUM: the browser (default /usr/bin/chromium).
// Prints one line per step and ends with "N passed, N failed"; exits non-zero on a
// failure. Every wait is bounded; the app it makes is deleted also on failure.
import { apiClient, launch, makeRunner, settings } from './steps.mjs';

const { API, TOKEN, OUT, WAIT } = settings(); // usage and exit 2 without API or TOKEN
const BUDGET = 100 * 1024; // the first load, every response counted
const APP = `console-${process.pid}`;
const NGINX = { image: 'dockerfile/nginx', scale: 1, services: { web: 80 } };
const TALKER = {
  image: 'dockerfile/ubuntu', scale: 1,
  command: ['/bin/bash', '-c', 'i=0; while true; do i=$((i+1)); echo "talker line $i"; sleep 1; done'],
};

// The API straight from here, for what the test checks behind the console's back.
const { api } = apiClient(API, TOKEN);

// ---- the steps ----

const { context, page } = await launch();
page.setDefaultNavigationTimeout(15000);
const { step, shot, scriptErrors, run } = makeRunner({ page, out: OUT }); // screenshots NN-name.png
const origin = new URL(API).origin;
const offsite = [];
page.on('request', (r) => { if (!r.url().startsWith('data:') && new URL(r.url()).origin !== origin) offsite.push(r.url()); });
page.on('dialog', (d) => d.accept()); // the console's "Delete ...?" confirmations

const busy = () => page.waitForSelector('main[aria-busy="false"]');
const go = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); await busy(); };
const text = (sel) => page.locator(sel).innerText();

// Wait until n instances of name show "running" in the app view's table.
async function running(name, n) {
  try {
    await page.waitForFunction(([name, n]) => [...document.querySelectorAll('table.instances tbody tr')]
      .filter((tr) => tr.cells[0].textContent.startsWith(`${name}/`) && tr.cells[1].textContent.trim() === 'running')
      .length === n, [name, n], { timeout: WAIT, polling: 250 });
  } catch (e) {
    const rows = await page.locator('table.instances tbody tr').allInnerTexts().catch(() => []);
    throw new Error(`${n} running ${name} instances not shown within ${WAIT / 1000}s; rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' | ') || 'none'}`);
  }
}

// Create a manifest through the editor, from wherever the "New manifest" or
// "Add manifest" link is.
async function create(link, name, manifest, withApp) {
  await page.getByRole('link', { name: link, exact: true }).click();
  await page.waitForSelector('form[data-submit="save"]');
  if (withApp) await page.fill('input[name="app"]', APP);
  else if ((await page.inputValue('input[name="app"]')) !== APP) throw new Error('the app is not filled in');
  await page.fill('input[name="name"]', name);
  await page.fill('textarea[name="manifest"]', JSON.stringify(manifest, null, 2));
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForFunction((h) => location.hash === h, `#/apps/${APP}`);
  await busy();
  await page.locator(`tr[data-key="${name}"]`).waitFor();
}

step('first load is under 100 KB, all of it from the builder', async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const seen = new Map();
  cdp.on('Network.responseReceived', (e) => seen.set(e.requestId, { url: e.response.url, bytes: e.response.encodedDataLength, data: 0 }));
  cdp.on('Network.dataReceived', (e) => { const r = seen.get(e.requestId); if (r) r.data += e.dataLength; });
  cdp.on('Network.loadingFinished', (e) => { const r = seen.get(e.requestId); if (r) r.total = e.encodedDataLength; });
  await page.goto(`${API}/`);
  await busy();
  await page.waitForSelector('#live.on'); // the event stream is open
  await page.waitForFunction(() => !['…', 'unknown', ''].includes(document.querySelector('#role').textContent));
  // A finished response counts what went over the wire (headers included); the
  // event stream, still open, counts its headers and what it brought so far.
  const list = [...seen.values()].map((r) => ({ ...r, size: r.total ?? r.bytes + r.data }));
  const total = list.reduce((n, r) => n + r.size, 0);
  await shot('first-load');
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const detail = list.map((r) => `${new URL(r.url).pathname.replace(/^.*\//, '') || '/'} ${kb(r.size)}`).join(', ');
  if (offsite.length) throw new Error(`requests to elsewhere than ${origin}: ${offsite.join(' ')}`);
  if (total >= BUDGET) throw new Error(`first load ${kb(total)} >= 100 KB: ${detail}`);
  await cdp.detach();
  return `${kb(total)} in ${list.length} responses: ${detail}`;
});

step('without a token the write controls say one is needed', async () => {
  await go('#/new');
  const note = await text('.note');
  if (!/admin token/.test(note)) throw new Error(`no token note, got: ${note}`);
  if (!(await page.getByRole('button', { name: 'Create' }).isDisabled())) throw new Error('Create is enabled without a token');
  await shot('read-only');
});

step('the admin token is taken and its role shown', async () => {
  await page.fill('#token', TOKEN);
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.waitForFunction(() => document.querySelector('#role').textContent === 'admin');
  await page.waitForSelector('#live.on');
  if (await page.locator('.note').count()) throw new Error('the read-only note is still shown');
  await shot('token');
});

step('create an app: nginx with a service, 1 instance runs', async () => {
  await go('#/apps');
  await create('New manifest', 'web', NGINX, true);
  await running('web', 1);
  await shot('app-created');
});

step('scale it to 2 with the + control: 2 instances run', async () => {
  await page.getByRole('button', { name: 'Scale web up' }).click();
  await page.waitForFunction(() => document.querySelector('tr[data-key="web"] input[name="scale"]').value === '2');
  await running('web', 2);
  const m = await api('GET', `/apps/${APP}/web`);
  if (m.body.manifest.scale !== 2) throw new Error(`stored scale ${m.body.manifest.scale}, not 2`);
  const hosts = await page.locator('table.instances tbody tr').evaluateAll((trs) => trs.map((tr) => tr.cells[2].textContent));
  await shot('scaled-to-2');
  return `on ${hosts.join(', ')}`;
});

step("read an instance's logs as they come", async () => {
  await create('Add manifest', 'talker', TALKER, false);
  await running('talker', 1);
  await page.locator('tr[data-key="talker/0"]').getByRole('link', { name: 'Logs' }).click();
  await page.locator('#logs').waitFor();
  const lines = () => (document.querySelector('#logs')?.textContent.match(/talker line \d+/g) || []).length;
  const n = await (await page.waitForFunction(lines, null, { timeout: 30000 })).jsonValue();
  // More lines arrive while we watch: it follows. (A function, not a string: the
  // console's Content-Security-Policy forbids eval, for the test's code too.)
  await page.waitForFunction((want) => (document.querySelector('#logs')?.textContent
    .match(/talker line \d+/g) || []).length >= want, n + 2, { timeout: 30000 });
  await shot('logs');
});

step('scale by typing 2 and Enter; read the logs of an instance on the other host', async () => {
  const input = page.locator('tr[data-key="talker"] input[name="scale"]');
  await input.fill('2');
  await input.press('Enter');
  await running('talker', 2);
  // The builder asked is on one host; the logs of an instance elsewhere come through it.
  const self = (await api('GET', '/hosts')).body.hosts.find((h) => h.addr === new URL(API).hostname)?.id;
  const rows = await page.locator('table.instances tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [tr.cells[0].textContent.trim(), tr.cells[2].textContent.trim()]));
  const other = rows.find(([id, host]) => id.startsWith('talker/') && host !== self);
  if (!other) throw new Error(`no talker instance on another host than ${self}: ${JSON.stringify(rows)}`);
  await page.locator(`tr[data-key="${other[0]}"]`).getByRole('link', { name: 'Logs' }).click();
  await page.waitForFunction((id) => document.querySelector(`#logs[data-key="${id}"]`)
    && (document.querySelector('#logs').textContent.match(/talker line \d+/g) || []).length >= 2, other[0], { timeout: 30000 });
  await shot('logs-other-host');
  return `${other[0]} on ${other[1]}, through the builder of ${self}`;
});

step('a bad manifest gets its error inline, and nothing is stored', async () => {
  const before = (await api('GET', `/apps/${APP}/web`)).body;
  await page.locator('tr[data-key="web"]').getByRole('link', { name: 'Edit' }).click();
  await page.waitForSelector('form[data-submit="save"]');
  await busy();
  const edited = (await page.inputValue('textarea[name="manifest"]')).replace(/"scale": \d+/, '"scale": "3"');
  if (!edited.includes('"scale": "3"')) throw new Error(`the editor holds no scale: ${edited}`);
  await page.fill('textarea[name="manifest"]', edited);
  await page.getByRole('button', { name: 'Validate' }).click();
  const err = page.locator('#err-manifest');
  await page.waitForFunction(() => /scale: must be an integer 0\.\.1000/.test(document.querySelector('#err-manifest')?.textContent || ''));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForFunction(() => /nothing was stored/.test(document.querySelector('#err-manifest')?.textContent || ''));
  const after = (await api('GET', `/apps/${APP}/web`)).body;
  if (after.revision !== before.revision || after.manifest.scale !== 2) throw new Error(`the manifest changed: ${JSON.stringify(after.manifest)}`);
  const msg = await err.innerText();
  await shot('bad-manifest');
  await page.getByRole('link', { name: 'Cancel' }).click();
  await busy();
  return msg;
});

step('the event feed shows changes live', async () => {
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await busy();
  await page.locator(`td:has-text("/apps/${APP}/web/manifest")`).first().waitFor();
  // A change made elsewhere appears without a reload.
  const r = await api('PUT', `/apps/${APP}/talker/scale`, { scale: 0 });
  if (r.status !== 200) throw new Error(`scale talker to 0: ${r.status} ${JSON.stringify(r.body)}`);
  await page.waitForFunction((rev) => [...document.querySelectorAll('table.events tbody tr')]
    .some((tr) => Number(tr.cells[1].textContent) >= rev && tr.cells[4].textContent.endsWith('/talker/manifest')), r.body.revision);
  await shot('events');
});

step('hosts show their load and the scheduler', async () => {
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  await busy();
  await page.waitForFunction((app) => document.querySelectorAll(`table.hosts a.chip[href^="#/apps/${app}/web/"]`).length === 2, APP);
  const rows = await page.locator('table.hosts tbody tr').count();
  if (await page.locator('table.hosts .pill', { hasText: 'scheduler' }).count() !== 1) throw new Error('no single scheduler shown');
  await shot('hosts');
  return `${rows} hosts`;
});

step('delete the app: it and its instances go', async () => {
  await page.getByRole('link', { name: 'Apps', exact: true }).click();
  await busy();
  await page.getByRole('link', { name: APP, exact: true }).click();
  await busy();
  await page.getByRole('button', { name: 'Delete app' }).click(); // confirmed by the dialog handler
  await page.waitForFunction(() => location.hash === '#/apps');
  await busy();
  await page.getByRole('link', { name: APP, exact: true }).waitFor({ state: 'detached' });
  await shot('deleted');
  // The hosts view sees its instances go, live.
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  await busy();
  await page.waitForFunction((app) => !document.querySelector(`table.hosts a.chip[href^="#/apps/${app}/"]`), APP, { timeout: WAIT });
  const r = await api('GET', `/instances?app=${APP}`);
  if (r.status !== 200 || r.body.instances.length) throw new Error(`instances left: ${JSON.stringify(r.body)}`);
  await shot('deleted-hosts');
});

step('no script errors, no request to anywhere else', async () => {
  if (scriptErrors.length) throw new Error(`script errors: ${scriptErrors.join(' | ')}`);
  if (offsite.length) throw new Error(`requests to elsewhere: ${offsite.join(' ')}`);
});

// ---- run ----

await run(async () => {
  // The app goes whatever happened.
  const left = await api('GET', `/apps/${APP}`).catch(() => ({ status: 0 }));
  if (left.status === 200) await api('DELETE', `/apps/${APP}`).catch(() => {});
  console.log(`screenshots in ${OUT}`);
});
