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
