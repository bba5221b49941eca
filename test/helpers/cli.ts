/**
 * Runs the CLI as a user does, `node bin/temporal-k8s-jobs.js ...` (the built dist/), against the
 * local stack: output captured, exit code as a promise, waiting for output lines.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, Connection } from '@temporalio/client';

import { createTestNamespace, deleteNamespace, stackEnv, waitFor } from './stack.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(REPO, 'bin/temporal-k8s-jobs.js');

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or 128 + signal number). */
  exit: Promise<number>;
  /** Resolves when stdout matches `re`. */
  waitOut: (re: RegExp, timeoutMs?: number) => Promise<void>;
}

/** Starts the CLI with the stack's KUBECONFIG and TEMPORAL_ADDRESS (plus `extraEnv`). */
export function cli(args: string[], extraEnv: Record<string, string> = {}): Proc {
  const env = stackEnv();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, KUBECONFIG: env.kubeconfig, TEMPORAL_ADDRESS: env.temporalAddress, NODE_OPTIONS: '', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : 15) : -1))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitOut: (re, timeoutMs = 60_000) => waitFor(() => re.test(out), { timeoutMs, intervalMs: 100, what: `${re} in the CLI's output (stdout so far: ${JSON.stringify(out)}, stderr: ${JSON.stringify(err)})` }).then(() => undefined),
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], extraEnv?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = cli(args, extraEnv);
  const code = await p.exit;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** The bin runs dist/: builds it when it is missing or older than any source file. */
export function buildIfStale(): void {
  const built = path.join(REPO, 'dist/cli/index.js');
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestMtime(path.join(REPO, 'src'))) return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0 || !fs.existsSync(built)) throw new Error(`npm run build failed (exit ${r.status})`);
}

/**
 * The setup every CLI test file shares: builds dist/ if stale and connects a Temporal client before
 * the tests; `namespace(prefix)` makes a test namespace that is deleted after them.
 */
export function cliTestSuite(): { client: () => Client; namespace: (prefix: string) => Promise<string> } {
  const namespaces: string[] = [];
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    buildIfStale();
    connection = await Connection.connect({ address: stackEnv().temporalAddress });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await Promise.all(namespaces.map((ns) => deleteNamespace(ns)));
    await connection?.close();
  });
  return {
    client: () => client!,
    namespace: async (prefix) => {
      const ns = await createTestNamespace(prefix);
      namespaces.push(ns);
      return ns;
    },
  };
}
