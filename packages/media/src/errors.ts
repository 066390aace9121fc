/** Why a file could not be processed, with a stable code for the image's `error.code`. */
export type MediaErrorCode =
  | 'not_an_image'
  | 'unsupported_format'
  | 'image_too_large'
  | 'too_many_frames'
  | 'decode_failed'
  | 'decode_timeout'
  | 'empty_file'
  | 'output_too_large'
  | 'invalid_transform'
  // An account's intake rule (allowed formats, pixel bounds, bytes, animation) refused it.
  | 'rejected_by_rule'
  // The isolated media pool (packages/media-pool): a call past its deadline, or a thread that died.
  | 'processing_timeout'
  | 'processing_crashed';

/** The `error.message` of a `rejected_by_rule` failure starts with this and the rule's name. */
export const RULE_PREFIX = 'intake rule ';

export class MediaError extends Error {
  override name = 'MediaError';
  readonly code: MediaErrorCode;
  constructor(code: MediaErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}
