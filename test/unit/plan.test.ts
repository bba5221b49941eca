// Planning a run (src/lifecycle/plan.ts): durations are validated and bounded at the edge, and the
// worker's defaultValues are merged under every input's values.
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/kube.js';
import { planJob } from '../../src/lifecycle/plan.js';
import type { KubernetesJobActivitiesOptions } from '../../src/activities.js';
import type { KubernetesJobInput } from '../../src/types.js';

// A client that is never used to send a request (planning only reads its default namespace).
const kc = new KubeConfig();
kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'ns' }], currentContext: 'x' });
const kube = new KubeClient(kc);
const owner = { workflowId: 'wf', runId: 'run', activityId: '1' };
const base: KubernetesJobInput = { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'echo hi' } };
const plan = (input: Partial<KubernetesJobInput>, options: KubernetesJobActivitiesOptions = {}) => planJob({ ...base, ...input }, options, kube, owner, false);

test.each([
  ['timeoutSeconds 30 days (beyond one Node timer)', { timeoutSeconds: 30 * 86_400 }, 'timeoutMs', 30 * 86_400_000],
  ['everySeconds 0.2 is raised to 1 s', { logs: { everySeconds: 0.2 } }, 'everyMs', 1000],
  ['everySeconds 3600', { logs: { everySeconds: 3600 } }, 'everyMs', 3_600_000],
  ['failFastGraceSeconds 0', { failFastGraceSeconds: 0 }, 'graceMs', 0],
] as const)('%s', (_what, input, key, expected) => {
  expect(plan(input as Partial<KubernetesJobInput>)[key]).toBe(expected);
});

test.each([
  ['everySeconds 1e12 (would overflow setInterval and tail every ~1 ms)', { logs: { everySeconds: 1e12 } }, /logs\.everySeconds must be a number of seconds from 0 to 86400, got 1000000000000/],
  ['timeoutSeconds 1e9', { timeoutSeconds: 1e9 }, /timeoutSeconds must be a number of seconds from 1 to 31622400/],
  ['timeoutSeconds 0', { timeoutSeconds: 0 }, /timeoutSeconds must be/],
  ['timeoutSeconds Infinity', { timeoutSeconds: Infinity }, /timeoutSeconds must be/],
  ['negative grace', { failFastGraceSeconds: -1 }, /failFastGraceSeconds must be/],
] as const)('rejects %s with one clear error', (_what, input, message) => {
  let err: unknown;
  try {
    plan(input as Partial<KubernetesJobInput>);
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ type: 'InvalidManifest', nonRetryable: true });
  expect((err as Error).message).toMatch(message);
});

test('defaultValues are merged under the input values (deep; the input wins)', () => {
  const p = plan(
    { values: { command: 'echo from input', podAnnotations: { a: 'input' } } },
    { defaultValues: { image: 'busybox:1.36', podAnnotations: { a: 'default', b: 'default' } } },
  );
  const pod = (p.jobManifest.spec as { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { image: string; command?: string[]; args?: string[] }[] } } }).template;
  expect(pod.spec.containers[0]!.image).toBe('busybox:1.36');
  expect(JSON.stringify(pod.spec.containers[0])).toContain('echo from input');
  expect(pod.metadata.annotations).toMatchObject({ a: 'input', b: 'default' });
});
