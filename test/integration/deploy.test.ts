// deploy/ renders with `kubectl kustomize` into the hardened worker objects, and the stack's API
// server accepts them (applied for real into a test namespace; the worker pod itself cannot run on kwok).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as yaml from 'js-yaml';
import { AppsV1Api, CoreV1Api, PolicyV1Api, type V1ConfigMap, type V1Deployment, type V1Secret } from '@kubernetes/client-node';
import { buildIfStale, runCli } from '../helpers/cli.js';
import { createTestNamespace, deleteNamespace, kubeConfig, stackEnv } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

const env = stackEnv();
const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));
const kubectl = (...args: string[]) => execFileSync(env.stackBin ? path.join(env.stackBin, 'kubectl') : 'kubectl', ['--kubeconfig', env.kubeconfig, ...args], { encoding: 'utf8' });

type Obj = { kind: string; metadata: { name: string } } & Record<string, unknown>;
let rendered: string;
let objects: Obj[];
const one = <T>(kind: string) => objects.find((o) => o.kind === kind) as unknown as T;

beforeAll(() => {
  buildIfStale();
  rendered = kubectl('kustomize', deployDir);
  objects = yaml.loadAll(rendered) as Obj[];
});

test('kubectl kustomize deploy/ renders RBAC, the hardened Deployment, its PDB, templates ConfigMap and connection Secret', async () => {
  expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'ServiceAccount']);
  const d = one<V1Deployment>('Deployment');
  const pod = d.spec!.template.spec!;
  const c = pod.containers[0]!;
  expect(pod.serviceAccountName).toBe('temporal-k8s-jobs');
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
  expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/livez', port: 'health' });
  expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
  const port = (name: string) => c.ports!.find((p) => p.name === name)!.containerPort;
  expect(c.args).toEqual(expect.arrayContaining([`--metrics-address=0.0.0.0:${port('metrics')}`, `--health-address=0.0.0.0:${port('health')}`, '--templates=/templates']));
  expect(d.spec!.template.metadata!.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port('metrics')), 'prometheus.io/path': '/metrics' });
  // The worker accepts exactly these arguments.
  expect((await runCli([...c.args!, '--help'])).code).toBe(0);

  // Generated objects are referenced by their hashed names.
  const cm = one<V1ConfigMap>('ConfigMap');
  const secret = one<V1Secret>('Secret');
  expect(pod.volumes!.find((v) => v.name === 'templates')!.configMap!.name).toBe(cm.metadata!.name);
  expect(c.envFrom![0]!.secretRef!.name).toBe(secret.metadata!.name);
  expect(Object.keys(cm.data!).sort()).toEqual(fs.readdirSync(path.join(deployDir, 'templates')).sort());
  expect(Object.keys(secret.data!).sort()).toEqual(['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']);
  expect(c.volumeMounts!.find((m) => m.name === 'templates')).toMatchObject({ mountPath: '/templates', readOnly: true });
  expect(pod.volumes!.find((v) => v.name === 'temporal-tls')!.secret).toMatchObject({ optional: true });

  const pdb = one<{ spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
  expect(pdb.spec.minAvailable).toBe(1);
  expect(d.spec!.template.metadata!.labels).toMatchObject(pdb.spec.selector.matchLabels);
});

test('the API server accepts every object (kubectl apply into a test namespace)', async () => {
  const ns = await createTestNamespace('deploy', { podLogs: false });
  const file = tempDir({ 'deploy.yaml': rendered });
  try {
    const out = kubectl('apply', '-n', ns, '-f', path.join(file.dir, 'deploy.yaml'));
    const lines = out.trim().split('\n');
    expect(lines.filter((l) => / created$/.test(l))).toHaveLength(objects.length);
    expect(lines).toContain('deployment.apps/temporal-k8s-jobs-worker created');
    const kc = kubeConfig();
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'temporal-k8s-jobs-worker', namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(d.spec?.template.spec?.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
    expect((await kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ name: 'temporal-k8s-jobs-worker', namespace: ns })).spec?.minAvailable).toBe(1);
    const cmName = one<V1ConfigMap>('ConfigMap').metadata!.name!;
    expect(Object.keys((await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: cmName, namespace: ns })).data ?? {})).toContain('hello.yaml.njk');
  } finally {
    file.cleanup();
    await deleteNamespace(ns);
  }
});
