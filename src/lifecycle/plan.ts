/**
 * Step 1 of the lifecycle: what to create, where, and with which settings. Pure apart from reading
 * templates (and writing the rendered YAML when asked): rendering the same input for the same owner
 * always yields the same namespace and Job name, which lets the delete activity find the Job again.
 */
import * as yaml from 'js-yaml';
import { renderTemplate, writeRendered } from '../render.js';
import type { KubernetesObject } from '../manifest.js';
import { defaultNamespace, type KubeClient } from '../kube.js';
import { applyOwnership, deriveJobName, type Owner } from '../naming.js';
import { mergeValues } from '../values.js';
import type { CleanupPolicy, KubernetesJobInput, LogMode } from '../types.js';
import type { KubernetesJobActivitiesOptions } from '../activities.js';

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
  timeoutMs: number;
  heartbeatMs: number;
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
  if (write && input.writeRenderedTo) {
    writeRendered(input.writeRenderedTo, `${jobName}.yaml`, manifests.map((m) => yaml.dump(JSON.parse(JSON.stringify(m)) as unknown, { noRefs: true, lineWidth: -1 })).join('---\n'));
  }
  return {
    owner,
    namespace,
    jobName,
    target: `Job '${namespace}/${jobName}'`,
    jobManifest,
    companions: manifests.filter((m) => m !== jobManifest),
    logMode: input.logs?.mode ?? d.logMode ?? 'periodic',
    everyMs: Math.max(1, input.logs?.everySeconds ?? d.logEverySeconds ?? 10) * 1000,
    tailLines: input.logs?.tailLines ?? d.tailLines ?? 50,
    cleanup: input.cleanup ?? d.cleanup ?? 'onSuccess',
    graceMs: (input.failFastGraceSeconds ?? d.failFastGraceSeconds ?? 60) * 1000,
    timeoutMs: (input.timeoutSeconds ?? d.timeoutSeconds ?? 3600) * 1000,
    heartbeatMs: (options.heartbeatSeconds ?? 2) * 1000,
  };
}
