// Checks src/decoder/spec.ts field by field against RabbitMQ's JSON spec and the 0-9-1 XML in
// ../shared/spec. Skipped (visibly) when that folder is absent, e.g. in a fresh clone.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BASIC_PROPERTIES,
  CLASSES,
  CONSTANTS,
  DOMAINS,
  METHODS,
  PROTOCOL_VERSION,
  REPLY_CODE,
  REPLY_CODES,
  classById,
  isErrorReplyCode,
  isHardError,
  methodById,
  methodByName,
  replyCodeKind,
  replyCodeName,
} from '../../src/decoder/spec.js';
import * as types from '../../src/decoder/types.js';
import type { ArgumentValue, FieldSpec } from '../../src/decoder/types.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const specDir = resolve(repoRoot, '../shared/spec');
const jsonPath = resolve(specDir, 'amqp-rabbitmq-0.9.1.json');
const xmlPath = resolve(specDir, 'amqp0-9-1.xml');
const haveSpec = existsSync(jsonPath) && existsSync(xmlPath);

interface JsonArgument {
  readonly name: string;
  readonly type?: string;
  readonly domain?: string;
  readonly 'default-value'?: unknown;
}
interface JsonMethod {
  readonly id: number;
  readonly name: string;
  readonly synchronous?: boolean;
  readonly content?: boolean;
  readonly arguments: readonly JsonArgument[];
}
interface JsonClass {
  readonly id: number;
  readonly name: string;
  readonly methods: readonly JsonMethod[];
  readonly properties?: readonly JsonArgument[];
}
interface JsonSpec {
  readonly 'major-version': number;
  readonly 'minor-version': number;
  readonly revision: number;
  readonly port: number;
  readonly domains: readonly (readonly [string, string])[];
  readonly constants: readonly { readonly name: string; readonly value: number; readonly class?: string }[];
  readonly classes: readonly JsonClass[];
}

// Methods RabbitMQ added to 0-9-1 (absent from the XML), and methods whose sender RabbitMQ
// widened: it sends basic.ack/nack for publisher confirms and basic.cancel to notify consumers.
const RABBITMQ_EXTENSIONS = [
  'connection.blocked',
  'connection.unblocked',
  'connection.update-secret',
  'connection.update-secret-ok',
  'access.request',
  'access.request-ok',
  'exchange.bind',
  'exchange.bind-ok',
  'exchange.unbind',
  'exchange.unbind-ok',
  'basic.nack',
  'confirm.select',
  'confirm.select-ok',
];
const WIDENED_SENDERS: Record<string, readonly string[]> = {
  'basic.ack': ['client', 'server'],
  'basic.cancel': ['client', 'server'],
};

/** The JSON default as the table should hold it (tables as FieldTable, 64-bit as bigint). */
function expectedDefault(arg: JsonArgument, type: string): ArgumentValue | undefined {
  const v = arg['default-value'];
  if (v === undefined) return undefined;
  if (type === 'table') return { entries: [] };
  if ((type === 'longlong' || type === 'timestamp') && typeof v === 'number') return BigInt(v);
  return v as ArgumentValue;
}

function checkField(field: FieldSpec | undefined, arg: JsonArgument, domains: Map<string, string>, where: string): void {
  const domain = arg.domain ?? arg.type;
  expect(field, where).toBeDefined();
  expect(field!.name, where).toBe(arg.name);
  expect(field!.domain, `${where} domain`).toBe(domain);
  expect(field!.type, `${where} type`).toBe(domains.get(domain!));
  const def = expectedDefault(arg, field!.type);
  if (def === undefined) expect('defaultValue' in field!, `${where} has no default`).toBe(false);
  else expect(field!.defaultValue, `${where} default`).toEqual(def);
}

interface XmlMethod {
  readonly chassis: readonly string[];
  readonly responses: readonly string[];
  readonly index: number;
  readonly content: boolean;
}

/** Just enough of the XML: classes, methods, their chassis and responses. */
function parseXml(xml: string): Map<string, XmlMethod> {
  const methods = new Map<string, XmlMethod>();
  for (const c of xml.matchAll(/<class\s+name\s*=\s*"([^"]+)"([\s\S]*?)<\/class>/g)) {
    for (const m of c[2]!.matchAll(/<method\s+name\s*=\s*"([^"]+)"([^>]*)>([\s\S]*?)<\/method>/g)) {
      const attrs = m[2]!;
      const body = m[3]!;
      methods.set(`${c[1]}.${m[1]}`, {
        chassis: [...body.matchAll(/<chassis\s+name\s*=\s*"([^"]+)"/g)].map((x) => x[1]!),
        responses: [...body.matchAll(/<response\s+name\s*=\s*"([^"]+)"/g)].map((x) => `${c[1]}.${x[1]}`),
        index: Number(/index\s*=\s*"(\d+)"/.exec(attrs)?.[1]),
        content: /content\s*=\s*"1"/.test(attrs),
      });
    }
  }
  return methods;
}

describe('spec table (independent of ../shared)', () => {
  it('has 8 classes and 66 methods with unique names and ids', () => {
    expect(CLASSES.map((c) => c.name).sort()).toEqual(['access', 'basic', 'channel', 'confirm', 'connection', 'exchange', 'queue', 'tx']);
    expect(METHODS).toHaveLength(66);
    expect(new Set(METHODS.map((m) => m.name)).size).toBe(66);
    expect(new Set(METHODS.map((m) => m.classId * 65536 + m.methodId)).size).toBe(66);
  });

  it('looks every method up by id and by name', () => {
    for (const m of METHODS) {
      expect(methodById(m.classId, m.methodId)).toBe(m);
      expect(methodByName(m.name)).toBe(m);
      expect(classById(m.classId)?.methods).toContain(m);
      expect(m.name).toBe(`${m.className}.${m.methodName}`);
    }
    expect(methodById(60, 41)).toBeUndefined();
    expect(methodById(61, 40)).toBeUndefined();
    expect(methodById(70000, 1)).toBeUndefined();
    expect(methodByName('basic.bogus')).toBeUndefined();
  });

  it('names only existing methods as responses, and only synchronous requests have them', () => {
    for (const m of METHODS) {
      for (const r of m.responses) expect(methodByName(r)?.classId, `${m.name} → ${r}`).toBe(m.classId);
      expect(m.responses.length > 0, m.name).toBe(m.synchronous);
      expect(m.sentBy.length).toBeGreaterThan(0);
    }
    expect(methodByName('basic.get').responses).toEqual(['basic.get-ok', 'basic.get-empty']);
  });

  it('maps reply codes to names and kinds', () => {
    expect(replyCodeName(406)).toBe('PRECONDITION_FAILED');
    expect(replyCodeName(320)).toBe('CONNECTION_FORCED');
    expect(replyCodeName(999)).toBeUndefined();
    expect(isHardError(501)).toBe(true);
    expect(isHardError(404)).toBe(false);
    expect(isHardError(200)).toBe(false);
    expect(replyCodeKind(200)).toBe('success');
    expect(REPLY_CODE.NOT_FOUND).toBe(404);
  });

  it('calls a reply code an error only for the soft and hard codes and unnamed codes from 300', () => {
    // 0 is what py-amqp and Bunny close with: a normal close like 200
    expect([0, 1, 200, 299].map(isErrorReplyCode)).toEqual([false, false, false, false]);
    expect([300, 311, 320, 404, 406, 501, 541, 999, 65535].map(isErrorReplyCode)).toEqual(Array(9).fill(true));
    for (const { code, kind } of REPLY_CODES) expect(isErrorReplyCode(code), String(code)).toBe(kind !== 'success');
  });

  it('agrees with the frame constants of types.ts', () => {
    expect(CONSTANTS.FRAME_METHOD).toBe(types.FRAME_METHOD);
    expect(CONSTANTS.FRAME_HEADER).toBe(types.FRAME_HEADER);
    expect(CONSTANTS.FRAME_BODY).toBe(types.FRAME_BODY);
    expect(CONSTANTS.FRAME_HEARTBEAT).toBe(types.FRAME_HEARTBEAT);
    expect(CONSTANTS.FRAME_END).toBe(types.FRAME_END);
  });
});

describe.skipIf(!haveSpec)(
  haveSpec ? 'spec table matches ../shared/spec' : 'spec conformance SKIPPED: ../shared/spec is absent (nothing to compare with)',
  () => {
    const json = (haveSpec ? JSON.parse(readFileSync(jsonPath, 'utf8')) : { classes: [], domains: [], constants: [] }) as JsonSpec;
    const xml = haveSpec ? parseXml(readFileSync(xmlPath, 'utf8')) : new Map<string, XmlMethod>();
    const domains = new Map(json.domains.map(([d, t]) => [d, t]));

    it('has the JSON domains', () => {
      expect(Object.entries(DOMAINS)).toEqual(json.domains.map(([d, t]) => [d, t]));
    });

    it('has the classes of the JSON, in its order', () => {
      expect(CLASSES.map((c) => [c.id, c.name])).toEqual(json.classes.map((c) => [c.id, c.name]));
    });

    it('has every method with its id, flags and arguments (name, domain, type, default) in order', () => {
      let count = 0;
      for (const jc of json.classes) {
        const c = classById(jc.id)!;
        expect(c.methods.map((m) => m.methodName)).toEqual(jc.methods.map((m) => m.name));
        for (const jm of jc.methods) {
          const name = `${jc.name}.${jm.name}`;
          const m = methodByName(name);
          expect(m, name).toBeDefined();
          expect(m!.classId, name).toBe(jc.id);
          expect(m!.methodId, name).toBe(jm.id);
          expect(m!.synchronous, `${name} synchronous`).toBe(jm.synchronous === true);
          expect(m!.content, `${name} content`).toBe(jm.content === true);
          expect(m!.fields.length, `${name} argument count`).toBe(jm.arguments.length);
          jm.arguments.forEach((arg, i) => {
            checkField(m!.fields[i], arg, domains, `${name} argument ${i}`);
          });
          count++;
        }
      }
      expect(count).toBe(METHODS.length);
    });

    it('has the basic content properties in flag-bit order', () => {
      const jsonProperties = json.classes.find((c) => c.name === 'basic')!.properties!;
      expect(BASIC_PROPERTIES).toHaveLength(jsonProperties.length);
      jsonProperties.forEach((p, i) => {
        checkField(BASIC_PROPERTIES[i], p, domains, `basic property ${i}`);
      });
      for (const c of json.classes) {
        if (c.name !== 'basic') expect(classById(c.id)!.properties).toHaveLength(c.properties?.length ?? 0);
      }
    });

    it('has the constants and reply codes with their soft/hard class', () => {
      const expectedCodes = json.constants
        .filter((k) => k.class !== undefined || k.name === 'REPLY-SUCCESS')
        .map((k) => ({ code: k.value, name: k.name.replaceAll('-', '_'), kind: k.class === undefined ? 'success' : k.class.replace('-error', '') }));
      expect([...REPLY_CODES].sort((a, b) => a.code - b.code)).toEqual(expectedCodes.sort((a, b) => a.code - b.code));
      const frameConstants = json.constants.filter((k) => k.class === undefined && k.name.startsWith('FRAME-'));
      expect(Object.entries(CONSTANTS)).toEqual(frameConstants.map((k) => [k.name.replaceAll('-', '_'), k.value]));
      expect(PROTOCOL_VERSION).toEqual({ major: json['major-version'], minor: json['minor-version'], revision: json.revision });
    });

    it('has the XML responses and senders (chassis names the receiving peer)', () => {
      expect(xml.size).toBeGreaterThan(40);
      for (const [name, x] of xml) {
        const m = methodByName(name);
        expect(m, name).toBeDefined();
        expect(m!.methodId, `${name} index`).toBe(x.index);
        expect(m!.content, `${name} content`).toBe(x.content);
        expect(m!.responses, `${name} responses`).toEqual(x.responses);
        const sentBy = ['client', 'server'].filter((peer) => x.chassis.includes(peer === 'client' ? 'server' : 'client'));
        expect(m!.sentBy, `${name} sent by`).toEqual(WIDENED_SENDERS[name] ?? sentBy);
      }
    });

    it('lists exactly the RabbitMQ extensions as methods the XML lacks', () => {
      expect(
        METHODS.map((m) => m.name)
          .filter((n) => !xml.has(n))
          .sort(),
      ).toEqual([...RABBITMQ_EXTENSIONS].sort());
    });
  },
);
