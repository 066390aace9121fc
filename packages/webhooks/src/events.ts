export const EVENT_TYPES = [
  'image.completed',
  'image.failed',
  'job.completed',
  'job.failed',
  'ping',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The body: `{type, timestamp, data}` with `data` the resource exactly as GET
 * returns it. `dataJson` is spliced in as text so passthrough stays byte for byte.
 */
export function eventBody(type: EventType, dataJson: string, at: Date = new Date()): string {
  return `{"type":${JSON.stringify(type)},"timestamp":${JSON.stringify(at.toISOString())},"data":${dataJson}}`;
}
