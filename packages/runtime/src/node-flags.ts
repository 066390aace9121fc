/**
 * V8 flags the api and the worker run with: the systemd units' ExecStart (kept equal by
 * packages/runtime/test/node-flags.test.ts), `npm start`, and every process of the benchmarks.
 *
 * --max-semi-space-size=2: V8 grows each half of the young generation up to 16 MB (startup alone
 * fills it) and keeps it; at 2 MB the api's peak RSS in bench/thumbs was 222 → 189 MB, with
 * bench/api's throughput and CPU per request unchanged (docs/decisions.md).
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
