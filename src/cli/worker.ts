/** `temporal-k8s-jobs worker`: a Temporal worker running Kubernetes Jobs (also embedded by `run`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker, type NativeConnection, type LogLevel } from '@temporalio/worker';
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultNamespace, loadKubeConfig } from '../kube.js';
import { missingPermissions, preflightMessage } from '../preflight.js';
import { KubernetesJobsPlugin } from '../plugin.js';
import { PACKAGE_TEMPLATES_DIR } from '../render.js';
import { kubernetesReachable, parseHostPort, startHealthServer, type HealthServer } from '../health.js';
import { METRIC_BUCKETS } from '../metrics.js';
import { firstLine } from '../errors.js';
import { type Io, UsageError, checkTemplateDirs, parse, valuesFromArgs } from './common.js';
import { TEMPORAL_USAGE, connectNative, describeTarget, resolveTemporal, temporalFlags } from './connection.js';

export const DEFAULT_TASK_QUEUE = 'kubernetes-jobs';
/** Flags shared by `worker` and `run` for Temporal and Kubernetes connections. */
export const connectionOptions = {
  ...temporalFlags,
  'task-queue': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  namespace: { type: 'string' },
} as const;

/**
 * The package's own workflows module: `../workflow/index.js` next to this file when built (dist/),
 * `index.ts` when running from sources (ts-jest, tsx).
 */
export function packageWorkflowsPath(): string {
  for (const file of ['index.js', 'index.ts']) {
    const p = fileURLToPath(new URL(`../workflow/${file}`, import.meta.url));
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`the package's workflows are missing (${fileURLToPath(new URL('../workflow/', import.meta.url))}); run 'npm run build'`);
}

/**
 * Installs the Temporal runtime with our own signal handling (no SDK shutdown signals: the CLI
 * decides what Ctrl-C means) and a logger at `level`; with `metricsAddress`, the SDK's Prometheus
 * exporter on it, which serves the SDK's worker metrics and this package's (src/metrics.ts). A
 * runtime installed earlier in this process (tests calling main() twice) is kept as it is.
 */
export function installRuntime(level: LogLevel, metricsAddress?: string): void {
  if (runtimeInstalled) return;
  try {
    Runtime.install({
      logger: new DefaultLogger(level),
      shutdownSignals: [],
      telemetryOptions: {
        logging: { filter: { core: level === 'ERROR' ? 'ERROR' : 'WARN', other: 'ERROR' }, forward: {} },
        ...(metricsAddress ? { metrics: { prometheus: { bindAddress: metricsAddress, histogramBucketOverrides: METRIC_BUCKETS } } } : {}),
      },
    });
    runtimeInstalled = true;
  } catch (err) {
    if (/already been (installed|instantiated)/i.test((err as Error).message)) return; // keep the earlier one
    throw new Error(`cannot start the Temporal runtime${metricsAddress ? ` with metrics on ${metricsAddress}` : ''}: ${firstLine(err)}`, { cause: err });
  }
}
let runtimeInstalled = false;

/** A `host:port` flag value, or a usage error naming the flag. */
function hostPort(flag: string, value: string | undefined): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const a = parseHostPort(value);
  if (!a) throw new UsageError(`${flag} must be host:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464), got '${value}'`);
  return a;
}

export { firstLine };

export interface JobsWorkerOptions {
  connection: NativeConnection;
  /** Temporal namespace. */
  namespace: string;
  taskQueue: string;
  /** Template directories (searched before the built-in templates). */
  templateDirs: string[];
  /** Default Kubernetes namespace for Jobs. */
  k8sNamespace?: string;
  kubeConfig: KubeConfig;
  maxConcurrent?: number;
  /** Values every Job gets, under its own values. */
  defaultValues?: Record<string, unknown>;
  /** Where inputs' `writeRenderedTo` may write (`--rendered-dir`). */
  renderedOutputDir?: string;
}

/** A Worker with the package's workflows and the Kubernetes Job activities. */
export async function createJobsWorker(o: JobsWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    workflowsPath: packageWorkflowsPath(),
    plugins: [new KubernetesJobsPlugin({ templateDirs: o.templateDirs, namespace: o.k8sNamespace, kubeConfig: o.kubeConfig, defaultValues: o.defaultValues, renderedOutputDir: o.renderedOutputDir })],
    // This worker runs only the package's activities, so it may set the throttle: the activity
    // heartbeats on progress changes (plus a keep-alive); without this the SDK forwards them only every
    // 80% of the heartbeat timeout, and progress (in the UI, in 'run') would lag by that much.
    maxHeartbeatThrottleInterval: '2s',
    // Default 1000 slots (the plugin's); the plugin logs when all are in use.
    ...(o.maxConcurrent ? { maxConcurrentActivityTaskExecutions: o.maxConcurrent } : {}),
  });
}

/** How template directories are shown in one line. */
export function describeTemplateDirs(dirs: string[]): string {
  return [...dirs.map((d) => path.resolve(d)), `${path.resolve(PACKAGE_TEMPLATES_DIR)} (built-in)`].join(', ');
}

/** A positive integer flag, or a usage error naming the flag. */
export function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new UsageError(`${flag} must be a positive whole number, got '${value}'`);
  return Number(value);
}

export const workerUsage = `Usage: temporal-k8s-jobs worker [--task-queue Q] [--templates DIR]... [--namespace NS]
         [--set key=value]... [--set-json key=JSON]... [-f|--values FILE]...
         [--kubeconfig FILE] [--context NAME] [--in-cluster] [--max-concurrent N] [--rendered-dir DIR] [--skip-preflight] [--verbose]
         [--metrics-address HOST:PORT] [--health-address HOST:PORT]
         [--address A] [--temporal-namespace N] [--profile NAME] [--api-key KEY]
         [--tls-cert FILE --tls-key FILE] [--tls-ca FILE] [--tls-server-name NAME]

Runs a Temporal worker that executes Kubernetes Jobs (the kubernetesJobWorkflow and dagWorkflow
workflows and their activities) until SIGINT/SIGTERM, then shuts down gracefully.
  --task-queue Q          task queue to poll (default: kubernetes-jobs)
  --templates DIR         template directory searched before the built-in templates (repeatable, in order)
  --namespace NS          Kubernetes namespace for Jobs whose input and template give none
                          (default: the kubeconfig context's namespace, else 'default')
  --set key=value         a default value every Job gets, under its own values (e.g. --set image=$IMAGE);
                          nested keys with dots (a.b=c)
  --set-json key=JSON     a default value parsed as JSON
  -f, --values FILE       YAML file of default values (repeatable; later files win, --set wins over files)
  --kubeconfig FILE       kubeconfig file (default: KUBECONFIG, else ~/.kube/config; in a pod: its service account)
  --context NAME          kubeconfig context (default: the current context)
  --in-cluster            use the pod's service account
  --max-concurrent N      Jobs run at once by this worker (default: 1000; a warning is logged when all are in use)
  --rendered-dir DIR      the only directory where inputs' writeRenderedTo may write rendered YAML
                          ('.' or a relative subdirectory of DIR; refused without this flag)
  --skip-preflight        start without checking (SelfSubjectAccessReview) that the credentials allow
                          every verb the Job lifecycle uses in --namespace (see rbac/)
  --metrics-address A     serve Prometheus metrics on http://A/metrics: the Temporal SDK's worker metrics
                          and this package's (temporal_k8s_jobs_*: Jobs started/succeeded/failed, durations,
                          detection latency, log lines, Kubernetes API errors, Jobs supervised now)
  --health-address A      serve /livez (the process runs) and /readyz (polling, Temporal and the Kubernetes
                          API server answer; checked at most every 5 s) on http://A
  -v, --verbose           debug logging, details and stack traces on errors
Temporal connection (as the temporal CLI: flags, else TEMPORAL_* variables, else the config file's profile):
${TEMPORAL_USAGE}`;

export async function workerCommand(args: string[], io: Io): Promise<number> {
  const { values: opts, positionals } = parse(
    args,
    {
      ...connectionOptions,
      templates: { type: 'string', multiple: true },
      set: { type: 'string', multiple: true },
      'set-json': { type: 'string', multiple: true },
      values: { type: 'string', short: 'f', multiple: true },
      'max-concurrent': { type: 'string' },
      'rendered-dir': { type: 'string' },
      'skip-preflight': { type: 'boolean' },
      'metrics-address': { type: 'string' },
      'health-address': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    'worker',
  );
  if (opts.help) {
    io.out(workerUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`worker takes no arguments, got '${positionals[0]}'`);
  const maxConcurrent = positiveInt('--max-concurrent', opts['max-concurrent']);
  const metricsAddress = hostPort('--metrics-address', opts['metrics-address']);
  const healthAddress = hostPort('--health-address', opts['health-address']);
  const temporal = resolveTemporal(opts);
  const namespace = temporal.namespace;
  const taskQueue: string = opts['task-queue'] || DEFAULT_TASK_QUEUE;
  const templateDirs: string[] = opts.templates ?? [];
  checkTemplateDirs(templateDirs);
  const renderedOutputDir = opts['rendered-dir'] === undefined ? undefined : path.resolve(opts['rendered-dir']);
  if (renderedOutputDir !== undefined && !fs.statSync(renderedOutputDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--rendered-dir ${opts['rendered-dir']}: not a directory (create it first)`);
  }

  const defaultValues = valuesFromArgs(args);

  // Credentials first: a worker without them would fail every Job.
  const kubeConfig = loadKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context, inCluster: opts['in-cluster'] });
  if (!opts['skip-preflight']) {
    // Its RBAC next: a missing rule would fail every Job; say so once, now.
    const k8sNamespace = opts.namespace || defaultNamespace(kubeConfig);
    let missing;
    try {
      missing = await missingPermissions(kubeConfig, [k8sNamespace]);
    } catch (err) {
      throw new Error(`cannot check the worker's permissions with the Kubernetes API server (${kubeConfig.getCurrentCluster()?.server ?? 'no server'}): ${firstLine(err)}`, { cause: err });
    }
    if (missing.length) throw new Error(preflightMessage(missing));
  }

  installRuntime(opts.verbose ? 'DEBUG' : 'INFO', metricsAddress ? opts['metrics-address']!.trim() : undefined);
  // Liveness answers from here on; readiness once the worker polls and both servers answer.
  let worker: Worker | undefined;
  let connection: NativeConnection | undefined;
  let health: HealthServer | undefined;
  if (healthAddress) {
    try {
      health = await startHealthServer(healthAddress, {
        worker: async () => {
          if (worker?.getState() !== 'RUNNING') throw new Error(`not polling (${worker?.getState() ?? 'starting'})`);
        },
        temporal: async () => {
          if (!connection) throw new Error('not connected yet');
          await connection.workflowService.getSystemInfo({});
        },
        kubernetes: kubernetesReachable(kubeConfig),
      });
    } catch (err) {
      throw new Error(`cannot serve health endpoints on ${opts['health-address']}: ${firstLine(err)}`, { cause: err });
    }
  }
  try {
    connection = await connectNative(temporal);
  } catch (err) {
    await health?.close();
    throw err;
  }
  try {
    worker = await createJobsWorker({
      connection,
      namespace,
      taskQueue,
      templateDirs,
      k8sNamespace: opts.namespace,
      kubeConfig,
      maxConcurrent,
      defaultValues,
      renderedOutputDir,
    });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        io.err(`${signal}: shutting down gracefully (Ctrl-C again to exit at once)...\n`);
        worker!.shutdown();
      } else {
        io.err(`${signal} again: exiting now\n`);
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const running = worker.run();
      const defaults = Object.keys(defaultValues);
      const served = [
        ...(metricsAddress ? [`metrics on http://${opts['metrics-address']!.trim()}/metrics`] : []),
        ...(health && healthAddress ? [`health on http://${healthAddress.host.includes(':') ? `[${healthAddress.host}]` : healthAddress.host}:${health.port}/livez and /readyz`] : []),
      ];
      io.out(
        `worker ready: task queue ${taskQueue} on ${describeTarget(temporal)} (temporal namespace ${namespace}; templates: ${describeTemplateDirs(templateDirs)}` +
          `${defaults.length ? `; default values: ${defaults.join(', ')}` : ''})\n` +
          (served.length ? `serving ${served.join('; ')}\n` : ''),
      );
      await running;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    io.out('worker stopped\n');
    return 0;
  } finally {
    await health?.close();
    await connection.close();
  }
}
