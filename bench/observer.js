// The benchmark's observer: a process of its own (so that the benchmark's proxies and poller cannot
// delay it) that watches the benchmark's Jobs with the admin credentials, directly on the API server,
// and prints one JSON line per first sighting, with its local receive time `t` (ms since epoch):
//   {"type":"active","name":...,"t":...}    the Job has an active pod (status.active >= 1)
//   {"type":"complete"|"failed",...}        its Complete / Failed condition is True
// `completionTime` has one-second granularity; this receive time is when the condition reached the
// API server, plus the watch's delivery (sub-millisecond on loopback when the machine is not busy).
// A sighting made by a re-list after the watch broke is marked "relist": true (its time is late).
//
// Usage: node bench/observer.js --kubeconfig FILE --selector LABEL=VALUE
import { parseArgs } from 'node:util';
import { KubeConfig, Watch } from '@kubernetes/client-node';

const { values: opt } = parseArgs({ options: { kubeconfig: { type: 'string' }, selector: { type: 'string' } } });
const kc = new KubeConfig();
kc.loadFromFile(opt.kubeconfig);
const watch = new Watch(kc);
const seen = new Map(); // name -> Set of types printed
const emit = (type, job, relist) => {
  const key = `${job.metadata.namespace}/${job.metadata.name}`;
  let s = seen.get(key);
  if (!s) seen.set(key, (s = new Set()));
  if (s.has(type)) return;
  s.add(type);
  process.stdout.write(`${JSON.stringify({ type, name: job.metadata.name, namespace: job.metadata.namespace, t: Date.now(), ...(relist ? { relist: true } : {}) })}\n`);
};
const cond = (job, type) => (job.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

let resourceVersion;
let first = true;
const start = () => {
  const relisting = !resourceVersion && !first;
  const since = Date.now() - 1000;
  const query = { labelSelector: opt.selector, allowWatchBookmarks: true, ...(resourceVersion ? { resourceVersion } : {}) };
  watch
    .watch(
      '/apis/batch/v1/jobs',
      query,
      (phase, job) => {
        if (phase === 'ERROR') {
          resourceVersion = undefined; // 410 Gone: re-list
          return;
        }
        if (job?.metadata?.resourceVersion) resourceVersion = job.metadata.resourceVersion;
        if (phase === 'BOOKMARK' || phase === 'DELETED') return;
        // The initial ADDED events of a re-list: Jobs that existed before it (times late).
        const relist = relisting && phase === 'ADDED' && new Date(job.metadata.creationTimestamp).getTime() < since;
        if ((job.status?.active ?? 0) >= 1 || (job.status?.ready ?? 0) >= 1) emit('active', job, relist);
        if (cond(job, 'Complete')) emit('complete', job, relist);
        else if (cond(job, 'Failed')) emit('failed', job, relist);
      },
      () => setTimeout(start, 50),
    )
    .then(() => {
      if (first) process.stdout.write(`${JSON.stringify({ type: 'ready', t: Date.now() })}\n`);
      first = false;
    })
    .catch(() => setTimeout(start, 500));
};
start();
process.on('SIGTERM', () => process.exit(0));
