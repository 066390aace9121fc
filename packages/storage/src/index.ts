export type { BlobStore, PutResult } from './blob-store.ts';
export { BlobNotFoundError, BlobTooLargeError } from './blob-store.ts';
export { LocalBlobStore } from './local.ts';
