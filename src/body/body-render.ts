// A decoded body as text: JSON-like text (one line for previews and --json, indented for
// people), and folded tree lines for the detail view. Every walk is iterative with an
// explicit stack and stops at its output bound, so a 100k-deep or 10 MB body costs only what
// is shown.

import type { BodyNode, BodyScalar } from './body-node.js';

const hex = (bytes: Uint8Array, max: number) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString('hex') + (bytes.length > max ? '…' : '');

/** A scalar as JSON text: a bigint as its exact digits, bytes as `{"base64":…}` (JSON) or `<hex>`. */
export function scalarText(value: BodyScalar | undefined, style: 'json' | 'people' = 'people'): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : style === 'json' ? JSON.stringify(String(value)) : String(value);
  if (typeof value === 'boolean') return String(value);
  if (style === 'json') return `{"base64":${JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))}}`;
  return `<${value.length} bytes ${hex(value, 32)}>`;
}

interface Open {
  readonly items: readonly BodyNode[];
  index: number;
  readonly close: string;
  readonly depth: number;
}

/**
 * The tree as JSON text, cut at `maxChars` (the result then ends in `…`): one line, or with
 * `indent` one value per line. Keys of arrays (`[3]`) are not written; other keys are.
 */
export function nodeToText(
  root: BodyNode,
  options: { readonly maxChars?: number; readonly style?: 'json' | 'people'; readonly indent?: number } = {},
): {
  text: string;
  cut: boolean;
} {
  const max = options.maxChars ?? Number.POSITIVE_INFINITY;
  const style = options.style ?? 'people';
  const indent = options.indent ?? 0;
  const colon = indent > 0 || style === 'people' ? ': ' : ':';
  const comma = indent === 0 && style === 'people' ? ', ' : ',';
  const parts: string[] = [];
  let length = 0;
  const push = (s: string) => {
    parts.push(s);
    length += s.length;
  };
  const newline = (depth: number) => {
    if (indent > 0) push(`\n${' '.repeat(indent * depth)}`);
  };
  const stack: Open[] = [];
  const visit = (node: BodyNode, inArray: boolean, depth: number) => {
    if (!inArray && depth > 0 && node.key !== undefined) push(`${JSON.stringify(node.key)}${colon}`);
    if (node.children === undefined) {
      push(scalarText(node.value, style));
      return;
    }
    const items = node.children();
    const [open, close] = node.kind === 'array' ? ['[', ']'] : ['{', '}'];
    if (items.length === 0) push(`${open}${close}`);
    else {
      push(open);
      stack.push({ items, index: 0, close, depth });
    }
  };
  visit(root, false, 0);
  while (stack.length && length < max) {
    const top = stack[stack.length - 1]!;
    if (top.index >= top.items.length) {
      stack.pop();
      newline(top.depth);
      push(top.close);
      continue;
    }
    if (top.index > 0) push(comma);
    newline(top.depth + 1);
    const child = top.items[top.index++]!;
    visit(child, top.close === ']', top.depth + 1);
  }
  let text = parts.join('');
  const cut = text.length > max || stack.length > 0;
  if (cut) text = `${text.slice(0, Math.max(0, max - 1))}…`;
  return { text, cut };
}

export interface TreeLine {
  readonly depth: number;
  readonly key?: string;
  /** a scalar's text, or a container's summary (`{3}`, `[12]`) */
  readonly value: string;
  readonly tag?: string;
  /** containers: whether its children follow */
  readonly open?: boolean;
  /** the path of keys from the root, for folding and filters */
  readonly path: string;
}

/**
 * The tree as lines, containers open to `openDepth` levels (the root is level 0) and those in
 * `toggled` (paths) the other way; at most `maxLines` (`more` says some were left out).
 */
export function treeLines(
  root: BodyNode,
  options: { readonly openDepth: number; readonly toggled?: ReadonlySet<string>; readonly maxLines: number },
): { lines: TreeLine[]; more: boolean } {
  const lines: TreeLine[] = [];
  const stack: Array<{ node: BodyNode; depth: number; path: string }> = [{ node: root, depth: 0, path: '' }];
  while (stack.length) {
    if (lines.length >= options.maxLines) return { lines, more: true };
    const { node, depth, path } = stack.pop()!;
    const container = node.children !== undefined;
    const open = container && depth < options.openDepth !== (options.toggled?.has(path) === true);
    lines.push({
      depth,
      ...(node.key !== undefined ? { key: node.key } : {}),
      value: container ? `${node.kind === 'array' ? '[' : '{'}${node.count ?? 0}${node.kind === 'array' ? ']' : '}'}` : scalarText(node.value),
      ...(node.tag !== undefined ? { tag: node.tag } : {}),
      ...(container ? { open } : {}),
      path,
    });
    if (open) {
      const children = node.children!();
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]!;
        stack.push({ node: child, depth: depth + 1, path: `${path}${pathStep(child, i)}` });
      }
    }
  }
  return { lines, more: false };
}

function pathStep(node: BodyNode, index: number): string {
  if (node.key === undefined || node.key.startsWith('[')) return `[${index}]`;
  return /^[A-Za-z_$#][\w$-]*$/.test(node.key) ? `.${node.key}` : `[${JSON.stringify(node.key)}]`;
}

/**
 * The node at a path of keys (`['order', 'items', '0', 'sku']`): object keys and protobuf
 * field names, `#3` for a field without a schema, array indexes as numbers or `[0]`.
 */
export function nodeAtPath(root: BodyNode, path: readonly string[]): BodyNode | undefined {
  let node: BodyNode | undefined = root;
  for (const step of path) {
    if (node?.children === undefined) return undefined;
    const children: readonly BodyNode[] = node.children();
    if (node.kind === 'array') {
      const index = Number(step.startsWith('[') && step.endsWith(']') ? step.slice(1, -1) : step);
      node = Number.isInteger(index) ? children[index] : undefined;
    } else node = children.find((child) => child.key === step);
  }
  return node;
}

/** A scalar node's value as a filter compares it: strings as they are, numbers as digits. */
export function nodeValueText(node: BodyNode): string | undefined {
  if (node.children !== undefined) return undefined;
  const value = node.value;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return undefined;
  return value === undefined ? undefined : String(value);
}
