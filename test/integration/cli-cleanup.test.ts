// `temporal-k8s-jobs cleanup` on the stack: exactly the old finished Jobs of this package go; a
// running one, a young one, a foreign Job and a kept PVC stay; --dry-run deletes nothing;
// --orphans deletes the Job of a terminated workflow.
import { jest } from '@jest/globals';
import { cliTestSuite, runCli } from '../helpers/cli.js';
import { cleanupScene, jobNames } from '../helpers/cleanup-scene.js';
import { stackEnv } from '../helpers/stack.js';

// Several CLI processes per test on a shared 2-core machine.
jest.setTimeout(420_000);

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { client: temporal, namespace } = cliTestSuite();

describe('temporal-k8s-jobs cleanup', () => {
  kwokIt('old finished Job deleted; running, young, foreign Jobs and the kept PVC stay; --dry-run; --orphans', async () => {
    const ns = await namespace('cli-cleanup');
    const scene = await cleanupScene(ns, temporal);
    try {
      // A retention of the old Job's age, taken just before each cleanup: the young Job finished
      // seconds later, more than the CLI takes to start and look.
      const retention = () => `${scene.retentionSeconds()}s`;
      const dry = await runCli(['cleanup', '--older-than', retention(), '--namespace', ns, '--dry-run']);
      expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
      expect(dry.stdout).toMatch(new RegExp(`^would delete Job ${ns}/${scene.oldName} \\(workflow old-${ns}, Succeeded, finished \\S+ ago\\)\\nwould delete 1 of 3 Job\\(s\\) of temporal-k8s-jobs in namespace '${ns}'\\n$`));
      expect(jobNames(await scene.jobs())).toEqual(scene.before);

      const real = await runCli(['cleanup', '--older-than', retention(), '--namespace', ns]);
      expect({ code: real.code, stderr: real.stderr }).toEqual({ code: 0, stderr: '' });
      expect(real.stdout).toMatch(new RegExp(`^deleted Job ${ns}/${scene.oldName} .*\\ndeleted 1 of 3 Job\\(s\\)`));
      await scene.expectOnlyOldDeleted();

      // The running Job stays even with a retention of 1s; once its workflow is terminated it is an orphan.
      expect((await runCli(['cleanup', '--older-than', '1s', '--namespace', ns, '--dry-run'])).stdout).not.toContain(`running-${ns}`);
      await temporal().workflow.getHandle(`running-${ns}`).terminate('test: leaves its Job behind');
      const orphans = await runCli(['cleanup', '--older-than', '30d', '--namespace', ns, '--orphans']);
      expect(orphans.stdout).toMatch(new RegExp(`^deleted Job ${ns}/\\S+ \\(workflow running-${ns}, Running, orphan: workflow terminated\\)\\ndeleted 1 of 2 Job\\(s\\)`));
      expect(scene.byWf(await scene.jobs(), `running-${ns}`)).toBeUndefined();
      expect(scene.byWf(await scene.jobs(), `young-${ns}`)).toBeDefined();
    } finally {
      await scene.stop();
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
