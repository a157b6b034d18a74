// Prometheus metrics of a session, as a sink of its events. Counting is plain numbers in maps
// keyed by strings the decoder already holds (method names), so an event costs a few map
// lookups and no allocation; prom-client only reads them when /metrics is scraped.

import client from 'prom-client';
import { isFieldTable, tableString } from '../decoder/field-table.js';
import type { Direction, SpyEvent } from '../events.js';

/** What the recorder says of itself, read at each scrape. */
export interface RecordingGauges {
  readonly bytesWritten: number;
  readonly eventsLost: number;
}

interface FrameCount {
  frames: number;
  bytes: number;
}

interface TrackedConnection {
  readonly client: string;
  name: string;
  /** open channels: their latest unacked deliveries and unconfirmed publishes */
  readonly channels: Map<number, { unacked: number; unconfirmed: number }>;
}

/** Message outcomes counted over the session (the `outcome` label of amqp_spy_messages_total). */
const OUTCOMES = ['published', 'delivered', 'acked', 'nacked', 'rejected', 'returned', 'confirmed', 'confirm_nacked'] as const;
type Outcome = (typeof OUTCOMES)[number];

/** Reply latency buckets (seconds): loopback RPCs take ~0.1 ms, a declare on a busy broker seconds. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class SessionMetrics {
  readonly registry = new client.Registry();
  private readonly frames: Record<Direction, Map<string, FrameCount>> = { c2s: new Map(), s2c: new Map() };
  private readonly outcomes = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  private readonly errors = new Map<string, { code: number; name: string; scope: string; count: number }>();
  private readonly decodeErrors = new Map<string, number>();
  private readonly connections = new Map<number, TrackedConnection>();
  private connectionsOpened = 0;
  private connectionsClosed = 0;
  private channelsOpened = 0;
  private channelsClosed = 0;
  private readonly latency: client.Histogram<'method'>;
  /** read at each scrape when a recording is made */
  recording: RecordingGauges | undefined;

  constructor() {
    const registry = this.registry;
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (metric: client.Counter<L>) => void) =>
      new client.Counter<L>({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          fill(this);
        },
      });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (metric: client.Gauge<L>) => void) =>
      new client.Gauge<L>({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          fill(this);
        },
      });

    counter('amqp_spy_connections_opened_total', 'AMQP connections opened (TCP accepted)', [], (m) => m.inc(this.connectionsOpened));
    counter('amqp_spy_connections_closed_total', 'AMQP connections closed', [], (m) => m.inc(this.connectionsClosed));
    gauge('amqp_spy_connections', 'AMQP connections open now', [], (m) => m.set(this.connections.size));
    counter('amqp_spy_channels_opened_total', 'channels opened (channel.open-ok)', [], (m) => m.inc(this.channelsOpened));
    counter('amqp_spy_channels_closed_total', 'channels closed (channel.close-ok, or with their connection)', [], (m) => m.inc(this.channelsClosed));
    gauge('amqp_spy_channels', 'channels open now', [], (m) => m.set(this.channelsOpened - this.channelsClosed));
    counter(
      'amqp_spy_frames_total',
      'frames by direction and method (content-header, content-body, heartbeat for the others)',
      ['direction', 'method'],
      (m) => {
        for (const direction of ['c2s', 's2c'] as const) for (const [method, count] of this.frames[direction]) m.inc({ direction, method }, count.frames);
      },
    );
    counter('amqp_spy_bytes_total', 'bytes by direction and method, frame headers included', ['direction', 'method'], (m) => {
      for (const direction of ['c2s', 's2c'] as const) for (const [method, count] of this.frames[direction]) m.inc({ direction, method }, count.bytes);
    });
    counter(
      'amqp_spy_messages_total',
      'messages: published, delivered (deliver and get-ok), acked/nacked/rejected by the client, returned, confirmed/confirm_nacked by the broker',
      ['outcome'],
      (m) => {
        for (const [outcome, count] of this.outcomes) m.inc({ outcome }, count);
      },
    );
    counter('amqp_spy_errors_total', 'channels and connections closed with an error reply code', ['reply_code', 'reply_name', 'scope'], (m) => {
      for (const e of this.errors.values()) m.inc({ reply_code: String(e.code), reply_name: e.name, scope: e.scope }, e.count);
    });
    counter('amqp_spy_decode_errors_total', 'bytes that did not decode as AMQP, by error code', ['code'], (m) => {
      for (const [code, count] of this.decodeErrors) m.inc({ code }, count);
    });
    const perConnection = (field: 'unacked' | 'unconfirmed') => (m: client.Gauge<'conn' | 'connection_name' | 'client'>) => {
      for (const [id, conn] of this.connections) {
        let sum = 0;
        for (const channel of conn.channels.values()) sum += channel[field];
        m.set({ conn: String(id), connection_name: conn.name, client: conn.client }, sum);
      }
    };
    gauge(
      'amqp_spy_connection_unacked',
      'deliveries not yet settled by the client, per open connection',
      ['conn', 'connection_name', 'client'],
      perConnection('unacked'),
    );
    gauge(
      'amqp_spy_connection_unconfirmed',
      'publishes in confirm mode not yet confirmed by the broker, per open connection',
      ['conn', 'connection_name', 'client'],
      perConnection('unconfirmed'),
    );
    gauge('amqp_spy_recording_bytes', 'bytes written to the recording', [], (m) => {
      if (this.recording) m.set(this.recording.bytesWritten);
    });
    gauge('amqp_spy_recording_events_lost', 'events not in the recording because writing failed', [], (m) => {
      if (this.recording) m.set(this.recording.eventsLost);
    });
    this.latency = new client.Histogram({
      name: 'amqp_spy_reply_latency_seconds',
      help: 'time from a synchronous request to its reply, by request method',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  /** The event sink. */
  readonly sink = (event: SpyEvent): void => {
    switch (event.kind) {
      case 'conn.open':
        this.connectionsOpened++;
        this.connections.set(event.conn, { client: `${event.client.address}:${event.client.port}`, name: '', channels: new Map() });
        return;
      case 'conn.close': {
        const conn = this.connections.get(event.conn);
        if (conn === undefined) return;
        this.connectionsClosed++;
        this.channelsClosed += conn.channels.size;
        this.connections.delete(event.conn);
        return;
      }
      case 'protocol-header':
        this.count(event.dir, 'protocol-header', event.raw.length);
        return;
      case 'bytes':
        this.count(event.dir, 'undecoded', event.data?.length ?? event.withheld ?? 0);
        return;
      case 'decode.error':
        if (event.notShown === undefined) this.decodeErrors.set(event.error.code, (this.decodeErrors.get(event.error.code) ?? 0) + 1);
        return;
      case 'message':
        if (event.incomplete !== undefined) return;
        if (event.method.name === 'basic.publish') this.outcome('published', 1);
        else if (event.method.name === 'basic.deliver' || event.method.name === 'basic.get-ok') this.outcome('delivered', 1);
        else if (event.method.name === 'basic.return') this.outcome('returned', 1);
        return;
      case 'frame':
        this.frame(event);
        return;
    }
  };

  private frame(event: Extract<SpyEvent, { kind: 'frame' }>): void {
    const frame = event.frame;
    if (frame.type !== 'method') {
      this.count(event.dir, frame.type === 'header' ? 'content-header' : frame.type === 'body' ? 'content-body' : frame.type, event.raw.length);
      return;
    }
    const name = frame.method.name;
    this.count(event.dir, name, event.raw.length);
    const insight = event.insight;
    if (insight !== undefined) {
      if (insight.request !== undefined) this.latency.observe({ method: insight.request.name }, insight.request.rttMicros / 1e6);
      if (insight.settles !== undefined) {
        const n = insight.settles.deliverySeqs.length;
        this.outcome(insight.settles.outcome === 'ack' ? 'acked' : insight.settles.outcome === 'nack' ? 'nacked' : 'rejected', n);
      }
      if (insight.confirms !== undefined)
        this.outcome(insight.confirms.outcome === 'ack' ? 'confirmed' : 'confirm_nacked', insight.confirms.publishSeqs.length);
      if (insight.error !== undefined) {
        const scope = event.channel === 0 ? 'connection' : 'channel';
        const key = `${insight.error.replyCode} ${scope}`;
        const known = this.errors.get(key);
        if (known) known.count++;
        else this.errors.set(key, { code: insight.error.replyCode, name: insight.error.replyName, scope, count: 1 });
      }
    }
    const conn = this.connections.get(event.conn);
    if (conn === undefined) return;
    if (insight?.unacked !== undefined || insight?.unconfirmed !== undefined) {
      const channel = conn.channels.get(event.channel);
      if (channel !== undefined) {
        if (insight.unacked !== undefined) channel.unacked = insight.unacked;
        if (insight.unconfirmed !== undefined) channel.unconfirmed = insight.unconfirmed;
      }
    }
    switch (name) {
      case 'connection.start-ok': {
        const props = frame.method.args['client-properties'];
        if (isFieldTable(props)) conn.name = tableString(props, 'connection_name') ?? '';
        return;
      }
      case 'channel.open-ok':
        if (!conn.channels.has(event.channel)) {
          conn.channels.set(event.channel, { unacked: 0, unconfirmed: 0 });
          this.channelsOpened++;
        }
        return;
      case 'channel.close-ok':
        if (conn.channels.delete(event.channel)) this.channelsClosed++;
        return;
    }
  }

  private count(dir: Direction, method: string, bytes: number): void {
    const counts = this.frames[dir];
    const known = counts.get(method);
    if (known !== undefined) {
      known.frames++;
      known.bytes += bytes;
    } else counts.set(method, { frames: 1, bytes });
  }

  private outcome(outcome: Outcome, n: number): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + n);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
