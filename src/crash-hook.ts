/**
 * Crash points for the reliability suite (test/reliability): when the environment variable
 * `TKJ_CRASH_AT` names a point, the worker process SIGKILLs itself the first time it reaches that
 * point, so a trial hits the risky moments of the lifecycle exactly. Without the variable this is one
 * string comparison (read once at load).
 */
export type CrashPoint =
  | 'before-create'
  | 'after-create'
  | 'before-resume'
  | 'after-cursor-write'
  | 'in-periodic-tail'
  | 'in-follow-stream'
  | 'after-cleanup-delete'
  | 'in-cancel-delete';

const armed = process.env.TKJ_CRASH_AT;

/** SIGKILLs this process when `TKJ_CRASH_AT` is `name` (a test-only hook; a no-op otherwise). */
export function crashPoint(name: CrashPoint): void {
  if (armed === name) process.kill(process.pid, 'SIGKILL');
}
