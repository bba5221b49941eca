/**
 * Step 5 of the lifecycle: the result or the failure, recorded on the Job before anything can delete
 * it, then cleanup (cleanup policy, suspension of a Job that failed fast, deletion on a time limit or
 * cancellation), and the release that `runKubernetesJob` runs once the answer is in its history.
 *
 * Result durability (under `runKubernetesJob`, input `releaseByWorkflow`):
 * - the Job is created with the {@link RESULT_FINALIZER} finalizer and without its
 *   `ttlSecondsAfterFinished` (kept in {@link TTL_ANNOTATION}), so neither a TTL delete (which takes
 *   the pods first) nor a delete from a crashed attempt can make the Job or its pods vanish before
 *   the answer is recorded;
 * - the answer (result, or failure type, message and details; bounded) is written to the Job
 *   ({@link RESULT_ANNOTATION}), fenced like the log cursors, before the activity returns; a retry that
 *   finds it returns exactly it;
 * - the activity never deletes the Job then (except on its own time limit); the workflow's release
 *   activity applies the cleanup policy, restores the TTL and removes the finalizer.
 */
import { FailureType, type FailureTypeName } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import type { KubeClient, V1Job, V1Pod } from '../kube.js';
import { isOwnedBy, type Owner } from '../naming.js';
import { boundFailureDetails, boundResult, exitCodes, failureDetails, jobOutput, someRunning, summarizePods, RESULT_MAX_BYTES, type JobState } from '../job-status.js';
import type { CleanupPolicy, KubernetesJobResult, ReleaseJobResult } from '../types.js';
import type { JobPlan } from './plan.js';
import type { Reporter } from './report.js';
import { StaleAttemptError } from './delivery.js';
import { crashPoint } from '../crash-hook.js';

/** Finalizer that holds a Job (created under `runKubernetesJob`) until its answer is in the workflow's history. */
export const RESULT_FINALIZER = 'temporal-k8s-jobs/result';
/** Annotation holding the Job's recorded answer ({@link RecordedAnswer}, JSON). */
export const RESULT_ANNOTATION = 'temporal-k8s-jobs/result';
/** Annotation holding the template's `ttlSecondsAfterFinished`, set on the Job only at its release. */
export const TTL_ANNOTATION = 'temporal-k8s-jobs/ttl-seconds-after-finished';

/** What the watch and the log delivery saw last. */
export interface FinalView {
  job: V1Job;
  pods: readonly V1Pod[];
  logLines: number;
  reattached: boolean;
}

/** The answer of a finished Job, as recorded on it: what every attempt returns from then on. */
export interface RecordedAnswer {
  v: 1;
  /** The attempt that recorded it (`<attempt>:<random>`). */
  by: string;
  /** `timeout`: the activity's own time limit (the Job is deleted). */
  outcome: 'succeeded' | 'failed' | 'timeout';
  result?: KubernetesJobResult;
  failure?: { type: FailureTypeName; message: string; details: Record<string, unknown> };
  /** Suspend the Job: it failed fast, none of its pods runs, and the cleanup policy keeps it. */
  suspend?: boolean;
}

/** Whether the cleanup policy deletes a Job that succeeded (or not). */
export function policyDeletes(cleanup: CleanupPolicy, succeeded: boolean): boolean {
  return cleanup === 'always' || (cleanup === 'onSuccess' && succeeded);
}

/** The answer recorded on a Job, if any (an unreadable one counts as none). */
export function readRecorded(job: V1Job | undefined): RecordedAnswer | undefined {
  const text = job?.metadata?.annotations?.[RESULT_ANNOTATION];
  if (!text) return undefined;
  try {
    const a = JSON.parse(text) as RecordedAnswer;
    if (!a || a.v !== 1 || typeof a.by !== 'string' || !['succeeded', 'failed', 'timeout'].includes(a.outcome)) return undefined;
    if (a.outcome === 'succeeded' ? !a.result || typeof a.result !== 'object' : !a.failure || typeof a.failure.type !== 'string') return undefined;
    return a;
  } catch {
    return undefined;
  }
}

/**
 * Turns the Job's final state into the answer, records it on the Job, then settles it (cleanup, and
 * the result returned or the failure thrown).
 */
export async function finishJob(kube: KubeClient, plan: JobPlan, outcome: JobState | 'timeout', view: FinalView, report: Reporter, attemptToken: string): Promise<KubernetesJobResult> {
  report.progress = { ...report.progress, phase: outcome === 'timeout' ? 'Deleting' : outcome.kind === 'succeeded' ? 'Succeeded' : outcome.kind === 'failed' ? 'Failed' : report.progress.phase };
  const answer = await answerOf(kube, plan, outcome, view, report, attemptToken);
  const recorded = await recordAnswer(kube, plan, answer, attemptToken);
  crashPoint('after-result-recorded');
  return settleAnswer(kube, plan, recorded);
}

async function answerOf(kube: KubeClient, plan: JobPlan, outcome: JobState | 'timeout', view: FinalView, report: Reporter, by: string): Promise<RecordedAnswer> {
  const { pods } = view;
  const release = plan.releaseByWorkflow;
  if (outcome === 'timeout') {
    const details = boundFailureDetails(failureDetails(view.job as never, pods as never, [], report.tail.lines()));
    return {
      v: 1,
      by,
      outcome: 'timeout',
      failure: {
        type: FailureType.DeadlineExceeded,
        message: `${plan.target} did not finish within ${Math.round(plan.timeoutMs / 1000)}s; it was deleted`,
        details: { ...details, deleted: true } as Record<string, unknown>,
      },
    };
  }
  if (outcome.kind === 'succeeded') {
    const result = boundResult({
      jobName: plan.jobName,
      namespace: plan.namespace,
      status: 'Succeeded',
      pods: summarizePods(pods as never),
      exitCodes: exitCodes(pods as never),
      output: jobOutput(pods as never),
      logTail: report.tail.lines(),
      logLines: view.logLines,
      reattached: view.reattached,
      // Under runKubernetesJob the release deletes it (what the policy says); otherwise set when settled.
      deleted: release && policyDeletes(plan.cleanup, true),
      ...(view.job.metadata?.uid ? { jobUid: view.job.metadata.uid } : {}),
    });
    if (result.output === undefined) delete result.output;
    return { v: 1, by, outcome: 'succeeded', result };
  }
  if (outcome.kind !== 'failed') throw new Error(`finishJob: ${plan.target} has not finished`);
  const events = [...(await kube.listEvents(plan.namespace, plan.jobName)), ...(pods[0]?.metadata?.name ? await kube.listEvents(plan.namespace, pods[0].metadata.name) : [])];
  const details = boundFailureDetails(failureDetails(view.job as never, pods as never, events as never, report.tail.lines()));
  const keeps = !policyDeletes(plan.cleanup, false);
  return {
    v: 1,
    by,
    outcome: 'failed',
    failure: { type: outcome.type, message: outcome.message, details: { ...details, deleted: release && !keeps } as Record<string, unknown> },
    // Failed fast while still pending: kept for inspection, but suspended so it cannot start later.
    // Never while a pod runs: suspension would kill it.
    ...((outcome.type === 'ImagePullFailed' || outcome.type === 'Unschedulable') && keeps && !someRunning(pods as never) ? { suspend: true } : {}),
  };
}

/** Delays between tries of an API call retried in place. */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statusOfError = (err: unknown): number | undefined => (err as KubernetesJobsError).details?.status as number | undefined;
const retryable = (err: unknown): boolean => !(err instanceof KubernetesJobsError) || !err.nonRetryable;

/** The attempt number in a `<attempt>:<random>` token. */
const attemptOf = (token: string | undefined): number => (token ? Number(token.split(':')[0]) || 0 : 0);

/** The attempt that last claimed the Job's log cursors (`by` of the cursor annotation). */
function cursorOwner(job: V1Job): string | undefined {
  const text = job.metadata?.annotations?.['temporal-k8s-jobs/log-cursors'];
  if (!text) return undefined;
  try {
    const by = (JSON.parse(text) as { by?: unknown }).by;
    return typeof by === 'string' ? by : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the answer to the Job, fenced like the log cursors: a merge patch with the resourceVersion
 * of the Job as just read, written only while no newer attempt has claimed the Job's cursors (else
 * {@link StaleAttemptError}). An answer already recorded (by an earlier attempt, or by this one whose
 * acknowledgement was lost) wins and is returned instead. A Job already gone (no finalizer: TTL or an
 * outside delete) cannot hold it: the answer is returned unrecorded. Annotations too large for the
 * API (422) make the answer smaller once (the returned answer is always the recorded one).
 */
async function recordAnswer(kube: KubeClient, plan: JobPlan, answer: RecordedAnswer, token: string): Promise<RecordedAnswer> {
  const { namespace, jobName, target } = plan;
  let current = answer;
  let shrunk = false;
  let conflicts = 0;
  for (let i = 0; ; ) {
    try {
      const job = await kube.readJob(namespace, jobName);
      if (!job) return current;
      const existing = readRecorded(job);
      if (existing) return existing;
      const theirs = cursorOwner(job);
      if (theirs !== undefined && theirs !== token && attemptOf(theirs) >= attemptOf(token)) throw new StaleAttemptError(target, token, theirs);
      await kube.patchJob(namespace, jobName, { metadata: { resourceVersion: job.metadata?.resourceVersion, annotations: { [RESULT_ANNOTATION]: JSON.stringify(current) } } });
      return current;
    } catch (err) {
      if (err instanceof StaleAttemptError) throw err;
      const status = statusOfError(err);
      if (status === 409 && ++conflicts < 50) continue; // the Job changed since it was read: read it again (the fence)
      if (status === 422 && !shrunk) {
        shrunk = true;
        current = shrink(current, RESULT_MAX_BYTES / 6);
        continue;
      }
      if (!retryable(err) || i >= RETRY_DELAYS_MS.length) throw err;
      await sleep(RETRY_DELAYS_MS[i++]!);
    }
  }
}

function shrink(a: RecordedAnswer, maxBytes: number): RecordedAnswer {
  if (a.result) return { ...a, result: boundResult(a.result, maxBytes) };
  if (a.failure) return { ...a, failure: { ...a.failure, details: boundFailureDetails(a.failure.details as never, maxBytes) as Record<string, unknown> } };
  return a;
}

/**
 * Applies a recorded answer: a Job past the activity's time limit is deleted; without
 * `releaseByWorkflow` the cleanup policy deletes it here; a fast failure suspends it. Then returns the
 * result or throws the failure. Idempotent: a retry that finds the answer on the Job runs it again.
 */
export async function settleAnswer(kube: KubeClient, plan: JobPlan, answer: RecordedAnswer): Promise<KubernetesJobResult> {
  const { namespace, jobName } = plan;
  const succeeded = answer.outcome === 'succeeded';
  let deleted = succeeded ? answer.result!.deleted : answer.failure!.details.deleted === true;
  if (answer.outcome === 'timeout') {
    // Deleted whatever the policy. Foreground under runKubernetesJob: the pods go now, while the
    // result finalizer still holds the Job until the release.
    await kube.deleteJob(namespace, jobName, plan.releaseByWorkflow ? 'Foreground' : 'Background');
    deleted = true;
  } else if (!plan.releaseByWorkflow && policyDeletes(plan.cleanup, succeeded)) {
    crashPoint('before-cleanup-delete');
    deleted = await kube.deleteJob(namespace, jobName, 'Background');
    crashPoint('after-cleanup-delete');
  } else if (answer.suspend) {
    await kube.patchJob(namespace, jobName, { spec: { suspend: true } }).catch(() => undefined);
  }
  crashPoint('before-return');
  if (succeeded) return { ...answer.result!, deleted };
  const f = answer.failure!;
  throw new KubernetesJobsError(f.type, f.message, { nonRetryable: true, details: { ...f.details, deleted } });
}

/** An attempt that gives up for good while the Job may still run unwatched: stop it from running on. */
export async function suspendAbandoned(kube: KubeClient, plan: JobPlan): Promise<void> {
  await kube.patchJob(plan.namespace, plan.jobName, { spec: { suspend: true } }).catch(() => undefined);
}

/** Runs an API call, retrying transient errors in place (a few seconds in all). */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || i >= 4) throw err;
      await sleep(250 * 2 ** (i + 1)); // backoff after an API error
    }
  }
}

/**
 * Deletes the Job (Foreground: pods first) and waits, watching, until it and its pods are gone.
 * The result finalizer is removed right after the delete: the garbage collector's own
 * `foregroundDeletion` finalizer still holds the Job until its pods are gone.
 * Returns whether they are gone (false when the wait's bound ran out first).
 */
export async function deleteAndWait(kube: KubeClient, namespace: string, jobName: string): Promise<boolean> {
  // Its UID tells its pods from leftovers of an earlier Job of the same name (never waited for).
  const uid = (await kube.readJob(namespace, jobName))?.metadata?.uid;
  if (!uid) return true;
  const existed = await retried(() => kube.deleteJob(namespace, jobName, 'Foreground'));
  crashPoint('in-cancel-delete');
  if (!existed) return true;
  await retried(() => kube.removeFinalizer(namespace, jobName, RESULT_FINALIZER));
  let resolveGone!: (gone: true) => void;
  const gone = new Promise<true>((r) => (resolveGone = r));
  const check = () => {
    const own = pods.list().filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === uid));
    if (jobs.list().length === 0 && own.length === 0) resolveGone(true);
  };
  const jobs = kube.cache<V1Job>('jobs', namespace, { fieldSelector: `metadata.name=${jobName}` }, check, () => undefined);
  const pods = kube.cache<V1Pod>('pods', namespace, { labelSelector: `batch.kubernetes.io/job-name=${jobName}` }, check, () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await jobs.start();
    await pods.start();
    check();
    // Bounded: pods with a long termination grace period are still going away when this returns.
    return await Promise.race([gone, new Promise<false>((r) => (timer = setTimeout(() => r(false), 120_000)))]);
  } finally {
    clearTimeout(timer);
    await Promise.allSettled([jobs.stop(), pods.stop()]);
  }
}

/** Deletes a Job at once (Background) and lets it go: also removes the result finalizer. */
export async function deleteNow(kube: KubeClient, namespace: string, jobName: string): Promise<boolean> {
  const existed = await kube.deleteJob(namespace, jobName, 'Background');
  if (existed) await kube.removeFinalizer(namespace, jobName, RESULT_FINALIZER);
  return existed;
}

/** Which Job a release is about: found by name, and left alone unless it is the one meant. */
export interface ReleaseTarget {
  namespace: string;
  jobName: string;
  /** The Job's UID (after a success), or its owner (after a failure, the name derived from the input). */
  uid?: string | undefined;
  owner?: Owner | undefined;
  cleanup: CleanupPolicy;
  succeeded: boolean;
}

/**
 * Releases a Job once its answer is recorded in the workflow's history: the cleanup policy (delete,
 * Background), else the template's TTL (restored from {@link TTL_ANNOTATION}); then the result
 * finalizer is removed. Idempotent, and its answer does not depend on what an earlier try did:
 * `deleted` is what the policy says.
 */
export async function releaseJob(kube: KubeClient, t: ReleaseTarget): Promise<ReleaseJobResult> {
  const deleted = policyDeletes(t.cleanup, t.succeeded);
  // Without a UID or an owner to compare, a Job of that name may not be the one meant: left alone.
  if (!t.uid && !t.owner) return { deleted };
  const job = await kube.readJob(t.namespace, t.jobName);
  if (!job) return { deleted };
  if ((t.uid && job.metadata?.uid !== t.uid) || (t.owner && !isOwnedBy(job, t.owner))) return { deleted }; // not the Job meant: never touch it
  if (deleted) {
    crashPoint('before-cleanup-delete');
    await kube.deleteJob(t.namespace, t.jobName, 'Background');
    crashPoint('after-cleanup-delete');
  } else {
    const ttl = job.metadata?.annotations?.[TTL_ANNOTATION];
    if (ttl !== undefined && !job.metadata?.deletionTimestamp && job.spec?.ttlSecondsAfterFinished === undefined && /^\d+$/.test(ttl)) {
      await kube.patchJob(t.namespace, t.jobName, { spec: { ttlSecondsAfterFinished: Number(ttl) } });
    }
  }
  crashPoint('before-finalizer-removal');
  await kube.removeFinalizer(t.namespace, t.jobName, RESULT_FINALIZER);
  return { deleted };
}
