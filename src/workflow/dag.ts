/**
 * DAGs of Jobs, the pure part: validation, start order, upstream sets. No I/O, no Temporal API, so it
 * runs in the workflow sandbox, in the CLI (to reject a DAG file before anything starts) and in table
 * tests alike.
 */
import { isRenderedSubdir } from '../rendered-subdir.js';
import type { Dag, DagExitStep, DagStep } from '../dag-types.js';
import { checkCel, type CelScope } from './cel.js';

/** A DAG that cannot run. `problems` has one line per problem, each naming the steps involved. */
export class InvalidDagError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? `invalid DAG: ${problems[0]}` : `invalid DAG (${problems.length} problems):\n- ${problems.join('\n- ')}`);
    this.name = 'InvalidDagError';
  }
}

const DAG_KEYS = ['name', 'maxParallel', 'failFast', 'values', 'defaults', 'steps', 'onExit'];
const DEFAULT_KEYS = ['namespace', 'logs', 'cleanup', 'timeoutSeconds', 'failFastGraceSeconds', 'unschedulableGraceSeconds', 'writeRenderedTo'];
const JOB_KEYS = ['template', 'values', 'name', 'valuesFrom', ...DEFAULT_KEYS];
const STEP_KEYS = [...JOB_KEYS, 'dependsOn', 'when', 'forEach', 'maxParallel'];
const LOG_KEYS = ['mode', 'everySeconds', 'tailLines'];
const LOG_MODES = ['periodic', 'end', 'follow', 'none'];
const CLEANUPS = ['never', 'onSuccess', 'always'];
/** Value names the engine sets for templates; a DAG may not set them itself. */
const RESERVED_VALUES = ['steps'];
const RESERVED_ITEM_VALUES = ['item', 'index'];

/**
 * Step names: DNS-1123 labels that start with a letter (they lead Job names and are Temporal activity
 * ids, which must not look like the SDK's numeric ones), at most 50 characters so `<step>-<index>`
 * still leaves room for the workflow id and hash in a 63-character Job name.
 */
const STEP_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_STEP_NAME = 50;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isPositiveInt(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1;
}

/** Close matches for an unknown name, as a suggestion. */
function suggest(name: string, known: readonly string[]): string {
  const lower = name.toLowerCase();
  const match = known.find((k) => k.toLowerCase() === lower || k.toLowerCase().startsWith(lower.slice(0, 4)));
  return match ? ` (did you mean '${match}'?)` : '';
}

function unknownKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string, problems: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) problems.push(`${where}: unknown key '${k}'${suggest(k, allowed)}; allowed: ${allowed.join(', ')}`);
  }
}

function checkDefaults(obj: Record<string, unknown>, where: string, problems: string[]): void {
  if ('namespace' in obj && (typeof obj.namespace !== 'string' || obj.namespace === '')) problems.push(`${where}: 'namespace' must be a non-empty string`);
  if ('cleanup' in obj && !CLEANUPS.includes(obj.cleanup as string)) problems.push(`${where}: 'cleanup' must be one of ${CLEANUPS.join(', ')}`);
  for (const k of ['timeoutSeconds', 'failFastGraceSeconds', 'unschedulableGraceSeconds']) {
    if (k in obj && !(typeof obj[k] === 'number' && Number.isFinite(obj[k]) && (obj[k] as number) > 0)) problems.push(`${where}: '${k}' must be a positive number of seconds`);
  }
  if ('writeRenderedTo' in obj && !isRenderedSubdir(obj.writeRenderedTo)) {
    problems.push(`${where}: 'writeRenderedTo' must be '.' or a relative subdirectory of the worker's rendered-output directory (plain segments, no '..'), got ${JSON.stringify(obj.writeRenderedTo)}`);
  }
  if ('logs' in obj) {
    const logs = obj.logs;
    if (!isRecord(logs)) {
      problems.push(`${where}: 'logs' must be a mapping (mode, everySeconds, tailLines)`);
    } else {
      unknownKeys(logs, LOG_KEYS, `${where}.logs`, problems);
      if ('mode' in logs && !LOG_MODES.includes(logs.mode as string)) problems.push(`${where}.logs: 'mode' must be one of ${LOG_MODES.join(', ')}`);
      if ('everySeconds' in logs && !(typeof logs.everySeconds === 'number' && logs.everySeconds > 0)) problems.push(`${where}.logs: 'everySeconds' must be a positive number`);
      if ('tailLines' in logs && !(typeof logs.tailLines === 'number' && Number.isInteger(logs.tailLines) && logs.tailLines >= 0)) problems.push(`${where}.logs: 'tailLines' must be a whole number >= 0`);
    }
  }
}

/** True if `x` holds a `__proto__` key at any depth (it would not survive a merge as a plain key). */
function hasProtoKey(x: unknown): boolean {
  if (Array.isArray(x)) return x.some(hasProtoKey);
  if (!isRecord(x)) return false;
  return Object.keys(x).some((k) => k === '__proto__' || hasProtoKey(x[k]));
}

function checkValues(values: unknown, where: string, reserved: readonly string[], problems: string[]): void {
  if (values === undefined) return;
  if (!isRecord(values)) {
    problems.push(`${where}: 'values' must be a mapping`);
    return;
  }
  for (const k of reserved) if (Object.prototype.hasOwnProperty.call(values, k)) problems.push(`${where}: value '${k}' is reserved (the engine sets it for templates)`);
  if (hasProtoKey(values)) problems.push(`${where}: a value key '__proto__' is not allowed`);
}

/** One CEL expression: parses, type-checks, and reads only steps in `visible`. */
function checkExpression(expr: unknown, scope: CelScope, where: string, visible: ReadonlySet<string>, allSteps: ReadonlySet<string>, problems: string[]): void {
  if (typeof expr !== 'string' || expr.trim() === '') {
    problems.push(`${where}: must be a CEL expression (a non-empty string)`);
    return;
  }
  const r = checkCel(expr, scope);
  if ('error' in r) {
    problems.push(`${where}: CEL ${JSON.stringify(expr)} does not parse or type-check: ${r.error}`);
    return;
  }
  for (const s of r.steps) {
    if (!allSteps.has(s)) problems.push(`${where}: CEL names unknown step '${s}'${suggest(s, [...allSteps])}`);
    else if (!visible.has(s)) problems.push(`${where}: CEL reads step '${s}', which is not upstream (add it to dependsOn, directly or through another step)`);
  }
}

function checkJobOptions(step: Record<string, unknown>, where: string, problems: string[]): void {
  if (typeof step.template !== 'string' || step.template.trim() === '') problems.push(`${where} has no template ('template' must name a template file)`);
  if ('name' in step && (typeof step.name !== 'string' || step.name === '')) problems.push(`${where}: 'name' must be a non-empty string`);
  if ('valuesFrom' in step && !isRecord(step.valuesFrom)) problems.push(`${where}: 'valuesFrom' must be a mapping of value names to CEL expressions`);
  for (const k of isRecord(step.valuesFrom) ? Object.keys(step.valuesFrom) : []) {
    if ([...RESERVED_VALUES, ...RESERVED_ITEM_VALUES, '__proto__'].includes(k)) problems.push(`${where}: valuesFrom '${k}' is reserved (the engine sets it for templates)`);
  }
  checkDefaults(step, where, problems);
}

/**
 * Finds one cycle in `deps` (step -> its dependencies), as a path that ends where it starts, or
 * undefined. Deterministic: steps in declaration order.
 */
export function findCycle(deps: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (s: string): string[] | undefined => {
    if (state.get(s) === 'done') return undefined;
    if (state.get(s) === 'visiting') return [...stack.slice(stack.indexOf(s)), s];
    state.set(s, 'visiting');
    stack.push(s);
    for (const d of deps.get(s) ?? []) {
      if (!deps.has(d)) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(s, 'done');
    return undefined;
  };
  for (const s of deps.keys()) {
    const c = visit(s);
    if (c) return c;
  }
  return undefined;
}

/**
 * Start order: a topological order of the steps where, among steps whose dependencies are all placed,
 * the one declared first comes first. The engine starts ready steps in this order, so runs are
 * deterministic and read the way the file is written.
 */
export function startOrder(dag: Pick<Dag, 'steps'>): string[] {
  const names = Object.keys(dag.steps);
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < names.length) {
    const next = names.find((n) => !placed.has(n) && (dag.steps[n]!.dependsOn ?? []).every((d) => placed.has(d)));
    if (next === undefined) throw new InvalidDagError([`steps ${names.filter((n) => !placed.has(n)).join(', ')} form a cycle`]);
    placed.add(next);
    order.push(next);
  }
  return order;
}

/** Every step upstream of each step (its dependencies, theirs, and so on). */
export function upstreamSets(dag: Pick<Dag, 'steps'>): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const name of startOrder(dag)) {
    const up = new Set<string>();
    for (const d of dag.steps[name]!.dependsOn ?? []) {
      up.add(d);
      for (const u of result.get(d) ?? []) up.add(u);
    }
    result.set(name, up);
  }
  return result;
}

/**
 * Checks a DAG (as parsed from YAML or passed to `runDag`) and returns it typed, or throws
 * {@link InvalidDagError} listing every problem: unknown keys, invalid step names, unknown
 * dependencies, cycles (with the cycle's path), CEL that does not parse or reads an unknown or
 * non-upstream step, steps without a template, wrong option types. Templates' existence is checked
 * by the worker (it holds the template directories) before anything starts.
 */
export function validateDag(input: unknown): Dag {
  const problems: string[] = [];
  if (!isRecord(input)) throw new InvalidDagError(['a DAG must be a mapping with a `steps` mapping']);
  unknownKeys(input, DAG_KEYS, 'DAG', problems);
  if ('name' in input && (typeof input.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(input.name))) {
    problems.push(`DAG: 'name' must be 1-100 characters of letters, digits, '.', '_' or '-' (it prefixes workflow ids)`);
  }
  if ('maxParallel' in input && !isPositiveInt(input.maxParallel)) problems.push(`DAG: 'maxParallel' must be a whole number >= 1`);
  if ('failFast' in input && typeof input.failFast !== 'boolean') problems.push(`DAG: 'failFast' must be true or false`);
  checkValues(input.values, 'DAG', RESERVED_VALUES, problems);
  if ('defaults' in input) {
    if (!isRecord(input.defaults)) problems.push(`DAG: 'defaults' must be a mapping of step options`);
    else {
      unknownKeys(input.defaults, DEFAULT_KEYS, 'DAG defaults', problems);
      checkDefaults(input.defaults, 'DAG defaults', problems);
    }
  }
  const steps = input.steps;
  if (!isRecord(steps) || Object.keys(steps).length === 0) {
    problems.push(`DAG: 'steps' must be a non-empty mapping of step names to steps`);
    throw new InvalidDagError(problems);
  }
  const names = Object.keys(steps);
  const all = new Set(names);
  const deps = new Map<string, string[]>();
  for (const name of names) {
    const where = `step '${name}'`;
    if (!STEP_NAME.test(name) || name.length > MAX_STEP_NAME) {
      problems.push(`${where}: invalid step name: use a DNS-1123 label that starts with a letter (lowercase letters, digits, '-'; at most ${MAX_STEP_NAME} characters)`);
    }
    const step = steps[name];
    if (!isRecord(step)) {
      problems.push(`${where}: must be a mapping with at least 'template'`);
      deps.set(name, []);
      continue;
    }
    unknownKeys(step, STEP_KEYS, where, problems);
    checkJobOptions(step, where, problems);
    const isForEach = 'forEach' in step;
    checkValues(step.values, where, isForEach ? [...RESERVED_VALUES, ...RESERVED_ITEM_VALUES] : RESERVED_VALUES, problems);
    if (isForEach && 'name' in step) problems.push(`${where}: 'name' cannot be used with 'forEach' (every item needs its own Job name; leave it out to derive one per item)`);
    if ('maxParallel' in step && !isPositiveInt(step.maxParallel)) problems.push(`${where}: 'maxParallel' must be a whole number >= 1`);
    if ('maxParallel' in step && !isForEach) problems.push(`${where}: 'maxParallel' applies to 'forEach' steps only (the DAG's maxParallel bounds all Jobs)`);
    if (isForEach && !Array.isArray(step.forEach) && typeof step.forEach !== 'string') problems.push(`${where}: 'forEach' must be a CEL expression or a list`);
    let d: string[] = [];
    if ('dependsOn' in step) {
      if (!Array.isArray(step.dependsOn) || !step.dependsOn.every((x) => typeof x === 'string')) {
        problems.push(`${where}: 'dependsOn' must be a list of step names`);
      } else {
        d = step.dependsOn as string[];
        for (const dep of d) {
          if (dep === name) problems.push(`${where} depends on itself`);
          else if (!all.has(dep)) problems.push(`${where} depends on unknown step '${dep}'${suggest(dep, names)}`);
        }
        if (new Set(d).size !== d.length) problems.push(`${where}: 'dependsOn' lists a step twice`);
      }
    }
    deps.set(name, d);
  }
  const cycle = findCycle(deps);
  if (cycle) problems.push(`steps form a cycle: ${cycle.join(' -> ')}`);
  if (problems.length) throw new InvalidDagError(problems);

  // CEL, now that the graph is sound: each expression may read only upstream steps.
  const dag = input as unknown as Dag;
  const upstream = upstreamSets(dag);
  for (const name of names) {
    const step = dag.steps[name]! as DagStep & Record<string, unknown>;
    const where = `step '${name}'`;
    const visible = upstream.get(name)!;
    if ('when' in step) checkExpression(step.when, 'step', `${where} when`, visible, all, problems);
    if (typeof step.forEach === 'string') checkExpression(step.forEach, 'step', `${where} forEach`, visible, all, problems);
    for (const [k, expr] of Object.entries(step.valuesFrom ?? {})) {
      checkExpression(expr, 'forEach' in step ? 'item' : 'step', `${where} valuesFrom.${k}`, visible, all, problems);
    }
  }
  if ('onExit' in input && input.onExit !== undefined) {
    const exit = input.onExit;
    if (!isRecord(exit)) problems.push(`onExit: must be a mapping with at least 'template'`);
    else {
      unknownKeys(exit, JOB_KEYS, 'onExit', problems);
      checkJobOptions(exit, 'onExit', problems);
      checkValues(exit.values, 'onExit', RESERVED_VALUES, problems);
      for (const [k, expr] of Object.entries((exit as unknown as DagExitStep).valuesFrom ?? {})) checkExpression(expr, 'exit', `onExit valuesFrom.${k}`, all, all, problems);
    }
  }
  if (problems.length) throw new InvalidDagError(problems);
  return dag;
}

/**
 * The activity id of a step's Job: `<step>`, `<step>[<index>]` for a `forEach` item, `onExit`; with a
 * prefix (`dag2.`) for a second `runDag` in one workflow. Brackets cannot appear in step names, so a
 * step named `fan-1` never collides with item 1 of step `fan`.
 */
export function stepActivityId(step: string, index?: number, prefix = ''): string {
  return `${prefix}${step}${index === undefined ? '' : `[${index}]`}`;
}

/** The step (and item index) of an activity id made by {@link stepActivityId}, or undefined. */
export function parseStepActivityId(activityId: string): { prefix: string; step: string; index?: number } | undefined {
  const m = /^((?:dag\d+\.)?)([a-z][-a-z0-9]*)(?:\[(\d+)\])?$/.exec(activityId);
  if (!m) return undefined;
  return { prefix: m[1]!, step: m[2]!, ...(m[3] !== undefined ? { index: Number(m[3]) } : {}) };
}
