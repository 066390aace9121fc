/**
 * When the picture was taken, as ISO 8601 (with the UTC offset when the file records one, else
 * local wall time, or a date alone), from the first source that has it — the order exiftool's
 * tags and the Metadata Working Group's guidelines give: EXIF DateTimeOriginal (with
 * OffsetTimeOriginal), XMP exif:DateTimeOriginal, IPTC DateCreated + TimeCreated (what exiftool
 * composes into DateTimeOriginal), XMP photoshop:DateCreated, XMP xmp:CreateDate.
 */
export function takenAt(
  exif: Record<string, unknown> | null,
  xmp: Record<string, unknown> | null,
  iptc: Record<string, unknown> | null,
): string | null {
  const ns = (name: string) => (xmp?.[name] ?? undefined) as Record<string, unknown> | undefined;
  return (
    fromExif(exif?.DateTimeOriginal, exif?.OffsetTimeOriginal) ??
    fromIso(ns('exif')?.DateTimeOriginal) ??
    fromIptc(iptc?.DateCreated, iptc?.TimeCreated) ??
    fromIso(ns('photoshop')?.DateCreated) ??
    // `xap:` is the XMP namespace's prefix in files written before 2004.
    fromIso((ns('xmp') ?? ns('xap'))?.CreateDate) ??
    null
  );
}

const EXIF_DATE = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/;
const OFFSET = /^([+-]\d{2}):?(\d{2})$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

function fromExif(value: unknown, offset: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = EXIF_DATE.exec(value.trim());
  if (!m || m[1] === '0000') return undefined;
  const o = typeof offset === 'string' ? OFFSET.exec(offset.trim()) : null;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${o ? `${o[1]}:${o[2]}` : ''}`;
}

function fromIso(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ISO.exec(value.trim());
  if (!m) return undefined;
  if (m[4] === undefined) return `${m[1]}-${m[2]}-${m[3]}`;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${m[7] === 'Z' ? '+00:00' : (m[7] ?? '')}`;
}

function fromIptc(date: unknown, time: unknown): string | undefined {
  if (typeof date !== 'string' && typeof date !== 'number') return undefined;
  const d = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(String(date).trim());
  if (!d || d[1] === '0000') return undefined;
  const day = `${d[1]}-${d[2]}-${d[3]}`;
  const t =
    typeof time === 'string'
      ? /^(\d{2}):?(\d{2}):?(\d{2})(?:([+-]\d{2}):?(\d{2}))?$/.exec(time.trim())
      : null;
  if (!t) return day;
  return `${day}T${t[1]}:${t[2]}:${t[3]}${t[4] ? `${t[4]}:${t[5]}` : ''}`;
}
