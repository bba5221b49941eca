/**
 * Values from the command line and files: `--set a.b=c`, `--set-json a=JSON`, `-f values.yaml`.
 * Pure except for reading values files.
 */
import * as fs from 'node:fs';
import * as yaml from 'js-yaml';

/** A usage or input problem with values; the CLI prints its message as one line. */
export class ValuesError extends Error {
  override readonly name = 'ValuesError';
}

/** Splits `a.b\.c` into `['a', 'b.c']` (a backslash escapes a dot, for keys like label names). */
export function splitKeyPath(key: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c === '\\' && key[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (c === '.') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  if (parts.some((p) => p === '')) throw new ValuesError(`invalid key '${key}': empty segment`);
  for (const p of parts) {
    if (p === '__proto__' || p === 'constructor' || p === 'prototype') throw new ValuesError(`invalid key '${key}': '${p}' is not allowed`);
  }
  return parts;
}

/** Sets `value` at a dotted key path inside `target`, creating mappings on the way. */
export function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = splitKeyPath(key);
  let node: Record<string, unknown> = target;
  parts.slice(0, -1).forEach((p, i) => {
    const next = node[p];
    if (next === undefined || next === null) node = node[p] = {};
    else if (typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
    else throw new ValuesError(`cannot set '${key}': '${parts.slice(0, i + 1).join('.')}' is already a ${Array.isArray(next) ? 'list' : typeof next}`);
  });
  node[parts[parts.length - 1]!] = value;
}

/** Parses one `key=value` argument. */
export function parseAssignment(arg: string, flag: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new ValuesError(`${flag} expects key=value, got '${arg}'`);
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** Deep-merges mappings; lists and scalars from `over` replace those in `base`. */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeValues(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Reads a YAML values file (a mapping at the top). */
export function readValuesFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValuesError(`cannot read values file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new ValuesError(`values file '${file}' is not valid YAML: ${(err as yaml.YAMLException).message.split('\n')[0]}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ValuesError(`values file '${file}' must hold a mapping at the top`);
  checkSendable(doc, `values file '${file}'`, '');
  return doc as Record<string, unknown>;
}

/** Values as the CLI builds them: files in order (later wins), then --set-json and --set in order. */
export function buildValues(input: { files?: string[]; assignments?: { key: string; value: string; json: boolean }[] }): Record<string, unknown> {
  let values: Record<string, unknown> = {};
  for (const f of input.files ?? []) values = mergeValues(values, readValuesFile(f));
  for (const a of input.assignments ?? []) {
    let v: unknown = a.value;
    if (a.json) {
      try {
        v = JSON.parse(a.value);
      } catch (err) {
        throw new ValuesError(`--set-json ${a.key}: not valid JSON (${(err as Error).message})`);
      }
      checkSendable(v, `--set-json ${a.key}`, '');
    }
    setPath(values, a.key, v);
  }
  return values;
}

/**
 * Throws unless `value` reaches the worker unchanged. Values travel in the workflow input as JSON
 * (Temporal's default payload converter), so what is checked locally must be what JSON carries:
 * finite numbers (JSON turns Infinity and NaN into null; `--set-json a=1e400` parses as Infinity),
 * strings, booleans, null, lists and plain mappings. `where` names the source (`--set-json a`, `values file 'x.yaml'`), `at` the path in it.
 */
export function checkSendable(value: unknown, where: string, at: string): void {
  const here = () => (at ? `${where}: ${at}` : where);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ValuesError(`${here()} is ${value}, not a finite number; values reach the worker as JSON, which would turn it into null`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkSendable(v, where, `${at}[${i}]`));
    return;
  }
  if (typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    for (const [k, v] of Object.entries(value)) checkSendable(v, where, at ? `${at}.${k}` : k);
    return;
  }
  const kind = value === undefined ? 'undefined' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new ValuesError(`${here()} is ${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}, which does not survive JSON on its way to the worker`);
}
