// What every management resource handler gets: the broker, the authenticated user and what
// it may see, the path parameters, the query and the request body; plus the body readers
// that accept what RabbitMQ accepts (rabbitmqadmin sends booleans and counts as strings).

import type { Broker, UserEntry } from '../broker/broker.js';
import type { BrokerConnection } from '../broker/broker-connection.js';
import type { Json } from '../broker/json-fields.js';
import type { VirtualHost } from '../broker/vhost.js';
import { badRequest, notAuthorised, objectNotFound } from './http-error.js';

/** The running broker as the management API needs it (RunningBroker is one). */
export interface ManagedBroker {
  readonly broker: Broker;
  readonly address: { readonly host: string; readonly port: number };
  connections(): IterableIterator<BrokerConnection>;
}

/** What a handler answers: a status and a JSON body (none for 201/204). */
export interface Reply {
  readonly status: number;
  readonly body?: Json;
  readonly headers?: Readonly<Record<string, string>>;
}

export const NO_CONTENT: Reply = { status: 204 };
export const CREATED: Reply = { status: 201 };
export const ok = (body: Json): Reply => ({ status: 200, body });

/** RabbitMQ's node name, shown in `node` fields; ours is one process. */
export const NODE_NAME = 'amqp-spy@localhost';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface Route {
  readonly method: Method;
  /** `/api/queues/:vhost/:name`: `:x` matches one (URL-decoded) segment */
  readonly path: string;
  readonly handler: (ctx: RequestContext) => Reply | Promise<Reply>;
}

const ADMIN_TAGS = new Set(['administrator']);
const SEE_ALL_TAGS = new Set(['administrator', 'monitoring']);
/** RabbitMQ's tags that let a user into the management API at all. */
export const MANAGEMENT_TAGS = new Set(['administrator', 'monitoring', 'policymaker', 'management']);

export class RequestContext {
  constructor(
    readonly managed: ManagedBroker,
    readonly userName: string,
    readonly user: UserEntry,
    readonly params: Readonly<Record<string, string>>,
    readonly query: URLSearchParams,
    private readonly rawBody: string,
  ) {}

  get broker(): Broker {
    return this.managed.broker;
  }

  param(name: string): string {
    const v = this.params[name];
    if (v === undefined) throw new Error(`route has no :${name}`);
    return v;
  }

  /** The request body as a JSON object: 400 `not_json` otherwise, as RabbitMQ answers. */
  body(): Record<string, unknown> {
    if (this.rawBody.trim() === '') return {};
    let v: unknown;
    try {
      v = JSON.parse(this.rawBody);
    } catch {
      throw badRequest('not_json');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('not_json');
    return v as Record<string, unknown>;
  }

  /** The raw body parsed as any JSON (definitions). */
  json(): unknown {
    try {
      return JSON.parse(this.rawBody);
    } catch {
      throw badRequest('not_json');
    }
  }

  // ---- who sees what ----

  requireAdministrator(): void {
    if (!this.user.tags.some((t) => ADMIN_TAGS.has(t))) throw notAuthorised('Not administrator user');
  }

  /** administrator and monitoring see every vhost and connection; the other tags their own */
  get seesAll(): boolean {
    return this.user.tags.some((t) => SEE_ALL_TAGS.has(t));
  }

  mayUse(vhost: string): boolean {
    return this.seesAll || this.broker.mayOpen(this.userName, vhost);
  }

  /** The vhosts listed to this user: one (`:vhost` given) or all it may use. */
  vhosts(): VirtualHost[] {
    const name = this.params['vhost'];
    if (name !== undefined) return [this.vhost(name)];
    return [...this.broker.vhosts()].filter((v) => this.mayUse(v.name));
  }

  /** A vhost named in the path: 404 when missing, 401 when not the user's (RabbitMQ's answers). */
  vhost(name = this.param('vhost')): VirtualHost {
    const v = this.broker.vhost(name);
    if (v === undefined) throw objectNotFound();
    if (!this.mayUse(name)) throw notAuthorised('Access refused.');
    return v;
  }

  /** Open connections this user may see (its own unless it sees all), in a vhost it may use. */
  *connections(): Generator<BrokerConnection> {
    for (const c of this.managed.connections()) {
      if (c.vhost === undefined) continue; // not yet open: RabbitMQ lists connections after connection.open
      if (this.params['vhost'] !== undefined && c.vhost.name !== this.params['vhost']) continue;
      if (this.seesAll || c.user === this.userName) yield c;
    }
  }
}

// ---- body fields, read as RabbitMQ reads them ----

/** true/false, or the strings "true"/"false" (rabbitmqadmin); else 400 ["not_boolean", value]. */
export function boolField(body: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined) return fallback;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw badRequest(['not_boolean', typeof v === 'string' ? v : JSON.stringify(v)]);
}

export function stringField(body: Record<string, unknown>, key: string, fallback?: string): string {
  const v = body[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') throw badRequest(v === undefined ? `[{key_missing,${key}}]` : `${key} must be a string`);
  return v;
}

/** Keys a POST must have, all missing ones named at once, as RabbitMQ lists them. */
export function requireKeys(body: Record<string, unknown>, keys: readonly string[]): void {
  const missing = keys.filter((k) => body[k] === undefined);
  if (missing.length > 0) throw badRequest(`[${missing.map((k) => `{key_missing,${k}}`).join(',')}]`);
}

/** A non-negative integer, or its decimal string (rabbitmqadmin's count=5). */
export function intField(body: Record<string, unknown>, key: string, fallback?: number): number {
  const v = body[key];
  if (v === undefined && fallback !== undefined) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw badRequest(`${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** `amq.default` names the default exchange in paths, as in RabbitMQ's API. */
export function exchangeName(pathName: string): string {
  return pathName === 'amq.default' ? '' : pathName;
}
