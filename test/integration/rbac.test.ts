// The worker does its whole job with exactly the permissions in rbac/role.yaml (through the in-cluster
// credentials path, with a real service-account token), and fails clearly outside them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { BatchV1Api, CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { KubernetesJobsPlugin } from '../../src/plugin.js';
import { loadKubeConfig } from '../../src/kube.js';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { tempDir } from '../helpers/tmp.js';
import { buildIfStale, cli, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, mintServiceAccountKubeconfig, stackEnv, waitFor, writePodLog } from '../helpers/stack.js';

const workflowsPath = fileURLToPath(new URL('../../dist/workflow/index.js', import.meta.url));
const examples = fileURLToPath(new URL('../../examples/templates/', import.meta.url));
const roleFile = fileURLToPath(new URL('../../rbac/role.yaml', import.meta.url));
const secretsFile = fileURLToPath(new URL('../../rbac/optional/secret-companions.yaml', import.meta.url));
const admin = kubeConfig();
const core = admin.makeApiClient(CoreV1Api);
const batch = admin.makeApiClient(BatchV1Api);
const templates = tempDir({
  'kept.yaml.njk': `{% extends "job.yaml.njk" %}
{% block companions %}apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: out-{{ tag }}
  annotations:
    temporal-k8s-jobs/keep: "true"
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-{{ tag }}
data: {a: b}
---
{% endblock %}`,
  'secret.yaml.njk': `{% extends "job.yaml.njk" %}
{% block companions %}apiVersion: v1
kind: Secret
metadata:
  name: token-{{ tag }}
stringData: {token: t}
---
{% endblock %}`,
});

/** Creates every object of a YAML file in the test namespace. */
async function applyFile(file: string): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(admin);
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8')) as KubernetesObject[]) {
    await objects.create({ ...doc, metadata: { ...doc.metadata, namespace: ns } });
  }
}

/**
 * What the ServiceAccount may do in the namespace, as `kubectl auth can-i --list` shows it: one
 * `resource verbs` line per resource row (non-resource URLs, which every authenticated user gets
 * from the cluster's defaults, left out).
 */
function canIList(sa: string): string[] {
  const kubectl = path.join(stackEnv().stackBin, 'kubectl');
  const out = execFileSync(kubectl, ['--kubeconfig', stackEnv().kubeconfig, 'auth', 'can-i', '--list', `--as=system:serviceaccount:${ns}:${sa}`, '-n', ns], { encoding: 'utf8' });
  return out
    .split('\n')
    .slice(1)
    .filter((l) => /^\S/.test(l))
    .map((l) => {
      const cols = l.trim().split(/\s{2,}/);
      return `${cols[0]} ${cols[cols.length - 1]}`;
    })
    .sort();
}

/** What every authenticated user may do (system:basic-user): not granted by rbac/. */
const BASELINE = [
  'selfsubjectaccessreviews.authorization.k8s.io [create]',
  'selfsubjectreviews.authentication.k8s.io [create]',
  'selfsubjectrulesreviews.authorization.k8s.io [create]',
];

let ns: string;
const workers: { worker: Worker; running: Promise<void>; connection: NativeConnection }[] = [];
let client: Client;

async function startWorker(taskQueue: string, kubeConfigOption: ConstructorParameters<typeof KubernetesJobsPlugin>[0]): Promise<void> {
  const connection = await NativeConnection.connect({ address: stackEnv().temporalAddress });
  const worker = await Worker.create({ connection, taskQueue, workflowsPath, plugins: [new KubernetesJobsPlugin({ ...kubeConfigOption, templateDirs: [examples, templates.dir], namespace: ns, heartbeatSeconds: 1 })] });
  workers.push({ worker, running: worker.run(), connection });
}

beforeAll(async () => {
  ns = await createTestNamespace('rbac');
  await applyFile(roleFile);
  client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
});

afterAll(async () => {
  for (const w of workers) w.worker.shutdown();
  for (const w of workers) {
    await w.running;
    await w.connection.close();
  }
  await client?.connection.close();
  templates.cleanup();
  if (ns) await deleteNamespace(ns);
});

const run = (taskQueue: string, input: KubernetesJobInput) =>
  client.workflow.execute('kubernetesJobWorkflow', { taskQueue, workflowId: `rbac-${randomBytes(6).toString('hex')}`, args: [input] }) as Promise<KubernetesJobResult>;

test('with exactly rbac/role.yaml and in-cluster credentials: companions, logs, events, cleanup all work', async () => {
  const sa = await mintServiceAccountKubeconfig(ns, 'temporal-k8s-jobs', { create: false });
  const saved = { ...process.env };
  Object.assign(process.env, sa.inClusterEnv);
  delete process.env.KUBECONFIG;
  let kc;
  try {
    kc = loadKubeConfig({ inClusterRoot: sa.inClusterPathPrefix }); // auto-detects in-cluster
  } finally {
    process.env = saved;
  }
  expect(kc.getCurrentUser()?.name).toBe('inClusterUser');
  const queue = `rbac-ok-${randomBytes(3).toString('hex')}`;
  await startWorker(queue, { kubeConfig: kc });
  await writePodLog({ namespace: ns, container: 'main' }, ['hello from the configmap job']);

  // Multi-document example: ConfigMap + Job; the ConfigMap goes away with the Job.
  const r = await run(queue, { template: 'configmap-job.yaml.njk', values: { name: 'greeter' }, logs: { mode: 'end' } });
  expect(r.status).toBe('Succeeded');
  expect(r.deleted).toBe(true);
  expect(r.logTail).toEqual([`${r.pods[0]!.name}/main hello from the configmap job`]);
  await waitFor(async () => !(await core.listNamespacedConfigMap({ namespace: ns })).items.some((c) => c.metadata?.name === 'greeter-config'), {
    timeoutMs: 60_000,
    what: 'owned ConfigMap garbage-collected with its Job',
  });

  // A kept companion outlives the Job; an owned one does not.
  const tag = randomBytes(3).toString('hex');
  const kept = await run(queue, { template: 'kept.yaml.njk', values: { tag, image: 'busybox' }, logs: { mode: 'none' }, cleanup: 'never' });
  expect(kept.deleted).toBe(false);
  const cm = await core.readNamespacedConfigMap({ name: `cfg-${tag}`, namespace: ns });
  expect(cm.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toEqual([`Job/${kept.jobName}`]);
  await batch.deleteNamespacedJob({ name: kept.jobName, namespace: ns, body: { propagationPolicy: 'Background' } });
  await waitFor(async () => !(await core.listNamespacedConfigMap({ namespace: ns })).items.some((c) => c.metadata?.name === `cfg-${tag}`), { timeoutMs: 60_000, what: 'owned ConfigMap gone' });
  const pvc = await core.readNamespacedPersistentVolumeClaim({ name: `out-${tag}`, namespace: ns });
  expect(pvc.metadata?.ownerReferences ?? []).toEqual([]);

  // Failure details (events, pods) are readable with the Role too.
  const err = await run(queue, { template: 'job.yaml.njk', values: { image: 'busybox', podAnnotations: { [KWOK_ANNOTATIONS.exitCode]: '2' } }, cleanup: 'always' }).catch((e: unknown) => e);
  const app = ((err as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect(app.type).toBe('JobFailed');
  expect(app.message).toMatch(/exit code 2\)$/);
  // The events were read (the worker swallows an events error to keep the failure itself; an empty list
  // here would mean the Role cannot list them): the Job controller's own events on the Job and its pod.
  const details = app.details?.[0] as { events: { reason?: string; object?: string }[]; pods: { name: string }[] };
  expect(details.pods.length).toBe(1);
  expect(details.events.map((e) => `${e.object} ${e.reason}`)).toEqual(expect.arrayContaining([expect.stringMatching(/^Job\/.* SuccessfulCreate$/)]));
});

test('a service account without the Role gets one clear non-retryable 403 and nothing is created', async () => {
  const sa = await mintServiceAccountKubeconfig(ns, 'no-permissions');
  const queue = `rbac-denied-${randomBytes(3).toString('hex')}`;
  await startWorker(queue, { kubeConfig: { kubeconfig: sa.kubeconfigPath } });
  const before = (await batch.listNamespacedJob({ namespace: ns })).items.length;
  const err = await run(queue, { template: 'job.yaml.njk', values: { image: 'busybox' } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const app = ((err as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect(app.type).toBe('KubernetesApiError');
  expect(app.nonRetryable).toBe(true);
  expect(app.message).toMatch(/^Kubernetes API: read Job '.*' failed \(HTTP 403\): .*forbidden.* \(the worker lacks RBAC permission; see rbac\/\)$/);
  expect((await batch.listNamespacedJob({ namespace: ns })).items.length).toBe(before);
});

const kwokTest = stackEnv().existingCluster ? test.skip : test;

kwokTest('kubectl auth can-i --list: exactly what the lifecycle needs, no Secrets', () => {
  expect(canIList('temporal-k8s-jobs')).toEqual(
    [
      ...BASELINE,
      'configmaps [create get]',
      'events [list watch]',
      'jobs.batch [create get list watch delete patch]',
      'persistentvolumeclaims [create get]',
      'pods [get list watch]',
      'pods/log [get]',
      'serviceaccounts [create get]',
      'services [create get]',
    ].sort(),
  );
  expect(canIList('temporal-k8s-jobs').some((l) => l.startsWith('secrets'))).toBe(false);
});

test('a Secret companion: refused (non-retryable, naming get on secrets) until rbac/optional/secret-companions.yaml is applied', async () => {
  const sa = await mintServiceAccountKubeconfig(ns, 'temporal-k8s-jobs', { create: false });
  const queue = `rbac-secret-${randomBytes(3).toString('hex')}`;
  await startWorker(queue, { kubeConfig: { kubeconfig: sa.kubeconfigPath } });
  const tag = randomBytes(3).toString('hex');
  const input = (t: string): KubernetesJobInput => ({ template: 'secret.yaml.njk', values: { tag: t, image: 'busybox' }, logs: { mode: 'none' }, cleanup: 'always' });
  const err = await run(queue, input(tag)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const app = ((err as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect(app.type).toBe('KubernetesApiError');
  expect(app.nonRetryable).toBe(true);
  expect(app.message).toMatch(/\(HTTP 403\): .*cannot get resource "secrets" in API group "" in the namespace .* \(the worker lacks RBAC permission; see rbac\/\)$/);
  expect((await core.listNamespacedSecret({ namespace: ns })).items.map((x) => x.metadata?.name)).not.toContain(`token-${tag}`);

  await applyFile(secretsFile);
  const ok = await run(queue, input(`${tag}b`));
  expect(ok.status).toBe('Succeeded');
  expect(canIList('temporal-k8s-jobs')).toContain('secrets [create get]');
});

describe('worker RBAC preflight (SelfSubjectAccessReview at start)', () => {
  beforeAll(() => buildIfStale());

  kwokTest('with rbac/ applied it passes and the worker starts', async () => {
    const sa = await mintServiceAccountKubeconfig(ns, 'temporal-k8s-jobs', { create: false });
    const w = cli(['worker', '--namespace', ns, '--task-queue', `preflight-${ns}`], { KUBECONFIG: sa.kubeconfigPath });
    try {
      await w.waitOut(/^worker ready: /m);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
  });

  kwokTest('with one rule removed it stops with one line naming it; --skip-preflight starts anyway', async () => {
    const sa = await mintServiceAccountKubeconfig(ns, 'preflight-partial');
    const role = (yaml.loadAll(fs.readFileSync(roleFile, 'utf8')) as KubernetesObject[]).find((d) => d.kind === 'Role') as KubernetesObject & { rules: { resources: string[] }[] };
    const objects = KubernetesObjectApi.makeApiClient(admin);
    const rules = role.rules.filter((r) => !r.resources.includes('pods/log'));
    expect(rules).toHaveLength(role.rules.length - 1);
    await objects.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'preflight-partial', namespace: ns }, rules } as KubernetesObject);
    await objects.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'preflight-partial', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'preflight-partial' },
      subjects: [{ kind: 'ServiceAccount', name: 'preflight-partial', namespace: ns }],
    } as KubernetesObject);
    const r = await runCli(['worker', '--namespace', ns, '--task-queue', `preflight-${ns}`], { KUBECONFIG: sa.kubeconfigPath });
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 1,
      stderr:
        `error: the worker's Kubernetes credentials lack permissions the Job lifecycle needs (in namespace '${ns}': get pods/log): ` +
        `apply rbac/ (kubectl apply -n ${ns} -k rbac/) or fix the Role bound to them; --skip-preflight starts anyway\n`,
    });
    const w = cli(['worker', '--namespace', ns, '--task-queue', `preflight-${ns}`, '--skip-preflight'], { KUBECONFIG: sa.kubeconfigPath });
    try {
      await w.waitOut(/^worker ready: /m);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
  });

  kwokTest('a namespace the worker has no binding in: every lifecycle permission is named', async () => {
    const sa = await mintServiceAccountKubeconfig(ns, 'temporal-k8s-jobs', { create: false });
    const r = await runCli(['worker', '--namespace', 'default', '--task-queue', `preflight-${ns}`], { KUBECONFIG: sa.kubeconfigPath });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: the worker's Kubernetes credentials lack permissions the Job lifecycle needs (in namespace 'default': " +
        'create jobs.batch, get jobs.batch, list jobs.batch, watch jobs.batch, delete jobs.batch, patch jobs.batch, get pods, list pods, watch pods, get pods/log, list events, watch events): ' +
        'apply rbac/ (kubectl apply -n default -k rbac/) or fix the Role bound to them; --skip-preflight starts anyway\n',
    );
  });
});

test('a Job sent to a namespace the worker has no binding for fails non-retryably naming the permission', async () => {
  const sa = await mintServiceAccountKubeconfig(ns, 'temporal-k8s-jobs', { create: false });
  const queue = `rbac-otherns-${randomBytes(3).toString('hex')}`;
  await startWorker(queue, { kubeConfig: { kubeconfig: sa.kubeconfigPath } });
  const err = await run(queue, { template: 'job.yaml.njk', namespace: 'default', values: { image: 'busybox' } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const app = ((err as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect(app.nonRetryable).toBe(true);
  expect(app.message).toMatch(/\(HTTP 403\): .*cannot get resource "jobs" in API group "batch" in the namespace "default" \(the worker lacks RBAC permission; see rbac\/\)$/);
});
