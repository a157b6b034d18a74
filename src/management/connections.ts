// /api/connections, /api/channels, /api/consumers: the open client connections of the
// built-in broker as RabbitMQ names their fields (no rates: the broker keeps no samples).

import type { BrokerChannel, ChannelConsumer } from '../broker/broker-channel.js';
import type { BrokerConnection } from '../broker/broker-connection.js';
import { argumentsJson, tableToJson, type Json } from '../broker/json-fields.js';
import { NODE_NAME, ok, type RequestContext, type Route } from './context.js';
import { objectNotFound } from './http-error.js';

/** `127.0.0.1:34950 -> 127.0.0.1:5672`, RabbitMQ's connection name. */
export function connectionName(c: BrokerConnection): string {
  const s = c.socket;
  return `${s.remoteAddress ?? ''}:${s.remotePort ?? 0} -> ${s.localAddress ?? ''}:${s.localPort ?? 0}`;
}

export function connectionJson(c: BrokerConnection): { [key: string]: Json } {
  const s = c.socket;
  return {
    auth_mechanism: c.authMechanism,
    channel_max: c.channelMax,
    channels: [...c.channelList()].length,
    client_properties: tableToJson(c.clientProperties),
    connected_at: c.connectedAt,
    frame_max: c.frameMax,
    host: s.localAddress ?? '',
    name: connectionName(c),
    node: NODE_NAME,
    peer_host: s.remoteAddress ?? '',
    peer_port: s.remotePort ?? 0,
    port: s.localPort ?? 0,
    protocol: 'AMQP 0-9-1',
    recv_oct: s.bytesRead,
    send_oct: s.bytesWritten,
    ssl: false,
    state: c.state === 'running' ? 'running' : c.state === 'closed' ? 'closed' : 'closing',
    timeout: c.heartbeat,
    type: 'network',
    user: c.user,
    user_who_performed_action: c.user,
    vhost: c.vhost?.name ?? '',
  };
}

const channelName = (c: BrokerConnection, ch: BrokerChannel): string => `${connectionName(c)} (${ch.id})`;

export function channelJson(c: BrokerConnection, ch: BrokerChannel): { [key: string]: Json } {
  return {
    acks_uncommitted: 0,
    confirm: ch.confirming,
    connection_details: { name: connectionName(c), peer_host: c.socket.remoteAddress ?? '', peer_port: c.socket.remotePort ?? 0 },
    consumer_count: [...ch.consumerList()].length,
    global_prefetch_count: ch.globalPrefetchCount,
    messages_unacknowledged: ch.unackedCount,
    messages_uncommitted: 0,
    messages_unconfirmed: 0,
    name: channelName(c, ch),
    node: NODE_NAME,
    number: ch.id,
    prefetch_count: ch.prefetchCount,
    state: ch.closing ? 'closing' : 'running',
    transactional: ch.transactional,
    user: c.user,
    user_who_performed_action: c.user,
    vhost: c.vhost?.name ?? '',
  };
}

export function consumerJson(c: BrokerConnection, ch: BrokerChannel, k: ChannelConsumer): { [key: string]: Json } {
  return {
    arguments: argumentsJson(k.arguments),
    ack_required: !k.noAck,
    active: true,
    activity_status: 'up',
    channel_details: {
      connection_name: connectionName(c),
      name: channelName(c, ch),
      node: NODE_NAME,
      number: ch.id,
      peer_host: c.socket.remoteAddress ?? '',
      peer_port: c.socket.remotePort ?? 0,
      user: c.user,
    },
    consumer_tag: k.tag,
    exclusive: k.exclusive,
    prefetch_count: k.prefetchCount,
    queue: { name: k.queue.name, vhost: k.queue.vhost },
  };
}

function consumers(ctx: RequestContext): Json[] {
  if (ctx.params['vhost'] !== undefined) ctx.vhost();
  const out: Json[] = [];
  for (const c of ctx.connections()) for (const ch of c.channelList()) for (const k of ch.consumerList()) out.push(consumerJson(c, ch, k));
  return out;
}

function channels(ctx: RequestContext): Json[] {
  if (ctx.params['vhost'] !== undefined) ctx.vhost();
  const out: Json[] = [];
  for (const c of ctx.connections()) for (const ch of c.channelList()) out.push(channelJson(c, ch));
  return out;
}

function connections(ctx: RequestContext): Json[] {
  if (ctx.params['vhost'] !== undefined) ctx.vhost();
  return [...ctx.connections()].map(connectionJson);
}

function namedConnection(ctx: RequestContext): BrokerConnection {
  for (const c of ctx.connections()) if (connectionName(c) === ctx.param('name')) return c;
  throw objectNotFound();
}

export const connectionRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/connections', handler: (ctx) => ok(connections(ctx)) },
  { method: 'GET', path: '/api/vhosts/:vhost/connections', handler: (ctx) => ok(connections(ctx)) },
  { method: 'GET', path: '/api/connections/:name', handler: (ctx) => ok(connectionJson(namedConnection(ctx))) },
  {
    method: 'GET',
    path: '/api/connections/:name/channels',
    handler: (ctx) => {
      const c = namedConnection(ctx);
      return ok([...c.channelList()].map((ch) => channelJson(c, ch)));
    },
  },
  { method: 'GET', path: '/api/channels', handler: (ctx) => ok(channels(ctx)) },
  { method: 'GET', path: '/api/vhosts/:vhost/channels', handler: (ctx) => ok(channels(ctx)) },
  { method: 'GET', path: '/api/consumers', handler: (ctx) => ok(consumers(ctx)) },
  { method: 'GET', path: '/api/consumers/:vhost', handler: (ctx) => ok(consumers(ctx)) },
];
