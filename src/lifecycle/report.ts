/**
 * Progress and heartbeats of one attempt: what the Temporal UI, the CLI and the next attempt see.
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

/** Holds the attempt's progress, recent lines and log tail, and sends them as heartbeats. */
export class Reporter {
  progress: JobProgress;
  jobUid: string | undefined;
  readonly tail: LogTail;
  private readonly recent: string[];
  /** Where the delivered-line count and cursors come from (the log delivery, once it exists). */
  logState: () => { seq: number; cursors: LogCursors; note?: string };

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
    this.logState = () => ({ seq, cursors: {} });
  }

  /** Sends a heartbeat with the current state (the SDK throttles them). */
  beat(): void {
    const { seq, cursors, note } = this.logState();
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
