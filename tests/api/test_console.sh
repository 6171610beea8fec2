# tests/api/test_console.sh - the web console, end to end in headless Chromium, on the
# suite's 2-host cluster: tests/console/console.test.mjs drives Debian's chromium
# (with playwright-core from npm) through the console of host 1's builder: the first
# load (under 100 KB, nothing from elsewhere), the token, create an app, scale it,
# see its instances run, read logs (also of an instance on the other host), a bad
# manifest's inline error with nothing stored, the live event feed, hosts, delete.
# One line per step; a screenshot of each in $DOKKAA_ARTIFACTS (default
# build/artifacts/console/), and of the page where a step failed. The three tests
# here share tests/console/steps.mjs: the API client, the browser, the step runner.
#
# Helpers are prefixed tw_ (every tests/api/test_*.sh is sourced into one shell).

TW_DIR=$CL_ROOT/tests/console

# What the test needs: Debian's chromium, node and npm (the machine's own, else
# Debian's nodejs and npm), and playwright-core as tests/console/package-lock.json
# pins it, installed here when missing.
tw_need() {
    dk_need_packages chromium
    command -v node >/dev/null && command -v npm >/dev/null || dk_need_packages nodejs npm
    [ -d "$TW_DIR/node_modules/playwright-core" ] && return 0
    (cd "$TW_DIR" && npm ci --no-audit --no-fund --loglevel=error) || { fail "npm ci in $TW_DIR failed"; return 1; }
}

test_70_console_in_headless_chromium() {
    tw_need
    # Every wait inside is bounded; this bounds the whole, browser start included.
    DOKKAA_API=$(api_url 1) DOKKAA_TOKEN=$(api_token) \
        DOKKAA_ARTIFACTS=${DOKKAA_ARTIFACTS:-$CL_ROOT/build/artifacts/console} \
        timeout 600 node "$TW_DIR/console.test.mjs"
}

# Safe deploys in the console, in the same headless Chromium: an app whose instances
# have a health check shows each one's health and revision; a new revision rolls
# out with its line ("revision 2 rolling out: 1/2 updated, 0 failed") and the
# instances still on the old one marked "old", live; the History view lists the
# revisions (current marked, who made them escaped: one is by a token named like an
# HTML tag), rolls back to the last healthy and to a chosen revision and shows the
# builder's answer; a failing revision's end and reason show as the API says them;
# a read-only token sees no rollback control. The script is here, not a file of its
# own; node runs it from tests/console/ so that playwright-core and ./steps.mjs resolve.
# Screenshots: $DOKKAA_ARTIFACTS/rollouts-NN-*.png.
test_71_console_rollouts_in_headless_chromium() {
    tw_need
    (cd "$TW_DIR" && DOKKAA_API=$(api_url 1) DOKKAA_TOKEN=$(api_token) \
        DOKKAA_ARTIFACTS=${DOKKAA_ARTIFACTS:-$CL_ROOT/build/artifacts/console} \
        timeout 900 node --input-type=module -) <<'JS'
import { apiClient, launch, makeRunner, settings } from './steps.mjs';

const { API, TOKEN, OUT, WAIT } = settings();
const APP = `rollout-${process.pid}`;
const XSS = '<i>who</i><img/src=x/onerror=window.__xss=1>'; // a token name: printable, no spaces
const WEB = (more = {}) => ({ image: 'dockerfile/nginx', scale: 2, services: { web: 80 },
  health: { http: '/', interval: 1, retries: 2 }, update: { parallel: 1, deadline: 30 }, ...more });

const { api, must } = apiClient(API, TOKEN);
const history = () => must(200, 'revisions', api('GET', `/apps/${APP}/web/revisions`));
// Poll the API until ok(value) (bounded by WAIT); the last value in the error.
async function until(what, get, ok) {
  let v;
  for (const end = Date.now() + WAIT; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
    v = await get();
    if (ok(v)) return v;
  }
  throw new Error(`${what} not within ${WAIT / 1000}s; last: ${JSON.stringify(v).slice(0, 600)}`);
}
const rolledOut = (n) => until(`revision ${n} rolled out`, history,
  (h) => h.rollout?.revision === n && h.rollout.state === 'rolled-out');

const { page } = await launch();
const { step, shot, scriptErrors, run } = makeRunner({ page, out: OUT, prefix: 'rollouts-' });
page.on('dialog', (d) => d.accept()); // the console's "Roll ... back to ...?"
const busy = () => page.waitForSelector('main[aria-busy="false"]');
const go = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); await busy(); };
// The web instances as the app view shows them: [state, health, revision] each.
const shown = () => page.locator('table.instances tbody tr').evaluateAll((trs) => trs
  .filter((tr) => tr.cells[0].textContent.startsWith('web/'))
  .map((tr) => [1, 3, 4].map((k) => tr.cells[k].textContent.replace(/\s+/g, ' ').trim())));
// Wait until the app view shows both instances running, healthy, on hash's revision only.
async function allOn(hash) {
  const want = JSON.stringify([['running', 'healthy', hash.slice(0, 8)], ['running', 'healthy', hash.slice(0, 8)]]);
  try {
    await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('table.instances tbody tr')]
      .filter((tr) => tr.cells[0].textContent.startsWith('web/'))
      .map((tr) => [1, 3, 4].map((k) => tr.cells[k].textContent.replace(/\s+/g, ' ').trim()))) === want
      && !document.querySelector('tr[data-key="rollout:web"]'), want, { timeout: WAIT, polling: 250 });
  } catch { throw new Error(`instances not all running, healthy, on ${hash.slice(0, 8)}: ${JSON.stringify(await shown())}`); }
}
let xss, ro;

step('instances show their health and revision', async () => {
  xss = await must(201, 'token', api('POST', '/tokens', { name: XSS, role: 'admin' }));
  ro = await must(201, 'token', api('POST', '/tokens', { name: `console-ro-${process.pid}`, role: 'read-only' }));
  await must(201, 'create', api('PUT', `/apps/${APP}/web`, WEB(), xss.token));
  await page.goto(`${API}/`);
  await page.evaluate((t) => localStorage.setItem('dokkaa.token', t), TOKEN);
  await page.reload();
  await busy();
  await page.waitForFunction(() => document.querySelector('#role').textContent === 'admin');
  await go(`#/apps/${APP}`);
  const h = await rolledOut(1);
  await allOn(h.rollout.hash);
  await shot('health-and-revision');
  return JSON.stringify(await shown());
});

step('a new revision rolls out live: its line, and the instances still on the old one', async () => {
  await page.evaluate(() => {
    window.__seen = [];
    const see = (t) => { if (t && !window.__seen.includes(t)) window.__seen.push(t); };
    window.__rec = setInterval(() => {
      see(document.querySelector('tr[data-key="rollout:web"]')?.innerText.replace(/\s+/g, ' ').trim());
      if ([...document.querySelectorAll('table.instances tbody tr')].some((tr) => / old$/.test(tr.cells[4]?.textContent.trim()))) see('old');
    }, 50);
  });
  await must(200, 'change', api('PUT', `/apps/${APP}/web`, WEB({ env: { V: '2' } })));
  const h = await rolledOut(2);
  await allOn(h.rollout.hash);
  const seen = await page.evaluate(() => { clearInterval(window.__rec); return window.__seen; });
  await shot('rolled-out');
  if (!seen.some((t) => /^rolling revision 2 rolling out: [0-2]\/2 updated, \d+ failed History$/.test(t))) {
    throw new Error(`no rollout line seen: ${JSON.stringify(seen)}`);
  }
  if (!seen.includes('old')) throw new Error(`no instance marked old seen: ${JSON.stringify(seen)}`);
  return seen.join(' | ');
});

step('History lists the revisions: current marked, who made them as text', async () => {
  await page.locator('tr[data-key="web"]').getByRole('link', { name: 'History' }).click();
  await busy();
  await page.waitForSelector('table.revisions tr[data-key="2"]');
  const cur = page.locator('table.revisions tr[data-key="2"]');
  const old = page.locator('table.revisions tr[data-key="1"]');
  if (!(await cur.innerText()).includes('current')) throw new Error(`revision 2 not marked current: ${await cur.innerText()}`);
  const by = await old.locator('td').nth(2).innerText();
  if (by !== XSS) throw new Error(`revision 1 by ${JSON.stringify(by)}, not the token's name as text`);
  if (await page.locator('main img').count() || await page.evaluate(() => window.__xss)) throw new Error('a token name became HTML');
  if (await cur.getByRole('button', { name: 'Roll back to this' }).count()) throw new Error('the current revision offers a rollback to itself');
  if (!(await old.getByRole('button', { name: 'Roll back to this' }).count())) throw new Error('no "Roll back to this" for revision 1');
  await shot('history');
});

step('Rollback goes to the last healthy revision, and says so', async () => {
  await page.getByRole('button', { name: 'Rollback', exact: true }).click();
  await page.waitForFunction(() => document.querySelector('#said'));
  const said = await page.locator('#said').innerText();
  if (!/^Rolling back to revision 1 \([0-9a-f]{8}\)/.test(said)) throw new Error(`the console said: ${said}`);
  const m = await must(200, 'manifest', api('GET', `/apps/${APP}/web`));
  if (m.manifest.env) throw new Error(`the manifest is not revision 1's: ${JSON.stringify(m.manifest)}`);
  await rolledOut(3);
  await page.waitForFunction(() => /current/.test(document.querySelector('table.revisions tr[data-key="3"]')?.textContent || ''),
    null, { timeout: WAIT });
  const by = await page.locator('table.revisions tr[data-key="3"] td').nth(2).innerText();
  if (!by.endsWith('rollback to revision 1')) throw new Error(`revision 3 is by ${by}`);
  await shot('rolled-back-to-1');
  return said;
});

step('Roll back to this: a chosen revision', async () => {
  await page.locator('table.revisions tr[data-key="2"]').getByRole('button', { name: 'Roll back to this' }).click();
  await page.waitForFunction(() => /revision 2/.test(document.querySelector('#said')?.textContent || ''));
  const m = await must(200, 'manifest', api('GET', `/apps/${APP}/web`));
  if (m.manifest.env?.V !== '2') throw new Error(`the manifest is not revision 2's: ${JSON.stringify(m.manifest)}`);
  await rolledOut(4);
  await page.waitForFunction(() => /current/.test(document.querySelector('table.revisions tr[data-key="4"]')?.textContent || ''),
    null, { timeout: WAIT });
  await shot('rolled-back-to-2');
  return page.locator('#said').innerText();
});

// A revision whose health check fails (404): rolled back automatically, or paused.
const BAD = (v, onFailure) => WEB({ env: { V: v }, health: { http: '/nope', interval: 1, retries: 1 },
  update: { parallel: 1, deadline: 8, ...(onFailure && { on_failure: onFailure }) } });
const flat = (t) => (t || '').replace(/\s+/g, ' ').trim();

step('a failing revision is rolled back: History says how it ended and why', async () => {
  await must(200, 'change', api('PUT', `/apps/${APP}/web`, BAD('3')));
  const h = await until('revision 5 ended', history, (h) => h.revisions.some((r) => r.revision === 5 && r.outcome !== 'rolling')
    && h.rollout?.state !== 'rolling');
  const r5 = h.revisions.find((r) => r.revision === 5);
  if (r5.outcome !== 'rolled-back' || !r5.reason) throw new Error(`revision 5: ${JSON.stringify(r5)}`);
  const row = page.locator('table.revisions tr[data-key="5"]');
  await page.waitForFunction(([o, r]) => {
    const tr = document.querySelector('table.revisions tr[data-key="5"]');
    return tr && tr.cells[1].textContent.startsWith(o) && tr.cells[4].textContent.replace(/\s+/g, ' ').trim() === r;
  }, [r5.outcome, flat(r5.reason)], { timeout: WAIT }).catch(async () => {
    throw new Error(`revision 5 shown as ${flat(await row.innerText())}; the API says ${r5.outcome}: ${r5.reason}`);
  });
  await shot('failed-revision-history');
  return `${r5.outcome}: ${r5.reason}`;
});

step('a failing revision that pauses: its line says where and why', async () => {
  await go(`#/apps/${APP}`);
  await must(200, 'change', api('PUT', `/apps/${APP}/web`, BAD('4', 'pause')));
  const h = await until('the rollout paused', history, (h) => h.rollout?.state === 'paused' && h.rollout.hash !== h.rollout.stable);
  const want = `revision ${h.rollout.revision} paused${h.rollout.reason ? `: ${flat(h.rollout.reason)}` : ''}`;
  await page.waitForFunction((w) => document.querySelector('tr[data-key="rollout:web"]')?.textContent.replace(/\s+/g, ' ')
    .includes(w), want, { timeout: WAIT }).catch(async () => {
    throw new Error(`no line "${want}"; shown: ${await page.locator('tr[data-key="rollout:web"]').innerText().catch(() => 'none')}`);
  });
  await shot('paused');
  await go(`#/apps/${APP}/web/history`);
  return want;
});

step('a read-only token sees the history and no rollback control', async () => {
  await page.fill('#token', ro.token);
  await page.getByRole('button', { name: 'Use token' }).click();
  await page.waitForFunction(() => document.querySelector('#role').textContent === 'read-only');
  await busy();
  await page.locator('table.revisions tr[data-key="1"]').waitFor();
  const n = await page.locator('main button').filter({ hasText: /Roll ?back/ }).count();
  if (n) throw new Error(`${n} rollback buttons shown to a read-only token`);
  await shot('read-only');
});

step('no script errors', async () => {
  if (scriptErrors.length) throw new Error(`script errors: ${scriptErrors.join(' | ')}`);
});

await run(async () => {
  await api('DELETE', `/apps/${APP}`).catch(() => {});
  for (const t of [xss, ro]) if (t) await api('DELETE', `/tokens/${t.id}`).catch(() => {});
});
JS
}

# A read-only token in the console (README, The web console: "without an admin token
# the write controls are disabled and say why"; issue 12, defect 23): the badge says
# read-only; the apps list and the app view show the app, its manifest and its
# running instance; every control that changes something (scale − / + / typed,
# Delete, Delete app, and Create / Save / Validate in the editor) is disabled and
# says an admin token is needed; and a write forced through anyway (the Delete app
# button re-enabled in the page, as devtools would) is refused by the builder, the
# console shows why, and the app is still there. test_70 covers the console without
# a token, test_71 a read-only token's History (no rollback control).
tw_ro_cleanup() { # (EXIT trap) the app goes, also when node was cut short
    set +e
    curl -s -o /dev/null --max-time 10 -X DELETE -H "Authorization: Bearer $(api_token)" \
        "$(api_url 1)/api/v1/apps/$TW_RO_APP"
    dk_wait 60 "$TW_RO_APP to go" ta_app_gone "$TW_RO_APP"
    return 0
}
test_72_console_read_only_token_sees_the_apps_and_cannot_change_them() {
    tw_need
    TW_RO_APP=readonly-$BASHPID
    trap tw_ro_cleanup EXIT
    (cd "$TW_DIR" && DOKKAA_API=$(api_url 1) DOKKAA_TOKEN=$(api_token) TW_RO_APP=$TW_RO_APP \
        DOKKAA_ARTIFACTS=${DOKKAA_ARTIFACTS:-$CL_ROOT/build/artifacts/console} \
        timeout 300 node --input-type=module -) <<'JS'
import { apiClient, launch, makeRunner, settings } from './steps.mjs';

const { API, TOKEN, OUT, WAIT } = settings();
const APP = process.env.TW_RO_APP;

const { api, must } = apiClient(API, TOKEN);

let ro;
const { page } = await launch();
const { step, shot, scriptErrors, run } = makeRunner({ page, out: OUT, prefix: 'read-only-' });
page.on('dialog', (d) => d.accept()); // "Delete the app ...?"
const busy = () => page.waitForSelector('main[aria-busy="false"]');
const go = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); await busy(); };
// Each control named is there, disabled, and says an admin token is needed.
async function disabled(loc, what) {
  if (!(await loc.count())) throw new Error(`no ${what} shown`);
  for (const c of await loc.all()) {
    if (!(await c.isDisabled())) throw new Error(`${what} is enabled for a read-only token`);
    if (!/admin token/.test((await c.getAttribute('title')) || '')) throw new Error(`${what} does not say an admin token is needed`);
  }
}

step('a read-only token: the badge says so', async () => {
  ro = await must(201, 'token', api('POST', '/tokens', { name: `console-ro72-${process.pid}`, role: 'read-only' }));
  await must(201, 'create', api('PUT', `/apps/${APP}/web`, { image: 'dockerfile/nginx', scale: 1, services: { web: 80 } }));
  await page.goto(`${API}/`);
  await page.evaluate((t) => localStorage.setItem('dokkaa.token', t), ro.token);
  await page.reload();
  await busy();
  await page.waitForFunction(() => document.querySelector('#role').textContent === 'read-only');
});

step('the apps list and the app view show the app and its running instance', async () => {
  await go('#/apps');
  await page.getByRole('link', { name: APP, exact: true }).click();
  await busy();
  await page.locator('tr[data-key="web"]').waitFor();
  await page.waitForFunction(() => document.querySelector('tr[data-key="web/0"]')?.cells[1].textContent.trim() === 'running',
    null, { timeout: WAIT, polling: 250 }).catch(async () => {
    throw new Error(`web/0 not shown running: ${await page.locator('table.instances tbody').innerText().catch(() => 'no instances')}`);
  });
  await shot('app');
  return (await page.locator('tr[data-key="web/0"]').innerText()).replace(/\s+/g, ' ').trim();
});

step('every write control of the app view is disabled and says why', async () => {
  const row = page.locator('tr[data-key="web"]');
  await disabled(row.getByRole('button', { name: 'Scale web down' }), 'Scale down');
  await disabled(row.getByRole('button', { name: 'Scale web up' }), 'Scale up');
  await disabled(row.locator('input[name="scale"]'), 'the scale field');
  await disabled(row.getByRole('button', { name: 'Delete', exact: true }), "the manifest's Delete");
  await disabled(page.getByRole('button', { name: 'Delete app' }), 'Delete app');
  const note = await page.locator('.note').innerText();
  if (!/read-only.*admin token/is.test(note)) throw new Error(`the note says: ${note}`);
  return note.replace(/\s+/g, ' ');
});

step('the editor: Validate and Save disabled; New manifest: Create disabled', async () => {
  await page.locator('tr[data-key="web"]').getByRole('link', { name: 'Edit' }).click();
  await page.waitForSelector('form[data-submit="save"]');
  await busy();
  await disabled(page.getByRole('button', { name: 'Save' }), 'Save');
  await disabled(page.getByRole('button', { name: 'Validate' }), 'Validate');
  await go('#/new');
  await disabled(page.getByRole('button', { name: 'Create' }), 'Create');
  await shot('editor');
});

step('a delete forced through the page is refused, said, and the app stays', async () => {
  await go(`#/apps/${APP}`);
  await page.locator('tr[data-key="web"]').waitFor();
  await page.evaluate(() => { const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Delete app'); b.disabled = false; b.click(); });
  await page.waitForFunction(() => [...document.querySelectorAll('[role="alert"]')].some((e) => /read-only/.test(e.textContent)),
    null, { timeout: 15000 }).catch(async () => {
    throw new Error(`no refusal shown: ${await page.locator('main').innerText()}`);
  });
  const said = [...await page.locator('[role="alert"]').allInnerTexts()].join(' | ');
  const m = await must(200, 'the app after the forced delete', api('GET', `/apps/${APP}/web`));
  if (m.manifest.image !== 'dockerfile/nginx') throw new Error(`the manifest changed: ${JSON.stringify(m.manifest)}`);
  await shot('refused');
  return said;
});

step('no script errors', async () => {
  if (scriptErrors.length) throw new Error(`script errors: ${scriptErrors.join(' | ')}`);
});

await run(async () => {
  await api('DELETE', `/apps/${APP}`).catch(() => {});
  if (ro) await api('DELETE', `/tokens/${ro.id}`).catch(() => {});
});
JS
}
