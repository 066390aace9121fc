import { z } from 'zod';
import type { ImageFormat } from './sniff.ts';

const FORMATS = [
  'jpeg',
  'png',
  'gif',
  'webp',
  'avif',
  'heic',
  'tiff',
] as const satisfies readonly ImageFormat[];

const side = z.number().int().min(1).max(1_000_000);

/** The rules as stored; the api (PATCH /v1/account) and the CLI validate with it. */
export const IntakeRulesSchema = z
  .strictObject({
    allowed_formats: z.array(z.enum(FORMATS)).min(1).optional(),
    min_width: side.optional(),
    min_height: side.optional(),
    max_width: side.optional(),
    max_height: side.optional(),
    max_bytes: z.number().int().min(1).optional(),
    allow_animated: z.boolean().optional(),
  })
  .refine((r) => r.min_width === undefined || r.max_width === undefined || r.min_width <= r.max_width, {
    message: 'min_width must not exceed max_width',
    path: ['min_width'],
  })
  .refine((r) => r.min_height === undefined || r.max_height === undefined || r.min_height <= r.max_height, {
    message: 'min_height must not exceed max_height',
    path: ['min_height'],
  });

/**
 * What an account accepts at intake (PATCH /v1/account). Each rule is optional; an empty
 * object accepts everything the service supports. Widths and heights are as displayed
 * (after EXIF/XMP orientation), as the image record reports them.
 */
export type IntakeRules = z.infer<typeof IntakeRulesSchema>;

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

/**
 * A JSON merge patch (RFC 7396) of the rules: a member set to null removes that rule. The
 * result is validated as a whole (min ≤ max holds across old and new values).
 */
export function patchIntakeRules(
  current: IntakeRules,
  patch: Record<string, unknown>,
): { ok: true; rules: IntakeRules } | { ok: false; error: z.ZodError } {
  const merged: Record<string, unknown> = { ...current };
  for (const [rule, value] of Object.entries(patch)) {
    if (value === null) delete merged[rule];
    else merged[rule] = value;
  }
  const checked = IntakeRulesSchema.safeParse(merged);
  return checked.success ? { ok: true, rules: checked.data } : { ok: false, error: checked.error };
}
