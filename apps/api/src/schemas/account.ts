import { IntakeRulesSchema as Rules } from '@imgkit/media/intake-rules';
import { named, z } from './zod.ts';

/** The intake rules as stored: every rule optional; none means everything is accepted. */
export const IntakeRulesSchema = named(
  'IntakeRules',
  // A clone: schemas made before zod was extended (in @imgkit/media) lack .openapi().
  Rules.clone().openapi({
    description:
      'Formats are sniffed from the bytes (never the Content-Type); widths and heights are as displayed (after orientation). Uploads that break allowed_formats or max_bytes are refused at the door (415/413); anything else fails the image with error.code rejected_by_rule and error.rule.',
  }),
);

/** PATCH /v1/account: a JSON merge patch of the rules (a rule set to null is removed). */
export const PatchAccount = named(
  'PatchAccount',
  z.strictObject({
    intake_rules: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'Merged into the current rules; null removes a rule', type: 'object' }),
  }),
);

export const AccountSchema = named(
  'Account',
  z.object({
    object: z.literal('account'),
    id: z.string(),
    name: z.string(),
    created_at: z.string(),
    intake_rules: IntakeRulesSchema,
  }),
);
