/**
 * Step 5 of the lifecycle: the result or the failure, and cleanup (cleanup policy, suspension of a Job
 * left unwatched, deletion on cancellation).
 */
import { FailureType } from '../failures.js';
import { crashPoint } from '../crash-hook.js';
import { KubernetesJobsError } from '../errors.js';
import type { KubeClient, V1Job, V1Pod } from '../kube.js';
import { exitCodes, failureDetails, jobOutput, summarizePods, type JobState } from '../job-status.js';
import type { KubernetesJobResult } from '../types.js';
import type { JobPlan } from './plan.js';
import type { Reporter } from './report.js';

/** What the watch and the log delivery saw last. */
export interface FinalView {
  job: V1Job;
  pods: readonly V1Pod[];
  logLines: number;
  reattached: boolean;
}

/** Turns the Job's final state into the result (or throws the failure), applying the cleanup policy. */
export async function finishJob(kube: KubeClient, plan: JobPlan, outcome: JobState | 'timeout', view: FinalView, report: Reporter): Promise<KubernetesJobResult> {
  const { namespace, jobName, target } = plan;
  const { pods } = view;
  if (outcome === 'timeout') {
    await kube.deleteJob(namespace, jobName, 'Background');
    throw new KubernetesJobsError(FailureType.DeadlineExceeded, `${target} did not finish within ${Math.round(plan.timeoutMs / 1000)}s; it was deleted`, {
      nonRetryable: true,
      details: failureDetails(view.job as never, pods as never, [], report.tail.lines()) as never,
    });
  }
  report.progress = { ...report.progress, phase: outcome.kind === 'succeeded' ? 'Succeeded' : 'Failed' };
  let deleted = false;
  if (plan.cleanup === 'always' || (plan.cleanup === 'onSuccess' && outcome.kind === 'succeeded')) {
    deleted = await kube.deleteJob(namespace, jobName, 'Background');
    crashPoint('after-cleanup-delete');
  } else if (outcome.kind === 'failed' && (outcome.type === 'ImagePullFailed' || outcome.type === 'Unschedulable')) {
    // Failed fast while still pending: kept for inspection, but suspended so it cannot start later.
    await kube.patchJob(namespace, jobName, { spec: { suspend: true } }).catch(() => undefined);
  }
  if (outcome.kind === 'failed') {
    const events = [...(await kube.listEvents(namespace, jobName)), ...(pods[0]?.metadata?.name ? await kube.listEvents(namespace, pods[0].metadata.name) : [])];
    throw new KubernetesJobsError(outcome.type, outcome.message, {
      nonRetryable: true,
      details: { ...(failureDetails(view.job as never, pods as never, events as never, report.tail.lines()) as object), deleted } as Record<string, unknown>,
    });
  }
  return {
    jobName,
    namespace,
    status: 'Succeeded',
    pods: summarizePods(pods as never),
    exitCodes: exitCodes(pods as never),
    output: jobOutput(pods as never),
    logTail: report.tail.lines(),
    logLines: view.logLines,
    reattached: view.reattached,
    deleted,
  };
}

/** An attempt that gives up for good while the Job may still run unwatched: stop it from running on. */
export async function suspendAbandoned(kube: KubeClient, plan: JobPlan): Promise<void> {
  await kube.patchJob(plan.namespace, plan.jobName, { spec: { suspend: true } }).catch(() => undefined);
}

/**
 * Deletes the Job (Foreground: pods first) and waits, watching, until it and its pods are gone.
 * Returns whether they are gone (false when the wait's bound ran out first).
 */
export async function deleteAndWait(kube: KubeClient, namespace: string, jobName: string): Promise<boolean> {
  // Its UID tells its pods from leftovers of an earlier Job of the same name (never waited for).
  const uid = (await kube.readJob(namespace, jobName))?.metadata?.uid;
  if (!uid) return true;
  let existed = false;
  for (let attempt = 1; ; attempt++) {
    try {
      existed = await kube.deleteJob(namespace, jobName, 'Foreground');
      break;
    } catch (err) {
      if ((err instanceof KubernetesJobsError && err.nonRetryable) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt)); // backoff after an API error
    }
  }
  crashPoint('in-cancel-delete');
  if (!existed) return true;
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
