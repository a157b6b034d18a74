// /api/bindings: every binding of a vhost (the default exchange's implicit ones included, as
// RabbitMQ lists them), those between two objects, and create (POST) / delete by props key.

import { createHash } from 'node:crypto';
import type { Binding } from '../broker/exchange.js';
import { canonicalTableKey } from '../broker/field-values.js';
import { jsonToTable, argumentsJson, type Json } from '../broker/json-fields.js';
import type { VirtualHost } from '../broker/vhost.js';
import { CREATED, NO_CONTENT, exchangeName, ok, stringField, type RequestContext, type Route } from './context.js';
import { badRequest, objectNotFound } from './http-error.js';
import { amqpBadRequest } from './queues.js';

/**
 * RabbitMQ's `properties_key`: the routing key, URL-quoted; with arguments, `~` and a short
 * hash of them (RabbitMQ hashes the Erlang term, so ours differ in value, not in form).
 */
export function propertiesKey(routingKey: string, args: Binding['arguments']): string {
  const key = encodeURIComponent(routingKey).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (args.entries.length === 0) return key;
  return `${key}~${createHash('md5').update(canonicalTableKey(args)).digest('base64url').slice(0, 6)}`;
}

function bindingJson(b: Binding, vhost: string): { [key: string]: Json } {
  return {
    source: b.source,
    vhost,
    destination: b.destination,
    destination_type: b.destinationKind,
    routing_key: b.routingKey,
    arguments: argumentsJson(b.arguments),
    properties_key: propertiesKey(b.routingKey, b.arguments),
  };
}

/** A vhost's bindings with the default exchange's implicit one per queue first, as RabbitMQ lists them. */
function vhostBindings(v: VirtualHost): Binding[] {
  const implicit: Binding[] = [...v.queues()].map((q) => ({
    source: '',
    destinationKind: 'queue',
    destination: q.name,
    routingKey: q.name,
    arguments: { entries: [] },
  }));
  return [...implicit, ...v.bindings()];
}

function kindOf(letter: string): 'queue' | 'exchange' {
  if (letter === 'q') return 'queue';
  if (letter === 'e') return 'exchange';
  throw objectNotFound();
}

/** The bindings from exchange :source to :destination (of kind :kind, `q` or `e`). */
function between(ctx: RequestContext): { vhost: VirtualHost; source: string; kind: 'queue' | 'exchange'; destination: string; bindings: Binding[] } {
  const vhost = ctx.vhost();
  const source = exchangeName(ctx.param('source'));
  const kind = kindOf(ctx.param('kind'));
  const destination = ctx.param('destination');
  if (vhost.exchange(source) === undefined) throw objectNotFound();
  if (kind === 'queue' ? vhost.queue(destination) === undefined : vhost.exchange(destination) === undefined) throw objectNotFound();
  const bindings = vhostBindings(vhost).filter((b) => b.source === source && b.destinationKind === kind && b.destination === destination);
  return { vhost, source, kind, destination, bindings };
}

function createBinding(ctx: RequestContext) {
  const vhost = ctx.vhost();
  const source = exchangeName(ctx.param('source'));
  const kind = kindOf(ctx.param('kind'));
  const destination = ctx.param('destination');
  const body = ctx.body();
  const routingKey = stringField(body, 'routing_key', '');
  let args: ReturnType<typeof jsonToTable>;
  try {
    args = jsonToTable(body['arguments'], 'arguments');
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  try {
    if (kind === 'queue') vhost.bindQueue(destination, source, routingKey, args);
    else vhost.bindExchange(destination, source, routingKey, args);
  } catch (e) {
    amqpBadRequest(e);
  }
  // RabbitMQ answers with where the new binding lives, relative to the request
  return { ...CREATED, headers: { location: `${encodeURIComponent(destination)}/${propertiesKey(routingKey, args)}` } };
}

/** The path's props key names the binding: as listed (rabbitmqadmin quotes it again) or URL-decoded once more. */
function namedBy(b: Binding, props: string): boolean {
  const key = propertiesKey(b.routingKey, b.arguments);
  return key === props || decodeURIComponent(key) === props;
}

function deleteBinding(ctx: RequestContext) {
  const { vhost, source, kind, destination, bindings } = between(ctx);
  const b = bindings.find((x) => x.source !== '' && namedBy(x, ctx.param('props')));
  if (b === undefined) throw objectNotFound();
  try {
    if (kind === 'queue') vhost.unbindQueue(destination, source, b.routingKey, b.arguments);
    else vhost.unbindExchange(destination, source, b.routingKey, b.arguments);
  } catch (e) {
    amqpBadRequest(e);
  }
  return NO_CONTENT;
}

const list = (ctx: RequestContext) => ok(ctx.vhosts().flatMap((v) => vhostBindings(v).map((b) => bindingJson(b, v.name))));

export const bindingRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/bindings', handler: list },
  { method: 'GET', path: '/api/bindings/:vhost', handler: list },
  {
    method: 'GET',
    path: '/api/bindings/:vhost/e/:source/:kind/:destination',
    handler: (ctx) => {
      const { vhost, bindings } = between(ctx);
      return ok(bindings.map((b) => bindingJson(b, vhost.name)));
    },
  },
  { method: 'POST', path: '/api/bindings/:vhost/e/:source/:kind/:destination', handler: createBinding },
  {
    method: 'GET',
    path: '/api/bindings/:vhost/e/:source/:kind/:destination/:props',
    handler: (ctx) => {
      const { vhost, bindings } = between(ctx);
      const b = bindings.find((x) => namedBy(x, ctx.param('props')));
      if (b === undefined) throw objectNotFound();
      return ok(bindingJson(b, vhost.name));
    },
  },
  { method: 'DELETE', path: '/api/bindings/:vhost/e/:source/:kind/:destination/:props', handler: deleteBinding },
  {
    method: 'GET',
    path: '/api/exchanges/:vhost/:name/bindings/source',
    handler: (ctx) => {
      const v = ctx.vhost();
      const name = exchangeName(ctx.param('name'));
      if (v.exchange(name) === undefined) throw objectNotFound();
      return ok(
        vhostBindings(v)
          .filter((b) => b.source === name)
          .map((b) => bindingJson(b, v.name)),
      );
    },
  },
  {
    method: 'GET',
    path: '/api/queues/:vhost/:name/bindings',
    handler: (ctx) => {
      const v = ctx.vhost();
      const name = ctx.param('name');
      if (v.queue(name) === undefined) throw objectNotFound();
      return ok(
        vhostBindings(v)
          .filter((b) => b.destinationKind === 'queue' && b.destination === name)
          .map((b) => bindingJson(b, v.name)),
      );
    },
  },
];
