// /api/overview: versions, totals and listeners, as RabbitMQ's overview names them.

import { RABBITMQ_COMPAT_VERSION } from '../broker/definitions.js';
import { EXCHANGE_TYPES } from '../broker/exchange-types.js';
import type { Json } from '../broker/json-fields.js';
import { VERSION } from '../version.js';
import { NODE_NAME, ok, type RequestContext, type Route } from './context.js';

function overview(ctx: RequestContext, management: { host: string; port: number }): { [key: string]: Json } {
  let queues = 0;
  let exchanges = 0;
  let ready = 0;
  let unacked = 0;
  for (const v of ctx.vhosts()) {
    for (const q of v.queues()) {
      queues++;
      ready += q.messageCount;
      unacked += q.unackedCount;
    }
    for (const _ of v.exchanges()) exchanges++;
  }
  let connections = 0;
  let channels = 0;
  let consumers = 0;
  for (const c of ctx.connections()) {
    connections++;
    for (const ch of c.channelList()) {
      channels++;
      for (const _ of ch.consumerList()) consumers++;
    }
  }
  const amqp = ctx.managed.address;
  return {
    management_version: RABBITMQ_COMPAT_VERSION,
    rates_mode: 'none',
    exchange_types: EXCHANGE_TYPES.map((name) => ({ name, description: `AMQP ${name} exchange, as per the AMQP specification`, enabled: true })),
    product_version: VERSION,
    product_name: 'amqp-spy',
    rabbitmq_version: RABBITMQ_COMPAT_VERSION,
    cluster_name: NODE_NAME,
    erlang_version: `Node.js ${process.version}`,
    disable_stats: true,
    enable_queue_totals: true,
    queue_totals: { messages: ready + unacked, messages_ready: ready, messages_unacknowledged: unacked },
    object_totals: { channels, connections, consumers, exchanges, queues },
    node: NODE_NAME,
    listeners: [
      { node: NODE_NAME, protocol: 'amqp', ip_address: amqp.host, port: amqp.port },
      { node: NODE_NAME, protocol: 'http', ip_address: management.host, port: management.port },
    ],
  };
}

export const overviewRoutes = (management: { host: string; port: number }): readonly Route[] => [
  { method: 'GET', path: '/api/overview', handler: (ctx) => ok(overview(ctx, management)) },
];
