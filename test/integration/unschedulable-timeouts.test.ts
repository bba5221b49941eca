// Unschedulable pods are a matter of capacity until proven otherwise, and time limits always fit the
// activity's start-to-close timeout. On the real stack: the real scheduler marks pods Unschedulable;
// a TriggeredScaleUp event is created through the API as cluster-autoscaler would; a node label plays
// the node the scale-up brings.
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { Dag } from '../../src/dag-types.js';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, watchUntil } from '../helpers/stack.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';

const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let ns: string;
let worker: InProcessWorker;

beforeAll(async () => {
  ns = await createTestNamespace('unsched');
  worker = await startInProcessWorker(`unsched-${randomBytes(4).toString('hex')}`, {
    kubeConfig: { kubeconfig: stackEnv().kubeconfig },
    namespace: ns,
    heartbeatSeconds: 1,
    // A worker default far beyond runKubernetesJob's old start-to-close (3600 + 300 s).
    defaults: { timeoutSeconds: 7200 },
    logSink: () => undefined,
  });
});

afterAll(async () => {
  await worker?.stop();
  if (ns) await deleteNamespace(ns);
});

const start = (input: Omit<KubernetesJobInput, 'template'>) =>
  worker.client.workflow.start('kubernetesJobWorkflow', {
    taskQueue: worker.taskQueue,
    workflowId: `unsched-${randomBytes(6).toString('hex')}`,
    args: [{ template: 'job.yaml.njk', logs: { mode: 'none' }, ...input }],
  });

const isUnschedulable = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable') === true;

async function status(workflowId: string) {
  return (await worker.client.workflow.getHandle(workflowId).describe()).status.name;
}

test('a pod that triggered a cluster-autoscaler scale-up is not failed at its grace; it runs once the node comes', async () => {
  const label = `tkj-scaleup-${randomBytes(3).toString('hex')}`;
  // failFastGraceSeconds too: before unschedulable had its own grace, that one applied (and failed it at 6 s).
  const handle = await start({ unschedulableGraceSeconds: 6, failFastGraceSeconds: 6, values: { image: 'busybox:1.36', command: 'run', nodeSelector: { [label]: 'yes' }, podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s' } } });
  const pod = await watchUntil<V1Pod>(`/api/v1/namespaces/${ns}/pods`, (p) => p.metadata?.labels?.['temporal-k8s-jobs/owner'] !== undefined && isUnschedulable(p) && p.spec?.nodeSelector?.[label] === 'yes', {
    what: 'an unschedulable pod',
  });
  // What cluster-autoscaler records when it adds a node for the pod.
  const now = new Date();
  await core.createNamespacedEvent({
    namespace: ns,
    body: {
      metadata: { name: `${pod.metadata!.name}.scaleup`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name, namespace: ns, uid: pod.metadata!.uid },
      reason: 'TriggeredScaleUp',
      message: 'pod triggered scale-up: [{pool-a 0->1 (max: 3)}]',
      type: 'Normal',
      source: { component: 'cluster-autoscaler' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
  const unschedulableSince = new Date(pod.status!.conditions!.find((c) => c.type === 'PodScheduled')!.lastTransitionTime!).getTime();
  // Well past the 6 s grace (and the heartbeat that looks at the events): still waiting, not suspended.
  await new Promise((r) => setTimeout(r, Math.max(0, unschedulableSince + 14_000 - Date.now())));
  expect(await status(handle.workflowId)).toBe('RUNNING');
  const name = pod.metadata!.labels!['batch.kubernetes.io/job-name']!;
  const job = await batch.readNamespacedJob({ name, namespace: ns });
  expect(job.spec?.suspend).not.toBe(true);
  expect(job.status?.conditions?.some((c) => c.type === 'Failed')).not.toBe(true);
  // The scale-up's node arrives: the pod is scheduled, runs, the Job succeeds.
  const node = (await core.listNode()).items[0]!.metadata!.name!;
  await core.patchNode({ name: node, body: { metadata: { labels: { [label]: 'yes' } } } }, mergePatch);
  try {
    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.status).toBe('Succeeded');
  } finally {
    await core.patchNode({ name: node, body: { metadata: { labels: { [label]: null } } } as never }, mergePatch);
  }
}, 90_000);

test('an unschedulable pod never fails the Job while its siblings run: the running pods are never suspended', async () => {
  // 3 pods of 24 CPUs on two 32-CPU nodes: two run, the third waits for room (capacity, not a broken spec).
  const handle = await start({
    unschedulableGraceSeconds: 2,
    failFastGraceSeconds: 2,
    values: {
      image: 'busybox:1.36',
      command: 'run',
      parallelism: 3,
      completions: 3,
      resources: { requests: { cpu: '24' } },
      podAnnotations: { [KWOK_ANNOTATIONS.duration]: '12s' },
    },
  });
  const result = (await handle.result()) as KubernetesJobResult;
  expect(result.status).toBe('Succeeded');
  expect(result.pods).toHaveLength(3);
  expect(Object.values(result.exitCodes)).toEqual([0, 0, 0]);
}, 120_000);

test("the worker's defaults.timeoutSeconds reaches the activity's start-to-close (no input timeoutSeconds)", async () => {
  const handle = await start({ values: { image: 'busybox:1.36', command: 'run' } });
  const result = (await handle.result()) as KubernetesJobResult;
  expect(result.status).toBe('Succeeded');
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).find((a) => a?.activityType?.name === 'kubernetesJobsRunJob')!;
  const seconds = Number(scheduled.startToCloseTimeout!.seconds);
  // Before: 3900 s, so a 2 h worker default was cut at 65 min.
  expect(seconds).toBeGreaterThanOrEqual(7200 + 60);
}, 60_000);

test("a time limit that does not fit the caller's start-to-close fails at once, naming both, creating nothing", async () => {
  const handle = await worker.client.workflow.start('dagWorkflow', {
    taskQueue: worker.taskQueue,
    workflowId: `unsched-dag-${randomBytes(6).toString('hex')}`,
    args: [{ steps: { only: { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'run' } } } } satisfies Dag, { activity: { startToCloseTimeout: '10m' } }],
  });
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const state = (await handle.query('dagState')) as { steps: Record<string, { status: string; error?: string }> };
  expect(state.steps.only!.status).toBe('Failed');
  expect(state.steps.only!.error).toMatch(/^InvalidManifest: Job '[^']+': its time limit \(7200s, the worker's defaults\.timeoutSeconds\) does not fit the activity's start-to-close timeout \(600s\)/);
  const jobs = (await batch.listNamespacedJob({ namespace: ns })).items.filter((j) => j.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] === handle.workflowId);
  expect(jobs).toEqual([]);
}, 60_000);
