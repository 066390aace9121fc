import { z } from 'zod';
import { INTAKE_FORMATS, type IntakeRules } from './intake.ts';

const side = z.number().int().min(1).max(1_000_000);

/** The rules as stored; the api (PATCH /v1/account) and the CLI validate with it. */
export const IntakeRulesSchema = z
  .strictObject({
    allowed_formats: z.array(z.enum(INTAKE_FORMATS)).min(1).optional(),
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
  }) satisfies z.ZodType<IntakeRules>;

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
