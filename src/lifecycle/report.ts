/**
 * Progress and heartbeats of one attempt: what the Temporal UI, the CLI and the next attempt see.
 *
 * Heartbeat budget: a heartbeat is sent when what it carries changes (phase, pod counts, delivered
 * lines, the Job's UID), plus a keep-alive when nothing changed for a while, so an idle Job costs
 * little. The SDK then forwards at most one heartbeat per throttle interval (80% of the heartbeat
 * timeout unless the worker sets a shorter `maxHeartbeatThrottleInterval`): with the workflow's 20 s
 * heartbeat timeout, about 4 heartbeats per Job-minute reach the server, whatever the log volume.
 */
import type { Context } from '@temporalio/activity';
import { LogTail, type LogCursors } from '../logs.js';
import type { JobProgress } from '../types.js';
import type { JobPlan } from './plan.js';

/** Heartbeat details of the run activity (progress for the UI and the CLI). */
export interface RunJobHeartbeat {
  progress: JobProgress;
  /** Log lines delivered so far (all attempts). */
  logSeq: number;
  /** The last <= 50 delivered lines; recentLines[i] has sequence number logSeq - recentLines.length + 1 + i. */
  recentLines: string[];
  cursors: LogCursors;
  /** Set while the log cursors cannot be saved on the Job (delivery goes on; see docs/GUARANTEES.md). */
  logNote?: string;
  /** UID of the Job this execution created (a retry never creates a second one). */
  jobUid?: string;
}

const RECENT_LINES = 50;
/** Keep-alive when the activity has no heartbeat timeout (heartbeats then only carry progress). */
const KEEP_ALIVE_WITHOUT_TIMEOUT_MS = 30_000;
/**
 * Share of the heartbeat timeout after which a keep-alive is sent when nothing changed: 10% (2 s for
 * the workflow's 20 s). The activity learns of a cancellation only from a heartbeat's answer, so this
 * bounds how late a cancelled Job's deletion starts (with the plugin's 2 s throttle: within ~4 s). A
 * longer keep-alive would save heartbeats on idle Jobs but needs the workflow-side early delete first.
 */
const KEEP_ALIVE_SHARE = 0.1;

/**
 * How long an attempt may go without calling heartbeat when nothing changes: `configuredMs` (the
 * worker's `heartbeatSeconds`) when set, else 10% of the activity's heartbeat timeout (2 s for the
 * workflow's 20 s), else 30 s.
 */
export function keepAliveMs(configuredMs: number | undefined, heartbeatTimeoutMs: number | undefined): number {
  if (configuredMs !== undefined) return configuredMs;
  return heartbeatTimeoutMs ? Math.max(100, Math.floor(heartbeatTimeoutMs * KEEP_ALIVE_SHARE)) : KEEP_ALIVE_WITHOUT_TIMEOUT_MS;
}

/** Holds the attempt's progress, recent lines and log tail, and sends them as heartbeats. */
export class Reporter {
  progress: JobProgress;
  jobUid: string | undefined;
  readonly tail: LogTail;
  private readonly recent: string[];
  /** Where the delivered-line count and cursors come from (the log delivery, once it exists). */
  logState: () => { seq: number; cursors: LogCursors; note?: string };
  /** Longest time between heartbeats when nothing changes. */
  readonly keepAliveMs: number;
  /** Heartbeats sent (calls that reached the SDK; it throttles what it forwards to the server). */
  sent = 0;
  private last: { at: number; progress?: JobProgress; seq?: number; cursors?: LogCursors; jobUid?: string; note?: string } = { at: 0 };

  constructor(
    private readonly ctx: Context,
    plan: JobPlan,
    readonly prior: RunJobHeartbeat | undefined,
  ) {
    this.tail = new LogTail(plan.tailLines);
    this.recent = [...(prior?.recentLines ?? [])];
    for (const l of this.recent.slice(-plan.tailLines)) this.tail.push(l);
    this.progress = { jobName: plan.jobName, namespace: plan.namespace, phase: 'Creating', active: 0, succeeded: 0, failed: 0 };
    this.jobUid = prior?.jobUid;
    const seq = prior?.logSeq ?? 0;
    const cursors = {};
    this.logState = () => ({ seq, cursors });
    this.keepAliveMs = keepAliveMs(plan.heartbeatMs, ctx.info.heartbeatTimeoutMs);
  }

  /** Sends a heartbeat if what it carries changed since the last one (the SDK throttles them). */
  beat(): void {
    const { seq, cursors, note } = this.logState();
    const l = this.last;
    if (l.progress === this.progress && l.seq === seq && l.cursors === cursors && l.jobUid === this.jobUid && l.note === note) return;
    this.send(seq, cursors, note);
  }

  /** The keep-alive: sends a heartbeat when none was sent for half the keep-alive period. */
  keepAlive(): void {
    if (Date.now() - this.last.at < this.keepAliveMs / 2) return;
    const { seq, cursors, note } = this.logState();
    this.send(seq, cursors, note);
  }

  private send(seq: number, cursors: LogCursors, note: string | undefined): void {
    this.last = { at: Date.now(), progress: this.progress, seq, cursors, jobUid: this.jobUid, note };
    this.sent++;
    this.ctx.heartbeat({
      progress: this.progress,
      logSeq: seq,
      recentLines: this.recent.slice(-RECENT_LINES),
      cursors,
      ...(note ? { logNote: note } : {}),
      ...(this.jobUid ? { jobUid: this.jobUid } : {}),
    } satisfies RunJobHeartbeat);
  }

  /** Updates the progress and sends a heartbeat. */
  update(patch: Partial<JobProgress>): void {
    this.progress = { ...this.progress, ...patch };
    this.beat();
  }

  /** Records a delivered line for the result's tail and the heartbeat's recent lines. */
  pushLine(text: string): void {
    this.tail.push(text);
    this.recent.push(text);
    if (this.recent.length > RECENT_LINES * 2) this.recent.splice(0, this.recent.length - RECENT_LINES);
  }
}
