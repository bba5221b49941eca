// Proves the local stack behaves like a real cluster where the project needs it: the real Job
// controller and scheduler, kwok-driven pod outcomes (annotations), pod logs through the API,
// termination messages, RBAC, and the Temporal dev server. Does not depend on src/.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import {
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  Log,
  RbacAuthorizationV1Api,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';

import type { trivialWorkflow } from '../fixtures/trivial-workflow.js';
import {
  KWOK_ANNOTATIONS,
  appendPodLog,
  createTestNamespace,
  deleteNamespace,
  hasCondition,
  kubeConfig,
  mintServiceAccountKubeconfig,
  stackEnv,
  waitFor,
  watchUntil,
  writePodLog,
} from '../helpers/stack.js';

const env = stackEnv();
/** Tests that rely on kwok (annotations, log files) run on the local stack only. */
const kwokIt = env.existingCluster ? it.skip : it;

function job(name: string, annotations: Record<string, string> = {}, extra: { nodeSelector?: Record<string, string>; containers?: string[] } = {}): V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { annotations },
        spec: {
          restartPolicy: 'Never',
          nodeSelector: extra.nodeSelector,
          containers: (extra.containers ?? ['main']).map((c) => ({ name: c, image: 'busybox:1.36', command: ['sh', '-c', 'echo hello'] })),
        },
      },
    },
  };
}

const jobsPath = (ns: string) => `/apis/batch/v1/namespaces/${ns}/jobs`;
const podsPath = (ns: string) => `/api/v1/namespaces/${ns}/pods`;

describe('local stack', () => {
  let ns: string;
  let kc: KubeConfig;
  let batch: BatchV1Api;
  let core: CoreV1Api;

  beforeAll(async () => {
    kc = kubeConfig();
    batch = kc.makeApiClient(BatchV1Api);
    core = kc.makeApiClient(CoreV1Api);
    ns = await createTestNamespace('stack-test');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(ns);
  });

  kwokIt('keeps the kwok nodes Ready with fresh node leases (no NotReady flapping)', async () => {
    const nodes = await core.listNode({ labelSelector: 'type=kwok' });
    expect(nodes.items.map((n) => n.metadata!.name).sort()).toEqual(['kwok-node-0', 'kwok-node-1']);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    for (const node of nodes.items) {
      expect(hasCondition(node, 'Ready')).toBe(true);
      expect(node.spec?.taints ?? []).toEqual([]);
      expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
      const lease = await coordination.readNamespacedLease({ namespace: 'kube-node-lease', name: node.metadata!.name! });
      // kwok renews every ~10 s (lease duration 40 s); without leases the node controller marks nodes NotReady.
      expect(Date.now() - new Date(lease.spec!.renewTime!).getTime()).toBeLessThan(40_000);
    }
  });

  it('runs a Job to Complete through the real Job controller', async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job('ok') });
    const done = await watchUntil<V1Job>(jobsPath(ns), (j) => hasCondition(j, 'Complete') || hasCondition(j, 'Failed'), {
      query: { fieldSelector: 'metadata.name=ok' },
      what: 'Job ok to finish',
    });
    expect(hasCondition(done, 'Complete')).toBe(true);
    expect(hasCondition(done, 'SuccessCriteriaMet')).toBe(true); // 1.33+: comes before Complete
    expect(done.status?.succeeded).toBe(1);
  });

  kwokIt('fails a Job with exit code 3: BackoffLimitExceeded, exit code on the container status', async () => {
    await batch.createNamespacedJob({
      namespace: ns,
      body: job('fail3', { [KWOK_ANNOTATIONS.exitCode]: '3' }, { containers: ['main', 'sidecar'] }),
    });
    const failed = await watchUntil<V1Job>(jobsPath(ns), (j) => hasCondition(j, 'Failed'), {
      query: { fieldSelector: 'metadata.name=fail3' },
      what: 'Job fail3 to fail',
    });
    const cond = failed.status!.conditions!.find((c) => c.type === 'Failed')!;
    expect(cond.reason).toBe('BackoffLimitExceeded');
    expect(hasCondition(failed, 'FailureTarget')).toBe(true);

    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=fail3' });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!;
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.containerStatuses?.map((s) => s.name).sort()).toEqual(['main', 'sidecar']);
    for (const s of pod.status!.containerStatuses!) {
      expect(s.state?.terminated?.exitCode).toBe(3);
      expect(s.state?.terminated?.reason).toBe('Error');
      expect(s.image).toBe('busybox:1.36');
      expect(s.ready).toBe(false);
      expect(s.restartCount).toBe(0);
      expect(s.started).toBe(false);
    }
    expect(pod.status?.hostIP).toBe('127.0.0.1');
    expect(pod.status?.podIP).toBeTruthy();
  });

  kwokIt('keeps an image-pull-failure pod Pending with the waiting reason', async () => {
    for (const reason of ['ErrImagePull', 'ImagePullBackOff']) {
      const name = `pull-${reason.toLowerCase()}`;
      await batch.createNamespacedJob({ namespace: ns, body: job(name, { [KWOK_ANNOTATIONS.imagePull]: reason }) });
      const pod = await watchUntil<V1Pod>(podsPath(ns), (p) => !!p.status?.containerStatuses?.[0]?.state?.waiting, {
        query: { labelSelector: `job-name=${name}` },
        what: `a ${name} pod waiting`,
      });
      expect(pod.status?.phase).toBe('Pending');
      expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe(reason);
      expect(pod.status?.containerStatuses?.[0]?.started).toBe(false);
    }
  });

  it('leaves a pod whose nodeSelector matches no node Pending/Unschedulable (real scheduler)', async () => {
    await batch.createNamespacedJob({ namespace: ns, body: job('unsched', {}, { nodeSelector: { 'temporal-k8s-jobs/no-such-node': 'true' } }) });
    const pod = await watchUntil<V1Pod>(podsPath(ns), (p) => hasCondition(p, 'PodScheduled', 'False'), {
      query: { labelSelector: 'job-name=unsched' },
      what: 'an unschedulable unsched pod',
    });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.reason).toBe('Unschedulable');
  });

  kwokIt('sets the termination message on every terminated container', async () => {
    const message = 'outputs={"answer":42,"note":"<ok> & \\"quoted\\""}';
    await batch.createNamespacedJob({ namespace: ns, body: job('msg', { [KWOK_ANNOTATIONS.message]: message }) });
    await watchUntil<V1Job>(jobsPath(ns), (j) => hasCondition(j, 'Complete'), { query: { fieldSelector: 'metadata.name=msg' }, what: 'Job msg to complete' });
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=msg' });
    const term = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
    expect(term?.message).toBe(message);
    expect(term?.exitCode).toBe(0);
    expect(term?.reason).toBe('Completed');
  });

  kwokIt('serves test-written pod logs through pods/log, including lines appended while the pod runs', async () => {
    const t0 = new Date(Date.now() - 60_000);
    await writePodLog({ namespace: ns, container: 'main' }, [
      { time: t0, text: 'first line' },
      { time: new Date(t0.getTime() + 1500), text: 'second line', stream: 'stderr' },
    ]);
    await batch.createNamespacedJob({ namespace: ns, body: job('logs', { [KWOK_ANNOTATIONS.duration]: '60s' }) });
    const pod = await watchUntil<V1Pod>(podsPath(ns), (p) => p.status?.phase === 'Running', {
      query: { labelSelector: 'job-name=logs' },
      what: 'a running logs pod',
    });
    const podName = pod.metadata!.name!;

    const read = async (opts: { sinceTime?: string; timestamps?: boolean; tailLines?: number } = {}) => {
      let out = '';
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          out += chunk.toString();
          cb();
        },
      });
      await new Promise<void>((resolve, reject) => {
        sink.on('finish', resolve);
        new Log(kc).log(ns, podName, 'main', sink, { timestamps: true, ...opts }).catch(reject);
      });
      return out;
    };

    const first = await read();
    expect(first).toBe(
      `${t0.toISOString().replace('Z', '000000Z')} first line\n` +
        `${new Date(t0.getTime() + 1500).toISOString().replace('Z', '000000Z')} second line\n`,
    );
    // Also through the generated API client (no timestamps).
    expect(await core.readNamespacedPodLog({ name: podName, namespace: ns, container: 'main' })).toBe('first line\nsecond line\n');

    // Lines appended now (real timestamps) show up while the pod runs.
    await appendPodLog({ namespace: ns, container: 'main' }, ['third line', 'fourth line']);
    const second = await read();
    const lines = second.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.slice(2).map((l) => l.replace(/^\S+ /, ''))).toEqual(['third line', 'fourth line']);
    const ts = lines.map((l) => Date.parse(l.split(' ')[0]!));
    expect(ts[2]).toBeGreaterThan(Date.now() - 30_000);
    expect(ts[3]!).toBeGreaterThanOrEqual(ts[2]!);

    // sinceTime is applied at whole-second precision: lines from that second on come back.
    const since = new Date(Math.floor(ts[2]! / 1000) * 1000).toISOString();
    const tail = await read({ sinceTime: since });
    expect(tail.trimEnd().split('\n').map((l) => l.replace(/^\S+ /, ''))).toEqual(['third line', 'fourth line']);

    // follow=true streams appended lines as they are written.
    let followed = '';
    const followSink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        followed += chunk.toString();
        cb();
      },
    });
    const abort = await new Log(kc).log(ns, podName, 'main', followSink, { follow: true, timestamps: true, tailLines: 0 });
    try {
      await appendPodLog({ namespace: ns, container: 'main' }, ['followed line']);
      await waitFor(() => followed.includes('followed line'), { timeoutMs: 10_000, what: 'the followed line' });
    } finally {
      abort.abort();
    }

    // A pod-specific file overrides the namespace-wide one for that pod only.
    await writePodLog({ namespace: ns, pod: podName, container: 'main' }, ['only for this pod']);
    expect(await core.readNamespacedPodLog({ name: podName, namespace: ns, container: 'main' })).toBe('only for this pod\n');
  });

  it('enforces RBAC: a ServiceAccount without a Role cannot list Jobs, with one it can', async () => {
    const sa = await mintServiceAccountKubeconfig(ns, 'limited');
    const saKc = new KubeConfig();
    saKc.loadFromFile(sa.kubeconfigPath);
    const saBatch = saKc.makeApiClient(BatchV1Api);
    await expect(saBatch.listNamespacedJob({ namespace: ns })).rejects.toMatchObject({ code: 403 });

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'jobs-reader' }, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'limited-jobs-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jobs-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'limited', namespace: ns }],
      },
    });
    const list = await waitFor(() => saBatch.listNamespacedJob({ namespace: ns }), { timeoutMs: 10_000, what: 'RBAC to allow listing jobs' });
    expect(list.items.length).toBeGreaterThan(0);
    // Still denied outside the Role's verbs.
    await expect(saBatch.deleteNamespacedJob({ namespace: ns, name: 'ok' })).rejects.toMatchObject({ code: 403 });

    // The in-cluster code path: loadFromCluster(pathPrefix) + KUBERNETES_SERVICE_HOST/PORT.
    expect(fs.readFileSync(`${sa.tokenDir}/namespace`, 'utf8')).toBe(ns);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    try {
      Object.assign(process.env, sa.inClusterEnv);
      const inCluster = new KubeConfig();
      inCluster.loadFromCluster(sa.inClusterPathPrefix);
      expect(inCluster.getContextObject(inCluster.getCurrentContext())?.namespace).toBe(ns);
      const jobs = await inCluster.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns });
      expect(jobs.items.length).toBeGreaterThan(0);
      await expect(inCluster.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('runs a trivial workflow on the Temporal dev server', async () => {
    const taskQueue = `stack-test-${randomBytes(4).toString('hex')}`;
    const nativeConnection = await NativeConnection.connect({ address: env.temporalAddress });
    const connection = await Connection.connect({ address: env.temporalAddress });
    try {
      const worker = await Worker.create({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowsPath: fileURLToPath(new URL('../fixtures/trivial-workflow.ts', import.meta.url)),
      });
      const client = new Client({ connection, namespace: 'default' });
      const result = await worker.runUntil(
        client.workflow.execute<typeof trivialWorkflow>('trivialWorkflow', { taskQueue, workflowId: taskQueue, args: ['stack'] }),
      );
      expect(result).toBe('hello, stack');
    } finally {
      await connection.close();
      await nativeConnection.close();
    }
  });
});
