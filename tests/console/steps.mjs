// tests/console/steps.mjs - what the console tests share: console.test.mjs and the
// programs inline in tests/api/test_console.sh (run from this directory, they import
// './steps.mjs'). Their settings, the builder's API from node, headless Chromium
// with one page, and the step runner: steps run in order, one line each, "ok - NAME (Ns)[: note]",
// "not ok - NAME (Ns)" with the error's first lines and a screenshot of the page, or
// "skip - NAME" once one failed; then "N passed, N failed", and the exit status.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

// What a test is told (see console.test.mjs's head): API, the builder's URL; TOKEN,
// an admin token; OUT, where the screenshots go; WAIT, how long containers may take
// to converge, in ms. Without API or TOKEN: usage, exit 2.
export function settings() {
  const API = (process.env.DOKKAA_API || '').replace(/\/+$/, '');
  const TOKEN = process.env.DOKKAA_TOKEN || '';
  if (!API || !TOKEN) {
    const me = process.argv[1] ? path.basename(process.argv[1]) : '-';
    console.error(`usage: DOKKAA_API=http://<builder>:4001 DOKKAA_TOKEN=<admin token> node ${me}`);
    process.exit(2);
  }
  const OUT = path.resolve(process.env.DOKKAA_ARTIFACTS || path.join(here, '../../build/artifacts/console'));
  return { API, TOKEN, OUT, WAIT: Number(process.env.DOKKAA_WAIT || 90) * 1000 };
}

// The API straight from here, for what a test sets up or checks behind the
// console's back: api(method, path, body, token) answers { status, body }, the body
// parsed when it is JSON; must(want, what, api(...)) is the body, or throws when the
// status is not want.
export function apiClient(base, token) {
  async function api(method, p, body, as = token) {
    const res = await fetch(`${base}/api/v1${p}`, {
      method, signal: AbortSignal.timeout(10000),
      headers: { Authorization: `Bearer ${as}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    try { return { status: res.status, body: text ? JSON.parse(text) : null }; } catch { return { status: res.status, body: text }; }
  }
  const must = async (want, what, r) => {
    r = await r;
    if (r.status !== want) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return { api, must };
}

// Chromium ($CHROMIUM, default Debian's /usr/bin/chromium) and a 1280x800 page whose
// waits are bounded. A browser that does not start is a failed test: said, exit 1.
export async function launch() {
  let browser;
  try {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'], timeout: 30000 });
  } catch (e) {
    console.log(`not ok - start chromium: ${e.message.split('\n')[0]}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { browser, context, page };
}

// The runner of one test on page. Screenshots go to out as PREFIXNN-name.png (the
// last run's of the same prefix are removed first); scriptErrors collects the page's
// uncaught errors. step(name, fn) adds a step: fn may return a note for its line.
// run(cleanup) runs them, then cleanup() (what the test made goes, whatever
// happened), closes the browser and exits: 1 on a failure.
export function makeRunner({ page, out, prefix = '' }) {
  const steps = [];
  const scriptErrors = [];
  let shots = 0;
  fs.mkdirSync(out, { recursive: true });
  const mine = new RegExp(`^${prefix}\\d\\d-[A-Za-z0-9-]+\\.png$`);
  for (const f of fs.readdirSync(out)) if (mine.test(f)) fs.rmSync(path.join(out, f));
  page.on('pageerror', (e) => scriptErrors.push(e.message));

  const step = (name, fn) => steps.push({ name, fn });
  async function shot(name) {
    const file = path.join(out, `${prefix}${String(++shots).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
  async function run(cleanup = async () => {}) {
    let passed = 0;
    let failed = 0;
    for (const s of steps) {
      if (failed) { console.log(`skip - ${s.name}`); continue; }
      const t0 = Date.now();
      const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
      try {
        const note = await s.fn();
        passed++;
        console.log(`ok - ${s.name} (${secs()})${note ? `: ${note}` : ''}`);
      } catch (e) {
        failed++;
        console.log(`not ok - ${s.name} (${secs()})`);
        console.log(`    ${String(e.message).split('\n').slice(0, 6).join('\n    ')}`);
        if (scriptErrors.length) console.log(`    script errors in the page: ${scriptErrors.join(' | ')}`);
        const file = await shot('FAILED').catch(() => '');
        if (file) console.log(`    screenshot: ${file}`);
      }
    }
    await cleanup();
    await page.context().browser().close();
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  }
  return { step, shot, scriptErrors, run };
}
