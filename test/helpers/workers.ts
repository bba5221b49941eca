// Worker processes for crash tests: each runs test/fixtures/crash-worker.mjs (the built package) and
// appends every delivered log line synchronously to a file, so a SIGKILL cannot lose a delivered line.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stackEnv } from './stack.js';

const fixture = fileURLToPath(new URL('../fixtures/crash-worker.mjs', import.meta.url));
const children: ChildProcess[] = [];

/** Options of {@link startWorker}. */
export interface WorkerProcessOptions {
  /** Kubeconfig of the worker. @default the stack's admin kubeconfig */
  kubeconfig?: string;
  /** Temporal frontend (e.g. through a fault proxy). @default the stack's */
  temporalAddress?: string;
  /** Extra environment (TKJ_CRASH_AT: the worker SIGKILLs itself at that lifecycle point, see src/crash-hook.ts; TKJ_WORKFLOWS_PATH, TKJ_TEMPLATE_DIRS: see the fixture). */
  env?: Record<string, string>;
}

/** Starts a worker process on `taskQueue`; resolves once it polls. */
export function startWorker(taskQueue: string, linesFile: string, opts: WorkerProcessOptions = {}): Promise<ChildProcess> {
  const env = stackEnv();
  const child = spawn(process.execPath, [fixture, opts.temporalAddress ?? env.temporalAddress, taskQueue, opts.kubeconfig ?? env.kubeconfig, linesFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve(child));
    child.on('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
}

/** Kills every worker process started by {@link startWorker} that is still running (call in afterAll). */
export function killWorkers(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
  }
}

/** The lines a worker's log sink wrote so far. */
export const readLines = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

/** A worker running in the test process on the stack's Temporal, with the package's plugin. */
export interface InProcessWorker {
  client: import('@temporalio/client').Client;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Starts a worker in this process (workflows from the built dist/, activities from src/). */
export async function startInProcessWorker(
  taskQueue: string,
  options: import('../../src/activities.js').KubernetesJobActivitiesOptions,
  workerOptions: { maxConcurrentActivityTaskExecutions?: number; maxHeartbeatThrottleInterval?: string } = {},
): Promise<InProcessWorker> {
  const { NativeConnection, Worker } = await import('@temporalio/worker');
  const { Client, Connection } = await import('@temporalio/client');
  const { KubernetesJobsPlugin } = await import('../../src/plugin.js');
  const env = stackEnv();
  const connection = await NativeConnection.connect({ address: env.temporalAddress });
  const worker = await Worker.create({
    connection,
    taskQueue,
    ...workerOptions,
    // A prebuilt bundle (the reliability runner makes one) saves bundling the workflows per worker.
    ...(process.env.TKJ_WORKFLOW_BUNDLE
      ? { workflowBundle: { codePath: process.env.TKJ_WORKFLOW_BUNDLE } }
      : { workflowsPath: fileURLToPath(new URL('../../dist/workflow/index.js', import.meta.url)) }),
    plugins: [new KubernetesJobsPlugin(options)],
  });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
  return {
    client,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}
