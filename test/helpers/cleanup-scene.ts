// The cluster state both cleanup tests (the `cleanup` command and `cleanupWorkflow`) start from, in a
// fresh namespace: an old finished Job of this package with a kept PVC, a young finished one, a
// running one and a foreign Job (not this package's). The young Job finishes at least 8 s after the
// old one, so a retention of the old Job's age leaves the young one alone for those 8 s.
import { BatchV1Api, CoreV1Api, type V1Job } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';

import { cli, runCli, type Proc } from './cli.js';
import { KWOK_ANNOTATIONS, kubeConfig, waitFor } from './stack.js';
import { tempDir } from './tmp.js';

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

export interface CleanupScene {
  ns: string;
  /** The package's Jobs and the foreign one, now. */
  jobs(): Promise<V1Job[]>;
  /** The Job of a workflow (`old-<ns>`, `young-<ns>`, `running-<ns>`). */
  byWf(all: V1Job[], wf: string): V1Job | undefined;
  /** The old Job's name. */
  oldName: string;
  /** Every Job's name at the start, sorted. */
  before: string[];
  /** The old Job's age in whole seconds now: a retention that takes it and leaves the young one. */
  retentionSeconds(): number;
  /** Asserts that exactly the old Job went: young, running and foreign Jobs and the kept PVC stay. */
  expectOnlyOldDeleted(): Promise<void>;
  /** Terminates the running workflow and stops its `run` process. */
  stop(): Promise<void>;
}

export const jobNames = (a: V1Job[]) => a.map((j) => j.metadata!.name!).sort();

/** Builds the scene in `ns` (a namespace the caller made and deletes). */
export async function cleanupScene(ns: string, temporal: () => Client): Promise<CleanupScene> {
  const batch = kubeConfig().makeApiClient(BatchV1Api);
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const jobs = async () => (await batch.listNamespacedJob({ namespace: ns })).items;
  const byWf = (all: V1Job[], wf: string) => all.find((j) => j.metadata?.annotations?.['temporal-k8s-jobs/workflow-id'] === wf);
  const finished = (j: V1Job | undefined) => new Date(j!.status!.completionTime!).getTime();
  const podFor = (duration: string) => ['--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"${duration}"}`];

  await batch.createNamespacedJob({ namespace: ns, body: { metadata: { name: 'foreign' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } } });
  const common = ['--set', 'image=busybox:1.36', '--namespace', ns, '--delete', 'never', '--logs', 'none', '--templates', templates.dir];
  expect((await runCli(['run', 'kept.yaml.njk', '--set', 'tag=old', ...common, '--workflow-id', `old-${ns}`])).code).toBe(0);
  expect((await runCli(['run', 'job.yaml.njk', ...common, ...podFor('8s'), '--workflow-id', `young-${ns}`])).code).toBe(0);
  const running: Proc = cli(['run', 'job.yaml.njk', ...common, ...podFor('600s'), '--workflow-id', `running-${ns}`]);
  const stop = async () => {
    await temporal().workflow.getHandle(`running-${ns}`).terminate('test cleanup').catch(() => undefined);
    running.child.kill('SIGTERM');
    await running.exit;
  };
  try {
    await running.waitOut(/Running: active 1/);
    await waitFor(async () => (await jobs()).find((j) => j.metadata?.name === 'foreign')?.status?.completionTime, { timeoutMs: 60_000, what: 'the foreign Job finished' });
  } catch (err) {
    await stop();
    throw err;
  }
  const all = await jobs();
  const oldFinished = finished(byWf(all, `old-${ns}`));
  expect((finished(byWf(all, `young-${ns}`)) - oldFinished) / 1000).toBeGreaterThanOrEqual(8);
  const oldName = byWf(all, `old-${ns}`)!.metadata!.name!;
  const before = jobNames(all);
  return {
    ns,
    jobs,
    byWf,
    oldName,
    before,
    retentionSeconds: () => Math.floor((Date.now() - oldFinished) / 1000),
    async expectOnlyOldDeleted() {
      const after = await jobs();
      expect(jobNames(after)).toEqual(before.filter((n) => n !== oldName));
      expect(byWf(after, `young-${ns}`)).toBeDefined();
      expect(byWf(after, `running-${ns}`)).toBeDefined();
      expect(after.map((j) => j.metadata?.name)).toContain('foreign');
      expect((await core.readNamespacedPersistentVolumeClaim({ name: 'out-old', namespace: ns })).metadata?.deletionTimestamp).toBeUndefined();
    },
    stop,
  };
}
