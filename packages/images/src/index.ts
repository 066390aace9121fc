export { Q as imageQueries } from './queries.ts';
export { rawJsonMember } from './raw-json.ts';
export { hashToHex, hexToHash, type ImageRow, imageJson, imageListJson } from './resource.ts';
