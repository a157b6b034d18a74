// RabbitMQ's definitions format (`rabbitmqctl export_definitions`, GET /api/definitions):
// parsed and checked first (an invalid file changes nothing and fails with one line naming
// the entry), then applied to the broker; whatever the broker does not support is reported
// one line per entry, never dropped in silence. Export writes the same format back.

import type { FieldTable } from '../decoder/types.js';
import { AmqpSpyError } from '../errors.js';
import { VERSION } from '../version.js';
import { AmqpError } from './amqp-error.js';
import type { Broker, UserEntry } from './broker.js';
import { checkExchangeType, EXCHANGE_TYPES } from './exchange-types.js';
import { amqpStringText, lookup } from './field-values.js';
import { jsonToTable, jsonTypeName, argumentsJson, type Json } from './json-fields.js';
import { DEFAULT_HASHING_ALGORITHM, decodePasswordHash, hashPassword, isHashingAlgorithm, type HashingAlgorithm } from './password-hash.js';
import { validateQueueArguments } from './queue-arguments.js';

/** The RabbitMQ version whose answers the broker reproduces, written as `rabbit_version`. */
export const RABBITMQ_COMPAT_VERSION = '3.10.0';

/** The owner definitions and the management API declare as: never exclusive, so never compared. */
export const ADMIN_OWNER: object = Object.freeze({ owner: 'definitions or management API' });

/** A definitions file (or object) the broker cannot load: names the entry and the problem. */
export class DefinitionsError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    /** the file (or `definitions`) */
    readonly source: string,
    /** e.g. `queues[2] 'orders' in vhost '/'` */
    readonly entry: string,
    readonly problem: string,
  ) {
    super(`${source}: ${entry}: ${problem}`);
    this.name = new.target.name;
  }
}

export type DefinitionsJson = { [key: string]: Json };

interface Entry {
  /** how error lines and reports name it */
  readonly entry: string;
}

interface VhostDef extends Entry {
  readonly name: string;
  readonly description?: string;
}

interface UserDef extends Entry {
  readonly name: string;
  readonly password?: string;
  readonly hash?: { readonly algorithm: HashingAlgorithm; readonly bytes: Uint8Array; readonly text: string };
  readonly tags: readonly string[];
}

interface PermissionDef extends Entry {
  readonly user: string;
  readonly vhost: string;
  readonly patterns: { readonly configure: string; readonly write: string; readonly read: string };
}

interface ExchangeDef extends Entry {
  readonly vhost: string;
  readonly name: string;
  readonly type: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

interface QueueDef extends Entry {
  readonly vhost: string;
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

interface BindingDef extends Entry {
  readonly vhost: string;
  readonly source: string;
  readonly destination: string;
  readonly destinationType: 'queue' | 'exchange';
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface ParsedDefinitions {
  readonly vhosts: readonly VhostDef[];
  readonly users: readonly UserDef[];
  readonly permissions: readonly PermissionDef[];
  readonly exchanges: readonly ExchangeDef[];
  readonly queues: readonly QueueDef[];
  readonly bindings: readonly BindingDef[];
  /** unsupported or unknown entries found while parsing, one line each */
  readonly report: readonly string[];
}

const TOP_LEVEL = new Set([
  'rabbit_version',
  'rabbitmq_version',
  'product_name',
  'product_version',
  'users',
  'vhosts',
  'permissions',
  'topic_permissions',
  'parameters',
  'global_parameters',
  'policies',
  'queues',
  'exchanges',
  'bindings',
]);

type Obj = { readonly [key: string]: unknown };

/** Reads one definitions entry's fields, failing with a line that names the entry. */
class EntryReader {
  constructor(
    private readonly source: string,
    readonly entry: string,
    readonly obj: Obj,
    private readonly known: ReadonlySet<string>,
  ) {}

  fail(problem: string): never {
    throw new DefinitionsError(this.source, this.entry, problem);
  }

  string(key: string, fallback?: string): string {
    const v = this.obj[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') this.fail(v === undefined ? `'${key}' is missing` : `'${key}' must be a string, got ${jsonTypeName(v)}`);
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.obj[key] === undefined ? undefined : this.string(key);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined) return fallback;
    // RabbitMQ's own exports and hand-written files both appear: "true" is taken as true
    if (v === 'true' || v === 'false') return v === 'true';
    if (typeof v !== 'boolean') this.fail(`'${key}' must be true or false, got ${jsonTypeName(v)}`);
    return v;
  }

  table(key: string): FieldTable {
    try {
      return jsonToTable(this.obj[key] ?? undefined, key);
    } catch (e) {
      return this.fail((e as Error).message);
    }
  }

  /** Keys this entry has that the format does not define (reported, not fatal). */
  unknownKeys(): string[] {
    return Object.keys(this.obj).filter((k) => !this.known.has(k));
  }
}

/**
 * Checks a definitions object and turns it into typed entries. `defaultVhost`: the vhost of
 * entries without one (a per-vhost export, POST /api/definitions/{vhost}).
 */
export function parseDefinitions(json: unknown, source: string, defaultVhost?: string): ParsedDefinitions {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new DefinitionsError(source, 'the top level', `expected a JSON object (RabbitMQ's definitions export), got ${jsonTypeName(json)}`);
  const top = json as Obj;
  const report: string[] = [];
  const notApplied = (entry: string, why: string): void => {
    report.push(`${source}: not applied: ${entry}: ${why}`);
  };
  for (const key of Object.keys(top)) if (!TOP_LEVEL.has(key)) notApplied(`'${key}'`, 'not a key of the definitions format');
  for (const key of ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version']) {
    const v = top[key];
    if (v !== undefined && typeof v !== 'string') throw new DefinitionsError(source, `'${key}'`, `must be a string, got ${jsonTypeName(v)}`);
  }
  const list = (key: string): Obj[] => {
    const v = top[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new DefinitionsError(source, `'${key}'`, `must be an array, got ${jsonTypeName(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        throw new DefinitionsError(source, `${key}[${i}]`, `must be an object, got ${jsonTypeName(item)}`);
      return item as Obj;
    });
  };
  const readers = (key: string, known: readonly string[], name: (o: Obj) => string): EntryReader[] =>
    list(key).map((o, i) => {
      const r = new EntryReader(source, `${key}[${i}]${name(o)}`, o, new Set(known));
      for (const k of r.unknownKeys()) notApplied(r.entry, `unknown key '${k}'`);
      return r;
    });
  const quoted = (v: unknown): string => (typeof v === 'string' ? ` '${v}'` : '');
  const inVhost = (o: Obj): string => (typeof o['vhost'] === 'string' ? ` in vhost '${o['vhost']}'` : '');
  const vhostOf = (r: EntryReader): string => (defaultVhost !== undefined ? r.string('vhost', defaultVhost) : r.string('vhost'));

  const vhosts = readers('vhosts', ['name', 'limits', 'metadata', 'description', 'tags', 'default_queue_type', 'tracing'], (o) => quoted(o['name'])).map(
    (r): VhostDef => {
      const name = r.string('name');
      if (name === '') r.fail("'name' is empty");
      const metadata = r.obj['metadata'];
      const fromMetadata = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? (metadata as Obj)['description'] : undefined;
      const description = r.optionalString('description') ?? (typeof fromMetadata === 'string' ? fromMetadata : undefined);
      if (hasEntries(r.obj['limits'])) notApplied(r.entry, `limits ${JSON.stringify(r.obj['limits'])} are not enforced by the built-in broker`);
      const dqt = r.obj['default_queue_type'] ?? (metadata as Obj | undefined)?.['default_queue_type'];
      if (dqt !== undefined && dqt !== 'classic' && dqt !== 'undefined')
        notApplied(r.entry, `default_queue_type '${String(dqt)}': queues are declared classic unless they say otherwise`);
      return description === undefined ? { entry: r.entry, name } : { entry: r.entry, name, description };
    },
  );

  const users = readers('users', ['name', 'password_hash', 'password', 'hashing_algorithm', 'tags', 'limits'], (o) => quoted(o['name'])).flatMap(
    (r): UserDef[] => {
      const name = r.string('name');
      if (name === '') r.fail("'name' is empty");
      const tagsValue = r.obj['tags'];
      let tags: string[];
      if (tagsValue === undefined) tags = [];
      else if (typeof tagsValue === 'string') tags = tagsValue.split(',').filter((t) => t !== '');
      else if (Array.isArray(tagsValue) && tagsValue.every((t) => typeof t === 'string')) tags = tagsValue as string[];
      else return r.fail(`'tags' must be an array of strings (or a comma-separated string), got ${jsonTypeName(tagsValue)}`);
      if (hasEntries(r.obj['limits'])) notApplied(r.entry, `limits ${JSON.stringify(r.obj['limits'])} are not enforced by the built-in broker`);
      const password = r.optionalString('password');
      if (password !== undefined) return [{ entry: r.entry, name, password, tags }];
      const hashText = r.string('password_hash');
      const algorithm = r.string('hashing_algorithm', DEFAULT_HASHING_ALGORITHM);
      if (!isHashingAlgorithm(algorithm)) {
        notApplied(
          r.entry,
          `hashing_algorithm '${algorithm}' is not one the broker can check (rabbit_password_hashing_sha256, _sha512, _md5): the user is left out`,
        );
        return [];
      }
      const bytes = hashText === '' ? new Uint8Array(0) : decodePasswordHash(algorithm, hashText);
      if (typeof bytes === 'string') return r.fail(`'password_hash' ${bytes}`);
      return [{ entry: r.entry, name, hash: { algorithm, bytes, text: hashText }, tags }];
    },
  );

  const permissions = readers('permissions', ['user', 'vhost', 'configure', 'write', 'read'], (o) => `${quoted(o['user'])}${inVhost(o)}`).map(
    (r): PermissionDef => {
      const patterns = { configure: r.string('configure'), write: r.string('write'), read: r.string('read') };
      for (const [k, p] of Object.entries(patterns)) {
        try {
          new RegExp(p);
        } catch {
          r.fail(`'${k}' ${JSON.stringify(p)} is not a regular expression`);
        }
      }
      return { entry: r.entry, user: r.string('user'), vhost: vhostOf(r), patterns };
    },
  );

  for (const [i, o] of list('topic_permissions').entries())
    notApplied(`topic_permissions[${i}]${quoted(o['user'])}${inVhost(o)}`, 'topic permissions are not supported by the built-in broker');
  for (const [i, o] of list('parameters').entries())
    notApplied(
      `parameters[${i}]${quoted(o['name'])}${inVhost(o)}`,
      `runtime parameters (${String(o['component'] ?? 'unknown component')}) are not supported by the built-in broker`,
    );
  for (const [i, o] of list('global_parameters').entries())
    notApplied(`global_parameters[${i}]${quoted(o['name'])}`, 'global parameters are not supported by the built-in broker');
  for (const [i, o] of list('policies').entries())
    notApplied(
      `policies[${i}]${quoted(o['name'])}${inVhost(o)}`,
      'policies are not supported by the built-in broker: give queues their settings as x-arguments',
    );

  const exchanges = readers(
    'exchanges',
    ['name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments'],
    (o) => `${quoted(o['name'])}${inVhost(o)}`,
  ).map(
    (r): ExchangeDef => ({
      entry: r.entry,
      vhost: vhostOf(r),
      name: r.string('name'),
      type: r.string('type'),
      durable: r.bool('durable', true),
      autoDelete: r.bool('auto_delete', false),
      internal: r.bool('internal', false),
      arguments: r.table('arguments'),
    }),
  );

  const queues = readers('queues', ['name', 'vhost', 'durable', 'auto_delete', 'arguments', 'type'], (o) => `${quoted(o['name'])}${inVhost(o)}`).map(
    (r): QueueDef => {
      const name = r.string('name');
      if (name === '') r.fail("'name' is empty (a definitions file names its queues)");
      const vhost = vhostOf(r);
      const durable = r.bool('durable', true);
      let args = r.table('arguments');
      const type = r.optionalString('type');
      if (type !== undefined && lookup(args, 'x-queue-type') === undefined && type !== 'classic')
        args = { entries: [...args.entries, ['x-queue-type', { type: 'S', value: type }]] };
      try {
        validateQueueArguments(name, vhost, args, durable);
      } catch (e) {
        if (e instanceof AmqpError) r.fail(e.replyText);
        throw e;
      }
      const qt = lookup(args, 'x-queue-type');
      if (qt !== undefined && qt.type === 'S' && amqpStringText(qt.value) !== 'classic')
        notApplied(r.entry, `x-queue-type '${amqpStringText(qt.value)}' runs as a classic queue in the built-in broker`);
      return { entry: r.entry, vhost, name, durable, autoDelete: r.bool('auto_delete', false), arguments: args };
    },
  );

  const bindings = readers(
    'bindings',
    ['source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments'],
    (o) => ` '${String(o['source'])}' → ${String(o['destination_type'])} '${String(o['destination'])}'${inVhost(o)}`,
  ).map((r): BindingDef => {
    const destinationType = r.string('destination_type');
    if (destinationType !== 'queue' && destinationType !== 'exchange')
      return r.fail(`'destination_type' must be "queue" or "exchange", got ${JSON.stringify(destinationType)}`);
    return {
      entry: r.entry,
      vhost: vhostOf(r),
      source: r.string('source'),
      destination: r.string('destination'),
      destinationType,
      routingKey: r.string('routing_key', ''),
      arguments: r.table('arguments'),
    };
  });

  return { vhosts, users, permissions, exchanges, queues, bindings, report };
}

function hasEntries(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

/** Applies parsed definitions to the broker; returns the report lines (parse's and its own). */
export function applyDefinitions(broker: Broker, defs: ParsedDefinitions, source: string): string[] {
  const report = [...defs.report];
  const notApplied = (entry: string, why: string): void => {
    report.push(`${source}: not applied: ${entry}: ${why}`);
  };
  const vhostFor = (d: Entry & { readonly vhost: string }) => {
    const v = broker.vhost(d.vhost);
    if (v === undefined) throw new DefinitionsError(source, d.entry, `vhost '${d.vhost}' is neither in the definitions' vhosts nor the broker's`);
    return v;
  };
  const amqp = <T>(d: Entry, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof AmqpError) throw new DefinitionsError(source, d.entry, e.replyText);
      throw e;
    }
  };

  for (const v of defs.vhosts) broker.addVhost(v.name, v.description);
  for (const u of defs.users) {
    const existing = broker.users.get(u.name);
    // permissions come with their own entries; an existing user keeps the ones it had
    const vhosts = existing?.vhosts === undefined && existing !== undefined ? undefined : new Set(existing?.vhosts ?? []);
    const entry: UserEntry =
      u.password !== undefined
        ? { password: u.password, vhosts, tags: u.tags }
        : u.hash !== undefined
          ? { hash: u.hash, vhosts, tags: u.tags }
          : { vhosts, tags: u.tags };
    broker.setUser(u.name, entry);
  }
  for (const p of defs.permissions) {
    const user = broker.users.get(p.user);
    if (user === undefined) throw new DefinitionsError(source, p.entry, `user '${p.user}' is neither in the definitions' users nor the broker's`);
    vhostFor(p);
    const { configure, write, read } = p.patterns;
    if ([configure, write, read].some((x) => x !== '.*'))
      notApplied(
        p.entry,
        `configure ${JSON.stringify(configure)}, write ${JSON.stringify(write)}, read ${JSON.stringify(read)} applied as full access to the vhost (the broker checks vhost access only)`,
      );
    if (user.vhosts !== undefined) broker.setUser(p.user, { ...user, vhosts: new Set([...user.vhosts, p.vhost]) });
  }
  const skippedExchanges = new Set<string>();
  for (const x of defs.exchanges) {
    const vhost = vhostFor(x);
    if (!(EXCHANGE_TYPES as readonly string[]).includes(x.type)) {
      notApplied(x.entry, `exchange type '${x.type}' is not one the built-in broker has (${EXCHANGE_TYPES.join(', ')}); its bindings are left out too`);
      skippedExchanges.add(`${x.vhost}\u0000${x.name}`);
      continue;
    }
    amqp(x, () => {
      checkExchangeType(x.type);
      vhost.declareExchange({ name: x.name, type: x.type, durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments });
    });
  }
  for (const q of defs.queues) {
    const vhost = vhostFor(q);
    amqp(q, () => vhost.declareQueue({ name: q.name, connection: ADMIN_OWNER, durable: q.durable, autoDelete: q.autoDelete, arguments: q.arguments }));
  }
  for (const b of defs.bindings) {
    const vhost = vhostFor(b);
    if (b.source === '') {
      notApplied(b.entry, "the default exchange's bindings are implicit (every queue is bound by its name)");
      continue;
    }
    const skipped =
      skippedExchanges.has(`${b.vhost}\u0000${b.source}`) || (b.destinationType === 'exchange' && skippedExchanges.has(`${b.vhost}\u0000${b.destination}`));
    if (skipped) {
      notApplied(b.entry, 'it binds an exchange that was left out');
      continue;
    }
    amqp(b, () =>
      b.destinationType === 'queue'
        ? vhost.bindQueue(b.destination, b.source, b.routingKey, b.arguments)
        : vhost.bindExchange(b.destination, b.source, b.routingKey, b.arguments),
    );
  }
  return report;
}

/** One salted hash per plain-password user, so repeated exports (GET /api/users) agree. */
const plainHashes = new WeakMap<UserEntry, string>();

function plainHash(u: UserEntry): string {
  let h = plainHashes.get(u);
  if (h === undefined) {
    h = hashPassword(u.password ?? '');
    plainHashes.set(u, h);
  }
  return h;
}

/** The broker's definitions; with `vhost`, the per-vhost form (no users, no vhost fields), as GET /api/definitions/{vhost}. */
export function exportDefinitions(broker: Broker, vhost?: string): DefinitionsJson {
  const vhosts = [...broker.vhosts()].filter((v) => vhost === undefined || v.name === vhost);
  const withVhost = (name: string, o: { [key: string]: Json }): { [key: string]: Json } => (vhost === undefined ? { ...o, vhost: name } : o);
  const queues: Json[] = [];
  const exchanges: Json[] = [];
  const bindings: Json[] = [];
  for (const v of vhosts) {
    for (const q of v.queues()) {
      if (q.exclusive) continue; // RabbitMQ leaves out exclusive queues: they die with their connection
      // `type` as rabbitmqctl export_definitions writes it (the management API's export omits it)
      const type = q.settings.queueType;
      queues.push(withVhost(v.name, { name: q.name, durable: q.durable, auto_delete: q.autoDelete, arguments: argumentsJson(q.arguments), type }));
    }
    for (const x of v.exchanges()) {
      if (x.name === '' || x.name.startsWith('amq.')) continue;
      exchanges.push(
        withVhost(v.name, {
          name: x.name,
          type: x.type,
          durable: x.durable,
          auto_delete: x.autoDelete,
          internal: x.internal,
          arguments: argumentsJson(x.arguments),
        }),
      );
    }
    for (const b of v.bindings()) {
      const q = b.destinationKind === 'queue' ? v.queue(b.destination) : undefined;
      if (q?.exclusive === true) continue;
      bindings.push(
        withVhost(v.name, {
          source: b.source,
          destination: b.destination,
          destination_type: b.destinationKind,
          routing_key: b.routingKey,
          arguments: argumentsJson(b.arguments),
        }),
      );
    }
  }
  if (vhost !== undefined) return { rabbit_version: RABBITMQ_COMPAT_VERSION, parameters: [], policies: [], queues, exchanges, bindings };
  const users: Json[] = [];
  const permissions: Json[] = [];
  for (const [name, u] of broker.users) {
    // plain passwords leave as a salted hash, as RabbitMQ stores them
    const hash = u.hash ?? { algorithm: DEFAULT_HASHING_ALGORITHM, text: u.password === undefined ? '' : plainHash(u) };
    users.push({ name, password_hash: hash.text, hashing_algorithm: hash.algorithm, tags: [...u.tags], limits: {} });
    for (const v of vhosts)
      if (u.vhosts === undefined || u.vhosts.has(v.name)) permissions.push({ user: name, vhost: v.name, configure: '.*', write: '.*', read: '.*' });
  }
  return {
    rabbit_version: RABBITMQ_COMPAT_VERSION,
    rabbitmq_version: RABBITMQ_COMPAT_VERSION,
    product_name: 'amqp-spy',
    product_version: VERSION,
    users,
    vhosts: vhosts.map((v) => ({ name: v.name, limits: [], metadata: { description: broker.vhostDescription(v.name), tags: [] } })),
    permissions,
    topic_permissions: [],
    parameters: [],
    global_parameters: [],
    policies: [],
    queues,
    exchanges,
    bindings,
  };
}
