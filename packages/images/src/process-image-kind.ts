import { taskKind } from '@imgkit/queue';

/** The task that downloads (if needed), stores and extracts one image. */
export interface ProcessImagePayload {
  image_id: string;
}

export const PROCESS_IMAGE = taskKind<ProcessImagePayload>('process_image');
