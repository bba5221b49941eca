// A frozen worker: SIGSTOP mid-Job past the heartbeat timeout, a second worker takes the retry over,
// then SIGCONT the first; two attempts run at once. No line delivered twice or lost, exactly one Job,
// the stale attempt stops and leaves the Job alone. The scenario is test/helpers/frozen.ts (shared with
// test/integration/frozen-worker.test.ts), here with the suite's short heartbeat timeout.
import { frozenWorkerScenario } from '../helpers/frozen.js';
import { logCounts, trial, trials, withRig } from './lib.js';

for (let i = 1; i <= trials(10, 1); i++) {
  trial('frozen', `SIGSTOP past the heartbeat timeout, takeover, SIGCONT #${i}`, () =>
    withRig(
      'frozen',
      async (rig) => {
        const { result, expected, firstLines, secondLines, jobs } = await frozenWorkerScenario({
          namespace: rig.ns,
          startWorker: (linesFile) => rig.worker({ env: {}, linesFile }),
          startWorkflow: (input) => rig.start(input),
          takeoverTimeoutMs: 60_000,
          jobSeconds: 70,
        });
        const pod = result.pods[0]?.name ?? '?';
        const nums = (ls: string[]) => ls.map((l) => l.split(' ').pop()).join(',');
        process.stderr.write(`[rel] frozen: first worker delivered lines ${nums(firstLines)}, second ${nums(secondLines)}; result logLines ${result.logLines}, reattached ${result.reattached}\n`);
        const wrongResults = (result.status !== 'Succeeded' ? 1 : 0) + (result.reattached ? 0 : 1) + (jobs[0]?.spec?.suspend === true ? 1 : 0) + (result.logLines !== expected.length ? 1 : 0);
        return {
          duplicateJobs: rig.observer.duplicateJobs(1),
          wrongResults,
          ...logCounts([...firstLines, ...secondLines], expected.map((l) => `${pod}/main ${l}`)),
        };
      },
      { podLogs: true },
    ),
  );
}
