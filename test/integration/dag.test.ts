// DAGs on the real stack: real Temporal dev server, real kube-apiserver + Job controller, kwok pods,
// a real worker running the package's workflow entry. Ordering, parallelism and deletions are observed
// from the cluster by an independent watch on the namespace's Jobs, not from the workflow.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { CoreV1Api, Watch, type V1Job } from '@kubernetes/client-node';
import { KubernetesJobsPlugin } from '../../src/plugin.js';
import type { Dag, DagResult, RunDagOptions } from '../../src/dag-types.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const workflowsPath = path.join(repoRoot, 'dist/workflow/index.js');
const taskQueue = `dag-${randomBytes(4).toString('hex')}`;
let ns: string;
let worker: Worker;
let running: Promise<void>;
let client: Client;
let workerConnection: NativeConnection;
let templates: string;
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

/** What the independent watcher saw of one Job (times are local receive times). */
interface Seen {
  name: string;
  activityId: string;
  workflowId: string;
  added: number;
  finished?: number;
  failed?: boolean;
  deleted?: number;
}

/** Watches every Job of the namespace, independently of the worker. */
class JobObserver {
  readonly jobs = new Map<string, Seen>();
  /** Largest number of Jobs that existed unfinished at the same time. */
  maxActive = 0;
  private abort?: AbortController;
  async start(namespace: string): Promise<void> {
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    this.abort = await new Watch(kc).watch(
      `/apis/batch/v1/namespaces/${namespace}/jobs`,
      {},
      (type: string, job: V1Job) => {
        const name = job.metadata!.name!;
        const now = Date.now();
        let seen = this.jobs.get(name);
        if (!seen) {
          seen = {
            name,
            activityId: job.metadata?.annotations?.['temporal-k8s-jobs/activity-id'] ?? '',
            workflowId: job.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] ?? '',
            added: now,
          };
          this.jobs.set(name, seen);
        }
        const conds = job.status?.conditions ?? [];
        if (!seen.finished && conds.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) {
          seen.finished = now;
          seen.failed = conds.some((c) => c.type === 'Failed' && c.status === 'True');
        }
        if (type === 'DELETED') seen.deleted ??= now;
        const active = [...this.jobs.values()].filter((j) => !j.finished && !j.deleted).length;
        this.maxActive = Math.max(this.maxActive, active);
      },
      () => undefined,
    );
    // The watch is open once the API server answered; a Job created now is seen.
    ready();
    await started;
  }
  stop(): void {
    this.abort?.abort();
  }
  /** Jobs of one workflow, by activity id (a step's name, `<step>-<index>`, or `onExit`). */
  of(workflowId: string): Map<string, Seen> {
    return new Map([...this.jobs.values()].filter((j) => j.workflowId === workflowId || j.workflowId.startsWith(`${workflowId}/`)).map((j) => [j.activityId, j]));
  }
}

const observer = new JobObserver();

beforeAll(async () => {
  ns = await createTestNamespace('dag');
  templates = tempDir().dir;
  // A template that reads an upstream step's output through `steps.<name>` and makes it its own output.
  fs.writeFileSync(
    path.join(templates, 'echo-upstream.yaml.njk'),
    [
      'apiVersion: batch/v1',
      'kind: Job',
      'spec:',
      '  backoffLimit: 0',
      '  template:',
      '    metadata:',
      '      annotations:',
      `        ${KWOK_ANNOTATIONS.message}: "from-template {{ steps.plan.output.word }}"`,
      '    spec:',
      '      restartPolicy: Never',
      '      containers:',
      '        - name: main',
      '          image: busybox:1.36',
      '          command: ["sh", "-c", "echo {{ steps.plan.output.word }} > /dev/termination-log"]',
      '',
    ].join('\n'),
  );
  const env = stackEnv();
  workerConnection = await NativeConnection.connect({ address: env.temporalAddress });
  worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowsPath,
    maxConcurrentActivityTaskExecutions: 200,
    plugins: [new KubernetesJobsPlugin({ kubeConfig: { kubeconfig: env.kubeconfig }, namespace: ns, heartbeatSeconds: 1, templateDirs: [templates], defaults: { logMode: 'end' } })],
  });
  running = worker.run();
  client = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
  await observer.start(ns);
});

afterAll(async () => {
  observer.stop();
  worker?.shutdown();
  await running;
  await workerConnection?.close();
  await client?.connection.close();
  if (ns) await deleteNamespace(ns);
});

/** A step of the base template whose simulated pod runs `seconds`, exits `exit`, and outputs `message`. */
function job(opts: { seconds?: number; exit?: number; message?: unknown } = {}) {
  const podAnnotations: Record<string, string> = { [KWOK_ANNOTATIONS.duration]: `${opts.seconds ?? 0}s` };
  if (opts.exit !== undefined) podAnnotations[KWOK_ANNOTATIONS.exitCode] = String(opts.exit);
  if (opts.message !== undefined) podAnnotations[KWOK_ANNOTATIONS.message] = typeof opts.message === 'string' ? opts.message : JSON.stringify(opts.message);
  return { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo hi', podAnnotations } };
}

function start(dag: Dag, options: RunDagOptions = {}) {
  const workflowId = `dag-${randomBytes(5).toString('hex')}`;
  return client.workflow.start('dagWorkflow', { taskQueue, workflowId, args: [dag, options] });
}

/** The DAG's result, whether it succeeded (returned) or not (the DagFailed failure's first detail). */
async function outcome(p: Promise<unknown>): Promise<{ result: DagResult; failure?: ApplicationFailure }> {
  try {
    return { result: (await p) as DagResult };
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    const failure = cause as ApplicationFailure;
    // Any other failure: its text as the status, so an assertion on the status shows why.
    if (failure.type !== 'DagFailed') return { result: { status: `${failure.type}: ${failure.message}` as never, steps: {} }, failure };
    return { result: failure.details?.[0] as DagResult, failure };
  }
}

const statuses = (r: DagResult) => Object.fromEntries(Object.entries(r.steps).map(([n, s]) => [n, s.status]));

test('fan-out over an output and fan-in run in order; outputs flow through valuesFrom and through steps.<name> in a template', async () => {
  const dag: Dag = {
    name: 'order',
    values: { image: 'busybox:1.36', command: 'echo hi' },
    steps: {
      plan: job({ seconds: 1, message: { shards: ['a', 'b', 'c'], word: 'hello' } }),
      fan: {
        template: 'job.yaml.njk',
        dependsOn: ['plan'],
        forEach: 'steps.plan.output.shards',
        // The item's output is computed from the item: proves item/index reach values.
        valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.duration}': '1s', '${KWOK_ANNOTATIONS.message}': 'done-' + item + '-' + string(index)}` },
      },
      join: {
        template: 'job.yaml.njk',
        dependsOn: ['fan'],
        valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.message}': steps.fan.output.join(',') + '/' + steps.plan.output.word}` },
      },
      'via-template': { template: 'echo-upstream.yaml.njk', dependsOn: ['plan'] },
    },
  };
  const handle = await start(dag);
  const { result } = await outcome(handle.result());
  expect(statuses(result)).toEqual({ plan: 'Succeeded', fan: 'Succeeded', join: 'Succeeded', 'via-template': 'Succeeded' });
  expect(result.status).toBe('Succeeded');
  expect(result.steps.fan!.output).toEqual(['done-a-0', 'done-b-1', 'done-c-2']);
  expect(result.steps.fan!.items).toMatchObject({ total: 3, succeeded: 3, failed: 0, pending: 0, running: 0 });
  expect(result.steps.fan!.jobName).toHaveLength(3);
  expect(result.steps.join!.output).toBe('done-a-0,done-b-1,done-c-2/hello');
  expect(result.steps['via-template']!.output).toBe('from-template hello');

  // Order, as the cluster saw it: plan finished before any fan Job existed; every fan Job finished before join's.
  const seen = observer.of(handle.workflowId);
  const plan = seen.get('plan')!;
  const fans = ['fan[0]', 'fan[1]', 'fan[2]'].map((id) => seen.get(id)!);
  const join = seen.get('join')!;
  expect(fans.every(Boolean)).toBe(true);
  for (const f of fans) expect(f.added).toBeGreaterThanOrEqual(plan.finished!);
  for (const f of fans) expect(join.added).toBeGreaterThanOrEqual(f.finished!);
  // The fan-out ran in parallel: every item's Job existed before the first one finished.
  expect(Math.max(...fans.map((f) => f.added))).toBeLessThan(Math.min(...fans.map((f) => f.finished!)));
  // Readable Job names: the step (and item index) lead the derived name.
  expect(plan.name.startsWith('plan-')).toBe(true);
  expect(fans[2]!.name.startsWith('fan-2-')).toBe(true);
});

test('maxParallel bounds the Jobs running at once, as observed from the cluster', async () => {
  const before = observer.maxActive;
  expect(before).toBeLessThanOrEqual(4); // only the previous test's Jobs so far
  observer.maxActive = 0;
  const handle = await start({
    maxParallel: 2,
    steps: {
      a: job({ seconds: 2 }),
      b: job({ seconds: 2 }),
      many: { ...job({ seconds: 1 }), forEach: [1, 2, 3, 4], maxParallel: 3 },
    },
  });
  const { result } = await outcome(handle.result());
  expect(result.status).toBe('Succeeded');
  expect(observer.of(handle.workflowId).size).toBe(6);
  // Never more than 2 at once, and the bound was actually reached (the DAG did run in parallel).
  expect(observer.maxActive).toBe(2);
});

test('when: a false condition skips, a failure runs the fallback; skips propagate to dependants', async () => {
  const handle = await start({
    failFast: false,
    steps: {
      risky: job({ exit: 3 }),
      fallback: { ...job(), dependsOn: ['risky'], when: "steps.risky.status == 'Failed'" },
      never: { ...job(), dependsOn: ['risky'], when: "steps.risky.status == 'Succeeded'" },
      'after-never': { ...job(), dependsOn: ['never'] },
      'after-risky': { ...job(), dependsOn: ['risky'] },
      deeper: { ...job(), dependsOn: ['after-risky'] },
    },
  });
  const { result, failure } = await outcome(handle.result());
  expect(failure?.type).toBe('DagFailed');
  expect(failure?.message).toMatch(/^DAG failed: risky \(JobFailed: Job '.*' failed: BackoffLimitExceeded \(container 'main' exit code 3\)\)$/);
  expect(statuses(result)).toEqual({ risky: 'Failed', fallback: 'Succeeded', never: 'Skipped', 'after-never': 'Skipped', 'after-risky': 'Skipped', deeper: 'Skipped' });
  expect(result.steps.never!.reason).toBe("when is false: steps.risky.status == 'Succeeded'");
  expect(result.steps['after-never']!.reason).toBe("dependency 'never' skipped");
  expect(result.steps['after-risky']!.reason).toBe("dependency 'risky' failed");
  expect(result.steps.deeper!.reason).toBe("dependency 'after-risky' skipped");
  expect(result.steps.risky!.error).toMatch(/^JobFailed: /);
  const seen = observer.of(handle.workflowId);
  expect([...seen.keys()].sort()).toEqual(['fallback', 'risky']);
});

test('failFast: a failure deletes the running Jobs within 5 s and starts nothing new (a `when` fallback still runs); onExit runs after the failure', async () => {
  const handle = await start({
    maxParallel: 4,
    steps: {
      slow: job({ seconds: 120 }),
      'slow-items': { ...job({ seconds: 120 }), forEach: ['x', 'y'] },
      boom: job({ seconds: 3, exit: 2 }),
      // Waits for a permit (4 Jobs run) until boom fails: then it never starts.
      waiting: job(),
      later: { ...job(), dependsOn: ['boom'] },
      fallback: { ...job(), dependsOn: ['boom'], when: "steps.boom.status == 'Failed'" },
      'after-slow': { ...job(), dependsOn: ['slow'] },
    },
    onExit: { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo bye' }, valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.message}': dag.status + ':' + steps.boom.status + ':' + steps.slow.status}` } },
  });
  const { result } = await outcome(handle.result());
  expect(statuses(result)).toEqual({ slow: 'Cancelled', 'slow-items': 'Cancelled', boom: 'Failed', waiting: 'Skipped', later: 'Skipped', fallback: 'Succeeded', 'after-slow': 'Skipped' });
  expect(result.steps.waiting!.reason).toBe("not started: step 'boom' failed (failFast)");
  expect(result.steps.later!.reason).toBe("not started: step 'boom' failed (failFast)");
  expect(result.steps['after-slow']!.reason).toBe("not started: step 'boom' failed (failFast)");
  expect(result.steps.slow!.reason).toBe("step 'boom' failed (failFast)");
  expect(result.steps['slow-items']!.items).toMatchObject({ total: 2, cancelled: 2 });
  expect(result.onExit).toMatchObject({ status: 'Succeeded', output: 'Failed:Failed:Cancelled' });
  const seen = observer.of(handle.workflowId);
  expect([...seen.keys()].sort()).toEqual(['boom', 'fallback', 'onExit', 'slow', 'slow-items[0]', 'slow-items[1]']);
  expectDeletedWithin5s(seen, seen.get('boom')!.finished!, ['slow', 'slow-items[0]', 'slow-items[1]']);
  // onExit started after everything else had ended.
  expect(seen.get('onExit')!.added).toBeGreaterThanOrEqual(Math.max(...['slow', 'slow-items[0]', 'slow-items[1]'].map((id) => seen.get(id)!.deleted!)));
});

/** Each Job was deleted at most 5 s after `since` (as the independent watcher saw it); prints the latencies. */
function expectDeletedWithin5s(seen: Map<string, Seen>, since: number, ids: string[]): void {
  const latencies = ids.map((id) => {
    const j = seen.get(id);
    expect(j?.deleted).toBeDefined();
    return j!.deleted! - since;
  });
  process.stdout.write(`[dag] failFast deletion latencies (ms): ${latencies.join(', ')}\n`);
  for (const l of latencies) expect(l).toBeLessThanOrEqual(5000);
}

test('failFast on a forEach item: the first failed item cancels its siblings and the other steps at once', async () => {
  const handle = await start({
    steps: {
      fan: { ...job(), forEach: [0, 1, 2], valuesFrom: { podAnnotations: `index == 1 ? {'${KWOK_ANNOTATIONS.duration}': '2s', '${KWOK_ANNOTATIONS.exitCode}': '3'} : {'${KWOK_ANNOTATIONS.duration}': '120s'}` } },
      other: job({ seconds: 120 }),
    },
  });
  const { result } = await outcome(handle.result());
  expect(statuses(result)).toEqual({ fan: 'Failed', other: 'Cancelled' });
  expect(result.steps.fan!.items).toMatchObject({ total: 3, failed: 1, cancelled: 2, running: 0, pending: 0 });
  expect(result.steps.fan!.error).toMatch(/^item 1: JobFailed: /);
  const seen = observer.of(handle.workflowId);
  expectDeletedWithin5s(seen, seen.get('fan[1]')!.finished!, ['fan[0]', 'fan[2]', 'other']);
});

test('failFast in a batched forEach: an item failing in one child workflow stops the other batches and steps at once', async () => {
  const handle = await start(
    {
      steps: {
        big: { ...job(), forEach: [0, 1, 2, 3, 4, 5, 6, 7, 8], valuesFrom: { podAnnotations: `index == 4 ? {'${KWOK_ANNOTATIONS.duration}': '3s', '${KWOK_ANNOTATIONS.exitCode}': '3'} : {'${KWOK_ANNOTATIONS.duration}': '120s'}` } },
        other: job({ seconds: 120 }),
      },
    },
    { batchSize: 3 },
  );
  const { result } = await outcome(handle.result());
  expect(statuses(result)).toEqual({ big: 'Failed', other: 'Cancelled' });
  expect(result.steps.big!.items).toMatchObject({ total: 9, failed: 1, cancelled: 8, running: 0, pending: 0 });
  const seen = observer.of(handle.workflowId);
  const rest = [0, 1, 2, 3, 5, 6, 7, 8].map((i) => `big[${i}]`);
  expectDeletedWithin5s(seen, seen.get('big[4]')!.finished!, [...rest, 'other']);
}, 180_000);

test('continue mode (failFast: false): everything not downstream of the failure runs', async () => {
  const handle = await start({
    failFast: false,
    steps: {
      bad: job({ exit: 1 }),
      good: job({ seconds: 2 }),
      'after-bad': { ...job(), dependsOn: ['bad'] },
      'after-good': { ...job(), dependsOn: ['good'] },
      items: { ...job(), forEach: [0, 1, 2], valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.exitCode}': index == 1 ? '4' : '0'}` } },
    },
  });
  const { result } = await outcome(handle.result());
  expect(result.status).toBe('Failed');
  expect(statuses(result)).toEqual({ bad: 'Failed', good: 'Succeeded', 'after-bad': 'Skipped', 'after-good': 'Succeeded', items: 'Failed' });
  // One item failed; the others still ran to success.
  expect(result.steps.items!.items).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
  expect(result.steps.items!.error).toMatch(/^item 1: JobFailed: .*exit code 4/);
});

test('onExit runs after success and sees dag.status', async () => {
  const { result } = await outcome(
    (
      await start({
        steps: { only: job({ message: { n: 1 } }) },
        onExit: { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo bye' }, valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.message}': dag.status + ' ' + string(steps.only.output.n)}` } },
      })
    ).result(),
  );
  expect(result.status).toBe('Succeeded');
  expect(result.onExit).toMatchObject({ status: 'Succeeded', output: 'Succeeded 1' });
});

test('cancelling a running DAG from the CLI deletes every running Job and its pods, then onExit runs', async () => {
  const handle = await start({
    steps: { long: job({ seconds: 300 }), wide: { ...job({ seconds: 300 }), forEach: [1, 2] } },
    onExit: { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo bye' }, valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.message}': dag.status}` } },
  });
  const jobNames = () => [...observer.of(handle.workflowId).values()].map((j) => j.name);
  await waitFor(async () => (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.status?.phase === 'Running' && jobNames().includes(p.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? '')).length >= 3, {
    timeoutMs: 60_000,
    what: '3 pods of the DAG running',
  });
  // Live progress while it runs.
  const live = await handle.query<DagResult>('dagState');
  expect(live.status).toBe('Running');
  expect(live.steps.long!.status).toBe('Running');
  expect(live.steps.wide).toMatchObject({ status: 'Running', items: { total: 2, running: 2, pending: 0, succeeded: 0 } });
  expect(live.onExit).toMatchObject({ status: 'Pending' });
  const env = stackEnv();
  // Asynchronously: the worker runs in this process and must go on while the CLI waits.
  const cancel = await new Promise<{ status: number | null; out: string }>((resolve) => {
    const child = spawn('node', [path.join(repoRoot, 'bin/temporal-k8s-jobs.js'), 'cancel', handle.workflowId], { env: { ...process.env, TEMPORAL_ADDRESS: env.temporalAddress } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (status) => resolve({ status, out }));
  });
  expect(cancel).toMatchObject({ status: 0 });
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const state = await handle.query<DagResult>('dagState');
  expect(statuses(state)).toEqual({ long: 'Cancelled', wide: 'Cancelled' });
  expect(state.status).toBe('Cancelled');
  expect(state.onExit).toMatchObject({ status: 'Succeeded', output: 'Cancelled' });
  const seen = observer.of(handle.workflowId);
  for (const id of ['long', 'wide[0]', 'wide[1]']) expect(seen.get(id)?.deleted).toBeDefined();
  // Pods of the cancelled Jobs are gone too.
  const names = ['long', 'wide[0]', 'wide[1]'].map((id) => seen.get(id)!.name);
  const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter((p) => names.includes(p.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? ''));
  expect(pods).toEqual([]);
});

test('a forEach larger than batchSize runs in child workflows (55 items, batches of 10)', async () => {
  const items = Array.from({ length: 55 }, (_, i) => `item${i}`);
  observer.maxActive = 0;
  const handle = await start(
    { maxParallel: 12, steps: { big: { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo item' }, forEach: items, valuesFrom: { podAnnotations: `{'${KWOK_ANNOTATIONS.message}': item}` } } } },
    { batchSize: 10 },
  );
  const { result } = await outcome(handle.result());
  expect(result.status).toBe('Succeeded');
  expect(result.steps.big!.items).toMatchObject({ total: 55, succeeded: 55 });
  expect(result.steps.big!.output).toEqual(items);
  // The DAG's maxParallel holds across child workflows, as the cluster saw it.
  expect(observer.maxActive).toBeLessThanOrEqual(12);
  expect(observer.maxActive).toBeGreaterThanOrEqual(5);
  // Six child workflows ran the items; the parent itself ran none of them.
  const children = [];
  for (let j = 0; j < 6; j++) children.push(await client.workflow.getHandle(`${handle.workflowId}/big/batch-${j}`).describe());
  expect(children.map((c) => c.type)).toEqual(Array(6).fill('dagBatchWorkflow'));
  expect(children.map((c) => c.status.name)).toEqual(Array(6).fill('COMPLETED'));
  const seen = [...observer.jobs.values()].filter((j) => j.workflowId.startsWith(`${handle.workflowId}/`));
  expect(seen).toHaveLength(55);
  expect(new Set(seen.map((j) => j.activityId)).size).toBe(55);
  const history = await handle.fetchHistory();
  const parentActivities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;
  expect(parentActivities).toBe(1); // the template check only
}, 300_000);

test('rejected DAGs fail with InvalidDag before anything is created', async () => {
  const cases: [Dag, RegExp][] = [
    [{ steps: { a: { ...job(), dependsOn: ['b'] }, b: { ...job(), dependsOn: ['a'] } } }, /steps form a cycle: a -> b -> a/],
    [{ steps: { a: job(), b: { ...job(), when: "steps.zz.status == 'Failed'" } } } as Dag, /step 'b' when: CEL names unknown step 'zz'/],
    [{ steps: { a: { template: 'no-such.yaml.njk' }, b: job() } }, /step 'a': template 'no-such.yaml.njk' not found/],
    [{ steps: { a: job() }, onExit: { template: '../escape.yaml' } }, /onExit: template name '..\/escape.yaml' reaches outside/],
    [{ steps: { a: job() }, extra: 1 } as unknown as Dag, /DAG: unknown key 'extra'/],
    [{ steps: { a: { ...job(), dependsOn: ['ghost'] } } }, /step 'a' depends on unknown step 'ghost'/],
    [{ steps: { Bad_Name: job() } }, /step 'Bad_Name': invalid step name/],
    [{ steps: { a: { ...job(), when: 'steps.' } } }, /step 'a' when: CEL "steps\." does not parse/],
    [{ steps: { a: { values: {} } } } as unknown as Dag, /step 'a' has no template/],
  ];
  const before = observer.jobs.size;
  for (const [dag, message] of cases) {
    const handle = await start(dag);
    const { failure } = await outcome(handle.result());
    expect(failure?.type).toBe('InvalidDag');
    expect(failure?.message).toMatch(message);
  }
  expect(observer.jobs.size).toBe(before);
});
