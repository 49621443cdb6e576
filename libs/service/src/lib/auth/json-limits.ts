/** Bounds every JSON body of a Tributary HTTP API is held to before any handler sees it. */
export interface JsonLimits {
  /** Arrays and objects nested inside each other. */
  readonly maxDepth: number;
  /** Characters of one string, keys included. */
  readonly maxStringLength: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxStringLength: 65_536 };

/**
 * The first limit `value` breaks, in words naming the limit and where (`$.legs[3]`), or undefined.
 * Walks with an explicit stack, so a hostile document cannot exhaust the call stack.
 */
export function jsonLimitBreach(
  value: unknown,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: '$' }];
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop() as { value: unknown; depth: number; path: string };
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) {
        return `the string at ${path} is ${current.length} characters long; the limit is ${limits.maxStringLength}`;
      }
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limits.maxDepth) return `the body nests deeper than ${limits.maxDepth} levels at ${path}`;
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--)
        stack.push({ value: current[i], depth: depth + 1, path: `${path}[${i}]` });
      continue;
    }
    for (const [key, child] of Object.entries(current as Record<string, unknown>)) {
      if (key.length > limits.maxStringLength)
        return `a key in ${path} is ${key.length} characters long; the limit is ${limits.maxStringLength}`;
      stack.push({
        value: child,
        depth: depth + 1,
        path: `${path}.${key.length > 40 ? `${key.slice(0, 40)}…` : key}`,
      });
    }
  }
  return undefined;
}

/**
 * Parses a JSON document and checks it against the limits. A number too large for a double
 * (`1e400`) is refused by name instead of becoming Infinity or null further on.
 */
export function parseBoundedJson(
  text: string,
  limits: JsonLimits = DEFAULT_JSON_LIMITS,
): { value: unknown } | { problem: string } {
  // Depth is checked on the text first: JSON.parse itself recurses and a deep enough document
  // overflows its stack before any check on the parsed value could run.
  const textual = textDepthBreach(text, limits.maxDepth);
  if (textual !== undefined) return { problem: textual };
  let nonFinite: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, parsed: unknown) => {
      if (typeof parsed === 'number' && !Number.isFinite(parsed) && nonFinite === undefined) {
        nonFinite = `the number at ${key === '' ? '$' : `"${key}"`} is too large to represent (beyond ±1.8e308)`;
      }
      return parsed;
    });
  } catch (error) {
    return {
      problem: `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (nonFinite !== undefined) return { problem: nonFinite };
  const breach = jsonLimitBreach(value, limits);
  return breach === undefined ? { value } : { problem: breach };
}

/** Nesting depth of brackets outside strings, scanning the text once; the breach message or undefined. */
export function textDepthBreach(text: string, maxDepth: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `the body nests deeper than ${maxDepth} levels (at character ${i})`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}
