/**
 * Step 4 of the lifecycle: exactly-once log delivery. Cursors live on the Job (annotation), are
 * written BEFORE the lines they cover are handed to the sink, and are also shown in heartbeat details.
 * A retry resumes from the Job's cursors. Lines at or before the persisted position are dropped, so
 * overlapping readers (a periodic or final tail and a follow stream) can never deliver a line twice or
 * move a cursor backwards. The pure cursor logic is in `../logs.ts`.
 */
import { FailureType } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import type { KubeClient, V1Job, V1Pod } from '../kube.js';
import {
  LogStreamReader,
  advanceCursor,
  consumeLogChunk,
  decodeCursorAnnotation,
  dropPodCursors,
  encodeCursorAnnotation,
  logLineId,
  prefixLine,
  sinceTimeFor,
  type LogCursor,
  type LogCursors,
  type LogLine,
} from '../logs.js';
import type { JobPlan } from './plan.js';
import { deletedWhileRunning } from './watch.js';
import type { Reporter } from './report.js';

/** Annotation on the Job holding the log cursors (written before lines are delivered). */
export const LOG_CURSOR_ANNOTATION = 'temporal-k8s-jobs/log-cursors';

/** What the log sink gets with every line. */
export interface LogLineMeta {
  jobName: string;
  namespace: string;
  pod: string;
  container: string;
  /** The line's timestamp (RFC3339, nanoseconds, UTC). */
  time: string;
  /** 1-based position of the line among the container's lines with exactly this timestamp. */
  index: number;
  /**
   * Stable id of the line, `namespace/pod/container/time/index`: the same line gets the same id in
   * every read, attempt and re-attachment (see {@link logLineId}). Use it to deduplicate downstream.
   */
  id: string;
}

/** Receives every delivered line once. */
export type LogSink = (line: string, meta: LogLineMeta) => void;

interface PersistedCursors {
  /** Cursors of the containers not drained yet, keyed `pod/container`. */
  cursors: LogCursors;
  seq: number;
  /** The attempt that wrote them last (`<attempt>:<random>`): a lower attempt never writes over a higher one. */
  by?: string;
}

/**
 * The cursors could not be saved on the Job: rejected (422, e.g. the annotations' 256 KiB limit) or
 * transient trouble that outlasted the retries. Delivery may go on without them (see `persist`).
 */
class CursorWriteFailed extends KubernetesJobsError {
  constructor(
    target: string,
    readonly rejected: boolean,
    err: unknown,
  ) {
    super(FailureType.KubernetesApiError, `${target}: log cursors not saved: ${(err as Error).message}`, { nonRetryable: false, details: (err as KubernetesJobsError).details });
  }
}

/**
 * This attempt was superseded: another attempt of the same activity (a retry after this worker was
 * cut off) has written the Job's cursors. It stops at once and leaves the Job alone (no cleanup, no
 * suspension): the newer attempt owns it.
 */
export class StaleAttemptError extends KubernetesJobsError {
  constructor(target: string, mine: string, theirs: string | undefined) {
    super(FailureType.KubernetesApiError, `${target}: this attempt (${mine}) was superseded by attempt ${theirs ?? '?'}; it stops and leaves the Job to it`, { nonRetryable: false });
  }
}

/** The attempt number in a `by` token. */
const attemptOf = (by: string | undefined): number => (by ? Number(by.split(':')[0]) || 0 : 0);

/** Backoff delays of a read or write retried in place (log trouble never ends a Job). */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const statusOf = (pod: V1Pod, c: string) => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((st) => st.name === c);
const podContainers = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
const containerDone = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.terminated;
const containerStarted = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.running || containerDone(pod, c);
const podFinished = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
/**
 * Whether the container may have had an earlier instance: the pod restarts containers (OnFailure),
 * it is a sidecar (an init container with restartPolicy Always), or it was seen restarted. The status
 * lags the kubelet, so a restart is not waited for: such containers' previous logs are always read.
 */
export const canRestart = (pod: V1Pod, c: string): boolean =>
  (pod.spec?.restartPolicy ?? 'Always') !== 'Never' || (pod.spec?.initContainers ?? []).some((ic) => ic.name === c && ic.restartPolicy === 'Always') || (statusOf(pod, c)?.restartCount ?? 0) > 0;
/**
 * `sinceTime` for a previous-instance read without a cursor: an hour before the pod was created (its
 * containers cannot have logged earlier; the margin covers clock skew between node and API server).
 */
const podSince = (pod: V1Pod): string | undefined => {
  const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : NaN;
  return Number.isFinite(created) ? `${new Date(created - 3_600_000).toISOString().slice(0, 19)}Z` : undefined;
};

/** Reads the logs of one Job's pods and delivers each line once. */
export class LogDelivery {
  private persisted: PersistedCursors;
  /** The annotation value and resourceVersion of the Job as this attempt last wrote or read it. */
  private fence: { value: string | undefined; resourceVersion: string | undefined };
  private deliveryChain: Promise<void> = Promise.resolve();
  private tailing: Promise<void> | undefined;
  /** Containers whose whole log was read after they terminated: nothing more can come from them. */
  private readonly drained = new Set<string>();
  /** Finished pods whose containers were all read to the end, and that had lines (persisted compactly, see {@link encodeCursorAnnotation}). */
  private readonly drainedPods = new Set<string>();
  /** Restart counts already acted on (live modes read a restarted container's previous log at once). */
  private readonly restarts = new Map<string, number>();
  /** The final read is under way: transient cursor-write trouble no longer holds lines back. */
  private finalPhase = false;
  /** Why the cursors are not saved on the Job right now (heartbeat note, worker warning); undefined when they are. */
  private unsaved: string | undefined;
  private readonly followers = new Map<string, { abort: AbortController | undefined; ended: boolean }>();
  private followersClosed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  /**
   * @param job the Job as read or created (its cursor annotation is where delivery resumes)
   * @param attemptToken `<activity attempt>:<random>`, unique per attempt
   * @param onError called when delivery must end the attempt (this attempt was superseded)
   * @param onTrouble called with log trouble that is retried later (a failed read or cursor write)
   */
  constructor(
    private readonly kube: KubeClient,
    private readonly plan: JobPlan,
    private readonly sink: LogSink,
    private readonly report: Reporter,
    job: V1Job,
    private readonly attemptToken: string,
    private readonly onError: (e: unknown) => void,
    private readonly onTrouble: (e: unknown) => void,
  ) {
    this.persisted = { cursors: {}, seq: report.prior?.logSeq ?? 0 };
    const saved = job.metadata?.annotations?.[LOG_CURSOR_ANNOTATION];
    this.fence = { value: saved, resourceVersion: job.metadata?.resourceVersion };
    if (saved) this.adopt(saved);
    report.logState = () => ({ ...this.persisted, note: this.unsaved });
  }

  /**
   * Claims the Job's cursors for this attempt (a fenced write of the current cursors with this
   * attempt's token). Call before delivering anything and before any cleanup: a stale attempt finds out
   * here ({@link StaleAttemptError}) instead of delivering or deleting.
   */
  async claim(): Promise<void> {
    await this.persist(this.persisted, true);
  }

  private adopt(saved: string): void {
    const p = decodeCursorAnnotation(this.plan.jobName, saved);
    if (!p) return; // unreadable cursor: start from the heartbeat's count, deliver from the start
    this.persisted = { cursors: p.cursors, seq: p.seq, by: p.by };
    // Pods drained by any attempt stay drained (their lines were all delivered).
    for (const pod of p.drained) this.drainedPods.add(pod);
  }

  /**
   * Writes the cursors ({@link write}); when they cannot be saved, decides whether delivery goes on
   * without them. Log trouble never ends a Job:
   * - rejected (422; the cursors are already compact, so another try cannot help): go on unsaved;
   * - transient trouble that outlasted the retries: during the run, the lines are held back and read
   *   again by the next tail (exactly-once kept); in the final read and in a claim, go on unsaved.
   * Going on unsaved warns once in the worker log and sets a note in the heartbeat details; every later
   * write still tries, and the first that succeeds clears the note. While unsaved, a retry of this
   * attempt resumes from the last saved cursors: the lines delivered since may be delivered again
   * (at-least-once), never lost.
   */
  private async persist(next: PersistedCursors, claiming = false): Promise<void> {
    try {
      await this.write(next, claiming);
      this.unsaved = undefined;
    } catch (err) {
      if (!(err instanceof CursorWriteFailed) || !(err.rejected || claiming || this.finalPhase)) throw err;
      if (this.unsaved === undefined) {
        this.unsaved = `${err.message}; log lines are delivered without saved cursors (a retry of this attempt may deliver them again)`;
        this.onTrouble(new Error(this.unsaved));
        this.report.beat();
      }
    }
  }

  /** Lines delivered so far (all attempts). */
  get seq(): number {
    return this.persisted.seq;
  }

  /** Starts the live readers of the plan's log mode (periodic tails or follow streams). */
  startLive(pods: () => readonly V1Pod[]): void {
    if (this.plan.logMode === 'periodic') this.timers.push(setInterval(() => void this.tailAll(pods(), false).catch((e) => this.trouble(e)), this.plan.everyMs));
    if (this.plan.logMode === 'follow') {
      this.startFollowers(pods());
      this.timers.push(setInterval(() => this.startFollowers(pods()), 1000));
    }
    // The kubelet keeps one previous instance per container: read it as soon as a restart shows, not
    // only at the next tail (the crash-loop back-off leaves at least 10 s before the next restart).
    if (this.plan.logMode === 'periodic' || this.plan.logMode === 'follow') this.timers.push(setInterval(() => this.checkRestarts(pods()), 1000));
  }

  /** Reads the previous (and, in periodic mode, current) log of every container whose restart count grew. */
  private checkRestarts(pods: readonly V1Pod[]): void {
    const due = new Set<string>();
    for (const pod of pods) {
      const podName = pod.metadata?.name;
      if (!podName || this.drainedPods.has(podName)) continue;
      for (const c of podContainers(pod)) {
        const key = `${podName}/${c}`;
        const count = statusOf(pod, c)?.restartCount ?? 0;
        if (count > (this.restarts.get(key) ?? 0)) {
          due.add(key);
          this.restarts.set(key, count);
        }
      }
    }
    if (due.size === 0) return;
    this.tailAll(pods, false, { only: due, previousOnly: this.plan.logMode === 'follow' }).catch((e) => {
      for (const key of due) this.restarts.delete(key); // try again at the next check
      this.trouble(e);
    });
  }

  /** Stops the live readers (idempotent). */
  stopLive(): void {
    this.timers.forEach(clearInterval);
    this.followersClosed = true;
    for (const f of this.followers.values()) f.abort?.abort();
  }

  /** Final logs: every container, from its cursor (a follow stream may not end by itself). */
  async finalRead(pods: readonly V1Pod[]): Promise<void> {
    this.stopLive();
    this.finalPhase = true;
    await this.deliveryChain.catch(() => undefined); // a live reader's failure: the final read below covers its lines
    if (this.plan.logMode !== 'none') {
      // Transient trouble is retried in place; each try resumes from the cursors, so none repeats a line.
      for (let i = 0; ; i++) {
        try {
          await this.tailAll(pods, true);
          break;
        } catch (err) {
          if (err instanceof StaleAttemptError || (err instanceof KubernetesJobsError && err.nonRetryable) || i >= RETRY_DELAYS_MS.length) throw err;
          this.onTrouble(err);
          await sleep(RETRY_DELAYS_MS[i]!);
        }
      }
    }
    await this.deliveryChain;
  }

  /** Log trouble during the run: a superseded attempt stops; anything else is retried by the next read. */
  private trouble(e: unknown): void {
    if (e instanceof StaleAttemptError) this.onError(e);
    else this.onTrouble(e);
  }

  /**
   * Writes the cursors, fenced: the merge patch carries the resourceVersion this attempt last saw, so
   * it only applies to the Job as this attempt knows it. On a conflict (the Job changed: status
   * updates, or another attempt's write) it reads the Job: a newer attempt's cursors -> this attempt is
   * stale and stops; otherwise it retries with the new resourceVersion. Transient errors are retried
   * with backoff; an answer lost after the write applied is recognised by reading the value back.
   */
  private async write(next: PersistedCursors, claiming = false): Promise<void> {
    const { namespace, jobName, target } = this.plan;
    const value = encodeCursorAnnotation(jobName, { ...next, by: this.attemptToken, drained: this.drainedPods });
    for (let i = 0; ; i++) {
      try {
        const job = await this.kube.patchJob(namespace, jobName, {
          metadata: { resourceVersion: this.fence.resourceVersion, annotations: { [LOG_CURSOR_ANNOTATION]: value } },
        });
        this.fence = { value, resourceVersion: job.metadata?.resourceVersion };
        return;
      } catch (err) {
        const status = (err as KubernetesJobsError).details?.status;
        // Look at the Job as it is now: the patch may have applied though its answer was lost.
        const read = await this.kube.readJob(namespace, jobName).catch(() => null); // null: unknown (read failed)
        // Gone (deleted from outside): the same answer the watch gives, whichever notices first.
        if (read === undefined) throw deletedWhileRunning(target);
        const current = read ?? undefined;
        const now = current?.metadata?.annotations?.[LOG_CURSOR_ANNOTATION];
        if (current && now === value) {
          this.fence = { value, resourceVersion: current.metadata?.resourceVersion };
          return;
        }
        if (current && now !== this.fence.value) {
          const theirs = (() => {
            try {
              return (JSON.parse(now ?? '{}') as PersistedCursors).by;
            } catch {
              return undefined;
            }
          })();
          if (attemptOf(theirs) > attemptOf(this.attemptToken) || (theirs !== undefined && theirs !== this.attemptToken && attemptOf(theirs) === attemptOf(this.attemptToken))) {
            throw new StaleAttemptError(target, this.attemptToken, theirs);
          }
          // An older attempt wrote after this one read (it was cut off and came back): take its cursors,
          // and the Job's version as the new fence (without it every later write conflicts again and
          // reads the same older value: a livelock in which neither attempt delivers).
          this.fence = { value: now, resourceVersion: current.metadata?.resourceVersion };
          if (now) this.adopt(now);
          if (claiming) return this.write(this.persisted, true);
          // Claim them back at once: the older attempt's next write then finds this newer one and stops.
          // (If that write cannot be saved, the lines are still read again from the adopted cursors.)
          await this.write(this.persisted, true).catch((e: unknown) => {
            if (!(e instanceof CursorWriteFailed)) throw e;
          });
          // Lines computed against the old cursors may overlap the ones it delivered: re-read instead.
          throw new KubernetesJobsError(FailureType.KubernetesApiError, `${target}: log cursors moved by an earlier attempt; reading again from them`, { nonRetryable: false });
        }
        if (current) this.fence = { value: now, resourceVersion: current.metadata?.resourceVersion };
        if (status === 409) continue; // the Job changed under the precondition: retry at once with its new version
        if (status === 422) throw new CursorWriteFailed(target, true, err); // invalid as written (too large): the same again fails again
        if (err instanceof KubernetesJobsError && err.nonRetryable) throw err;
        if (i >= RETRY_DELAYS_MS.length) throw new CursorWriteFailed(target, false, err);
        await sleep(RETRY_DELAYS_MS[i]!);
      }
    }
  }

  /** Persists the advanced cursor, then hands the lines not delivered yet to the sink. Serialised. */
  private deliver(pod: string, container: string, lines: LogLine[], start: LogCursor | undefined): Promise<void> {
    const run = async () => {
      const key = `${pod}/${container}`;
      if (this.drainedPods.has(pod)) return; // read to its end already (its cursors are compacted away)
      const { fresh, cursor: pos } = advanceCursor(this.persisted.cursors[key], start, lines);
      if (fresh.length === 0 || !pos) return;
      const next: PersistedCursors = { cursors: { ...this.persisted.cursors, [key]: pos }, seq: this.persisted.seq + fresh.length };
      await this.persist(next);
      this.persisted = next;
      const { jobName, namespace } = this.plan;
      for (const l of fresh) {
        const text = prefixLine(pod, container, l.text);
        this.sink(text, { jobName, namespace, pod, container, time: l.time, index: l.index, id: logLineId(namespace, pod, container, l.time, l.index) });
        this.report.pushLine(text);
      }
      this.report.beat();
    };
    // Serialised; a failed delivery does not poison the ones after it (each re-checks the cursors).
    const next = this.deliveryChain.catch(() => undefined).then(run);
    this.deliveryChain = next;
    return next;
  }

  /**
   * Reads every container of `pods` from its cursor and delivers the new lines: the previous instance's
   * log first (containers that may have restarted), then the current one. One cursor per container
   * serves both: an instance's lines all precede the next instance's, so whichever read returns a line
   * first delivers it, and a read that returns the next instance's lines cannot skip the previous one's
   * (its tail is read first). A finished pod read to the end is drained (its cursors compacted).
   * @param opts.only only these `pod/container` keys; `previousOnly`: only the previous instances
   */
  private tailAll(pods: readonly V1Pod[], final: boolean, opts: { only?: ReadonlySet<string>; previousOnly?: boolean } = {}): Promise<void> {
    const run = async () => {
      for (const pod of pods) {
        const podName = pod.metadata?.name;
        if (!podName || this.drainedPods.has(podName)) continue;
        let whole = !opts.only && !opts.previousOnly; // every container of the pod read to its end
        for (const c of podContainers(pod)) {
          const key = `${podName}/${c}`;
          // Keyed by restart count: a container restarted under restartPolicy OnFailure logs again.
          const drainedKey = `${key}#${statusOf(pod, c)?.restartCount ?? 0}`;
          if (opts.only && !opts.only.has(key)) continue;
          if (this.drained.has(drainedKey)) continue;
          if (!final && !containerStarted(pod, c)) {
            whole = false;
            continue;
          }
          const done = containerDone(pod, c);
          if (canRestart(pod, c)) await this.readInstance(pod, podName, c, true, true);
          if (opts.previousOnly) continue;
          await this.readInstance(pod, podName, c, false, final || done);
          if (done) this.drained.add(drainedKey);
        }
        if (whole && podFinished(pod)) this.drainPod(podName);
      }
    };
    // One tail at a time: a slow API never stacks up overlapping tails.
    const next = (this.tailing ?? Promise.resolve()).catch(() => undefined).then(run);
    this.tailing = next;
    return next;
  }

  /** Reads one container's current or previous log from its cursor and delivers the new lines. */
  private async readInstance(pod: V1Pod, podName: string, c: string, previous: boolean, final: boolean): Promise<void> {
    const cursor = this.persisted.cursors[`${podName}/${c}`];
    const since = sinceTimeFor(cursor) ?? (previous ? podSince(pod) : undefined);
    const text = await this.kube.readLog(this.plan.namespace, podName, c, since, previous ? { previous: true } : {});
    if (!text) return; // undefined: not started, gone, or (previous) no earlier instance
    const r = consumeLogChunk(cursor, text, { final });
    await this.deliver(podName, c, r.lines, cursor);
  }

  /**
   * A finished pod whose containers were all read to the end: nothing more can come from it. One that
   * had lines is kept as a compact name instead of its cursors (the next cursor write carries it).
   */
  private drainPod(podName: string): void {
    if (!Object.keys(this.persisted.cursors).some((k) => k.startsWith(`${podName}/`))) return;
    this.drainedPods.add(podName);
    this.persisted = { ...this.persisted, cursors: dropPodCursors(this.persisted.cursors, new Set([podName])) };
  }

  private startFollowers(pods: readonly V1Pod[]): void {
    if (this.followersClosed) return;
    for (const pod of pods) {
      const podName = pod.metadata?.name;
      if (!podName || this.drainedPods.has(podName)) continue;
      for (const c of podContainers(pod)) {
        const key = `${podName}/${c}`;
        const existing = this.followers.get(key);
        // A stream the server closed (idle timeout) is reopened while the container runs.
        if ((existing && !(existing.ended && statusOf(pod, c)?.state?.running)) || !containerStarted(pod, c)) continue;
        const entry: { abort: AbortController | undefined; ended: boolean } = { abort: undefined, ended: false };
        this.followers.set(key, entry);
        const reader = new LogStreamReader(this.persisted.cursors[key]);
        entry.abort = this.kube.followLog(
          this.plan.namespace,
          podName,
          c,
          sinceTimeFor(this.persisted.cursors[key]),
          (chunk) => {
            if (this.followersClosed) return;
            const start = reader.cursor;
            const lines = reader.push(chunk);
            if (lines.length) this.deliver(podName, c, lines, start).catch((e) => this.trouble(e));
          },
          () => (entry.ended = true),
        );
      }
    }
  }
}

