import type { IncomingMessage } from 'node:http';
import type { Command } from 'commander';
import WebSocket from 'ws';
import { CliError, EXIT, usageError } from '../lib/cli-error';
import type { CliContext, Runner } from '../lib/cli-context';
import { refusal, unreachable } from '../lib/service-client';

/** One record of the live stream, as the gateway sends it. */
export interface RecordFrame {
  type: 'record';
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** Broker timestamp, epoch ms. */
  timestamp: string;
  value: unknown;
}

export interface TailOptions {
  keys?: string;
  limit?: string;
  json?: boolean;
}

/** `--keys A,B` as a list (none: every key) and `--limit N` as a number (none: until stopped). */
export function tailSettings(options: TailOptions): { keys: string[]; limit: number | undefined } {
  let keys: string[] = [];
  if (options.keys !== undefined) {
    keys = options.keys
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '');
    if (keys.length === 0) throw usageError('--keys names no key');
  }
  let limit: number | undefined;
  if (options.limit !== undefined) {
    limit = Number(options.limit);
    if (!/^\d+$/.test(options.limit.trim()) || !Number.isSafeInteger(limit) || limit < 1)
      throw usageError(
        `--limit must be a whole number of records, at least 1, got ${JSON.stringify(options.limit)}`,
      );
  }
  return { keys, limit };
}

/** `ws://host:port/v1/streams/<stream>/live?keys=A,B` from the gateway's http(s) URL. */
export function liveUrl(baseUrl: string, stream: string, keys: readonly string[]): string {
  const url = new URL(`/v1/streams/${encodeURIComponent(stream)}/live`, `${baseUrl}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (keys.length > 0) url.searchParams.set('keys', keys.join(','));
  return url.toString();
}

/** One line per record: broker time, where it is, key and value. */
export function recordLine(record: RecordFrame): string {
  const ms = Number(record.timestamp);
  const time = Number.isFinite(ms) ? new Date(ms).toISOString() : record.timestamp;
  const value = typeof record.value === 'string' ? record.value : JSON.stringify(record.value);
  return `${time}  ${record.topic}/${record.partition}@${record.offset}  ${record.key ?? '-'}  ${value}`;
}

/** Reads the body of a refused upgrade, as a refused HTTP request's. */
function bodyOf(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Follows a stream until `limit` records arrived, `stop` is called (Ctrl-C) or the gateway closes
 * the socket; the exit code. The records go to stdout, the subscription and drops to stderr.
 */
export function follow(
  context: CliContext,
  stream: string,
  options: TailOptions,
  onStop: (stop: () => void) => () => void,
): Promise<number> {
  const { keys, limit } = tailSettings(options);
  const service = 'kafka-gateway';
  const baseUrl = context.endpoints.urls[service];
  const apiKey = context.endpoints.apiKey;
  const { io } = context;
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    let received = 0;
    let opened = false;
    const socket = new WebSocket(liveUrl(baseUrl, stream, keys), {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      handshakeTimeout: 30_000,
    });
    const finish = (outcome: number | CliError) => {
      if (settled) return;
      settled = true;
      removeStop();
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)
        socket.close(1000);
      if (typeof outcome === 'number') resolve(outcome);
      else reject(outcome);
    };
    const removeStop = onStop(() => finish(EXIT.ok));
    socket.on('open', () => {
      opened = true;
    });
    // attached at creation: the gateway may send `subscribed` together with the upgrade
    socket.on('message', (data) => {
      if (settled) return;
      let frame: { type?: string; count?: number };
      try {
        frame = JSON.parse(data.toString()) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'subscribed') io.err(`subscribed to ${stream}`);
      else if (frame.type === 'dropped')
        io.err(`dropped ${frame.count ?? '?'} record(s): reading slower than ${stream} is written`);
      else if (frame.type === 'record') {
        io.out(options.json ? JSON.stringify(frame) : recordLine(frame as RecordFrame));
        received++;
        if (limit !== undefined && received >= limit) finish(EXIT.ok);
      }
    });
    socket.on('unexpected-response', (_request, response) => {
      void bodyOf(response).then((body) =>
        finish(refusal(service, baseUrl, response.statusCode ?? 0, body, apiKey !== undefined)),
      );
    });
    socket.on('error', (error) => {
      finish(
        !opened
          ? unreachable(service, baseUrl, new Error(error.message, { cause: error }))
          : new CliError(`${service} at ${baseUrl}: ${error.message}`, EXIT.failed),
      );
    });
    socket.on('close', (code, reason) => {
      const why = reason.toString();
      finish(
        new CliError(
          `${service} at ${baseUrl} closed the live stream (${code}${why ? `: ${why}` : ''})`,
          EXIT.failed,
        ),
      );
    });
  });
}

export function registerTail(program: Command, run: Runner): void {
  program
    .command('tail <stream>')
    .description(
      'prints the records of a stream as they are written (kafka-gateway /v1/streams/:stream/live)',
    )
    .option('--keys <list>', 'only these record keys (comma-separated, e.g. symbols)')
    .option('--limit <n>', 'stop after this many records')
    .option('--json', 'print each record frame as one JSON line')
    .action(async (stream: string, options: TailOptions, cmd: Command) =>
      run(cmd, async (context) =>
        follow(context, stream, options, (stop) => {
          process.once('SIGINT', stop);
          return () => process.removeListener('SIGINT', stop);
        }),
      ),
    );
}
