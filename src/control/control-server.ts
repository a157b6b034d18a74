// `--control 127.0.0.1:8474`: fault rules armed and removed while traffic flows, as JSON over
// HTTP, so a test suite can flip faults mid-test; and one-shot actions on a live connection.
//   GET    /faults                    the rules, with ids and state
//   POST   /faults                    one rule (text or the rule files' object form) or a list:
//                                     all armed, or none (400 naming the bad one and why)
//   DELETE /faults                    every rule
//   GET    /faults/:id                one rule
//   DELETE /faults/:id                one rule (what it holds is let go)
//   POST   /faults/:id/disarm | /arm  switch one off and on again
//   POST   /connections/:n/actions    {"action": "close-connection=320"} (close-channel=406 takes
//                                     "channel"; block[=5s], unblock, cut, reset)
// No authentication: loopback unless an address is given (the CLI warns then).

import http from 'node:http';
import { listenHttp, type RunningHttp } from '../source/http-listen.js';
import {
  ConnectionActionError,
  FaultInputError,
  parseConnectionAction,
  parseRuleEntries,
  type FaultControl,
  type FaultRuleInfo,
} from '../fault/fault-control.js';

/** A request body larger than this is refused (413) without being read. */
export const CONTROL_BODY_LIMIT = 64 * 1024;

export type RunningControl = RunningHttp;

export interface ControlServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly control: FaultControl;
  /** one line for people per change (a rule armed or removed, an action done) */
  readonly notice?: (line: string) => void;
}

/** An answer other than 2xx: a status, a short error and the reason in one line. */
class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
    readonly allow?: string,
  ) {
    super(reason);
    this.name = 'HttpProblem';
  }
}

type Reply = { readonly status: number; readonly body: unknown };

/** Serves `control`; rejects with ListenError when the address cannot be bound. */
export async function startControlServer(options: ControlServerOptions): Promise<RunningControl> {
  const { control, listen } = options;
  const notice = options.notice ?? (() => {});
  const server = http.createServer((req, res) => {
    handle(req, control, notice).then(
      (reply) => send(res, reply.status, reply.body),
      (error: unknown) => {
        if (error instanceof HttpProblem) {
          if (error.allow !== undefined) res.setHeader('Allow', error.allow);
          if (error.status === 413) res.setHeader('Connection', 'close');
          send(res, error.status, { error: error.error, reason: error.reason, ...error.extra });
        } else send(res, 500, { error: 'internal error', reason: error instanceof Error ? error.message : String(error) });
      },
    );
  });
  // a local client that opens connections and never finishes a request holds little, not long
  server.maxConnections = 64;
  return listenHttp(server, listen);
}

const ROUTES = 'GET/POST/DELETE /faults, GET/DELETE /faults/:id, POST /faults/:id/disarm or /arm, POST /connections/:n/actions';

async function handle(req: http.IncomingMessage, control: FaultControl, notice: (line: string) => void): Promise<Reply> {
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const parts = path.split('/').slice(1);
  const allow = (methods: string): void => {
    if (!methods.split(', ').includes(method)) throw new HttpProblem(405, 'method not allowed', `${path} takes ${methods}`, {}, methods);
  };
  if (parts[0] === 'faults' && parts.length === 1) {
    allow('GET, POST, DELETE');
    if (method === 'GET') return { status: 200, body: { faults: control.list() } };
    if (method === 'DELETE') {
      const removed = control.removeAll();
      if (removed > 0) notice(`control: ${removed} fault rule${removed === 1 ? '' : 's'} removed`);
      return { status: 200, body: { removed, faults: control.list() } };
    }
    const rules = rulesOf(await readBody(req));
    let added: FaultRuleInfo[];
    try {
      added = control.add(rules);
    } catch (error) {
      if (error instanceof FaultInputError) throw new HttpProblem(409, 'too many rules', error.message);
      throw error;
    }
    for (const rule of added) notice(`fault rule ${rule.id} armed (control): ${rule.rule}`);
    return { status: 201, body: { added, faults: control.list() } };
  }
  if (parts[0] === 'faults' && (parts.length === 2 || (parts.length === 3 && (parts[2] === 'arm' || parts[2] === 'disarm')))) {
    const id = idOf(parts[1]!, 'fault rule');
    const rule = control.list().find((r) => r.id === id);
    if (parts.length === 3) {
      allow('POST');
      const info = control.setArmed(id, parts[2] === 'arm');
      if (info === undefined) throw noRule(id);
      notice(`fault rule ${id} ${parts[2]}ed (control): ${info.rule}`);
      return { status: 200, body: { rule: info } };
    }
    allow('GET, DELETE');
    if (rule === undefined) throw noRule(id);
    if (method === 'GET') return { status: 200, body: { rule } };
    control.remove(id);
    notice(`fault rule ${id} removed (control): ${rule.rule}`);
    return { status: 200, body: { removed: rule, faults: control.list() } };
  }
  if (parts[0] === 'connections' && parts.length === 3 && parts[2] === 'actions') {
    const connection = idOf(parts[1]!, 'connection');
    allow('POST');
    const body = await readBody(req);
    const request = parseJson(body);
    if (typeof request !== 'object' || request === null || Array.isArray(request) || typeof (request as { action?: unknown }).action !== 'string')
      throw new HttpProblem(
        400,
        'bad action',
        'the body is {"action": "close-connection=320"} (or close-channel=406 with "channel": N, block, unblock, cut, reset)',
      );
    const { action, channel } = request as { action: string; channel?: unknown };
    if (channel !== undefined && typeof channel !== 'number') throw new HttpProblem(400, 'bad action', `"channel" is a number, got ${JSON.stringify(channel)}`);
    let done: string;
    try {
      done = control.act(connection, parseConnectionAction(action, channel));
    } catch (error) {
      if (error instanceof FaultInputError) throw new HttpProblem(400, 'bad action', error.message);
      if (error instanceof ConnectionActionError) throw new HttpProblem(error.status, error.status === 404 ? 'not found' : 'conflict', error.message);
      throw error;
    }
    notice(`control: ${done}`);
    return { status: 200, body: { done } };
  }
  throw new HttpProblem(404, 'not found', `no route ${method} ${path} (routes: ${ROUTES})`);
}

function noRule(id: number): HttpProblem {
  return new HttpProblem(404, 'not found', `no fault rule ${id}`);
}

function idOf(text: string, what: string): number {
  const id = Number(text);
  if (!/^\d{1,9}$/.test(text) || id < 1) throw new HttpProblem(404, 'not found', `no ${what} ${JSON.stringify(text).slice(0, 40)}: ids are numbers from 1`);
  return id;
}

/**
 * The rules of a POST /faults body: JSON (a rule string, an object, or a list), or plain text,
 * one rule a line (`#` comments and blank lines skipped). All are checked first.
 */
function rulesOf(body: { text: string; json: boolean }): ReturnType<typeof parseRuleEntries> {
  const trimmed = body.text.trim();
  const lines = trimmed.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const input = body.json || /^[[{"]/.test(trimmed) ? parseJson(body) : lines.length === 1 ? lines[0] : lines;
  try {
    return parseRuleEntries(input);
  } catch (error) {
    if (error instanceof FaultInputError)
      throw new HttpProblem(400, 'bad rule', `${error.message}; no rule was armed`, error.rule !== undefined ? { rule: error.rule } : {});
    throw error;
  }
}

function parseJson(body: { text: string }): unknown {
  try {
    return JSON.parse(body.text);
  } catch (error) {
    throw new HttpProblem(400, 'bad request', `the body is not JSON: ${(error as Error).message}`);
  }
}

/** The body, up to CONTROL_BODY_LIMIT bytes: a larger one is refused without being kept. */
function readBody(req: http.IncomingMessage): Promise<{ text: string; json: boolean }> {
  const json = /\bjson\b/i.test(req.headers['content-type'] ?? '');
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = new HttpProblem(413, 'body too large', `a body is at most ${CONTROL_BODY_LIMIT} bytes`);
  if (declared > CONTROL_BODY_LIMIT) {
    req.resume();
    return Promise.reject(tooLarge);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > CONTROL_BODY_LIMIT) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve({ text: Buffer.concat(chunks).toString('utf8'), json });
    });
    req.on('error', (error) => reject(error));
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
