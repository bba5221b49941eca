// A worker with the Kubernetes Jobs plugin. The default image comes from IMAGE (luigi-style), so the
// workflows' templates need not name one.
//   IMAGE=busybox:1.36 TEMPLATES_DIR=./templates TEMPORAL_ADDRESS=127.0.0.1:7233 node --import tsx examples/code/worker.ts
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { KubernetesJobsPlugin } from 'temporal-k8s-jobs';

export const TASK_QUEUE = 'kubernetes-jobs';

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUE,
      // workflows.ts when run from source (tsx), workflows.js once compiled.
      workflowsPath: fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './workflows.ts' : './workflows.js', import.meta.url)),
      plugins: [
        new KubernetesJobsPlugin({
          // Your template directories, searched before the package's own templates (job.yaml.njk).
          templateDirs: process.env.TEMPLATES_DIR ? [process.env.TEMPLATES_DIR] : [],
          // Jobs whose input and template name no namespace (default: the kubeconfig's).
          namespace: process.env.JOBS_NAMESPACE,
          defaultValues: { image: process.env.IMAGE ?? 'busybox:1.36' },
        }),
      ],
    });
    await worker.run(); // until SIGINT/SIGTERM; running Jobs are left running (a restarted worker re-attaches)
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
