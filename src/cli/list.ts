/**
 * `temporal-k8s-jobs list`: the Jobs this package started, found by their ownership label and
 * joined with Temporal visibility (the workflow each belongs to, and whether it still runs).
 */
import { BatchV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import * as yaml from 'js-yaml';
import { defaultNamespace, loadKubeConfig } from '../kube.js';
import { ANNOTATION_ACTIVITY_ID, ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../naming.js';
import { type Io, UsageError, parse } from './common.js';
import { TEMPORAL_USAGE, connectClient, resolveTemporal, temporalFlags } from './connection.js';
import { formatDuration } from './duration.js';
import { firstLine } from './worker.js';

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

/** One Job of the package, as `list` shows it. */
export interface ListedJob {
  workflowId: string;
  runId: string;
  /** The activity id: '1' for a run, the step (and item) in a DAG. */
  step: string;
  namespace: string;
  job: string;
  state: 'Pending' | 'Running' | 'Suspended' | 'Succeeded' | 'Failed';
  /** Seconds since the Job was created. */
  ageSeconds: number;
  pods: { active: number; succeeded: number; failed: number };
  /** The workflow's status in Temporal (RUNNING, COMPLETED, ...), NOT_FOUND, or UNKNOWN when Temporal was not reachable. */
  workflowStatus: string;
}

const STATES: readonly ListedJob['state'][] = ['Pending', 'Running', 'Suspended', 'Succeeded', 'Failed'];

/** A Job's state from its status (the same words as the lifecycle's progress). */
export function jobState(job: V1Job): ListedJob['state'] {
  const cond = (type: string) => job.status?.conditions?.some((c) => c.type === type && c.status === 'True');
  if (cond('Complete') || cond('SuccessCriteriaMet')) return 'Succeeded';
  if (cond('Failed') || cond('FailureTarget')) return 'Failed';
  if (job.spec?.suspend) return 'Suspended';
  if ((job.status?.active ?? 0) > 0) return 'Running';
  return 'Pending';
}

/** The row of a Job (workflow status filled in later). */
export function listedJob(job: V1Job, now: number): ListedJob {
  const a = job.metadata?.annotations ?? {};
  const created = job.metadata?.creationTimestamp ? new Date(job.metadata.creationTimestamp).getTime() : now;
  return {
    workflowId: a[ANNOTATION_WORKFLOW_ID] ?? '',
    runId: a[ANNOTATION_RUN_ID] ?? '',
    step: a[ANNOTATION_ACTIVITY_ID] ?? '',
    namespace: job.metadata?.namespace ?? '',
    job: job.metadata?.name ?? '',
    state: jobState(job),
    ageSeconds: Math.max(0, Math.floor((now - created) / 1000)),
    pods: { active: job.status?.active ?? 0, succeeded: job.status?.succeeded ?? 0, failed: job.status?.failed ?? 0 },
    workflowStatus: 'UNKNOWN',
  };
}

/** Flags of the commands that look at the package's Jobs in a namespace or all of them. */
export const jobScopeFlags = {
  ...temporalFlags,
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  namespace: { type: 'string' },
  'all-namespaces': { type: 'boolean', short: 'A' },
} as const;

/** The Jobs this package created (its ownership label) in `namespace`, or in all namespaces. */
export async function listPackageJobs(kc: KubeConfig, namespace: string | undefined): Promise<V1Job[]> {
  const batch = kc.makeApiClient(BatchV1Api);
  const labelSelector = `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE}`;
  try {
    return (namespace ? await batch.listNamespacedJob({ namespace, labelSelector }) : await batch.listJobForAllNamespaces({ labelSelector })).items;
  } catch (err) {
    throw new Error(`cannot list Jobs ${namespace ? `in namespace '${namespace}'` : 'in all namespaces'}: ${firstLine(err)}`, { cause: err });
  }
}

/**
 * A workflow run's status in Temporal (RUNNING, COMPLETED, ...; NOT_FOUND when there is none),
 * each run asked once. Other errors are thrown.
 */
export function workflowStatuses(client: Client): (workflowId: string, runId: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (workflowId, runId) => {
    const key = `${workflowId}\u0000${runId}`;
    if (!cache.has(key)) {
      cache.set(
        key,
        client.workflow
          .getHandle(workflowId, runId || undefined)
          .describe()
          .then(
            (d) => d.status.name as string,
            (e: unknown) => {
              if (e instanceof WorkflowNotFoundError) return 'NOT_FOUND';
              throw e;
            },
          ),
      );
    }
    return cache.get(key)!;
  };
}

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
  const state = o.state ? STATES.find((s) => s.toLowerCase() === o.state!.toLowerCase()) : undefined;
  if (o.state && !state) throw new UsageError(`--state must be one of ${STATES.join(', ')}, got '${o.state}'`);
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
