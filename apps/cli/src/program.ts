import { Command, CommanderError, Option } from 'commander';
import { registerDlq } from './commands/dlq';
import { registerHistory } from './commands/history';
import { registerJobs } from './commands/jobs';
import { registerRules } from './commands/rules';
import { registerSnapshots } from './commands/snapshots';
import { registerStatus } from './commands/status';
import { registerTail } from './commands/tail';
import { registerTopics } from './commands/topics';
import { CliContext, type Io, type Runner } from './lib/cli-context';
import { CliError, EXIT } from './lib/cli-error';
import { SERVICE_URL_FLAGS, SERVICES, serviceUrlVariable } from './lib/endpoints';

/** Builds the `tributary` command line; `result.exitCode` holds what the last action asked to exit with. */
export function buildProgram(
  io: Io,
  env: NodeJS.ProcessEnv,
): { program: Command; result: { exitCode: number; apiKey?: string } } {
  const result: { exitCode: number; apiKey?: string } = { exitCode: EXIT.ok };
  const program = new Command('tributary')
    .description("Operate a Tributary platform through the services' HTTP APIs.")
    .option('--host <host>', 'one host for every service, each on its own port (TRIBUTARY_HOST)')
    .addOption(
      new Option(
        '--api-key <key>',
        'API key (prefer TRIBUTARY_API_KEY or the config file: flags show in ps)',
      ),
    )
    .option('--config <file>', 'config file (TRIBUTARY_CONFIG; default ~/.config/tributary/config.json)')
    .exitOverride()
    .showHelpAfterError('(tributary --help lists the commands)')
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  for (const service of SERVICES) {
    program.option(
      `--${SERVICE_URL_FLAGS[service]} <url>`,
      `${service} URL (${serviceUrlVariable(service)})`,
    );
  }
  const run: Runner = async (command, action) => {
    const context = CliContext.of(command, io, env);
    result.apiKey = context.endpoints.apiKey;
    const code = await action(context);
    result.exitCode = typeof code === 'number' ? code : EXIT.ok;
  };
  registerStatus(program, run);
  registerRules(program, run);
  registerJobs(program, run);
  registerHistory(program, run);
  registerSnapshots(program, run);
  registerTopics(program, run);
  registerDlq(program, run);
  registerTail(program, run);
  return { program, result };
}

/** Replaces the key wherever it might appear in a message: the CLI never prints it. */
export function redact(text: string, apiKey: string | undefined): string {
  return apiKey ? text.split(apiKey).join('***') : text;
}

/** Runs the CLI on `argv` (without node and the script) and answers the exit code. */
export async function runCli(argv: readonly string[], io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const { program, result } = buildProgram(io, env);
  // every subcommand exits through the override too, with the same output
  const applyToAll = (command: Command) => {
    command.exitOverride().configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
    command.commands.forEach(applyToAll);
  };
  applyToAll(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return EXIT.ok;
      if (error.exitCode === 0) return EXIT.ok;
      // commander has printed the message already
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      io.err(`tributary: ${redact(error.message, result.apiKey ?? env['TRIBUTARY_API_KEY'])}`);
      return error.exitCode;
    }
    io.err(
      `tributary: ${redact(error instanceof Error ? error.message : String(error), result.apiKey ?? env['TRIBUTARY_API_KEY'])}`,
    );
    return EXIT.failed;
  }
}
