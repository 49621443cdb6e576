/**
 * Schema compatibility between two published versions of one event, on plain JSON Schema (the files in
 * libs/contracts/schemas), so it checks exactly what consumers in other languages received.
 *
 * The rule is full transitive compatibility with readers that ignore fields they do not know:
 * - backward: a reader of the current version reads every record written with the previous one;
 * - forward: a reader of the previous version reads every record written with the current one.
 * So: fields may be added only as optional and removed only if optional; required stays required; types
 * and constraints neither narrow (backward) nor widen (forward); additionalProperties never tightens.
 * The one widening allowed is a new enum value: consumers must treat an enum value they do not know as
 * "other", and are deployed before the producers that send it.
 */

export type JsonSchema = { readonly [keyword: string]: unknown };

export interface CompatibilityIssue {
  /** Data path of the field, e.g. "/contracts/*\/strike" ("*" for any array item or record entry). */
  readonly path: string;
  /** backward: the current version cannot read old records; forward: old readers cannot read new records. */
  readonly direction: 'backward' | 'forward';
  readonly message: string;
}

type Alternatives = {
  any: JsonSchema | undefined;
  typed: Map<string, JsonSchema>;
  constants: Map<string, unknown>;
};

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOfConstant(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Splits a schema into what it accepts: free types, enumerated constants, or anything. */
function alternatives(schema: JsonSchema): Alternatives {
  const result: Alternatives = { any: undefined, typed: new Map(), constants: new Map() };
  const visit = (node: JsonSchema): void => {
    if (Array.isArray(node['anyOf']) || Array.isArray(node['oneOf'])) {
      for (const branch of (node['anyOf'] ?? node['oneOf']) as unknown[]) if (isSchema(branch)) visit(branch);
    } else if ('const' in node) {
      result.constants.set(JSON.stringify(node['const']), node['const']);
    } else if (Array.isArray(node['enum'])) {
      for (const value of node['enum']) result.constants.set(JSON.stringify(value), value);
    } else if (Array.isArray(node['type'])) {
      for (const type of node['type']) result.typed.set(String(type), { ...node, type });
    } else if (typeof node['type'] === 'string') {
      result.typed.set(node['type'], node);
    } else {
      result.any = node;
    }
  };
  visit(schema);
  return result;
}

function accepts(alts: Alternatives, type: string): boolean {
  return alts.any !== undefined || alts.typed.has(type) || (type === 'integer' && alts.typed.has('number'));
}

interface Bound {
  value: number;
  exclusive: boolean;
}

function lowerBound(schema: JsonSchema): Bound {
  const inclusive = typeof schema['minimum'] === 'number' ? schema['minimum'] : -Infinity;
  const exclusive = typeof schema['exclusiveMinimum'] === 'number' ? schema['exclusiveMinimum'] : -Infinity;
  return exclusive >= inclusive && exclusive !== -Infinity
    ? { value: exclusive, exclusive: true }
    : { value: inclusive, exclusive: false };
}

function upperBound(schema: JsonSchema): Bound {
  const inclusive = typeof schema['maximum'] === 'number' ? schema['maximum'] : Infinity;
  const exclusive = typeof schema['exclusiveMaximum'] === 'number' ? schema['exclusiveMaximum'] : Infinity;
  return exclusive <= inclusive && exclusive !== Infinity
    ? { value: exclusive, exclusive: true }
    : { value: inclusive, exclusive: false };
}

function showBound(bound: Bound, lower: boolean): string {
  if (!Number.isFinite(bound.value)) return 'none';
  return `${lower ? (bound.exclusive ? '>' : '>=') : bound.exclusive ? '<' : '<='} ${bound.value}`;
}

class Comparison {
  readonly issues: CompatibilityIssue[] = [];

  backward(path: string, message: string): void {
    this.issues.push({ path: path || '/', direction: 'backward', message });
  }

  forward(path: string, message: string): void {
    this.issues.push({ path: path || '/', direction: 'forward', message });
  }

  schema(previous: JsonSchema, current: JsonSchema, path: string): void {
    const before = alternatives(previous);
    const after = alternatives(current);
    if (before.any && !after.any) this.backward(path, 'accepted any value, now restricted');
    if (after.any && !before.any) this.forward(path, 'now accepts any value');

    for (const [type, schema] of before.typed) {
      const same = after.typed.get(type);
      if (same) {
        this.sameType(type, schema, same, path);
      } else if (type === 'integer' && after.typed.has('number')) {
        this.forward(path, 'type widened from integer to number');
        this.sameType('number', schema, after.typed.get('number') as JsonSchema, path);
      } else if (!after.any) {
        const enumerated = [...after.constants.values()].some((value) => typeOfConstant(value) === type);
        this.backward(
          path,
          enumerated
            ? `type narrowed: any ${type} became a fixed set of values`
            : `type narrowed: ${type} no longer accepted`,
        );
      }
    }
    for (const [type] of after.typed) {
      if (before.typed.has(type) || before.any) continue;
      if (type === 'number' && before.typed.has('integer')) continue;
      const enumerated = [...before.constants.values()].some((value) => typeOfConstant(value) === type);
      this.forward(
        path,
        enumerated
          ? `type widened: a fixed set of values became any ${type}`
          : `type widened: ${type} now accepted`,
      );
    }
    for (const [text, value] of before.constants) {
      if (!after.constants.has(text) && !accepts(after, typeOfConstant(value))) {
        this.backward(path, `enum value ${text} removed`);
      }
    }
    // Constants only in `after` are added enum values: allowed (see the rule above).
  }

  private sameType(type: string, previous: JsonSchema, current: JsonSchema, path: string): void {
    if (type === 'number' || type === 'integer') this.numeric(previous, current, path);
    else if (type === 'string') this.string(previous, current, path);
    else if (type === 'array') this.array(previous, current, path);
    else if (type === 'object') this.object(previous, current, path);
  }

  private numeric(previous: JsonSchema, current: JsonSchema, path: string): void {
    const [lowBefore, lowAfter] = [lowerBound(previous), lowerBound(current)];
    const raised =
      lowAfter.value > lowBefore.value ||
      (lowAfter.value === lowBefore.value && lowAfter.exclusive && !lowBefore.exclusive);
    const lowered =
      lowAfter.value < lowBefore.value ||
      (lowAfter.value === lowBefore.value && !lowAfter.exclusive && lowBefore.exclusive);
    if (raised)
      this.backward(
        path,
        `minimum tightened from ${showBound(lowBefore, true)} to ${showBound(lowAfter, true)}`,
      );
    if (lowered)
      this.forward(
        path,
        `minimum loosened from ${showBound(lowBefore, true)} to ${showBound(lowAfter, true)}`,
      );
    const [highBefore, highAfter] = [upperBound(previous), upperBound(current)];
    const cut =
      highAfter.value < highBefore.value ||
      (highAfter.value === highBefore.value && highAfter.exclusive && !highBefore.exclusive);
    const lifted =
      highAfter.value > highBefore.value ||
      (highAfter.value === highBefore.value && !highAfter.exclusive && highBefore.exclusive);
    if (cut)
      this.backward(
        path,
        `maximum tightened from ${showBound(highBefore, false)} to ${showBound(highAfter, false)}`,
      );
    if (lifted)
      this.forward(
        path,
        `maximum loosened from ${showBound(highBefore, false)} to ${showBound(highAfter, false)}`,
      );
    if (previous['multipleOf'] !== current['multipleOf']) this.backward(path, 'multipleOf changed');
  }

  private counts(
    previous: JsonSchema,
    current: JsonSchema,
    path: string,
    min: string,
    max: string,
    what: string,
  ): void {
    const minBefore = typeof previous[min] === 'number' ? previous[min] : 0;
    const minAfter = typeof current[min] === 'number' ? current[min] : 0;
    const maxBefore = typeof previous[max] === 'number' ? previous[max] : Infinity;
    const maxAfter = typeof current[max] === 'number' ? current[max] : Infinity;
    if (minAfter > minBefore) this.backward(path, `${min} raised from ${minBefore} to ${minAfter} ${what}`);
    if (minAfter < minBefore) this.forward(path, `${min} lowered from ${minBefore} to ${minAfter} ${what}`);
    if (maxAfter < maxBefore) this.backward(path, `${max} lowered from ${maxBefore} to ${maxAfter} ${what}`);
    if (maxAfter > maxBefore) this.forward(path, `${max} raised from ${maxBefore} to ${maxAfter} ${what}`);
  }

  private string(previous: JsonSchema, current: JsonSchema, path: string): void {
    this.counts(previous, current, path, 'minLength', 'maxLength', 'characters');
    if (previous['pattern'] !== current['pattern']) {
      // Whether one regular expression accepts a superset of another is not decidable here: any change fails.
      this.backward(
        path,
        `pattern changed from ${String(previous['pattern'] ?? 'none')} to ${String(current['pattern'] ?? 'none')}`,
      );
    }
    if (previous['format'] !== current['format']) this.backward(path, 'format changed');
  }

  private array(previous: JsonSchema, current: JsonSchema, path: string): void {
    this.counts(previous, current, path, 'minItems', 'maxItems', 'items');
    const [itemsBefore, itemsAfter] = [previous['items'], current['items']];
    if (Array.isArray(itemsBefore) && Array.isArray(itemsAfter)) {
      itemsBefore.forEach((item, index) => {
        if (isSchema(item) && isSchema(itemsAfter[index]))
          this.schema(item, itemsAfter[index] as JsonSchema, `${path}/${index}`);
      });
    } else if (isSchema(itemsBefore) && isSchema(itemsAfter)) {
      this.schema(itemsBefore, itemsAfter, `${path}/*`);
    } else if (Array.isArray(itemsBefore) !== Array.isArray(itemsAfter)) {
      this.backward(path, 'changed between a tuple and a list');
    }
  }

  private object(previous: JsonSchema, current: JsonSchema, path: string): void {
    const propsBefore = (isSchema(previous['properties']) ? previous['properties'] : {}) as Record<
      string,
      JsonSchema
    >;
    const propsAfter = (isSchema(current['properties']) ? current['properties'] : {}) as Record<
      string,
      JsonSchema
    >;
    const requiredBefore = new Set((previous['required'] as string[] | undefined) ?? []);
    const requiredAfter = new Set((current['required'] as string[] | undefined) ?? []);

    const openBefore = previous['additionalProperties'] !== false;
    const openAfter = current['additionalProperties'] !== false;
    if (openBefore && !openAfter) {
      this.backward(
        path,
        'additionalProperties tightened: records with fields the schema does not list are now rejected',
      );
    }
    if (isSchema(previous['additionalProperties']) && isSchema(current['additionalProperties'])) {
      this.schema(previous['additionalProperties'], current['additionalProperties'], `${path}/*`);
    }

    for (const [name, schema] of Object.entries(propsBefore)) {
      const field = `${path}/${name}`;
      if (!(name in propsAfter)) {
        if (requiredBefore.has(name))
          this.forward(field, 'required field removed: readers of the previous version require it');
        continue;
      }
      if (requiredBefore.has(name) && !requiredAfter.has(name)) {
        this.forward(field, 'required field became optional: readers of the previous version require it');
      }
      if (!requiredBefore.has(name) && requiredAfter.has(name)) {
        this.backward(field, 'optional field became required: records of the previous version may lack it');
      }
      this.schema(schema, propsAfter[name], field);
    }
    for (const name of Object.keys(propsAfter)) {
      if (!(name in propsBefore) && requiredAfter.has(name)) {
        this.backward(`${path}/${name}`, 'new required field: records of the previous version lack it');
      }
    }

    const patternsBefore = (
      isSchema(previous['patternProperties']) ? previous['patternProperties'] : {}
    ) as Record<string, JsonSchema>;
    const patternsAfter = (
      isSchema(current['patternProperties']) ? current['patternProperties'] : {}
    ) as Record<string, JsonSchema>;
    for (const [pattern, schema] of Object.entries(patternsBefore)) {
      if (pattern in patternsAfter) this.schema(schema, patternsAfter[pattern], `${path}/*`);
      else this.backward(path, `entries matching ${pattern} no longer described`);
    }
    for (const pattern of Object.keys(patternsAfter)) {
      if (!(pattern in patternsBefore)) this.forward(path, `entries matching ${pattern} newly described`);
    }
  }
}

/** Everything that makes `current` incompatible with `previous` (empty when compatible). */
export function compatibilityIssues(previous: JsonSchema, current: JsonSchema): CompatibilityIssue[] {
  const comparison = new Comparison();
  comparison.schema(previous, current, '');
  return comparison.issues;
}
