// Log delivery at its edges, on the stack:
// - a container restarted under restartPolicy OnFailure (kwok restarts it in place; the stack's log
//   writer moves each crashed instance's log to the previous log that kwok serves for previous=true):
//   every line of every instance is delivered exactly once, also across a worker crash;
// - an indexed Job of many pods: the cursor annotation keeps drained pods compactly;
// - cursor writes answered 422 (or 503 past the retries) by a real proxy: the attempt goes on, the
//   Job is neither failed nor suspended, every line is delivered.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';
import { Client, Connection, defaultPayloadConverter } from '@temporalio/client';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import type { LogLineMeta } from '../../src/lifecycle/delivery.js';
import { LOG_CURSOR_ANNOTATION } from '../../src/lifecycle/delivery.js';
import { proxiedWorkerKubeconfig, type FaultProxy } from '../helpers/fault-proxy.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor } from '../helpers/stack.js';
import { killWorkers, readLines, startInProcessWorker, startWorker, type InProcessWorker } from '../helpers/workers.js';

/** Pod annotation of the stack's kwok stages: containers crash (exit 1) that many times, each after `duration`. */
const RESTARTS = 'kwok.temporal-k8s-jobs/restarts';

const taskQueue = `logs-${randomBytes(4).toString('hex')}`;
const delivered: Array<{ line: string; meta: LogLineMeta }> = [];
const namespaces: string[] = [];
let ns: string;
let worker: InProcessWorker;

beforeAll(async () => {
  ns = await createTestNamespace('logs');
  namespaces.push(ns);
  worker = await startInProcessWorker(taskQueue, { namespace: ns, heartbeatSeconds: 1, logSink: (line, meta) => delivered.push({ line, meta }) });
});

afterAll(async () => {
  await worker?.stop();
  killWorkers();
  for (const n of namespaces) await deleteNamespace(n);
});

const linesOf = (pod: string) => delivered.filter((d) => d.meta.pod === pod);

/** A Job whose pod restarts `restarts` times, each instance writing `lines` (`{restart}` = its restart count). */
function restartingJob(name: string, restarts: number, duration: string, lines: string[], logs: KubernetesJobInput['logs'], namespace?: string): KubernetesJobInput {
  return {
    template: 'job.yaml.njk',
    name,
    ...(namespace ? { namespace } : {}),
    cleanup: 'never',
    values: {
      image: 'busybox:1.36',
      command: 'run',
      restartPolicy: 'OnFailure',
      backoffLimit: restarts + 3,
      podAnnotations: { [KWOK_ANNOTATIONS.duration]: duration, [RESTARTS]: String(restarts), [KWOK_ANNOTATIONS.logs]: lines.join('\n') },
    },
    logs,
  };
}

const instanceLines = (restarts: number, lines: string[]) => Array.from({ length: restarts + 1 }, (_, r) => lines.map((l) => l.replaceAll('{restart}', String(r)))).flat();

const run = (i: KubernetesJobInput, w: { client: Client } = worker, queue = taskQueue) =>
  w.client.workflow.execute('kubernetesJobWorkflow', { taskQueue: queue, workflowId: `logs-${randomBytes(6).toString('hex')}`, args: [i] }) as Promise<KubernetesJobResult>;

describe('a container restarted under restartPolicy OnFailure', () => {
  // periodic every 60 s: no tail runs during the Job, so the lines of the crashed instances can only come
  // from previous=true reads (at the restart, or at the end for the last one).
  test.each<[string, number, KubernetesJobInput['logs']]>([
    ['periodic (no tail during the run)', 2, { mode: 'periodic', everySeconds: 60 }],
    ['follow', 2, { mode: 'follow' }],
    ['end (only the final read)', 1, { mode: 'end' }],
  ])('%s: every line of every instance exactly once, in order, with unique ids', async (_mode, restarts, logs) => {
    const name = `restart-${randomBytes(3).toString('hex')}`;
    const lines = ['instance {restart} line a', 'instance {restart} line b', 'instance {restart} line c'];
    const result = await run(restartingJob(name, restarts, '3s', lines, logs));
    expect(result.status).toBe('Succeeded');
    const pod = result.pods[0]!;
    expect(pod.containers[0]?.restartCount).toBe(restarts);
    const got = linesOf(pod.name);
    expect(got.map((d) => d.line)).toEqual(instanceLines(restarts, lines).map((l) => `${pod.name}/main ${l}`));
    expect(new Set(got.map((d) => d.meta.id)).size).toBe(got.length);
    for (const d of got) expect(d.meta.id).toBe(`${ns}/${pod.name}/main/${d.meta.time}/${d.meta.index}`);
    expect(result.logLines).toBe(got.length);
  });

  test('worker SIGKILLed before the restart, re-attached after it: the crashed instance\'s remaining lines once, then the new instance\'s', async () => {
    const crashNs = await createTestNamespace('logs-crash');
    namespaces.push(crashNs);
    const queue = `logs-crash-${randomBytes(4).toString('hex')}`;
    const linesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-restart-')), 'lines.txt');
    const lines = Array.from({ length: 6 }, (_, i) => `instance {restart} line ${i + 1}`);
    const first = await startWorker(queue, linesFile);
    const client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
    try {
      const handle = await client.workflow.start('kubernetesJobWorkflow', {
        taskQueue: queue,
        workflowId: `logs-crash-${randomBytes(6).toString('hex')}`,
        args: [restartingJob(`restart-crash-${randomBytes(3).toString('hex')}`, 1, '12s', lines, { mode: 'periodic', everySeconds: 1 }, crashNs)],
      });
      // Kill the worker while instance 0 is half written: its last lines are written while no worker
      // runs, and the instance crashes before the retry re-attaches (heartbeat timeout 20 s).
      await waitFor(async () => readLines(linesFile).length >= 2, { timeoutMs: 60_000, what: 'first lines delivered' });
      first.kill('SIGKILL');
      await startWorker(queue, linesFile);
      const result = (await handle.result()) as KubernetesJobResult;
      expect(result.status).toBe('Succeeded');
      expect(result.reattached).toBe(true);
      const pod = result.pods[0]!.name;
      expect(readLines(linesFile)).toEqual(instanceLines(1, lines).map((l) => `${pod}/main ${l}`));
      const ids = readLines(`${linesFile}.ids`);
      expect(ids).toHaveLength(12);
      expect(new Set(ids).size).toBe(12);
    } finally {
      await client.connection.close();
    }
  });
});

test('an indexed Job of 150 pods: drained pods are kept compactly in the cursor annotation, every line once', async () => {
  const name = `indexed-${randomBytes(3).toString('hex')}`;
  const pods = 150;
  const before = delivered.length;
  const result = await run({
    template: 'job.yaml.njk',
    name,
    cleanup: 'never',
    values: {
      image: 'busybox:1.36',
      command: 'run',
      completions: pods,
      parallelism: 50,
      completionMode: 'Indexed',
      podAnnotations: { [KWOK_ANNOTATIONS.duration]: '1s', [KWOK_ANNOTATIONS.logs]: 'one line\nanother line' },
    },
    logs: { mode: 'periodic', everySeconds: 1 },
  });
  expect(result.status).toBe('Succeeded');
  const got = delivered.slice(before).filter((d) => d.meta.jobName === name);
  expect(got).toHaveLength(2 * pods);
  expect(new Set(got.map((d) => d.meta.id)).size).toBe(2 * pods);
  const job = await kubeConfig().makeApiClient(BatchV1Api).readNamespacedJob({ name, namespace: ns });
  const text = job.metadata!.annotations![LOG_CURSOR_ANNOTATION]!;
  const saved = JSON.parse(text) as { cursors: Record<string, unknown>; seq: number; drained?: string };
  const drained = (saved.drained ?? '').split(' ').filter(Boolean);
  // Uncompacted, every pod would keep one cursor: `<pod>/main` plus time and count (~90 bytes).
  const uncompacted = JSON.stringify({ ...saved, drained: undefined, cursors: Object.fromEntries(result.pods.map((p) => [`${p.name}/main`, { time: got[0]!.meta.time, seen: 1 }])) }).length;
  console.log(`indexed Job, ${pods} pods: cursor annotation ${Buffer.byteLength(text)} bytes (${drained.length} drained pods, ${Object.keys(saved.cursors).length} cursors); one cursor per pod would be ${uncompacted} bytes`);
  expect(saved.seq).toBe(2 * pods);
  expect(drained).toHaveLength(pods);
  expect(Object.keys(saved.cursors)).toHaveLength(0);
  expect(Buffer.byteLength(text)).toBeLessThan(pods * 16);
});

describe('cursor writes that cannot be saved (a real proxy answers them)', () => {
  let proxy: FaultProxy;
  let proxied: InProcessWorker;
  let faultNs: string;
  const faultQueue = `logs-faults-${randomBytes(4).toString('hex')}`;
  const got: Array<{ line: string; meta: LogLineMeta }> = [];

  beforeAll(async () => {
    faultNs = await createTestNamespace('logs-faults');
    namespaces.push(faultNs);
    let kubeconfig: string;
    ({ proxy, kubeconfig } = await proxiedWorkerKubeconfig(faultNs));
    // The test reads the note from the heartbeat details while the 6 s Job runs: forward heartbeats within
    // 1 s (the SDK's default throttle, 80% of the heartbeat timeout, would let the Job end first).
    proxied = await startInProcessWorker(
      faultQueue,
      { kubeConfig: { kubeconfig }, namespace: faultNs, heartbeatSeconds: 1, logSink: (line, meta) => got.push({ line, meta }) },
      { maxHeartbeatThrottleInterval: '1s' },
    );
  });

  afterAll(async () => {
    await proxied?.stop();
    await proxy?.close();
  });

  const job = (name: string): KubernetesJobInput => ({
    template: 'job.yaml.njk',
    name,
    cleanup: 'never',
    values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '6s', [KWOK_ANNOTATIONS.logs]: 'alpha\nbeta\ngamma' } },
    logs: { mode: 'periodic', everySeconds: 1 },
  });

  /** The PATCHes of the Job that write its log cursors (not the result record or the release). */
  const cursorWrites = (name: string, status: number, times: number) =>
    proxy.addRule({ method: 'PATCH', path: new RegExp(`^/apis/batch/v1/namespaces/${faultNs}/jobs/${name}(\\?|$)`), body: /temporal-k8s-jobs\/log-cursors/, status, times });

  test('422 on every cursor write: the Job runs to success, every line delivered once, a note in the heartbeat, the Job not suspended', async () => {
    const name = `cursor-422-${randomBytes(3).toString('hex')}`;
    const rule = cursorWrites(name, 422, 1000);
    const handle = await proxied.client.workflow.start('kubernetesJobWorkflow', { taskQueue: faultQueue, workflowId: `logs-422-${randomBytes(6).toString('hex')}`, args: [job(name)] });
    // The attempt says in its heartbeat that the cursors are not saved.
    await waitFor(
      async () => {
        const payload = (await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
        const hb = payload ? (defaultPayloadConverter.fromPayload(payload) as { logNote?: string }) : undefined;
        return /log cursors not saved.*HTTP 422/.test(hb?.logNote ?? '');
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'logNote in the heartbeat details' },
    );
    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.status).toBe('Succeeded');
    expect(result.reattached).toBe(false);
    expect(rule.hits).toBeGreaterThanOrEqual(3); // claim, deliveries, the claim before finishing
    const pod = result.pods[0]!.name;
    expect(got.filter((d) => d.meta.pod === pod).map((d) => d.line)).toEqual(['alpha', 'beta', 'gamma'].map((l) => `${pod}/main ${l}`));
    const saved = await kubeConfig().makeApiClient(BatchV1Api).readNamespacedJob({ name, namespace: faultNs });
    expect(saved.metadata?.annotations?.[LOG_CURSOR_ANNOTATION]).toBeUndefined(); // never saved
    expect(saved.spec?.suspend).not.toBe(true);
  });

  test('503 on 8 cursor writes in a row (past one write\'s retries): the attempt goes on, every line delivered once', async () => {
    const name = `cursor-503-${randomBytes(3).toString('hex')}`;
    const rule = cursorWrites(name, 503, 8);
    const result = await run(job(name), proxied, faultQueue);
    expect(rule.hits).toBe(8);
    expect(result.status).toBe('Succeeded');
    expect(result.reattached).toBe(false); // the first attempt saw it through
    const pod = result.pods[0]!.name;
    expect(got.filter((d) => d.meta.pod === pod).map((d) => d.line)).toEqual(['alpha', 'beta', 'gamma'].map((l) => `${pod}/main ${l}`));
    const saved = await kubeConfig().makeApiClient(BatchV1Api).readNamespacedJob({ name, namespace: faultNs });
    expect(JSON.parse(saved.metadata!.annotations![LOG_CURSOR_ANNOTATION]!)).toMatchObject({ seq: 3 });
    expect(saved.spec?.suspend).not.toBe(true);
  });
});
