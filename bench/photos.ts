import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type SharpOptions } from 'sharp';

const GENERATED = fileURLToPath(new URL('./results/generated/', import.meta.url));

/**
 * Where the camera JPEGs come from: IMGKIT_CORPUS (as for the tests), else the full corpus beside
 * the checkout (../shared/corpus), else the repository's curated subset (test/corpus: smaller
 * files, so a run there measures less decode per image; the header line says which was used).
 */
export function corpusDir(): string {
  const candidates = [
    process.env.IMGKIT_CORPUS,
    fileURLToPath(new URL('../../shared/corpus/', import.meta.url)),
    fileURLToPath(new URL('../test/corpus/', import.meta.url)),
  ];
  for (const dir of candidates)
    if (dir && existsSync(path.join(dir, 'camera-exif'))) return path.resolve(dir);
  throw new Error(`no corpus with camera-exif/ among ${candidates.filter(Boolean).join(', ')}`);
}

/** Real camera JPEGs from the corpus (the larger ones first). */
export async function cameraJpegs(count: number): Promise<{ name: string; bytes: Buffer }[]> {
  const dir = path.join(corpusDir(), 'camera-exif');
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.jpe?g$/i.test(f));
  const all = await Promise.all(
    files.map(async (f) => ({ name: f, bytes: await readFile(path.join(dir, f)) })),
  );
  return all.sort((a, b) => b.bytes.length - a.bytes.length).slice(0, count);
}

/** `count` photo-like JPEGs of about `megapixels` each (3:2), cached like generatedPhotos. */
export async function photosOf(
  count: number,
  megapixels: number,
): Promise<{ name: string; bytes: Buffer }[]> {
  await mkdir(GENERATED, { recursive: true });
  const width = Math.round(Math.sqrt(megapixels * 1e6 * 1.5));
  const height = Math.round(width / 1.5);
  const out: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `scale-${i}-${width}x${height}.jpg`;
    const file = path.join(GENERATED, name);
    if (!existsSync(file)) await writeFile(file, await photoLike(width, height, 1000 + i));
    out.push({ name, bytes: await readFile(file) });
  }
  return out;
}

/**
 * Photo-like JPEGs of 12–24 MP: smooth gradients, shapes and film-grain noise, so
 * they compress and decode like photographs rather than like flat colour or pure noise.
 * Generated once into bench/results/generated/ (deterministic sizes; not committed).
 */
export async function generatedPhotos(count: number): Promise<{ name: string; bytes: Buffer }[]> {
  await mkdir(GENERATED, { recursive: true });
  const out: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const megapixels = 12 + (12 * i) / Math.max(1, count - 1);
    const width = Math.round(Math.sqrt(megapixels * 1e6 * 1.5));
    const height = Math.round(width / 1.5);
    const name = `photo-${i}-${width}x${height}.jpg`;
    const file = path.join(GENERATED, name);
    if (!existsSync(file)) await writeFile(file, await photoLike(width, height, i));
    out.push({ name, bytes: await readFile(file) });
  }
  return out;
}

async function photoLike(width: number, height: number, seed: number): Promise<Buffer> {
  const hue = (seed * 47) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="hsl(${hue},60%,70%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},50%,25%)"/>
    </linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    ${Array.from({ length: 12 }, (_, k) => `<circle cx="${(((k * 977 + seed * 131) % 100) / 100) * width}" cy="${(((k * 613 + seed * 71) % 100) / 100) * height}" r="${(height / 12) * (1 + (k % 4))}" fill="hsl(${(hue + k * 29) % 360},55%,${35 + (k % 5) * 10}%)" fill-opacity="0.55"/>`).join('')}
  </svg>`;
  const grain = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 18 },
    },
  } as SharpOptions)
    .png()
    .toBuffer();
  return sharp(Buffer.from(svg))
    .composite([{ input: grain, blend: 'overlay' }])
    .jpeg({ quality: 88 })
    .toBuffer();
}
