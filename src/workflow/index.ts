/**
 * temporal-k8s-jobs, workflow side: the `temporal-k8s-jobs/workflow` entry.
 *
 * This file is separate from the package root because workflow code runs in Temporal's deterministic
 * sandbox: it may import only sandbox-safe modules (types, failure constants, @temporalio/workflow),
 * never Node built-ins, the Kubernetes client or the template engine (ESLint enforces this).
 */
import { ActivityCancellationType, ActivityFailure, CancellationScope, CancelledFailure, TimeoutFailure, isCancellation, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURE_TYPES } from '../failures.js';
import type { DeleteJobRequest, KubernetesJobInput, KubernetesJobResult } from '../types.js';

export { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../failures.js';
export type * from '../types.js';
export type * from '../dag-types.js';
export { DAG_STATE_QUERY } from '../dag-types.js';

/** The activity as the workflow sees it (kept here so this entry imports no worker-side module). */
interface RunJobActivity {
  kubernetesJobsRunJob(input: KubernetesJobInput): Promise<KubernetesJobResult>;
  kubernetesJobsDeleteJob(request: DeleteJobRequest): Promise<void>;
}

/** Options of {@link runKubernetesJob}: any Temporal activity option may be overridden. */
export type RunKubernetesJobOptions = Partial<ActivityOptions>;

/** Seconds added to the Job's own timeout for the activity's start-to-close (render, apply, cleanup). */
const START_TO_CLOSE_MARGIN_SECONDS = 300;

/**
 * Runs one templated Kubernetes Job and returns its result, or throws an `ActivityFailure` whose
 * `cause` is an `ApplicationFailure` with a `type` from `FailureType` (e.g. `JobFailed`).
 *
 * Defaults: heartbeat timeout 20 s (a dead worker is noticed and the retry re-attaches to the same
 * Job), start-to-close = input.timeoutSeconds (default 3600) + 5 min, retries with backoff for
 * infrastructure errors only (API 429/5xx, network, dead worker), cancellation waits until the Job and
 * its pods are deleted.
 *
 * @example
 * const result = await runKubernetesJob({ template: 'job.yaml.njk', values: { image: 'busybox', command: 'echo hi' } });
 */
export async function runKubernetesJob(input: KubernetesJobInput, options: RunKubernetesJobOptions = {}): Promise<KubernetesJobResult> {
  const timeoutSeconds = input.timeoutSeconds ?? 3600;
  const act = proxyActivities<RunJobActivity>({
    startToCloseTimeout: `${timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS}s`,
    heartbeatTimeout: '20s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ...options,
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '30s',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
      ...options.retry,
    },
  });
  try {
    return await act.kubernetesJobsRunJob(input);
  } catch (err) {
    if (err instanceof ActivityFailure && err.activityId !== undefined && (isCancellation(err) || err.cause instanceof TimeoutFailure)) {
      await deleteJobDurably(input, err.activityId, options);
      // A cancelled workflow whose activity timed out (its worker died handling the cancellation) still ends as cancelled.
      if (!isCancellation(err) && CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled; the Job was deleted', [], err);
    }
    throw err;
  }
}

/**
 * After the run activity reported cancelled or timed out, makes sure its Job and pods are gone. Temporal
 * does not retry a cancelled activity, so a worker that died while deleting would leave the Job behind:
 * this activity runs outside the workflow's cancellation and is retried until the delete is confirmed.
 */
async function deleteJobDurably(input: KubernetesJobInput, activityId: string, options: RunKubernetesJobOptions): Promise<void> {
  const cleanup = proxyActivities<RunJobActivity>({
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    startToCloseTimeout: '5m',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  });
  const { workflowId, runId } = workflowInfo();
  await CancellationScope.nonCancellable(() => cleanup.kubernetesJobsDeleteJob({ input, owner: { workflowId, runId, activityId } }));
}

/** A ready workflow that runs one templated Job (what `temporal-k8s-jobs run` starts). */
export async function kubernetesJobWorkflow(input: KubernetesJobInput): Promise<KubernetesJobResult> {
  return runKubernetesJob(input);
}

export { runDag, dagWorkflow, dagBatchWorkflow, dagStateQuery, DEFAULT_BATCH_SIZE } from './dag-workflow.js';
export type { DagBatchInput } from './dag-workflow.js';
export { validateDag, startOrder, InvalidDagError } from './dag.js';
export { cleanupWorkflow, type CleanupInput, type CleanupResult, type CleanedJob } from './cleanup-workflow.js';
