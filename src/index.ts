/**
 * temporal-k8s-jobs, worker side (Node): rendering, the Kubernetes Job activities and the plugin.
 * Workflow code imports `temporal-k8s-jobs/workflow` instead.
 */
export { renderTemplate, writeRendered, clearTemplateCache, normaliseTemplateName, PACKAGE_TEMPLATES_DIR } from './render.js';
export type { RenderOptions, RenderResult } from './render.js';
export { validateManifests, isDns1123Label, DEFAULT_COMPANION_KINDS, KEEP_ANNOTATION } from './manifest.js';
export type { KubernetesObject, JobManifest, ValidatedManifests } from './manifest.js';
export { FailureType, NON_RETRYABLE_FAILURE_TYPES } from './failures.js';
export type { FailureTypeName } from './failures.js';
export { KubernetesJobsError } from './errors.js';
export { buildValues, setPath, mergeValues, ValuesError } from './values.js';
export { createKubernetesJobActivities, LOG_CURSOR_ANNOTATION } from './activities.js';
export type { KubernetesJobActivitiesOptions, KubernetesJobActivities, RunJobHeartbeat } from './activities.js';
export { KubernetesJobsPlugin, type KubernetesJobsPluginOptions } from './plugin.js';
export { loadKubeConfig, defaultNamespace, KubeClient } from './kube.js';
export type { LoadKubeConfigOptions } from './kube.js';
export { deriveJobName, ownership, isOwnedBy } from './naming.js';
export type * from './types.js';
export type * from './dag-types.js';
export { DAG_STATE_QUERY } from './dag-types.js';
export type { CleanupInput, CleanupResult, CleanedJob } from './cleanup-types.js';
export { METRICS, METRIC_BUCKETS } from './metrics.js';
