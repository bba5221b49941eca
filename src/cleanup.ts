/**
 * Cleanup of the Jobs this package created: finished Jobs past a retention (their pods and owned
 * companions go with them, kept companions stay), never a Job whose workflow still runs nor a Job
 * without the package's label; optionally the orphans of workflows that closed without deleting them.
 *
 * The one implementation behind `temporal-k8s-jobs cleanup` (src/cli/cleanup.ts) and the
 * `kubernetesJobsCleanup` activity that `cleanupWorkflow` runs on a worker.
 */
import { BatchV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CleanedJob, CleanupInput, CleanupResult } from './cleanup-types.js';
import { formatDuration, parseDuration } from './cli/duration.js';
import { firstLine } from './errors.js';
import { KubeClient, defaultNamespace } from './kube.js';
import { RESULT_FINALIZER } from './lifecycle/finish.js';
import { listPackageJobs, listedJob, workflowStatuses } from './package-jobs.js';

export type { CleanedJob, CleanupInput, CleanupResult } from './cleanup-types.js';

/** Workflow statuses that close a workflow without its activities deleting their Jobs. */
export const ORPHANING_STATUSES = ['TERMINATED', 'TIMED_OUT'];

/** When a finished Job finished (completion time, else its terminal condition's time); undefined while it runs. */
export function finishedAt(job: V1Job): number | undefined {
  const c = job.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  if (!c) return undefined;
  const t = job.status?.completionTime ?? c.lastTransitionTime;
  return t ? new Date(t).getTime() : undefined;
}

/** Why a Job is deleted (undefined: it stays). Pure: the decision table of cleanup. */
export function cleanupReason(
  job: { finishedAt?: number; workflowStatus: string },
  o: { now: number; olderThanSeconds: number; orphans: boolean },
): string | undefined {
  if (job.workflowStatus === 'RUNNING' || job.workflowStatus === 'UNKNOWN') return undefined;
  if (o.orphans && ORPHANING_STATUSES.includes(job.workflowStatus)) return `orphan: workflow ${job.workflowStatus.toLowerCase()}`;
  if (job.finishedAt === undefined) return undefined;
  const age = Math.floor((o.now - job.finishedAt) / 1000);
  return age >= o.olderThanSeconds ? `finished ${formatDuration(Math.max(age, 1))} ago` : undefined;
}

/** A cleanup, settled: namespace (undefined: all) and retention in seconds. */
export interface CleanupPlan {
  namespace: string | undefined;
  olderThanSeconds: number;
  orphans: boolean;
  dryRun: boolean;
}

/**
 * Lists the package's Jobs, asks Temporal for each one's workflow status (`statusOf`; an error
 * stops everything before anything is deleted), then deletes the ones {@link cleanupReason} names,
 * calling `onDeleted` after each. A Job already gone when deleted is left out of the result.
 */
export async function cleanupJobs(
  kc: KubeConfig,
  statusOf: (workflowId: string, runId: string) => Promise<string>,
  plan: CleanupPlan,
  onDeleted: (job: CleanedJob) => void = () => undefined,
): Promise<CleanupResult> {
  const batch = kc.makeApiClient(BatchV1Api);
  const jobs = await listPackageJobs(kc, plan.namespace);
  const now = Date.now();
  const doomed: CleanedJob[] = [];
  for (const job of jobs) {
    const row = { ...listedJob(job, now), finishedAt: finishedAt(job) };
    row.workflowStatus = row.workflowId
      ? await statusOf(row.workflowId, row.runId).catch((e: unknown) => {
          throw new Error(`cannot read workflow ${row.workflowId} from Temporal (nothing was deleted): ${firstLine(e)}`, { cause: e });
        })
      : 'UNKNOWN';
    const reason = cleanupReason(row, { now, olderThanSeconds: plan.olderThanSeconds, orphans: plan.orphans });
    if (reason) {
      const { namespace, job: name, workflowId, runId, step, state, workflowStatus } = row;
      doomed.push({ namespace, job: name, workflowId, runId, step, state, workflowStatus, reason });
    }
  }
  const deleted: CleanedJob[] = [];
  for (const r of doomed) {
    if (!plan.dryRun) {
      try {
        // Background: the Job goes now; the garbage collector removes its pods and owned companions.
        await batch.deleteNamespacedJob({ name: r.job, namespace: r.namespace, body: { propagationPolicy: 'Background' } });
        // A Job whose workflow ended without releasing it (terminated) still has the result finalizer.
        await new KubeClient(kc).removeFinalizer(r.namespace, r.job, RESULT_FINALIZER);
      } catch (err) {
        if ((err as { code?: number }).code === 404) continue;
        throw new Error(`cannot delete Job ${r.namespace}/${r.job}: ${firstLine(err)}`, { cause: err });
      }
    }
    deleted.push(r);
    onDeleted(r);
  }
  return { dryRun: plan.dryRun, namespace: plan.namespace, examined: jobs.length, deleted };
}

/** Thrown for a cleanup input that no retry can fix. */
function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidCleanupInput', message, nonRetryable: true });
}

/** Settles an activity's {@link CleanupInput}: the retention in seconds, the namespace (default: the worker's). */
export function cleanupPlan(input: CleanupInput, kc: KubeConfig, workerNamespace: string | undefined): CleanupPlan {
  if (input === null || typeof input !== 'object') throw invalidInput(`cleanupWorkflow takes an object like {"olderThan": "7d"}, got ${JSON.stringify(input)}`);
  const olderThanSeconds =
    typeof input.olderThan === 'number' ? (Number.isFinite(input.olderThan) && input.olderThan >= 0 ? Math.ceil(input.olderThan) : undefined) : typeof input.olderThan === 'string' ? parseDuration(input.olderThan) : undefined;
  if (olderThanSeconds === undefined) throw invalidInput(`olderThan must be a duration like '90s', '15m', '2h' or '7d' (or a number of seconds), got ${JSON.stringify(input.olderThan)}`);
  if (input.namespace && input.allNamespaces) throw invalidInput('namespace and allNamespaces exclude each other');
  return {
    namespace: input.allNamespaces ? undefined : input.namespace || workerNamespace || defaultNamespace(kc),
    olderThanSeconds,
    orphans: !!input.orphans,
    dryRun: !!input.dryRun,
  };
}

/**
 * The cleanup activity: workflow statuses come from the worker's own Temporal client (the activity
 * context's `client`: the worker's connection and Temporal namespace), the Kubernetes credentials
 * are the worker's. Logs each deleted Job and heartbeats as it goes.
 */
export async function cleanupActivity(input: CleanupInput, kc: KubeConfig, workerNamespace: string | undefined): Promise<CleanupResult> {
  const ctx = Context.current();
  const plan = cleanupPlan(input, kc, workerNamespace);
  const verb = plan.dryRun ? 'would delete' : 'deleted';
  ctx.heartbeat();
  const result = await cleanupJobs(kc, workflowStatuses(ctx.client), plan, (j) => {
    ctx.heartbeat();
    ctx.log.info(`cleanup: ${verb} Job ${j.namespace}/${j.job} (workflow ${j.workflowId}, ${j.state}, ${j.reason})`);
  });
  ctx.log.info(`cleanup: ${verb} ${result.deleted.length} of ${result.examined} Job(s) of temporal-k8s-jobs ${plan.namespace ? `in namespace '${plan.namespace}'` : 'in all namespaces'}`);
  return result;
}
