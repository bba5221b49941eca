/**
 * `temporal-k8s-jobs demo` (`npm run demo`): runs examples/dags/demo.yaml with an embedded worker on
 * the local stack, which it brings up first (building its tools the first time), or on the cluster
 * of `--context` / KUBECONFIG.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Io, UsageError, parse } from './common.js';
import { dagWorkflowId, loadDagFile, parseDagArgs, startAndFollowDag } from './dag.js';
import { webUiLink } from './session.js';
import { TEMPORAL_USAGE, resolveTemporal, temporalFlags } from './connection.js';

export const demoUsage = `Usage: temporal-k8s-jobs demo [--context NAME] [--kubeconfig FILE] [--verbose]
         [--address A] [--temporal-namespace N] [--profile NAME] [--api-key KEY] [--tls-* ...]

Runs the demo DAG (examples/dags/demo.yaml: a planner, a fan-out over its output, a fan-in, a
value passed downstream, a 'when' branch and onExit) with a worker in this process, shows it live
and prints its Temporal Web UI link. Ctrl-C cancels it (its Jobs are deleted).

Where it runs:
  (default)           the local stack of a checkout (test/stack/up.sh: a real kube-apiserver, Job
                      controller and scheduler, kwok for pods, the Temporal dev server and its Web UI,
                      all on 127.0.0.1). It is brought up if needed; the first time its tools are
                      built from source, which takes a while and shows its progress.
  --context NAME      that kubeconfig context's cluster instead (and Temporal at --address,
                      TEMPORAL_ADDRESS, else 127.0.0.1:7233)
  --kubeconfig FILE   that kubeconfig's cluster instead; a KUBECONFIG in the environment does the same
  -v, --verbose       worker logs, failure details and stack traces
Temporal (not on the local stack; as for 'dag', the local stack replaces only the address):
${TEMPORAL_USAGE}`;

const demoFlags = {
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  ...temporalFlags,
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The package's root directory (this file is in dist/cli/ or src/cli/). */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/** Reads a stack env file of `export KEY='value'` lines. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(?:'([^']*)'|"([^"]*)"|(\S*))\s*$/.exec(line);
    if (m) out[m[1]!] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}

/** Where the demo runs: the local stack, or a cluster the user named. */
export function demoTarget(flags: { context?: string; kubeconfig?: string }, env: NodeJS.ProcessEnv): { stack: true } | { stack: false; why: string } {
  if (flags.context) return { stack: false, why: `the cluster of kubeconfig context '${flags.context}'` };
  if (flags.kubeconfig) return { stack: false, why: `the cluster of kubeconfig ${flags.kubeconfig}` };
  if (env.KUBECONFIG) return { stack: false, why: `the cluster of KUBECONFIG=${env.KUBECONFIG}` };
  return { stack: true };
}

/** Runs `bash test/stack/up.sh`, forwarding its progress to stderr; resolves with its exit code. */
function stackUp(root: string, io: Io): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(root, 'test/stack/up.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => io.err(d.toString()));
    child.stderr.on('data', (d: Buffer) => io.err(d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1)));
  });
}

export async function demoCommand(args: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values: o, positionals } = parse(args, demoFlags, 'demo');
  if (o.help) {
    io.out(demoUsage);
    return 0;
  }
  if (positionals.length) throw new UsageError(`demo takes no arguments, got '${positionals[0]}'`);
  const t0 = Date.now();
  const root = packageRoot();
  const demoFile = path.join(root, 'examples/dags/demo.yaml');
  const target = demoTarget(o, env);
  const runEnv: NodeJS.ProcessEnv = { ...env };
  const dagArgs: string[] = [];
  if (target.stack) {
    const upScript = path.join(root, 'test/stack/up.sh');
    if (!fs.existsSync(upScript)) {
      throw new Error(
        `the demo's local stack needs a checkout of the repository (test/stack/ is not in the npm package): ` +
          `run 'npm install && npm run demo' in a clone, or run the demo on a cluster with --context NAME (and TEMPORAL_ADDRESS)`,
      );
    }
    io.err('bringing up the local stack (test/stack/up.sh)...\n');
    const code = await stackUp(root, io);
    if (code !== 0) throw new Error(`the local stack did not come up (test/stack/up.sh exit ${code}; see its messages above)`);
    const envFile = path.join(env.STACK_DIR || path.join(root, '.stack'), 'env');
    let stack: Record<string, string>;
    try {
      stack = parseEnvFile(fs.readFileSync(envFile, 'utf8'));
    } catch (err) {
      throw new Error(`the local stack is up but its env file ${envFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!stack.KUBECONFIG || !stack.TEMPORAL_ADDRESS) throw new Error(`the local stack's env file ${envFile} has no KUBECONFIG or TEMPORAL_ADDRESS`);
    Object.assign(runEnv, stack);
    dagArgs.push('--kubeconfig', stack.KUBECONFIG, '--address', stack.TEMPORAL_ADDRESS);
    io.out(`running the demo on the local stack (Kubernetes ${stack.KUBECONFIG}, Temporal ${stack.TEMPORAL_ADDRESS})\n`);
  } else {
    if (o.context) dagArgs.push('--context', o.context);
    if (o.kubeconfig) dagArgs.push('--kubeconfig', o.kubeconfig);
    io.out(`running the demo on ${target.why}, not the local stack; Temporal at ${resolveTemporal(o, env).address}\n`);
  }
  // The Temporal flags go on to 'dag' as given (the local stack's address replaces --address).
  for (const flag of Object.keys(temporalFlags) as (keyof typeof temporalFlags)[]) {
    if (o[flag] !== undefined && !(flag === 'address' && target.stack)) dagArgs.push(`--${flag}`, o[flag]);
  }
  if (o.verbose) dagArgs.push('--verbose');
  if (!fs.existsSync(demoFile)) throw new Error(`the demo DAG ${demoFile} is missing: the demo needs a checkout of the repository`);

  const workflowId = dagWorkflowId(loadDagFile(demoFile), demoFile);
  const dagOptions = { ...parseDagArgs([demoFile, ...dagArgs, '--workflow-id', workflowId], runEnv), cancelOnInterrupt: true };
  const code = await startAndFollowDag(dagOptions, io, runEnv);
  const link = webUiLink(runEnv, dagOptions.temporalNamespace, workflowId);
  io.out(`demo ${code === 0 ? 'finished' : 'ended'} in ${((Date.now() - t0) / 1000).toFixed(1)} s${link ? `; see the run in the Temporal Web UI: ${link}` : ''}\n`);
  return code;
}
