// Public API of the AMQP 0-9-1 codec (pure: no sockets, no UI).

export * from './types.js';
export * from './errors.js';
export { EncodeError, type EncodeErrorCode } from './encode-error.js';
export {
  BASIC_PROPERTIES,
  CLASSES,
  CONSTANTS,
  DEFAULT_PORT,
  DOMAINS,
  METHODS,
  PROTOCOL_VERSION,
  REPLY_CODE,
  REPLY_CODES,
  classById,
  classByName,
  isErrorReplyCode,
  isHardError,
  isMethod,
  methodById,
  methodByName,
  replyCodeKind,
  replyCodeName,
  type BasicProperties,
  type BasicPropertiesInput,
  type BasicPropertyName,
  type ClassName,
  type DecodedMethodOf,
  type DomainName,
  type MethodArgs,
  type MethodArgsInput,
  type MethodName,
  type ReplyCodeKind,
  type ReplyCodeName,
  type ReplyCodeSpec,
  type WireInput,
  type WireValue,
} from './spec.js';
export {
  amqpStringByteLength,
  amqpStringEquals,
  amqpStringFromBytes,
  amqpStringToBytes,
  amqpStringToText,
  decodeAmqpString,
} from './amqp-string.js';
export {
  EMPTY_FIELD_TABLE,
  FIELD_TYPES,
  MAX_FIELD_NESTING,
  TypedField,
  decimalToString,
  decodeFieldArray,
  decodeFieldTable,
  decodeFieldTableEntries,
  encodeFieldArray,
  encodeFieldTable,
  encodeFieldTableEntries,
  fieldTable,
  fieldTableSize,
  fieldTableToPlain,
  fieldValue,
  fieldValueToJson,
  isFieldTable,
  tableGet,
  tableSet,
  typed,
  type FieldInput,
  type FieldValueOf,
  type JsonValue,
} from './field-table.js';
export { decodeMethod, encodeMethod, methodArgsWithDefaults, type ArgumentInput } from './method-codec.js';
export {
  decodeContentHeader,
  encodeContentHeader,
  propertyFlagsFor,
  type ContentHeaderInput,
} from './content-header.js';
export {
  decodeFrame,
  encodeContentFrames,
  encodeContentHeaderFrame,
  encodeDecodedFrame,
  encodeFrame,
  encodeHeartbeatFrame,
  encodeMethodFrame,
} from './frame-codec.js';
export * from './protocol-header.js';
export * from './message-assembler.js';
export * from './frame-parser.js';
