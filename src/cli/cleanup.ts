/**
 * `temporal-k8s-jobs cleanup`: deletes finished Jobs of this package past a retention (their owned
 * companions go with them; kept ones stay), never a Job whose workflow still runs or one it did
 * not create. `--orphans` also deletes Jobs whose workflow closed without deleting them.
 */
import { Client } from '@temporalio/client';
import { cleanupJobs } from '../cleanup.js';
import { defaultNamespace, loadKubeConfig } from '../kube.js';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../naming.js';
import { type Io, UsageError, parse } from './common.js';
import { TEMPORAL_USAGE, connectClient, resolveTemporal } from './connection.js';
import { parseDuration } from './duration.js';
import { jobScopeFlags, workflowStatuses } from './list.js';

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

export { ORPHANING_STATUSES, cleanupReason, finishedAt } from '../cleanup.js';

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
  const connection = await connectClient(temporal);
  const verb = o['dry-run'] ? 'would delete' : 'deleted';
  let result;
  try {
    const statusOf = workflowStatuses(new Client({ connection, namespace: temporal.namespace }));
    result = await cleanupJobs(kc, statusOf, { namespace, olderThanSeconds, orphans: !!o.orphans, dryRun: !!o['dry-run'] }, (r) =>
      io.out(`${verb} Job ${r.namespace}/${r.job} (workflow ${r.workflowId}, ${r.state}, ${r.reason})\n`),
    );
  } finally {
    await connection.close();
  }
  io.out(`${verb} ${result.deleted.length} of ${result.examined} Job(s) of temporal-k8s-jobs ${namespace ? `in namespace '${namespace}'` : 'in all namespaces'}\n`);
  return 0;
}
