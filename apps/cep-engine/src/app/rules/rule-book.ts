import type { CepRule } from '@tributary/contracts';
import type { CompiledRule, RuleCompiler, RuleSpec } from './rule-api';

/** A rule as the rules topic holds it, with what compiling it gave. */
export interface RuleEntry {
  readonly spec: CepRule.Value;
  readonly compiled?: CompiledRule;
  /** Why the rule cannot run (it stays out of the engines until a valid version arrives). */
  readonly error?: string;
}

export type RuleBookListener = (changed: readonly string[]) => void;

/**
 * The current rules, as read from the compacted rules topic: the latest version of each, compiled.
 * Listeners hear which rule ids changed, so the engines of other rules keep their state.
 */
export class RuleBook {
  private readonly entries = new Map<string, RuleEntry>();
  private readonly listeners: RuleBookListener[] = [];

  constructor(private readonly compiler: RuleCompiler) {}

  /** Compiles a spec, returning the reason when it is not valid. */
  check(spec: RuleSpec): { compiled: CompiledRule } | { error: string } {
    try {
      return { compiled: this.compiler(spec) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Applies a record of the rules topic (null: a tombstone removing the rule). Returns whether anything changed. */
  apply(id: string, spec: CepRule.Value | null): boolean {
    const current = this.entries.get(id);
    if (spec === null) {
      if (!current) return false;
      this.entries.delete(id);
      this.emit([id]);
      return true;
    }
    if (current && current.spec.version === spec.version && current.spec.enabled === spec.enabled) return false;
    const checked = spec.enabled ? this.check(spec as RuleSpec) : undefined;
    this.entries.set(id, checked && 'compiled' in checked ? { spec, compiled: checked.compiled } : { spec, error: checked?.error });
    this.emit([id]);
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): RuleEntry | undefined {
    return this.entries.get(id);
  }

  list(): RuleEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.spec.id < b.spec.id ? -1 : 1));
  }

  /** Enabled rules that compiled, in id order (the order engines run in). */
  enabledRules(): CompiledRule[] {
    return this.list()
      .filter((entry) => entry.spec.enabled && entry.compiled !== undefined)
      .map((entry) => entry.compiled as CompiledRule);
  }

  /** Catalog topics the enabled rules read. */
  inputs(): string[] {
    return [...new Set(this.enabledRules().flatMap((rule) => rule.inputs))].sort();
  }

  onChange(listener: RuleBookListener): void {
    this.listeners.push(listener);
  }

  private emit(changed: string[]): void {
    for (const listener of this.listeners) listener(changed);
  }
}
