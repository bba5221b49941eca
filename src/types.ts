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
  /** Overall limit for the Job, in seconds; also the activity's start-to-close timeout. @default 3600 */
  timeoutSeconds?: number;
  /** Seconds a pod may wait on an image pull or stay unschedulable before the activity fails fast. @default 60 */
  failFastGraceSeconds?: number;
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
