/** Durations on the command line: `90`, `90s`, `15m`, `2h`, `1h30m`, `1d`, `1.5h` -> seconds. */

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
const PART = /(\d+(?:\.\d+)?)([dhms])/g;

/**
 * Parses a duration into whole seconds (rounded up), or returns `undefined` when `text` is not a
 * positive duration. A bare number means seconds. Units may be combined largest first (`1h30m`),
 * each at most once.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return positive(Number(s));
  if (!/^(\d+(\.\d+)?[dhms])+$/.test(s)) return undefined;
  let total = 0;
  let lastRank = Infinity;
  for (const m of s.matchAll(PART)) {
    const unit = m[2]!;
    const rank = UNIT_SECONDS[unit]!;
    if (rank >= lastRank) return undefined; // out of order or repeated: 30m1h, 1h1h
    lastRank = rank;
    total += Number(m[1]) * rank;
  }
  return positive(total);
}

function positive(seconds: number): number | undefined {
  if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
  return Math.ceil(seconds);
}

/** Formats seconds the way {@link parseDuration} reads them back (`5400` -> `1h30m`). */
export function formatDuration(seconds: number): string {
  let rest = Math.round(seconds);
  if (rest <= 0) return '0s';
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
