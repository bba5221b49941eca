// The Job lifecycle on the real stack: real Temporal dev server, real kube-apiserver + Job controller,
// kwok pods. A real worker runs the package's workflow and activities in this process.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import * as yaml from 'js-yaml';
import { tempDir } from '../helpers/tmp.js';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ActivityFailure, ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { KubernetesJobsPlugin } from '../../src/plugin.js';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, appendPodLog, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor, writePodLog } from '../helpers/stack.js';

const workflowsPath = fileURLToPath(new URL('../../dist/workflow/index.js', import.meta.url));
const taskQueue = `lifecycle-${randomBytes(4).toString('hex')}`;
const delivered: { line: string; jobName: string }[] = [];
let ns: string;
let worker: Worker;
let running: Promise<void>;
let client: Client;
let workerConnection: NativeConnection;
const kc = kubeConfig();
const batch = kc.makeApiClient(BatchV1Api);
const core = kc.makeApiClient(CoreV1Api);
/** The worker's rendered-output directory (writeRenderedTo may only name it or a subdirectory). */
const renderedRoot = tempDir();

beforeAll(async () => {
  ns = await createTestNamespace('lifecycle');
  const env = stackEnv();
  workerConnection = await NativeConnection.connect({ address: env.temporalAddress });
  worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowsPath,
    plugins: [
      new KubernetesJobsPlugin({
        kubeConfig: { kubeconfig: env.kubeconfig },
        namespace: ns,
        heartbeatSeconds: 1,
        renderedOutputDir: renderedRoot.dir,
        logSink: (line, meta) => delivered.push({ line, jobName: meta.jobName }),
      }),
    ],
  });
  running = worker.run();
  client = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await workerConnection?.close();
  await client?.connection.close();
  if (ns) await deleteNamespace(ns);
  renderedRoot.cleanup();
});

const base = (podAnnotations: Record<string, string> = {}, extra: Partial<KubernetesJobInput> = {}): KubernetesJobInput => ({
  template: 'job.yaml.njk',
  values: { image: 'busybox:1.36', command: 'echo hi', podAnnotations },
  logs: { mode: 'periodic', everySeconds: 1 },
  ...extra,
});

function start(input: KubernetesJobInput) {
  return client.workflow.start('kubernetesJobWorkflow', { taskQueue, workflowId: `lc-${randomBytes(6).toString('hex')}`, args: [input] });
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const act = (err as WorkflowFailedError).cause;
  expect(act).toBeInstanceOf(ActivityFailure);
  const app = (act as ActivityFailure).cause;
  expect(app).toBeInstanceOf(ApplicationFailure);
  return app as ApplicationFailure;
}

async function jobsIn(namespace: string) {
  return (await batch.listNamespacedJob({ namespace })).items;
}

test('a Job succeeds; periodic logs deliver every line once, in order; the Job is deleted (onSuccess)', async () => {
  await writePodLog({ namespace: ns, container: 'main' }, ['line 1', 'line 2']);
  const handle = await start(base({ [KWOK_ANNOTATIONS.duration]: '4s' }));
  // Lines appended while the pod runs arrive too.
  await waitFor(async () => (await core.listNamespacedPod({ namespace: ns })).items.some((p) => p.status?.phase === 'Running'), { timeoutMs: 30_000, what: 'pod running' });
  await appendPodLog({ namespace: ns, container: 'main' }, ['line 3', 'line 4']);
  const result = (await handle.result()) as KubernetesJobResult;
  expect(result.status).toBe('Succeeded');
  expect(result.reattached).toBe(false);
  expect(result.deleted).toBe(true);
  const pod = result.pods[0]!.name;
  const mine = delivered.filter((d) => d.jobName === result.jobName).map((d) => d.line);
  expect(mine).toEqual([`${pod}/main line 1`, `${pod}/main line 2`, `${pod}/main line 3`, `${pod}/main line 4`]);
  expect(result.logTail).toEqual(mine);
  expect(result.logLines).toBe(4);
  expect(result.exitCodes).toEqual({ [`${pod}/main`]: 0 });
  await waitFor(async () => (await jobsIn(ns)).every((j) => j.metadata?.name !== result.jobName), { timeoutMs: 30_000, what: 'job deleted' });
});

test('a pod failing with exit code 3 fails the workflow with JobFailed naming the container and code', async () => {
  const handle = await start(base({ [KWOK_ANNOTATIONS.exitCode]: '3' }, { cleanup: 'never' }));
  const failure = await failureOf(handle.result());
  expect(failure.type).toBe('JobFailed');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(new RegExp(`^Job '${ns}/[a-z0-9-]+' failed: BackoffLimitExceeded \\(container 'main' exit code 3\\)$`));
  const details = failure.details?.[0] as { pods?: { containers?: { exitCode?: number }[] }[] };
  expect(JSON.stringify(details)).toContain('"exitCode":3');
});

test('an image that cannot be pulled fails fast after the grace period', async () => {
  const handle = await start(base({ [KWOK_ANNOTATIONS.imagePull]: 'ImagePullBackOff' }, { failFastGraceSeconds: 2, cleanup: 'always' }));
  const failure = await failureOf(handle.result());
  expect(failure.type).toBe('ImagePullFailed');
  expect(failure.message).toMatch(/ImagePullBackOff/);
});

test('an unschedulable pod fails fast after the grace period; the Job is kept suspended so it cannot start later', async () => {
  const input = base({}, { unschedulableGraceSeconds: 2 }); // default cleanup: onSuccess
  input.values = { ...input.values, nodeSelector: { 'no-such-label': 'x' } };
  const failure = await failureOf((await start(input)).result());
  expect(`${failure.type}: ${failure.message}`).toMatch(/^Unschedulable: .*node/);
  const name = /Job '[^/]+\/([^']+)'/.exec(failure.message)![1]!;
  const job = await batch.readNamespacedJob({ name, namespace: ns });
  expect(job.spec?.suspend).toBe(true);
});

test('a Job deleted from outside while it runs fails the step at once, with a clear message', async () => {
  const handle = await start(base({ [KWOK_ANNOTATIONS.duration]: '120s' }, { logs: { mode: 'none' } }));
  let name = '';
  await waitFor(
    async () => {
      name = (await jobsIn(ns)).find((j) => j.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] === handle.workflowId)?.metadata?.name ?? '';
      return !!name;
    },
    { timeoutMs: 30_000, what: 'job created' },
  );
  await batch.deleteNamespacedJob({ name, namespace: ns, body: { propagationPolicy: 'Background' } });
  const failure = await failureOf(handle.result());
  expect(failure.type).toBe('JobFailed');
  expect(failure.message).toBe(`Job '${ns}/${name}' was deleted while it ran (by someone else, or ttlSecondsAfterFinished)`);
});

test('activeDeadlineSeconds ends in DeadlineExceeded', async () => {
  const input = base({ [KWOK_ANNOTATIONS.duration]: '60s' }, { cleanup: 'always' });
  input.values = { ...input.values, activeDeadlineSeconds: 2 };
  const failure = await failureOf((await start(input)).result());
  expect(failure.type).toBe('DeadlineExceeded');
});

test('cancelling the workflow deletes the Job and its pods before the workflow reports cancelled', async () => {
  const handle = await start(base({ [KWOK_ANNOTATIONS.duration]: '120s' }, { cleanup: 'never' }));
  let jobName = '';
  await waitFor(
    async () => {
      const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=temporal-k8s-jobs' })).items.filter((p) => p.status?.phase === 'Running');
      jobName = pods[0]?.metadata?.labels?.['batch.kubernetes.io/job-name'] ?? '';
      return !!jobName;
    },
    { timeoutMs: 30_000, what: 'pod running' },
  );
  // The Temporal UI (and the CLI) see where the Job is: progress in the activity's heartbeat details.
  await waitFor(
    async () => {
      const payload = (await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
      const hb = payload ? (defaultPayloadConverter.fromPayload(payload) as { progress: { jobName: string; phase: string; active: number; lastEvent?: string } }) : undefined;
      return hb?.progress.phase === 'Running' && hb.progress.active === 1 && hb.progress.jobName === jobName && /^pod .+: Running$/.test(hb.progress.lastEvent ?? '');
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'progress in heartbeat details' },
  );
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  // Already gone when the workflow reports cancelled: no waiting here.
  expect((await jobsIn(ns)).map((j) => j.metadata?.name)).not.toContain(jobName);
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: `batch.kubernetes.io/job-name=${jobName}` })).items;
  expect(pods).toEqual([]);
});

test('a fixed name taken by a Job this execution does not own is JobNameConflict; nothing is changed', async () => {
  const name = `taken-${randomBytes(3).toString('hex')}`;
  await batch.createNamespacedJob({
    namespace: ns,
    body: { metadata: { name }, spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } } } },
  });
  const failure = await failureOf((await start({ ...base(), name })).result());
  expect(failure.type).toBe('JobNameConflict');
  expect(failure.message).toContain(`Job '${ns}/${name}' already exists and is not owned by this workflow execution`);
  const job = await batch.readNamespacedJob({ name, namespace: ns });
  expect(job.metadata?.annotations?.['temporal-k8s-jobs/workflow-id']).toBeUndefined();
});

test('a template error fails without creating anything', async () => {
  const before = (await jobsIn(ns)).length;
  const failure = await failureOf((await start({ template: 'job.yaml.njk', values: {} })).result());
  expect(failure.type).toBe('TemplateError');
  expect(failure.message).toMatch(/missing required value 'image'/);
  expect((await jobsIn(ns)).length).toBe(before);
});

test('follow mode streams lines as they are written and stops by itself when the Job ends', async () => {
  const logNs = await createTestNamespace('follow');
  try {
    await writePodLog({ namespace: logNs, container: 'main' }, ['f1']);
    const handle = await start({ ...base({ [KWOK_ANNOTATIONS.duration]: '20s' }), namespace: logNs, logs: { mode: 'follow' } });
    await waitFor(async () => delivered.some((d) => d.line.endsWith('/main f1')), { timeoutMs: 15_000, what: 'first line streamed' });
    await appendPodLog({ namespace: logNs, container: 'main' }, ['f2', 'f3']);
    // Streamed while the pod still runs (kwok's follow stream never ends; the activity must stop it):
    // the Job must not have finished when the appended lines arrive, or only the final read delivered them.
    await waitFor(async () => delivered.some((d) => d.line.endsWith('/main f3')), { timeoutMs: 15_000, what: 'appended lines streamed' });
    const [job] = (await batch.listNamespacedJob({ namespace: logNs })).items;
    expect(job?.status?.conditions?.filter((c) => c.status === 'True').map((c) => c.type) ?? []).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: logNs })).items.map((p) => p.status?.phase)).toEqual(['Running']);
    const result = (await handle.result()) as KubernetesJobResult;
    const pod = result.pods[0]!.name;
    expect(delivered.filter((d) => d.jobName === result.jobName).map((d) => d.line)).toEqual([`${pod}/main f1`, `${pod}/main f2`, `${pod}/main f3`]);
  } finally {
    await deleteNamespace(logNs);
  }
});

test('the termination message is the output (JSON-parsed); rendered YAML is written as applied, inside the worker\'s directory', async () => {
  const input = base({ [KWOK_ANNOTATIONS.message]: '{"rows": 42, "file": "s3://x"}' }, { writeRenderedTo: 'debug/output-test', logs: { mode: 'none' } });
  const result = (await (await start(input)).result()) as KubernetesJobResult;
  expect(result.output).toEqual({ rows: 42, file: 's3://x' });
  const file = `${renderedRoot.dir}/debug/output-test/${result.jobName}.yaml`;
  const written = yaml.loadAll(fs.readFileSync(file, 'utf8')) as { metadata: { name: string; namespace: string; annotations: Record<string, string> } }[];
  expect(written[0]!.metadata.name).toBe(result.jobName);
  expect(written[0]!.metadata.namespace).toBe(ns);
  expect(Object.keys(written[0]!.metadata.annotations)).toEqual(expect.arrayContaining(['temporal-k8s-jobs/workflow-id', 'temporal-k8s-jobs/run-id', 'temporal-k8s-jobs/activity-id']));

  // An escaping path fails the run with one clear non-retryable error; no Job, no file.
  const before = (await jobsIn(ns)).length;
  const failure = await failureOf((await start(base({}, { writeRenderedTo: '../../etc', logs: { mode: 'none' } }))).result());
  expect(failure.type).toBe('InvalidManifest');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(/^writeRenderedTo: .*relative path of plain segments/);
  expect((await jobsIn(ns)).length).toBe(before);
});

test('delete policies: never keeps a succeeded Job, always deletes a failed one, onSuccess keeps a failed one', async () => {
  const kept = (await (await start(base({}, { cleanup: 'never', logs: { mode: 'none' } }))).result()) as KubernetesJobResult;
  expect(kept.deleted).toBe(false);
  expect((await jobsIn(ns)).map((j) => j.metadata?.name)).toContain(kept.jobName);

  const always = await start(base({ [KWOK_ANNOTATIONS.exitCode]: '1' }, { cleanup: 'always', logs: { mode: 'none' } }));
  expect((await failureOf(always.result())).details?.[0]).toMatchObject({ deleted: true });

  const onSuccess = await start(base({ [KWOK_ANNOTATIONS.exitCode]: '1' }, { cleanup: 'onSuccess', logs: { mode: 'none' } }));
  const f = await failureOf(onSuccess.result());
  expect(f.details?.[0]).toMatchObject({ deleted: false });
  const name = /Job '[^/]+\/([^']+)'/.exec(f.message)![1]!;
  expect((await jobsIn(ns)).map((j) => j.metadata?.name)).toContain(name);
});

test('temporal-k8s-jobs cancel <id>: the Job and its pods are deleted, the workflow ends cancelled', async () => {
  const handle = await start(base({ [KWOK_ANNOTATIONS.duration]: '120s' }, { cleanup: 'never', logs: { mode: 'none' } }));
  await waitFor(async () => ((await handle.describe()).raw.pendingActivities?.length ?? 0) > 0 && (await jobsIn(ns)).length > 0, { timeoutMs: 30_000, what: 'job started' });
  const bin = fileURLToPath(new URL('../../bin/temporal-k8s-jobs.js', import.meta.url));
  const env = { ...process.env, TEMPORAL_ADDRESS: stackEnv().temporalAddress };
  // Spawned asynchronously: the worker serving this workflow runs in this process.
  const cli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const r = await cli(['cancel', handle.workflowId]);
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: `cancelled workflow ${handle.workflowId}; its Job was deleted\n`, stderr: '' });
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  const again = await cli(['cancel', handle.workflowId]);
  expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 1, stderr: `error: workflow '${handle.workflowId}' is already cancelled; nothing to cancel\n` });
  const missing = await cli(['cancel', 'no-such-workflow']);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/^error: no workflow 'no-such-workflow' in namespace 'default' at 127\.0\.0\.1:\d+\n$/);
});

test('a companion name taken by someone else is JobNameConflict before anything is created', async () => {
  const name = `cm-${randomBytes(3).toString('hex')}`;
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: `${name}-config` }, data: { mine: 'yes' } } });
  const before = (await jobsIn(ns)).length;
  const examples = fileURLToPath(new URL('../../examples/templates/', import.meta.url));
  const t = tempDir({ 'cm.yaml.njk': fs.readFileSync(`${examples}configmap-job.yaml.njk`, 'utf8') });
  try {
    // The in-process worker only knows the package templates; this test's worker gets the directory.
    const taskQueueCm = `${taskQueue}-cm`;
    const w = await Worker.create({
      connection: workerConnection,
      taskQueue: taskQueueCm,
      workflowsPath,
      plugins: [new KubernetesJobsPlugin({ kubeConfig: { kubeconfig: stackEnv().kubeconfig }, namespace: ns, templateDirs: [t.dir] })],
    });
    const failure = await w.runUntil(
      failureOf(client.workflow.execute('kubernetesJobWorkflow', { taskQueue: taskQueueCm, workflowId: `cm-${randomBytes(6).toString('hex')}`, args: [{ template: 'cm.yaml.njk', values: { name } }] })),
    );
    expect(failure.type).toBe('JobNameConflict');
    expect(failure.message).toBe(`ConfigMap '${ns}/${name}-config' already exists and is not owned by this workflow execution; rename it in the template or delete it`);
    expect((await jobsIn(ns)).length).toBe(before);
    expect((await core.readNamespacedConfigMap({ name: `${name}-config`, namespace: ns })).data).toEqual({ mine: 'yes' });
  } finally {
    t.cleanup();
  }
});
