// /api/definitions (and per vhost): GET exports, POST imports, in RabbitMQ's format. What the
// broker does not apply is told to the person running it, as at start.

import { DefinitionsError } from '../broker/definitions.js';
import { NO_CONTENT, ok, type RequestContext, type Route } from './context.js';
import { badRequest } from './http-error.js';

function importDefinitions(ctx: RequestContext, notice: (line: string) => void, vhost?: string) {
  ctx.requireAdministrator();
  const json = ctx.json();
  try {
    for (const line of ctx.broker.importDefinitions(json, 'POST /api/definitions', vhost)) notice(line);
  } catch (e) {
    if (e instanceof DefinitionsError) throw badRequest(`${e.entry}: ${e.problem}`);
    throw e;
  }
  ctx.broker.scheduleExpiry();
  return NO_CONTENT;
}

export const definitionRoutes = (notice: (line: string) => void): readonly Route[] => [
  {
    method: 'GET',
    path: '/api/definitions',
    handler: (ctx) => {
      ctx.requireAdministrator();
      return ok(ctx.broker.definitions());
    },
  },
  {
    method: 'GET',
    path: '/api/definitions/:vhost',
    handler: (ctx) => {
      ctx.requireAdministrator();
      return ok(ctx.broker.definitions(ctx.vhost().name));
    },
  },
  { method: 'POST', path: '/api/definitions', handler: (ctx) => importDefinitions(ctx, notice) },
  { method: 'POST', path: '/api/definitions/:vhost', handler: (ctx) => importDefinitions(ctx, notice, ctx.vhost().name) },
];
