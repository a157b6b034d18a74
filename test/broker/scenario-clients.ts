// One small interface over two real client libraries (amqplib, @cloudamqp/amqp-client), so
// the broker scenarios are written once and run with both, against the built-in broker and
// against RabbitMQ.

import { AMQPClient, type AMQPChannel, type AMQPMessage } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
// amqplib has no transaction API, but its channels do rpc by method id (class << 16 | method)
const defs = {
  TxSelect: (90 << 16) | 10,
  TxSelectOk: (90 << 16) | 11,
  TxCommit: (90 << 16) | 20,
  TxCommitOk: (90 << 16) | 21,
  TxRollback: (90 << 16) | 30,
  TxRollbackOk: (90 << 16) | 31,
};

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly vhost?: string;
}

export interface ReceivedMessage {
  readonly body: string;
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  readonly headers: Record<string, unknown>;
  readonly messageCount?: number;
  readonly consumerTag?: string;
  readonly replyTo?: string;
}

export interface Returned {
  readonly replyCode: number;
  readonly replyText: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly body: string;
}

/** A channel or connection error as the client reported it. */
export interface ServerError {
  readonly code: number;
  readonly text: string;
}

export interface PublishOptions {
  readonly headers?: Record<string, unknown>;
  readonly expiration?: string;
  readonly mandatory?: boolean;
  readonly contentType?: string;
  readonly replyTo?: string;
}

export interface DeclareQueueOptions {
  readonly exclusive?: boolean;
  readonly autoDelete?: boolean;
  readonly durable?: boolean;
  readonly passive?: boolean;
  readonly arguments?: Record<string, unknown>;
}

export interface ScenarioChannel {
  declareQueue(name: string, options?: DeclareQueueOptions): Promise<{ queue: string; messageCount: number; consumerCount: number }>;
  declareExchange(name: string, type: string, options?: { durable?: boolean; autoDelete?: boolean; passive?: boolean }): Promise<void>;
  deleteExchange(name: string): Promise<void>;
  bindQueue(queue: string, exchange: string, routingKey: string, args?: Record<string, unknown>): Promise<void>;
  unbindQueue(queue: string, exchange: string, routingKey: string): Promise<void>;
  bindExchange(destination: string, source: string, routingKey: string): Promise<void>;
  purge(queue: string): Promise<number>;
  deleteQueue(queue: string, options?: { ifEmpty?: boolean; ifUnused?: boolean }): Promise<number>;
  /** fire and forget (confirm channels: use publishConfirmed) */
  publish(exchange: string, routingKey: string, body: string, options?: PublishOptions): void;
  /** resolves 'ack' or 'nack' once the broker confirms */
  publishConfirmed(exchange: string, routingKey: string, body: string, options?: PublishOptions): Promise<'ack' | 'nack'>;
  get(queue: string, noAck?: boolean): Promise<ReceivedMessage | undefined>;
  consume(queue: string, onMessage: (m: ReceivedMessage) => void, options?: { noAck?: boolean; exclusive?: boolean; tag?: string }): Promise<string>;
  cancel(tag: string): Promise<void>;
  prefetch(count: number, global?: boolean): Promise<void>;
  ack(tag: number, multiple?: boolean): void;
  nack(tag: number, multiple: boolean, requeue: boolean): void;
  reject(tag: number, requeue: boolean): void;
  recover(): Promise<void>;
  txSelect(): Promise<void>;
  txCommit(): Promise<void>;
  txRollback(): Promise<void>;
  /** messages the broker returned (mandatory, unroutable) */
  readonly returned: Returned[];
  /** consumer tags the broker cancelled (queue deleted) */
  readonly serverCancelled: string[];
  /** resolves with the broker's reason when the broker closes the channel (or connection) */
  readonly closedByServer: Promise<ServerError>;
  close(): Promise<void>;
}

export interface ScenarioClient {
  readonly library: string;
  channel(options?: { confirm?: boolean }): Promise<ScenarioChannel>;
  close(): Promise<void>;
}

export type ClientFactory = (target: Target) => Promise<ScenarioClient>;

const text = (b: Uint8Array | null): string => (b === null ? '' : Buffer.from(b).toString('utf8'));

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  promise.catch(() => undefined);
  return { promise, resolve };
}

// ---- amqplib ----

/** `Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - ..."` → code and text. */
function amqplibError(e: unknown): ServerError {
  const err = e as { code?: number; message?: string };
  const m = /with message "(.*)"$/s.exec(err.message ?? '');
  return { code: typeof err.code === 'number' ? err.code : 0, text: m?.[1] ?? err.message ?? String(e) };
}

export const amqplibClient: ClientFactory = async (target) => {
  const conn = await amqplib.connect({
    hostname: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    vhost: target.vhost ?? '/',
  });
  const connClosed = deferred<ServerError>();
  conn.on('error', (e: unknown) => connClosed.resolve(amqplibError(e)));
  return {
    library: 'amqplib',
    async channel(options = {}) {
      const ch = options.confirm === true ? await conn.createConfirmChannel() : await conn.createChannel();
      const closed = deferred<ServerError>();
      ch.on('error', (e: unknown) => closed.resolve(amqplibError(e)));
      void connClosed.promise.then((e) => closed.resolve(e));
      const returned: Returned[] = [];
      const serverCancelled: string[] = [];
      ch.on('return', (m: amqplib.Message) => {
        const f = m.fields as unknown as { replyCode: number; replyText: string };
        returned.push({
          replyCode: f.replyCode,
          replyText: f.replyText,
          exchange: m.fields.exchange,
          routingKey: m.fields.routingKey,
          body: m.content.toString(),
        });
      });
      const received = (m: amqplib.Message | amqplib.GetMessage): ReceivedMessage => ({
        body: m.content.toString(),
        deliveryTag: m.fields.deliveryTag,
        redelivered: m.fields.redelivered,
        exchange: m.fields.exchange,
        routingKey: m.fields.routingKey,
        headers: (m.properties.headers ?? {}) as Record<string, unknown>,
        ...(m.properties.replyTo !== undefined ? { replyTo: String(m.properties.replyTo) } : {}),
        ...('messageCount' in m.fields ? { messageCount: m.fields.messageCount } : {}),
        ...('consumerTag' in m.fields ? { consumerTag: m.fields.consumerTag as string } : {}),
      });
      const wrap = async <T>(p: Promise<T>): Promise<T> => {
        try {
          return await p;
        } catch (e) {
          throw Object.assign(new Error(amqplibError(e).text), amqplibError(e));
        }
      };
      const rpc = (ch as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc.bind(ch);
      const publishOptions = (o: PublishOptions = {}): amqplib.Options.Publish => ({
        ...(o.headers !== undefined ? { headers: o.headers } : {}),
        ...(o.expiration !== undefined ? { expiration: o.expiration } : {}),
        ...(o.mandatory !== undefined ? { mandatory: o.mandatory } : {}),
        ...(o.contentType !== undefined ? { contentType: o.contentType } : {}),
        ...(o.replyTo !== undefined ? { replyTo: o.replyTo } : {}),
      });
      return {
        returned,
        serverCancelled,
        closedByServer: closed.promise,
        declareQueue: async (name, o = {}) =>
          o.passive === true
            ? wrap(ch.checkQueue(name))
            : wrap(
                ch.assertQueue(name, {
                  exclusive: o.exclusive ?? false,
                  autoDelete: o.autoDelete ?? false,
                  durable: o.durable ?? false,
                  ...(o.arguments ? { arguments: o.arguments } : {}),
                }),
              ),
        declareExchange: async (name, type, o = {}) => {
          if (o.passive === true) await wrap(ch.checkExchange(name));
          else await wrap(ch.assertExchange(name, type, { durable: o.durable ?? false, autoDelete: o.autoDelete ?? false }));
        },
        deleteExchange: async (name) => {
          await wrap(ch.deleteExchange(name));
        },
        bindQueue: async (q, x, rk, args) => {
          await wrap(ch.bindQueue(q, x, rk, args));
        },
        unbindQueue: async (q, x, rk) => {
          await wrap(ch.unbindQueue(q, x, rk));
        },
        bindExchange: async (d, s, rk) => {
          await wrap(ch.bindExchange(d, s, rk));
        },
        purge: async (q) => (await wrap(ch.purgeQueue(q))).messageCount,
        deleteQueue: async (q, o = {}) => (await wrap(ch.deleteQueue(q, { ifEmpty: o.ifEmpty ?? false, ifUnused: o.ifUnused ?? false }))).messageCount,
        publish: (x, rk, body, o) => {
          ch.publish(x, rk, Buffer.from(body), publishOptions(o));
        },
        publishConfirmed: (x, rk, body, o) =>
          new Promise((resolve) => {
            (ch as amqplib.ConfirmChannel).publish(x, rk, Buffer.from(body), publishOptions(o), (err: unknown) => resolve(err ? 'nack' : 'ack'));
          }),
        get: async (q, noAck = false) => {
          const m = await wrap(ch.get(q, { noAck }));
          return m === false ? undefined : received(m);
        },
        consume: async (q, onMessage, o = {}) => {
          const ok = await wrap(
            ch.consume(
              q,
              (m) => {
                if (m === null) serverCancelled.push(tag);
                else onMessage(received(m));
              },
              { noAck: o.noAck ?? false, exclusive: o.exclusive ?? false, ...(o.tag !== undefined ? { consumerTag: o.tag } : {}) },
            ),
          );
          const tag = ok.consumerTag;
          return tag;
        },
        cancel: async (tag) => {
          await wrap(ch.cancel(tag));
        },
        prefetch: async (n, global = false) => {
          await wrap(ch.prefetch(n, global));
        },
        ack: (tag, multiple = false) => ch.ack({ fields: { deliveryTag: tag } } as amqplib.Message, multiple),
        nack: (tag, multiple, requeue) => ch.nack({ fields: { deliveryTag: tag } } as amqplib.Message, multiple, requeue),
        reject: (tag, requeue) => ch.reject({ fields: { deliveryTag: tag } } as amqplib.Message, requeue),
        recover: async () => {
          await wrap(ch.recover());
        },
        txSelect: async () => {
          await wrap(rpc(defs.TxSelect, {}, defs.TxSelectOk));
        },
        txCommit: async () => {
          await wrap(rpc(defs.TxCommit, {}, defs.TxCommitOk));
        },
        txRollback: async () => {
          await wrap(rpc(defs.TxRollback, {}, defs.TxRollbackOk));
        },
        close: async () => {
          try {
            await ch.close();
          } catch {
            // already closed by the broker
          }
        },
      };
    },
    async close() {
      try {
        await conn.close();
      } catch {
        // closed by the broker already
      }
    },
  };
};

// ---- @cloudamqp/amqp-client ----

/** `channel 1 closed: NOT_FOUND - no queue 'x' in vhost '/' (404)` → code and text. */
function cloudError(e: unknown): ServerError {
  const message = e instanceof Error ? e.message : String(e);
  const m = /closed: (.*) \((\d+)\)$/s.exec(message);
  return m === null ? { code: 0, text: message } : { code: Number(m[2]), text: m[1]! };
}

export const cloudamqpClient: ClientFactory = async (target) => {
  const vhost = encodeURIComponent(target.vhost ?? '/');
  const client = new AMQPClient(`amqp://${encodeURIComponent(target.username)}:${encodeURIComponent(target.password)}@${target.host}:${target.port}/${vhost}`);
  const connClosed = deferred<ServerError>();
  client.onerror = (e: Error) => connClosed.resolve(cloudError(e));
  const conn = await client.connect();
  return {
    library: '@cloudamqp/amqp-client',
    async channel(options = {}) {
      const ch: AMQPChannel = await conn.channel();
      if (options.confirm === true) await ch.confirmSelect();
      const closed = deferred<ServerError>();
      const returned: Returned[] = [];
      const serverCancelled: string[] = [];
      ch.onReturn = (m: AMQPMessage) => {
        returned.push({
          replyCode: m.replyCode ?? 0,
          replyText: m.replyText ?? '',
          exchange: m.exchange,
          routingKey: m.routingKey,
          body: text(m.body as Uint8Array | null),
        });
      };
      ch.onerror = (reason: string) => closed.resolve(cloudError(reason));
      void connClosed.promise.then((e) => closed.resolve(e));
      const wrap = async <T>(p: Promise<T>): Promise<T> => {
        try {
          return await p;
        } catch (e) {
          const err = cloudError(e);
          if (err.code !== 0) closed.resolve(err);
          throw Object.assign(new Error(err.text), err);
        }
      };
      const received = (m: AMQPMessage): ReceivedMessage => ({
        body: text(m.body as Uint8Array | null),
        deliveryTag: m.deliveryTag,
        redelivered: m.redelivered,
        exchange: m.exchange,
        routingKey: m.routingKey,
        headers: (m.properties.headers ?? {}) as Record<string, unknown>,
        ...(m.properties.replyTo !== undefined ? { replyTo: m.properties.replyTo } : {}),
        ...(m.messageCount !== undefined ? { messageCount: m.messageCount } : {}),
        ...(m.consumerTag ? { consumerTag: m.consumerTag } : {}),
      });
      const props = (o: PublishOptions = {}) => ({
        ...(o.headers !== undefined ? { headers: o.headers as Record<string, string> } : {}),
        ...(o.expiration !== undefined ? { expiration: o.expiration } : {}),
        ...(o.contentType !== undefined ? { contentType: o.contentType } : {}),
        ...(o.replyTo !== undefined ? { replyTo: o.replyTo } : {}),
      });
      const consumers = new Map<string, { wait(): Promise<void> }>();
      return {
        returned,
        serverCancelled,
        closedByServer: closed.promise,
        declareQueue: async (name, o = {}) => {
          const ok = await wrap(
            ch.queueDeclare(
              name,
              { passive: o.passive ?? false, exclusive: o.exclusive ?? false, autoDelete: o.autoDelete ?? false, durable: o.durable ?? false },
              o.arguments ?? {},
            ),
          );
          return { queue: ok.name, messageCount: ok.messageCount, consumerCount: ok.consumerCount };
        },
        declareExchange: async (name, type, o = {}) => {
          await wrap(
            ch.exchangeDeclare(name, type as 'direct', { passive: o.passive ?? false, durable: o.durable ?? false, autoDelete: o.autoDelete ?? false }),
          );
        },
        deleteExchange: async (name) => {
          await wrap(ch.exchangeDelete(name));
        },
        bindQueue: async (q, x, rk, args) => {
          await wrap(ch.queueBind(q, x, rk, args ?? {}));
        },
        unbindQueue: async (q, x, rk) => {
          await wrap(ch.queueUnbind(q, x, rk));
        },
        bindExchange: async (d, s, rk) => {
          await wrap(ch.exchangeBind(d, s, rk));
        },
        purge: async (q) => (await wrap(ch.queuePurge(q))).messageCount,
        deleteQueue: async (q, o = {}) => (await wrap(ch.queueDelete(q, { ifEmpty: o.ifEmpty ?? false, ifUnused: o.ifUnused ?? false }))).messageCount,
        publish: (x, rk, body, o) => {
          ch.basicPublish(x, rk, body, props(o), o?.mandatory ?? false).catch(() => undefined);
        },
        publishConfirmed: async (x, rk, body, o) => {
          try {
            await ch.basicPublish(x, rk, body, props(o), o?.mandatory ?? false);
            return 'ack';
          } catch (e) {
            if (cloudError(e).code !== 0) throw e;
            return 'nack';
          }
        },
        get: async (q, noAck = false) => {
          const m = await wrap(ch.basicGet(q, { noAck }));
          return m === null ? undefined : received(m);
        },
        consume: async (q, onMessage, o = {}) => {
          const consumer = await wrap(
            ch.basicConsume(q, { noAck: o.noAck ?? false, exclusive: o.exclusive ?? false, ...(o.tag !== undefined ? { tag: o.tag } : {}) }, (m) =>
              onMessage(received(m)),
            ),
          );
          consumers.set(consumer.tag, consumer);
          consumer.wait().catch(() => serverCancelled.push(consumer.tag));
          return consumer.tag;
        },
        cancel: async (tag) => {
          await wrap(ch.basicCancel(tag));
        },
        prefetch: async (n, global = false) => {
          await wrap(ch.basicQos(n, 0, global));
        },
        ack: (tag, multiple = false) => {
          ch.basicAck(tag, multiple).catch(() => undefined);
        },
        nack: (tag, multiple, requeue) => {
          ch.basicNack(tag, requeue, multiple).catch(() => undefined);
        },
        reject: (tag, requeue) => {
          ch.basicReject(tag, requeue).catch(() => undefined);
        },
        recover: async () => {
          await wrap(ch.basicRecover(true));
        },
        txSelect: async () => {
          await wrap(ch.txSelect());
        },
        txCommit: async () => {
          await wrap(ch.txCommit());
        },
        txRollback: async () => {
          await wrap(ch.txRollback());
        },
        close: async () => {
          try {
            if (!ch.closed) await ch.close();
          } catch {
            // closed by the broker
          }
        },
      };
    },
    async close() {
      try {
        if (!conn.closed) await conn.close();
      } catch {
        // already gone
      }
    },
  };
};

export const CLIENTS: ReadonlyArray<readonly [string, ClientFactory]> = [
  ['amqplib', amqplibClient],
  ['@cloudamqp/amqp-client', cloudamqpClient],
];
