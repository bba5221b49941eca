/**
 * Named points in the Job lifecycle where a test makes the worker die at once (SIGKILL: no cleanup, no
 * shutdown), to check what a retry finds there: the reliability suite (test/reliability) and the
 * result-durability tests. Inert unless the worker's environment names the point:
 * `TKJ_CRASH_AT=after-result-recorded` (a comma-separated list names several). Without the variable
 * this is one check of a value read once at load.
 *
 * Points, in lifecycle order:
 * - `before-create`: the Job is about to be created;
 * - `after-create`: the Job was created; the heartbeat with its UID may not have left yet;
 * - `before-resume`: a Job created suspended (it has companions) is about to be resumed;
 * - `after-cursor-write`: log cursors were written; the lines they cover are not handed to the sink yet;
 * - `in-periodic-tail`: a tail read a container's log and has not delivered it yet;
 * - `in-follow-stream`: a follow stream received a chunk and has not delivered it yet;
 * - `after-outcome`: the watch saw the Job's final state; nothing is recorded yet;
 * - `after-result-recorded`: the answer (result or failure) is recorded on the Job; the activity has not returned;
 * - `before-cleanup-delete` / `after-cleanup-delete`: around the cleanup policy's delete (in the run
 *   activity for direct callers, in the release activity under `runKubernetesJob`);
 * - `before-return`: the run activity is about to return its result (or throw its failure);
 * - `before-finalizer-removal`: the release activity is about to remove the result finalizer;
 * - `in-cancel-delete`: a cancellation's delete was sent; its completion is not confirmed yet.
 */
export type CrashPoint =
  | 'before-create'
  | 'after-create'
  | 'before-resume'
  | 'after-cursor-write'
  | 'in-periodic-tail'
  | 'in-follow-stream'
  | 'after-outcome'
  | 'after-result-recorded'
  | 'before-cleanup-delete'
  | 'after-cleanup-delete'
  | 'before-return'
  | 'before-finalizer-removal'
  | 'in-cancel-delete';

const armed = new Set((process.env.TKJ_CRASH_AT ?? '').split(',').map((s) => s.trim()).filter(Boolean));

/** Kills this process (SIGKILL) when `TKJ_CRASH_AT` names `point`. */
export function crashPoint(point: CrashPoint): void {
  if (armed.size > 0 && armed.has(point)) {
    process.stderr.write(`TKJ_CRASH_AT: killing the worker at '${point}'\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
