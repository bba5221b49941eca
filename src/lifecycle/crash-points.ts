/**
 * Named points in the Job lifecycle where a test can make the worker die at once (SIGKILL), to check
 * what a retry finds there. Inert unless the worker's environment names the point:
 * `TKJ_CRASH_AT=after-result-recorded` (a comma-separated list names several).
 *
 * Points, in lifecycle order:
 * - `after-create`: the Job was created; the heartbeat with its UID may not have left yet;
 * - `after-outcome`: the watch saw the Job's final state; nothing is recorded yet;
 * - `after-result-recorded`: the result (or failure) is recorded on the Job; the activity has not returned;
 * - `before-cleanup-delete`: the cleanup policy's delete is about to be sent (in the run activity for
 *   direct callers, in the release activity under `runKubernetesJob`);
 * - `before-return`: the run activity is about to return its result (or throw its failure);
 * - `before-finalizer-removal`: the release activity is about to remove the result finalizer.
 */
export type CrashPoint = 'after-create' | 'after-outcome' | 'after-result-recorded' | 'before-cleanup-delete' | 'before-return' | 'before-finalizer-removal';

/** Kills this process (SIGKILL: no cleanup, no shutdown) when `TKJ_CRASH_AT` names `point`. */
export function crashPoint(point: CrashPoint): void {
  const at = process.env.TKJ_CRASH_AT;
  if (at && at.split(',').map((s) => s.trim()).includes(point)) {
    process.stderr.write(`TKJ_CRASH_AT: killing the worker at '${point}'\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
