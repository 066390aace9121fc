import { RENAME } from './exif.ts';

/** XMP and IPTC as JSON-safe objects: binary values described, structure kept. */
export function jsonSafe(value: unknown, depth = 0): unknown {
  if (depth > 12) return undefined;
  if (value instanceof Uint8Array) return `(Binary data ${value.length} bytes)`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (Array.isArray(value)) return value.slice(0, 1000).map((v) => jsonSafe(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const name = Object.hasOwn(RENAME, k) ? RENAME[k] : k;
      if (name === '__proto__') continue; // would set the prototype, not a key
      const safe = jsonSafe(v, depth + 1);
      if (safe !== undefined) out[name] = safe;
    }
    return out;
  }
  if (typeof value === 'string') return value.replace(/\0/g, '');
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  return value;
}
