/** Where an image's blobs live in the store. */
export function originalKey(accountId: string, imageId: string): string {
  return `originals/${accountId}/${imageId}`;
}

export function variantsPrefix(accountId: string, imageId: string): string {
  return `variants/${accountId}/${imageId}`;
}

export function variantKey(accountId: string, imageId: string, name: string): string {
  return `${variantsPrefix(accountId, imageId)}/${name}`;
}
