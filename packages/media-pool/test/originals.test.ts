import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OriginalReader } from '../src/originals.ts';

const MB = 1024 * 1024;

async function files(sizes: number[]) {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-originals-'));
  return Promise.all(
    sizes.map(async (size, i) => {
      const file = path.join(dir, `f${i}`);
      const bytes = Buffer.alloc(size, i + 1);
      bytes.writeUInt32BE(size, 0);
      await writeFile(file, bytes);
      return { file, bytes };
    }),
  );
}

test('a file is read whole; a buffer lent out is never lent again until it is given back', async () => {
  const [a, b, c] = await files([3 * MB + 5, 2 * MB, 100]);
  const reader = new OriginalReader(8 * MB, 60_000);
  const ra = reader.read(a.file)!;
  const rb = reader.read(b.file)!;
  assert.deepEqual(ra.bytes, a.bytes);
  assert.deepEqual(rb.bytes, b.bytes);
  assert.notEqual(ra.bytes.buffer, rb.bytes.buffer, 'two renders at once, two buffers');
  assert.equal(reader.kept, 0);
  ra.release();
  ra.release(); // twice: still one buffer back
  assert.equal(reader.kept, 1);
  // The buffer given back (4 MB) serves the next file that fits, and holds its bytes alone.
  const rc = reader.read(c.file)!;
  assert.equal(rc.bytes.buffer, ra.bytes.buffer);
  assert.deepEqual(rc.bytes, c.bytes);
  assert.deepEqual(rb.bytes, b.bytes, 'the buffer still lent is untouched');
  rb.release();
  rc.release();
  assert.equal(reader.kept, 2);
  // A file larger than every kept buffer replaces the largest of them: never more buffers than
  // renders at once.
  const [big] = await files([6 * MB]);
  const rbig = reader.read(big.file)!;
  assert.deepEqual(rbig.bytes, big.bytes);
  rbig.release();
  assert.equal(reader.kept, 2);
});

test('files over the limit, missing files and directories are left to the render by path', async () => {
  const [small, large] = await files([MB, 2 * MB + 1]);
  const reader = new OriginalReader(2 * MB, 60_000);
  assert.equal(reader.read(large.file), undefined);
  assert.equal(reader.read(path.join(path.dirname(small.file), 'missing')), undefined);
  assert.equal(reader.read(path.dirname(small.file)), undefined);
  const r = reader.read(small.file)!;
  assert.deepEqual(r.bytes, small.bytes);
  r.release();
});

test('the stamp changes when the file does, and the buffers are dropped once the thread is idle', async () => {
  const [f] = await files([1000]);
  const reader = new OriginalReader(MB, 50);
  const first = reader.read(f.file)!;
  first.release();
  await sleep(20); // past the file system's timestamp granularity
  await writeFile(f.file, Buffer.alloc(1000, 9)); // same size, rewritten in place
  const second = reader.read(f.file)!;
  assert.notEqual(second.stamp, first.stamp);
  assert.equal(second.bytes[0], 9);
  second.release();
  assert.equal(reader.kept, 1);
  await sleep(120);
  assert.equal(reader.kept, 0);
});
