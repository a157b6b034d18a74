// RabbitMQ's stored password hashes (definitions' `password_hash`): base64 of a 4-byte salt
// followed by hash(salt ++ utf8 password), with the hash named by `hashing_algorithm`.
// Imported users keep their hash, so a definitions file never needs plain passwords.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const HASHING_ALGORITHMS = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
} as const;

export type HashingAlgorithm = keyof typeof HASHING_ALGORITHMS;

/** RabbitMQ's default (`password_hashing_module`) since 3.6. */
export const DEFAULT_HASHING_ALGORITHM: HashingAlgorithm = 'rabbit_password_hashing_sha256';

const SALT_BYTES = 4;

export function isHashingAlgorithm(name: string): name is HashingAlgorithm {
  return Object.hasOwn(HASHING_ALGORITHMS, name);
}

function digest(algorithm: HashingAlgorithm, salt: Uint8Array, password: string): Buffer {
  return createHash(HASHING_ALGORITHMS[algorithm]).update(salt).update(password, 'utf8').digest();
}

/** A new hash of `password` with a random salt (what RabbitMQ's add_user stores). */
export function hashPassword(password: string, algorithm: HashingAlgorithm = DEFAULT_HASHING_ALGORITHM, salt: Uint8Array = randomBytes(SALT_BYTES)): string {
  return Buffer.concat([salt, digest(algorithm, salt, password)]).toString('base64');
}

/** The decoded hash, or a reason it cannot be one (for the definitions error line). */
export function decodePasswordHash(algorithm: HashingAlgorithm, hash: string): Uint8Array | string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(hash) || hash.length % 4 !== 0) return 'is not base64';
  const bytes = Buffer.from(hash, 'base64');
  const size = createHash(HASHING_ALGORITHMS[algorithm]).digest().length;
  if (bytes.length !== SALT_BYTES + size)
    return `decodes to ${bytes.length} bytes, expected ${SALT_BYTES + size} (4 of salt and ${size} of ${HASHING_ALGORITHMS[algorithm]})`;
  return bytes;
}

/** Whether `password` matches a decoded hash; an empty hash (a user without password) matches nothing. */
export function checkPasswordHash(algorithm: HashingAlgorithm, hash: Uint8Array, password: string): boolean {
  if (hash.length <= SALT_BYTES) return false;
  const expected = digest(algorithm, hash.subarray(0, SALT_BYTES), password);
  const stored = hash.subarray(SALT_BYTES);
  return stored.length === expected.length && timingSafeEqual(stored, expected);
}
