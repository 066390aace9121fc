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
export { hashToHex, hexToHash, type ImageRow, imageJson, imageListJson } from './resource.ts';
export { getImage, getImageById, type ListFilter, listImages, similarImages } from './store.ts';
