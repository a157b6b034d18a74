// RabbitMQ's definitions format: loaded into the built-in broker (users with RabbitMQ's
// password hashes log in, the topology routes), what it cannot apply reported one line each,
// invalid input refused with one line, and — when AMQP_SPY_RABBITMQ_URL is set — the round
// trip both ways with a real RabbitMQ (rabbitmqctl export_definitions / import_definitions).

import { spawnSync } from 'node:child_process';
import amqplib from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { DefinitionsError } from '../../src/broker/definitions.js';
import { hashPassword } from '../../src/broker/password-hash.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';

const VHOST = 'amqp-spy-defs-test';
const USER = 'amqp-spy-defs-user';
const PASSWORD = 'pw-defs-1';

/** The scenario's topology in the definitions format (what a RabbitMQ export of it holds). */
function scenario(vhost: string) {
  const q = (name: string, args: object = {}) => ({ name, vhost, durable: true, auto_delete: false, arguments: args, type: 'classic' });
  const x = (name: string, type: string, args: object = {}) => ({ name, vhost, type, durable: true, auto_delete: false, internal: false, arguments: args });
  const b = (source: string, destination: string, key: string, args: object = {}, destinationType = 'queue') => ({
    source,
    vhost,
    destination,
    destination_type: destinationType,
    routing_key: key,
    arguments: args,
  });
  return {
    queues: [
      q('orders.created', { 'x-message-ttl': 60000, 'x-dead-letter-exchange': 'dead', 'x-max-length': 100 }),
      q('dead-letters'),
      q('unrouted-q'),
      q('prio', { 'x-max-priority': 5 }),
    ],
    exchanges: [x('orders', 'topic', { 'alternate-exchange': 'unrouted' }), x('unrouted', 'fanout'), x('dead', 'fanout'), x('by-headers', 'headers')],
    bindings: [
      b('orders', 'orders.created', 'order.created.*'),
      b('unrouted', 'unrouted-q', ''),
      b('dead', 'dead-letters', ''),
      b('by-headers', 'prio', '', { 'x-match': 'all', kind: 'p' }),
      b('orders', 'by-headers', 'hdr.#', {}, 'exchange'),
    ],
  };
}

/** The scenario's topology, checked through a real client: passive declares and routing. */
async function checkTopology(url: string): Promise<void> {
  const conn = await amqplib.connect(url);
  try {
    const ch = await conn.createChannel();
    for (const name of ['orders', 'unrouted', 'dead', 'by-headers']) await ch.checkExchange(name);
    for (const name of ['orders.created', 'dead-letters', 'unrouted-q', 'prio']) await ch.purgeQueue(name);
    ch.publish('orders', 'order.created.eu', Buffer.from('created'));
    ch.publish('orders', 'nobody.listens', Buffer.from('unrouted'));
    ch.publish('orders', 'hdr.x', Buffer.from('by headers'), { headers: { kind: 'p' } });
    ch.publish('orders', 'hdr.y', Buffer.from('wrong header'), { headers: { kind: 'q' } });
    await ch.close();
    const ch2 = await conn.createConfirmChannel();
    const got = async (queue: string): Promise<string[]> => {
      const bodies: string[] = [];
      for (;;) {
        const m = await ch2.get(queue, { noAck: true });
        if (m === false) return bodies;
        bodies.push(m.content.toString());
      }
    };
    // the publishes went out on another channel: wait until each queue has what it should
    const deadline = Date.now() + 5000;
    const expected: Record<string, string[]> = { 'orders.created': ['created'], 'unrouted-q': ['unrouted'], prio: ['by headers'], 'dead-letters': [] };
    const seen: Record<string, string[]> = {};
    for (const [queue, want] of Object.entries(expected)) {
      seen[queue] = [];
      while (seen[queue]!.length < want.length && Date.now() < deadline) {
        seen[queue]!.push(...(await got(queue)));
        if (seen[queue]!.length < want.length) await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(seen).toEqual(expected);
    const ok = await ch2.checkQueue('orders.created');
    expect(ok.messageCount).toBe(0);
    await ch2.close();
  } finally {
    await conn.close();
  }
}

/** JSON with sorted keys, so entries compare whatever order their writer used. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
const sorted = (list: unknown): string[] => (list as unknown[]).map(canonical).sort();

const running: RunningBroker[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.close();
});

async function brokerWith(definitions: unknown): Promise<{ broker: RunningBroker; warnings: string[] }> {
  const warnings: string[] = [];
  const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, definitions, onWarning: (m) => warnings.push(m) });
  running.push(broker);
  return { broker, warnings };
}

const urlOf = (b: RunningBroker, user: string, password: string, vhost: string) =>
  `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${b.address.port}/${encodeURIComponent(vhost)}`;

describe('definitions: load', () => {
  it("loads users with RabbitMQ's password hashes, vhosts, permissions and a topology that routes", async () => {
    const { broker, warnings } = await brokerWith({
      rabbit_version: '3.10.8',
      // guest's hash exactly as RabbitMQ 3.10 exported it
      users: [
        {
          name: 'guest',
          password_hash: 'Ww79CV8JPhf9J5AE7sDtVtYBp6PwR20/n6y10ND1zAVOw0el',
          hashing_algorithm: 'rabbit_password_hashing_sha256',
          tags: ['administrator'],
          limits: {},
        },
        { name: USER, password_hash: hashPassword(PASSWORD, 'rabbit_password_hashing_sha512'), hashing_algorithm: 'rabbit_password_hashing_sha512', tags: [] },
      ],
      vhosts: [{ name: '/' }, { name: VHOST, metadata: { description: 'the scenario', tags: [] } }],
      permissions: [
        { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        { user: USER, vhost: VHOST, configure: '.*', write: '.*', read: '.*' },
      ],
      ...scenario(VHOST),
    });
    expect(warnings).toEqual([]);
    await checkTopology(urlOf(broker, USER, PASSWORD, VHOST));
    // permissions: the user may open its vhost only; guest (hash) logs in to '/'
    await expect(amqplib.connect(urlOf(broker, USER, PASSWORD, '/'))).rejects.toThrow();
    await expect(amqplib.connect(urlOf(broker, USER, 'wrong', VHOST))).rejects.toThrow();
    const guest = await amqplib.connect(urlOf(broker, 'guest', 'guest', '/'));
    await guest.close();
    expect(broker.broker.vhostDescription(VHOST)).toBe('the scenario');
  });

  it('reports every entry it does not apply, one line each, and applies the rest', () => {
    const broker = new Broker({
      definitions: {
        rabbit_version: '3.10.8',
        explanation: 'a key RabbitMQ does not write',
        users: [
          { name: 'ann', password_hash: '', tags: 'management,monitoring', limits: { 'max-connections': 10 } },
          { name: 'bob', password_hash: 'xyz', hashing_algorithm: 'rabbit_password_hashing_bcrypt' },
        ],
        vhosts: [{ name: 'v', limits: { 'max-queues': 5 } }],
        permissions: [{ user: 'ann', vhost: 'v', configure: '^ann-.*', write: '.*', read: '.*' }],
        topic_permissions: [{ user: 'ann', vhost: 'v', exchange: 'amq.topic', write: '.*', read: '.*' }],
        parameters: [{ vhost: 'v', component: 'federation-upstream', name: 'up', value: {} }],
        global_parameters: [{ name: 'internal_cluster_id', value: 'rabbitmq-cluster-id-x' }],
        policies: [{ vhost: 'v', name: 'ttl', pattern: '.*', 'apply-to': 'queues', definition: { 'message-ttl': 1 }, priority: 0 }],
        exchanges: [
          { name: 'delayed', vhost: 'v', type: 'x-delayed-message', durable: true, auto_delete: false, internal: false, arguments: {} },
          { name: 'plain', vhost: 'v', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {}, colour: 'blue' },
        ],
        queues: [{ name: 'qq', vhost: 'v', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum' } }],
        bindings: [
          { source: 'delayed', vhost: 'v', destination: 'qq', destination_type: 'queue', routing_key: 'k', arguments: {} },
          { source: '', vhost: 'v', destination: 'qq', destination_type: 'queue', routing_key: 'qq', arguments: {} },
          { source: 'plain', vhost: 'v', destination: 'qq', destination_type: 'queue', routing_key: 'k', arguments: {} },
        ],
      },
      definitionsSource: 'defs.json',
    });
    expect(broker.definitionsReport).toEqual([
      "defs.json: not applied: 'explanation': not a key of the definitions format",
      `defs.json: not applied: vhosts[0] 'v': limits {"max-queues":5} are not enforced by the built-in broker`,
      `defs.json: not applied: users[0] 'ann': limits {"max-connections":10} are not enforced by the built-in broker`,
      "defs.json: not applied: users[1] 'bob': hashing_algorithm 'rabbit_password_hashing_bcrypt' is not one the broker can check (rabbit_password_hashing_sha256, _sha512, _md5): the user is left out",
      "defs.json: not applied: topic_permissions[0] 'ann' in vhost 'v': topic permissions are not supported by the built-in broker",
      "defs.json: not applied: parameters[0] 'up' in vhost 'v': runtime parameters (federation-upstream) are not supported by the built-in broker",
      "defs.json: not applied: global_parameters[0] 'internal_cluster_id': global parameters are not supported by the built-in broker",
      "defs.json: not applied: policies[0] 'ttl' in vhost 'v': policies are not supported by the built-in broker: give queues their settings as x-arguments",
      "defs.json: not applied: exchanges[1] 'plain' in vhost 'v': unknown key 'colour'",
      "defs.json: not applied: queues[0] 'qq' in vhost 'v': x-queue-type 'quorum' runs as a classic queue in the built-in broker",
      `defs.json: not applied: permissions[0] 'ann' in vhost 'v': configure "^ann-.*", write ".*", read ".*" applied as full access to the vhost (the broker checks vhost access only)`,
      "defs.json: not applied: exchanges[0] 'delayed' in vhost 'v': exchange type 'x-delayed-message' is not one the built-in broker has (direct, fanout, topic, headers); its bindings are left out too",
      "defs.json: not applied: bindings[0] 'delayed' → queue 'qq' in vhost 'v': it binds an exchange that was left out",
      "defs.json: not applied: bindings[1] '' → queue 'qq' in vhost 'v': the default exchange's bindings are implicit (every queue is bound by its name)",
    ]);
    // definitions with users and vhosts replace guest and '/', as RabbitMQ's boot-time import
    expect([...broker.users.keys()]).toEqual(['ann']);
    expect([...broker.vhosts()].map((v) => v.name)).toEqual(['v']);
    expect(broker.users.get('ann')?.tags).toEqual(['management', 'monitoring']);
    expect(broker.refusal('ann', '')).toBe("user 'ann' has no password (an empty password_hash)");
    expect(broker.mayOpen('ann', 'v')).toBe(true);
    expect(
      broker
        .vhost('v')
        ?.bindings()
        .map((b) => `${b.source}→${b.destination}`),
    ).toEqual(['plain→qq']);
  });

  it('refuses invalid definitions with one line naming the entry and the problem, changing nothing', () => {
    const cases: Array<[unknown, string]> = [
      [[], "defs.json: the top level: expected a JSON object (RabbitMQ's definitions export), got an array"],
      [{ queues: {} }, "defs.json: 'queues': must be an array, got an object"],
      [{ queues: ['q'] }, 'defs.json: queues[0]: must be an object, got a string'],
      [{ queues: [{ name: 'q' }] }, "defs.json: queues[0] 'q': 'vhost' is missing"],
      [{ queues: [{ name: 'q', vhost: '/', durable: 'yes' }] }, "defs.json: queues[0] 'q' in vhost '/': 'durable' must be true or false, got a string"],
      [
        { queues: [{ name: 'q', vhost: '/', arguments: { 'x-max-length': -1 } }] },
        "defs.json: queues[0] 'q' in vhost '/': PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}",
      ],
      [
        { queues: [{ name: 'q', vhost: '/', arguments: { 'x-dead-letter-routing-key': 'k' } }] },
        "defs.json: queues[0] 'q' in vhost '/': PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue 'q' in vhost '/': routing_key_but_no_dlx_defined",
      ],
      [
        { queues: [{ name: 'q', vhost: 'nope' }] },
        "defs.json: queues[0] 'q' in vhost 'nope': vhost 'nope' is neither in the definitions' vhosts nor the broker's",
      ],
      [{ users: [{ name: 'u', password_hash: 'not base64!' }] }, "defs.json: users[0] 'u': 'password_hash' is not base64"],
      [
        { users: [{ name: 'u', password_hash: 'AAAA' }] },
        "defs.json: users[0] 'u': 'password_hash' decodes to 3 bytes, expected 36 (4 of salt and 32 of sha256)",
      ],
      [{ users: [{ name: 'u' }] }, "defs.json: users[0] 'u': 'password_hash' is missing"],
      [
        { permissions: [{ user: 'nobody', vhost: '/', configure: '.*', write: '.*', read: '.*' }] },
        "defs.json: permissions[0] 'nobody' in vhost '/': user 'nobody' is neither in the definitions' users nor the broker's",
      ],
      [
        { permissions: [{ user: 'guest', vhost: '/', configure: '(', write: '.*', read: '.*' }] },
        `defs.json: permissions[0] 'guest' in vhost '/': 'configure' "(" is not a regular expression`,
      ],
      [
        { bindings: [{ source: 'amq.topic', vhost: '/', destination: 'missing', destination_type: 'queue', routing_key: 'k' }] },
        "defs.json: bindings[0] 'amq.topic' → queue 'missing' in vhost '/': NOT_FOUND - no queue 'missing' in vhost '/'",
      ],
      [
        { bindings: [{ source: 'amq.topic', vhost: '/', destination: 'q', destination_type: 'stream', routing_key: 'k' }] },
        `defs.json: bindings[0] 'amq.topic' → stream 'q' in vhost '/': 'destination_type' must be "queue" or "exchange", got "stream"`,
      ],
      [
        { exchanges: [{ name: 'amq.topic', vhost: '/', type: 'direct' }] },
        "defs.json: exchanges[0] 'amq.topic' in vhost '/': PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'amq.topic' in vhost '/': received 'direct' but current is 'topic'",
      ],
      [
        { exchanges: [{ name: 'x', vhost: '/', type: 'direct', arguments: [] }] },
        "defs.json: exchanges[0] 'x' in vhost '/': arguments: expected an object, got an array",
      ],
    ];
    for (const [definitions, line] of cases) {
      let error: unknown;
      try {
        new Broker({ definitions, definitionsSource: 'defs.json' });
      } catch (e) {
        error = e;
      }
      expect(error, line).toBeInstanceOf(DefinitionsError);
      expect((error as DefinitionsError).message).toBe(line);
      expect((error as DefinitionsError).exitCode).toBe(2);
    }
  });

  it('exports what it holds in the same format, and that export loads back to the same', async () => {
    const broker = new Broker({
      users: [{ name: 'ann', password: 'secret', vhosts: [VHOST] }],
      vhosts: ['/', VHOST],
      definitions: scenario(VHOST),
    });
    // exclusive queues die with their connection: RabbitMQ leaves them out, so does the export
    broker.vhost(VHOST)!.declareQueue({ name: 'mine', connection: {}, exclusive: true });
    const exported = broker.definitions();
    expect(Object.keys(exported)).toEqual([
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
    const want = scenario(VHOST);
    expect(sorted(exported['queues'])).toEqual(sorted(want.queues));
    expect(sorted(exported['exchanges'])).toEqual(sorted(want.exchanges));
    expect(sorted(exported['bindings'])).toEqual(sorted(want.bindings));
    expect(exported['permissions']).toEqual([{ user: 'ann', vhost: VHOST, configure: '.*', write: '.*', read: '.*' }]);
    const [ann] = exported['users'] as Array<Record<string, unknown>>;
    expect(ann).toMatchObject({ name: 'ann', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] });
    // the plain password left as a hash that checks
    const again = new Broker({ definitions: JSON.parse(JSON.stringify(exported)) });
    expect(again.definitionsReport).toEqual([]);
    expect(again.refusal('ann', 'secret')).toBeUndefined();
    expect(again.refusal('ann', 'guess')).toBe("wrong password for user 'ann'");
    const reexported = again.definitions();
    for (const key of ['queues', 'exchanges', 'bindings', 'permissions', 'vhosts']) expect(sorted(reexported[key]), key).toEqual(sorted(exported[key]));
    const perVhost = broker.definitions(VHOST);
    expect(Object.keys(perVhost)).toEqual(['rabbit_version', 'parameters', 'policies', 'queues', 'exchanges', 'bindings']);
    const strip = (list: Array<{ vhost: string }>) => sorted(list.map(({ vhost: _, ...rest }) => rest));
    expect(sorted(perVhost['queues'])).toEqual(strip(want.queues));
    expect(sorted(perVhost['exchanges'])).toEqual(strip(want.exchanges));
    expect(sorted(perVhost['bindings'])).toEqual(strip(want.bindings));
  });
});

/** rabbitmqctl on this machine (CI runs RabbitMQ locally); input goes to its stdin. */
function rabbitmqctl(args: string[], input?: string): string {
  const r = spawnSync('rabbitmqctl', args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}), timeout: 60_000 });
  if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')}: ${r.stderr || r.stdout || r.error?.message}`);
  return r.stdout;
}

describeWithRabbitMQ('definitions: round trip with RabbitMQ', () => {
  const rabbitUrl = (user: string, password: string) => {
    const a = rabbitAddress();
    return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${a.host}:${a.port}/${encodeURIComponent(VHOST)}`;
  };
  const cleanup = () => {
    spawnSync('rabbitmqctl', ['delete_vhost', VHOST], { encoding: 'utf8' });
    spawnSync('rabbitmqctl', ['delete_user', USER], { encoding: 'utf8' });
  };
  afterAll(cleanup);

  it("RabbitMQ's export of a declared topology loads into the built-in broker and routes the same", async () => {
    cleanup();
    rabbitmqctl(['add_vhost', VHOST]);
    rabbitmqctl(['set_permissions', '-p', VHOST, rabbitAddress().username, '.*', '.*', '.*']);
    // declared by a client, as an application would, then exported by RabbitMQ itself
    const conn = await amqplib.connect(rabbitUrl(rabbitAddress().username, rabbitAddress().password));
    const ch = await conn.createChannel();
    const want = scenario(VHOST);
    for (const x of want.exchanges) await ch.assertExchange(x.name, x.type, { durable: true, arguments: x.arguments });
    for (const q of want.queues) await ch.assertQueue(q.name, { durable: true, arguments: q.arguments });
    for (const b of want.bindings) {
      if (b.destination_type === 'queue') await ch.bindQueue(b.destination, b.source, b.routing_key, b.arguments);
      else await ch.bindExchange(b.destination, b.source, b.routing_key, b.arguments);
    }
    await conn.close();
    const exported = JSON.parse(rabbitmqctl(['export_definitions', '-', '--silent']));
    // other suites share this RabbitMQ: keep the file as RabbitMQ wrote it, but only this
    // test's vhost (and '/', for guest) in its per-vhost lists
    for (const key of ['vhosts', 'permissions', 'topic_permissions', 'parameters', 'policies', 'queues', 'exchanges', 'bindings'])
      exported[key] = (exported[key] as Array<{ vhost?: string; name?: string }>).filter((e) =>
        key === 'vhosts' ? e.name === VHOST || e.name === '/' : e.vhost === VHOST || (key === 'permissions' && e.vhost === '/'),
      );
    const { broker, warnings } = await brokerWith(exported);
    // whatever RabbitMQ wrote that the broker skips is named (cluster id, nothing else here)
    expect(warnings.every((w) => w.startsWith('definitions: not applied: global_parameters['))).toBe(true);
    const ours = broker.broker.definitions(VHOST);
    const vhostOnly = (list: Array<{ vhost: string }>) =>
      list
        .filter((e) => e.vhost === VHOST)
        .map(({ vhost: _, ...rest }) => canonical(rest))
        .sort();
    // rabbitmqctl's export leaves out `internal` (and internal exchanges)
    const withoutInternal = (list: unknown) => sorted((list as Array<Record<string, unknown>>).map(({ internal: _, ...rest }) => rest));
    expect(sorted(ours['queues'])).toEqual(vhostOnly(exported.queues));
    expect(withoutInternal(ours['exchanges'])).toEqual(vhostOnly(exported.exchanges));
    expect(sorted(ours['bindings'])).toEqual(vhostOnly(exported.bindings));
    // RabbitMQ's guest hash checks in the built-in broker
    const a = rabbitAddress();
    await checkTopology(urlOf(broker, a.username, a.password, VHOST));
  });

  it("the built-in broker's export imports into RabbitMQ: the user logs in with its password and the topology routes", async () => {
    cleanup();
    const { broker } = await brokerWith({
      users: [{ name: USER, password: PASSWORD, tags: ['management'] }],
      vhosts: [{ name: VHOST }],
      permissions: [{ user: USER, vhost: VHOST, configure: '.*', write: '.*', read: '.*' }],
      ...scenario(VHOST),
    });
    const exported = broker.broker.definitions();
    const json = JSON.stringify(exported);
    expect(json).not.toContain(PASSWORD);
    rabbitmqctl(['import_definitions'], json);
    // RabbitMQ imports from stdin in the background: wait for the last queue
    const deadline = Date.now() + 20_000;
    for (;;) {
      const listed = spawnSync('rabbitmqctl', ['list_queues', '-p', VHOST, '--silent', 'name'], { encoding: 'utf8' }).stdout ?? '';
      if (['orders.created', 'dead-letters', 'unrouted-q', 'prio'].every((q) => listed.split('\n').includes(q))) break;
      if (Date.now() > deadline) throw new Error(`RabbitMQ did not import the definitions: ${listed}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // bindings are imported last: wait until RabbitMQ lists them all
    for (;;) {
      const listed = spawnSync('rabbitmqctl', ['list_bindings', '-p', VHOST, '--silent', 'destination_name'], { encoding: 'utf8' }).stdout ?? '';
      if (listed.split('\n').filter((l) => l !== '').length >= 4 + 5) break;
      if (Date.now() > deadline) throw new Error(`RabbitMQ did not import the bindings: ${listed}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(rabbitmqctl(['list_users', '--silent'])).toMatch(new RegExp(`${USER}\\s+\\[management\\]`));
    await checkTopology(rabbitUrl(USER, PASSWORD));
  });
});
