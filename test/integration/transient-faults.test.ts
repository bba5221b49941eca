// Transient API trouble never ends a healthy Job. Faults the stack cannot produce by itself are
// injected by a real HTTPS proxy (test/helpers/fault-proxy.ts) between the worker and the apiserver;
// the worker authenticates with a ServiceAccount token that the proxy passes through.
import { randomBytes } from 'node:crypto';
import { BatchV1Api } from '@kubernetes/client-node';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { proxiedWorkerKubeconfig, type FaultProxy } from '../helpers/fault-proxy.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, writePodLog } from '../helpers/stack.js';
import { startInProcessWorker, type InProcessWorker } from '../helpers/workers.js';

const taskQueue = `faults-${randomBytes(4).toString('hex')}`;
const delivered: string[] = [];
let ns: string;
let proxy: FaultProxy;
let worker: InProcessWorker;

beforeAll(async () => {
  ns = await createTestNamespace('faults');
  let kubeconfig: string;
  ({ proxy, kubeconfig } = await proxiedWorkerKubeconfig(ns));
  worker = await startInProcessWorker(taskQueue, { kubeConfig: { kubeconfig }, namespace: ns, heartbeatSeconds: 1, logSink: (line) => delivered.push(line) });
});

afterAll(async () => {
  await worker?.stop();
  await proxy?.close();
  if (ns) await deleteNamespace(ns);
});

const input = (name: string, duration: string): KubernetesJobInput => ({
  template: 'job.yaml.njk',
  name,
  cleanup: 'never',
  values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: duration } },
  logs: { mode: 'periodic', everySeconds: 1 },
});

const run = (i: KubernetesJobInput) => worker.client.workflow.execute('kubernetesJobWorkflow', { taskQueue, workflowId: `faults-${randomBytes(6).toString('hex')}`, args: [i] }) as Promise<KubernetesJobResult>;

test('a 503 on the first list of the Job: the list is retried, the healthy Job is neither reported deleted nor suspended', async () => {
  const name = `list-503-${randomBytes(3).toString('hex')}`;
  const rule = proxy.addRule({ method: 'GET', path: new RegExp(`^/apis/batch/v1/namespaces/${ns}/jobs\\?(?!.*watch=true)`), status: 503 });
  const result = await run(input(name, '3s'));
  expect(rule.hits).toBe(1);
  expect(result.status).toBe('Succeeded');
  expect(result.reattached).toBe(false); // the first attempt saw it through
  const job = await kubeConfig().makeApiClient(BatchV1Api).readNamespacedJob({ name, namespace: ns });
  expect(job.spec?.suspend).not.toBe(true);
});

test('5xx answers to log reads: retried, the attempt goes on, every line delivered exactly once', async () => {
  const name = `log-5xx-${randomBytes(3).toString('hex')}`;
  const lines = ['alpha', 'beta', 'gamma'];
  await writePodLog({ namespace: ns, container: 'main' }, lines);
  const rule = proxy.addRule({ method: 'GET', path: new RegExp(`^/api/v1/namespaces/${ns}/pods/${name}-[^/]+/log\\?`), status: 500, times: 3 });
  const result = await run(input(name, '4s'));
  expect(rule.hits).toBe(3);
  expect(result.status).toBe('Succeeded');
  expect(result.reattached).toBe(false);
  const pod = result.pods[0]!.name;
  expect(delivered.filter((l) => l.startsWith(`${pod}/`))).toEqual(lines.map((l) => `${pod}/main ${l}`));
  expect(result.logLines).toBe(lines.length);
});

test('the proxy counts requests per client (the worker is one client, by its token)', () => {
  const byClient = proxy.countByClient();
  expect(byClient.size).toBe(1);
  expect([...byClient.values()][0]).toBeGreaterThan(10);
});
