export type { BlobStore, PutResult } from './blob-store.ts';
export { BlobNotFoundError, BlobTooLargeError } from './blob-store.ts';
export { DiskCache } from './disk-cache.ts';
export { LocalBlobStore } from './local.ts';
