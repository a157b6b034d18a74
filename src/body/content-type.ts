// `application/json; charset=utf-8` → its media type (lower case) and parameters.

export interface ContentType {
  /** `type/subtype`, lower case; '' when absent */
  readonly mediaType: string;
  /** parameter names lower case, values unquoted */
  readonly params: Readonly<Record<string, string>>;
}

export function parseContentType(value: string | undefined): ContentType {
  if (value === undefined) return { mediaType: '', params: {} };
  const [head = '', ...rest] = value.split(';');
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let param = part.slice(eq + 1).trim();
    if (param.length >= 2 && param.startsWith('"') && param.endsWith('"')) param = param.slice(1, -1).replace(/\\(.)/g, '$1');
    if (name) params[name] = param;
  }
  return { mediaType: head.trim().toLowerCase(), params };
}

export type StructuredFormat = 'json' | 'msgpack' | 'cbor' | 'protobuf';

const BY_TYPE: Readonly<Record<string, StructuredFormat>> = {
  'application/json': 'json',
  'text/json': 'json',
  'application/msgpack': 'msgpack',
  'application/x-msgpack': 'msgpack',
  'application/vnd.msgpack': 'msgpack',
  'application/cbor': 'cbor',
  'application/protobuf': 'protobuf',
  'application/x-protobuf': 'protobuf',
  'application/vnd.google.protobuf': 'protobuf',
  'application/x-google-protobuf': 'protobuf',
};

/** The structured format a media type names, `+json` and `+cbor` suffixes included. */
export function formatOfMediaType(mediaType: string): StructuredFormat | undefined {
  const known = BY_TYPE[mediaType];
  if (known !== undefined) return known;
  if (mediaType.endsWith('+json')) return 'json';
  if (mediaType.endsWith('+cbor')) return 'cbor';
  if (mediaType.endsWith('+msgpack')) return 'msgpack';
  if (mediaType.endsWith('+proto') || mediaType.endsWith('+protobuf')) return 'protobuf';
  return undefined;
}
