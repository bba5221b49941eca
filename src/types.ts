/**
 * Serializable inputs and results of temporal-k8s-jobs. Safe to import from workflow code.
 */

/** How pod logs are collected. */
export type LogMode = 'periodic' | 'end' | 'follow' | 'none';

/** When the Job (and its pods and owned companions) is deleted after it finishes. */
export type CleanupPolicy = 'never' | 'onSuccess' | 'always';

/** Input of the `runKubernetesJob` activity. */
export interface KubernetesJobInput {
  /** Template name, looked up in the worker's template directories (then the built-in `templates/`). */
  template: string;
  /** Values for the template (top-level variables). @default {} */
  values?: Record<string, unknown>;
  /** Namespace for the Job and its companions. @default the template's, else the worker's default namespace */
  namespace?: string;
  /** Job name; overrides the template's. @default the template's, else derived from workflow id + run id + activity id */
  name?: string;
  /** Log collection. */
  logs?: {
    /** @default 'periodic' */
    mode?: LogMode;
    /** Seconds between tails in `periodic` mode. @default 10 */
    everySeconds?: number;
    /** Lines kept in the result's `logTail` (also bounded to 64 KiB). @default 50 */
    tailLines?: number;
  };
  /** @default 'onSuccess' */
  cleanup?: CleanupPolicy;
  /**
   * Overall limit for the Job, in seconds (from its creation). `runKubernetesJob` gives the activity a
   * start-to-close timeout of this + 5 min; without it, one far longer, so that the worker's default
   * (`defaults.timeoutSeconds`, else 3600) applies. An activity whose limit does not fit its
   * start-to-close timeout fails at once (`InvalidManifest`), before creating anything.
   * @default the worker's `defaults.timeoutSeconds`, else 3600
   */
  timeoutSeconds?: number;
  /** Seconds a pod may wait on an image pull before the activity fails fast (`ImagePullFailed`). @default 60 */
  failFastGraceSeconds?: number;
  /**
   * Seconds a pod may stay unschedulable before the Job fails (`Unschedulable`). After a
   * cluster-autoscaler `TriggeredScaleUp` event for the pod, it waits at least 15 min more from that
   * event. Never while another pod of the Job runs or has succeeded.
   * @default the worker's `defaults.unschedulableGraceSeconds`, else 600
   */
  unschedulableGraceSeconds?: number;
  /**
   * Set by `runKubernetesJob`: the workflow releases the Job after the result is recorded in its
   * history (cleanup policy, then removal of the `temporal-k8s-jobs/result` finalizer the Job is created
   * with), through `kubernetesJobsReleaseJob`. The activity then never deletes the Job on success or
   * failure itself, and a retry always finds the Job (and the result recorded on it). Direct callers of
   * the activity leave it out: cleanup happens in the activity, and the Job has no finalizer.
   */
  releaseByWorkflow?: boolean;
  /**
   * Writes the applied YAML (with ownership metadata) as `<job name>.yaml`, for debugging: `.` for the
   * worker's rendered-output directory (`worker --rendered-dir`, option `renderedOutputDir`) or a
   * relative subdirectory of it (plain segments; no `..`, no absolute path). Refused when the worker
   * names no such directory.
   */
  writeRenderedTo?: string;
  /** Results of upstream DAG steps, visible to the template as `steps.<name>`. */
  steps?: Record<string, StepView>;
}

/** What a downstream step's template sees of an upstream step. */
export interface StepView {
  /** The Job's name; a `forEach` step's list of Job names; null when there is none (skipped, failed before creating). */
  jobName?: string | string[] | null;
  status: 'Succeeded' | 'Failed' | 'Skipped' | 'Cancelled';
  /** The termination message (JSON-parsed); a `forEach` step's list of outputs. */
  output?: unknown;
}

/** Final state of a Job. */
export type JobStatus = 'Succeeded' | 'Failed';

/** One container of a pod, as reported in results and failure details. */
export interface ContainerSummary {
  name: string;
  state: 'waiting' | 'running' | 'terminated' | 'unknown';
  reason?: string;
  exitCode?: number;
  message?: string;
  restartCount: number;
}

/** One pod of the Job. */
export interface PodSummary {
  name: string;
  phase: string;
  containers: ContainerSummary[];
}

/** Result of the `runKubernetesJob` activity. */
export interface KubernetesJobResult {
  jobName: string;
  namespace: string;
  status: JobStatus;
  pods: PodSummary[];
  /** Exit code per `pod/container` that terminated. */
  exitCodes: Record<string, number>;
  /** Termination message of the Job's container (JSON-parsed when it is JSON). */
  output?: unknown;
  /** The last `tailLines` log lines, each prefixed `pod/container `. */
  logTail: string[];
  /** Number of log lines delivered to the activity logger over the whole run (all attempts). */
  logLines: number;
  /** Whether this execution re-attached to a Job created by an earlier attempt. */
  reattached: boolean;
  /** Whether the Job was deleted at the end (cleanup policy). */
  deleted: boolean;
  /** The Job's UID. */
  jobUid?: string;
  /** What was cut to keep the result within its size bound (left out when nothing was). */
  truncated?: ResultTruncation;
}

/**
 * What was cut from a result to keep it within its size bound (96 KiB of JSON; Temporal's payload
 * limit is 2 MB). Each field counts what was left out.
 */
export interface ResultTruncation {
  /** Pods left out of `pods` (the most recent are kept). */
  pods?: number;
  /** Entries left out of `exitCodes` (those of pods left out). */
  exitCodes?: number;
  /** Container messages in `pods` cut to 512 bytes (the output has the full termination message). */
  messages?: number;
  /** The size in bytes of an `output` over 16 KiB, which was replaced by its text, cut. */
  output?: number;
  /** Oldest lines left out of `logTail`. */
  logTail?: number;
}

/** Progress in heartbeat details (also what the CLI shows). */
export interface JobProgress {
  jobName: string;
  namespace: string;
  phase: 'Creating' | 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Deleting';
  active: number;
  succeeded: number;
  failed: number;
  lastEvent?: string;
}

/**
 * Input of the `kubernetesJobsDeleteJob` activity: the run activity's input and identity, from which
 * the Job's namespace and name are derived exactly as the run activity derived them.
 */
export interface DeleteJobRequest {
  input: KubernetesJobInput;
  /** The run activity's execution (its activity id as the workflow saw it). */
  owner: { workflowId: string; runId: string; activityId: string };
}

/**
 * Input of the `kubernetesJobsReleaseJob` activity, which `runKubernetesJob` runs once the run
 * activity's result or failure is recorded in its history: applies the cleanup policy and removes the
 * `temporal-k8s-jobs/result` finalizer.
 */
export interface ReleaseJobRequest {
  /** Whether the run activity succeeded. */
  succeeded: boolean;
  /** The input's cleanup policy (the worker's default applies when left out). */
  cleanup?: CleanupPolicy;
  /** After a success: the Job of the result (a Job of that name with another UID is left alone). */
  job?: { namespace: string; name: string; uid?: string };
  /** After a failure: the run activity's input and identity (the Job's name is derived from them). */
  run?: DeleteJobRequest;
}

/** Result of the `kubernetesJobsReleaseJob` activity. */
export interface ReleaseJobResult {
  /** Whether the Job was deleted (the cleanup policy asked for it). */
  deleted: boolean;
}
