/**
 * Step 3 of the lifecycle: list+watch caches of the Job and its pods. The one place that turns API
 * events into the Job's state: every event (and every heartbeat tick, as grace periods expire with
 * time) re-evaluates it, updates the progress and settles {@link JobWatch.finished}.
 */
import { FailureType } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import type { KubeClient, V1Job, V1Pod, WatchedCache } from '../kube.js';
import { interpretWatchedJob, type JobState } from '../job-status.js';
import type { JobProgress } from '../types.js';
import type { JobPlan } from './plan.js';
import type { Reporter } from './report.js';
import type { ScaleUpTracker } from './scale-up.js';

/** The failure of a Job that vanished (or started being deleted) before it finished. */
export class JobGoneError extends KubernetesJobsError {
  constructor(target: string) {
    super(FailureType.JobFailed, `${target} was deleted while it ran (by someone else, or ttlSecondsAfterFinished)`, { nonRetryable: true });
  }
}

/** See {@link JobGoneError}. */
export function deletedWhileRunning(target: string): JobGoneError {
  return new JobGoneError(target);
}

/** Watches one Job and its pods until {@link JobWatch.stop}. */
export class JobWatch {
  /** Settles with the Job's final state, or rejects with an error that ends the attempt. */
  readonly finished: Promise<JobState>;
  private settle!: (s: JobState) => void;
  private rejectFinished!: (e: unknown) => void;
  private watching = false;
  private readonly jobCache: WatchedCache<V1Job>;
  private readonly podCache: WatchedCache<V1Pod>;

  private readonly jobUid: string | undefined;
  /** Scale-ups of unschedulable pods (set by the lifecycle); without it none is known. */
  scaleUps: ScaleUpTracker | undefined;

  /** @param jobUid the watched Job's UID: pods of an earlier Job of the same name are not its pods */
  constructor(
    kube: KubeClient,
    private readonly plan: JobPlan,
    private readonly report: Reporter,
    jobUid: string | undefined,
  ) {
    this.finished = new Promise<JobState>((res, rej) => ((this.settle = res), (this.rejectFinished = rej)));
    this.finished.catch(() => undefined); // observed by the caller's race; never an unhandled rejection
    const evaluate = () => this.evaluate();
    const onWatchError = (e: KubernetesJobsError) => {
      if (e.nonRetryable) this.fail(e); // e.g. 403: the watch will never work; transient errors restart the watch
    };
    this.jobCache = kube.cache<V1Job>('jobs', plan.namespace, { fieldSelector: `metadata.name=${plan.jobName}` }, evaluate, onWatchError);
    this.podCache = kube.cache<V1Pod>('pods', plan.namespace, { labelSelector: `batch.kubernetes.io/job-name=${plan.jobName}` }, evaluate, onWatchError);
    this.jobUid = jobUid;
  }

  /** Lists and starts watching, then evaluates once. */
  async start(): Promise<void> {
    await this.jobCache.start();
    await this.podCache.start();
    this.watching = true;
    this.evaluate();
  }

  /** Re-evaluates without an event (grace periods expire with time). */
  tick(): void {
    if (this.watching) this.evaluate();
  }

  /** Ends the attempt with an error (a log delivery failure, a permanent watch error). */
  fail(e: unknown): void {
    this.rejectFinished(e);
  }

  /**
   * The Job's pods as currently known: those its controller created (ownerReference to this Job's
   * UID), never leftovers of an earlier Job that had the same name.
   */
  pods(): readonly V1Pod[] {
    const pods = this.podCache.list();
    if (!this.jobUid) return pods;
    return pods.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === this.jobUid));
  }

  /** The Job as currently known (undefined once it is gone). */
  job(): V1Job | undefined {
    return this.jobCache.list()[0];
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.jobCache.stop(), this.podCache.stop()]);
  }

  private evaluate(): void {
    const j = this.jobCache.list()[0];
    const pods = this.pods();
    const state = interpretWatchedJob(j as never, pods as never, {
      now: Date.now(),
      failFastGraceMs: this.plan.graceMs,
      unschedulableGraceMs: this.plan.unschedulableGraceMs,
      scaleUp: this.scaleUps?.lookup,
    });
    if (state === 'deleted' || !j) {
      if (this.watching) {
        this.fail(deletedWhileRunning(this.plan.target));
      }
      return;
    }
    const phase: JobProgress['phase'] = state.kind === 'running' ? state.phase : state.kind === 'succeeded' ? 'Succeeded' : 'Failed';
    const counts = { active: j.status?.active ?? 0, succeeded: j.status?.succeeded ?? 0, failed: j.status?.failed ?? 0 };
    const lastEvent = describePods(pods);
    const p = this.report.progress;
    if (phase !== p.phase || lastEvent !== p.lastEvent || counts.active !== p.active || counts.succeeded !== p.succeeded || counts.failed !== p.failed) {
      this.report.update({ phase, ...counts, ...(lastEvent ? { lastEvent } : {}) });
    }
    if (state.kind !== 'running') this.settle(state);
  }
}

/** One line on the most recent pod, for the progress shown in the Temporal UI and the CLI. */
function describePods(pods: readonly V1Pod[]): string | undefined {
  const pod = [...pods].sort((a, b) => (a.metadata?.creationTimestamp?.getTime?.() ?? 0) - (b.metadata?.creationTimestamp?.getTime?.() ?? 0)).pop();
  if (!pod?.metadata?.name) return undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.find((s) => s.state?.waiting?.reason);
  if (waiting) return `pod ${pod.metadata.name}: container '${waiting.name}' ${waiting.state!.waiting!.reason}`;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return `pod ${pod.metadata.name}: ${unscheduled.reason ?? 'not scheduled'}${unscheduled.message ? ` (${unscheduled.message})` : ''}`;
  const terminated = statuses.find((s) => s.state?.terminated && s.state.terminated.exitCode !== 0);
  if (terminated) return `pod ${pod.metadata.name}: container '${terminated.name}' exited ${terminated.state!.terminated!.exitCode}`;
  return `pod ${pod.metadata.name}: ${pod.status?.phase ?? 'Pending'}`;
}
