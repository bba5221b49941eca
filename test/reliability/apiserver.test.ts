// The kube-apiserver killed and restarted mid-run, and etcd compacted so that watches resuming from an
// older version get 410 Gone: every completion is still observed, nothing is duplicated, every line
// arrives once, nothing is left behind.
import { CoreV1Api } from '@kubernetes/client-node';
import { kubeConfig, waitFor } from '../helpers/stack.js';
import { compactEtcd, jobInput, linesFor, logCounts, orphansAfter, restartStackProcess, trial, trials, withRig, wrongResultsOf, type Rig, type TrialOutcome } from './lib.js';

const N = trials(5, 1);
const strip = (l: string) => l.replace(/^\S+\/\S+ /, '');

/** Two Jobs (periodic and follow logs) while `fault` acts once the first lines arrived; then counts. */
async function jobsThrough(rig: Rig, tag: string, fault: () => Promise<void>): Promise<TrialOutcome> {
  await rig.worker();
  const expected: string[] = [];
  const handles = await Promise.all(
    (['periodic', 'follow'] as const).map((mode, j) => {
      const lines = linesFor(`${tag}${j}`, 8);
      expected.push(...lines);
      return rig.start(jobInput({ ns: rig.ns, tag: `${tag}${j}`, seconds: 16, lines, mode, companion: true }));
    }),
  );
  await waitFor(() => rig.lines().length >= 2, { timeoutMs: 60_000, what: 'first lines' });
  await fault();
  const wrongResults = await wrongResultsOf(`apiserver ${tag}`, handles);
  return { wrongResults, duplicateJobs: rig.observer.duplicateJobs(2), orphans: await orphansAfter(rig.ns), ...logCounts(rig.lines().map(strip), expected) };
}

for (let i = 1; i <= N; i++) {
  trial('apiserver', `kube-apiserver killed and restarted mid-run #${i}`, () => withRig('apiserver', (rig) => jobsThrough(rig, `a${i}-`, () => restartStackProcess('kube-apiserver', { kill: true }))));

  trial('apiserver', `etcd compacted, then the apiserver restarted (watches resume into 410 Gone) #${i}`, () =>
    withRig('compaction', (rig) =>
      jobsThrough(rig, `c${i}-`, async () => {
        // Churn, so that the revisions the watches hold fall behind the compaction point.
        const core = kubeConfig().makeApiClient(CoreV1Api);
        await core.createNamespacedConfigMap({ namespace: rig.ns, body: { metadata: { name: 'churn' }, data: { n: '0' } } });
        for (let n = 1; n <= 30; n++) await core.replaceNamespacedConfigMap({ name: 'churn', namespace: rig.ns, body: { metadata: { name: 'churn' }, data: { n: String(n) } } });
        await compactEtcd();
        await restartStackProcess('kube-apiserver');
        await core.deleteNamespacedConfigMap({ name: 'churn', namespace: rig.ns });
      }),
    ),
  );
}
