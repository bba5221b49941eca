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
 * - Under `runKubernetesJob` (input `releaseByWorkflow`) the Job is created with the
 *   `temporal-k8s-jobs/result` finalizer and without its `ttlSecondsAfterFinished`: it and its pods stay
 *   until the workflow has the result. The answer (result or failure) is recorded on the Job (fenced)
 *   before the activity returns; a retry that finds it returns exactly it. The activity never deletes
 *   the Job then (except past its own time limit): the release activity applies the cleanup policy and
 *   removes the finalizer once the answer is in the workflow's history.
 * - Cancellation of the workflow deletes the Job with Foreground propagation (and removes the
 *   finalizer) and waits until it and its pods are gone before the activity reports cancelled. A
 *   worker shutdown also cancels the activity, but leaves the Job: the retry on another worker re-attaches.
 * - `TKJ_CRASH_AT=<point>` in a worker's environment kills it at a named lifecycle point (tests; see
 *   crash-hook.ts).
 */
import { randomBytes } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { KubernetesJobsError } from './errors.js';
import { KubeClient, kubeError, loadKubeConfig, type KubeConfig, type LoadKubeConfigOptions, type V1Pod } from './kube.js';
import { isOwnedBy, type Owner } from './naming.js';
import type { JobState } from './job-status.js';
import type { CleanupPolicy, DeleteJobRequest, KubernetesJobInput, KubernetesJobResult, LogMode, ReleaseJobRequest, ReleaseJobResult } from './types.js';
import { MAX_TIMER_MS, planJob, type JobPlan } from './lifecycle/plan.js';
import { Reporter, type RunJobHeartbeat } from './lifecycle/report.js';
import { createOrReattach } from './lifecycle/attach.js';
import { JobGoneError, JobWatch } from './lifecycle/watch.js';
import { LogDelivery, type LogSink } from './lifecycle/delivery.js';
import { deleteAndWait, finishJob, releaseJob, settleAnswer, suspendAbandoned } from './lifecycle/finish.js';
import { ScaleUpTracker } from './lifecycle/scale-up.js';
import { crashPoint } from './crash-hook.js';
import { FailureType } from './failures.js';
import { createDagActivities } from './dag-activities.js';
import { cleanupActivity, type CleanupInput, type CleanupResult } from './cleanup.js';
import { jobMetrics } from './metrics.js';

export { LOG_CURSOR_ANNOTATION } from './lifecycle/delivery.js';
export { SUSPENDED_ANNOTATION } from './lifecycle/attach.js';
export { RESULT_ANNOTATION, RESULT_FINALIZER, TTL_ANNOTATION } from './lifecycle/finish.js';
export type { CrashPoint } from './crash-hook.js';
export type { RunJobHeartbeat } from './lifecycle/report.js';
export type { LogLineMeta, LogSink } from './lifecycle/delivery.js';

/** Options of {@link createKubernetesJobActivities}. */
export interface KubernetesJobActivitiesOptions {
  /** Template directories searched before the package's `templates/`. @default [] */
  templateDirs?: string[];
  /** Namespace for Jobs whose input and template name none. @default the credentials' namespace, else 'default' */
  namespace?: string;
  /** Credentials, or a ready KubeConfig. @default auto-detected (in-cluster, else KUBECONFIG / ~/.kube/config) */
  kubeConfig?: LoadKubeConfigOptions | KubeConfig;
  /** Values merged under every input's values before rendering (deep merge; the input wins). @default {} */
  defaultValues?: Record<string, unknown>;
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
    /** Seconds a pod may wait on an image pull. @default 60 */
    failFastGraceSeconds?: number;
    /** Seconds a pod may stay unschedulable (longer after a cluster-autoscaler scale-up). @default 600 */
    unschedulableGraceSeconds?: number;
    /** @default 3600 */
    timeoutSeconds?: number;
  };
  /**
   * The only directory where inputs' `writeRenderedTo` may write rendered YAML: an input names this
   * directory (`.`) or a subdirectory of it by a relative path. Without it, `writeRenderedTo` is refused.
   * @default none
   */
  renderedOutputDir?: string;
  /** Where log lines go. @default the activity logger (`log.info(line)`) */
  logSink?: LogSink;
  /**
   * Longest time in seconds between heartbeats while nothing changes (a keep-alive; a change of phase,
   * pod counts or delivered lines is sent at once, within the SDK's throttle).
   * @default 40% of the activity's heartbeat timeout (8 s with the workflow's 20 s), 30 s without one
   */
  heartbeatSeconds?: number;
}

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
        return await jobMetrics.run(input.template, () => runJob(input, options, kube()));
      } catch (err) {
        throw toFailure(err);
      }
    },
    /**
     * Deletes the Job of a run activity that was cancelled or timed out (Foreground: pods first) and
     * returns once the Job and its pods are gone. Idempotent: a Job already gone, or one this
     * execution does not own, is left alone. Throws a retryable error while the Job is still going
     * away, so that Temporal retries it, on another worker if this one dies.
     */
    async kubernetesJobsDeleteJob(request: DeleteJobRequest): Promise<void> {
      try {
        await deleteJob(request, options, kube());
      } catch (err) {
        throw toFailure(err);
      }
    },
    /**
     * Releases the Job of a run activity (input `releaseByWorkflow`) once its result or failure is in
     * the workflow's history: applies the cleanup policy (delete, Background), else restores the
     * template's `ttlSecondsAfterFinished`, then removes the `temporal-k8s-jobs/result` finalizer.
     * Idempotent; a Job this execution does not own is left alone.
     */
    async kubernetesJobsReleaseJob(request: ReleaseJobRequest): Promise<ReleaseJobResult> {
      try {
        return await release(request, options, kube());
      } catch (err) {
        throw toFailure(err);
      }
    },
    /**
     * Deletes this package's finished Jobs past a retention, never one whose workflow still runs (what
     * `cleanupWorkflow` runs; the same rules as `temporal-k8s-jobs cleanup`). Workflow statuses are read
     * with the worker's own Temporal client, in the worker's Temporal namespace.
     */
    async kubernetesJobsCleanup(input: CleanupInput): Promise<CleanupResult> {
      return cleanupActivity(input, kube().kc, options.namespace);
    },
  };
}

/** The activities' type, for `proxyActivities<KubernetesJobActivities>()`. */
export type KubernetesJobActivities = ReturnType<typeof createKubernetesJobActivities>;

/**
 * One attempt of the run activity, in five steps:
 * 1. plan: render the template, settle namespace, Job name and settings (errors create nothing);
 * 2. create the Job, or re-attach to the one an earlier attempt created (companions, resume);
 * 3. watch the Job and its pods until they reach a final state, the time limit or cancellation,
 *    delivering log lines meanwhile;
 * 4. read the final logs;
 * 5. finish: the result or the failure, recorded on the Job, then cleanup (by the workflow's release
 *    activity under `runKubernetesJob`).
 */
async function runJob(input: KubernetesJobInput, options: KubernetesJobActivitiesOptions, kube: KubeClient): Promise<KubernetesJobResult> {
  const ctx = Context.current();
  const info = ctx.info;
  const owner = ownerOf(info);

  // 1. Plan.
  const plan = planJob(input, options, kube, owner, true);
  assertTimeLimitFits(plan, input, info.startToCloseTimeoutMs);
  const report = new Reporter(ctx, plan, (info.heartbeatDetails ?? undefined) as RunJobHeartbeat | undefined);
  report.beat();

  // 2. Create or re-attach.
  const attached = await createOrReattach(kube, plan, report.prior, (job) => {
    report.jobUid = job.metadata?.uid;
    report.beat();
  });
  if ('result' in attached) return attached.result;
  // An earlier attempt recorded the answer on the Job: exactly that answer, whatever the pods are now.
  if ('recorded' in attached) return await settleAnswer(kube, plan, attached.recorded);
  const { job, reattached } = attached;
  if (!reattached) jobMetrics.started(input.template);
  report.update({ phase: 'Pending' });

  // 3. Watch, delivering logs meanwhile.
  const sink: LogSink = jobMetrics.countLines(options.logSink ?? ((line, meta) => ctx.log.info(line, { jobName: meta.jobName, pod: meta.pod, container: meta.container })));
  const watch = new JobWatch(kube, plan, report, job.metadata?.uid);
  const attemptToken = `${info.attempt}:${randomBytes(4).toString('hex')}`;
  const delivery = new LogDelivery(kube, plan, sink, report, job, attemptToken, (e) => watch.fail(e), (e) => ctx.log.warn(`log delivery of ${plan.target} is retried: ${(e as Error).message}`));
  // Keep-alive heartbeats go on until the activity returns (final tail, cleanup, deletion on cancel).
  const heartbeats = setInterval(() => report.keepAlive(), report.keepAliveMs);
  // Events of pods unschedulable past their grace are looked at: a cluster-autoscaler scale-up waits longer.
  const scaleUps = new ScaleUpTracker(kube, plan, () => watch.tick());
  watch.scaleUps = scaleUps;
  const scaleUpPoll = setInterval(() => scaleUps.poll(watch.pods()), SCALE_UP_POLL_MS);
  const stopAll = async () => {
    delivery.stopLive();
    await watch.stop();
  };
  let terminal = false; // a final outcome was reached and handled (cleanup done)
  try {
    await delivery.claim();
    await watch.start();
    delivery.startLive(() => watch.pods());
    const outcome = await waitForOutcome(watch, plan.timeoutMs, job, info, ctx);
    // The pods as they were when the Job finished: pods deleted from now on (a TTL delete of a Job not
    // held by the result finalizer, the Job controller removing a failed Job's pods) keep their last state.
    const seen = watch.pods();
    jobMetrics.finished(input.template, watch.job() ?? job, outcome);
    crashPoint('after-outcome');

    // 4. Final logs.
    await delivery.finalRead(latestPods(seen, watch.pods()));

    // 5. Finish. A superseded attempt finds out here, before any cleanup. A finished Job already gone
    // (ttlSecondsAfterFinished) has nothing left to fence.
    await delivery.claim().catch((e: unknown) => {
      if (!(e instanceof JobGoneError && outcome !== 'timeout' && outcome.kind !== 'running')) throw e;
    });
    terminal = true;
    return await finishJob(kube, plan, outcome, { job: watch.job() ?? job, pods: latestPods(seen, watch.pods()), logLines: delivery.seq, reattached }, report, attemptToken);
  } catch (err) {
    if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) {
      await stopAll();
      // Only a cancelled workflow takes the Job down. A worker shutting down, a timed-out or paused
      // attempt leaves it running: the next attempt re-attaches to it.
      if (!ctx.cancellationDetails || ctx.cancellationDetails.cancelRequested) {
        report.update({ phase: 'Deleting' });
        await deleteAndWait(kube, plan.namespace, plan.jobName);
      }
      throw err instanceof CancelledFailure ? err : new CancelledFailure('cancelled');
    }
    // A superseded attempt's error is retryable: it never suspends (nor deletes) the Job the newer attempt owns.
    if (!terminal && err instanceof KubernetesJobsError && err.nonRetryable) await suspendAbandoned(kube, plan);
    throw err;
  } finally {
    clearInterval(heartbeats);
    clearInterval(scaleUpPoll);
    await stopAll();
  }
}

/** How often pods unschedulable past their grace are checked for scale-up events (a list only for those). */
const SCALE_UP_POLL_MS = 1000;

/** The pods seen when the Job finished, each as last known (a pod gone since keeps its last state). */
function latestPods(seen: readonly V1Pod[], now: readonly V1Pod[]): V1Pod[] {
  const byName = new Map(now.map((p) => [p.metadata?.name, p]));
  return [...seen.map((p) => byName.get(p.metadata?.name) ?? p), ...now.filter((p) => !seen.some((s) => s.metadata?.name === p.metadata?.name))];
}

/** Room the activity needs inside its start-to-close timeout beyond the Job's time limit (final logs, recording, cleanup). */
export const FINISH_MARGIN_SECONDS = 60;

/**
 * The Job's time limit (input, else the worker's default) must end inside the activity's
 * start-to-close timeout, else Temporal would cut the attempt off first and a retry would only repeat
 * it. Checked before anything is created; a final error that says what to change.
 */
function assertTimeLimitFits(plan: JobPlan, input: KubernetesJobInput, startToCloseMs: number): void {
  if (!(startToCloseMs > 0) || plan.timeoutMs + FINISH_MARGIN_SECONDS * 1000 <= startToCloseMs) return;
  const from = input.timeoutSeconds !== undefined ? "the input's timeoutSeconds" : "the worker's defaults.timeoutSeconds";
  throw new KubernetesJobsError(
    FailureType.InvalidManifest,
    `${plan.target}: its time limit (${plan.timeoutMs / 1000}s, ${from}) does not fit the activity's start-to-close timeout (${Math.round(startToCloseMs / 1000)}s) with ${FINISH_MARGIN_SECONDS}s to spare; ` +
      `give the input a timeoutSeconds (runKubernetesJob sets start-to-close to it + 300s) or raise the activity's startToCloseTimeout. Nothing was created`,
    { nonRetryable: true },
  );
}

/** The activity execution that owns the Job. Standalone activities (no workflow) get a name from the activity id alone. */
function ownerOf(info: Context['info']): Owner {
  return { workflowId: info.workflowExecution?.workflowId ?? '', runId: info.workflowExecution?.runId ?? '', activityId: info.activityId };
}

/**
 * Waits for the Job's final state, the time limit or cancellation. The limit counts from the Job's
 * creation, not from this attempt, and ends before Temporal's own start-to-close timeout would cut the
 * attempt off (which a retry would only repeat).
 */
async function waitForOutcome(watch: JobWatch, timeoutMs: number, job: { metadata?: { creationTimestamp?: Date } }, info: Context['info'], ctx: Context): Promise<JobState | 'timeout'> {
  const createdAt = job.metadata?.creationTimestamp ? new Date(job.metadata.creationTimestamp).getTime() : Date.now();
  const startToClose = info.startToCloseTimeoutMs > 0 ? info.startToCloseTimeoutMs - 30_000 : Infinity;
  const remainingMs = Math.max(0, Math.min(createdAt + timeoutMs - Date.now(), startToClose - (Date.now() - info.currentAttemptScheduledTimestampMs)));
  let deadline: NodeJS.Timeout | undefined;
  const deadlineAt = Date.now() + remainingMs;
  const timedOut = new Promise<'timeout'>((res) => {
    // Re-armed in steps: one Node timer cannot wait longer than ~24.8 days.
    const arm = () => {
      const left = deadlineAt - Date.now();
      if (left <= 0) res('timeout');
      else deadline = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
  });
  try {
    return await Promise.race([watch.finished, timedOut, ctx.cancelled]);
  } finally {
    clearTimeout(deadline);
  }
}

async function deleteJob(request: DeleteJobRequest, options: KubernetesJobActivitiesOptions, kube: KubeClient): Promise<void> {
  const ctx = Context.current();
  // The same derivation as the run activity's, so the name is found again without any stored state.
  const plan = planJob(request.input, options, kube, request.owner, false);
  const beat = setInterval(() => ctx.heartbeat({ jobName: plan.jobName, namespace: plan.namespace }), 2000);
  try {
    ctx.heartbeat({ jobName: plan.jobName, namespace: plan.namespace });
    const job = await kube.readJob(plan.namespace, plan.jobName);
    if (job && !isOwnedBy(job, request.owner)) return; // someone else's Job of that name: never touch it
    if (!(await deleteAndWait(kube, plan.namespace, plan.jobName))) {
      throw kubeError(Object.assign(new Error(`${plan.target} or its pods are still being deleted`), { code: 'ETIMEDOUT' }), 'delete', plan.target);
    }
  } finally {
    clearInterval(beat);
  }
}

async function release(request: ReleaseJobRequest, options: KubernetesJobActivitiesOptions, kube: KubeClient): Promise<ReleaseJobResult> {
  const ctx = Context.current();
  const cleanup = request.cleanup ?? options.defaults?.cleanup ?? 'onSuccess';
  if (request.job) {
    ctx.heartbeat({ jobName: request.job.name, namespace: request.job.namespace });
    return releaseJob(kube, { namespace: request.job.namespace, jobName: request.job.name, uid: request.job.uid, cleanup, succeeded: request.succeeded });
  }
  if (!request.run) return { deleted: false };
  let plan: JobPlan;
  try {
    // The same derivation as the run activity's, so the name is found again without any stored state.
    plan = planJob(request.run.input, options, kube, request.run.owner, false);
  } catch (err) {
    // An input that cannot be planned created nothing: nothing to release.
    if (err instanceof KubernetesJobsError && err.nonRetryable) return { deleted: false };
    throw err;
  }
  ctx.heartbeat({ jobName: plan.jobName, namespace: plan.namespace });
  return releaseJob(kube, { namespace: plan.namespace, jobName: plan.jobName, owner: request.run.owner, cleanup: plan.cleanup, succeeded: request.succeeded });
}
