import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { encode as encodeCbor } from 'cbor2';
import { encode as encodeMsgpack } from '@msgpack/msgpack';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  BodyDecoder,
  type BodyNode,
  bodySearchText,
  decodeBody,
  describeDecoding,
  loadProtoSchemas,
  nodeAtPath,
  nodeToText,
  nodeValueText,
  previewBody,
  ProtoOptionError,
  treeLines,
} from '../../src/body/index.js';
import { parseJsonLossless } from '../../src/body/json-lossless.js';

const PROTO_DIR = new URL('../../fixtures/proto', import.meta.url).pathname;
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const decode = (body: Uint8Array, properties: Record<string, string> = {}, extra = {}) => decodeBody({ properties, body, ...extra });
const oneLine = (node: BodyNode | undefined) => nodeToText(node!).text;

describe('content-encoding', () => {
  const json = utf8('{"order":{"id":42}}');
  it('undoes gzip, deflate (zlib and raw), br and chains of them', () => {
    for (const [encoding, bytes] of [
      ['gzip', gzipSync(json)],
      ['deflate', deflateSync(json)],
      ['deflate', deflateRawSync(json)],
      ['br', brotliCompressSync(json)],
      ['gzip, br', brotliCompressSync(gzipSync(json))],
    ] as const) {
      const decoded = decode(new Uint8Array(bytes), { 'content-encoding': encoding, 'content-type': 'application/json' });
      expect(decoded.format, encoding).toBe('json');
      expect(decoded.encodings).toEqual(encoding.split(', ').reverse());
      expect(oneLine(decoded.root)).toBe('{"order": {"id": 42}}');
    }
  });

  it('takes a charset in content-encoding (as pika and Spring send it) as no compression', () => {
    const decoded = decode(json, { 'content-encoding': 'utf-8', 'content-type': 'application/json' });
    expect([decoded.format, decoded.encodings, decoded.notes]).toEqual(['json', [], []]);
  });

  it('shows an unknown encoding raw, with a note', () => {
    const decoded = decode(json, { 'content-encoding': 'zstd' });
    expect(decoded.format).toBe('hex');
    expect(describeDecoding(decoded)).toContain('zstd: not supported on Node 20');
    expect(describeDecoding(decode(json, { 'content-encoding': 'lzma' }))).toContain('unknown content-encoding "lzma"');
  });

  it('stops a gzip bomb at the cap', () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const decoded = decodeBody({ properties: { 'content-encoding': 'gzip' }, body: new Uint8Array(bomb) }, { maxInflated: 1024 * 1024 });
    expect(decoded.format).toBe('hex');
    expect(decoded.bytes.length).toBe(bomb.length);
    expect(describeDecoding(decoded)).toContain('inflates past the 1 MiB cap');
  });

  it('says a truncated or corrupt stream is one, and shows it raw', () => {
    const gz = gzipSync(utf8('hello '.repeat(200)));
    expect(describeDecoding(decode(new Uint8Array(gz.subarray(0, gz.length - 12)), { 'content-encoding': 'gzip' }))).toContain('gzip: truncated stream');
    expect(describeDecoding(decode(utf8('not gzip at all'), { 'content-encoding': 'gzip' }))).toMatch(/gzip: corrupt stream/);
    expect(describeDecoding(decode(utf8('not brotli'), { 'content-encoding': 'br' }))).toMatch(/br: corrupt stream/);
  });
});

describe('JSON', () => {
  it('reads application/json and +json, with parameters', () => {
    expect(decode(utf8('[1,2]'), { 'content-type': 'application/json; charset=utf-8' }).format).toBe('json');
    expect(decode(utf8('{"a":true}'), { 'content-type': 'application/vnd.api+json' }).format).toBe('json');
  });

  it('keeps integers beyond 2^53 exact', () => {
    const decoded = decode(utf8('{"id": 9007199254740993, "small": 12, "neg": -12345678901234567890, "f": 1.5}'), { 'content-type': 'application/json' });
    expect(nodeValueText(nodeAtPath(decoded.root!, ['id'])!)).toBe('9007199254740993');
    expect(nodeValueText(nodeAtPath(decoded.root!, ['neg'])!)).toBe('-12345678901234567890');
    expect(oneLine(decoded.root)).toBe('{"id": 9007199254740993, "small": 12, "neg": -12345678901234567890, "f": 1.5}');
  });

  it('parses like JSON.parse in the lossless parser', () => {
    const text = '{"a":[1,-2.5e3,"x\\n\\u00e9",true,false,null,{}],"b":{"__proto__":1},"c":[],"big":[12345678901234567]}';
    const value = parseJsonLossless(text) as Record<string, unknown>;
    expect(value.a).toEqual(JSON.parse(text).a);
    expect(Object.keys(value.b as object)).toEqual(['__proto__']);
    expect(value.big).toEqual([12345678901234567n]);
    for (const bad of ['{"a":1,}', '[1 2]', '{"a" 1}', '"open', '[1]x', '{"a":12345678901234567', '']) expect(() => parseJsonLossless(bad), bad).toThrow();
  });

  it('survives JSON nested 100k levels deep, both parsers, without a stack overflow', () => {
    const deep = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    const deepBig = `${'{"a":'.repeat(100_000)}12345678901234567890${'}'.repeat(100_000)}`;
    for (const text of [deep, deepBig]) {
      const decoded = decode(utf8(text), { 'content-type': 'application/json' });
      expect(decoded.format).toBe('json');
      expect(previewBody(decoded, 40)).toHaveLength(40);
      const tree = treeLines(decoded.root!, { openDepth: 1_000_000, maxLines: 200_001 });
      expect(tree.lines.length).toBe(100_001);
      expect(nodeToText(decoded.root!).text.length).toBe(text.replace(/"a":/g, '"a": ').length);
    }
  });

  it('falls back to text with a note when declared JSON does not parse', () => {
    const decoded = decode(utf8('{"a": nope}'), { 'content-type': 'application/json' });
    expect(decoded.format).toBe('text');
    expect(describeDecoding(decoded)).toMatch(/text · not valid JSON/);
  });
});

describe('sniffing without a content-type', () => {
  it('JSON when it parses, text when UTF-8, hex otherwise, and says so', () => {
    const json = decode(utf8(' {"a":1}'));
    expect([json.format, json.sniffed]).toEqual(['json', true]);
    expect(describeDecoding(json)).toBe('json (sniffed: no content-type)');
    expect(decode(utf8('{not json')).format).toBe('text');
    expect(decode(utf8('héllo')).format).toBe('text');
    expect(decode(new Uint8Array([0, 1, 2, 0xff, 0xfe, 3, 4])).format).toBe('hex');
    expect(decode(new Uint8Array()).format).toBe('empty');
  });

  it('reads text/* in its charset', () => {
    const latin1 = decode(new Uint8Array([0x63, 0x61, 0x66, 0xe9]), { 'content-type': 'text/plain; charset=iso-8859-1' });
    expect([latin1.format, latin1.text]).toEqual(['text', 'café']);
    expect(describeDecoding(decode(utf8('x'), { 'content-type': 'text/plain; charset=klingon' }))).toContain('unknown charset "klingon"');
  });
});

describe('msgpack and CBOR', () => {
  const value = { order: { id: 2n ** 60n + 1n, items: [{ sku: 'a', qty: 2 }], blob: new Uint8Array([1, 2]) } };
  it('decodes msgpack under every content-type name', () => {
    for (const type of ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack']) {
      const decoded = decode(encodeMsgpack(value, { useBigInt64: true }), { 'content-type': type });
      expect(decoded.format).toBe('msgpack');
      expect(oneLine(decoded.root)).toBe('{"order": {"id": 1152921504606846977, "items": [{"sku": "a", "qty": 2}], "blob": <2 bytes 0102>}}');
    }
  });

  it('decodes CBOR, non-string keys and tags included', () => {
    const decoded = decode(
      encodeCbor(
        new Map<unknown, unknown>([
          ['order', value.order],
          [7, new Date(0)],
        ]),
      ),
      { 'content-type': 'application/cbor' },
    );
    expect(decoded.format).toBe('cbor');
    expect(nodeValueText(nodeAtPath(decoded.root!, ['order', 'id'])!)).toBe('1152921504606846977');
    expect(nodeAtPath(decoded.root!, ['7'])).toMatchObject({ value: '1970-01-01T00:00:00.000Z', tag: 'date' });
  });

  it('shows invalid msgpack and CBOR as hex with a note, and deep nesting without a crash', () => {
    const bad = decode(new Uint8Array([0xc1, 0x00]), { 'content-type': 'application/msgpack' });
    expect([bad.format, describeDecoding(bad)]).toEqual(['hex', expect.stringContaining('not valid msgpack')]);
    expect(describeDecoding(decode(new Uint8Array([0x92, 0x01]), { 'content-type': 'application/msgpack' }))).toContain('not valid msgpack');
    expect(describeDecoding(decode(new Uint8Array([0x82, 0x01]), { 'content-type': 'application/cbor' }))).toContain('not valid CBOR');
    const deepMsgpack = new Uint8Array(100_001).fill(0x91);
    deepMsgpack[100_000] = 1;
    const deep = decode(deepMsgpack, { 'content-type': 'application/msgpack' });
    expect(deep.format).toBe('msgpack');
    expect(previewBody(deep, 10)).toBe('[[[[[[[[[…');
    const deepCbor = new Uint8Array(100_001).fill(0x81);
    deepCbor[100_000] = 1;
    expect(decode(deepCbor, { 'content-type': 'application/cbor' }).format).toBe('hex');
  });
});

describe('protobuf', () => {
  const schemas = loadProtoSchemas(PROTO_DIR, ['exchange:orders rk:order.* => shop.Order'])!;
  const Order = schemas.root.lookupType('shop.Order');
  const order = Order.encode(
    Order.fromObject({
      id: '9007199254740993',
      customer: 'ann',
      items: [{ sku: 'a-1', qty: 2 }],
      status: 1,
      labels: { vip: 'yes' },
    }),
  ).finish();

  it('loads every .proto file of the directory, imports included', () => {
    expect([...schemas.files].sort()).toEqual(['shop/order.proto', 'shop/status.proto']);
  });

  it('decodes with the type a rule, the content-type or the type property names', () => {
    const viaRule = decodeBody(
      { properties: { 'content-type': 'application/x-protobuf' }, body: order, exchange: 'orders', routingKey: 'order.created' },
      { proto: schemas },
    );
    const viaParam = decodeBody({ properties: { 'content-type': 'application/protobuf; proto=shop.Order' }, body: order }, { proto: schemas });
    const viaType = decodeBody({ properties: { 'content-type': 'application/vnd.google.protobuf', type: 'shop.Order' }, body: order }, { proto: schemas });
    const noContentType = decodeBody({ properties: {}, body: order, exchange: 'orders', routingKey: 'order.paid' }, { proto: schemas });
    for (const decoded of [viaRule, viaParam, viaType, noContentType]) {
      expect([decoded.format, decoded.schema]).toEqual(['protobuf', 'shop.Order']);
      expect(oneLine(decoded.root)).toBe(
        '{"id": 9007199254740993, "customer": "ann", "items": [{"sku": "a-1", "qty": 2}], "status": "PAID", "labels": {"vip": "yes"}}',
      );
    }
    expect(describeDecoding(viaRule)).toBe('protobuf shop.Order');
  });

  it('walks the wire without a schema: field numbers, wire types, nested guesses', () => {
    const decoded = decode(order, { 'content-type': 'application/x-protobuf' });
    expect([decoded.format, decoded.schema]).toEqual(['protobuf', undefined]);
    expect(describeDecoding(decoded)).toBe('protobuf without a schema');
    expect(oneLine(decoded.root)).toBe('{"#1": 9007199254740993, "#2": "ann", "#3": {"#1": "a-1", "#2": 2}, "#5": 1, "#6": {"#1": "vip", "#2": "yes"}}');
    expect(treeLines(decoded.root!, { openDepth: 9, maxLines: 99 }).lines.map((l) => `${l.key ?? ''} ${l.tag ?? ''}`)).toEqual([
      ' message (no schema)',
      '#1 varint',
      '#2 string?',
      '#3 message?',
      '#1 string?',
      '#2 varint',
      '#5 varint',
      '#6 message?',
      '#1 string?',
      '#2 string?',
    ]);
  });

  it('falls back from a schema that does not fit, and shows garbage as hex', () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0x07]);
    const decoded = decodeBody({ properties: { 'content-type': 'application/protobuf; proto=shop.Order' }, body: garbage }, { proto: schemas });
    expect(decoded.format).toBe('hex');
    expect(describeDecoding(decoded)).toMatch(/does not fit shop\.Order .* not a protobuf message/);
    // random bytes: never a crash, whatever they turn out to be
    for (let seed = 1; seed < 200; seed++) {
      const bytes = new Uint8Array(64).map((_, i) => (seed * 7919 + i * 104729) % 251);
      expect(() => decodeBody({ properties: { 'content-type': 'application/x-protobuf', type: 'shop.Order' }, body: bytes }, { proto: schemas })).not.toThrow();
    }
  });

  it('bounds nested guesses on deeply nested wire bytes', () => {
    // field 1, length-delimited, nested 2000 times
    let bytes = new Uint8Array([0x08, 0x01]);
    for (let i = 0; i < 2000; i++) {
      const len = protobuf.Writer.create().uint32(bytes.length).finish();
      bytes = new Uint8Array([0x0a, ...len, ...bytes]);
    }
    const decoded = decode(bytes, { 'content-type': 'application/x-protobuf' });
    expect(decoded.format).toBe('protobuf');
    expect(treeLines(decoded.root!, { openDepth: 99, maxLines: 9999 }).lines.length).toBeLessThan(40);
  });

  it('says in one line what is wrong with --proto and --proto-type', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        expect(error).toBeInstanceOf(ProtoOptionError);
        expect((error as ProtoOptionError).exitCode).toBe(2);
        return (error as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad(() => loadProtoSchemas('/nonexistent/dir'))).toBe('--proto /nonexistent/dir: no such directory');
    expect(bad(() => loadProtoSchemas(PROTO_DIR, ['exchange:x => shop.Nope']))).toContain('no message type shop.Nope');
    expect(bad(() => loadProtoSchemas(PROTO_DIR, ['queue:x => shop.Order']))).toContain('unknown term "queue:x"');
    expect(bad(() => loadProtoSchemas(undefined, ['rk:x => shop.Order']))).toContain('needs --proto DIR');
    expect(bad(() => loadProtoSchemas(new URL('../../fixtures/proto-bad', import.meta.url).pathname))).toMatch(
      /^--proto .*proto-bad: broken\.proto: illegal token/,
    );
  });
});

describe('views of the tree', () => {
  const decoded = decode(utf8(JSON.stringify({ order: { id: 42, items: [{ sku: 'a' }, { sku: 'b' }] }, note: 'x'.repeat(200) })), {
    'content-type': 'application/json',
  });

  it('folds: top levels open, more on request, single paths toggled', () => {
    const lines = (openDepth: number, toggled?: Set<string>) =>
      treeLines(decoded.root!, { openDepth, maxLines: 100, ...(toggled ? { toggled } : {}) }).lines.map(
        (l) => `${'  '.repeat(l.depth)}${l.key ?? ''} ${l.value}`,
      );
    expect(lines(1)).toEqual([' {2}', '  order {2}', '  note ' + JSON.stringify('x'.repeat(200))]);
    expect(lines(2)).toContain('    items [2]');
    expect(lines(1, new Set(['.order']))).toEqual([' {2}', '  order {2}', '    id 42', '    items [2]', '  note ' + JSON.stringify('x'.repeat(200))]);
    expect(treeLines(decoded.root!, { openDepth: 9, maxLines: 3 })).toMatchObject({ more: true });
  });

  it('previews in one line, cut', () => {
    expect(previewBody(decoded, 30)).toBe('{"order": {"id": 42, "items":…');
    expect(previewBody(decode(utf8('line one\nline two')), 80)).toBe('line one line two');
    expect(previewBody(decode(new Uint8Array([0, 1, 2, 0xff])), 80)).toBe('<hex 000102ff>');
  });

  it('finds values by path and text for filters', () => {
    expect(nodeValueText(nodeAtPath(decoded.root!, ['order', 'items', '1', 'sku'])!)).toBe('b');
    expect(nodeValueText(nodeAtPath(decoded.root!, ['order', 'items', '[0]', 'sku'])!)).toBe('a');
    expect(nodeAtPath(decoded.root!, ['order', 'nope'])).toBeUndefined();
    expect(bodySearchText(decoded)).toContain('"sku": "b"');
  });

  it('writes JSON that parses back, bigints exact', () => {
    const big = decode(utf8('{"id":12345678901234567890,"b":[1,{"c":null}]}'), { 'content-type': 'application/json' });
    const text = nodeToText(big.root!, { style: 'json' }).text;
    expect(text).toBe('{"id":12345678901234567890,"b":[1,{"c":null}]}');
    expect(nodeToText(big.root!, { indent: 2 }).text).toBe('{\n  "id": 12345678901234567890,\n  "b": [\n    1,\n    {\n      "c": null\n    }\n  ]\n}');
  });
});

describe('hostile bytes', () => {
  it('never throw, whatever the content-type and encoding claim', () => {
    const types = ['application/json', 'application/msgpack', 'application/cbor', 'application/x-protobuf', 'text/plain; charset=utf-16le', undefined];
    const encodings = ['gzip', 'deflate', 'br', 'gzip, br', undefined];
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let round = 0; round < 300; round++) {
      const bytes = Uint8Array.from({ length: 1 + (round % 97) }, next);
      const type = types[round % types.length];
      const encoding = encodings[Math.floor(round / types.length) % encodings.length];
      const properties = { ...(type ? { 'content-type': type } : {}), ...(encoding ? { 'content-encoding': encoding } : {}) };
      const decoded = decode(bytes, properties);
      // every view of it works too
      previewBody(decoded);
      if (decoded.root) treeLines(decoded.root, { openDepth: 99, maxLines: 1000 });
    }
  });
});

describe('BodyDecoder', () => {
  it('decodes an event once and keeps a bounded number', () => {
    const decoder = new BodyDecoder();
    const event = (seq: number) =>
      ({
        kind: 'frame',
        seq,
        ts: 0,
        conn: 1,
        dir: 'c2s',
        channel: 1,
        offset: 0,
        raw: new Uint8Array(),
        frame: { type: 'body', channel: 1, body: utf8(`{"n":${seq}}`) },
      }) as const;
    const first = event(1);
    const a = decoder.decodeEvent(first as never);
    expect(decoder.decodeEvent(first as never)).toBe(a);
    for (let i = 2; i < 100; i++) decoder.decodeEvent(event(i) as never);
    expect(decoder.decodeEvent(first as never)).not.toBe(a);
  });
});
