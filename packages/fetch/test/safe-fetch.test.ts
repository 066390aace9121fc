import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FetchError, isPublicAddress, SafeFetcher } from '@imgkit/fetch';
import { startServer } from '../../../test/helpers/http.ts';

const open = new SafeFetcher({ allowPrivateNetworks: true });
const guarded = new SafeFetcher({ allowPrivateNetworks: false });
const limits = { maxBytes: 1024 * 1024, timeoutMs: 5000 };

function rejectsWith(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof FetchError, `FetchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

test('address classification', () => {
  for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])
    assert.ok(isPublicAddress(ip), ip);
  for (const ip of [
    '127.0.0.1',
    '127.1.2.3',
    '0.0.0.0',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    'fd00:ec2::254',
    'fc00::1',
    'fe80::1',
    'ff02::1',
    '2001:db8::1',
    'not an ip',
  ]) {
    assert.ok(!isPublicAddress(ip), ip);
  }
});

test('SSRF matrix: literal, encoded, IPv6, mapped, metadata, private, CGNAT, multicast and DNS names are refused', async () => {
  const target = await startServer((_req, res) => res.end('secret'));
  const urls = [
    `http://127.0.0.1:${target.port}/`,
    `http://0x7f.1:${target.port}/`,
    `http://2130706433:${target.port}/`,
    `http://0177.0.0.1:${target.port}/`,
    `http://[::1]:${target.port}/`,
    `http://[::ffff:127.0.0.1]:${target.port}/`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://10.0.0.1/',
    'http://192.168.0.1/',
    'http://100.64.0.1/',
    'http://224.0.0.1/',
    'http://0.0.0.0/',
    `http://localhost:${target.port}/`,
  ];
  for (const url of urls) {
    await assert.rejects(guarded.fetch(url, limits), rejectsWith('blocked_address'), url);
  }
  assert.deepEqual(target.requests, [], 'the target never saw a request');
  for (const url of ['file:///etc/passwd', 'gopher://127.0.0.1/', 'ftp://example.com/a.jpg', 'not a url']) {
    await assert.rejects(guarded.fetch(url, limits), rejectsWith('invalid_url'), url);
  }
});

test('a DNS name that resolves to a private address is refused at connect time', async () => {
  const target = await startServer((_req, res) => res.end('secret'));
  const rebinding = new SafeFetcher({
    allowPrivateNetworks: false,
    lookup: (_host, _opts, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
  });
  await assert.rejects(
    rebinding.fetch(`http://innocent.example:${target.port}/`, limits),
    rejectsWith('blocked_address'),
  );
  assert.deepEqual(target.requests, []);
});

test('every redirect hop is checked', async () => {
  // Treat 127.0.0.1 as "public" for this test so the first hop is allowed.
  const policy = new SafeFetcher({
    allowPrivateNetworks: false,
    isAllowedAddress: (ip) => ip === '127.0.0.1',
  });
  const hop = await startServer((req, res) => {
    if (req.url === '/to-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/' }).end();
    else if (req.url === '/to-v6-loopback')
      res.writeHead(301, { location: `http://[::1]:${hop.port}/` }).end();
    else if (req.url === '/to-localhost')
      res.writeHead(307, { location: `http://localhost:${hop.port}/x` }).end();
    else res.end('ok');
  });
  for (const path of ['/to-metadata', '/to-v6-loopback']) {
    await assert.rejects(policy.fetch(`${hop.url}${path}`, limits), rejectsWith('blocked_address'), path);
  }
  const ok = await policy.fetch(`${hop.url}/fine`, limits);
  assert.equal(ok.body.toString(), 'ok');
});

test('at most 5 redirects; a loop fails with too_many_redirects', async () => {
  const loop = await startServer((req, res) => {
    const n = Number(req.url?.slice(1) || 0);
    res.writeHead(302, { location: n >= 4 ? '/0' : `/${n + 1}` }).end();
  });
  await assert.rejects(open.fetch(`${loop.url}/0`, limits), rejectsWith('too_many_redirects'));
  const chain = await startServer((req, res) => {
    const n = Number(req.url?.slice(1) || 0);
    if (n < 5) res.writeHead(302, { location: `/${n + 1}` }).end();
    else res.end('arrived');
  });
  const res = await open.fetch(`${chain.url}/0`, limits);
  assert.equal(res.body.toString(), 'arrived');
  assert.equal(res.redirects.length, 5);
  assert.equal(res.url, `${chain.url}/5`);
  const manual = await open.fetch(`${chain.url}/0`, { ...limits, maxRedirects: 0 });
  assert.equal(manual.status, 302, 'with maxRedirects 0 the 3xx itself comes back');
});

test('the byte cap holds while streaming, whatever Content-Length says', async () => {
  const big = Buffer.alloc(64 * 1024, 1);
  const server = await startServer((req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.end(big);
      return;
    }
    // Chunked, no Content-Length: keeps sending.
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    let sent = 0;
    const pump = () => {
      while (sent < 2 * 1024 * 1024 && res.write(big)) sent += big.length;
      if (sent < 2 * 1024 * 1024) res.once('drain', pump);
      else res.end();
    };
    pump();
  });
  await assert.rejects(
    open.fetch(`${server.url}/chunked`, { ...limits, maxBytes: 256 * 1024 }),
    rejectsWith('too_large'),
  );
  await assert.rejects(
    open.fetch(`${server.url}/declared`, { ...limits, maxBytes: 256 * 1024 }),
    rejectsWith('too_large'),
  );
  const head = await open.fetch(`${server.url}/chunked`, {
    ...limits,
    maxBytes: 1024,
    truncate: { contentType: /^image\//, bytes: 100 },
  });
  assert.equal(head.body.length, 100);
  assert.ok(head.truncated);
});

test('a server sending one byte per second hits the total timeout', async () => {
  const slow = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const t = setInterval(() => res.write('x'), 1000);
    res.on('close', () => clearInterval(t));
  });
  await assert.rejects(open.fetch(slow.url, { ...limits, timeoutMs: 1200 }), rejectsWith('timeout'));
  const silent = await startServer(() => {});
  await assert.rejects(open.fetch(silent.url, { ...limits, timeoutMs: 500 }), rejectsWith('timeout'));
});

test('connection refused and a clear User-Agent', async () => {
  const s = await startServer((req, res) => res.end(req.headers['user-agent']));
  const res = await open.fetch(s.url, limits);
  assert.match(res.body.toString(), /^imgkit\//);
  await assert.rejects(open.fetch('http://127.0.0.1:1/', limits), rejectsWith('connect_failed'));
});

test("a process's first fetch does not spend its timeout loading the HTTP client", async () => {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = fileURLToPath(new URL('./first-fetch-child.ts', import.meta.url));
  // undici takes 2 s to load there; the server answers at once; the timeout is 1 s.
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [child], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  assert.deepEqual(JSON.parse(out), { status: 200 });
});
