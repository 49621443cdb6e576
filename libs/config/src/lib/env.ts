import type { EnvVar } from './env-spec';

interface Common {
  description: string;
  secret?: boolean;
}

interface WithDefault<T> extends Common {
  /** Default, written as it would be in the environment. Omit to make the variable required. */
  default?: T;
}

function variable<T>(
  options: Common & { default?: unknown },
  convert: (raw: string) => T,
  optional = false,
): EnvVar<T> {
  const defaultValue = options.default === undefined ? undefined : String(options.default);
  return {
    description: options.description,
    secret: options.secret ?? false,
    required: defaultValue === undefined && !optional,
    defaultValue,
    parse: (raw) => {
      if (raw === undefined) {
        if (optional) return undefined as T;
        throw new Error('is required but not set');
      }
      return convert(raw);
    },
  };
}

function integer(raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw)) throw new Error('must be a whole number');
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`must be between ${min} and ${max}`);
  return value;
}

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Builders for the usual kinds of environment variable. */
export const env = {
  string(options: WithDefault<string>): EnvVar<string> {
    return variable(options, (raw) => raw);
  },

  /** A variable that may stay unset (undefined), e.g. credentials only some deployments use. */
  optionalString(options: Common): EnvVar<string | undefined> {
    return variable<string | undefined>(options, (raw) => raw, true);
  },

  int(options: WithDefault<number> & { min?: number; max?: number }): EnvVar<number> {
    const min = options.min ?? Number.MIN_SAFE_INTEGER;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    return variable(options, (raw) => integer(raw, min, max));
  },

  port(options: WithDefault<number>): EnvVar<number> {
    return variable(options, (raw) => integer(raw, 1, 65535));
  },

  bool(options: WithDefault<boolean>): EnvVar<boolean> {
    return variable(options, (raw) => {
      const value = raw.toLowerCase();
      if (['true', '1', 'yes'].includes(value)) return true;
      if (['false', '0', 'no'].includes(value)) return false;
      throw new Error('must be true or false');
    });
  },

  oneOf<const T extends string>(values: readonly T[], options: WithDefault<T>): EnvVar<T> {
    return variable(options, (raw) => {
      if (!(values as readonly string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
      return raw as T;
    });
  },

  /** Comma-separated list of non-empty items. */
  list(options: WithDefault<string> & { minItems?: number }): EnvVar<string[]> {
    return variable(options, (raw) => {
      const items = raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      if (items.length < (options.minItems ?? 0)) throw new Error(`must list at least ${options.minItems} item(s)`);
      return items;
    });
  },

  /** Comma-separated `host:port` pairs, e.g. Kafka bootstrap servers. */
  hostPorts(options: WithDefault<string>): EnvVar<string[]> {
    return variable(options, (raw) => {
      const items = raw.split(',').map((item) => item.trim());
      const bad = items.filter((item) => {
        const match = HOST_PORT.exec(item);
        return !match || Number(match[2]) < 1 || Number(match[2]) > 65535;
      });
      if (items.length === 0 || bad.length > 0) {
        throw new Error(`must be a comma-separated list of host:port (bad: ${bad.map((b) => JSON.stringify(b)).join(', ')})`);
      }
      return items;
    });
  },

  url(options: WithDefault<string> & { protocols?: readonly string[] }): EnvVar<string> {
    return variable(options, (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error('must be an absolute URL');
      }
      if (options.protocols && !options.protocols.includes(url.protocol.replace(/:$/, ''))) {
        throw new Error(`must use one of the protocols ${options.protocols.join(', ')}`);
      }
      return raw;
    });
  },

  /** A duration in milliseconds, written as a whole number of ms or with a unit: 500ms, 5s, 2m, 1h. */
  durationMs(options: WithDefault<string | number> & { min?: number; max?: number }): EnvVar<number> {
    return variable(options, (raw) => {
      const match = /^(\d+)(ms|s|m|h)?$/.exec(raw);
      if (!match) throw new Error('must be a duration such as 500ms, 5s, 2m or 1h');
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1;
      const value = Number(match[1]) * unit;
      if (options.min !== undefined && value < options.min) throw new Error(`must be at least ${options.min} ms`);
      if (options.max !== undefined && value > options.max) throw new Error(`must be at most ${options.max} ms`);
      return value;
    });
  },
};
