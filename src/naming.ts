/**
 * Job names and ownership metadata. Pure (node:crypto only, no I/O); not workflow code.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject } from './manifest.js';

/** Standard label marking objects created by this package. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
/** Value of {@link LABEL_MANAGED_BY}. */
export const MANAGED_BY_VALUE = 'temporal-k8s-jobs';
/** Label whose value is the {@link ownerHash} of the activity execution (select all its objects). */
export const LABEL_OWNER = 'temporal-k8s-jobs/owner';
/** Annotation: the full workflow id. */
export const ANNOTATION_WORKFLOW_ID = 'temporal-k8s-jobs/workflow-id';
/** Annotation: the full run id. */
export const ANNOTATION_RUN_ID = 'temporal-k8s-jobs/run-id';
/** Annotation: the full activity id. */
export const ANNOTATION_ACTIVITY_ID = 'temporal-k8s-jobs/activity-id';

/** The activity execution that owns a Job and its companions. */
export interface Owner {
  workflowId: string;
  runId: string;
  activityId: string;
}

/** Maximum length of a DNS-1123 label. */
const MAX_LABEL = 63;
/** Length of {@link ownerHash}. */
const HASH_LEN = 10;

/**
 * The 10-hex-character owner hash: sha256 of `workflowId \0 runId \0 activityId`. Used as the
 * {@link LABEL_OWNER} value and as the suffix of derived Job names.
 */
export function ownerHash(owner: Owner): string {
  return createHash('sha256')
    .update(`${owner.workflowId}\0${owner.runId}\0${owner.activityId}`, 'utf8')
    .digest('hex')
    .slice(0, HASH_LEN);
}

/** Lowercases, turns every run of characters outside `[a-z0-9]` into '-', trims '-' at both ends. */
function sanitise(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Cuts a sanitised string to `max` characters and removes the '-' that may end it then. */
function cut(s: string, max: number): string {
  return s.slice(0, Math.max(0, max)).replace(/-+$/, '');
}

/**
 * A deterministic DNS-1123 label (<= 63 characters, `[a-z0-9-]`, alphanumeric at both ends) for the
 * Job of an activity execution: `<readable>-<ownerHash>`, where the readable part is the sanitised
 * `prefix-workflowId` (lowercased, invalid runs replaced by '-', trimmed, truncated to fit), or `job`
 * when nothing readable remains. Same inputs give the same name; a different run id or activity id gives
 * a different hash.
 */
export function deriveJobName(input: Owner & { prefix?: string }): string {
  const hash = ownerHash(input);
  const readable = cut(sanitise([input.prefix ?? '', input.workflowId].filter((s) => s).join('-')), MAX_LABEL - HASH_LEN - 1);
  return `${readable || 'job'}-${hash}`;
}

/**
 * The name of an object belonging to a Job: `<jobName>-<suffix>` (suffix sanitised like a name). When
 * that exceeds 63 characters, the Job name is cut and a 6-character hash of the full Job name keeps it
 * unique: `<cut jobName>-<hash6>-<suffix>`.
 */
export function childName(jobName: string, suffix: string): string {
  const s = cut(sanitise(suffix), 40) || 'x';
  const full = `${jobName}-${s}`;
  if (full.length <= MAX_LABEL) return full;
  const h = createHash('sha256').update(jobName, 'utf8').digest('hex').slice(0, 6);
  const base = cut(sanitise(jobName), MAX_LABEL - s.length - h.length - 2);
  return base ? `${base}-${h}-${s}` : `${h}-${s}`;
}

/** Ownership labels ({@link LABEL_MANAGED_BY}, {@link LABEL_OWNER}) and annotations (full ids). */
export function ownership(owner: Owner): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_OWNER]: ownerHash(owner) },
    annotations: {
      [ANNOTATION_WORKFLOW_ID]: owner.workflowId,
      [ANNOTATION_RUN_ID]: owner.runId,
      [ANNOTATION_ACTIVITY_ID]: owner.activityId,
    },
  };
}

/** The label selector listing every object of one activity execution (`managed-by=...,owner=<hash>`). */
export function ownerSelector(owner: Owner): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY_VALUE},${LABEL_OWNER}=${ownerHash(owner)}`;
}

/**
 * Whether an object (e.g. an existing Job with the wanted name) belongs to this activity execution:
 * true only when the workflow-id, run-id and activity-id annotations all equal the owner's exactly.
 */
export function isOwnedBy(
  obj: { metadata?: { labels?: Record<string, string> | undefined; annotations?: Record<string, string> | undefined } | undefined } | null | undefined,
  owner: Owner,
): boolean {
  const a = obj?.metadata?.annotations;
  if (!a) return false;
  return (
    a[ANNOTATION_WORKFLOW_ID] === owner.workflowId &&
    a[ANNOTATION_RUN_ID] === owner.runId &&
    a[ANNOTATION_ACTIVITY_ID] === owner.activityId
  );
}

/**
 * Returns deep copies of the rendered manifests (Job + companions), ready to create: every object gets
 * `metadata.namespace = namespace` and the ownership labels and annotations (they win over the
 * template's on the same keys); the Job (kind `Job`) gets `metadata.name = jobName` when given, and the
 * ownership labels in its pod template's `metadata.labels` (so pods can be listed by owner). The input
 * is not mutated.
 */
export function applyOwnership<T extends KubernetesObject>(
  manifests: readonly T[],
  owner: Owner,
  jobName: string | undefined,
  namespace: string,
): T[] {
  const { labels, annotations } = ownership(owner);
  return manifests.map((m) => {
    const o = structuredClone(m) as T;
    const meta = (o.metadata ??= {});
    meta.namespace = namespace;
    meta.labels = { ...(meta.labels ?? {}), ...labels };
    meta.annotations = { ...(meta.annotations ?? {}), ...annotations };
    if (o.kind === 'Job') {
      if (jobName !== undefined && jobName !== '') meta.name = jobName;
      const spec = ((o as KubernetesObject).spec ??= {}) as { template?: { metadata?: { labels?: Record<string, string>; [k: string]: unknown }; [k: string]: unknown } };
      const template = (spec.template ??= {});
      const tmeta = (template.metadata ??= {});
      tmeta.labels = { ...(tmeta.labels ?? {}), ...labels };
    }
    return o;
  });
}
