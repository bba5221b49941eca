import { createHash } from 'node:crypto';
import {
  ANNOTATION_ACTIVITY_ID,
  ANNOTATION_RUN_ID,
  ANNOTATION_WORKFLOW_ID,
  LABEL_MANAGED_BY,
  LABEL_OWNER,
  applyOwnership,
  childName,
  deriveJobName,
  isOwnedBy,
  ownerHash,
  ownerSelector,
  ownership,
  type Owner,
} from '../../src/naming.js';
import { isDns1123Label, type KubernetesObject } from '../../src/manifest.js';

const owner: Owner = { workflowId: 'order-42', runId: 'run-1', activityId: '1' };
const hashOf = (o: Owner) => createHash('sha256').update(`${o.workflowId}\0${o.runId}\0${o.activityId}`).digest('hex').slice(0, 10);

describe('deriveJobName', () => {
  test('readable workflow id part + 10-char hash of workflowId\\0runId\\0activityId', () => {
    expect(deriveJobName(owner)).toBe(`order-42-${hashOf(owner)}`);
    expect(ownerHash(owner)).toBe(hashOf(owner));
    expect(ownerHash(owner)).toMatch(/^[0-9a-f]{10}$/);
  });

  test.each<[string, string]>([
    ['Order_42', 'order-42'],
    ['  --Hello World!!--  ', 'hello-world'],
    ['a..b//c', 'a-b-c'],
    ['ÄÖÜ-grüße', 'gr-e'],
    ['日本語', 'job'],
    ['', 'job'],
    ['---', 'job'],
    ['\u0000\n\t', 'job'],
    ['UPPER', 'upper'],
    ['x'.repeat(200), 'x'.repeat(52)],
    ['a' + '-'.repeat(60) + 'b', 'a-b'],
    ['a'.repeat(51) + '-' + 'b'.repeat(20), 'a'.repeat(51)],
  ])('workflow id %j -> readable part %j', (workflowId, readable) => {
    const o = { ...owner, workflowId };
    const name = deriveJobName(o);
    expect(name).toBe(`${readable}-${hashOf(o)}`);
    expect(isDns1123Label(name)).toBe(true);
    expect(name.length).toBeLessThanOrEqual(63);
  });

  test('prefix goes before the workflow id, and alone when the workflow id has nothing readable', () => {
    expect(deriveJobName({ ...owner, prefix: 'Train' })).toBe(`train-order-42-${hashOf(owner)}`);
    expect(deriveJobName({ ...owner, workflowId: '%%%', prefix: 'etl' })).toBe(`etl-${hashOf({ ...owner, workflowId: '%%%' })}`);
    expect(deriveJobName({ ...owner, prefix: '' })).toBe(deriveJobName(owner));
  });

  test('hostile ids always give valid names', () => {
    const ids = ['-', '.', 'a', '0', '-a-', 'A'.repeat(1000), '🙂'.repeat(50), 'x/../../etc', 'a\u0000b', ' ', 'Z9', '9'.repeat(70) + '!'];
    for (const workflowId of ids) {
      for (const prefix of [undefined, 'p', '---', 'P'.repeat(80)]) {
        const name = deriveJobName({ workflowId, runId: 'r', activityId: 'a', ...(prefix === undefined ? {} : { prefix }) });
        expect(isDns1123Label(name)).toBe(true);
      }
    }
  });

  test('deterministic; different run ids / activity ids / workflow ids give different names', () => {
    expect(deriveJobName(owner)).toBe(deriveJobName({ ...owner }));
    const names = new Set<string>();
    for (const workflowId of ['w', 'W', 'w!']) for (const runId of ['r1', 'r2', '']) for (const activityId of ['1', '2', '10']) names.add(deriveJobName({ workflowId, runId, activityId }));
    expect(names.size).toBe(27);
  });

  test('the separator prevents ambiguous concatenations', () => {
    expect(ownerHash({ workflowId: 'ab', runId: 'c', activityId: '' })).not.toBe(ownerHash({ workflowId: 'a', runId: 'bc', activityId: '' }));
  });
});

describe('childName', () => {
  test.each([
    ['job-abc', 'config', 'job-abc-config'],
    ['job-abc', 'My Config!', 'job-abc-my-config'],
    ['job-abc', '!!!', 'job-abc-x'],
  ])('%s + %s -> %s', (job, suffix, expected) => {
    expect(childName(job, suffix)).toBe(expected);
  });

  test('long names stay <= 63 and unique per job name', () => {
    const a = childName('a'.repeat(50) + '-1234567890', 'config');
    const b = childName('a'.repeat(50) + '-0987654321', 'config');
    for (const n of [a, b]) {
      expect(isDns1123Label(n)).toBe(true);
      expect(n.endsWith('-config')).toBe(true);
    }
    expect(a).not.toBe(b);
    expect(isDns1123Label(childName('j'.repeat(63), 's'.repeat(100)))).toBe(true);
  });
});

describe('ownership', () => {
  test('labels and annotations', () => {
    expect(ownership(owner)).toEqual({
      labels: { 'app.kubernetes.io/managed-by': 'temporal-k8s-jobs', 'temporal-k8s-jobs/owner': hashOf(owner) },
      annotations: {
        'temporal-k8s-jobs/workflow-id': 'order-42',
        'temporal-k8s-jobs/run-id': 'run-1',
        'temporal-k8s-jobs/activity-id': '1',
      },
    });
    expect(LABEL_MANAGED_BY).toBe('app.kubernetes.io/managed-by');
    expect(LABEL_OWNER).toBe('temporal-k8s-jobs/owner');
    expect(ownerSelector(owner)).toBe(`app.kubernetes.io/managed-by=temporal-k8s-jobs,temporal-k8s-jobs/owner=${hashOf(owner)}`);
  });

  test('full ids in annotations even when long or hostile', () => {
    const o = { workflowId: 'W'.repeat(300) + ' ü', runId: 'r', activityId: 'a b' };
    expect(ownership(o).annotations[ANNOTATION_WORKFLOW_ID]).toBe(o.workflowId);
  });
});

describe('isOwnedBy', () => {
  const mine = { metadata: ownership(owner) };
  test.each<[string, unknown, boolean]>([
    ['all three annotations match', mine, true],
    ['other run id', { metadata: ownership({ ...owner, runId: 'run-2' }) }, false],
    ['other activity id', { metadata: ownership({ ...owner, activityId: '2' }) }, false],
    ['other workflow id', { metadata: ownership({ ...owner, workflowId: 'order-43' }) }, false],
    ['labels only (owner hash matches)', { metadata: { labels: ownership(owner).labels } }, false],
    ['missing run id annotation', { metadata: { annotations: { [ANNOTATION_WORKFLOW_ID]: 'order-42', [ANNOTATION_ACTIVITY_ID]: '1' } } }, false],
    ['case differs', { metadata: { annotations: { ...ownership(owner).annotations, [ANNOTATION_RUN_ID]: 'RUN-1' } } }, false],
    ['no metadata', {}, false],
    ['null', null, false],
  ])('%s -> %s', (_, obj, expected) => {
    expect(isOwnedBy(obj as Parameters<typeof isOwnedBy>[0], owner)).toBe(expected);
  });
});

describe('applyOwnership', () => {
  const job: KubernetesObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'from-template', labels: { team: 'data', [LABEL_OWNER]: 'spoofed' }, annotations: { note: 'x' } },
    spec: { template: { metadata: { labels: { app: 'etl' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] } } },
  };
  const cm: KubernetesObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'other' }, data: { a: '1' } };
  const bare: KubernetesObject = { apiVersion: 'v1', kind: 'Secret' };

  test('names the Job, sets the namespace, merges ownership everywhere (ownership wins)', () => {
    const input = [cm, job, bare];
    const before = JSON.stringify(input);
    const [c, j, s] = applyOwnership(input, owner, 'job-x', 'ns1');
    const { labels, annotations } = ownership(owner);
    expect(j!.metadata).toEqual({ name: 'job-x', namespace: 'ns1', labels: { team: 'data', ...labels }, annotations: { note: 'x', ...annotations } });
    expect((j!.spec as { template: { metadata: unknown } }).template.metadata).toEqual({ labels: { app: 'etl', ...labels } });
    expect(c!.metadata).toEqual({ name: 'cfg', namespace: 'ns1', labels, annotations });
    expect(c!.data).toEqual({ a: '1' });
    expect(s!.metadata).toEqual({ namespace: 'ns1', labels, annotations });
    expect(JSON.stringify(input)).toBe(before); // input not mutated
    expect(j).not.toBe(job);
    expect((j!.spec as { template: unknown }).template).not.toBe((job.spec as { template: unknown }).template);
  });

  test('keeps the template Job name when no name is given; creates a missing pod template metadata', () => {
    const noMeta: KubernetesObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'keep-me' }, spec: { template: { spec: { containers: [] } } } };
    const [j] = applyOwnership([noMeta], owner, undefined, 'ns2');
    expect(j!.metadata!.name).toBe('keep-me');
    expect(j!.metadata!.namespace).toBe('ns2');
    expect((j!.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels[LABEL_OWNER]).toBe(hashOf(owner));
    expect(noMeta.spec).toEqual({ template: { spec: { containers: [] } } });
  });

  test('companions are not renamed', () => {
    const [c] = applyOwnership([cm], owner, 'job-x', 'ns1');
    expect(c!.metadata!.name).toBe('cfg');
  });
});
