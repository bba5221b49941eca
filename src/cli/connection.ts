/**
 * How every command that talks to Temporal finds it: `@temporalio/envconfig` (the standard config
 * file and its profiles, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*),
 * with our flags laid over it the way the `temporal` CLI does (a flag wins over its variable).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { UsageError } from './common.js';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';

/** Flags of every command that connects to Temporal. */
export const temporalFlags = {
  address: { type: 'string' },
  'temporal-namespace': { type: 'string' },
  profile: { type: 'string' },
  'api-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-server-name': { type: 'string' },
} as const;

/** Usage lines of {@link temporalFlags}. */
export const TEMPORAL_USAGE = `  --address A              Temporal frontend (default: TEMPORAL_ADDRESS, the profile's, else 127.0.0.1:7233)
  --temporal-namespace N   Temporal namespace (default: TEMPORAL_NAMESPACE, the profile's, else 'default')
  --profile NAME           profile of the Temporal config file (TEMPORAL_CONFIG_FILE, else
                           ~/.config/temporalio/temporal.toml; default: TEMPORAL_PROFILE, else 'default')
  --api-key KEY            API key sent as 'authorization: Bearer KEY' (default: TEMPORAL_API_KEY); turns TLS on
  --tls-cert FILE          client certificate for mTLS (default: TEMPORAL_TLS_CLIENT_CERT_PATH)
  --tls-key FILE           its private key (default: TEMPORAL_TLS_CLIENT_KEY_PATH)
  --tls-ca FILE            CA that signed the server's certificate (default: TEMPORAL_TLS_SERVER_CA_CERT_PATH,
                           else the system's CAs)
  --tls-server-name NAME   name to verify the server's certificate against (default: TEMPORAL_TLS_SERVER_NAME)
`;

/** The flags of {@link temporalFlags} as parsed. */
export type TemporalFlagValues = Partial<Record<keyof typeof temporalFlags, string>>;

/** Where and how to reach Temporal, resolved once per command. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Options for `Connection.connect` and `NativeConnection.connect` (the same shape). */
  options: NativeConnectionOptions & { address: string };
  /** How the connection is secured, for messages: `plaintext`, `TLS`, `mTLS`, plus `, API key`. */
  security: string;
}

/** Which variable each flag stands for (a flag replaces its variable, and the other form of it). */
const FLAG_ENV: Record<keyof typeof temporalFlags, string[]> = {
  address: ['TEMPORAL_ADDRESS'],
  'temporal-namespace': ['TEMPORAL_NAMESPACE'],
  profile: [],
  'api-key': ['TEMPORAL_API_KEY'],
  'tls-cert': ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_DATA'],
  'tls-key': ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_KEY_DATA'],
  'tls-ca': ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_DATA'],
  'tls-server-name': ['TEMPORAL_TLS_SERVER_NAME'],
};

/**
 * Resolves the Temporal connection from flags, environment and config file. Files named by flags
 * or variables must be readable; a client certificate needs its key and the other way round. Each
 * problem is one error naming the flag and its variable.
 */
export function resolveTemporal(flags: TemporalFlagValues, env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') vars[k] = v;
  for (const [flag, names] of Object.entries(FLAG_ENV) as [keyof typeof temporalFlags, string[]][]) {
    const value = flags[flag];
    if (value === undefined || !names.length) continue;
    if (!value.trim()) throw new UsageError(`--${flag} must not be empty`);
    for (const n of names) delete vars[n];
    vars[names[0]!] = value;
  }
  for (const [flag, names] of Object.entries(FLAG_ENV)) {
    const p = names[0];
    if (!p?.endsWith('_PATH') || vars[p] === undefined) continue;
    try {
      fs.accessSync(vars[p], fs.constants.R_OK);
    } catch (err) {
      throw new Error(`cannot read --${flag} ${vars[p]} (${flags[flag as keyof TemporalFlagValues] ? 'flag' : p}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const hasCert = vars.TEMPORAL_TLS_CLIENT_CERT_PATH ?? vars.TEMPORAL_TLS_CLIENT_CERT_DATA;
  const hasKey = vars.TEMPORAL_TLS_CLIENT_KEY_PATH ?? vars.TEMPORAL_TLS_CLIENT_KEY_DATA;
  if (hasCert && !hasKey) throw new Error('a TLS client certificate (--tls-cert / TEMPORAL_TLS_CLIENT_CERT_PATH) was given without its key: add --tls-key FILE (or TEMPORAL_TLS_CLIENT_KEY_PATH)');
  if (hasKey && !hasCert) throw new Error('a TLS client key (--tls-key / TEMPORAL_TLS_CLIENT_KEY_PATH) was given without its certificate: add --tls-cert FILE (or TEMPORAL_TLS_CLIENT_CERT_PATH)');

  let config: ReturnType<typeof loadClientConnectConfig>;
  try {
    config = loadClientConnectConfig({ profile: flags.profile, overrideEnvVars: vars });
  } catch (err) {
    throw new Error(`cannot load the Temporal connection settings${flags.profile ? ` (profile '${flags.profile}')` : ''}: ${(err as Error).message}`, { cause: err });
  }
  const c = config.connectionOptions;
  const address = c.address || DEFAULT_ADDRESS;
  const tls = c.tls;
  const mtls = typeof tls === 'object' && tls !== null && !!tls.clientCertPair;
  const security = `${mtls ? 'mTLS' : tls ? 'TLS' : 'plaintext'}${c.apiKey ? ', API key' : ''}`;
  return { address, namespace: config.namespace || 'default', options: { ...c, address }, security };
}

/** The resolved target in one line for messages: `127.0.0.1:7233 (mTLS)`. */
export function describeTarget(t: TemporalTarget): string {
  return `${t.address} (${t.security})`;
}

const buf = (b: Uint8Array | undefined) => (b ? Buffer.from(b) : undefined);

/** What a failed TLS handshake means, with the flag to look at. */
export function explainTlsError(code: string | undefined, message: string): string {
  if (/ALERT|certificate required|handshake failure|bad certificate|unknown ca/i.test(`${code} ${message}`)) {
    return `the server refused the client certificate (${message}): check --tls-cert and --tls-key (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH)`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the server's certificate is for another name (${message}): check --tls-server-name (TEMPORAL_TLS_SERVER_NAME)`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code ?? '')) {
    return `the server's certificate is not trusted (${message}): check --tls-ca (TEMPORAL_TLS_SERVER_CA_CERT_PATH)`;
  }
  return `TLS handshake failed: ${message}`;
}

/**
 * Why a TLS connection to the target fails, found with one plain TLS handshake (the gRPC clients
 * only say `Failed to connect before the deadline`); undefined when the handshake succeeds.
 */
export function diagnoseTls(t: TemporalTarget, timeoutMs = 3000): Promise<string | undefined> {
  const o = t.options.tls;
  if (!o) return Promise.resolve(undefined);
  const cfg = typeof o === 'object' ? o : {};
  const i = t.address.lastIndexOf(':');
  const host = t.address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(t.address.slice(i + 1));
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const servername = cfg.serverNameOverride ?? (net.isIP(host) ? undefined : host);
    const socket = tls.connect({
      host,
      port,
      servername,
      ca: buf(cfg.serverRootCACertificate),
      cert: buf(cfg.clientCertPair?.crt),
      key: buf(cfg.clientCertPair?.key),
      ALPNProtocols: ['h2'],
      // Name checks as the gRPC clients do them: against the server name, else the address's host.
      checkServerIdentity: (_h, cert) => tls.checkServerIdentity(servername ?? host, cert),
    });
    // With TLS 1.3 the server's refusal of a client certificate comes just after the handshake.
    socket.on('secureConnect', () => socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')));
    socket.on('data', () => finish(undefined));
    // OpenSSL's messages run over lines; its `reason` is the readable part.
    socket.on('error', (err: NodeJS.ErrnoException & { reason?: string }) => finish(explainTlsError(err.code, err.reason ?? firstLine(err.message))));
    socket.on('close', () => finish(undefined));
    const timer = setTimeout(() => finish(undefined), timeoutMs);
  });
}

const firstLine = (msg: string) => (msg.split('\n').find((l) => l.trim()) ?? msg).trim();

async function unreachable(t: TemporalTarget, err: unknown): Promise<Error> {
  const first = firstLine(err instanceof Error ? err.message : String(err));
  const why = await diagnoseTls(t).catch(() => undefined);
  return new Error(`cannot reach Temporal at ${describeTarget(t)}: ${why ?? first}`, { cause: err });
}

/** A client Connection, with one clear error when Temporal cannot be reached or refuses the TLS handshake. */
export async function connectClient(t: TemporalTarget): Promise<Connection> {
  quietIpServerNameWarning();
  try {
    return await Connection.connect({ ...t.options, connectTimeout: '5s' });
  } catch (err) {
    throw await unreachable(t, err);
  }
}

/** A NativeConnection for workers, with the same clear error. */
export async function connectNative(t: TemporalTarget): Promise<NativeConnection> {
  quietIpServerNameWarning();
  try {
    return await NativeConnection.connect(t.options);
  } catch (err) {
    throw await unreachable(t, err);
  }
}

/**
 * Node warns (DEP0123) when a TLS server name is an IP address, which the gRPC client does for
 * `--address 127.0.0.1:7233` over TLS; the CLI keeps its stderr to one line per problem.
 */
let quieted = false;
export function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const listeners = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.code === 'DEP0123') return;
    for (const l of listeners) l.call(process, w);
  });
}

/** The `address`, `temporal` and `temporalNamespace` fields of a command's options. */
export function temporalOptions(flags: TemporalFlagValues, env: NodeJS.ProcessEnv = process.env): { address: string; temporal: TemporalTarget; temporalNamespace: string } {
  const temporal = resolveTemporal(flags, env);
  return { address: temporal.address, temporal, temporalNamespace: temporal.namespace };
}
