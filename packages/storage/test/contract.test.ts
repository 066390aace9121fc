/**
 * One contract for every blob store: the local disk, a real S3 server (OpenStack Swift with
 * s3api, started for this file), and S3 read through the per-machine cache of originals.
 * Each driver runs the same cases; driver-specific behaviour is tested after.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  CachedBlobStore,
  DiskCache,
  LocalBlobStore,
  StorageUnavailableError,
} from '@imgkit/storage';
import { S3BlobStore } from '@imgkit/storage/s3';
import { freshBucket, s3ServerForTests } from '../../../test/helpers/s3.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const s3 = await s3ServerForTests();

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `size` pseudo-random bytes as a stream of 64 KiB chunks that never exists whole in memory. */
function generated(size: number, seed: number): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => createHash('sha512').update(`${seed}:${i}`).digest();
  const build = function* () {
    let sent = 0;
    let i = 0;
    while (sent < size) {
      const block = Buffer.alloc(Math.min(65536, size - sent));
      for (let o = 0; o < block.length; o += 64) chunk(i++).copy(block, o);
      sent += block.length;
      yield block;
    }
  };
  const hash = createHash('sha256');
  for (const b of build()) hash.update(b);
  return { stream: () => Readable.from(build()), sha256: hash.digest('hex') };
}

const drivers: { name: string; skip: string | false; make: () => Promise<BlobStore> }[] = [
  {
    name: 'local disk',
    skip: false,
    make: async () => new LocalBlobStore(await mkdtemp(path.join(tmpdir(), 'imgkit-blobs-'))),
  },
  {
    name: 's3 (Swift s3api)',
    skip: s3.skip,
    make: async () => new S3BlobStore(await freshBucket(s3.server!)),
  },
  {
    name: 's3 through the cache of originals',
    skip: s3.skip,
    make: async () => {
      const cache = new DiskCache(await mkdtemp(path.join(tmpdir(), 'imgkit-oc-')), 64 * 1024 * 1024);
      await cache.init();
      return new CachedBlobStore(new S3BlobStore(await freshBucket(s3.server!)), cache, (k) =>
        k.startsWith('originals/'),
      );
    },
  },
];

for (const driver of drivers) {
  describe(`blob store contract: ${driver.name}`, { skip: driver.skip }, () => {
    test('put streams and hashes; get, readBuffer, head and exists see it', async () => {
      const store = await driver.make();
      const bytes = Buffer.from('hello blob, in two chunks');
      const put = await store.put(
        'originals/acc/img1',
        Readable.from([bytes.subarray(0, 4), bytes.subarray(4)]),
      );
      assert.deepEqual(put, { byteSize: bytes.length, sha256: sha(bytes) });
      assert.deepEqual(await store.readBuffer('originals/acc/img1'), bytes);
      const got = await store.get('originals/acc/img1');
      assert.equal(got.byteSize, bytes.length);
      assert.deepEqual(await collect(got.stream), bytes);
      assert.deepEqual(await store.head('originals/acc/img1'), { byteSize: bytes.length });
      assert.equal(await store.exists('originals/acc/img1'), true);
      store.close();
    });

    test('a 20 MB upload streams through in parts and reads back byte for byte', async () => {
      const store = await driver.make();
      const big = generated(20 * 1024 * 1024 + 123, 7);
      const put = await store.put('originals/acc/big', big.stream());
      assert.deepEqual(put, { byteSize: 20 * 1024 * 1024 + 123, sha256: big.sha256 });
      const got = await store.get('originals/acc/big');
      assert.equal(got.byteSize, put.byteSize);
      assert.equal(sha(await collect(got.stream)), big.sha256);
      store.close();
    });

    test('a write over maxBytes fails with BlobTooLargeError and leaves nothing behind', async () => {
      const store = await driver.make();
      const big = generated(12 * 1024 * 1024, 3);
      await assert.rejects(
        store.put('originals/acc/over', big.stream(), { maxBytes: 10 * 1024 * 1024 }),
        BlobTooLargeError,
      );
      assert.equal(await store.exists('originals/acc/over'), false);
      await assert.rejects(
        store.put('originals/acc/small-over', Readable.from([Buffer.alloc(100)]), { maxBytes: 99 }),
        BlobTooLargeError,
      );
      assert.equal(await store.exists('originals/acc/small-over'), false);
      store.close();
    });

    test('a second put replaces the blob whole', async () => {
      const store = await driver.make();
      await store.putBuffer('variants/acc/img/thumb', Buffer.from('first version'));
      await store.putBuffer('variants/acc/img/thumb', Buffer.from('second'));
      assert.equal((await store.readBuffer('variants/acc/img/thumb')).toString(), 'second');
      store.close();
    });

    test('missing blobs: get and readBuffer throw BlobNotFoundError, head is undefined, delete is fine', async () => {
      const store = await driver.make();
      await assert.rejects(store.get('originals/acc/none'), BlobNotFoundError);
      await assert.rejects(store.readBuffer('originals/acc/none'), BlobNotFoundError);
      assert.equal(await store.head('originals/acc/none'), undefined);
      assert.equal(await store.exists('originals/acc/none'), false);
      await store.delete('originals/acc/none');
      await store.deleteMany(['originals/acc/none', 'originals/acc/none2']);
      store.close();
    });

    test('ranged get returns exactly the bytes asked for', async () => {
      const store = await driver.make();
      const bytes = randomBytes(10_000);
      await store.putBuffer('originals/acc/ranged', bytes);
      for (const [start, end] of [
        [0, 0],
        [10, 99],
        [9_000, 9_999],
        [5_000, undefined],
      ] as const) {
        const got = await store.get('originals/acc/ranged', { start, end });
        const want = bytes.subarray(start, end === undefined ? undefined : end + 1);
        assert.equal(got.byteSize, want.length, `byteSize of ${start}-${end}`);
        assert.deepEqual(await collect(got.stream), want, `bytes ${start}-${end}`);
      }
      store.close();
    });

    test('delete, deleteMany and deletePrefix remove exactly what they name', async () => {
      const store = await driver.make();
      const keys = [
        'variants/acc/img_1/thumb',
        'variants/acc/img_1/large',
        'variants/acc/img_12/thumb',
        'originals/acc/img_1',
        'originals/acc/img_2',
        'originals/acc/img_3',
      ];
      for (const k of keys) await store.putBuffer(k, Buffer.from(k));
      await store.deletePrefix('variants/acc/img_1');
      assert.equal(await store.exists('variants/acc/img_1/thumb'), false);
      assert.equal(await store.exists('variants/acc/img_1/large'), false);
      assert.equal(await store.exists('variants/acc/img_12/thumb'), true, 'a sibling with a longer id stays');
      await store.deleteMany(['originals/acc/img_1', 'originals/acc/img_2']);
      await store.delete('originals/acc/img_3');
      const left: string[] = [];
      for await (const b of store.list('')) left.push(b.key);
      assert.deepEqual(left, ['variants/acc/img_12/thumb']);
      store.close();
    });

    test('list walks every blob under a prefix, with sizes, across pages', async () => {
      const store = await driver.make();
      const want = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const key = `originals/acc${i % 3}/img_${String(i).padStart(3, '0')}`;
        await store.putBuffer(key, Buffer.alloc(i + 1));
        want.set(key, i + 1);
      }
      const got = new Map<string, number>();
      for await (const b of store.list('originals/acc1/')) got.set(b.key, b.byteSize);
      assert.deepEqual([...got].sort(), [...want].filter(([k]) => k.startsWith('originals/acc1/')).sort());
      const all: string[] = [];
      for await (const b of store.list()) all.push(b.key);
      assert.equal(all.length, 30);
      store.close();
    });

    test('keys that could escape or confuse the layout are refused', async () => {
      const store = await driver.make();
      for (const bad of ['../etc/passwd', 'originals/../../x', 'a b', 'originals/acc/img?x=1']) {
        await assert.rejects(store.putBuffer(bad, Buffer.from('x')), /invalid blob key/, bad);
      }
      store.close();
    });
  });
}

describe('s3 driver', { skip: s3.skip }, () => {
  test('a presigned GET serves the object to a client without credentials, with the type asked for', async () => {
    const store = new S3BlobStore(await freshBucket(s3.server!));
    const bytes = randomBytes(3000);
    await store.putBuffer('originals/acc/img', bytes);
    const url = await store.presignGet('originals/acc/img', {
      expiresInSeconds: 60,
      contentType: 'image/jpeg',
      filename: 'cat photo.jpg',
    });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    // The signature covers the key: another key with the same query is refused.
    const forged = await fetch(url.replace('originals/acc/img', 'originals/acc/other'));
    assert.equal(forged.status, 403);
    store.close();
  });

  test('wrong credentials and an unreachable server are StorageUnavailableError, not "not found"', async () => {
    const wrong = new S3BlobStore(
      await freshBucket(s3.server!, { credentials: { accessKeyId: 'test:tester', secretAccessKey: 'nope' } }),
    );
    await assert.rejects(wrong.readBuffer('originals/a/b'), StorageUnavailableError);
    await assert.rejects(wrong.putBuffer('originals/a/b', Buffer.from('x')), StorageUnavailableError);
    wrong.close();
    const down = new S3BlobStore({
      ...(await freshBucket(s3.server!)),
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 2,
    });
    await assert.rejects(down.putBuffer('originals/a/b', Buffer.from('x')), (err: Error) => {
      assert.ok(err instanceof StorageUnavailableError, String(err));
      assert.equal((err as StorageUnavailableError).code, 'storage_unavailable');
      return true;
    });
    await assert.rejects(down.head('originals/a/b'), StorageUnavailableError);
    await assert.rejects(down.ping(), StorageUnavailableError);
    down.close();
  });

  test('an upload refused for size leaves no incomplete multipart upload in the bucket', async () => {
    const settings = await freshBucket(s3.server!);
    const store = new S3BlobStore(settings);
    await assert.rejects(
      store.put('originals/acc/over', generated(30 * 1024 * 1024, 5).stream(), {
        maxBytes: 20 * 1024 * 1024,
      }),
      BlobTooLargeError,
    );
    const uploads = await store.client.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }));
    assert.deepEqual(uploads.Uploads ?? [], []);
    store.close();
  });

  test('a key prefix keeps two deployments apart in one bucket', async () => {
    const settings = await freshBucket(s3.server!);
    const a = new S3BlobStore({ ...settings, keyPrefix: 'prod' });
    const b = new S3BlobStore({ ...settings, keyPrefix: 'staging' });
    await a.putBuffer('originals/acc/img', Buffer.from('a'));
    await b.putBuffer('originals/acc/img', Buffer.from('b'));
    assert.equal((await a.readBuffer('originals/acc/img')).toString(), 'a');
    await b.deletePrefix('originals/acc');
    assert.equal(await b.exists('originals/acc/img'), false);
    assert.equal(await a.exists('originals/acc/img'), true);
    const listed: string[] = [];
    for await (const x of a.list()) listed.push(x.key);
    assert.deepEqual(listed, ['originals/acc/img']);
    a.close();
    b.close();
  });
});

describe('cache of originals', { skip: s3.skip }, () => {
  async function cached() {
    const remote = new S3BlobStore(await freshBucket(s3.server!));
    const cache = new DiskCache(await mkdtemp(path.join(tmpdir(), 'imgkit-oc-')), 64 * 1024 * 1024);
    await cache.init();
    return { remote, store: new CachedBlobStore(remote, cache, (k) => k.startsWith('originals/')) };
  }

  test('an original is read from S3 once; later reads, ranges and the local path come from disk', async () => {
    const { remote, store } = await cached();
    const bytes = randomBytes(50_000);
    await remote.putBuffer('originals/acc/img', bytes); // stored by another machine
    assert.equal(store.localPath('originals/acc/img'), undefined);
    const reads = await Promise.all(Array.from({ length: 5 }, () => store.readBuffer('originals/acc/img')));
    for (const r of reads) assert.deepEqual(r, bytes);
    assert.equal(store.remoteReads, 1, 'five concurrent misses share one download');
    assert.deepEqual(await store.readBuffer('originals/acc/img'), bytes);
    const part = await store.get('originals/acc/img', { start: 100, end: 199 });
    assert.deepEqual(await collect(part.stream), bytes.subarray(100, 200));
    assert.ok(store.localPath('originals/acc/img'));
    assert.equal(store.remoteReads, 1);
    store.close();
  });

  test('what this machine stores is cached at once; variants are not cached; delete drops the copy', async () => {
    const { store } = await cached();
    await store.putBuffer('originals/acc/img', Buffer.from('original'));
    await store.putBuffer('variants/acc/img/thumb', Buffer.from('thumb'));
    assert.equal((await store.readBuffer('originals/acc/img')).toString(), 'original');
    assert.equal(store.remoteReads, 0);
    await store.readBuffer('variants/acc/img/thumb');
    await store.readBuffer('variants/acc/img/thumb');
    assert.equal(store.remoteReads, 2);
    await store.delete('originals/acc/img');
    assert.equal(store.localPath('originals/acc/img'), undefined);
    await assert.rejects(store.readBuffer('originals/acc/img'), BlobNotFoundError);
    store.close();
  });
});
