import { CATALOG, type CepRule, type TopicSpec, validateEvent } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import type { CepTopics } from '../engine/cep-topics';
import type { RuleSpec } from './rule-api';
import type { RuleBook } from './rule-book';

/** A request the admin endpoints refuse: the HTTP status and the reason, naming the field. */
export class RuleRequestError extends Error {
  override readonly name = 'RuleRequestError';
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

const WRITABLE = ['enabled', 'severity', 'description', 'builtin', 'params', 'document'] as const;

/**
 * Writes rules to the compacted rules topic (the source of truth every instance follows), after checking
 * them against the CepRule contract and compiling them, and waits until this instance has read them back.
 */
export class RuleAdmin {
  private readonly spec: TopicSpec;

  constructor(
    private readonly rules: RuleBook,
    private readonly producer: TypedProducer,
    topics: CepTopics,
    private readonly writer: string,
    private readonly readBackTimeoutMs = 10_000,
  ) {
    this.spec = { ...CATALOG['cep.rules'], topic: topics.rules };
  }

  /** POST /rules: a new rule (409 when the id exists). */
  create(body: unknown): Promise<CepRule.Value> {
    const fields = this.fieldsOf(body);
    const id = fields['id'];
    if (typeof id !== 'string') throw new RuleRequestError(400, '/id: required, a snake_case rule id');
    if (this.rules.get(id)) throw new RuleRequestError(409, `/id: rule ${id} exists; change it with PUT /rules/${id}`);
    return this.write(id, 1, fields, 'POST /rules');
  }

  /** PUT /rules/:id: a new version of a rule (or its first). */
  replace(id: string, body: unknown): Promise<CepRule.Value> {
    const fields = this.fieldsOf(body);
    if (fields['id'] !== undefined && fields['id'] !== id) throw new RuleRequestError(400, `/id: ${String(fields['id'])} differs from the path's ${id}`);
    const current = this.rules.get(id);
    return this.write(id, (current?.spec.version ?? 0) + 1, fields, `PUT /rules/${id}`);
  }

  /** DELETE /rules/:id: disables the rule (a new version with enabled=false), keeping its definition. */
  disable(id: string): Promise<CepRule.Value> {
    const current = this.rules.get(id);
    if (!current) throw new RuleRequestError(404, `no rule ${id}`);
    const { ts: _ts, updatedBy: _by, version: _v, id: _id, ...fields } = current.spec;
    return this.write(id, current.spec.version + 1, { ...fields, enabled: false }, `DELETE /rules/${id}`);
  }

  private fieldsOf(body: unknown): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RuleRequestError(400, 'body: need a JSON object (a rule)');
    const fields = body as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((name) => name !== 'id' && name !== 'version' && !(WRITABLE as readonly string[]).includes(name));
    if (unknown.length > 0) throw new RuleRequestError(400, `/${unknown[0]}: unknown field (a rule has ${['id', ...WRITABLE].join(', ')})`);
    return fields;
  }

  private async write(id: string, version: number, fields: Record<string, unknown>, what: string): Promise<CepRule.Value> {
    const candidate: Record<string, unknown> = { enabled: true, severity: 'warning' };
    for (const name of WRITABLE) if (fields[name] !== undefined) candidate[name] = fields[name];
    const value = { id, version, ...candidate, ts: (BigInt(Date.now()) * 1_000_000n).toString(), updatedBy: `${this.writer} ${what}` };
    const checked = validateEvent(this.spec, value);
    if (!checked.ok) throw new RuleRequestError(400, checked.errors.map((error) => `${error.path || '/'}: ${error.message}`).join('; '));
    const rule = checked.value as CepRule.Value;
    if (rule.enabled) {
      const compiled = this.rules.check(rule as RuleSpec);
      if ('error' in compiled) throw new RuleRequestError(400, compiled.error);
    }
    await this.producer.sendTo(this.spec, [rule]);
    const deadline = Date.now() + this.readBackTimeoutMs;
    while ((this.rules.get(id)?.spec.version ?? 0) < version && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return rule;
  }
}
