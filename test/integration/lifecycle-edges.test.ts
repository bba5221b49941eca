// Edges of the lifecycle on the real stack: leftover pods of an earlier Job with the same name are not
// this Job's pods; a time limit beyond one Node timer (~24.8 days) does not fire at once.
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, watchUntil, writePodLog } from '../helpers/stack.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';

const taskQueue = `edges-${randomBytes(4).toString('hex')}`;
const delivered: string[] = [];
let ns: string;
let worker: InProcessWorker;

beforeAll(async () => {
  ns = await createTestNamespace('edges');
  worker = await startInProcessWorker(taskQueue, { kubeConfig: { kubeconfig: stackEnv().kubeconfig }, namespace: ns, heartbeatSeconds: 1, logSink: (line) => delivered.push(line) });
});

afterAll(async () => {
  await worker?.stop();
  if (ns) await deleteNamespace(ns);
});

const input = (extra: Partial<KubernetesJobInput> = {}): KubernetesJobInput => ({
  template: 'job.yaml.njk',
  values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '2s' } },
  logs: { mode: 'periodic', everySeconds: 1 },
  ...extra,
});
const run = (i: KubernetesJobInput) => worker.client.workflow.execute('kubernetesJobWorkflow', { taskQueue, workflowId: `edges-${randomBytes(6).toString('hex')}`, args: [i] }) as Promise<KubernetesJobResult>;

test('a leftover pod of an earlier Job with the same name is neither reported nor read', async () => {
  const name = `reused-${randomBytes(3).toString('hex')}`;
  await writePodLog({ namespace: ns, container: 'main' }, ['from the namespace log']);
  // What an earlier Job of this name can leave behind (orphaned pod, same job-name label).
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: `${name}-leftover`, labels: { 'batch.kubernetes.io/job-name': name, 'job-name': name } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } },
    });
  await watchUntil(`/api/v1/namespaces/${ns}/pods`, (p: { metadata?: { name?: string }; status?: { phase?: string } }) => p.metadata?.name === `${name}-leftover` && p.status?.phase === 'Running', { what: 'leftover pod running' } as never);
  const result = await run(input({ name, cleanup: 'never' }));
  expect(result.status).toBe('Succeeded');
  expect(result.pods.map((p) => p.name)).toHaveLength(1);
  expect(result.pods[0]!.name).not.toBe(`${name}-leftover`);
  expect(delivered.filter((l) => l.startsWith(`${name}-leftover/`))).toEqual([]);
});

test('timeoutSeconds of 30 days (beyond one Node timer) lets a short Job finish', async () => {
  const result = await run(input({ timeoutSeconds: 30 * 86_400 }));
  expect(result.status).toBe('Succeeded');
});
