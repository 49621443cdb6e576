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

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** The port it listens on (the same one again after a restore). */
  get port(): number {
    return this.listening;
  }

  /** Starts listening, on a free port the first time and on the same port afterwards; returns it. */
  async open(): Promise<number> {
    const server = createServer((client) => {
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

  /** Refuses new connections and resets those in place. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
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
