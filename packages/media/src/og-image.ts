import { parseAttributes, startsWithCI, tagNameAt } from './markup.ts';

/**
 * Finds the image a web page advertises, the way link previews do: in the
 * document head, `og:image:secure_url`, `og:image` (or `og:image:url`),
 * `twitter:image`, then `<link rel="image_src">`, resolved against `<base href>`
 * or the page's final URL. Only http(s) results are returned.
 */
export function findOgImage(html: string, pageUrl: string): string | undefined {
  const metas: { key: string; content: string }[] = [];
  const links: { rel: string; href: string }[] = [];
  let base: string | undefined;
  for (const tag of headTags(html)) {
    const attrs = parseAttributes(tag.attributes);
    if (tag.name === 'meta') {
      const key = (attrs.get('property') ?? attrs.get('name') ?? '').trim().toLowerCase();
      const content = attrs.get('content');
      if (key && content !== undefined) metas.push({ key, content: content.trim() });
    } else if (tag.name === 'link') {
      const rel = attrs.get('rel');
      const href = attrs.get('href');
      if (rel && href !== undefined) links.push({ rel: rel.toLowerCase(), href: href.trim() });
    } else if (tag.name === 'base' && base === undefined && attrs.get('href')) {
      base = attrs.get('href')!.trim();
    }
  }
  let baseUrl = pageUrl;
  if (base) {
    const resolved = resolveHttp(base, pageUrl);
    if (resolved) baseUrl = resolved;
  }
  const candidates = [
    ...metas.filter((m) => m.key === 'og:image:secure_url').map((m) => m.content),
    ...metas.filter((m) => m.key === 'og:image' || m.key === 'og:image:url').map((m) => m.content),
    ...metas.filter((m) => m.key === 'twitter:image' || m.key === 'twitter:image:src').map((m) => m.content),
    ...links.filter((l) => l.rel.split(/\s+/).includes('image_src')).map((l) => l.href),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const url = resolveHttp(candidate, baseUrl);
    if (url) return url;
  }
  return undefined;
}

const WANTED = new Set(['meta', 'link', 'base']);
const RAW_TEXT = new Set(['script', 'style']);

/**
 * The meta, link and base tags of the document head, in one forward pass: comments and
 * script/style contents are skipped, and the head ends at `</head>` or `<body>` (og tags
 * in the body are ignored, as preview crawlers do). Linear in the input whatever it holds.
 */
export function* headTags(html: string): Generator<{ name: string; attributes: string }> {
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt === -1) return;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      if (end === -1) return;
      i = end + 3;
      continue;
    }
    const closing = html[lt + 1] === '/';
    const { name, end: nameEnd } = tagNameAt(html, lt + (closing ? 2 : 1));
    if (name === '') {
      i = lt + 1;
      continue;
    }
    if (closing ? name === 'head' : name === 'body') return;
    const gt = html.indexOf('>', nameEnd);
    if (gt === -1) return;
    if (!closing && RAW_TEXT.has(name)) {
      const close = closingTag(html, name, gt + 1);
      if (close === -1) return;
      i = close;
      continue;
    }
    if (!closing && WANTED.has(name)) yield { name, attributes: html.slice(nameEnd, gt) };
    i = gt + 1;
  }
}

/** Where `</name` (any case) next starts at or after `from`, or -1. */
function closingTag(html: string, name: string, from: number): number {
  let at = html.indexOf('</', from);
  while (at !== -1 && !startsWithCI(html, `</${name}`, at)) at = html.indexOf('</', at + 2);
  return at;
}

function resolveHttp(ref: string, base: string): string | undefined {
  try {
    const url = new URL(ref, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}
