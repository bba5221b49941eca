/**
 * The Jobs this package created, found by their ownership label, and the status of the workflow each
 * belongs to (Temporal visibility). Shared by the `list` and `cleanup` commands and the cleanup activity.
 */
import { BatchV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { firstLine } from './errors.js';
import { ANNOTATION_ACTIVITY_ID, ANNOTATION_RUN_ID, ANNOTATION_WORKFLOW_ID, LABEL_MANAGED_BY, MANAGED_BY_VALUE } from './naming.js';

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

/** The states of a Job, as `list --state` names them. */
export const JOB_STATES: readonly ListedJob['state'][] = ['Pending', 'Running', 'Suspended', 'Succeeded', 'Failed'];

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

