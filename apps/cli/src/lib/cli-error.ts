/** How the CLI ends: scripts branch on these. */
export const EXIT = {
  ok: 0,
  /** A service refused or failed the request (4xx/5xx), or what was asked did not succeed. */
  failed: 1,
  /** The command line or the configuration is wrong. */
  usage: 2,
  /** A service could not be reached at all. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports as one line on stderr (`tributary: <message>`) and ends with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
