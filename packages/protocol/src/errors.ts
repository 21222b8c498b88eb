/**
 * Typed errors of the codec. Every failure to read or write bytes is one of these, so callers can tell
 * a malformed frame (close the connection, answer CORRUPT_MESSAGE) from a programming error.
 */
export type CodecErrorCode =
  /** The input ended before the value it announced. */
  | 'TRUNCATED'
  /** A length, count or varint is out of range (negative, too long, or larger than the input). */
  | 'INVALID_LENGTH'
  /** A frame announced a size over the configured maximum. */
  | 'FRAME_TOO_LARGE'
  /** A non-nullable field was null on the wire or in a value being encoded. */
  | 'NULL_NOT_ALLOWED'
  /** A field the chosen version cannot carry has a non-default value and is not ignorable. */
  | 'UNSUPPORTED_FIELD'
  /** The API or version is not one the codec knows. */
  | 'UNSUPPORTED_VERSION'
  /** A record batch or message set is malformed (bad magic, CRC mismatch, bad attributes). */
  | 'CORRUPT_RECORD'
  /** A compression codec failed or is unknown. */
  | 'COMPRESSION';

export class KafkaCodecError extends Error {
  override readonly name = 'KafkaCodecError';
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function truncated(need: number, offset: number, length: number): KafkaCodecError {
  return new KafkaCodecError(
    'TRUNCATED',
    `input truncated: needed ${need} byte(s) at offset ${offset} but only ${Math.max(0, length - offset)} remain`,
  );
}
