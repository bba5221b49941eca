/**
 * Pure manifest rules: which documents a render may produce, and (for the lifecycle) Job names and
 * ownership metadata. No I/O.
 */
import { FailureType } from './failures.js';
import { KubernetesJobsError } from './errors.js';

/** The minimal shape of a Kubernetes object as parsed from YAML. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A `batch/v1` Job as far as this package reads it. */
export interface JobManifest extends KubernetesObject {
  apiVersion: 'batch/v1';
  kind: 'Job';
  spec: {
    template: {
      metadata?: KubernetesObject['metadata'];
      spec: {
        restartPolicy?: string;
        containers: { name: string; image: string; [k: string]: unknown }[];
        initContainers?: { name: string; image: string; [k: string]: unknown }[];
        [k: string]: unknown;
      };
    };
    [k: string]: unknown;
  };
}

/** Companion kinds allowed next to the Job by default (`apiVersion/Kind`). */
export const DEFAULT_COMPANION_KINDS: readonly string[] = Object.freeze([
  'v1/ConfigMap',
  'v1/Secret',
  'v1/PersistentVolumeClaim',
  'v1/ServiceAccount',
  'v1/Service',
]);

/** Annotation on a companion that keeps it after the Job is deleted (not owned by the Job). */
export const KEEP_ANNOTATION = 'temporal-k8s-jobs/keep';

/** The result of {@link validateManifests}. */
export interface ValidatedManifests {
  /** Every non-empty document, in template order. */
  manifests: KubernetesObject[];
  /** The one `batch/v1` Job. */
  job: JobManifest;
  /** The other documents, in template order (created before the Job). */
  companions: KubernetesObject[];
}

function invalid(template: string, message: string): KubernetesJobsError {
  return new KubernetesJobsError(FailureType.InvalidManifest, `template '${template}': ${message}`, { nonRetryable: true, details: { template } });
}

const kindKey = (o: KubernetesObject) => `${o.apiVersion}/${o.kind}`;

function describe(o: KubernetesObject, i: number): string {
  return `document ${i + 1} (${o.kind ?? 'no kind'}${o.metadata?.name ? ` '${o.metadata.name}'` : ''})`;
}

/**
 * Checks rendered documents: objects with apiVersion/kind/metadata, exactly one `batch/v1` Job,
 * companions limited to `allowedKinds`, restartPolicy Never or OnFailure, containers with name and image,
 * one namespace at most.
 */
export function validateManifests(
  docs: unknown[],
  options: { template: string; allowedKinds?: readonly string[] | undefined },
): ValidatedManifests {
  const { template } = options;
  const allowed = new Set((options.allowedKinds ?? DEFAULT_COMPANION_KINDS).map((k) => (k.includes('/') ? k : `v1/${k}`)));
  const manifests: KubernetesObject[] = [];
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return; // empty document (a trailing '---', a false {% if %})
    if (typeof doc !== 'object' || Array.isArray(doc)) throw invalid(template, `document ${i + 1} is a ${Array.isArray(doc) ? 'list' : typeof doc}, not a Kubernetes object`);
    const o = doc as KubernetesObject;
    if (typeof o.apiVersion !== 'string' || !o.apiVersion) throw invalid(template, `${describe(o, i)} has no apiVersion`);
    if (typeof o.kind !== 'string' || !o.kind) throw invalid(template, `${describe(o, i)} has no kind`);
    if (o.metadata !== undefined && (typeof o.metadata !== 'object' || o.metadata === null || Array.isArray(o.metadata))) {
      throw invalid(template, `${describe(o, i)} has a metadata that is not a mapping`);
    }
    for (const field of ['labels', 'annotations'] as const) {
      const m = o.metadata?.[field];
      if (m === undefined || m === null) continue;
      if (typeof m !== 'object' || Array.isArray(m)) throw invalid(template, `${describe(o, i)}: metadata.${field} must be a mapping`);
      for (const [k, v] of Object.entries(m)) {
        if (typeof v !== 'string') throw invalid(template, `${describe(o, i)}: metadata.${field}.${k} must be a string (quote it), got ${JSON.stringify(v)}`);
      }
    }
    manifests.push(o);
  });
  const jobs = manifests.filter((o) => o.kind === 'Job');
  if (jobs.length === 0) throw invalid(template, `renders no Job (kinds: ${manifests.map((o) => o.kind).join(', ') || 'none'}); exactly one batch/v1 Job is required`);
  if (jobs.length > 1) throw invalid(template, `renders ${jobs.length} Jobs; exactly one batch/v1 Job is required`);
  const job = jobs[0]!;
  if (job.apiVersion !== 'batch/v1') throw invalid(template, `the Job has apiVersion '${job.apiVersion}'; batch/v1 is required`);
  const companions = manifests.filter((o) => o !== job);
  companions.forEach((c) => {
    if (!allowed.has(kindKey(c))) {
      throw invalid(template, `${describe(c, manifests.indexOf(c))}: kind ${kindKey(c)} is not allowed next to a Job (allowed: ${[...allowed].join(', ')})`);
    }
    if (!c.metadata?.name) throw invalid(template, `${describe(c, manifests.indexOf(c))} has no metadata.name`);
  });
  checkJob(job as JobManifest, template);
  const namespaces = new Set(manifests.map((o) => o.metadata?.namespace).filter((n): n is string => !!n));
  if (namespaces.size > 1) throw invalid(template, `documents name different namespaces (${[...namespaces].join(', ')}); all objects of a run live in one namespace`);
  return { manifests, job: job as JobManifest, companions };
}

function checkJob(job: JobManifest, template: string): void {
  const spec = job.spec as JobManifest['spec'] | undefined;
  const pod = spec?.template?.spec;
  if (!pod || typeof pod !== 'object') throw invalid(template, 'the Job has no spec.template.spec');
  if (pod.restartPolicy !== 'Never' && pod.restartPolicy !== 'OnFailure') {
    throw invalid(template, `the Job's restartPolicy must be Never or OnFailure (got ${pod.restartPolicy === undefined ? 'none' : JSON.stringify(pod.restartPolicy)})`);
  }
  if (!Array.isArray(pod.containers) || pod.containers.length === 0) throw invalid(template, 'the Job has no containers');
  for (const [i, c] of [...(pod.initContainers ?? []), ...pod.containers].entries()) {
    if (!c || typeof c !== 'object') throw invalid(template, `container ${i + 1} of the Job is not a mapping`);
    if (typeof c.name !== 'string' || !c.name) throw invalid(template, `container ${i + 1} of the Job has no name`);
    if (typeof c.image !== 'string' || !c.image) throw invalid(template, `container '${c.name}' of the Job has no image`);
  }
  const name = job.metadata?.name;
  if (name !== undefined && (typeof name !== 'string' || !isDns1123Label(name))) {
    throw invalid(template, `the Job's name ${JSON.stringify(name)} is not a valid name (lowercase letters, digits and '-', at most 63 characters, starting and ending alphanumeric)`);
  }
}

/** A DNS-1123 label: what a Job name must be (so its pods' job-name label fits). */
export function isDns1123Label(s: string): boolean {
  return s.length > 0 && s.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(s);
}
