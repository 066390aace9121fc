/**
 * Linear-time scanning of untrusted markup (the start of an SVG or HTML document,
 * a page head): every step moves forward with indexOf or a character loop, so no
 * input can make it backtrack. No regular expression here runs over more than a
 * tag name.
 */

const WS = new Set([' ', '\t', '\n', '\r', '\f']);

export function skipWhitespace(s: string, i: number): number {
  while (i < s.length && WS.has(s[i])) i++;
  return i;
}

export function startsWithCI(s: string, prefix: string, at: number): boolean {
  return s.slice(at, at + prefix.length).toLowerCase() === prefix;
}

/** The lower-case tag name that starts at `at` (just after `<` or `</`), and where it ends. */
export function tagNameAt(s: string, at: number): { name: string; end: number } {
  let j = at;
  while (j < s.length && /[A-Za-z0-9:_-]/.test(s[j])) j++;
  return { name: s.slice(at, j).toLowerCase(), end: j };
}

/**
 * What a text document starts with, after an optional XML declaration, any number of
 * comments and an optional doctype: the doctype's first word and the first element's
 * name (lower case). `undefined` fields when absent or cut off.
 */
export function leadingMarkup(text: string): { xmlDeclaration: boolean; doctype?: string; element?: string } {
  let i = skipWhitespace(text, 0);
  let xmlDeclaration = false;
  if (startsWithCI(text, '<?xml', i)) {
    const end = text.indexOf('>', i);
    if (end === -1) return { xmlDeclaration: true };
    xmlDeclaration = true;
    i = end + 1;
  }
  let doctype: string | undefined;
  for (;;) {
    i = skipWhitespace(text, i);
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return { xmlDeclaration, doctype };
      i = end + 3;
      continue;
    }
    if (doctype === undefined && startsWithCI(text, '<!doctype', i)) {
      const end = text.indexOf('>', i);
      if (end === -1) return { xmlDeclaration };
      doctype = tagNameAt(text, skipWhitespace(text, i + 9)).name;
      i = end + 1;
      continue;
    }
    break;
  }
  if (text[i] !== '<') return { xmlDeclaration, doctype };
  const { name, end } = tagNameAt(text, i + 1);
  // A name is complete only when followed by whitespace, '>' or '/': `<svgx>` is not svg.
  const complete = end < text.length && (WS.has(text[end]) || text[end] === '>' || text[end] === '/');
  return { xmlDeclaration, doctype, element: complete ? name : undefined };
}

/**
 * The attributes of one tag's source text (between the name and `>`), names lower
 * case, first occurrence wins, entities decoded. A Map, so names such as
 * `__proto__` or `constructor` are plain keys.
 */
export function parseAttributes(source: string): Map<string, string> {
  const attrs = new Map<string, string>();
  let i = 0;
  const n = source.length;
  while (i < n) {
    while (i < n && (WS.has(source[i]) || source[i] === '/')) i++;
    const start = i;
    while (i < n && !WS.has(source[i]) && source[i] !== '=' && source[i] !== '/' && source[i] !== '>') i++;
    if (i === start) {
      i++;
      continue;
    }
    const key = source.slice(start, i).toLowerCase();
    i = skipWhitespace(source, i);
    let value = '';
    if (source[i] === '=') {
      i = skipWhitespace(source, i + 1);
      const quote = source[i];
      if (quote === '"' || quote === "'") {
        const end = source.indexOf(quote, i + 1);
        value = source.slice(i + 1, end === -1 ? n : end);
        i = end === -1 ? n : end + 1;
      } else {
        const vStart = i;
        while (i < n && !WS.has(source[i]) && source[i] !== '>') i++;
        value = source.slice(vStart, i);
      }
    }
    if (!attrs.has(key)) attrs.set(key, decodeEntities(value));
  }
  return attrs;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]{1,8}|#\d{1,8}|[a-z]{1,8});/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code =
        e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return Object.hasOwn(NAMED, e.toLowerCase()) ? NAMED[e.toLowerCase()] : whole;
  });
}
