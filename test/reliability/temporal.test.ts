// The Temporal dev server (file-backed SQLite store) killed and restarted mid-run: a Job workflow and a
// DAG both complete, with one Job per step and every line once.
import { KWOK_ANNOTATIONS, waitFor } from '../helpers/stack.js';
import { jobInput, linesFor, logCounts, orphansAfter, restartStackProcess, trial, trials, withRig, wrongResultsOf } from './lib.js';

for (let i = 1; i <= trials(5, 1); i++) {
  trial('temporal', `Temporal dev server killed and restarted mid-run (a Job and a DAG) #${i}`, () =>
    withRig('temporal', async (rig) => {
      await rig.worker();
      const lines = linesFor(`t${i}`, 8);
      const job = await rig.start(jobInput({ ns: rig.ns, tag: `t${i}`, seconds: 16, lines, companion: true }));
      const step = { template: 'job.yaml.njk', values: { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '6s' } } };
      const dag = { defaults: { namespace: rig.ns, cleanup: 'always', logs: { mode: 'none' } }, steps: { a: step, b: step, c: { ...step, dependsOn: ['a', 'b'] } } };
      const dagHandle = await rig.client.workflow.start('dagWorkflow', { taskQueue: rig.taskQueue, workflowId: `rel-temporal-dag-${rig.ns}`, args: [dag, { activity: { heartbeatTimeout: '20s' } }] });
      await waitFor(() => rig.lines().length >= 1, { timeoutMs: 60_000, what: 'a first line' });
      await restartStackProcess('temporal', { kill: true });
      const wrongResults = await wrongResultsOf('temporal', [job, dagHandle]);
      const strip = (l: string) => l.replace(/^\S+\/\S+ /, '');
      return { wrongResults, duplicateJobs: rig.observer.duplicateJobs(4), orphans: await orphansAfter(rig.ns), ...logCounts(rig.lines().map(strip), lines) };
    }),
  );
}
