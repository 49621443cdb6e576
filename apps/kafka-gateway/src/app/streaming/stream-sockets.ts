import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isTopicName, type TopicName } from '@tributary/contracts';
import { KAFKA_CONNECTION, KAFKA_LOGGER, type KafkaConnection, ManagedConsumer, type PartitionBatch } from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import { Authenticator, grants, IdentityProviderUnavailable, presentedCredential, type Principal, TokenRefused } from '@tributary/service';
import { UnreadableBodyError } from '../ingestion/event-batch';
import { EventLanding } from '../ingestion/event-landing';
import { IngestionMetrics } from '../ingestion/ingestion-metrics';
import { ingestionRefusal } from '../ingestion/ingestion-policy';
import { INGESTION_OPTIONS, type IngestionOptions } from '../ingestion/request-body-reader';
import { keyFilterOf, type LiveRecord, type ProducerReply, readProducerFrame } from './socket-frames';

export const STREAM_SOCKET_OPTIONS = Symbol('STREAM_SOCKET_OPTIONS');

export interface StreamSocketOptions {
  /** Bytes a live subscriber may have unsent before records for it are dropped (and counted). */
  readonly maxSubscriberBufferBytes: number;
  /** Frames a producer connection may have waiting for acknowledgements before it is told to retry. */
  readonly maxFramesInFlight: number;
  /** WebSockets one caller (key holder or token subject) may hold open at once (`GATEWAY_WS_MAX_CONNECTIONS_PER_CALLER`). */
  readonly maxConnectionsPerCaller: number;
}

const ROUTE = /^\/v1\/streams\/([^/?#]+)\/(ws|live)(?:\?.*)?$/;
const RETRY_AFTER_MS = 1000;
/** Records dropped in a row for one subscriber before it is disconnected (close code 1013, try again later). */
const SLOW_SUBSCRIBER_DROP_LIMIT = 10_000;

interface Subscriber {
  readonly socket: WebSocket;
  readonly accepts?: (key: string | null) => boolean;
  dropped: number;
}

/** One consumer per subscribed stream, shared by its subscribers; it never commits and reads from the end. */
class LiveStream {
  readonly subscribers = new Set<Subscriber>();
  private readonly consumer: ManagedConsumer;
  /** Resolves once the group has its partitions (subscribers are told they are subscribed then). */
  readonly started: Promise<void>;

  constructor(
    connection: KafkaConnection,
    readonly topic: string,
    groupId: string,
    private readonly maxBufferBytes: number,
    private readonly onDropped: (n: number) => void,
    private readonly logger: Logger,
  ) {
    this.consumer = new ManagedConsumer(connection, {
      groupId,
      topics: [topic],
      fromBeginning: false,
      autoCommit: false,
      maxWaitMs: 100,
      handle: async (batch) => this.fanOut(batch),
      logger,
    });
    this.started = this.consumer.start();
  }

  private fanOut(batch: PartitionBatch): void {
    for (const record of batch.records) {
      if (this.subscribers.size === 0) return;
      const key = record.key === null ? null : record.key.toString('utf8');
      let frame: string | undefined;
      for (const subscriber of this.subscribers) {
        if (subscriber.accepts !== undefined && !subscriber.accepts(key)) continue;
        if (subscriber.socket.readyState !== WebSocket.OPEN) continue;
        if (subscriber.socket.bufferedAmount > this.maxBufferBytes) {
          subscriber.dropped += 1;
          this.onDropped(1);
          if (subscriber.dropped >= SLOW_SUBSCRIBER_DROP_LIMIT) {
            // Told on every record it did get; a subscriber this far behind is let go.
            subscriber.socket.close(1013, `too slow: ${subscriber.dropped} records dropped; reconnect`);
            this.subscribers.delete(subscriber);
          }
          continue;
        }
        if (subscriber.dropped > 0) {
          subscriber.socket.send(JSON.stringify({ type: 'dropped', count: subscriber.dropped }));
          subscriber.dropped = 0;
        }
        frame ??= JSON.stringify(
          this.recordOf(batch.topic, batch.partition, record.offset.toString(), key, record.timestamp.toString(), record.value),
        );
        subscriber.socket.send(frame);
      }
    }
  }

  private recordOf(topic: string, partition: number, offset: string, key: string | null, timestamp: string, raw: Buffer | null): LiveRecord {
    let value: unknown = null;
    if (raw !== null) {
      const text = raw.toString('utf8');
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
    }
    return { type: 'record', topic, partition, offset, key, timestamp, value };
  }

  async stop(): Promise<void> {
    await this.consumer.stop().catch((error: unknown) => this.logger.warn({ err: error, topic: this.topic }, 'live stream consumer did not stop cleanly'));
  }
}

function refuse(socket: Duplex, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ statusCode: status, message });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * WebSockets on the gateway's HTTP port: `/v1/streams/:stream/ws` for long-lived producers (each frame
 * validated and acknowledged once the brokers have it, with the same in-flight bound as HTTP ingestion)
 * and `/v1/streams/:stream/live` to watch a stream as it is written (optionally only some keys).
 * Authentication happens on the upgrade request, with the same API keys and scopes as the HTTP routes.
 */
@Injectable()
export class StreamSockets implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly server: WebSocketServer;
  private readonly live = new Map<string, LiveStream>();
  private readonly openByCaller = new Map<string, number>();
  private readonly connections: Gauge<'kind'>;
  private readonly frames: Counter<'stream' | 'outcome'>;
  private readonly dropped: Counter<'stream'>;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: Authenticator,
    private readonly landing: EventLanding,
    @Inject(INGESTION_OPTIONS) ingestion: IngestionOptions,
    @Inject(STREAM_SOCKET_OPTIONS) private readonly options: StreamSocketOptions,
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
    metrics: TributaryMetrics,
    private readonly ingestionMetrics: IngestionMetrics,
  ) {
    this.server = new WebSocketServer({ noServer: true, maxPayload: ingestion.maxBodyBytes });
    this.connections = new Gauge({
      name: 'tributary_gateway_websocket_connections',
      help: 'Open WebSocket connections, by kind (producer, live)',
      labelNames: ['kind'],
      registers: [metrics.registry],
    });
    this.frames = new Counter({
      name: 'tributary_gateway_websocket_frames_total',
      help: 'Producer frames by outcome (ack, retry, error)',
      labelNames: ['stream', 'outcome'],
      registers: [metrics.registry],
    });
    this.dropped = new Counter({
      name: 'tributary_gateway_live_dropped_total',
      help: 'Live records not sent to a subscriber that was too slow to take them',
      labelNames: ['stream'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    const http = this.adapterHost.httpAdapter.getHttpServer() as import('node:http').Server;
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
  }

  async onModuleDestroy(): Promise<void> {
    for (const client of this.server.clients) client.close(1001, 'the gateway is shutting down');
    await Promise.all([...this.live.values()].map((stream) => stream.stop()));
    this.live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const route = ROUTE.exec(request.url ?? '');
    if (route === null) return refuse(socket, 404, 'Not Found', 'WebSockets are served at /v1/streams/:stream/ws and /v1/streams/:stream/live');
    let stream: string;
    try {
      stream = decodeURIComponent(route[1]);
    } catch {
      return refuse(socket, 400, 'Bad Request', 'the stream name in the path is not valid percent-encoding');
    }
    const kind = route[2] === 'ws' ? 'producer' : 'live';
    if (!isTopicName(stream)) return refuse(socket, 404, 'Not Found', `unknown stream ${stream}: not in the topic catalog`);
    const refusal = kind === 'producer' ? ingestionRefusal(stream) : undefined;
    if (refusal !== undefined) return refuse(socket, 403, 'Forbidden', refusal);
    const presented = presentedCredential(request.headers);
    if (presented === undefined) return refuse(socket, 401, 'Unauthorized', 'a credential is required: Authorization: Bearer <key or token>, or x-api-key');
    this.authenticator.authenticate(presented).then(
      (principal) => this.accept(request, socket, head, stream, kind, principal),
      (error: unknown) => {
        if (error instanceof TokenRefused) return refuse(socket, 401, 'Unauthorized', error.message);
        if (error instanceof IdentityProviderUnavailable) return refuse(socket, 503, 'Service Unavailable', 'the identity provider is unavailable; retry later');
        this.logger.error({ err: error }, 'WebSocket authentication failed');
        return refuse(socket, 500, 'Internal Server Error', 'internal error; the details are in the service log');
      },
    );
  }

  private accept(request: IncomingMessage, socket: Duplex, head: Buffer, stream: TopicName, kind: 'producer' | 'live', principal: Principal | undefined): void {
    if (principal === undefined) return refuse(socket, 401, 'Unauthorized', 'unknown API key');
    const scope = `${kind === 'producer' ? 'produce' : 'read'}:${stream}`;
    if (!grants(principal.scopes, scope)) return refuse(socket, 403, 'Forbidden', `${principal.name} lacks the scope ${scope}`);
    const open = this.openByCaller.get(principal.name) ?? 0;
    if (open >= this.options.maxConnectionsPerCaller) {
      return refuse(socket, 429, 'Too Many Requests', `${principal.name} already holds ${open} WebSockets; at most ${this.options.maxConnectionsPerCaller} per caller`);
    }
    this.openByCaller.set(principal.name, open + 1);
    socket.once('close', () => {
      const left = (this.openByCaller.get(principal.name) ?? 1) - 1;
      if (left <= 0) this.openByCaller.delete(principal.name);
      else this.openByCaller.set(principal.name, left);
    });

    this.server.handleUpgrade(request, socket, head, (ws) => {
      this.connections.inc({ kind });
      ws.once('close', () => this.connections.dec({ kind }));
      this.logger.info({ stream, kind, principal: principal.name }, 'WebSocket opened');
      if (kind === 'producer') this.serveProducer(ws, stream, principal.name);
      else this.serveSubscriber(ws, stream, new URL(request.url ?? '/', 'http://gateway').searchParams.get('keys') ?? undefined);
    });
  }

  private serveProducer(ws: WebSocket, stream: TopicName, caller: string): void {
    let sequence = 0;
    let pending = 0;
    // Replies go out in frame order: each frame's reply waits for the one before it.
    let previous: Promise<void> = Promise.resolve();
    ws.on('message', (data: RawData) => {
      sequence += 1;
      const id = sequence;
      if (ws.bufferedAmount > this.options.maxSubscriberBufferBytes) {
        // The producer sends without reading its acknowledgements: stop rather than queue replies without bound.
        ws.close(1008, 'acknowledgements are not being read; read them before sending more');
        return;
      }
      const reply = this.handleFrame(stream, toBuffer(data), id, pending, caller).catch(
        (error: unknown): ProducerReply => {
          // As for HTTP answers: the cause goes to the log, the producer gets a generic reply.
          this.logger.error({ err: error, stream, frame: id }, 'a producer frame failed');
          return { type: 'error', id, message: 'the frame failed on the gateway; the details are in its log (resend with the same idempotency keys)' };
        },
      );
      pending += 1;
      previous = Promise.all([previous, reply]).then(([, answer]) => {
        pending -= 1;
        this.frames.inc({ stream, outcome: answer.type });
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(answer));
      });
    });
  }

  private async handleFrame(stream: TopicName, data: Buffer, sequence: number, pending: number, caller: string): Promise<ProducerReply> {
    let frame;
    try {
      frame = readProducerFrame(data, sequence);
    } catch (error) {
      if (error instanceof UnreadableBodyError) {
        this.ingestionMetrics.rejectedEvents(stream, 'ws', 'unreadable', 1);
        return { type: 'error', id: sequence, message: error.message };
      }
      throw error;
    }
    if (pending >= this.options.maxFramesInFlight) {
      return { type: 'retry', id: frame.id, retryAfterMs: RETRY_AFTER_MS, message: `${pending} frames of this connection wait for Kafka; resend later` };
    }
    const { results, records } = this.landing.check(stream, frame.events, 'ws', caller);
    const refusal = await this.landing.land(stream, records, 'ws');
    if (refusal?.refused === 'unavailable') return { type: 'error', id: frame.id, message: refusal.message };
    if (refusal !== undefined) return { type: 'retry', id: frame.id, retryAfterMs: RETRY_AFTER_MS, message: refusal.message };
    return { type: 'ack', id: frame.id, accepted: records.length, rejected: results.length - records.length, results };
  }

  private serveSubscriber(ws: WebSocket, stream: TopicName, keys: string | undefined): void {
    const subscriber: Subscriber = { socket: ws, accepts: keyFilterOf(keys), dropped: 0 };
    let live = this.live.get(stream);
    if (live === undefined) {
      live = new LiveStream(
        this.connection,
        stream,
        `tributary-gateway-live-${randomUUID()}`,
        this.options.maxSubscriberBufferBytes,
        (n) => this.dropped.inc({ stream }, n),
        this.logger,
      );
      this.live.set(stream, live);
    }
    const current = live;
    current.subscribers.add(subscriber);
    current.started.then(
      () => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'subscribed', stream })),
      (error: unknown) => {
        this.logger.warn({ err: error, stream }, 'live stream could not start');
        ws.close(1011, 'could not read the stream from Kafka; retry later');
      },
    );
    // Messages from a subscriber are not expected; the connection only carries records out.
    ws.on('close', () => {
      current.subscribers.delete(subscriber);
      if (current.subscribers.size === 0 && this.live.get(stream) === current) {
        this.live.delete(stream);
        void current.stop();
      }
    });
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
