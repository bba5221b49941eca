/**
 * `temporal-k8s-jobs list`: the Jobs this package started, found by their ownership label and
 * joined with Temporal visibility (the workflow each belongs to, and whether it still runs).
 */
import { Client } from '@temporalio/client';
import * as yaml from 'js-yaml';
import { defaultNamespace, loadKubeConfig } from '../kube.js';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../naming.js';
import { JOB_STATES, listPackageJobs, listedJob, workflowStatuses, type ListedJob } from '../package-jobs.js';
import { type Io, UsageError, parse } from './common.js';
import { TEMPORAL_USAGE, connectClient, resolveTemporal, temporalFlags } from './connection.js';
import { formatDuration } from './duration.js';
import { firstLine } from '../errors.js';

export { jobState, listPackageJobs, listedJob, workflowStatuses, type ListedJob } from '../package-jobs.js';

export const listUsage = `Usage: temporal-k8s-jobs list [--namespace NS | --all-namespaces] [--state S] [--workflow ID]
         [-o wide|json|yaml] [--kubeconfig FILE] [--context NAME] [--in-cluster] [Temporal flags]

Lists the Kubernetes Jobs started by this package (label ${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}),
with the workflow and step (activity id) each belongs to and, from Temporal, that workflow's status.
  --namespace NS          Kubernetes namespace (default: the kubeconfig context's, else 'default')
  -A, --all-namespaces    every namespace
  --state S               only Jobs in this state: Pending, Running, Suspended, Succeeded, Failed
  --workflow ID           only the Jobs of this workflow (a run or a DAG)
  -o, --output FORMAT     wide (adds the workflow's status and run id), json or yaml
Temporal (the workflow status; when unreachable it shows '?' and says so on stderr):
${TEMPORAL_USAGE}`;

/** Flags of the commands that look at the package's Jobs in a namespace or all of them. */
export const jobScopeFlags = {
  ...temporalFlags,
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  namespace: { type: 'string' },
  'all-namespaces': { type: 'boolean', short: 'A' },
} as const;

/** The rows as an aligned table. */
export function formatTable(rows: readonly ListedJob[], wide: boolean): string {
  const head = ['WORKFLOW', 'STEP', 'JOB', 'STATE', 'AGE', 'PODS(A/S/F)', ...(wide ? ['WORKFLOW-STATUS', 'RUN-ID'] : [])];
  const cells = rows.map((r) => [
    r.workflowId,
    r.step,
    `${r.namespace}/${r.job}`,
    r.state,
    formatDuration(r.ageSeconds),
    `${r.pods.active}/${r.pods.succeeded}/${r.pods.failed}`,
    ...(wide ? [r.workflowStatus, r.runId] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export async function listCommand(args: string[], io: Io): Promise<number> {
  const { values: o, positionals } = parse(
    args,
    {
      ...jobScopeFlags,
      state: { type: 'string' },
      workflow: { type: 'string' },
      output: { type: 'string', short: 'o' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    'list',
  );
  if (o.help) {
    io.out(listUsage);
    return 0;
  }
  if (positionals.length) throw new UsageError(`list takes no arguments, got '${positionals[0]}'`);
  if (o.namespace && o['all-namespaces']) throw new UsageError('--namespace and --all-namespaces exclude each other');
  const output = o.output ?? 'table';
  if (!['table', 'wide', 'json', 'yaml'].includes(output)) throw new UsageError(`-o must be wide, json or yaml, got '${output}'`);
  const state = o.state ? JOB_STATES.find((s) => s.toLowerCase() === o.state!.toLowerCase()) : undefined;
  if (o.state && !state) throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}, got '${o.state}'`);
  const temporal = resolveTemporal(o);
  const kc = loadKubeConfig({ kubeconfig: o.kubeconfig, context: o.context, inCluster: o['in-cluster'] });
  const namespace = o['all-namespaces'] ? undefined : o.namespace || defaultNamespace(kc);

  const jobs = await listPackageJobs(kc, namespace);
  const now = Date.now();
  const rows = jobs.map((j) => listedJob(j, now)).filter((r) => (!state || r.state === state) && (!o.workflow || r.workflowId === o.workflow));
  rows.sort((a, b) => b.ageSeconds - a.ageSeconds || a.workflowId.localeCompare(b.workflowId) || a.step.localeCompare(b.step, undefined, { numeric: true }));

  // Temporal visibility: one describe per workflow run.
  if (rows.length) {
    try {
      const connection = await connectClient(temporal);
      try {
        const statusOf = workflowStatuses(new Client({ connection, namespace: temporal.namespace }));
        for (const r of rows) r.workflowStatus = await statusOf(r.workflowId, r.runId).catch(() => 'UNKNOWN');
      } finally {
        await connection.close();
      }
    } catch (err) {
      io.err(`note: workflow statuses unknown: ${firstLine(err)}\n`);
    }
  }
  if (output === 'json') io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else if (output === 'yaml') io.out(yaml.dump(rows, { noRefs: true }));
  else if (!rows.length) io.err(`no Jobs of temporal-k8s-jobs ${namespace ? `in namespace '${namespace}'` : 'in any namespace'}${state || o.workflow ? ' matching the filters' : ''}\n`);
  else io.out(formatTable(rows, output === 'wide'));
  return 0;
}
