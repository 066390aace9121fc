import { getIntakeRules } from '@imgkit/auth';
import { requestHash } from '@imgkit/idempotency';
import { newId } from '@imgkit/ids';
import { type CreateImageDeps, createImage, type NewImage, originalKey } from '@imgkit/images';
import { rawJsonMember } from '@imgkit/json';
import type { IntakeRules } from '@imgkit/media';
import { type Request, type Response, Router } from 'express';
import { principalOf } from '../../middleware/auth.ts';
import { type FieldError, problems } from '../../problem.ts';
import { CreateImageFromUrl, ImageOptionFields } from '../../schemas/images.ts';
import { fieldErrors } from '../../schemas/zod.ts';
import {
  filenameFromDisposition,
  receiveMultipart,
  receiveRawBody,
  type UploadLimits,
} from '../../uploads.ts';
import { idempotencyKeyOf, rawBodyOf, sendCreated } from '../respond.ts';

export interface CreateImageRouteDeps extends CreateImageDeps {
  maxUploadBytes: number;
  maxPassthroughBytes: number;
  variantPresets: readonly string[];
}

type Options = Pick<NewImage, 'variants' | 'extractMetadata' | 'webhookUrl' | 'passthrough'>;

/**
 * POST /v1/images: JSON {url}, multipart with a `file`, or the raw bytes. Uploads are
 * streamed into the blob store first; then one call to images.createImage.
 */
export function createImageRoute(deps: CreateImageRouteDeps): Router {
  const router = Router();

  router.post('/v1/images', async (req, res) => {
    const key = idempotencyKeyOf(req);
    const type = (req.get('Content-Type') ?? '').toLowerCase();
    if (type.startsWith('application/json')) return fromJson(req, res, key);
    if (type.startsWith('multipart/form-data')) return fromMultipart(req, res, key);
    if (type.startsWith('image/') || type.startsWith('application/octet-stream'))
      return fromRawBody(req, res, key);
    throw problems.unsupportedMediaType(
      'Send JSON {"url": …}, multipart/form-data with a "file" field, or the image bytes as image/*.',
    );
  });

  async function fromJson(req: Request, res: Response, key: string | undefined) {
    const raw = rawBodyOf(req);
    const parsed = CreateImageFromUrl.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    const body = parsed.data;
    const passthrough = rawJsonMember(raw, 'passthrough') ?? null;
    checkPassthroughSize(passthrough);
    checkVariants(body.variants ?? []);
    const image = newImageFor(res, 'url', {
      variants: body.variants ?? [],
      extractMetadata: body.exif ?? true,
      webhookUrl: body.webhook_url ?? null,
      passthrough,
    });
    image.url = body.url;
    sendCreated(
      res,
      await createImage(deps, image, key ? { key, requestHash: requestHash(['json', raw]) } : undefined),
    );
  }

  /** The upload limit and this account's intake rules (bytes and format are checked at the door). */
  async function uploadLimits(res: Response): Promise<UploadLimits> {
    const rules = await getIntakeRules<IntakeRules>(deps.pool, principalOf(res).accountId);
    return { maxBytes: deps.maxUploadBytes, rules };
  }

  async function fromMultipart(req: Request, res: Response, key: string | undefined) {
    const image = newImageFor(res, 'upload');
    const upload = await receiveMultipart(req, deps.storage, image.storageKey!, await uploadLimits(res));
    try {
      if (!upload.file) throw problems.validation([{ field: 'file', message: 'is required' }]);
      const { filename, options } = parseOptionFields(upload.fields);
      Object.assign(image, options, {
        filename: filename ?? upload.file.filename ?? null,
        byteSize: upload.file.byteSize,
        checksum: upload.file.sha256,
      });
    } catch (err) {
      await deps.storage.delete(image.storageKey!).catch(() => undefined);
      throw err;
    }
    const hash = requestHash(['upload', upload.file.sha256, JSON.stringify(sortedEntries(upload.fields))]);
    sendCreated(res, await createImage(deps, image, key ? { key, requestHash: hash } : undefined));
  }

  async function fromRawBody(req: Request, res: Response, key: string | undefined) {
    const declared = Number(req.get('Content-Length'));
    if (Number.isFinite(declared) && declared > deps.maxUploadBytes) {
      res.setHeader('Connection', 'close');
      throw problems.payloadTooLarge(deps.maxUploadBytes);
    }
    const limits = await uploadLimits(res);
    const fields = Object.fromEntries(
      Object.entries(req.query).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const { filename, options } = parseOptionFields(fields);
    const image = newImageFor(res, 'upload', options);
    const stored = await receiveRawBody(req, deps.storage, image.storageKey!, limits).catch((err) => {
      // Refused before the body was read: the rest of it is not read either.
      if (!req.complete) res.setHeader('Connection', 'close');
      throw err;
    });
    Object.assign(image, {
      filename: filename ?? filenameFromDisposition(req.get('Content-Disposition')) ?? null,
      byteSize: stored.byteSize,
      checksum: stored.sha256,
    });
    const hash = requestHash(['raw', stored.sha256, JSON.stringify(sortedEntries(fields))]);
    sendCreated(res, await createImage(deps, image, key ? { key, requestHash: hash } : undefined));
  }

  function newImageFor(res: Response, source: 'url' | 'upload', options?: Options): NewImage {
    const { accountId } = principalOf(res);
    const id = newId('image');
    return {
      id,
      accountId,
      source,
      url: null,
      filename: null,
      byteSize: null,
      checksum: null,
      storageKey: source === 'upload' ? originalKey(accountId, id) : null,
      variants: [],
      extractMetadata: true,
      webhookUrl: null,
      passthrough: null,
      ...options,
    };
  }

  /** The options as multipart fields or query parameters (strings). */
  function parseOptionFields(fields: Record<string, string>): { filename?: string; options: Options } {
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
      options: {
        variants,
        extractMetadata: f.exif !== 'false',
        webhookUrl: f.webhook_url ?? null,
        passthrough,
      },
    };
  }

  function checkPassthroughSize(passthrough: string | null) {
    if (passthrough === null) return;
    const size = Buffer.byteLength(passthrough);
    if (size > deps.maxPassthroughBytes) {
      throw problems.validation([
        { field: 'passthrough', message: `must be at most ${deps.maxPassthroughBytes} bytes (got ${size})` },
      ]);
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
