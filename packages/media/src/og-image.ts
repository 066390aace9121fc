/**
 * Finds the image a web page advertises, the way link previews do: in the
 * document head, `og:image:secure_url`, `og:image` (or `og:image:url`),
 * `twitter:image`, then `<link rel="image_src">`, resolved against `<base href>`
 * or the page's final URL. Only http(s) results are returned.
 */
export function findOgImage(html: string, pageUrl: string): string | undefined {
  const head = headOf(html);
  const metas: { key: string; content: string }[] = [];
  const links: { rel: string; href: string }[] = [];
  let base: string | undefined;
  for (const tag of head.matchAll(/<(meta|link|base)\b([^>]*)>/gi)) {
    const name = tag[1].toLowerCase();
    const attrs = attributes(tag[2]);
    if (name === 'meta') {
      const key = (attrs.property ?? attrs.name ?? '').trim().toLowerCase();
      if (key && attrs.content !== undefined) metas.push({ key, content: attrs.content.trim() });
    } else if (name === 'link') {
      if (attrs.rel && attrs.href !== undefined)
        links.push({ rel: attrs.rel.toLowerCase(), href: attrs.href.trim() });
    } else if (base === undefined && attrs.href) {
      base = attrs.href.trim();
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

/** The head only: og tags in the body are ignored, as preview crawlers do. */
function headOf(html: string): string {
  const withoutComments = html.replace(/<!--[\s\S]*?-->/g, '').replace(/<script\b[\s\S]*?<\/script>/gi, '');
  const end = withoutComments.search(/<\/head\s*>|<body[\s>]/i);
  return end === -1 ? withoutComments : withoutComments.slice(0, end);
}

function attributes(source: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of source.matchAll(/([^\s=/"'<>]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    const key = m[1].toLowerCase();
    if (!(key in attrs)) attrs[key] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code =
        e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return NAMED[e.toLowerCase()] ?? whole;
  });
}

function resolveHttp(ref: string, base: string): string | undefined {
  try {
    const url = new URL(ref, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}
