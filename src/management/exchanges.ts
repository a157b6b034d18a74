// /api/exchanges: list, show, declare (PUT), delete and publish (POST …/publish).

import type { ContentProperties } from '../decoder/types.js';
import { AmqpError } from '../broker/amqp-error.js';
import type { Exchange } from '../broker/exchange.js';
import { jsonToTable, argumentsJson, type Json } from '../broker/json-fields.js';
import { CREATED, NO_CONTENT, boolField, exchangeName, ok, requireKeys, stringField, type RequestContext, type Route } from './context.js';
import { badRequest, notAuthorised, notFound, objectNotFound } from './http-error.js';
import { amqpBadRequest } from './queues.js';

export function exchangeJson(x: Exchange, vhost: string): { [key: string]: Json } {
  return {
    arguments: argumentsJson(x.arguments),
    auto_delete: x.autoDelete,
    durable: x.durable,
    internal: x.internal,
    name: x.name,
    type: x.type,
    user_who_performed_action: 'rmq-internal',
    vhost,
  };
}

function requireExchange(ctx: RequestContext): Exchange {
  const x = ctx.vhost().exchange(exchangeName(ctx.param('name')));
  if (x === undefined) throw objectNotFound();
  return x;
}

function putExchange(ctx: RequestContext) {
  const vhost = ctx.broker.vhost(ctx.param('vhost'));
  if (vhost === undefined) throw notFound('vhost_not_found');
  ctx.vhost();
  const body = ctx.body();
  const name = exchangeName(ctx.param('name'));
  let args: ReturnType<typeof jsonToTable>;
  try {
    args = jsonToTable(body['arguments'], 'arguments');
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const existed = vhost.exchange(name) !== undefined;
  try {
    vhost.declareExchange({
      name,
      // RabbitMQ's API declares a direct exchange when no type is given
      type: stringField(body, 'type', 'direct'),
      durable: boolField(body, 'durable', false),
      autoDelete: boolField(body, 'auto_delete', false),
      internal: boolField(body, 'internal', false),
      arguments: args,
    });
  } catch (e) {
    amqpBadRequest(e);
  }
  return existed ? NO_CONTENT : CREATED;
}

function deleteExchange(ctx: RequestContext) {
  const x = requireExchange(ctx);
  // RabbitMQ answers the built-in exchanges' deletion with this 401
  if (x.name === '' || x.name.startsWith('amq.')) throw notAuthorised('Access refused.');
  try {
    ctx.vhost().deleteExchange(x.name, ctx.query.get('if-unused') === 'true');
  } catch (e) {
    amqpBadRequest(e);
  }
  return NO_CONTENT;
}

/** The API's properties object as content properties (RabbitMQ's names with `_`). */
function contentProperties(value: unknown): ContentProperties {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('properties must be an object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = k.replaceAll('_', '-');
    switch (name) {
      case 'headers':
        try {
          out[name] = jsonToTable(v, 'headers');
        } catch (e) {
          throw badRequest((e as Error).message);
        }
        break;
      case 'delivery-mode':
      case 'priority':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw badRequest(`${k} must be an integer from 0 to 255`);
        out[name] = v;
        break;
      case 'timestamp':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`${k} must be a non-negative integer`);
        out[name] = BigInt(v);
        break;
      case 'content-type':
      case 'content-encoding':
      case 'correlation-id':
      case 'reply-to':
      case 'expiration':
      case 'message-id':
      case 'type':
      case 'user-id':
      case 'app-id':
      case 'cluster-id':
        if (typeof v !== 'string') throw badRequest(`${k} must be a string`);
        out[name] = v;
        break;
      default:
        throw badRequest(`unknown property ${JSON.stringify(k)}`);
    }
  }
  return out as ContentProperties;
}

function publish(ctx: RequestContext) {
  const vhost = ctx.vhost();
  const body = ctx.body();
  requireKeys(body, ['properties', 'routing_key', 'payload', 'payload_encoding']);
  const encoding = stringField(body, 'payload_encoding');
  const payload = stringField(body, 'payload');
  if (encoding !== 'string' && encoding !== 'base64') throw badRequest(`payload_encoding must be "string" or "base64", got ${JSON.stringify(encoding)}`);
  const bytes = encoding === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload, 'base64');
  if (bytes.length > ctx.broker.maxMessageSize) throw badRequest(`message size ${bytes.length} is larger than the maximum ${ctx.broker.maxMessageSize}`);
  const properties = contentProperties(body['properties']);
  try {
    const result = vhost.publish(exchangeName(ctx.param('name')), stringField(body, 'routing_key'), properties, bytes);
    ctx.broker.scheduleExpiry();
    return ok({ routed: result.queues.length > 0 });
  } catch (e) {
    // RabbitMQ's publish answers with the channel error's code and text
    if (e instanceof AmqpError) throw badRequest(`${e.replyCode} ${e.replyText}`);
    throw e;
  }
}

export const exchangeRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/exchanges', handler: (ctx) => ok(ctx.vhosts().flatMap((v) => [...v.exchanges()].map((x) => exchangeJson(x, v.name)))) },
  { method: 'GET', path: '/api/exchanges/:vhost', handler: (ctx) => ok(ctx.vhosts().flatMap((v) => [...v.exchanges()].map((x) => exchangeJson(x, v.name)))) },
  {
    method: 'GET',
    path: '/api/exchanges/:vhost/:name',
    handler: (ctx) => ok({ ...exchangeJson(requireExchange(ctx), ctx.param('vhost')), incoming: [], outgoing: [] }),
  },
  { method: 'PUT', path: '/api/exchanges/:vhost/:name', handler: putExchange },
  { method: 'DELETE', path: '/api/exchanges/:vhost/:name', handler: deleteExchange },
  { method: 'POST', path: '/api/exchanges/:vhost/:name/publish', handler: publish },
];
