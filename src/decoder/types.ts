// Shared shapes of the AMQP 0-9-1 codec. Pure data: no sockets, no UI.

/** Frame type octets (AMQP 0-9-1 §4.2.3). */
export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
/** type:u8 channel:u16 size:u32 */
export const FRAME_HEADER_SIZE = 7;
/** header + end byte */
export const FRAME_OVERHEAD = 8;

/**
 * A field-table value, tagged with the type octet it was read with so that re-encoding
 * gives the same bytes. 64-bit integers and timestamps are bigint.
 */
export type FieldValue =
  | { readonly type: 't'; readonly value: boolean }
  | { readonly type: 'b' | 'B' | 's' | 'u' | 'U' | 'I' | 'i' | 'f' | 'd'; readonly value: number }
  | { readonly type: 'l' | 'L' | 'T'; readonly value: bigint }
  | { readonly type: 'D'; readonly value: Decimal }
  | { readonly type: 'S'; readonly value: AmqpString }
  | { readonly type: 'x'; readonly value: Uint8Array }
  | { readonly type: 'A'; readonly value: readonly FieldValue[] }
  | { readonly type: 'F'; readonly value: FieldTable }
  | { readonly type: 'V'; readonly value: null };

export type FieldTypeTag = FieldValue['type'];

export interface Decimal {
  readonly scale: number;
  /** signed int32 */
  readonly value: number;
}

/**
 * Strings on the wire are bytes. They decode to a JS string when they are valid UTF-8
 * (which re-encodes to the same bytes) and stay bytes otherwise, so nothing is lost.
 */
export type AmqpString = string | Uint8Array;

/** Entries in wire order; duplicate keys are kept, as the wire allows them. */
export interface FieldTable {
  readonly entries: ReadonlyArray<readonly [key: string, value: FieldValue]>;
}

/** A method argument or content property value, per the spec's domain type. */
export type ArgumentValue = number | bigint | boolean | AmqpString | FieldTable;

/** Domain types of method arguments and content properties in the spec. */
export type SpecFieldType = 'bit' | 'octet' | 'short' | 'long' | 'longlong' | 'shortstr' | 'longstr' | 'table' | 'timestamp';

export interface FieldSpec {
  /** The spec's name, e.g. `routing-key`. Decoded arguments use it as the key. */
  readonly name: string;
  /** The spec's domain, e.g. `exchange-name` (equals the type for plain fields). */
  readonly domain: string;
  readonly type: SpecFieldType;
  readonly defaultValue?: ArgumentValue;
}

export type Peer = 'client' | 'server';

export interface MethodSpec {
  readonly classId: number;
  readonly methodId: number;
  readonly className: string;
  readonly methodName: string;
  /** `class.method`, e.g. `basic.publish` */
  readonly name: string;
  readonly synchronous: boolean;
  /** carries content (header + body frames follow) */
  readonly content: boolean;
  readonly fields: readonly FieldSpec[];
  /** names (`class.method`) of the replies a synchronous request may get */
  readonly responses: readonly string[];
  /** which peers may send it */
  readonly sentBy: readonly Peer[];
}

export interface ClassSpec {
  readonly id: number;
  readonly name: string;
  readonly methods: readonly MethodSpec[];
  /** content properties in flag-bit order (only `basic` has them in 0-9-1) */
  readonly properties: readonly FieldSpec[];
}

export type MethodArguments = Readonly<Record<string, ArgumentValue>>;
export type ContentProperties = Readonly<Record<string, ArgumentValue>>;

export interface DecodedMethod {
  readonly classId: number;
  readonly methodId: number;
  /** `class.method` */
  readonly name: string;
  readonly spec: MethodSpec;
  /** keyed by the spec's argument names, in spec order; every argument present */
  readonly args: MethodArguments;
}

export interface DecodedContentHeader {
  readonly classId: number;
  readonly weight: number;
  readonly bodySize: bigint;
  /** only the properties present, keyed by the spec's names */
  readonly properties: ContentProperties;
  /** the flag words as read, so re-encoding keeps continuation words and reserved bits */
  readonly propertyFlags: readonly number[];
}

/** A frame as cut from the stream: raw bytes kept, payload a view into them. */
export interface RawFrame {
  readonly type: number;
  readonly channel: number;
  /** view of the payload (inside `raw`) */
  readonly payload: Uint8Array;
  /** the whole frame: header, payload and end byte */
  readonly raw: Uint8Array;
  /** byte offset of the frame's first byte in the stream */
  readonly offset: number;
}

export type DecodedFrame =
  | { readonly type: 'method'; readonly channel: number; readonly method: DecodedMethod }
  | { readonly type: 'header'; readonly channel: number; readonly header: DecodedContentHeader }
  | {
      readonly type: 'body';
      readonly channel: number;
      readonly body: Uint8Array;
      /** bytes of this body frame a recording left out (--record-bodies): the body stands for them */
      readonly omitted?: number;
    }
  | { readonly type: 'heartbeat'; readonly channel: number };

export type ProtocolName = 'AMQP 0-9-1' | 'AMQP 0-9' | 'AMQP 0-8' | 'AMQP 1.0' | 'AMQP 1.0 SASL' | 'AMQP 1.0 TLS' | 'unknown AMQP';

export interface ProtocolHeader {
  readonly protocol: ProtocolName;
  /** the four bytes after `AMQP` */
  readonly version: readonly [number, number, number, number];
  /** only 0-9-1 is decoded further */
  readonly decoded: boolean;
  readonly raw: Uint8Array;
  readonly offset: number;
}
