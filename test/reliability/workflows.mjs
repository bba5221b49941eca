// Workflows of the reliability suite: the package's workflows (built dist/), plus one that runs a Job
// with a short heartbeat timeout, so a dead or frozen worker is noticed in seconds, not 20 s.
import { runKubernetesJob } from '../../dist/workflow/index.js';

export * from '../../dist/workflow/index.js';

/** `kubernetesJobWorkflow` with the run activity's heartbeat timeout set (e.g. '5s') and other activity options. */
export async function reliableJobWorkflow(input, heartbeatTimeout = '5s', options = {}) {
  return runKubernetesJob(input, { heartbeatTimeout, ...options });
}
