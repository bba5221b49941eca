/**
 * Step 1 of the lifecycle: what to create, where, and with which settings. Pure apart from reading
 * templates (and writing the rendered YAML when asked): rendering the same input for the same owner
 * always yields the same namespace and Job name, which lets the delete activity find the Job again.
 */
import * as yaml from 'js-yaml';
import { renderTemplate } from '../render.js';
import { renderedOutputDirFor, writeRenderedFile } from '../rendered-output.js';
import type { KubernetesObject } from '../manifest.js';
import { defaultNamespace, type KubeClient } from '../kube.js';
import { applyOwnership, deriveJobName, type Owner } from '../naming.js';
import { mergeValues } from '../values.js';
import { FailureType } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import type { CleanupPolicy, KubernetesJobInput, LogMode } from '../types.js';
import type { KubernetesJobActivitiesOptions } from '../activities.js';

/** Longest period of a repeating timer (log tails, heartbeats): one day. */
export const MAX_INTERVAL_SECONDS = 86_400;
/** Longest Job time limit or grace period: one year (waited for with re-armed timers). */
export const MAX_TIMEOUT_SECONDS = 366 * 86_400;
/** Longest delay one Node timer can take (2^31 - 1 ms); longer waits re-arm. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A Job name the API server accepts (a DNS-1123 subdomain short enough for the pods' job-name label). */
const JOB_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Everything the later steps need to know about one run of one input. */
export interface JobPlan {
  owner: Owner;
  namespace: string;
  jobName: string;
  /** `Job 'namespace/name'`, for messages. */
  target: string;
  jobManifest: KubernetesObject & { spec: { suspend?: boolean } };
  companions: KubernetesObject[];
  logMode: LogMode;
  everyMs: number;
  tailLines: number;
  cleanup: CleanupPolicy;
  graceMs: number;
  /** How long a pod may stay unschedulable (longer after a cluster-autoscaler scale-up). */
  unschedulableGraceMs: number;
  timeoutMs: number;
  /** The workflow releases the Job (finalizer, cleanup policy) once the result is in its history. */
  releaseByWorkflow: boolean;
  /** The worker's keep-alive between heartbeats, when set (else derived from the heartbeat timeout). */
  heartbeatMs: number | undefined;
}

/**
 * Renders the input's template and settles names and settings. Template and manifest errors are
 * non-retryable and create nothing. Writes the rendered YAML only when `write` is set.
 */
export function planJob(input: KubernetesJobInput, options: KubernetesJobActivitiesOptions, kube: KubeClient, owner: Owner, write: boolean): JobPlan {
  const d = options.defaults ?? {};
  const values = mergeValues(options.defaultValues ?? {}, input.values ?? {});
  const rendered = renderTemplate(input.template, {
    templateDirs: options.templateDirs ?? [],
    values: { ...values, steps: input.steps ?? {} },
  });
  const namespace = input.namespace ?? rendered.job.metadata?.namespace ?? options.namespace ?? defaultNamespace(kube.kc);
  // A readable activity id (a DAG step's, e.g. `transform-3`) leads the derived name; SDK sequence numbers do not.
  const jobName = input.name ?? rendered.job.metadata?.name ?? deriveJobName({ ...owner, prefix: /^\d+$/.test(owner.activityId) ? undefined : owner.activityId });
  const manifests = applyOwnership(rendered.manifests, owner, jobName, namespace);
  const jobManifest = manifests.find((m) => m.kind === 'Job')! as JobPlan['jobManifest'];
  if (typeof jobName !== 'string' || jobName.length > 63 || !JOB_NAME.test(jobName)) {
    throw new KubernetesJobsError(
      FailureType.InvalidManifest,
      `Job name ${JSON.stringify(jobName)} is not valid: at most 63 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
      { nonRetryable: true },
    );
  }
  const seconds = (what: string, v: number | undefined, fallback: number, min: number, max: number): number => {
    const n = v ?? fallback;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      throw new KubernetesJobsError(FailureType.InvalidManifest, `input ${what} must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(v ?? fallback)}`, { nonRetryable: true });
    }
    return n * 1000;
  };
  const plan: JobPlan = {
    owner,
    namespace,
    jobName,
    target: `Job '${namespace}/${jobName}'`,
    jobManifest,
    companions: manifests.filter((m) => m !== jobManifest),
    logMode: input.logs?.mode ?? d.logMode ?? 'periodic',
    // Bounded at the edge: a timer beyond ~24.8 days overflows Node's setTimeout and fires at once.
    everyMs: Math.max(1000, seconds('logs.everySeconds', input.logs?.everySeconds, d.logEverySeconds ?? 10, 0, MAX_INTERVAL_SECONDS)),
    tailLines: input.logs?.tailLines ?? d.tailLines ?? 50,
    cleanup: input.cleanup ?? d.cleanup ?? 'onSuccess',
    graceMs: seconds('failFastGraceSeconds', input.failFastGraceSeconds, d.failFastGraceSeconds ?? 60, 0, MAX_TIMEOUT_SECONDS),
    unschedulableGraceMs: seconds('unschedulableGraceSeconds', input.unschedulableGraceSeconds, d.unschedulableGraceSeconds ?? 600, 0, MAX_TIMEOUT_SECONDS),
    timeoutMs: seconds('timeoutSeconds', input.timeoutSeconds, d.timeoutSeconds ?? 3600, 1, MAX_TIMEOUT_SECONDS),
    releaseByWorkflow: input.releaseByWorkflow === true,
    heartbeatMs: options.heartbeatSeconds === undefined ? undefined : seconds('heartbeatSeconds (worker option)', options.heartbeatSeconds, 0, 0.1, MAX_INTERVAL_SECONDS),
  };
  // Written last: only a plan that passed every check above, into the worker's directory only.
  if (write && input.writeRenderedTo !== undefined) {
    const dir = renderedOutputDirFor(options.renderedOutputDir, input.writeRenderedTo);
    writeRenderedFile(dir, `${jobName}.yaml`, manifests.map((m) => yaml.dump(JSON.parse(JSON.stringify(m)) as unknown, { noRefs: true, lineWidth: -1 })).join('---\n'));
  }
  return plan;
}
