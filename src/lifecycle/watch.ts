/**
 * Step 3 of the lifecycle: the Job and its pods as the namespace's shared watches see them (one
 * list+watch of Jobs and one of pods per namespace and worker, see `../shared-watch.ts`). The one place
 * that turns API events into the Job's state: every event about this Job (and every tick, as grace
 * periods expire with time) re-evaluates it, updates the progress and settles {@link JobWatch.finished}.
 *
 * The Job counts as deleted only when that is known: it was seen and then went (or was replaced by
 * another Job of the same name), or a list that started after this watch did not have it. A failed
 * list, or one taken before the Job was created, never makes it look deleted.
 */
import { FailureType } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import type { JobSubscription, KubeClient, V1Job, V1Pod } from '../kube.js';
import { IMAGE_PULL_REASONS, interpretWatchedJob, type JobState } from '../job-status.js';
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
  private subscription: JobSubscription | undefined;
  /** This Job was in the watch's cache at least once. */
  private seen = false;
  /** Re-evaluates every second while a fail-fast grace period runs (it expires with time, not with an event). */
  private graceTicker: NodeJS.Timeout | undefined;
  /** Scale-ups of unschedulable pods (set by the lifecycle); without it none is known. */
  scaleUps: ScaleUpTracker | undefined;

  /** @param jobUid the watched Job's UID: another Job of the same name (or its pods) is not this one */
  constructor(
    private readonly kube: KubeClient,
    private readonly plan: JobPlan,
    private readonly report: Reporter,
    private readonly jobUid: string | undefined,
  ) {
    this.finished = new Promise<JobState>((res, rej) => ((this.settle = res), (this.rejectFinished = rej)));
    this.finished.catch(() => undefined); // observed by the caller's race; never an unhandled rejection
  }

  /** Subscribes to the namespace's shared watches, waits until they have listed, then evaluates once. */
  async start(): Promise<void> {
    this.subscription = this.kube.watchJob(
      this.plan.namespace,
      this.plan.jobName,
      () => this.tick(),
      (e) => {
        if (e.nonRetryable) this.fail(e); // e.g. 403: the watch will never work; transient errors are retried by the watch
      },
    );
    await this.subscription.ready();
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
    const pods = this.subscription?.pods() ?? [];
    if (!this.jobUid) return pods;
    return pods.filter((p) => (p.metadata?.ownerReferences ?? []).some((o) => o.uid === this.jobUid));
  }

  /** The Job as currently known (undefined while not seen yet, and once it is gone). */
  job(): V1Job | undefined {
    const j = this.subscription?.job();
    return j && (!this.jobUid || j.metadata?.uid === this.jobUid) ? j : undefined;
  }

  async stop(): Promise<void> {
    this.watching = false;
    clearInterval(this.graceTicker);
    this.subscription?.close();
  }

  private evaluate(): void {
    const j = this.job();
    if (j) this.seen = true;
    else {
      // Not in the cache: gone if it was seen before or a list taken since this watch started lacks it;
      // otherwise the watch has not caught up with its creation yet.
      if (this.seen || this.subscription?.listedSince()) this.fail(deletedWhileRunning(this.plan.target));
      return;
    }
    const pods = this.pods();
    const state = interpretWatchedJob(j as never, pods as never, {
      now: Date.now(),
      failFastGraceMs: this.plan.graceMs,
      unschedulableGraceMs: this.plan.unschedulableGraceMs,
      scaleUp: this.scaleUps?.lookup,
    });
    if (state === 'deleted') {
      this.fail(deletedWhileRunning(this.plan.target));
      return;
    }
    const phase: JobProgress['phase'] = state.kind === 'running' ? state.phase : state.kind === 'succeeded' ? 'Succeeded' : 'Failed';
    const counts = { active: j.status?.active ?? 0, succeeded: j.status?.succeeded ?? 0, failed: j.status?.failed ?? 0 };
    const lastEvent = describePods(pods);
    const p = this.report.progress;
    if (phase !== p.phase || lastEvent !== p.lastEvent || counts.active !== p.active || counts.succeeded !== p.succeeded || counts.failed !== p.failed) {
      this.report.update({ phase, ...counts, ...(lastEvent ? { lastEvent } : {}) });
    }
    const graceRunning = state.kind === 'running' && pods.some(awaitsFailFast);
    if (graceRunning && !this.graceTicker && this.watching) this.graceTicker = setInterval(() => this.tick(), GRACE_TICK_MS);
    else if (!graceRunning && this.graceTicker) {
      clearInterval(this.graceTicker);
      this.graceTicker = undefined;
    }
    if (state.kind !== 'running') this.settle(state);
  }
}

const GRACE_TICK_MS = 1000;

/** A pod that fails the Job fast once its grace period is over: pulling its image fails, or it cannot be scheduled. */
function awaitsFailFast(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  if (statuses.some((s) => s.state?.waiting?.reason && IMAGE_PULL_REASONS.includes(s.state.waiting.reason))) return true;
  return !!pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
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
