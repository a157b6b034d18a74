// /api/queues: list, show, declare (PUT), delete, purge (DELETE …/contents) and "Get
// messages" (POST …/get), with RabbitMQ's field names and types.

import type { ContentProperties } from '../decoder/types.js';
import { AmqpError } from '../broker/amqp-error.js';
import { ADMIN_OWNER } from '../broker/definitions.js';
import { jsonToTable, argumentsJson, tableToJson, type Json } from '../broker/json-fields.js';
import type { Delivery, Queue } from '../broker/queue.js';
import type { VirtualHost } from '../broker/vhost.js';
import { consumerJson } from './connections.js';
import { CREATED, NO_CONTENT, NODE_NAME, boolField, intField, ok, requireKeys, stringField, type RequestContext, type Route } from './context.js';
import { badRequest, notFound, objectNotFound } from './http-error.js';

export function queueJson(q: Queue): { [key: string]: Json } {
  const ready = q.messageCount;
  const unacked = q.unackedCount;
  return {
    arguments: argumentsJson(q.arguments),
    auto_delete: q.autoDelete,
    consumers: q.consumerCount,
    durable: q.durable,
    exclusive: q.exclusive,
    exclusive_consumer_tag: null,
    message_bytes: q.messageBytes + q.unackedBytes,
    message_bytes_ready: q.messageBytes,
    message_bytes_unacknowledged: q.unackedBytes,
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    name: q.name,
    node: NODE_NAME,
    policy: null,
    single_active_consumer_tag: q.singleActiveConsumerTag ?? null,
    state: 'running',
    type: q.settings.queueType,
    vhost: q.vhost,
  };
}

function requireQueue(ctx: RequestContext): { vhost: VirtualHost; queue: Queue } {
  const vhost = ctx.vhost();
  const queue = vhost.queue(ctx.param('name'));
  if (queue === undefined) throw objectNotFound();
  return { vhost, queue };
}

/** An AMQP refusal as the management API words it: 400 with the text after `NAME - `. */
export function amqpBadRequest(e: unknown): never {
  if (e instanceof AmqpError) {
    if (e.replyCode === 404) throw notFound(e.replyText.replace(/^NOT_FOUND - /, ''));
    throw badRequest(e.replyText.replace(/^[A-Z_]+ - /, ''));
  }
  throw e;
}

/** Which ackmode settles got messages how (RabbitMQ's "Get messages"). */
const ACK_MODES = {
  ack_requeue_true: 'requeue',
  reject_requeue_true: 'requeue',
  ack_requeue_false: 'ack',
  reject_requeue_false: 'reject',
} as const;

/** A token for the deliveries the API holds while it answers (never a client's channel). */
const MANAGEMENT_CHANNEL = Object.freeze({ channel: 'management API get' });

const PROPERTY_NAMES: Readonly<Record<string, string>> = {
  'content-type': 'content_type',
  'content-encoding': 'content_encoding',
  headers: 'headers',
  'delivery-mode': 'delivery_mode',
  priority: 'priority',
  'correlation-id': 'correlation_id',
  'reply-to': 'reply_to',
  expiration: 'expiration',
  'message-id': 'message_id',
  timestamp: 'timestamp',
  type: 'type',
  'user-id': 'user_id',
  'app-id': 'app_id',
  'cluster-id': 'cluster_id',
};

/** Content properties as RabbitMQ's API shows them; none at all is `[]` there (an empty Erlang list). */
export function propertiesJson(p: ContentProperties): Json {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(p)) {
    const name = PROPERTY_NAMES[k];
    if (name === undefined || v === undefined) continue;
    if (k === 'headers') out[name] = tableToJson(v as Parameters<typeof tableToJson>[0]);
    else if (typeof v === 'bigint') out[name] = Number(v);
    else if (v instanceof Uint8Array) out[name] = Buffer.from(v).toString('utf8');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = v;
  }
  return Object.keys(out).length === 0 ? [] : out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function payloadJson(body: Uint8Array, encoding: string, truncate: number | undefined): { payload: string; payload_encoding: string } {
  const shown = truncate !== undefined && body.length > truncate ? body.subarray(0, truncate) : body;
  if (encoding === 'auto') {
    try {
      return { payload: utf8.decode(shown), payload_encoding: 'string' };
    } catch {
      // not UTF-8: base64, as RabbitMQ's auto does
    }
  }
  return { payload: Buffer.from(shown).toString('base64'), payload_encoding: 'base64' };
}

function getMessages(ctx: RequestContext): Json {
  const vhost = ctx.vhost();
  const queue = vhost.queue(ctx.param('name'));
  // RabbitMQ answers a missing queue here with the channel error's text
  if (queue === undefined) throw notFound(`NOT_FOUND - no queue '${ctx.param('name')}' in vhost '${vhost.name}'`);
  const body = ctx.body();
  requireKeys(body, ['count', 'ackmode', 'encoding']);
  const count = intField(body, 'count');
  const ackmode = stringField(body, 'ackmode');
  const how = (ACK_MODES as Record<string, 'requeue' | 'ack' | 'reject' | undefined>)[ackmode];
  if (how === undefined)
    throw badRequest(`unknown ackmode ${JSON.stringify(ackmode)} (ack_requeue_true, ack_requeue_false, reject_requeue_true, reject_requeue_false)`);
  const encoding = stringField(body, 'encoding');
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest(`unknown encoding ${JSON.stringify(encoding)} (auto, base64)`);
  const truncate = body['truncate'] === undefined ? undefined : intField(body, 'truncate');
  // all are taken before any is requeued, so a requeued message is not got twice
  const got: Array<{ delivery: Delivery; messageCount: number }> = [];
  try {
    for (let i = 0; i < count; i++) {
      const r = queue.get(false, MANAGEMENT_CHANNEL);
      if (r === undefined) break;
      got.push(r);
    }
  } catch (e) {
    amqpBadRequest(e);
  }
  const answer = got.map(({ delivery, messageCount }) => {
    const m = delivery.message;
    return {
      payload_bytes: m.body.length,
      redelivered: delivery.redelivered,
      exchange: m.exchange,
      routing_key: m.routingKey,
      message_count: messageCount,
      properties: propertiesJson(m.properties),
      ...payloadJson(m.body, encoding, truncate),
    };
  });
  queue.settle(
    got.map((g) => g.delivery.deliveryId),
    how,
  );
  ctx.broker.scheduleExpiry();
  return answer;
}

function putQueue(ctx: RequestContext) {
  const vhost = ctx.broker.vhost(ctx.param('vhost'));
  if (vhost === undefined) throw notFound('vhost_not_found');
  ctx.vhost();
  const body = ctx.body();
  const name = ctx.param('name');
  let args: ReturnType<typeof jsonToTable>;
  try {
    args = jsonToTable(body['arguments'], 'arguments');
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const existed = vhost.queue(name) !== undefined;
  try {
    vhost.declareQueue({
      name,
      connection: ADMIN_OWNER,
      durable: boolField(body, 'durable', false),
      autoDelete: boolField(body, 'auto_delete', false),
      arguments: args,
    });
  } catch (e) {
    amqpBadRequest(e);
  }
  ctx.broker.scheduleExpiry();
  return existed ? NO_CONTENT : CREATED;
}

function deleteQueue(ctx: RequestContext) {
  const { vhost, queue } = requireQueue(ctx);
  const ifUnused = ctx.query.get('if-unused') === 'true';
  const ifEmpty = ctx.query.get('if-empty') === 'true';
  try {
    // the API may delete an exclusive queue too, as RabbitMQ's does
    vhost.deleteQueue(queue.name, queue.owner ?? ADMIN_OWNER, { ifUnused, ifEmpty });
  } catch (e) {
    amqpBadRequest(e);
  }
  return NO_CONTENT;
}

export const queueRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/queues', handler: (ctx) => ok(ctx.vhosts().flatMap((v) => [...v.queues()].map(queueJson))) },
  { method: 'GET', path: '/api/queues/:vhost', handler: (ctx) => ok(ctx.vhosts().flatMap((v) => [...v.queues()].map(queueJson))) },
  {
    method: 'GET',
    path: '/api/queues/:vhost/:name',
    handler: (ctx) => {
      const { queue } = requireQueue(ctx);
      const consumers: Json[] = [];
      for (const c of ctx.connections())
        for (const ch of c.channelList()) for (const k of ch.consumerList()) if (k.queue === queue) consumers.push(consumerJson(c, ch, k));
      return ok({ ...queueJson(queue), consumer_details: consumers, deliveries: [], incoming: [] });
    },
  },
  { method: 'PUT', path: '/api/queues/:vhost/:name', handler: putQueue },
  { method: 'DELETE', path: '/api/queues/:vhost/:name', handler: deleteQueue },
  {
    method: 'DELETE',
    path: '/api/queues/:vhost/:name/contents',
    handler: (ctx) => {
      requireQueue(ctx).queue.purge();
      return NO_CONTENT;
    },
  },
  { method: 'POST', path: '/api/queues/:vhost/:name/get', handler: (ctx) => ok(getMessages(ctx)) },
];
