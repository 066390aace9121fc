import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { type IntakeRules, intakeViolation, sniff } from '@imgkit/media/core';
import type { BlobStore, PutResult } from '@imgkit/storage';
import { BlobTooLargeError } from '@imgkit/storage';
import busboy from 'busboy';
import { type Problem, problems } from './problem.ts';

/** The service's upload limit and the account's intake rules, checked at the door. */
export interface UploadLimits {
  maxBytes: number;
  rules: IntakeRules;
}

/** The byte limit in force, and the problem for a body past it (the account's rule or ours). */
function byteLimit(limits: UploadLimits): { maxBytes: number; tooLarge: () => Problem } {
  const rule = limits.rules.max_bytes;
  if (rule !== undefined && rule < limits.maxBytes) {
    return {
      maxBytes: rule,
      tooLarge: () =>
        problems.rejectedByRule('max_bytes', `The file exceeds this account's intake rule of ${rule} bytes.`),
    };
  }
  return { maxBytes: limits.maxBytes, tooLarge: () => problems.payloadTooLarge(limits.maxBytes) };
}

/** Enough of the head for sniff() to name every format (ISO-BMFF brands, an SVG's first tag). */
const HEAD_BYTES = 4096;

/**
 * Reads the first `n` bytes of the stream (fewer if it ends) without consuming the rest or
 * destroying it, so a refusal can still be answered on the same connection. `body` is the
 * whole stream again: the head, then what follows.
 */
async function readHead(stream: Readable, n: number): Promise<{ head: Buffer; body: AsyncIterable<Buffer> }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = stream.readableEnded;
  while (size < n && !ended && !stream.destroyed) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      size += chunk.length;
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('close', onClose);
        stream.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      const onReadable = () => done();
      const onEnd = () => {
        ended = true;
        done();
      };
      const onClose = () => done();
      stream.once('readable', onReadable);
      stream.once('end', onEnd);
      stream.once('close', onClose);
      stream.once('error', done);
    });
  }
  const head = Buffer.concat(chunks);
  async function* body() {
    if (head.length > 0) yield head;
    if (!ended) yield* stream as AsyncIterable<Buffer>;
  }
  return { head, body: body() };
}

/** The problem for a head whose format the account's rules refuse, if they do. */
function formatRefusal(head: Buffer, rules: IntakeRules): Problem | undefined {
  if (!rules.allowed_formats) return undefined;
  const sniffed = sniff(head);
  // Only a recognised image is judged here; anything else fails later with not_an_image.
  if (sniffed.kind !== 'image') return undefined;
  const broken = intakeViolation(rules, { format: sniffed.format });
  return broken && problems.rejectedByRule(broken.rule, `${broken.message}.`);
}

export interface MultipartUpload {
  fields: Record<string, string>;
  file?: PutResult & { filename?: string; declaredType?: string };
}

/**
 * Streams the `file` part of a multipart body straight into the blob store
 * (hashing as it goes, never buffering it whole) and collects the text fields.
 * On any failure the partial blob is removed before the error propagates.
 */
export async function receiveMultipart(
  req: Readable & { headers: IncomingHttpHeaders },
  store: BlobStore,
  key: string,
  limits: UploadLimits,
): Promise<MultipartUpload> {
  const { maxBytes, tooLarge } = byteLimit(limits);
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { files: 1, fileSize: maxBytes, fields: 20, fieldSize: 64 * 1024, parts: 25 },
    });
  } catch {
    throw problems.badRequest('malformed_multipart', 'The multipart body has no boundary.');
  }
  const fields: Record<string, string> = {};
  let upload: Promise<MultipartUpload['file']> | undefined;
  let failure: unknown;
  const done = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) failure ??= problems.validation([{ field: name, message: 'is too long' }]);
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || upload) {
        failure ??= problems.validation([
          { field: name, message: 'unexpected file part; send the image as "file"' },
        ]);
        stream.resume();
        return;
      }
      stream.on('limit', () => {
        failure ??= tooLarge();
      });
      const store1 = async (body: Readable | AsyncIterable<Buffer>) => {
        const r = await store.put(key, body, { maxBytes });
        return { ...r, filename: info.filename, declaredType: info.mimeType };
      };
      upload = !limits.rules.allowed_formats
        ? store1(stream)
        : readHead(stream, HEAD_BYTES).then(({ head, body }) => {
            const refused = formatRefusal(head, limits.rules);
            if (!refused) return store1(body);
            // Refused before storing: the rest of the part is read and dropped.
            failure ??= refused;
            stream.resume();
            return undefined;
          });
      upload.catch(() => undefined);
    });
    parser.on('filesLimit', () => {
      failure ??= problems.validation([{ field: 'file', message: 'send exactly one file' }]);
    });
    parser.on('error', reject);
    parser.on('close', resolve);
    // A client that disconnects mid-body never ends the request: stop the parser (and so the
    // file stream into the store) instead of waiting for bytes that will not come.
    req.once('close', () => {
      if (!(req as Readable & { complete?: boolean }).complete) {
        const aborted = problems.badRequest('upload_aborted', 'The client closed the connection mid-upload.');
        failure ??= aborted;
        parser.destroy(aborted);
        reject(aborted);
      }
    });
  });
  req.pipe(parser);
  try {
    await done;
    const file = await upload;
    if (failure) throw failure;
    return { fields, file };
  } catch (err) {
    await store.delete(key).catch(() => undefined);
    if (err instanceof BlobTooLargeError) throw tooLarge();
    if (err instanceof Error && /Unexpected end of form|Malformed/i.test(err.message)) {
      throw problems.badRequest('malformed_multipart', `The multipart body is malformed: ${err.message}.`);
    }
    throw err;
  }
}

/**
 * Streams a raw `image/*` body into the blob store. A declared length past the limit, or a
 * format the account refuses, is answered before anything is stored (the caller sends
 * `Connection: close`, so the unread rest of the body is never read).
 */
export async function receiveRawBody(
  req: Readable & { headers: IncomingHttpHeaders },
  store: BlobStore,
  key: string,
  limits: UploadLimits,
) {
  const { maxBytes, tooLarge } = byteLimit(limits);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  let body: Readable | AsyncIterable<Buffer> = req;
  if (limits.rules.allowed_formats) {
    const peeked = await readHead(req, HEAD_BYTES);
    const refused = formatRefusal(peeked.head, limits.rules);
    if (refused) throw refused;
    body = peeked.body;
  }
  // A client that disconnects mid-body: fail the write (its temp file is removed) rather than wait.
  const onClose = () => {
    if (!(req as Readable & { complete?: boolean }).complete) req.destroy(new Error('upload aborted'));
  };
  req.once('close', onClose);
  try {
    return await store.put(key, body, { maxBytes });
  } catch (err) {
    await store.delete(key).catch(() => undefined);
    if (err instanceof BlobTooLargeError) throw tooLarge();
    throw err;
  } finally {
    req.removeListener('close', onClose);
  }
}

/** A raw body into memory, at most `maxBytes` (413 past it, without reading the rest). */
export async function readBodyBuffer(req: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.destroy();
      throw problems.payloadTooLarge(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `filename` from a Content-Disposition header, if any. */
export function filenameFromDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
  return plain ? (plain[1] ?? plain[2]).replace(/\\(.)/g, '$1') : undefined;
}
