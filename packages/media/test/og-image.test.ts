import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findOgImage } from '@imgkit/media';

const page = 'https://example.com/articles/1';

test('og:image:secure_url, og:image, twitter:image and image_src, in that order of preference', () => {
  const head = (tags: string) => `<html><head>${tags}</head><body></body></html>`;
  assert.equal(
    findOgImage(
      head('<meta name="twitter:image" content="/t.jpg"><meta property="og:image" content="/o.jpg">'),
      page,
    ),
    'https://example.com/o.jpg',
  );
  assert.equal(
    findOgImage(
      head(
        '<meta property="og:image:secure_url" content="https://cdn.example.com/s.jpg"><meta property="og:image" content="/o.jpg">',
      ),
      page,
    ),
    'https://cdn.example.com/s.jpg',
  );
  assert.equal(
    findOgImage(head('<link rel="image_src" href="img.png">'), page),
    'https://example.com/articles/img.png',
  );
  assert.equal(
    findOgImage(head('<META PROPERTY=og:image CONTENT=/caps.jpg >'), page),
    'https://example.com/caps.jpg',
  );
});

test('base href, entities, unsafe schemes; comments, scripts and the body are ignored', () => {
  assert.equal(
    findOgImage(
      '<head><base href="https://static.example.org/a/"><meta property="og:image" content="i.jpg?x=1&amp;y=2"></head>',
      page,
    ),
    'https://static.example.org/a/i.jpg?x=1&y=2',
  );
  assert.equal(
    findOgImage(
      '<head><meta property="og:image" content="javascript:alert(1)"><meta property="og:image" content="/ok.jpg"></head>',
      page,
    ),
    'https://example.com/ok.jpg',
  );
  assert.equal(
    findOgImage(
      '<head><!-- <meta property="og:image" content="/comment.jpg"> --><script>"<meta property=og:image content=/script.jpg>"</script></head><body><meta property="og:image" content="/body.jpg">',
      page,
    ),
    undefined,
  );
});

test('attribute names that are Object.prototype members are plain keys', () => {
  assert.equal(
    findOgImage(
      '<head><meta constructor="x" __proto__="y" property="og:image" content="/p.jpg"></head>',
      page,
    ),
    'https://example.com/p.jpg',
  );
});

test('hostile heads are scanned in linear time (the old regexes were quadratic)', () => {
  // 512 KiB of unterminated comment openers, of <meta without '>', and of unterminated
  // quoted attributes: each made the previous regexes rescan the rest of the input.
  const size = 512 * 1024;
  assert.equal(findOgImage('<!--'.repeat(size / 4), page), undefined);
  assert.equal(findOgImage('<meta '.repeat(size / 6), page), undefined);
  assert.equal(findOgImage(`<head><meta ${'a="b="'.repeat(size / 6)}>`, page), undefined);
  assert.equal(findOgImage(`<head>${'<script>'.repeat(size / 8)}`, page), undefined);
});
