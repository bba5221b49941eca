// Kill the worker (SIGKILL) while its Job runs, start another: the activity is retried, re-attaches to
// the same Job (exactly one exists), no log line is delivered twice or lost, the workflow completes.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { BatchV1Api } from '@kubernetes/client-node';
import type { KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, appendPodLog, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, waitFor, writePodLog } from '../helpers/stack.js';
import { killWorkers, readLines, startWorker } from '../helpers/workers.js';

const namespaces: string[] = [];

afterAll(async () => {
  killWorkers();
  for (const ns of namespaces) await deleteNamespace(ns);
});

// SIGKILL: the worker vanishes (noticed by the heartbeat timeout). SIGTERM: the worker shuts down
// gracefully, which cancels its activities; the Job must survive that and be re-attached.
test.each(['SIGKILL', 'SIGTERM'] as const)('%s of the worker mid-Job: re-attach, one Job, every log line exactly once', async (signal) => {
  const ns = await createTestNamespace(`crash-${signal.toLowerCase()}`);
  namespaces.push(ns);
  const taskQueue = `crash-${randomBytes(4).toString('hex')}`;
  const linesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-crash-')), 'lines.txt');
  const expected = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`);
  await writePodLog({ namespace: ns, container: 'main' }, expected.slice(0, 3));

  const first = await startWorker(taskQueue, linesFile);
  const client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
  const handle = await client.workflow.start('kubernetesJobWorkflow', {
    taskQueue,
    workflowId: `crash-${randomBytes(6).toString('hex')}`,
    args: [
      {
        template: 'job.yaml.njk',
        namespace: ns,
        cleanup: 'never',
        values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '40s' } },
        logs: { mode: 'periodic', everySeconds: 1 },
      },
    ],
  });
  try {
    // Let the first worker deliver some lines, then kill it without warning.
    await waitFor(async () => readLines(linesFile).length >= 3, { timeoutMs: 60_000, what: 'first lines delivered' });
    await appendPodLog({ namespace: ns, container: 'main' }, expected.slice(3, 6));
    await waitFor(async () => readLines(linesFile).length >= 6, { timeoutMs: 30_000, what: 'more lines delivered' });
    first.kill(signal);
    // Lines written while no worker runs must arrive after the restart, once.
    await appendPodLog({ namespace: ns, container: 'main' }, expected.slice(6, 9));
    await startWorker(taskQueue, linesFile);
    await appendPodLog({ namespace: ns, container: 'main' }, expected.slice(9));

    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.status).toBe('Succeeded');
    expect(result.reattached).toBe(true);
    const pod = result.pods[0]!.name;
    expect(readLines(linesFile)).toEqual(expected.map((l) => `${pod}/main ${l}`));
    // Every line has a stable id (namespace/pod/container/time/index) that downstream systems can
    // deduplicate on: one per line, all distinct, across the crash and the re-attachment.
    const ids = readLines(`${linesFile}.ids`);
    expect(ids).toHaveLength(expected.length);
    expect(new Set(ids).size).toBe(expected.length);
    for (const id of ids) expect(id).toMatch(new RegExp(`^${ns}/${pod}/main/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z/\\d+$`));
    expect(result.logLines).toBe(expected.length);
    const jobs = (await kubeConfig().makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items;
    expect(jobs.map((j) => j.metadata?.name)).toEqual([result.jobName]);
  } finally {
    await client.connection.close();
  }
});
