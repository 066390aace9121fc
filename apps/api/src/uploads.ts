import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { BlobStore, PutResult } from '@imgkit/storage';
import { BlobTooLargeError } from '@imgkit/storage';
import busboy from 'busboy';
import { problems } from './problem.ts';

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
  maxBytes: number,
): Promise<MultipartUpload> {
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
        failure ??= problems.payloadTooLarge(maxBytes);
      });
      upload = store
        .put(key, stream, { maxBytes })
        .then((r) => ({ ...r, filename: info.filename, declaredType: info.mimeType }));
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
    if (err instanceof BlobTooLargeError) throw problems.payloadTooLarge(maxBytes);
    if (err instanceof Error && /Unexpected end of form|Malformed/i.test(err.message)) {
      throw problems.badRequest('malformed_multipart', `The multipart body is malformed: ${err.message}.`);
    }
    throw err;
  }
}

/** Streams a raw `image/*` body into the blob store. */
export async function receiveRawBody(req: Readable, store: BlobStore, key: string, maxBytes: number) {
  // A client that disconnects mid-body: fail the write (its temp file is removed) rather than wait.
  const onClose = () => {
    if (!(req as Readable & { complete?: boolean }).complete) req.destroy(new Error('upload aborted'));
  };
  req.once('close', onClose);
  try {
    return await store.put(key, req, { maxBytes });
  } catch (err) {
    await store.delete(key).catch(() => undefined);
    if (err instanceof BlobTooLargeError) throw problems.payloadTooLarge(maxBytes);
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
