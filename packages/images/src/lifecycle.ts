import {
  Batcher,
  isDatabaseUnavailable,
  type Pool,
  type Queryable,
  query,
  queryOne,
  sql,
  withTransaction,
} from '@imgkit/db';
import { InputError } from '@imgkit/errors';
import { checkPublicUrl } from '@imgkit/fetch';
import { type IdempotencyScope, idempotentCreate, type StoredResponse } from '@imgkit/idempotency';
import {
  type ErrorInfo,
  markFailed,
  markRetrying as markItemRetrying,
  reopen,
  startAttempt,
} from '@imgkit/lifecycle';
import { enqueue, type FairRanks, insertManyWithTasks, insertWithTask, type Notifier } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import { type EventType, recordEvent } from '@imgkit/webhooks';
import { variantsPrefix } from './blob-keys.ts';
import { PROCESS_IMAGE } from './process-image-kind.ts';
import { hexToHash, type ImageRow, imageJson } from './resource.ts';
import { findDuplicates } from './similar.ts';
import { COLUMNS, deleteImageRow, IMAGE_TRANSITIONS } from './store.ts';

/** What every way of creating an image boils down to. */
export interface NewImage {
  id: string;
  accountId: string;
  source: 'url' | 'upload';
  url: string | null;
  filename: string | null;
  byteSize: number | null;
  checksum: string | null;
  /** Set when the bytes were uploaded and are already stored under this key. */
  storageKey: string | null;
  variants: string[];
  extractMetadata: boolean;
  webhookUrl: string | null;
  /** Raw JSON text, kept byte for byte. */
  passthrough: string | null;
}

export interface CreateImageDeps {
  pool: Pool;
  storage: BlobStore;
  /** Wakes workers once after a burst of creations (see Notifier). */
  notifier: Notifier;
  /** This process's reservations of fair ranks (see queue's FairRanks). */
  ranks: FairRanks;
  maxAttempts: number;
  allowPrivateNetworks: boolean;
}

const insertSql = sql(
  'images.insert',
  `INSERT INTO images (id, account_id, source, url, filename, byte_size, checksum, storage_key,
                       requested_variants, extract_metadata, webhook_url, passthrough)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
   RETURNING ${COLUMNS}`,
);

// The same insert for many images at once (see imageInserts): one array per column.
const insertManySql = sql(
  'images.insert_many',
  `INSERT INTO images (id, account_id, source, url, filename, byte_size, checksum, storage_key,
                       requested_variants, extract_metadata, webhook_url, passthrough)
   SELECT r.id, r.account_id, r.source, r.url, r.filename, r.byte_size, r.checksum, r.storage_key,
          ARRAY(SELECT jsonb_array_elements_text(r.variants::jsonb)), r.extract_metadata, r.webhook_url,
          r.passthrough
   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
               $8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[])
     AS r(id, account_id, source, url, filename, byte_size, checksum, storage_key, variants,
          extract_metadata, webhook_url, passthrough)
   RETURNING ${COLUMNS}`,
);

function insertManyValues(images: NewImage[]): unknown[] {
  const column = <T>(f: (i: NewImage) => T) => images.map(f);
  return [
    column((i) => i.id),
    column((i) => i.accountId),
    column((i) => i.source),
    column((i) => i.url),
    column((i) => i.filename),
    column((i) => i.byteSize),
    column((i) => i.checksum),
    column((i) => i.storageKey),
    column((i) => JSON.stringify(i.variants)),
    column((i) => i.extractMetadata),
    column((i) => i.webhookUrl),
    column((i) => i.passthrough),
  ];
}

type Inserted = { row: ImageRow } | { error: unknown };

/**
 * This process's inserts of new images without an Idempotency-Key. Under load, creates that
 * wait for a connection are written together, rows and tasks in one statement (Batcher): at
 * 50 concurrent creates that is a handful of statements instead of fifty, each with its own
 * round trip, plan, executor start and commit. Alone, a create is its own statement, as before.
 * If a statement of several fails for a reason other than the database being unreachable, each
 * of its images is tried alone, so one bad row fails only its own request.
 */
function imageInserts(deps: CreateImageDeps): Batcher<NewImage, Inserted> {
  let batcher = batchers.get(deps);
  if (batcher) return batcher;
  const one = async (image: NewImage): Promise<Inserted> => {
    try {
      const row = await insertWithTask<ImageRow, { image_id: string }>(
        deps.pool,
        { statement: insertSql, values: insertValues(image) },
        PROCESS_IMAGE,
        { image_id: image.id },
        { ...taskOptions(deps, image), notify: deps.notifier, ranks: deps.ranks },
      );
      return { row };
    } catch (error) {
      return { error };
    }
  };
  const many = async (images: NewImage[]): Promise<Inserted[]> => {
    if (images.length === 1) return [await one(images[0])];
    try {
      const rows = await insertManyWithTasks<ImageRow, { image_id: string }>(
        deps.pool,
        { statement: insertManySql, values: insertManyValues(images) },
        PROCESS_IMAGE,
        images.map((i) => ({ subjectId: i.id, payload: { image_id: i.id }, fairKey: i.accountId })),
        { maxAttempts: deps.maxAttempts, notify: deps.notifier, ranks: deps.ranks },
      );
      return rows.map((row) => ({ row }));
    } catch (error) {
      if (isDatabaseUnavailable(error)) return images.map(() => ({ error }));
      return Promise.all(images.map(one));
    }
  };
  const maxInFlight = Math.max(1, Math.floor((deps.pool.options.max ?? 10) / 2));
  batcher = new Batcher(many, { maxInFlight, maxBatch: 64 });
  batchers.set(deps, batcher);
  return batcher;
}
const batchers = new WeakMap<CreateImageDeps, Batcher<NewImage, Inserted>>();

function taskOptions(deps: CreateImageDeps, image: NewImage) {
  // Each account's images are claimed fairly against other accounts' (fair_key).
  return { subjectId: image.id, maxAttempts: deps.maxAttempts, fairKey: image.accountId };
}

function insertValues(i: NewImage): unknown[] {
  return [
    i.id,
    i.accountId,
    i.source,
    i.url,
    i.filename,
    i.byteSize,
    i.checksum,
    i.storageKey,
    i.variants,
    i.extractMetadata,
    i.webhookUrl,
    i.passthrough,
  ];
}

/**
 * Creates the image row and its process_image task — nothing is fetched or decoded
 * here. Without an Idempotency-Key that is one autocommit statement; with one, a
 * transaction that also stores the response. Uploaded bytes already stored under
 * `storageKey` are removed when the request is a replay or fails.
 */
export async function createImage(
  deps: CreateImageDeps,
  image: NewImage,
  idempotency?: Omit<IdempotencyScope, 'accountId'>,
): Promise<{ response: StoredResponse; replayed: boolean }> {
  const discard = async () => {
    if (image.storageKey) await deps.storage.delete(image.storageKey);
  };
  try {
    for (const [field, url] of [
      ['url', image.url],
      ['webhook_url', image.webhookUrl],
    ] as const) {
      if (!url) continue;
      const verdict = await checkPublicUrl(url, {
        allowPrivateNetworks: deps.allowPrivateNetworks,
        resolve: field === 'webhook_url',
      });
      if (!verdict.ok) throw new InputError(field, verdict.reason);
    }
  } catch (err) {
    await discard().catch(() => undefined);
    throw err;
  }
  const location = `/v1/images/${image.id}`;
  const answer = (row: ImageRow): StoredResponse => ({
    status: 202,
    headers: { Location: location },
    body: imageJson(row),
  });
  return idempotentCreate(deps.pool, idempotency && { ...idempotency, accountId: image.accountId }, {
    // The common case in one statement (image row and task), shared with other creates under load.
    withoutKey: async () => {
      const inserted = await imageInserts(deps).call(image);
      if ('error' in inserted) throw inserted.error;
      return answer(inserted.row);
    },
    inTransaction: async (tx) => {
      const row = await queryOne<ImageRow>(tx, insertSql, insertValues(image));
      await enqueue(tx, PROCESS_IMAGE, { image_id: image.id }, taskOptions(deps, image));
      return answer(row!);
    },
    discard,
  });
}

/** Deletes the image, cancels its tasks and, after commit, removes its blobs. */
export async function deleteImage(
  deps: { pool: Pool; storage: BlobStore },
  id: string,
  accountId: string,
): Promise<void> {
  const deleted = await withTransaction(deps.pool, (tx) => deleteImageRow(tx, id, accountId));
  if (!deleted) return;
  // After commit: a crash here leaves orphan blobs, never a row pointing at nothing.
  if (deleted.storage_key) await deps.storage.delete(deleted.storage_key);
  await deps.storage.deletePrefix(variantsPrefix(accountId, id));
}

// ---- the worker's side -----------------------------------------------------

/**
 * The image a process_image attempt works on, marked processing; undefined when it
 * was deleted or has already reached its final state (nothing left to do).
 */
export function startProcessing(db: Queryable, id: string, attempt: number): Promise<ImageRow | undefined> {
  return startAttempt<ImageRow>(db, IMAGE_TRANSITIONS, id, attempt);
}

// Committed on its own right after the bytes are stored, so a retry never downloads them again.
const recordOriginalSql = sql(
  'images.record_original',
  `UPDATE images SET storage_key = $2, checksum = $3, byte_size = $4, final_url = $5,
     filename = coalesce(filename, $6), updated_at = now()
   WHERE id = $1`,
);

export function recordOriginal(
  db: Queryable,
  id: string,
  o: { storageKey: string; checksum: string; byteSize: number; finalUrl: string; filename: string | null },
): Promise<unknown> {
  return query(db, recordOriginalSql, [id, o.storageKey, o.checksum, o.byteSize, o.finalUrl, o.filename]);
}

/** What extraction learnt about an image (media's Extracted has this shape). */
export interface ImageFacts {
  mime: string | null;
  width: number | null;
  height: number | null;
  orientation: number | null;
  format: object | null;
  exif: object | null;
  xmp: object | null;
  iptc: object | null;
  gps: object | null;
  taken_at: string | null;
  /** 16 hex digits. */
  phash: string | null;
  dhash: string | null;
  palette: unknown[] | null;
  placeholder: string | null;
}

const completeSql = sql(
  'images.complete',
  `UPDATE images SET status = 'completed', content_type = $2, width = $3, height = $4, orientation = $5,
     format = $6, exif = $7, xmp = $8, iptc = $9, gps = $10, phash = $11, dhash = $12, palette = $13,
     placeholder = $14, variants = $15, taken_at = $16, error_code = NULL, error_message = NULL, completed_at = now(),
     updated_at = now()
   WHERE id = $1 RETURNING ${COLUMNS}`,
);

/** The outbox's delivery budget for image.completed / image.failed messages. */
export interface Announce {
  webhookAttempts: number;
}

/**
 * Inside the caller's transaction: the final facts and the image.completed webhooks (outbox).
 * False when the image was deleted meanwhile: the caller removes what it wrote for it.
 */
export async function completeImage(
  tx: Queryable,
  id: string,
  facts: ImageFacts,
  variants: Record<string, unknown>,
  o: Announce,
): Promise<boolean> {
  const row = await queryOne<ImageRow>(tx, completeSql, [
    id,
    facts.mime,
    facts.width,
    facts.height,
    facts.orientation,
    facts.format,
    facts.exif,
    facts.xmp,
    facts.iptc,
    facts.gps,
    facts.phash === null ? null : hexToHash(facts.phash),
    facts.dhash === null ? null : hexToHash(facts.dhash),
    facts.palette === null ? null : JSON.stringify(facts.palette),
    facts.placeholder,
    variants,
    facts.taken_at,
  ]);
  if (!row) return false;
  // What the account already had, recorded with the completion and told in the webhook.
  const duplicates = await findDuplicates(tx, row);
  const final = (await queryOne<ImageRow>(tx, setDuplicatesSql, [id, duplicates]))!;
  await announce(tx, final, 'image.completed', o);
  return true;
}

const setDuplicatesSql = sql(
  'images.set_duplicates',
  `UPDATE images SET duplicates = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
);

/** Inside the transaction that fails the task: the error and the image.failed webhooks. */
export async function failImage(
  tx: Queryable,
  id: string,
  error: ErrorInfo,
  attempts: number,
  o: Announce,
): Promise<void> {
  const row = await markFailed<ImageRow>(tx, IMAGE_TRANSITIONS, id, error, attempts);
  if (row) await announce(tx, row, 'image.failed', o);
}

/** Inside the transaction that schedules a retry: back to pending, with the last error. */
export function markRetrying(tx: Queryable, id: string, error: ErrorInfo, attempts: number): Promise<void> {
  return markItemRetrying(tx, IMAGE_TRANSITIONS, id, error, attempts);
}

async function announce(tx: Queryable, row: ImageRow, type: EventType, o: Announce): Promise<void> {
  await recordEvent(
    tx,
    {
      accountId: row.account_id,
      type,
      dataJson: imageJson(row),
      imageId: row.id,
      webhookUrl: row.webhook_url,
    },
    o.webhookAttempts,
  );
}

/** A failed image back to pending, for an operator's `imgkit tasks retry`. */
export function reopenImage(tx: Queryable, id: string): Promise<boolean> {
  return reopen(tx, IMAGE_TRANSITIONS, id);
}
