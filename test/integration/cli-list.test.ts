// `temporal-k8s-jobs list` on the stack: the Jobs of a run (and only this package's), their state,
// their workflow's status from Temporal, the filters and the output formats.
import { BatchV1Api } from '@kubernetes/client-node';
import * as yaml from 'js-yaml';

import { cli, cliTestSuite, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, kubeConfig, stackEnv } from '../helpers/stack.js';

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;
const { client: temporal, namespace } = cliTestSuite();

interface Row { workflowId: string; step: string; namespace: string; job: string; state: string; workflowStatus: string; pods: { active: number; succeeded: number; failed: number } }

describe('temporal-k8s-jobs list', () => {
  kwokIt('a finished run, a running one and a foreign Job: states, workflow statuses, filters, formats', async () => {
    const ns = await namespace('cli-list');
    const batch = kubeConfig().makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: { metadata: { name: 'foreign' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } },
    });
    const done = await runCli(['run', 'job.yaml.njk', '--set', 'image=busybox:1.36', '--namespace', ns, '--delete', 'never', '--logs', 'none', '--workflow-id', `list-done-${ns}`]);
    expect(done.code).toBe(0);
    const running = cli(['run', 'job.yaml.njk', '--set', 'image=busybox:1.36', '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"600s"}`, '--namespace', ns, '--logs', 'none', '--workflow-id', `list-run-${ns}`]);
    try {
      await running.waitOut(/Running: active 1/);
      const r = await runCli(['list', '--namespace', ns, '-o', 'json']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const rows = JSON.parse(r.stdout) as Row[];
      const pick = (x: Row) => ({ workflowId: x.workflowId, step: x.step, namespace: x.namespace, state: x.state, workflowStatus: x.workflowStatus });
      expect(rows.map(pick).sort((a, b) => a.workflowId.localeCompare(b.workflowId))).toEqual([
        { workflowId: `list-done-${ns}`, step: '1', namespace: ns, state: 'Succeeded', workflowStatus: 'COMPLETED' },
        { workflowId: `list-run-${ns}`, step: '1', namespace: ns, state: 'Running', workflowStatus: 'RUNNING' },
      ]);
      expect(rows.find((x) => x.state === 'Running')!.pods.active).toBe(1);
      expect(rows.map((x) => x.job)).not.toContain('foreign');

      const running1 = await runCli(['list', '--namespace', ns, '--state', 'running', '-o', 'yaml']);
      expect((yaml.load(running1.stdout) as Row[]).map((x) => x.workflowId)).toEqual([`list-run-${ns}`]);
      const byWf = await runCli(['list', '-A', '--workflow', `list-done-${ns}`, '-o', 'json']);
      expect((JSON.parse(byWf.stdout) as Row[]).map((x) => x.state)).toEqual(['Succeeded']);

      const table = await runCli(['list', '--namespace', ns]);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^WORKFLOW\s+STEP\s+JOB\s+STATE\s+AGE\s+PODS\(A\/S\/F\)$/);
      expect(lines).toHaveLength(3);
      expect(table.stdout).toMatch(new RegExp(`^list-run-${ns}\\s+1\\s+${ns}/\\S+\\s+Running\\s+\\S+\\s+1/0/0$`, 'm'));
      const wide = await runCli(['list', '--namespace', ns, '-o', 'wide']);
      expect(wide.stdout).toMatch(new RegExp(`^list-done-${ns}\\s.*Succeeded\\s.*COMPLETED\\s+\\S+$`, 'm'));

      const none = await runCli(['list', '--namespace', ns, '--state', 'Failed']);
      expect({ code: none.code, stdout: none.stdout, stderr: none.stderr }).toEqual({ code: 0, stdout: '', stderr: `no Jobs of temporal-k8s-jobs in namespace '${ns}' matching the filters\n` });
    } finally {
      await temporal().workflow.getHandle(`list-run-${ns}`).terminate('test cleanup').catch(() => undefined);
      running.child.kill('SIGTERM');
      await running.exit;
    }
  });

  it.each([
    [['--namespace', 'a', '-A'], /--namespace and --all-namespaces exclude each other/],
    [['-o', 'xml'], /-o must be wide, json or yaml, got 'xml'/],
    [['--state', 'done'], /--state must be one of Pending, Running, Suspended, Succeeded, Failed, got 'done'/],
  ])('%j: usage error, exit 2', async (args, want) => {
    const r = await runCli(['list', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(want);
  });
});
