/**
 * The shipped nginx site (deploy/nginx/imgkit.conf, only its certificate, ports and upstream
 * changed) in front of the real api and worker: f:auto cached per Accept class, renderings
 * served from nginx's cache, revalidated when X-Accel-Expires runs out (a 304 costs no render),
 * and a purge reaching nginx at the next revalidation.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '@imgkit/db';
import sharp from 'sharp';
import { Agent, fetch as tlsFetch } from 'undici';
import { jsonOf, newAccountWithKey } from '../helpers/api.ts';
import { CORPUS } from '../helpers/corpus.ts';
import { freshDatabase } from '../helpers/db.ts';
import { startPipeline } from '../helpers/pipeline.ts';
import { oracleTool } from '../helpers/tools.ts';

const run = promisify(execFile);
const nginx = await oracleTool(['/usr/sbin/nginx', 'nginx'], ['-v']);
const CHROMIUM = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

/** nginx with the shipped site on a free loopback port, proxying to `upstreamPort`. */
async function startNginx(upstreamPort: number): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-nginx-'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=test',
    '-days',
    '1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ]);
  const port = await freePort();
  const httpPort = await freePort();
  const shipped = await readFile(new URL('../../deploy/nginx/imgkit.conf', import.meta.url), 'utf8');
  const site = shipped
    .replace('/etc/ssl/certs/imgkit.example.com.pem', path.join(dir, 'cert.pem'))
    .replace('/etc/ssl/private/imgkit.example.com.key', path.join(dir, 'key.pem'))
    .replace('/var/cache/nginx/imgkit', path.join(dir, 'cache'))
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${upstreamPort};`)
    .replace('listen 443 ssl http2;', `listen 127.0.0.1:${port} ssl;`)
    .replace('listen [::]:443 ssl http2;', '')
    .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
    .replace('listen [::]:80;', '');
  assert.notEqual(site, shipped);
  await writeFile(path.join(dir, 'site.conf'), site);
  // As root, the workers also run as root (they must read this private temp folder).
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `${user}daemon off;\nmaster_process on;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  include ${dir}/site.conf;\n}\n`,
  );
  const child = spawn(nginx.bin!, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  after(() => {
    child.kill('SIGQUIT');
  });
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  for (let i = 0; ; i++) {
    const up = await tlsFetch(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent }).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 100)
      throw new Error(`nginx did not start: ${await readFile(path.join(dir, 'error.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return `https://127.0.0.1:${port}`;
}

test('behind the shipped nginx: per-Accept-class cache, revalidation without a render, purge reaches it', {
  skip: nginx.skip,
}, async () => {
  const db = await freshDatabase();
  const p = await startPipeline(db.pool, db.url, {}, { proxyCacheSeconds: 1 });
  const { auth } = await newAccountWithKey(db.pool);
  const front = await startNginx(Number(new URL(p.api.base).port));
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  const get = async (url: string, accept = '*/*') => {
    const res = await tlsFetch(`${front}${url}`, { dispatcher: agent, headers: { accept } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };

  const created = await jsonOf(
    await fetch(`${p.api.base}/v1/images`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/jpeg' },
      body: await readFile(path.join(CORPUS, 'orientation/Landscape_1.jpg')),
    }),
  );
  await p.settle([created.id]);
  const urls = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/urls`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ urls: [{ width: 160, format: 'auto' }] }),
    }),
  );
  const url = urls.urls[0].url;

  // One f:auto URL: AVIF for a browser, JPEG for curl, each cached apart under its class.
  const browser = await get(url, CHROMIUM);
  assert.equal(browser.res.status, 200);
  assert.equal(browser.res.headers.get('content-type'), 'image/avif');
  assert.equal((await sharp(browser.body).metadata()).format, 'heif');
  assert.equal(browser.res.headers.get('x-cache-status'), 'MISS');
  assert.equal(browser.res.headers.get('x-accel-expires'), null, 'nginx keeps it to itself');
  assert.equal(browser.res.headers.get('vary'), 'Accept');
  const curl = await get(url);
  assert.equal(curl.res.headers.get('content-type'), 'image/jpeg');
  assert.equal(curl.res.headers.get('x-cache-status'), 'MISS');
  const renders = p.api.renders.count;
  // Another Chromium version's header is the same class: a hit, of the AVIF.
  const hit = await get(url, 'image/avif,image/webp,*/*;q=0.8');
  assert.equal(hit.res.headers.get('x-cache-status'), 'HIT');
  assert.equal(hit.res.headers.get('content-type'), 'image/avif');
  assert.equal((await get(url)).res.headers.get('x-cache-status'), 'HIT');

  // Past X-Accel-Expires nginx revalidates in the background (the site serves the stale copy
  // meanwhile): the api answers 304 and renders nothing; the entry is fresh again.
  await new Promise((r) => setTimeout(r, 2100));
  const stale = await get(url, CHROMIUM);
  assert.equal(stale.res.headers.get('x-cache-status'), 'STALE');
  assert.deepEqual(stale.body, browser.body);
  const fresh = await waitFor(
    () => get(url, CHROMIUM),
    (r) => r.res.headers.get('x-cache-status') === 'HIT',
  );
  assert.deepEqual(fresh.body, browser.body);
  assert.equal(p.api.renders.count, renders);

  // A purge: at the next revalidation nginx gets the new rendering (a new ETag) for the old URL.
  const purged = await jsonOf(
    await fetch(`${p.api.base}/v1/images/${created.id}/purge`, { method: 'POST', headers: auth }),
  );
  assert.equal(purged.rendition_version, 2);
  await new Promise((r) => setTimeout(r, 2100));
  const refreshed = await waitFor(
    () => get(url, CHROMIUM),
    (r) => r.res.headers.get('etag') !== browser.res.headers.get('etag'),
  );
  assert.equal(refreshed.res.status, 200);
  assert.equal(refreshed.res.headers.get('content-type'), 'image/avif');
  assert.equal(p.api.renders.count, renders + 1);
});

async function waitFor<T>(attempt: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await attempt();
    if (done(value)) return value;
    if (i > 100) throw new Error('nginx never got there');
    await new Promise((r) => setTimeout(r, 50));
  }
}
