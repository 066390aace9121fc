import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sniff } from '@imgkit/media';

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('magic numbers decide the format', () => {
  assert.deepEqual(sniff(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), {
    kind: 'image',
    format: 'jpeg',
    mime: 'image/jpeg',
  });
  assert.equal((sniff(Buffer.from('89504e470d0a1a0a', 'hex')) as { format: string }).format, 'png');
  assert.equal((sniff(bytes('GIF89a....')) as { format: string }).format, 'gif');
  assert.equal((sniff(bytes('RIFF\0\0\0\0WEBPVP8 ')) as { format: string }).format, 'webp');
  assert.equal((sniff(bytes('II*\0')) as { format: string }).format, 'tiff');
  assert.equal((sniff(bytes('MM\0+')) as { format: string }).format, 'tiff');
  assert.equal((sniff(bytes('\0\0\0\x1cftypavif\0\0\0\0avifmif1')) as { format: string }).format, 'avif');
  assert.equal((sniff(bytes('\0\0\0\x18ftypheic\0\0\0\0mif1heic')) as { format: string }).format, 'heic');
  assert.deepEqual(sniff(bytes('BM....')), { kind: 'unsupported', format: 'bmp', mime: 'image/bmp' });
  assert.deepEqual(sniff(bytes('hello')), { kind: 'unknown' });
  assert.deepEqual(sniff(Buffer.alloc(0)), { kind: 'unknown' });
});

test('SVG and HTML are recognised after BOM, XML declaration, comments and doctype', () => {
  const svg = { kind: 'unsupported', format: 'svg', mime: 'image/svg+xml' };
  assert.deepEqual(sniff(bytes('<svg xmlns="http://www.w3.org/2000/svg"/>')), svg);
  assert.deepEqual(sniff(bytes('<?xml version="1.0"?>\n<!-- made by hand -->\n<svg>')), svg);
  assert.deepEqual(
    sniff(
      bytes('<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd"><svg width="1">'),
    ),
    svg,
  );
  assert.deepEqual(sniff(Buffer.from('\uFEFF  <!doctype html><title>x</title>', 'utf8')), { kind: 'html' });
  assert.deepEqual(sniff(bytes('<!-- a --><!-- b -->\n<HTML lang="en">')), { kind: 'html' });
  assert.deepEqual(sniff(bytes('<meta charset="utf-8">')), { kind: 'html' });
  assert.deepEqual(sniff(bytes('<svgx>')), { kind: 'unknown' });
  assert.deepEqual(sniff(bytes('<!-- never closed <html>')), { kind: 'unknown' });
});

test('regex-bomb inputs are scanned in linear time (the old pattern needed 2^n steps)', () => {
  // 140 empty comments and no element: each comment could be matched in two ways by the
  // old `(<!--[\s\S]*?-->\s*)*` prefix, so it backtracked through 2^140 paths.
  const comments = '<!---->'.repeat(140);
  assert.deepEqual(sniff(bytes(`${comments}x`)), { kind: 'unknown' });
  assert.deepEqual(sniff(bytes(`<?xml version="1.0"?>${comments}<nope>`)), { kind: 'unknown' });
  assert.deepEqual(sniff(bytes(`${'<!-- -->'.repeat(120)}<html>`)), { kind: 'html' });
});
