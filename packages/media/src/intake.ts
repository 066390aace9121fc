// The rules' type and their check, without zod: the media pool's threads check every image
// against the rules but never validate them, and zod in each thread's isolate cost ~7.5 MB of
// RSS. The schema that validates them is in intake-rules.ts (api, CLI), checked against this type.
import type { ImageFormat } from './sniff.ts';

export const INTAKE_FORMATS = [
  'jpeg',
  'png',
  'gif',
  'webp',
  'avif',
  'heic',
  'tiff',
] as const satisfies readonly ImageFormat[];

/**
 * What an account accepts at intake (PATCH /v1/account). Each rule is optional; an empty
 * object accepts everything the service supports. Widths and heights are as displayed
 * (after EXIF/XMP orientation), as the image record reports them.
 */
export interface IntakeRules {
  allowed_formats?: (typeof INTAKE_FORMATS)[number][];
  min_width?: number;
  min_height?: number;
  max_width?: number;
  max_height?: number;
  max_bytes?: number;
  allow_animated?: boolean;
}

export interface IntakeFacts {
  format?: ImageFormat;
  bytes?: number;
  width?: number;
  height?: number;
  animated?: boolean;
}

/** The first rule the facts break (only the facts given are checked), with a message for people. */
export function intakeViolation(
  rules: IntakeRules,
  facts: IntakeFacts,
): { rule: keyof IntakeRules; message: string } | undefined {
  const { format, bytes, width, height, animated } = facts;
  if (format !== undefined && rules.allowed_formats && !rules.allowed_formats.includes(format)) {
    return {
      rule: 'allowed_formats',
      message: `${format} images are not accepted by this account (allowed: ${rules.allowed_formats.join(', ')})`,
    };
  }
  if (bytes !== undefined && rules.max_bytes !== undefined && bytes > rules.max_bytes) {
    return {
      rule: 'max_bytes',
      message: `the file has ${bytes} bytes; at most ${rules.max_bytes} are accepted`,
    };
  }
  const bounds = [
    ['min_width', width, rules.min_width, 'wide', 'at least'],
    ['min_height', height, rules.min_height, 'high', 'at least'],
    ['max_width', width, rules.max_width, 'wide', 'at most'],
    ['max_height', height, rules.max_height, 'high', 'at most'],
  ] as const;
  for (const [rule, value, limit, side, bound] of bounds) {
    if (value === undefined || limit === undefined) continue;
    if (bound === 'at least' ? value < limit : value > limit) {
      return { rule, message: `the image is ${value} px ${side}; ${bound} ${limit} px are accepted` };
    }
  }
  if (animated === true && rules.allow_animated === false) {
    return { rule: 'allow_animated', message: 'animated images are not accepted by this account' };
  }
  return undefined;
}
