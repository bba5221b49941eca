/**
 * Step 2 of the lifecycle: create the Job, or re-attach to the one an earlier attempt created, then
 * create its companions and resume it.
 *
 * Crash safety: the Job is created suspended when it has companions, companions get ownerReferences to
 * it, then it is resumed. A retry re-runs the companion and resume steps; both are idempotent.
 */
import { FailureType } from '../failures.js';
import { KubernetesJobsError } from '../errors.js';
import { KEEP_ANNOTATION, type KubernetesObject } from '../manifest.js';
import type { KubeClient, V1Job } from '../kube.js';
import { isOwnedBy, type Owner } from '../naming.js';
import type { KubernetesJobResult } from '../types.js';
import type { JobPlan } from './plan.js';
import type { RunJobHeartbeat } from './report.js';
import { RESULT_FINALIZER, TTL_ANNOTATION, deleteNow, readRecorded, type RecordedAnswer } from './finish.js';
import { crashPoint } from '../crash-hook.js';

/** Annotation marking a Job this package created suspended (to create companions first). */
export const SUSPENDED_ANNOTATION = 'temporal-k8s-jobs/created-suspended';

/**
 * The Job to watch, the answer an earlier attempt recorded on it, or the result an earlier attempt
 * already reached (from its heartbeat: the Job is gone).
 */
export type Attached = { job: V1Job; reattached: boolean } | { recorded: RecordedAnswer } | { result: KubernetesJobResult };

/**
 * Reads the Job by name: owned -> re-attach; missing -> create (unless an earlier attempt created one
 * that is gone: never run the workload twice); owned by someone else -> JobNameConflict. `onCreated`
 * runs as soon as the Job's UID is known (it goes into the heartbeat).
 */
export async function createOrReattach(kube: KubeClient, plan: JobPlan, prior: RunJobHeartbeat | undefined, onCreated: (job: V1Job) => void): Promise<Attached> {
  const { namespace, jobName, target, owner, companions } = plan;
  let job = await kube.readJob(namespace, jobName);
  let reattached = false;
  if (job) {
    if (!isOwnedBy(job, owner)) throw conflict(target, job);
    reattached = true;
    // An earlier attempt recorded the answer: every attempt returns exactly it.
    const recorded = readRecorded(job);
    if (recorded) return { recorded };
  } else if (prior?.jobUid) {
    // An earlier attempt created this Job and it is gone. Never run the workload a second time.
    if (prior.progress.phase === 'Succeeded') return { result: resultFromHeartbeat(prior, plan.tailLines) };
    throw new KubernetesJobsError(
      FailureType.JobFailed,
      `${target} was deleted before its result was recorded (by someone else, or ttlSecondsAfterFinished); it is not started again`,
      { nonRetryable: true },
    );
  } else {
    // Companion names taken by someone else are found before anything is created.
    for (const c of companions) await assertCompanionFree(kube, c, owner);
    const toCreate = structuredClone(plan.jobManifest);
    const suspendFirst = companions.length > 0 && toCreate.spec.suspend !== true;
    if (suspendFirst) {
      toCreate.spec.suspend = true;
      toCreate.metadata = { ...toCreate.metadata, annotations: { ...toCreate.metadata?.annotations, [SUSPENDED_ANNOTATION]: 'true' } };
    }
    if (plan.releaseByWorkflow) holdUntilReleased(toCreate);
    crashPoint('before-create');
    try {
      job = (await kube.create(toCreate)) as unknown as V1Job;
      crashPoint('after-create');
    } catch (err) {
      if ((err as KubernetesJobsError).details?.status !== 409) throw err;
      // Created concurrently (an earlier attempt's request landed late): same checks as above.
      job = await kube.readJob(namespace, jobName);
      if (!job || !isOwnedBy(job, owner)) throw conflict(target, job);
      reattached = true;
      const recorded = readRecorded(job);
      if (recorded) return { recorded };
    }
  }
  onCreated(job);
  return { job: await completeSetup(kube, plan, job), reattached };
}

/**
 * Under `runKubernetesJob`: the Job is created with the result finalizer, so that it stays until the
 * workflow released it, and without `ttlSecondsAfterFinished` (kept in an annotation, set at the
 * release): the TTL controller deletes with Foreground propagation, pods first, which would take the
 * pods' exit codes, output and logs before the answer is recorded.
 */
function holdUntilReleased(manifest: JobPlan['jobManifest']): void {
  const meta = (manifest.metadata ??= {}) as { finalizers?: string[]; annotations?: Record<string, string> };
  meta.finalizers = [...(meta.finalizers ?? []).filter((f) => f !== RESULT_FINALIZER), RESULT_FINALIZER];
  const spec = manifest.spec as { ttlSecondsAfterFinished?: number | null };
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished !== null) {
    meta.annotations = { ...meta.annotations, [TTL_ANNOTATION]: String(spec.ttlSecondsAfterFinished) };
    delete spec.ttlSecondsAfterFinished;
  }
}

/** Creates the companions and resumes a Job created suspended. A final error removes the Job. */
async function completeSetup(kube: KubeClient, plan: JobPlan, job: V1Job): Promise<V1Job> {
  try {
    await ensureCompanions(kube, plan.companions, job, plan.owner);
    if (job.spec?.suspend && job.metadata?.annotations?.[SUSPENDED_ANNOTATION] === 'true') {
      crashPoint('before-resume');
      return await kube.patchJob(plan.namespace, plan.jobName, { spec: { suspend: false }, metadata: { annotations: { [SUSPENDED_ANNOTATION]: 'resumed' } } });
    }
    return job;
  } catch (err) {
    // A retry re-attaches and finishes these steps; a final error must not leave a suspended Job behind.
    if (!(err instanceof KubernetesJobsError) || !err.nonRetryable) throw err;
    await deleteNow(kube, plan.namespace, plan.jobName).catch(() => undefined);
    throw err;
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
    ...(prior.jobUid ? { jobUid: prior.jobUid } : {}),
  };
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

/** Fails when a companion's name is taken by an object this execution does not own. */
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
