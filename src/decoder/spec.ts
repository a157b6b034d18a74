// The AMQP 0-9-1 protocol as RabbitMQ speaks it: 8 classes, 66 methods (RabbitMQ's extensions
// included), the basic content properties, constants and reply codes. Data only; the codecs
// compile their readers and writers from it once. Checked field by field against RabbitMQ's
// JSON spec and the 0-9-1 XML by test/decoder/spec-conformance.test.ts.
import type { AmqpString, ArgumentValue, ClassSpec, DecodedMethod, FieldSpec, FieldTable, MethodSpec, Peer, SpecFieldType } from './types.js';

/**
 * `make(spec)` worked out once per method and kept (there are 66): for the per-method tables
 * the decoder's users derive from the spec (argument columns, pre-encoded pieces).
 */
export function perMethod<T>(make: (spec: MethodSpec) => T): (spec: MethodSpec) => T {
  const made = new Map<MethodSpec, T>();
  return (spec) => {
    let value = made.get(spec);
    if (value === undefined) {
      value = make(spec);
      made.set(spec, value);
    }
    return value;
  };
}

/** Domain → wire type, as the spec's `domains` list defines them. */
export const DOMAINS = {
  bit: 'bit',
  'channel-id': 'longstr',
  'class-id': 'short',
  'consumer-tag': 'shortstr',
  'delivery-tag': 'longlong',
  destination: 'shortstr',
  duration: 'longlong',
  'exchange-name': 'shortstr',
  long: 'long',
  longlong: 'longlong',
  longstr: 'longstr',
  'message-count': 'long',
  'method-id': 'short',
  'no-ack': 'bit',
  'no-local': 'bit',
  octet: 'octet',
  offset: 'longlong',
  path: 'shortstr',
  'peer-properties': 'table',
  'queue-name': 'shortstr',
  redelivered: 'bit',
  reference: 'longstr',
  'reject-code': 'short',
  'reject-text': 'shortstr',
  'reply-code': 'short',
  'reply-text': 'shortstr',
  'security-token': 'longstr',
  short: 'short',
  shortstr: 'shortstr',
  table: 'table',
  timestamp: 'timestamp',
} as const satisfies Record<string, SpecFieldType>;

export type DomainName = keyof typeof DOMAINS;

// Method kinds: SYNC requests expect one of `responses`; CONTENT methods are followed by a
// content header and body frames.
const ASYNC = 0;
const SYNC = 1;
const CONTENT = 2;
// Who sends a method. The XML's <chassis> names the peer that must *implement* (receive) it,
// so the sender is the other one. RabbitMQ also sends basic.ack/nack (publisher confirms)
// and basic.cancel (consumer cancel notification).
const CLIENT = 'client';
const SERVER = 'server';
const BOTH = 'both';

type RawDefault = boolean | number | bigint | string | Record<string, never>;
type RawArgument = readonly [name: string, domain: DomainName, defaultValue?: RawDefault];
type RawMethod = readonly [
  id: number,
  kind: typeof ASYNC | typeof SYNC | typeof CONTENT,
  sentBy: typeof CLIENT | typeof SERVER | typeof BOTH,
  responses: readonly string[],
  args: readonly RawArgument[],
];

// class: { id, methods: { name: [method-id, kind, sent by, responses (same class), [[argument, domain, default?]...]] } }
const RAW_CLASSES = {
  connection: {
    id: 10,
    methods: {
      start: [
        10,
        SYNC,
        SERVER,
        ['start-ok'],
        [
          ['version-major', 'octet', 0],
          ['version-minor', 'octet', 9],
          ['server-properties', 'peer-properties'],
          ['mechanisms', 'longstr', 'PLAIN'],
          ['locales', 'longstr', 'en_US'],
        ],
      ],
      'start-ok': [
        11,
        ASYNC,
        CLIENT,
        [],
        [
          ['client-properties', 'peer-properties'],
          ['mechanism', 'shortstr', 'PLAIN'],
          ['response', 'longstr'],
          ['locale', 'shortstr', 'en_US'],
        ],
      ],
      secure: [20, SYNC, SERVER, ['secure-ok'], [['challenge', 'longstr']]],
      'secure-ok': [21, ASYNC, CLIENT, [], [['response', 'longstr']]],
      tune: [
        30,
        SYNC,
        SERVER,
        ['tune-ok'],
        [
          ['channel-max', 'short', 0],
          ['frame-max', 'long', 0],
          ['heartbeat', 'short', 0],
        ],
      ],
      'tune-ok': [
        31,
        ASYNC,
        CLIENT,
        [],
        [
          ['channel-max', 'short', 0],
          ['frame-max', 'long', 0],
          ['heartbeat', 'short', 0],
        ],
      ],
      open: [
        40,
        SYNC,
        CLIENT,
        ['open-ok'],
        [
          ['virtual-host', 'shortstr', '/'],
          ['capabilities', 'shortstr', ''],
          ['insist', 'bit', false],
        ],
      ],
      'open-ok': [41, ASYNC, SERVER, [], [['known-hosts', 'shortstr', '']]],
      close: [
        50,
        SYNC,
        BOTH,
        ['close-ok'],
        [
          ['reply-code', 'short'],
          ['reply-text', 'shortstr', ''],
          ['class-id', 'short'],
          ['method-id', 'short'],
        ],
      ],
      'close-ok': [51, ASYNC, BOTH, [], []],
      blocked: [60, ASYNC, SERVER, [], [['reason', 'shortstr', '']]],
      unblocked: [61, ASYNC, SERVER, [], []],
      'update-secret': [
        70,
        SYNC,
        CLIENT,
        ['update-secret-ok'],
        [
          ['new-secret', 'longstr'],
          ['reason', 'shortstr'],
        ],
      ],
      'update-secret-ok': [71, ASYNC, SERVER, [], []],
    },
  },
  channel: {
    id: 20,
    methods: {
      open: [10, SYNC, CLIENT, ['open-ok'], [['out-of-band', 'shortstr', '']]],
      'open-ok': [11, ASYNC, SERVER, [], [['channel-id', 'longstr', '']]],
      flow: [20, SYNC, BOTH, ['flow-ok'], [['active', 'bit']]],
      'flow-ok': [21, ASYNC, BOTH, [], [['active', 'bit']]],
      close: [
        40,
        SYNC,
        BOTH,
        ['close-ok'],
        [
          ['reply-code', 'short'],
          ['reply-text', 'shortstr', ''],
          ['class-id', 'short'],
          ['method-id', 'short'],
        ],
      ],
      'close-ok': [41, ASYNC, BOTH, [], []],
    },
  },
  access: {
    id: 30,
    methods: {
      request: [
        10,
        SYNC,
        CLIENT,
        ['request-ok'],
        [
          ['realm', 'shortstr', '/data'],
          ['exclusive', 'bit', false],
          ['passive', 'bit', true],
          ['active', 'bit', true],
          ['write', 'bit', true],
          ['read', 'bit', true],
        ],
      ],
      'request-ok': [11, ASYNC, SERVER, [], [['ticket', 'short', 1]]],
    },
  },
  exchange: {
    id: 40,
    methods: {
      declare: [
        10,
        SYNC,
        CLIENT,
        ['declare-ok'],
        [
          ['ticket', 'short', 0],
          ['exchange', 'exchange-name'],
          ['type', 'shortstr', 'direct'],
          ['passive', 'bit', false],
          ['durable', 'bit', false],
          ['auto-delete', 'bit', false],
          ['internal', 'bit', false],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'declare-ok': [11, ASYNC, SERVER, [], []],
      delete: [
        20,
        SYNC,
        CLIENT,
        ['delete-ok'],
        [
          ['ticket', 'short', 0],
          ['exchange', 'exchange-name'],
          ['if-unused', 'bit', false],
          ['nowait', 'bit', false],
        ],
      ],
      'delete-ok': [21, ASYNC, SERVER, [], []],
      bind: [
        30,
        SYNC,
        CLIENT,
        ['bind-ok'],
        [
          ['ticket', 'short', 0],
          ['destination', 'exchange-name'],
          ['source', 'exchange-name'],
          ['routing-key', 'shortstr', ''],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'bind-ok': [31, ASYNC, SERVER, [], []],
      unbind: [
        40,
        SYNC,
        CLIENT,
        ['unbind-ok'],
        [
          ['ticket', 'short', 0],
          ['destination', 'exchange-name'],
          ['source', 'exchange-name'],
          ['routing-key', 'shortstr', ''],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'unbind-ok': [51, ASYNC, SERVER, [], []],
    },
  },
  queue: {
    id: 50,
    methods: {
      declare: [
        10,
        SYNC,
        CLIENT,
        ['declare-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['passive', 'bit', false],
          ['durable', 'bit', false],
          ['exclusive', 'bit', false],
          ['auto-delete', 'bit', false],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'declare-ok': [
        11,
        ASYNC,
        SERVER,
        [],
        [
          ['queue', 'queue-name'],
          ['message-count', 'message-count'],
          ['consumer-count', 'long'],
        ],
      ],
      bind: [
        20,
        SYNC,
        CLIENT,
        ['bind-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['exchange', 'exchange-name'],
          ['routing-key', 'shortstr', ''],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'bind-ok': [21, ASYNC, SERVER, [], []],
      purge: [
        30,
        SYNC,
        CLIENT,
        ['purge-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['nowait', 'bit', false],
        ],
      ],
      'purge-ok': [31, ASYNC, SERVER, [], [['message-count', 'message-count']]],
      delete: [
        40,
        SYNC,
        CLIENT,
        ['delete-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['if-unused', 'bit', false],
          ['if-empty', 'bit', false],
          ['nowait', 'bit', false],
        ],
      ],
      'delete-ok': [41, ASYNC, SERVER, [], [['message-count', 'message-count']]],
      unbind: [
        50,
        SYNC,
        CLIENT,
        ['unbind-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['exchange', 'exchange-name'],
          ['routing-key', 'shortstr', ''],
          ['arguments', 'table', {}],
        ],
      ],
      'unbind-ok': [51, ASYNC, SERVER, [], []],
    },
  },
  basic: {
    id: 60,
    methods: {
      qos: [
        10,
        SYNC,
        CLIENT,
        ['qos-ok'],
        [
          ['prefetch-size', 'long', 0],
          ['prefetch-count', 'short', 0],
          ['global', 'bit', false],
        ],
      ],
      'qos-ok': [11, ASYNC, SERVER, [], []],
      consume: [
        20,
        SYNC,
        CLIENT,
        ['consume-ok'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['consumer-tag', 'shortstr', ''],
          ['no-local', 'bit', false],
          ['no-ack', 'bit', false],
          ['exclusive', 'bit', false],
          ['nowait', 'bit', false],
          ['arguments', 'table', {}],
        ],
      ],
      'consume-ok': [21, ASYNC, SERVER, [], [['consumer-tag', 'shortstr']]],
      cancel: [
        30,
        SYNC,
        BOTH,
        ['cancel-ok'],
        [
          ['consumer-tag', 'shortstr'],
          ['nowait', 'bit', false],
        ],
      ],
      'cancel-ok': [31, ASYNC, SERVER, [], [['consumer-tag', 'shortstr']]],
      publish: [
        40,
        CONTENT,
        CLIENT,
        [],
        [
          ['ticket', 'short', 0],
          ['exchange', 'exchange-name', ''],
          ['routing-key', 'shortstr', ''],
          ['mandatory', 'bit', false],
          ['immediate', 'bit', false],
        ],
      ],
      return: [
        50,
        CONTENT,
        SERVER,
        [],
        [
          ['reply-code', 'short'],
          ['reply-text', 'shortstr', ''],
          ['exchange', 'exchange-name'],
          ['routing-key', 'shortstr'],
        ],
      ],
      deliver: [
        60,
        CONTENT,
        SERVER,
        [],
        [
          ['consumer-tag', 'shortstr'],
          ['delivery-tag', 'longlong'],
          ['redelivered', 'bit', false],
          ['exchange', 'exchange-name'],
          ['routing-key', 'shortstr'],
        ],
      ],
      get: [
        70,
        SYNC,
        CLIENT,
        ['get-ok', 'get-empty'],
        [
          ['ticket', 'short', 0],
          ['queue', 'queue-name', ''],
          ['no-ack', 'bit', false],
        ],
      ],
      'get-ok': [
        71,
        CONTENT,
        SERVER,
        [],
        [
          ['delivery-tag', 'longlong'],
          ['redelivered', 'bit', false],
          ['exchange', 'exchange-name'],
          ['routing-key', 'shortstr'],
          ['message-count', 'message-count'],
        ],
      ],
      'get-empty': [72, ASYNC, SERVER, [], [['cluster-id', 'shortstr', '']]],
      ack: [
        80,
        ASYNC,
        BOTH,
        [],
        [
          ['delivery-tag', 'longlong', 0n],
          ['multiple', 'bit', false],
        ],
      ],
      reject: [
        90,
        ASYNC,
        CLIENT,
        [],
        [
          ['delivery-tag', 'longlong'],
          ['requeue', 'bit', true],
        ],
      ],
      'recover-async': [100, ASYNC, CLIENT, [], [['requeue', 'bit', false]]],
      recover: [110, SYNC, CLIENT, ['recover-ok'], [['requeue', 'bit', false]]],
      'recover-ok': [111, ASYNC, SERVER, [], []],
      nack: [
        120,
        ASYNC,
        BOTH,
        [],
        [
          ['delivery-tag', 'longlong', 0n],
          ['multiple', 'bit', false],
          ['requeue', 'bit', true],
        ],
      ],
    },
  },
  tx: {
    id: 90,
    methods: {
      select: [10, SYNC, CLIENT, ['select-ok'], []],
      'select-ok': [11, ASYNC, SERVER, [], []],
      commit: [20, SYNC, CLIENT, ['commit-ok'], []],
      'commit-ok': [21, ASYNC, SERVER, [], []],
      rollback: [30, SYNC, CLIENT, ['rollback-ok'], []],
      'rollback-ok': [31, ASYNC, SERVER, [], []],
    },
  },
  confirm: {
    id: 85,
    methods: {
      select: [10, SYNC, CLIENT, ['select-ok'], [['nowait', 'bit', false]]],
      'select-ok': [11, ASYNC, SERVER, [], []],
    },
  },
} as const satisfies Record<string, { readonly id: number; readonly methods: Readonly<Record<string, RawMethod>> }>;

/** The 14 `basic` content properties in flag-bit order: bit 15 of the first flag word is the first. */
const RAW_BASIC_PROPERTIES = [
  ['content-type', 'shortstr'],
  ['content-encoding', 'shortstr'],
  ['headers', 'table'],
  ['delivery-mode', 'octet'],
  ['priority', 'octet'],
  ['correlation-id', 'shortstr'],
  ['reply-to', 'shortstr'],
  ['expiration', 'shortstr'],
  ['message-id', 'shortstr'],
  ['timestamp', 'timestamp'],
  ['type', 'shortstr'],
  ['user-id', 'shortstr'],
  ['app-id', 'shortstr'],
  ['cluster-id', 'shortstr'],
] as const satisfies readonly RawArgument[];

/** Frame types and sizes (the spec's constants that are not reply codes). */
export const CONSTANTS = {
  FRAME_METHOD: 1,
  FRAME_HEADER: 2,
  FRAME_BODY: 3,
  FRAME_HEARTBEAT: 8,
  FRAME_MIN_SIZE: 4096,
  FRAME_END: 206,
} as const;

export const PROTOCOL_VERSION = { major: 0, minor: 9, revision: 1 } as const;
export const DEFAULT_PORT = 5672;

export type ReplyCodeKind = 'success' | 'soft' | 'hard';
export interface ReplyCodeSpec {
  readonly code: number;
  /** e.g. `PRECONDITION_FAILED` */
  readonly name: string;
  /** soft errors close the channel, hard errors the connection */
  readonly kind: ReplyCodeKind;
}

// [code, name, kind]
const RAW_REPLY_CODES = [
  [200, 'REPLY_SUCCESS', 'success'],
  [311, 'CONTENT_TOO_LARGE', 'soft'],
  [312, 'NO_ROUTE', 'soft'],
  [313, 'NO_CONSUMERS', 'soft'],
  [403, 'ACCESS_REFUSED', 'soft'],
  [404, 'NOT_FOUND', 'soft'],
  [405, 'RESOURCE_LOCKED', 'soft'],
  [406, 'PRECONDITION_FAILED', 'soft'],
  [320, 'CONNECTION_FORCED', 'hard'],
  [402, 'INVALID_PATH', 'hard'],
  [501, 'FRAME_ERROR', 'hard'],
  [502, 'SYNTAX_ERROR', 'hard'],
  [503, 'COMMAND_INVALID', 'hard'],
  [504, 'CHANNEL_ERROR', 'hard'],
  [505, 'UNEXPECTED_FRAME', 'hard'],
  [506, 'RESOURCE_ERROR', 'hard'],
  [530, 'NOT_ALLOWED', 'hard'],
  [540, 'NOT_IMPLEMENTED', 'hard'],
  [541, 'INTERNAL_ERROR', 'hard'],
] as const satisfies ReadonlyArray<readonly [number, string, ReplyCodeKind]>;

/** Reply-code name → code, e.g. `REPLY_CODE.PRECONDITION_FAILED === 406`. */
export type ReplyCodeName = (typeof RAW_REPLY_CODES)[number][1];
export const REPLY_CODE = Object.freeze(Object.fromEntries(RAW_REPLY_CODES.map(([code, name]) => [name, code]))) as {
  readonly [N in ReplyCodeName]: Extract<(typeof RAW_REPLY_CODES)[number], readonly [number, N, string]>[0];
};

// ---------------------------------------------------------------------------------------------
// Types derived from the table, so callers get argument names and value types checked.

type RawTable = typeof RAW_CLASSES;
export type ClassName = keyof RawTable;
/** `class.method` for all 66 methods, e.g. `basic.publish`. */
export type MethodName = { [C in ClassName]: `${C}.${keyof RawTable[C]['methods'] & string}` }[ClassName];
type RawMethodOf<N extends MethodName> = N extends `${infer C extends ClassName}.${infer M}`
  ? M extends keyof RawTable[C]['methods']
    ? RawTable[C]['methods'][M]
    : never
  : never;
type RawArgumentsOf<N extends MethodName> = RawMethodOf<N> extends RawMethod ? RawMethodOf<N>[4][number] : never;

/** The JS type a decoded value of a wire type has. */
export type WireValue<T extends SpecFieldType> = T extends 'bit'
  ? boolean
  : T extends 'octet' | 'short' | 'long'
    ? number
    : T extends 'longlong' | 'timestamp'
      ? bigint
      : T extends 'shortstr' | 'longstr'
        ? AmqpString
        : FieldTable;
/** What an encoder accepts for a wire type (64-bit values may be given as safe integers). */
export type WireInput<T extends SpecFieldType> = T extends 'longlong' | 'timestamp' ? bigint | number : WireValue<T>;

/** Decoded arguments of a method, e.g. `MethodArgs<'basic.deliver'>['delivery-tag']` is bigint. */
export type MethodArgs<N extends MethodName> = {
  readonly [A in RawArgumentsOf<N> as A[0]]: WireValue<(typeof DOMAINS)[A[1]]>;
};
/** Arguments for `encodeMethod`; missing ones take the spec default (or 0, '', false, {}). */
export type MethodArgsInput<N extends MethodName> = {
  readonly [A in RawArgumentsOf<N> as A[0]]?: WireInput<(typeof DOMAINS)[A[1]]>;
};
/** A decoded method narrowed by its name (see `isMethod`). */
export type DecodedMethodOf<N extends MethodName> = DecodedMethod & { readonly name: N; readonly args: MethodArgs<N> };

export type BasicPropertyName = (typeof RAW_BASIC_PROPERTIES)[number][0];
/** Decoded `basic` properties (only the present ones). */
export type BasicProperties = {
  readonly [P in (typeof RAW_BASIC_PROPERTIES)[number] as P[0]]?: WireValue<(typeof DOMAINS)[P[1]]>;
};
/** `basic` properties for encoders. */
export type BasicPropertiesInput = {
  readonly [P in (typeof RAW_BASIC_PROPERTIES)[number] as P[0]]?: WireInput<(typeof DOMAINS)[P[1]]>;
};

// ---------------------------------------------------------------------------------------------
// The table as ClassSpec / MethodSpec objects, built once.

const EMPTY_TABLE: FieldTable = Object.freeze({ entries: Object.freeze([]) });

function fieldSpec([name, domain, defaultValue]: RawArgument): FieldSpec {
  const type = DOMAINS[domain];
  if (defaultValue === undefined) return Object.freeze({ name, domain, type });
  const value: ArgumentValue = typeof defaultValue === 'object' ? EMPTY_TABLE : defaultValue;
  return Object.freeze({ name, domain, type, defaultValue: value });
}

const SENT_BY: Record<RawMethod[2], readonly Peer[]> = {
  client: Object.freeze(['client']),
  server: Object.freeze(['server']),
  both: Object.freeze(['client', 'server']),
};

function buildClasses(): ClassSpec[] {
  const classes: ClassSpec[] = [];
  for (const [className, raw] of Object.entries(RAW_CLASSES) as [string, { id: number; methods: Record<string, RawMethod> }][]) {
    const methods: MethodSpec[] = [];
    for (const [methodName, [methodId, kind, sentBy, responses, args]] of Object.entries(raw.methods)) {
      methods.push(
        Object.freeze({
          classId: raw.id,
          methodId,
          className,
          methodName,
          name: `${className}.${methodName}`,
          synchronous: kind === SYNC,
          content: kind === CONTENT,
          fields: Object.freeze(args.map(fieldSpec)),
          responses: Object.freeze(responses.map((r) => `${className}.${r}`)),
          sentBy: SENT_BY[sentBy],
        }),
      );
    }
    const properties = className === 'basic' ? Object.freeze(RAW_BASIC_PROPERTIES.map(fieldSpec)) : Object.freeze([]);
    classes.push(Object.freeze({ id: raw.id, name: className, methods: Object.freeze(methods), properties }));
  }
  return classes;
}

/** All classes, in the order of RabbitMQ's spec file. */
export const CLASSES: readonly ClassSpec[] = Object.freeze(buildClasses());
/** All 66 methods. */
export const METHODS: readonly MethodSpec[] = Object.freeze(CLASSES.flatMap((c) => c.methods));
/** The `basic` content properties in flag-bit order. */
export const BASIC_PROPERTIES: readonly FieldSpec[] = CLASSES.find((c) => c.name === 'basic')!.properties;
export const REPLY_CODES: readonly ReplyCodeSpec[] = Object.freeze(RAW_REPLY_CODES.map(([code, name, kind]) => Object.freeze({ code, name, kind })));

// Lookups: arrays indexed by id (class ids ≤ 90, method ids ≤ 120), so no string is built per frame.
const CLASS_BY_ID: (ClassSpec | undefined)[] = [];
const METHOD_BY_ID: ((MethodSpec | undefined)[] | undefined)[] = [];
const METHOD_BY_NAME = new Map<string, MethodSpec>();
const CLASS_BY_NAME = new Map<string, ClassSpec>();
for (const c of CLASSES) {
  CLASS_BY_ID[c.id] = c;
  CLASS_BY_NAME.set(c.name, c);
  const byId: (MethodSpec | undefined)[] = [];
  for (const m of c.methods) {
    byId[m.methodId] = m;
    METHOD_BY_NAME.set(m.name, m);
  }
  METHOD_BY_ID[c.id] = byId;
}
const REPLY_CODE_BY_CODE = new Map<number, ReplyCodeSpec>(REPLY_CODES.map((r) => [r.code, r]));

export function methodById(classId: number, methodId: number): MethodSpec | undefined {
  return METHOD_BY_ID[classId]?.[methodId];
}

export function methodByName(name: MethodName): MethodSpec;
export function methodByName(name: string): MethodSpec | undefined;
export function methodByName(name: string): MethodSpec | undefined {
  return METHOD_BY_NAME.get(name);
}

export function classById(classId: number): ClassSpec | undefined {
  return CLASS_BY_ID[classId];
}

export function classByName(name: string): ClassSpec | undefined {
  return CLASS_BY_NAME.get(name);
}

/** Narrows a decoded method by name, typing its arguments. */
export function isMethod<N extends MethodName>(method: DecodedMethod, name: N): method is DecodedMethodOf<N> {
  return method.name === name;
}

/** `PRECONDITION_FAILED` for 406; undefined for codes the spec does not define. */
export function replyCodeName(code: number): string | undefined {
  return REPLY_CODE_BY_CODE.get(code)?.name;
}

export function replyCodeKind(code: number): ReplyCodeKind | undefined {
  return REPLY_CODE_BY_CODE.get(code)?.kind;
}

/**
 * The one answer to "is this close an error": the spec's soft and hard codes, and any code
 * from 300 up that no spec names. 200 and everything else below 300 close normally (py-amqp
 * and Bunny send 0).
 */
export function isErrorReplyCode(code: number): boolean {
  const kind = REPLY_CODE_BY_CODE.get(code)?.kind;
  return kind === 'soft' || kind === 'hard' || (kind === undefined && code >= 300);
}

/** A hard error closes the connection (connection.close); a soft one only the channel. */
export function isHardError(code: number): boolean {
  return REPLY_CODE_BY_CODE.get(code)?.kind === 'hard';
}
