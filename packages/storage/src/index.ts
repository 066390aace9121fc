export type { BlobStore, GetOptions, PutResult } from './blob-store.ts';
export { BlobNotFoundError, BlobTooLargeError, StorageUnavailableError } from './blob-store.ts';
export { CachedBlobStore } from './cached.ts';
export { type CopyProgress, copyBlobs } from './copy.ts';
export { DiskCache } from './disk-cache.ts';
export { LocalBlobStore } from './local.ts';
// S3BlobStore is imported from '@imgkit/storage/s3': the AWS SDK is loaded only by a process
// that uses a bucket (11 MB of memory in every api process otherwise).
export type { S3Settings } from './s3.ts';
