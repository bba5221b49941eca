// The local stack's pod log writer (test/stack/log-writer.mjs, started by stack:up): a pod's
// `kwok.temporal-k8s-jobs/logs` annotation becomes log lines that arrive while the pod runs, with
// real, increasing timestamps; every other pod answers an empty log (never "no logs found"); and
// log files written by tests still win for their pods.
import { Writable } from 'node:stream';

import { CoreV1Api, Log, type V1Pod } from '@kubernetes/client-node';

import { KWOK_ANNOTATIONS, createTestNamespace, deleteNamespace, kubeConfig, stackEnv, watchUntil, writePodLog } from '../helpers/stack.js';

const env = stackEnv();
const kwokDescribe = env.existingCluster ? describe.skip : describe;

function pod(name: string, annotations: Record<string, string>): V1Pod {
  return {
    metadata: { name, annotations },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', 'true'] }] },
  };
}

const finished = (p: V1Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

kwokDescribe('local stack: pod log writer', () => {
  let bare: string; // no ClusterLogs: only the log writer gives its pods logs
  let registered: string; // a test namespace (ClusterLogs from createTestNamespace)
  let core: CoreV1Api;

  beforeAll(async () => {
    core = kubeConfig().makeApiClient(CoreV1Api);
    bare = await createTestNamespace('stack-logwriter', { podLogs: false });
    registered = await createTestNamespace('stack-logwriter-reg');
  });
  afterAll(async () => {
    if (bare) await deleteNamespace(bare);
    if (registered) await deleteNamespace(registered);
  });

  it('writes the annotation lines while the pod runs, with increasing real timestamps spread over its duration', async () => {
    const lines = ['starting', 'step 1 of 3', 'step 2 of 3', 'step 3 of 3', 'done'];
    const durationMs = 5000;
    const t0 = Date.now();
    await core.createNamespacedPod({
      namespace: bare,
      body: pod('talker', { [KWOK_ANNOTATIONS.duration]: `${durationMs / 1000}s`, [KWOK_ANNOTATIONS.logs]: lines.join('\n') }),
    });
    await watchUntil<V1Pod>(`/api/v1/namespaces/${bare}/pods`, (p) => p.metadata?.name === 'talker' && p.status?.phase === 'Running', { what: 'talker Running' });

    // Follow the log (the stream never ends on its own on kwok) and note when each line arrives.
    const arrivals: Array<{ at: number; time: number; text: string }> = [];
    let buf = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        buf += chunk.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const sp = line.indexOf(' ');
          arrivals.push({ at: Date.now(), time: Date.parse(line.slice(0, sp)), text: line.slice(sp + 1) });
        }
        cb();
      },
    });
    const abort = await new Log(kubeConfig()).log(bare, 'talker', 'main', sink, { follow: true, timestamps: true });
    let doneAt: number;
    try {
      await watchUntil<V1Pod>(`/api/v1/namespaces/${bare}/pods`, (p) => p.metadata?.name === 'talker' && finished(p), { what: 'talker finished' });
      doneAt = Date.now();
    } finally {
      abort.abort();
    }
    // Every line, once, in order (the full log read after the end too).
    expect(arrivals.map((a) => a.text)).toEqual(lines);
    const after = await core.readNamespacedPodLog({ namespace: bare, name: 'talker', container: 'main' });
    expect(after).toBe(lines.map((l) => `${l}\n`).join(''));
    // Real timestamps, strictly increasing, within the test's run, spread over the pod's run time:
    // line i of n at start + i * duration / n.
    const times = arrivals.map((a) => a.time);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]!);
    expect(times[0]).toBeGreaterThanOrEqual(t0 - 1000);
    expect(times[times.length - 1]).toBeLessThanOrEqual(doneAt + 1000);
    expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(((lines.length - 1) * durationMs) / lines.length - 500);
    // They arrived while the pod ran: the first ones well before it finished.
    expect(arrivals[0]!.at).toBeLessThan(doneAt - durationMs / 2);
  });

  it('gives a pod without the annotation an empty log, not "no logs found"', async () => {
    await core.createNamespacedPod({ namespace: bare, body: pod('quiet', { [KWOK_ANNOTATIONS.duration]: '1s' }) });
    await watchUntil<V1Pod>(`/api/v1/namespaces/${bare}/pods`, (p) => p.metadata?.name === 'quiet' && finished(p), { what: 'quiet finished' });
    const text = await core.readNamespacedPodLog({ namespace: bare, name: 'quiet', container: 'main' });
    expect(text).toBe('');
  });

  it("leaves a test's own log files in charge of that test's namespace", async () => {
    await writePodLog({ namespace: registered, container: 'main' }, ['written by the test']);
    await core.createNamespacedPod({ namespace: registered, body: pod('tested', { [KWOK_ANNOTATIONS.duration]: '1s' }) });
    await watchUntil<V1Pod>(`/api/v1/namespaces/${registered}/pods`, (p) => p.metadata?.name === 'tested' && finished(p), { what: 'tested finished' });
    const text = await core.readNamespacedPodLog({ namespace: registered, name: 'tested', container: 'main' });
    expect(text).toBe('written by the test\n');
  });
});
