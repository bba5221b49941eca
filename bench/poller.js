// The reference poller: what polling Job runners do (the Airflow/Argo-style launchers that read
// the Job every few seconds and re-read the last lines of every pod's log), so the benchmark can
// count its requests the same way as the worker's, on the same Jobs:
// create the Job; read it every `readEverySeconds` until it is Complete or Failed; every
// `logEverySeconds` list its pods and read the last `tailLines` lines of each pod's log; at the end
// read the logs once more and delete the Job (Background propagation).
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const finished = (job) => (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');

/**
 * Runs one Job the polling way; resolves with `{ name, detectedAt, status }` (detectedAt: the local
 * time the poller saw it finished).
 * @param {import('@kubernetes/client-node').KubeConfig} kc
 * @param {object} manifest the Job (metadata.namespace and metadata.name set)
 */
export async function runPolledJob(kc, manifest, { readEverySeconds = 5, logEverySeconds = 10, tailLines = 100 } = {}) {
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace, name } = manifest.metadata;
  const readLogs = async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
    for (const p of pods.items) {
      for (const c of p.spec?.containers ?? []) {
        await core.readNamespacedPodLog({ namespace, name: p.metadata.name, container: c.name, tailLines }).catch(() => undefined);
      }
    }
  };
  await batch.createNamespacedJob({ namespace, body: manifest });
  let nextLogs = Date.now() + logEverySeconds * 1000;
  for (;;) {
    await sleep(readEverySeconds * 1000);
    const job = await batch.readNamespacedJob({ namespace, name });
    const done = finished(job);
    if (done) {
      const detectedAt = Date.now();
      await readLogs();
      await batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' });
      return { name, detectedAt, status: done.type === 'Complete' ? 'Succeeded' : 'Failed' };
    }
    if (Date.now() >= nextLogs) {
      await readLogs();
      nextLogs += logEverySeconds * 1000;
    }
  }
}
