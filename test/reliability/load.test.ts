// Load: N concurrent Jobs through one worker process, and a DAG `forEach` of N items (N = 500; quick
// mode 50). None lost (every workflow/item succeeds), none duplicated (one Job per item, by uid, seen
// by an independent watch), nothing left behind. Figures: wall time of each run.
import type { DagResult } from '../../src/dag-types.js';
import { KWOK_ANNOTATIONS } from '../helpers/stack.js';
import { QUICK, orphansAfter, trial, withRig, wrongResultsOf } from './lib.js';

const N = QUICK ? 50 : 500;
const HEARTBEAT = '30s'; // a loaded 2-core machine: no false "dead worker" verdicts
const values = { image: 'busybox:1.36', command: 'run', podAnnotations: { [KWOK_ANNOTATIONS.duration]: '5s' } };

trial(
  'load',
  `${N} concurrent Jobs through one worker`,
  () =>
    withRig('load-jobs', async (rig) => {
      await rig.worker({ env: { TKJ_MAX_CONCURRENT: String(N + 20) } });
      const t0 = Date.now();
      const handles = [];
      for (let i = 0; i < N; i += 50) {
        handles.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => rig.start({ template: 'job.yaml.njk', namespace: rig.ns, cleanup: 'always', logs: { mode: 'none' }, values }, HEARTBEAT)))));
      }
      const wrongResults = await wrongResultsOf('load', handles);
      const seconds = Math.round((Date.now() - t0) / 1000);
      const jobs = rig.observer.jobs().length;
      return { wrongResults: wrongResults + (jobs < N ? N - jobs : 0), duplicateJobs: rig.observer.duplicateJobs(N), orphans: await orphansAfter(rig.ns, { timeoutMs: 120_000 }), figures: { jobsWallSeconds: seconds } };
    }),
  QUICK ? 600_000 : 2_400_000,
);

trial(
  'load',
  `a DAG forEach of ${N} items`,
  () =>
    withRig('load-dag', async (rig) => {
      await rig.worker({ env: { TKJ_MAX_CONCURRENT: String(N + 20) } });
      const t0 = Date.now();
      const dag = {
        defaults: { namespace: rig.ns, cleanup: 'always', logs: { mode: 'none' } },
        steps: { each: { template: 'job.yaml.njk', forEach: Array.from({ length: N }, (_, i) => i), values } },
      };
      const handle = await rig.client.workflow.start('dagWorkflow', { taskQueue: rig.taskQueue, workflowId: `rel-load-dag-${rig.ns}`, args: [dag, { activity: { heartbeatTimeout: HEARTBEAT } }] });
      const wrongResults = await wrongResultsOf('load dag', [handle], (r: DagResult) => r.status === 'Succeeded' && r.steps.each?.items?.succeeded === N);
      const seconds = Math.round((Date.now() - t0) / 1000);
      const jobs = rig.observer.jobs().length;
      return { wrongResults: wrongResults + (jobs < N ? N - jobs : 0), duplicateJobs: rig.observer.duplicateJobs(N), orphans: await orphansAfter(rig.ns, { timeoutMs: 120_000 }), figures: { dagWallSeconds: seconds } };
    }),
  QUICK ? 600_000 : 2_400_000,
);
