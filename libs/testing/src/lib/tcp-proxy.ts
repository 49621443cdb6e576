import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP hop in front of a real server (PostgreSQL, S3, a Kafka broker) that a test cuts and restores,
 * to see how a client behaves when its dependency goes away and comes back without touching the
 * server itself. It forwards bytes unchanged; nothing of the protocol is imitated. While cut, new
 * connections are refused and those in place are reset, as when a host or the network goes away.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private listening = 0;
  private mode: 'open' | 'refusing' | 'silent' = 'open';
  /** Connections that arrived while refusing or silent. */
  private turnedAway = 0;
  /** Sockets held open without carrying anything (silent mode). */
  private readonly held = new Set<Socket>();

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** The port it listens on (the same one again after a restore). */
  get port(): number {
    return this.listening;
  }

  /** Client connections being forwarded now. */
  get openConnections(): number {
    return this.sockets.size / 2;
  }

  /** Connections that arrived while the proxy refused them or stayed silent. */
  get refusedConnections(): number {
    return this.turnedAway;
  }

  /** Starts listening, on a free port the first time and on the same port afterwards; returns it. */
  async open(): Promise<number> {
    const server = createServer((client) => {
      if (this.mode !== 'open') {
        this.turnedAway++;
        client.on('error', () => undefined);
        if (this.mode === 'refusing') client.resetAndDestroy();
        else this.held.add(client);
        return;
      }
      const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listening, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.listening = (server.address() as AddressInfo).port;
    return this.listening;
  }

  /**
   * Keeps listening but resets every connection in place and each new one as it arrives
   * (counted in {@link refusedConnections}): a server that went away, seen by a client that keeps
   * dialling.
   */
  refuse(): void {
    this.mode = 'refusing';
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  /**
   * A network blackhole: connections in place stop carrying anything (no reset, no answer) and
   * new ones are accepted but never answered (counted in {@link refusedConnections}).
   */
  silence(): void {
    this.mode = 'silent';
    for (const socket of this.sockets) {
      socket.unpipe();
      socket.pause();
      this.held.add(socket);
    }
    this.sockets.clear();
  }

  /** Forwards new connections again after {@link refuse} or {@link silence}; silenced ones are reset. */
  restore(): void {
    this.mode = 'open';
    for (const socket of this.held) socket.resetAndDestroy();
    this.held.clear();
  }

  /** Refuses new connections and resets those in place. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of [...this.sockets, ...this.held]) socket.resetAndDestroy();
    this.sockets.clear();
    this.held.clear();
    await closed;
  }
}

/** A TCP port nothing listens on (taken from the OS, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
