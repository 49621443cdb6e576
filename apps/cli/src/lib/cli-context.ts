import type { Command } from 'commander';
import { configPath, type Endpoints, readConfigFile, resolveEndpoints, type ServiceName } from './endpoints';
import { ServiceClient } from './service-client';

/** Where the CLI writes: stdout for results, stderr for progress and messages. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Progress redrawn in place on a terminal; on anything else only `final` lines are written. */
  progress(line: string, final?: boolean): void;
}

export function processIo(): Io {
  const tty = process.stderr.isTTY === true;
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    progress: (line, final = false) => {
      if (tty) process.stderr.write(`\r\u001b[2K${line}${final ? '\n' : ''}`);
      else if (final) process.stderr.write(`${line}\n`);
    },
  };
}

/** What every command needs: the endpoints (flags, environment, config file) and the output. */
export class CliContext {
  constructor(
    readonly endpoints: Endpoints,
    readonly io: Io,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static of(command: Command, io: Io, env: NodeJS.ProcessEnv): CliContext {
    const flags = command.optsWithGlobals();
    const { path, explicit } = configPath(flags, env);
    return new CliContext(resolveEndpoints(flags, env, readConfigFile(path, explicit)), io, env);
  }

  client(service: ServiceName, timeoutMs?: number): ServiceClient {
    return new ServiceClient(service, this.endpoints.urls[service], this.endpoints.apiKey, timeoutMs);
  }
}

/** Runs a command's body with its context and records the exit code it returns. */
export type Runner = (
  command: Command,
  action: (context: CliContext) => Promise<number | void>,
) => Promise<void>;
