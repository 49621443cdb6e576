/**
 * Environment configuration, validated once at boot. A service declares an {@link EnvSpec}
 * (one {@link EnvVar} per variable), calls {@link parseEnv} and hands the typed result to the
 * rest of its code; every bad or missing variable is reported at once, by name.
 */
export interface EnvVar<T> {
  /** Turns the raw value (undefined when unset or empty) into T, or throws an Error saying why not. */
  readonly parse: (raw: string | undefined) => T;
  /** What the variable is for, shown in the app README and in error messages. */
  readonly description: string;
  /** The value used when the variable is unset, as it would be written in the environment. */
  readonly defaultValue?: string;
  /** Secrets are never echoed back in errors or logs. */
  readonly secret: boolean;
  /** True when the process cannot start without it. */
  readonly required: boolean;
}

export type EnvSpec = Readonly<Record<string, EnvVar<unknown>>>;

export type ConfigOf<S extends EnvSpec> = { readonly [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      `Invalid configuration: ${issues.length} problem(s)\n` +
        issues.map((issue) => `  - ${issue.variable}: ${issue.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export type EnvSource = Readonly<Record<string, string | undefined>>;

/** Checks that span several variables (e.g. a SASL mechanism needs a password), run after each parses. */
export type CrossCheck<S extends EnvSpec> = (config: ConfigOf<S>) => readonly ConfigIssue[];

/** Validates every variable of the spec against `source` and returns the typed configuration. */
export function parseEnv<S extends EnvSpec>(
  spec: S,
  source: EnvSource = process.env,
  crossCheck?: CrossCheck<S>,
): ConfigOf<S> {
  const issues: ConfigIssue[] = [];
  const config: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(spec)) {
    const raw = source[name];
    const present = raw !== undefined && raw.trim() !== '';
    try {
      config[name] = variable.parse(present ? raw.trim() : variable.defaultValue);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const shown = present && !variable.secret ? ` (got ${JSON.stringify(raw)})` : '';
      issues.push({ variable: name, message: `${reason}${shown}` });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const crossIssues = crossCheck?.(config as ConfigOf<S>) ?? [];
  if (crossIssues.length > 0) throw new ConfigError(crossIssues);
  return config as ConfigOf<S>;
}

type IntersectionOf<U> = (U extends unknown ? (value: U) => void : never) extends (value: infer I) => void
  ? I
  : never;

/** Merges several specs (e.g. a service's own variables with the Kafka and HTTP ones); later ones win. */
export function mergeSpecs<const T extends readonly EnvSpec[]>(...specs: T): IntersectionOf<T[number]> {
  return Object.assign({}, ...specs);
}

/**
 * For `main.ts`: parses the environment, or prints one line per problem (as a JSON log record and
 * as plain text) and exits with status 1 so an orchestrator shows the reason.
 */
export function loadConfigOrExit<S extends EnvSpec>(
  service: string,
  spec: S,
  source: EnvSource = process.env,
  crossCheck?: CrossCheck<S>,
): ConfigOf<S> {
  try {
    return parseEnv(spec, source, crossCheck);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      JSON.stringify({
        level: 'fatal',
        time: new Date().toISOString(),
        service,
        msg: 'invalid configuration',
        issues: error.issues,
      }) + '\n',
    );
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(1);
  }
}
