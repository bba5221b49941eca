// Writes docs/PERFORMANCE.md from a benchmark run's results. The doc keeps the latest run of each
// mode (quick and full): each run's raw results are embedded as a comment at the end, so a quick run
// does not erase the full run's figures.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, fmtSummary, round } from './lib.js';

const DOC = path.join(REPO, 'docs/PERFORMANCE.md');
const MARK = /<!-- bench-results:(quick|full) (.*?) -->/g;

function previous() {
  const out = {};
  if (!fs.existsSync(DOC)) return out;
  for (const m of fs.readFileSync(DOC, 'utf8').matchAll(MARK)) {
    try {
      out[m[1]] = JSON.parse(m[2]);
    } catch {
      /* unreadable: dropped */
    }
  }
  return out;
}

const n = (x, unit = '') => (x === null || x === undefined ? 'not measured' : `${round(x)}${unit}`);
const kinds = (byKind) =>
  Object.entries(byKind ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function runSection(r) {
  const out = [];
  const label = r.mode === 'quick' ? 'Quick run (`npm run bench -- --quick`)' : 'Full run (`npm run bench`)';
  out.push(`## ${label}: ${r.date.slice(0, 16).replace('T', ' ')} UTC, code ${r.commit}`, '');
  const all = ['render', 'requests', 'detection', 'concurrency', 'dag', 'breakpoint'];
  const skipped = all.filter((p) => !r.phases.includes(p) || (p === 'breakpoint' && !r.config.breakPoint.length));
  if (skipped.length) out.push(`Phases not run in this run: ${skipped.join(', ')}.`, '');
  out.push(
    `Machine: ${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memGb} GB, Node ${r.machine.node}; load average at start ${r.machine.loadavg.join(' / ')}. ` +
      'A shared 2-core machine: other agents ran builds and timing-sensitive tests at the same time, so CPU and latency figures are pessimistic and noisy; compare runs on the same machine only.',
    '',
    'Summary (the JSON line the run printed last):',
    '',
    '```json',
    JSON.stringify(r.summary),
    '```',
    '',
  );
  if (r.stuckJobs?.length) {
    out.push(`**${r.stuckJobs.length} Job(s) whose activity never returned** (ended by the benchmark ${120} s after the Job's duration; left out of every figure): ${r.stuckJobs.map((j) => `${j.name} (worker ${j.worker}, Job ${j.jobComplete ? 'Complete' : 'not complete'})`).join(', ')}.`, '');
  }
  if (r.render) {
    out.push('### Render', '', `- ${n(r.render.rendersPerSecond)} renders/s with a warm template cache (median of 5 rounds of 5,000); first render (compile + checks) ${n(r.render.firstRenderMs, ' ms')}.`, '');
  }
  if (r.detection) {
    const d = r.detection;
    out.push('### Detection latency', '', `- ${d.measured} of ${d.jobs} Jobs of 1 s, \`logs: end\`, ${d.parallel} at a time: ${fmtSummary(d.ms, ' ms')}.`);
    if (d.breakdown) {
      out.push(
        `  - Complete -> the worker's cleanup DELETE (watch event, final log read, cursor write): ${fmtSummary(d.breakdown.completeToDeleteMs, ' ms')}.`,
        `  - DELETE -> activity return (today's cleanup waits until the Job and its pods are gone): ${fmtSummary(d.breakdown.deleteToReturnMs, ' ms')}.`,
      );
    }
    for (const c of r.requests ?? []) {
      out.push(`- Jobs of ${c.seconds} s, 10 at a time per client: \`end\` ${fmtSummary(c.detectionEnd, ' ms')}; \`periodic\` ${fmtSummary(c.detectionPeriodic, ' ms')}; the reference poller (reads every 5 s) ${fmtSummary(c.detectionPoller, ' ms')}.`);
    }
    if (r.concurrency) {
      const b = r.concurrency.detectionBreakdown;
      out.push(`- Under load (${r.concurrency.jobs} concurrent Jobs): ${fmtSummary(r.concurrency.detectionMs, ' ms')}${b ? `; Complete -> DELETE ${fmtSummary(b.completeToDeleteMs, ' ms')}; DELETE -> return ${fmtSummary(b.deleteToReturnMs, ' ms')}` : ''}.`);
    }
    out.push('');
  }
  if (r.requests) {
    out.push('### API requests per Job lifecycle, per client', '');
    out.push(
      'Mean = all the client\'s requests in the cell / Jobs. Per Job = requests naming one Job (path or selector): median (min-max) over the Jobs; shared = the rest (discovery, reviews, shared watches), per Job.',
      '',
      '| Job duration | client | requests/Job (mean) | per Job: median (min-max) | shared/Job | by kind (per Job) | response kB/Job | new TCP connections/Job |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const c of r.requests) {
      for (const [name, x] of [['worker, `logs: end`', c.end], ['worker, `logs: periodic` (10 s)', c.periodic], ['reference poller', c.poller]]) {
        const s = x.perJobSpread;
        out.push(`| ${c.seconds} s | ${name} | ${x.requests} | ${s?.n ? `${s.p50} (${s.min}-${s.max})` : 'n/a'} | ${x.sharedPerJob} | ${kinds(x.byKind)} | ${x.kbytes} | ${x.connections} |`);
      }
    }
    out.push('', ...r.requests.map((c) => `- ${c.seconds} s Jobs: the poller made ${c.ratioEnd}× the requests of \`end\` and ${c.ratioPeriodic}× those of \`periodic\` (wall time of the cell ${c.wallS} s).`));
    for (const c of r.requests) {
      if (c.end.apiAnswerMs?.n) out.push(`- ${c.seconds} s Jobs, the API server's answer time at the proxy (non-stream requests): \`end\` worker ${fmtSummary(c.end.apiAnswerMs, ' ms')}; poller ${fmtSummary(c.poller.apiAnswerMs, ' ms')}.`);
    }
    out.push('');
  }
  if (r.concurrency) {
    const c = r.concurrency;
    out.push(
      '### Concurrency',
      '',
      `One worker process, ${c.jobs} Jobs of ${c.seconds} s started at once (\`logs: end\`, \`--max-concurrent ${c.jobs + 50}\`)${c.failure ? `: **failed: ${c.failure}**` : ''}.`,
      '',
      `- All started in ${n(c.startAllS, ' s')}; peak ${c.peakConcurrent} Jobs running at once (observer); ${c.completed} completed, ${c.returned} activities returned; wall time ${n(c.wallS, ' s')}.`,
      `- Worker RSS: peak ${n(c.rssPeakMb, ' MB')}, median while all ran ${n(c.rssSteadyMb, ' MB')}, idle before ${n(c.idleRssMb, ' MB')}.`,
      `- Worker CPU: ${n(c.cpuMsPerJob, ' ms')} per Job lifecycle above its idle rate (${n(c.cpuMsPerJobGross, ' ms')} gross; idle ${n(c.idleCpuMsPerS, ' ms/s')}); ${n(c.cpuCoreAvgPct, '%')} of one core on average over the run.`,
      `- Watch and follow streams held: peak ${c.streamsPeak}, median while all ran ${n(c.streamsSteady)}; client TCP connections open: peak ${c.socketsPeak}.`,
      `- Heartbeats sent to Temporal: ${n(c.heartbeatsPerS, '/s')} while all ran, ${n(c.heartbeatsPerSWholeRun, '/s')} over the whole run; ${n(c.heartbeatsPerJobMinute)} per Job-minute (heartbeats / the activities' running time).`,
      `- The benchmark process itself (proxies, observer bookkeeping, Temporal client): ${n(c.harnessCpuCorePct, '%')} of a core over the run.`,
      `- Last Job completion to last activity return: ${n(c.lastCompletionToLastReturnMs, ' ms')}.`,
      `- API requests per Job: ${c.requestsPerJob.requests} (${kinds(c.requestsPerJob.byKind)}); the API server's answer time at the proxy: ${fmtSummary(c.requestsPerJob.apiAnswerMs, ' ms')}; kwok nodes added for room: ${c.nodesAdded}.`,
      '',
    );
    if (c.profile) {
      out.push(`CPU profile of the worker (\`--cpu-prof\`, ${round(c.profile.busyMs)} ms busy of ${round(c.profile.sampledMs)} ms sampled on the main thread). Self time by origin:`, '');
      for (const o of c.profile.origins.filter((x) => x.pctOfBusy !== null).slice(0, 8)) out.push(`- ${o.origin}: ${round(o.pctOfBusy)}%`);
      out.push('', 'Top functions by self time:', '', '| % of busy | function |', '|---|---|');
      for (const t of c.profile.top) out.push(`| ${round(t.pctOfBusy)} | \`${t.fn.replace(/\|/g, '\\|')}\` |`);
      out.push('');
    }
  }
  if (r.breakPoint) {
    out.push('### Break point', '');
    for (const s of r.breakPoint.steps) out.push(`- ${s.jobs} concurrent Jobs: ${s.failure ?? 'all completed'}; RSS peak ${n(s.rssPeakMb, ' MB')}, CPU ${n(s.cpuMsPerJob, ' ms')}/Job, ${n(s.cpuCoreAvgPct, '%')} of a core, start-up ${n(s.startAllS, ' s')}, last completion -> last return ${n(s.lastCompletionToLastReturnMs, ' ms')}.`);
    out.push(r.breakPoint.brokeAt ? `- Broke at ${r.breakPoint.brokeAt}.` : '- Did not break in the steps tried.', '');
  }
  if (r.dag) {
    const d = r.dag;
    out.push('### DAG overhead', '', `- A \`forEach\` of ${d.items} 0 s Jobs: ${d.dagWallS} s, ${d.dagHistoryEvents} history events (${d.dagEventsPerItem} per item, parent and batch children).`, `- The same ${d.items} Jobs as independent workflows: ${d.independentWallS} s, ${d.independentHistoryEvents} history events (${d.independentEventsPerItem} per item).`, '');
  }
  return out.join('\n');
}

const METHOD = `# Performance

Figures of \`npm run bench\` on the local stack (test/stack/up.sh: a real kube-apiserver, Job controller
and scheduler, kwok as the kubelet, the Temporal dev server), and how each was taken. The benchmark
writes this file; the sections "Quick run" and "Full run" hold the latest run of each mode.

Run it: \`npm run bench -- --quick\` (a few minutes) or \`npm run bench\` (full; about an hour).
\`--only render,requests,detection,concurrency,dag,breakpoint\` runs some phases; \`--concurrency N\`
sets the concurrency run's size. The last line printed is the JSON of DESIGN.md "Measured reports";
raw results (every figure below, and more) go to a results.json file whose path is printed.

## How each figure is taken

- **Workers.** Each worker is the package's own CLI worker (\`temporal-k8s-jobs worker\`, from dist/)
  started by bench/worker.js, which installs the Temporal runtime first so as to observe it (nothing
  else changes). Jobs run through the package's \`kubernetesJobWorkflow\` with the built-in
  \`job.yaml.njk\`; kwok runs each pod for the Job's duration and the stack's log writer gives it
  20 log lines spread over that time.
- **Counting proxies.** Every Kubernetes client (each worker, the reference poller) reaches the API
  server through its own counting proxy (bench/counting-proxy.js, also the tests' fault proxy): a
  TLS-terminating HTTPS proxy that counts every request by kind (discovery, get, list, watch, log,
  create, patch, delete, access reviews), response bytes, TCP connections opened, and which
  answers are still open (watches, followed logs). The proxy authenticates upstream with the stack's
  admin certificate. The API server's own metrics would mix in the controller's and kwok's traffic.
- **Detection latency.** A separate observer process (bench/observer.js) watches the benchmark's Jobs
  directly on the API server and records the local time it first receives each Job with its
  \`Complete\` condition true (\`completionTime\` has one-second granularity, too coarse). The activity's
  return is the SDK's own "Activity completed" log entry (the worker's Temporal runtime logger,
  timestamped by the native clock right after the activity function's promise resolved); both clocks
  are this machine's. So the figure covers: the worker's watch receiving the event, the final log
  read, the cursor write and cleanup delete that today's code does before returning. The time for the
  completion to reach Temporal's history is not included.
- **Requests per Job lifecycle.** Per cell (Job duration), each client runs the same number of Jobs at
  once: a worker with \`logs: end\`, a worker with \`logs: periodic\` every 10 s, and the reference
  poller (bench/poller.js): it creates the same rendered Job, reads it every 5 s, every 10 s lists
  the Job's pods and reads the last 100 lines of each pod's log, and at the end reads the logs once
  more and deletes the Job. A count is every request its proxy saw between the cell's start and the
  last result, divided by the Jobs; it includes the worker's startup discovery in the first cell.
- **Concurrency.** A fresh worker process (\`--max-concurrent\` = Jobs + 50) supervises N Jobs started
  at once (\`logs: end\`). kwok nodes of 500 pods are added for room (and removed afterwards).
  - RSS: \`VmRSS\` from /proc, sampled every second (peak, and median while every Job ran).
  - CPU: utime + stime of every thread of the worker (/proc/<pid>/stat, so Temporal's Rust core
    is included) over the run, minus the idle rate measured for 10 s before it, divided by N.
  - Streams: answers still open on the worker's proxy that are watches or followed logs.
  - Heartbeats: Core's Prometheus counter \`temporal_request{operation="RecordActivityTaskHeartbeat"}\`
    of the worker's runtime, i.e. heartbeats actually sent to the server after the SDK's throttling,
    over the window where every Job was running and none had finished.
  - Last completion to last return: the observer's last Complete sighting to the last "Activity
    completed" entry.
  - Profile (full mode): the same run with \`node --cpu-prof\`; self time per function of the main
    thread (Temporal's Rust core threads are not in it).
- **Break point** (full mode): the concurrency run again at 2,000, 5,000 and 10,000 Jobs until one
  fails to complete in time or the worker dies.
- **DAG overhead.** One \`dagWorkflow\` with a \`forEach\` of N Jobs whose pods finish at once, against the
  same N Jobs started as N \`kubernetesJobWorkflow\`s, on the same worker (200 activity slots): wall
  time from start to the last result, and history events summed over every workflow (a DAG's batch
  children included).
- **Render.** bench/render.js: the examples' header/body inheritance template, renders/s with a warm
  compiled-template cache, and the first render (compile and checks).
`;

function scaling(r) {
  const c = r.concurrency;
  const cells = r.requests ?? [];
  const first = cells[0];
  const last = cells.at(-1);
  const streams = c ? (c.streamsSteady ?? c.streamsPeak) : null;
  const lines = ['## How cost scales, and what bounds it', ''];
  if (c) {
    const perJob = streams / c.jobs;
    lines.push(
      `- **With concurrent Jobs.** At ${c.jobs} concurrent Jobs the worker held ${streams} watch/follow streams ` +
        (perJob >= 0.5
          ? `(${round(perJob)} per Job: each running Job has its own list+watch of the Job and of its pods, so streams, sockets and the API server's watchers grow linearly with N)`
          : `(not per Job: shared watches, a constant per namespace)`) +
        `, sent ${n(c.heartbeatsPerS, ' heartbeats/s')} (${n(c.heartbeatsPerJobMinute)} per Job-minute; linear in N), and used ${c.rssPeakMb} MB (${c.idleRssMb} MB idle: ` +
        `${round(((c.rssPeakMb - c.idleRssMb) * 1024) / c.jobs)} kB per Job) and ${c.cpuMsPerJob} ms of CPU per Job lifecycle. ` +
        'Each Job also holds one activity slot for its whole life (`--max-concurrent`; the SDK default is 100). ' +
        "What bounds N: the worker's single event loop (CPU per event and per heartbeat), its heap, the API server's watch fan-out, and Temporal's heartbeat rate (each heartbeat that reaches the server is a persisted update, and a billable action on Temporal Cloud).",
    );
  }
  if (first && last && first !== last) {
    lines.push(
      `- **With Job duration.** \`logs: end\`: ${first.end.requests} requests per ${first.seconds} s Job, ${last.end.requests} per ${last.seconds} s Job` +
        (last.end.requests > first.end.requests * 1.2 ? ' (grows: the API server ends every watch after 5-10 minutes and each re-watch costs requests)' : ' (flat)') +
        `. \`logs: periodic\` (10 s): ${first.periodic.requests} and ${last.periodic.requests}: one log read per container every 10 s, plus a cursor write (a Job PATCH, an event for every watcher of that Job) when new lines came. ` +
        `The reference poller: ${first.poller.requests} and ${last.poller.requests}, linear (a Job read every 5 s, a pod list and a log read per pod every 10 s). ` +
        'Heartbeats grow linearly with duration at a fixed rate per Job.',
    );
  }
  lines.push(
    "- **With log volume.** `end` reads each container's log once, at the end; `periodic` reads it every 10 s while it runs" +
      (last ? ` (response kB per ${last.seconds} s Job of 20 lines: \`end\` ${last.end.kbytes}, \`periodic\` ${last.periodic.kbytes}, poller ${last.poller.kbytes})` : '') +
      '. `follow` (not measured here) holds one stream per container and writes the cursor as chunks arrive, so its cost follows the output rate.',
    '',
  );
  return lines.join('\n');
}

/** Writes docs/PERFORMANCE.md with `results` as its mode's latest run (the other mode's is kept). */
export function writeReport(results) {
  const runs = { ...previous(), [results.mode]: results };
  const parts = [METHOD];
  for (const mode of ['full', 'quick']) {
    if (runs[mode]) parts.push(runSection(runs[mode]));
    else parts.push(`## ${mode === 'full' ? 'Full run (`npm run bench`)' : 'Quick run'}\n\nNot run yet on this code.\n`);
  }
  const latest = runs.full ?? runs.quick;
  parts.push(scaling(latest));
  const bp = runs.full?.breakPoint;
  parts.push(
    `## Break point\n\n${
      bp?.steps?.length
        ? bp.steps.map((s) => `- ${s.jobs}: ${s.failure ?? 'completed'} (RSS ${n(s.rssPeakMb, ' MB')}, ${n(s.cpuCoreAvgPct, '%')} of a core).`).join('\n')
        : 'Not measured yet: the full run searches 2,000, 5,000 and 10,000 concurrent Jobs.'
    }\n`,
  );
  for (const mode of ['full', 'quick']) if (runs[mode]) parts.push(`<!-- bench-results:${mode} ${JSON.stringify(runs[mode]).replace(/--/g, '- -')} -->`);
  fs.writeFileSync(DOC, `${parts.join('\n')}\n`);
}
