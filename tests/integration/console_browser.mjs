// Drives the web console (docs/console.md) in Debian's chromium through
// puppeteer-core, against a server test_console.sh started. Fails on any
// console error, page error or failed request. Screenshots of every page go
// to $CONSOLE_ARTIFACTS.
// Env: URL, TOKEN, ARCHIVE (a backup archive to upload), CONSOLE_ARTIFACTS.
import puppeteer from 'puppeteer-core';
import path from 'node:path';
import fs from 'node:fs';

const {URL: BASE, TOKEN, ARCHIVE, CONSOLE_ARTIFACTS: OUT} = process.env;
fs.mkdirSync(OUT, {recursive: true});
const problems = [];
const step = (m) => console.log(`ok - ${m}`);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
let failed = false;
try {
  const page = await browser.newPage();
  await page.setViewport({width: 1280, height: 800});
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  page.setDefaultTimeout(30000);
  const shot = async (name) => {
    await new Promise((r) => setTimeout(r, 150));
    await page.screenshot({path: path.join(OUT, `${name}.png`)});
  };
  const text = (sel) => page.$eval(sel, (e) => e.textContent);
  const waitText = (sel, re) => page.waitForFunction((s, src) => {
    const e = document.querySelector(s);
    return e && new RegExp(src).test(e.textContent);
  }, {}, sel, re.source);

  // Log in: the token lands in sessionStorage, never in a cookie.
  await page.goto(`${BASE}/`, {waitUntil: 'networkidle0'});
  await shot('login');
  await page.type('#token', TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#page[data-page="buckets"]');
  const stored = await page.evaluate(() => sessionStorage.getItem('tsvault.token'));
  if (stored !== TOKEN) throw new Error('token not in sessionStorage');
  if ((await page.cookies()).length) throw new Error('the console set a cookie');
  step('log in');

  // Files: upload through the file input, progress reaches 100%.
  await page.goto(`${BASE}/#files`);
  await page.waitForSelector('#file-input');
  const input = await page.$('#file-input');
  await input.uploadFile(ARCHIVE);
  await page.waitForSelector('[data-upload="done"]');
  const pct = await text('#upload-progress .pct');
  if (pct !== '100%') throw new Error(`upload progress ended at ${pct}`);
  const name = path.basename(ARCHIVE);
  await page.waitForSelector(`[data-restore="${name}"]`);
  await shot('files');
  step('upload with progress to 100%');

  // Restore job from the staged file; watch it complete on the job page.
  await page.click(`[data-restore="${name}"]`);
  await page.waitForSelector('dialog [data-action="confirm"]');
  await page.click('dialog [data-action="confirm"]');
  await page.waitForFunction(() => location.hash.startsWith('#jobs/'));
  await waitText('#job-status', /^completed$/);
  await waitText('#job-progress .pct', /^100%$/);
  await shot('job');
  step('restore job completes');
  await page.goto(`${BASE}/#jobs`);
  await page.waitForSelector('#jobs-list tr[data-status="completed"]');
  await shot('jobs');
  step('jobs list');

  // Buckets: open fixture/autogen, pick its first shard on the axis,
  // soft-delete that interval, see it soft-deleted, restore it.
  await page.goto(`${BASE}/#buckets`);
  await page.waitForSelector('tr[data-bucket="fixture/autogen"] a');
  await page.click('tr[data-bucket="fixture/autogen"] a');
  await page.waitForSelector('#bucket-axis rect.shard');
  await page.$eval('#bucket-axis rect.shard', (r) => r.focus()); // keyboard, as a user would
  await page.keyboard.press('Enter');
  const start = await page.$eval('#iv-start', (e) => e.value);
  if (!start) throw new Error('choosing a shard did not fill the interval');
  await page.click('#iv-delete');
  await page.click('dialog [data-action="confirm"]');
  await page.waitForSelector('#vault-outcome[data-status="completed"]');
  await page.waitForSelector('#bucket-shards tr[data-state="soft-deleted"]');
  await shot('buckets');
  step(`delete_data of ${start}: a soft-deleted version appears`);
  await page.click('#iv-restore');
  await page.click('dialog [data-action="confirm"]');
  await page.waitForFunction(() => {
    const o = document.querySelectorAll('#vault-outcome');
    return o.length && /restore_data completed/.test(o[o.length - 1].textContent);
  });
  const restoredRows = await page.$$eval('#bucket-shards tr[data-state="in use"]', (r) => r.length);
  if (restoredRows !== 3) throw new Error(`${restoredRows} shards in use after restore_data, want 3`);
  step('restore_data brings the interval back');

  // Point in time: pick a moment on the timeline, preview, restore, watch.
  // preview lists the change, then restore and watch the job.
  await page.goto(`${BASE}/#pitr`);
  await page.waitForSelector('#pitr-slider');
  // The slider is keyboard-operable; then the moment just before the
  // restore job is picked from the list of jobs under the range: the
  // preview must list its buckets as removed.
  await page.focus('#pitr-slider');
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowRight');
  if (await page.$eval('#pitr-slider', (e) => e.value) !== '1') throw new Error('slider keys');
  await page.click('li[data-job-type="restore"] button');
  await page.click('#pitr-preview-btn');
  await page.waitForSelector('#pitr-summary');
  const summary = await text('#pitr-summary');
  if (!/bucket\(s\)/.test(summary)) throw new Error(`preview: ${summary}`);
  await page.waitForSelector('#pitr-preview tr[data-change="removed"]');
  await shot('pitr');
  await page.click('#pitr-restore');
  await page.click('dialog [data-action="confirm"]');
  await page.waitForSelector('#pitr-outcome[data-status="done"]');
  step(`PITR from the timeline: ${summary.slice(0, 80)}…`);

  await page.goto(`${BASE}/#connections`);
  await page.waitForSelector('#page[data-page="connections"] h2');
  await shot('connections');
  step('connections page');

  // Phone width: the pages still render without horizontal page scroll.
  await page.setViewport({width: 390, height: 844});
  await page.goto(`${BASE}/#buckets`);
  await page.waitForSelector('tr[data-bucket]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 2) throw new Error(`phone width: the page scrolls ${overflow}px sideways`);
  await shot('buckets-phone');
  step('phone width');
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack || e}`);
} finally {
  await browser.close();
}
if (problems.length) {
  failed = true;
  for (const p of problems) console.error(`FAIL: ${p}`);
}
process.exit(failed ? 1 : 0);
