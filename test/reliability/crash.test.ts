// Worker SIGKILL at the risky points of the lifecycle, hit exactly by the env-gated crash hook
// (src/crash-hook.ts, TKJ_CRASH_AT): the first worker kills itself at the point, a second worker takes
// the retry over. Counted from the cluster and the sink file: duplicate Jobs, orphans (Jobs, pods,
// owned companions left when the policy says they go), log lines duplicated or missing, wrong results.
import type { CrashPoint } from '../../src/crash-hook.js';
import type { KubernetesJobResult } from '../../src/types.js';
import { exited, jobInput, linesFor, logCounts, orphansAfter, trial, trials, waitForSeen, withRig, type TrialOutcome } from './lib.js';

const POINTS: CrashPoint[] = ['before-create', 'after-create', 'before-resume', 'after-cursor-write', 'in-periodic-tail', 'in-follow-stream', 'after-cleanup-delete', 'in-cancel-delete'];
const PER_POINT = trials(4, 1);

/** Strips the `<pod>/<container> ` prefix the sink gets. */
const text = (l: string) => l.replace(/^\S+\/\S+ /, '');

for (const point of POINTS) {
  for (let i = 1; i <= PER_POINT; i++) {
    trial('crash', `SIGKILL ${point} #${i}`, () =>
      withRig('crash', async (rig): Promise<TrialOutcome> => {
        const tag = `c${i}`;
        const lines = linesFor(tag, 6);
        const first = await rig.worker({ env: { TKJ_CRASH_AT: point } });
        const cancelling = point === 'in-cancel-delete';
        const input = jobInput({
          ns: rig.ns,
          tag,
          seconds: cancelling ? 120 : 8,
          lines,
          mode: point === 'in-follow-stream' ? 'follow' : 'periodic',
          companion: true,
          cleanup: 'always',
        });
        const handle = await rig.start(input);
        if (cancelling) {
          // Cancel once the Job runs: its pod exists (the cancellation's delete is where the worker dies).
          await waitForSeen(rig, 'Pod');
          await handle.cancel();
        }
        await exited(first, 90_000, `the worker to reach crash point ${point}`);
        if (first.signalCode !== 'SIGKILL') throw new Error(`the worker exited (${first.exitCode ?? first.signalCode}) without reaching ${point}`);
        await rig.worker();
        let wrongResults = 0;
        try {
          const result = (await handle.result()) as KubernetesJobResult;
          if (cancelling || result.status !== 'Succeeded') wrongResults++;
        } catch (e) {
          if (!cancelling || !/cancel/i.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message))) {
            wrongResults++;
            process.stderr.write(`[rel] crash ${point}: workflow failed: ${(e as Error).message} / ${(e as { cause?: Error }).cause?.message}\n`);
          }
        }
        const orphans = await orphansAfter(rig.ns);
        // A cancelled Job's lines may stop anywhere; a finished one's must all arrive exactly once.
        const delivered = rig.lines().map(text);
        const counts = logCounts(delivered, cancelling ? [] : lines);
        return { duplicateJobs: rig.observer.duplicateJobs(1), orphans, wrongResults, ...counts };
      }),
    );
  }
}
