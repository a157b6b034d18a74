// /api/vhosts, /api/users, /api/permissions, /api/whoami: who may log in where. The broker's
// permissions are all-or-nothing per vhost, so every permission reads `.*` three times.

import type { Json } from '../broker/json-fields.js';
import type { VirtualHost } from '../broker/vhost.js';
import { exportDefinitions } from '../broker/definitions.js';
import { CREATED, NODE_NAME, NO_CONTENT, ok, type RequestContext, type Route } from './context.js';
import { objectNotFound } from './http-error.js';

function vhostJson(ctx: RequestContext, v: VirtualHost): { [key: string]: Json } {
  let ready = 0;
  let unacked = 0;
  for (const q of v.queues()) {
    ready += q.messageCount;
    unacked += q.unackedCount;
  }
  const description = ctx.broker.vhostDescription(v.name);
  return {
    cluster_state: { [NODE_NAME]: 'running' },
    default_queue_type: 'undefined',
    description,
    messages: ready + unacked,
    messages_ready: ready,
    messages_unacknowledged: unacked,
    metadata: { description, tags: [] },
    name: v.name,
    tags: [],
    tracing: false,
  };
}

/** Users as GET /api/users shows them: the definitions export's entries. */
function users(ctx: RequestContext): Array<{ [key: string]: Json }> {
  return (exportDefinitions(ctx.broker)['users'] as Array<{ [key: string]: Json }>) ?? [];
}

function permissions(ctx: RequestContext): Array<{ [key: string]: Json }> {
  const all: Array<{ [key: string]: Json }> = [];
  for (const [name, u] of ctx.broker.users)
    for (const v of ctx.broker.vhosts())
      if (u.vhosts === undefined || u.vhosts.has(v.name)) all.push({ user: name, vhost: v.name, configure: '.*', write: '.*', read: '.*' });
  return all;
}

export const accessRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/whoami', handler: (ctx) => ok({ name: ctx.userName, tags: [...ctx.user.tags] }) },
  { method: 'GET', path: '/api/vhosts', handler: (ctx) => ok(ctx.vhosts().map((v) => vhostJson(ctx, v))) },
  { method: 'GET', path: '/api/vhosts/:vhost', handler: (ctx) => ok(vhostJson(ctx, ctx.vhost())) },
  {
    method: 'PUT',
    path: '/api/vhosts/:vhost',
    handler: (ctx) => {
      ctx.requireAdministrator();
      const name = ctx.param('vhost');
      const existed = ctx.broker.vhost(name) !== undefined;
      const description = ctx.body()['description'];
      ctx.broker.addVhost(name, typeof description === 'string' ? description : undefined);
      return existed ? NO_CONTENT : CREATED;
    },
  },
  {
    method: 'GET',
    path: '/api/users',
    handler: (ctx) => {
      ctx.requireAdministrator();
      return ok(users(ctx));
    },
  },
  {
    method: 'GET',
    path: '/api/users/:user',
    handler: (ctx) => {
      ctx.requireAdministrator();
      const u = users(ctx).find((x) => x['name'] === ctx.param('user'));
      if (u === undefined) throw objectNotFound();
      return ok(u);
    },
  },
  {
    method: 'GET',
    path: '/api/permissions',
    handler: (ctx) => {
      ctx.requireAdministrator();
      return ok(permissions(ctx));
    },
  },
  {
    method: 'GET',
    path: '/api/permissions/:vhost/:user',
    handler: (ctx) => {
      ctx.requireAdministrator();
      const p = permissions(ctx).find((x) => x['vhost'] === ctx.param('vhost') && x['user'] === ctx.param('user'));
      if (p === undefined) throw objectNotFound();
      return ok(p);
    },
  },
  {
    method: 'GET',
    path: '/api/vhosts/:vhost/permissions',
    handler: (ctx) => {
      ctx.requireAdministrator();
      const v = ctx.vhost();
      return ok(permissions(ctx).filter((p) => p['vhost'] === v.name));
    },
  },
];
