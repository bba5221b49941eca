// Starts the `nightly` DAG workflow and waits for its result, printing live progress from the
// `dagState` query every 2 s.
//   TEMPORAL_ADDRESS=127.0.0.1:7233 node --import tsx examples/code/client.ts 2026-11-23
import { Client, Connection } from '@temporalio/client';
import { DAG_STATE_QUERY, type DagResult } from 'temporal-k8s-jobs';
import type { nightly } from './workflows.js';

async function main(): Promise<void> {
  const day = process.argv[2] ?? new Date().toISOString().slice(0, 10);
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    const client = new Client({ connection });
    const handle = await client.workflow.start<typeof nightly>('nightly', {
      taskQueue: 'kubernetes-jobs',
      workflowId: `nightly-${day}`,
      args: [day],
    });
    console.log(`started ${handle.workflowId}`);
    const timer = setInterval(() => {
      handle
        .query<DagResult>(DAG_STATE_QUERY)
        .then((s) => console.log(Object.entries(s.steps).map(([name, st]) => `${name}: ${st.status}`).join(', ')))
        .catch(() => undefined); // no answer before the workflow's first task has run: try again later
    }, 2000);
    try {
      console.log('result:', await handle.result());
    } finally {
      clearInterval(timer);
    }
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
