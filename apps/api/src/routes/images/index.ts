import { Router } from 'express';
import { imageBlobRoutes } from './blobs.ts';
import { type CreateImageRouteDeps, createImageRoute } from './create.ts';
import { deleteImageRoute } from './delete.ts';
import { lightroomPresetRoute } from './lightroom.ts';
import { listImagesRoute } from './list.ts';
import { readImageRoutes } from './read.ts';

export type ImagesRouteDeps = CreateImageRouteDeps & Parameters<typeof imageBlobRoutes>[0];

/** Everything under /v1/images, one file per operation. */
export function imagesRouter(deps: ImagesRouteDeps): Router {
  return Router().use(
    createImageRoute(deps),
    listImagesRoute(deps),
    readImageRoutes(deps),
    lightroomPresetRoute(deps),
    imageBlobRoutes(deps),
    deleteImageRoute(deps),
  );
}
