// Child processes for bench/thumbs, so each contender's peak RSS is its own.
//   node servers.ts ipx <dir>      ipx serving <dir> over HTTP
//   node servers.ts static <dir>   express.static serving <dir>
//   node servers.ts sharp <dir> <seconds> <concurrency>   sharp called directly in a loop
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';
import sharp from 'sharp';

const [mode, dir, seconds, concurrency] = process.argv.slice(2);
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
  const deadline = performance.now() + Number(seconds) * 1000;
  const latencies: number[] = [];
  let n = 0;
  await Promise.all(
    Array.from({ length: Number(concurrency) }, async () => {
      while (performance.now() < deadline) {
        const i = n++;
        const t = performance.now();
        // The same pipeline the signed route runs: orientation, sRGB, cover crop, mozjpeg.
        await sharp(files[i % files.length], { failOn: 'none' })
          .autoOrient()
          .toColourspace('srgb')
          .resize(200, 200, { fit: 'cover' })
          .jpeg({ quality: 50 + (i % 50), mozjpeg: true })
          .toBuffer();
        latencies.push(performance.now() - t);
      }
    }),
  );
  process.send?.({ count: latencies.length, latencies });
}
process.on('disconnect', () => process.exit(0));
