/**
 * Pure interpretation of a Job and its pods: completion, fast failures, summaries, exit codes, output
 * and failure details. No I/O, no Kubernetes client: the shapes below are the fields this module reads
 * of `@kubernetes/client-node` 1.4 `V1Job`/`V1Pod`/`CoreV1Event` objects (camelCase, timestamps as
 * `Date`; ISO strings are accepted too).
 */
import type { FailureTypeName } from './failures.js';
import type { ContainerSummary, PodSummary } from './types.js';
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
export function interpretWatchedJob(job: JobLike | undefined, pods: readonly PodLike[], opts: { now: number; failFastGraceMs: number }): JobState | 'deleted' {
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
 *   `ImagePullFailed`; a pod whose `PodScheduled` condition is `False`/`Unschedulable` since more than
 *   `failFastGraceMs` (condition's `lastTransitionTime`, else the pod's creation) -> `Unschedulable`.
 * - Otherwise running: phase `Running` when a pod is in phase Running, else `Pending`; counts from
 *   `job.status` (default 0).
 */
export function interpretJob(job: JobLike, pods: readonly PodLike[], opts: { now: number; failFastGraceMs: number }): JobState {
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
    const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (sched && sched.status === 'False' && sched.reason === 'Unschedulable') {
      const since = toMillis(sched.lastTransitionTime) ?? created;
      if (since !== undefined && opts.now - since > opts.failFastGraceMs) {
        return {
          kind: 'failed',
          type: 'Unschedulable',
          reason: 'Unschedulable',
          message: `Job '${ref}': pod '${podName}' cannot be scheduled: ${sched.message || 'Unschedulable'}`,
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
