/**
 * `cleanupWorkflow`: `temporal-k8s-jobs cleanup` as a workflow, for a Temporal Schedule. Sandbox-safe:
 * the work is the worker's `kubernetesJobsCleanup` activity (registered by the plugin).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CleanupInput, CleanupResult } from '../cleanup-types.js';

export type { CleanedJob, CleanupInput, CleanupResult } from '../cleanup-types.js';

interface CleanupActivity {
  kubernetesJobsCleanup(input: CleanupInput): Promise<CleanupResult>;
}

const { kubernetesJobsCleanup } = proxyActivities<CleanupActivity>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidCleanupInput'] },
});

/**
 * Deletes the finished Jobs of this package older than `olderThan` (with their pods and owned
 * companions; kept companions stay), never a Job whose workflow still runs nor one it did not
 * create; with `orphans`, also the Jobs of terminated or timed-out workflows. Returns what it deleted.
 *
 * @example
 * // temporal schedule create --schedule-id tkj-cleanup --interval 1h --task-queue kubernetes-jobs \
 * //   --workflow-type cleanupWorkflow --input '{"olderThan": "7d", "namespace": "batch"}'
 */
export async function cleanupWorkflow(input: CleanupInput): Promise<CleanupResult> {
  return kubernetesJobsCleanup(input);
}
