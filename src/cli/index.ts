/** The `temporal-k8s-jobs` command line: dispatches to one module per command. */
import { type Io, UsageError, reportError, stdio } from './common.js';
import { renderCommand, renderUsage } from './render.js';

type Command = (args: string[], io: Io) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  render: { run: renderCommand, summary: 'render a template and print the manifests' },
  // Loaded on demand: they pull in the Temporal worker and the Kubernetes client.
  run: { run: async (args, io) => (await import('./run.js')).runCommand(args, io), summary: 'run a templated Job as a workflow; live progress and logs' },
  worker: { run: async (args, io) => (await import('./worker.js')).workerCommand(args, io), summary: 'run a Temporal worker that executes Kubernetes Jobs' },
  dag: { run: async (args, io) => (await import('./dag.js')).dagCommand(args, io), summary: 'run a DAG of Jobs from a YAML file; live progress per step' },
  demo: { run: async (args, io) => (await import('./demo.js')).demoCommand(args, io), summary: 'run the demo DAG on the local stack (or --context): fan-out, fan-in, logs' },
  list: { run: async (args, io) => (await import('./list.js')).listCommand(args, io), summary: "list the Jobs this package started, with their workflow, step and state" },
  cleanup: { run: async (args, io) => (await import('./cleanup.js')).cleanupCommand(args, io), summary: 'delete finished Jobs of this package past a retention (--older-than); --orphans, --dry-run' },
  cancel: { run: async (args, io) => (await import('./cancel.js')).cancelCommand(args, io), summary: 'cancel a run or a DAG: its Jobs and pods are deleted' },
};

export const usage = `Usage: temporal-k8s-jobs <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run 'temporal-k8s-jobs <command> --help' for a command's options.
Exit codes: 0 success, 1 the Job or DAG failed or the input was rejected, 2 usage error.
`;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [name, ...rest] = argv;
  const verbose = rest.includes('--verbose') || rest.includes('-v');
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    io.out(`${(createRequire(import.meta.url)('../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) return reportError(io, verbose, new UsageError(`unknown command '${name}'`));
  try {
    return await command.run(rest, io);
  } catch (err) {
    return reportError(io, verbose, err);
  }
}

export { renderUsage };
