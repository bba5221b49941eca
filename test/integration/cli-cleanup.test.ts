// `temporal-k8s-jobs cleanup` on the stack: exactly the old finished Jobs of this package go; a
// running one, a young one, a foreign Job and a kept PVC stay; --dry-run deletes nothing;
// --orphans deletes the Job of a terminated workflow.
import { BatchV1Api, CoreV1Api, type V1Job } from '@kubernetes/client-node';

import { cli, cliTestSuite, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, kubeConfig, stackEnv, waitFor } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { client: temporal, namespace } = cliTestSuite();
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
{% endblock %}`,
});
afterAll(() => templates.cleanup());

describe('temporal-k8s-jobs cleanup', () => {
  kwokIt('old finished Job deleted; running, young, foreign Jobs and the kept PVC stay; --dry-run; --orphans', async () => {
    const ns = await namespace('cli-cleanup');
    const batch = kubeConfig().makeApiClient(BatchV1Api);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const jobs = async () => (await batch.listNamespacedJob({ namespace: ns })).items;
    const byWf = (all: V1Job[], wf: string) => all.find((j) => j.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] === wf);
    const finished = (j: V1Job | undefined) => new Date(j!.status!.completionTime!).getTime();

    await batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'foreign' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } } });
    const common = ['--set', 'image=busybox:1.36', '--namespace', ns, '--delete', 'never', '--logs', 'none', '--templates', templates.dir];
    expect((await runCli(['run', 'kept.yaml.njk', '--set', 'tag=old', ...common, '--workflow-id', `old-${ns}`])).code).toBe(0);
    expect((await runCli(['run', 'job.yaml.njk', ...common, '--workflow-id', `young-${ns}`])).code).toBe(0);
    const running = cli(['run', 'job.yaml.njk', ...common, '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"600s"}`, '--workflow-id', `running-${ns}`]);
    try {
      await running.waitOut(/Running: active 1/);
      await waitFor(async () => (await jobs()).find((j) => j.metadata?.name === 'foreign')?.status?.completionTime, { timeoutMs: 60_000, what: 'the foreign Job finished' });
      // A retention of the old Job's age, taken just before each cleanup: the young Job finished a
      // whole run later (seconds), more than the CLI takes to start and look.
      const all = await jobs();
      const oldFinished = finished(byWf(all, `old-${ns}`));
      expect((finished(byWf(all, `young-${ns}`)) - oldFinished) / 1000).toBeGreaterThanOrEqual(5);
      const retention = () => `${Math.floor((Date.now() - oldFinished) / 1000)}s`;
      const names = (a: V1Job[]) => a.map((j) => j.metadata!.name!).sort();
      const before = names(all);

      const dry = await runCli(['cleanup', '--older-than', retention(), '--namespace', ns, '--dry-run']);
      expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
      const oldName = byWf(all, `old-${ns}`)!.metadata!.name!;
      expect(dry.stdout).toMatch(new RegExp(`^would delete Job ${ns}/${oldName} \\(workflow old-${ns}, Succeeded, finished \\S+ ago\\)\\nwould delete 1 of 3 Job\\(s\\) of temporal-k8s-jobs in namespace '${ns}'\\n$`));
      expect(names(await jobs())).toEqual(before);

      const real = await runCli(['cleanup', '--older-than', retention(), '--namespace', ns]);
      expect({ code: real.code, stderr: real.stderr }).toEqual({ code: 0, stderr: '' });
      expect(real.stdout).toMatch(new RegExp(`^deleted Job ${ns}/${oldName} .*\\ndeleted 1 of 3 Job\\(s\\)`));
      const after = await jobs();
      expect(names(after)).toEqual(before.filter((n) => n !== oldName));
      expect(byWf(after, `young-${ns}`)).toBeDefined();
      expect(byWf(after, `running-${ns}`)).toBeDefined();
      expect(after.map((j) => j.metadata?.name)).toContain('foreign');
      expect((await core.readNamespacedPersistentVolumeClaim({ name: 'out-old', namespace: ns })).metadata?.deletionTimestamp).toBeUndefined();

      // The running Job stays even with a retention of 1s; once its workflow is terminated it is an orphan.
      expect((await runCli(['cleanup', '--older-than', '1s', '--namespace', ns, '--dry-run'])).stdout).not.toContain(`running-${ns}`);
      await temporal().workflow.getHandle(`running-${ns}`).terminate('test: leaves its Job behind');
      const orphans = await runCli(['cleanup', '--older-than', '30d', '--namespace', ns, '--orphans']);
      expect(orphans.stdout).toMatch(new RegExp(`^deleted Job ${ns}/\\S+ \\(workflow running-${ns}, Running, orphan: workflow terminated\\)\\ndeleted 1 of 2 Job\\(s\\)`));
      expect(byWf(await jobs(), `running-${ns}`)).toBeUndefined();
      expect(byWf(await jobs(), `young-${ns}`)).toBeDefined();
    } finally {
      await temporal().workflow.getHandle(`running-${ns}`).terminate('test cleanup').catch(() => undefined);
      running.child.kill('SIGTERM');
      await running.exit;
    }
  });

  it.each([
    [[], /cleanup needs --older-than DURATION/],
    [['--older-than', 'soon'], /--older-than must be a duration like 90s, 15m, 2h or 7d, got 'soon'/],
  ])('%j: usage error, exit 2', async (args, want) => {
    const r = await runCli(['cleanup', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(want);
  });
});
