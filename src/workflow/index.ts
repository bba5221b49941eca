/**
 * temporal-k8s-jobs, workflow side: the `temporal-k8s-jobs/workflow` entry.
 *
 * This file is separate from the package root because workflow code runs in Temporal's deterministic
 * sandbox: it may import only sandbox-safe modules (types, failure constants, @temporalio/workflow),
 * never Node built-ins, the Kubernetes client or the template engine (ESLint enforces this).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../failures.js';
import type { DeleteJobRequest, KubernetesJobInput, KubernetesJobResult, ReleaseJobRequest, ReleaseJobResult } from '../types.js';

export { FailureType, NON_RETRYABLE_FAILURE_TYPES } from '../failures.js';
export type * from '../types.js';
export type * from '../dag-types.js';
export { DAG_STATE_QUERY } from '../dag-types.js';

/** The activity as the workflow sees it (kept here so this entry imports no worker-side module). */
interface RunJobActivity {
  kubernetesJobsRunJob(input: KubernetesJobInput): Promise<KubernetesJobResult>;
  kubernetesJobsDeleteJob(request: DeleteJobRequest): Promise<void>;
  kubernetesJobsReleaseJob(request: ReleaseJobRequest): Promise<ReleaseJobResult>;
}

/** Options of {@link runKubernetesJob}: any Temporal activity option may be overridden. */
export type RunKubernetesJobOptions = Partial<ActivityOptions>;

/** Seconds added to the Job's own timeout for the activity's start-to-close (render, apply, cleanup). */
const START_TO_CLOSE_MARGIN_SECONDS = 300;
/**
 * Start-to-close of the run activity when the input gives no timeoutSeconds: the longest time limit a
 * worker accepts (366 days) + the margin, so that the worker's own default (`defaults.timeoutSeconds`,
 * which the workflow cannot see) always ends inside it. The activity enforces that limit itself; a dead
 * worker is noticed by the heartbeat timeout.
 */
const UNBOUNDED_START_TO_CLOSE_SECONDS = 366 * 86_400 + START_TO_CLOSE_MARGIN_SECONDS;
/** Marks histories whose run activity leaves the Job to the release activity (older histories replay without it). */
const RELEASE_PATCH = 'temporal-k8s-jobs/release-by-workflow';
/** Failures of the run activity that never create a Job: no release needed. */
const CREATES_NOTHING: readonly string[] = [FailureType.TemplateError, FailureType.InvalidManifest];

/**
 * Runs one templated Kubernetes Job and returns its result, or throws an `ActivityFailure` whose
 * `cause` is an `ApplicationFailure` with a `type` from `FailureType` (e.g. `JobFailed`).
 *
 * Defaults: heartbeat timeout 20 s (a dead worker is noticed and the retry re-attaches to the same
 * Job), start-to-close = input.timeoutSeconds + 5 min (without it, 366 days + 5 min: the worker's
 * default time limit applies, enforced by the activity), retries with backoff for infrastructure errors
 * only (API 429/5xx, network, dead worker), cancellation waits until the Job and its pods are deleted.
 *
 * Result durability: the Job is created with the `temporal-k8s-jobs/result` finalizer and its answer is
 * recorded on it before the activity returns, so a retry always finds the Job and returns exactly that
 * answer. Once the result (or failure) is in this workflow's history, `kubernetesJobsReleaseJob` runs in a
 * non-cancellable scope, retried until done: it applies the cleanup policy and removes the finalizer.
 * The returned `deleted` is the release's.
 *
 * @example
 * const result = await runKubernetesJob({ template: 'job.yaml.njk', values: { image: 'busybox', command: 'echo hi' } });
 */
export async function runKubernetesJob(input: KubernetesJobInput, options: RunKubernetesJobOptions = {}): Promise<KubernetesJobResult> {
  const startToCloseSeconds = input.timeoutSeconds !== undefined ? input.timeoutSeconds + START_TO_CLOSE_MARGIN_SECONDS : UNBOUNDED_START_TO_CLOSE_SECONDS;
  const releaseByWorkflow = patched(RELEASE_PATCH);
  const act = proxyActivities<RunJobActivity>({
    startToCloseTimeout: `${startToCloseSeconds}s`,
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
  let result: KubernetesJobResult;
  try {
    result = await act.kubernetesJobsRunJob(releaseByWorkflow ? { ...input, releaseByWorkflow: true } : input);
  } catch (err) {
    if (err instanceof ActivityFailure && err.activityId !== undefined && (isCancellation(err) || err.cause instanceof TimeoutFailure)) {
      await deleteJobDurably(input, err.activityId, options);
      // A cancelled workflow whose activity timed out (its worker died handling the cancellation) still ends as cancelled.
      if (!isCancellation(err) && CancellationScope.current().consideredCancelled) throw new CancelledFailure('cancelled; the Job was deleted', [], err);
    } else if (releaseByWorkflow && err instanceof ActivityFailure && err.activityId !== undefined && !createsNothing(err)) {
      // The failure is in the history now: the Job may go (policy) and loses its finalizer.
      const { workflowId, runId } = workflowInfo();
      // The step's failure is what the workflow reports; a release that fails for good is only logged.
      await releaseJobDurably({ succeeded: false, run: { input, owner: { workflowId, runId, activityId: err.activityId } } }, options).catch((e: unknown) =>
        log.warn(`the Job of activity ${err.activityId} could not be released (its temporal-k8s-jobs/result finalizer may remain): ${(e as Error).message}`),
      );
    }
    throw err;
  }
  if (!releaseByWorkflow) return result;
  // The result is in the history now: the Job may go (policy) and loses its finalizer.
  const released = await releaseJobDurably(
    { succeeded: true, ...(input.cleanup ? { cleanup: input.cleanup } : {}), job: { namespace: result.namespace, name: result.jobName, ...(result.jobUid ? { uid: result.jobUid } : {}) } },
    options,
  );
  return { ...result, deleted: released.deleted };
}

function createsNothing(err: ActivityFailure): boolean {
  return err.cause instanceof ApplicationFailure && CREATES_NOTHING.includes(err.cause.type ?? '');
}

/** The options of the activities that clean up after the run activity: retried until done, no attempt limit. */
function cleanupActivities(options: RunKubernetesJobOptions) {
  return proxyActivities<RunJobActivity>({
    ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    startToCloseTimeout: '5m',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
  });
}

/**
 * After the run activity's result or failure is recorded in the history: applies the cleanup policy
 * and removes the result finalizer, outside the workflow's cancellation and retried until done, so
 * that no Job keeps the finalizer once its workflow moved on.
 */
async function releaseJobDurably(request: ReleaseJobRequest, options: RunKubernetesJobOptions): Promise<ReleaseJobResult> {
  return CancellationScope.nonCancellable(() => cleanupActivities(options).kubernetesJobsReleaseJob(request));
}

/**
 * After the run activity reported cancelled or timed out, makes sure its Job and pods are gone. Temporal
 * does not retry a cancelled activity, so a worker that died while deleting would leave the Job behind:
 * this activity runs outside the workflow's cancellation and is retried until the delete is confirmed.
 */
async function deleteJobDurably(input: KubernetesJobInput, activityId: string, options: RunKubernetesJobOptions): Promise<void> {
  const { workflowId, runId } = workflowInfo();
  await CancellationScope.nonCancellable(() => cleanupActivities(options).kubernetesJobsDeleteJob({ input, owner: { workflowId, runId, activityId } }));
}

/** A ready workflow that runs one templated Job (what `temporal-k8s-jobs run` starts). */
export async function kubernetesJobWorkflow(input: KubernetesJobInput): Promise<KubernetesJobResult> {
  return runKubernetesJob(input);
}

export { runDag, dagWorkflow, dagBatchWorkflow, dagStateQuery, DEFAULT_BATCH_SIZE } from './dag-workflow.js';
export type { DagBatchInput } from './dag-workflow.js';
export { validateDag, startOrder, InvalidDagError } from './dag.js';
export { cleanupWorkflow, type CleanupInput, type CleanupResult, type CleanedJob } from './cleanup-workflow.js';
