/**
 * The errors the CLI's Kafka client raises, each carrying the exit code it maps to, so a command can
 * turn any failure into a message and an exit code in one place ({@link exitCodeOf}).
 */
import { errorInfo } from '@kch/protocol';
import { ExitCode } from '../command.js';

/** A failure the user should see as one message (no stack) with a chosen exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.FAILURE,
  ) {
    super(message);
  }
}

/** Bad arguments or options: the command prints its usage after the message. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, ExitCode.USAGE);
  }
}

/** The broker could not be reached, or the connection to it failed or timed out. */
export class UnavailableError extends CliError {
  override name = 'UnavailableError';
  constructor(message: string) {
    super(message, ExitCode.UNAVAILABLE);
  }
}

/** The broker answered with a Kafka error code. */
export class BrokerError extends CliError {
  override name = 'BrokerError';
  /** Kafka's name for the code, e.g. TOPIC_ALREADY_EXISTS. */
  readonly errorName: string;
  readonly retriable: boolean;
  constructor(
    readonly code: number,
    /** What was being done, e.g. "creating topic orders". */
    readonly action: string,
    /** The broker's own message when it sent one; Kafka's default text for the code otherwise. */
    brokerMessage?: string | null,
    /** What the user can do about it, appended to the message. */
    hint?: string,
  ) {
    const info = errorInfo(code);
    const name = info?.name ?? `error code ${code}`;
    const text = brokerMessage && brokerMessage !== 'NONE' ? brokerMessage : (info?.message ?? '');
    super(`${action} failed: ${name}${text ? `: ${text}` : ''}${hint ? `\n${hint}` : ''}`);
    this.errorName = name;
    this.retriable = info?.retriable ?? false;
  }
}

/** The exit code for anything a command threw: the error's own for a CliError, FAILURE otherwise. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CliError ? e.exitCode : ExitCode.FAILURE;
}
