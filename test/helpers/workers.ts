// Worker processes for crash tests: each runs test/fixtures/crash-worker.mjs (the built package) and
// appends every delivered log line synchronously to a file, so a SIGKILL cannot lose a delivered line.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stackEnv } from './stack.js';

const fixture = fileURLToPath(new URL('../fixtures/crash-worker.mjs', import.meta.url));
const children: ChildProcess[] = [];

/** Starts a worker process on `taskQueue`; resolves once it polls. */
export function startWorker(taskQueue: string, linesFile: string, opts: { kubeconfig?: string } = {}): Promise<ChildProcess> {
  const env = stackEnv();
  const child = spawn(process.execPath, [fixture, env.temporalAddress, taskQueue, opts.kubeconfig ?? env.kubeconfig, linesFile], { stdio: ['ignore', 'pipe', 'inherit'] });
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
