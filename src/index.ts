// The package API (`import { startBroker } from 'amqp-spy'`): the CLI's live sessions and
// recordings for code, typed. docs/api.md shows it in use. Nothing here starts on import.

export { ApiOptionError, startBroker, startProxy } from './api/start-session.js';
export type { BrokerSession, BrokerUserOption, ProxySession, SpySession, StartBrokerOptions, StartProxyOptions } from './api/start-session.js';
export type { FaultRuleInput, SessionFaults } from './api/session-faults.js';
export { ConnectionActionError, FaultInputError } from './fault/fault-control.js';
export type { FaultRuleInfo, FaultRuleState } from './fault/fault-control.js';
export {
  DEFAULT_HISTORY_EVENTS,
  DEFAULT_WAIT_TIMEOUT_MS,
  EventBacklogError,
  HISTORY_MAX_BYTES,
  ITERATOR_MAX_BACKLOG,
  WaitForError,
  WaitForOptionError,
} from './api/session-events.js';
export type { EventListener, EventPredicate, SessionEvents, WaitForOptions } from './api/session-events.js';
export { openRecording } from './api/recording-events.js';
export type { OpenRecordingOptions, RecordingEvents } from './api/recording-events.js';

export { AmqpSpyError } from './errors.js';
export { DefinitionsError } from './broker/definitions.js';
export type { DefinitionsJson } from './broker/definitions.js';
export { AddressError } from './source/address.js';
export { ListenError } from './source/listen-error.js';
export { RecordingError } from './record/recording-reader.js';
export type { ReadRecordingHeader } from './record/recording-reader.js';
export { RecordingWriteError } from './record/recorder.js';
export { FilterSyntaxError, parseFilter } from './view/filter.js';
export { FaultRuleError } from './fault/fault-rule.js';
export type { Filter } from './view/filter.js';
/** One line of text for an event, as the headless output prints it. */
export { formatEventLine as formatEvent } from './view/format.js';

export type {
  ConnCloseEvent,
  ConnOpenEvent,
  DecodeErrorEvent,
  Direction,
  Endpoint,
  FrameEvent,
  FrameInsight,
  MessageEvent,
  ProtocolHeaderEvent,
  SocketEnd,
  SpyEvent,
  SpyEventKind,
  UndecodedBytesEvent,
} from './events.js';
export type { ArgumentValue, ContentProperties, DecodedContentHeader, DecodedFrame, DecodedMethod, FieldTable, FieldValue } from './decoder/types.js';
