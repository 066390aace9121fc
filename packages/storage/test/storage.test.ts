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
