// The detail of one event as lines for people: every decoded field as an indented tree with
// type tags, the content properties, the body (decoded and folded, pretty, text or a hex dump), the raw
// frame as a hex dump, and the links to related events. Text only; the TUI colours by tone.

import { bodyDecoder, decodeBody, describeDecoding, nodeToText, treeLines, type DecodedBody } from '../body/index.js';
import { describeProtocolHeader } from '../decoder/protocol-header.js';
import type { ArgumentValue, DecodedMethod, FieldTable, FieldTypeTag, FieldValue } from '../decoder/types.js';
import { undecodedSize, type FrameInsight, type SpyEvent } from '../events.js';
import { ARROWS, describeIncomplete, describeLeft, describeOmitted, formatClock, formatDuration, formatSize, formatValue } from './format.js';
import { isFieldTable } from '../decoder/field-table.js';
import type { LaterFacts } from './later-facts.js';

export type DetailTone = 'heading' | 'normal' | 'dim' | 'error' | 'link';

export interface DetailLine {
  readonly indent: number;
  /** field name, shown in the key colour */
  readonly label?: string;
  readonly value: string;
  /** the type, shown dim after the value */
  readonly tag?: string;
  readonly tone?: DetailTone;
  /** the field's path as search names it (`correlation-id`, `headers.trace-id`, `body`) */
  readonly path?: string;
}

export interface EventLink {
  readonly label: string;
  readonly seq: number;
}

/** tree: the decoded body folded; pretty: it as indented text; text: its bytes as UTF-8; hex: the bytes as they came */
export type BodyMode = 'tree' | 'pretty' | 'text' | 'hex';

export interface DetailOptions {
  /** preferred body rendering; falls back to the best available one */
  readonly bodyMode?: BodyMode;
  /** levels of a body's tree shown open (DEFAULT_BODY_DEPTH) */
  readonly bodyDepth?: number;
  readonly showRaw?: boolean;
  /** width available for hex dumps and wrapped text */
  readonly width?: number;
  /** finds another event by seq (the frames of a message, for its raw bytes) */
  readonly lookup?: (seq: number) => SpyEvent | undefined;
  /** what later events told of this one (its confirm or ack, its RPC partner), and whether it still waits */
  readonly later?: { readonly facts: LaterFacts | undefined; readonly pending: boolean };
}

export interface EventDetail {
  readonly lines: readonly DetailLine[];
  readonly links: readonly EventLink[];
  /** the body rendering shown, when the event has a body */
  readonly bodyMode?: BodyMode;
  readonly bodyModes: readonly BodyMode[];
}

const TYPE_NAMES: Readonly<Record<FieldTypeTag, string>> = {
  t: 'bool',
  b: 'int8',
  B: 'uint8',
  s: 'int16',
  u: 'uint16',
  U: 'int16',
  I: 'int32',
  i: 'uint32',
  l: 'int64',
  L: 'int64',
  f: 'float',
  d: 'double',
  D: 'decimal',
  S: 'longstr',
  A: 'array',
  T: 'timestamp',
  F: 'table',
  V: 'void',
  x: 'bytes',
};

/** Lines kept for a body or dump: the pane shows a screenful, more only costs time. */
const MAX_BODY_LINES = 2000;
const MAX_BODY_BYTES = 256 * 1024;

export function describeEventDetail(event: SpyEvent, options: DetailOptions = {}): EventDetail {
  const lines: DetailLine[] = [];
  const links: EventLink[] = [];
  const width = options.width ?? 80;
  const heading = (value: string) => lines.push({ indent: 0, value, tone: 'heading' });
  const field = (label: string, value: string, tag?: string, indent = 1, tone?: DetailTone) =>
    lines.push({ indent, label, value, ...(tag !== undefined ? { tag } : {}), ...(tone ? { tone } : {}) });
  const where = (dir?: keyof typeof ARROWS, channel?: number) =>
    [`event ${event.seq}`, formatClock(event.ts), `conn #${event.conn}`, dir ? ARROWS[dir] : '', channel !== undefined ? `channel ${channel}` : '']
      .filter(Boolean)
      .join('  ');
  let bodyMode: BodyMode | undefined;
  let bodyModes: readonly BodyMode[] = [];
  const body = (bytes: Uint8Array) => {
    // decoded once per event (the decoder keeps recent ones): redraws and mode changes are free
    const decoded = bodyDecoder().decodeEvent(event) ?? decodeBody({ properties: {}, body: bytes });
    const rendering = renderBody(bytes, options.bodyMode, width, decoded, options.bodyDepth);
    bodyMode = rendering.mode;
    bodyModes = rendering.modes;
    const keys = [rendering.modes.length > 1 ? `b: ${rendering.modes.join('/')}` : '', rendering.mode === 'tree' ? '+/- fold' : ''].filter(Boolean).join('  ');
    lines.push({
      indent: 0,
      value: `Body  ${formatSize(bytes.length)}  as ${rendering.mode}${keys ? `  (${keys})` : ''}`,
      tone: 'heading',
      path: 'body',
    });
    if (decoded.format !== 'empty')
      lines.push({ indent: 1, label: 'read as', value: describeDecoding(decoded, bytes.length), tone: decoded.notes.length ? 'error' : 'dim' });
    lines.push(...rendering.lines);
  };

  switch (event.kind) {
    case 'conn.open':
      heading(`Connection opened  ${where()}`);
      field('client', `${event.client.address}:${event.client.port}`);
      field('server', `${event.server.address}:${event.server.port}`);
      break;
    case 'conn.close':
      heading(`Connection closed  ${where()}`);
      field('reason', event.reason);
      if (describeLeft(event)) field('left', describeLeft(event).slice('left '.length), undefined, 1, 'error');
      if (event.unanswered.length) {
        heading('Never answered');
        for (const u of event.unanswered) {
          field(`event ${u.seq}`, `ch${u.channel} ${u.name}`, undefined, 1, 'error');
          links.push({ label: `unanswered ${u.name}`, seq: u.seq });
        }
      }
      break;
    case 'protocol-header':
      heading(`Protocol header  ${where(event.dir)}`);
      field('protocol', describeProtocolHeader(event.header));
      field('offset', String(event.offset));
      if (options.showRaw) rawSection(lines, event.raw, width);
      break;
    case 'frame': {
      const frame = event.frame;
      if (frame.type === 'method') {
        heading(`${frame.method.name}  ${where(event.dir, event.channel)}`);
        field(
          'frame',
          `method  class ${frame.method.classId} method ${frame.method.methodId}  offset ${event.offset}  ${formatSize(event.raw.length)}`,
          undefined,
          1,
          'dim',
        );
        insightLines(event.insight, lines, links);
        laterLines(event, options.later, lines, links);
        methodLines(frame.method, lines);
      } else if (frame.type === 'header') {
        heading(`content-header  ${where(event.dir, event.channel)}`);
        field('frame', `header  offset ${event.offset}  ${formatSize(event.raw.length)}`, undefined, 1, 'dim');
        field('class-id', String(frame.header.classId), 'short');
        field('weight', String(frame.header.weight), 'short');
        field('body-size', String(frame.header.bodySize), 'longlong');
        heading('Properties');
        propertyLines(frame.header.properties, lines);
      } else if (frame.type === 'body') {
        heading(`content-body  ${where(event.dir, event.channel)}`);
        field('frame', `body  offset ${event.offset}  ${formatSize(event.raw.length)}`, undefined, 1, 'dim');
        body(frame.body);
      } else {
        heading(`heartbeat  ${where(event.dir, event.channel)}`);
        field('frame', `heartbeat  offset ${event.offset}`, undefined, 1, 'dim');
      }
      if (options.showRaw) rawSection(lines, event.raw, width);
      break;
    }
    case 'message': {
      heading(`${event.method.name} message  ${where(event.dir, event.channel)}`);
      if (event.incomplete !== undefined) field('incomplete', describeIncomplete(event).slice(1, -1), undefined, 1, 'error');
      if (event.bodyOmitted !== undefined) field('recording', describeOmitted(event).slice(1, -1), undefined, 1, 'dim');
      field('frames', `events ${event.frames.join(' ')}`, undefined, 1, 'dim');
      insightLines(event.insight, lines, links);
      laterLines(event, options.later, lines, links);
      methodLines(event.method, lines);
      heading('Properties');
      propertyLines(event.properties, lines);
      body(event.body);
      if (options.showRaw) {
        const parts = event.frames.map((seq) => options.lookup?.(seq)).filter((e): e is SpyEvent & { kind: 'frame' } => e?.kind === 'frame');
        if (parts.length) for (const part of parts) rawSection(lines, part.raw, width, `Raw frame (event ${part.seq})`);
        else lines.push({ indent: 1, value: 'the frames of this message are no longer in the buffer', tone: 'dim' });
      }
      break;
    }
    case 'decode.error':
      heading(`Decode error  ${where(event.dir, event.error.channel)}`);
      field('code', event.error.code, undefined, 1, 'error');
      field('offset', String(event.error.offset));
      field('text', event.error.text, undefined, 1, 'error');
      if (event.error.classId !== undefined) field('method', `class ${event.error.classId} method ${event.error.methodId ?? '?'}`);
      field('stopped', event.stopped ? 'yes: later bytes in this direction pass undecoded' : 'no: decoding went on after this frame');
      if (event.raw) rawSection(lines, event.raw, width);
      break;
    case 'bytes':
      heading(`Undecoded bytes  ${where(event.dir)}`);
      field('offset', String(event.offset));
      field('size', formatSize(undecodedSize(event)));
      if (event.data !== undefined) rawSection(lines, event.data, width, 'Bytes');
      else
        field(
          'bytes',
          'withheld: client bytes the tap could not decode may hold credentials (--show-secrets shows them, --record-secrets records them)',
          undefined,
          1,
          'dim',
        );
      break;
  }
  if (links.length) {
    heading('Links  (Enter jumps to the first)');
    for (const link of links) lines.push({ indent: 1, label: `event ${link.seq}`, value: link.label, tone: 'link' });
  }
  return { lines, links, ...(bodyMode ? { bodyMode } : {}), bodyModes };
}

/** The reverse links: what became of a publish or delivery, and its RPC partner. */
function laterLines(event: SpyEvent, later: DetailOptions['later'], lines: DetailLine[], links: EventLink[]): void {
  if (later === undefined) return;
  const { facts, pending } = later;
  const publish =
    (event.kind === 'message' ? event.method.name : event.kind === 'frame' && event.frame.type === 'method' ? event.frame.method.name : '') === 'basic.publish';
  const add = (label: string, value: string, tone?: DetailTone) => lines.push({ indent: 1, label, value, ...(tone ? { tone } : {}) });
  const outcome = facts?.outcome;
  if (outcome) {
    const after = `after ${formatDuration(outcome.afterMicros)}`;
    const by = `event ${outcome.bySeq}`;
    switch (outcome.kind) {
      case 'confirmed':
        add('confirmed', `by the broker's basic.ack, ${by}, ${after}`);
        links.push({ label: 'its confirm', seq: outcome.bySeq });
        break;
      case 'refused':
        add('refused', `by the broker's basic.nack, ${by}, ${after}: the broker did not take it`, 'error');
        links.push({ label: 'its nack', seq: outcome.bySeq });
        break;
      case 'acked':
        add('settled', `acked by the client, ${by}, ${after}`);
        links.push({ label: 'its ack', seq: outcome.bySeq });
        break;
      case 'nacked':
      case 'rejected':
        add(
          'settled',
          `${outcome.kind} by the client, ${by}, ${after}, ${outcome.requeue ? 'requeued' : 'not requeued (dead-lettered if its queue has a dead-letter exchange, else dropped)'}`,
          outcome.requeue ? undefined : 'error',
        );
        links.push({ label: `its ${outcome.kind === 'nacked' ? 'nack' : 'reject'}`, seq: outcome.bySeq });
        break;
      case 'closed':
        add(
          publish ? 'unconfirmed' : 'unsettled',
          publish
            ? `the channel closed (${by}) before a confirm came: whether the broker took it is unknown`
            : `the channel closed (${by}) before an ack: the broker requeues it`,
          'error',
        );
        links.push({ label: 'the close', seq: outcome.bySeq });
        break;
    }
  } else if (pending) add(publish ? 'awaiting' : 'unacked', publish ? 'no confirm from the broker yet' : 'not settled by the client yet');
  if (facts?.returnedBySeq !== undefined) {
    add('returned', `by the broker's basic.return, event ${facts.returnedBySeq}`, 'error');
    links.push({ label: 'its return', seq: facts.returnedBySeq });
  }
  if (facts?.rpc) {
    const rpc = facts.rpc;
    add(
      rpc.role === 'reply' ? 'RPC reply' : 'RPC request',
      `${rpc.role === 'reply' ? 'answers' : 'answered by'} event ${rpc.otherSeq} (correlation-id ${formatValue(rpc.correlationId)}) after ${formatDuration(rpc.rttMicros)}`,
    );
    links.push({ label: rpc.role === 'reply' ? 'the RPC request' : 'the RPC reply', seq: rpc.otherSeq });
  }
}

function insightLines(insight: FrameInsight | undefined, lines: DetailLine[], links: EventLink[]): void {
  if (!insight) return;
  const add = (label: string, value: string, tone?: DetailTone) => lines.push({ indent: 1, label, value, ...(tone ? { tone } : {}) });
  if (insight.request) {
    add('reply to', `event ${insight.request.seq} ${insight.request.name} after ${formatDuration(insight.request.rttMicros)}`);
    links.push({ label: `request ${insight.request.name}`, seq: insight.request.seq });
  }
  if (insight.error) {
    const e = insight.error;
    add(
      'error',
      e.replyText.startsWith(e.replyName) ? `${e.replyCode} ${e.replyText}` : `${e.replyCode} ${e.replyName}${e.replyText ? ` - ${e.replyText}` : ''}`,
      'error',
    );
    if (e.causeSeq !== undefined) {
      add('caused by', `event ${e.causeSeq} ${e.causeName ?? ''}`, 'error');
      links.push({ label: `cause ${e.causeName ?? ''}`.trim(), seq: e.causeSeq });
    }
  }
  if (insight.settles) {
    const s = insight.settles;
    add(
      s.outcome,
      s.unknownTag
        ? 'an unknown delivery tag (a broker closes the channel with 406)'
        : `${s.deliverySeqs.length} deliver${s.deliverySeqs.length === 1 ? 'y' : 'ies'}${s.outcome === 'ack' ? '' : s.requeue ? ', requeued' : ', not requeued (dead-lettered if its queue has a dead-letter exchange, else dropped)'}`,
      s.unknownTag ? 'error' : undefined,
    );
    for (const seq of s.deliverySeqs) links.push({ label: `delivery ${s.outcome === 'ack' ? 'acked' : s.outcome === 'nack' ? 'nacked' : 'rejected'}`, seq });
  }
  if (insight.confirms) {
    const c = insight.confirms;
    add(
      'confirms',
      `${c.publishSeqs.length} publish${c.publishSeqs.length === 1 ? '' : 'es'}${c.outcome === 'nack' ? ' NEGATIVELY (nack)' : ''}`,
      c.outcome === 'nack' ? 'error' : undefined,
    );
    for (const seq of c.publishSeqs) links.push({ label: `publish ${c.outcome === 'ack' ? 'confirmed' : 'nacked'}`, seq });
  }
  if (insight.returnOf !== undefined) {
    add('returns', `the publish, event ${insight.returnOf}`, 'error');
    links.push({ label: 'publish returned', seq: insight.returnOf });
  }
  if (insight.publishSeqNo !== undefined) add('publish-seq', `${insight.publishSeqNo} (confirm mode)`);
  if (insight.unacked !== undefined) add('unacked', `${insight.unacked} on the channel after this`);
  if (insight.noWait) add('no-wait', 'no reply expected');
}

function methodLines(method: DecodedMethod, lines: DetailLine[]): void {
  lines.push({ indent: 0, value: `Arguments  ${method.name}`, tone: 'heading' });
  for (const spec of method.spec.fields) {
    const value = method.args[spec.name];
    if (value === undefined) continue;
    argumentLines(spec.name, value, spec.type, 1, lines, spec.name);
  }
  if (method.spec.fields.length === 0) lines.push({ indent: 1, value: '(none)', tone: 'dim' });
}

function propertyLines(properties: Readonly<Record<string, ArgumentValue>>, lines: DetailLine[]): void {
  const keys = Object.keys(properties);
  if (keys.length === 0) lines.push({ indent: 1, value: '(none)', tone: 'dim' });
  for (const key of keys) argumentLines(key, properties[key]!, undefined, 1, lines, key);
}

function argumentLines(label: string, value: ArgumentValue, type: string | undefined, indent: number, lines: DetailLine[], path: string): void {
  if (isFieldTable(value)) {
    lines.push({ indent, label, value: value.entries.length ? '' : '{}', tag: `${type ?? 'table'} (${value.entries.length})`, path });
    tableLines(value, indent + 1, lines, path);
    return;
  }
  lines.push({ indent, label, value: formatScalar(value), ...(type ? { tag: type } : {}), path });
}

function tableLines(table: FieldTable, indent: number, lines: DetailLine[], path: string): void {
  for (const [key, field] of table.entries) fieldValueLines(key, field, indent, lines, `${path}.${key}`);
}

function fieldValueLines(label: string, field: FieldValue, indent: number, lines: DetailLine[], path: string): void {
  const tag = `${field.type} ${TYPE_NAMES[field.type]}`;
  if (field.type === 'F') {
    lines.push({ indent, label, value: field.value.entries.length ? '' : '{}', tag: `${tag} (${field.value.entries.length})`, path });
    tableLines(field.value, indent + 1, lines, path);
  } else if (field.type === 'A') {
    lines.push({ indent, label, value: field.value.length ? '' : '[]', tag: `${tag} (${field.value.length})`, path });
    field.value.forEach((item, i) => {
      fieldValueLines(`[${i}]`, item, indent + 1, lines, `${path}[${i}]`);
    });
  } else if (field.type === 'T') {
    const seconds = Number(field.value);
    const iso = Number.isFinite(seconds) && Math.abs(seconds) < 8.64e12 ? new Date(seconds * 1000).toISOString() : '';
    lines.push({ indent, label, value: `${field.value}${iso ? `  (${iso})` : ''}`, tag, path });
  } else {
    lines.push({ indent, label, value: formatScalar(field.value), tag, path });
  }
}

function formatScalar(value: ArgumentValue | FieldValue['value']): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return formatValue(value);
}

function rawSection(lines: DetailLine[], bytes: Uint8Array, width: number, title = 'Raw frame'): void {
  lines.push({ indent: 0, value: `${title}  ${formatSize(bytes.length)}`, tone: 'heading' });
  for (const line of hexDump(bytes, width)) lines.push({ indent: 1, value: line, tone: 'dim' });
}

/** `0000  01 00 01 …  |....|` with as many bytes per line as fit (16 or 8). */
export function hexDump(bytes: Uint8Array, width = 80, maxLines = MAX_BODY_LINES): string[] {
  const perLine = width >= 78 ? 16 : 8;
  const out: string[] = [];
  const shown = Math.min(bytes.length, perLine * maxLines);
  for (let at = 0; at < shown; at += perLine) {
    let hex = '';
    let ascii = '';
    for (let i = 0; i < perLine; i++) {
      const b = bytes[at + i];
      if (b === undefined) hex += '   ';
      else {
        hex += `${b.toString(16).padStart(2, '0')} `;
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      }
      if (i === 7 && perLine === 16) hex += ' ';
    }
    out.push(`${at.toString(16).padStart(4, '0')}  ${hex} |${ascii}|`);
  }
  if (shown < bytes.length) out.push(`… ${bytes.length - shown} more bytes`);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text of the first `limit` bytes when they are UTF-8 without stray control characters, else undefined. */
export function bodyAsText(bytes: Uint8Array, limit = MAX_BODY_BYTES): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, limit));
  } catch {
    // a multi-byte character cut at the limit is still text
    if (bytes.length <= limit) return undefined;
    try {
      text = utf8.decode(bytes.subarray(0, lastCharBoundary(bytes, limit)));
    } catch {
      return undefined;
    }
  }
  const controls = text.match(/[\x00-\x08\x0e-\x1f\x7f]/g);
  if (controls && controls.length > Math.max(1, text.length / 50)) return undefined;
  return text;
}

function lastCharBoundary(bytes: Uint8Array, limit: number): number {
  let at = Math.min(limit, bytes.length);
  while (at > 0 && (bytes[at]! & 0xc0) === 0x80) at--;
  return at;
}

/** The renderings a body supports, best first: a folded tree and pretty text (structured bodies), text (UTF-8), hex. */
export function bodyModes(bytes: Uint8Array, decoded: DecodedBody = decodeBody({ properties: {}, body: bytes })): BodyMode[] {
  const modes: BodyMode[] = [];
  if (decoded.root !== undefined) modes.push('tree', 'pretty');
  if (decoded.format === 'text' || (decoded.format !== 'empty' && bodyAsText(decoded.bytes) !== undefined)) modes.push('text');
  modes.push('hex');
  return modes;
}

/** The next body rendering after `current` among the ones this body supports. */
export function nextBodyMode(modes: readonly BodyMode[], current: BodyMode | undefined): BodyMode {
  const at = current === undefined ? -1 : modes.indexOf(current);
  return modes[(at + 1) % modes.length] ?? 'hex';
}

/** Levels of a body's tree open at first: the root and its keys. */
export const DEFAULT_BODY_DEPTH = 2;

/**
 * A body's lines in the mode asked for (or the best one it has). Only what is shown is made:
 * the tree is walked to MAX_BODY_LINES open lines, pretty text to MAX_BODY_BYTES characters.
 */
export function renderBody(
  bytes: Uint8Array,
  preferred: BodyMode | undefined,
  width: number,
  decoded: DecodedBody = decodeBody({ properties: {}, body: bytes }),
  depth = DEFAULT_BODY_DEPTH,
): { mode: BodyMode; modes: BodyMode[]; lines: DetailLine[] } {
  const modes = bodyModes(bytes, decoded);
  const mode = preferred !== undefined && modes.includes(preferred) ? preferred : modes[0]!;
  const lines: DetailLine[] = [];
  if (bytes.length === 0) {
    lines.push({ indent: 1, value: '(empty)', tone: 'dim' });
    return { mode, modes, lines };
  }
  if (mode === 'hex') {
    for (const line of hexDump(bytes, width)) lines.push({ indent: 1, value: line });
    return { mode, modes, lines };
  }
  if (mode === 'tree' && decoded.root !== undefined) {
    const tree = treeLines(decoded.root, { openDepth: depth, maxLines: MAX_BODY_LINES });
    for (const line of tree.lines) {
      const marker = line.open === undefined ? '' : line.open ? '▾ ' : '▸ ';
      lines.push({
        indent: 1 + line.depth,
        ...(line.key !== undefined ? { label: line.key } : {}),
        value: `${marker}${line.value}`,
        ...(line.tag !== undefined ? { tag: line.tag } : {}),
        path: `body${line.path}`,
      });
    }
    if (tree.more) lines.push({ indent: 1, value: `… more lines: fold with - to see the rest`, tone: 'dim' });
    return { mode, modes, lines };
  }
  let shownText: string;
  if (mode === 'pretty' && decoded.root !== undefined) shownText = nodeToText(decoded.root, { indent: 2, maxChars: MAX_BODY_BYTES }).text;
  else shownText = decoded.text?.slice(0, MAX_BODY_BYTES) ?? bodyAsText(decoded.bytes) ?? '';
  const all = shownText.split('\n');
  for (const line of all.slice(0, MAX_BODY_LINES)) lines.push({ indent: 1, value: line.replace(/\t/g, '  ').replace(/\r$/, '') });
  if (all.length > MAX_BODY_LINES) lines.push({ indent: 1, value: `… ${all.length - MAX_BODY_LINES} more lines`, tone: 'dim' });
  if (mode === 'text' && decoded.bytes.length > MAX_BODY_BYTES)
    lines.push({ indent: 1, value: `… body cut at ${formatSize(MAX_BODY_BYTES)} of ${formatSize(decoded.bytes.length)}`, tone: 'dim' });
  return { mode, modes, lines };
}

/** A detail line as plain text (for tests and copy). */
export function detailLineText(line: DetailLine): string {
  const pad = '  '.repeat(line.indent);
  const label = line.label !== undefined ? `${line.label}: ` : '';
  return `${pad}${label}${line.value}${line.tag ? `${line.value ? '  ' : ''}${line.tag}` : ''}`;
}
