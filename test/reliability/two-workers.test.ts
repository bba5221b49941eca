// Two workers on one task queue; one is SIGKILLed with several Jobs in flight. The other re-attaches
// every one of them: each Job exists once, each result says it was re-attached, every line of every
// Job is delivered exactly once, nothing is left behind.
import type { KubernetesJobResult } from '../../src/types.js';
import { waitFor } from '../helpers/stack.js';
import { jobInput, linesFor, logCounts, orphansAfter, trial, trials, withRig, wrongResultsOf } from './lib.js';

const JOBS = 4;

for (let i = 1; i <= trials(5, 1); i++) {
  trial('two-workers', `SIGKILL one of two workers with ${JOBS} Jobs in flight #${i}`, () =>
    withRig('two-workers', async (rig) => {
      // All Jobs start on the first worker (the second one joins once they run), then it is killed.
      const first = await rig.worker();
      const tags = Array.from({ length: JOBS }, (_, j) => `t${i}j${j}`);
      const expected = tags.flatMap((t) => linesFor(t, 6));
      const handles = await Promise.all(tags.map((tag) => rig.start(jobInput({ ns: rig.ns, tag, seconds: 60, lines: linesFor(tag, 6) }))));
      const started = (tag: string) => rig.lines().some((l) => l.endsWith(`${tag} line 1`));
      await waitFor(() => tags.every(started), { timeoutMs: 90_000, what: 'a first line of every Job' });
      await rig.worker();
      // Every Job is still in flight (its last line not delivered yet), or the trial proves nothing.
      if (tags.some((t) => rig.lines().some((l) => l.endsWith(`${t} line 6`)))) throw new Error('a Job finished before the worker was killed: no longer in flight');
      first.kill('SIGKILL');
      const wrongResults = await wrongResultsOf('two-workers', handles, (r: KubernetesJobResult) => r.status === 'Succeeded' && r.reattached);
      const delivered = rig.lines().map((l) => l.replace(/^\S+\/\S+ /, ''));
      return { duplicateJobs: rig.observer.duplicateJobs(JOBS), orphans: await orphansAfter(rig.ns), wrongResults, ...logCounts(delivered, expected) };
    }),
  );
}
