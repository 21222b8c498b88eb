/** What a `kch` sub-command is: one module per command in ./commands, dispatched by name from run.ts. */
export interface CliIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** The first word after `kch`, e.g. "topics". */
  readonly name: string;
  /** The full usage text for `kch <name> --help` and after bad arguments. */
  readonly usage: string;
  /** Runs with the words after the command name; resolves with the process exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

/** Exit codes, as sysexits(3) and common CLI practice use them. */
export const ExitCode = {
  OK: 0,
  /** The command ran and failed (the broker said no, a record could not be produced). */
  FAILURE: 1,
  /** Bad arguments or options: the usage is printed. */
  USAGE: 2,
  /** The broker or ClickHouse could not be reached. */
  UNAVAILABLE: 69,
} as const;
