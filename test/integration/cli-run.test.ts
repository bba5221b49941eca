// The CLI's `run` and `worker` commands as a user runs them: `node bin/temporal-k8s-jobs.js ...`
// (the built dist/) against the local stack. Exit codes, progress lines, each log line once,
// the one-line failure message, Ctrl-C (cancel and detach), and the standalone worker.
import * as path from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';

import { REPO, cli, cliTestSuite, runCli } from '../helpers/cli.js';
import { KWOK_ANNOTATIONS, kubeConfig, stackEnv, writePodLog } from '../helpers/stack.js';

const PLAIN = path.join(REPO, 'examples/templates/plain-job.yaml');
const env = stackEnv();
const kwokIt = env.existingCluster ? it.skip : it;

const jobsIn = async (ns: string) => (await kubeConfig().makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns })).items;

const { client: temporal, namespace } = cliTestSuite();

describe('temporal-k8s-jobs run', () => {
  kwokIt('a plain Job: progress, every log line once, exit 0', async () => {
    const ns = await namespace('cli-run-ok');
    const lines = Array.from({ length: 5 }, (_, i) => `hello ${i + 1}`);
    await writePodLog({ namespace: ns, container: 'main' }, lines);
    const r = await runCli([
      'run',
      'job.yaml.njk',
      '--set', 'image=busybox:1.36',
      '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"4s"}`,
      '--namespace', ns,
      '--logs', 'periodic',
      '--every', '1',
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^embedded worker on task queue tkj-run-[0-9a-f]{8} \(templates: .*\(built-in\)\); it stops when this command exits$/);
    expect(out[1]).toMatch(/^started workflow tkj-job-[0-9a-f]{8}$/);
    expect(r.stdout).toMatch(new RegExp(`^\\[job ${ns}/tkj-job-[0-9a-f-]+\\] Running: active 1, succeeded 0, failed 0$`, 'm'));
    for (const l of lines) {
      const printed = out.filter((o) => o.endsWith(`/main ${l}`));
      expect(printed).toHaveLength(1);
    }
    expect(out.filter(Boolean).at(-1)).toMatch(new RegExp(`^Job ${ns}/tkj-job-[0-9a-f-]+ Succeeded$`));
    // on-success cleanup (the default)
    expect(await jobsIn(ns)).toEqual([]);
  });

  kwokIt('a plain Job file with --logs end and --delete never', async () => {
    const ns = await namespace('cli-run-end');
    await writePodLog({ namespace: ns, container: 'main' }, ['hello from a plain Job']);
    const r = await runCli(['run', PLAIN, '--namespace', ns, '--logs', 'end', '--delete', 'never', '--workflow-id', `cli-end-${ns}`]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`started workflow cli-end-${ns}\n`);
    expect(r.stdout).toMatch(/^hello-plain-[a-z0-9]+\/main hello from a plain Job$/m);
    expect(r.stdout).toMatch(new RegExp(`Job ${ns}/hello-plain Succeeded\\n$`));
    expect((await jobsIn(ns)).map((j) => j.metadata?.name)).toEqual(['hello-plain']);
  });

  // The styles users come from: a YAML with {{placeholders}}, and a header/body pair (extends + block).
  kwokIt.each([
    ['task.yaml', ['--set', 'task_num=7', '--set', 'command=python train.py --epochs 3'], 'task-7', 'task'],
    ['body.yaml.njk', ['--set', 'day=2026-11-23', '--set', 'name=daily-report'], 'daily-report', 'main'],
  ])('the example %s runs end to end', async (file, values, jobName, container) => {
    const ns = await namespace('cli-run-style');
    await writePodLog({ namespace: ns, container }, ['styled output']);
    const r = await runCli(['run', path.join(REPO, 'examples/templates', file), ...values, '--namespace', ns, '--logs', 'end', '--delete', 'never']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^${jobName}-[a-z0-9]+/${container} styled output$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`Job ${ns}/${jobName} Succeeded\n$`));
    expect((await jobsIn(ns)).map((j) => j.metadata?.name)).toEqual([jobName]);
  });

  kwokIt('a failing Job: exit 1 and one line naming the reason and exit code', async () => {
    const ns = await namespace('cli-run-fail');
    const r = await runCli([
      'run',
      'job.yaml.njk',
      '--set', 'image=busybox:1.36',
      '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.exitCode}":"3"}`,
      '--namespace', ns,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: Job '${ns}/tkj-job-[0-9a-f-]+' failed: BackoffLimitExceeded \\(container 'main' exit code 3\\)\\n$`));
    expect(r.stdout).not.toMatch(/Succeeded$/m);
  });

  it('a bad value fails before anything is created (exit 1, nothing started)', async () => {
    const ns = await namespace('cli-run-bad');
    const r = await runCli(['run', 'job.yaml.njk', '--namespace', ns, '--workflow-id', `cli-bad-${ns}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: [^\n]*image[^\n]*\n$/);
    expect(r.stdout).toBe('');
    await expect(temporal().workflow.getHandle(`cli-bad-${ns}`).describe()).rejects.toThrow(/not found/i);
    expect(await jobsIn(ns)).toEqual([]);
  });

  it('a bad flag value: exit 2', async () => {
    const r = await runCli(['run', PLAIN, '--logs', 'sometimes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --logs must be one of periodic, end, follow, none, got 'sometimes'\n/);
  });

  it('Temporal unreachable: exit 1, one line', async () => {
    const r = await runCli(['run', PLAIN, '--address', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot reach Temporal at 127\.0\.0\.1:1 \(plaintext\): [^\n]*\n$/);
  });

  kwokIt('Ctrl-C with --cancel-on-interrupt: cancels, the Job is deleted, exit 130', async () => {
    const ns = await namespace('cli-run-cancel');
    const p = cli([
      'run',
      'job.yaml.njk',
      '--set', 'image=busybox:1.36',
      '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"600s"}`,
      '--namespace', ns,
      '--cancel-on-interrupt',
    ]);
    await p.waitOut(/Running: active 1/);
    expect(await jobsIn(ns)).toHaveLength(1);
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    const id = /started workflow (\S+)/.exec(p.stdout())![1]!;
    expect(p.stdout()).toContain(`cancelled workflow ${id}; its Job was deleted\n`);
    expect(await jobsIn(ns)).toEqual([]);
    expect((await temporal().workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
  });

  kwokIt('Ctrl-C without a terminal: not cancelled, says how to cancel and that the embedded worker is gone', async () => {
    const ns = await namespace('cli-run-detach');
    const p = cli([
      'run',
      'job.yaml.njk',
      '--set', 'image=busybox:1.36',
      '--set-json', `podAnnotations={"${KWOK_ANNOTATIONS.duration}":"600s"}`,
      '--namespace', ns,
    ]);
    await p.waitOut(/Running: active 1/);
    p.child.kill('SIGINT');
    expect(await p.exit).toBe(130);
    const id = /started workflow (\S+)/.exec(p.stdout())![1]!;
    const queue = /task queue (tkj-run-[0-9a-f]{8})/.exec(p.stdout())![1]!;
    expect(p.stderr()).toContain(`workflow ${id} was not cancelled; cancel it later with 'temporal-k8s-jobs cancel ${id}'`);
    expect(p.stderr()).toContain(`it cannot progress until a worker runs on task queue ${queue}`);
    const handle = temporal().workflow.getHandle(id);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test cleanup');
  });
});

describe('temporal-k8s-jobs worker', () => {
  kwokIt('serves run --task-queue with its own templates and default values; SIGTERM stops it gracefully (exit 0)', async () => {
    const ns = await namespace('cli-worker');
    await writePodLog({ namespace: ns, container: 'main' }, ['from the standalone worker']);
    const queue = `tkj-test-${ns}`;
    const w = cli(['worker', '--task-queue', queue, '--templates', path.join(REPO, 'examples/templates'), '--namespace', ns, '--set', 'image=busybox:1.36']);
    try {
      await w.waitOut(new RegExp(`^worker ready: task queue ${queue} on ${env.temporalAddress.replace(/\./g, '\\.')} .*templates: .*examples/templates.*; default values: image\\)$`, 'm'));
      // A template only the worker has (in its --templates directory): naming the queue sends the
      // name there, with no local lookup. The namespace comes from the worker.
      const r = await runCli(['run', 'plain-job.yaml', '--task-queue', queue, '--logs', 'end']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(`using the worker(s) on task queue ${queue}`);
      expect(r.stdout).not.toContain('embedded worker');
      expect(r.stdout).toMatch(/\/main from the standalone worker$/m);
      expect(r.stdout).toMatch(new RegExp(`Job ${ns}/hello-plain Succeeded\\n$`));

      // No image given: the worker's default value (worker --set image=...) fills it in.
      const d = await runCli(['run', 'job.yaml.njk', '--task-queue', queue, '--set', 'command=echo default image', '--delete', 'never', '--workflow-id', `cli-default-${ns}`]);
      expect({ code: d.code, stderr: d.stderr }).toEqual({ code: 0, stderr: '' });
      const imageOf = async (stdout: string) => {
        const name = /^Job \S+\/(\S+) Succeeded$/m.exec(stdout)![1]!;
        return (await jobsIn(ns)).find((j) => j.metadata?.name === name)?.spec?.template.spec?.containers[0]?.image;
      };
      expect(await imageOf(d.stdout)).toBe('busybox:1.36');
      // A value given to run wins over the worker's default.
      const o = await runCli(['run', 'job.yaml.njk', '--task-queue', queue, '--set', 'image=alpine:3', '--delete', 'never', '--workflow-id', `cli-override-${ns}`]);
      expect(o.code).toBe(0);
      expect(await imageOf(o.stdout)).toBe('alpine:3');

      // --no-wait: prints the id and exits; the worker runs the Job to the end.
      const nw = await runCli(['run', 'job.yaml.njk', '--set', 'image=busybox:1.36', '--no-wait', '--task-queue', queue, '--workflow-id', `cli-nowait-${ns}`, '--delete', 'always']);
      expect({ code: nw.code, stderr: nw.stderr }).toEqual({ code: 0, stderr: '' });
      expect(nw.stdout).toContain(`started workflow cli-nowait-${ns}\n`);
      const result = await temporal().workflow.getHandle(`cli-nowait-${ns}`).result();
      expect(result).toMatchObject({ status: 'Succeeded', namespace: ns });
    } finally {
      w.child.kill('SIGTERM');
    }
    expect(await w.exit).toBe(0);
    expect(w.stdout()).toMatch(/worker stopped\n$/);
  });

  kwokIt('run --no-wait without --task-queue goes to the default queue and says so', async () => {
    const r = await runCli(['run', 'job.yaml.njk', '--set', 'image=busybox:1.36', '--no-wait', '--workflow-id', `cli-nowait-default-${Date.now()}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^note: --no-wait implies --no-embedded-worker[^\n]*task queue 'kubernetes-jobs'/);
    const id = /started workflow (\S+)/.exec(r.stdout)![1]!;
    await temporal().workflow.getHandle(id).terminate('test cleanup: nothing polls the default queue here');
  });

  it('Temporal unreachable: exit 1 with one line', async () => {
    const r = await runCli(['worker', '--address', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot reach Temporal at 127\.0\.0\.1:1 \(plaintext\): [^\n]*\n$/);
  });

  it('no credentials: exit 1 with one line, before connecting', async () => {
    const r = await runCli(['worker', '--kubeconfig', '/nonexistent/kubeconfig', '--address', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: kubeconfig '/nonexistent/kubeconfig' does not exist\n");
  });
});
