// `temporal-k8s-jobs dag` as a user runs it (node bin/temporal-k8s-jobs.js, the built dist/) on the
// local stack: a DAG end to end with fan-out in child workflows, a `when` branch and onExit (each
// log line once, prefixed by step), exit codes 0/1/2, rejected DAGs creating nothing (locally and on
// the workers of a task queue), and Ctrl-C or `cancel` deleting the running Jobs and their pods.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';

import { REPO, cli, cliTestSuite, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, kubeConfig, stackEnv, waitFor, writePodLog } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';

const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;

const jobsIn = async (ns: string) => (await kubeConfig().makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items;
const podsIn = async (ns: string) => (await kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns })).items;

const { client: temporal, namespace } = cliTestSuite();
const dirs: Array<{ cleanup: () => void }> = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

/** Writes a DAG file into a fresh directory; returns its path. */
function dagFile(name: string, content: string): string {
  const t = tempDir({ [name]: content });
  dirs.push(t);
  return path.join(t.dir, name);
}

const annotations = (a: Record<string, string>) => `{${Object.entries(a).map(([k, v]) => `"${k}": ${JSON.stringify(v)}`).join(', ')}}`;
const { duration, exitCode, message } = KWOK_ANNOTATIONS;

/** Lines of `out` that are a log line `<prefix> | <pod>/main <text>`. */
const logLines = (out: string, prefix: string, text: string) => out.split('\n').filter((l) => l.startsWith(`${prefix} | `) && l.endsWith(`/main ${text}`));

describe('temporal-k8s-jobs dag', () => {
  kwokIt('a DAG end to end: fan-out in child workflows, fan-in, when, onExit; each log line once by step; exit 0', async () => {
    const ns = await namespace('cli-dag-ok');
    await writePodLog({ namespace: ns, container: 'main' }, ['line one', 'line two']);
    const file = dagFile('e2e.yaml', `
name: cli-e2e
values: {image: busybox:1.36}
defaults: {logs: {mode: periodic, everySeconds: 1}}
steps:
  plan:
    template: job.yaml.njk
    values: {podAnnotations: ${annotations({ [duration]: '2s', [message]: '{"shards": ["a", "b", "c"]}' })}}
  work:
    template: job.yaml.njk
    dependsOn: [plan]
    forEach: steps.plan.output.shards
    valuesFrom: {command: "'echo ' + item"}
    values: {podAnnotations: ${annotations({ [duration]: '2s' })}}
  report:
    template: job.yaml.njk
    dependsOn: [work]
    logs: {mode: end}
  fallback:
    template: job.yaml.njk
    dependsOn: [report]
    when: "steps.report.status == 'Failed'"
onExit:
  template: job.yaml.njk
`);
    // --batch-size 2: the 3 items of `work` run in two child workflows.
    const r = await runCli(['dag', file, '--namespace', ns, '--batch-size', '2']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^embedded worker on task queue tkj-dag-[0-9a-f]{8} \(templates: .*\(built-in\)\); it stops when this command exits$/);
    expect(out[1]).toMatch(/^started DAG workflow cli-e2e-[0-9a-f]{8} \(4 steps and onExit\)$/);
    // Status changes (item progress lines, every 10 s at most, depend on timing).
    const status = out.filter((l) => l.startsWith('[') && !/^\[\w+\] items /.test(l));
    expect(status).toEqual([
      '[plan] Running',
      expect.stringMatching(/^\[plan\] Succeeded in \d+s \(job plan-cli-e2e-[0-9a-f]{8}-[0-9a-f]+\)$/),
      '[work] Running: 3 items',
      expect.stringMatching(/^\[work\] Succeeded in \d+s \(items 3\/3 done\)$/),
      '[report] Running',
      expect.stringMatching(/^\[report\] Succeeded in \d+s \(job report-/),
      "[fallback] Skipped: when is false: steps.report.status == 'Failed'",
      '[onExit] Running',
      expect.stringMatching(/^\[onExit\] Succeeded in \d+s/),
    ]);
    // Every Job's lines once, prefixed by its step (report's only arrive with its result: logs end).
    for (const prefix of ['plan', 'work[0]', 'work[1]', 'work[2]', 'report', 'onExit']) {
      expect({ prefix, lines: logLines(r.stdout, prefix, 'line one').length }).toEqual({ prefix, lines: 1 });
      expect({ prefix, lines: logLines(r.stdout, prefix, 'line two').length }).toEqual({ prefix, lines: 1 });
    }
    expect(r.stdout).not.toContain('not shown');
    expect(out.filter(Boolean).at(-1)).toBe('DAG Succeeded: 3 succeeded, 1 skipped; onExit succeeded');
    // on-success cleanup (the default)
    expect(await jobsIn(ns)).toEqual([]);
  });

  kwokIt('a failed step: exit 1, the error names it, its dependants are skipped, the rest ran', async () => {
    const ns = await namespace('cli-dag-fail');
    const file = dagFile('fail.yaml', `
failFast: false
values: {image: busybox:1.36}
steps:
  fine: {template: job.yaml.njk}
  broken:
    template: job.yaml.njk
    values: {podAnnotations: ${annotations({ [exitCode]: '3' })}}
  after: {template: job.yaml.njk, dependsOn: [broken]}
`);
    const r = await runCli(['dag', file, '--namespace', ns, '--workflow-id', `cli-dag-fail-${ns}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: DAG failed: broken \\(JobFailed: Job '${ns}/broken-[^']+' failed: BackoffLimitExceeded \\(container 'main' exit code 3\\)\\)\\n$`));
    expect(r.stdout).toMatch(/^\[fine\] Succeeded/m);
    expect(r.stdout).toMatch(/^\[broken\] Failed: JobFailed: Job '[^']+' failed: BackoffLimitExceeded/m);
    expect(r.stdout).toMatch(/^\[after\] Skipped: dependency 'broken' failed$/m);
    expect(r.stdout).toMatch(/^DAG Failed: 1 succeeded, 1 failed, 1 skipped\n$/m);
  });

  it('usage errors: exit 2, nothing started', async () => {
    const file = dagFile('x.yaml', 'steps:\n  a: {template: job.yaml.njk}\n');
    const r = await runCli(['dag', file, '--batch-size', 'lots', '--workflow-id', 'cli-dag-usage']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --batch-size must be a positive whole number, got 'lots'\n/);
    await expect(temporal().workflow.getHandle('cli-dag-usage').describe()).rejects.toThrow(/not found/i);
  });

  it('a rejected DAG file creates nothing: exit 1, every problem named', async () => {
    const ns = await namespace('cli-dag-rejected');
    const bad = dagFile('bad.yaml', "steps:\n  a: {template: job.yaml.njk, dependsOn: [b]}\n  b: {template: job.yaml.njk, dependsOn: [a]}\n  c: {template: job.yaml.njk, dependsOn: [nope]}\n");
    const missing = dagFile('missing.yaml', 'values: {image: busybox:1.36}\nsteps:\n  a: {template: job.yaml.njk}\n  b: {template: not-there.yaml.njk, dependsOn: [a]}\n');
    const r1 = await runCli(['dag', bad, '--namespace', ns, '--workflow-id', `cli-dag-bad-${ns}`]);
    expect(r1.code).toBe(1);
    expect(r1.stdout).toBe('');
    expect(r1.stderr).toContain(`error: ${bad}: invalid DAG (2 problems):\n`);
    expect(r1.stderr).toContain("- step 'c' depends on unknown step 'nope'\n");
    expect(r1.stderr).toContain('- steps form a cycle: a -> b -> a\n');
    const r2 = await runCli(['dag', missing, '--namespace', ns, '--workflow-id', `cli-dag-missing-${ns}`]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^error: .*missing\.yaml: invalid DAG: step 'b': template 'not-there\.yaml\.njk' not found in the template directories\n/);
    for (const id of [`cli-dag-bad-${ns}`, `cli-dag-missing-${ns}`]) await expect(temporal().workflow.getHandle(id).describe()).rejects.toThrow(/not found/i);
    expect(await jobsIn(ns)).toEqual([]);
  });

  kwokIt('Ctrl-C with --cancel-on-interrupt: the running Jobs and their pods are deleted, onExit runs, exit 130', async () => {
    const ns = await namespace('cli-dag-cancel');
    const file = dagFile('long.yaml', `
values: {image: busybox:1.36}
steps:
  slow:
    template: job.yaml.njk
    values: {podAnnotations: ${annotations({ [duration]: '600s' })}}
  fan:
    template: job.yaml.njk
    forEach: [1, 2]
    values: {podAnnotations: ${annotations({ [duration]: '600s' })}}
  never: {template: job.yaml.njk, dependsOn: [slow]}
onExit: {template: job.yaml.njk}
`);
    const p = cli(['dag', file, '--namespace', ns, '--cancel-on-interrupt']);
    await p.waitOut(/^\[fan\] Running/m);
    await waitFor(async () => (await podsIn(ns)).filter((pod) => pod.status?.phase === 'Running').length === 3, { timeoutMs: 60_000, what: '3 running pods' });
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    const id = /started DAG workflow (\S+)/.exec(p.stdout())![1]!;
    expect(p.stderr()).toContain(`cancelling workflow ${id} (waiting for its running Jobs to be deleted; Ctrl-C again to leave)...`);
    expect(p.stdout()).toMatch(/^\[slow\] Cancelled: the DAG was cancelled$/m);
    expect(p.stdout()).toMatch(/^\[never\] Skipped/m);
    expect(p.stdout()).toMatch(/^\[onExit\] Succeeded/m);
    expect(p.stdout()).toContain(`cancelled DAG workflow ${id}; its running Jobs were deleted\n`);
    expect(await jobsIn(ns)).toEqual([]);
    expect(await podsIn(ns)).toEqual([]);
    expect((await temporal().workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
  });
});

describe('temporal-k8s-jobs dag with the workers of a task queue', () => {
  kwokIt("their templates decide (a missing one rejects the DAG, nothing created); 'cancel <id>' deletes a DAG's running Jobs and pods", async () => {
    const ns = await namespace('cli-dag-worker');
    const queue = `tkj-test-${ns}`;
    const w = cli(['worker', '--task-queue', queue, '--templates', path.join(REPO, 'examples/templates'), '--namespace', ns, '--set', 'image=busybox:1.36']);
    try {
      await w.waitOut(/^worker ready: /m);
      // container-task.yaml.njk and plain-job.yaml are only in the worker's template directory: the
      // CLI does not look for them.
      const remote = dagFile(
        'remote.yaml',
        `steps:\n  a:\n    template: container-task.yaml.njk\n    values: {command: sleep, podAnnotations: ${annotations({ [duration]: '600s' })}}\n  b: {template: plain-job.yaml, dependsOn: [a]}\n`,
      );
      const absent = dagFile('absent.yaml', 'steps:\n  a: {template: job.yaml.njk}\n  b: {template: absent-everywhere.yaml.njk, dependsOn: [a]}\n');
      expect(fs.existsSync(path.join(path.dirname(remote), 'plain-job.yaml'))).toBe(false);

      const rejected = await runCli(['dag', absent, '--task-queue', queue, '--workflow-id', `cli-dag-absent-${ns}`]);
      expect(rejected.code).toBe(1);
      expect(rejected.stdout).toContain(`using the worker(s) on task queue ${queue}`);
      expect(rejected.stderr).toMatch(/^error: invalid DAG: step 'b': template 'absent-everywhere\.yaml\.njk' not found in the template directories\n$/);
      expect(await jobsIn(ns)).toEqual([]);

      const started = await runCli(['dag', remote, '--task-queue', queue, '--no-wait', '--workflow-id', `cli-dag-remote-${ns}`]);
      expect({ code: started.code, stderr: started.stderr }).toEqual({ code: 0, stderr: '' });
      expect(started.stdout).toContain(`started DAG workflow cli-dag-remote-${ns} (2 steps)\n`);
      await waitFor(async () => (await podsIn(ns)).some((pod) => pod.status?.phase === 'Running'), { timeoutMs: 60_000, what: 'a running pod' });

      const c = await runCli(['cancel', `cli-dag-remote-${ns}`]);
      expect({ code: c.code, stderr: c.stderr }).toEqual({ code: 0, stderr: '' });
      expect(c.stdout).toBe(`cancelled workflow cli-dag-remote-${ns}; its running Jobs were deleted\n`);
      expect(await jobsIn(ns)).toEqual([]);
      expect(await podsIn(ns)).toEqual([]);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
  });
});
