import { createRequire } from 'node:module';
import { generatedPhotos } from './photos.ts';

const require = createRequire(import.meta.url);
const which = process.argv[2];
const sharp = require(which === 'ipx' ? '../node_modules/ipx/node_modules/sharp' : 'sharp');
const photos = await generatedPhotos(8);
const variants: Record<string, (i: number) => Promise<unknown>> = {
  ours: (i) =>
    sharp(photos[i % 8].bytes, { failOn: 'none' })
      .autoOrient()
      .toColourspace('srgb')
      .resize(200, 200, { fit: 'cover' })
      .jpeg({ quality: 50 + (i % 50), mozjpeg: true })
      .toBuffer(),
  ipxlike: (i) =>
    sharp(photos[i % 8].bytes)
      .resize(200, 200, { fit: 'cover' })
      .jpeg({ quality: 50 + (i % 50) })
      .toBuffer(),
};
const N = 24;
for (let r = 0; r < 2; r++)
  for (const [k, fn] of Object.entries(variants)) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) await fn(i + r * 100);
    const c = process.cpuUsage(c0);
    console.log(
      which,
      sharp.versions.vips,
      k.padEnd(10),
      ((c.user + c.system) / 1000 / N).toFixed(1),
      'ms/img',
    );
  }
