/**
 * The console in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download) against the real api and worker. Sign in with the keyboard, create a webhook
 * endpoint, upload two photos by the file input, watch them complete, read EXIF, palette and a
 * near-duplicate on the detail page, download the Lightroom preset, replay a webhook delivery,
 * run a job, look at the queue; axe-core finds no serious violation on any page, the strict CSP
 * reports nothing, and each page is saved as a screenshot under test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { newAccountWithKey } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startPipeline } from '../helpers/pipeline.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { oracleTool } from '../helpers/tools.ts';

// Page functions run in the browser; this file is type-checked without the DOM library.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page functions
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page functions
declare const window: any;
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page functions
declare const sessionStorage: any;

const run = promisify(execFile);
// Debian's Chromium (.ci/run installs it); Google Chrome where that is what the runner has.
const browserTool = await oracleTool(
  ['/usr/bin/chromium', 'chromium', '/usr/bin/google-chrome'],
  ['--version'],
);
const exiftool = await oracleTool(['exiftool'], ['-ver']);
const ARTIFACTS = path.resolve(
  process.env.TEST_ARTIFACTS_DIR ?? path.join(import.meta.dirname, '../../test-artifacts'),
  'console',
);
const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHOTO = path.join(CORPUS, 'metadata/canon_209_tags_gps.jpg');

async function launch(): Promise<Browser> {
  // As root in a container: no sandbox; no background traffic to Google's hosts.
  const browser = await chromium.launch({
    executablePath: browserTool.bin!,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  after(() => browser.close());
  return browser;
}

/** axe-core on the current page (evaluated over the protocol: the page's CSP forbids injected scripts). */
async function axeSerious(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })))',
  )) as { id: string; impact: string; nodes: number; help: string }[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}, ${v.nodes} nodes): ${v.help}`);
}

test('the console in Chromium: sign in, upload, detail, preset, replay, job, queue; accessible', {
  skip: browserTool.skip,
  timeout: 240_000,
}, async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url);
  const { key, account } = await newAccountWithKey(db.pool, 'Console Test');
  const receiver = await startReceiver();
  // A near-duplicate of the photo (150×100): smaller and recompressed.
  const copy = path.join(ARTIFACTS, 'canon-copy.jpg');
  await writeFile(copy, await sharp(PHOTO).resize(120).jpeg({ quality: 70 }).toBuffer());

  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    assert.deepEqual(await axeSerious(page), [], `${name}: serious accessibility violations`);
  };

  try {
    await steps();
  } catch (err) {
    // What the page showed, for the failure message and as an artifact.
    await page
      .screenshot({ path: path.join(ARTIFACTS, 'failure.png'), fullPage: true })
      .catch(() => undefined);
    const shown = await page
      .locator('main')
      .innerText()
      .catch(() => '');
    throw Object.assign(err as Error, {
      message: `${(err as Error).message}\n--- page:\n${shown.slice(0, 3000)}`,
    });
  }

  async function steps() {
    // Sign in with the keyboard alone: the key field has focus; Enter submits.
    await page.goto(`${p.api.base}/console`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await shot('01-sign-in');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'api-key');
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Images', exact: true }).waitFor();
    await page.getByText(account.id).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('imgkit.apiKey')), key);

    // A webhook endpoint on loopback, made in the console before the uploads.
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByLabel('Endpoint URL').fill(`${receiver.url}/hooks`);
    await page.getByLabel('Description').fill('console test');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByText('Signing secret (shown once)').waitFor();
    await page
      .getByRole('cell', { name: `${receiver.url}/hooks` })
      .first()
      .waitFor();

    // Two photos through the file input; the grid shows them until both are completed.
    await page.getByRole('link', { name: 'Images' }).click();
    await page.getByLabel('Upload images').setInputFiles([PHOTO, copy]);
    const cards = page.locator('li.card');
    await cards.nth(1).waitFor();
    await page.waitForFunction(
      () =>
        document.querySelectorAll('li.card .badge.completed').length === 2 &&
        document.querySelectorAll('li.card img').length === 2,
      undefined,
      { timeout: 120_000 },
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll('li.card img')].every((i) => i.complete && i.naturalWidth > 0),
    );
    await shot('02-images');

    // The phone layout: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
    await page.screenshot({ path: path.join(ARTIFACTS, '02b-images-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // The detail page, opened with the keyboard.
    await page.getByRole('link', { name: /canon_209_tags_gps\.jpg/ }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'canon_209_tags_gps.jpg' }).waitFor();
    const ifd0 = page.locator('table', { has: page.locator('caption', { hasText: '[IFD0]' }) });
    await ifd0.getByRole('row', { name: /Make\s+Canon/ }).waitFor();
    const exifIfd = page.locator('table', { has: page.locator('caption', { hasText: '[ExifIFD]' }) });
    await exifIfd.getByRole('rowheader', { name: 'ExposureTime' }).waitFor();
    assert.ok((await page.locator('.swatches li').count()) >= 3, 'palette swatches');
    await page.getByRole('heading', { name: 'GPS', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Lightroom develop settings (crs:)' }).waitFor();
    await page.getByRole('rowheader', { name: 'Exposure2012' }).waitFor();
    const dupe = page.locator('.dupes li', { hasText: /pHash \d+ · dHash \d+ bits/ });
    await dupe.first().waitFor();
    const placeholderDrawn = await page.evaluate(
      () =>
        document.querySelector('canvas.placeholder')?.getContext('2d')?.getImageData(0, 0, 1, 1).data[3] ===
        255,
    );
    assert.ok(placeholderDrawn, 'the BlurHash placeholder is drawn');
    await page.waitForFunction(() => document.querySelector('.preview img')?.naturalWidth > 0);
    await shot('03-image-detail');

    // The Lightroom preset download.
    const [preset] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download Lightroom preset' }).click(),
    ]);
    assert.equal(preset.suggestedFilename(), 'canon_209_tags_gps.xmp');
    const saved = path.join(ARTIFACTS, 'canon_209_tags_gps.xmp');
    await preset.saveAs(saved);
    if (!exiftool.skip) {
      const { stdout } = await run('exiftool', [
        '-j',
        '-n',
        '-XMP-crs:PresetType',
        '-XMP-crs:Exposure2012',
        saved,
      ]);
      const read = JSON.parse(stdout)[0];
      assert.equal(read.PresetType, 'Normal');
      assert.equal(read.Exposure2012, 0.12);
    }

    // The delivery about this image is listed; replay sends it again.
    const firstDeliveries = () =>
      receiver.received.filter((r) => r.body.includes('"image.completed"')).length;
    for (let i = 0; i < 100 && firstDeliveries() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(firstDeliveries(), 2, 'one image.completed delivery per photo');
    await page.reload();
    const row = page.locator('tr[data-message]', { hasText: 'image.completed' });
    await row.getByText('delivered').waitFor();
    const messageId = await row.getAttribute('data-message');
    // Replay refreshes the page, and on a busy machine that refresh can finish after the user has
    // moved on. Hold its last request until the Jobs page is shown: it must not draw over it.
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const isRefresh = (u: URL) => u.pathname === '/v1/webhook-messages' && u.searchParams.has('image_id');
    await page.route(isRefresh, async (r) => {
      await held;
      await r.continue();
    });
    await row.getByRole('button', { name: /^Replay/ }).click();
    for (let i = 0; i < 100 && firstDeliveries() < 3; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(firstDeliveries(), 3, 'the replay reached the receiver');
    const replayed = receiver.received.at(-1)!;
    assert.equal(replayed.headers['webhook-id'], messageId, 'the same message, delivered again');

    // A job from the form, its output shown.
    const imageId = /#\/images\/(img_\w+)/.exec(page.url())![1];
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
    const refreshed = page.waitForResponse((r) => isRefresh(new URL(r.url())));
    release();
    await refreshed;
    await page.unroute(isRefresh);
    // Two frames: time for the late refresh to draw, had it been allowed to.
    await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
    assert.equal(
      await page.getByRole('heading', { level: 1 }).innerText(),
      'Jobs',
      'a late refresh drew over the page',
    );
    await page.getByLabel('Image id or URL').fill(imageId);
    await page.getByLabel('Operation').selectOption('cover');
    await page.getByLabel('Width').fill('100');
    await page.getByLabel('Height').fill('60');
    await page.getByLabel('Format').selectOption('webp');
    await page.getByRole('button', { name: 'Run job' }).click();
    await page.getByText('100 × 60 webp').waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('.output img')?.naturalWidth === 100);
    await shot('04-jobs');

    // The queue: nothing failed; counts by kind and status.
    await page.getByRole('link', { name: 'Queue' }).click();
    await page.getByRole('heading', { name: 'Queue', exact: true }).waitFor();
    await page.getByText('No failed tasks.').waitFor();
    await shot('05-queue');

    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
    await shot('06-webhooks');

    // Nothing left the machine, the key never appeared in a URL, and the CSP blocked nothing.
    const base = new URL(p.api.base);
    for (const u of requests) {
      const url = new URL(u);
      if (url.protocol === 'blob:' || url.protocol === 'data:') continue;
      assert.equal(url.host, base.host, `only the api: ${u}`);
      assert.ok(!u.includes(key), 'the key is never in a URL');
    }
    assert.deepEqual(problems, []);
  }
});
