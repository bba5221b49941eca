/** The decision table of `cleanup`: which Jobs go and why. */
import { cleanupReason } from '../../src/cli/cleanup.js';

const now = Date.parse('2026-01-02T00:00:00Z');
const ago = (s: number) => now - s * 1000;

describe('cleanupReason', () => {
  it.each<[string, { finishedAt?: number; workflowStatus: string }, boolean, string | undefined]>([
    ['old, workflow completed', { finishedAt: ago(7200), workflowStatus: 'COMPLETED' }, false, 'finished 2h ago'],
    ['old, workflow gone (retention)', { finishedAt: ago(7200), workflowStatus: 'NOT_FOUND' }, false, 'finished 2h ago'],
    ['young', { finishedAt: ago(60), workflowStatus: 'COMPLETED' }, false, undefined],
    ['old but its workflow still runs', { finishedAt: ago(7200), workflowStatus: 'RUNNING' }, true, undefined],
    ['workflow status unknown', { finishedAt: ago(7200), workflowStatus: 'UNKNOWN' }, true, undefined],
    ['still running, workflow completed', { workflowStatus: 'COMPLETED' }, false, undefined],
    ['terminated, young, no --orphans', { workflowStatus: 'TERMINATED' }, false, undefined],
    ['terminated, young, --orphans', { workflowStatus: 'TERMINATED' }, true, 'orphan: workflow terminated'],
    ['timed out, --orphans', { finishedAt: ago(5), workflowStatus: 'TIMED_OUT' }, true, 'orphan: workflow timed_out'],
  ])('%s', (_n, job, orphans, want) => {
    expect(cleanupReason(job, { now, olderThanSeconds: 3600, orphans })).toBe(want);
  });
});
