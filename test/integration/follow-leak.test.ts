// Follow streams are closed when the Job ends, also for a container that wrote nothing (the server
// sends no answer headers until a first line, so a stream that could only be aborted once answered
// stayed open: one apiserver connection per such container, and a worker that never exits).
// Open streams are counted by a real proxy between the worker and the apiserver.
import { randomBytes } from 'node:crypto';
import type { KubernetesJobResult } from '../../src/types.js';
import { proxiedWorkerKubeconfig, type FaultProxy } from '../helpers/fault-proxy.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, waitFor } from '../helpers/stack.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';

let ns: string;
let proxy: FaultProxy;
let worker: InProcessWorker;
const taskQueue = `follow-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  ns = await createTestNamespace('follow-leak'); // its pods' logs are empty
  let kubeconfig: string;
  ({ proxy, kubeconfig } = await proxiedWorkerKubeconfig(ns));
  worker = await startInProcessWorker(taskQueue, { kubeConfig: { kubeconfig }, namespace: ns, heartbeatSeconds: 1, logSink: () => undefined });
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.close();
  if (ns) await deleteNamespace(ns);
});

test('two follow-mode Jobs with empty logs leave no log stream open', async () => {
  for (let i = 0; i < 2; i++) {
    const result = (await worker.client.workflow.execute('kubernetesJobWorkflow', {
      taskQueue,
      workflowId: `follow-${randomBytes(6).toString('hex')}`,
      args: [{ template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '3s' } }, logs: { mode: 'follow' } }],
    })) as KubernetesJobResult;
    expect(result.status).toBe('Succeeded');
  }
  const follows = () => [...proxy.open].filter((r) => r.path.includes('/log?') && r.path.includes('follow=true'));
  expect(proxy.requests.filter((r) => r.path.includes('follow=true')).length).toBeGreaterThanOrEqual(2); // streams were opened
  // Closing travels from the worker through the proxy: bounded wait for it, not a fixed sleep.
  await waitFor(() => follows().length === 0, { timeoutMs: 10_000, what: `log streams closed (open: ${follows().map((r) => r.path).join(', ')})` });
});
