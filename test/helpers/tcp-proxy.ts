// A plain TCP proxy on 127.0.0.1 in front of one address (e.g. the Temporal frontend: a worker's gRPC
// connection goes through it), for faults on that connection: latency on every chunk, resetting every
// open connection, and a blackhole (nothing flows, new connections wait) for a while.
import * as net from 'node:net';

export class TcpProxy {
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private delayMs = 0;
  private held: Array<() => void> | undefined;
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly server: net.Server,
    /** host:port of the proxy. */
    readonly address: string,
  ) {}

  /** Starts a proxy to `target` (host:port) on a free loopback port. */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const holder: { proxy?: TcpProxy } = {};
    const server = net.createServer((client) => holder.proxy!.accept(client, host, port));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    holder.proxy = new TcpProxy(server, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    return holder.proxy;
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.connections++;
    client.pause();
    const connect = () => {
      const upstream = net.connect({ host, port });
      const pair = { client, upstream };
      this.pairs.add(pair);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      this.pipe(client, upstream);
      this.pipe(upstream, client);
      client.resume();
    };
    if (this.held) this.held.push(connect);
    else connect();
  }

  /** Copies `from` to `to`, each chunk after the current latency, stalled while a blackhole is on. */
  private pipe(from: net.Socket, to: net.Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = this.delayMs;
      chain = chain.then(async () => {
        if (delay) await new Promise((r) => setTimeout(r, delay));
        while (this.held) await new Promise((r) => setTimeout(r, 50));
        if (!to.destroyed) to.write(chunk);
      });
    });
  }

  /** Adds `ms` of latency to every chunk, both ways (0: none). */
  setLatency(ms: number): void {
    this.delayMs = ms;
  }

  /** Resets every open connection (new ones are accepted as usual). */
  resetAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
  }

  /** Nothing flows for `ms` (open connections stall, new ones wait), then everything resumes. */
  async blackhole(ms: number): Promise<void> {
    this.held = [];
    await new Promise((r) => setTimeout(r, ms));
    const held = this.held;
    this.held = undefined;
    for (const f of held) f();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
