/**
 * The Job lifecycle as a Temporal activity: render -> apply (or re-attach) -> wait -> logs -> cleanup.
 *
 * Crash safety, step by step (what a retry finds if the worker dies at any line):
 * - The Job's name is a pure function of workflow id, run id and activity id (unless the template or
 *   input fixes one), and every object carries ownership annotations. A retry reads the Job by name:
 *   owned -> re-attach; missing -> create; owned by someone else -> JobNameConflict.
 * - The Job is created suspended, companions are created with ownerReferences to it, then the Job is
 *   resumed. A retry re-runs the companion and resume steps; both are idempotent.
 * - Log cursors are written to the Job (annotation) BEFORE the lines they cover are handed to the
 *   logger, and also shown in heartbeat details. A retry resumes from the Job's cursors, so no line
 *   is ever delivered twice; a line can only be lost if the worker dies between that write being
 *   acknowledged and the synchronous hand-off that follows it (no await in between).
 * - Cancellation of the workflow deletes the Job with Foreground propagation and waits until it and its
 *   pods are gone before the activity reports cancelled. A worker shutdown also cancels the activity,
 *   but leaves the Job: the retry on another worker re-attaches.
 */
import * as yaml from 'js-yaml';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { FailureType } from './failures.js';
import { KubernetesJobsError } from './errors.js';
import { renderTemplate, writeRendered } from './render.js';
import { KEEP_ANNOTATION, type KubernetesObject } from './manifest.js';
import { KubeClient, defaultNamespace, loadKubeConfig, type KubeConfig, type LoadKubeConfigOptions, type V1Job, type V1Pod } from './kube.js';
import { applyOwnership, deriveJobName, isOwnedBy, type Owner } from './naming.js';
import { exitCodes, failureDetails, interpretJob, jobOutput, summarizePods, type JobState } from './job-status.js';
import { LogStreamReader, LogTail, consumeLogChunk, prefixLine, sinceTimeFor, type LogCursor, type LogCursors, type LogLine } from './logs.js';
import type { CleanupPolicy, JobProgress, KubernetesJobInput, KubernetesJobResult, LogMode } from './types.js';
import { createDagActivities } from './dag-activities.js';

/** Annotation on the Job holding the log cursors (written before lines are delivered). */
export const LOG_CURSOR_ANNOTATION = 'temporal-k8s-jobs/log-cursors';
/** Annotation marking a Job this package created suspended (to create companions first). */
export const SUSPENDED_ANNOTATION = 'temporal-k8s-jobs/created-suspended';

/** Options of {@link createKubernetesJobActivities}. */
export interface KubernetesJobActivitiesOptions {
  /** Template directories searched before the package's `templates/`. @default [] */
  templateDirs?: string[];
  /** Namespace for Jobs whose input and template name none. @default the credentials' namespace, else 'default' */
  namespace?: string;
  /** Credentials, or a ready KubeConfig. @default auto-detected (in-cluster, else KUBECONFIG / ~/.kube/config) */
  kubeConfig?: LoadKubeConfigOptions | KubeConfig;
  /** Defaults for inputs that leave these out. */
  defaults?: {
    /** @default 'periodic' */
    logMode?: LogMode;
    /** @default 10 */
    logEverySeconds?: number;
    /** @default 50 */
    tailLines?: number;
    /** @default 'onSuccess' */
    cleanup?: CleanupPolicy;
    /** @default 60 */
    failFastGraceSeconds?: number;
    /** @default 3600 */
    timeoutSeconds?: number;
  };
  /** Where log lines go. @default the activity logger (`log.info(line)`) */
  logSink?: (line: string, meta: { jobName: string; namespace: string; pod: string; container: string; time: string }) => void;
  /** Seconds between heartbeats (progress and cancellation delivery). @default 2 */
  heartbeatSeconds?: number;
}

/** Heartbeat details of the run activity (progress for the UI and the CLI). */
export interface RunJobHeartbeat {
  progress: JobProgress;
  /** Log lines delivered so far (all attempts). */
  logSeq: number;
  /** The last <= 50 delivered lines; recentLines[i] has sequence number logSeq - recentLines.length + 1 + i. */
  recentLines: string[];
  cursors: LogCursors;
  /** UID of the Job this execution created (a retry never creates a second one). */
  jobUid?: string;
}

interface PersistedCursors {
  cursors: LogCursors;
  seq: number;
}

const RECENT_LINES = 50;

function toFailure(err: unknown): unknown {
  if (err instanceof KubernetesJobsError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      nonRetryable: err.nonRetryable,
      details: err.details ? [err.details] : [],
    });
  }
  return err;
}

/**
 * Creates the activities. Register them on a worker (or use {@link KubernetesJobsPlugin}).
 *
 * @example
 * const worker = await Worker.create({
 *   taskQueue: 'kubernetes-jobs', workflowsPath,
 *   activities: createKubernetesJobActivities({ templateDirs: ['./templates'] }),
 * });
 */
export function createKubernetesJobActivities(options: KubernetesJobActivitiesOptions = {}) {
  let client: KubeClient | undefined;
  const kube = (): KubeClient => {
    if (!client) {
      const kc = options.kubeConfig && 'makeApiClient' in options.kubeConfig ? options.kubeConfig : loadKubeConfig(options.kubeConfig as LoadKubeConfigOptions | undefined);
      client = new KubeClient(kc);
    }
    return client;
  };

  return {
    ...createDagActivities(options),
    /** Renders, applies and waits for one Kubernetes Job. See {@link KubernetesJobInput}. */
    async kubernetesJobsRunJob(input: KubernetesJobInput): Promise<KubernetesJobResult> {
      try {
        return await runJob(input, options, kube());
      } catch (err) {
        throw toFailure(err);
      }
    },
  };
}

/** The activities' type, for `proxyActivities<KubernetesJobActivities>()`. */
export type KubernetesJobActivities = ReturnType<typeof createKubernetesJobActivities>;

async function runJob(input: KubernetesJobInput, options: KubernetesJobActivitiesOptions, kube: KubeClient): Promise<KubernetesJobResult> {
  const ctx = Context.current();
  const info = ctx.info;
  // Standalone activities (no workflow) have no workflow execution; they get a name from the activity id alone.
  const owner: Owner = { workflowId: info.workflowExecution?.workflowId ?? '', runId: info.workflowExecution?.runId ?? '', activityId: info.activityId };
  const d = options.defaults ?? {};
  const logMode = input.logs?.mode ?? d.logMode ?? 'periodic';
  const everyMs = Math.max(1, input.logs?.everySeconds ?? d.logEverySeconds ?? 10) * 1000;
  const tailLines = input.logs?.tailLines ?? d.tailLines ?? 50;
  const cleanup = input.cleanup ?? d.cleanup ?? 'onSuccess';
  const graceMs = (input.failFastGraceSeconds ?? d.failFastGraceSeconds ?? 60) * 1000;
  const timeoutMs = (input.timeoutSeconds ?? d.timeoutSeconds ?? 3600) * 1000;
  const heartbeatMs = (options.heartbeatSeconds ?? 2) * 1000;

  // 1. Render. Template and manifest errors are non-retryable and create nothing.
  const rendered = renderTemplate(input.template, {
    templateDirs: options.templateDirs ?? [],
    values: { ...(input.values ?? {}), steps: input.steps ?? {} },
  });
  const namespace = input.namespace ?? rendered.job.metadata?.namespace ?? options.namespace ?? defaultNamespace(kube.kc);
  // A readable activity id (a DAG step's, e.g. `transform-3`) leads the derived name; SDK sequence numbers do not.
  const jobName = input.name ?? rendered.job.metadata?.name ?? deriveJobName({ ...owner, prefix: /^\d+$/.test(owner.activityId) ? undefined : owner.activityId });
  const manifests = applyOwnership(rendered.manifests, owner, jobName, namespace);
  const jobManifest = manifests.find((m) => m.kind === 'Job')!;
  const companions = manifests.filter((m) => m !== jobManifest);
  if (input.writeRenderedTo) {
    writeRendered(input.writeRenderedTo, `${jobName}.yaml`, manifests.map((m) => yaml.dump(JSON.parse(JSON.stringify(m)) as unknown, { noRefs: true, lineWidth: -1 })).join('---\n'));
  }
  const target = `Job '${namespace}/${jobName}'`;

  // Progress, logs and heartbeats.
  const prior = (info.heartbeatDetails ?? undefined) as RunJobHeartbeat | undefined;
  const tail = new LogTail(tailLines);
  const recent: string[] = [...(prior?.recentLines ?? [])];
  for (const l of recent.slice(-tailLines)) tail.push(l);
  let progress: JobProgress = { jobName, namespace, phase: 'Creating', active: 0, succeeded: 0, failed: 0 };
  let persisted: PersistedCursors = { cursors: {}, seq: prior?.logSeq ?? 0 };
  let jobUid = prior?.jobUid;
  const heartbeat = () =>
    ctx.heartbeat({ progress, logSeq: persisted.seq, recentLines: recent.slice(-RECENT_LINES), cursors: persisted.cursors, ...(jobUid ? { jobUid } : {}) } satisfies RunJobHeartbeat);
  heartbeat();

  // 2. Apply, or re-attach to the Job an earlier attempt created.
  let job = await kube.readJob(namespace, jobName);
  let reattached = false;
  if (job) {
    if (!isOwnedBy(job, owner)) throw conflict(target, job);
    reattached = true;
  } else if (prior?.jobUid) {
    // An earlier attempt created this Job and it is gone. Never run the workload a second time.
    if (prior.progress.phase === 'Succeeded') return resultFromHeartbeat(prior, tailLines);
    throw new KubernetesJobsError(
      FailureType.JobFailed,
      `${target} was deleted before its result was recorded (by someone else, or ttlSecondsAfterFinished); it is not started again`,
      { nonRetryable: true },
    );
  } else {
    // Companion names taken by someone else are found before anything is created.
    await checkCompanionsFree(kube, companions, owner);
    const toCreate = structuredClone(jobManifest) as KubernetesObject & { spec: { suspend?: boolean } };
    const suspendFirst = companions.length > 0 && toCreate.spec.suspend !== true;
    if (suspendFirst) {
      toCreate.spec.suspend = true;
      toCreate.metadata = { ...toCreate.metadata, annotations: { ...toCreate.metadata?.annotations, [SUSPENDED_ANNOTATION]: 'true' } };
    }
    try {
      job = (await kube.create(toCreate)) as unknown as V1Job;
    } catch (err) {
      if ((err as KubernetesJobsError).details?.status !== 409) throw err;
      // Created concurrently (an earlier attempt's request landed late): same checks as above.
      job = await kube.readJob(namespace, jobName);
      if (!job || !isOwnedBy(job, owner)) throw conflict(target, job);
      reattached = true;
    }
  }
  jobUid = job.metadata?.uid;
  heartbeat();
  if (job.metadata?.annotations?.[LOG_CURSOR_ANNOTATION]) {
    try {
      persisted = JSON.parse(job.metadata.annotations[LOG_CURSOR_ANNOTATION]) as PersistedCursors;
    } catch {
      /* unreadable cursor: start from the heartbeat's count, deliver from the start */
    }
  }
  try {
    await ensureCompanions(kube, companions, job, owner);
    if (job.spec?.suspend && job.metadata?.annotations?.[SUSPENDED_ANNOTATION] === 'true') {
      job = await kube.patchJob(namespace, jobName, { spec: { suspend: false }, metadata: { annotations: { [SUSPENDED_ANNOTATION]: 'resumed' } } });
    }
  } catch (err) {
    // A retry re-attaches and finishes these steps; a final error must not leave a suspended Job behind.
    if (!(err instanceof KubernetesJobsError) || !err.nonRetryable) throw err;
    await kube.deleteJob(namespace, jobName, 'Background').catch(() => undefined);
    throw err;
  }
  progress = { ...progress, phase: 'Pending' };
  heartbeat();

  // Deliver log lines exactly once: persist the advanced cursors on the Job, then hand the lines over.
  // Lines at or before the persisted position are dropped, so overlapping readers (a periodic or final
  // tail and a follow stream) can never deliver a line twice or move a cursor backwards.
  const sink =
    options.logSink ??
    ((line: string, meta: { jobName: string; pod: string; container: string }) => ctx.log.info(line, { jobName: meta.jobName, pod: meta.pod, container: meta.container }));
  const persistCursors = async (next: PersistedCursors) => {
    const value = JSON.stringify(next);
    for (let attempt = 1; ; attempt++) {
      try {
        await kube.patchJob(namespace, jobName, { metadata: { annotations: { [LOG_CURSOR_ANNOTATION]: value } } });
        return;
      } catch (err) {
        // The patch may have been applied though its answer was lost: look before trying again.
        const current = await kube.readJob(namespace, jobName).catch(() => undefined);
        if (current?.metadata?.annotations?.[LOG_CURSOR_ANNOTATION] === value) return;
        if ((err instanceof KubernetesJobsError && err.nonRetryable) || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt)); // backoff after an API error
      }
    }
  };
  let deliveryChain: Promise<void> = Promise.resolve();
  const deliver = (pod: string, container: string, lines: LogLine[], start: LogCursor | undefined): Promise<void> => {
    const run = async () => {
      const key = `${pod}/${container}`;
      const have = persisted.cursors[key];
      let pos = start;
      const fresh: LogLine[] = [];
      for (const l of lines) {
        pos = pos && pos.time === l.time ? { time: l.time, seen: pos.seen + 1 } : { time: l.time, seen: 1 };
        if (!have || pos.time > have.time || (pos.time === have.time && pos.seen > have.seen)) fresh.push(l);
      }
      if (fresh.length === 0 || !pos) return;
      const next: PersistedCursors = { cursors: { ...persisted.cursors, [key]: pos }, seq: persisted.seq + fresh.length };
      await persistCursors(next);
      persisted = next;
      for (const l of fresh) {
        const text = prefixLine(pod, container, l.text);
        sink(text, { jobName, namespace, pod, container, time: l.time });
        tail.push(text);
        recent.push(text);
      }
      if (recent.length > RECENT_LINES * 2) recent.splice(0, recent.length - RECENT_LINES);
      heartbeat();
    };
    deliveryChain = deliveryChain.then(run);
    return deliveryChain;
  };

  const statusOf = (pod: V1Pod, c: string) => [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((st) => st.name === c);
  const podContainers = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  const containerDone = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.terminated;
  const containerStarted = (pod: V1Pod, c: string) => !!statusOf(pod, c)?.state?.running || containerDone(pod, c);

  let tailing: Promise<void> | undefined;
  // Containers whose whole log was read after they terminated: nothing more can come from them.
  const drained = new Set<string>();
  const tailAll = (pods: readonly V1Pod[], final: boolean): Promise<void> => {
    const run = async () => {
      for (const pod of pods) {
        const podName = pod.metadata?.name;
        if (!podName) continue;
        for (const c of podContainers(pod)) {
          // Keyed by restart count: a container restarted under restartPolicy OnFailure logs again.
          const drainedKey = `${podName}/${c}#${statusOf(pod, c)?.restartCount ?? 0}`;
          if (drained.has(drainedKey) || (!final && !containerStarted(pod, c))) continue;
          const done = containerDone(pod, c);
          const cursor = persisted.cursors[`${podName}/${c}`];
          const text = await kube.readLog(namespace, podName, c, sinceTimeFor(cursor));
          if (text === undefined) continue;
          const r = consumeLogChunk(cursor, text, { final: final || done });
          await deliver(podName, c, r.lines, cursor);
          if (done) drained.add(drainedKey);
        }
      }
    };
    // One tail at a time: a slow API never stacks up overlapping tails.
    tailing = (tailing ?? Promise.resolve()).then(run);
    return tailing;
  };

  // 3. Wait: list+watch caches of the Job and its pods; every event re-evaluates the state.
  let settle!: (s: JobState) => void;
  let fail!: (e: unknown) => void;
  const finished = new Promise<JobState>((res, rej) => ((settle = res), (fail = rej)));
  finished.catch(() => undefined); // observed by the race below; never an unhandled rejection
  let watching = false;
  const evaluate = () => {
    const j = jobCache.list()[0];
    if (!j || j.metadata?.deletionTimestamp) {
      if (watching) {
        fail(new KubernetesJobsError(FailureType.JobFailed, `${target} was deleted while it ran (by someone else, or ttlSecondsAfterFinished)`, { nonRetryable: true }));
      }
      return;
    }
    const state = interpretJob(j as never, podCache.list() as never, { now: Date.now(), failFastGraceMs: graceMs });
    const phase: JobProgress['phase'] = state.kind === 'running' ? state.phase : state.kind === 'succeeded' ? 'Succeeded' : 'Failed';
    const counts = { active: j.status?.active ?? 0, succeeded: j.status?.succeeded ?? 0, failed: j.status?.failed ?? 0 };
    const lastEvent = describePods(podCache.list());
    if (
      phase !== progress.phase ||
      lastEvent !== progress.lastEvent ||
      counts.active !== progress.active ||
      counts.succeeded !== progress.succeeded ||
      counts.failed !== progress.failed
    ) {
      progress = { ...progress, phase, ...counts, ...(lastEvent ? { lastEvent } : {}) };
      heartbeat();
    }
    if (state.kind !== 'running') settle(state);
  };
  const onWatchError = (e: KubernetesJobsError) => {
    if (e.nonRetryable) fail(e); // e.g. 403: the watch will never work; transient errors restart the watch
  };
  const jobCache = kube.cache<V1Job>('jobs', namespace, { fieldSelector: `metadata.name=${jobName}` }, evaluate, onWatchError);
  const podCache = kube.cache<V1Pod>('pods', namespace, { labelSelector: `batch.kubernetes.io/job-name=${jobName}` }, evaluate, onWatchError);

  const followers = new Map<string, { abort: AbortController | undefined; ended: boolean }>();
  let followersClosed = false;
  const closeFollowers = () => {
    followersClosed = true;
    for (const f of followers.values()) f.abort?.abort();
  };
  const startFollowers = () => {
    if (followersClosed) return;
    for (const pod of podCache.list()) {
      const podName = pod.metadata?.name;
      if (!podName) continue;
      for (const c of podContainers(pod)) {
        const key = `${podName}/${c}`;
        const existing = followers.get(key);
        // A stream the server closed (idle timeout) is reopened while the container runs.
        if ((existing && !(existing.ended && statusOf(pod, c)?.state?.running)) || !containerStarted(pod, c)) continue;
        const entry: { abort: AbortController | undefined; ended: boolean } = { abort: undefined, ended: false };
        followers.set(key, entry);
        const reader = new LogStreamReader(persisted.cursors[key]);
        void kube
          .followLog(
            namespace,
            podName,
            c,
            sinceTimeFor(persisted.cursors[key]),
            (chunk) => {
              if (followersClosed) return;
              const start = reader.cursor;
              const lines = reader.push(chunk);
              if (lines.length) deliver(podName, c, lines, start).catch(fail);
            },
            () => (entry.ended = true),
          )
          .then((a) => {
            entry.abort = a;
            if (followersClosed) a.abort(); // answered after the Job ended: close it at once
          });
      }
    }
  };

  const timers: NodeJS.Timeout[] = [];
  // Heartbeats go on until the activity returns (final tail, cleanup, deletion on cancel).
  const heartbeats = setInterval(() => {
    if (watching) evaluate(); // grace periods expire with time, not only with events
    heartbeat();
  }, heartbeatMs);
  const stopAll = async () => {
    timers.forEach(clearInterval);
    closeFollowers();
    await Promise.allSettled([jobCache.stop(), podCache.stop()]);
  };
  let terminal = false; // a final outcome was reached and handled (cleanup done)

  try {
    await jobCache.start();
    await podCache.start();
    watching = true;
    evaluate();
    if (logMode === 'periodic') timers.push(setInterval(() => void tailAll(podCache.list(), false).catch(fail), everyMs));
    if (logMode === 'follow') {
      startFollowers();
      timers.push(setInterval(startFollowers, 1000));
    }
    // The limit counts from the Job's creation, not from this attempt, and ends before Temporal's own
    // start-to-close timeout would cut the attempt off (which a retry would only repeat).
    const createdAt = job.metadata?.creationTimestamp ? new Date(job.metadata.creationTimestamp).getTime() : Date.now();
    const startToClose = info.startToCloseTimeoutMs > 0 ? info.startToCloseTimeoutMs - 30_000 : Infinity;
    const remainingMs = Math.max(0, Math.min(createdAt + timeoutMs - Date.now(), startToClose - (Date.now() - info.currentAttemptScheduledTimestampMs)));
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((res) => (deadline = setTimeout(() => res('timeout'), remainingMs)));
    let outcome: JobState | 'timeout';
    try {
      outcome = await Promise.race([finished, timedOut, ctx.cancelled]);
    } finally {
      clearTimeout(deadline);
    }

    // 4. Final logs: every container, from its cursor (a follow stream may not end by itself).
    timers.forEach(clearInterval);
    closeFollowers();
    await deliveryChain;
    if (logMode !== 'none') await tailAll(podCache.list(), true);
    await deliveryChain;
    const pods = podCache.list();
    const finalJob = jobCache.list()[0] ?? job;

    terminal = true;
    if (outcome === 'timeout') {
      await kube.deleteJob(namespace, jobName, 'Background');
      throw new KubernetesJobsError(FailureType.DeadlineExceeded, `${target} did not finish within ${Math.round(timeoutMs / 1000)}s; it was deleted`, {
        nonRetryable: true,
        details: failureDetails(finalJob as never, pods as never, [], tail.lines()) as never,
      });
    }
    progress = { ...progress, phase: outcome.kind === 'succeeded' ? 'Succeeded' : 'Failed' };
    let deleted = false;
    if (cleanup === 'always' || (cleanup === 'onSuccess' && outcome.kind === 'succeeded')) {
      deleted = await kube.deleteJob(namespace, jobName, 'Background');
    } else if (outcome.kind === 'failed' && (outcome.type === 'ImagePullFailed' || outcome.type === 'Unschedulable')) {
      // Failed fast while still pending: kept for inspection, but suspended so it cannot start later.
      await kube.patchJob(namespace, jobName, { spec: { suspend: true } }).catch(() => undefined);
    }
    if (outcome.kind === 'failed') {
      const events = [...(await kube.listEvents(namespace, jobName)), ...(pods[0]?.metadata?.name ? await kube.listEvents(namespace, pods[0].metadata.name) : [])];
      throw new KubernetesJobsError(outcome.type, outcome.message, {
        nonRetryable: true,
        details: { ...(failureDetails(finalJob as never, pods as never, events as never, tail.lines()) as object), deleted } as Record<string, unknown>,
      });
    }
    return {
      jobName,
      namespace,
      status: 'Succeeded',
      pods: summarizePods(pods as never),
      exitCodes: exitCodes(pods as never),
      output: jobOutput(pods as never),
      logTail: tail.lines(),
      logLines: persisted.seq,
      reattached,
      deleted,
    };
  } catch (err) {
    if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) {
      await stopAll();
      // Only a cancelled workflow takes the Job down. A worker shutting down, a timed-out or paused
      // attempt leaves it running: the next attempt re-attaches to it.
      if (!ctx.cancellationDetails || ctx.cancellationDetails.cancelRequested) {
        progress = { ...progress, phase: 'Deleting' };
        heartbeat();
        await deleteAndWait(kube, namespace, jobName);
      }
      throw err instanceof CancelledFailure ? err : new CancelledFailure('cancelled');
    }
    if (!terminal && err instanceof KubernetesJobsError && err.nonRetryable) {
      // This attempt gives up for good while the Job may still run unwatched: stop it from running on.
      await kube.patchJob(namespace, jobName, { spec: { suspend: true } }).catch(() => undefined);
    }
    throw err;
  } finally {
    clearInterval(heartbeats);
    await stopAll();
  }
}

/** The result of a Job that succeeded and was cleaned up before an earlier attempt could report it. */
function resultFromHeartbeat(prior: RunJobHeartbeat, tailLines: number): KubernetesJobResult {
  return {
    jobName: prior.progress.jobName,
    namespace: prior.progress.namespace,
    status: 'Succeeded',
    pods: [],
    exitCodes: {},
    logTail: prior.recentLines.slice(-tailLines),
    logLines: prior.logSeq,
    reattached: true,
    deleted: true,
  };
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

function conflict(target: string, job: V1Job | undefined): KubernetesJobsError {
  const a = job?.metadata?.annotations ?? {};
  const by = a['temporal-k8s-jobs/workflow-id'] ? ` (it belongs to workflow '${a['temporal-k8s-jobs/workflow-id']}', activity '${a['temporal-k8s-jobs/activity-id']}')` : ' (not created by temporal-k8s-jobs)';
  return new KubernetesJobsError(FailureType.JobNameConflict, `${target} already exists and is not owned by this workflow execution${by}; choose another name or delete it`, {
    nonRetryable: true,
  });
}

/** Creates missing companions, owned by the Job unless annotated to be kept. Idempotent. */
async function ensureCompanions(kube: KubeClient, companions: KubernetesObject[], job: V1Job, owner: Owner): Promise<void> {
  for (const c of companions) {
    const obj = structuredClone(c);
    if (obj.metadata?.annotations?.[KEEP_ANNOTATION] !== 'true') {
      obj.metadata = {
        ...obj.metadata,
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, uid: job.metadata!.uid!, controller: false }],
      };
    }
    try {
      await kube.create(obj);
    } catch (err) {
      if ((err as KubernetesJobsError).details?.status !== 409) throw err;
      await assertCompanionFree(kube, obj, owner); // created by an earlier attempt: fine; else a conflict
    }
  }
}

/** Fails before anything is created when a companion's name is taken by an object this execution does not own. */
async function checkCompanionsFree(kube: KubeClient, companions: KubernetesObject[], owner: Owner): Promise<void> {
  for (const c of companions) await assertCompanionFree(kube, c, owner);
}

async function assertCompanionFree(kube: KubeClient, c: KubernetesObject, owner: Owner): Promise<void> {
  const existing = await kube.readObject(c);
  if (existing && !isOwnedBy(existing as never, owner)) {
    throw new KubernetesJobsError(
      FailureType.JobNameConflict,
      `${c.kind} '${c.metadata?.namespace}/${c.metadata?.name}' already exists and is not owned by this workflow execution; rename it in the template or delete it`,
      { nonRetryable: true },
    );
  }
}

/** Deletes the Job (Foreground: pods first) and waits, watching, until it and its pods are gone. */
async function deleteAndWait(kube: KubeClient, namespace: string, jobName: string): Promise<void> {
  let existed = false;
  for (let attempt = 1; ; attempt++) {
    try {
      existed = await kube.deleteJob(namespace, jobName, 'Foreground');
      break;
    } catch (err) {
      if ((err instanceof KubernetesJobsError && err.nonRetryable) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt)); // backoff after an API error
    }
  }
  if (!existed) return;
  let resolveGone!: () => void;
  const gone = new Promise<void>((r) => (resolveGone = r));
  const check = () => {
    if (jobs.list().length === 0 && pods.list().length === 0) resolveGone();
  };
  const jobs = kube.cache<V1Job>('jobs', namespace, { fieldSelector: `metadata.name=${jobName}` }, check, () => undefined);
  const pods = kube.cache<V1Pod>('pods', namespace, { labelSelector: `batch.kubernetes.io/job-name=${jobName}` }, check, () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await jobs.start();
    await pods.start();
    check();
    // Bounded: pods with a long termination grace period are still going away when this returns.
    await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 120_000)))]);
  } finally {
    clearTimeout(timer);
    await Promise.allSettled([jobs.stop(), pods.stop()]);
  }
}
