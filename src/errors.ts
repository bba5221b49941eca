import type { FailureTypeName } from './failures.js';

/**
 * The error every worker-side part of this package throws for a known failure. The activity turns it
 * into an `ApplicationFailure` with the same `type`, message, retryability and details.
 */
export class KubernetesJobsError extends Error {
  override readonly name = 'KubernetesJobsError';
  constructor(
    /** One of {@link FailureType}. */
    readonly type: FailureTypeName,
    message: string,
    readonly options: { nonRetryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
  get nonRetryable(): boolean {
    return this.options.nonRetryable ?? true;
  }
  get details(): Record<string, unknown> | undefined {
    return this.options.details;
  }
}

/** First line of an error message (gRPC/native and Kubernetes client errors can be long). */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim()) ?? msg).trim();
}
