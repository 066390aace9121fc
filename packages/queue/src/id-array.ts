// Word characters after the prefix: nothing to quote, and never the bare word NULL.
const PLAIN = /^tsk_\w+$/;

/**
 * Task ids as a PostgreSQL array literal for a `$n::text[]` parameter. Task ids are plain
 * word characters (the imgkit_task_id domain), which need no quoting, so the literal is one
 * join — node-postgres would otherwise escape and quote every element of a batch. Anything
 * else goes as a JavaScript array and node-postgres quotes it.
 */
export function idArray(ids: string[]): string | string[] {
  for (const id of ids) if (!PLAIN.test(id)) return ids;
  return `{${ids.join(',')}}`;
}
