// The input of cleanupWorkflow, settled by its activity: retention, namespace, flags; bad input is
// one non-retryable failure saying what is expected.
import { KubeConfig } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { cleanupPlan } from '../../src/cleanup.js';

const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:6443' }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'from-context' }],
  currentContext: 'x',
});

test.each([
  [{ olderThan: '7d' }, undefined, { namespace: 'from-context', olderThanSeconds: 604_800, orphans: false, dryRun: false }],
  [{ olderThan: '1h30m', namespace: 'batch', orphans: true, dryRun: true }, 'worker-ns', { namespace: 'batch', olderThanSeconds: 5400, orphans: true, dryRun: true }],
  [{ olderThan: 90 }, 'worker-ns', { namespace: 'worker-ns', olderThanSeconds: 90, orphans: false, dryRun: false }],
  [{ olderThan: 0.5, allNamespaces: true }, 'worker-ns', { namespace: undefined, olderThanSeconds: 1, orphans: false, dryRun: false }],
])('%j (worker namespace %j)', (input, workerNs, want) => {
  expect(cleanupPlan(input, kc, workerNs)).toEqual(want);
});

test.each([
  [{ olderThan: 'a week' }, `olderThan must be a duration like '90s', '15m', '2h' or '7d' (or a number of seconds), got "a week"`],
  [{ olderThan: -1 }, `olderThan must be a duration like '90s', '15m', '2h' or '7d' (or a number of seconds), got -1`],
  [{}, `olderThan must be a duration like '90s', '15m', '2h' or '7d' (or a number of seconds), got undefined`],
  [{ olderThan: '1d', namespace: 'a', allNamespaces: true }, 'namespace and allNamespaces exclude each other'],
  ['7d', 'cleanupWorkflow takes an object like {"olderThan": "7d"}, got "7d"'],
])('%j is refused', (input, message) => {
  let err: unknown;
  try {
    cleanupPlan(input as never, kc, undefined);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'InvalidCleanupInput', nonRetryable: true, message });
});
