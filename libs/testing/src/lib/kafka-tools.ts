import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** How long one run of a Java tool may take: a JVM start and a group join on a busy machine. */
export const KAFKA_TOOL_TIMEOUT_MS = 150_000;

/**
 * Runs one of Kafka's own command-line tools (the Java client, the reference for what Kafka means)
 * from the jars `tools/infra/up` fetched, and returns what it printed.
 */
export async function runKafkaTool(mainClass: string, args: readonly string[]): Promise<string> {
  const libs = process.env['KAFKA_HOME_LIBS'];
  if (!libs) throw new Error('KAFKA_HOME_LIBS is not set: run tools/infra/up');
  // Kafka 4 logs through Log4j 2, 3.x through Log4j 1: tools/infra names the property with the file.
  const log4j = process.env['KAFKA_TOOLS_LOG4J'];
  const log4jProperty = process.env['KAFKA_TOOLS_LOG4J_PROPERTY'] ?? 'log4j2.configurationFile';
  const jvm = ['-Xmx256m', ...(log4j ? [`-D${log4jProperty}=file:${log4j}`] : []), '-cp', `${libs}/*`];
  const { stdout } = await run('java', [...jvm, mainClass, ...args], {
    timeout: KAFKA_TOOL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}
