/**
 * Failure types of temporal-k8s-jobs.
 *
 * This module is safe to import from workflow code (no Node, no Kubernetes client): workflows branch on
 * `failure.type` of an `ApplicationFailure`, never on `instanceof` across the sandbox.
 */

/** The fixed set of `ApplicationFailure.type` values this package raises. */
export const FailureType = {
  /** A template could not be found, compiled or rendered (syntax error, undefined variable, unsafe value). */
  TemplateError: 'TemplateError',
  /** The rendered YAML is not an acceptable set of manifests (no Job, two Jobs, a forbidden kind...). */
  InvalidManifest: 'InvalidManifest',
  /** No usable Kubernetes credentials (no kubeconfig, unknown context...). */
  CredentialsError: 'CredentialsError',
  /** The Job's name is taken by a Job this workflow execution does not own. */
  JobNameConflict: 'JobNameConflict',
  /** The Job ended with condition Failed (backoff limit, pod failure policy...). */
  JobFailed: 'JobFailed',
  /** A pod could not pull its image within the grace period. */
  ImagePullFailed: 'ImagePullFailed',
  /** A pod could not be scheduled within the grace period. */
  Unschedulable: 'Unschedulable',
  /** The Job exceeded `activeDeadlineSeconds`. */
  DeadlineExceeded: 'DeadlineExceeded',
  /** The Kubernetes API answered with an error (401/403/404/409/422 are non-retryable; 429/5xx are retried). */
  KubernetesApiError: 'KubernetesApiError',
  /** A DAG was rejected before anything started (bad keys, cycle, unknown step, bad CEL, missing template). */
  InvalidDag: 'InvalidDag',
  /** A DAG ended with a failed step (`dagWorkflow`); the failure's first detail is the DAG's result. */
  DagFailed: 'DagFailed',
} as const;

/** One of the {@link FailureType} values. */
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Failure types that retrying the same input cannot fix. */
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureTypeName[] = [
  FailureType.TemplateError,
  FailureType.InvalidManifest,
  FailureType.CredentialsError,
  FailureType.JobNameConflict,
  FailureType.JobFailed,
  FailureType.ImagePullFailed,
  FailureType.Unschedulable,
  FailureType.DeadlineExceeded,
  FailureType.InvalidDag,
  FailureType.DagFailed,
];
