/**
 * Exactly-once pod log delivery. Pure: no I/O, no Kubernetes client.
 *
 * Logs are fetched with `timestamps=true`, so every line reads `<RFC3339Nano timestamp> <text>`. The
 * Kubernetes `sinceTime` parameter only has one-second granularity, so a fetch started from a cursor
 * returns again the lines of the cursor's second that were already delivered. A {@link LogCursor}
 * (timestamp of the last delivered line + how many lines with exactly that timestamp were delivered)
 * is enough to drop them: older lines are dropped, and the first `seen` lines at exactly the cursor's
 * timestamp are skipped.
 *
 * Usage:
 * - periodic/end tails: fetch with `sinceTime = sinceTimeFor(cursor)`, then
 *   `consumeLogChunk(cursor, body)` (pass `{ final: true }` once the container has terminated, so a last
 *   line without '\n' is delivered too); keep the returned cursor (in heartbeat details).
 * - follow streams: one {@link LogStreamReader} per stream (it carries the partial line and the
 *   "still to skip" count from one chunk of the same response to the next).
 */

/**
 * Position in one container's log: the normalised timestamp (9-digit fraction, UTC, `Z`) of the last
 * delivered line, and how many lines with exactly that timestamp were delivered. JSON-serialisable.
 */
export interface LogCursor {
  time: string;
  seen: number;
}

/** Cursors keyed `pod/container`. JSON-serialisable (goes into heartbeat details). */
export type LogCursors = Record<string, LogCursor>;

/** One delivered log line: its normalised timestamp and its text (without the timestamp). */
export interface LogLine {
  time: string;
  text: string;
}

/** The result of {@link consumeLogChunk}. */
export interface ConsumedLogChunk {
  /** New lines, in order. */
  lines: LogLine[];
  /** The advanced cursor (unchanged when nothing was delivered). */
  cursor: LogCursor | undefined;
  /** A trailing partial line (no '\n' yet), not delivered; '' when none or when `final`. */
  pending: string;
  /**
   * Lines at exactly the cursor's time still to skip in the rest of this response. Pass it as
   * `opts.skip` with the next chunk of the SAME response (follow stream); a new fetch starts from
   * `cursor.seen` (the default).
   */
  skip: number;
}

const TS_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Normalises an RFC3339 timestamp to `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC, fraction padded or cut to 9
 * digits), so that normalised timestamps compare correctly as strings. Undefined when not parsable.
 */
export function normaliseTimestamp(ts: string): string | undefined {
  const m = TS_RE.exec(ts);
  if (!m) return undefined;
  const [, date, time, frac = '', zone = 'Z'] = m;
  const fraction = frac.padEnd(9, '0').slice(0, 9);
  if (zone.toUpperCase() === 'Z') {
    const ms = Date.parse(`${date}T${time}Z`);
    if (Number.isNaN(ms)) return undefined;
    return `${date}T${time}.${fraction}Z`;
  }
  const ms = Date.parse(`${date}T${time}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * The `sinceTime` to request for a cursor: its time floored to the second (e.g. `2026-01-01T00:00:05Z`).
 * Undefined without a cursor (or with a cursor that has no parsable time): fetch everything.
 */
export function sinceTimeFor(cursor?: LogCursor): string | undefined {
  if (!cursor) return undefined;
  const t = normaliseTimestamp(cursor.time);
  return t ? `${t.slice(0, 19)}Z` : undefined;
}

/**
 * Parses a chunk of a `timestamps=true` log response fetched with `sinceTime = sinceTimeFor(cursor)`
 * and returns the lines not delivered yet, with the advanced cursor.
 *
 * - Lines older than the cursor are dropped; the first `opts.skip` (default `cursor.seen`) lines at
 *   exactly the cursor's time are skipped; everything after is delivered and advances the cursor.
 * - A trailing partial line (the chunk does not end in '\n') is not delivered but returned as
 *   `pending` (prepend it to the next chunk), unless `opts.final`.
 * - A line without a parsable timestamp (never produced by the kubelet with `timestamps=true`) is
 *   delivered whole as text, with the timestamp of the line before it in the chunk (or the cursor's time
 *   at the start of a chunk, or '' with no cursor), and counts in `seen` at that time; that keeps
 *   replays idempotent.
 * - Completely empty raw lines are ignored (an empty log line still carries its timestamp); a trailing
 *   '\r' is removed.
 *
 * Idempotent: consuming the same chunk again from the returned cursor delivers nothing.
 */
export function consumeLogChunk(
  cursor: LogCursor | undefined,
  chunk: string,
  opts: { final?: boolean; skip?: number } = {},
): ConsumedLogChunk {
  const raw = chunk.split('\n');
  let pending = raw.pop() ?? '';
  if (opts.final && pending !== '') {
    raw.push(pending);
    pending = '';
  }
  const baseTime = cursor ? (normaliseTimestamp(cursor.time) ?? cursor.time) : undefined;
  let skip = cursor ? Math.max(0, opts.skip ?? cursor.seen) : 0;
  let cur: LogCursor | undefined = cursor ? { time: baseTime!, seen: cursor.seen } : undefined;
  let previous: string | undefined;
  const lines: LogLine[] = [];
  for (let line of raw) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    const sp = line.indexOf(' ');
    const token = sp < 0 ? line : line.slice(0, sp);
    const parsed = normaliseTimestamp(token);
    let time: string;
    let text: string;
    if (parsed !== undefined) {
      time = parsed;
      text = sp < 0 ? '' : line.slice(sp + 1);
      previous = parsed;
    } else {
      time = previous ?? baseTime ?? '';
      text = line;
    }
    if (cur && time < cur.time) continue; // older than what was delivered
    if (baseTime !== undefined && time === baseTime && skip > 0) {
      skip--; // already delivered by an earlier fetch
      continue;
    }
    if (baseTime !== undefined && time > baseTime) skip = 0;
    if (cur && cur.time === time) cur = { time, seen: cur.seen + 1 };
    else cur = { time, seen: 1 };
    lines.push({ time, text });
  }
  return { lines, cursor: cur, pending, skip };
}

/**
 * Reads one streamed log response (`follow=true`) chunk by chunk, with the cursor the request was made
 * from (`sinceTime = sinceTimeFor(cursor)`). Carries the partial line and the skip count across chunks.
 */
export class LogStreamReader {
  private cur: LogCursor | undefined;
  private skip: number;
  private pending = '';

  /** @param cursor the cursor the stream's `sinceTime` was computed from (undefined: from the start) */
  constructor(cursor?: LogCursor) {
    this.cur = cursor ? { ...cursor } : undefined;
    this.skip = cursor?.seen ?? 0;
  }

  /** Consumes the next chunk of the stream; returns the new complete lines. */
  push(chunk: string): LogLine[] {
    return this.consume(chunk, false);
  }

  /** Ends the stream: delivers a last line without '\n', if any. */
  end(): LogLine[] {
    return this.consume('', true);
  }

  /** The cursor after the lines delivered so far (store it in heartbeat details). */
  get cursor(): LogCursor | undefined {
    return this.cur ? { ...this.cur } : undefined;
  }

  private consume(chunk: string, final: boolean): LogLine[] {
    const r = consumeLogChunk(this.cur, this.pending + chunk, { final, skip: this.skip });
    this.cur = r.cursor;
    this.skip = r.skip;
    this.pending = r.pending;
    return r.lines;
  }
}

/** A line that {@link advanceCursor} found new, with its index among the lines of its timestamp (1-based). */
export interface FreshLine extends LogLine {
  index: number;
}

/**
 * Counts `lines` (read from a fetch or stream that started at `start`) forward from `start` and keeps
 * those after `have` (the position already delivered; it may be ahead of `start` when another reader
 * delivered meanwhile). Returns them with their index at their timestamp, and the position after the
 * last line. Pure; the same line always gets the same index, whichever read returned it.
 */
export function advanceCursor(have: LogCursor | undefined, start: LogCursor | undefined, lines: readonly LogLine[]): { fresh: FreshLine[]; cursor: LogCursor | undefined } {
  let pos = start;
  const fresh: FreshLine[] = [];
  for (const l of lines) {
    pos = pos && pos.time === l.time ? { time: l.time, seen: pos.seen + 1 } : { time: l.time, seen: 1 };
    if (!have || pos.time > have.time || (pos.time === have.time && pos.seen > have.seen)) fresh.push({ ...l, index: pos.seen });
  }
  return { fresh, cursor: pos };
}

/**
 * A stable id for one log line: `namespace/pod/container/time/index`, where `time` is the line's
 * normalised timestamp and `index` its 1-based position among the container's lines with exactly that
 * timestamp. The same line gets the same id in every read (periodic, follow, final), attempt and
 * re-attachment, so a downstream system can deduplicate on it. Lines of a container's earlier
 * instances (before a restart) keep their ids too: an instance's lines all precede the next one's.
 */
export function logLineId(namespace: string, pod: string, container: string, time: string, index: number): string {
  return `${namespace}/${pod}/${container}/${time}/${index}`;
}

/**
 * Compact form of the pods whose logs were read to the end after they finished (drained): nothing
 * more can come from them, so their cursors are dropped and only their names are kept, without the
 * `<jobName>-` prefix that every pod of the Job shares (an indexed Job's pod `job-42-x7k2q` -> `42-x7k2q`).
 * A pod whose name does not start with it is kept whole behind a `/` (no pod name contains one).
 * Space-separated, sorted. About 11 bytes per pod of an indexed Job with up to 10,000 completions.
 */
export function encodeDrained(jobName: string, pods: Iterable<string>): string {
  const prefix = `${jobName}-`;
  return [...new Set(pods)]
    .map((p) => (p.startsWith(prefix) && p.length > prefix.length ? p.slice(prefix.length) : `/${p}`))
    .sort()
    .join(' ');
}

/** The pod names of {@link encodeDrained}'s output (an empty set for undefined or ''). */
export function decodeDrained(jobName: string, encoded: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const t of (encoded ?? '').split(' ')) {
    if (t) out.add(t.startsWith('/') ? t.slice(1) : `${jobName}-${t}`);
  }
  return out;
}

/** The cursors without those of the given pods (keys are `pod/container`). */
export function dropPodCursors(cursors: LogCursors, pods: ReadonlySet<string>): LogCursors {
  const out: LogCursors = {};
  for (const [k, v] of Object.entries(cursors)) if (!pods.has(k.slice(0, k.indexOf('/')))) out[k] = v;
  return out;
}

/** The log cursor annotation's content: what was delivered, by whom. */
export interface CursorAnnotation {
  /** Cursors of the containers not drained yet, keyed `pod/container`. */
  cursors: LogCursors;
  /** Lines delivered so far (all attempts). */
  seq: number;
  /** The attempt that wrote it (`<attempt>:<random>`). */
  by?: string;
  /** Pods read to the end after they finished (their cursors are dropped). */
  drained: Set<string>;
}

/**
 * The annotation's text for `a`: the drained pods' cursors dropped, the pods listed compactly
 * ({@link encodeDrained}). Size: ~60 bytes + ~(pod + container + 50) bytes per live cursor + ~11 bytes
 * per drained pod of an indexed Job.
 */
export function encodeCursorAnnotation(jobName: string, a: CursorAnnotation): string {
  const drained = encodeDrained(jobName, a.drained);
  return JSON.stringify({ cursors: dropPodCursors(a.cursors, a.drained), seq: a.seq, ...(drained ? { drained } : {}), ...(a.by ? { by: a.by } : {}) });
}

/** Parses {@link encodeCursorAnnotation}'s text (also the older form without `drained`); undefined when unreadable. */
export function decodeCursorAnnotation(jobName: string, text: string): CursorAnnotation | undefined {
  try {
    const p = JSON.parse(text) as { cursors?: unknown; seq?: unknown; by?: unknown; drained?: unknown };
    if (!p || typeof p !== 'object' || !p.cursors || typeof p.cursors !== 'object' || typeof p.seq !== 'number') return undefined;
    return {
      cursors: p.cursors as LogCursors,
      seq: p.seq,
      ...(typeof p.by === 'string' ? { by: p.by } : {}),
      drained: decodeDrained(jobName, typeof p.drained === 'string' ? p.drained : undefined),
    };
  } catch {
    return undefined;
  }
}

/** Cuts `s` to at most `maxBytes` UTF-8 bytes (never in the middle of a character), adding `suffix` when cut. */
export function truncateBytes(s: string, maxBytes: number, suffix = '…'): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  if (Buffer.byteLength(suffix, 'utf8') > maxBytes) suffix = '';
  const budget = maxBytes - Buffer.byteLength(suffix, 'utf8');
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > budget) break;
    bytes += n;
    out += ch;
  }
  return out + suffix;
}

/**
 * The last `maxLines` lines pushed, bounded to `maxBytes` UTF-8 bytes in total (the oldest lines are
 * dropped first; a single line longer than `maxBytes` is cut).
 */
export class LogTail {
  private buf: string[] = [];
  private sizes: number[] = [];
  private bytes = 0;

  /**
   * @param maxLines lines kept (0 keeps none)
   * @param maxBytes total UTF-8 bytes kept @default 65536
   */
  constructor(
    readonly maxLines: number,
    readonly maxBytes = 65536,
  ) {}

  /** Adds a line (drops the oldest ones when over a bound). */
  push(line: string): void {
    if (this.maxLines <= 0 || this.maxBytes <= 0) return;
    const l = truncateBytes(line, this.maxBytes);
    const size = Buffer.byteLength(l, 'utf8');
    this.buf.push(l);
    this.sizes.push(size);
    this.bytes += size;
    while (this.buf.length > this.maxLines || this.bytes > this.maxBytes) {
      this.buf.shift();
      this.bytes -= this.sizes.shift()!;
    }
  }

  /** The kept lines, oldest first (a copy). */
  lines(): string[] {
    return [...this.buf];
  }
}

/** A log line as delivered to the activity logger and the tail: `pod/container text`. */
export function prefixLine(pod: string, container: string, text: string): string {
  return `${pod}/${container} ${text}`;
}
