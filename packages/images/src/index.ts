export { originalKey, variantKey, variantsPrefix } from './blob-keys.ts';
export { Q as imageQueries, WorkerQ as imageWorkerQueries } from './queries.ts';
export { rawJsonMember, withRawMember } from './raw-json.ts';
export { hashToHex, hexToHash, type ImageRow, imageJson, imageListJson } from './resource.ts';
