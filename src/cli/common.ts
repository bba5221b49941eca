/** What every CLI command shares: usage errors, the render flags, one-line error reporting. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KubernetesJobsError } from '../errors.js';
import { ValuesError, buildValues, parseAssignment } from '../values.js';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Output streams, injectable for tests. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** Options shared by `render` and `run`. */
export const renderOptions = {
  templates: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  'set-json': { type: 'string', multiple: true },
  values: { type: 'string', short: 'f', multiple: true },
  verbose: { type: 'boolean', short: 'v' },
} as const satisfies ParseArgsConfig['options'];

/** Parsed flags: values keyed by long option name (strings, booleans or string lists). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ParsedArgs = { values: Record<string, any>; positionals: string[] };

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true } as const);
  } catch (err) {
    // One line: node's messages can carry a second paragraph ("To specify an option argument...").
    throw new UsageError(`${command}: ${(err as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '')}`);
  }
}

/** Values from -f files, then --set-json/--set in command-line order (later wins, --set beats files). */
export function valuesFromArgs(args: string[]): Record<string, unknown> {
  const assignments: { key: string; value: string; json: boolean }[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const take = (flag: string) => {
      const eq = a.indexOf('=');
      if (a.startsWith(`${flag}=`)) return a.slice(eq + 1);
      return args[++i] ?? '';
    };
    if (a === '--set' || a.startsWith('--set=')) {
      const [key, value] = parseAssignment(take('--set'), '--set');
      assignments.push({ key, value, json: false });
    } else if (a === '--set-json' || a.startsWith('--set-json=')) {
      const [key, value] = parseAssignment(take('--set-json'), '--set-json');
      assignments.push({ key, value, json: true });
    } else if (a === '-f' || a === '--values' || a.startsWith('--values=')) {
      files.push(take('--values'));
    }
  }
  return buildValues({ files, assignments });
}

/**
 * A template argument is either a file path (its directory is searched first, so `extends` finds
 * its siblings) or a name looked up in the template directories.
 */
export function resolveTemplateArg(template: string, templateDirs: string[]): { name: string; templateDirs: string[] } {
  const looksLikePath = template.includes('/') || template.includes(path.sep);
  if (looksLikePath && fs.existsSync(template) && fs.statSync(template).isFile()) {
    return { name: path.basename(template), templateDirs: [path.dirname(template), ...templateDirs] };
  }
  return { name: template, templateDirs };
}

/** Checks that every `--templates` argument is a directory (a usage error names the first that is not). */
export function checkTemplateDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new UsageError(`--templates '${d}' is not a directory`);
  }
}

/** Runs a command body, mapping errors to exit codes and one clear line on stderr. */
export async function runCommand(io: Io, verbose: boolean, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    return reportError(io, verbose, err);
  }
}

export function reportError(io: Io, verbose: boolean, err: unknown): number {
  if (err instanceof UsageError) {
    io.err(`error: ${err.message}\nRun 'temporal-k8s-jobs --help' for usage.\n`);
    return 2;
  }
  if (err instanceof KubernetesJobsError || err instanceof ValuesError) {
    io.err(`error: ${err.message}\n`);
    if (verbose && err instanceof KubernetesJobsError && err.details) io.err(`details: ${JSON.stringify(err.details, null, 2)}\n`);
    if (verbose && err.stack) io.err(`${err.stack}\n`);
    return 1;
  }
  const e = err as Error;
  io.err(`error: ${e?.message ?? String(err)}\n`);
  if (verbose && e?.stack) io.err(`${e.stack}\n`);
  return 1;
}
