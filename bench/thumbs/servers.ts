// Child processes for bench/thumbs, so each contender's peak RSS is its own.
//   node servers.ts ipx <dir>      ipx serving <dir> over HTTP
//   node servers.ts static <dir>   express.static serving <dir>
//   node servers.ts sharp <dir> <seconds> <concurrency>   sharp called directly in a loop
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';
import sharp from 'sharp';

const [mode, dir, seconds, concurrency, warmUp] = process.argv.slice(2);
const listen = (server: {
  listen: (port: number, host: string, cb: () => void) => { address(): unknown };
}) => {
  const s = server.listen(0, '127.0.0.1', () =>
    process.send?.({ port: (s.address() as { port: number }).port }),
  );
};

if (mode === 'ipx') {
  const ipx = createIPX({ storage: ipxFSStorage({ dir }) });
  const { createServer } = await import('node:http');
  listen(createServer(createIPXNodeServer(ipx)));
} else if (mode === 'static') {
  const app = express();
  app.use(express.static(dir, { etag: true, maxAge: '1y', immutable: true }));
  listen(app);
} else if (mode === 'sharp') {
  const files = await Promise.all(
    (await readdir(dir)).filter((f) => f.endsWith('.jpg')).map((f) => readFile(path.join(dir, f))),
  );
  // The same pipeline the signed route runs: orientation, sRGB, cover crop, mozjpeg.
  const render = (i: number, quality: number) =>
    sharp(files[i % files.length], { failOn: 'none' })
      .autoOrient()
      .toColourspace('srgb')
      .resize(200, 200, { fit: 'cover' })
      .jpeg({ quality, mozjpeg: true })
      .toBuffer();
  // The warm-up every contender gets (run.ts), in the same batches of `concurrency`.
  for (let k = 0; k < Number(warmUp ?? 0); k += Number(concurrency)) {
    await Promise.all(
      Array.from({ length: Number(concurrency) }, (_, j) =>
        render(k + j, 30 + (Math.floor((k + j) / files.length) % 10)),
      ),
    );
  }
  const cpu0 = process.cpuUsage();
  const deadline = performance.now() + Number(seconds) * 1000;
  // Like autocannon for the servers: only what finished within the phase counts as done.
  const latencies: number[] = [];
  let n = 0;
  let rendered = 0;
  await Promise.all(
    Array.from({ length: Number(concurrency) }, async () => {
      while (performance.now() < deadline) {
        const i = n++;
        const t = performance.now();
        await render(i, 50 + (i % 50));
        rendered++;
        if (performance.now() <= deadline) latencies.push(performance.now() - t);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  process.send?.({
    count: latencies.length,
    latencies,
    cpuMsPerRender: (cpu.user + cpu.system) / 1000 / rendered,
  });
}
process.on('disconnect', () => process.exit(0));
