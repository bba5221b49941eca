// A worker frozen (SIGSTOP) mid-Job past the heartbeat timeout: Temporal retries the activity on a
// second worker, which re-attaches. Then the first worker thaws (SIGCONT) and its stale attempt runs
// on beside the new one, still able to reach Kubernetes. Exactly one Job exists, no line is delivered
// twice (the stale attempt's cursor writes are fenced), and the stale attempt stops without touching
// the Job.
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

test('SIGSTOP past the heartbeat timeout, takeover, SIGCONT: one Job, every line exactly once, the stale attempt stops', async () => {
  const ns = await createTestNamespace('frozen');
  namespaces.push(ns);
  const taskQueue = `frozen-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-frozen-'));
  const [firstLines, secondLines] = [path.join(dir, 'first.txt'), path.join(dir, 'second.txt')];
  const expected = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`);
  const target = { namespace: ns, container: 'main' };
  await writePodLog(target, expected.slice(0, 3));

  const first = await startWorker(taskQueue, firstLines);
  const client = new Client({ connection: await Connection.connect({ address: stackEnv().temporalAddress }) });
  try {
    const handle = await client.workflow.start('kubernetesJobWorkflow', {
      taskQueue,
      workflowId: `frozen-${randomBytes(6).toString('hex')}`,
      args: [
        {
          template: 'job.yaml.njk',
          namespace: ns,
          cleanup: 'never',
          values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '110s' } },
          logs: { mode: 'periodic', everySeconds: 1 },
        },
      ],
    });
    await waitFor(() => readLines(firstLines).length >= 3, { timeoutMs: 60_000, what: 'first lines delivered' });
    first.kill('SIGSTOP');
    await appendPodLog(target, expected.slice(3, 6));
    await startWorker(taskQueue, secondLines);
    // The second worker only gets the activity after the heartbeat timeout (20 s), or after two when the
    // retry first went to the frozen worker's pending poll.
    await waitFor(() => readLines(secondLines).length >= 3, { timeoutMs: 150_000, what: 'the second worker delivering' });
    first.kill('SIGCONT');
    // Lines written while both attempts run: each must arrive once, from either worker.
    await appendPodLog(target, expected.slice(6, 9));
    await waitFor(() => readLines(firstLines).length + readLines(secondLines).length >= 9, { timeoutMs: 60_000, what: 'lines 7-9 delivered' });
    await appendPodLog(target, expected.slice(9));

    const result = (await handle.result()) as KubernetesJobResult;
    expect(result.status).toBe('Succeeded');
    expect(result.reattached).toBe(true);
    const pod = result.pods[0]!.name;
    const all = [...readLines(firstLines), ...readLines(secondLines)].sort((a, b) => Number(a.split(' ').pop()) - Number(b.split(' ').pop()));
    expect(all).toEqual(expected.map((l) => `${pod}/main ${l}`));
    expect(result.logLines).toBe(expected.length);
    const jobs = (await kubeConfig().makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items;
    expect(jobs.map((j) => j.metadata?.name)).toEqual([result.jobName]);
    // The stale attempt left the Job alone: not suspended, not deleted (cleanup 'never' keeps it).
    expect(jobs[0]!.spec?.suspend).not.toBe(true);
  } finally {
    await client.connection.close();
  }
}, 360_000);
