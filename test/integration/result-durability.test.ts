// Result durability: a retry never changes the answer. The worker is SIGKILLed at named points of
// the lifecycle (TKJ_CRASH_AT, src/crash-hook.ts) after the Job finished and before the
// activity returned; the Job has `ttlSecondsAfterFinished: 0`, so nothing but the result finalizer and
// the deferred TTL keeps it (and its pods) until the result is in the workflow's history. A second
// worker finishes: the workflow's result has the pods, exit codes, output and log lines the first
// attempt saw, every line was delivered once, the Job is deleted per policy and no finalizer is left.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { BatchV1Api, CoreV1Api, Watch, type V1Job, type V1Pod } from '@kubernetes/client-node';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor, watchUntil, writePodLog } from '../helpers/stack.js';
import { killWorkers, readLines, startInProcessWorker, startWorker, type InProcessWorker } from '../helpers/workers.js';

const namespaces: string[] = [];
const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
let client: Client;

beforeAll(async () => {
  client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
});

afterAll(async () => {
  killWorkers();
  await client?.connection.close();
  for (const ns of namespaces) await deleteNamespace(ns);
});

/** Every Job UID created in `ns` (ADDED events of a watch), to tell one Job from a second run. */
async function recordJobUids(ns: string): Promise<{ uids: Set<string>; stop: () => void }> {
  const uids = new Set<string>();
  const controller = await new Watch(kc).watch(
    `/apis/batch/v1/namespaces/${ns}/jobs`,
    {},
    (phase, obj: V1Job) => {
      if (phase === 'ADDED' && obj.metadata?.uid) uids.add(obj.metadata.uid);
    },
    () => undefined,
  );
  return { uids, stop: () => controller.abort() };
}

const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

const LINES = ['line 1', 'line 2', 'line 3'];
const OUTPUT = { rows: 42, table: 'events' };

async function crashCase(point: string, extra: Partial<KubernetesJobInput> = {}) {
  const ns = await createTestNamespace(`durable-${point}`);
  namespaces.push(ns);
  await writePodLog({ namespace: ns, container: 'main' }, LINES);
  const taskQueue = `durable-${randomBytes(4).toString('hex')}`;
  const linesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-durable-')), 'lines.txt');
  const jobs = await recordJobUids(ns);
  const first = await startWorker(taskQueue, linesFile, { env: { TKJ_CRASH_AT: point } });
  const handle = await client.workflow.start('kubernetesJobWorkflow', {
    taskQueue,
    workflowId: `durable-${point}-${randomBytes(4).toString('hex')}`,
    args: [
      {
        template: 'job.yaml.njk',
        namespace: ns,
        values: {
          image: 'busybox:1.36',
          command: 'run',
          ttlSecondsAfterFinished: 0,
          podAnnotations: { [KWOK_ANNOTATIONS.duration]: '2s', [KWOK_ANNOTATIONS.message]: JSON.stringify(OUTPUT) },
        },
        logs: { mode: 'periodic', everySeconds: 1 },
        ...extra,
      } satisfies KubernetesJobInput,
    ],
  });
  // The first worker dies at the point; only then does a second one start (it gets the retry).
  await exited(first);
  expect(first.signalCode).toBe('SIGKILL');
  await startWorker(taskQueue, linesFile);
  const result = (await handle.result()) as KubernetesJobResult;
  jobs.stop();
  return { ns, result, lines: readLines(linesFile), uids: jobs.uids };
}

/**
 * What the first attempt saw of the Job (one pod, exit 0, the termination message as output). The
 * log tail is exact once recorded; a retry that found nothing recorded rebuilds it from the last
 * heartbeat (throttled), so it may miss the newest lines the dead attempt delivered.
 */
function expectFullResult(result: KubernetesJobResult, lines: string[], exactTail = true) {
  expect(result.status).toBe('Succeeded');
  expect(result.pods).toHaveLength(1);
  const pod = result.pods[0]!.name;
  expect(result.pods[0]).toEqual({
    name: pod,
    phase: 'Succeeded',
    containers: [{ name: 'main', state: 'terminated', reason: 'Completed', exitCode: 0, message: JSON.stringify(OUTPUT), restartCount: 0 }],
  });
  expect(result.exitCodes).toEqual({ [`${pod}/main`]: 0 });
  expect(result.output).toEqual(OUTPUT);
  // Every line once, none twice, and the result's count and tail say the same.
  expect(lines).toEqual(LINES.map((l) => `${pod}/main ${l}`));
  expect(result.logLines).toBe(LINES.length);
  if (exactTail) expect(result.logTail).toEqual(lines);
  else expect(result.logTail).toEqual(lines.slice(lines.length - result.logTail.length));
}

async function expectGoneWithoutFinalizer(ns: string, name: string) {
  // Deleted per policy (onSuccess): the Job and its pods go (Background), nothing holds them.
  await waitFor(async () => (await batch.listNamespacedJob({ namespace: ns })).items.every((j) => j.metadata?.name !== name), { timeoutMs: 30_000, what: `Job ${name} gone` });
  await waitFor(async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 0, { timeoutMs: 30_000, what: 'pods gone' });
}

describe('a worker killed after the Job finished, before the activity returned: the retry returns the same answer', () => {
  test.concurrent.each([
    // Nothing recorded yet: the retry finds the Job and its pods still there (finalizer, TTL deferred).
    ['after-outcome', true],
    // Recorded: the retry returns exactly the recorded answer (so `reattached` is the first attempt's).
    ['after-result-recorded', false],
    ['before-return', false],
  ] as const)(
    'SIGKILL at %s',
    async (point, reattached) => {
      const { ns, result, lines, uids } = await crashCase(point);
      expectFullResult(result, lines, !reattached);
      expect(result.reattached).toBe(reattached);
      expect(result.deleted).toBe(true);
      expect(uids.size).toBe(1); // one Job, never a second run
      await expectGoneWithoutFinalizer(ns, result.jobName);
    },
    300_000,
  );

  test.concurrent(
    'SIGKILL in the release, before its delete: the release is retried, the Job is deleted, the result is the same',
    async () => {
      const { ns, result, lines, uids } = await crashCase('before-cleanup-delete');
      expectFullResult(result, lines);
      expect(result.reattached).toBe(false);
      expect(result.deleted).toBe(true);
      expect(uids.size).toBe(1);
      await expectGoneWithoutFinalizer(ns, result.jobName);
    },
    300_000,
  );

  // The jobUid heartbeat can sit in the SDK's throttle: a crash right after the create, with a TTL
  // that deletes the finished Job at once, let a retry create (and run) the Job a second time.
  test.concurrent(
    'SIGKILL right after the create (before the UID heartbeat): the retry re-attaches, the workload runs once',
    async () => {
      const { ns, result, lines, uids } = await crashCase('after-create');
      expectFullResult(result, lines);
      expect(result.reattached).toBe(true);
      expect(uids.size).toBe(1);
      await expectGoneWithoutFinalizer(ns, result.jobName);
    },
    300_000,
  );
});

describe('no crash', () => {
  let worker: InProcessWorker;
  let ns: string;
  const delivered: string[] = [];
  beforeAll(async () => {
    ns = await createTestNamespace('durable-ttl');
    namespaces.push(ns);
    worker = await startInProcessWorker(`durable-ttl-${randomBytes(4).toString('hex')}`, {
      kubeConfig: { kubeconfig: stackEnv().kubeconfig },
      namespace: ns,
      heartbeatSeconds: 1,
      logSink: (line) => delivered.push(line),
    });
  });
  afterAll(async () => {
    await worker?.stop();
  });
  const run = (values: Record<string, unknown>, extra: Partial<KubernetesJobInput> = {}) =>
    worker.client.workflow.start('kubernetesJobWorkflow', {
      taskQueue: worker.taskQueue,
      workflowId: `durable-ttl-${randomBytes(6).toString('hex')}`,
      args: [{ template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'run', ...values }, logs: { mode: 'end' }, ...extra } satisfies KubernetesJobInput],
    });

  test('ttlSecondsAfterFinished: 0 still gives the full result (pods, exit codes, output, every log line)', async () => {
    await writePodLog({ namespace: ns, container: 'main' }, LINES);
    const handle = await run({ ttlSecondsAfterFinished: 0, podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s', [KWOK_ANNOTATIONS.message]: JSON.stringify(OUTPUT) } });
    const result = (await handle.result()) as KubernetesJobResult;
    expectFullResult(
      result,
      delivered.filter((l) => l.startsWith(`${result.pods[0]?.name}/`)),
    );
    expect(result.deleted).toBe(true);
    await expectGoneWithoutFinalizer(ns, result.jobName);
  }, 60_000);

  test("cleanup 'never' with a TTL: the Job is kept until the result is recorded, then the TTL applies", async () => {
    const handle = await run({ ttlSecondsAfterFinished: 0, podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s' } }, { cleanup: 'never' });
    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.deleted).toBe(false);
    expect(result.pods).toHaveLength(1);
    // Released: the TTL (restored on the Job) deletes it; the finalizer no longer holds it.
    await expectGoneWithoutFinalizer(ns, result.jobName);
  }, 60_000);

  test("cleanup 'never' without a TTL: the Job stays, released (no finalizer)", async () => {
    const handle = await run({ podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s' } }, { cleanup: 'never' });
    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.deleted).toBe(false);
    const job = await batch.readNamespacedJob({ name: result.jobName, namespace: ns });
    expect(job.metadata?.finalizers ?? []).not.toContain('temporal-k8s-jobs/result');
    expect(job.metadata?.deletionTimestamp).toBeUndefined();
    // The recorded answer stays on the Job, for whoever looks.
    expect(JSON.parse(job.metadata!.annotations!['temporal-k8s-jobs/result']!)).toMatchObject({ outcome: 'succeeded', result: { jobName: result.jobName, status: 'Succeeded' } });
  }, 60_000);

  test('a failed Job: the failure is recorded, the release removes the finalizer and keeps the Job (onSuccess)', async () => {
    const handle = await run({ podAnnotations: { [KWOK_ANNOTATIONS.exitCode]: '3' } });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const name = (await batch.listNamespacedJob({ namespace: ns })).items.find((j) => j.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] === handle.workflowId)!.metadata!.name!;
    const job = await batch.readNamespacedJob({ name, namespace: ns });
    expect(job.metadata?.finalizers ?? []).not.toContain('temporal-k8s-jobs/result');
    expect(JSON.parse(job.metadata!.annotations!['temporal-k8s-jobs/result']!)).toMatchObject({ outcome: 'failed', failure: { type: 'JobFailed' } });
  }, 60_000);

  test('cancellation deletes the Job and its pods within seconds; no finalizer holds them', async () => {
    const handle = await run({ podAnnotations: { [KWOK_ANNOTATIONS.duration]: '600s' } });
    const pod = await watchUntil<V1Pod>(`/api/v1/namespaces/${ns}/pods`, (p) => p.status?.phase === 'Running', { what: 'a running pod' });
    const name = pod.metadata!.labels!['batch.kubernetes.io/job-name']!;
    expect((await batch.readNamespacedJob({ name, namespace: ns })).metadata?.finalizers).toContain('temporal-k8s-jobs/result');
    const t0 = Date.now();
    await handle.cancel();
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // The workflow ended only once the Job and its pods were gone (not merely being deleted).
    expect((await batch.listNamespacedJob({ namespace: ns })).items.map((j) => j.metadata?.name)).not.toContain(name);
    expect((await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.labels?.['batch.kubernetes.io/job-name'] === name)).toEqual([]);
    // The activity learns of the cancellation from a heartbeat answer (forwarded within the worker's
    // heartbeat throttle: 2 s under the plugin), then the delete takes seconds; loose for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 60_000);
});
