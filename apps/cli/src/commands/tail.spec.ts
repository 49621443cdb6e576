import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { CliContext, type Io } from '../lib/cli-context';
import { follow, liveUrl, recordLine, tailSettings, type RecordFrame } from './tail';

const record: RecordFrame = {
  type: 'record',
  topic: 'market.quotes',
  partition: 3,
  offset: '42',
  key: 'SPY',
  timestamp: '1767621600000',
  value: { symbol: 'SPY', bidPrice: 1 },
};

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    progress: () => undefined,
  };
}

describe('tail', () => {
  it('reads --keys and --limit, refusing what is not a key list or a count', () => {
    expect(tailSettings({ keys: 'SPY, QQQ', limit: '5' })).toEqual({ keys: ['SPY', 'QQQ'], limit: 5 });
    expect(tailSettings({})).toEqual({ keys: [], limit: undefined });
    for (const bad of [{ keys: ' , ' }, { limit: '0' }, { limit: 'ten' }, { limit: '1.5' }]) {
      expect(() => tailSettings(bad)).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });

  it("finds the live socket on the gateway's URL", () => {
    expect(liveUrl('http://127.0.0.1:3102', 'market.quotes', ['SPY', 'QQQ'])).toBe(
      'ws://127.0.0.1:3102/v1/streams/market.quotes/live?keys=SPY%2CQQQ',
    );
    expect(liveUrl('https://ops.example.com', 'candles.1m', [])).toBe(
      'wss://ops.example.com/v1/streams/candles.1m/live',
    );
  });

  it('prints a record as time, place, key and value', () => {
    expect(recordLine(record)).toBe(
      '2026-01-05T14:00:00.000Z  market.quotes/3@42  SPY  {"symbol":"SPY","bidPrice":1}',
    );
    expect(recordLine({ ...record, key: null, value: 'text' })).toContain('@42  -  text');
  });

  describe('against a socket server', () => {
    let server: Server;
    let baseUrl: string;
    const sockets = new WebSocketServer({ noServer: true });

    beforeAll(async () => {
      server = createServer();
      server.on('upgrade', (request, socket, head) => {
        if (request.headers.authorization !== 'Bearer good-key') {
          const body = JSON.stringify({
            statusCode: 403,
            message: 'desk lacks the scope read:market.quotes',
          });
          socket.end(
            `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
          );
          return;
        }
        sockets.handleUpgrade(request, socket, head, (ws) => {
          // everything at once, right with the upgrade
          ws.send(JSON.stringify({ type: 'subscribed', stream: 'market.quotes' }));
          ws.send(JSON.stringify({ type: 'dropped', count: 2 }));
          for (let i = 0; i < 3; i++) ws.send(JSON.stringify({ ...record, offset: String(i) }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      for (const client of sockets.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    });

    function context(io: Io, apiKey: string): CliContext {
      return CliContext.of({ optsWithGlobals: () => ({ gatewayUrl: baseUrl, apiKey }) } as never, io, {
        XDG_CONFIG_HOME: '/nonexistent-dir',
      });
    }

    it('stops after --limit records, with the subscription and drops on stderr', async () => {
      const io = capture();
      expect(
        await follow(
          context(io, 'good-key'),
          'market.quotes',
          { limit: '2', json: true },
          () => () => undefined,
        ),
      ).toBe(0);
      expect(io.stdout.map((line) => (JSON.parse(line) as RecordFrame).offset)).toEqual(['0', '1']);
      expect(io.stderr).toEqual([
        'subscribed to market.quotes',
        'dropped 2 record(s): reading slower than market.quotes is written',
      ]);
    });

    it('ends with exit 0 when stopped (Ctrl-C)', async () => {
      const io = capture();
      const code = await follow(context(io, 'good-key'), 'market.quotes', {}, (stop) => {
        const timer = setInterval(() => io.stdout.length >= 3 && stop(), 10);
        return () => clearInterval(timer);
      });
      expect(code).toBe(0);
      expect(io.stdout).toHaveLength(3);
    });

    it('maps a refused upgrade to the message and exit code of a refused request', async () => {
      await expect(
        follow(context(capture(), 'other-key'), 'market.quotes', {}, () => () => undefined),
      ).rejects.toMatchObject({
        exitCode: 1,
        message: `kafka-gateway at ${baseUrl} refused: the key lacks the scope (403): desk lacks the scope read:market.quotes`,
      });
    });

    it('a gateway nobody listens on is exit 3', async () => {
      const io = capture();
      const closed = CliContext.of(
        { optsWithGlobals: () => ({ gatewayUrl: 'http://127.0.0.1:9' }) } as never,
        io,
        { XDG_CONFIG_HOME: '/nonexistent-dir' },
      );
      await expect(follow(closed, 'market.quotes', {}, () => () => undefined)).rejects.toMatchObject({
        exitCode: 3,
        message: 'kafka-gateway at http://127.0.0.1:9 is unreachable (connection refused)',
      });
    });
  });
});
