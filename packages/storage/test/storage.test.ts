import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { BlobNotFoundError, BlobTooLargeError, DiskCache, LocalBlobStore } from '@imgkit/storage';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('local blobs: put streams and hashes, get/read/exists/delete, prefixes', async () => {
  const store = new LocalBlobStore(await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-')));
  const bytes = Buffer.from('hello blob');
  const put = await store.put('originals/acc/img1', Readable.from([bytes.subarray(0, 4), bytes.subarray(4)]));
  assert.deepEqual(put, { byteSize: bytes.length, sha256: sha(bytes) });
  assert.deepEqual(await store.readBuffer('originals/acc/img1'), bytes);
  const got = await store.get('originals/acc/img1');
  assert.equal(got.byteSize, bytes.length);
  got.stream.resume();
  assert.equal(await store.exists('originals/acc/img1'), true);
  await store.putBuffer('variants/acc/img1/thumb', new Uint8Array([1, 2, 3]));
  await store.deletePrefix('variants/acc/img1');
  assert.equal(await store.exists('variants/acc/img1/thumb'), false);
  await store.delete('originals/acc/img1');
  await store.delete('originals/acc/img1'); // deleting what is gone is fine
  await assert.rejects(store.readBuffer('originals/acc/img1'), BlobNotFoundError);
});

test('local blobs: a write over the limit fails and leaves neither the blob nor a temp file', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-'));
  const store = new LocalBlobStore(root);
  await assert.rejects(
    store.put('originals/a/b', Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { maxBytes: 1000 }),
    BlobTooLargeError,
  );
  assert.equal(await store.exists('originals/a/b'), false);
  const tmp = await readdir(path.join(root, '.tmp')).catch(() => []);
  assert.deepEqual(tmp, []);
});

test('local blobs: keys cannot escape the root', async () => {
  const store = new LocalBlobStore(await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-')));
  await assert.rejects(store.putBuffer('../outside', new Uint8Array([1])));
  await assert.rejects(store.putBuffer('/etc/passwd', new Uint8Array([1])));
});

test('disk cache: least recently used goes first, and the index survives a restart', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-cache-'));
  const key = (n: number) =>
    String(n)
      .repeat(40)
      .slice(0, 40)
      .replace(/[^0-9a-f]/g, 'a');
  const cache = new DiskCache(dir, 250);
  await cache.init();
  await cache.put(key(1), Buffer.alloc(100));
  await cache.put(key(2), Buffer.alloc(100));
  assert.ok(cache.get(key(1)), 'touch 1: now 2 is the least recently used');
  await cache.put(key(3), Buffer.alloc(100));
  assert.equal(cache.get(key(2)), undefined);
  assert.ok(cache.get(key(1)));
  assert.ok(cache.get(key(3)));
  const again = new DiskCache(dir, 250);
  await again.init();
  assert.ok(again.get(key(1)) && again.get(key(3)));
});

test('disk cache memory tier: small entries served from memory within its budget, dropped with the entry', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-cache-mem-'));
  const key = (n: number) => `${String(n).padStart(2, '0')}${'ab'.repeat(19)}`;
  const cache = new DiskCache(dir, 10_000, { maxBytes: 250, maxItemBytes: 120 });
  await cache.init();
  await cache.put(key(1), Buffer.alloc(100, 1));
  await cache.put(key(2), Buffer.alloc(200, 2)); // on disk only: larger than an item may be
  assert.deepEqual(cache.get(key(1))?.data, Buffer.alloc(100, 1));
  assert.equal(cache.get(key(2))?.data, undefined);
  assert.equal(cache.get(key(2))?.size, 200);
  await cache.put(key(3), Buffer.alloc(100, 3));
  await cache.put(key(4), Buffer.alloc(100, 4)); // 300 > 250: the least recently used copy goes
  assert.equal(cache.memoryBytes, 200);
  assert.equal(cache.get(key(1))?.data, undefined, 'pushed out of memory, still on disk');
  assert.ok(cache.get(key(1)));
  // Read back from disk once, then from memory.
  const entry = cache.get(key(1))!;
  assert.deepEqual(await cache.readSmall(key(1), entry), Buffer.alloc(100, 1));
  assert.deepEqual(cache.get(key(1))?.data, Buffer.alloc(100, 1));
  assert.equal(await cache.readSmall(key(2), cache.get(key(2))!), undefined, 'too large for memory');
  // Removing an entry (purge, delete) drops its copy in memory too.
  await cache.removePrefix(key(1).slice(0, 2));
  assert.equal(cache.get(key(1)), undefined);
  assert.ok(cache.memoryBytes <= 200);
  // After a restart entries are on disk only until read.
  const again = new DiskCache(dir, 10_000, { maxBytes: 250, maxItemBytes: 120 });
  await again.init();
  assert.equal(again.get(key(3))?.data, undefined);
  assert.deepEqual(await again.readSmall(key(3), again.get(key(3))!), Buffer.alloc(100, 3));
  assert.equal(again.memoryBytes, 100);
});

test('disk cache: a put after the cache directory was emptied under it makes its directories again', async () => {
  const { rm } = await import('node:fs/promises');
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-cache-rm-'));
  const cache = new DiskCache(dir, 10_000);
  await cache.init();
  const key = (n: number) => `${String(n).padStart(2, '0')}${'cd'.repeat(19)}`;
  await cache.put(key(1), Buffer.alloc(10, 1));
  await rm(dir, { recursive: true, force: true });
  await cache.put(key(1), Buffer.alloc(10, 2));
  await cache.put(key(2), Buffer.alloc(10, 3));
  const { readFile } = await import('node:fs/promises');
  assert.deepEqual(await readFile(cache.get(key(1))!.path), Buffer.alloc(10, 2));
  assert.deepEqual(await readFile(cache.get(key(2))!.path), Buffer.alloc(10, 3));
});

test('disk cache: an entry written by someone else at filesFor() is adopted like a put (memory tier, eviction, restart)', async () => {
  const { mkdir, rename, writeFile, readFile, readdir } = await import('node:fs/promises');
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-cache-adopt-'));
  const cache = new DiskCache(dir, 250, { maxBytes: 1000, maxItemBytes: 120 });
  await cache.init();
  const key = (n: number) => `${String(n).padStart(2, '0')}${'ef'.repeat(19)}`;
  // What a media thread does with a rendering: write the temp file, rename it into place.
  const writeElsewhere = async (k: string, data: Buffer) => {
    const files = cache.filesFor(k, data.length)!;
    assert.equal(files.file, cache.pathOf(k));
    assert.equal(path.dirname(files.tmp), path.join(dir, '.tmp'));
    await mkdir(path.dirname(files.tmp), { recursive: true });
    await mkdir(path.dirname(files.file), { recursive: true });
    await writeFile(files.tmp, data);
    await rename(files.tmp, files.file);
    await cache.adopt(k, data);
  };
  assert.notEqual(cache.filesFor(key(1))!.tmp, cache.filesFor(key(1))!.tmp, 'a fresh temp file each time');
  await writeElsewhere(key(1), Buffer.alloc(100, 1));
  await writeElsewhere(key(2), Buffer.alloc(100, 2));
  assert.deepEqual(cache.get(key(1))?.data, Buffer.alloc(100, 1), 'small: kept in memory too');
  await writeElsewhere(key(3), Buffer.alloc(100, 3)); // 300 > 250: the least recently used (2) goes
  assert.equal(cache.get(key(2)), undefined);
  await assert.rejects(readFile(cache.pathOf(key(2))), { code: 'ENOENT' });
  assert.deepEqual(await readdir(path.join(dir, '.tmp')), []);
  // Nothing can be written where the cache is off or the entry could never fit.
  assert.equal(cache.filesFor(key(4), 251), undefined);
  assert.equal(new DiskCache(dir, 0).filesFor(key(4)), undefined);
  const again = new DiskCache(dir, 250);
  await again.init();
  assert.deepEqual(await readFile(again.get(key(3))!.path), Buffer.alloc(100, 3));
  assert.ok(again.get(key(1)));
});
