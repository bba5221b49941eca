/**
 * The live view of `temporal-k8s-jobs dag`, as pure functions: which step an activity belongs to,
 * one line per step, the lines printed on status changes, and the terminal frame that redraws the
 * step lines in place under scrolling log lines.
 */
import type { Dag, DagResult, DagStepState } from '../dag-types.js';
import type { JobProgress } from '../types.js';
import { parseStepActivityId } from '../workflow/dag.js';

/** Name the view uses for the `onExit` step (step names are lowercase, so it cannot clash). */
export const ON_EXIT = 'onExit';

/** Which step (and `forEach` item) an activity runs: activity ids are `<step>`, `<step>[<index>]` or `onExit`. */
export function stepOfActivity(activityId: string, dag: Pick<Dag, 'steps' | 'onExit'>): { step: string; index?: number } | undefined {
  if (activityId === ON_EXIT) return dag.onExit ? { step: ON_EXIT } : undefined;
  const id = parseStepActivityId(activityId);
  // Only the first runDag of a workflow (no prefix): that is what dagWorkflow runs.
  if (!id || id.prefix !== '') return undefined;
  const step = dag.steps[id.step];
  if (!step || (step.forEach === undefined) !== (id.index === undefined)) return undefined;
  return id.index === undefined ? { step: id.step } : { step: id.step, index: id.index };
}

/** Prefix of a step's log lines: `extract | `, `transform[3] | `. */
export function logPrefix(step: string, index?: number): string {
  return `${step}${index === undefined ? '' : `[${index}]`} | `;
}

/** A running activity of a step, as seen in its heartbeat. */
export interface RunningJob {
  step: string;
  index?: number;
  progress?: JobProgress;
}

/** Pods of the running Jobs of one step, summed. */
export function podCounts(jobs: readonly RunningJob[]): { active: number; succeeded: number; failed: number } {
  const c = { active: 0, succeeded: 0, failed: 0 };
  for (const j of jobs) {
    if (!j.progress) continue;
    c.active += j.progress.active;
    c.succeeded += j.progress.succeeded;
    c.failed += j.progress.failed;
  }
  return c;
}

/** Seconds between two ISO times, as `4s`, `2m05s`, `1h02m`. */
export function elapsed(from: string | undefined, to: string | number | undefined): string | undefined {
  if (!from || to === undefined) return undefined;
  const ms = (typeof to === 'number' ? to : Date.parse(to)) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function firstLineOf(s: string): string {
  return s.split('\n')[0]!;
}

/** `3/8 done (1 failed), 2 running, 3 pending` for a `forEach` step. */
export function itemSummary(items: NonNullable<DagStepState['items']>): string {
  const done = items.succeeded + items.failed + items.skipped + items.cancelled;
  const extra = [
    items.failed ? `${items.failed} failed` : '',
    items.cancelled ? `${items.cancelled} cancelled` : '',
    items.skipped ? `${items.skipped} not started` : '',
  ].filter(Boolean);
  const parts = [`items ${done}/${items.total} done${extra.length ? ` (${extra.join(', ')})` : ''}`];
  if (items.running) parts.push(`${items.running} running`);
  if (items.pending) parts.push(`${items.pending} pending`);
  return parts.join(', ');
}

/** What is shown after a step's status: why it waits, how far it got, why it failed. */
export function stepDetail(name: string, s: DagStepState, dag: Pick<Dag, 'steps'>, state: DagResult, jobs: readonly RunningJob[], now: number): string {
  const parts: string[] = [];
  if (s.items) parts.push(itemSummary(s.items));
  switch (s.status) {
    case 'Pending': {
      const waiting = (dag.steps[name]?.dependsOn ?? []).filter((d) => ['Pending', 'Running'].includes(state.steps[d]?.status ?? ''));
      if (waiting.length) parts.push(`waiting for ${waiting.join(', ')}`);
      else if (name === ON_EXIT) parts.push('runs last');
      break;
    }
    case 'Running': {
      const pods = podCounts(jobs);
      const single = !s.items && jobs.length === 1 ? jobs[0]!.progress : undefined;
      if (single) parts.push(single.phase);
      if (jobs.some((j) => j.progress)) parts.push(`pods: ${pods.active} active, ${pods.succeeded} succeeded, ${pods.failed} failed`);
      if (single?.lastEvent && single.phase !== 'Running') parts.push(single.lastEvent);
      const t = elapsed(s.startedAt, now);
      if (t) parts.push(t);
      break;
    }
    case 'Succeeded': {
      const t = elapsed(s.startedAt, s.finishedAt);
      if (t) parts.push(t);
      if (typeof s.jobName === 'string' && s.jobName) parts.push(`job ${s.jobName}`);
      break;
    }
    case 'Failed':
      if (s.error) parts.push(firstLineOf(s.error));
      break;
    case 'Skipped':
    case 'Cancelled':
      if (s.reason) parts.push(s.reason);
      break;
  }
  return parts.join(' · ');
}

const MARK: Record<DagStepState['status'], string> = { Pending: '○', Running: '●', Succeeded: '✔', Failed: '✖', Skipped: '–', Cancelled: '⊘' };

/** The step names in view order: the DAG's steps as declared, then `onExit`. */
export function viewNames(dag: Pick<Dag, 'steps' | 'onExit'>): string[] {
  return [...Object.keys(dag.steps), ...(dag.onExit ? [ON_EXIT] : [])];
}

function stateOf(state: DagResult, name: string): DagStepState {
  return (name === ON_EXIT ? state.onExit : state.steps[name]) ?? { status: 'Pending' };
}

/** One line per step for the terminal view, each cut to `columns - 1` characters. */
export function stepLines(dag: Pick<Dag, 'steps' | 'onExit'>, state: DagResult, jobs: readonly RunningJob[], now: number, columns: number): string[] {
  const names = viewNames(dag);
  const width = Math.max(...names.map((n) => n.length));
  return names.map((name) => {
    const s = stateOf(state, name);
    const detail = stepDetail(name, s, dag, state, jobs.filter((j) => j.step === name), now);
    return truncate(`${MARK[s.status]} ${name.padEnd(width)}  ${s.status.padEnd(9)}${detail ? ` ${detail}` : ''}`.trimEnd(), columns - 1);
  });
}

/** Cuts a line to `max` characters (by code points), marking the cut with `…`. */
export function truncate(line: string, max: number): string {
  const chars = [...line];
  if (max < 1 || chars.length <= max) return line;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Plain lines for the steps whose status changed from `prev` to `next` (without a terminal):
 * `[extract] Running`, `[extract] Succeeded in 4s (job x)`, `[load] Skipped: dependency 'x' failed`.
 */
export function statusChangeLines(dag: Pick<Dag, 'steps' | 'onExit'>, prev: DagResult | undefined, next: DagResult): string[] {
  const out: string[] = [];
  for (const name of viewNames(dag)) {
    const s = stateOf(next, name);
    const before = prev ? stateOf(prev, name).status : 'Pending';
    if (s.status === before) continue;
    out.push(statusLine(name, s));
  }
  return out;
}

function statusLine(name: string, s: DagStepState): string {
  const head = `[${name}] ${s.status}`;
  switch (s.status) {
    case 'Running':
      return s.items ? `${head}: ${s.items.total} item${s.items.total === 1 ? '' : 's'}` : head;
    case 'Succeeded': {
      const t = elapsed(s.startedAt, s.finishedAt);
      const job = typeof s.jobName === 'string' && s.jobName ? `job ${s.jobName}` : '';
      const extra = [s.items ? itemSummary(s.items) : '', job].filter(Boolean).join(', ');
      return `${head}${t ? ` in ${t}` : ''}${extra ? ` (${extra})` : ''}`;
    }
    case 'Failed':
      return `${head}${s.items ? ` (${itemSummary(s.items)})` : ''}: ${firstLineOf(s.error ?? 'failed')}`;
    case 'Skipped':
    case 'Cancelled':
      return `${head}${s.reason ? `: ${s.reason}` : ''}`;
    default:
      return head;
  }
}

/**
 * Progress lines of running `forEach` steps for plain output (`[transform] items 120/1000 done,
 * 10 running, 870 pending`): a step's line when its counts changed and its last one is at least
 * `everyMs` old. `printed` (step -> time and text of its last line) is updated.
 */
export function itemProgressLines(state: DagResult, printed: Map<string, { at: number; text: string }>, now: number, everyMs: number): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(state.steps)) {
    if (s.status !== 'Running' || !s.items) continue;
    const text = `[${name}] ${itemSummary(s.items)}`;
    const last = printed.get(name) ?? { at: now, text: '' };
    if (!printed.has(name)) printed.set(name, last); // the step's Running line has just been printed
    if (text === last.text || now - last.at < everyMs) continue;
    printed.set(name, { at: now, text });
    out.push(text);
  }
  return out;
}

/** The closing line: `DAG Succeeded: 4 succeeded, 1 skipped`. */
export function summaryLine(dag: Pick<Dag, 'steps' | 'onExit'>, state: DagResult): string {
  const counts = new Map<string, number>();
  for (const name of Object.keys(dag.steps)) {
    const st = stateOf(state, name).status;
    counts.set(st, (counts.get(st) ?? 0) + 1);
  }
  const order: DagStepState['status'][] = ['Succeeded', 'Failed', 'Cancelled', 'Skipped', 'Running', 'Pending'];
  const parts = order.filter((st) => counts.get(st)).map((st) => `${counts.get(st)} ${st.toLowerCase()}`);
  const exit = dag.onExit && state.onExit ? `; onExit ${state.onExit.status.toLowerCase()}` : '';
  return `DAG ${state.status}: ${parts.join(', ')}${exit}`;
}

/**
 * The step lines that fit a terminal of `rows` rows (the cursor cannot move back up past the top
 * of the screen, so a taller block could not be redrawn in place): the first ones, then a count.
 */
export function fitToHeight(lines: readonly string[], rows: number): string[] {
  const max = Math.max(2, rows - 1);
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max - 1), `… ${lines.length - (max - 1)} more steps`];
}

/**
 * Terminal output that replaces the `drawn` step lines printed last with `logLines` (which then
 * scroll above) and the new `statusLines` (ANSI: cursor up, clear to the end of the screen).
 */
export function frame(drawn: number, logLines: readonly string[], statusLines: readonly string[]): string {
  const up = drawn > 0 ? `\r\x1b[${drawn}A\x1b[J` : '';
  return up + [...logLines, ...statusLines].map((l) => `${l}\n`).join('');
}
