// The `dag` and `demo` commands' pure parts: flags, reading and checking a DAG file, workflow ids,
// the live view (activity -> step, step lines, status-change lines, the terminal frame), the input
// size check, the Web UI link, the stack env file; and main() for usage errors and rejected files.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Dag, DagResult } from '../../src/dag-types.js';
import { UsageError, type Io } from '../../src/cli/common.js';
import { DagFileError, dagWorkflowId, missingTemplates, parseDagArgs, parseDagText } from '../../src/cli/dag.js';
import { elapsed, fitToHeight, frame, itemProgressLines, itemSummary, logPrefix, podCounts, statusChangeLines, stepLines, stepOfActivity, summaryLine, truncate } from '../../src/cli/dag-view.js';
import { demoTarget, parseEnvFile } from '../../src/cli/demo.js';
import { main } from '../../src/cli/index.js';
import { MAX_INPUT_BYTES, checkInputSize, inputBytes, webUiLink } from '../../src/cli/session.js';
import { tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SMALL = path.join(REPO, 'test/fixtures/cli-dags/small.yaml');

function memoryIo(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (s) => (out += s), err: (s) => (err += s), stdout: () => out, stderr: () => err };
}

describe('dag: flags', () => {
  const env = {};
  it('defaults: embedded worker on a fresh queue, the file directory first among template dirs', () => {
    const o = parseDagArgs([SMALL], env);
    expect(o).toMatchObject({
      file: SMALL,
      embeddedWorker: true,
      wait: true,
      cancelOnInterrupt: false,
      templateDirs: [path.dirname(SMALL)],
      values: {},
      address: '127.0.0.1:7233',
      temporalNamespace: 'default',
      notes: [],
    });
    expect(o.taskQueue).toMatch(/^tkj-dag-[0-9a-f]{8}$/);
    expect(o.workflowId).toBeUndefined();
    expect(o.batchSize).toBeUndefined();
  });

  it.each<[string, string[], Record<string, unknown>, RegExp | undefined]>([
    ['--task-queue: no embedded worker', ['--task-queue', 'q'], { embeddedWorker: false, wait: true, taskQueue: 'q' }, undefined],
    ['--no-wait: the default queue, said so', ['--no-wait'], { embeddedWorker: false, wait: false, taskQueue: 'kubernetes-jobs' }, /--no-wait sends the DAG to the worker\(s\) of task queue 'kubernetes-jobs'/],
    ['--no-wait with --task-queue: no note', ['--no-wait', '--task-queue', 'q'], { embeddedWorker: false, taskQueue: 'q' }, undefined],
    ['--templates with --task-queue: noted', ['--task-queue', 'q', '--templates', REPO], { embeddedWorker: false }, /--templates only applies to the embedded worker/],
    ['credentials with --task-queue: noted', ['--task-queue', 'q', '--context', 'x'], { embeddedWorker: false }, /only apply to the embedded worker/],
    ['--templates after the file directory', ['--templates', REPO], { templateDirs: [path.dirname(SMALL), REPO] }, undefined],
    ['values', ['--set', 'a.b=1', '--set-json', 'n=2'], { values: { a: { b: '1' }, n: 2 } }, undefined],
    ['--namespace', ['--namespace', 'batch'], { namespace: 'batch' }, undefined],
    ['--batch-size', ['--batch-size', '50'], { batchSize: 50 }, undefined],
    ['--workflow-id and --cancel-on-interrupt', ['--workflow-id', 'x', '--cancel-on-interrupt'], { workflowId: 'x', cancelOnInterrupt: true }, undefined],
    ['connection flags', ['--address', 'h:1', '--temporal-namespace', 'n'], { address: 'h:1', temporalNamespace: 'n' }, undefined],
  ])('%s', (_n, flags, want, note) => {
    const o = parseDagArgs([SMALL, ...flags], env);
    expect(o).toMatchObject(want);
    if (note) expect(o.notes.join('\n')).toMatch(note);
    else expect(o.notes).toEqual([]);
  });

  it('TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE from the environment', () => {
    expect(parseDagArgs([SMALL], { TEMPORAL_ADDRESS: 'a:1', TEMPORAL_NAMESPACE: 'ns' })).toMatchObject({ address: 'a:1', temporalNamespace: 'ns' });
  });

  it.each<[string, string[], RegExp]>([
    ['no file', [], /dag takes exactly one DAG file, got 0/],
    ['two files', [SMALL, SMALL], /dag takes exactly one DAG file, got 2/],
    ['unknown flag', [SMALL, '--bogus'], /dag: Unknown option '--bogus'/],
    ['--batch-size 0', [SMALL, '--batch-size', '0'], /--batch-size must be a positive whole number, got '0'/],
    ['--batch-size not a number', [SMALL, '--batch-size', 'many'], /--batch-size must be a positive whole number/],
    ['empty --workflow-id', [SMALL, '--workflow-id', ''], /--workflow-id must not be empty/],
    ['empty --namespace', [SMALL, '--namespace', ' '], /--namespace must not be empty/],
    ['--templates not a directory', [SMALL, '--templates', '/nonexistent-dir'], /--templates '\/nonexistent-dir' is not a directory/],
    ['--logs is a run flag', [SMALL, '--logs', 'end'], /dag: Unknown option '--logs'/],
  ])('%s: usage error', (_n, args, message) => {
    let err: unknown;
    try {
      parseDagArgs(args, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('dag: reading the file', () => {
  const text = ['name: etl', 'values: {image: busybox, keep: 1, nested: {a: 1, b: 2}}', 'steps:', '  a: {template: job.yaml.njk}', ''].join('\n');

  it('command-line values merge over the file values (deep); --namespace becomes the default namespace', () => {
    const dag = parseDagText(text, 'f.yaml', { values: { image: 'alpine', nested: { b: 3 } }, namespace: 'batch' });
    expect(dag.values).toEqual({ image: 'alpine', keep: 1, nested: { a: 1, b: 3 } });
    expect(dag.defaults).toEqual({ namespace: 'batch' });
  });

  it('--namespace wins over the file defaults, other defaults stay', () => {
    const dag = parseDagText(`${text}defaults: {namespace: x, cleanup: always}\n`, 'f.yaml', { namespace: 'batch' });
    expect(dag.defaults).toEqual({ namespace: 'batch', cleanup: 'always' });
  });

  it('a file without values gets the command line values', () => {
    expect(parseDagText('steps:\n  a: {template: t}\n', 'f.yaml', { values: { x: '1' } }).values).toEqual({ x: '1' });
  });

  it.each<[string, string, RegExp]>([
    ['YAML error: file, line and column', 'steps:\n  a:\n   template: x\n  - b\n', /^f\.yaml:4:3: not valid YAML: bad indentation of a mapping entry$/],
    ['empty file', '\n# nothing\n', /^f\.yaml: the file is empty/],
    ['a list, not a mapping', '- a\n- b\n', /^f\.yaml: invalid DAG: a DAG must be a mapping/],
    ['a cycle, named', 'steps:\n  a: {template: t, dependsOn: [b]}\n  b: {template: t, dependsOn: [a]}\n', /^f\.yaml: invalid DAG: steps form a cycle: a -> b -> a$/],
    ['every problem, one line each', 'steps:\n  a: {template: t, dependsOn: [zz]}\n  B: {template: t, bogus: 1}\n', /^f\.yaml: invalid DAG \(3 problems\):\n- .*\n- .*\n- .*$/],
    ['CEL naming an unknown step', "steps:\n  a: {template: t}\n  b: {template: t, dependsOn: [a], when: \"steps.zz.status == 'Failed'\"}\n", /unknown step 'zz'/],
    ['a reserved value set from the command line is checked too', 'steps:\n  a: {template: t}\n', /value 'steps' is reserved/],
  ])('%s', (name, body, message) => {
    let err: unknown;
    try {
      parseDagText(body, 'f.yaml', name.startsWith('a reserved') ? { values: { steps: 1 } } : {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DagFileError);
    expect((err as Error).message).toMatch(message);
  });

  it('missing templates name their steps (built-in templates are found)', () => {
    const dag = parseDagText('steps:\n  a: {template: job.yaml.njk}\n  b: {template: nope.njk}\n  c: {template: nope.njk}\nonExit: {template: gone.njk}\n', 'f.yaml');
    expect(missingTemplates(dag, [])).toEqual([
      "step 'b', step 'c': template 'nope.njk' not found in the template directories",
      "onExit: template 'gone.njk' not found in the template directories",
    ]);
  });

  it('templates next to the DAG file are found through its directory', () => {
    const t = tempDir({ 'mine.yaml.njk': 'x', 'dag.yaml': '' });
    try {
      const dag = parseDagText('steps:\n  a: {template: mine.yaml.njk}\n', 'dag.yaml');
      expect(missingTemplates(dag, [])).toHaveLength(1);
      expect(missingTemplates(dag, [t.dir])).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it.each<[string | undefined, string, string]>([
    ['nightly-etl', 'x.yaml', 'nightly-etl-abcd1234'],
    [undefined, 'dir/Demo.yaml', 'demo-abcd1234'],
    [undefined, 'pipe.line.yml', 'pipe.line-abcd1234'],
    ['My_DAG', 'x.yaml', 'my-dag-abcd1234'],
    [undefined, '.yaml', 'dag-abcd1234'],
  ])('workflow id for name %j, file %s', (name, file, id) => {
    expect(dagWorkflowId(name === undefined ? {} : { name }, file, 'abcd1234')).toBe(id);
  });
});

describe('dag: live view', () => {
  const dag: Dag = {
    steps: {
      extract: { template: 't' },
      'extract-2': { template: 't' },
      transform: { template: 't', dependsOn: ['extract'], forEach: '[1,2,3]' },
      load: { template: 't', dependsOn: ['transform'] },
    },
    onExit: { template: 't' },
  };

  it.each<[string, { step: string; index?: number } | undefined]>([
    ['extract', { step: 'extract' }],
    ['extract-2', { step: 'extract-2' }],
    ['transform[0]', { step: 'transform', index: 0 }],
    ['transform[17]', { step: 'transform', index: 17 }],
    ['transform-0', undefined],
    ['transform', undefined],
    ['load[1]', undefined],
    ['dag2.extract', undefined],
    ['onExit', { step: 'onExit' }],
    ['checkTemplates', undefined],
    ['1', undefined],
  ])('activity %s -> %j', (id, want) => {
    expect(stepOfActivity(id, dag)).toEqual(want);
  });

  it('onExit is no step when the DAG has none', () => {
    expect(stepOfActivity('onExit', { steps: dag.steps })).toBeUndefined();
  });

  it.each<[string, number | undefined, string]>([
    ['extract', undefined, 'extract | '],
    ['transform', 3, 'transform[3] | '],
  ])('log prefix %s %j', (step, index, want) => {
    expect(logPrefix(step, index)).toBe(want);
  });

  it('pods of running Jobs are summed; Jobs without a heartbeat yet count nothing', () => {
    const p = (active: number, succeeded: number, failed: number) => ({ jobName: 'j', namespace: 'n', phase: 'Running' as const, active, succeeded, failed });
    expect(podCounts([{ step: 'a', progress: p(1, 0, 0) }, { step: 'a', progress: p(2, 1, 1) }, { step: 'a' }])).toEqual({ active: 3, succeeded: 1, failed: 1 });
  });

  it.each<[string | undefined, string | number | undefined, string | undefined]>([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:04.400Z', '4s'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:02:05Z', '2m05s'],
    ['2026-01-01T00:00:00Z', '2026-01-01T01:02:05Z', '1h02m'],
    ['2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:09Z'), '9s'],
    [undefined, '2026-01-01T00:00:04Z', undefined],
    ['2026-01-01T00:00:05Z', '2026-01-01T00:00:04Z', undefined],
  ])('elapsed %s -> %s = %s', (from, to, want) => {
    expect(elapsed(from, to)).toBe(want);
  });

  it.each<[Parameters<typeof itemSummary>[0], string]>([
    [{ total: 8, pending: 3, running: 2, succeeded: 3, failed: 0, skipped: 0, cancelled: 0 }, 'items 3/8 done, 2 running, 3 pending'],
    [{ total: 8, pending: 0, running: 0, succeeded: 5, failed: 1, skipped: 1, cancelled: 1 }, 'items 8/8 done (1 failed, 1 cancelled, 1 not started)'],
  ])('item summary %j', (items, want) => {
    expect(itemSummary(items)).toBe(want);
  });

  const running: DagResult = {
    status: 'Running',
    steps: {
      extract: { status: 'Succeeded', jobName: 'extract-x', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:04Z' },
      'extract-2': { status: 'Failed', error: "JobFailed: Job 'n/e2' failed: BackoffLimitExceeded\nmore" },
      transform: {
        status: 'Running',
        startedAt: '2026-01-01T00:00:04Z',
        items: { total: 3, pending: 1, running: 2, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 },
      },
      load: { status: 'Pending' },
    },
    onExit: { status: 'Pending' },
  };
  const progress = { jobName: 'j', namespace: 'n', phase: 'Running' as const, active: 1, succeeded: 0, failed: 0 };

  it('one line per step (and onExit), in declaration order, with what each is doing', () => {
    const lines = stepLines(dag, running, [{ step: 'transform', index: 0, progress }, { step: 'transform', index: 1, progress }], Date.parse('2026-01-01T00:00:10Z'), 200);
    expect(lines).toEqual([
      '✔ extract    Succeeded 4s · job extract-x',
      "✖ extract-2  Failed    JobFailed: Job 'n/e2' failed: BackoffLimitExceeded",
      '● transform  Running   items 0/3 done, 2 running, 1 pending · pods: 2 active, 0 succeeded, 0 failed · 6s',
      '○ load       Pending   waiting for transform',
      '○ onExit     Pending   runs last',
    ]);
  });

  it('a single running Job shows its phase and, before it runs, its latest event', () => {
    const state: DagResult = { status: 'Running', steps: { ...running.steps, load: { status: 'Running', startedAt: '2026-01-01T00:00:09Z' } } };
    const lines = stepLines(dag, state, [{ step: 'load', progress: { ...progress, phase: 'Pending', active: 0, lastEvent: 'pod x: ErrImagePull' } }], Date.parse('2026-01-01T00:00:10Z'), 200);
    expect(lines[3]).toBe('● load       Running   Pending · pods: 0 active, 0 succeeded, 0 failed · pod x: ErrImagePull · 1s');
  });

  it('lines are cut to the terminal width', () => {
    const lines = stepLines(dag, running, [], 0, 20);
    expect(lines.every((l) => [...l].length <= 19)).toBe(true);
    expect(lines[0]).toBe('✔ extract    Succe…');
  });

  it.each<[string, number, string]>([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['longer than ten', 10, 'longer th…'],
    ['✔✔✔✔', 3, '✔✔…'],
  ])('truncate %j to %d', (line, max, want) => {
    expect(truncate(line, max)).toBe(want);
  });

  it('plain lines: one per status change, nothing when nothing changed', () => {
    const first: DagResult = { status: 'Running', steps: { extract: { status: 'Running' }, 'extract-2': { status: 'Pending' }, transform: { status: 'Pending' }, load: { status: 'Pending' } }, onExit: { status: 'Pending' } };
    expect(statusChangeLines(dag, undefined, first)).toEqual(['[extract] Running']);
    expect(statusChangeLines(dag, first, first)).toEqual([]);
    const next: DagResult = {
      status: 'Running',
      steps: {
        extract: { status: 'Succeeded', jobName: 'extract-x', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:04Z' },
        'extract-2': { status: 'Skipped', reason: 'when is false: false' },
        transform: { status: 'Running', items: { total: 3, pending: 3, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 } },
        load: { status: 'Pending' },
      },
      onExit: { status: 'Pending' },
    };
    expect(statusChangeLines(dag, first, next)).toEqual(['[extract] Succeeded in 4s (job extract-x)', '[extract-2] Skipped: when is false: false', '[transform] Running: 3 items']);
    const end: DagResult = {
      status: 'Failed',
      steps: {
        ...next.steps,
        transform: { status: 'Failed', error: 'item 1: JobFailed: boom', items: { total: 3, pending: 0, running: 0, succeeded: 1, failed: 1, skipped: 0, cancelled: 1 } },
        load: { status: 'Skipped', reason: "dependency 'transform' failed" },
      },
      onExit: { status: 'Cancelled', reason: 'the DAG was cancelled' },
    };
    expect(statusChangeLines(dag, next, end)).toEqual([
      '[transform] Failed (items 3/3 done (1 failed, 1 cancelled)): item 1: JobFailed: boom',
      "[load] Skipped: dependency 'transform' failed",
      '[onExit] Cancelled: the DAG was cancelled',
    ]);
    expect(summaryLine(dag, end)).toBe('DAG Failed: 1 succeeded, 1 failed, 2 skipped; onExit cancelled');
  });

  it.each<[number, number, string[]]>([
    [3, 10, ['s0', 's1', 's2']],
    [5, 6, ['s0', 's1', 's2', 's3', 's4']],
    [6, 6, ['s0', 's1', 's2', 's3', '… 2 more steps']],
    [4, 1, ['s0', '… 3 more steps']],
  ])('%d step lines on a terminal of %d rows', (n, rows, want) => {
    expect(fitToHeight(Array.from({ length: n }, (_, i) => `s${i}`), rows)).toEqual(want);
  });

  it('plain item progress: a running forEach step\'s counts when they changed, at most every 10 s', () => {
    const items = (done: number) => ({ total: 10, pending: 10 - done - 1, running: 1, succeeded: done, failed: 0, skipped: 0, cancelled: 0 });
    const at = (done: number): DagResult => ({ status: 'Running', steps: { extract: { status: 'Succeeded' }, transform: { status: 'Running', items: items(done) } } });
    const printed = new Map<string, { at: number; text: string }>();
    expect(itemProgressLines(at(0), printed, 0, 10_000)).toEqual([]); // right after its Running line
    expect(itemProgressLines(at(3), printed, 5_000, 10_000)).toEqual([]);
    expect(itemProgressLines(at(4), printed, 10_000, 10_000)).toEqual(['[transform] items 4/10 done, 1 running, 5 pending']);
    expect(itemProgressLines(at(4), printed, 30_000, 10_000)).toEqual([]); // unchanged
    expect(itemProgressLines(at(5), printed, 31_000, 10_000)).toEqual(['[transform] items 5/10 done, 1 running, 4 pending']);
    expect(itemProgressLines({ status: 'Running', steps: { transform: { status: 'Succeeded', items: items(10) } } }, printed, 60_000, 10_000)).toEqual([]);
  });

  it('the terminal frame replaces the step lines drawn last, log lines scroll above', () => {
    expect(frame(0, [], ['a', 'b'])).toBe('a\nb\n');
    expect(frame(2, ['log 1'], ['a2', 'b2'])).toBe('\r\x1b[2A\x1b[Jlog 1\na2\nb2\n');
    expect(frame(2, [], [])).toBe('\r\x1b[2A\x1b[J');
  });
});

describe('input size, Web UI link, demo helpers', () => {
  it('an input over 2 MiB is refused with its size, the limit and what to do', () => {
    const big = { template: 't', values: { blob: 'x'.repeat(MAX_INPUT_BYTES) } };
    expect(inputBytes([big])).toBeGreaterThan(MAX_INPUT_BYTES);
    expect(() => checkInputSize([big], 'workflow input')).toThrow(
      /^the workflow input is 2\.00 MiB \(\d+ bytes\), over Temporal's limit of 2\.00 MiB \(2097152 bytes\) for a workflow's input: pass large data by reference/,
    );
    expect(() => checkInputSize([{ template: 't', values: { blob: 'x'.repeat(MAX_INPUT_BYTES - 100) } }], 'x')).not.toThrow();
  });

  it.each<[Record<string, string>, string | undefined]>([
    [{}, undefined],
    [{ TEMPORAL_UI_URL: 'http://127.0.0.1:8233' }, 'http://127.0.0.1:8233/namespaces/default/workflows/demo-1%2Fx'],
    [{ TEMPORAL_UI_URL: 'http://127.0.0.1:8233/' }, 'http://127.0.0.1:8233/namespaces/default/workflows/demo-1%2Fx'],
  ])('Web UI link with %j', (env, want) => {
    expect(webUiLink(env, 'default', 'demo-1/x')).toBe(want);
  });

  it('reads the stack env file', () => {
    const text = "# Written by up.sh\nexport KUBECONFIG='/s/admin.kubeconfig'\nexport TEMPORAL_ADDRESS='127.0.0.1:7533'\nTEMPORAL_UI_URL=\"http://127.0.0.1:8533\"\nnot a line\n";
    expect(parseEnvFile(text)).toEqual({ KUBECONFIG: '/s/admin.kubeconfig', TEMPORAL_ADDRESS: '127.0.0.1:7533', TEMPORAL_UI_URL: 'http://127.0.0.1:8533' });
  });

  it.each<[{ context?: string; kubeconfig?: string }, Record<string, string>, boolean, RegExp | undefined]>([
    [{}, {}, true, undefined],
    [{ context: 'prod' }, {}, false, /context 'prod'/],
    [{ kubeconfig: '/k' }, {}, false, /kubeconfig \/k/],
    [{}, { KUBECONFIG: '/env/k' }, false, /KUBECONFIG=\/env\/k/],
  ])('demo target for %j, env %j', (flags, env, stack, why) => {
    const t = demoTarget(flags, env);
    expect(t.stack).toBe(stack);
    if (why) expect((t as { why: string }).why).toMatch(why);
  });
});

describe('main(): dag and demo', () => {
  it.each<[string[], RegExp]>([
    [['dag'], /dag takes exactly one DAG file, got 0/],
    [['dag', SMALL, '--bogus'], /dag: Unknown option '--bogus'/],
    [['demo', 'extra'], /demo takes no arguments, got 'extra'/],
    [['demo', '--set', 'a=b'], /demo: Unknown option '--set'/],
  ])('%j: exit 2', async (argv, message) => {
    const io = memoryIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.stderr()).toMatch(message);
  });

  it('a rejected DAG file: exit 1, the problems on stderr, nothing on stdout, nothing contacted', async () => {
    const t = tempDir({ 'bad.yaml': 'steps:\n  a: {template: job.yaml.njk, dependsOn: [b]}\n  b: {template: job.yaml.njk, dependsOn: [a]}\n' });
    try {
      const io = memoryIo();
      // Address of nothing: if the command tried to connect first, the message would say so.
      expect(await main(['dag', path.join(t.dir, 'bad.yaml'), '--address', '127.0.0.1:1'], io)).toBe(1);
      expect(io.stderr()).toBe(`error: ${path.join(t.dir, 'bad.yaml')}: invalid DAG: steps form a cycle: a -> b -> a\n`);
      expect(io.stdout()).toBe('');
    } finally {
      t.cleanup();
    }
  });

  it('a template missing locally: exit 1, naming the step and the template directories', async () => {
    const t = tempDir({ 'dag.yaml': 'steps:\n  a: {template: job.yaml.njk}\n  b: {template: nope.yaml.njk, dependsOn: [a]}\n' });
    try {
      const io = memoryIo();
      expect(await main(['dag', path.join(t.dir, 'dag.yaml'), '--address', '127.0.0.1:1'], io)).toBe(1);
      expect(io.stderr()).toMatch(/^error: .*dag\.yaml: invalid DAG: step 'b': template 'nope\.yaml\.njk' not found in the template directories\n\(template directories: .*\(built-in\); add one with --templates DIR\)\n$/);
    } finally {
      t.cleanup();
    }
  });

  it('with --task-queue the templates are not looked up locally (the workers have them)', async () => {
    const t = tempDir({ 'dag.yaml': 'steps:\n  a: {template: only-on-the-workers.yaml.njk}\n' });
    try {
      const io = memoryIo();
      expect(await main(['dag', path.join(t.dir, 'dag.yaml'), '--task-queue', 'q', '--address', '127.0.0.1:1'], io)).toBe(1);
      expect(io.stderr()).toMatch(/^error: cannot reach Temporal at 127\.0\.0\.1:1/);
    } finally {
      t.cleanup();
    }
  });

  it.each([['dag'], ['demo']])('%s --help: exit 0, usage on stdout', async (cmd) => {
    const io = memoryIo();
    expect(await main([cmd, '--help'], io)).toBe(0);
    expect(io.stdout()).toContain(`Usage: temporal-k8s-jobs ${cmd}`);
  });

  it('the command list names dag and demo', async () => {
    const io = memoryIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout()).toMatch(/^ {2}dag {8}/m);
    expect(io.stdout()).toMatch(/^ {2}demo {7}/m);
  });
});
