import { withRawMember } from '@imgkit/json';
import type { WorkItemRow } from '@imgkit/lifecycle';

/** An `images` row as pg returns it. */
export interface ImageRow extends WorkItemRow {
  source: 'url' | 'upload';
  url: string | null;
  final_url: string | null;
  filename: string | null;
  content_type: string | null;
  byte_size: string | null;
  checksum: string | null;
  storage_key: string | null;
  width: number | null;
  height: number | null;
  orientation: number | null;
  format: Record<string, unknown> | null;
  exif: Record<string, unknown> | null;
  xmp: Record<string, unknown> | null;
  iptc: Record<string, unknown> | null;
  gps: Record<string, unknown> | null;
  phash: string | null;
  dhash: string | null;
  palette: unknown[] | null;
  placeholder: string | null;
  variants: Record<string, unknown>;
  requested_variants: string[];
  extract_metadata: boolean;
  /** A flat or near-flat image: its hashes match unrelated flat images, so it is left out of searches. */
  hash_degenerate: boolean;
  duplicates: Duplicates | null;
  taken_at: string | null;
  /** Bumped by a purge; signed URLs made since carry it. */
  rendition_version: number;
}

/** What the account already had when the image completed. */
export interface Duplicates {
  /** Images with the same SHA-256 (at most 10, oldest first). */
  exact: string[];
  /** The closest near-duplicate within 10 bits on pHash and dHash, if any. */
  nearest: { id: string; phash_distance: number; dhash_distance: number } | null;
}

/** 64-bit hashes are stored as signed bigint (for bit_count(a # b)); clients see 16 hex chars. */
export function hashToHex(value: string | null): string | null {
  if (value === null) return null;
  return BigInt.asUintN(64, BigInt(value)).toString(16).padStart(16, '0');
}

export function hexToHash(hex: string): string {
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

/**
 * The public image record as JSON text. `passthrough` is spliced in as the raw
 * text the client sent, so it comes back byte for byte (key order, spacing,
 * escapes) — a JSON.parse/stringify round trip would not guarantee that.
 */
export function imageJson(row: ImageRow): string {
  const resource = {
    id: row.id,
    object: 'image',
    status: row.status,
    source: row.source,
    url: row.url,
    final_url: row.final_url,
    filename: row.filename,
    content_type: row.content_type,
    byte_size: row.byte_size === null ? null : Number(row.byte_size),
    checksum: row.checksum,
    width: row.width,
    height: row.height,
    orientation: row.orientation,
    format: row.format,
    exif: row.exif,
    xmp: row.xmp,
    iptc: row.iptc,
    gps: row.gps,
    taken_at: row.taken_at,
    phash: hashToHex(row.phash),
    dhash: hashToHex(row.dhash),
    palette: row.palette,
    placeholder: row.placeholder,
    hash_degenerate: row.hash_degenerate,
    duplicates: row.duplicates,
    variants: row.variants,
    requested_variants: row.requested_variants,
    webhook_url: row.webhook_url,
    error: errorJson(row.error_code, row.error_message),
    rendition_version: row.rendition_version,
    attempts: row.attempts,
    original_url: `/v1/images/${row.id}/original`,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    completed_at: row.completed_at ? row.completed_at.toISOString() : null,
  };
  return withRawMember(JSON.stringify(resource), 'passthrough', row.passthrough);
}

/** `rejected_by_rule` failures name the rule: their message starts with "intake rule <name>:". */
function errorJson(code: string | null, message: string | null) {
  if (!code) return null;
  const rule = code === 'rejected_by_rule' ? /^intake rule ([a-z_]+):/.exec(message ?? '')?.[1] : undefined;
  return rule ? { code, message, rule } : { code, message };
}

export function imageListJson(rows: ImageRow[], hasMore: boolean): string {
  return `{"object":"list","data":[${rows.map(imageJson).join(',')}],"has_more":${hasMore}}`;
}

/** A similarity result list: each match with its distances, nearest first. */
export function similarListJson(
  rows: (ImageRow & { phash_distance: number; dhash_distance: number | null })[],
  hash: 'phash' | 'dhash' | 'both',
  queryDegenerate: boolean,
): string {
  const data = rows.map((r) => {
    const distance =
      hash === 'phash'
        ? r.phash_distance
        : hash === 'dhash'
          ? r.dhash_distance
          : Math.max(r.phash_distance, r.dhash_distance ?? 64);
    return `{"distance":${distance},"phash_distance":${r.phash_distance},"dhash_distance":${r.dhash_distance},"image":${imageJson(r)}}`;
  });
  return `{"object":"list","hash":"${hash}","hash_degenerate":${queryDegenerate},"data":[${data.join(',')}],"has_more":false}`;
}
