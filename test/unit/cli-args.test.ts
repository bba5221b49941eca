// The CLI's pure parts: durations, `run` flag checking and input building, live log dedup, failure
// reading; and the `render` command end to end through main() with in-memory output.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState, TerminatedFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';

import { UsageError, type Io } from '../../src/cli/common.js';
import { formatDuration, parseDuration } from '../../src/cli/duration.js';
import { main } from '../../src/cli/index.js';
import { ProgressPrinter, buildRunInput, defaultWorkflowId, describeFailure, parseRunArgs } from '../../src/cli/run.js';
import { positiveInt } from '../../src/cli/worker.js';
import { tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PLAIN = path.join(REPO, 'examples/templates/plain-job.yaml');

function memoryIo(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (s) => (out += s), err: (s) => (err += s), stdout: () => out, stderr: () => err };
}

describe('parseDuration', () => {
  it.each<[string, number | undefined]>([
    ['90', 90],
    ['90s', 90],
    ['15m', 900],
    ['2h', 7200],
    ['1h30m', 5400],
    ['1h30m15s', 5415],
    ['1d', 86400],
    ['1d2h', 93600],
    ['1.5h', 5400],
    ['0.5s', 1],
    [' 15M ', 900],
    ['2H', 7200],
    ['0', undefined],
    ['0s', undefined],
    ['', undefined],
    ['   ', undefined],
    ['-5', undefined],
    ['-5m', undefined],
    ['5x', undefined],
    ['m', undefined],
    ['h1', undefined],
    ['1h 30m', undefined],
    ['30m1h', undefined],
    ['1h1h', undefined],
    ['1e3', undefined],
    ['abc', undefined],
    ['15min', undefined],
    ['1h30', undefined],
  ])('%j -> %j', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([1, 59, 60, 90, 3600, 5400, 86400, 93784])('formatDuration(%d) reads back', (s) => {
    expect(parseDuration(formatDuration(s))).toBe(s);
  });
});

describe('worker flags', () => {
  it.each<[string | undefined, number | undefined | 'usage']>([
    [undefined, undefined],
    ['1', 1],
    ['25', 25],
    ['0', 'usage'],
    ['-1', 'usage'],
    ['1.5', 'usage'],
    ['ten', 'usage'],
  ])('--max-concurrent %j -> %j', (v, want) => {
    if (want === 'usage') expect(() => positiveInt('--max-concurrent', v)).toThrow(UsageError);
    else expect(positiveInt('--max-concurrent', v)).toBe(want);
  });
});

describe('run: flag checking', () => {
  const env = {};
  // Each bad flag is a UsageError (exit 2) with a message that names the flag.
  it.each<[string, string[], RegExp]>([
    ['unknown --logs mode', ['--logs', 'sometimes'], /--logs must be one of periodic, end, follow, none, got 'sometimes'/],
    ['non-numeric --every', ['--every', 'often'], /--every must be a positive number of seconds, got 'often'/],
    ['zero --every', ['--every', '0'], /--every must be a positive number/],
    ['negative --every', ['--every=-3'], /--every must be a positive number/],
    ['--every outside periodic', ['--logs', 'end', '--every', '5'], /--every applies only to --logs periodic/],
    ['bad --tail-lines', ['--tail-lines', '1.5'], /--tail-lines must be a whole number/],
    ['bad --delete', ['--delete', 'onSuccess'], /--delete must be one of never, on-success, always, got 'onSuccess'/],
    ['bad --timeout', ['--timeout', '15 minutes'], /--timeout must be a duration like 90, 90s, 15m, 2h or 1h30m, got '15 minutes'/],
    ['zero --timeout', ['--timeout', '0s'], /--timeout must be a duration/],
    ['empty --workflow-id', ['--workflow-id', ' '], /--workflow-id must not be empty/],
    ['unknown flag', ['--bogus'], /run: Unknown option '--bogus'/],
    ['missing flag value', ['--logs'], /run: Option '--logs <value>' argument missing/],
    ['not a directory', ['--templates', '/nonexistent-dir'], /--templates '\/nonexistent-dir' is not a directory/],
  ])('%s', (_name, flags, message) => {
    let err: unknown;
    try {
      parseRunArgs([PLAIN, ...flags], env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it.each<[string[], number]>([
    [[], 0],
    [['a', 'b'], 2],
  ])('positionals %j -> usage error', (positionals, n) => {
    expect(() => parseRunArgs(positionals, env)).toThrow(new UsageError(`run takes exactly one template, got ${n}`));
  });

  it.each<[string, string[], string | undefined]>([
    ['no --delete', [], undefined],
    ['never', ['--delete', 'never'], 'never'],
    ['on-success', ['--delete', 'on-success'], 'onSuccess'],
    ['always', ['--delete=always'], 'always'],
  ])('--delete %s', (_n, flags, cleanup) => {
    expect(buildRunInput(parseRunArgs([PLAIN, ...flags], env)).cleanup).toBe(cleanup);
  });

  it.each<[string, number | undefined]>([
    ['90', 90],
    ['15m', 900],
    ['1h30m', 5400],
  ])('--timeout %s -> timeoutSeconds %d', (flag, seconds) => {
    expect(buildRunInput(parseRunArgs([PLAIN, '--timeout', flag], env)).timeoutSeconds).toBe(seconds);
  });
});

describe('run: options and input', () => {
  const env = {};

  it('defaults: embedded worker on a fresh queue, periodic logs, nothing else set', () => {
    const o = parseRunArgs([PLAIN], env);
    expect(o).toMatchObject({
      templateName: 'plain-job.yaml',
      templateIsFile: true,
      templateDirs: [path.dirname(PLAIN)],
      embeddedWorker: true,
      wait: true,
      cancelOnInterrupt: false,
      address: '127.0.0.1:7233',
      temporalNamespace: 'default',
      notes: [],
    });
    expect(o.taskQueue).toMatch(/^tkj-run-[0-9a-f]{8}$/);
    expect(o.workflowId).toMatch(/^tkj-plain-job-[0-9a-f]{8}$/);
    expect(buildRunInput(o)).toEqual({ template: 'plain-job.yaml', values: {}, logs: { mode: 'periodic' } });
  });

  it('every flag lands in the input', () => {
    const o = parseRunArgs(
      [
        'job.yaml.njk',
        '--set', 'image=busybox:1.36',
        '--set-json', 'env={"A":"1"}',
        '--set', 'a.b=2',
        '--namespace', 'batch',
        '--logs', 'periodic',
        '--every', '2.5',
        '--tail-lines', '0',
        '--delete', 'on-success',
        '--write-rendered', '/tmp/out',
        '--timeout', '2h',
      ],
      env,
    );
    expect(o.templateIsFile).toBe(false);
    expect(buildRunInput(o)).toEqual({
      template: 'job.yaml.njk',
      values: { image: 'busybox:1.36', env: { A: '1' }, a: { b: '2' } },
      namespace: 'batch',
      logs: { mode: 'periodic', everySeconds: 2.5, tailLines: 0 },
      cleanup: 'onSuccess',
      timeoutSeconds: 7200,
      writeRenderedTo: '.',
    });
    // The embedded worker writes into the named directory itself (it is its rendered-output directory).
    expect(o.renderedOutputDir).toBe('/tmp/out');
  });

  it('--write-rendered with --task-queue names a subdirectory of the remote worker\'s --rendered-dir', () => {
    const o = parseRunArgs(['job.yaml.njk', '--task-queue', 'mine', '--write-rendered', 'nightly/run-1'], env);
    expect(o.renderedOutputDir).toBeUndefined();
    expect(buildRunInput(o).writeRenderedTo).toBe('nightly/run-1');
  });

  it('values files then --set, later wins', () => {
    const t = tempDir({ 'v.yaml': 'image: from-file\nkeep: 1\n' });
    try {
      const o = parseRunArgs(['job.yaml.njk', '-f', path.join(t.dir, 'v.yaml'), '--set', 'image=from-set'], env);
      expect(buildRunInput(o).values).toEqual({ image: 'from-set', keep: 1 });
    } finally {
      t.cleanup();
    }
  });

  it.each<[string, string[], Partial<ReturnType<typeof parseRunArgs>>, RegExp | undefined]>([
    ['--no-embedded-worker: default queue', ['--no-embedded-worker'], { embeddedWorker: false, wait: true, taskQueue: 'kubernetes-jobs' }, /look the template up by name: 'plain-job.yaml'/],
    ['--no-wait implies --no-embedded-worker (and says so)', ['--no-wait'], { embeddedWorker: false, wait: false, taskQueue: 'kubernetes-jobs' }, /--no-wait implies --no-embedded-worker/],
    ['--task-queue sends the work to that queue\'s workers (no embedded worker)', ['--task-queue', 'mine'], { embeddedWorker: false, wait: true, taskQueue: 'mine' }, /look the template up by name: 'plain-job.yaml'/],
    ['--task-queue with --no-wait: no note about the default queue', ['--task-queue', 'mine', '--no-wait'], { embeddedWorker: false, wait: false, taskQueue: 'mine' }, /^the worker\(s\) look the template up by name/],
    ['--templates with --task-queue: only for the embedded worker', ['--task-queue', 'mine', '--templates', REPO], { embeddedWorker: false }, /--templates only applies to the embedded worker/],
    ['--workflow-id', ['--workflow-id', 'my-id'], { workflowId: 'my-id' }, undefined],
    ['--cancel-on-interrupt', ['--cancel-on-interrupt'], { cancelOnInterrupt: true }, undefined],
    ['address/namespace flags', ['--address', 'h:1', '--temporal-namespace', 'ns'], { address: 'h:1', temporalNamespace: 'ns' }, undefined],
    ['credentials are for the embedded worker', ['--no-embedded-worker', '--context', 'x'], { kube: { context: 'x', kubeconfig: undefined, inCluster: undefined } }, /only apply to the embedded worker/],
  ])('%s', (_n, flags, want, note) => {
    const o = parseRunArgs([PLAIN, ...flags], env);
    expect(o).toMatchObject(want);
    if (note) expect(o.notes.join('\n')).toMatch(note);
    else expect(o.notes).toEqual([]);
  });

  it('a name (not a file) with --no-embedded-worker is sent as given, without a note', () => {
    const o = parseRunArgs(['job.yaml.njk', '--no-embedded-worker'], env);
    expect(o.notes).toEqual([]);
    expect(buildRunInput(o).template).toBe('job.yaml.njk');
  });

  it.each<[string, string]>([
    ['plain-job.yaml', 'tkj-plain-job-abcd1234'],
    ['job.yaml.njk', 'tkj-job-abcd1234'],
    ['dir/My_Task.YAML.j2', 'tkj-my-task-abcd1234'],
    ['.njk', 'tkj-job-abcd1234'],
  ])('default workflow id for %s', (name, id) => {
    expect(defaultWorkflowId(name, 'abcd1234')).toBe(id);
  });
});

describe('run: live log lines are printed once', () => {
  const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `p/c line ${from + i}`);

  it('overlapping heartbeats, a gap, and the final tail', () => {
    const out: string[] = [];
    const p = new ProgressPrinter((l) => out.push(l));
    p.onHeartbeat({ logSeq: 0, recentLines: [] });
    p.onHeartbeat({ logSeq: 3, recentLines: lines(1, 3) });
    p.onHeartbeat({ logSeq: 5, recentLines: lines(1, 5) }); // overlaps 1-3
    p.onHeartbeat({ logSeq: 5, recentLines: lines(1, 5) }); // nothing new
    p.onHeartbeat({ logSeq: 4, recentLines: lines(1, 4) }); // stale: ignored
    p.onHeartbeat({ logSeq: 100, recentLines: lines(51, 100) }); // 45 lines went by unseen
    p.lines(lines(91, 110), 110); // result tail overlapping the last heartbeat
    expect(out).toEqual([
      ...lines(1, 5),
      '... 45 lines not shown (see worker log)',
      ...lines(51, 100),
      ...lines(101, 110),
    ]);
  });

  it('a tail with nothing seen before, and a single skipped line', () => {
    const out: string[] = [];
    const p = new ProgressPrinter((l) => out.push(l));
    p.lines(lines(2, 3), 3);
    expect(out).toEqual(['... 1 line not shown (see worker log)', 'p/c line 2', 'p/c line 3']);
  });

  it('progress lines only when phase or counts change; events once', () => {
    const out: string[] = [];
    const p = new ProgressPrinter((l) => out.push(l));
    const progress = { jobName: 'j', namespace: 'ns', phase: 'Pending' as const, active: 0, succeeded: 0, failed: 0 };
    p.onHeartbeat({ progress, logSeq: 0, recentLines: [] });
    p.onHeartbeat({ progress, logSeq: 0, recentLines: [] });
    p.onHeartbeat({ progress: { ...progress, phase: 'Running', active: 1, lastEvent: 'Created pod: j-x' }, logSeq: 1, recentLines: ['j-x/main hi'] });
    p.onHeartbeat({ progress: { ...progress, phase: 'Running', active: 1, lastEvent: 'Created pod: j-x' }, logSeq: 1, recentLines: ['j-x/main hi'] });
    expect(out).toEqual([
      '[job ns/j] Pending: active 0, succeeded 0, failed 0',
      '[job ns/j] Running: active 1, succeeded 0, failed 0',
      '[job ns/j] event: Created pod: j-x',
      'j-x/main hi',
    ]);
  });
});

describe('run: reading a workflow failure', () => {
  const jobFailed = ApplicationFailure.create({
    type: 'JobFailed',
    message: "Job 'ns/name' failed: BackoffLimitExceeded (container 'main' exit code 3)",
    nonRetryable: true,
    details: [{ logTail: ['p/main boom'], logLines: 7 }],
  });
  const activityFailure = (cause: Error) => new ActivityFailure('activity failed', 'kubernetesJobsRunJob', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);

  it.each<[string, unknown, { kind: string; message: string; type?: string }]>([
    ['activity failure -> the ApplicationFailure', new WorkflowFailedError('Workflow execution failed', activityFailure(jobFailed), RetryState.NON_RETRYABLE_FAILURE), { kind: 'failed', message: "Job 'ns/name' failed: BackoffLimitExceeded (container 'main' exit code 3)", type: 'JobFailed' }],
    ['cancelled', new WorkflowFailedError('Workflow execution cancelled', new CancelledFailure('cancelled'), RetryState.CANCEL_REQUESTED), { kind: 'cancelled', message: 'the workflow was cancelled' }],
    ['terminated', new WorkflowFailedError('Workflow execution terminated', new TerminatedFailure('bye'), RetryState.NON_RETRYABLE_FAILURE), { kind: 'terminated', message: 'the workflow was terminated' }],
    ['anything else: its first line', new Error('first\nsecond'), { kind: 'failed', message: 'first' }],
  ])('%s', (_n, err, want) => {
    expect(describeFailure(err)).toMatchObject(want);
  });

  it('keeps the details (log tail) of the ApplicationFailure', () => {
    const f = describeFailure(new WorkflowFailedError('x', activityFailure(jobFailed), RetryState.NON_RETRYABLE_FAILURE));
    expect(f.details).toEqual([{ logTail: ['p/main boom'], logLines: 7 }]);
  });
});

describe('main(): render, and usage errors of run/worker', () => {
  it('render prints YAML, exit 0', async () => {
    const io = memoryIo();
    expect(await main(['render', PLAIN], io)).toBe(0);
    expect(io.stdout()).toMatch(/^apiVersion: batch\/v1\nkind: Job\n/m);
    expect(io.stdout()).toContain('name: hello-plain');
    expect(io.stderr()).toBe('');
  });

  it('render with values through the base template', async () => {
    const io = memoryIo();
    expect(await main(['render', 'job.yaml.njk', '--set', 'image=busybox:1.36', '--set-json', 'command=["echo","hi"]'], io)).toBe(0);
    expect(io.stdout()).toContain('image: busybox:1.36');
  });

  it('a missing value: exit 1, one line on stderr, no stack trace', async () => {
    const io = memoryIo();
    expect(await main(['render', 'job.yaml.njk'], io)).toBe(1);
    expect(io.stdout()).toBe('');
    const err = io.stderr();
    expect(err).toMatch(/^error: .*image/);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('--verbose adds details', async () => {
    const io = memoryIo();
    expect(await main(['render', 'job.yaml.njk', '--verbose'], io)).toBe(1);
    expect(io.stderr().split('\n').length).toBeGreaterThan(2);
  });

  it.each<[string[], RegExp]>([
    [['render', PLAIN, '--bogus'], /render: Unknown option '--bogus'/],
    [['render'], /render takes exactly one template, got 0/],
    [['nosuchcommand'], /unknown command 'nosuchcommand'/],
    [['run', PLAIN, '--logs', 'sometimes'], /--logs must be one of/],
    [['run', PLAIN, '--timeout', 'soon'], /--timeout must be a duration/],
    [['run', PLAIN, '--every', 'x'], /--every must be a positive number/],
    [['run'], /run takes exactly one template, got 0/],
    [['worker', '--max-concurrent', '0'], /--max-concurrent must be a positive whole number/],
    [['worker', 'extra'], /worker takes no arguments/],
    [['worker', '--bogus'], /worker: Unknown option '--bogus'/],
  ])('%j: exit 2', async (argv, message) => {
    const io = memoryIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.stderr()).toMatch(message);
    expect(io.stderr()).toMatch(/^error: [^\n]*\nRun 'temporal-k8s-jobs --help' for usage\.\n$/);
  });

  it('run: a template error fails before anything starts (exit 1, one line)', async () => {
    const io = memoryIo();
    // Address of nothing: if the command tried to connect first, the message would say so.
    expect(await main(['run', 'job.yaml.njk', '--address', '127.0.0.1:1'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^error: [^\n]*image[^\n]*\n$/);
    expect(io.stdout()).toBe('');
  });

  it('run: a template that does not exist (exit 1)', async () => {
    const io = memoryIo();
    expect(await main(['run', 'nope.yaml.njk', '--address', '127.0.0.1:1'], io)).toBe(1);
    expect(io.stderr()).toMatch(/^error: template 'nope.yaml.njk' not found/);
  });

  it.each([['run'], ['worker'], ['render']])('%s --help: exit 0, usage on stdout', async (cmd) => {
    const io = memoryIo();
    expect(await main([cmd, '--help'], io)).toBe(0);
    expect(io.stdout()).toContain(`Usage: temporal-k8s-jobs ${cmd}`);
  });

  it('the command list names run and worker', async () => {
    const io = memoryIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout()).toMatch(/^ {2}run {8}/m);
    expect(io.stdout()).toMatch(/^ {2}worker {5}/m);
  });

  it('render --out DIR writes the file', async () => {
    const t = tempDir();
    try {
      const io = memoryIo();
      expect(await main(['render', PLAIN, '--out', t.dir], io)).toBe(0);
      const file = path.join(t.dir, 'hello-plain.yaml');
      expect(fs.readFileSync(file, 'utf8')).toBe(io.stdout());
      expect(io.stderr()).toContain(`wrote ${file}`);
    } finally {
      t.cleanup();
    }
  });
});
