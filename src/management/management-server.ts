// The management HTTP API subset (`--management 127.0.0.1:15672`) on node:http: basic auth
// with the broker's users, routing to one handler per resource group, RabbitMQ's status codes
// and error bodies, `columns`/`sort` on answers, and request bodies bounded in memory.

import http from 'node:http';
import { isLoopbackAddress } from '../source/address.js';
import { listenHttp, type RunningHttp } from '../source/http-listen.js';
import type { Json } from '../broker/json-fields.js';
import { accessRoutes } from './access.js';
import { bindingRoutes } from './bindings.js';
import { connectionRoutes } from './connections.js';
import { MANAGEMENT_TAGS, RequestContext, type ManagedBroker, type Reply, type Route } from './context.js';
import { definitionRoutes } from './definitions.js';
import { exchangeRoutes } from './exchanges.js';
import { ManagementHttpError, notAuthorised, objectNotFound } from './http-error.js';
import { overviewRoutes } from './overview.js';
import { queueRoutes } from './queues.js';

/** RabbitMQ's default `management.http.max_body_size` (20 MB): larger bodies get 413. */
export const DEFAULT_MAX_BODY_BYTES = 20_000_000;

export interface ManagementOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly broker: ManagedBroker;
  /** default 20 MB, as RabbitMQ */
  readonly maxBodyBytes?: number;
  /** one-line notices (definitions entries not applied by POST /api/definitions) */
  readonly notice?: (line: string) => void;
}

export type RunningManagement = RunningHttp;

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'PUT', 'POST', 'DELETE']);

function compile(routes: readonly Route[]): CompiledRoute[] {
  return routes.map((route) => ({ route, segments: route.path.split('/').filter((s) => s !== '') }));
}

/** Path segments, each URL-decoded (a vhost `/` arrives as `%2F`); undefined when one does not decode. */
function pathSegments(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function match(
  compiled: readonly CompiledRoute[],
  method: string,
  segments: readonly string[],
): { route?: Route; params: Record<string, string>; pathKnown: boolean } {
  let pathKnown = false;
  for (const c of compiled) {
    if (c.segments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      const want = c.segments[i]!;
      const got = segments[i]!;
      if (want.startsWith(':')) params[want.slice(1)] = got;
      else ok = want === got;
    }
    if (!ok) continue;
    pathKnown = true;
    if (c.route.method === method) return { route: c.route, params, pathKnown };
  }
  return { params: {}, pathKnown };
}

/** `?columns=name,queue_totals.messages`: only those (dotted paths) of each object, as RabbitMQ. */
function pickColumns(value: Json, columns: readonly string[]): Json {
  if (Array.isArray(value)) return value.map((v) => pickColumns(v, columns));
  if (typeof value !== 'object' || value === null) return value;
  const out: { [key: string]: Json } = {};
  for (const column of columns) {
    const path = column.split('.');
    let from: Json | undefined = value;
    for (const p of path) from = typeof from === 'object' && from !== null && !Array.isArray(from) ? from[p] : undefined;
    if (from === undefined) continue;
    let into = out;
    for (const p of path.slice(0, -1)) {
      const next = into[p];
      into = (typeof next === 'object' && next !== null && !Array.isArray(next) ? next : (into[p] = {})) as { [key: string]: Json };
    }
    into[path[path.length - 1]!] = from;
  }
  return out;
}

/** `?sort=name&sort_reverse=true` on lists. */
function sortList(value: Json, key: string, reverse: boolean): Json {
  if (!Array.isArray(value)) return value;
  const at = (v: Json): Json | undefined => {
    let x: Json | undefined = v;
    for (const p of key.split('.')) x = typeof x === 'object' && x !== null && !Array.isArray(x) ? x[p] : undefined;
    return x;
  };
  const sorted = [...value].sort((a, b) => {
    const x = at(a);
    const y = at(b);
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x ?? '').localeCompare(String(y ?? ''));
  });
  return reverse ? sorted.reverse() : sorted;
}

/** user:password from a Basic Authorization header, or undefined. */
function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)\s*$/i.exec(header ?? '');
  if (m === null) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const UNAUTHORIZED_HEADERS = { 'www-authenticate': 'Basic realm="RabbitMQ Management"' };

/** Reads the body up to `limit` bytes; over it, undefined (the caller answers 413). */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the management API; rejects with ListenError when the address cannot be bound. */
export async function startManagement(options: ManagementOptions): Promise<RunningManagement> {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const notice = options.notice ?? ((line: string) => process.stderr.write(`amqp-spy: ${line}\n`));
  const managed = options.broker;
  // the overview names the HTTP listener: filled in once bound
  const bound = { host: options.listen.host, port: options.listen.port };
  const compiled = compile([
    ...overviewRoutes(bound),
    ...accessRoutes,
    ...exchangeRoutes,
    ...queueRoutes,
    ...bindingRoutes,
    ...connectionRoutes,
    ...definitionRoutes(notice),
  ]);

  const send = (res: http.ServerResponse, status: number, body: Json | undefined, headers: Readonly<Record<string, string>> = {}): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-cache',
    });
    res.end(text);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://management');
    const method = req.method ?? 'GET';
    const segments = pathSegments(url.pathname);
    if (segments === undefined) throw objectNotFound();
    // authentication first, as RabbitMQ: an unknown path needs a login too
    const credentials = basicCredentials(req.headers.authorization);
    if (credentials === undefined) {
      req.resume();
      send(res, 401, undefined, UNAUTHORIZED_HEADERS);
      return;
    }
    const broker = managed.broker;
    const user = broker.users.get(credentials.user);
    if (user === undefined || broker.refusal(credentials.user, credentials.password) !== undefined)
      throw new ManagementHttpError(401, 'not_authorized', 'Login failed');
    if (credentials.user === 'guest' && !broker.allowRemoteGuest && !isLoopbackAddress(req.socket.remoteAddress))
      throw new ManagementHttpError(401, 'not_authorized', 'User can only log in via localhost');
    if (!user.tags.some((t) => MANAGEMENT_TAGS.has(t))) throw notAuthorised('Not management user');
    const { route, params, pathKnown } = METHODS.has(method) ? match(compiled, method, segments) : { params: {}, pathKnown: true };
    if (route === undefined) {
      req.resume();
      if (pathKnown) send(res, 405, undefined, { allow: 'GET, PUT, POST, DELETE' });
      else send(res, 404, { error: 'Object Not Found', reason: 'Not Found' });
      return;
    }
    const body = await readBody(req, maxBody);
    if (body === undefined) {
      // don't read the rest: answer and close, so a huge upload costs nothing more
      res.setHeader('connection', 'close');
      send(res, 413, { error: 'bad_request', reason: `request body larger than ${maxBody} bytes` });
      req.socket.end();
      return;
    }
    const ctx = new RequestContext(managed, credentials.user, user, params, url.searchParams, body);
    const reply: Reply = await route.handler(ctx);
    let answer = reply.body;
    if (answer !== undefined) {
      const sort = url.searchParams.get('sort');
      if (sort !== null && sort !== '') answer = sortList(answer, sort, url.searchParams.get('sort_reverse') === 'true');
      const columns = url.searchParams.get('columns');
      if (columns !== null && columns !== '') answer = pickColumns(answer, columns.split(','));
    }
    send(res, reply.status, answer, reply.headers);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      req.resume();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof ManagementHttpError) {
        send(res, e.status, e.body, e.status === 401 ? UNAUTHORIZED_HEADERS : {});
        return;
      }
      notice(`management API: internal error on ${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`);
      send(res, 500, { error: 'internal_server_error', reason: e instanceof Error ? e.message : String(e) });
    });
  });
  const running = await listenHttp(server, options.listen);
  bound.host = running.address.host;
  bound.port = running.address.port;
  return running;
}
