/**
 * Pure interpretation of a Job and its pods: completion, fast failures, summaries, exit codes, output
 * and failure details. No I/O, no Kubernetes client: the shapes below are the fields this module reads
 * of `@kubernetes/client-node` 1.4 `V1Job`/`V1Pod`/`CoreV1Event` objects (camelCase, timestamps as
 * `Date`; ISO strings are accepted too).
 */
import type { FailureTypeName } from './failures.js';
import type { ContainerSummary, KubernetesJobResult, PodSummary, ResultTruncation } from './types.js';
import { truncateBytes } from './logs.js';

/** A timestamp as the client returns it (`Date`) or as JSON has it (ISO string). */
export type Timestamp = string | Date;

/** `V1ContainerState`. */
export interface ContainerStateLike {
  waiting?: { reason?: string; message?: string } | undefined;
  running?: { startedAt?: Timestamp } | undefined;
  terminated?: { exitCode?: number; reason?: string; message?: string; signal?: number; startedAt?: Timestamp; finishedAt?: Timestamp } | undefined;
}

/** `V1ContainerStatus`. */
export interface ContainerStatusLike {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerStateLike | undefined;
  lastState?: ContainerStateLike | undefined;
}

/** `V1PodCondition` / `V1JobCondition`. */
export interface ConditionLike {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: Timestamp;
}

/** `V1Pod`, as far as this module reads it. */
export interface PodLike {
  metadata?: { name?: string; namespace?: string; creationTimestamp?: Timestamp; deletionTimestamp?: Timestamp } | undefined;
  spec?: { containers?: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[] } | undefined;
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: ConditionLike[];
    containerStatuses?: ContainerStatusLike[];
    initContainerStatuses?: ContainerStatusLike[];
  } | undefined;
}

/** `V1Job`, as far as this module reads it. */
export interface JobLike {
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: Timestamp } | undefined;
  spec?: { activeDeadlineSeconds?: number; backoffLimit?: number } | undefined;
  status?: { active?: number; succeeded?: number; failed?: number; ready?: number; conditions?: ConditionLike[] } | undefined;
}

/** `CoreV1Event` (or `EventsV1Event` mapped to these fields). */
export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string } | undefined;
  eventTime?: Timestamp | null | undefined;
  lastTimestamp?: Timestamp | null | undefined;
  firstTimestamp?: Timestamp | null | undefined;
  metadata?: { creationTimestamp?: Timestamp } | undefined;
}

/**
 * What is known of cluster-autoscaler scale-ups for one pod: when its events were last listed
 * (`checkedAt`), and the time of the latest `TriggeredScaleUp` event then (`at`; undefined: none).
 */
export interface ScaleUpInfo {
  checkedAt: number;
  at?: number | undefined;
}

/** Options of {@link interpretJob}. */
export interface InterpretOptions {
  /** Milliseconds since the epoch. */
  now: number;
  /** How long a pod may wait on an image pull before the Job fails fast (`ImagePullFailed`). */
  failFastGraceMs: number;
  /** How long a pod may stay unschedulable before the Job fails (`Unschedulable`). @default failFastGraceMs */
  unschedulableGraceMs?: number | undefined;
  /**
   * What is known of scale-ups per pod name. When given, an unschedulable pod fails the Job only once
   * its events were listed after its deadline (`undefined` from the lookup: not listed yet, so it waits).
   * When left out, no scale-up is known and none is waited for.
   */
  scaleUp?: ((pod: string) => ScaleUpInfo | undefined) | undefined;
}

/**
 * How long a pod that triggered a cluster-autoscaler scale-up may still wait, counted from its latest
 * `TriggeredScaleUp` event (at least): cluster-autoscaler's default `--max-node-provision-time`.
 */
export const SCALE_UP_WAIT_MS = 15 * 60_000;
/** Tolerated clock difference between the scheduler's condition time and the autoscaler's event time. */
const SCALE_UP_SKEW_MS = 5_000;

/**
 * When an unschedulable pod fails the Job: `since` + the grace, or, when a scale-up was triggered
 * since it became unschedulable, the latest scale-up + max(grace, {@link SCALE_UP_WAIT_MS}),
 * whichever is later.
 */
export function unschedulableDeadline(since: number, graceMs: number, scaleUpAt: number | undefined): number {
  const base = since + graceMs;
  if (scaleUpAt === undefined || scaleUpAt < since - SCALE_UP_SKEW_MS) return base;
  return Math.max(base, scaleUpAt + Math.max(graceMs, SCALE_UP_WAIT_MS));
}

/** Since when a pod (not being deleted) is unschedulable; undefined when it is not. */
export function unschedulableSince(p: PodLike): number | undefined {
  if (p.metadata?.deletionTimestamp) return undefined;
  const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (!sched || sched.status !== 'False' || sched.reason !== 'Unschedulable') return undefined;
  return toMillis(sched.lastTransitionTime) ?? toMillis(p.metadata?.creationTimestamp);
}

/** Whether some pod of the Job runs or has succeeded (then an unschedulable sibling is a matter of capacity, not a broken spec). */
export function someRunningOrSucceeded(job: JobLike, pods: readonly PodLike[]): boolean {
  return (job.status?.succeeded ?? 0) > 0 || pods.some((p) => !p.metadata?.deletionTimestamp && (p.status?.phase === 'Running' || p.status?.phase === 'Succeeded'));
}

/** Whether some pod runs (a Job is never suspended then: suspension would kill it). */
export function someRunning(pods: readonly PodLike[]): boolean {
  return pods.some((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
}

/** Whether the Job has a final condition (`Complete` or `Failed` True). */
export function jobFinished(job: JobLike | undefined): boolean {
  return (job?.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** What {@link interpretJob} concludes about a Job. */
export type JobState =
  | { kind: 'running'; phase: 'Pending' | 'Running'; active: number; succeeded: number; failed: number }
  | { kind: 'succeeded' }
  | { kind: 'failed'; type: FailureTypeName; reason: string; message: string };

/** Waiting reasons that mean the image cannot be pulled. */
export const IMAGE_PULL_REASONS: readonly string[] = Object.freeze(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/** Upper bound (UTF-8 bytes) of each message/text in {@link failureDetails}. */
export const DETAIL_TEXT_MAX_BYTES = 1024;
/** Number of events kept in {@link failureDetails}. */
export const DETAIL_EVENTS = 10;
/** Number of pods kept in {@link failureDetails}. */
export const DETAIL_PODS = 20;

/** Milliseconds since the epoch of a timestamp; undefined when missing or unparsable. */
export function toMillis(t: Timestamp | null | undefined): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

function toIso(t: Timestamp | null | undefined): string | undefined {
  const ms = toMillis(t);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** Pods ordered by creation time, then name (deterministic whatever order the API listed them in). */
function ordered(pods: readonly PodLike[]): PodLike[] {
  return [...pods].sort((a, b) => {
    const ta = toMillis(a.metadata?.creationTimestamp) ?? 0;
    const tb = toMillis(b.metadata?.creationTimestamp) ?? 0;
    if (ta !== tb) return ta - tb;
    const na = a.metadata?.name ?? '';
    const nb = b.metadata?.name ?? '';
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/** Container statuses in spec order; spec containers without a status yet come as `undefined`. */
function statusesInSpecOrder(
  specContainers: { name: string }[] | undefined,
  statuses: ContainerStatusLike[] | undefined,
): { name: string; status: ContainerStatusLike | undefined }[] {
  const st = statuses ?? [];
  if (!specContainers || specContainers.length === 0) return st.map((s) => ({ name: s.name, status: s }));
  const out = specContainers.map((c) => ({ name: c.name, status: st.find((s) => s.name === c.name) }));
  for (const s of st) if (!specContainers.some((c) => c.name === s.name)) out.push({ name: s.name, status: s });
  return out;
}

function summarizeContainer(name: string, s: ContainerStatusLike | undefined): ContainerSummary {
  const restartCount = s?.restartCount ?? 0;
  const st = s?.state;
  if (st?.terminated) {
    return clean({ name, state: 'terminated', reason: st.terminated.reason, exitCode: st.terminated.exitCode, message: st.terminated.message, restartCount });
  }
  if (st?.running) return { name, state: 'running', restartCount };
  if (st?.waiting) return clean({ name, state: 'waiting', reason: st.waiting.reason, message: st.waiting.message, restartCount });
  return { name, state: 'unknown', restartCount };
}

/** Drops `undefined` properties (results stay JSON-clean and compare simply). */
function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * Summaries of the Job's pods, ordered by creation time (then name). Containers are the pod's regular
 * containers in spec order (from `status.containerStatuses`; a spec container without a status yet is
 * `state: 'unknown'`). Init containers are included only with `{ initContainers: true }`, before the
 * regular ones and named `init:<name>`; they are left out by default so that `containers` are the
 * Job's workload. For a terminated container `message` is its termination message; for a waiting one,
 * the waiting message.
 */
export function summarizePods(pods: readonly PodLike[], opts: { initContainers?: boolean } = {}): PodSummary[] {
  return ordered(pods).map((p) => {
    const containers = statusesInSpecOrder(p.spec?.containers, p.status?.containerStatuses).map(({ name, status }) => summarizeContainer(name, status));
    const init = opts.initContainers
      ? statusesInSpecOrder(p.spec?.initContainers, p.status?.initContainerStatuses).map(({ name, status }) => summarizeContainer(`init:${name}`, status))
      : [];
    return { name: p.metadata?.name ?? '', phase: p.status?.phase ?? 'Unknown', containers: [...init, ...containers] };
  });
}

function jobRef(job: JobLike): string {
  const name = job.metadata?.name ?? '';
  const ns = job.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

const isTrue = (c: ConditionLike | undefined): boolean => c?.status === 'True';

/** The exit code a container failed with: its terminated state, else (restarting) its last state. */
function failedTermination(s: ContainerStatusLike): { exitCode: number; reason?: string | undefined } | undefined {
  const t = s.state?.terminated ?? (s.state?.running ? undefined : s.lastState?.terminated);
  if (t && typeof t.exitCode === 'number' && t.exitCode !== 0) return { exitCode: t.exitCode, reason: t.reason };
  return undefined;
}

/** The first container (pods by creation time; init containers, then containers, in spec order) that exited non-zero. */
export function firstFailedContainer(pods: readonly PodLike[]): { pod: string; container: string; exitCode: number; reason?: string } | undefined {
  for (const p of ordered(pods)) {
    const all = [
      ...statusesInSpecOrder(p.spec?.initContainers, p.status?.initContainerStatuses),
      ...statusesInSpecOrder(p.spec?.containers, p.status?.containerStatuses),
    ];
    for (const { name, status } of all) {
      const f = status && failedTermination(status);
      if (f) return clean({ pod: p.metadata?.name ?? '', container: name, exitCode: f.exitCode, reason: f.reason });
    }
  }
  return undefined;
}

/**
 * What the watch concludes from the Job as last listed or watched (undefined: it does not exist).
 * A final condition wins over deletion: a Job that completed and is being deleted (e.g. by
 * `ttlSecondsAfterFinished` while a retry re-attaches) reports its outcome; only a Job that is gone or
 * being deleted before it finished is `'deleted'`.
 */
export function interpretWatchedJob(job: JobLike | undefined, pods: readonly PodLike[], opts: InterpretOptions): JobState | 'deleted' {
  if (!job) return 'deleted';
  const state = interpretJob(job, pods, opts);
  if (state.kind === 'running' && job.metadata?.deletionTimestamp) return 'deleted';
  return state;
}

/**
 * Interprets a Job and its pods.
 *
 * - Completion comes only from `job.status.conditions`, with `status === 'True'` (the string):
 *   `Complete` -> succeeded; `Failed` or `FailureTarget` -> failed, of type `DeadlineExceeded` when the
 *   condition's reason is `DeadlineExceeded` (message `Job 'ns/name' exceeded its deadline
 *   (activeDeadlineSeconds=N)`), else `JobFailed` (message `Job 'ns/name' failed: <reason> (container 'c'
 *   exit code N)`, naming the first container that exited non-zero, the parenthesis left out when none
 *   is known). `SuccessCriteriaMet` alone is not completion.
 * - While not complete, pods not being deleted fail fast: a container or init container waiting with an
 *   image pull reason ({@link IMAGE_PULL_REASONS}) in a pod created more than `failFastGraceMs` ago ->
 *   `ImagePullFailed`.
 * - A pod whose `PodScheduled` condition is `False`/`Unschedulable` (since its `lastTransitionTime`,
 *   else the pod's creation) -> `Unschedulable` once past {@link unschedulableDeadline} (the
 *   `unschedulableGraceMs`, longer after a cluster-autoscaler `TriggeredScaleUp`), and only when its
 *   events were listed after that deadline (with `scaleUp`), and never while another pod of the Job
 *   runs or has succeeded: that is a matter of capacity, not a broken spec.
 * - Otherwise running: phase `Running` when a pod is in phase Running, else `Pending`; counts from
 *   `job.status` (default 0).
 */
export function interpretJob(job: JobLike, pods: readonly PodLike[], opts: InterpretOptions): JobState {
  const ref = jobRef(job);
  const conditions = job.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Complete' && isTrue(c))) return { kind: 'succeeded' };
  const failed = conditions.find((c) => c.type === 'Failed' && isTrue(c)) ?? conditions.find((c) => c.type === 'FailureTarget' && isTrue(c));
  if (failed) {
    const reason = failed.reason || 'Failed';
    if (reason === 'DeadlineExceeded') {
      const d = job.spec?.activeDeadlineSeconds;
      return {
        kind: 'failed',
        type: 'DeadlineExceeded',
        reason,
        message: `Job '${ref}' exceeded its deadline${d === undefined || d === null ? '' : ` (activeDeadlineSeconds=${d})`}`,
      };
    }
    const c = firstFailedContainer(pods);
    return {
      kind: 'failed',
      type: 'JobFailed',
      reason,
      message: `Job '${ref}' failed: ${reason}${c ? ` (container '${c.container}' exit code ${c.exitCode})` : ''}`,
    };
  }

  const capacityOnly = someRunningOrSucceeded(job, pods);
  for (const p of ordered(pods)) {
    if (p.metadata?.deletionTimestamp) continue;
    const podName = p.metadata?.name ?? '';
    const created = toMillis(p.metadata?.creationTimestamp);
    const specs = [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])];
    if (created !== undefined && opts.now - created > opts.failFastGraceMs) {
      for (const s of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
        const w = s.state?.waiting;
        if (w?.reason && IMAGE_PULL_REASONS.includes(w.reason)) {
          const image = specs.find((c) => c.name === s.name)?.image ?? s.image ?? '';
          return {
            kind: 'failed',
            type: 'ImagePullFailed',
            reason: w.reason,
            message: `Job '${ref}': pod '${podName}' cannot pull image '${image}' for container '${s.name}': ${w.reason}${w.message ? ` (${w.message})` : ''}`,
          };
        }
      }
    }
    const since = unschedulableSince(p);
    if (since !== undefined && !capacityOnly) {
      const info = opts.scaleUp?.(podName);
      const deadline = unschedulableDeadline(since, opts.unschedulableGraceMs ?? opts.failFastGraceMs, info?.at);
      // With scale-up tracking, only a look at the pod's events made after the deadline may fail it.
      if (opts.now > deadline && (!opts.scaleUp || (info !== undefined && info.checkedAt > deadline))) {
        const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
        return {
          kind: 'failed',
          type: 'Unschedulable',
          reason: 'Unschedulable',
          message: `Job '${ref}': pod '${podName}' cannot be scheduled: ${sched?.message || 'Unschedulable'}${info?.at !== undefined && info.at >= since - SCALE_UP_SKEW_MS ? ' (a cluster-autoscaler scale-up it triggered brought no room)' : ''}`,
        };
      }
    }
  }

  const running = pods.some((p) => p.status?.phase === 'Running');
  return {
    kind: 'running',
    phase: running ? 'Running' : 'Pending',
    active: job.status?.active ?? 0,
    succeeded: job.status?.succeeded ?? 0,
    failed: job.status?.failed ?? 0,
  };
}

/**
 * Exit code per `pod/container` of every container (init containers included) that terminated: its
 * terminated state, or, while it waits to restart, its last terminated state.
 */
export function exitCodes(pods: readonly PodLike[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ordered(pods)) {
    const pod = p.metadata?.name ?? '';
    for (const s of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const t = s.state?.terminated ?? (s.state?.waiting ? s.lastState?.terminated : undefined);
      if (t && typeof t.exitCode === 'number') out[`${pod}/${s.name}`] = t.exitCode;
    }
  }
  return out;
}

/** Latest `finishedAt` of a pod's terminated containers. */
function completedAt(p: PodLike): number {
  let max = -Infinity;
  for (const s of p.status?.containerStatuses ?? []) {
    const t = toMillis(s.state?.terminated?.finishedAt);
    if (t !== undefined && t > max) max = t;
  }
  return max;
}

/** A termination message as output: JSON-parsed when it is JSON, else the trimmed text. */
export function parseOutput(message: string): unknown {
  const text = message.trim();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The Job's output: the termination message of its container. Pods that succeeded come first (latest
 * completion first), then the others (latest completion first); in each pod, the first regular
 * container (spec order) whose terminated state has a non-empty (after trimming) message. Parsed as
 * JSON when it parses, else the trimmed string. Undefined when no container left a message.
 */
export function jobOutput(pods: readonly PodLike[]): unknown {
  const candidates = [...pods].sort((a, b) => {
    const sa = a.status?.phase === 'Succeeded' ? 1 : 0;
    const sb = b.status?.phase === 'Succeeded' ? 1 : 0;
    if (sa !== sb) return sb - sa;
    return completedAt(b) - completedAt(a) || 0;
  });
  for (const p of candidates) {
    for (const { status } of statusesInSpecOrder(p.spec?.containers, p.status?.containerStatuses)) {
      const m = status?.state?.terminated?.message;
      if (typeof m === 'string' && m.trim() !== '') return parseOutput(m);
    }
  }
  return undefined;
}

/** JSON-serialisable failure details (see {@link failureDetails}). */
export interface FailureDetails {
  job: {
    namespace?: string;
    name?: string;
    active: number;
    succeeded: number;
    failed: number;
    conditions: { type: string; status: string; reason?: string; message?: string }[];
  };
  pods: {
    name: string;
    phase: string;
    reason?: string;
    message?: string;
    containers: (ContainerSummary & { init?: true })[];
  }[];
  /** Number of pods left out of `pods` (more than {@link DETAIL_PODS}). */
  podsOmitted?: number;
  exitCodes: Record<string, number>;
  events: { type?: string; reason?: string; message?: string; object?: string; time?: string; count?: number }[];
  logTail: string[];
}

const bound = (s: string | undefined): string | undefined => (s === undefined ? undefined : truncateBytes(s, DETAIL_TEXT_MAX_BYTES));

function eventTime(e: EventLike): number {
  return toMillis(e.lastTimestamp) ?? toMillis(e.eventTime) ?? toMillis(e.firstTimestamp) ?? toMillis(e.metadata?.creationTimestamp) ?? 0;
}

/**
 * Details for a failure (`ApplicationFailure.details`): the Job's counts and conditions, pod phases with
 * every container's (init containers flagged `init: true`) state, reason, exit code and message, exit
 * codes, the last {@link DETAIL_EVENTS} events (by time, oldest first) and the log tail. Plain JSON, and
 * bounded: each message/line at most {@link DETAIL_TEXT_MAX_BYTES} bytes, at most {@link DETAIL_PODS}
 * pods (the most recent).
 */
export function failureDetails(job: JobLike, pods: readonly PodLike[], events: readonly EventLike[], logTail: readonly string[]): FailureDetails {
  const all = ordered(pods);
  const kept = all.slice(-DETAIL_PODS);
  const details: FailureDetails = {
    job: clean({
      namespace: job.metadata?.namespace,
      name: job.metadata?.name,
      active: job.status?.active ?? 0,
      succeeded: job.status?.succeeded ?? 0,
      failed: job.status?.failed ?? 0,
      conditions: (job.status?.conditions ?? []).map((c) => clean({ type: c.type, status: c.status, reason: c.reason, message: bound(c.message) })),
    }),
    pods: kept.map((p) => {
      const init = statusesInSpecOrder(p.spec?.initContainers, p.status?.initContainerStatuses).map(({ name, status }) => ({
        ...summarizeContainer(name, status),
        init: true as const,
      }));
      const main = statusesInSpecOrder(p.spec?.containers, p.status?.containerStatuses).map(({ name, status }) => summarizeContainer(name, status));
      return clean({
        name: p.metadata?.name ?? '',
        phase: p.status?.phase ?? 'Unknown',
        reason: p.status?.reason,
        message: bound(p.status?.message),
        containers: [...init, ...main].map((c) => clean({ ...c, message: bound(c.message) })),
      });
    }),
    exitCodes: exitCodes(pods),
    events: [...events]
      .map((e, i) => ({ e, i, t: eventTime(e) }))
      .sort((a, b) => a.t - b.t || a.i - b.i)
      .slice(-DETAIL_EVENTS)
      .map(({ e }) =>
        clean({
          type: e.type,
          reason: e.reason,
          message: bound(e.message),
          object: e.involvedObject ? `${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''}` : undefined,
          time: toIso(e.lastTimestamp) ?? toIso(e.eventTime) ?? toIso(e.firstTimestamp) ?? toIso(e.metadata?.creationTimestamp),
          count: e.count,
        }),
      ),
    logTail: logTail.map((l) => truncateBytes(l, DETAIL_TEXT_MAX_BYTES)),
  };
  if (all.length > kept.length) details.podsOmitted = all.length - kept.length;
  return details;
}

/** Upper bound (UTF-8 bytes of its JSON) of a success result and of a recorded failure: far below Temporal's 2 MB payload limit, and small enough to be kept on the Job (annotations: 256 KiB in all). */
export const RESULT_MAX_BYTES = 96 * 1024;
/** Pods kept in a result's `pods` (the most recent). */
export const RESULT_PODS = 50;
/** Upper bound (UTF-8 bytes) of each container message in a result's `pods`. */
export const RESULT_MESSAGE_MAX_BYTES = 512;
/** Upper bound (UTF-8 bytes of its JSON) of a result's `output`. */
export const RESULT_OUTPUT_MAX_BYTES = 16 * 1024;

const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');

/**
 * A success result within `maxBytes` (its JSON, UTF-8), with `truncated` saying what was cut (left
 * out when nothing was):
 * - `pods`: at most {@link RESULT_PODS}, the most recent (`truncated.pods`: how many were left out);
 *   `exitCodes` only of the kept pods (`truncated.exitCodes`: entries left out);
 * - each container message at most {@link RESULT_MESSAGE_MAX_BYTES} (`truncated.messages`: how many were cut);
 * - `output` over {@link RESULT_OUTPUT_MAX_BYTES} becomes its text, cut (`truncated.output`: its size in bytes);
 * - then the oldest `logTail` lines go (`truncated.logTail`: how many), then more pods, until it fits.
 * Pure; the input is not changed.
 */
export function boundResult(result: KubernetesJobResult, maxBytes = RESULT_MAX_BYTES): KubernetesJobResult {
  const t: ResultTruncation = { ...(result.truncated ?? {}) };
  const add = (k: keyof ResultTruncation, n: number) => {
    if (n > 0) t[k] = (t[k] ?? 0) + n;
  };
  let pods = result.pods;
  if (pods.length > RESULT_PODS) {
    add('pods', pods.length - RESULT_PODS);
    pods = pods.slice(-RESULT_PODS);
  }
  let cut = 0;
  pods = pods.map((p) => ({
    ...p,
    containers: p.containers.map((c) => {
      if (c.message === undefined || Buffer.byteLength(c.message, 'utf8') <= RESULT_MESSAGE_MAX_BYTES) return c;
      cut++;
      return { ...c, message: truncateBytes(c.message, RESULT_MESSAGE_MAX_BYTES) };
    }),
  }));
  add('messages', cut);
  const keepCodes = (kept: PodSummary[]) => {
    const names = new Set(kept.map((p) => p.name));
    const codes: Record<string, number> = {};
    let dropped = 0;
    for (const [k, v] of Object.entries(result.exitCodes)) {
      if (names.has(k.slice(0, k.lastIndexOf('/')))) codes[k] = v;
      else dropped++;
    }
    return { codes, dropped };
  };
  let { codes: exitCodes, dropped: codesDropped } = result.pods.length === pods.length ? { codes: result.exitCodes, dropped: 0 } : keepCodes(pods);
  let output = result.output;
  const outputBytes = output === undefined ? 0 : jsonBytes(output);
  if (outputBytes > RESULT_OUTPUT_MAX_BYTES) {
    output = truncateBytes(typeof output === 'string' ? output : JSON.stringify(output), RESULT_OUTPUT_MAX_BYTES - 64);
    t.output = outputBytes;
  }
  let logTail = result.logTail;
  const build = (): KubernetesJobResult => {
    const r: KubernetesJobResult = { ...result, pods, exitCodes, logTail };
    if (output === undefined) delete r.output;
    else r.output = output;
    const marks = { ...t };
    if (codesDropped > 0) marks.exitCodes = (marks.exitCodes ?? 0) + codesDropped;
    if (Object.keys(marks).length) r.truncated = marks;
    else delete r.truncated;
    return r;
  };
  let r = build();
  // Room for the markers themselves.
  const budget = maxBytes - 200;
  // The oldest lines go first: each costs its JSON text and a comma.
  let over = jsonBytes(r) - budget;
  if (over > 0 && logTail.length) {
    let drop = 0;
    while (drop < result.logTail.length && over > 0) over -= jsonBytes(result.logTail[drop++]) + 1;
    for (; drop <= result.logTail.length; drop++) {
      logTail = result.logTail.slice(drop);
      r = build();
      if (jsonBytes(r) <= budget) break;
    }
    add('logTail', result.logTail.length - logTail.length);
    r = build();
  }
  while (jsonBytes(r) > budget && pods.length > 0) {
    const keep = Math.floor(pods.length / 2);
    add('pods', pods.length - keep);
    pods = keep ? pods.slice(-keep) : [];
    ({ codes: exitCodes, dropped: codesDropped } = keepCodes(pods));
    r = build();
  }
  return r;
}

/**
 * Failure details within `maxBytes` (their JSON, UTF-8): the oldest log lines go first, then the
 * oldest events, then the oldest pods, each counted in `truncated` (`logTail`, `events`, `pods`).
 * Pure; the input is not changed.
 */
export function boundFailureDetails<T extends FailureDetails>(details: T, maxBytes = RESULT_MAX_BYTES): T & { truncated?: Record<string, number> } {
  const budget = maxBytes - 200;
  const out: T & { truncated?: Record<string, number> } = { ...details, logTail: [...details.logTail], events: [...details.events], pods: [...details.pods] };
  const marks: Record<string, number> = {};
  const lists = ['logTail', 'events', 'pods'] as const;
  for (const key of lists) {
    let size = jsonBytes(out);
    if (size <= budget) break;
    const list = out[key] as unknown[];
    let dropped = 0;
    while (list.length && size > budget) {
      size -= jsonBytes(list.shift()) + 1;
      dropped++;
    }
    if (key === 'pods') out.podsOmitted = (out.podsOmitted ?? 0) + dropped;
    else if (dropped) marks[key] = dropped;
  }
  if (Object.keys(marks).length) out.truncated = marks;
  return out;
}

/** Reason of the event cluster-autoscaler records on a pod whose scheduling made it add nodes. */
export const TRIGGERED_SCALE_UP = 'TriggeredScaleUp';

/** Time of the latest `TriggeredScaleUp` event about the pod (by name, and UID when both are known); undefined when none. */
export function latestScaleUp(events: readonly EventLike[], pod: { name: string; uid?: string | undefined }): number | undefined {
  let latest: number | undefined;
  for (const e of events) {
    const o = e.involvedObject as { kind?: string; name?: string; uid?: string } | undefined;
    if (e.reason !== TRIGGERED_SCALE_UP || (o?.kind && o.kind !== 'Pod') || o?.name !== pod.name || (pod.uid && o?.uid && o.uid !== pod.uid)) continue;
    const t = eventTime(e);
    if (t > 0 && (latest === undefined || t > latest)) latest = t;
  }
  return latest;
}
