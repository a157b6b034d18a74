// A decoded body as a tree that views fold: containers make their children only when asked
// (a 10 MB JSON body has a million values; a folded view shows a screenful of them), so
// nothing here recurses over the whole value and no depth can overflow the stack.

export type BodyNodeKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null' | 'bytes' | 'other';

export type BodyScalar = string | number | bigint | boolean | null | Uint8Array;

export interface BodyNode {
  readonly kind: BodyNodeKind;
  /** the key in its parent: an object key, `[3]` in an array, a protobuf field's name or `#3` */
  readonly key?: string;
  /** scalars only (a bigint stays exact: integers beyond 2^53 are not rounded) */
  readonly value?: BodyScalar;
  /** containers only: how many children */
  readonly count?: number;
  /** what the format said the value is, when more than its kind: `int64`, `varint`, `tag 1`, `ext 5` */
  readonly tag?: string;
  /** bytes of it in the (decoded) body, when the format tells */
  readonly size?: number;
  /** containers only: made on the first call, then kept */
  readonly children?: () => readonly BodyNode[];
}

/** A container node whose children are made once, on the first call. */
export function containerNode(
  kind: 'object' | 'array',
  count: number,
  make: () => readonly BodyNode[],
  extra: { readonly key?: string | undefined; readonly tag?: string | undefined; readonly size?: number | undefined } = {},
): BodyNode {
  let made: readonly BodyNode[] | undefined;
  return {
    kind,
    count,
    ...definedOnly(extra),
    children: () => {
      made ??= make();
      return made;
    },
  };
}

export function scalarNode(
  kind: Exclude<BodyNodeKind, 'object' | 'array'>,
  value: BodyScalar,
  extra: { readonly key?: string | undefined; readonly tag?: string | undefined; readonly size?: number | undefined } = {},
): BodyNode {
  return { kind, value, ...definedOnly(extra) };
}

function definedOnly(extra: { readonly key?: string | undefined; readonly tag?: string | undefined; readonly size?: number | undefined }): {
  key?: string;
  tag?: string;
  size?: number;
} {
  const out: { key?: string; tag?: string; size?: number } = {};
  if (extra.key !== undefined) out.key = extra.key;
  if (extra.tag !== undefined) out.tag = extra.tag;
  if (extra.size !== undefined) out.size = extra.size;
  return out;
}

/** Anything JSON, msgpack or CBOR decoders return, as a node (children lazily). */
export function valueNode(value: unknown, key?: string): BodyNode {
  const extra = { key };
  if (value === null || value === undefined) return scalarNode('null', null, { ...extra, ...(value === undefined ? { tag: 'undefined' } : {}) });
  switch (typeof value) {
    case 'string':
      return scalarNode('string', value, extra);
    case 'number':
      return scalarNode('number', value, extra);
    case 'bigint':
      return scalarNode('number', value, extra);
    case 'boolean':
      return scalarNode('boolean', value, extra);
    case 'object':
      break;
    default:
      return scalarNode('other', String(value), extra);
  }
  if (value instanceof Uint8Array) return scalarNode('bytes', value, extra);
  if (Array.isArray(value)) {
    const items = value as readonly unknown[];
    return containerNode('array', items.length, () => items.map((item, i) => valueNode(item, `[${i}]`)), extra);
  }
  if (value instanceof Map) {
    const map = value as Map<unknown, unknown>;
    return containerNode('object', map.size, () => Array.from(map, ([k, v]) => valueNode(v, mapKey(k))), extra);
  }
  if (value instanceof Date) return scalarNode('string', Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString(), { ...extra, tag: 'date' });
  const tagged = taggedValue(value);
  if (tagged) return { ...valueNode(tagged.contents, key), tag: tagged.tag };
  if (ArrayBuffer.isView(value))
    return scalarNode('bytes', new Uint8Array(value.buffer, value.byteOffset, value.byteLength), { ...extra, tag: value.constructor.name });
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  return containerNode('object', keys.length, () => keys.map((k) => valueNode(record[k], k)), extra);
}

/** msgpack's ExtData and CBOR's Tag and Simple: the contents, tagged with the type number. */
function taggedValue(value: object): { tag: string; contents: unknown } | undefined {
  const v = value as { type?: unknown; data?: unknown; tag?: unknown; contents?: unknown; value?: unknown };
  if (typeof v.type === 'number' && v.data instanceof Uint8Array) return { tag: `ext ${v.type}`, contents: v.data };
  if ((typeof v.tag === 'number' || typeof v.tag === 'bigint') && 'contents' in v) return { tag: `tag ${v.tag}`, contents: v.contents };
  if (value.constructor?.name === 'Simple' && typeof v.value === 'number') return { tag: 'simple', contents: v.value };
  return undefined;
}

function mapKey(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null) return String(key);
  if (key instanceof Uint8Array) return `h'${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}'`;
  return Object.prototype.toString.call(key);
}
