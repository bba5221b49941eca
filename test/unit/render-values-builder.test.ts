// Values from --set/--set-json/-f reach the worker inside the workflow input, through Temporal's payload
// converter (JSON). The values builder accepts only what arrives unchanged, so the local render check
// and the worker's render see the same values.
import { defaultPayloadConverter } from '@temporalio/common';
import { buildValues, ValuesError } from '../../src/values.js';
import { tempDir } from '../helpers/tmp.js';

/** Exactly what the worker receives for these values. */
const sent = (v: unknown) => defaultPayloadConverter.fromPayload(defaultPayloadConverter.toPayload(v));
const setJson = (key: string, value: string) => buildValues({ assignments: [{ key, value, json: true }] });

const t = tempDir({
  'inf.yaml': 'a:\n  b: .inf\n',
  'nan.yaml': 'list: [1, .nan]\n',
  'ok.yaml': 'image: busybox:1.36\nreplicas: 3\nratio: 0.25\nflags: [true, false, null]\nnested: {a: {b: "x"}}\nday: 2026-11-23\n',
});
afterAll(t.cleanup);

test('premise: JSON turns a non-finite number into null on the way to the worker', () => {
  expect(sent({ a: Infinity, b: [NaN] })).toEqual({ a: null, b: [null] });
});

test.each([
  ['a', '1e400', /^--set-json a is Infinity, not a finite number; .*null/],
  ['a', '-1e400', /^--set-json a is -Infinity, not a finite number/],
  ['a', '[1, 1e999]', /^--set-json a: \[1\] is Infinity/],
  ['a', '{"x": {"y": -1e309}}', /^--set-json a: x\.y is -Infinity/],
])('--set-json %s=%s is refused', (key, value, message) => {
  expect(() => setJson(key, value)).toThrow(ValuesError);
  expect(() => setJson(key, value)).toThrow(message);
});

test.each([
  ['inf.yaml', /^values file '.*inf\.yaml': a\.b is Infinity, not a finite number/],
  ['nan.yaml', /^values file '.*nan\.yaml': list\[1\] is NaN, not a finite number/],
])('a values file with what JSON cannot carry is refused (%s)', (file, message) => {
  expect(() => buildValues({ files: [`${t.dir}/${file}`] })).toThrow(message);
});

test.each([
  ['1e300', 1e300],
  ['-0.5', -0.5],
  [String(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER],
  ['{"list": [1, 2.5, "x", null, true], "m": {"k": "v"}}', { list: [1, 2.5, 'x', null, true], m: { k: 'v' } }],
])('--set-json a=%s is accepted and reaches the worker unchanged', (value, expected) => {
  const values = setJson('a', value);
  expect(values).toEqual({ a: expected });
  expect(sent(values)).toEqual(values);
});

test('values from files, --set-json and --set together reach the worker unchanged', () => {
  const values = buildValues({
    files: [`${t.dir}/ok.yaml`],
    assignments: [
      { key: 'nested.a.c', value: '[1, {"d": 2}]', json: true },
      { key: 'image', value: 'alpine:3.20', json: false },
    ],
  });
  expect(values).toEqual({
    image: 'alpine:3.20',
    replicas: 3,
    ratio: 0.25,
    flags: [true, false, null],
    nested: { a: { b: 'x', c: [1, { d: 2 }] } },
    day: '2026-11-23',
  });
  expect(sent(values)).toEqual(values);
});
