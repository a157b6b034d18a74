// The exit code each user-facing error ends the CLI with: carried by the class (AmqpSpyError),
// so these hold whatever the classes are called.

import { describe, expect, it } from 'vitest';
import { BrokerOptionError } from '../../src/broker/broker.js';
import { DefinitionsError } from '../../src/broker/definitions.js';
import { DecodeFileError, InputFileError } from '../../src/commands/decode.js';
import { ReplayTargetError } from '../../src/commands/replay-to/replay-connection.js';
import { CaFileError } from '../../src/session/live-session.js';
import { AmqpSpyError, UsageError } from '../../src/errors.js';
import { RecordingLinkError, RecordingWriteError } from '../../src/record/recorder.js';
import { RecordingError } from '../../src/record/recording-reader.js';
import { AddressError } from '../../src/source/address.js';
import { describeFsError, describeSocketError } from '../../src/source/errno.js';
import { ListenError } from '../../src/source/listen-error.js';
import { FilterSyntaxError } from '../../src/view/filter.js';

describe('user errors', () => {
  it('carry 2 for bad input and 1 for a failure while running', () => {
    const errors: [AmqpSpyError, number][] = [
      [new UsageError('x'), 2],
      [new AddressError('--listen', 'x', 'bad'), 2],
      [new CaFileError('ca.pem', 'no such file'), 2],
      [new InputFileError('f', 'x'), 2],
      [new DecodeFileError('f', 1, 'x'), 1],
      [new RecordingError('f', 1, 'x'), 2],
      [new FilterSyntaxError('x', 0, 'bad'), 2],
      [new BrokerOptionError('--user', 'x'), 2],
      [new DefinitionsError('defs.json', 'queues[0]', 'x'), 2],
      [new ListenError('127.0.0.1', 5672, 'EADDRINUSE', 'address already in use'), 1],
      [new RecordingWriteError('f', 'ENOSPC', 'x'), 1],
      [new RecordingLinkError('f', 'target', undefined), 2],
      [new ReplayTargetError('127.0.0.1', 5672, 'connection refused'), 1],
    ];
    for (const [error, code] of errors) {
      expect(error).toBeInstanceOf(AmqpSpyError);
      expect([error.name, error.exitCode]).toEqual([error.constructor.name, code]);
    }
  });
});

describe('errno words', () => {
  const errno = (code: string, message = `${code}: boom`) => Object.assign(new Error(message), { code });

  it('say a socket error in words, a TLS one as TLS, and an unknown one with its code', () => {
    expect(describeSocketError(errno('ECONNREFUSED'))).toBe('connection refused');
    expect(describeSocketError(errno('ERR_TLS_CERT_ALTNAME_INVALID', 'bad name'))).toBe('TLS: bad name');
    expect(describeSocketError(errno('EWHATEVER', 'it broke'))).toBe('it broke (EWHATEVER)');
  });

  it("keep only the reason of OpenSSL's multi-line error text", () => {
    const openssl =
      '803C0B709E7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n';
    expect(describeSocketError(errno('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', openssl))).toBe('TLS: tlsv13 alert certificate required');
  });

  it('say a file error in words, rewordable by one use', () => {
    expect(describeFsError(errno('ENOENT'))).toBe('no such file');
    expect(describeFsError(errno('ENOENT'), { ENOENT: 'no such directory' })).toBe('no such directory');
    expect(describeFsError(errno('EACCES'), { ENOENT: 'no such directory' })).toBe('permission denied');
    expect(describeFsError(errno('EIO', 'i/o error'))).toBe('i/o error');
  });
});
