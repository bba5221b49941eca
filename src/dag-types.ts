/**
 * Serializable shapes of DAGs of Kubernetes Jobs (`runDag`, `dagWorkflow`, `temporal-k8s-jobs dag`).
 * Safe to import from workflow code. The YAML file of `temporal-k8s-jobs dag` has exactly this shape.
 */
import type { KubernetesJobInput } from './types.js';

/** The per-step options a DAG's `defaults` may set (any step option except template, values and name). */
export type DagStepDefaults = Partial<Pick<KubernetesJobInput, 'namespace' | 'logs' | 'cleanup' | 'timeoutSeconds' | 'failFastGraceSeconds' | 'unschedulableGraceSeconds' | 'writeRenderedTo'>>;

/** Options of one step that runs a Job (or one Job per `forEach` item). */
export interface DagJobOptions extends DagStepDefaults {
  /** Template name, looked up in the worker's template directories (then the built-in `templates/`). */
  template: string;
  /** Values for the template (data, never templates). Merged over the DAG's `values`. */
  values?: Record<string, unknown>;
  /** Job name (with `forEach`: every item would need its own, so leave it out there). @default derived */
  name?: string;
  /**
   * CEL expressions evaluated in the workflow when the step starts; each result becomes the value of
   * that key (data, checked for structure safety like any value). Variables: `steps`, `values`,
   * `item`, `index` (and `dag` in `onExit`).
   */
  valuesFrom?: Record<string, string>;
}

/** One step of a DAG. */
export interface DagStep extends DagJobOptions {
  /** Steps that must finish first. Without `when`, this step runs only if they all succeeded. */
  dependsOn?: string[];
  /** CEL (over `steps`, `values`): the step runs exactly when this is true, else it is `Skipped`. */
  when?: string;
  /** CEL giving a list, or a literal list: one Job per item, with values `item` and `index`. */
  forEach?: string | unknown[];
  /** With `forEach`: Jobs of this step running at once. @default the DAG's maxParallel */
  maxParallel?: number;
}

/** The `onExit` step: runs last, always (after success, failure and cancellation); sees `dag.status`. */
export type DagExitStep = DagJobOptions;

/** A DAG of Jobs. */
export interface Dag {
  /** Used by the CLI as the workflow id prefix. */
  name?: string;
  /** Jobs running at once across the whole DAG. @default unbounded */
  maxParallel?: number;
  /** A failed step cancels running steps (their Jobs are deleted) and starts nothing new. @default true */
  failFast?: boolean;
  /** Values every step gets (a step's own values win). */
  values?: Record<string, unknown>;
  /** Step options every step gets (a step's own options win). */
  defaults?: DagStepDefaults;
  /** The steps, by name (DNS-1123 labels). */
  steps: Record<string, DagStep>;
  /** Runs last, always. */
  onExit?: DagExitStep;
}

/** Status of a step. `Pending` and `Running` appear only while the DAG runs (the `dagState` query). */
export type DagStepStatus = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Skipped' | 'Cancelled';

/** Status of a whole DAG: `Running` only in the `dagState` query. */
export type DagStatus = 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';

/** Per-item counts of a `forEach` step. */
export interface DagItemCounts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

/** State of one step: in the result, and live in the `dagState` query. */
export interface DagStepState {
  status: DagStepStatus;
  /** The Job's name; with `forEach` the list of the items' Job names (in item order, as known so far). */
  jobName?: string | string[];
  /** Termination message of the Job (JSON-parsed); with `forEach` the list of the items' outputs. */
  output?: unknown;
  /** Why the step failed: `<FailureType>: <message>` (first failed item with `forEach`). */
  error?: string;
  /** Why the step was skipped or cancelled. */
  reason?: string;
  /** With `forEach`: counts per item status. */
  items?: DagItemCounts;
  /** Workflow time the step started and finished (ISO 8601). */
  startedAt?: string;
  finishedAt?: string;
}

/** Result of a DAG, and the answer of the `dagState` query while it runs. */
export interface DagResult {
  status: DagStatus;
  steps: Record<string, DagStepState>;
  /** State of the `onExit` step, when the DAG has one. */
  onExit?: DagStepState;
}

/** Options of `runDag` / the second argument of `dagWorkflow`. */
export interface RunDagOptions {
  /**
   * A `forEach` with more items than this runs its items in child workflows of at most this many
   * items each, so no workflow comes near Temporal's limits (pending activities, history events).
   * @default 200
   */
  batchSize?: number;
  /** Activity options for every Job (as `runKubernetesJob`'s second argument). */
  activity?: Record<string, unknown>;
}

/** Name of the query `dagWorkflow` answers with its live {@link DagResult} (status `Running` while it runs). */
export const DAG_STATE_QUERY = 'dagState';
