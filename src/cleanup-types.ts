/**
 * Input and result of `cleanupWorkflow` and its activity (types only: safe for workflow code).
 */

/** What to clean up: the same choices as `temporal-k8s-jobs cleanup`. */
export interface CleanupInput {
  /**
   * Retention since a Job finished: a duration such as `'7d'`, `'12h'`, `'1h30m'`, `'90s'`, or a
   * number of seconds.
   */
  olderThan: string | number;
  /** Kubernetes namespace. @default the worker's (its `namespace` option, else its credentials', else 'default') */
  namespace?: string;
  /** Every namespace instead of one (the worker then needs the ClusterRole of rbac/cluster/). @default false */
  allNamespaces?: boolean;
  /**
   * Also delete, whatever their age or state, Jobs whose workflow closed without deleting them
   * (terminated, timed out). @default false
   */
  orphans?: boolean;
  /** Report what would be deleted; delete nothing. @default false */
  dryRun?: boolean;
}

/** A Job that cleanup deleted (or, in a dry run, would delete). */
export interface CleanedJob {
  namespace: string;
  job: string;
  workflowId: string;
  runId: string;
  /** The activity id of the step that ran it. */
  step: string;
  /** Pending, Running, Suspended, Succeeded or Failed. */
  state: string;
  /** Its workflow's status in Temporal (COMPLETED, TERMINATED, NOT_FOUND, ...). */
  workflowStatus: string;
  /** Why it goes: `finished 8d ago`, `orphan: workflow terminated`. */
  reason: string;
}

/** What a cleanup did. */
export interface CleanupResult {
  dryRun: boolean;
  /** The namespace looked at, or undefined for all namespaces. */
  namespace?: string;
  /** How many Jobs of this package were looked at. */
  examined: number;
  /** The Jobs deleted (a dry run: that would be deleted). */
  deleted: CleanedJob[];
}
