// writeRenderedTo comes from workflow input: it may only name the worker's rendered-output directory
// ('.') or a subdirectory of it, and nothing is written before the plan passed every check.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube.js';
import { planJob } from '../../src/lifecycle/plan.js';
import { renderedOutputDirFor, writeRenderedFile } from '../../src/rendered-output.js';
import { validateDag } from '../../src/workflow/dag.js';
import type { KubernetesJobInput } from '../../src/types.js';
import { tempDir } from '../helpers/tmp.js';

const kc = new KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'ns' }], currentContext: 'x' });
const kube = new KubeClient(kc);
const owner = { workflowId: 'wf', runId: 'run', activityId: '1' };
const base: KubernetesJobInput = { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo hi' } };

/** Every file and directory under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

function errorOf(f: () => unknown): Error & { type?: string; nonRetryable?: boolean } {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('writeRenderedTo is confined to the worker\'s rendered-output directory', () => {
  let root: ReturnType<typeof tempDir>;
  let outside: ReturnType<typeof tempDir>;
  beforeEach(() => {
    root = tempDir();
    outside = tempDir();
  });
  afterEach(() => {
    root.cleanup();
    outside.cleanup();
  });

  test.each([
    ['.', ''],
    ['nightly', 'nightly'],
    ['nightly/run-1', 'nightly/run-1'],
    ['a/b_c/d.e/', 'a/b_c/d.e'],
  ])('%j is accepted and lands under the root', (sub, rel) => {
    const dir = renderedOutputDirFor(root.dir, sub);
    expect(dir).toBe(path.join(fs.realpathSync(root.dir), rel));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  test.each([
    ['absolute', '/etc', /is absolute/],
    ['absolute (Windows)', 'C:\\x', /is absolute/],
    ['parent', '..', /relative path of plain segments/],
    ['parent inside', 'a/../../x', /relative path of plain segments/],
    ['hidden segment', '.ssh', /relative path of plain segments/],
    ['leading dash', '-rf', /relative path of plain segments/],
    ['empty', '', /relative path of plain segments/],
    ['empty segment', 'a//b', /relative path of plain segments/],
    ['space and hash', 'evil.sh #', /relative path of plain segments/],
    ['backslash', 'a\\..\\b', /relative path of plain segments/],
    ['too long', 'a'.repeat(256), /at most 255 characters/],
  ])('%s (%j) is refused with a non-retryable error and nothing is created', (_what, sub, message) => {
    const err = errorOf(() => renderedOutputDirFor(root.dir, sub));
    expect(err).toMatchObject({ type: 'InvalidManifest', nonRetryable: true });
    expect(err.message).toMatch(/^writeRenderedTo: /);
    expect(err.message).toMatch(message);
    expect(tree(root.dir)).toEqual([]);
  });

  test('a symlink that leads outside is refused, and nothing is created beyond it', () => {
    fs.symlinkSync(outside.dir, path.join(root.dir, 'out'));
    const err = errorOf(() => renderedOutputDirFor(root.dir, 'out/sub'));
    expect(err.message).toMatch(/leads outside the worker's rendered-output directory/);
    expect(tree(outside.dir)).toEqual([]);
  });

  test('a symlink that stays inside is followed', () => {
    fs.mkdirSync(path.join(root.dir, 'real'));
    fs.symlinkSync(path.join(root.dir, 'real'), path.join(root.dir, 'alias'));
    expect(renderedOutputDirFor(root.dir, 'alias/x')).toBe(path.join(fs.realpathSync(root.dir), 'real', 'x'));
  });

  test('a symlink planted at the file\'s place is not followed', () => {
    const target = path.join(outside.dir, 'victim');
    fs.writeFileSync(target, 'untouched');
    fs.symlinkSync(target, path.join(root.dir, 'job-1.yaml'));
    expect(() => writeRenderedFile(root.dir, 'job-1.yaml', 'kind: Job\n')).toThrow(/ELOOP|symbolic link/);
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched');
  });

  test('without a rendered-output directory on the worker, writeRenderedTo is refused and says how to allow it', () => {
    const err = errorOf(() => planJob({ ...base, writeRenderedTo: '.' }, {}, kube, owner, true));
    expect(err).toMatchObject({ type: 'InvalidManifest', nonRetryable: true });
    expect(err.message).toMatch(/worker --rendered-dir DIR/);
  });

  test('the plan writes `<job name>.yaml` into the subdirectory, with the Job as applied', () => {
    const plan = planJob({ ...base, writeRenderedTo: 'runs' }, { renderedOutputDir: root.dir }, kube, owner, true);
    expect(tree(root.dir)).toEqual(['runs', `runs/${plan.jobName}.yaml`]);
    expect(fs.readFileSync(path.join(root.dir, 'runs', `${plan.jobName}.yaml`), 'utf8')).toMatch(new RegExp(`kind: Job\\n[\\s\\S]*name: ${plan.jobName}\\n`));
  });

  test.each([
    ['a Job name that is not a DNS name', { name: 'evil.sh #' }, /Job name "evil.sh #" is not valid/],
    ['a Job name over 63 characters', { name: 'a'.repeat(64) }, /is not valid: at most 63 characters/],
    ['a bad timeout', { timeoutSeconds: -1 }, /timeoutSeconds must be/],
    ['a template error', { values: {} }, /missing required value 'image'/],
  ])('%s: nothing is written', (_what, input, message) => {
    const err = errorOf(() => planJob({ ...base, ...input, writeRenderedTo: '.' } as KubernetesJobInput, { renderedOutputDir: root.dir }, kube, owner, true));
    expect(err.message).toMatch(message);
    expect(tree(root.dir)).toEqual([]);
  });

  test('a DAG with an absolute or escaping writeRenderedTo is rejected before anything starts', () => {
    expect(() => validateDag({ defaults: { writeRenderedTo: '/tmp' }, steps: { a: { template: 'job.yaml.njk' } } })).toThrow(/defaults: 'writeRenderedTo' must be '\.' or a relative subdirectory/);
    expect(() => validateDag({ steps: { a: { template: 'job.yaml.njk', writeRenderedTo: '../x' } } })).toThrow(/'writeRenderedTo' must be/);
    expect(() => validateDag({ steps: { a: { template: 'job.yaml.njk', writeRenderedTo: 'debug/a' } } })).not.toThrow();
  });
});
