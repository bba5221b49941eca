// Credentials: a kubeconfig file with a named context against the real API server; clear errors for
// an unknown context, a missing file and no credentials at all (never a localhost:8080 fallback).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { KubeClient, defaultNamespace, loadKubeConfig } from '../../src/kube.js';
import { KubernetesJobsError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { stackEnv } from '../helpers/stack.js';

const t = tempDir();
afterAll(t.cleanup);

function twoContexts(): string {
  const cfg = yaml.load(fs.readFileSync(stackEnv().kubeconfig, 'utf8')) as { contexts: { name: string; context: Record<string, string> }[]; clusters: { name: string; cluster: Record<string, string> }[]; 'current-context': string };
  const ctx = cfg.contexts.find((c) => c.name === cfg['current-context'])!;
  cfg.clusters.push({ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } });
  cfg.contexts = [
    { name: 'broken', context: { ...ctx.context, cluster: 'nowhere' } },
    { name: 'stack', context: { ...ctx.context, namespace: 'kube-system' } },
  ];
  cfg['current-context'] = 'broken';
  const file = path.join(t.dir, 'two.kubeconfig');
  fs.writeFileSync(file, yaml.dump(cfg));
  return file;
}

function failure(fn: () => unknown): KubernetesJobsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KubernetesJobsError);
    return e as KubernetesJobsError;
  }
  throw new Error('expected a failure');
}

test('a kubeconfig file and a named context reach the real API server', async () => {
  const kc = loadKubeConfig({ kubeconfig: twoContexts(), context: 'stack' });
  expect(defaultNamespace(kc)).toBe('kube-system');
  const jobs = await new KubeClient(kc).listJobs('kube-system', 'app.kubernetes.io/managed-by=temporal-k8s-jobs');
  expect(Array.isArray(jobs)).toBe(true);
});

test('the current context is used when none is named (here: unreachable -> a retryable API error)', async () => {
  const kc = loadKubeConfig({ kubeconfig: twoContexts() });
  const err = await new KubeClient(kc).listJobs('default', 'x=y').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KubernetesJobsError);
  expect((err as KubernetesJobsError).type).toBe('KubernetesApiError');
  expect((err as KubernetesJobsError).nonRetryable).toBe(false);
});

test('an unknown context names the contexts that exist', () => {
  const err = failure(() => loadKubeConfig({ kubeconfig: twoContexts(), context: 'prod' }));
  expect(err.type).toBe('CredentialsError');
  expect(err.message).toMatch(/context 'prod' not found in '.*two\.kubeconfig' \(contexts: broken, stack\)/);
});

test('a missing kubeconfig file and no credentials at all are clear errors', () => {
  expect(failure(() => loadKubeConfig({ kubeconfig: path.join(t.dir, 'nope') })).message).toMatch(/kubeconfig '.*nope' does not exist/);
  const saved = { ...process.env };
  try {
    delete process.env.KUBECONFIG;
    delete process.env.KUBERNETES_SERVICE_HOST;
    process.env.HOME = t.dir;
    const err = failure(() => loadKubeConfig());
    expect(err.type).toBe('CredentialsError');
    expect(err.message).toMatch(/^no Kubernetes credentials: not in a cluster, KUBECONFIG is not set/);
    expect(failure(() => loadKubeConfig({ inCluster: true })).message).toMatch(/in-cluster credentials requested but not found/);
  } finally {
    process.env = saved;
  }
});
