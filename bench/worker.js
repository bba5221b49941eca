// The benchmark's worker process: the package's own CLI worker (`temporal-k8s-jobs worker`, from
// dist/), unchanged, in a process whose Temporal runtime the benchmark installs first, to observe it:
// - a logger that takes the SDK's own "Activity completed" debug line (logged by the SDK right after
//   the activity function returned, timestamped by the native clock) and appends
//   `{"workflowId", "t"}` (ms since epoch) to --events FILE; INFO and above go to stderr as usual;
// - Core's Prometheus metrics on --metrics ADDRESS: `temporal_request{operation="RecordActivityTaskHeartbeat"}`
//   counts the heartbeats this worker actually sent to Temporal (after the SDK's throttling).
// The CLI's own installRuntime keeps a runtime installed before it, so nothing else changes.
//
// Usage: node bench/worker.js --events FILE --metrics 127.0.0.1:PORT -- <worker flags...>
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';

const { values: opt, positionals } = parseArgs({ options: { events: { type: 'string' }, metrics: { type: 'string' } }, allowPositionals: true });
if (!opt.events || !opt.metrics) {
  console.error('usage: node bench/worker.js --events FILE --metrics HOST:PORT -- <worker flags>');
  process.exit(2);
}

const events = fs.openSync(opt.events, 'a');
const stderrLogger = new DefaultLogger('INFO');
Runtime.install({
  logger: new DefaultLogger('DEBUG', (entry) => {
    if (entry.message === 'Activity completed' || entry.message === 'Activity failed' || entry.message === 'Activity completed as cancelled') {
      const t = Number(entry.timestampNanos / 1000n) / 1000;
      fs.writeSync(events, `${JSON.stringify({ workflowId: entry.meta?.workflowId, activityType: entry.meta?.activityType, message: entry.message, t })}\n`);
    } else if (entry.level !== 'DEBUG' && entry.level !== 'TRACE') {
      stderrLogger.log(entry.level, entry.message, { ...(entry.meta ?? {}) });
    }
  }),
  shutdownSignals: [],
  telemetryOptions: {
    logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
    metrics: { prometheus: { bindAddress: opt.metrics } },
  },
});

const { main } = await import('../dist/cli/index.js');
process.exitCode = await main(['worker', ...positionals]);
