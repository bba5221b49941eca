/**
 * DAG validation, start order and CEL: the pure part of the DAG engine (src/workflow/dag.ts, cel.ts).
 */
import { describe, expect, test } from '@jest/globals';
import { InvalidDagError, findCycle, parseStepActivityId, startOrder, stepActivityId, upstreamSets, validateDag } from '../../src/workflow/dag.js';
import { checkCel, evaluateCel, toData } from '../../src/workflow/cel.js';
import { mergeStepValues } from '../../src/workflow/dag-workflow.js';

const T = 'job.yaml.njk';

function problems(dag: unknown): string[] {
  try {
    validateDag(dag);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidDagError);
    return (err as InvalidDagError).problems;
  }
  return [];
}

describe('validateDag accepts', () => {
  test.each([
    ['one step', { steps: { a: { template: T } } }],
    ['the DESIGN example', {
      name: 'nightly-etl', maxParallel: 4, failFast: true, values: { image: 'busybox' },
      defaults: { logs: { mode: 'periodic', everySeconds: 10 }, cleanup: 'onSuccess' },
      steps: {
        extract: { template: 'extract.yaml.njk', values: { day: '2026-11-23' } },
        transform: { template: T, dependsOn: ['extract'], forEach: 'steps.extract.output.shards', maxParallel: 10, valuesFrom: { command: "'process ' + item" } },
        load: { template: T, dependsOn: ['transform'], when: "steps.transform.status == 'Succeeded' && size(steps.transform.output) > 0" },
      },
      onExit: { template: 'notify.yaml.njk', valuesFrom: { text: "'DAG ' + dag.status + ': ' + steps.load.status" } },
    }],
    ['a literal forEach list', { steps: { a: { template: T, forEach: [1, 'two', { three: 3 }] } } }],
    ['a fallback reading a transitive upstream step', { steps: { a: { template: T }, b: { template: T, dependsOn: ['a'] }, c: { template: T, dependsOn: ['b'], when: "steps.a.status == 'Failed'" } } }],
    ["steps['x'] index form", { steps: { a: { template: T }, b: { template: T, dependsOn: ['a'], when: "steps['a'].status == 'Succeeded'" } } }],
  ])('%s', (_name, dag) => {
    expect(validateDag(dag)).toBe(dag);
  });
});

describe('validateDag rejects, naming the steps involved', () => {
  test.each<[string, unknown, RegExp]>([
    ['not a mapping', 'steps: []', /must be a mapping/],
    ['no steps', { steps: {} }, /'steps' must be a non-empty mapping/],
    ['unknown DAG key (with a suggestion)', { step: {}, steps: { a: { template: T } } }, /DAG: unknown key 'step' \(did you mean 'steps'\?\)/],
    ['unknown step key', { steps: { a: { template: T, depends: ['b'] } } }, /step 'a': unknown key 'depends' \(did you mean 'dependsOn'\?\)/],
    ['a step without template', { steps: { a: { values: {} } } }, /step 'a' has no template/],
    ['an upper-case step name', { steps: { Extract: { template: T } } }, /step 'Extract': invalid step name/],
    ['a numeric step name (would collide with activity ids)', { steps: { '1': { template: T } } }, /step '1': invalid step name/],
    ['an underscore step name', { steps: { a_b: { template: T } } }, /step 'a_b': invalid step name/],
    ['an unknown dependency', { steps: { a: { template: T, dependsOn: ['nope'] } } }, /step 'a' depends on unknown step 'nope'/],
    ['a self dependency', { steps: { a: { template: T, dependsOn: ['a'] } } }, /step 'a' depends on itself/],
    ['a cycle, with its path', { steps: { a: { template: T, dependsOn: ['c'] }, b: { template: T, dependsOn: ['a'] }, c: { template: T, dependsOn: ['b'] } } }, /steps form a cycle: a -> c -> b -> a/],
    ['CEL that does not parse', { steps: { a: { template: T, when: 'steps.' } } }, /step 'a' when: CEL "steps\." does not parse/],
    ['CEL naming an unknown step', { steps: { a: { template: T }, b: { template: T, dependsOn: ['a'], when: "steps.x.status == 'Failed'" } } }, /step 'b' when: CEL names unknown step 'x'/],
    ['CEL reading a step that is not upstream', { steps: { a: { template: T }, b: { template: T, when: "steps.a.status == 'Failed'" } } }, /step 'b' when: CEL reads step 'a', which is not upstream/],
    ['CEL with an unknown variable', { steps: { a: { template: T, when: 'foo > 1' } } }, /step 'a' when: CEL "foo > 1" does not parse or type-check/],
    ['item outside a forEach valuesFrom', { steps: { a: { template: T, when: 'item == 1' } } }, /step 'a' when: CEL "item == 1"/],
    ['dag outside onExit', { steps: { a: { template: T, valuesFrom: { x: 'dag.status' } } } }, /step 'a' valuesFrom.x: CEL "dag.status"/],
    ['a non-string valuesFrom expression', { steps: { a: { template: T, valuesFrom: { x: 1 } } } }, /step 'a' valuesFrom.x: must be a CEL expression/],
    ['forEach of a number', { steps: { a: { template: T, forEach: 3 } } }, /step 'a': 'forEach' must be a CEL expression or a list/],
    ['name with forEach', { steps: { a: { template: T, forEach: [1], name: 'x' } } }, /step 'a': 'name' cannot be used with 'forEach'/],
    ['maxParallel 0', { maxParallel: 0, steps: { a: { template: T } } }, /DAG: 'maxParallel' must be a whole number >= 1/],
    ['step maxParallel without forEach', { steps: { a: { template: T, maxParallel: 2 } } }, /'maxParallel' applies to 'forEach' steps only/],
    ['failFast not boolean', { failFast: 'yes', steps: { a: { template: T } } }, /'failFast' must be true or false/],
    ['bad cleanup in defaults', { defaults: { cleanup: 'sometimes' }, steps: { a: { template: T } } }, /DAG defaults: 'cleanup' must be one of never, onSuccess, always/],
    ['unknown default key', { defaults: { retries: 3 }, steps: { a: { template: T } } }, /DAG defaults: unknown key 'retries'/],
    ['bad log mode', { steps: { a: { template: T, logs: { mode: 'tail' } } } }, /step 'a'.logs: 'mode' must be one of/],
    ['reserved value steps', { values: { steps: 1 }, steps: { a: { template: T } } }, /value 'steps' is reserved/],
    ['reserved value item in a forEach step', { steps: { a: { template: T, forEach: [1], values: { item: 2 } } } }, /step 'a': value 'item' is reserved/],
    ['onExit without template', { steps: { a: { template: T } }, onExit: {} }, /onExit has no template/],
    ['onExit with dependsOn', { steps: { a: { template: T } }, onExit: { template: T, dependsOn: ['a'] } }, /onExit: unknown key 'dependsOn'/],
    ['dependsOn not a list', { steps: { a: { template: T, dependsOn: 'b' } } }, /'dependsOn' must be a list of step names/],
    ['a bad DAG name', { name: 'a b', steps: { a: { template: T } } }, /DAG: 'name' must be/],
    ['valuesFrom setting a reserved value', { steps: { a: { template: T, forEach: [1], valuesFrom: { item: "'x'" } } } }, /step 'a': valuesFrom 'item' is reserved/],
    ['a __proto__ value key', JSON.parse('{"steps": {"a": {"template": "t", "values": {"x": {"__proto__": {"polluted": true}}}}}}'), /step 'a': a value key '__proto__' is not allowed/],
  ])('%s', (_name, dag, message) => {
    const p = problems(dag);
    expect(p.length).toBeGreaterThan(0);
    expect(p.join('\n')).toMatch(message);
  });

  test('every problem is listed at once', () => {
    const p = problems({ steps: { A: { template: T }, b: { dependsOn: ['zz'] } } });
    expect(p).toEqual(expect.arrayContaining([expect.stringMatching(/step 'A': invalid step name/), expect.stringMatching(/step 'b' has no template/), expect.stringMatching(/unknown step 'zz'/)]));
    expect(() => validateDag({ steps: { A: { template: T }, b: { dependsOn: ['zz'] } } })).toThrow(/invalid DAG \(3 problems\)/);
  });
});

describe('start order', () => {
  test.each<[string, Record<string, { dependsOn?: string[] }>, string[]]>([
    ['declaration order when independent', { c: {}, a: {}, b: {} }, ['c', 'a', 'b']],
    ['a dependency first even if declared later', { load: { dependsOn: ['extract'] }, extract: {} }, ['extract', 'load']],
    ['diamond', { a: {}, b: { dependsOn: ['a'] }, c: { dependsOn: ['a'] }, d: { dependsOn: ['b', 'c'] } }, ['a', 'b', 'c', 'd']],
    ['ready steps in declaration order', { z: { dependsOn: ['a'] }, a: {}, y: {} }, ['a', 'z', 'y']],
  ])('%s', (_n, steps, order) => {
    const dag = { steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, { template: T, ...v }])) };
    expect(startOrder(dag)).toEqual(order);
  });

  test('upstream sets are transitive', () => {
    const up = upstreamSets({ steps: { a: { template: T }, b: { template: T, dependsOn: ['a'] }, c: { template: T, dependsOn: ['b'] }, d: { template: T } } });
    expect([...up.get('c')!].sort()).toEqual(['a', 'b']);
    expect([...up.get('d')!]).toEqual([]);
  });

  test('findCycle finds none in a DAG and the path in a cycle', () => {
    expect(findCycle(new Map([['a', []], ['b', ['a']]]))).toBeUndefined();
    expect(findCycle(new Map([['a', ['b']], ['b', ['a']]]))).toEqual(['a', 'b', 'a']);
  });
});

describe('CEL', () => {
  const steps = { plan: { status: 'Succeeded', jobName: 'plan-x', output: { shards: ['a', 'b'], n: 3 } }, bad: { status: 'Failed' } };
  test.each<[string, 'step' | 'item' | 'exit', Record<string, unknown>, unknown]>([
    ['steps.plan.output.shards', 'step', {}, ['a', 'b']],
    ["steps.bad.status == 'Failed'", 'step', {}, true],
    ['size(steps.plan.output.shards) > 1', 'step', {}, true],
    ['steps.plan.output.n * 2.0', 'step', {}, 6],
    ["'process ' + item + ' #' + string(index)", 'item', { item: 'a', index: 4 }, 'process a #4'],
    ['index + 1', 'item', { item: null, index: 4 }, 5],
    ['values.day', 'step', {}, '2026-11-23'],
    ["{'k': [1, 'x']}", 'step', {}, { k: [1, 'x'] }],
    ['steps.plan.output.shards.map(s, s + "-1")', 'step', {}, ['a-1', 'b-1']],
    ["dag.status == 'Failed'", 'exit', { dag: { status: 'Failed' } }, true],
  ])('%s', (expr, scope, extra, expected) => {
    expect(checkCel(expr, scope)).not.toHaveProperty('error');
    expect(evaluateCel(expr, scope, { steps, values: { day: '2026-11-23' }, ...extra })).toEqual(expected);
  });

  test('evaluation errors are one line', () => {
    expect(() => evaluateCel('steps.plan.output.missing', 'step', { steps, values: {} })).toThrow(/^[^\n]+$/);
    expect(() => evaluateCel("'x' + 1", 'step', { steps, values: {} })).toThrow(/no such overload/);
  });

  test('checkCel reports the steps an expression reads', () => {
    expect(checkCel("steps.a.status == 'Failed' || steps['b'].output > 1", 'step')).toEqual({ steps: ['a', 'b'] });
  });

  test('toData turns CEL ints into numbers and maps into objects', () => {
    expect(toData([1n, new Map([['a', 2n]])])).toEqual([1, { a: 2 }]);
    expect(toData(2n ** 70n)).toBe((2n ** 70n).toString());
  });
});

test('step values merge deeply, the step winning', () => {
  expect(mergeStepValues({ image: 'a', labels: { x: '1', y: '2' }, list: [1] }, { labels: { y: '3' }, list: [2] })).toEqual({ image: 'a', labels: { x: '1', y: '3' }, list: [2] });
});

describe('activity ids of steps', () => {
  test.each<[string, number | undefined, string, string]>([
    ['fan', undefined, '', 'fan'],
    ['fan', 1, '', 'fan[1]'],
    ['fan-1', undefined, '', 'fan-1'],
    ['load', 12, 'dag2.', 'dag2.load[12]'],
  ])('%s item %s prefix %j -> %s, and back', (step, index, prefix, id) => {
    expect(stepActivityId(step, index, prefix)).toBe(id);
    expect(parseStepActivityId(id)).toEqual({ prefix, step, ...(index === undefined ? {} : { index }) });
  });

  test("a step named 'fan-1' and item 1 of step 'fan' get different ids", () => {
    expect(stepActivityId('fan-1')).not.toBe(stepActivityId('fan', 1));
  });

  test.each(['1', 'checkTemplates', 'onExit', 'fan[x]', 'a b'])('%s is no step activity id', (id) => {
    expect(parseStepActivityId(id)).toBeUndefined();
  });
});

test('CEL results that are not JSON data are refused with one line', () => {
  expect(() => evaluateCel('1.0 / 0.0', 'step', { steps: {}, values: {} })).toThrow(/not a finite number/);
  expect(evaluateCel("timestamp('2020-01-01T00:00:00Z')", 'step', { steps: {}, values: {} })).toBe('2020-01-01T00:00:00.000Z');
});
