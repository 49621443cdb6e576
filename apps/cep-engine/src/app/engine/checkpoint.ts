import type { CepSnapshot } from '@tributary/cep';
import type { CepEvent } from '../rules/rule-api';

/**
 * What `cep.checkpoints` holds per (consumer group, partition number): the engine state of every rule
 * on partition N of the inputs, and the input offsets that state has consumed up to. It is written in
 * the same Kafka transaction as the alerts it produced and the group's offsets, so after a crash or a
 * rebalance the next owner resumes from exactly this point.
 */
export interface PartitionCheckpoint {
  readonly format: 1;
  readonly kind: 'state';
  readonly group: string;
  readonly partition: number;
  /** Next offset to read per input topic (cluster name), a decimal string. */
  readonly offsets: Readonly<Record<string, string>>;
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
 * Written (transactionally) by a new owner of a partition right after it fenced the previous one: once
 * the checkpoint reader has seen it, every checkpoint committed before it has been seen too.
 */
export interface PartitionClaim {
  readonly format: 1;
  readonly kind: 'claim';
  readonly group: string;
  readonly partition: number;
  readonly writer: string;
  readonly nonce: string;
}

export type CheckpointRecord = PartitionCheckpoint | PartitionClaim;

export function checkpointKey(group: string, partition: number): string {
  return `${group}/${partition}`;
}

export function claimKey(group: string, partition: number): string {
  return `${group}/${partition}/claim`;
}

/** Parses a record of the checkpoint topic; throws naming what is wrong. */
export function parseCheckpointRecord(data: Buffer | string): CheckpointRecord {
  const value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as Partial<CheckpointRecord>;
  if (value === null || typeof value !== 'object') throw new Error('checkpoint record is not a JSON object');
  if (value.format !== 1) throw new Error(`unknown checkpoint format ${String(value.format)}`);
  if (typeof value.group !== 'string' || typeof value.partition !== 'number') {
    throw new Error('checkpoint record lacks its group or partition');
  }
  if (value.kind === 'claim') {
    if (typeof (value as PartitionClaim).nonce !== 'string') throw new Error('claim record lacks its nonce');
    return value as PartitionClaim;
  }
  if (value.kind === 'state') {
    const state = value as PartitionCheckpoint;
    if (state.offsets === null || typeof state.offsets !== 'object') throw new Error('checkpoint lacks its offsets');
    if (state.rules === null || typeof state.rules !== 'object') throw new Error('checkpoint lacks its rules');
    return state;
  }
  throw new Error(`unknown checkpoint record kind ${String((value as { kind?: unknown }).kind)}`);
}
