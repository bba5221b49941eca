// The frozen-worker scenario, shared by test/integration/frozen-worker.test.ts and the reliability
// suite (test/reliability/frozen.test.ts): a worker frozen (SIGSTOP) mid-Job past the heartbeat
// timeout, a second worker takes the retry over and re-attaches, then the first thaws (SIGCONT) and its
// stale attempt runs beside the new one. Returns what each side saw; the callers judge it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import type { KubernetesJobInput, KubernetesJobResult } from '../../src/types.js';
import { KWOK_ANNOTATIONS, appendPodLog, kubeConfig, waitFor, writePodLog } from './stack.js';
import { readLines } from './workers.js';

export interface FrozenScenarioOptions {
  /** A namespace whose pod logs the test writes (createTestNamespace with podLogs). */
  namespace: string;
  /** Starts a worker process that writes delivered lines to `linesFile` (on the scenario's queue). */
  startWorker: (linesFile: string) => Promise<ChildProcess>;
  /** Starts the workflow running `input`. */
  startWorkflow: (input: KubernetesJobInput) => Promise<WorkflowHandle>;
  /** How long the second worker may take to deliver (heartbeat timeout, twice, plus margin). @default 150 s */
  takeoverTimeoutMs?: number;
  /** How long the Job runs (the result comes after it ends). @default 110 */
  jobSeconds?: number;
}

export interface FrozenScenarioOutcome {
  result: KubernetesJobResult;
  /** The lines the pod wrote, in order. */
  expected: string[];
  firstLines: string[];
  secondLines: string[];
  /** The namespace's Jobs at the end (cleanup 'never' keeps them). */
  jobs: V1Job[];
}

export async function frozenWorkerScenario(o: FrozenScenarioOptions): Promise<FrozenScenarioOutcome> {
  const ns = o.namespace;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tkj-frozen-'));
  const [firstLines, secondLines] = [path.join(dir, 'first.txt'), path.join(dir, 'second.txt')];
  const expected = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`);
  const target = { namespace: ns, container: 'main' };
  await writePodLog(target, expected.slice(0, 3));

  const first = await o.startWorker(firstLines);
  const handle = await o.startWorkflow({
    template: 'job.yaml.njk',
    namespace: ns,
    cleanup: 'never',
    values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: `${o.jobSeconds ?? 110}s` } },
    logs: { mode: 'periodic', everySeconds: 1 },
  });
  await waitFor(() => readLines(firstLines).length >= 3, { timeoutMs: 60_000, what: 'first lines delivered' });
  first.kill('SIGSTOP');
  try {
    await appendPodLog(target, expected.slice(3, 6));
    await o.startWorker(secondLines);
    // The second worker only gets the activity after the heartbeat timeout, or after two when the
    // retry first went to the frozen worker's pending poll.
    await waitFor(() => readLines(secondLines).length >= 3, { timeoutMs: o.takeoverTimeoutMs ?? 150_000, what: 'the second worker delivering' });
  } finally {
    first.kill('SIGCONT');
  }
  // Lines written while both attempts run: each must arrive once, from either worker.
  await appendPodLog(target, expected.slice(6, 9));
  await waitFor(() => readLines(firstLines).length + readLines(secondLines).length >= 9, { timeoutMs: 60_000, what: 'lines 7-9 delivered' });
  await appendPodLog(target, expected.slice(9));

  const result = (await handle.result()) as KubernetesJobResult;
  const jobs = (await kubeConfig().makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items;
  const outcome = { result, expected, firstLines: readLines(firstLines), secondLines: readLines(secondLines), jobs };
  fs.rmSync(dir, { recursive: true, force: true });
  return outcome;
}
