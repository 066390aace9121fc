import { type Pool, query, queryOne, withTransaction } from '@imgkit/db';
import { checkPublicUrl } from '@imgkit/fetch';
import { isId, newId } from '@imgkit/ids';
import {
  type ImageRow,
  imageJson,
  imageListJson,
  originalKey,
  imageQueries as Q,
  rawJsonMember,
  variantKey,
  variantsPrefix,
} from '@imgkit/images';
import { cancelTasksForSubject, enqueue, Notifier } from '@imgkit/queue';
import type { BlobStore } from '@imgkit/storage';
import { type Request, type Response, Router } from 'express';
import {
  claimIdempotencyKey,
  finishIdempotencyKey,
  releaseIdempotencyKey,
  requestHash,
  sendStoredResponse,
  validateIdempotencyKey,
} from '../idempotency.ts';
import { principalOf } from '../middleware/auth.ts';
import { type FieldError, problems } from '../problem.ts';
import {
  CreateImageFromUrl,
  ImageIdParam,
  ImageList,
  ImageOptionFields,
  ImageSchema,
  ListImagesQuery,
  SimilarQuery,
} from '../schemas/images.ts';
import { bearerAuth, fieldErrors, problemResponses, registry, z } from '../schemas/zod.ts';
import { sendBlob } from '../send-blob.ts';
import { filenameFromDisposition, receiveMultipart, receiveRawBody } from '../uploads.ts';

export interface ImagesRouteDeps {
  pool: Pool;
  storage: BlobStore;
  maxUploadBytes: number;
  maxPassthroughBytes: number;
  variantPresets: readonly string[];
  processImageMaxAttempts: number;
  allowPrivateNetworks: boolean;
}

/** What every way of creating an image boils down to. */
interface NewImage {
  source: 'url' | 'upload';
  url: string | null;
  filename: string | null;
  byteSize: number | null;
  checksum: string | null;
  storageKey: string | null;
  variants: string[];
  extractMetadata: boolean;
  webhookUrl: string | null;
  passthrough: string | null;
}

export function imagesRouter(deps: ImagesRouteDeps): Router {
  const router = Router();
  const notifier = new Notifier(deps.pool);

  router.post('/v1/images', async (req, res) => {
    const idempotencyKey = validateIdempotencyKey(req.get('Idempotency-Key'));
    const type = (req.get('Content-Type') ?? '').toLowerCase();
    if (type.startsWith('application/json')) return createFromJson(req, res, idempotencyKey);
    if (type.startsWith('multipart/form-data')) return createFromMultipart(req, res, idempotencyKey);
    if (type.startsWith('image/') || type.startsWith('application/octet-stream')) {
      return createFromRawBody(req, res, idempotencyKey);
    }
    throw problems.unsupportedMediaType(
      'Send JSON {"url": …}, multipart/form-data with a "file" field, or the image bytes as image/*.',
    );
  });

  async function createFromJson(req: Request, res: Response, idempotencyKey: string | undefined) {
    const raw = (req as Request & { rawBody?: Buffer }).rawBody?.toString('utf8') ?? '';
    const parsed = CreateImageFromUrl.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    const passthrough = rawJsonMember(raw, 'passthrough');
    checkPassthroughSize(passthrough);
    checkVariants(body.variants ?? []);
    await createImage(res, idempotencyKey, requestHash(['json', raw]), {
      source: 'url',
      url: body.url,
      filename: null,
      byteSize: null,
      checksum: null,
      storageKey: null,
      variants: body.variants ?? [],
      extractMetadata: body.exif ?? true,
      webhookUrl: body.webhook_url ?? null,
      passthrough: passthrough ?? null,
    });
  }

  async function createFromMultipart(req: Request, res: Response, idempotencyKey: string | undefined) {
    const { accountId } = principalOf(res);
    const imageId = newId('image');
    const storageKey = originalKey(accountId, imageId);
    const upload = await receiveMultipart(req, deps.storage, storageKey, deps.maxUploadBytes);
    const discard = () => deps.storage.delete(storageKey).catch(() => undefined);
    try {
      if (!upload.file) throw problems.validation([{ field: 'file', message: 'is required' }]);
      const options = parseOptionFields(upload.fields);
      const hash = requestHash(['upload', upload.file.sha256, JSON.stringify(sortedEntries(upload.fields))]);
      await createImage(
        res,
        idempotencyKey,
        hash,
        {
          source: 'upload',
          url: null,
          filename: options.filename ?? upload.file.filename ?? null,
          byteSize: upload.file.byteSize,
          checksum: upload.file.sha256,
          storageKey,
          ...options.rest,
        },
        imageId,
      );
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async function createFromRawBody(req: Request, res: Response, idempotencyKey: string | undefined) {
    const declared = Number(req.get('Content-Length'));
    if (Number.isFinite(declared) && declared > deps.maxUploadBytes) {
      res.setHeader('Connection', 'close');
      throw problems.payloadTooLarge(deps.maxUploadBytes);
    }
    const { accountId } = principalOf(res);
    const imageId = newId('image');
    const storageKey = originalKey(accountId, imageId);
    const fields = Object.fromEntries(
      Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const options = parseOptionFields(fields);
    const stored = await receiveRawBody(req, deps.storage, storageKey, deps.maxUploadBytes);
    try {
      const hash = requestHash(['raw', stored.sha256, JSON.stringify(sortedEntries(fields))]);
      await createImage(
        res,
        idempotencyKey,
        hash,
        {
          source: 'upload',
          url: null,
          filename: options.filename ?? filenameFromDisposition(req.get('Content-Disposition')) ?? null,
          byteSize: stored.byteSize,
          checksum: stored.sha256,
          storageKey,
          ...options.rest,
        },
        imageId,
      );
    } catch (err) {
      await deps.storage.delete(storageKey).catch(() => undefined);
      throw err;
    }
  }

  /** Row, task and idempotency record in one transaction; nothing is fetched or decoded here. */
  async function createImage(
    res: Response,
    idempotencyKey: string | undefined,
    hash: string,
    image: NewImage,
    imageId = newId('image'),
  ) {
    const { accountId } = principalOf(res);
    if (image.webhookUrl) {
      const verdict = await checkPublicUrl(image.webhookUrl, {
        allowPrivateNetworks: deps.allowPrivateNetworks,
      });
      if (!verdict.ok) throw problems.validation([{ field: 'webhook_url', message: verdict.reason }]);
    }
    if (idempotencyKey) {
      const claim = await claimIdempotencyKey(deps.pool, accountId, idempotencyKey, hash);
      if (claim.kind === 'replay') {
        if (image.storageKey) await deps.storage.delete(image.storageKey).catch(() => undefined);
        sendStoredResponse(res, claim.response);
        return;
      }
    }
    try {
      const location = `/v1/images/${imageId}`;
      const values = [
        imageId,
        accountId,
        image.source,
        image.url,
        image.filename,
        null,
        image.byteSize,
        image.checksum,
        image.storageKey,
        image.variants,
        image.extractMetadata,
        image.webhookUrl,
        image.passthrough,
      ];
      let body: string;
      if (!idempotencyKey) {
        // The common case in one statement: image row, task and NOTIFY, atomically.
        const row = await queryOne<ImageRow>(deps.pool, Q.insertWithTask, [
          ...values,
          newId('task'),
          deps.processImageMaxAttempts,
        ]);
        body = imageJson(row!);
        notifier.wake();
      } else {
        body = await withTransaction(deps.pool, async (tx) => {
          const row = await queryOne<ImageRow>(tx, Q.insert, values);
          await enqueue(tx, {
            kind: 'process_image',
            payload: { image_id: imageId },
            subjectId: imageId,
            maxAttempts: deps.processImageMaxAttempts,
          });
          const json = imageJson(row!);
          await finishIdempotencyKey(tx, accountId, idempotencyKey, {
            status: 202,
            headers: { Location: location },
            body: json,
          });
          return json;
        });
      }
      res.status(202).location(location).type('application/json').send(body);
    } catch (err) {
      if (idempotencyKey)
        await releaseIdempotencyKey(deps.pool, accountId, idempotencyKey).catch(() => undefined);
      throw err;
    }
  }

  function parseOptionFields(fields: Record<string, string>) {
    const parsed = ImageOptionFields.safeParse(fields);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const f = parsed.data;
    let passthrough: string | null = null;
    if (f.passthrough !== undefined) {
      try {
        JSON.parse(f.passthrough);
      } catch {
        throw problems.validation([{ field: 'passthrough', message: 'must be valid JSON' }]);
      }
      passthrough = f.passthrough;
      checkPassthroughSize(passthrough);
    }
    const variants = f.variants ? parseVariantList(f.variants) : [];
    checkVariants(variants);
    return {
      filename: f.filename,
      rest: {
        variants,
        extractMetadata: f.exif !== 'false',
        webhookUrl: f.webhook_url ?? null,
        passthrough,
      },
    };
  }

  function checkPassthroughSize(passthrough: string | undefined | null) {
    if (passthrough !== undefined && passthrough !== null) {
      const size = Buffer.byteLength(passthrough);
      if (size > deps.maxPassthroughBytes) {
        throw problems.validation([
          {
            field: 'passthrough',
            message: `must be at most ${deps.maxPassthroughBytes} bytes (got ${size})`,
          },
        ]);
      }
    }
  }

  function checkVariants(variants: string[]) {
    const errors: FieldError[] = variants
      .map((v, i) => ({ v, i }))
      .filter(({ v }) => !deps.variantPresets.includes(v))
      .map(({ v, i }) => ({
        field: `variants.${i}`,
        message: `unknown preset "${v}" (known: ${deps.variantPresets.join(', ')})`,
      }));
    if (errors.length) throw problems.validation(errors);
  }

  router.get('/v1/images', async (req, res) => {
    const { accountId } = principalOf(res);
    const parsed = ListImagesQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const { limit, starting_after, ending_before, status, checksum } = parsed.data;
    if (starting_after && ending_before) {
      throw problems.validation([
        { field: 'ending_before', message: 'cannot be combined with starting_after' },
      ]);
    }
    for (const [field, value] of Object.entries({ starting_after, ending_before })) {
      if (value !== undefined && !isId('image', value)) {
        throw problems.validation([{ field, message: 'must be an image id (img_…)' }]);
      }
    }
    let rows: ImageRow[];
    if (ending_before) {
      rows = await query<ImageRow>(deps.pool, Q.listNewer, [
        accountId,
        ending_before,
        status,
        checksum,
        limit + 1,
      ]);
      const hasMore = rows.length > limit;
      rows = rows.slice(0, limit).reverse();
      res.type('application/json').send(imageListJson(rows, hasMore));
      return;
    }
    rows = await query<ImageRow>(deps.pool, Q.listOlder, [
      accountId,
      starting_after,
      status,
      checksum,
      limit + 1,
    ]);
    res.type('application/json').send(imageListJson(rows.slice(0, limit), rows.length > limit));
  });

  router.get('/v1/images/:id', async (req, res) => {
    const row = await findImage(req, res);
    res.type('application/json').send(imageJson(row));
  });

  router.get('/v1/images/:id/original', async (req, res) => {
    const row = await findImage(req, res);
    if (!row.storage_key || !row.checksum) {
      throw problems.conflict(
        'original_not_ready',
        `The image is ${row.status}; its original is not stored yet.`,
      );
    }
    const etag = `"${row.checksum}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
    if (etagMatches(req.get('If-None-Match'), etag)) {
      res.status(304).end();
      return;
    }
    await sendBlob(
      res,
      deps.storage,
      row.storage_key,
      {
        'Content-Type': row.content_type ?? 'application/octet-stream',
        ...(row.filename ? { 'Content-Disposition': inlineDisposition(row.filename) } : {}),
      },
      'original',
    );
  });

  router.get('/v1/images/:id/similar', async (req, res) => {
    const row = await findImage(req, res);
    const parsed = SimilarQuery.safeParse(req.query);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    if (row.phash === null) {
      throw problems.conflict('no_phash', `The image is ${row.status} and has no pHash to compare.`);
    }
    const rows = await query<ImageRow & { distance: number }>(deps.pool, Q.similar, [
      row.account_id,
      row.id,
      row.phash,
      parsed.data.max_distance,
      parsed.data.limit,
    ]);
    const data = rows.map((r) => `{"distance":${r.distance},"image":${imageJson(r)}}`);
    res.type('application/json').send(`{"object":"list","data":[${data.join(',')}],"has_more":false}`);
  });

  router.get('/v1/images/:id/variants/:name', async (req, res) => {
    const row = await findImage(req, res);
    const name = String(req.params.name);
    const variant = row.variants[name] as { format: string } | undefined;
    if (!variant) throw problems.notFound(`The image has no variant ${JSON.stringify(name)}.`);
    await sendBlob(
      res,
      deps.storage,
      variantKey(row.account_id, row.id, name),
      { 'Content-Type': `image/${variant.format}`, 'Cache-Control': 'private, max-age=31536000, immutable' },
      'variant',
    );
  });

  router.delete('/v1/images/:id', async (req, res) => {
    const { accountId } = principalOf(res);
    const id = String(req.params.id);
    if (!isId('image', id)) throw problems.notFound();
    const deleted = await withTransaction(deps.pool, async (tx) => {
      const row = await queryOne<{ id: string; storage_key: string | null }>(tx, Q.delete, [id, accountId]);
      if (row) await cancelTasksForSubject(tx, id);
      return row;
    });
    if (deleted) {
      // After commit: a crash here leaves orphan blobs, never a row pointing at nothing.
      if (deleted.storage_key) await deps.storage.delete(deleted.storage_key);
      await deps.storage.deletePrefix(variantsPrefix(accountId, id));
    }
    res.status(204).end();
  });

  async function findImage(req: Request, res: Response): Promise<ImageRow> {
    const { accountId } = principalOf(res);
    const id = String(req.params.id);
    if (!isId('image', id)) throw problems.notFound(`No image ${JSON.stringify(id)}.`);
    const row = await queryOne<ImageRow>(deps.pool, Q.get, [id, accountId]);
    if (!row) throw problems.notFound(`No image ${JSON.stringify(id)}.`);
    return row;
  }

  return router;
}

function parseVariantList(value: string): string[] {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    try {
      const list = JSON.parse(trimmed);
      if (Array.isArray(list)) return list.map(String);
    } catch {
      // treated as a comma list below
    }
  }
  return trimmed
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function sortedEntries(fields: Record<string, string>): [string, string][] {
  return Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

function inlineDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

// ---- OpenAPI ---------------------------------------------------------------

const security = [{ [bearerAuth.name]: [] }];
const idempotencyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .max(255)
    .optional()
    .openapi({ description: 'Replays the stored response for 24 h.' }),
});

registry.registerPath({
  method: 'post',
  path: '/v1/images',
  summary: 'Create an image from a URL or from its bytes',
  description:
    'JSON `{url, …}`; or `multipart/form-data` with the bytes in `file` (other options as fields); or the raw bytes as `image/*` with options as query parameters. Answers at once; the worker does the rest.',
  security,
  request: {
    headers: idempotencyHeader,
    body: {
      content: {
        'application/json': { schema: CreateImageFromUrl },
        'multipart/form-data': {
          schema: z
            .object({ file: z.string().openapi({ format: 'binary' }) })
            .extend(ImageOptionFields.shape),
        },
        'image/*': { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
  },
  responses: {
    202: {
      description: 'Accepted; processing is queued',
      content: { 'application/json': { schema: ImageSchema } },
    },
    ...problemResponses(400, 401, 409, 413, 415, 422, 429),
  },
});

registry.registerPath({
  method: 'get',
  path: '/v1/images',
  summary: 'List images, newest first',
  security,
  request: { query: ListImagesQuery },
  responses: {
    200: { description: 'A page of images', content: { 'application/json': { schema: ImageList } } },
    ...problemResponses(400, 401, 429),
  },
});

registry.registerPath({
  method: 'get',
  path: '/v1/images/{id}',
  summary: 'Get an image',
  security,
  request: { params: ImageIdParam },
  responses: {
    200: { description: 'The image', content: { 'application/json': { schema: ImageSchema } } },
    ...problemResponses(401, 404, 429),
  },
});

registry.registerPath({
  method: 'get',
  path: '/v1/images/{id}/original',
  summary: 'Download the stored original bytes',
  security,
  request: { params: ImageIdParam },
  responses: {
    200: {
      description: 'The original bytes',
      content: { 'application/octet-stream': { schema: z.string() } },
    },
    304: { description: 'Not modified (If-None-Match)' },
    ...problemResponses(401, 404, 409, 429),
  },
});

registry.registerPath({
  method: 'get',
  path: '/v1/images/{id}/similar',
  summary: 'Near-duplicates by pHash (Hamming distance), nearest first',
  security,
  request: { params: ImageIdParam, query: SimilarQuery },
  responses: {
    200: {
      description: 'Similar images of the same account',
      content: {
        'application/json': {
          schema: z.object({
            object: z.literal('list'),
            data: z.array(z.object({ distance: z.number().int(), image: ImageSchema })),
            has_more: z.boolean(),
          }),
        },
      },
    },
    ...problemResponses(400, 401, 404, 409, 429),
  },
});

registry.registerPath({
  method: 'get',
  path: '/v1/images/{id}/variants/{name}',
  summary: 'Download a rendered variant (preset)',
  security,
  request: { params: ImageIdParam.extend({ name: z.string().openapi({ example: 'thumbnail' }) }) },
  responses: {
    200: { description: 'The variant bytes', content: { 'image/jpeg': { schema: z.string() } } },
    ...problemResponses(401, 404, 429),
  },
});

registry.registerPath({
  method: 'delete',
  path: '/v1/images/{id}',
  summary: 'Delete an image, its variants and blobs (idempotent)',
  security,
  request: { params: ImageIdParam },
  responses: { 204: { description: 'Deleted (or already gone)' }, ...problemResponses(401, 404, 429) },
});
