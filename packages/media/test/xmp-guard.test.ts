import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { extractImage } from '@imgkit/media';
import { CORPUS } from '../../../test/helpers/corpus.ts';

const LIMITS = { maxInputPixels: 1e8, maxFrames: 100, decodeTimeoutMs: 30_000 };

/** A JPEG with `xmp` inserted as an APP1 segment right after SOI. */
export function withXmp(jpeg: Buffer, xmp: string): Buffer {
  const payload = Buffer.concat([
    Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'),
    Buffer.from(xmp, 'utf8'),
  ]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

const packet = (body: string) =>
  `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">${body}</rdf:RDF></x:xmpmeta>`;

const HOSTILE = [
  `<rdf:Description xmlns:constructor="http://e/"><constructor:polluted>yes</constructor:polluted></rdf:Description>`,
  `<rdf:Description xmlns:constructor="http://e/" constructor:polluted="yes"/>`,
  `<rdf:Description xmlns:__proto__="http://e/" __proto__:polluted="yes"><__proto__:polluted>yes</__proto__:polluted></rdf:Description>`,
  `<rdf:Description xmlns:constructor="http://e/"><constructor:prototype><rdf:Description polluted="yes"/></constructor:prototype></rdf:Description>`,
  `<rdf:Description xmlns:toString="http://e/" toString:valueOf="x" xmlns:hasOwnProperty="http://f/" hasOwnProperty:a="1"/>`,
];

function snapshot() {
  return {
    proto: Object.getOwnPropertyNames(Object.prototype).sort().join(),
    object: Object.getOwnPropertyNames(Object).sort().join(),
    keys: Object.keys({}).length,
  };
}

test('XMP names that are Object.prototype members never reach an object’s prototype or Object itself', async () => {
  const jpeg = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));
  const before = snapshot();
  for (const body of HOSTILE) {
    const x = await extractImage(withXmp(jpeg, packet(body)), LIMITS);
    assert.equal(x.width, 100, 'the image itself is still read');
    assert.deepEqual(snapshot(), before, body);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
});

/** A PNG with `xmp` in an iTXt chunk right after IHDR (PNG chunks, unlike JPEG segments, may be large). */
function pngWithXmp(png: Buffer, xmp: string): Buffer {
  const data = Buffer.concat([
    Buffer.from('XML:com.adobe.xmp\0\0\0\0\0', 'latin1'),
    Buffer.from(xmp, 'utf8'),
  ]);
  const type = Buffer.from('iTXt', 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  const ihdrEnd = 8 + 4 + 4 + 13 + 4;
  return Buffer.concat([png.subarray(0, ihdrEnd), len, type, data, crc, png.subarray(ihdrEnd)]);
}

test('a huge XMP packet is not parsed (exifr’s regexes are quadratic in its size); the image is', async () => {
  const jpeg = await readFile(path.join(CORPUS, 'camera-exif/Canon_40D.jpg'));
  const png = await readFile(path.join(CORPUS, 'hash-vectors/imagehash.png'));
  const big = packet(`<rdf:Description xmlns:a="http://a/" a:v="${'<a>'.repeat(200 * 1024)}"/>`);
  const x = await extractImage(pngWithXmp(png, big), LIMITS);
  assert.equal(x.xmp, null);
  assert.ok(x.width > 0);
  const small = await extractImage(
    withXmp(
      jpeg,
      packet('<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/>'),
    ),
    LIMITS,
  );
  assert.ok(small.xmp, 'an ordinary packet is still parsed');
});
