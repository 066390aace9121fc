// Child of safe-fetch.test.ts: a process whose first fetch finds undici slow to load (2 s,
// as on a busy machine without a compile cache), fetching from a server that answers at once
// with a 1 s timeout. Prints {status} or {code}.
import { createServer } from 'node:http';
import { registerHooks } from 'node:module';

registerHooks({
  load(url, context, next) {
    if (/\/undici\/index\.js$/.test(url)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    return next(url, context);
  },
});
const { FetchError, SafeFetcher } = await import('@imgkit/fetch');
const server = createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address() as { port: number };
const fetcher = new SafeFetcher({ allowPrivateNetworks: true });
try {
  const res = await fetcher.fetch(`http://127.0.0.1:${port}/`, { maxBytes: 1024, timeoutMs: 1000 });
  process.stdout.write(JSON.stringify({ status: res.status }));
} catch (err) {
  process.stdout.write(JSON.stringify({ code: err instanceof FetchError ? err.code : String(err) }));
}
await fetcher.close();
server.close();
