// Errno codes in words, for one-line errors: a socket's (the proxy's connections, a listener)
// and a file's (an input, the CA file, the recording). One table of each, so the same code
// reads the same wherever it is met.

const SOCKET_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EPIPE: 'broken pipe',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
};

/** One short line for a socket error: known errno codes in words, TLS errors as `TLS: ...`. */
export function describeSocketError(err: NodeJS.ErrnoException): string {
  const code = err.code;
  if (code !== undefined && SOCKET_WORDS[code] !== undefined) return SOCKET_WORDS[code];
  if (code !== undefined && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED/.test(code))) {
    return `TLS: ${opensslReason(err.message)}`;
  }
  return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

/**
 * OpenSSL's errors come as `<hex>:error:<code>:SSL routines:<function>:<reason>:<source file>:<line>:…`
 * spread over lines; the reason is what a user can act on.
 */
function opensslReason(message: string): string {
  const reason = /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)/.exec(message)?.[1];
  return (reason ?? message).replace(/\s+/g, ' ').trim();
}

const FILE_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/**
 * A failed open, read or write of a file in words, else the error's own message. `words` adds
 * or replaces codes for one use (a recording being created: its ENOENT is a missing directory).
 */
export function describeFsError(error: unknown, words?: Readonly<Record<string, string>>): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text = code === undefined ? undefined : (words?.[code] ?? FILE_WORDS[code]);
  return text ?? (error as Error).message;
}
