export { originalKey, variantKey, variantsPrefix } from './blob-keys.ts';
export {
  type Announce,
  type CreateImageDeps,
  completeImage,
  createImage,
  deleteImage,
  failImage,
  type ImageFacts,
  markRetrying,
  type NewImage,
  recordOriginal,
  reopenImage,
  startProcessing,
} from './lifecycle.ts';
export { PROCESS_IMAGE, type ProcessImagePayload } from './process-image-kind.ts';
export {
  listenForRenditionChanges,
  purgeRenditions,
  RENDITIONS_CHANNEL,
  type RenditionHandlers,
} from './renditions.ts';
export {
  type Duplicates,
  hashToHex,
  hexToHash,
  type ImageRow,
  imageJson,
  imageListJson,
  similarListJson,
} from './resource.ts';
export {
  bandNeighbours,
  bandsOf,
  findDuplicates,
  type HashKind,
  isDegenerateHash,
  MAX_INDEXED_DISTANCE,
  NEAR_DUPLICATE_DISTANCE,
  probeValues,
  type SimilarQuery,
  type SimilarRow,
  similarImages,
  similarImagesByScan,
} from './similar.ts';
export { getImage, getImageById, type ListFilter, listImages } from './store.ts';
