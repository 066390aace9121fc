import pg from 'pg';

const TIMESTAMPTZ = 1184;
const slowParse = pg.types.getTypeParser(TIMESTAMPTZ) as (s: string) => Date | number | null;

/** The digits of s[from, to) as a number, or -1 if any of them is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * PostgreSQL's text form of a timestamptz (DateStyle ISO) — `2026-12-01 10:22:33.123456+00`,
 * `…+05:30`, `…-03:30:15` — read in one pass. node-postgres' parser runs three regular
 * expressions per value, a visible share of a worker's CPU when every claimed task carries two
 * timestamps. Anything else (BC, years after 9999 or before 1000, infinity) goes to that parser,
 * and both agree on every value (packages/db/test/timestamps.test.ts).
 */
export function parseTimestamptz(s: string): Date | number | null {
  const n = s.length;
  if (n < 22 || s[4] !== '-' || s[7] !== '-' || s[10] !== ' ' || s[13] !== ':' || s[16] !== ':')
    return slowParse(s);
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 7);
  const day = digits(s, 8, 10);
  const hour = digits(s, 11, 13);
  const minute = digits(s, 14, 16);
  const second = digits(s, 17, 19);
  if (year < 1000 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return slowParse(s);
  let i = 19;
  let ms = 0;
  if (s[i] === '.') {
    const start = ++i;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === start || i - start > 6) return slowParse(s);
    // Milliseconds are the first three digits (node-postgres truncates the rest too).
    ms = digits(`${s.slice(start, Math.min(i, start + 3))}00`, 0, 3);
  }
  const sign = s[i] === '+' ? 1 : s[i] === '-' ? -1 : 0;
  if (sign === 0) return slowParse(s);
  // ±HH, ±HH:MM or ±HH:MM:SS, and nothing after it.
  const rest = n - i - 1;
  if (rest !== 2 && rest !== 5 && rest !== 8) return slowParse(s);
  const oh = digits(s, i + 1, i + 3);
  const om = rest >= 5 && s[i + 3] === ':' ? digits(s, i + 4, i + 6) : rest >= 5 ? -1 : 0;
  const os = rest === 8 && s[i + 6] === ':' ? digits(s, i + 7, i + 9) : rest === 8 ? -1 : 0;
  if (oh < 0 || om < 0 || os < 0) return slowParse(s);
  const offsetMs = sign * (oh * 3600 + om * 60 + os) * 1000;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMs);
}

/** node-postgres' type parsers, with the fast timestamptz parser; give it to every pool. */
export const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};
