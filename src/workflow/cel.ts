/**
 * CEL for DAGs (`when`, `forEach`, `valuesFrom`), evaluated inside the workflow sandbox.
 *
 * Uses @marcbachmann/cel-js: pure JavaScript, no dependencies, no clock or randomness, so evaluation is
 * deterministic and replay-safe. Each kind of expression has its own environment, so an expression
 * that names a variable it cannot see (`item` in a `when`, `dag` outside `onExit`) is rejected when
 * the DAG is validated, before anything starts.
 */
import { Environment } from '@marcbachmann/cel-js';

/** Where an expression appears; decides which variables it sees. */
export type CelScope =
  /** `when` and `forEach` of a step: `steps`, `values`. */
  | 'step'
  /** `valuesFrom` of a `forEach` step: also `item`, `index`. */
  | 'item'
  /** `when`/`valuesFrom` of `onExit`: also `dag` (`dag.status`, `dag.name`). */
  | 'exit';

const OPTIONS = { unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false } as const;

function environment(scope: CelScope): Environment {
  const env = new Environment(OPTIONS).registerVariable('steps', 'map').registerVariable('values', 'map');
  if (scope === 'item') env.registerVariable('item', 'dyn').registerVariable('index', 'int');
  if (scope === 'exit') env.registerVariable('dag', 'map');
  return env;
}

const environments: Record<CelScope, Environment> = { step: environment('step'), item: environment('item'), exit: environment('exit') };

/** A parsed expression's AST node as cel-js gives it (`op` + `args`). */
interface AstNode {
  op: string;
  args: unknown;
}

function isNode(x: unknown): x is AstNode {
  return typeof x === 'object' && x !== null && typeof (x as AstNode).op === 'string';
}

/** The step names an expression reads as `steps.<name>` or `steps['<name>']`. */
function stepRefs(node: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(node)) {
    for (const n of node) stepRefs(n, out);
    return out;
  }
  if (!isNode(node)) return out;
  const args = node.args;
  if (Array.isArray(args) && isNode(args[0]) && args[0].op === 'id' && args[0].args === 'steps') {
    if (node.op === '.' && typeof args[1] === 'string') out.add(args[1]);
    if (node.op === '[]' && isNode(args[1]) && args[1].op === 'value' && typeof args[1].args === 'string') out.add(args[1].args);
  }
  if (Array.isArray(args)) stepRefs(args, out);
  return out;
}

/** First line of a cel-js error, which otherwise carries a drawing of the expression. */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}

/**
 * Parses and type-checks an expression for a scope.
 * @returns the step names it reads (`steps.<name>`), or an error message.
 */
export function checkCel(expression: string, scope: CelScope): { steps: string[] } | { error: string } {
  const env = environments[scope];
  let parsed;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    return { error: firstLine(err) };
  }
  const checked = env.check(expression) as { valid: boolean; error?: unknown };
  if (!checked.valid) return { error: firstLine(checked.error) };
  return { steps: [...stepRefs(parsed.ast, new Set())] };
}

/** Turns CEL results into plain JSON data: ints (BigInt) become numbers, maps become objects. */
export function toData(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`the result ${value} is not a finite number (values travel as JSON)`);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (Array.isArray(value)) return value.map(toData);
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), toData(v)]));
  if (value instanceof Uint8Array) return Array.from(value);
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toData(v)]));
    }
    // Other CEL values (durations, optionals) as their string form.
    return String(value);
  }
  return value;
}

/** Variables of an evaluation. `index` is passed as a number and given to CEL as an int. */
export interface CelVariables {
  steps: Record<string, unknown>;
  values: Record<string, unknown>;
  item?: unknown;
  index?: number;
  dag?: Record<string, unknown>;
}

/**
 * Evaluates an expression (already validated for its scope) and returns plain data.
 * @throws Error with a one-line message when evaluation fails (e.g. a missing field).
 */
export function evaluateCel(expression: string, scope: CelScope, vars: CelVariables): unknown {
  const context: Record<string, unknown> = { steps: vars.steps, values: vars.values };
  if (scope === 'item') {
    context.item = vars.item ?? null;
    context.index = BigInt(vars.index ?? 0);
  }
  if (scope === 'exit') context.dag = vars.dag ?? {};
  try {
    return toData(environments[scope].evaluate(expression, context));
  } catch (err) {
    throw new Error(firstLine(err));
  }
}
