import {
  advanceCursor,
  consumeLogChunk,
  decodeCursorAnnotation,
  decodeDrained,
  dropPodCursors,
  encodeCursorAnnotation,
  encodeDrained,
  logLineId,
  LogStreamReader,
  LogTail,
  normaliseTimestamp,
  prefixLine,
  sinceTimeFor,
  truncateBytes,
  type LogCursor,
  type LogLine,
} from '../../src/logs.js';
import { canRestart } from '../../src/lifecycle/delivery.js';

const T = (s: string) => `2026-01-01T00:00:${s}`;
const N = (sec: string, frac = '000000000') => `2026-01-01T00:00:${sec}.${frac}Z`;
const texts = (lines: LogLine[]) => lines.map((l) => l.text);

/** A container's whole log as the kubelet would return it with timestamps=true. */
const LOG: [string, string][] = [
  [T('04.9Z'), 'a'],
  [T('05.100Z'), 'b'],
  [T('05.100Z'), 'c'],
  [T('05.100Z'), 'd'],
  [T('05.5Z'), 'e'],
  [T('06Z'), 'f'],
  [T('06.000000001Z'), 'g'],
  [T('06.000000001Z'), 'h'],
  [T('07.123456789Z'), 'i'],
];

/** What a fetch with the given sinceTime (seconds granularity) returns, up to `upto` lines of the log. */
function fetch(since: string | undefined, upto = LOG.length): string {
  return LOG.slice(0, upto)
    .filter(([ts]) => since === undefined || normaliseTimestamp(ts)! >= normaliseTimestamp(since)!)
    .map(([ts, text]) => `${ts} ${text}\n`)
    .join('');
}

describe('normaliseTimestamp', () => {
  test.each([
    ['2026-01-01T00:00:05Z', N('05')],
    ['2026-01-01T00:00:05.1Z', N('05', '100000000')],
    ['2026-01-01T00:00:05.123456Z', N('05', '123456000')],
    ['2026-01-01T00:00:05.123456789Z', N('05', '123456789')],
    ['2026-01-01T00:00:05.1234567891Z', N('05', '123456789')],
    ['2026-01-01T01:00:05.5+01:00', N('05', '500000000')],
    ['2026-01-01T00:00:05.5z', N('05', '500000000')],
    ['not-a-time', undefined],
    ['2026-01-01 00:00:05Z', undefined],
    ['', undefined],
  ])('%s -> %s', (input, expected) => {
    expect(normaliseTimestamp(input)).toBe(expected);
  });

  test('normalised timestamps order as strings', () => {
    const a = normaliseTimestamp('2026-01-01T00:00:05.9Z')!;
    const b = normaliseTimestamp('2026-01-01T00:00:05.10Z')!;
    expect(a > b).toBe(true);
  });
});

describe('sinceTimeFor', () => {
  test.each<[LogCursor | undefined, string | undefined]>([
    [undefined, undefined],
    [{ time: N('05', '123456789'), seen: 2 }, '2026-01-01T00:00:05Z'],
    [{ time: N('05'), seen: 1 }, '2026-01-01T00:00:05Z'],
    [{ time: '2026-01-01T00:00:59.9Z', seen: 1 }, '2026-01-01T00:00:59Z'],
    [{ time: '', seen: 1 }, undefined],
  ])('%j -> %s', (cursor, expected) => {
    expect(sinceTimeFor(cursor)).toBe(expected);
  });
});

describe('consumeLogChunk', () => {
  test('first fetch delivers every line, cursor counts lines at the last timestamp', () => {
    const r = consumeLogChunk(undefined, fetch(undefined));
    expect(texts(r.lines)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    expect(r.lines[0]).toEqual({ time: N('04', '900000000'), text: 'a' });
    expect(r.cursor).toEqual({ time: N('07', '123456789'), seen: 1 });
    expect(r.pending).toBe('');
  });

  test('consuming the same chunk again from the returned cursor delivers nothing', () => {
    const chunk = fetch(undefined);
    const r1 = consumeLogChunk(undefined, chunk);
    const r2 = consumeLogChunk(r1.cursor, chunk);
    expect(r2.lines).toEqual([]);
    expect(r2.cursor).toEqual(r1.cursor);
  });

  // Every possible boundary: the first fetch saw `upto` lines; the next fetch (from sinceTimeFor) sees all.
  test.each(Array.from({ length: LOG.length + 1 }, (_, i) => i))('periodic tails with a boundary after line %i: exactly once', (upto) => {
    const r1 = consumeLogChunk(undefined, fetch(undefined, upto));
    const r2 = consumeLogChunk(r1.cursor, fetch(sinceTimeFor(r1.cursor)));
    const r3 = consumeLogChunk(r2.cursor, fetch(sinceTimeFor(r2.cursor)));
    expect([...texts(r1.lines), ...texts(r2.lines)]).toEqual(LOG.map(([, t]) => t));
    expect(r3.lines).toEqual([]);
  });

  test('a boundary between lines with the same timestamp', () => {
    // b, c delivered (both at 05.100); d at the same timestamp arrives later
    const r1 = consumeLogChunk(undefined, fetch(undefined, 3));
    expect(texts(r1.lines)).toEqual(['a', 'b', 'c']);
    expect(r1.cursor).toEqual({ time: N('05', '100000000'), seen: 2 });
    expect(sinceTimeFor(r1.cursor)).toBe('2026-01-01T00:00:05Z');
    const r2 = consumeLogChunk(r1.cursor, fetch(sinceTimeFor(r1.cursor), 4));
    expect(texts(r2.lines)).toEqual(['d']);
    expect(r2.cursor).toEqual({ time: N('05', '100000000'), seen: 3 });
  });

  test('replays after a worker restart deliver only new lines (cursor round-trips through JSON)', () => {
    const r1 = consumeLogChunk(undefined, fetch(undefined, 7));
    const restored = JSON.parse(JSON.stringify(r1.cursor)) as LogCursor;
    const r2 = consumeLogChunk(restored, fetch(sinceTimeFor(restored)));
    expect(texts(r2.lines)).toEqual(['h', 'i']);
  });

  test('an overlapping later chunk delivers only the new lines', () => {
    const r1 = consumeLogChunk(undefined, fetch(undefined, 5));
    const r2 = consumeLogChunk(r1.cursor, fetch(undefined));
    expect(texts(r2.lines)).toEqual(['f', 'g', 'h', 'i']);
  });

  test('lines older than the cursor are dropped', () => {
    const r = consumeLogChunk({ time: N('06'), seen: 1 }, fetch(undefined));
    expect(texts(r.lines)).toEqual(['g', 'h', 'i']);
  });

  test('a cursor with a non-normalised time still works', () => {
    const r = consumeLogChunk({ time: '2026-01-01T00:00:05.1Z', seen: 3 }, fetch('2026-01-01T00:00:05Z'));
    expect(texts(r.lines)).toEqual(['e', 'f', 'g', 'h', 'i']);
  });

  test('short fractions and no fraction compare by value', () => {
    const chunk = `${T('05.5Z')} x\n${T('05.50Z')} y\n${T('05.500000000Z')} z\n${T('05Z')} old\n`;
    const r = consumeLogChunk(undefined, chunk);
    expect(texts(r.lines)).toEqual(['x', 'y', 'z']);
    expect(r.cursor).toEqual({ time: N('05', '500000000'), seen: 3 });
  });

  test('a trailing partial line is pending, not delivered, and the cursor stays before it', () => {
    const r = consumeLogChunk(undefined, `${T('01Z')} one\n${T('02Z')} tw`);
    expect(texts(r.lines)).toEqual(['one']);
    expect(r.pending).toBe(`${T('02Z')} tw`);
    expect(r.cursor).toEqual({ time: N('01'), seen: 1 });
    // periodic: the next fetch returns the now complete line
    const r2 = consumeLogChunk(r.cursor, `${T('01Z')} one\n${T('02Z')} two\n`);
    expect(texts(r2.lines)).toEqual(['two']);
  });

  test('final delivers the trailing partial line', () => {
    const r = consumeLogChunk(undefined, `${T('01Z')} one\n${T('02Z')} two`, { final: true });
    expect(texts(r.lines)).toEqual(['one', 'two']);
    expect(r.pending).toBe('');
    expect(r.cursor).toEqual({ time: N('02'), seen: 1 });
  });

  test('text keeps inner and leading spaces after the separator; empty log lines are delivered', () => {
    const r = consumeLogChunk(undefined, `${T('01Z')}   indented  x\n${T('02Z')} \n${T('03Z')}\n${T('04Z')} crlf\r\n`);
    expect(texts(r.lines)).toEqual(['  indented  x', '', '', 'crlf']);
  });

  test('unparsable lines take the previous timestamp and replays stay idempotent', () => {
    const chunk = `${T('01Z')} a\ngarbage\n${T('02Z')} b\n`;
    const r1 = consumeLogChunk(undefined, chunk);
    expect(r1.lines).toEqual([
      { time: N('01'), text: 'a' },
      { time: N('01'), text: 'garbage' },
      { time: N('02'), text: 'b' },
    ]);
    expect(consumeLogChunk(r1.cursor, chunk).lines).toEqual([]);
    const r2 = consumeLogChunk(undefined, `${T('01Z')} a\ngarbage\n`);
    expect(r2.cursor).toEqual({ time: N('01'), seen: 2 });
    expect(texts(consumeLogChunk(r2.cursor, chunk).lines)).toEqual(['b']);
  });

  test('raw empty lines are ignored; an empty chunk delivers nothing', () => {
    expect(consumeLogChunk(undefined, '').lines).toEqual([]);
    expect(consumeLogChunk(undefined, '\n\n').lines).toEqual([]);
    expect(consumeLogChunk({ time: N('01'), seen: 1 }, '').cursor).toEqual({ time: N('01'), seen: 1 });
  });

  test('the input cursor is not mutated', () => {
    const c = { time: N('05', '100000000'), seen: 1 };
    consumeLogChunk(c, fetch(undefined));
    expect(c).toEqual({ time: N('05', '100000000'), seen: 1 });
  });
});

describe('LogStreamReader (follow)', () => {
  test('same-timestamp lines split across chunks of one stream are all delivered', () => {
    const r = new LogStreamReader({ time: N('05', '100000000'), seen: 1 }); // b delivered earlier
    const body = fetch('2026-01-01T00:00:05Z');
    const out: string[] = [];
    // split into tiny pieces, including inside lines and between same-timestamp lines
    for (let i = 0; i < body.length; i += 7) out.push(...texts(r.push(body.slice(i, i + 7))));
    out.push(...texts(r.end()));
    expect(out).toEqual(['c', 'd', 'e', 'f', 'g', 'h', 'i']);
    expect(r.cursor).toEqual({ time: N('07', '123456789'), seen: 1 });
  });

  test('skip state is carried: the already seen lines may arrive in several chunks', () => {
    const r = new LogStreamReader({ time: N('05', '100000000'), seen: 3 });
    expect(texts(r.push(`${T('05.100Z')} b\n`))).toEqual([]);
    expect(texts(r.push(`${T('05.100Z')} c\n`))).toEqual([]);
    expect(texts(r.push(`${T('05.100Z')} d\n${T('05.100Z')} d2\n`))).toEqual(['d2']);
    expect(texts(r.push(`${T('05.100Z')} d3\n`))).toEqual(['d3']);
    expect(r.cursor).toEqual({ time: N('05', '100000000'), seen: 5 });
  });

  test('a stream that continues at the same timestamp as the last line of the previous chunk delivers it', () => {
    const r = new LogStreamReader();
    expect(texts(r.push(`${T('01Z')} a\n`))).toEqual(['a']);
    expect(texts(r.push(`${T('01Z')} b\n`))).toEqual(['b']);
    expect(r.cursor).toEqual({ time: N('01'), seen: 2 });
  });

  test('end() flushes a partial last line once', () => {
    const r = new LogStreamReader();
    expect(texts(r.push(`${T('01Z')} a\n${T('02Z')} par`))).toEqual(['a']);
    expect(texts(r.push('tial'))).toEqual([]);
    expect(texts(r.end())).toEqual(['partial']);
    expect(texts(r.end())).toEqual([]);
  });

  test('restarting a stream from a reader cursor resumes exactly once', () => {
    const r1 = new LogStreamReader();
    r1.push(fetch(undefined, 6));
    const r2 = new LogStreamReader(r1.cursor);
    expect(texts(r2.push(fetch(sinceTimeFor(r1.cursor))))).toEqual(['g', 'h', 'i']);
  });
});

describe('LogTail', () => {
  test('keeps the last N lines', () => {
    const t = new LogTail(3);
    for (const l of ['1', '2', '3', '4', '5']) t.push(l);
    expect(t.lines()).toEqual(['3', '4', '5']);
  });

  test('bounded in bytes: drops the oldest', () => {
    const t = new LogTail(100, 10);
    t.push('aaaa');
    t.push('bbbb');
    t.push('cccc');
    expect(t.lines()).toEqual(['bbbb', 'cccc']);
  });

  test('a line longer than maxBytes is cut', () => {
    const t = new LogTail(5, 8);
    t.push('x'.repeat(100));
    expect(t.lines()).toHaveLength(1);
    expect(Buffer.byteLength(t.lines()[0]!)).toBeLessThanOrEqual(8);
  });

  test('counts UTF-8 bytes, not characters', () => {
    const t = new LogTail(100, 12);
    t.push('ééé'); // 6 bytes
    t.push('üüü'); // 6 bytes
    t.push('a');
    expect(t.lines()).toEqual(['üüü', 'a']);
  });

  test('maxLines 0 keeps nothing; lines() is a copy', () => {
    const z = new LogTail(0);
    z.push('x');
    expect(z.lines()).toEqual([]);
    const t = new LogTail(2);
    t.push('x');
    t.lines().push('y');
    expect(t.lines()).toEqual(['x']);
  });

  test('default byte bound is 64 KiB', () => {
    const t = new LogTail(1000);
    for (let i = 0; i < 100; i++) t.push('z'.repeat(1024));
    expect(t.lines().length).toBe(64);
  });
});

describe('truncateBytes', () => {
  test.each([
    ['short', 10, 'short'],
    ['abcdefghij', 5, 'ab…'],
    ['ééééé', 5, 'é…'],
  ])('%s to %i bytes', (s, max, expected) => {
    const out = truncateBytes(s, max);
    expect(out).toBe(expected);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(max);
  });
});

test('prefixLine', () => {
  expect(prefixLine('job-abc-xyz', 'main', 'hello world')).toBe('job-abc-xyz/main hello world');
  expect(prefixLine('p', 'c', '')).toBe('p/c ');
});

describe('advanceCursor and line ids', () => {
  const L = (sec: string, text: string): LogLine => ({ time: N(sec), text });

  test('counts lines at one timestamp from the start position and keeps those after what was delivered', () => {
    const lines = [L('05', 'a'), L('05', 'b'), L('06', 'c')];
    expect(advanceCursor(undefined, undefined, lines)).toEqual({ fresh: [{ ...lines[0], index: 1 }, { ...lines[1], index: 2 }, { ...lines[2], index: 1 }], cursor: { time: N('06'), seen: 1 } });
    // Another reader already delivered a and b: only c is fresh, with the same index as before.
    expect(advanceCursor({ time: N('05'), seen: 2 }, undefined, lines).fresh).toEqual([{ ...lines[2], index: 1 }]);
    // A read that started after a: b keeps index 2.
    expect(advanceCursor({ time: N('05'), seen: 1 }, { time: N('05'), seen: 1 }, lines.slice(1)).fresh.map((l) => l.index)).toEqual([2, 1]);
  });

  test('a line gets the same id whichever read (periodic, follow, after a re-attach) returns it', () => {
    const body = fetch(undefined);
    const ids = (cursor: LogCursor | undefined, chunk: string) => {
      const r = consumeLogChunk(cursor, chunk, { final: true });
      return advanceCursor(cursor, cursor, r.lines).fresh.map((l) => `${logLineId('ns', 'p', 'c', l.time, l.index)} ${l.text}`);
    };
    const once = ids(undefined, body);
    expect(new Set(once.map((x) => x.split(' ')[0])).size).toBe(LOG.length); // unique
    // Read in two parts from a cursor after 'c' (two lines at 05.1 delivered): the rest has the same ids.
    const cursor = { time: N('05', '100000000'), seen: 2 };
    expect(ids(cursor, fetch(sinceTimeFor(cursor)))).toEqual(once.slice(3));
    expect(logLineId('ns', 'p', 'c', N('05'), 2)).toBe(`ns/p/c/${N('05')}/2`);
  });
});

/**
 * A container under restartPolicy OnFailure, as the kubelet serves it: the current instance's log
 * and the previous instance's log (only the last one), with sinceTime at second granularity. Steps:
 * - `w`: the current instance writes a line (0.3 s after the line before); `=`: one at the same timestamp
 * - `crash`: the instance ends, a new one starts (the status may show it later: reads do not look at it)
 * - `tail`: a read as the worker does it (previous first when `readPrevious`, then current)
 * - `reattach`: a new attempt: only the persisted cursor survives (it is written before delivery)
 */
function simulateRestarts(steps: string[], readPrevious = true) {
  const instances: Array<Array<[string, string]>> = [[]];
  let ms = 0;
  let cursor: LogCursor | undefined;
  const written: string[] = [];
  const delivered: string[] = [];
  const ids: string[] = [];
  const ts = () => `2026-01-01T00:00:${String(Math.floor(ms / 1000)).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}Z`;
  const serve = (lines: Array<[string, string]>, since: string | undefined) =>
    lines
      .filter(([t]) => since === undefined || normaliseTimestamp(t)! >= normaliseTimestamp(since)!)
      .map(([t, x]) => `${t} ${x}\n`)
      .join('');
  const read = (lines: Array<[string, string]> | undefined, final: boolean) => {
    if (!lines) return;
    const r = consumeLogChunk(cursor, serve(lines, sinceTimeFor(cursor)), { final });
    const a = advanceCursor(cursor, cursor, r.lines);
    if (a.fresh.length) cursor = a.cursor;
    for (const l of a.fresh) {
      delivered.push(l.text);
      ids.push(logLineId('ns', 'pod', 'main', l.time, l.index));
    }
  };
  for (const step of steps) {
    const cur = instances[instances.length - 1]!;
    if (step === 'w' || step === '=') {
      if (step === 'w') ms += 300;
      const text = `i${instances.length - 1}-l${cur.length}`;
      cur.push([ts(), text]);
      written.push(text);
    } else if (step === 'crash') {
      ms += 300;
      instances.push([]);
    } else if (step === 'tail') {
      if (readPrevious) read(instances[instances.length - 2], true);
      read(instances[instances.length - 1], false);
    } else if (step === 'reattach') {
      // nothing in memory survives but the cursor on the Job
    } else throw new Error(step);
  }
  return { written, delivered, ids };
}

describe('restarts: one time-ordered cursor per container, previous instance read first', () => {
  test.each<[string, string[]]>([
    ['lines written before a crash and never read are read from the previous instance', ['w', 'w', 'tail', 'w', 'w', 'crash', 'w', 'tail', 'w', 'tail']],
    ['a tail that sees the new instance before the status shows the restart', ['w', 'tail', 'w', 'crash', 'w', 'w', 'tail', 'tail']],
    ['no tail at all during the first instance (periodic tail longer than the instance)', ['w', 'w', 'w', 'crash', 'w', 'tail']],
    ['worker crash and re-attach around the restart', ['w', 'tail', 'w', 'reattach', 'crash', 'w', 'reattach', 'tail', 'w', 'tail']],
    ['lines at one timestamp across reads and the restart', ['w', '=', 'tail', '=', '=', 'crash', 'w', '=', 'tail', 'reattach', 'tail']],
    ['two restarts with a read in between', ['w', 'tail', 'w', 'crash', 'w', 'tail', 'w', 'crash', 'w', 'tail']],
    ['the previous instance read again and again (every tail) delivers nothing twice', ['w', 'crash', 'tail', 'tail', 'w', 'tail', 'tail']],
  ])('%s: every line exactly once, ids unique', (_name, steps) => {
    const r = simulateRestarts(steps);
    expect(r.delivered).toEqual(r.written);
    expect(new Set(r.ids).size).toBe(r.ids.length);
  });

  test('without reading the previous instance the lines of a crashed instance are lost (what the previous read fixes)', () => {
    const r = simulateRestarts(['w', 'w', 'tail', 'w', 'w', 'crash', 'w', 'tail'], false);
    expect(r.delivered).toEqual(['i0-l0', 'i0-l1', 'i1-l0']);
  });

  test('known limit: the kubelet keeps one previous instance, so an instance that starts and crashes between two reads is lost', () => {
    const r = simulateRestarts(['w', 'tail', 'w', 'crash', 'w', 'crash', 'w', 'tail']);
    expect(r.delivered).toEqual(['i0-l0', 'i1-l0', 'i2-l0']);
  });
});

describe('cursor compaction', () => {
  test('drained pods are kept as names without the Job prefix, sorted; others whole', () => {
    const enc = encodeDrained('job', ['job-2-bbbbb', 'job-10-aaaaa', 'other-pod', 'job-2-bbbbb']);
    expect(enc).toBe('/other-pod 10-aaaaa 2-bbbbb');
    expect([...decodeDrained('job', enc)].sort()).toEqual(['job-10-aaaaa', 'job-2-bbbbb', 'other-pod']);
    expect(decodeDrained('job', undefined).size).toBe(0);
    expect(encodeDrained('job', [])).toBe('');
  });

  test('the annotation drops drained pods\' cursors and reads back (also the older form without drained)', () => {
    const cursors = { 'job-0-aaaaa/main': { time: N('01'), seen: 1 }, 'job-0-aaaaa/side': { time: N('02'), seen: 1 }, 'job-1-bbbbb/main': { time: N('03'), seen: 2 } };
    expect(dropPodCursors(cursors, new Set(['job-0-aaaaa']))).toEqual({ 'job-1-bbbbb/main': cursors['job-1-bbbbb/main'] });
    const text = encodeCursorAnnotation('job', { cursors, seq: 7, by: '2:ab', drained: new Set(['job-0-aaaaa']) });
    expect(JSON.parse(text)).toEqual({ cursors: { 'job-1-bbbbb/main': cursors['job-1-bbbbb/main'] }, seq: 7, drained: '0-aaaaa', by: '2:ab' });
    expect(decodeCursorAnnotation('job', text)).toEqual({ cursors: { 'job-1-bbbbb/main': cursors['job-1-bbbbb/main'] }, seq: 7, by: '2:ab', drained: new Set(['job-0-aaaaa']) });
    expect(decodeCursorAnnotation('job', JSON.stringify({ cursors, seq: 3 }))).toEqual({ cursors, seq: 3, drained: new Set() });
    expect(decodeCursorAnnotation('job', 'not json')).toBeUndefined();
  });

  test('bound: drained pods of an indexed Job that fit in the 256 KiB annotation limit', () => {
    const LIMIT = 256 * 1024;
    const job = 'kubernetes-jobs-run-0123456789abcdef'; // a long generated name
    const suffix = (i: number) => (i * 7919).toString(36).padStart(5, '0').slice(-5);
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `${job}-${i}-${suffix(i)}`);
    const live = Object.fromEntries(pods(100).map((p) => [`${p}/main`, { time: N('01', '123456789'), seen: 1 }]));
    const size = (n: number, withLive: boolean) =>
      Buffer.byteLength(encodeCursorAnnotation(job, { cursors: withLive ? live : {}, seq: 1_000_000, by: '10:deadbeef', drained: new Set(pods(n)) }));
    // Uncompacted: one cursor per pod.
    const uncompacted = Buffer.byteLength(JSON.stringify({ cursors: Object.fromEntries(pods(2600).map((p) => [`${p}/main`, { time: N('01', '123456789'), seen: 1 }])), seq: 1, by: '1:x' }));
    let fit = 0;
    for (let n = 1000; size(n, true) < LIMIT - 4096; n += 1000) fit = n;
    console.log(`cursor annotation: 2,600 uncompacted cursors = ${uncompacted} bytes; compacted: ${fit} drained pods + 100 live cursors fit in 252 KiB (${size(fit, true)} bytes; ${(size(fit, false) / fit).toFixed(1)} bytes per drained pod)`);
    expect(uncompacted).toBeGreaterThan(LIMIT);
    expect(fit).toBeGreaterThanOrEqual(20_000);
  });
});

describe('canRestart: whose previous instance is read', () => {
  const pod = (restartPolicy: string | undefined, opts: { restartCount?: number; sidecar?: boolean } = {}) => ({
    spec: { restartPolicy, containers: [{ name: 'main' }], initContainers: [{ name: 'init', ...(opts.sidecar ? { restartPolicy: 'Always' } : {}) }] },
    status: { containerStatuses: [{ name: 'main', restartCount: opts.restartCount ?? 0 }] },
  });
  test.each<[string, ReturnType<typeof pod>, string, boolean]>([
    ['Never: no previous read', pod('Never'), 'main', false],
    ['OnFailure: always (the status may not show the restart yet)', pod('OnFailure'), 'main', true],
    ['Never but seen restarted', pod('Never', { restartCount: 1 }), 'main', true],
    ['a sidecar (init container with restartPolicy Always)', pod('Never', { sidecar: true }), 'init', true],
    ['a plain init container of a Never pod', pod('Never'), 'init', false],
  ])('%s', (_n, p, c, expected) => {
    expect(canRestart(p as never, c)).toBe(expected);
  });
});
