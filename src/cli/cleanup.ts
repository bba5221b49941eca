/**
 * `temporal-k8s-jobs cleanup`: deletes finished Jobs of this package past a retention (their owned
 * companions go with them; kept ones stay), never a Job whose workflow still runs or one it did
 * not create. `--orphans` also deletes Jobs whose workflow closed without deleting them.
 */
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { Client } from '@temporalio/client';
import { KubeClient, defaultNamespace, loadKubeConfig } from '../kube.js';
import { RESULT_FINALIZER } from '../lifecycle/finish.js';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../naming.js';
import { type Io, UsageError, parse } from './common.js';
import { TEMPORAL_USAGE, connectClient, resolveTemporal } from './connection.js';
import { formatDuration, parseDuration } from './duration.js';
import { jobScopeFlags, listPackageJobs, listedJob, workflowStatuses, type ListedJob } from './list.js';
import { firstLine } from './worker.js';

export const cleanupUsage = `Usage: temporal-k8s-jobs cleanup --older-than DURATION [--namespace NS | -A] [--orphans] [--dry-run]
         [--kubeconfig FILE] [--context NAME] [--in-cluster] [Temporal flags]

Deletes the Jobs this package created (label ${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}) that finished
(Succeeded or Failed) longer than DURATION ago, with their pods and owned companions (kept
companions, annotated temporal-k8s-jobs/keep, stay). A Job whose workflow is still running is
never touched, nor a Job without the label. Temporal must be reachable (it says which workflows run).
  --older-than DURATION   retention since the Job finished: 90s, 15m, 2h, 7d, 1h30m
  --namespace NS          Kubernetes namespace (default: the kubeconfig context's, else 'default')
  -A, --all-namespaces    every namespace
  --orphans               also delete, whatever their age or state, Jobs whose workflow closed without
                          deleting them (terminated, timed out, or reset: the old run terminated)
  --dry-run               say what would be deleted; delete nothing
Temporal:
${TEMPORAL_USAGE}`;

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

export async function cleanupCommand(args: string[], io: Io): Promise<number> {
  const { values: o, positionals } = parse(
    args,
    {
      ...jobScopeFlags,
      'older-than': { type: 'string' },
      orphans: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    'cleanup',
  );
  if (o.help) {
    io.out(cleanupUsage);
    return 0;
  }
  if (positionals.length) throw new UsageError(`cleanup takes no arguments, got '${positionals[0]}'`);
  if (!o['older-than']) throw new UsageError('cleanup needs --older-than DURATION (e.g. 7d)');
  const olderThanSeconds = parseDuration(o['older-than']);
  if (olderThanSeconds === undefined) throw new UsageError(`--older-than must be a duration like 90s, 15m, 2h or 7d, got '${o['older-than']}'`);
  if (o.namespace && o['all-namespaces']) throw new UsageError('--namespace and --all-namespaces exclude each other');
  const temporal = resolveTemporal(o);
  const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context, inCluster: o['in-cluster'] });
  const namespace = o['all-namespaces'] ? undefined : o.namespace || defaultNamespace(kc);
  const batch = kc.makeApiClient(BatchV1Api);
  const jobs = await listPackageJobs(kc, namespace);
  const now = Date.now();
  const connection = await connectClient(temporal);
  const rows: (ListedJob & { finishedAt?: number; reason?: string })[] = [];
  try {
    const statusOf = workflowStatuses(new Client({ connection, namespace: temporal.namespace }));
    for (const job of jobs) {
      const row = { ...listedJob(job, now), finishedAt: finishedAt(job) };
      row.workflowStatus = row.workflowId
        ? await statusOf(row.workflowId, row.runId).catch((e: unknown) => {
            throw new Error(`cannot read workflow ${row.workflowId} from Temporal (nothing was deleted): ${firstLine(e)}`, { cause: e });
          })
        : 'UNKNOWN';
      rows.push({ ...row, reason: cleanupReason(row, { now, olderThanSeconds, orphans: !!o.orphans }) });
    }
  } finally {
    await connection.close();
  }
  const doomed = rows.filter((r) => r.reason);
  const verb = o['dry-run'] ? 'would delete' : 'deleted';
  for (const r of doomed) {
    if (!o['dry-run']) {
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
    io.out(`${verb} Job ${r.namespace}/${r.job} (workflow ${r.workflowId}, ${r.state}, ${r.reason})\n`);
  }
  io.out(`${verb} ${doomed.length} of ${rows.length} Job(s) of temporal-k8s-jobs ${namespace ? `in namespace '${namespace}'` : 'in all namespaces'}\n`);
  return 0;
}
