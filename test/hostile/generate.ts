/**
 * Deterministic adversarial inputs for the hostile-input test: each is what a hostile
 * account could send, with what must become of it. Built from code and from the test corpus,
 * so the same bytes are produced on every run and every machine.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { CORPUS } from '../helpers/corpus.ts';

export interface Hostile {
  name: string;
  bytes: Buffer;
  /** Sent as an upload with this type, or served from a URL with this Content-Type. */
  contentType: string;
  via: 'upload' | 'url';
  /** The image must end failed with one of these codes, or (for a valid image with hostile metadata) completed. */
  expect: { status: 'failed'; codes: string[] } | { status: 'completed' };
}

const read = (p: string) => readFileSync(path.join(CORPUS, p));

const xmpPacket = (body: string) =>
  `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">${body}</rdf:RDF></x:xmpmeta>`;

function jpegWithXmp(jpeg: Buffer, xmp: string): Buffer {
  const payload = Buffer.concat([
    Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1'),
    Buffer.from(xmp, 'utf8'),
  ]);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

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

/** An animated GIF of `frames` 1×1 frames (a few bytes each): a frame flood. */
function frameFlood(frames: number): Buffer {
  const head = Buffer.from('474946383961010001008000000000000ffffff'.replace('0ffffff', 'ffffff'), 'hex');
  const loop = Buffer.from('21ff0b4e45545343415045322e300301000000', 'hex');
  const frame = Buffer.from('21f90400000000002c000000000100010000020244010' + '0', 'hex');
  return Buffer.concat([head, loop, ...Array.from({ length: frames }, () => frame), Buffer.from(';')]);
}

export function hostileInputs(): Hostile[] {
  const jpeg = read('camera-exif/Canon_40D.jpg');
  const png = read('hash-vectors/imagehash.png');
  const comments = '<!---->'.repeat(140);
  const failed = (...codes: string[]) => ({ status: 'failed' as const, codes });
  return [
    {
      name: 'svg regex bomb',
      bytes: Buffer.from(`<?xml version="1.0"?>${comments}<svg xmlns="http://www.w3.org/2000/svg">`),
      contentType: 'image/svg+xml',
      via: 'upload',
      expect: failed('unsupported_format'),
    },
    {
      name: 'html regex bomb',
      bytes: Buffer.from(`${comments}<html><body>`),
      contentType: 'application/octet-stream',
      via: 'upload',
      expect: failed('not_an_image'),
    },
    {
      name: 'page of unterminated tags served as octet-stream',
      bytes: Buffer.concat([
        Buffer.from('<!doctype html><html><head>'),
        Buffer.from('<meta '.repeat(400_000)),
      ]),
      contentType: 'application/octet-stream',
      via: 'url',
      expect: failed('no_og_image'),
    },
    {
      name: 'page of unterminated comments as text/html',
      bytes: Buffer.from(`<html><head>${'<!--'.repeat(300_000)}`),
      contentType: 'text/html',
      via: 'url',
      expect: failed('no_og_image'),
    },
    {
      name: 'xmp with prototype names',
      bytes: jpegWithXmp(
        jpeg,
        xmpPacket(
          '<rdf:Description xmlns:constructor="http://e/" xmlns:__proto__="http://f/" constructor:polluted="y" __proto__:polluted="y"><constructor:prototype><rdf:Description polluted="y"/></constructor:prototype></rdf:Description>',
        ),
      ),
      contentType: 'image/jpeg',
      via: 'upload',
      expect: { status: 'completed' },
    },
    {
      name: 'huge xmp',
      bytes: pngWithXmp(
        png,
        xmpPacket(`<rdf:Description xmlns:a="http://a/" a:v="${'<a>'.repeat(700_000)}"/>`),
      ),
      contentType: 'image/png',
      via: 'upload',
      expect: { status: 'completed' },
    },
    {
      name: 'deeply nested xmp',
      bytes: pngWithXmp(
        png,
        xmpPacket(
          `${'<rdf:Description xmlns:a="http://a/"><a:n>'.repeat(2500)}x${'</a:n></rdf:Description>'.repeat(2500)}`,
        ),
      ),
      contentType: 'image/png',
      via: 'upload',
      expect: { status: 'completed' },
    },
    {
      name: 'truncated jpeg',
      bytes: read('malformed/generated/jpeg_truncated_inside_exif_300B.jpg'),
      contentType: 'image/jpeg',
      via: 'upload',
      expect: failed('decode_failed', 'not_an_image'),
    },
    {
      name: 'random bytes named .jpg',
      bytes: read('malformed/generated/random_4096_bytes.jpg'),
      contentType: 'image/jpeg',
      via: 'upload',
      expect: failed('not_an_image'),
    },
    {
      name: 'empty file',
      bytes: Buffer.alloc(0),
      contentType: 'image/png',
      via: 'upload',
      expect: failed('empty_file', 'not_an_image'),
    },
    {
      name: 'pixel flood png 50000x50000',
      bytes: read('bombs/png_50000x50000_1bit_gray.png'),
      contentType: 'image/png',
      via: 'upload',
      expect: failed('image_too_large'),
    },
    {
      name: 'pixel flood webp 16383x16383 in 34 bytes',
      bytes: read('bombs/webp_16383x16383_vp8l.webp'),
      contentType: 'image/webp',
      via: 'upload',
      expect: failed('image_too_large'),
    },
    {
      name: 'gif screen 65535x65535',
      bytes: read('bombs/gif_65535x65535_screen_1x1_frame.gif'),
      contentType: 'image/gif',
      via: 'upload',
      expect: failed('image_too_large'),
    },
    {
      name: '5,000-frame gif',
      bytes: frameFlood(5000),
      contentType: 'image/gif',
      via: 'upload',
      expect: failed('too_many_frames', 'decode_failed'),
    },
  ];
}
