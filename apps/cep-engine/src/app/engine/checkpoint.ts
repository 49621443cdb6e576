import type { CepSnapshot } from '@tributary/cep';
import type { CepEvent } from '../rules/rule-api';

/**
 * What one transactional writer of a consumer group owns: a partition number N (partition N of every
 * input of the partitioned rules) or `global` (every partition of the inputs of the global rules, whose
 * inputs are not partitioned by the rule's key, e.g. CDC tables keyed by primary key).
 */
export type Slot = number | 'global';

export const GLOBAL_SLOT = 'global' as const;

/** `p3` or `global`: names the slot in transactional ids and logs. */
export function slotName(slot: Slot): string {
  return slot === GLOBAL_SLOT ? GLOBAL_SLOT : `p${slot}`;
}

/** Next offset to read per input topic (cluster name) and partition, decimal strings. */
export type InputOffsets = Readonly<Record<string, Readonly<Record<string, string>>>>;

/**
 * What `cep.checkpoints` holds per (consumer group, slot): the engine state of every rule of the slot,
 * and the input offsets that state has consumed up to. It is written in the same Kafka transaction as
 * the alerts it produced and the group's offsets, so after a crash or a rebalance the next owner
 * resumes from exactly this point.
 */
export interface PartitionCheckpoint {
  readonly format: 2;
  readonly kind: 'state';
  readonly group: string;
  readonly partition: Slot;
  readonly offsets: InputOffsets;
  /** Epoch-ns base of the engine timeline the snapshots' times are relative to (null before any event). */
  readonly timelineBase: string | null;
  readonly rules: Readonly<Record<string, RuleCheckpoint>>;
  /** Instance that wrote it and when (processing time, epoch ms): for people, not for recovery. */
  readonly writer: string;
  readonly writtenAtMs: number;
}

export interface RuleCheckpoint {
  readonly version: number;
  readonly snapshot: CepSnapshot<CepEvent>;
}

/**
 * Written (transactionally) by a new owner of a slot right after it fenced the previous one: once the
 * checkpoint reader has seen it, every checkpoint committed before it has been seen too.
 */
export interface PartitionClaim {
  readonly format: 1 | 2;
  readonly kind: 'claim';
  readonly group: string;
  readonly partition: Slot;
  readonly writer: string;
  readonly nonce: string;
}

export type CheckpointRecord = PartitionCheckpoint | PartitionClaim;

export function checkpointKey(group: string, slot: Slot): string {
  return `${group}/${slot}`;
}

export function claimKey(group: string, slot: Slot): string {
  return `${group}/${slot}/claim`;
}

/** The slot a checkpoint key part names (`3`, `global`), or undefined. */
export function parseSlot(text: string | undefined): Slot | undefined {
  if (text === GLOBAL_SLOT) return GLOBAL_SLOT;
  if (text === undefined || !/^(0|[1-9]\d{0,5})$/.test(text)) return undefined;
  return Number(text);
}

function isSlot(value: unknown): value is Slot {
  return value === GLOBAL_SLOT || (typeof value === 'number' && Number.isInteger(value) && value >= 0);
}

/**
 * Parses a record of the checkpoint topic; throws naming what is wrong. A format-1 checkpoint (offsets
 * of partition N per topic) is read as format 2.
 */
export function parseCheckpointRecord(data: Buffer | string): CheckpointRecord {
  const value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as Record<string, unknown> | null;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('checkpoint record is not a JSON object');
  if (value['format'] !== 1 && value['format'] !== 2) throw new Error(`unknown checkpoint format ${String(value['format'])}`);
  if (typeof value['group'] !== 'string' || !isSlot(value['partition'])) throw new Error('checkpoint record lacks its group or partition');
  if (value['kind'] === 'claim') {
    if (typeof value['nonce'] !== 'string') throw new Error('claim record lacks its nonce');
    return value as unknown as PartitionClaim;
  }
  if (value['kind'] === 'state') {
    const offsets = value['offsets'];
    if (offsets === null || typeof offsets !== 'object' || Array.isArray(offsets)) throw new Error('checkpoint lacks its offsets');
    if (value['rules'] === null || typeof value['rules'] !== 'object') throw new Error('checkpoint lacks its rules');
    if (value['format'] === 2) return value as unknown as PartitionCheckpoint;
    const partition = String(value['partition']);
    const upgraded = Object.fromEntries(Object.entries(offsets as Record<string, string>).map(([topic, offset]) => [topic, { [partition]: offset }]));
    return { ...(value as unknown as PartitionCheckpoint), format: 2, offsets: upgraded };
  }
  throw new Error(`unknown checkpoint record kind ${String(value['kind'])}`);
}
