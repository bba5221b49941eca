/**
 * Step 4 of the lifecycle: exactly-once log delivery. Cursors live on the Job (annotation), are
 * written BEFORE the lines they cover are handed to the sink, and are also shown in heartbeat details.
 * A retry resumes from the Job's cursors. Lines at or before the persisted position are dropped, so
 * overlapping readers (a periodic or final tail and a follow stream) can never deliver a line twice or
 * move a cursor backwards. The pure cursor logic is in `../logs.ts`.
 */
import { KubernetesJobsError } from '../errors.js';
import type { KubeClient, V1Job, V1Pod } from '../kube.js';
import { LogStreamReader, consumeLogChunk, prefixLine, sinceTimeFor, type LogCursor, type LogCursors, type LogLine } from '../logs.js';
import type { JobPlan } from './plan.js';
import type { Reporter } from './report.js';

/** Annotation on the Job holding the log cursors (written before lines are delivered). */
export const LOG_CURSOR_ANNOTATION = 'temporal-k8s-jobs/log-cursors';

/** What the log sink gets with every line. */
export interface LogLineMeta {
  jobName: string;
  namespace: string;
  pod: string;
  container: string;
  time: string;
}

/** Receives every delivered line once. */
export type LogSink = (line: string, meta: LogLineMeta) => void;

interface PersistedCursors {
  cursors: LogCursors;
  seq: number;
}

const statusOf = (pod: V1Pod, c: string) => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((st) => st.name === c);
const podContainers = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
const containerDone = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.terminated;
const containerStarted = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.running || containerDone(pod, c);

/** Reads the logs of one Job's pods and delivers each line once. */
export class LogDelivery {
  private persisted: PersistedCursors;
  private deliveryChain: Promise<void> = Promise.resolve();
  private tailing: Promise<void> | undefined;
  /** Containers whose whole log was read after they terminated: nothing more can come from them. */
  private readonly drained = new Set<string>();
  private readonly followers = new Map<string, { abort: AbortController | undefined; ended: boolean }>();
  private followersClosed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  /**
   * @param job the Job as read or created (its cursor annotation is where delivery resumes)
   * @param onError called when delivery fails (ends the attempt)
   */
  constructor(
    private readonly kube: KubeClient,
    private readonly plan: JobPlan,
    private readonly sink: LogSink,
    private readonly report: Reporter,
    job: V1Job,
    private readonly onError: (e: unknown) => void,
  ) {
    this.persisted = { cursors: {}, seq: report.prior?.logSeq ?? 0 };
    const saved = job.metadata?.annotations?.[LOG_CURSOR_ANNOTATION];
    if (saved) {
      try {
        this.persisted = JSON.parse(saved) as PersistedCursors;
      } catch {
        /* unreadable cursor: start from the heartbeat's count, deliver from the start */
      }
    }
    report.logState = () => this.persisted;
  }

  /** Lines delivered so far (all attempts). */
  get seq(): number {
    return this.persisted.seq;
  }

  /** Starts the live readers of the plan's log mode (periodic tails or follow streams). */
  startLive(pods: () => readonly V1Pod[]): void {
    if (this.plan.logMode === 'periodic') this.timers.push(setInterval(() => void this.tailAll(pods(), false).catch(this.onError), this.plan.everyMs));
    if (this.plan.logMode === 'follow') {
      this.startFollowers(pods());
      this.timers.push(setInterval(() => this.startFollowers(pods()), 1000));
    }
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
    await this.deliveryChain;
    if (this.plan.logMode !== 'none') await this.tailAll(pods, true);
    await this.deliveryChain;
  }

  private async persistCursors(next: PersistedCursors): Promise<void> {
    const { namespace, jobName } = this.plan;
    const value = JSON.stringify(next);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.kube.patchJob(namespace, jobName, { metadata: { annotations: { [LOG_CURSOR_ANNOTATION]: value } } });
        return;
      } catch (err) {
        // The patch may have been applied though its answer was lost: look before trying again.
        const current = await this.kube.readJob(namespace, jobName).catch(() => undefined);
        if (current?.metadata?.annotations?.[LOG_CURSOR_ANNOTATION] === value) return;
        if ((err instanceof KubernetesJobsError && err.nonRetryable) || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt)); // backoff after an API error
      }
    }
  }

  /** Persists the advanced cursor, then hands the lines not delivered yet to the sink. Serialised. */
  private deliver(pod: string, container: string, lines: LogLine[], start: LogCursor | undefined): Promise<void> {
    const run = async () => {
      const key = `${pod}/${container}`;
      const have = this.persisted.cursors[key];
      let pos = start;
      const fresh: LogLine[] = [];
      for (const l of lines) {
        pos = pos && pos.time === l.time ? { time: l.time, seen: pos.seen + 1 } : { time: l.time, seen: 1 };
        if (!have || pos.time > have.time || (pos.time === have.time && pos.seen > have.seen)) fresh.push(l);
      }
      if (fresh.length === 0 || !pos) return;
      const next: PersistedCursors = { cursors: { ...this.persisted.cursors, [key]: pos }, seq: this.persisted.seq + fresh.length };
      await this.persistCursors(next);
      this.persisted = next;
      const { jobName, namespace } = this.plan;
      for (const l of fresh) {
        const text = prefixLine(pod, container, l.text);
        this.sink(text, { jobName, namespace, pod, container, time: l.time });
        this.report.pushLine(text);
      }
      this.report.beat();
    };
    this.deliveryChain = this.deliveryChain.then(run);
    return this.deliveryChain;
  }

  private tailAll(pods: readonly V1Pod[], final: boolean): Promise<void> {
    const run = async () => {
      for (const pod of pods) {
        const podName = pod.metadata?.name;
        if (!podName) continue;
        for (const c of podContainers(pod)) {
          // Keyed by restart count: a container restarted under restartPolicy OnFailure logs again.
          const drainedKey = `${podName}/${c}#${statusOf(pod, c)?.restartCount ?? 0}`;
          if (this.drained.has(drainedKey) || (!final && !containerStarted(pod, c))) continue;
          const done = containerDone(pod, c);
          const cursor = this.persisted.cursors[`${podName}/${c}`];
          const text = await this.kube.readLog(this.plan.namespace, podName, c, sinceTimeFor(cursor));
          if (text === undefined) continue;
          const r = consumeLogChunk(cursor, text, { final: final || done });
          await this.deliver(podName, c, r.lines, cursor);
          if (done) this.drained.add(drainedKey);
        }
      }
    };
    // One tail at a time: a slow API never stacks up overlapping tails.
    this.tailing = (this.tailing ?? Promise.resolve()).then(run);
    return this.tailing;
  }

  private startFollowers(pods: readonly V1Pod[]): void {
    if (this.followersClosed) return;
    for (const pod of pods) {
      const podName = pod.metadata?.name;
      if (!podName) continue;
      for (const c of podContainers(pod)) {
        const key = `${podName}/${c}`;
        const existing = this.followers.get(key);
        // A stream the server closed (idle timeout) is reopened while the container runs.
        if ((existing && !(existing.ended && statusOf(pod, c)?.state?.running)) || !containerStarted(pod, c)) continue;
        const entry: { abort: AbortController | undefined; ended: boolean } = { abort: undefined, ended: false };
        this.followers.set(key, entry);
        const reader = new LogStreamReader(this.persisted.cursors[key]);
        void this.kube
          .followLog(
            this.plan.namespace,
            podName,
            c,
            sinceTimeFor(this.persisted.cursors[key]),
            (chunk) => {
              if (this.followersClosed) return;
              const start = reader.cursor;
              const lines = reader.push(chunk);
              if (lines.length) this.deliver(podName, c, lines, start).catch(this.onError);
            },
            () => (entry.ended = true),
          )
          .then((a) => {
            entry.abort = a;
            if (this.followersClosed) a.abort(); // answered after the Job ended: close it at once
          });
      }
    }
  }
}
